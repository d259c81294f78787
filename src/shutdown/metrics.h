#pragma once
// The shutdown metrics:
// - medivote_shutdown_total{tier,outcome}: finished shutdowns, by the stage that ended them (http, sigterm, sigkill,
//   forced);
// - medivote_shutdown_stage_duration_seconds{tier,stage}: how long each stage took (draining, requested, exit,
//   terminating, total);
// - medivote_shutdowns_in_progress: pods whose shutdown has started and not ended;
// - medivote_shutdown_endpoint_calls_total{answer}: endpoint calls by answer kind;
// - medivote_shutdown_drains_total{result}: Draining stages ended, by how (drained, timed-out, unknown);
// - medivote_shutdown_order_waits_total{result}: shutdown-order waits ended (medivote/shutdown_order.h), by how
//   (dependents-down, timed-out; prestop-budget: one pod deleted by someone else, called at the end of its preStop
//   budget while its resource was still held, stage_machine.h).

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "shutdown/answer.h"
#include "shutdown/stage_machine.h"

namespace mv::shutdown {

class ShutdownMetrics {
 public:
  explicit ShutdownMetrics(prometheus::Registry& registry);

  void completed(api::Tier tier, Outcome outcome, const ShutdownState& state, WallTime now);
  void called(const EndpointAnswer& answer);
  void drained(const std::string& result);
  // A resource's wait for the resources of its spec.shutdown.after ended; `reason` is the condition's
  // (DependencyTimeout counts as timed-out, OrderWaitCutShort, one pod's call, as prestop-budget, anything else as
  // dependents-down).
  void orderWaitEnded(const std::string& reason);
  void setInProgress(double n) { inProgress_.Set(n); }

 private:
  prometheus::Family<prometheus::Counter>& total_;
  prometheus::Family<prometheus::Histogram>& stageDuration_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Counter>& drains_;
  prometheus::Family<prometheus::Counter>& orderWaits_;
  prometheus::Gauge& inProgress_;
};

}  // namespace mv::shutdown
