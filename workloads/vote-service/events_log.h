#pragma once
// DATA_DIR/events.log: what happened to the service and when, one line per event, appended across restarts:
//   <unix-ms> <event>[ <key>=<value>...]
// Events: start, shutdown-requested, shutdown-refused, sigterm, sigint, drained, saving, saved, save-skipped,
// save-failed, exit. Each line goes out in one write(2) on an O_APPEND file, so it is in the file (the page cache)
// as soon as record() returns, even if the process is SIGKILLed right after. Lines are mirrored to stderr.

#include <string>

namespace mv::workloads::vote {

class EventsLog {
 public:
  // Opens (creating) the file. Throws std::system_error when it cannot.
  explicit EventsLog(const std::string& path);
  ~EventsLog();
  EventsLog(const EventsLog&) = delete;
  EventsLog& operator=(const EventsLog&) = delete;

  // Appends "<unix-ms> <event>[ <details>]". Thread-safe (one write per line).
  void record(const std::string& event, const std::string& details = "");

 private:
  int fd_ = -1;
};

}  // namespace mv::workloads::vote
