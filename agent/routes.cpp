#include "routes.h"

#include "log.h"
#include "prestop_hold.h"

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
  if (request.path == "/prestop") {
    if (request.method != "GET") return methodNotAllowed("GET");
    return preStop(peer);
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

net::ServerResponse Routes::preStop(const std::string& peer) {
  logLine("GET /prestop from %s", peer.c_str());
  HoldOutcome out = holdPreStop(options_, termination_, forwarder_, cancelFd_);
  logLine("GET /prestop from %s: released (%s) after %lld ms", peer.c_str(), name(out.release),
          static_cast<long long>(out.held.count()));
  return net::ServerResponse::json(200, std::string("{\"released\":") + quote(name(out.release)) +
                                            ",\"heldMs\":" + std::to_string(out.held.count()) + "}");
}

net::ServerResponse Routes::postShutdown() {
  if (!termination_.awaitWitnessed(std::chrono::steady_clock::now() + options_.awaitTermination)) {
    logLine("POST /shutdown: no preStop hook within %lld ms: not forwarded (503)",
            static_cast<long long>(options_.awaitTermination.count()));
    auto r = net::ServerResponse::json(503, R"({"forwarded":false,"state":"awaiting-termination"})");
    r.headers.push_back({"Retry-After", "1"});
    return r;
  }
  bool wasDone = forwarder_.snapshot().state == Forwarder::State::Done;
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
                      ",\"state\":" + quote(Forwarder::name(forwarder_.snapshot().state)) + "}");
  if (out.status == 204 || out.status == 304) r.body.clear();  // statuses that carry no content
  if (out.retryAfterSeconds) r.headers.push_back({"Retry-After", std::to_string(*out.retryAfterSeconds)});
  return r;
}

net::ServerResponse Routes::getShutdown() const {
  Forwarder::Snapshot s = forwarder_.snapshot();
  auto terminatingFor = termination_.witnessedFor();
  return net::ServerResponse::json(
      200, std::string("{\"state\":") + quote(Forwarder::name(s.state)) +
               ",\"serviceStatus\":" + std::to_string(s.serviceStatus) +
               ",\"terminating\":" + (terminatingFor ? "true" : "false") +
               ",\"terminatingForMs\":" + std::to_string(terminatingFor ? terminatingFor->count() : 0) + "}");
}

}  // namespace mv::agent
