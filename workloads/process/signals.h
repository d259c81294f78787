#pragma once
// Termination signals delivered to one thread. Construct a SignalWatcher first thing in main, before any other
// thread exists: it blocks SIGTERM and SIGINT in the calling thread (so in every thread created afterwards) and
// ignores SIGPIPE, then a dedicated thread receives the blocked signals with sigtimedwait and calls `onSignal`.

#include <atomic>
#include <functional>
#include <thread>

namespace mv::workloads::process {

class SignalWatcher {
 public:
  // onSignal(signo) runs on the watcher's thread, once per signal received.
  explicit SignalWatcher(std::function<void(int)> onSignal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  std::function<void(int)> onSignal_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

const char* signalName(int signo);

}  // namespace mv::workloads::process
