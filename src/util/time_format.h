#pragma once
// RFC 3339 timestamps as the Kubernetes API writes them.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mv::util {

using WallTime = std::chrono::system_clock::time_point;

// "2026-11-25T21:41:38Z" (metav1.Time: whole seconds).
std::string formatTime(WallTime t);
// "2026-11-25T21:41:38.123Z" (milliseconds: the operator's own annotations, where ordering within a second matters).
std::string formatTimeMillis(WallTime t);
// "2026-11-25T21:41:38.123456Z" (metav1.MicroTime: exactly six fractional digits).
std::string formatMicroTime(WallTime t);
// Parses RFC 3339 in UTC ("Z") or with a numeric offset, with or without fractional seconds. nullopt on anything else.
std::optional<WallTime> parseTime(std::string_view s);

}  // namespace mv::util
