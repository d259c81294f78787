// The one-shot HTTP client against raw scripted servers on loopback: framing, limits, the deadline, cancellation.
#include "net/http_client.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include "unit/net/raw_server.h"

using namespace mv::net;
using mv::testing::RawServer;
using mv::testing::replyWith;
using namespace std::chrono_literals;
using Error = ClientResult::Error;

namespace {

ClientRequest to(const RawServer& s, std::string method = "GET", std::string target = "/x") {
  ClientRequest r;
  r.ip = "127.0.0.1";
  r.port = s.port();
  r.method = std::move(method);
  r.target = std::move(target);
  r.timeout = 2s;
  return r;
}

}  // namespace

TEST_CASE("a Content-Length reply is read and the request is well formed") {
  RawServer s(replyWith("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloIGNORED"));
  ClientRequest r = to(s, "POST", "/shutdown?a=1");
  r.headers.push_back({"Authorization", "Bearer t0k"});
  ClientResult res = httpCall(r);
  REQUIRE(res.ok());
  CHECK(res.reply.status == 200);
  CHECK(res.reply.body == "hello");
  CHECK(res.reply.header("x-a").value() == "b");
  auto req = s.requests().at(0);
  CHECK(req.starts_with("POST /shutdown?a=1 HTTP/1.1\r\n"));
  CHECK(req.find("\r\nHost: 127.0.0.1:" + std::to_string(s.port()) + "\r\n") != std::string::npos);
  CHECK(req.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(req.find("\r\nAuthorization: Bearer t0k\r\n") != std::string::npos);
  CHECK(req.find("\r\nContent-Length: 0\r\n") != std::string::npos);  // a POST without body says so
}

TEST_CASE("bodies that end with the connection, chunked bodies and interim replies") {
  SUBCASE("until EOF") {
    RawServer s(replyWith("HTTP/1.0 200 OK\r\n\r\nall of it"));
    ClientResult res = httpCall(to(s));
    REQUIRE(res.ok());
    CHECK(res.reply.body == "all of it");
  }
  SUBCASE("chunked") {
    RawServer s(replyWith("HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    ClientResult res = httpCall(to(s));
    REQUIRE(res.ok());
    CHECK(res.reply.status == 202);
    CHECK(res.reply.body == "abcde");
  }
  SUBCASE("100 Continue is skipped") {
    RawServer s(replyWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"));
    ClientResult res = httpCall(to(s, "POST"));
    REQUIRE(res.ok());
    CHECK(res.reply.status == 204);
  }
  SUBCASE("a reply delivered byte by byte") {
    RawServer s([](RawServer::Connection& c) {
      for (char ch : std::string("HTTP/1.1 409 busy\r\nContent-Length: 2\r\n\r\nno")) {
        c.send(std::string(1, ch));
        std::this_thread::sleep_for(1ms);
      }
    });
    ClientResult res = httpCall(to(s));
    REQUIRE(res.ok());
    CHECK(res.reply.status == 409);
    CHECK(res.reply.reason == "busy");
    CHECK(res.reply.body == "no");
  }
}

TEST_CASE("a 3xx is returned as is and never followed") {
  RawServer s(replyWith("HTTP/1.1 301 Moved Permanently\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                        "Content-Length: 0\r\n\r\n"));
  ClientResult res = httpCall(to(s));
  REQUIRE(res.ok());
  CHECK(res.reply.status == 301);
  CHECK(s.connections() == 1);
}

TEST_CASE("garbage, oversized and truncated replies are failures with their own words") {
  SUBCASE("garbage") {
    RawServer s(replyWith("SSH-2.0-OpenSSH_9.2\r\n"));
    ClientResult res = httpCall(to(s));
    CHECK(res.error == Error::NotHttp);
    CHECK(res.describe() == "reply is not HTTP");
  }
  SUBCASE("garbage that starts like HTTP") {
    RawServer s(replyWith("HTTP/1.1 abc\r\n\r\n"));
    CHECK(httpCall(to(s)).error == Error::NotHttp);
  }
  SUBCASE("oversized body") {
    RawServer s(replyWith("HTTP/1.1 200 OK\r\n\r\n" + std::string(100000, 'x')));
    ClientRequest r = to(s);
    r.maxReplyBytes = 1000;
    ClientResult res = httpCall(r);
    CHECK(res.error == Error::TooLarge);
    CHECK(res.describe() == "reply too large");
  }
  SUBCASE("an announced length over the limit fails before the body") {
    RawServer s(replyWith("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"));
    ClientRequest r = to(s);
    r.maxReplyBytes = 1000;
    CHECK(httpCall(r).error == Error::TooLarge);
  }
  SUBCASE("an endless head") {
    RawServer s(replyWith("HTTP/1.1 200 OK\r\n" + std::string(70000, 'h')));
    CHECK(httpCall(to(s)).error == Error::TooLarge);
  }
  SUBCASE("conflicting lengths") {
    RawServer s(replyWith("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"));
    CHECK(httpCall(to(s)).error == Error::NotHttp);
  }
  SUBCASE("closed at once, before reading the request") {
    RawServer s([](RawServer::Connection&) {}, false, /*readRequest=*/false);
    ClientResult res = httpCall(to(s));
    CHECK((res.error == Error::Closed || res.error == Error::IoError));
    CHECK(!res.headComplete);
  }
  SUBCASE("closed after reading the request") {
    RawServer s([](RawServer::Connection&) {});
    ClientResult res = httpCall(to(s));
    CHECK((res.error == Error::Closed || res.error == Error::IoError));
    CHECK(!res.headComplete);
  }
  SUBCASE("closed in the middle of the body") {
    RawServer s(replyWith("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    ClientResult res = httpCall(to(s));
    CHECK(res.error == Error::Closed);
    CHECK(res.headComplete);
    CHECK(res.reply.status == 200);
    CHECK(res.describe() == "reply cut short");
  }
}

TEST_CASE("one deadline bounds the whole call") {
  RawServer s([](RawServer::Connection& c) {
    c.send("HTTP/1.1 200 OK\r\n");  // a head that never ends
    c.hang();
  });
  ClientRequest r = to(s);
  r.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  ClientResult res = httpCall(r);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(res.error == Error::Timeout);
  CHECK(res.describe() == "timeout after 300ms");
  CHECK(elapsed >= 290ms);
  CHECK(elapsed < 1300ms);
}

TEST_CASE("a readable cancel descriptor ends a blocked call at once") {
  RawServer s([](RawServer::Connection& c) { c.hang(); });
  int pipeFds[2];
  REQUIRE(::pipe(pipeFds) == 0);
  ClientRequest r = to(s);
  r.timeout = 10s;
  r.cancelFd = pipeFds[0];
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    (void)!::write(pipeFds[1], "x", 1);
  });
  auto start = std::chrono::steady_clock::now();
  ClientResult res = httpCall(r);
  canceller.join();
  CHECK(res.error == Error::Cancelled);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  ::close(pipeFds[0]);
  ::close(pipeFds[1]);
}

TEST_CASE("connection refused, names and bad requests never open a connection") {
  int port;
  {
    RawServer gone(replyWith(""));
    port = gone.port();
  }
  ClientRequest r;
  r.ip = "127.0.0.1";
  r.port = port;
  r.timeout = 2s;
  ClientResult refused = httpCall(r);
  CHECK(refused.error == Error::ConnectFailed);
  CHECK(refused.describe() == "connection refused");

  RawServer s(replyWith("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  for (const char* host : {"localhost", "example.invalid", "[127.0.0.1]", ""}) {
    ClientRequest named = to(s);
    named.ip = host;
    ClientResult res = httpCall(named);
    CHECK(res.error == Error::InvalidAddress);
    CHECK(res.describe() == "not an IP literal");
  }
  ClientRequest badTarget = to(s, "GET", "http://127.0.0.1/");
  CHECK(httpCall(badTarget).error == Error::InvalidRequest);
  ClientRequest injected = to(s, "GET", "/a HTTP/1.1\r\nX: y");
  CHECK(httpCall(injected).error == Error::InvalidRequest);
  ClientRequest badHeader = to(s);
  badHeader.headers.push_back({"Authorization", "Bearer a\r\nX-Evil: 1"});
  CHECK(httpCall(badHeader).error == Error::InvalidRequest);
  ClientRequest badPort = to(s);
  badPort.port = 70000;
  CHECK(httpCall(badPort).error == Error::InvalidRequest);
  CHECK(s.connections() == 0);
}

TEST_CASE("IPv6 loopback literals work") {
  RawServer s(replyWith("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6"), /*ipv6=*/true);
  ClientRequest r = to(s);
  r.ip = "::1";
  ClientResult res = httpCall(r);
  REQUIRE(res.ok());
  CHECK(res.reply.body == "v6");
  CHECK(s.requests().at(0).find("\r\nHost: [::1]:" + std::to_string(s.port()) + "\r\n") != std::string::npos);
}

TEST_CASE("durations are formatted briefly") {
  CHECK(formatDuration(5000ms) == "5s");
  CHECK(formatDuration(1500ms) == "1.5s");
  CHECK(formatDuration(250ms) == "250ms");
}
