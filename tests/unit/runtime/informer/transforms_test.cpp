#include "runtime/informer/transforms.h"

#include <doctest/doctest.h>

#include <vector>

#include "realistic_pod.h"
#include "runtime/informer/object_codec.h"

using namespace mv::runtime::informer;

namespace {

json realisticPod() { return json::parse(mv::testing::kRealisticPodJson); }

}  // namespace

TEST_CASE("stripManagedFields drops managedFields and the last-applied annotation, and nothing else") {
  json pod = realisticPod();
  pod["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{\"huge\":true}";
  json expected = pod;
  expected["metadata"].erase("managedFields");
  expected["metadata"]["annotations"].erase("kubectl.kubernetes.io/last-applied-configuration");
  CHECK(stripManagedFields(std::move(pod)) == expected);

  json onlyLastApplied = {{"metadata", {{"name", "x"},
                                        {"annotations",
                                         {{"kubectl.kubernetes.io/last-applied-configuration", "{}"}}}}}};
  CHECK_FALSE(stripManagedFields(std::move(onlyLastApplied))["metadata"].contains("annotations"));
}

TEST_CASE("projectPodForOperator keeps exactly what the operator reads") {
  json projected = projectPodForOperator(realisticPod());
  const json expected = json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
      "name": "backend-7d9f8c6b5-x2k4q", "namespace": "medivote", "uid": "5b3f2c1e-8a7d-4e2b-9c1f-0a1b2c3d4e5f",
      "resourceVersion": "184467",
      "labels": {"app": "backend", "app.kubernetes.io/part-of": "medivote", "medivote.io/tier": "critical",
                 "pod-template-hash": "7d9f8c6b5"},
      "annotations": {"medivote.io/shutdown-port": "8001", "kubectl.kubernetes.io/restartedAt": "2026-11-25T20:00:00Z"},
      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "backend-7d9f8c6b5",
                           "uid": "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b", "controller": true,
                           "blockOwnerDeletion": true}]
    },
    "spec": {
      "nodeName": "node-a", "terminationGracePeriodSeconds": 30,
      "containers": [{"name": "backend", "ports": [{"name": "http", "containerPort": 8001, "protocol": "TCP"}],
                      "lifecycle": {"preStop": {"httpGet": {"path": "/internal-shutdown", "port": 8001,
                                                            "scheme": "HTTP"}}}}]
    },
    "status": {
      "phase": "Running", "podIP": "10.244.1.17",
      "conditions": [{"type": "Ready", "status": "True"}],
      "containerStatuses": [{"name": "backend", "ready": true, "restartCount": 0, "started": true,
                             "state": {"running": {"startedAt": "2026-11-25T20:09:31Z"}}, "lastState": {}}]
    }
  })");
  CHECK(projected == expected);
}

TEST_CASE("projectPodForOperator keeps sidecar init containers' names, ports and restart policy") {
  json pod = realisticPod();
  pod["spec"]["initContainers"] = json::parse(R"([{"name": "agent", "image": "agent:1", "restartPolicy": "Always",
                                                  "ports": [{"containerPort": 9000}], "env": []}])");
  CHECK(projectPodForOperator(std::move(pod))["spec"]["initContainers"] ==
        json::parse(R"([{"name": "agent", "restartPolicy": "Always", "ports": [{"containerPort": 9000}]}])"));
}

TEST_CASE("projectPodForOperator keeps deletion fields and copes with a bare pod") {
  json pod = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"resourceVersion", "7"},
                            {"deletionTimestamp", "2026-11-25T20:10:00Z"}, {"deletionGracePeriodSeconds", 30},
                            {"managedFields", json::array()}}}};
  json projected = projectPodForOperator(std::move(pod));
  CHECK(projected["metadata"]["deletionTimestamp"] == "2026-11-25T20:10:00Z");
  CHECK(projected["metadata"]["deletionGracePeriodSeconds"] == 30);
  CHECK_FALSE(projected["metadata"].contains("managedFields"));
  CHECK(projected["spec"] == json::object());
  CHECK(projected["status"] == json::object());
}

TEST_CASE("the projected, encoded pod is a small fraction of the pod as sent") {
  const json pod = realisticPod();
  const std::size_t full = pod.dump().size();
  auto encoded = encodeObject(projectPodForOperator(json(pod)));
  INFO("full " << full << " bytes, cached " << encoded.size() << " bytes");
  CHECK(encoded.size() * 4 < full);
  CHECK(decodeObject(encoded) == projectPodForOperator(json(pod)));
}

TEST_CASE("compose applies transforms in order") {
  Transform addA = [](json&& o) { o["trail"].push_back("a"); return std::move(o); };
  Transform addB = [](json&& o) { o["trail"].push_back("b"); return std::move(o); };
  CHECK(compose(addA, addB)(json::object())["trail"] == json::array({"a", "b"}));
}

namespace {

// `pods` as a list page decoded with podOperatorFields(), item by item, as the informer's list gets them.
std::vector<json> decodedWithPodFields(const std::vector<json>& pods) {
  json page = {{"kind", "PodList"}, {"metadata", {{"resourceVersion", "1"}}}, {"items", pods}};
  std::vector<json> out;
  REQUIRE(mv::kube::parseJsonList(
      page.dump(), [](const json&) { return true; }, [&](json&& item) { out.push_back(std::move(item)); },
      podOperatorFields().get()));
  return out;
}

}  // namespace

TEST_CASE("podOperatorFields: a pod decoded with only these members projects exactly as the whole pod does") {
  json terminating = realisticPod();
  terminating["metadata"]["deletionTimestamp"] = "2026-11-25T20:10:00Z";
  terminating["metadata"]["deletionGracePeriodSeconds"] = 30;
  terminating["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{\"a\":1}";
  terminating["spec"]["initContainers"] = json::parse(
      R"([{"name":"medivote-agent","image":"agent:1","restartPolicy":"Always","ports":[{"containerPort":9000}],
           "env":[{"name":"X","value":"y"}]}, "not an object"])");
  terminating["status"]["containerStatuses"][0]["lastState"] =
      json::parse(R"({"terminated":{"exitCode":0,"reason":"Completed","finishedAt":"2026-11-25T20:09:58Z"}})");
  json sparse = json::parse(R"({"metadata":{"name":"p","namespace":"n","resourceVersion":"7"},"status":{}})");
  json odd = json::parse(R"({"metadata":{"name":"q","namespace":"n","resourceVersion":"8"},"spec":{"containers":5},
                              "status":{"conditions":[{"type":"Ready"},3,{"type":"PodScheduled","status":"True"}]}})");
  const std::vector<json> pods = {realisticPod(), terminating, sparse, odd};
  const std::vector<json> decoded = decodedWithPodFields(pods);
  REQUIRE(decoded.size() == pods.size());
  for (std::size_t i = 0; i < pods.size(); ++i) {
    CAPTURE(i);
    CHECK(decoded[i].dump().size() < pods[i].dump().size() + (i >= 2 ? 1 : 0));  // never more than the pod
    CHECK(projectPodForOperator(json(decoded[i])) == projectPodForOperator(json(pods[i])));
    CHECK(encodeObject(projectPodForOperator(json(decoded[i]))).bytes() ==
          encodeObject(projectPodForOperator(json(pods[i]))).bytes());
  }
  // What was left out: the largest parts of a pod the operator never reads.
  CHECK_FALSE(decoded[0]["metadata"].contains("managedFields"));
  CHECK_FALSE(decoded[0]["spec"].contains("volumes"));
  CHECK_FALSE(decoded[0]["spec"]["containers"][0].contains("env"));
  CHECK(decoded[0].dump().size() * 3 < pods[0].dump().size());
}
