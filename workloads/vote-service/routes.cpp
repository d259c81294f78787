#include "routes.h"

#include <strings.h>

#include <charconv>

#include <nlohmann/json.hpp>

namespace mv::workloads::vote {
namespace {

using http::Response;
using json = nlohmann::json;

constexpr size_t kMaxFieldBytes = 256;

Response jsonResponse(int status, const json& body) { return Response::json(status, body.dump() + "\n"); }

Response error(int status, const std::string& message) { return jsonResponse(status, {{"error", message}}); }

Response methodNotAllowed(const char* allow) {
  return error(405, "method not allowed").with("Allow", allow);
}

// Compares without an early exit, so the time taken does not tell how much of a guess was right (the length may).
bool equalConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool isGet(const http::Request& req) { return req.method == "GET" || req.method == "HEAD"; }

}  // namespace

Routes::Routes(const Options& options, Lifecycle& lifecycle)
    : options_(options), lifecycle_(lifecycle), limiter_(options.rateLimitPerSecond) {}

bool Routes::authorised(const http::Request& req) const {
  if (!options_.token) return true;
  const auto auth = req.header("authorization");
  if (!auth || auth->size() < 7 || strncasecmp(auth->data(), "Bearer ", 7) != 0) return false;
  std::string_view presented = auth->substr(7);
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  return equalConstantTime(presented, *options_.token);
}

http::Response Routes::handle(const http::Request& req) {
  const auto& p = req.path;
  if (p == "/votes") {
    if (req.method == "POST") return postVote(req);
    if (isGet(req)) {
      const auto ids = lifecycle_.ids();
      return jsonResponse(200, {{"count", ids.size()}, {"ids", ids}});
    }
    return methodNotAllowed("GET, HEAD, POST");
  }
  if (p == "/votes/count") {
    if (!isGet(req)) return methodNotAllowed("GET, HEAD");
    return jsonResponse(200, {{"count", lifecycle_.count()}});
  }
  if (p == "/healthz") {
    if (!isGet(req)) return methodNotAllowed("GET, HEAD");
    const auto phase = lifecycle_.phase();
    if (phase == Phase::Running) return jsonResponse(200, {{"status", "ok"}});
    return jsonResponse(503, {{"status", "shutting_down"}, {"state", phaseName(phase)}});
  }
  if (p == "/shutdown") {
    if (req.method == "POST") return postShutdown(req);
    if (isGet(req)) {
      return jsonResponse(200, {{"state", phaseName(lifecycle_.phase())},
                                {"trigger", triggerName(lifecycle_.trigger())},
                                {"votes", lifecycle_.count()},
                                {"in_flight", lifecycle_.inFlight()}});
    }
    return methodNotAllowed("GET, HEAD, POST");
  }
  if (p == "/admin/busy") {
    if (req.method != "POST") return methodNotAllowed("POST");
    return postBusy(req);
  }
  return error(404, "not found");
}

http::Response Routes::postVote(const http::Request& req) {
  json body;
  try {
    body = json::parse(req.body);
  } catch (const std::exception&) {
    return error(400, "body is not JSON");
  }
  if (!body.is_object() || !body.contains("id") || !body["id"].is_string() || !body.contains("choice") ||
      !body["choice"].is_string()) {
    return error(400, "expected {\"id\": string, \"choice\": string}");
  }
  const auto id = body["id"].get<std::string>();
  const auto choice = body["choice"].get<std::string>();
  if (id.empty() || id.size() > kMaxFieldBytes || choice.size() > kMaxFieldBytes) {
    return error(400, "id must be 1-256 bytes, choice at most 256");
  }
  switch (lifecycle_.submitVote(id, choice, std::chrono::milliseconds(options_.voteDelayMs))) {
    case Lifecycle::VoteOutcome::Stored:
      return jsonResponse(201, {{"status", "stored"}, {"id", id}});
    case Lifecycle::VoteOutcome::Duplicate:
      return jsonResponse(200, {{"status", "duplicate"}, {"id", id}});
    case Lifecycle::VoteOutcome::Conflict:
      return error(409, "vote " + id + " was already cast with another choice");
    case Lifecycle::VoteOutcome::ShuttingDown: {
      auto r = error(503, "shutting down");
      r.close = true;
      return r;
    }
  }
  return error(500, "unreachable");
}

http::Response Routes::postShutdown(const http::Request& req) {
  if (!authorised(req)) return error(401, "invalid token").with("WWW-Authenticate", "Bearer");
  if (!options_.allow.allows(req.peer)) return error(403, "peer " + req.peer.str() + " is not allowed");
  if (const auto wait = limiter_.tryTake()) {
    const auto secs = std::max<int64_t>(1, (wait->count() + 999) / 1000);
    return error(429, "too many shutdown requests").with("Retry-After", std::to_string(secs));
  }
  const auto answer = lifecycle_.requestShutdown();
  switch (answer.kind) {
    case Lifecycle::ShutdownAnswer::Kind::Busy:
      return jsonResponse(409, {{"error", "busy: a critical operation is in flight"},
                                {"retry_after_seconds", answer.retryAfter.count()}})
          .with("Retry-After", std::to_string(answer.retryAfter.count()));
    case Lifecycle::ShutdownAnswer::Kind::Accepted:
    case Lifecycle::ShutdownAnswer::Kind::AlreadyShuttingDown:
      break;
  }
  return jsonResponse(202, {{"status", "shutdown_initiated"},
                            {"state", phaseName(lifecycle_.phase())},
                            {"message", "graceful shutdown in progress"}});
}

http::Response Routes::postBusy(const http::Request& req) {
  if (!authorised(req)) return error(401, "invalid token").with("WWW-Authenticate", "Bearer");
  const auto text = req.queryParam("seconds").value_or("");
  double seconds = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || seconds < 0 || seconds > 3600) {
    return error(400, "expected ?seconds=S with 0 <= S <= 3600");
  }
  lifecycle_.markBusy(std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  return jsonResponse(200, {{"status", "busy"}, {"seconds", seconds}});
}

}  // namespace mv::workloads::vote
