#pragma once
// controller-runtime's controller metrics, by controller name:
//   controller_runtime_reconcile_total{controller,result}        result = success|error|requeue|requeue_after
//   controller_runtime_reconcile_errors_total{controller}        error and terminal outcomes
//   controller_runtime_terminal_reconcile_errors_total{controller}
//   controller_runtime_reconcile_time_seconds{controller}        histogram, controller-runtime's buckets
//   controller_runtime_active_workers{controller}
//   controller_runtime_max_concurrent_reconciles{controller}

#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace mv::runtime::metrics {

// The children of one controller. References stay valid as long as the Registry.
struct ControllerSeries {
  prometheus::Counter& success;
  prometheus::Counter& error;
  prometheus::Counter& requeue;
  prometheus::Counter& requeueAfter;
  prometheus::Counter& errors;
  prometheus::Counter& terminalErrors;
  prometheus::Histogram& reconcileTime;
  prometheus::Gauge& activeWorkers;
  prometheus::Gauge& maxConcurrentReconciles;
};

class ControllerMetrics {
 public:
  explicit ControllerMetrics(prometheus::Registry& registry);
  // Creates (or returns) the series labelled controller=`name`. Thread-safe.
  ControllerSeries forController(const std::string& name);

 private:
  prometheus::Family<prometheus::Counter>& total_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& terminalErrors_;
  prometheus::Family<prometheus::Histogram>& time_;
  prometheus::Family<prometheus::Gauge>& activeWorkers_;
  prometheus::Family<prometheus::Gauge>& maxConcurrent_;
};

}  // namespace mv::runtime::metrics
