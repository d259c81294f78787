#include "shutdown/policy.h"

#include "api/names.h"

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

std::optional<std::string> podTierAnnotation(const nlohmann::json& pod) {
  using nlohmann::json;
  const json a = pod.value("/metadata/annotations"_json_pointer, json::object());
  if (a.is_object() && a.contains(std::string(api::kAnnotationTier)) && a[std::string(api::kAnnotationTier)].is_string())
    return a[std::string(api::kAnnotationTier)].get<std::string>();
  return std::nullopt;
}

}  // namespace mv::shutdown
