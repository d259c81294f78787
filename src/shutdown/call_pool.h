#pragma once
// The threads that make the shutdown endpoint calls (issue 15 items 2, 3 and 10): which call goes next is the
// CallScheduler's (fair across resources, bounded per resource, pods already being deleted first); this class only
// runs them.
//
// Contract:
// - Threads are started on demand, up to `maxThreads`, and a thread that found nothing to run for `idleTimeout` (on
//   the injected clock) ends: an idle operator keeps no call thread after a burst.
// - submit() never blocks on a call. A task runs on a pool thread; `dropped` runs instead (on the caller of cancel()
//   or drop()) when the call is taken out before it started. Exactly one of the two runs, unless submit() refused.
// - cancel() (leadership ended, or stop): the queued calls are dropped, no new call is taken, and cancelled() tells
//   the running tasks to abandon their work without any further write. Idempotent; thread-safe; does not block.
// - stop(deadline): cancel(), then waits until every thread has ended or `deadline` passes; false when some still run
//   (they hold the pool: the process must then end with std::_Exit, see runtime/manager/manager.h).

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shutdown/call_scheduler.h"
#include "util/clock.h"

namespace mv::shutdown {

class CallPool {
 public:
  struct Options {
    int maxThreads = 1;
    int perOwnerLimit = 1;  // calls of one owner running at once (CallScheduler)
    util::Clock::Duration idleTimeout = std::chrono::seconds(30);
  };
  CallPool(util::Clock& clock, Options options);
  ~CallPool();
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;

  // Queues a call for pod `uid` of `owner`; urgent: the pod is already being deleted. False (and neither function
  // runs) when the pool is cancelled or the pod has a call queued already.
  bool submit(const std::string& owner, const std::string& uid, bool urgent, std::function<void()> run,
              std::function<void()> dropped);
  void cancel();
  bool cancelled() const;
  bool stop(util::Clock::TimePoint deadline);

  int threads() const;  // threads alive now (for tests and the soak benchmark)

 private:
  struct Task {
    std::function<void()> run;
    std::function<void()> dropped;
  };
  void worker();
  void joinExited(std::unique_lock<std::mutex>& lock);

  util::Clock& clock_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work queued, or cancelled
  std::condition_variable changed_;  // a thread ended
  CallScheduler scheduler_;
  std::map<std::string, Task> tasks_;  // pod uid → the queued call's functions
  std::map<std::thread::id, std::thread> workers_;
  std::vector<std::thread> exited_;  // threads that ended, to be joined
  int idle_ = 0;
  bool cancelled_ = false;
};

}  // namespace mv::shutdown
