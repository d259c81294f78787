#pragma once
// IP addresses and listen endpoints for the reference workloads. Only numeric addresses (and the name
// "localhost", meaning 127.0.0.1) are accepted: a workload binds what it is told, it never resolves names.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;
struct sockaddr_storage;

namespace mv::workloads::net {

// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are normalised to IPv4, so an allowlist
// entry 127.0.0.0/8 matches a loopback client of a dual-stack socket.
struct Address {
  enum class Family { V4, V6 };
  Family family = Family::V4;
  std::array<uint8_t, 16> bytes{};  // V4 uses the first 4

  static std::optional<Address> parse(std::string_view text);
  static Address fromSockaddr(const sockaddr* sa);
  int bits() const { return family == Family::V4 ? 32 : 128; }
  std::string str() const;  // 127.0.0.1 or ::1
  bool operator==(const Address&) const = default;
};

// HOST:PORT, [V6]:PORT or :PORT (host left empty: the caller's default). Port 0 asks the kernel for one.
struct Endpoint {
  Address host;
  uint16_t port = 0;

  // nullopt when `text` is not one of the forms above; `defaultHost` fills an empty host.
  static std::optional<Endpoint> parse(std::string_view text, const Address& defaultHost);
  std::string str() const;  // 127.0.0.1:8080 or [::1]:8080
  // Fills `out` for bind(2)/connect(2) and returns its length.
  unsigned toSockaddr(sockaddr_storage& out) const;
};

}  // namespace mv::workloads::net
