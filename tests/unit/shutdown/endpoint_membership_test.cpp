// A pod's membership in its Service's EndpointSlices, and the projection the slice informer caches.
#include "shutdown/endpoint_membership.h"

#include <doctest/doctest.h>

using namespace mv::shutdown;

namespace {

// An endpoint as the endpoint slice controller writes it for a pod (discovery.k8s.io/v1).
json endpoint(const std::string& ip, const std::string& uid, bool ready = true) {
  json e = {{"addresses", json::array({ip})},
            {"conditions", {{"ready", ready}, {"serving", ready}, {"terminating", !ready}}},
            {"nodeName", "node-a"}};
  if (!uid.empty()) e["targetRef"] = {{"kind", "Pod"}, {"namespace", "ns"}, {"name", "vote-" + uid}, {"uid", uid}};
  return e;
}

json slice(const std::string& name, json endpoints) {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"uid", "s-" + name},
            {"resourceVersion", "42"},
            {"labels",
             {{"kubernetes.io/service-name", "vote"},
              {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"},
              {"app.kubernetes.io/managed-by", "medivote-operator"}}},
            {"ownerReferences", json::array({{{"kind", "Service"}, {"name", "vote"}, {"controller", true}}})},
            {"managedFields", json::array({{{"manager", "kube-controller-manager"}}})}}},
          {"addressType", "IPv4"},
          {"ports", json::array({{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}})},
          {"endpoints", std::move(endpoints)}};
}

}  // namespace

TEST_CASE("a pod is in while an endpoint of any slice of its Service names its uid") {
  const std::vector<json> slices = {slice("vote-a", json::array({endpoint("10.0.0.1", "u1")})),
                                    slice("vote-b", json::array({endpoint("10.0.0.2", "u2")}))};
  CHECK(inEndpointSlices("u1", "10.0.0.1", slices));
  CHECK(inEndpointSlices("u2", "10.0.0.2", slices));  // found in the second slice
  CHECK_FALSE(inEndpointSlices("u3", "10.0.0.3", slices));
}

TEST_CASE("a listed endpoint counts whatever its conditions: a terminating one may still get traffic") {
  const std::vector<json> slices = {slice("vote-a", json::array({endpoint("10.0.0.1", "u1", false)}))};
  CHECK(inEndpointSlices("u1", "10.0.0.1", slices));
}

TEST_CASE("the targetRef uid decides: a replacement pod reusing the IP is another pod") {
  const std::vector<json> slices = {slice("vote-a", json::array({endpoint("10.0.0.1", "old-uid")}))};
  CHECK_FALSE(inEndpointSlices("new-uid", "10.0.0.1", slices));
  CHECK(inEndpointSlices("old-uid", "10.9.9.9", slices));  // the IP is not needed when the uid matches
}

TEST_CASE("without a targetRef, the pod's IP among the addresses decides") {
  json e = endpoint("10.0.0.1", "");
  e["addresses"] = json::array({"10.0.0.5", "10.0.0.1"});
  const std::vector<json> slices = {slice("manual", json::array({e}))};
  CHECK(inEndpointSlices("u1", "10.0.0.1", slices));
  CHECK_FALSE(inEndpointSlices("u1", "10.0.0.2", slices));
  CHECK_FALSE(inEndpointSlices("u1", "", slices));  // a pod without an IP matches no address
}

TEST_CASE("no slices, empty or null endpoints, malformed entries: out, never an exception") {
  CHECK_FALSE(inEndpointSlices("u1", "10.0.0.1", {}));
  CHECK_FALSE(inEndpointSlices("u1", "10.0.0.1", {slice("vote-a", json::array())}));
  CHECK_FALSE(inEndpointSlices("u1", "10.0.0.1", {slice("vote-a", nullptr)}));
  CHECK_FALSE(inEndpointSlices("u1", "10.0.0.1", {slice("vote-a", json::array({42, "x", json::object()}))}));
  CHECK_FALSE(inEndpointSlices("u1", "10.0.0.1", {json("garbage"), json::object()}));
}

TEST_CASE("a slice's Service key comes from its kubernetes.io/service-name label") {
  CHECK(serviceKeyOfSlice(slice("vote-a", json::array())) == "ns/vote");
  json unlabelled = slice("x", json::array());
  unlabelled["metadata"].erase("labels");
  CHECK(serviceKeyOfSlice(unlabelled) == "");
  CHECK(serviceKeyOfSlice(json::object()) == "");
}

TEST_CASE("the projection keeps what membership and the cache need, and drops the rest") {
  json raw = slice("vote-a", json::array({endpoint("10.0.0.1", "u1"), endpoint("10.0.0.2", "")}));
  const json original = raw;
  const json p = projectEndpointSliceForDrain(json(raw));
  CHECK(p["apiVersion"] == "discovery.k8s.io/v1");
  CHECK(p["kind"] == "EndpointSlice");
  CHECK(p["metadata"] == json{{"name", "vote-a"}, {"namespace", "ns"}, {"uid", "s-vote-a"},
                              {"resourceVersion", "42"}, {"labels", {{"kubernetes.io/service-name", "vote"}}}});
  CHECK(p["endpoints"] == json::array({{{"addresses", {"10.0.0.1"}}, {"targetRef", {{"uid", "u1"}}}},
                                       {{"addresses", {"10.0.0.2"}}}}));
  CHECK_FALSE(p.contains("ports"));
  // Membership and the Service key read the same from the projection as from the slice.
  for (const auto& [uid, ip] : std::vector<std::pair<std::string, std::string>>{
           {"u1", "10.0.0.1"}, {"u9", "10.0.0.2"}, {"u9", "10.0.0.1"}, {"u2", "10.0.0.3"}})
    CHECK(inEndpointSlices(uid, ip, {p}) == inEndpointSlices(uid, ip, {original}));
  CHECK(serviceKeyOfSlice(p) == serviceKeyOfSlice(original));
  // Deterministic (a relist compares projections).
  CHECK(projectEndpointSliceForDrain(json(original)) == p);
  CHECK(projectEndpointSliceForDrain(json{{"metadata", {{"name", "x"}}}})["endpoints"] == json::array());
}
