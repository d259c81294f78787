#include "util/time_format.h"

#include <doctest/doctest.h>

using namespace mv::util;
using namespace std::chrono_literals;

TEST_CASE("formats metav1.Time, milliseconds and MicroTime with exactly six digits") {
  const auto t = WallTime(std::chrono::seconds(1795642898)) + 123456us;
  CHECK(formatTime(t) == "2026-11-25T21:41:38Z");
  CHECK(formatTimeMillis(t) == "2026-11-25T21:41:38.123Z");
  CHECK(formatMicroTime(t) == "2026-11-25T21:41:38.123456Z");
}

TEST_CASE("parses what it formats, offsets and fractions of any length") {
  const auto t = WallTime(std::chrono::seconds(1795642898)) + 123000us;
  CHECK(parseTime(formatTimeMillis(t)) == t);
  CHECK(parseTime("2026-11-25T21:41:38Z") == WallTime(std::chrono::seconds(1795642898)));
  CHECK(parseTime("2026-11-25T22:41:38+01:00") == WallTime(std::chrono::seconds(1795642898)));
  CHECK(parseTime("2026-11-25T21:41:38.5Z") == WallTime(std::chrono::seconds(1795642898)) + 500ms);
  CHECK(parseTime("1970-01-01T00:00:00Z") == WallTime{});
}

TEST_CASE("refuses malformed times") {
  for (const char* bad : {"", "yesterday", "2026-11-25", "2026-11-25T21:41:38", "2026-13-25T21:41:38Z",
                          "2026-11-25T21:41:38.Z", "2026-11-25T21:41:38Zjunk", "2026-11-25 21:41:38Z"})
    CHECK_MESSAGE(!parseTime(bad), bad);
}
