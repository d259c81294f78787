#include "runtime/health/probe_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "util/log.h"

namespace mv::runtime::health {
namespace {

constexpr int kRequestTimeoutMs = 2000;
constexpr std::size_t kMaxRequestBytes = 8192;

std::string errnoText() { return std::strerror(errno); }

const char* statusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 400: return "Bad Request";
    default: return "Internal Server Error";
  }
}

void writeAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away: nothing to do
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::uint32_t resolveIpv4(const std::string& host) {
  if (host.empty() || host == "0.0.0.0") return htonl(INADDR_ANY);
  if (host.find(':') != std::string::npos || host.front() == '[') {
    throw std::runtime_error("cannot bind \"" + host + "\": IPv6 addresses are not supported");
  }
  in_addr addr{};
  if (::inet_pton(AF_INET, host.c_str(), &addr) == 1) return addr.s_addr;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw std::runtime_error("cannot resolve host \"" + host + "\" to an IPv4 address: " + ::gai_strerror(rc));
  }
  const std::uint32_t out = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr;
  ::freeaddrinfo(found);
  return out;
}

ProbeServer::ProbeServer(const std::string& host, std::uint16_t port, const Checks& healthz, const Checks& readyz)
    : healthz_(healthz), readyz_(readyz) {
  const std::string where = "health probe server on " + (host.empty() ? std::string("0.0.0.0") : host) + ":" +
                            std::to_string(port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  try {
    addr.sin_addr.s_addr = resolveIpv4(host);
  } catch (const std::exception& e) {
    throw std::runtime_error(where + ": " + e.what());
  }
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error(where + ": socket: " + errnoText());
  const int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listenFd_, 16) != 0) {
    const std::string reason = errnoText();
    ::close(listenFd_);
    throw std::runtime_error(where + ": cannot listen: " + reason);
  }
  socklen_t len = sizeof addr;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC);
  if (wakeFd_ < 0) {
    ::close(listenFd_);
    throw std::runtime_error(where + ": eventfd: " + errnoText());
  }
  thread_ = std::thread([this] { serve(); });
}

ProbeServer::~ProbeServer() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wakeFd_, &one, sizeof one);
  thread_.join();
  ::close(listenFd_);
  ::close(wakeFd_);
}

void ProbeServer::serve() {
  while (true) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("health probe server: poll failed, no longer serving", {{"error", errnoText()}});
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void ProbeServer::handle(int fd) {
  std::string request;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd fds[2] = {{fd, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0 || fds[1].revents) return;
    char buf[2048];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    request.append(buf, static_cast<std::size_t>(n));
  }
  const auto lineEnd = request.find("\r\n");
  const std::string line = request.substr(0, lineEnd);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  Response response;
  std::string method;
  if (sp2 == std::string::npos) {
    response = {400, "bad request\n"};
  } else {
    method = line.substr(0, sp1);
    response = route(method, line.substr(sp1 + 1, sp2 - sp1 - 1));
  }
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + statusText(response.status) +
                    "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
                    "Content-Length: " + std::to_string(response.body.size()) + "\r\nConnection: close\r\n\r\n";
  if (method != "HEAD") out += response.body;
  writeAll(fd, out);
}

Response ProbeServer::route(const std::string& method, const std::string& target) const {
  const auto q = target.find('?');
  const std::string path = target.substr(0, q);
  const std::string query = q == std::string::npos ? std::string() : target.substr(q + 1);
  const Checks* checks = nullptr;
  std::string rest;
  for (const auto& [root, c] : {std::pair<std::string, const Checks*>{"/healthz", &healthz_}, {"/readyz", &readyz_}}) {
    if (path == root || path == root + "/") {
      checks = c;
    } else if (path.rfind(root + "/", 0) == 0) {
      checks = c;
      rest = path.substr(root.size() + 1);
    }
  }
  if (!checks) return {404, "404 page not found\n"};
  if (method != "GET" && method != "HEAD") return {405, "method not allowed\n"};
  return checks->answer(rest, query);
}

}  // namespace mv::runtime::health
