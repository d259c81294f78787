#include "runtime/informer/indexers.h"

#include "runtime/informer/object_key.h"

namespace mv::runtime::informer {

std::vector<std::string> indexByNamespace(const json& object) {
  std::string ns = stringAt(object, {"metadata", "namespace"});
  if (ns.empty()) return {};
  return {std::move(ns)};
}

std::vector<std::string> indexByControllerOwnerUid(const json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return {};
  auto refs = meta->find("ownerReferences");
  if (refs == meta->end() || !refs->is_array()) return {};
  for (const auto& ref : *refs) {
    if (!ref.is_object()) continue;
    auto controller = ref.find("controller");
    if (controller == ref.end() || !controller->is_boolean() || !controller->get<bool>()) continue;
    std::string uid = stringAt(ref, {"uid"});
    if (!uid.empty()) return {std::move(uid)};
  }
  return {};
}

std::string labelIndexValue(const std::string& key, const std::string& value) { return key + "=" + value; }

std::vector<std::string> indexByLabel(const json& object) {
  std::vector<std::string> values;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return values;
  auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object()) return values;
  values.reserve(labels->size());
  for (auto it = labels->begin(); it != labels->end(); ++it) {
    if (it.value().is_string()) values.push_back(labelIndexValue(it.key(), it.value().get<std::string>()));
  }
  return values;
}

Indexers defaultIndexers() {
  return {
      {kNamespaceIndex, indexByNamespace},
      {kControllerOwnerUidIndex, indexByControllerOwnerUid},
      {kLabelIndex, indexByLabel},
  };
}

}  // namespace mv::runtime::informer
