#include "shutdown/metrics.h"

namespace mv::shutdown {
namespace {

const prometheus::Histogram::BucketBoundaries kBuckets = {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300};

std::string answerName(EndpointAnswer::Kind k) {
  switch (k) {
    case EndpointAnswer::Kind::Accepted: return "accepted";
    case EndpointAnswer::Kind::Busy: return "busy";
    case EndpointAnswer::Kind::RateLimited: return "rate_limited";
    case EndpointAnswer::Kind::Unauthorized: return "unauthorized";
    case EndpointAnswer::Kind::Rejected: return "rejected";
    case EndpointAnswer::Kind::Unreachable: return "unreachable";
  }
  return "unknown";
}

}  // namespace

ShutdownMetrics::ShutdownMetrics(prometheus::Registry& registry)
    : total_(prometheus::BuildCounter()
                 .Name("medivote_shutdown_total")
                 .Help("Finished pod shutdowns, by tier and by the stage that ended them (http, sigterm, sigkill, forced).")
                 .Register(registry)),
      stageDuration_(prometheus::BuildHistogram()
                         .Name("medivote_shutdown_stage_duration_seconds")
                         .Help("How long each shutdown stage took, by tier and stage.")
                         .Register(registry)),
      calls_(prometheus::BuildCounter()
                 .Name("medivote_shutdown_endpoint_calls_total")
                 .Help("Shutdown endpoint calls, by how the endpoint answered.")
                 .Register(registry)),
      drains_(prometheus::BuildCounter()
                  .Name("medivote_shutdown_drains_total")
                  .Help("Draining stages ended, by how: drained (out of the Service's EndpointSlices), timed-out "
                        "(still listed at the drain timeout), unknown (the slices could not be read).")
                  .Register(registry)),
      orderWaits_(prometheus::BuildCounter()
                      .Name("medivote_shutdown_order_waits_total")
                      .Help("Waits of a resource's shutdown for the resources in its spec.shutdown.after, ended, by "
                            "how: dependents-down, timed-out (dependencyTimeoutSeconds), or prestop-budget (the call of a pod deleted by "
                            "someone else, at the end of its preStop budget; one per pod).")
                      .Register(registry)),
      inProgress_(prometheus::BuildGauge()
                      .Name("medivote_shutdowns_in_progress")
                      .Help("Pods whose shutdown has started and not ended.")
                      .Register(registry)
                      .Add({})) {}

void ShutdownMetrics::completed(api::Tier tier, Outcome outcome, const ShutdownState& s, WallTime now) {
  const std::string t(api::tierName(tier));
  total_.Add({{"tier", t}, {"outcome", std::string(outcomeName(outcome))}}).Increment();
  auto observe = [&](const char* stage, const std::optional<WallTime>& from, const std::optional<WallTime>& to) {
    if (!from || !to || *to < *from) return;
    stageDuration_.Add({{"tier", t}, {"stage", stage}}, kBuckets)
        .Observe(std::chrono::duration<double>(*to - *from).count());
  };
  const std::optional<WallTime> end = now;
  observe("draining", s.startedAt, s.requestedAt);
  observe("requested", s.requestedAt, s.acceptedAt ? s.acceptedAt : s.terminatingAt);
  observe("exit", s.acceptedAt, s.terminatingAt ? s.terminatingAt : end);
  observe("terminating", s.terminatingAt, s.forcedAt ? s.forcedAt : end);
  observe("total", s.startedAt, end);
}

void ShutdownMetrics::orderWaitEnded(const std::string& reason) {
  const char* result = reason == "DependencyTimeout"   ? "timed-out"
                       : reason == kOrderWaitCutShort ? "prestop-budget"
                                                      : "dependents-down";
  orderWaits_.Add({{"result", result}}).Increment();
}

void ShutdownMetrics::drained(const std::string& result) { drains_.Add({{"result", result}}).Increment(); }

void ShutdownMetrics::called(const EndpointAnswer& answer) { calls_.Add({{"answer", answerName(answer.kind)}}).Increment(); }

}  // namespace mv::shutdown
