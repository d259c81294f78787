#pragma once
// SIGTERM and SIGINT without async signal handlers: the signals are blocked in every thread and read from a signalfd
// by one watcher thread, which calls ordinary code.

#include <csignal>
#include <functional>
#include <thread>
#include <vector>

namespace mv::runtime::manager {

// Blocks SIGTERM and SIGINT in the calling thread and so in every thread it creates afterwards. Call it first thing
// in main(), before any thread exists (the cpprest pool, loggers, servers): a thread that does not block them would
// be killed by the default action instead of the watcher seeing them.
void blockTerminationSignals();

// Watches the given signals (default SIGTERM and SIGINT, which must be blocked, see above) on a thread of its own.
// - The first signal calls onFirst(signo) on the watcher thread (typically Manager::requestStop).
// - A second signal calls onSecond(signo); the default ends the process at once with exit code 1, as
//   controller-runtime's signal handler does: the operator asked twice.
// - Destruction stops watching and joins the thread. Throws std::system_error if the signalfd cannot be made.
class TerminationSignals {
 public:
  explicit TerminationSignals(std::function<void(int signo)> onFirst, std::function<void(int signo)> onSecond = {},
                              std::vector<int> signals = {SIGTERM, SIGINT});
  ~TerminationSignals();
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;

 private:
  void watch();
  std::function<void(int)> onFirst_;
  std::function<void(int)> onSecond_;
  int signalFd_ = -1;
  int wakeFd_ = -1;
  std::thread thread_;
};

}  // namespace mv::runtime::manager
