#pragma once
// What a work queue reports about itself (client-go's workqueue metrics provider). The queue calls these with its
// own lock held: implementations must be cheap and must never call back into the queue.
//
// The prometheus implementation lives in runtime/metrics/workqueue_metrics.h; NoopQueueMetrics is the default.

#include <memory>

namespace mv::runtime::workqueue {

class QueueMetrics {
 public:
  virtual ~QueueMetrics() = default;
  // Number of keys waiting to be handed out (including keys re-added while in process).
  virtual void setDepth(double depth) = 0;
  // A key was added that was not already waiting.
  virtual void add() = 0;
  // A delayed add: a requeue-after or a rate-limited retry.
  virtual void retry() = 0;
  // Seconds a key waited between its add and the get() that handed it out.
  virtual void observeQueueDuration(double seconds) = 0;
  // Seconds between get() and done() of a key.
  virtual void observeWorkDuration(double seconds) = 0;
  // Sum of the seconds that keys now in process have been in process, and the longest of them. Reported by
  // WorkQueue::updateUnfinishedWork(), which the owner calls periodically or just before a scrape.
  virtual void setUnfinishedWork(double totalSeconds, double longestSeconds) = 0;
};
using QueueMetricsPtr = std::shared_ptr<QueueMetrics>;

class NoopQueueMetrics final : public QueueMetrics {
 public:
  void setDepth(double) override {}
  void add() override {}
  void retry() override {}
  void observeQueueDuration(double) override {}
  void observeWorkDuration(double) override {}
  void setUnfinishedWork(double, double) override {}
};

}  // namespace mv::runtime::workqueue
