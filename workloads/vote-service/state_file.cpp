#include "state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace mv::workloads::vote {
namespace fs = std::filesystem;
namespace {

constexpr const char* kTempPrefix = "votes.json.tmp.";

bool fail(std::string* error, const std::string& what) {
  if (error) *error = what + ": " + std::strerror(errno);
  return false;
}

bool writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const auto n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::optional<VoteMap> loadState(const std::string& dataDir, std::string* error) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dataDir, ec)) {
    if (entry.path().filename().string().rfind(kTempPrefix, 0) == 0) fs::remove(entry.path(), ec);
  }
  const fs::path file = fs::path(dataDir) / kStateFileName;
  if (!fs::exists(file, ec)) return VoteMap{};
  std::ifstream in(file);
  if (!in) {
    if (error) *error = "cannot open " + file.string();
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    const auto doc = nlohmann::json::parse(ss.str());
    if (doc.value("format", "") != kStateFormat) {
      if (error) *error = file.string() + ": unknown format " + doc.value("format", "(none)");
      return std::nullopt;
    }
    VoteMap votes;
    for (const auto& [id, choice] : doc.at("votes").items()) votes.emplace(id, choice.get<std::string>());
    return votes;
  } catch (const std::exception& e) {
    if (error) *error = file.string() + ": " + e.what();
    return std::nullopt;
  }
}

bool saveState(const std::string& dataDir, const VoteMap& votes, std::string* error) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  nlohmann::json doc = {{"format", kStateFormat}, {"savedAtMs", now}, {"count", votes.size()},
                        {"votes", nlohmann::json::object()}};
  auto& out = doc["votes"];
  for (const auto& [id, choice] : votes) out[id] = choice;
  const std::string text = doc.dump() + "\n";

  const fs::path dir(dataDir);
  const fs::path tmp = dir / (kTempPrefix + std::to_string(getpid()));
  const fs::path final = dir / kStateFileName;
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(error, "open " + tmp.string());
  if (!writeAll(fd, text) || fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    unlink(tmp.c_str());
    errno = err;
    return fail(error, "write " + tmp.string());
  }
  if (close(fd) != 0) {
    unlink(tmp.c_str());
    return fail(error, "close " + tmp.string());
  }
  if (rename(tmp.c_str(), final.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    errno = err;
    return fail(error, "rename to " + final.string());
  }
  // The rename is durable only once the directory entry is.
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail(error, "open " + dir.string());
  const bool synced = fsync(dfd) == 0;
  const int err = errno;
  close(dfd);
  errno = err;
  return synced || fail(error, "fsync " + dir.string());
}

}  // namespace mv::workloads::vote
