#include "net/cidr.h"

#include <algorithm>
#include <charconv>

namespace mv::workloads::net {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Keeps the first `prefix` bits of `a`.
Address masked(Address a, int prefix) {
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(prefix - 8 * i, 0, 8);
    a.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xFF << (8 - keep));
  }
  return a;
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  auto addr = Address::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int prefix = addr->bits();
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    if (prefix < 0 || prefix > addr->bits()) return std::nullopt;
  }
  return Cidr{masked(*addr, prefix), prefix};
}

bool Cidr::contains(const Address& a) const {
  return a.family == base.family && masked(a, prefix) == base;
}

std::string Cidr::str() const { return base.str() + "/" + std::to_string(prefix); }

std::optional<Allowlist> Allowlist::parse(std::string_view text, std::string* bad) {
  Allowlist list;
  while (!trim(text).empty()) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;
    auto block = Cidr::parse(item);
    if (!block) {
      if (bad) *bad = std::string(item);
      return std::nullopt;
    }
    list.blocks_.push_back(*block);
  }
  return list;
}

bool Allowlist::allows(const Address& a) const {
  if (blocks_.empty()) return true;
  for (const auto& b : blocks_) {
    if (b.contains(a)) return true;
  }
  return false;
}

std::string Allowlist::str() const {
  if (blocks_.empty()) return "any";
  std::string out;
  for (const auto& b : blocks_) out += (out.empty() ? "" : ",") + b.str();
  return out;
}

}  // namespace mv::workloads::net
