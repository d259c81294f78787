// The server, served on a test thread, against the client and raw sockets: routing data, peer addresses, limits,
// garbage, slow clients, the interrupt descriptor, and handlers on threads of their own (handlerThreads).
#include "net/http_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "net/http_client.h"

using namespace mv::net;
using namespace std::chrono_literals;

namespace {

// A server on 127.0.0.1 (or ::1), served by a thread until destruction. The handler echoes what it saw.
class ServedServer {
 public:
  explicit ServedServer(ServerOptions options = {}, const char* ip = "127.0.0.1")
      : server_(*parseIpLiteral(ip, 0), [this](const ServerRequest& r) { return handle(r); }, options) {
    REQUIRE(::pipe(wake_) == 0);
    thread_ = std::thread([this] {
      while (!server_.serveOnce(1s, wake_[0])) {
      }
    });
  }
  ~ServedServer() {
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  int port() const { return server_.localAddress().port(); }
  std::vector<ServerRequest> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::size_t openConnections() const { return open_.load(); }
  // Ends the wait of every request to /block (which otherwise waits 3 s).
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    releasedCv_.notify_all();
  }
  // Waits until `n` requests have reached the handler.
  bool waitSeen(std::size_t n) const {
    auto until = std::chrono::steady_clock::now() + 3s;
    while (seen().size() < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
    return seen().size() >= n;
  }

 private:
  ServerResponse handle(const ServerRequest& r) {
    {
      std::lock_guard lock(mu_);
      seen_.push_back(r);
    }
    if (r.path == "/block") {
      std::unique_lock lock(mu_);
      releasedCv_.wait_for(lock, 3s, [this] { return released_; });
    }
    if (r.path == "/throw") throw std::runtime_error("boom");
    auto resp = ServerResponse::text(r.path == "/teapot" ? 418 : 200, r.method + " " + r.target + " " + r.body);
    resp.headers.push_back({"X-Peer", r.peer.ip()});
    return resp;
  }

  mutable std::mutex mu_;
  std::vector<ServerRequest> seen_;
  bool released_ = false;
  std::condition_variable releasedCv_;
  std::atomic<std::size_t> open_{0};
  HttpServer server_;
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

ClientResult call(int port, std::string method, std::string target, std::string body = "", const char* ip = "127.0.0.1") {
  ClientRequest r;
  r.ip = ip;
  r.port = port;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.timeout = 3s;
  return httpCall(r);
}

// Sends raw bytes on a new connection and returns everything the server writes until it closes (or 3 s).
std::string raw(int port, std::string_view bytes, bool halfClose = false) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  if (halfClose) ::shutdown(fd, SHUT_WR);
  std::string out;
  auto until = std::chrono::steady_clock::now() + 3s;
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("requests reach the handler with method, target, path, headers, body and peer") {
  ServedServer s;
  ClientResult res = call(s.port(), "POST", "/shutdown?now=1", "payload");
  REQUIRE(res.ok());
  CHECK(res.reply.status == 200);
  CHECK(res.reply.body == "POST /shutdown?now=1 payload");
  CHECK(res.reply.header("x-peer").value() == "127.0.0.1");
  CHECK(res.reply.header("connection").value() == "close");
  auto seen = s.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].path == "/shutdown");
  CHECK(seen[0].peer.isLoopback());
  CHECK(seen[0].header("host").has_value());

  ClientResult teapot = call(s.port(), "GET", "/teapot");
  CHECK(teapot.reply.status == 418);
  CHECK(teapot.reply.reason.empty());  // no standard phrase: none is invented
}

TEST_CASE("a HEAD request gets the head only, and a throwing handler gives 500") {
  ServedServer s;
  ClientResult head = call(s.port(), "HEAD", "/x");
  REQUIRE(head.ok());
  CHECK(head.reply.status == 200);
  CHECK(head.reply.body.empty());
  ClientResult thrown = call(s.port(), "GET", "/throw");
  REQUIRE(thrown.ok());
  CHECK(thrown.reply.status == 500);
}

TEST_CASE("garbage and malformed requests get 400 or 505 and never reach the handler") {
  ServedServer s;
  CHECK(raw(s.port(), std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 15)).starts_with("HTTP/1.1 400 "));
  CHECK(raw(s.port(), "GET http://other/ HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400 "));
  CHECK(raw(s.port(), "GET / HTTP/3.0\r\n\r\n").starts_with("HTTP/1.1 505 "));
  CHECK(raw(s.port(), "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").starts_with("HTTP/1.1 400 "));
  CHECK(raw(s.port(), "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").starts_with("HTTP/1.1 411 "));
  CHECK(s.seen().empty());
}

TEST_CASE("oversized heads and bodies are refused with 431 and 413") {
  ServerOptions o;
  o.maxHeadBytes = 1024;
  o.maxBodyBytes = 100;
  ServedServer s(o);
  CHECK(raw(s.port(), "GET / HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n").starts_with("HTTP/1.1 431 "));
  CHECK(raw(s.port(), "GET / HTTP/1.1\r\nX: " + std::string(100000, 'a')).starts_with("HTTP/1.1 431 "));
  CHECK(raw(s.port(), "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'b')).starts_with("HTTP/1.1 413 "));
  ClientResult fits = call(s.port(), "POST", "/", std::string(100, 'c'));
  REQUIRE(fits.ok());
  CHECK(fits.reply.status == 200);
  CHECK(s.seen().size() == 1);
}

TEST_CASE("Expect 100-continue is answered before the body") {
  ServedServer s;
  std::string out = raw(s.port(), "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  CHECK(out.starts_with("HTTP/1.1 100 Continue\r\n\r\n"));
}

TEST_CASE("a slow client is dropped at its deadline while others are served") {
  ServerOptions o;
  o.connectionTimeout = 300ms;
  ServedServer s(o);
  auto start = std::chrono::steady_clock::now();
  std::string slowReply;
  std::thread slow([&] { slowReply = raw(s.port(), "GET / HTTP/1.1\r\nX-Slow: "); });
  std::this_thread::sleep_for(50ms);
  ClientResult fast = call(s.port(), "GET", "/fast");
  CHECK(fast.ok());
  slow.join();
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(slowReply.starts_with("HTTP/1.1 408 "));
  CHECK(elapsed >= 290ms);
  CHECK(elapsed < 2s);
}

TEST_CASE("beyond maxConnections the oldest connection is dropped") {
  ServerOptions o;
  o.maxConnections = 2;
  o.connectionTimeout = 500ms;
  ServedServer s(o);
  std::vector<std::thread> idle;
  std::vector<std::string> replies(3);
  for (int i = 0; i < 3; ++i) {
    idle.emplace_back([&, i] { replies[i] = raw(s.port(), "GET / HTTP/1.1\r\n"); });
    std::this_thread::sleep_for(50ms);
  }
  ClientResult res = call(s.port(), "GET", "/still-served");
  CHECK(res.ok());
  for (auto& t : idle) t.join();
  CHECK(replies[0].empty());  // dropped without a word to make room
}

TEST_CASE("a response is delivered whole even when the client keeps sending") {
  ServerOptions o;
  o.maxBodyBytes = 10;
  ServedServer s(o);
  std::string out = raw(s.port(), "POST / HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'z'), true);
  CHECK(out.starts_with("HTTP/1.1 413 "));
  CHECK(out.ends_with("request body too large\n"));
}

TEST_CASE("the server listens on IPv6 loopback and reports the peer") {
  ServedServer s({}, "::1");
  ClientResult res = call(s.port(), "GET", "/", "", "::1");
  REQUIRE(res.ok());
  CHECK(res.reply.header("x-peer").value() == "::1");
}

TEST_CASE("binding an address in use throws with the address") {
  ServedServer s;
  auto taken = parseIpLiteral("127.0.0.1", static_cast<std::uint16_t>(s.port()));
  std::string message;
  try {
    HttpServer again(*taken, [](const ServerRequest&) { return ServerResponse(); });
  } catch (const std::system_error& e) {
    message = e.what();
  }
  CHECK(message.find("127.0.0.1:" + std::to_string(s.port())) != std::string::npos);
}

TEST_CASE("serveOnce reports the interrupt descriptor and returns within maxWait otherwise") {
  HttpServer server(*parseIpLiteral("127.0.0.1", 0), [](const ServerRequest&) { return ServerResponse(); });
  int p[2];
  REQUIRE(::pipe(p) == 0);
  auto start = std::chrono::steady_clock::now();
  CHECK(!server.serveOnce(100ms, p[0]));
  CHECK(std::chrono::steady_clock::now() - start >= 90ms);
  (void)!::write(p[1], "x", 1);
  CHECK(server.serveOnce(5s, p[0]));
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("with handlerThreads, a blocked handler delays no other request and its connection outlives the timeout") {
  ServerOptions o;
  o.handlerThreads = 4;
  o.connectionTimeout = 300ms;
  ServedServer s(o);
  ClientResult blocked;
  std::thread caller([&] { blocked = call(s.port(), "GET", "/block"); });
  REQUIRE(s.waitSeen(1));
  auto sent = std::chrono::steady_clock::now();
  ClientResult fast = call(s.port(), "GET", "/fast");
  CHECK(fast.reply.status == 200);
  CHECK(std::chrono::steady_clock::now() - sent < 250ms);  // not behind the blocked one (3 s)
  std::this_thread::sleep_for(400ms);  // past connectionTimeout: the handler's time does not count
  CHECK(call(s.port(), "GET", "/later").reply.status == 200);  // the loop runs (and expires connections) meanwhile
  s.release();
  caller.join();
  REQUIRE(blocked.ok());
  CHECK(blocked.reply.status == 200);
  CHECK(blocked.reply.body == "GET /block ");
}

TEST_CASE("beyond handlerThreads a request is answered 503 with Retry-After at once") {
  ServerOptions o;
  o.handlerThreads = 1;
  ServedServer s(o);
  ClientResult blocked;
  std::thread caller([&] { blocked = call(s.port(), "GET", "/block"); });
  REQUIRE(s.waitSeen(1));
  ClientResult busy = call(s.port(), "GET", "/other");
  REQUIRE(busy.ok());
  CHECK(busy.reply.status == 503);
  CHECK(busy.reply.header("retry-after").value() == "1");
  s.release();
  caller.join();
  CHECK(blocked.reply.status == 200);
  CHECK(s.seen().size() == 1);  // the refused request never reached the handler
  CHECK(call(s.port(), "GET", "/after").reply.status == 200);
}

TEST_CASE("a connection being handled is never dropped to make room: the newcomer gets 503") {
  ServerOptions o;
  o.handlerThreads = 2;
  o.maxConnections = 1;
  ServedServer s(o);
  ClientResult blocked;
  std::thread caller([&] { blocked = call(s.port(), "GET", "/block"); });
  REQUIRE(s.waitSeen(1));
  CHECK(raw(s.port(), "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 503 "));
  s.release();
  caller.join();
  REQUIRE(blocked.ok());
  CHECK(blocked.reply.status == 200);
}
