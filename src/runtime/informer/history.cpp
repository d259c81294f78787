#include "runtime/informer/history.h"

#include <charconv>
#include <cstdint>

namespace mv::runtime::informer {

namespace {

std::optional<std::uint64_t> parseRevision(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

bool hasTooLargeCause(const kube::ApiError& error) {
  const auto& status = error.status();
  if (!status.is_object()) return false;
  auto details = status.find("details");
  if (details == status.end() || !details->is_object()) return false;
  auto causes = details->find("causes");
  if (causes == details->end() || !causes->is_array()) return false;
  for (const auto& cause : *causes) {
    if (cause.is_object() && cause.value("reason", "") == "ResourceVersionTooLarge") return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> historyWentBack(std::string_view lastSeen, std::string_view observed) {
  const auto last = parseRevision(lastSeen);
  const auto now = parseRevision(observed);
  if (!last || !now || *now >= *last) return std::nullopt;
  return "the server's resourceVersion went back from " + std::string(lastSeen) + " to " + std::string(observed);
}

bool isFutureRevision(const kube::ApiError& error) {
  const auto& message = error.message();
  if (error.code() == 500 && message.find("required revision is a future revision") != std::string::npos) return true;
  if (error.code() != 504 && error.reason() != kube::StatusReason::Timeout) return false;
  return hasTooLargeCause(error) || message.find("Too large resource version") != std::string::npos;
}

}  // namespace mv::runtime::informer
