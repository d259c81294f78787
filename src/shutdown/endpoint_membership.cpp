#include "shutdown/endpoint_membership.h"

namespace mv::shutdown {
namespace {

const json& member(const json& o, const char* key) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  const auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}

std::string text(const json& o, const char* key) {
  const json& v = member(o, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

bool listsPod(const json& endpoint, const std::string& uid, const std::string& ip) {
  const std::string refUid = text(member(endpoint, "targetRef"), "uid");
  if (!refUid.empty()) return refUid == uid;
  if (ip.empty()) return false;
  const json& addresses = member(endpoint, "addresses");
  if (!addresses.is_array()) return false;
  for (const auto& a : addresses)
    if (a.is_string() && a.get<std::string>() == ip) return true;
  return false;
}

}  // namespace

bool inEndpointSlices(const std::string& podUid, const std::string& podIP, const std::vector<json>& slices) {
  for (const auto& slice : slices) {
    const json& endpoints = member(slice, "endpoints");
    if (!endpoints.is_array()) continue;
    for (const auto& e : endpoints)
      if (listsPod(e, podUid, podIP)) return true;
  }
  return false;
}

std::string serviceKeyOfSlice(const json& slice) {
  const json& meta = member(slice, "metadata");
  const std::string service = text(member(meta, "labels"), std::string(kLabelServiceName).c_str());
  if (service.empty()) return "";
  return text(meta, "namespace") + "/" + service;
}

json projectEndpointSliceForDrain(json&& slice) {
  json out = json::object();
  for (const char* k : {"apiVersion", "kind"})
    if (slice.contains(k)) out[k] = std::move(slice[k]);
  const json& meta = member(slice, "metadata");
  json m = json::object();
  for (const char* k : {"name", "namespace", "uid", "resourceVersion"})
    if (meta.contains(k)) m[k] = meta[k];
  const std::string service = text(member(meta, "labels"), std::string(kLabelServiceName).c_str());
  if (!service.empty()) m["labels"] = {{std::string(kLabelServiceName), service}};
  out["metadata"] = std::move(m);
  json endpoints = json::array();
  const json& list = member(slice, "endpoints");
  if (list.is_array()) {
    for (const auto& e : list) {
      json kept = json::object();
      if (member(e, "addresses").is_array()) kept["addresses"] = e["addresses"];
      const std::string uid = text(member(e, "targetRef"), "uid");
      if (!uid.empty()) kept["targetRef"] = {{"uid", uid}};
      endpoints.push_back(std::move(kept));
    }
  }
  out["endpoints"] = std::move(endpoints);
  return out;
}

}  // namespace mv::shutdown
