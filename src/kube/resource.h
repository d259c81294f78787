#pragma once
// Which API resource a request is about (group, version, plural name, scope), and the REST paths of it.

#include <string>
#include <string_view>

namespace mv::kube {

struct Resource {
  std::string group;     // "" for the core group
  std::string version;   // "v1", "v1alpha1"
  std::string resource;  // plural, lower case: "pods", "medivoteservices"
  std::string kind;      // "Pod", "MediVoteService"
  bool namespaced = true;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string qualifiedName() const { return group.empty() ? resource : resource + "." + group; }
};

namespace resources {
Resource pods();
Resource services();
Resource endpoints();
Resource endpointSlices();  // discovery.k8s.io/v1
Resource secrets();
Resource configMaps();
Resource events();         // core/v1
Resource eventsV1();       // events.k8s.io/v1
Resource namespaces();
Resource nodes();
Resource persistentVolumeClaims();
Resource leases();         // coordination.k8s.io/v1
Resource podDisruptionBudgets();
Resource customResourceDefinitions();
Resource mediVoteServices();  // medivote.io/v1alpha1
}  // namespace resources

// /api/v1 or /apis/<group>/<version>
std::string groupVersionPath(const Resource& r);
// The collection: .../namespaces/<ns>/<plural>, or .../<plural> for a cluster-scoped resource or an all-namespaces
// list (ns empty).
std::string collectionPath(const Resource& r, std::string_view ns);
// One object, optionally a subresource of it: .../<plural>/<name>[/<subresource>]. Name and namespace are
// percent-escaped.
std::string objectPath(const Resource& r, std::string_view ns, std::string_view name, std::string_view subresource = "");

// Percent-escapes a path segment or a query value (RFC 3986 unreserved characters stay).
std::string escape(std::string_view s);

}  // namespace mv::kube
