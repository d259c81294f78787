#include "http/server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <system_error>

namespace mv::workloads::http {
namespace {

using Clock = std::chrono::steady_clock;

std::string httpDate() {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

int msUntil(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

}  // namespace

Server::Server(Handler handler, Options options) : handler_(std::move(handler)), options_(std::move(options)) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  wakeRead_ = fds[0];
  wakeWrite_ = fds[1];
}

Server::~Server() {
  if (!stopping_) stop(std::chrono::milliseconds(0));
  if (acceptThread_.joinable()) acceptThread_.join();
  // The wake pipe stays open while connections might still poll it (see the class comment).
  std::lock_guard<std::mutex> g(mu_);
  if (open_ == 0) {
    close(wakeRead_);
    close(wakeWrite_);
  }
}

net::Endpoint Server::listen(const net::Endpoint& ep) {
  sockaddr_storage ss;
  const socklen_t len = ep.toSockaddr(ss);
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 1024) != 0) {
    const int err = errno;
    close(fd);
    throw std::system_error(err, std::generic_category(), "bind " + ep.str());
  }
  sockaddr_storage bound{};
  socklen_t boundLen = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &boundLen);
  listenFd_ = fd;
  net::Endpoint out = ep;
  out.port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return out;
}

void Server::start() { acceptThread_ = std::thread([this] { acceptLoop(); }); }

bool Server::stop(std::chrono::milliseconds grace) {
  if (!stopping_.exchange(true)) {
    const char b = 'x';
    [[maybe_unused]] auto n = write(wakeWrite_, &b, 1);
    if (acceptThread_.joinable()) acceptThread_.join();
    if (listenFd_ >= 0) close(listenFd_);
    listenFd_ = -1;
  }
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, grace, [this] { return open_ == 0; });
}

int Server::connections() const {
  std::lock_guard<std::mutex> g(mu_);
  return open_;
}

void Server::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::cerr << "http: poll: " << std::strerror(errno) << std::endl;
      return;
    }
    if (fds[1].revents != 0 || stopping_) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    sockaddr_storage peer{};
    socklen_t peerLen = sizeof peer;
    const int fd = accept4(listenFd_, reinterpret_cast<sockaddr*>(&peer), &peerLen, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    {
      std::lock_guard<std::mutex> g(mu_);
      if (open_ >= options_.maxConnections) {
        Response busy = Response::text(503, "too many connections\n");
        busy.headers.emplace_back("Retry-After", "1");
        const auto wire = render(busy, true);
        [[maybe_unused]] auto n = send(fd, wire.data(), wire.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        close(fd);
        continue;
      }
      ++open_;
    }
    const auto addr = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&peer));
    try {
      std::thread([this, fd, addr] { serve(fd, addr); }).detach();
    } catch (const std::system_error& e) {
      std::cerr << "http: cannot start a connection thread: " << e.what() << std::endl;
      close(fd);
      std::lock_guard<std::mutex> g(mu_);
      if (--open_ == 0) idle_.notify_all();
    }
  }
}

bool Server::sendAll(int fd, std::string_view data) {
  const auto deadline = Clock::now() + options_.ioTimeout;
  while (!data.empty()) {
    const auto n = send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      const int wait = msUntil(deadline);
      if (wait == 0 || poll(&p, 1, wait) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

std::string Server::render(const Response& r, bool close) const {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reasonPhrase(r.status)) + "\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Date: " + httpDate() + "\r\n";
  out += "Server: " + options_.serverName + "\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

void Server::serve(int fd, net::Address peer) {
  std::string buf;
  char chunk[16 * 1024];
  bool keepOpen = true;
  while (keepOpen) {
    // Wait for a complete request. Idle (nothing buffered) connections close on stop(); a request already being
    // received is read to its end so that it can be answered.
    Request req;
    req.peer = peer;
    ParseResult parsed = parseRequest(buf, req, options_.limits);
    bool continued = false;  // the interim 100 was sent for this request
    auto deadline = Clock::now() + (buf.empty() ? options_.idleTimeout : options_.ioTimeout);
    while (parsed.status == ParseResult::Status::Incomplete) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
      const bool idle = buf.empty();
      const int ready = poll(fds, idle ? 2 : 1, msUntil(deadline));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0 || (idle && fds[1].revents != 0)) {
        keepOpen = false;
        break;
      }
      const auto n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        keepOpen = false;
        break;
      }
      if (buf.empty()) deadline = Clock::now() + options_.ioTimeout;
      buf.append(chunk, static_cast<size_t>(n));
      parsed = parseRequest(buf, req, options_.limits);
      if (parsed.status == ParseResult::Status::Incomplete && !continued && expectsContinue(buf)) {
        continued = true;
        if (!sendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) {
          keepOpen = false;
          break;
        }
      }
    }
    if (!keepOpen) break;
    if (parsed.status == ParseResult::Status::Error) {
      sendAll(fd, render(Response::text(parsed.errorStatus, parsed.error + "\n"), true));
      break;
    }
    buf.erase(0, parsed.consumed);

    Response resp;
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      resp = Response::text(500, std::string("internal error: ") + e.what() + "\n");
    }
    const bool close = resp.close || !req.keepAlive() || stopping_;
    if (req.method == "HEAD") {
      // The headers describe the GET answer; no body goes out.
      auto wire = render(resp, close);
      wire.resize(wire.size() - resp.body.size());
      keepOpen = sendAll(fd, wire);
    } else {
      keepOpen = sendAll(fd, render(resp, close));
    }
    if (close) keepOpen = false;
  }
  shutdown(fd, SHUT_WR);
  close(fd);
  std::lock_guard<std::mutex> g(mu_);
  if (--open_ == 0) idle_.notify_all();
}

}  // namespace mv::workloads::http
