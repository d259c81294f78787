#pragma once
// A controller: a work queue of keys and N worker threads that reconcile them (controller-runtime's internal
// Controller). The reconcile contract, and what each outcome does to the queue, is in runtime/reconcile/reconciler.h.
//
// Contract:
// - enqueue() may be called from any thread at any time (event handlers do it); before start() keys just wait, after
//   stop() they are dropped.
// - start() starts maxConcurrentReconciles workers. Each takes a key from the queue, reconciles it with a log context
//   {controller, key, reconcileID} on its thread, applies the outcome to the queue, and marks the key done. A key is
//   never reconciled by two workers at once.
// - Every exception from the reconciler is caught and treated as Result::error: a reconciler never ends the process.
// - stop(deadline) stops handing out work at once (waiting keys are dropped), then waits until in-flight reconciles
//   return or the deadline passes on the clock; it returns whether they all returned. In-flight reconciles cannot be
//   interrupted: a reconcile that outlives the deadline keeps running, and the destructor waits for it.
//
// Leader election does not fence: while a lost leader's in-flight reconciles finish, the new leader may already be
// reconciling the same keys. That is why reconcile effects must be safe to repeat (reconciler.h).

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/metrics/registry.h"
#include "runtime/reconcile/reconciler.h"
#include "runtime/workqueue/work_queue.h"
#include "util/clock.h"

namespace mv::runtime::controller {

struct ControllerOptions {
  // Names the controller in logs and metrics, and its work queue (workqueue_*{name}).
  std::string name;
  // Worker threads; controller-runtime's default is 1. Values below 1 are taken as 1.
  int maxConcurrentReconciles = 1;
  // Null means workqueue::defaultControllerRateLimiter.
  workqueue::RateLimiterPtr rateLimiter;
  // Null means no metrics. The registry must outlive the controller.
  metrics::Registry* metrics = nullptr;
};

class Controller {
 public:
  Controller(ControllerOptions options, reconcile::Reconciler& reconciler, util::Clock& clock);
  // Stops taking work and waits for in-flight reconciles to return.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  const std::string& name() const { return options_.name; }

  // Adds request.key() to the queue; request.reason shows up in the reconcile's log lines (the first reason wins
  // while the key waits).
  void enqueue(const reconcile::Request& request);
  workqueue::WorkQueue& queue() { return *queue_; }

  // Starts the workers. Calling it twice, or after stop(), throws std::logic_error.
  void start();
  bool stop(util::Clock::TimePoint deadline);

  // Workers inside reconcile() right now.
  int activeWorkers() const { return active_.load(); }

 private:
  void work();
  void process(const std::string& key);
  reconcile::Result invoke(const reconcile::Request& request);
  void apply(const std::string& key, const reconcile::Result& result);
  std::string takeReason(const std::string& key);
  void joinWorkers();

  ControllerOptions options_;
  reconcile::Reconciler& reconciler_;
  util::Clock& clock_;
  std::unique_ptr<workqueue::WorkQueue> queue_;
  std::optional<metrics::ControllerSeries> series_;
  metrics::Registry::HookHandle unfinishedWorkHook_;

  std::mutex reasonsMu_;
  std::unordered_map<std::string, std::string> reasons_;

  std::mutex lifecycleMu_;
  bool started_ = false;
  bool stopped_ = false;
  std::vector<std::thread> workers_;
  std::atomic<int> active_{0};
};

}  // namespace mv::runtime::controller
