#include "medivote/pod_builder.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include <fmt/format.h>

#include "api/names.h"
#include "medivote/pod_wiring.h"

namespace mv::medivote {
namespace {

std::uint64_t fnv1a(std::string_view data) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

json& ensureObject(json& parent, const char* key) {
  if (!parent.contains(key) || !parent[key].is_object()) parent[key] = json::object();
  return parent[key];
}

json& ensureArray(json& parent, const char* key) {
  if (!parent.contains(key) || !parent[key].is_array()) parent[key] = json::array();
  return parent[key];
}

// The agent's user and group: the image's (Dockerfile: USER 65532:65532), made explicit on the container.
constexpr int kAgentUser = 65532;
// The token volume's file modes (see buildPod): r--r--r-- without an fsGroup, r--r----- with one.
constexpr int kTokenModeNoFsGroup = 0444;
constexpr int kTokenModeFsGroup = 0440;

bool hasVolume(const json& podSpec, const std::string& name) {
  if (!podSpec.contains("volumes") || !podSpec["volumes"].is_array()) return false;
  for (const auto& v : podSpec["volumes"])
    if (v.value("name", "") == name) return true;
  return false;
}

// Defence in depth behind validation (api::validateTemplateMetadata): no key of the operator's (names.h) comes from
// the template; the ones the pod needs are set afresh by buildPod.
void dropOperatorKeys(json& keys) {
  for (auto it = keys.begin(); it != keys.end();)
    it = api::isOperatorPodKey(it.key()) ? keys.erase(it) : std::next(it);
}

}  // namespace

std::string podRevision(const api::MediVoteService& mvs, const PodWiring& wiring) {
  // json objects keep keys sorted, so dump() is canonical.
  const std::string canonical = mvs.spec.podTemplate.dump() + "|" + mvs.spec.volumeClaimTemplates.dump() + "|" +
                                wiringJson(wiring).dump();
  return fmt::format("{:010x}", fnv1a(canonical) & 0xffffffffffull);
}

std::string podRevision(const api::MediVoteService& mvs) {
  return podRevision(mvs, podWiring(mvs, api::resolveTier(mvs).tier));
}

AgentTimeouts agentTimeoutsFor(int requestTimeoutSeconds) {
  AgentTimeouts t;
  t.awaitTermination = requestTimeoutSeconds >= 5 ? 2 : 1;
  t.target = std::max(1, requestTimeoutSeconds - t.awaitTermination - 1);
  return t;
}

std::string podName(const std::string& mvsName, int ordinal) { return fmt::format("{}-{}", mvsName, ordinal); }

int ordinalOf(const std::string& mvsName, const std::string& name) {
  if (name.size() <= mvsName.size() + 1 || name.compare(0, mvsName.size(), mvsName) != 0 ||
      name[mvsName.size()] != '-')
    return -1;
  const std::string digits = name.substr(mvsName.size() + 1);
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos ||
      (digits.size() > 1 && digits[0] == '0'))
    return -1;
  return std::stoi(digits);
}

std::string claimName(const std::string& templateName, const std::string& mvsName, int ordinal) {
  return fmt::format("{}-{}-{}", templateName, mvsName, ordinal);
}

json selectorLabels(const api::MediVoteService& mvs) { return {{std::string(api::kLabelService), mvs.name}}; }

std::string selectorString(const api::MediVoteService& mvs) {
  return fmt::format("{}={}", api::kLabelService, mvs.name);
}

json ownerReference(const api::MediVoteService& mvs) {
  return {{"apiVersion", std::string(api::kApiVersion)},
          {"kind", std::string(api::kKind)},
          {"name", mvs.name},
          {"uid", mvs.uid},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

std::string serviceContainerName(const api::MediVoteService& mvs) {
  const json containers = mvs.spec.podTemplate.value("/spec/containers"_json_pointer, json::array());
  if (!containers.is_array() || containers.empty()) return {};
  if (mvs.spec.shutdown.endpoint) {
    const auto& port = mvs.spec.shutdown.endpoint->port;
    for (const auto& c : containers)
      for (const auto& p : c.value("ports", json::array()))
        if ((port.isInt && p.value("containerPort", -1) == port.intValue) ||
            (!port.isInt && p.value("name", "") == port.strValue))
          return c.value("name", "");
  }
  return containers[0].value("name", "");
}

json buildPod(const api::MediVoteService& mvs, int ordinal, api::Tier tier, const PodSettings& settings) {
  const json& tmpl = mvs.spec.podTemplate;
  const PodWiring wiring = podWiring(mvs, tier);
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  json meta = tmpl.value("metadata", json::object());
  meta.erase("name");
  meta.erase("namespace");
  meta.erase("generateName");
  meta["name"] = podName(mvs.name, ordinal);
  meta["namespace"] = mvs.ns;
  json& labels = ensureObject(meta, "labels");
  dropOperatorKeys(labels);
  labels[std::string(api::kLabelService)] = mvs.name;
  labels[std::string(api::kLabelRevision)] = podRevision(mvs, wiring);
  labels[std::string(api::kLabelOrdinal)] = std::to_string(ordinal);
  labels[std::string(api::kLabelServing)] = "true";
  labels[std::string(api::kLabelManagedBy)] = std::string(api::kManagedByValue);
  json& annotations = ensureObject(meta, "annotations");
  dropOperatorKeys(annotations);
  annotations[std::string(api::kAnnotationTier)] = std::string(api::tierName(wiring.tier));
  if (wiring.agent) annotations[std::string(api::kAnnotationAgentHold)] = std::to_string(wiring.agent->holdSeconds);
  meta["ownerReferences"] = json::array({ownerReference(mvs)});
  pod["metadata"] = meta;

  json spec = tmpl.value("spec", json::object());
  spec["terminationGracePeriodSeconds"] = wiring.terminationGracePeriodSeconds;
  if (!spec.contains("restartPolicy")) spec["restartPolicy"] = "Always";

  // Critical pods: the service container's preStop hook holds the kubelet's SIGTERM off while the service saves and
  // exits by itself after the HTTP call (also when someone else deletes or evicts the pod).
  // - reach agent: an httpGet hook to the agent, which holds it until the service has exited (or its exit timeout, or
  //   preStopSleepSeconds): the pod goes as soon as the service is done, and the hook's arrival proves to the agent
  //   that the kubelet is terminating the pod (validation refuses a hook of the user's here: there is one per
  //   container);
  // - reach direct: a `sleep` action, which a real kubelet waits out in full. A hook the user declared is kept: it
  //   holds SIGTERM off too, for as long as it runs (pod_wiring.h).
  if (wiring.agent || wiring.preStopSleepSeconds) {
    for (auto& c : spec["containers"]) {
      if (c.value("name", "") != wiring.serviceContainer) continue;
      json& lifecycle = ensureObject(c, "lifecycle");
      if (wiring.agent)
        lifecycle["preStop"] = {{"httpGet", {{"path", std::string(api::kAgentPreStopPath)},
                                             {"port", settings.agentPort}}}};
      else
        lifecycle["preStop"] = {{"sleep", {{"seconds", *wiring.preStopSleepSeconds}}}};
    }
  }

  for (const auto& claimTemplate : mvs.spec.volumeClaimTemplates) {
    const std::string volume = claimTemplate["metadata"]["name"].get<std::string>();
    if (hasVolume(spec, volume)) continue;
    ensureArray(spec, "volumes").push_back(
        {{"name", volume}, {"persistentVolumeClaim", {{"claimName", claimName(volume, mvs.name, ordinal)}}}});
  }

  // reach agent: the medivote-agent native sidecar (an init container with restartPolicy Always starts before the
  // service and stops after it). The token Secret is mounted into the agent only, never into the service.
  if (wiring.agent) {
    json args = json::array({fmt::format("--listen=$(POD_IP):{}", settings.agentPort)});
    for (const auto& a : wiring.agent->args) args.push_back(a);
    json agent = {
        {"name", std::string(kAgentContainer)},
        {"image", settings.agentImage},
        {"restartPolicy", "Always"},
        {"args", args},
        {"env", json::array({{{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}})},
        {"ports", json::array({{{"name", std::string(kAgentPortName)}, {"containerPort", settings.agentPort}}})},
        {"readinessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", settings.agentPort}}}, {"periodSeconds", 5}}},
        {"resources", {{"requests", {{"cpu", "5m"}, {"memory", "4Mi"}}}, {"limits", {{"memory", "16Mi"}}}}},
        // Restricted Pod Security, with the image's user made explicit (the token's file mode relies on it).
        {"securityContext",
         {{"runAsUser", kAgentUser},
          {"runAsGroup", kAgentUser},
          {"runAsNonRoot", true},
          {"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"capabilities", {{"drop", json::array({"ALL"})}}},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
    };
    // The token (the user's tokenSecretRef, or the operator's own <mvs>-agent-token Secret), mounted into the agent
    // alone. A kubelet writes Secret files owned by root (group: the pod's fsGroup, when it has one), so the agent's
    // user reads its token through the mode: 0444 (the volume is in no other container; 0644 is the Kubernetes
    // default), or 0440 when the pod has an fsGroup, which every container's user then belongs to. The operator
    // adds no fsGroup of its own: it would change the group of the service's claims too.
    if (const auto& token = wiring.agent->token) {
      const bool fsGroup = spec.contains("securityContext") && spec["securityContext"].is_object() &&
                           spec["securityContext"].contains("fsGroup");
      agent["volumeMounts"] =
          json::array({{{"name", "medivote-agent-token"}, {"mountPath", "/var/run/medivote-agent"}, {"readOnly", true}}});
      ensureArray(spec, "volumes").push_back(
          {{"name", "medivote-agent-token"},
           {"secret",
            {{"secretName", token->name}, {"defaultMode", fsGroup ? kTokenModeFsGroup : kTokenModeNoFsGroup}}}});
    }
    json& inits = ensureArray(spec, "initContainers");
    inits.insert(inits.begin(), agent);
  }
  pod["spec"] = spec;
  return pod;
}

json buildClaim(const api::MediVoteService& mvs, const json& claimTemplate, int ordinal) {
  json claim = {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}};
  json meta = claimTemplate.value("metadata", json::object());
  const std::string templateName = meta.value("name", "data");
  meta["name"] = claimName(templateName, mvs.name, ordinal);
  meta["namespace"] = mvs.ns;
  json& labels = ensureObject(meta, "labels");
  labels[std::string(api::kLabelService)] = mvs.name;
  labels[std::string(api::kLabelOrdinal)] = std::to_string(ordinal);
  // Claims are deliberately not owned by the resource: state on them outlives pods and, like a StatefulSet's claims,
  // the resource itself. Deleting them is the user's decision.
  claim["metadata"] = meta;
  json spec = claimTemplate.value("spec", json::object());
  if (!spec.contains("accessModes")) spec["accessModes"] = json::array({"ReadWriteOnce"});
  if (!spec.contains("resources")) spec["resources"] = {{"requests", {{"storage", "1Gi"}}}};
  claim["spec"] = spec;
  return claim;
}

json buildService(const api::MediVoteService& mvs) {
  json ports = json::array();
  const json containers = mvs.spec.podTemplate.value("/spec/containers"_json_pointer, json::array());
  for (const auto& c : containers)
    for (const auto& p : c.value("ports", json::array())) {
      if (!p.contains("containerPort")) continue;
      json port = {{"port", p["containerPort"]}, {"targetPort", p["containerPort"]},
                   {"protocol", p.value("protocol", "TCP")}};
      port["name"] = p.value("name", fmt::format("port-{}", p["containerPort"].get<int>()));
      ports.push_back(port);
    }
  if (ports.empty()) return nullptr;
  json selector = selectorLabels(mvs);
  selector[std::string(api::kLabelServing)] = "true";
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", mvs.name},
            {"namespace", mvs.ns},
            {"labels", {{std::string(api::kLabelService), mvs.name},
                        {std::string(api::kLabelManagedBy), std::string(api::kManagedByValue)}}},
            {"ownerReferences", json::array({ownerReference(mvs)})}}},
          {"spec", {{"selector", selector}, {"ports", ports}}}};
}

}  // namespace mv::medivote
