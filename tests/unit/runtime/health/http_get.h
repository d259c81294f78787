#pragma once
// A minimal blocking HTTP/1.1 GET over loopback for the probe and metrics server tests: one request per connection,
// reads until the server closes (both servers close or send Content-Length; a 5 s receive timeout bounds the wait).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mv::test {

struct HttpReply {
  int status = 0;
  std::string headers;
  std::string body;
};

inline HttpReply httpGet(std::uint16_t port, const std::string& target, const std::string& method = "GET") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket");
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
  const std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
    const auto end = raw.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    const auto cl = raw.find("Content-Length: ");
    if (cl != std::string::npos && cl < end) {
      const std::size_t want = std::stoul(raw.substr(cl + 16));
      if (raw.size() >= end + 4 + want) break;
    }
  }
  ::close(fd);
  HttpReply reply;
  const auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) throw std::runtime_error("not an HTTP reply: " + raw);
  reply.status = std::stoi(raw.substr(9, 3));
  reply.headers = raw.substr(0, end);
  reply.body = raw.substr(end + 4);
  return reply;
}

}  // namespace mv::test
