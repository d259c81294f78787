#pragma once
// client-go's work-queue metrics (as controller-runtime registers them), by queue name:
//   workqueue_depth{name}                          gauge
//   workqueue_adds_total{name}                     counter
//   workqueue_retries_total{name}                  counter
//   workqueue_queue_duration_seconds{name}         histogram, 1e-8 s .. 1e3 s (exponential, x10)
//   workqueue_work_duration_seconds{name}          histogram, same buckets
//   workqueue_unfinished_work_seconds{name}        gauge
//   workqueue_longest_running_processor_seconds{name} gauge

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "runtime/workqueue/queue_metrics.h"

namespace mv::runtime::metrics {

class WorkqueueMetrics {
 public:
  explicit WorkqueueMetrics(prometheus::Registry& registry);
  // The QueueMetrics of the queue `name`, for WorkQueue's constructor. Valid as long as the Registry.
  workqueue::QueueMetricsPtr forQueue(const std::string& name);

 private:
  prometheus::Family<prometheus::Gauge>& depth_;
  prometheus::Family<prometheus::Counter>& adds_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Histogram>& queueDuration_;
  prometheus::Family<prometheus::Histogram>& workDuration_;
  prometheus::Family<prometheus::Gauge>& unfinished_;
  prometheus::Family<prometheus::Gauge>& longest_;
};

}  // namespace mv::runtime::metrics
