#include "api/object_names.h"

#include <algorithm>

#include <fmt/format.h>

namespace mv::api {
namespace {

constexpr std::size_t kLabelMax = 63;
constexpr std::size_t kSubdomainMax = 253;

bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// Lower case alphanumerics or '-', alphanumeric at both ends, not empty.
bool labelShape(std::string_view s) {
  if (s.empty() || !lowerAlnum(s.front()) || !lowerAlnum(s.back())) return false;
  for (char c : s)
    if (!lowerAlnum(c) && c != '-') return false;
  return true;
}

std::string tooLong(std::size_t max) { return fmt::format("must be no more than {} characters", max); }

}  // namespace

std::optional<std::string> dns1123LabelError(std::string_view value) {
  if (value.size() > kLabelMax) return tooLong(kLabelMax);
  if (!labelShape(value))
    return std::string("must be a lowercase RFC 1123 label: lower case alphanumeric characters or '-', starting and "
                       "ending with an alphanumeric character");
  return std::nullopt;
}

std::optional<std::string> dns1123SubdomainError(std::string_view value) {
  if (value.size() > kSubdomainMax) return tooLong(kSubdomainMax);
  bool ok = !value.empty();
  for (std::size_t start = 0; ok && start <= value.size();) {
    const std::size_t end = std::min(value.find('.', start), value.size());
    ok = labelShape(value.substr(start, end - start));
    start = end + 1;
  }
  if (!ok)
    return std::string("must be a lowercase RFC 1123 subdomain: lower case alphanumeric characters, '-' or '.', "
                       "starting and ending with an alphanumeric character");
  return std::nullopt;
}

std::optional<std::string> dns1035LabelError(std::string_view value) {
  if (value.size() > kLabelMax) return tooLong(kLabelMax);
  if (!labelShape(value) || !(value.front() >= 'a' && value.front() <= 'z'))
    return std::string("must be a DNS-1035 label: lower case alphanumeric characters or '-', starting with a letter "
                       "and ending with an alphanumeric character (no '.')");
  return std::nullopt;
}

std::optional<std::string> labelValueError(std::string_view value) {
  if (value.empty()) return std::nullopt;
  if (value.size() > kLabelMax) return tooLong(kLabelMax);
  bool ok = alnum(value.front()) && alnum(value.back());
  for (char c : value) ok = ok && (alnum(c) || c == '-' || c == '_' || c == '.');
  if (!ok)
    return std::string("must be a valid label value: alphanumeric characters, '-', '_' or '.', starting and ending "
                       "with an alphanumeric character");
  return std::nullopt;
}

}  // namespace mv::api
