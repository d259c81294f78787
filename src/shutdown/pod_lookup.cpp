#include "shutdown/pod_lookup.h"

namespace mv::shutdown {

PodIdentity podIdentityOf(const nlohmann::json& pod) {
  return {pod.value("/metadata/uid"_json_pointer, std::string()), pod.value("/status/podIP"_json_pointer, std::string())};
}

std::optional<PodIdentity> CachePodLookup::find(const std::string& ns, const std::string& name) const {
  const auto pod = get_(ns + "/" + name);
  if (!pod) return std::nullopt;
  return podIdentityOf(*pod);
}

}  // namespace mv::shutdown
