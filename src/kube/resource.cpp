#include "kube/resource.h"

#include <cctype>

#include <fmt/format.h>

namespace mv::kube {

namespace resources {
Resource pods() { return {"", "v1", "pods", "Pod", true}; }
Resource services() { return {"", "v1", "services", "Service", true}; }
Resource endpoints() { return {"", "v1", "endpoints", "Endpoints", true}; }
Resource endpointSlices() { return {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true}; }
Resource secrets() { return {"", "v1", "secrets", "Secret", true}; }
Resource configMaps() { return {"", "v1", "configmaps", "ConfigMap", true}; }
Resource events() { return {"", "v1", "events", "Event", true}; }
Resource eventsV1() { return {"events.k8s.io", "v1", "events", "Event", true}; }
Resource namespaces() { return {"", "v1", "namespaces", "Namespace", false}; }
Resource nodes() { return {"", "v1", "nodes", "Node", false}; }
Resource persistentVolumeClaims() { return {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true}; }
Resource leases() { return {"coordination.k8s.io", "v1", "leases", "Lease", true}; }
Resource podDisruptionBudgets() { return {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true}; }
Resource customResourceDefinitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false};
}
Resource mediVoteServices() { return {"medivote.io", "v1alpha1", "medivoteservices", "MediVoteService", true}; }
}  // namespace resources

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string groupVersionPath(const Resource& r) {
  return r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
}

std::string collectionPath(const Resource& r, std::string_view ns) {
  std::string p = groupVersionPath(r);
  if (r.namespaced && !ns.empty()) p += "/namespaces/" + escape(ns);
  return p + "/" + r.resource;
}

std::string objectPath(const Resource& r, std::string_view ns, std::string_view name, std::string_view subresource) {
  std::string p = collectionPath(r, r.namespaced ? ns : std::string_view()) + "/" + escape(name);
  if (!subresource.empty()) p += "/" + std::string(subresource);
  return p;
}

}  // namespace mv::kube
