#include "util/time_format.h"

#include <cctype>
#include <ctime>

#include <fmt/format.h>

namespace mv::util {
namespace {

std::string formatWith(WallTime t, int digits) {
  const auto sinceEpoch = t.time_since_epoch();
  auto secs = std::chrono::floor<std::chrono::seconds>(sinceEpoch);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(sinceEpoch - secs).count();
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (digits == 0) return fmt::format("{}Z", buf);
  if (digits == 3) return fmt::format("{}.{:03d}Z", buf, static_cast<int>(micros / 1000));
  return fmt::format("{}.{:06d}Z", buf, static_cast<int>(micros));
}

bool digitsAt(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
long daysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long>(doe) - 719468;
}

}  // namespace

std::string formatTime(WallTime t) { return formatWith(t, 0); }
std::string formatTimeMillis(WallTime t) { return formatWith(t, 3); }
std::string formatMicroTime(WallTime t) { return formatWith(t, 6); }

std::optional<WallTime> parseTime(std::string_view s) {
  int Y, M, D, h, m, sec;
  if (!digitsAt(s, 0, 4, Y) || s.size() < 20 || s[4] != '-' || !digitsAt(s, 5, 2, M) || s[7] != '-' ||
      !digitsAt(s, 8, 2, D) || (s[10] != 'T' && s[10] != 't') || !digitsAt(s, 11, 2, h) || s[13] != ':' ||
      !digitsAt(s, 14, 2, m) || s[16] != ':' || !digitsAt(s, 17, 2, sec))
    return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  long micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (n < 6) micros = micros * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (int i = n; i < 6; ++i) micros *= 10;
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digitsAt(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digitsAt(s, pos + 4, 2, om))
      return std::nullopt;
    offset = (s[pos] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const long days = daysFromCivil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D));
  const long long total = days * 86400LL + h * 3600LL + m * 60LL + sec - offset;
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(total) +
                                                                  std::chrono::microseconds(micros)));
}

}  // namespace mv::util
