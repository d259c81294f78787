// The runner's writes to the API, with the fake client: what it writes for each step, and in what order.
#include "shutdown/runner.h"

#include <doctest/doctest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

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

// --- The call pool (issue 15 items 2, 3 and 10) -------------------------------------------------------------------

namespace {

// Answers 202 at once, except to the IPs in `blocked`, whose calls hang until release() (a never-answering pod).
class ScriptedCaller final : public shutdown::EndpointCaller {
 public:
  shutdown::EndpointAnswer call(const shutdown::EndpointRequest& r) override {
    std::unique_lock<std::mutex> lock(mu_);
    called_.push_back(r.ip);
    changed_.notify_all();
    // Bounded in real time, so that a failing test ends.
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return !blocked_.count(r.ip); });
    return shutdown::classifyHttpStatus(202, std::nullopt, "202");
  }
  void block(const std::string& ip) {
    std::lock_guard<std::mutex> g(mu_);
    blocked_.insert(ip);
  }
  void releaseAll() {
    std::lock_guard<std::mutex> g(mu_);
    blocked_.clear();
    changed_.notify_all();
  }
  std::vector<std::string> called() const {
    std::lock_guard<std::mutex> g(mu_);
    return called_;
  }
  bool wasCalled(const std::string& ip) const {
    const auto c = called();
    return std::find(c.begin(), c.end(), ip) != c.end();
  }
  // Waits (really, bounded) until `n` calls were made.
  bool awaitCalls(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return called_.size() >= n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::set<std::string> blocked_;
  std::vector<std::string> called_;
};

class MapPodLookup final : public shutdown::PodLookup {
 public:
  std::optional<shutdown::PodIdentity> find(const std::string& ns, const std::string& name) const override {
    std::lock_guard<std::mutex> g(mu_);
    auto it = pods_.find(ns + "/" + name);
    if (it == pods_.end()) return std::nullopt;
    return it->second;
  }
  void set(const std::string& key, shutdown::PodIdentity id) {
    std::lock_guard<std::mutex> g(mu_);
    pods_[key] = std::move(id);
  }
  void erase(const std::string& key) {
    std::lock_guard<std::mutex> g(mu_);
    pods_.erase(key);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, shutdown::PodIdentity> pods_;
};

// A critical reach-direct pod (preStop sleep 30 s) of MediVoteService `owner`.
json directPod(const std::string& name, const std::string& uid, const std::string& ip) {
  json pod = json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"namespace": "ns", "labels": {"medivote.io/serving": "true"},
                 "annotations": {"medivote.io/tier": "critical"}},
    "spec": {"containers": [{"name": "vote", "image": "vote:1", "lifecycle": {"preStop": {"sleep": {"seconds": 30}}}}]},
    "status": {"phase": "Running"}
  })");
  pod["metadata"]["name"] = name;
  pod["metadata"]["uid"] = uid;
  pod["status"]["podIP"] = ip;
  return pod;
}

// A runner on a scripted caller, and the drive inputs of its pods.
struct PoolHarness {
  testing::FakeClient client;
  ScriptedCaller caller;
  NoEvents events;
  util::FakeClock clock;
  MapPodLookup lookup;
  std::mutex mu;
  std::vector<std::string> requeued;
  shutdown::ShutdownRunner runner;

  PoolHarness(int maxCalls, shutdown::RunnerOptions options = {})
      : runner(client, caller, events, nullptr, clock,
               [this](const std::string& key) {
                 std::lock_guard<std::mutex> g(mu);
                 requeued.push_back(key);
               },
               maxCalls, withLookup(options)) {}
  ~PoolHarness() {
    caller.releaseAll();
    runner.stop();
  }
  shutdown::RunnerOptions withLookup(shutdown::RunnerOptions o) {
    o.pods = &lookup;
    return o;
  }

  // A pod of `owner` the operator scales down (its call is not urgent), or one someone else deleted (urgent).
  shutdown::DriveInput input(const std::string& owner, const std::string& name, const std::string& ip,
                             bool deletedBySomeoneElse) {
    json pod = directPod(name, name + "-uid", ip);
    if (deletedBySomeoneElse) {
      pod["metadata"]["deletionTimestamp"] = util::formatTimeMillis(clock.wallNow() + 40s);
      pod["metadata"]["deletionGracePeriodSeconds"] = 40;
    } else {
      // Draining since long enough that the kubelet sync of that write is over (kKubeletSyncSettle): due for its call.
      shutdown::ShutdownState draining;
      draining.stage = shutdown::Stage::Draining;
      draining.reason = "ScaleDown";
      draining.startedAt = clock.wallNow() - shutdown::kKubeletSyncSettle;
      const json annotations = shutdown::stateAnnotationsPatch(draining);
      for (const auto& [key, value] : annotations.items())
        if (!value.is_null()) pod["metadata"]["annotations"][key] = value;
      pod["metadata"]["labels"].erase("medivote.io/serving");
    }
    shutdown::DriveInput in;
    in.pod = client.put(kube::resources::pods(), pod);
    in.policy = criticalPolicy();
    in.startReason = deletedBySomeoneElse ? "" : "ScaleDown";
    in.serviceContainer = "vote";
    in.ownerKey = owner;
    in.inEndpoints = false;  // drained at once
    shutdown::EndpointRequest target;
    target.ip = ip;
    target.port = 8080;
    in.target = target;
    lookup.set("ns/" + name, {name + "-uid", ip});
    return in;
  }
  std::size_t patchesOf(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& c : client.calls("patch"))
      if (c.name == name) ++n;
    return n;
  }
};

}  // namespace

TEST_CASE("call pool: 66 never-answering pods of one resource do not hold up another resource's call") {
  PoolHarness h(8);  // 8 threads, 2 per resource
  for (int i = 0; i < 66; ++i) {
    const std::string ip = "10.0.1." + std::to_string(i + 1);
    h.caller.block(ip);
    h.runner.drive(h.input("ns/slow", "slow-" + std::to_string(i), ip, false));
  }
  REQUIRE(h.caller.awaitCalls(2));
  // Another resource's scale-down, and a pod of it deleted by someone else (its preStop clock is running).
  h.runner.drive(h.input("ns/other", "other-0", "10.0.2.1", false));
  h.runner.drive(h.input("ns/other", "other-1", "10.0.2.2", true));
  REQUIRE(h.caller.awaitCalls(4));
  CHECK(h.caller.wasCalled("10.0.2.1"));
  CHECK(h.caller.wasCalled("10.0.2.2"));
  // The slow resource holds its 2 threads, no more: 64 of its calls still wait.
  std::size_t slow = 0;
  for (const auto& ip : h.caller.called()) slow += ip.rfind("10.0.1.", 0) == 0;
  CHECK(slow == 2);
}

TEST_CASE("call pool: a pod deleted by someone else is called before the calls queued earlier") {
  PoolHarness h(1);  // one thread: the order is the queue's
  h.caller.block("10.0.3.1");
  h.runner.drive(h.input("ns/a", "a-0", "10.0.3.1", false));
  REQUIRE(h.caller.awaitCalls(1));
  h.runner.drive(h.input("ns/a", "a-1", "10.0.3.2", false));
  h.runner.drive(h.input("ns/b", "b-0", "10.0.3.3", false));
  h.runner.drive(h.input("ns/b", "b-external", "10.0.3.4", true));
  h.caller.releaseAll();
  REQUIRE(h.caller.awaitCalls(4));
  const auto order = h.caller.called();
  CHECK(order[1] == "10.0.3.4");
}

TEST_CASE("call pool: a queued call whose pod was replaced, deleted or re-addressed meanwhile is not made") {
  PoolHarness h(1);
  h.caller.block("10.0.4.1");
  h.runner.drive(h.input("ns/a", "busy", "10.0.4.1", false));
  REQUIRE(h.caller.awaitCalls(1));
  h.runner.drive(h.input("ns/a", "replaced", "10.0.4.2", false));
  h.runner.drive(h.input("ns/a", "gone", "10.0.4.3", false));
  h.runner.drive(h.input("ns/a", "moved", "10.0.4.4", false));
  h.runner.drive(h.input("ns/a", "same", "10.0.4.5", false));
  h.lookup.set("ns/replaced", {"another-uid", "10.0.4.2"});
  h.lookup.erase("ns/gone");
  h.lookup.set("ns/moved", {"moved-uid", "10.0.4.99"});
  h.caller.releaseAll();
  // The owner is reconciled again for the dropped calls too, so that it decides afresh: 2 answers, 3 drops.
  auto requeues = [&] {
    std::lock_guard<std::mutex> g(h.mu);
    return std::count(h.requeued.begin(), h.requeued.end(), "ns/a");
  };
  for (int i = 0; i < 3000 && requeues() < 5; ++i) std::this_thread::sleep_for(1ms);
  CHECK(requeues() == 5);
  h.runner.stop();
  CHECK(h.caller.called() == std::vector<std::string>{"10.0.4.1", "10.0.4.5"});
}

TEST_CASE("call pool: cancel drops the queued calls and abandons the one in flight without writing its answer") {
  PoolHarness h(1);
  h.caller.block("10.0.5.1");
  h.runner.drive(h.input("ns/a", "in-flight", "10.0.5.1", false));
  REQUIRE(h.caller.awaitCalls(1));
  h.runner.drive(h.input("ns/a", "queued", "10.0.5.2", false));
  const std::size_t before = h.patchesOf("in-flight");
  h.runner.cancel();
  // Leadership ended: a new shutdown starts no call either.
  h.runner.drive(h.input("ns/b", "later", "10.0.5.3", false));
  h.caller.releaseAll();
  CHECK(h.runner.stop(h.clock.now() + 5s));
  CHECK(h.caller.called() == std::vector<std::string>{"10.0.5.1"});
  CHECK(h.patchesOf("in-flight") == before);  // the answer was not recorded
  CHECK(h.client.calls("remove").empty());
}

TEST_CASE("call pool: call threads end after an idle time, so none stay after a burst") {
  shutdown::RunnerOptions o;
  o.idleThreadTimeout = 30s;
  PoolHarness h(8, o);
  for (int i = 0; i < 8; ++i)
    h.runner.drive(h.input("ns/a" + std::to_string(i), "p" + std::to_string(i), "10.0.6." + std::to_string(i + 1), false));
  REQUIRE(h.caller.awaitCalls(8));
  CHECK(h.runner.callThreads() >= 1);
  CHECK(h.runner.callThreads() <= 8);
  REQUIRE(h.clock.awaitWaiters(h.runner.callThreads()));  // every thread idle, waiting on the clock
  h.clock.advance(31s);
  for (int i = 0; i < 3000 && h.runner.callThreads() > 0; ++i) std::this_thread::sleep_for(1ms);
  CHECK(h.runner.callThreads() == 0);
}

TEST_CASE("reach direct: nothing is written between the drain and the call, the answer is recorded after the DELETE") {
  PoolHarness h(1);
  h.runner.drive(h.input("ns/a", "a-0", "10.0.5.1", false));
  REQUIRE(h.caller.awaitCalls(1));
  // The answer's handling runs on the call thread: wait (bounded) for its writes.
  for (int i = 0; i < 600 && h.client.calls("patch").empty(); ++i) std::this_thread::sleep_for(5ms);
  std::vector<testing::FakeClient::Call> writes;
  for (const auto& c : h.client.calls())
    if (c.verb == "patch" || c.verb == "remove") writes.push_back(c);
  // A write to a pod not being deleted starts a kubelet sync that restarts a service exiting within it: the attempt
  // goes unrecorded until the answer, and the accepted pod is deleted before that record.
  REQUIRE(writes.size() == 2);
  CHECK(writes[0].verb == "remove");
  CHECK(writes[1].verb == "patch");
  const json& a = writes[1].body["metadata"]["annotations"];
  CHECK(a["medivote.io/shutdown-stage"] == "Accepted");
  CHECK(a["medivote.io/shutdown-drain"] == "drained");
}
