#pragma once
// The rate-limited, delaying work queue of a controller (client-go's workqueue: Type + delayingType +
// rateLimitingType in one class). Keys are strings, "namespace/name" by convention.
//
// Contract:
// - De-duplication: a key added while it already waits is not added twice.
// - Exclusive processing: a key handed out by get() is "in process" until done(key). While in process it is never
//   handed out again; if it is added meanwhile it is marked dirty and waits again from done(key) on. So no two
//   workers ever hold the same key.
// - FIFO order among waiting keys.
// - addAfter(key, d) makes the key wait until d has passed on the clock, then adds it. Several delayed adds of one
//   key keep the earliest time. d <= 0 adds at once. Each addAfter counts as a retry in the metrics.
// - addRateLimited(key) is addAfter(key, rateLimiter.when(key)); forget(key) clears the key's back-off history;
//   numRequeues(key) reports it. addRateLimited(key, cap) waits at most `cap` (the failure still counts in the
//   history): for keys whose work has its own deadlines, which a growing back-off must not push out.
// - get() blocks until a key is ready or the queue shuts down; it returns nullopt once shutDown() was called, even
//   if keys still wait (they are dropped: the next leader or the next start lists everything again).
// - After shutDown(), adds are ignored; done() is still accepted for keys in process.
// - shutDownWithDrain(deadline) is shutDown() and then waits until no key is in process, or the deadline passes on
//   the clock; it returns whether the queue drained.
// - Thread-safe. All time is the injected clock's.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "runtime/workqueue/queue_metrics.h"
#include "runtime/workqueue/rate_limiter.h"
#include "util/clock.h"

namespace mv::runtime::workqueue {

class WorkQueue {
 public:
  // `rateLimiter` null means defaultControllerRateLimiter(clock); `metrics` null means no metrics.
  WorkQueue(util::Clock& clock, RateLimiterPtr rateLimiter = nullptr, QueueMetricsPtr metrics = nullptr);
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void addAfter(const std::string& key, Duration delay);
  void addRateLimited(const std::string& key);
  void addRateLimited(const std::string& key, Duration cap);
  void forget(const std::string& key);
  int numRequeues(const std::string& key);

  std::optional<std::string> get();
  void done(const std::string& key);

  void shutDown();
  bool shutDownWithDrain(util::Clock::TimePoint deadline);
  bool shuttingDown() const;

  // Keys ready to be handed out (not counting delayed ones). Promotes delayed keys whose time has come first.
  std::size_t len();
  // Keys waiting for their delay to pass.
  std::size_t delayedLen() const;
  // Keys handed out and not yet done.
  std::size_t inProcess() const;

  // Reports the unfinished-work metrics (see QueueMetrics::setUnfinishedWork).
  void updateUnfinishedWork();

 private:
  using TimePoint = util::Clock::TimePoint;

  void addLocked(const std::string& key);
  void promoteReadyLocked(TimePoint now);
  void reportDepthLocked();

  util::Clock& clock_;
  RateLimiterPtr rateLimiter_;
  QueueMetricsPtr metrics_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;                         // ready keys, FIFO; each key also in dirty_
  std::unordered_set<std::string> dirty_;                 // keys that need processing
  std::unordered_map<std::string, TimePoint> processing_; // keys handed out -> when
  std::unordered_map<std::string, TimePoint> addedAt_;    // for the queue-duration metric
  std::multimap<TimePoint, std::string> delayed_;         // readyAt -> key
  std::unordered_map<std::string, TimePoint> delayedAt_;  // key -> its readyAt in delayed_
  bool shuttingDown_ = false;
};

}  // namespace mv::runtime::workqueue
