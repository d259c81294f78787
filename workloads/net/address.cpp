#include "net/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace mv::workloads::net {

std::optional<Address> Address::parse(std::string_view text) {
  if (text == "localhost") text = "127.0.0.1";
  const std::string s(text);
  Address a;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    std::memcpy(a.bytes.data(), &v4, 4);
    return a;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = v6;
    return fromSockaddr(reinterpret_cast<const sockaddr*>(&sin6));
  }
  return std::nullopt;
}

Address Address::fromSockaddr(const sockaddr* sa) {
  Address a;
  if (sa->sa_family == AF_INET) {
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return a;
  }
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
  if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
    std::memcpy(a.bytes.data(), reinterpret_cast<const uint8_t*>(&sin6->sin6_addr) + 12, 4);
    return a;
  }
  a.family = Family::V6;
  std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
  return a;
}

std::string Address::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::V4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text, const Address& defaultHost) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;  // brackets are for IPv6 only
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6 needs brackets
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) return std::nullopt;
  Endpoint ep;
  ep.port = static_cast<uint16_t>(value);
  if (host.empty()) {
    ep.host = defaultHost;
  } else {
    auto a = Address::parse(host);
    if (!a) return std::nullopt;
    ep.host = *a;
  }
  return ep;
}

std::string Endpoint::str() const {
  if (host.family == Address::Family::V6) return "[" + host.str() + "]:" + std::to_string(port);
  return host.str() + ":" + std::to_string(port);
}

unsigned Endpoint::toSockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (host.family == Address::Family::V4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, host.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, host.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

}  // namespace mv::workloads::net
