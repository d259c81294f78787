// The cpprest transport against the scripted server: plain HTTP requests and replies, streaming as data arrives,
// cancellation, failures of every kind, and timeouts. TLS is covered in tls_test.cpp.

#include "kube/transport.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "support/scripted_server.h"

using namespace std::chrono_literals;
using mv::kube::CancelToken;
using mv::kube::ConnectionConfig;
using mv::kube::HttpRequest;
using mv::kube::HttpResponse;
using mv::kube::TransportError;
using mv::testing::Expect;
using mv::testing::Gate;
using mv::testing::Reply;
using mv::testing::ScriptedServer;
using Kind = TransportError::Kind;
using Clock = std::chrono::steady_clock;

namespace {

ConnectionConfig plainConfig(const ScriptedServer& server) {
  ConnectionConfig c;
  c.server = server.url();
  c.source = "test config";
  return c;
}

HttpRequest get(std::string path, std::chrono::milliseconds timeout = 5s) {
  HttpRequest r;
  r.method = "GET";
  r.pathAndQuery = std::move(path);
  r.timeout = timeout;
  return r;
}

// Runs `fn`, which must throw a TransportError; returns it.
template <typename Fn>
TransportError expectTransportError(Fn&& fn) {
  try {
    fn();
  } catch (const TransportError& e) {
    MESSAGE((std::string(mv::kube::kindName(e.kind())) + ": " + e.what()));
    return e;
  }
  FAIL("no TransportError was thrown");
  return TransportError(Kind::Protocol, "unreachable");
}

// A port on 127.0.0.1 that nothing listens on (bound, then released).
int unusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

const std::function<void(std::string_view)> ignoreData = [](std::string_view) {};

}  // namespace

TEST_CASE("send: the request goes out as given and the whole reply comes back with lower-cased header keys") {
  ScriptedServer server;
  server.expect(Expect("POST", "/api/v1/namespaces/default/pods?dryRun=All")
                    .header("content-type", "application/merge-patch+json")
                    .header("authorization", "Bearer abc")
                    .withBody(R"({"a":1})"),
                Reply::json(429, R"({"kind":"Status","code":429})", {{"Retry-After", "7"}, {"X-Trace-ID", "t-1"}}));
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  HttpRequest req = get("/api/v1/namespaces/default/pods?dryRun=All");
  req.method = "POST";
  req.headers = {{"Content-Type", "application/merge-patch+json"}, {"Authorization", "Bearer abc"}};
  req.body = R"({"a":1})";

  HttpResponse resp = transport->send(req);

  CHECK(resp.status == 429);
  CHECK(resp.body == R"({"kind":"Status","code":429})");
  CHECK(resp.header("retry-after") == "7");
  CHECK(resp.header("x-trace-id") == "t-1");
  CHECK(resp.header("content-type") == "application/json");
  for (const auto& [k, v] : resp.headers)
    CHECK_MESSAGE(std::none_of(k.begin(), k.end(), [](unsigned char ch) { return std::isupper(ch); }), k);
  CHECK(server.failures().empty());
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].method == "POST");
}

TEST_CASE("send: consecutive requests reuse pooled connections") {
  ScriptedServer server;
  const int n = 6;
  for (int i = 0; i < n; ++i) server.expect(Expect("GET", "/r" + std::to_string(i)), Reply::json(200, "{}"));
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  for (int i = 0; i < n; ++i) CHECK(transport->send(get("/r" + std::to_string(i))).status == 200);
  CHECK(server.failures().empty());
  // cpprest returns a connection to its pool shortly after the reply completes, so a request may still race ahead
  // and open a new one; but a client per request (no pooling at all) would open one connection per request.
  CHECK(server.connectionsAccepted() < n);
}

TEST_CASE("send: a body larger than maxBodyBytes is refused") {
  ScriptedServer server;
  server.expect(Expect("GET", "/big"), Reply::json(200, std::string(1000, 'x')));
  server.expect(Expect("GET", "/chunked"),
                Reply::chunked(200).chunk(std::string(60, 'y')).chunk(std::string(60, 'y')).end());
  mv::kube::TransportOptions options;
  options.maxBodyBytes = 100;
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server), options);
  auto e = expectTransportError([&] { transport->send(get("/big")); });
  CHECK(e.kind() == Kind::Protocol);
  CHECK(std::string(e.what()).find("exceeds the limit of 100 bytes") != std::string::npos);
  // Without a Content-Length the limit is enforced while reading.
  auto e2 = expectTransportError([&] { transport->send(get("/chunked")); });
  CHECK(e2.kind() == Kind::Protocol);
}

TEST_CASE("stream: each piece reaches onData while the server still holds the next one") {
  ScriptedServer server;
  auto gate = std::make_shared<Gate>();
  // The first piece ends in the middle of a JSON line; the server sends the rest only once the test has seen it.
  const std::string piece1 = "{\"type\":\"ADDED\",\"object\":{\"n\":1}}\n{\"type\":\"MODI";
  const std::string piece2 = "FIED\",\"object\":{\"n\":2}}\n";
  const std::string piece3 = "{\"type\":\"BOOKMARK\",\"object\":{}}\n";
  server.expect(Expect("GET", "/api/v1/pods?watch=true"),
                Reply::chunked(200).chunk(piece1).waitFor(gate, 5s).chunk(piece2).delay(100ms).chunk(piece3).end());
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  CancelToken cancel;
  std::string received;
  std::vector<Clock::time_point> arrivals;
  bool piece2SeenBeforeGate = false;

  HttpResponse resp = transport->stream(
      get("/api/v1/pods?watch=true"),
      [&](std::string_view data) {
        received += data;
        arrivals.push_back(Clock::now());
        if (!gate->isOpen()) {
          piece2SeenBeforeGate = received.size() > piece1.size();
          if (received.size() >= piece1.size()) gate->open();
        }
      },
      cancel);
  auto ended = Clock::now();

  CHECK(resp.status == 200);
  CHECK(resp.body.empty());
  CHECK(received == piece1 + piece2 + piece3);
  CHECK_FALSE(piece2SeenBeforeGate);
  CHECK(server.failures().empty());  // a gate never opened would be listed here
  REQUIRE(arrivals.size() >= 2);
  // piece 3 was held back 100 ms after piece 2: the earlier pieces were delivered before the stream ended.
  CHECK(ended - arrivals.front() >= 90ms);
}

TEST_CASE("stream: a non-2xx reply is returned whole and onData is not called") {
  ScriptedServer server;
  const std::string status =
      R"j({"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410})j";
  server.expect(Expect("GET", "/api/v1/pods?watch=true&resourceVersion=1"), Reply::json(410, status));
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  CancelToken cancel;
  int calls = 0;
  HttpResponse resp = transport->stream(
      get("/api/v1/pods?watch=true&resourceVersion=1"), [&](std::string_view) { ++calls; }, cancel);
  CHECK(resp.status == 410);
  CHECK(resp.body == status);
  CHECK(calls == 0);
}

TEST_CASE("stream: cancel() from another thread ends the stream within a second") {
  ScriptedServer server;
  server.expect(Expect("GET", "/watch"), Reply::chunked(200).chunk("{\"type\":\"ADDED\"}\n").stall());
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  CancelToken cancel;
  std::mutex mu;
  std::condition_variable cv;
  bool firstPiece = false;
  const auto start = Clock::now();
  Clock::time_point firstPieceAt, cancelledAt;
  std::thread canceller([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (cv.wait_for(lock, 5s, [&] { return firstPiece; })) {
      cancelledAt = Clock::now();
      cancel.cancel();
    }
  });
  auto e = expectTransportError([&] {
    transport->stream(
        get("/watch", 3s),
        [&](std::string_view) {
          std::lock_guard<std::mutex> lock(mu);
          if (!firstPiece) firstPieceAt = Clock::now();
          firstPiece = true;
          cv.notify_all();
        },
        cancel);
  });
  auto endedAt = Clock::now();
  canceller.join();
  CHECK(e.kind() == Kind::Cancelled);
  REQUIRE(firstPiece);
  CHECK(firstPieceAt - start < 2s);  // delivered as it arrived, not at the inactivity timeout
  CHECK(endedAt - cancelledAt < 1s);
}

TEST_CASE("stream: a token cancelled before the call fails at once") {
  ScriptedServer server;
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  CancelToken cancel;
  cancel.cancel();
  auto e = expectTransportError([&] { transport->stream(get("/watch"), ignoreData, cancel); });
  CHECK(e.kind() == Kind::Cancelled);
  CHECK(server.requests().empty());
}

TEST_CASE("stream: an exception from onData ends the stream and propagates") {
  ScriptedServer server;
  server.expect(Expect("GET", "/watch"), Reply::chunked(200).chunk("a").stall());
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  CancelToken cancel;
  CHECK_THROWS_WITH_AS(transport->stream(
                           get("/watch", 3s), [](std::string_view) { throw std::logic_error("stop here"); }, cancel),
                       "stop here", std::logic_error);
}

TEST_CASE("stream: the server closing in the middle of a chunk is a body cut short") {
  ScriptedServer server;
  // A complete first chunk, then a chunk header announcing 40 bytes of which only 10 are sent.
  server.expect(Expect("GET", "/watch"),
                Reply::chunked(200).chunk("{\"type\":\"ADDED\"}\n").delay(50ms).bytes("28\r\n{\"type\":\"M").close());
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  CancelToken cancel;
  std::string received;
  auto e = expectTransportError([&] {
    transport->stream(
        get("/watch"), [&](std::string_view d) { received += d; }, cancel);
  });
  CHECK((e.kind() == Kind::Protocol || e.kind() == Kind::ConnectionFailed));
  CHECK(received.rfind("{\"type\":\"ADDED\"}\n", 0) == 0);
}

TEST_CASE("stream: the server closing between chunks, without the last chunk, is a body cut short") {
  ScriptedServer server;
  server.expect(Expect("GET", "/watch"), Reply::chunked(200).chunk("{\"type\":\"ADDED\"}\n").close());
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  CancelToken cancel;
  auto e = expectTransportError([&] { transport->stream(get("/watch"), ignoreData, cancel); });
  CHECK((e.kind() == Kind::Protocol || e.kind() == Kind::ConnectionFailed));
}

TEST_CASE("send: the server closing in the middle of a Content-Length body is a body cut short") {
  ScriptedServer server;
  const std::string body(200, 'z');
  // Headers plus 50 of the 200 body bytes.
  const std::string headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n";
  server.expect(Expect("GET", "/x"),
                Reply::status(200, body, {{"Content-Type", "application/json"}}).cutAfter(headers.size() + 50));
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  auto e = expectTransportError([&] { transport->send(get("/x")); });
  CHECK((e.kind() == Kind::Protocol || e.kind() == Kind::ConnectionFailed));
}

TEST_CASE("send: the server closing before any reply is a connection failure") {
  ScriptedServer server;
  server.expect(Expect("GET", "/x"), Reply::raw(""));
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  auto e = expectTransportError([&] { transport->send(get("/x")); });
  CHECK(e.kind() == Kind::ConnectionFailed);
}

TEST_CASE("send: a reply that is not HTTP is a protocol error") {
  ScriptedServer server;
  server.expect(Expect("GET", "/x"), Reply::raw("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\nProtocol mismatch.\r\n\r\n"));
  server.expect(Expect("GET", "/y"), Reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  auto e = expectTransportError([&] { transport->send(get("/x")); });
  CHECK(e.kind() == Kind::Protocol);
  // A chunk size that is not hexadecimal.
  auto e2 = expectTransportError([&] { transport->send(get("/y")); });
  CHECK(e2.kind() == Kind::Protocol);
}

TEST_CASE("send: a port nobody listens on is a connection failure") {
  ConnectionConfig c;
  c.server = "http://127.0.0.1:" + std::to_string(unusedPort());
  c.source = "test config";
  auto transport = mv::kube::makeCpprestTransport(c);
  auto start = Clock::now();
  auto e = expectTransportError([&] { transport->send(get("/x")); });
  CHECK(e.kind() == Kind::ConnectionFailed);
  CHECK(std::string(e.what()).find(c.server) != std::string::npos);
  CHECK(Clock::now() - start < 2s);
}

TEST_CASE("send: a server that never answers runs into the request timeout") {
  ScriptedServer server;
  server.expect(Expect("GET", "/slow"), Reply::hang());
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  auto start = Clock::now();
  auto e = expectTransportError([&] { transport->send(get("/slow", 300ms)); });
  auto took = Clock::now() - start;
  CHECK(e.kind() == Kind::Timeout);
  CHECK(took >= 250ms);
  CHECK(took < 2s);
}

TEST_CASE("send: the timeout bounds the whole request, not only the silences") {
  ScriptedServer server;
  // A byte every 100 ms for 2 s: never silent for long, but far longer than the 400 ms allowed.
  Reply slow = Reply::chunked(200);
  for (int i = 0; i < 20; ++i) slow.chunk("x").delay(100ms);
  server.expect(Expect("GET", "/drip"), slow.end());
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  auto start = Clock::now();
  auto e = expectTransportError([&] { transport->send(get("/drip", 400ms)); });
  auto took = Clock::now() - start;
  CHECK(e.kind() == Kind::Timeout);
  CHECK(took < 1500ms);
}

TEST_CASE("stream: a silence longer than the request timeout is a timeout - steady data is not") {
  ScriptedServer server;
  Reply steady = Reply::chunked(200);
  for (int i = 0; i < 6; ++i) steady.chunk("x").delay(100ms);
  server.expect(Expect("GET", "/steady"), steady.end());
  server.expect(Expect("GET", "/silent"), Reply::chunked(200).chunk("x").stall());
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  CancelToken cancel;
  std::string got;
  // 600 ms in all, but never 300 ms without data.
  CHECK(transport
            ->stream(
                get("/steady", 300ms), [&](std::string_view d) { got += d; }, cancel)
            .status == 200);
  CHECK(got == "xxxxxx");
  auto start = Clock::now();
  auto e = expectTransportError([&] { transport->stream(get("/silent", 300ms), ignoreData, cancel); });
  CHECK(e.kind() == Kind::Timeout);
  CHECK(Clock::now() - start < 2s);
}

TEST_CASE("makeCpprestTransport: a server URL that is not http(s) is a configuration error") {
  ConnectionConfig c;
  c.server = "ftp://127.0.0.1:21";
  c.source = "kubeconfig /tmp/x";
  CHECK_THROWS_AS(mv::kube::makeCpprestTransport(c), mv::kube::ConfigError);
  c.server = "not a url";
  CHECK_THROWS_AS(mv::kube::makeCpprestTransport(c), mv::kube::ConfigError);
}

TEST_CASE("CancelToken: callbacks run once on cancel - late subscribers run at once - unsubscribed ones never") {
  CancelToken token;
  int a = 0, b = 0, c = 0;
  token.subscribe([&] { ++a; });
  int idB = token.subscribe([&] { ++b; });
  token.unsubscribe(idB);
  CHECK_FALSE(token.cancelled());
  token.cancel();
  token.cancel();
  CHECK(token.cancelled());
  CHECK(a == 1);
  CHECK(b == 0);
  int idC = token.subscribe([&] { ++c; });
  CHECK(c == 1);
  token.unsubscribe(idC);  // harmless
}

TEST_CASE("scripted server: unexpected requests and failed assertions are reported, not hidden") {
  ScriptedServer server;
  server.expect(Expect("PUT", "/api/v1/namespaces/a/configmaps/x").header("content-type", "application/json"),
                Reply::json(200, "{}"));
  server.expect(Expect("GET", "/expected"), Reply::json(200, "{}"));
  auto transport = mv::kube::makeCpprestTransport(plainConfig(server));
  HttpRequest put = get("/api/v1/namespaces/a/configmaps/x");
  put.method = "PUT";
  put.headers = {{"Content-Type", "text/plain"}};
  put.body = "{}";
  // A header assertion that fails is recorded, and the entry's reply is still played.
  CHECK(transport->send(put).status == 200);
  // A request that is not the next one in the script is answered 500 and leaves the entry pending.
  auto resp = transport->send(get("/surprise"));
  CHECK(resp.status == 500);
  CHECK(server.pendingEntries() == 1);
  auto failures = server.failures();
  REQUIRE(failures.size() == 2);
  CHECK(failures[0].find("header content-type is \"text/plain\", expected \"application/json\"") != std::string::npos);
  CHECK(failures[1].find("unexpected request GET /surprise (expected GET /expected)") != std::string::npos);
  CHECK(server.requests().size() == 2);
  CHECK(server.requests()[0].body == "{}");
}
