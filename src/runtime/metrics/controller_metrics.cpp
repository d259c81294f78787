#include "runtime/metrics/controller_metrics.h"

namespace mv::runtime::metrics {
namespace {

// controller-runtime's buckets for reconcile_time_seconds.
const prometheus::Histogram::BucketBoundaries& reconcileTimeBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5,
      1.75,  2.0,  2.5,   3.0,  3.5, 4.0,  4.5, 5,    6,   7,    8,   9,    10,  15,  20,  25,  30,  40,  50,   60};
  return buckets;
}

}  // namespace

ControllerMetrics::ControllerMetrics(prometheus::Registry& registry)
    : total_(prometheus::BuildCounter()
                 .Name("controller_runtime_reconcile_total")
                 .Help("Total number of reconciliations per controller")
                 .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("controller_runtime_reconcile_errors_total")
                  .Help("Total number of reconciliation errors per controller")
                  .Register(registry)),
      terminalErrors_(prometheus::BuildCounter()
                          .Name("controller_runtime_terminal_reconcile_errors_total")
                          .Help("Total number of terminal reconciliation errors per controller")
                          .Register(registry)),
      time_(prometheus::BuildHistogram()
                .Name("controller_runtime_reconcile_time_seconds")
                .Help("Length of time per reconciliation per controller")
                .Register(registry)),
      activeWorkers_(prometheus::BuildGauge()
                         .Name("controller_runtime_active_workers")
                         .Help("Number of currently used workers per controller")
                         .Register(registry)),
      maxConcurrent_(prometheus::BuildGauge()
                         .Name("controller_runtime_max_concurrent_reconciles")
                         .Help("Maximum number of concurrent reconciles per controller")
                         .Register(registry)) {}

ControllerSeries ControllerMetrics::forController(const std::string& name) {
  return ControllerSeries{
      total_.Add({{"controller", name}, {"result", "success"}}),
      total_.Add({{"controller", name}, {"result", "error"}}),
      total_.Add({{"controller", name}, {"result", "requeue"}}),
      total_.Add({{"controller", name}, {"result", "requeue_after"}}),
      errors_.Add({{"controller", name}}),
      terminalErrors_.Add({{"controller", name}}),
      time_.Add({{"controller", name}}, reconcileTimeBuckets()),
      activeWorkers_.Add({{"controller", name}}),
      maxConcurrent_.Add({{"controller", name}}),
  };
}

}  // namespace mv::runtime::metrics
