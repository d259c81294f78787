#include "events_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <system_error>

namespace mv::workloads::vote {

EventsLog::EventsLog(const std::string& path) {
  fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
}

EventsLog::~EventsLog() {
  if (fd_ >= 0) close(fd_);
}

void EventsLog::record(const std::string& event, const std::string& details) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const std::string line = std::to_string(ms) + " " + event + (details.empty() ? "" : " " + details) + "\n";
  [[maybe_unused]] auto n = write(fd_, line.data(), line.size());
  std::cerr << "vote-service: event " << line << std::flush;
}

}  // namespace mv::workloads::vote
