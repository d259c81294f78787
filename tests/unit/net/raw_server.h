#pragma once
// A raw scripted TCP server for tests of HTTP clients: on 127.0.0.1 or ::1, port 0, one thread, connections served
// one at a time. For each connection it reads the request (head plus Content-Length body, within 2 s; skipped when
// readRequest is false), records it, then runs the test's action, which writes whatever bytes it wants: a valid
// reply, garbage, nothing at all (hang()), or nothing before the close.
// The destructor stops the thread, releasing a hanging action, and closes every socket.
// Header-only, so that tests of other folders (shutdown) can include it as "unit/net/raw_server.h".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mv::testing {

class RawServer {
 public:
  struct Connection {
    int fd;
    std::string request;
    const std::atomic<bool>* stopping;
    int wakeFd;

    void send(std::string_view bytes) const {
      while (!bytes.empty()) {
        ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        bytes.remove_prefix(static_cast<std::size_t>(n));
      }
    }
    // Blocks until the server stops (the client's deadline is what the test measures).
    void hang() const {
      pollfd p{wakeFd, POLLIN, 0};
      while (!stopping->load()) ::poll(&p, 1, 50);
    }
  };
  using Action = std::function<void(Connection&)>;

  explicit RawServer(Action action, bool ipv6 = false, bool readRequest = true)
      : action_(std::move(action)), readRequest_(readRequest) {
    if (::pipe(wake_) != 0) throw std::runtime_error("pipe");
    listen_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (ipv6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(*a);
    }
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(listen_, 16) != 0)
      throw std::runtime_error("bind/listen");
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~RawServer() {
    stopping_ = true;
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    ::close(listen_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void run() {
    while (!stopping_) {
      pollfd p[2] = {{listen_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(p, 2, 100) <= 0 || !(p[0].revents & POLLIN)) continue;
      int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      Connection c{fd, readRequest_ ? readRequest(fd) : std::string(), &stopping_, wake_[0]};
      {
        std::lock_guard lock(mu_);
        requests_.push_back(c.request);
      }
      action_(c);
      ::close(fd);
    }
  }

  // Reads a head and its Content-Length body, for at most 2 s.
  std::string readRequest(int fd) {
    std::string in;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < until && !stopping_) {
      auto headEnd = in.find("\r\n\r\n");
      if (headEnd != std::string::npos) {
        std::size_t length = 0;
        auto cl = in.find("Content-Length: ");
        if (cl != std::string::npos && cl < headEnd) length = std::stoul(in.substr(cl + 16));
        if (in.size() >= headEnd + 4 + length) break;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      in.append(buf, static_cast<std::size_t>(n));
    }
    return in;
  }

  Action action_;
  bool readRequest_;
  int listen_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// An action that answers with `reply` and closes.
inline RawServer::Action replyWith(std::string reply) {
  return [reply = std::move(reply)](RawServer::Connection& c) { c.send(reply); };
}

}  // namespace mv::testing
