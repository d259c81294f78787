#pragma once
// The bearer token the agent's callers must present, read from a file (a mounted Secret key).
//
// Contract:
// - The file is re-read whenever its identity or content stamp changes (device, inode, size, mtime; stat follows
//   symlinks, so the atomic "..data" symlink swap of a Secret volume counts), checked on every matches() call.
// - Surrounding whitespace (a trailing newline) is trimmed. A missing, unreadable, empty or over-long file matches
//   nothing: every caller gets 401 until it is fixed.
// - matches() compares in constant time for a given token length (the length itself is not hidden).
// - The token is never logged; reload() reports only whether a usable token was loaded.

#include <sys/types.h>

#include <ctime>
#include <string>
#include <string_view>

namespace mv::agent {

class TokenFile {
 public:
  explicit TokenFile(std::string path) : path_(std::move(path)) {}

  // Re-reads the file if it changed. Returns true when a usable token is loaded.
  bool reload();
  // Whether `presented` equals the current token (after reload()).
  bool matches(std::string_view presented);
  const std::string& path() const { return path_; }

 private:
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const Stamp& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
             mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };

  std::string path_;
  std::string token_;
  Stamp stamp_;
  bool loadedOnce_ = false;
};

// Constant-time equality for equal lengths: every byte is compared, whatever differs first.
bool constantTimeEquals(std::string_view a, std::string_view b);

// The token of an "Authorization: Bearer <token>" value (scheme case-insensitive), or "" when it is not one.
std::string_view bearerToken(std::string_view authorization);

}  // namespace mv::agent
