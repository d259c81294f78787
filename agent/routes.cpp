#include "routes.h"

#include "log.h"

namespace mv::agent {

namespace {

// JSON string content: the few values quoted here are ASCII words, addresses and client error messages.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
  }
  return out + "\"";
}

net::ServerResponse methodNotAllowed(const char* allow) {
  auto r = net::ServerResponse::json(405, R"({"error":"method not allowed"})");
  r.headers.push_back({"Allow", allow});
  return r;
}

}  // namespace

net::ServerResponse Routes::handle(const net::ServerRequest& request) {
  const std::string peer = request.peer.ip();
  if (request.path == "/healthz") {
    if (request.method != "GET" && request.method != "HEAD") return methodNotAllowed("GET, HEAD");
    return net::ServerResponse::text(200, "ok");
  }
  if (request.path != "/shutdown") return net::ServerResponse::json(404, R"({"error":"not found"})");
  if (request.method != "POST" && request.method != "GET") return methodNotAllowed("GET, POST");

  auto authorization = request.header("authorization");
  if (!token_.matches(authorization ? bearerToken(*authorization) : std::string_view())) {
    logLine("%s /shutdown from %s: refused (401: %s)", request.method.c_str(), peer.c_str(),
            authorization ? "wrong token" : "no token");
    auto r = net::ServerResponse::json(401, R"({"error":"unauthorized"})");
    r.headers.push_back({"WWW-Authenticate", "Bearer"});
    return r;
  }
  if (request.method == "GET") return getShutdown();
  logLine("POST /shutdown from %s", peer.c_str());
  return postShutdown();
}

net::ServerResponse Routes::postShutdown() {
  bool wasDone = forwarder_.state() == Forwarder::State::Done;
  ForwardOutcome out = forwarder_.forward();
  if (!out.reached) {
    logLine("forward to %s: %s%s", out.target.c_str(), out.error.c_str(), wasDone ? " (service already done)" : "");
    if (wasDone) return net::ServerResponse::json(200, R"({"forwarded":false,"state":"done"})");
    return net::ServerResponse::json(
        502, "{\"forwarded\":false,\"error\":" + quote(out.error) + ",\"target\":" + quote(out.target) + "}");
  }
  logLine("forward to %s: %d", out.target.c_str(), out.status);
  net::ServerResponse r = net::ServerResponse::json(
      out.status, "{\"forwarded\":true,\"status\":" + std::to_string(out.status) + ",\"target\":" + quote(out.target) +
                      ",\"state\":" + quote(Forwarder::name(forwarder_.state())) + "}");
  if (out.status == 204 || out.status == 304) r.body.clear();  // statuses that carry no content
  if (out.retryAfterSeconds) r.headers.push_back({"Retry-After", std::to_string(*out.retryAfterSeconds)});
  return r;
}

net::ServerResponse Routes::getShutdown() const {
  return net::ServerResponse::json(200, std::string("{\"state\":") + quote(Forwarder::name(forwarder_.state())) +
                                            ",\"serviceStatus\":" + std::to_string(forwarder_.serviceStatus()) + "}");
}

}  // namespace mv::agent
