#pragma once
// How the cache names an object: "namespace/name" for a namespaced object, "name" for a cluster-scoped one (the
// key format of client-go's MetaNamespaceKeyFunc, and of the work queue's keys).

#include <string>

#include <nlohmann/json.hpp>

namespace mv::runtime::informer {

using json = nlohmann::json;

// The object's key. Throws std::invalid_argument when metadata.name is missing.
std::string objectKey(const json& object);

// "namespace/name", or "name" when `ns` is empty.
std::string makeKey(const std::string& ns, const std::string& name);

// metadata.resourceVersion, or "" when absent.
std::string resourceVersionOf(const json& object);

// A string field at a JSON pointer-like path of object keys, or "" when absent or not a string.
std::string stringAt(const json& object, std::initializer_list<const char*> path);

}  // namespace mv::runtime::informer
