#include "medivote/derived_names.h"

#include <algorithm>

#include <fmt/format.h>

#include "api/names.h"
#include "api/object_names.h"
#include "medivote/agent_token.h"
#include "medivote/pod_builder.h"

namespace mv::medivote {

std::vector<api::FieldError> derivedNameErrors(const api::MediVoteService& mvs) {
  std::vector<api::FieldError> errors;
  auto check = [&](const std::string& field, const std::string& what, const std::string& name,
                   const std::optional<std::string>& why) {
    if (why) errors.push_back({field, fmt::format("{} '{}' {}", what, name.substr(0, 300), *why)});
  };
  check("metadata.name", fmt::format("the value of the label {}", api::kLabelService), mvs.name,
        api::labelValueError(mvs.name));
  if (!buildService(mvs).is_null())
    check("metadata.name", "the Service name", mvs.name, api::dns1035LabelError(mvs.name));
  const int lastOrdinal = std::max(0, mvs.spec.replicas - 1);
  const std::string pod = podName(mvs.name, lastOrdinal);
  check("metadata.name", "the pod name", pod, api::dns1123SubdomainError(pod));
  const json& claims = mvs.spec.volumeClaimTemplates;
  for (std::size_t i = 0; claims.is_array() && i < claims.size(); ++i) {
    const json name = claims[i].is_object() ? claims[i].value("/metadata/name"_json_pointer, json()) : json();
    if (!name.is_string()) continue;  // parseMediVoteService refuses it
    const std::string templateName = name.get<std::string>();
    const std::string field = fmt::format("spec.volumeClaimTemplates[{}].metadata.name", i);
    check(field, "the pod volume name", templateName, api::dns1123LabelError(templateName));
    const std::string claim = claimName(templateName, mvs.name, lastOrdinal);
    check(field, "the claim name", claim, api::dns1123SubdomainError(claim));
  }
  if (const auto ref = tokenSecretOf(mvs); ref && ref->operatorOwned)
    check("metadata.name", "the agent token Secret name", ref->name, api::dns1123SubdomainError(ref->name));
  return errors;
}

}  // namespace mv::medivote
