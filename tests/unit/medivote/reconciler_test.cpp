// The reconciler against the fake API client: the agent's token Secret comes before any pod that mounts it, a foreign
// one blocks the resource with a clear condition, and Degraded ShutdownMisconfigured clears when its cause is gone.
#include "medivote/reconciler.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include "runtime/informer/store.h"
#include "support/fake_client.h"
#include "util/base64.h"
#include "util/time_format.h"

using namespace mv;
using namespace mv::medivote;
using json = nlohmann::json;
using mv::testing::FakeClient;

namespace {

// Answers each call with the status scripted for the pod's IP (default 202), and records the bearer tokens.
class ScriptedCaller final : public shutdown::EndpointCaller {
 public:
  shutdown::EndpointAnswer call(const shutdown::EndpointRequest& r) override {
    std::lock_guard<std::mutex> g(mu_);
    tokens.push_back(r.bearerToken.value_or(""));
    const int status = byIp.count(r.ip) ? byIp[r.ip] : 202;
    return shutdown::classifyHttpStatus(status, std::nullopt, std::to_string(status));
  }
  std::map<std::string, int> byIp;
  std::vector<std::string> tokens;

 private:
  std::mutex mu_;
};

class RecordedEvents final : public runtime::events::EventRecorder {
 public:
  void record(const runtime::events::ObjectRef& object, bool warning, const std::string& reason,
              const std::string& message) override {
    std::lock_guard<std::mutex> g(mu_);
    all.push_back({object.name, warning, reason, message});
  }
  struct Event {
    std::string object;  // name
    bool warning;
    std::string reason;
    std::string message;
  };
  std::vector<Event> snapshot() {
    std::lock_guard<std::mutex> g(mu_);
    return all;
  }

 private:
  std::mutex mu_;
  std::vector<Event> all;
};

json mvsObject(const std::string& reach, bool tokenRef, int replicas) {
  json o = json::parse(R"({
    "apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
    "metadata": {"name": "node", "namespace": "ns", "uid": "mvs-uid", "generation": 1,
                 "finalizers": ["medivote.io/graceful-shutdown"]},
    "spec": {"tier": "critical",
             "template": {"spec": {"containers": [{"name": "node", "image": "node:1",
                                                   "ports": [{"name": "http", "containerPort": 8546}]}]}},
             "shutdown": {"endpoint": {"port": "http", "path": "/shutdown"}, "maxConcurrent": 1,
                          "preStopSleepSeconds": 20}}
  })");
  o["spec"]["replicas"] = replicas;
  o["spec"]["shutdown"]["endpoint"]["reach"] = reach;
  if (tokenRef) o["spec"]["shutdown"]["endpoint"]["tokenSecretRef"] = {{"name", "node-token"}};
  return o;
}

struct Harness {
  FakeClient client;
  util::FakeClock clock;
  runtime::informer::Store mvss, pods, services, slices;
  ScriptedCaller caller;
  RecordedEvents events;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  shutdown::ShutdownRunner runner{client, caller, events, nullptr, clock,
                                  [this](const std::string&) {
                                    std::lock_guard<std::mutex> g(mu);
                                    ++answered;
                                    cv.notify_all();
                                  },
                                  1};
  bool slicesSynced = true;
  double secretRefreshQps = 0;
  MediVoteReconciler reconciler{client, {mvss, pods, services, &slices, [this] { return slicesSynced; }}, runner,
                                events, clock, PodSettings{}, secretRefreshQps};

  std::string name;  // the resource's

  explicit Harness(const json& mvs, double refreshQps = 0)
      : secretRefreshQps(refreshQps), name(mvs["metadata"]["name"].get<std::string>()) {
    client.put(kube::resources::mediVoteServices(), mvs);
    sync();
  }
  ~Harness() { runner.stop(); }

  // The informer caches as the API server now is. Pods and Services as the operator's informers see them: only
  // those with its managed-by label.
  void sync() {
    auto mirror = [&](const kube::Resource& r, runtime::informer::Store& store, bool managedOnly = false) {
      const json list = client.list(r, "ns");
      std::vector<std::string> present;
      for (const auto& item : list["items"]) {
        if (managedOnly && item.value("/metadata/labels/app.kubernetes.io~1managed-by"_json_pointer, std::string()) !=
                               "medivote-operator")
          continue;
        store.upsert(item);
        present.push_back("ns/" + item["metadata"]["name"].get<std::string>());
      }
      for (const auto& k : store.listKeys())
        if (std::find(present.begin(), present.end(), k) == present.end()) store.erase(k);
    };
    mirror(kube::resources::mediVoteServices(), mvss);
    mirror(kube::resources::pods(), pods, true);
    mirror(kube::resources::services(), services, true);
  }
  runtime::reconcile::Result reconcile() {
    auto r = reconciler.reconcile(runtime::reconcile::Request::fromKey("ns/" + name, "test"));
    sync();
    return r;
  }
  // A reconcile, then another once the kubelet sync of its pod writes is over: a pod reached directly is called no
  // sooner than shutdown::kKubeletSyncSettle after its Draining write.
  void reconcileAndSettle() {
    reconcile();
    clock.advance(shutdown::kKubeletSyncSettle);
    reconcile();
  }
  bool awaitAnswers(int n, std::chrono::milliseconds within = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, within, [&] { return answered >= n; });
  }
  int answers() {
    std::lock_guard<std::mutex> g(mu);
    return answered;
  }
  // A running, Ready pod of the resource at `ordinal`.
  void runningPod(int ordinal) {
    const auto mvs = api::parseMediVoteService(*client.object(kube::resources::mediVoteServices(), "ns", "node")).object;
    json pod = buildPod(mvs, ordinal, api::Tier::Critical, PodSettings{});
    pod["status"] = {{"phase", "Running"},
                     {"podIP", "127.77.0." + std::to_string(ordinal + 2)},
                     {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
    client.put(kube::resources::pods(), pod);
  }
  json degraded() {
    const json mvs = *client.object(kube::resources::mediVoteServices(), "ns", name);
    for (const auto& c : mvs.value("/status/conditions"_json_pointer, json::array()))
      if (c["type"] == "Degraded") return c;
    return nullptr;
  }
  std::vector<std::string> verbsOn(const std::string& resource) {
    std::vector<std::string> out;
    for (const auto& c : client.calls())
      if (c.resource == resource) out.push_back(c.verb);
    return out;
  }
};

std::size_t indexOfFirst(const std::vector<FakeClient::Call>& calls, const std::string& verb,
                         const std::string& resource) {
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (calls[i].verb == verb && calls[i].resource == resource) return i;
  return calls.size();
}

}  // namespace

TEST_CASE("reach agent without tokenSecretRef: the operator's Secret is created before the pods that mount it") {
  Harness h(mvsObject("agent", false, 2));
  h.reconcile();
  const auto calls = h.client.calls();
  const std::size_t secret = indexOfFirst(calls, "create", "secrets");
  const std::size_t pod = indexOfFirst(calls, "create", "pods");
  REQUIRE(secret < calls.size());
  REQUIRE(pod < calls.size());
  CHECK(secret < pod);
  CHECK(h.client.objectCount(kube::resources::pods()) == 2);
  const auto created = h.client.object(kube::resources::pods(), "ns", "node-0");
  REQUIRE(created);
  CHECK(created->dump().find("\"secretName\":\"node-agent-token\"") != std::string::npos);
  CHECK(h.degraded()["status"] == "False");
  // Later reconciles reuse it: no second create, and no read until the resync.
  h.reconcile();
  h.reconcile();
  const auto verbs = h.verbsOn("secrets");
  CHECK(std::count(verbs.begin(), verbs.end(), "create") == 1);
  CHECK(std::count(verbs.begin(), verbs.end(), "get") == 1);
}

TEST_CASE("with the Secret refreshes paced, the resource is reconciled again at its refresh's slot, not before") {
  Harness h(mvsObject("agent", false, 1), 1.0);  // one refresh a second
  json other = mvsObject("agent", false, 1);
  other["metadata"]["name"] = "other";
  other["metadata"]["uid"] = "other-uid";
  h.client.put(kube::resources::mediVoteServices(), other);
  h.sync();
  const auto otherKey = runtime::reconcile::Request::fromKey("ns/other", "test");
  h.reconcile();
  h.reconciler.reconcile(otherKey);
  auto gets = [&] {
    const auto verbs = h.verbsOn("secrets");
    return std::count(verbs.begin(), verbs.end(), "get");
  };
  REQUIRE(gets() == 2);
  h.clock.advance(TokenSecrets::kResync);
  h.reconciler.reconcile(otherKey);  // takes the budget's slot: its Secret is read
  REQUIRE(gets() == 3);
  const auto deferred = h.reconcile();
  CHECK(gets() == 3);  // node's copy is used until its slot
  REQUIRE(deferred.kind() == runtime::reconcile::Result::Kind::RequeueAfter);
  CHECK(deferred.after() == std::chrono::seconds(1));
  h.clock.advance(std::chrono::seconds(1));
  const auto refreshed = h.reconcile();
  CHECK(gets() == 4);
  REQUIRE(refreshed.kind() == runtime::reconcile::Result::Kind::RequeueAfter);
  CHECK(refreshed.after() == std::chrono::duration_cast<runtime::reconcile::Result::Duration>(TokenSecrets::kResync));
}

TEST_CASE("the resource using the operator's Secret is reconciled again within a resync, which re-creates it") {
  Harness h(mvsObject("agent", false, 1));
  const auto first = h.reconcile();
  REQUIRE(first.kind() == runtime::reconcile::Result::Kind::RequeueAfter);
  CHECK(first.after() <= std::chrono::duration_cast<runtime::reconcile::Result::Duration>(TokenSecrets::kResync));
  const std::string before = h.client.object(kube::resources::secrets(), "ns", "node-agent-token")->at("data").dump();
  h.client.erase(kube::resources::secrets(), "ns", "node-agent-token");
  h.clock.advance(TokenSecrets::kResync);
  h.reconcile();
  const auto again = h.client.object(kube::resources::secrets(), "ns", "node-agent-token");
  REQUIRE(again);
  CHECK(again->at("data").dump() != before);  // a new token
  CHECK(h.client.objectCount(kube::resources::pods()) == 1);  // the running pod is left alone
}

TEST_CASE("a foreign Secret of the operator's name: Degraded with an Event, no pod created, nothing deleted") {
  Harness h(mvsObject("agent", false, 2));
  h.client.put(kube::resources::secrets(),
               {{"apiVersion", "v1"}, {"kind", "Secret"},
                {"metadata", {{"name", "node-agent-token"}, {"namespace", "ns"}}},
                {"data", {{"token", util::base64Encode("not-ours")}}}});
  h.reconcile();
  CHECK(h.client.objectCount(kube::resources::pods()) == 0);
  CHECK(h.degraded()["status"] == "True");
  CHECK(h.degraded()["reason"] == "TokenSecretNotOwned");
  const auto events = h.events.snapshot();
  CHECK(std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.warning && e.reason == "TokenSecretNotOwned" && e.object == "node";
  }));
  for (const auto& e : events) CHECK(e.message.find("not-ours") == std::string::npos);
  CHECK(h.degraded().dump().find("not-ours") == std::string::npos);
  const auto verbs = h.verbsOn("secrets");
  CHECK(std::count(verbs.begin(), verbs.end(), "create") == 0);
  CHECK(h.client.calls("remove").empty());
  CHECK(h.client.object(kube::resources::secrets(), "ns", "node-agent-token"));
}

namespace {
// The user's token Secret `node-token` (token "s3cret"), as a resource with tokenSecretRef names it.
void userTokenSecret(Harness& h) {
  h.client.put(kube::resources::secrets(),
               {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "node-token"}, {"namespace", "ns"}}},
                {"data", {{"token", util::base64Encode("s3cret")}}}});
}

// Two running pods, node-0 and node-1, and the resource scaled to one.
void twoPodsScaledToOne(Harness& h) {
  h.runningPod(0);
  h.runningPod(1);
  h.sync();
  h.client.patch(kube::resources::mediVoteServices(), "ns", "node", kube::PatchType::Merge,
                 {{"spec", {{"replicas", 1}}}});
  h.sync();
}

// A critical resource reached directly with the user's token Secret, two running pods scaled to one: the shutdown
// of node-1 is answered 401. Returns with Degraded ShutdownMisconfigured reported.
void misconfigured(Harness& h) {
  userTokenSecret(h);
  h.runningPod(0);
  h.runningPod(1);
  h.sync();
  h.caller.byIp["127.77.0.3"] = 401;  // node-1
  h.reconcileAndSettle();
  REQUIRE(h.awaitAnswers(1));
  CHECK(h.caller.tokens == std::vector<std::string>{"s3cret"});
  h.reconcile();
  REQUIRE(h.degraded()["status"] == "True");
  REQUIRE(h.degraded()["reason"] == "ShutdownMisconfigured");
  // It holds while nothing changes.
  h.clock.advance(std::chrono::minutes(20));
  h.reconcile();
  CHECK(h.degraded()["reason"] == "ShutdownMisconfigured");
}
}  // namespace

TEST_CASE("Degraded ShutdownMisconfigured clears after a successful HTTP shutdown of a pod of the resource") {
  Harness h(mvsObject("direct", true, 1));
  misconfigured(h);
  // Scale to zero: node-0's endpoint accepts.
  json mvs = *h.client.object(kube::resources::mediVoteServices(), "ns", "node");
  mvs["spec"]["replicas"] = 0;
  h.client.put(kube::resources::mediVoteServices(), mvs);  // same generation: only the answer can clear it
  h.sync();
  h.reconcileAndSettle();
  REQUIRE(h.awaitAnswers(2));
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
  CHECK(h.degraded()["reason"] == "AsExpected");
}

TEST_CASE("Degraded ShutdownMisconfigured clears when the spec generation changes") {
  Harness h(mvsObject("direct", true, 1));
  misconfigured(h);
  json mvs = *h.client.object(kube::resources::mediVoteServices(), "ns", "node");
  mvs["metadata"]["generation"] = 2;
  h.client.put(kube::resources::mediVoteServices(), mvs);
  h.sync();
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
}

TEST_CASE("Degraded ShutdownMisconfigured clears when the token Secret's resourceVersion changes") {
  Harness h(mvsObject("direct", true, 1));
  misconfigured(h);
  json secret = *h.client.object(kube::resources::secrets(), "ns", "node-token");
  secret["data"]["token"] = util::base64Encode("fixed");
  h.client.put(kube::resources::secrets(), secret);
  h.reconcile();  // within the resync the Secret is not re-read: still reported
  CHECK(h.degraded()["status"] == "True");
  h.clock.advance(TokenSecrets::kResync);
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
}

TEST_CASE("a restarted operator keeps a reported misconfiguration until its cause changes") {
  Harness first(mvsObject("direct", true, 1));
  misconfigured(first);
  // A new operator (or leader) with the same API state: it adopts what the status reports.
  Harness second(*first.client.object(kube::resources::mediVoteServices(), "ns", "node"));
  second.client.put(kube::resources::secrets(), *first.client.object(kube::resources::secrets(), "ns", "node-token"));
  second.runningPod(0);
  second.sync();
  second.reconcile();
  CHECK(second.degraded()["reason"] == "ShutdownMisconfigured");
}

TEST_CASE("what is kept per resource is released when the resource is gone") {
  Harness h(mvsObject("direct", true, 1));
  misconfigured(h);
  CHECK(h.runner.misconfigurations().size() == 1);
  CHECK(h.reconciler.memory().tokenUsers == 1);
  h.client.erase(kube::resources::mediVoteServices(), "ns", "node");
  h.sync();
  h.reconcile();
  CHECK(h.runner.misconfigurations().size() == 0);
  CHECK(h.reconciler.memory().total() == 0);  // token Secret cache, name conflicts, refusals, uids: all of it
}

TEST_CASE("a replacement that took the name of a pod whose shutdown is not reaped yet does not hide its completion") {
  // Scale 2 -> 1, then back to 2 before the operator saw node-1 go: the new node-1 (another uid) is present, the old
  // one's shutdown must still complete into the history.
  Harness h(mvsObject("direct", true, 2));
  userTokenSecret(h);
  twoPodsScaledToOne(h);
  for (int i = 0; i < 5 && h.client.object(kube::resources::pods(), "ns", "node-1"); ++i) {
    h.reconcileAndSettle();
    h.awaitAnswers(1);
  }
  REQUIRE_FALSE(h.client.object(kube::resources::pods(), "ns", "node-1"));  // accepted and deleted by the fake
  h.runningPod(1);  // a new node-1, another uid, before any reconcile saw the old one gone
  h.sync();
  h.reconcile();
  const json mvs = *h.client.object(kube::resources::mediVoteServices(), "ns", "node");
  const json history = mvs.value("/status/shutdowns"_json_pointer, json::array());
  REQUIRE(history.size() == 1);
  CHECK(history[0]["pod"] == "node-1");
  // Accepted, then deleted before the answer could be written on the pod: the runner kept the answer.
  CHECK(history[0]["outcome"] == "http");
  // The runner reaped the old node-1 by its uid: its completion (Event, outcome metric) was recorded.
  const auto events = h.events.snapshot();
  CHECK(std::count_if(events.begin(), events.end(), [](const auto& e) {
          return e.reason == "ShutdownCompleted" && e.object == "node-1";
        }) == 1);
}

namespace {
// The EndpointSlice of Service `node` as the endpoint slice controller writes it, listing the pods `listed`.
json nodeSlice(const std::vector<json>& listed) {
  json endpoints = json::array();
  for (const auto& pod : listed)
    endpoints.push_back({{"addresses", json::array({pod["status"]["podIP"]})},
                         {"conditions", {{"ready", true}}},
                         {"targetRef", {{"kind", "Pod"}, {"name", pod["metadata"]["name"]},
                                        {"uid", pod["metadata"]["uid"]}}}});
  return {{"apiVersion", "discovery.k8s.io/v1"}, {"kind", "EndpointSlice"},
          {"metadata", {{"name", "node-abcde"}, {"namespace", "ns"}, {"resourceVersion", "1"},
                        {"labels", {{"kubernetes.io/service-name", "node"}}}}},
          {"endpoints", endpoints}};
}

json podAnnotations(Harness& h, const std::string& name) {
  const auto pod = h.client.object(kube::resources::pods(), "ns", name);
  REQUIRE(pod);
  return pod->value("/metadata/annotations"_json_pointer, json::object());
}

// The drain result the operator wrote on pod `name` (the pod itself may be gone by now).
std::string drainWritten(Harness& h, const std::string& name) {
  std::string last;
  for (const auto& c : h.client.calls("patch"))
    if (c.resource == "pods" && c.name == name) {
      const json v = c.body.value("/metadata/annotations/medivote.io~1shutdown-drain"_json_pointer, json());
      if (v.is_string()) last = v.get<std::string>();
    }
  return last;
}
}  // namespace

TEST_CASE("the endpoint is called only once the pod has left its Service's EndpointSlices") {
  Harness h(mvsObject("direct", true, 1));
  userTokenSecret(h);
  h.runningPod(0);
  h.runningPod(1);
  h.sync();
  const json node1 = *h.client.object(kube::resources::pods(), "ns", "node-1");
  h.slices.upsert(nodeSlice({*h.client.object(kube::resources::pods(), "ns", "node-0"), node1}));
  const auto waiting = h.reconcile();
  CHECK(podAnnotations(h, "node-1").value("medivote.io/shutdown-stage", "") == "Draining");
  CHECK(h.caller.tokens.empty());  // still listed: no call
  REQUIRE(waiting.kind() == runtime::reconcile::Result::Kind::RequeueAfter);
  CHECK(waiting.after() <= std::chrono::seconds(5));  // woken at the drain deadline at the latest
  h.clock.advance(std::chrono::seconds(2));
  h.reconcile();
  CHECK(h.caller.tokens.empty());
  // The slice controller removes node-1 (its label is gone): the next reconcile (the slice's event) calls.
  h.slices.upsert(nodeSlice({*h.client.object(kube::resources::pods(), "ns", "node-0")}));
  h.reconcileAndSettle();
  REQUIRE(h.awaitAnswers(1));
  CHECK(h.caller.tokens == std::vector<std::string>{"s3cret"});
  CHECK(drainWritten(h, "node-1") == "drained");
  const auto events = h.events.snapshot();
  CHECK_FALSE(std::any_of(events.begin(), events.end(), [](const auto& e) { return e.reason == "DrainTimedOut"; }));
}

TEST_CASE("EndpointSlices that cannot be read: the drain timeout is waited out, then DrainTimedOut and the call") {
  Harness h(mvsObject("direct", true, 1));
  h.slicesSynced = false;  // e.g. list/watch of endpointslices denied: the informer never syncs
  userTokenSecret(h);
  h.runningPod(0);
  h.runningPod(1);
  h.sync();
  h.reconcile();
  CHECK(h.caller.tokens.empty());
  h.clock.advance(std::chrono::seconds(4));
  h.reconcile();
  CHECK(h.caller.tokens.empty());
  h.clock.advance(std::chrono::seconds(1));
  h.reconcileAndSettle();
  REQUIRE(h.awaitAnswers(1));
  CHECK(drainWritten(h, "node-1") == "unknown");
  const auto events = h.events.snapshot();
  CHECK(std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.warning && e.reason == "DrainTimedOut" && e.object == "node-1" &&
           e.message.find("cannot be read") != std::string::npos;
  }));
}

TEST_CASE("a state patch that lands on a replacement pod of the same name is refused and ends the old pod's step") {
  // The cache still shows the old node-1 when a new node-1 (another uid) already took its name: the runner's patch
  // names the old uid, the server refuses it (422, metadata.uid immutable), and the step is moot, not an error.
  Harness h(mvsObject("direct", true, 1));
  userTokenSecret(h);
  h.runningPod(0);
  h.runningPod(1);
  h.sync();  // the cache: the old node-1
  const std::string oldUid = h.client.object(kube::resources::pods(), "ns", "node-1")->at("metadata").at("uid");
  h.client.erase(kube::resources::pods(), "ns", "node-1");
  json replacement = *h.pods.get("ns/node-1");
  replacement["metadata"]["uid"] = "replacement-uid";
  replacement["metadata"].erase("resourceVersion");
  h.client.put(kube::resources::pods(), replacement);
  REQUIRE(oldUid != "replacement-uid");

  const auto result = h.reconciler.reconcile(runtime::reconcile::Request::fromKey("ns/node", "test"));
  CHECK(result.kind() != runtime::reconcile::Result::Kind::Error);
  // The old pod's Draining was refused by the uid guard; the replacement carries none of the old pod's shutdown.
  const json now = *h.client.object(kube::resources::pods(), "ns", "node-1");
  CHECK(now["metadata"]["uid"] == "replacement-uid");
  CHECK(now.value("/metadata/annotations"_json_pointer, json::object()).count("medivote.io/shutdown-stage") == 0);
  bool refused = false;
  for (const auto& c : h.client.calls("patch"))
    if (c.resource == "pods" && c.name == "node-1" && c.body.value("/metadata/uid"_json_pointer, std::string()) == oldUid)
      refused = true;
  CHECK(refused);  // the runner did try, with the old uid as its guard
  CHECK(h.caller.tokens.empty());
}

namespace {
json named(const std::string& name) {
  json o = mvsObject("direct", false, 1);
  o["metadata"]["name"] = name;
  return o;
}

bool warned(Harness& h, const std::string& reason, const std::string& text) {
  const auto events = h.events.snapshot();
  return std::any_of(events.begin(), events.end(), [&](const auto& e) {
    return e.warning && e.reason == reason && e.object == h.name && e.message.find(text) != std::string::npos;
  });
}
}  // namespace

TEST_CASE("a name that cannot be a Service name is refused by validation - Degraded InvalidSpec, nothing created") {
  Harness h(named("node.v1"));  // a valid object name, but a Service name is a DNS-1035 label: no dots
  h.reconcile();
  CHECK(h.client.calls("create").empty());
  CHECK(h.degraded()["status"] == "True");
  CHECK(h.degraded()["reason"] == "InvalidSpec");
  CHECK(h.degraded()["observedGeneration"] == 1);
  const std::string message = h.degraded()["message"];
  CHECK(message.find("the Service name 'node.v1'") != std::string::npos);
  CHECK(message.find("DNS-1035") != std::string::npos);
  CHECK(warned(h, "InvalidSpec", "the Service name 'node.v1'"));
}

TEST_CASE("a name over 63 characters is refused - it cannot be the value of the medivote.io/service label") {
  Harness h(named(std::string(64, 'n')));
  h.reconcile();
  CHECK(h.client.calls("create").empty());
  CHECK(h.degraded()["reason"] == "InvalidSpec");
  const std::string message = h.degraded()["message"];
  CHECK(message.find("label medivote.io/service") != std::string::npos);
  CHECK(message.find("no more than 63 characters") != std::string::npos);
}

TEST_CASE("a Service create the server refuses with 422 - Degraded ServerRefused with its message, pods still made") {
  Harness h(mvsObject("direct", false, 1));
  const auto refusal = mv::testing::apiError(422, kube::StatusReason::Invalid,
                                             "Service \"node\" is invalid: spec.ports[0].port: Invalid value");
  h.client.failNext("create", "services", refusal);
  h.client.failNext("create", "services", refusal);
  h.client.failNext("create", "services", refusal);
  const auto first = h.reconcile();
  CHECK(h.client.objectCount(kube::resources::pods()) == 1);  // the other writes went on
  CHECK(first.kind() == runtime::reconcile::Result::Kind::Requeue);
  const auto second = h.reconcile();
  CHECK(second.kind() == runtime::reconcile::Result::Kind::Error);  // still refused: retried with back-off
  CHECK(h.degraded()["status"] == "True");
  CHECK(h.degraded()["reason"] == "ServerRefused");
  CHECK(h.degraded()["observedGeneration"] == 1);
  const std::string message = h.degraded()["message"];
  CHECK(message.find("create Service node: 422 Invalid") != std::string::npos);
  CHECK(message.find("spec.ports[0].port: Invalid value") != std::string::npos);
  CHECK(warned(h, "ServerRefused", "spec.ports[0].port"));
  h.reconcile();  // the third refusal: no new Event for the same message
  const auto events = h.events.snapshot();
  CHECK(std::count_if(events.begin(), events.end(), [](const auto& e) { return e.reason == "ServerRefused"; }) == 1);
  // The server accepts it: the condition clears.
  h.reconcile();
  CHECK(h.client.object(kube::resources::services(), "ns", "node"));
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
}

TEST_CASE("a Service that changed since the cache read it is not written over - a 409 is no refusal, pods still made") {
  Harness h(mvsObject("direct", false, 1));
  h.reconcile();  // creates the Service
  REQUIRE(h.client.object(kube::resources::services(), "ns", "node"));
  // Someone edits the selector; the operator's cache still has the old Service when it patches the drift back.
  json edited = *h.client.object(kube::resources::services(), "ns", "node");
  edited["spec"]["selector"] = {{"app", "other"}};
  h.services.upsert(edited);  // the cache sees the drift...
  h.client.put(kube::resources::services(), edited);
  json newer = *h.client.object(kube::resources::services(), "ns", "node");
  newer["metadata"]["labels"]["team"] = "b";
  h.client.put(kube::resources::services(), newer);  // ...but the server has moved on since
  const auto conflict = mv::testing::apiError(409, kube::StatusReason::Conflict, "the object has been modified");
  h.client.failNext("patch", "services", conflict);
  auto lastServicePatch = [&h] {
    json last;
    for (const auto& c : h.client.calls("patch"))
      if (c.resource == "services") last = c.body;
    return last;
  };
  h.reconciler.reconcile(runtime::reconcile::Request::fromKey("ns/node", "test"));
  REQUIRE_FALSE(lastServicePatch().is_null());
  CHECK(lastServicePatch()["metadata"]["resourceVersion"] == edited["metadata"]["resourceVersion"]);
  CHECK(lastServicePatch()["metadata"]["uid"] == edited["metadata"]["uid"]);
  CHECK(h.degraded()["status"] != "True");  // a conflict is not the server refusing the write
  // The next reconcile reads the Service as it is now and patches the drift with its resourceVersion.
  h.sync();
  const json current = (*h.client.object(kube::resources::services(), "ns", "node"))["metadata"]["resourceVersion"];
  h.reconcile();
  CHECK(lastServicePatch()["metadata"]["resourceVersion"] == current);
  CHECK((*h.client.object(kube::resources::services(), "ns", "node"))["spec"]["selector"]["medivote.io/service"] ==
        "node");
}

TEST_CASE("a pod create forbidden by the server (quota) is surfaced - a 500 is not a refusal") {
  Harness h(mvsObject("direct", false, 1));
  h.client.failNext("create", "pods", mv::testing::internalError());
  CHECK(h.reconcile().kind() == runtime::reconcile::Result::Kind::Error);
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");  // a transient error is retried, not reported
  h.client.erase(kube::resources::pods(), "ns", "node-0");
  h.sync();
  const auto quota = mv::testing::apiError(403, kube::StatusReason::Forbidden,
                                           "pods \"node-0\" is forbidden: exceeded quota: pods, used: 1, limited: 1");
  h.client.failNext("create", "pods", quota);
  h.client.failNext("create", "pods", quota);
  h.reconcile();
  h.reconcile();
  CHECK(h.degraded()["reason"] == "ServerRefused");
  CHECK(std::string(h.degraded()["message"]).find("create pod node-0: 403 Forbidden") != std::string::npos);
  CHECK(warned(h, "ServerRefused", "exceeded quota"));
  // A new generation asks afresh, and its writes go through.
  json mvs = *h.client.object(kube::resources::mediVoteServices(), "ns", "node");
  mvs["metadata"]["generation"] = 2;
  h.client.put(kube::resources::mediVoteServices(), mvs);
  h.sync();
  h.reconcile();
  CHECK(h.client.object(kube::resources::pods(), "ns", "node-0"));
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
}

// --- A token Secret that gives no token holds voluntary shutdowns (issue 15 item 5) -------------------------------

namespace {
std::string stageOf(Harness& h, const std::string& pod) {
  return podAnnotations(h, pod).value("medivote.io/shutdown-stage", "");
}

// Reconciles until `done` holds or `rounds` passes went by, a simulated second apart; a call the pass queued is
// given a moment to be answered.
template <typename Done>
void reconcileUntil(Harness& h, Done done, int rounds = 40) {
  for (int i = 0; i < rounds && !done(); ++i) {
    const int before = h.answers();
    h.reconcileAndSettle();
    h.awaitAnswers(before + 1, std::chrono::milliseconds(100));
    h.clock.advance(std::chrono::seconds(1));
    h.sync();
  }
}
}  // namespace

TEST_CASE("a missing token Secret holds a scale-down - the pod stays, Degraded with an Event, it goes once fixed") {
  Harness h(mvsObject("direct", true, 2));  // tokenSecretRef node-token, which does not exist
  twoPodsScaledToOne(h);
  for (int i = 0; i < 5; ++i) {
    h.reconcile();
    h.clock.advance(std::chrono::seconds(2));
  }
  // The old code chose node-1 to go: three calls "unreachable" (no token), then SIGTERM (the pod deleted).
  CHECK(stageOf(h, "node-1") == "");
  CHECK(h.client.calls("remove").empty());
  CHECK(h.caller.tokens.empty());
  CHECK(h.degraded()["status"] == "True");
  CHECK(h.degraded()["reason"] == "SecretNotFound");
  CHECK(std::string(h.degraded()["message"]).find("scale-down, upgrade and replacement of pods wait") !=
        std::string::npos);
  CHECK(warned(h, "SecretNotFound", "ns/node-token"));
  // The Secret is back: within a resync, node-1's shutdown starts and its endpoint is called with the token.
  userTokenSecret(h);
  h.clock.advance(TokenSecrets::kResync);
  reconcileUntil(h, [&] { return !h.caller.tokens.empty(); });
  CHECK(h.caller.tokens == std::vector<std::string>{"s3cret"});
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
}

TEST_CASE("a missing token Secret does not hold a simple resource's scale-down - it never calls") {
  json mvs = mvsObject("direct", true, 2);
  mvs["spec"]["tier"] = "simple";
  Harness h(mvs);
  twoPodsScaledToOne(h);
  h.reconcile();
  const auto removes = h.client.calls("remove");
  const bool started = !removes.empty() || stageOf(h, "node-1") != "";
  CHECK(started);
}

TEST_CASE("a resource being deleted with its token Secret missing is still emptied - without a call, escalated") {
  // Decided (reconciler.h): a deletion does not wait for the Secret, which may be going with the namespace. The
  // call cannot be made; it counts as unreachable and the shutdown escalates within its bounds.
  json mvs = mvsObject("direct", true, 1);
  mvs["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  Harness h(mvs);
  h.runningPod(0);
  h.sync();
  h.reconcile();
  CHECK(podAnnotations(h, "node-0").value("medivote.io/shutdown-reason", "") == "Deletion");
  reconcileUntil(h, [&] { return !h.client.calls("remove").empty(); });
  CHECK_FALSE(h.client.calls("remove").empty());
  CHECK(h.caller.tokens.empty());  // never called without its token
}

TEST_CASE("a pod deleted by someone else while the token Secret is missing is shut down without a call") {
  Harness h(mvsObject("direct", true, 1));
  h.runningPod(0);
  json pod = *h.client.object(kube::resources::pods(), "ns", "node-0");
  pod["metadata"]["deletionTimestamp"] = util::formatTime(h.clock.wallNow());
  pod["metadata"]["deletionGracePeriodSeconds"] = 30;
  h.client.put(kube::resources::pods(), pod);
  h.sync();
  h.reconcile();
  // Its preStop clock is running: the shutdown is not held; it is driven (its stage recorded) without a call.
  CHECK(stageOf(h, "node-0") != "");
  reconcileUntil(h, [&] { return stageOf(h, "node-0") == "Terminating"; }, 10);
  CHECK(stageOf(h, "node-0") == "Terminating");
  CHECK(h.caller.tokens.empty());
}

// --- A pod of the resource's name that is someone else's (issue 15 item 6) ----------------------------------------

namespace {
// A pod named `name` that the operator did not make: no managed-by label (so no informer shows it), no owner.
void foreignPod(Harness& h, const std::string& name) {
  h.client.put(kube::resources::pods(),
               {{"apiVersion", "v1"}, {"kind", "Pod"},
                {"metadata", {{"name", name}, {"namespace", "ns"}, {"labels", {{"app", "squatter"}}}}},
                {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}});
}

std::size_t count(const std::vector<FakeClient::Call>& calls, const std::string& verb, const std::string& resource,
                  const std::string& name) {
  return std::count_if(calls.begin(), calls.end(), [&](const auto& c) {
    return c.verb == verb && c.resource == resource && c.name == name;
  });
}

std::size_t createsOf(Harness& h, const std::string& resource, const std::string& name) {
  std::size_t n = 0;
  for (const auto& c : h.client.calls("create"))
    if (c.resource == resource && c.body.value("/metadata/name"_json_pointer, std::string()) == name) ++n;
  return n;
}
}  // namespace

TEST_CASE("a foreign pod holding an ordinal's name - one create, Degraded PodConflict, no re-POST until it is gone") {
  Harness h(mvsObject("direct", false, 1));
  foreignPod(h, "node-0");
  h.sync();
  const auto first = h.reconcile();
  CHECK(first.kind() == runtime::reconcile::Result::Kind::Requeue);  // the next pass reports it and skips node-0
  for (int i = 0; i < 5; ++i) h.reconcile();
  // The old code re-POSTed node-0 on every pass (the foreign pod is in no informer) and never made node-1.
  CHECK(createsOf(h, "pods", "node-0") == 1);
  CHECK(h.client.object(kube::resources::pods(), "ns", "node-1"));
  CHECK(count(h.client.calls(), "get", "pods", "node-0") == 1);  // read once, at the 409
  CHECK(h.degraded()["status"] == "True");
  CHECK(h.degraded()["reason"] == "PodConflict");
  CHECK(std::string(h.degraded()["message"]).find("node-0") != std::string::npos);
  CHECK(warned(h, "PodConflict", "node-0"));
  CHECK(h.reconciler.memory().nameConflicts == 1);  // one entry, however many passes
  // The reconcile asks to come back for the re-check.
  const auto held = h.reconcile();
  REQUIRE(held.kind() == runtime::reconcile::Result::Kind::RequeueAfter);
  CHECK(held.after() <= std::chrono::duration_cast<runtime::reconcile::Result::Duration>(NameConflicts::kRecheck));

  // The foreign pod goes: seen at the re-check, the entry is dropped and the ordinal is used again.
  h.client.erase(kube::resources::pods(), "ns", "node-0");
  h.reconcile();
  CHECK(count(h.client.calls(), "get", "pods", "node-0") == 1);  // not due yet
  h.clock.advance(NameConflicts::kRecheck);
  h.reconcile();
  CHECK(count(h.client.calls(), "get", "pods", "node-0") == 2);
  CHECK(h.reconciler.memory().nameConflicts == 0);
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
  h.client.patch(kube::resources::mediVoteServices(), "ns", "node", kube::PatchType::Merge,
                 {{"spec", {{"replicas", 2}}}});
  h.sync();
  h.reconcile();
  CHECK(createsOf(h, "pods", "node-0") == 2);
  CHECK(h.client.object(kube::resources::pods(), "ns", "node-0"));
}

TEST_CASE("a create answered 409 by the resource's own pod (an earlier create went through) is no conflict") {
  Harness h(mvsObject("direct", false, 1));
  h.runningPod(0);  // made by the operator, not yet in the cache
  h.reconcile();
  CHECK(h.reconciler.memory().nameConflicts == 0);
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
}

// --- A claim another resource holds (issue 15 item 7) -------------------------------------------------------------

namespace {
json withClaimTemplate(json mvs, const std::string& templateName) {
  mvs["spec"]["volumeClaimTemplates"] = json::array(
      {{{"metadata", {{"name", templateName}}},
        {"spec", {{"accessModes", json::array({"ReadWriteOnce"})},
                  {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}}});
  return mvs;
}

// The claim `name` as resource `service`'s pods have it (the operator's labels).
void claimOf(Harness& h, const std::string& name, const std::string& service) {
  h.client.put(kube::resources::persistentVolumeClaims(),
               {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", name}, {"namespace", "ns"},
                              {"labels", {{"medivote.io/service", service}, {"medivote.io/ordinal", "0"}}}}},
                {"spec", {{"accessModes", json::array({"ReadWriteOnce"})}}}});
}
}  // namespace

TEST_CASE("a claim another resource holds is never mounted - no pod, Degraded ClaimConflict, made once it is gone") {
  // `node` with claim template data-x and `x-node` with template data both name their ordinal 0's claim data-x-node-0.
  Harness h(withClaimTemplate(mvsObject("direct", false, 1), "data-x"));
  claimOf(h, "data-x-node-0", "x-node");
  h.reconcile();
  // The old code created node-0 mounting x-node's claim.
  CHECK_FALSE(h.client.object(kube::resources::pods(), "ns", "node-0"));
  CHECK(createsOf(h, "persistentvolumeclaims", "data-x-node-0") == 1);  // answered 409: then read
  CHECK(count(h.client.calls(), "get", "persistentvolumeclaims", "data-x-node-0") == 1);
  CHECK(h.degraded()["status"] == "True");
  CHECK(h.degraded()["reason"] == "ClaimConflict");
  const std::string message = h.degraded()["message"];
  CHECK(message.find("data-x-node-0") != std::string::npos);
  CHECK(message.find("MediVoteService x-node") != std::string::npos);
  CHECK(warned(h, "ClaimConflict", "data-x-node-0"));
  // No other pod takes its place, and the claim is not asked for again before its re-check.
  for (int i = 0; i < 3; ++i) h.reconcile();
  CHECK(h.client.objectCount(kube::resources::pods()) == 0);
  CHECK(createsOf(h, "persistentvolumeclaims", "data-x-node-0") == 1);
  CHECK(count(h.client.calls(), "get", "persistentvolumeclaims", "data-x-node-0") == 1);
  CHECK(h.client.object(kube::resources::persistentVolumeClaims(), "ns", "data-x-node-0")->at("metadata").at(
            "labels").at("medivote.io/service") == "x-node");  // never touched
  // The other resource's claim goes: at the re-check node-0 is created, with a claim of its own.
  h.client.erase(kube::resources::persistentVolumeClaims(), "ns", "data-x-node-0");
  h.clock.advance(NameConflicts::kRecheck);
  h.reconcile();
  CHECK(h.client.object(kube::resources::pods(), "ns", "node-0"));
  CHECK(createsOf(h, "persistentvolumeclaims", "data-x-node-0") == 2);
  CHECK(h.client.object(kube::resources::persistentVolumeClaims(), "ns", "data-x-node-0")->at("metadata").at(
            "labels").at("medivote.io/service") == "node");
  h.reconcile();
  CHECK(h.degraded()["status"] == "False");
}

TEST_CASE("the resource's own claim, or one made beforehand without owner or label, is mounted") {
  Harness h(withClaimTemplate(mvsObject("direct", false, 2), "data"));
  claimOf(h, "data-node-0", "node");  // left from an earlier life of the resource
  h.client.put(kube::resources::persistentVolumeClaims(),
               {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", "data-node-1"}, {"namespace", "ns"}}}, {"spec", json::object()}});
  h.reconcile();
  CHECK(h.client.object(kube::resources::pods(), "ns", "node-0"));
  CHECK(h.client.object(kube::resources::pods(), "ns", "node-1"));
  CHECK(h.reconciler.memory().nameConflicts == 0);
  // A claim that did not exist is created without being read first: no extra request in the common case.
  Harness fresh(withClaimTemplate(mvsObject("direct", false, 1), "data"));
  fresh.reconcile();
  CHECK(fresh.client.object(kube::resources::pods(), "ns", "node-0"));
  CHECK(count(fresh.client.calls(), "get", "persistentvolumeclaims", "data-node-0") == 0);
}

TEST_CASE("claimHolder - another resource's label or another controller, never the resource's own") {
  const auto mvs = api::parseMediVoteService(mvsObject("direct", false, 1)).object;
  CHECK(claimHolder({{"metadata", {{"labels", {{"medivote.io/service", "x-node"}}}}}}, mvs) ==
        "MediVoteService x-node");
  CHECK(claimHolder({{"metadata", {{"labels", {{"medivote.io/service", "node"}}}}}}, mvs) == std::nullopt);
  CHECK(claimHolder({{"metadata", {{"ownerReferences", json::array({{{"kind", "StatefulSet"}, {"name", "db"},
                                                                      {"uid", "sts"}, {"controller", true}}})}}}},
                    mvs) == "StatefulSet db");
  CHECK(claimHolder({{"metadata", json::object()}}, mvs) == std::nullopt);
}

// --- Memory released when the resource goes (issue 15 item 10) ----------------------------------------------------

TEST_CASE("a resource whose deletion went unseen is released at the next sweep") {
  Harness h(mvsObject("direct", false, 1));
  foreignPod(h, "node-0");
  h.sync();
  h.reconcile();
  REQUIRE(h.reconciler.memory().nameConflicts == 1);
  // Deleted without its reconcile (the event was lost): another resource's reconcile sweeps it up.
  h.client.erase(kube::resources::mediVoteServices(), "ns", "node");
  json other = mvsObject("direct", false, 0);
  other["metadata"]["name"] = "other";
  other["metadata"]["uid"] = "other-uid";
  h.client.put(kube::resources::mediVoteServices(), other);
  h.sync();
  h.clock.advance(MediVoteReconciler::kSweep);
  h.reconciler.reconcile(runtime::reconcile::Request::fromKey("ns/other", "test"));
  const auto m = h.reconciler.memory();
  CHECK(m.nameConflicts == 0);
  CHECK(m.misconfigurations == 1);  // the other resource's own
  CHECK(m.uids == 1);
}

TEST_CASE("a resource deleted and created again under the same name unseen starts with nothing of the old one") {
  Harness h(mvsObject("direct", false, 1));
  const auto refusal = mv::testing::apiError(422, kube::StatusReason::Invalid, "old refusal");
  h.client.failNext("create", "services", refusal);
  h.client.failNext("create", "services", refusal);
  h.reconcile();
  h.reconcile();
  REQUIRE(h.degraded()["reason"] == "ServerRefused");
  REQUIRE(h.reconciler.memory().refusals == 1);
  // Gone and back with another uid, the same generation, before the operator saw the deletion.
  json again = mvsObject("direct", false, 1);
  again["metadata"]["uid"] = "new-uid";
  h.client.erase(kube::resources::mediVoteServices(), "ns", "node");
  h.client.put(kube::resources::mediVoteServices(), again);
  h.sync();
  h.reconcile();
  CHECK(h.degraded()["reason"] != "ServerRefused");
}

TEST_CASE("a completion is not lost when the status write that carries it is answered 409") {
  Harness h(mvsObject("direct", true, 2));
  userTokenSecret(h);
  twoPodsScaledToOne(h);
  for (int i = 0; i < 5 && h.client.object(kube::resources::pods(), "ns", "node-1"); ++i) {
    h.reconcileAndSettle();
    h.awaitAnswers(1);
  }
  REQUIRE_FALSE(h.client.object(kube::resources::pods(), "ns", "node-1"));
  h.sync();
  // The reconcile that reaps node-1's completion loses its status write to another writer.
  h.client.failNext("update", "", kube::ApiError(409, kube::StatusReason::Conflict, "the object has been modified",
                                                 json::object()));
  h.reconcile();
  h.reconcile();
  const json mvs = *h.client.object(kube::resources::mediVoteServices(), "ns", "node");
  const json history = mvs.value("/status/shutdowns"_json_pointer, json::array());
  REQUIRE(history.size() == 1);
  CHECK(history[0]["pod"] == "node-1");
  CHECK(history[0]["outcome"] == "http");
  CHECK(h.reconciler.memory().pendingCompletions == 0);  // released once written
  // Offered again, the same shutdown is not added twice.
  h.reconcile();
  CHECK(h.client.object(kube::resources::mediVoteServices(), "ns", "node")
            ->value("/status/shutdowns"_json_pointer, json::array())
            .size() == 1);
}

TEST_CASE("a first reconcile of a resource without the finalizer writes its status without a 409 (issue 16)") {
  json mvs = mvsObject("agent", false, 1);
  mvs["metadata"].erase("finalizers");
  Harness h(mvs);
  const std::string cached = h.mvss.get("ns/node")->at("metadata").at("resourceVersion").get<std::string>();
  const auto r = h.reconcile();
  // The status write starts from the object the finalizer patch returned, not from the cache's older copy.
  CHECK(r.kind() != runtime::reconcile::Result::Kind::Requeue);
  const json stored = *h.client.object(kube::resources::mediVoteServices(), "ns", "node");
  CHECK(stored["metadata"]["finalizers"] == json::array({"medivote.io/graceful-shutdown"}));
  CHECK(stored.value("/status/conditions"_json_pointer, json::array()).size() > 0);
  const auto updates = h.client.calls("update");
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].subresource == "status");
  // Optimistic concurrency is kept: the write carries the resourceVersion the finalizer patch produced (newer than
  // the cache's), so a change by another writer in between is still answered 409.
  const std::string sent = updates[0].body.value("/metadata/resourceVersion"_json_pointer, std::string());
  CHECK_FALSE(sent.empty());
  CHECK(sent != cached);
  CHECK(updates[0].body.value("/metadata/finalizers"_json_pointer, json::array()).size() == 1);
}


TEST_CASE("a call answered 401 has the token Secret read again at the next reconcile, once, not a resync later") {
  Harness h(mvsObject("direct", true, 1));
  userTokenSecret(h);
  h.runningPod(0);
  h.runningPod(1);
  h.sync();
  h.caller.byIp["127.77.0.3"] = 401;  // node-1: its agent already has a rotated token
  h.reconcileAndSettle();
  REQUIRE(h.awaitAnswers(1));
  CHECK(h.caller.tokens == std::vector<std::string>{"s3cret"});
  json secret = *h.client.object(kube::resources::secrets(), "ns", "node-token");
  secret["data"]["token"] = util::base64Encode("rotated");
  h.client.put(kube::resources::secrets(), secret);
  auto gets = [&] {
    const auto verbs = h.verbsOn("secrets");
    return std::count(verbs.begin(), verbs.end(), "get");
  };
  REQUIRE(gets() == 1);
  h.reconcile();  // reports the misconfiguration, and drops the cached Secret
  REQUIRE(h.degraded()["reason"] == "ShutdownMisconfigured");
  h.reconcile();  // within the resync: the Secret is read again, its new version clears the condition
  CHECK(gets() == 2);
  CHECK(h.degraded()["status"] == "False");
  h.reconcile();
  h.reconcile();
  CHECK(gets() == 2);  // and then cached again until the resync
}
