#include "runtime/informer/owner_keys.h"

#include "runtime/informer/object_key.h"

namespace mv::runtime::informer {

namespace {

std::string_view groupOf(std::string_view apiVersion) {
  auto slash = apiVersion.find('/');
  return slash == std::string_view::npos ? std::string_view() : apiVersion.substr(0, slash);
}

}  // namespace

std::optional<std::string> controllerOwnerKey(const json& object, std::string_view ownerKind,
                                              std::string_view ownerGroup) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return std::nullopt;
  auto refs = meta->find("ownerReferences");
  if (refs == meta->end() || !refs->is_array()) return std::nullopt;
  for (const auto& ref : *refs) {
    if (!ref.is_object() || !ref.value("controller", false)) continue;
    if (ref.value("kind", "") != ownerKind) return std::nullopt;
    if (!ownerGroup.empty() && groupOf(ref.value("apiVersion", "")) != ownerGroup) return std::nullopt;
    std::string name = ref.value("name", "");
    if (name.empty()) return std::nullopt;
    return makeKey(stringAt(object, {"metadata", "namespace"}), name);
  }
  return std::nullopt;
}

EventHandler enqueueObjectKey(EnqueueKey enqueue) {
  EventHandler h;
  h.onAdd = [enqueue](const json& o) { enqueue(objectKey(o)); };
  h.onUpdate = [enqueue](const json&, const json& o) { enqueue(objectKey(o)); };
  h.onDelete = [enqueue](const json& o) { enqueue(objectKey(o)); };
  return h;
}

EventHandler enqueueControllerOwner(std::string ownerKind, std::string ownerGroup, EnqueueKey enqueue) {
  auto one = [ownerKind, ownerGroup, enqueue](const json& o) {
    if (auto key = controllerOwnerKey(o, ownerKind, ownerGroup)) enqueue(*key);
  };
  EventHandler h;
  h.onAdd = one;
  h.onDelete = one;
  h.onUpdate = [ownerKind, ownerGroup, enqueue](const json& oldObject, const json& newObject) {
    auto before = controllerOwnerKey(oldObject, ownerKind, ownerGroup);
    auto after = controllerOwnerKey(newObject, ownerKind, ownerGroup);
    if (before && before != after) enqueue(*before);
    if (after) enqueue(*after);
  };
  return h;
}

}  // namespace mv::runtime::informer
