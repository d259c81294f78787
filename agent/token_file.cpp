#include "token_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "net/fd.h"
#include "net/http_message.h"

namespace mv::agent {

namespace {

constexpr std::size_t kMaxTokenBytes = 16 * 1024;

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string_view bearerToken(std::string_view authorization) {
  if (authorization.size() < 7 || !net::equalsIgnoreCase(authorization.substr(0, 7), "bearer ")) return {};
  std::string_view token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

bool TokenFile::reload() {
  struct stat st {};
  Stamp now;
  if (::stat(path_.c_str(), &st) == 0) now = {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  if (loadedOnce_ && now == stamp_) return !token_.empty();
  loadedOnce_ = true;
  stamp_ = now;
  token_.clear();

  net::Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  std::string content;
  if (fd) {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buffer, sizeof(buffer))) > 0 && content.size() <= kMaxTokenBytes)
      content.append(buffer, static_cast<std::size_t>(n));
  }
  std::size_t begin = 0, end = content.size();
  while (begin < end && isSpace(content[begin])) ++begin;
  while (end > begin && isSpace(content[end - 1])) --end;
  if (!fd) {
    logLine("token file %s: cannot be read: every call is refused", path_.c_str());
  } else if (end - begin == 0 || content.size() > kMaxTokenBytes ||
             !net::isFieldValue(std::string_view(content).substr(begin, end - begin))) {
    logLine("token file %s: empty, too large or not one line: every call is refused", path_.c_str());
  } else {
    token_ = content.substr(begin, end - begin);
    logLine("token file %s: loaded", path_.c_str());
  }
  return !token_.empty();
}

bool TokenFile::matches(std::string_view presented) {
  if (!reload() || presented.empty()) return false;
  return constantTimeEquals(presented, token_);
}

}  // namespace mv::agent
