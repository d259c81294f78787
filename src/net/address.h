#pragma once
// Socket addresses from IP literals only. Nothing here resolves a name: a host that is not an IPv4 or IPv6 literal
// is refused, so a caller can never be pointed at a name that DNS (or /etc/hosts) maps elsewhere.

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mv::net {

class SocketAddress {
 public:
  SocketAddress() = default;
  // Copies an address returned by accept()/getsockname(); AF_INET and AF_INET6 only (anything else is empty()).
  static SocketAddress fromSockaddr(const sockaddr* address, socklen_t length);

  bool empty() const { return length_ == 0; }
  int family() const { return storage_.ss_family; }
  std::uint16_t port() const;
  // The address alone: "127.0.0.1", "::1". An IPv4-mapped IPv6 address is shown as IPv4 ("::ffff:10.0.0.1" ->
  // "10.0.0.1"), as that is the peer it stands for.
  std::string ip() const;
  // "127.0.0.1:80", "[::1]:80".
  std::string toString() const;
  // 127.0.0.0/8, ::1, or an IPv4-mapped 127.0.0.0/8.
  bool isLoopback() const;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
  friend std::optional<SocketAddress> parseIpLiteral(std::string_view ip, std::uint16_t port);
};

// An IPv4 literal in dotted-quad form ("10.1.2.3") or an IPv6 literal without brackets or zone ("::1", "fd00::5").
// nullopt for anything else (names, "10.1.2", "[::1]", "", trailing garbage).
std::optional<SocketAddress> parseIpLiteral(std::string_view ip, std::uint16_t port);

// "ADDR:PORT" with an IPv4 literal, or "[ADDR]:PORT" with an IPv6 literal; PORT is 0..65535 (0: any free port).
std::optional<SocketAddress> parseHostPort(std::string_view text);

// Formats "ip:port", bracketing IPv6 literals ("[::1]:80"); for Host headers and messages.
std::string joinHostPort(std::string_view ip, int port);

}  // namespace mv::net
