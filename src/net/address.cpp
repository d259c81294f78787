#include "net/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace mv::net {

SocketAddress SocketAddress::fromSockaddr(const sockaddr* address, socklen_t length) {
  SocketAddress a;
  if (address == nullptr) return a;
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&a.storage_, address, sizeof(sockaddr_in));
    a.length_ = sizeof(sockaddr_in);
  } else if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&a.storage_, address, sizeof(sockaddr_in6));
    a.length_ = sizeof(sockaddr_in6);
  }
  return a;
}

namespace {

const sockaddr_in* v4(const sockaddr_storage& s) { return reinterpret_cast<const sockaddr_in*>(&s); }
const sockaddr_in6* v6(const sockaddr_storage& s) { return reinterpret_cast<const sockaddr_in6*>(&s); }

}  // namespace

std::uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(v4(storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(v6(storage_)->sin6_port);
  return 0;
}

std::string SocketAddress::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &v4(storage_)->sin_addr, text, sizeof(text));
  } else if (family() == AF_INET6) {
    const in6_addr& a = v6(storage_)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof(text));
    else inet_ntop(AF_INET6, &a, text, sizeof(text));
  }
  return text;
}

std::string SocketAddress::toString() const {
  if (empty()) return "";
  if (family() == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&v6(storage_)->sin6_addr)) return joinHostPort(ip(), port());
  return ip() + ":" + std::to_string(port());
}

bool SocketAddress::isLoopback() const {
  if (family() == AF_INET) return (ntohl(v4(storage_)->sin_addr.s_addr) >> 24) == 127;
  if (family() == AF_INET6) {
    const in6_addr& a = v6(storage_)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

std::optional<SocketAddress> parseIpLiteral(std::string_view ip, std::uint16_t port) {
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string text(ip);  // inet_pton needs a terminated string; an embedded NUL fails the length check below
  if (text.find('\0') != std::string::npos) return std::nullopt;
  SocketAddress a;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    a.length_ = sizeof(sockaddr_in);
    return a;
  }
  a.storage_ = {};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    a.length_ = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

std::optional<SocketAddress> parseHostPort(std::string_view text) {
  std::string_view host;
  std::string_view portText;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;  // brackets are for IPv6 only
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    portText = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // an IPv6 literal needs brackets
  }
  if (portText.empty() || portText.size() > 5) return std::nullopt;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || port > 65535) return std::nullopt;
  return parseIpLiteral(host, static_cast<std::uint16_t>(port));
}

std::string joinHostPort(std::string_view ip, int port) {
  std::string out;
  if (ip.find(':') != std::string_view::npos) out.append("[").append(ip).append("]");
  else out.append(ip);
  return out.append(":").append(std::to_string(port));
}

}  // namespace mv::net
