#pragma once
// Structured logging: one line per record, logfmt by default or JSON, with a level threshold.
//
// Contract:
// - Thread-safe; a record is written with one write, so lines never interleave.
// - Fields set with a ScopedLogContext (for example the reconcile key) are added to every record the same thread
//   writes while the scope lives.
// - A field whose key names a credential (token, password, secret value, authorization, key data) is written as
//   "<redacted>", whatever the caller passes: secrets never reach the log through a careless field.

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mv::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
enum class Format { Logfmt, Json };

struct Field {
  std::string key;
  std::string value;
  Field(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  Field(std::string k, const char* v) : key(std::move(k)), value(v) {}
  Field(std::string k, std::string_view v) : key(std::move(k)), value(v) {}
  Field(std::string k, bool v) : key(std::move(k)), value(v ? "true" : "false") {}
  Field(std::string k, int v) : key(std::move(k)), value(std::to_string(v)) {}
  Field(std::string k, long v) : key(std::move(k)), value(std::to_string(v)) {}
  Field(std::string k, long long v) : key(std::move(k)), value(std::to_string(v)) {}
  Field(std::string k, unsigned v) : key(std::move(k)), value(std::to_string(v)) {}
  Field(std::string k, unsigned long v) : key(std::move(k)), value(std::to_string(v)) {}
  Field(std::string k, double v) : key(std::move(k)), value(std::to_string(v)) {}
};
using Fields = std::vector<Field>;

// Parses "debug|info|warn|error" and "logfmt|json"; throws std::invalid_argument on anything else.
Level parseLevel(std::string_view s);
Format parseFormat(std::string_view s);

// Process-wide configuration. Defaults: Info, Logfmt, std::cerr.
void configure(Level level, Format format);
// Redirects output (tests). The stream must outlive logging; pass nullptr to restore std::cerr.
void setSink(std::ostream* sink);
bool enabled(Level level);

void write(Level level, std::string_view msg, const Fields& fields = {});
inline void debug(std::string_view msg, const Fields& f = {}) { write(Level::Debug, msg, f); }
inline void info(std::string_view msg, const Fields& f = {}) { write(Level::Info, msg, f); }
inline void warn(std::string_view msg, const Fields& f = {}) { write(Level::Warn, msg, f); }
inline void error(std::string_view msg, const Fields& f = {}) { write(Level::Error, msg, f); }

// True when a field of this key would be redacted.
bool isSensitiveKey(std::string_view key);

// Formats one record (exposed for tests): `ts` is RFC 3339 with milliseconds.
std::string formatRecord(Format format, std::string_view ts, Level level, std::string_view msg, const Fields& fields);

// Adds fields to every record of the current thread while it lives. Scopes nest.
// The fields of this thread's ScopedLogContexts, to carry them to work done on another thread for it.
Fields currentContext();

class ScopedLogContext {
 public:
  explicit ScopedLogContext(Fields fields);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  std::size_t added_;
};

}  // namespace mv::log
