#include "util/log.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iostream>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

namespace mv::log {
namespace {

std::atomic<Level> gLevel{Level::Info};
std::atomic<Format> gFormat{Format::Logfmt};
std::mutex gSinkMu;
std::ostream* gSink = nullptr;
thread_local Fields tContext;

const char* levelName(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "info";
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out;
}

std::string logfmtValue(std::string_view v) {
  const bool needsQuotes = v.empty() || std::any_of(v.begin(), v.end(), [](unsigned char c) {
                             return c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f;
                           });
  if (!needsQuotes) return std::string(v);
  return "\"" + jsonEscape(v) + "\"";
}

std::string nowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

}  // namespace

Level parseLevel(std::string_view s) {
  const auto l = lower(s);
  if (l == "debug") return Level::Debug;
  if (l == "info") return Level::Info;
  if (l == "warn" || l == "warning") return Level::Warn;
  if (l == "error") return Level::Error;
  throw std::invalid_argument(fmt::format("unknown log level '{}' (want debug, info, warn or error)", s));
}

Format parseFormat(std::string_view s) {
  const auto l = lower(s);
  if (l == "logfmt" || l == "text") return Format::Logfmt;
  if (l == "json") return Format::Json;
  throw std::invalid_argument(fmt::format("unknown log format '{}' (want logfmt or json)", s));
}

void configure(Level level, Format format) {
  gLevel = level;
  gFormat = format;
}

void setSink(std::ostream* sink) {
  std::lock_guard<std::mutex> g(gSinkMu);
  gSink = sink;
}

bool enabled(Level level) { return static_cast<int>(level) >= static_cast<int>(gLevel.load()); }

bool isSensitiveKey(std::string_view key) {
  const auto k = lower(key);
  for (const char* word : {"token", "password", "passwd", "secret", "authorization", "bearer", "credential",
                           "private", "key-data", "keydata", "apikey", "api_key"}) {
    if (k.find(word) != std::string::npos) return true;
  }
  return false;
}

std::string formatRecord(Format format, std::string_view ts, Level level, std::string_view msg,
                         const Fields& fields) {
  auto value = [](const Field& f) -> std::string_view {
    return isSensitiveKey(f.key) ? std::string_view("<redacted>") : std::string_view(f.value);
  };
  std::string out;
  if (format == Format::Json) {
    out = fmt::format(R"({{"ts":"{}","level":"{}","msg":"{}")", ts, levelName(level), jsonEscape(msg));
    for (const auto& f : fields) out += fmt::format(R"(,"{}":"{}")", jsonEscape(f.key), jsonEscape(value(f)));
    out += "}";
  } else {
    out = fmt::format("ts={} level={} msg={}", ts, levelName(level), logfmtValue(msg));
    for (const auto& f : fields) out += fmt::format(" {}={}", f.key, logfmtValue(value(f)));
  }
  return out;
}

void write(Level level, std::string_view msg, const Fields& fields) {
  if (!enabled(level)) return;
  Fields all = tContext;
  all.insert(all.end(), fields.begin(), fields.end());
  std::string line = formatRecord(gFormat.load(), nowRfc3339(), level, msg, all);
  line += '\n';
  std::lock_guard<std::mutex> g(gSinkMu);
  std::ostream& out = gSink ? *gSink : std::cerr;
  out << line;
  out.flush();
}

ScopedLogContext::ScopedLogContext(Fields fields) : added_(fields.size()) {
  tContext.insert(tContext.end(), fields.begin(), fields.end());
}

Fields currentContext() { return tContext; }

ScopedLogContext::~ScopedLogContext() { tContext.erase(tContext.end() - static_cast<std::ptrdiff_t>(added_), tContext.end()); }

}  // namespace mv::log
