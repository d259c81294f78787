// The runner's writes to the API, with the fake client: what it writes for each step, and in what order.
#include "shutdown/runner.h"

#include <doctest/doctest.h>

#include "api/names.h"
#include "support/fake_client.h"
#include "util/clock.h"

using namespace mv;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class NoCalls final : public shutdown::EndpointCaller {
 public:
  shutdown::EndpointAnswer call(const shutdown::EndpointRequest&) override {
    ++calls;
    return shutdown::classifyHttpStatus(202, std::nullopt, "202");
  }
  int calls = 0;
};

class NoEvents final : public runtime::events::EventRecorder {
 public:
  void record(const runtime::events::ObjectRef&, bool, const std::string& reason, const std::string&) override {
    reasons.push_back(reason);
  }
  std::vector<std::string> reasons;
};

// A critical pod as pod_builder makes it with reach agent: the service container's preStop hook is the agent's
// httpGet, its hold bound in the annotation.
json agentPod() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "vote-1", "namespace": "ns", "uid": "pod-uid",
                 "labels": {"medivote.io/serving": "true"},
                 "annotations": {"medivote.io/tier": "critical", "medivote.io/agent-hold-seconds": "20"}},
    "spec": {"containers": [{"name": "vote", "image": "vote:1",
                             "lifecycle": {"preStop": {"httpGet": {"path": "/prestop", "port": 9901}}}}]},
    "status": {"podIP": "10.244.0.9", "phase": "Running"}
  })");
}

shutdown::ShutdownPolicy criticalPolicy() {
  shutdown::ShutdownPolicy p;
  p.tier = api::Tier::Critical;
  p.hasEndpoint = true;
  p.gracePeriod = 40s;
  return p;
}

// A runner, its fake API and the drive input of an operator-chosen scale-down of agentPod().
struct Harness {
  testing::FakeClient client;
  NoCalls caller;
  NoEvents events;
  util::FakeClock clock;
  shutdown::ShutdownRunner runner{client, caller, events, nullptr, clock, [](const std::string&) {}, 1};
  shutdown::DriveInput in;

  Harness() {
    in.pod = client.put(kube::resources::pods(), agentPod());
    in.policy = criticalPolicy();
    in.startReason = "ScaleDown";
    in.serviceContainer = "vote";
    in.ownerKey = "ns/vote";
    in.inEndpoints = true;
  }
  ~Harness() { runner.stop(); }
};

}  // namespace

TEST_CASE("reach agent: the DELETE is the runner's first write to a pod it shuts down, the Draining state follows") {
  REQUIRE(std::string(api::kAnnotationAgentHold) == "medivote.io/agent-hold-seconds");
  Harness h;
  auto& client = h.client;
  auto& runner = h.runner;
  auto& in = h.in;
  runner.drive(in);
  runner.stop();

  std::vector<testing::FakeClient::Call> writes;
  for (const auto& c : client.calls())
    if (c.verb != "get" && c.verb != "list" && c.verb != "watch") writes.push_back(c);
  REQUIRE(writes.size() >= 1);
  CHECK(writes[0].verb == "remove");
  CHECK(writes[0].name == "vote-1");
  // The fake client removes at once, so the record that follows the delete finds no pod (404, nothing else).
  REQUIRE(writes.size() == 2);
  CHECK(writes[1].verb == "patch");
  CHECK(writes[1].body["metadata"]["annotations"]["medivote.io/shutdown-stage"] == "Draining");
  CHECK(writes[1].body["metadata"]["annotations"]["medivote.io/shutdown-reason"] == "ScaleDown");
  CHECK(writes[1].body["metadata"]["labels"]["medivote.io/serving"].is_null());
  CHECK(writes[1].body["metadata"]["uid"] == "pod-uid");
  CHECK(h.caller.calls == 0);  // called only once the pod is being deleted and drained
  CHECK(std::find(h.events.reasons.begin(), h.events.reasons.end(), "ShutdownTerminating") != h.events.reasons.end());
}

TEST_CASE("reach agent: a failing DELETE still leaves the shutdown recorded, and the next drive drains before deleting") {
  Harness h;
  auto& client = h.client;
  auto& runner = h.runner;
  auto& in = h.in;
  client.failNext("remove", "", kube::ApiError(500, kube::StatusReason::InternalError, "etcd is down", json::object()));
  CHECK_THROWS_AS(runner.drive(in), kube::ApiError);
  // Recorded although the delete failed: the stage is visible, and the serving label is gone.
  const auto stored = client.object(kube::resources::pods(), "ns", "vote-1");
  REQUIRE(stored);
  CHECK((*stored)["metadata"]["annotations"]["medivote.io/shutdown-stage"] == "Draining");
  CHECK_FALSE((*stored)["metadata"]["labels"].contains("medivote.io/serving"));
  CHECK(std::find(h.events.reasons.begin(), h.events.reasons.end(), "ShutdownTerminating") == h.events.reasons.end());

  // The retry, the pod still listed in its Service's slices: it waits for the drain before it deletes.
  in.pod = *stored;
  const auto waiting = runner.drive(in);
  CHECK(waiting.inProgress);
  REQUIRE(waiting.wakeAt);
  CHECK(client.calls("remove").size() == 1);
  // Out of the slices: deleted now, the drain recorded after the delete.
  in.inEndpoints = false;
  runner.drive(in);
  CHECK(client.calls("remove").size() == 2);
  runner.stop();
}
