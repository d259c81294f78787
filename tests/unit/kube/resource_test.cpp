#include "kube/resource.h"

#include <doctest/doctest.h>

using namespace mv::kube;

TEST_CASE("paths of core, grouped, cluster-scoped and custom resources") {
  CHECK(collectionPath(resources::pods(), "default") == "/api/v1/namespaces/default/pods");
  CHECK(collectionPath(resources::pods(), "") == "/api/v1/pods");
  CHECK(objectPath(resources::pods(), "ns", "web-0", "eviction") == "/api/v1/namespaces/ns/pods/web-0/eviction");
  CHECK(objectPath(resources::nodes(), "ignored", "n1") == "/api/v1/nodes/n1");
  CHECK(objectPath(resources::leases(), "kube-node-lease", "n1") ==
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1");
  CHECK(objectPath(resources::mediVoteServices(), "d", "vote", "scale") ==
        "/apis/medivote.io/v1alpha1/namespaces/d/medivoteservices/vote/scale");
  CHECK(resources::mediVoteServices().apiVersion() == "medivote.io/v1alpha1");
  CHECK(resources::pods().apiVersion() == "v1");
}

TEST_CASE("names and query values are escaped") {
  CHECK(escape("app=vote,tier in (critical)") == "app%3Dvote%2Ctier%20in%20%28critical%29");
  CHECK(objectPath(resources::configMaps(), "a/b", "x?y") == "/api/v1/namespaces/a%2Fb/configmaps/x%3Fy");
}
