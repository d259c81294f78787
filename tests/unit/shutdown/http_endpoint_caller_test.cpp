// The real endpoint caller against scripted socket servers on loopback: every row of the answer table of issue 7,
// the safety rules (no redirect followed, bounded replies, IP literals only, one deadline) and the detail words.
#include <doctest/doctest.h>

#include "shutdown/endpoint_caller.h"
#include "unit/net/raw_server.h"

using namespace mv::shutdown;
using mv::testing::RawServer;
using mv::testing::replyWith;
using namespace std::chrono_literals;
using Kind = EndpointAnswer::Kind;

namespace {

EndpointRequest at(const RawServer& s, std::chrono::milliseconds timeout = 3s) {
  EndpointRequest r;
  r.ip = "127.0.0.1";
  r.port = s.port();
  r.timeout = timeout;
  return r;
}

EndpointAnswer callWith(const std::string& reply, std::optional<std::string> token = std::nullopt) {
  RawServer s(replyWith(reply));
  EndpointRequest r = at(s);
  r.bearerToken = std::move(token);
  EndpointAnswer a = makeHttpEndpointCaller()->call(r);
  REQUIRE(s.connections() == 1);
  return a;
}

std::string reply(std::string statusLine, std::string headers = "", std::string body = "") {
  return "HTTP/1.1 " + statusLine + "\r\n" + headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("2xx answers are Accepted with a short detail") {
  EndpointAnswer ok = callWith(reply("200 OK", "Content-Type: application/json\r\n",
                                     R"({"status":"shutting_down","message":"Node shutdown initiated"})"));
  CHECK(ok.kind == Kind::Accepted);
  CHECK(ok.httpStatus == 200);
  CHECK(ok.detail == "200 shutting_down");
  CHECK(!ok.retryAfter);

  EndpointAnswer accepted = callWith(reply("202 Accepted"));
  CHECK(accepted.kind == Kind::Accepted);
  CHECK(accepted.httpStatus == 202);
  CHECK(accepted.detail == "202");
}

TEST_CASE("409 with Retry-After is Busy and the JSON error gives the words") {
  EndpointAnswer a = callWith(reply("409 Conflict", "Retry-After: 3\r\n", R"({"error":"busy","inFlight":2})"));
  CHECK(a.kind == Kind::Busy);
  CHECK(a.httpStatus == 409);
  REQUIRE(a.retryAfter);
  CHECK(*a.retryAfter == 3s);
  CHECK(a.detail == "409 busy");

  EndpointAnswer reason = callWith(reply("409 busy"));
  CHECK(reason.detail == "409 busy");
  EndpointAnswer locked = callWith(reply("423 Locked"));
  CHECK(locked.kind == Kind::Busy);
  EndpointAnswer unavailable = callWith(reply("503 Service Unavailable", "Retry-After: 1\r\n"));
  CHECK(unavailable.kind == Kind::Busy);
  CHECK(unavailable.retryAfter == std::optional<std::chrono::seconds>(1s));
  EndpointAnswer dated = callWith(reply("409 Conflict", "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"));
  CHECK(!dated.retryAfter);  // delta-seconds only
}

TEST_CASE("429 is RateLimited with its Retry-After") {
  EndpointAnswer a = callWith(reply("429 Too Many Requests", "Retry-After: 10\r\n"));
  CHECK(a.kind == Kind::RateLimited);
  CHECK(a.retryAfter == std::optional<std::chrono::seconds>(10s));
  CHECK(a.detail == "429");
}

TEST_CASE("401 and 403 are Unauthorized") {
  EndpointAnswer a = callWith(reply("401 Unauthorized", "WWW-Authenticate: Bearer\r\n"));
  CHECK(a.kind == Kind::Unauthorized);
  CHECK(a.detail == "401");
  EndpointAnswer f = callWith(reply("403 Forbidden", "Content-Type: application/json\r\n", R"({"error": "Unauthorized"})"));
  CHECK(f.kind == Kind::Unauthorized);
  CHECK(f.detail == "403 Unauthorized");
}

TEST_CASE("404 and other 4xx are Rejected") {
  EndpointAnswer a = callWith(reply("404 Not Found"));
  CHECK(a.kind == Kind::Rejected);
  CHECK(a.detail == "404");
  CHECK(callWith(reply("405 Method Not Allowed")).kind == Kind::Rejected);
}

TEST_CASE("a 301 is Rejected and its Location is not followed") {
  // The Location points at a second server: it must never be called.
  RawServer elsewhere(replyWith(reply("200 OK")));
  RawServer s(replyWith(reply("301 Moved Permanently",
                              "Location: http://127.0.0.1:" + std::to_string(elsewhere.port()) + "/shutdown\r\n")));
  EndpointAnswer a = makeHttpEndpointCaller()->call(at(s));
  CHECK(a.kind == Kind::Rejected);
  CHECK(a.httpStatus == 301);
  CHECK(s.connections() == 1);
  CHECK(s.requests().size() == 1);
  CHECK(elsewhere.connections() == 0);
}

TEST_CASE("500 is Unreachable with its status") {
  EndpointAnswer a = callWith(reply("500 Internal Server Error", "", "Traceback (most recent call last):\n  ..."));
  CHECK(a.kind == Kind::Unreachable);
  CHECK(a.httpStatus == 500);
  CHECK(a.detail == "500");
}

TEST_CASE("a server that never answers times out within the deadline") {
  RawServer s([](RawServer::Connection& c) { c.hang(); });
  auto timeout = 700ms;
  auto start = std::chrono::steady_clock::now();
  EndpointAnswer a = makeHttpEndpointCaller()->call(at(s, timeout));
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(a.kind == Kind::Unreachable);
  CHECK(a.httpStatus == 0);
  CHECK(a.detail == "timeout after 700ms");
  CHECK(elapsed >= timeout - 10ms);
  CHECK(elapsed < timeout + 1s);

  RawServer whole([](RawServer::Connection& c) { c.hang(); });
  EndpointAnswer fiveSeconds = makeHttpEndpointCaller()->call(at(whole, 1s));
  CHECK(fiveSeconds.detail == "timeout after 1s");
}

TEST_CASE("a server that closes at once is Unreachable") {
  RawServer s([](RawServer::Connection&) {}, false, /*readRequest=*/false);
  EndpointAnswer a = makeHttpEndpointCaller()->call(at(s));
  CHECK(a.kind == Kind::Unreachable);
  CHECK(a.httpStatus == 0);
  CHECK((a.detail == "connection closed without a reply" || a.detail == "connection reset"));
}

TEST_CASE("a reply that is not HTTP is Unreachable") {
  EndpointAnswer a = callWith("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
  CHECK(a.kind == Kind::Unreachable);
  CHECK(a.detail == "reply is not HTTP");
}

TEST_CASE("an oversized reply is Unreachable, even with a 200 head") {
  RawServer s(replyWith("HTTP/1.1 200 OK\r\n\r\n" + std::string(200 * 1024, 'x')));
  EndpointAnswer a = makeHttpEndpointCaller(64 * 1024)->call(at(s));
  CHECK(a.kind == Kind::Unreachable);
  CHECK(a.detail == "reply too large");
  RawServer small(replyWith(reply("200 OK", "", std::string(1000, 'y'))));
  CHECK(makeHttpEndpointCaller(512)->call(at(small)).detail == "reply too large");
}

TEST_CASE("the token is sent in the Authorization header and never appears in the detail") {
  const std::string token = "tok-9f8e7d6c5b4a";
  RawServer s(replyWith(reply("409 Conflict", "", R"({"error":"busy for tok-9f8e7d6c5b4a, try later"})")));
  EndpointRequest r = at(s);
  r.bearerToken = token;
  r.method = "POST";
  r.path = "/internal-shutdown";
  EndpointAnswer a = makeHttpEndpointCaller()->call(r);
  auto request = s.requests().at(0);
  CHECK(request.starts_with("POST /internal-shutdown HTTP/1.1\r\n"));
  CHECK(request.find("\r\nAuthorization: Bearer " + token + "\r\n") != std::string::npos);
  CHECK(a.kind == Kind::Busy);
  CHECK(a.detail.find(token) == std::string::npos);
  CHECK(a.detail == "409 busy for ***, try later");

  EndpointAnswer reason = callWith("HTTP/1.1 401 bad token " + token + "\r\nContent-Length: 0\r\n\r\n", token);
  CHECK(reason.detail == "401 bad token ***");
  EndpointAnswer none = callWith(reply("200 OK"));
  CHECK(none.detail == "200");

  RawServer never(replyWith(reply("200 OK")));
  EndpointRequest injected = at(never);
  injected.bearerToken = "abc\r\nX-Evil: 1";
  EndpointAnswer refused = makeHttpEndpointCaller()->call(injected);
  CHECK(refused.kind == Kind::Unreachable);
  CHECK(refused.detail.find("abc") == std::string::npos);
  CHECK(never.connections() == 0);
}

TEST_CASE("details are printable ASCII and at most 60 characters") {
  EndpointAnswer a = callWith(reply("409 Conflict", "", "{\"error\":\"busy\\n\\tin \\u00e9 a very long critical operation that goes on and on and on\"}"));
  CHECK(a.detail.size() <= 60);
  CHECK(a.detail.starts_with("409 busy in a very long critical"));
  for (char c : a.detail) CHECK((c >= 0x20 && c < 0x7f));
}

TEST_CASE("a host that is not an IP literal is refused without connecting") {
  RawServer s(replyWith(reply("200 OK")));
  for (const char* host : {"localhost", "my-pod.default.svc", "127.0.0.1.nip.io", ""}) {
    EndpointRequest r = at(s);
    r.ip = host;
    EndpointAnswer a = makeHttpEndpointCaller()->call(r);
    CHECK(a.kind == Kind::Unreachable);
    CHECK(a.detail == "not an IP literal");
  }
  CHECK(s.connections() == 0);
}

TEST_CASE("connection refused is Unreachable") {
  int port;
  {
    RawServer gone(replyWith(""));
    port = gone.port();
  }
  EndpointRequest r;
  r.ip = "127.0.0.1";
  r.port = port;
  EndpointAnswer a = makeHttpEndpointCaller()->call(r);
  CHECK(a.kind == Kind::Unreachable);
  CHECK(a.detail == "connection refused");
}

TEST_CASE("IPv6 loopback is called like IPv4") {
  RawServer s(replyWith(reply("200 OK")), /*ipv6=*/true);
  EndpointRequest r = at(s);
  r.ip = "::1";
  EndpointAnswer a = makeHttpEndpointCaller()->call(r);
  CHECK(a.kind == Kind::Accepted);
  CHECK(s.requests().at(0).find("\r\nHost: [::1]:") != std::string::npos);
}
