#include "runtime/metrics/workqueue_metrics.h"

namespace mv::runtime::metrics {
namespace {

// prometheus.ExponentialBuckets(10e-9, 10, 12), as controller-runtime's work-queue metrics.
const prometheus::Histogram::BucketBoundaries& durationBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = [] {
    prometheus::Histogram::BucketBoundaries b;
    double v = 10e-9;
    for (int i = 0; i < 12; ++i, v *= 10) b.push_back(v);
    return b;
  }();
  return buckets;
}

class PrometheusQueueMetrics final : public workqueue::QueueMetrics {
 public:
  PrometheusQueueMetrics(prometheus::Gauge& depth, prometheus::Counter& adds, prometheus::Counter& retries,
                         prometheus::Histogram& queueDuration, prometheus::Histogram& workDuration,
                         prometheus::Gauge& unfinished, prometheus::Gauge& longest)
      : depth_(depth),
        adds_(adds),
        retries_(retries),
        queueDuration_(queueDuration),
        workDuration_(workDuration),
        unfinished_(unfinished),
        longest_(longest) {}

  void setDepth(double depth) override { depth_.Set(depth); }
  void add() override { adds_.Increment(); }
  void retry() override { retries_.Increment(); }
  void observeQueueDuration(double seconds) override { queueDuration_.Observe(seconds); }
  void observeWorkDuration(double seconds) override { workDuration_.Observe(seconds); }
  void setUnfinishedWork(double totalSeconds, double longestSeconds) override {
    unfinished_.Set(totalSeconds);
    longest_.Set(longestSeconds);
  }

 private:
  prometheus::Gauge& depth_;
  prometheus::Counter& adds_;
  prometheus::Counter& retries_;
  prometheus::Histogram& queueDuration_;
  prometheus::Histogram& workDuration_;
  prometheus::Gauge& unfinished_;
  prometheus::Gauge& longest_;
};

}  // namespace

WorkqueueMetrics::WorkqueueMetrics(prometheus::Registry& registry)
    : depth_(prometheus::BuildGauge().Name("workqueue_depth").Help("Current depth of workqueue").Register(registry)),
      adds_(prometheus::BuildCounter()
                .Name("workqueue_adds_total")
                .Help("Total number of adds handled by workqueue")
                .Register(registry)),
      retries_(prometheus::BuildCounter()
                   .Name("workqueue_retries_total")
                   .Help("Total number of retries handled by workqueue")
                   .Register(registry)),
      queueDuration_(prometheus::BuildHistogram()
                         .Name("workqueue_queue_duration_seconds")
                         .Help("How long in seconds an item stays in workqueue before being requested")
                         .Register(registry)),
      workDuration_(prometheus::BuildHistogram()
                        .Name("workqueue_work_duration_seconds")
                        .Help("How long in seconds processing an item from workqueue takes")
                        .Register(registry)),
      unfinished_(prometheus::BuildGauge()
                      .Name("workqueue_unfinished_work_seconds")
                      .Help("How many seconds of work has been done that is in progress and hasn't been observed by "
                            "work_duration. Large values indicate stuck threads.")
                      .Register(registry)),
      longest_(prometheus::BuildGauge()
                   .Name("workqueue_longest_running_processor_seconds")
                   .Help("How many seconds has the longest running processor for workqueue been running.")
                   .Register(registry)) {}

workqueue::QueueMetricsPtr WorkqueueMetrics::forQueue(const std::string& name) {
  const prometheus::Labels labels{{"name", name}};
  return std::make_shared<PrometheusQueueMetrics>(
      depth_.Add(labels), adds_.Add(labels), retries_.Add(labels), queueDuration_.Add(labels, durationBuckets()),
      workDuration_.Add(labels, durationBuckets()), unfinished_.Add(labels), longest_.Add(labels));
}

}  // namespace mv::runtime::metrics
