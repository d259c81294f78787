#include "runtime/informer/object_key.h"

#include <stdexcept>

namespace mv::runtime::informer {

std::string stringAt(const json& object, std::initializer_list<const char*> path) {
  const json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) return {};
    auto it = node->find(key);
    if (it == node->end()) return {};
    node = &*it;
  }
  return node->is_string() ? node->get<std::string>() : std::string();
}

std::string makeKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string objectKey(const json& object) {
  std::string name = stringAt(object, {"metadata", "name"});
  if (name.empty()) throw std::invalid_argument("object has no metadata.name");
  return makeKey(stringAt(object, {"metadata", "namespace"}), name);
}

std::string resourceVersionOf(const json& object) { return stringAt(object, {"metadata", "resourceVersion"}); }

}  // namespace mv::runtime::informer
