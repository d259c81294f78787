#include "medivote/service_drift.h"

#include <array>

namespace mv::medivote {
namespace {

// The fields of a Service port that buildService sets. protocol defaults to TCP on the server (SetDefaults_ServicePort),
// so an absent protocol means TCP on both sides.
bool samePort(const json& existing, const json& desired) {
  if (!existing.is_object() || !desired.is_object()) return false;
  for (const char* field : std::array{"name", "port", "targetPort"})
    if (existing.value(field, json()) != desired.value(field, json())) return false;
  return existing.value("protocol", "TCP") == desired.value("protocol", "TCP");
}

}  // namespace

std::optional<json> serviceDrift(const json& existing, const json& desired) {
  const json selector = desired.value("/spec/selector"_json_pointer, json::object());
  const json ports = desired.value("/spec/ports"_json_pointer, json::array());
  const json haveSelector = existing.value("/spec/selector"_json_pointer, json::object());
  const json havePorts = existing.value("/spec/ports"_json_pointer, json::array());
  bool drifted = haveSelector != selector || !havePorts.is_array() || havePorts.size() != ports.size();
  for (std::size_t i = 0; !drifted && i < ports.size(); ++i) drifted = !samePort(havePorts[i], ports[i]);
  if (!drifted) return std::nullopt;
  json patch = json::object();
  patch["spec"]["selector"] = selector;
  patch["spec"]["ports"] = ports;
  return patch;
}

}  // namespace mv::medivote
