#include "runtime/informer/transforms.h"

#include <initializer_list>

namespace mv::runtime::informer {

namespace {

constexpr const char* kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

// Moves the listed members of `from` (when present) into a new object.
json pick(json& from, std::initializer_list<const char*> keys) {
  json out = json::object();
  if (!from.is_object()) return out;
  for (const char* key : keys) {
    auto it = from.find(key);
    if (it != from.end()) out[key] = std::move(*it);
  }
  return out;
}

// Applies `pick` to every object of an array member, keeping the array (or nothing when absent).
void pickEach(json& out, json& from, const char* arrayKey, std::initializer_list<const char*> keys) {
  if (!from.is_object()) return;
  auto it = from.find(arrayKey);
  if (it == from.end() || !it->is_array()) return;
  json items = json::array();
  for (auto& item : *it) items.push_back(pick(item, keys));
  out[arrayKey] = std::move(items);
}

void dropLastApplied(json& metadata) {
  auto annotations = metadata.find("annotations");
  if (annotations == metadata.end() || !annotations->is_object()) return;
  annotations->erase(kLastApplied);
  if (annotations->empty()) metadata.erase(annotations);
}

}  // namespace

json stripManagedFields(json&& object) {
  auto meta = object.find("metadata");
  if (meta != object.end() && meta->is_object()) {
    meta->erase("managedFields");
    dropLastApplied(*meta);
  }
  return std::move(object);
}

json projectPodForOperator(json&& pod) {
  json out = pick(pod, {"apiVersion", "kind"});

  json& metaIn = pod["metadata"];
  json meta = pick(metaIn, {"name", "namespace", "uid", "resourceVersion", "labels", "annotations",
                            "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds"});
  dropLastApplied(meta);
  out["metadata"] = std::move(meta);

  json& specIn = pod["spec"];
  json spec = pick(specIn, {"nodeName", "terminationGracePeriodSeconds"});
  pickEach(spec, specIn, "containers", {"name", "ports", "lifecycle"});
  pickEach(spec, specIn, "initContainers", {"name", "ports", "restartPolicy"});
  out["spec"] = std::move(spec);

  json& statusIn = pod["status"];
  json status = pick(statusIn, {"phase", "podIP"});
  if (statusIn.is_object()) {
    auto conditions = statusIn.find("conditions");
    if (conditions != statusIn.end() && conditions->is_array()) {
      json kept = json::array();
      for (auto& condition : *conditions) {
        if (condition.is_object() && condition.value("type", "") == "Ready") {
          kept.push_back(pick(condition, {"type", "status"}));
        }
      }
      status["conditions"] = std::move(kept);
    }
  }
  pickEach(status, statusIn, "containerStatuses", {"name", "ready", "restartCount", "started", "state", "lastState"});
  out["status"] = std::move(status);
  return out;
}

namespace {

using Filter = std::shared_ptr<const kube::JsonFieldFilter>;

// A filter keeping `whole` entirely and `nested` by their own filters.
Filter keeping(std::initializer_list<const char*> whole,
               std::initializer_list<std::pair<const char*, Filter>> nested = {}) {
  auto f = std::make_shared<kube::JsonFieldFilter>();
  for (const char* key : whole) f->keep.emplace(key, nullptr);
  for (const auto& [key, child] : nested) f->keep.emplace(key, child);
  return f;
}

}  // namespace

std::shared_ptr<const kube::JsonFieldFilter> podOperatorFields() {
  // Mirrors projectPodForOperator above: change them together (transforms_test checks they agree).
  static const Filter fields = keeping(
      {"apiVersion", "kind"},
      {{"metadata", keeping({"name", "namespace", "uid", "resourceVersion", "labels", "annotations", "ownerReferences",
                             "deletionTimestamp", "deletionGracePeriodSeconds"})},
       {"spec", keeping({"nodeName", "terminationGracePeriodSeconds"},
                        {{"containers", keeping({"name", "ports", "lifecycle"})},
                         {"initContainers", keeping({"name", "ports", "restartPolicy"})}})},
       {"status", keeping({"phase", "podIP"},
                          {{"conditions", keeping({"type", "status"})},
                           {"containerStatuses",
                            keeping({"name", "ready", "restartCount", "started", "state", "lastState"})}})}});
  return fields;
}

Transform compose(Transform first, Transform second) {
  return [first = std::move(first), second = std::move(second)](json&& object) {
    return second(first(std::move(object)));
  };
}

}  // namespace mv::runtime::informer
