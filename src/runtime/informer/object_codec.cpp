#include "runtime/informer/object_codec.h"

#include <array>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace mv::runtime::informer {

namespace {

// Strings common in Kubernetes objects as keys or values (and in what the operator caches), each stored as two
// bytes: kKeyCode and its position + 1. A string that happens to start with kKeyCode or kEscape is stored behind
// kEscape. Encoded objects live only in memory, so the table may change between builds; at most 255 entries.
constexpr auto kKeys = std::to_array<std::string_view>({
    "apiVersion", "kind", "metadata", "name", "namespace", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "controller", "blockOwnerDeletion", "finalizers", "spec", "status", "nodeName",
    "terminationGracePeriodSeconds", "containers", "initContainers", "ports", "containerPort", "protocol",
    "lifecycle", "preStop", "postStart", "httpGet", "exec", "command", "path", "port", "scheme", "host",
    "restartPolicy", "phase", "podIP", "podIPs", "hostIP", "conditions", "type", "lastTransitionTime",
    "lastProbeTime", "reason", "message", "observedGeneration", "containerStatuses", "ready", "restartCount",
    "started", "state", "lastState", "running", "startedAt", "terminated", "exitCode", "finishedAt", "signal",
    "containerID", "waiting", "image", "imageID", "replicas", "readyReplicas", "selector", "matchLabels",
    "template", "tier", "app", "clusterIP", "clusterIPs", "targetPort", "TCP", "HTTP", "True", "False",
    "Ready", "Running", "Pending", "Succeeded", "Failed", "Unknown", "serviceAccountName", "priority",
    "readinessProbe", "livenessProbe", "env", "value", "valueFrom", "resources", "limits", "requests", "cpu",
    "memory",
    // What the operator's own pods and MediVoteServices carry in every copy (the labels, annotations and owner
    // references it sets; the resource's spec and status): 16-28 bytes each as text. Computed for the pod of
    // bench/recorded_apiserver.py (the real server's shape), projected: 540 -> 339 bytes of MessagePack.
    "v1", "Pod", "true", "false", "http", "sleep", "seconds", "critical", "simple", "medivote-operator",
    "medivote.io/v1alpha1", "MediVoteService", "app.kubernetes.io/instance", "app.kubernetes.io/name",
    "app.kubernetes.io/managed-by", "app.kubernetes.io/component", "app.kubernetes.io/part-of",
    "medivote.io/revision", "medivote.io/service", "medivote.io/serving", "medivote.io/tier", "medivote.io/ordinal",
    "medivote.io/graceful-shutdown", "medivote.io/agent-hold-seconds", "medivote.io/shutdown-stage",
    "medivote.io/shutdown-reason", "medivote.io/shutdown-requested-at", "medivote.io/shutdown-accepted-at",
    "medivote.io/shutdown-started-at", "medivote.io/shutdown-drained-at", "medivote.io/shutdown-terminating-at",
    "medivote.io/shutdown-forced-at", "medivote.io/shutdown-attempts", "medivote.io/shutdown-failures",
    "medivote.io/shutdown-last-answer", "medivote.io/shutdown-next-attempt-at", "medivote.io/shutdown-escalation",
    "medivote.io/shutdown-drain", "medivote.io/shutdown-restart-baseline", "Completed", "Error", "OOMKilled",
    "ContainerCreating", "PodInitializing", "CrashLoopBackOff", "Never", "OnFailure", "Always", "shutdown",
    "shutdowns", "endpoint", "updateStrategy", "currentRevision", "updateRevision", "updatedReplicas",
    "volumeClaimTemplates", "tokenSecretRef", "preStopSleepSeconds", "outcome", "stage", "pod", "time",
});
static_assert(kKeys.size() <= 255, "codes are one byte, 0 excluded");
constexpr char kKeyCode = '\x01';
constexpr char kEscape = '\x02';

const std::unordered_map<std::string_view, char>& keyCodes() {
  static const auto* codes = [] {
    auto* map = new std::unordered_map<std::string_view, char>();
    for (std::size_t i = 0; i < kKeys.size(); ++i) map->emplace(kKeys[i], static_cast<char>(i + 1));
    return map;
  }();
  return *codes;
}

std::string compactKey(const std::string& key) {
  auto it = keyCodes().find(key);
  if (it != keyCodes().end()) return std::string{kKeyCode, it->second};
  if (!key.empty() && (key[0] == kKeyCode || key[0] == kEscape)) return kEscape + key;
  return key;
}

// Names both directions by what they do to keys; string values go through the same mapping.
void expandKey(std::string& key) {
  if (key.size() == 2 && key[0] == kKeyCode) {
    const auto index = static_cast<unsigned char>(key[1]);
    if (index >= 1 && index <= kKeys.size()) {
      key = kKeys[index - 1];
      return;
    }
  }
  if (!key.empty() && key[0] == kEscape) key.erase(0, 1);
}

json compactKeys(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) out[compactKey(it.key())] = compactKeys(it.value());
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const auto& item : value) out.push_back(compactKeys(item));
    return out;
  }
  if (value.is_string()) return compactKey(value.get_ref<const std::string&>());
  return value;
}

// Builds the tree while MessagePack is read, expanding keys and strings as they come (no second pass).
class ExpandingParser : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<json>;
  using Base::Base;
  bool key(std::string& k) {
    expandKey(k);
    return Base::key(k);
  }
  bool string(std::string& v) {
    expandKey(v);
    return Base::string(v);
  }
};

}  // namespace

EncodedObject EncodedObject::copyOf(std::string_view bytes) {
  if (bytes.size() > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("encoded object over 4 GiB");
  auto block = std::make_shared_for_overwrite<char[]>(kHeader + bytes.size());
  const auto length = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(block.get(), &length, kHeader);
  if (!bytes.empty()) std::memcpy(block.get() + kHeader, bytes.data(), bytes.size());
  EncodedObject out;
  out.block_ = std::move(block);
  return out;
}

std::string_view EncodedObject::bytes() const {
  if (!block_) return {};
  std::uint32_t length = 0;
  std::memcpy(&length, block_.get(), kHeader);
  return {block_.get() + kHeader, length};
}

bool operator==(const EncodedObject& a, const EncodedObject& b) {
  if (!a || !b) return !a && !b;
  return a.block_ == b.block_ || a.bytes() == b.bytes();
}

EncodedObject encodeObject(const json& object) {
  std::string bytes;
  json::to_msgpack(compactKeys(object), bytes);
  return EncodedObject::copyOf(bytes);
}

json decodeObject(std::string_view encoded) {
  json result;
  ExpandingParser parser(result, true);
  json::sax_parse(encoded.begin(), encoded.end(), &parser, json::input_format_t::msgpack);
  return result;
}

json decodeObject(const EncodedObject& encoded) { return decodeObject(encoded.bytes()); }

}  // namespace mv::runtime::informer
