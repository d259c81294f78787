#pragma once
// Peer allowlists: a CIDR block and a list of them.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.h"

namespace mv::workloads::net {

struct Cidr {
  Address base;  // host bits cleared
  int prefix = 0;

  // "10.0.0.0/8", "::1/128", or a bare address (a single host). nullopt on a malformed block.
  static std::optional<Cidr> parse(std::string_view text);
  // False when the families differ (after IPv4-mapped addresses were normalised to IPv4).
  bool contains(const Address& a) const;
  std::string str() const;
};

// An allowlist. Empty means every peer is allowed.
class Allowlist {
 public:
  // Parses "CIDR[,CIDR...]" (blanks around entries ignored). nullopt names nothing; the bad entry goes to `bad`.
  static std::optional<Allowlist> parse(std::string_view text, std::string* bad = nullptr);
  bool allows(const Address& a) const;
  bool empty() const { return blocks_.empty(); }
  std::string str() const;

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace mv::workloads::net
