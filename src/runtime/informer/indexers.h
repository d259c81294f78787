#pragma once
// Index functions of the informer cache (client-go's cache.Indexers): each maps an object to the values under which
// the store files it, so that byIndex(name, value) finds every object with that value without a scan.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mv::runtime::informer {

using json = nlohmann::json;

// Returns the index values of an object (none, one or several). Must be pure and cheap: it runs on every write.
using IndexFunc = std::function<std::vector<std::string>(const json&)>;
using Indexers = std::map<std::string, IndexFunc>;

// metadata.namespace ("" objects of cluster-scoped resources are not indexed).
inline constexpr const char* kNamespaceIndex = "namespace";
// The uid of the ownerReference with controller=true (at most one per object, as the API server enforces).
inline constexpr const char* kControllerOwnerUidIndex = "controller-owner-uid";
// One value "key=value" per label.
inline constexpr const char* kLabelIndex = "label";

std::vector<std::string> indexByNamespace(const json& object);
std::vector<std::string> indexByControllerOwnerUid(const json& object);
std::vector<std::string> indexByLabel(const json& object);

// The value under which kLabelIndex files label `key` with value `value`.
std::string labelIndexValue(const std::string& key, const std::string& value);

// The three indexes above, under their names.
Indexers defaultIndexers();

}  // namespace mv::runtime::informer
