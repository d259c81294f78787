#include "runtime/informer/object_codec.h"

#include <array>
#include <string_view>
#include <unordered_map>

namespace mv::runtime::informer {

namespace {

// Strings common in Kubernetes objects as keys or values (and in what the operator caches), each stored as two
// bytes: kKeyCode and its position + 1. A string that happens to start with kKeyCode or kEscape is stored behind
// kEscape. Encoded objects live only in memory, so the table may change between builds; at most 255 entries.
constexpr std::array<std::string_view, 96> kKeys = {
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
};
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

EncodedObject encodeObject(const json& object) {
  std::string bytes;
  json::to_msgpack(compactKeys(object), bytes);
  bytes.shrink_to_fit();
  return std::make_shared<const std::string>(std::move(bytes));
}

json decodeObject(const std::string& encoded) {
  json result;
  ExpandingParser parser(result, true);
  json::sax_parse(encoded, &parser, json::input_format_t::msgpack);
  return result;
}

}  // namespace mv::runtime::informer
