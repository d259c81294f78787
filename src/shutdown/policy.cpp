#include "shutdown/policy.h"

namespace mv::shutdown {

ShutdownPolicy policyFor(const api::MediVoteService& mvs, const std::optional<std::string>& podTierAnnotation) {
  ShutdownPolicy p;
  const auto& sd = mvs.spec.shutdown;
  p.tier = resolveTier(mvs).tier;
  if (podTierAnnotation)
    if (auto t = api::parseTier(*podTierAnnotation)) p.tier = *t;
  p.hasEndpoint = sd.endpoint.has_value();
  if (sd.endpoint) p.requestTimeout = std::chrono::seconds(sd.endpoint->requestTimeoutSeconds);
  p.exitTimeout = std::chrono::seconds(sd.exitTimeoutSeconds);
  p.refusalTimeout = std::chrono::seconds(sd.refusalTimeoutSeconds);
  p.gracePeriod = std::chrono::seconds(sd.terminationGracePeriodSeconds);
  p.forceDeleteAfter = std::chrono::seconds(sd.forceDeleteAfterSeconds);
  p.drainTimeout = std::chrono::seconds(sd.drainTimeoutSeconds);
  return p;
}

}  // namespace mv::shutdown
