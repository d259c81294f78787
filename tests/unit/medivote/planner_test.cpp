#include "medivote/planner.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "api/names.h"
#include "medivote/service_drift.h"
#include "shutdown/state.h"

using namespace mv::medivote;
using namespace mv;
using json = nlohmann::json;

namespace {

const util::WallTime kNow = util::WallTime(std::chrono::seconds(1795642898));

json mvsObject() {
  return json::parse(R"({
    "apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
    "metadata": {"name": "vote", "namespace": "ns", "uid": "mvs-uid", "generation": 2, "resourceVersion": "10",
                 "finalizers": ["medivote.io/graceful-shutdown"]},
    "spec": {
      "replicas": 3,
      "template": {"metadata": {"labels": {"app": "vote"}},
                   "spec": {"containers": [{"name": "vote", "image": "medivote/vote:1",
                                            "ports": [{"name": "http", "containerPort": 8080}]}]}},
      "shutdown": {"endpoint": {"port": "http", "path": "/shutdown"}, "maxConcurrent": 1}
    }
  })");
}

json makeMvs(int replicas = 3) {
  json o = mvsObject();
  o["spec"]["replicas"] = replicas;
  return o;
}

Observation observe(const json& mvsJson, std::vector<json> pods = {}) {
  Observation o;
  auto parsed = api::parseMediVoteService(mvsJson);
  o.mvs = parsed.object;
  o.specErrors = parsed.errors;
  o.pods = std::move(pods);
  o.serviceExists = true;
  o.service = buildService(o.mvs);
  o.now = kNow;
  return o;
}

// A running, Ready pod of the current template at `ordinal`.
json runningPod(const json& mvsJson, int ordinal, bool ready = true) {
  auto mvs = api::parseMediVoteService(mvsJson).object;
  json pod = buildPod(mvs, ordinal, api::Tier::Critical, PodSettings{});
  pod["metadata"]["uid"] = "pod-uid-" + std::to_string(ordinal);
  pod["status"] = {{"phase", "Running"},
                   {"podIP", "127.77.0." + std::to_string(ordinal + 2)},
                   {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}};
  return pod;
}

json withStage(json pod, shutdown::Stage stage, std::string_view reason) {
  shutdown::ShutdownState s;
  s.stage = stage;
  s.reason = std::string(reason);
  s.startedAt = kNow - std::chrono::seconds(5);
  pod["metadata"]["annotations"].update(shutdown::stateAnnotationsPatch(s));
  for (auto it = pod["metadata"]["annotations"].begin(); it != pod["metadata"]["annotations"].end();)
    it = it.value().is_null() ? pod["metadata"]["annotations"].erase(it) : std::next(it);
  return pod;
}

std::vector<std::string> names(const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(o["metadata"]["name"]);
  return out;
}

std::vector<std::string> shutdownPods(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& s : p.startShutdown) out.push_back(s.pod + ":" + s.reason);
  return out;
}

const json* condition(const Plan& p, const std::string& type) {
  for (const auto& c : p.status["conditions"])
    if (c["type"] == type) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("a new resource gets its finalizer, its Service and pods at ordinals 0..n-1") {
  json mvs = makeMvs(3);
  mvs["metadata"].erase("finalizers");
  auto o = observe(mvs);
  o.serviceExists = false;
  const Plan p = plan(o, {});
  CHECK(p.addFinalizer);
  CHECK(names(p.podsToCreate) == std::vector<std::string>{"vote-0", "vote-1", "vote-2"});
  REQUIRE(p.serviceToCreate);
  CHECK((*p.serviceToCreate)["spec"]["selector"]["medivote.io/serving"] == "true");
  CHECK(p.startShutdown.empty());
  CHECK(condition(p, "Progressing")->at("status") == "True");
  CHECK(condition(p, "Progressing")->at("reason") == "ScalingUp");
  CHECK(condition(p, "Ready")->at("status") == "False");
  CHECK(p.status["selector"] == "medivote.io/service=vote");
  CHECK(p.status["observedGeneration"] == 2);
  CHECK(p.status["tier"] == "critical");
}

TEST_CASE("all pods Ready and current: Ready, nothing to do") {
  json mvs = makeMvs(2);
  const Plan p = plan(observe(mvs, {runningPod(mvs, 0), runningPod(mvs, 1)}), {});
  CHECK(p.podsToCreate.empty());
  CHECK(p.startShutdown.empty());
  CHECK_FALSE(p.addFinalizer);
  CHECK(condition(p, "Ready")->at("status") == "True");
  CHECK(condition(p, "Progressing")->at("status") == "False");
  CHECK(condition(p, "ShuttingDown")->at("status") == "False");
  CHECK(p.status["phase"] == "Ready");
  CHECK(p.status["readyReplicas"] == 2);
  CHECK(p.status["updatedReplicas"] == 2);
  CHECK(p.status["currentRevision"] == p.status["updateRevision"]);
}

TEST_CASE("scale-down takes the highest ordinals, at most maxConcurrent at a time") {
  json mvs = makeMvs(1);
  std::vector<json> pods = {runningPod(mvs, 0), runningPod(mvs, 1), runningPod(mvs, 2)};
  CHECK(shutdownPods(plan(observe(mvs, pods), {})) == std::vector<std::string>{"vote-2:ScaleDown"});
  mvs["spec"]["shutdown"]["maxConcurrent"] = 5;
  CHECK(shutdownPods(plan(observe(mvs, pods), {})) ==
        std::vector<std::string>{"vote-2:ScaleDown", "vote-1:ScaleDown"});
  // One already shutting down uses the budget: with maxConcurrent 1 nothing new starts.
  mvs["spec"]["shutdown"]["maxConcurrent"] = 1;
  pods[2] = withStage(pods[2], shutdown::Stage::Requested, shutdown::reasons::kScaleDown);
  const Plan p = plan(observe(mvs, pods), {});
  CHECK(p.startShutdown.empty());
  CHECK(p.continueShutdown == std::vector<std::string>{"vote-2"});
  CHECK(condition(p, "ShuttingDown")->at("message") == "vote-2: Requested");
  CHECK(p.status["replicas"] == 2);  // a pod shutting down is not a replica
}

TEST_CASE("podsToDelete names the pods that go first on scale-down") {
  json mvs = makeMvs(2);
  mvs["spec"]["podsToDelete"] = {"vote-0"};
  const Plan p = plan(observe(mvs, {runningPod(mvs, 0), runningPod(mvs, 1), runningPod(mvs, 2)}), {});
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-0:ScaleDown"});
}

TEST_CASE("scale-up fills the lowest free ordinals") {
  json mvs = makeMvs(3);
  const Plan p = plan(observe(mvs, {runningPod(mvs, 1)}), {});
  CHECK(names(p.podsToCreate) == std::vector<std::string>{"vote-0", "vote-2"});
}

TEST_CASE("scaled back up while a scaled-down pod still shuts down: its ordinal waits for it, none is made above") {
  // Ordinals are stable (a StatefulSet's rule): the replacement takes vote-2 and its claim, with the saved state.
  json mvs = makeMvs(3);
  std::vector<json> pods = {runningPod(mvs, 0), runningPod(mvs, 1),
                            withStage(runningPod(mvs, 2), shutdown::Stage::Accepted, shutdown::reasons::kScaleDown)};
  CHECK(plan(observe(mvs, pods), {}).podsToCreate.empty());
  pods.pop_back();
  CHECK(names(plan(observe(mvs, pods), {}).podsToCreate) == std::vector<std::string>{"vote-2"});
  // Scaled from 3 to 0 and back to 1: vote-0 comes back once the old vote-0 is gone, not as vote-3.
  json one = makeMvs(1);
  std::vector<json> going;
  for (int i = 0; i < 3; ++i)
    going.push_back(withStage(runningPod(one, i), shutdown::Stage::Requested, shutdown::reasons::kScaleDown));
  CHECK(plan(observe(one, going), {}).podsToCreate.empty());
  going.erase(going.begin());
  CHECK(names(plan(observe(one, going), {}).podsToCreate) == std::vector<std::string>{"vote-0"});
}

TEST_CASE("rolling upgrade: highest ordinal first, one at a time, next only when the replacement is Ready") {
  json mvs = makeMvs(3);
  std::vector<json> old = {runningPod(mvs, 0), runningPod(mvs, 1), runningPod(mvs, 2)};
  json changed = mvs;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "medivote/vote:2";
  Plan p = plan(observe(changed, old), {});
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-2:Upgrade"});
  CHECK(condition(p, "Progressing")->at("reason") == "RollingUpdate");
  CHECK(p.status["updatedReplicas"] == 0);

  // vote-2 shutting down keeps its slot: nothing created, nothing else started.
  old[2] = withStage(old[2], shutdown::Stage::Requested, shutdown::reasons::kUpgrade);
  p = plan(observe(changed, old), {});
  CHECK(p.startShutdown.empty());
  CHECK(p.podsToCreate.empty());

  // vote-2 gone: recreated at ordinal 2 with the new revision.
  old.pop_back();
  p = plan(observe(changed, old), {});
  CHECK(names(p.podsToCreate) == std::vector<std::string>{"vote-2"});
  CHECK(p.podsToCreate[0]["spec"]["containers"][0]["image"] == "medivote/vote:2");
  CHECK(p.startShutdown.empty());

  // The replacement exists but is not Ready: still nothing more.
  old.push_back(runningPod(changed, 2, /*ready=*/false));
  p = plan(observe(changed, old), {});
  CHECK(p.startShutdown.empty());

  // Ready: the next one goes.
  old[2] = runningPod(changed, 2, true);
  p = plan(observe(changed, old), {});
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-1:Upgrade"});
  CHECK(p.status["updatedReplicas"] == 1);
}

TEST_CASE("rolling upgrade: maxUnavailable 2 takes two at once - partition holds the lower ordinals") {
  json mvs = makeMvs(4);
  mvs["spec"]["shutdown"]["maxConcurrent"] = 4;
  std::vector<json> old = {runningPod(mvs, 0), runningPod(mvs, 1), runningPod(mvs, 2), runningPod(mvs, 3)};
  json changed = mvs;
  changed["spec"]["template"]["metadata"]["labels"]["v"] = "2";
  changed["spec"]["updateStrategy"] = {{"maxUnavailable", 2}};
  CHECK(shutdownPods(plan(observe(changed, old), {})) ==
        std::vector<std::string>{"vote-3:Upgrade", "vote-2:Upgrade"});
  changed["spec"]["updateStrategy"] = {{"maxUnavailable", "100%"}, {"partition", 3}};
  CHECK(shutdownPods(plan(observe(changed, old), {})) == std::vector<std::string>{"vote-3:Upgrade"});
}

TEST_CASE("a spec changed mid-upgrade rolls every pod not of the newest revision - unready old pods go first") {
  json v1 = makeMvs(3);
  json v2 = v1;
  v2["spec"]["template"]["spec"]["containers"][0]["image"] = "medivote/vote:2";
  json v3 = v1;
  v3["spec"]["template"]["spec"]["containers"][0]["image"] = "medivote/vote:3";
  std::vector<json> pods = {runningPod(v1, 0, /*ready=*/false), runningPod(v1, 1), runningPod(v2, 2)};
  const Plan p = plan(observe(v3, pods), {});
  // vote-0 is unready already: replacing it costs no availability, so it goes along with one ready pod.
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-0:Upgrade"});
  CHECK(p.status["updatedReplicas"] == 0);
}

TEST_CASE("deleting the resource shuts every pod down, creates nothing, then releases the finalizer") {
  json mvs = makeMvs(3);
  mvs["metadata"]["deletionTimestamp"] = "2026-11-25T21:41:00Z";
  mvs["spec"]["shutdown"]["maxConcurrent"] = 2;
  std::vector<json> pods = {runningPod(mvs, 0), runningPod(mvs, 1), runningPod(mvs, 2)};
  Plan p = plan(observe(mvs, pods), {});
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-0:Deletion", "vote-1:Deletion"});
  CHECK(p.podsToCreate.empty());
  CHECK_FALSE(p.removeFinalizer);
  CHECK(p.status["phase"] == "Deleting");
  p = plan(observe(mvs, {}), {});
  CHECK(p.removeFinalizer);
  CHECK_FALSE(p.addFinalizer);
}

TEST_CASE("an invalid spec creates and deletes nothing and reports Degraded with an Event") {
  json mvs = makeMvs(1);
  mvs["spec"]["shutdown"]["endpoint"]["path"] = "http://elsewhere/x";
  std::vector<json> pods = {runningPod(makeMvs(1), 0), runningPod(makeMvs(1), 1)};
  const Plan p = plan(observe(mvs, pods), {});
  CHECK(p.podsToCreate.empty());
  CHECK(p.startShutdown.empty());
  CHECK(condition(p, "Degraded")->at("status") == "True");
  CHECK(condition(p, "Degraded")->at("reason") == "InvalidSpec");
  CHECK(condition(p, "Degraded")->at("message").get<std::string>().find("spec.shutdown.endpoint.path") !=
        std::string::npos);
  REQUIRE_FALSE(p.events.empty());
  CHECK(p.events[0].warning);
  CHECK(p.status["phase"] == "Degraded");
  // The same Degraded message again is not a new Event.
  json again = mvs;
  again["status"] = p.status;
  CHECK(plan(observe(again, pods), {}).events.empty());
}

TEST_CASE("a template carrying a shutdown stage annotation creates no pod - Degraded InvalidSpec names the key") {
  json mvs = makeMvs(2);
  mvs["spec"]["template"]["metadata"]["annotations"] = {{"medivote.io/shutdown-stage", "Forced"}};
  const Plan p = plan(observe(mvs, {runningPod(makeMvs(2), 0)}), {});
  CHECK(p.podsToCreate.empty());
  CHECK(p.startShutdown.empty());
  const json degraded = p.status["conditions"][0];
  REQUIRE(degraded["type"] == "Degraded");
  CHECK(degraded["reason"] == "InvalidSpec");
  CHECK(std::string(degraded["message"]).find("annotations[medivote.io/shutdown-stage]: is reserved") !=
        std::string::npos);
}

TEST_CASE("an invalid spec on a resource being deleted still shuts its pods down") {
  json mvs = makeMvs(1);
  mvs["spec"]["shutdown"]["endpoint"]["port"] = 9999;
  mvs["metadata"]["deletionTimestamp"] = "2026-11-25T21:41:00Z";
  const Plan p = plan(observe(mvs, {runningPod(makeMvs(1), 0)}), {});
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-0:Deletion"});
}

TEST_CASE("pods named like ours but owned by another are never touched, and their ordinals are skipped") {
  json mvs = makeMvs(2);
  json foreign = runningPod(mvs, 0);
  foreign["metadata"]["ownerReferences"][0]["uid"] = "someone-else";
  const Plan p = plan(observe(mvs, {foreign}), {});
  CHECK(names(p.podsToCreate) == std::vector<std::string>{"vote-1", "vote-2"});
  CHECK(p.startShutdown.empty());
  CHECK(condition(p, "Degraded")->at("reason") == "PodConflict");
}

TEST_CASE("our pods with missing labels or odd names are treated as outdated or extra") {
  json mvs = makeMvs(1);
  json unlabeled = runningPod(mvs, 0);
  unlabeled["metadata"]["labels"].erase("medivote.io/revision");
  Plan p = plan(observe(mvs, {unlabeled}), {});
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-0:Upgrade"});
  json odd = runningPod(mvs, 1);
  odd["metadata"]["name"] = "vote-01";
  p = plan(observe(mvs, {runningPod(mvs, 0), odd}), {});
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-01:ScaleDown"});
}

TEST_CASE("a pod stuck Terminating (deleted by someone else) keeps its slot until it is gone") {
  json mvs = makeMvs(2);
  json stuck = runningPod(mvs, 1);
  stuck["metadata"]["deletionTimestamp"] = "2026-11-25T21:40:00Z";
  const Plan p = plan(observe(mvs, {runningPod(mvs, 0), stuck}), {});
  CHECK(p.podsToCreate.empty());
  CHECK(p.continueShutdown == std::vector<std::string>{"vote-1"});
  CHECK(plan(observe(mvs, {runningPod(mvs, 0)}), {}).podsToCreate.size() == 1);
}

TEST_CASE("a failed pod is replaced in place") {
  json mvs = makeMvs(1);
  json failed = runningPod(mvs, 0);
  failed["status"]["phase"] = "Failed";
  const Plan p = plan(observe(mvs, {failed}), {});
  CHECK(shutdownPods(p) == std::vector<std::string>{"vote-0:Replace"});
  CHECK(p.podsToCreate.empty());
}

TEST_CASE("a missing token Secret makes the resource Degraded") {
  json mvs = makeMvs(1);
  auto o = observe(mvs, {runningPod(mvs, 0)});
  o.tokenSecretProblem = {"SecretNotFound", "Secret ns/vote-token (spec.shutdown.endpoint.tokenSecretRef) not found"};
  const Plan p = plan(o, {});
  CHECK(condition(p, "Degraded")->at("reason") == "SecretNotFound");
  CHECK(condition(p, "Degraded")->at("message") == o.tokenSecretProblem->message);
}

TEST_CASE("a token Secret problem that blocks pods: Degraded with an Event, no pod created, none chosen to go") {
  json mvs = makeMvs(2);
  json old = runningPod(mvs, 0);
  old["metadata"]["labels"][std::string(api::kLabelRevision)] = "old";
  auto o = observe(mvs, {old});
  o.tokenSecretProblem = {"TokenSecretNotOwned", "Secret ns/vote-agent-token exists but is not this one's", true};
  const Plan p = plan(o, {});
  CHECK(p.podsToCreate.empty());
  CHECK(p.claimsToCreate.empty());
  CHECK(p.startShutdown.empty());
  CHECK(condition(p, "Degraded")->at("reason") == "TokenSecretNotOwned");
  CHECK(std::any_of(p.events.begin(), p.events.end(),
                    [](const PlanEvent& e) { return e.warning && e.reason == "TokenSecretNotOwned"; }));
  // Without blocksPods (the user's own Secret is missing), pods are still managed: the kubelet waits for the Secret.
  o.tokenSecretProblem->blocksPods = false;
  CHECK(plan(o, {}).podsToCreate.size() == 1);
}

TEST_CASE("Degraded ShutdownMisconfigured holds exactly while the observation carries it") {
  json mvs = makeMvs(1);
  auto o = observe(mvs, {runningPod(mvs, 0)});
  o.misconfiguration = "the shutdown endpoint of pod vote-0 answered 401 unauthorized: check ...";
  const Plan degraded = plan(o, {});
  CHECK(condition(degraded, "Degraded")->at("status") == "True");
  CHECK(condition(degraded, "Degraded")->at("reason") == "ShutdownMisconfigured");
  CHECK(reportedMisconfiguration(api::parseMediVoteService(mvs).object) == std::nullopt);
  // The status now reports it, for this generation: reportedMisconfiguration reads it back (for a restarted operator).
  json reported = mvs;
  reported["status"] = degraded.status;
  CHECK(reportedMisconfiguration(api::parseMediVoteService(reported).object) == o.misconfiguration);
  json nextGeneration = reported;
  nextGeneration["metadata"]["generation"] = 3;
  CHECK(reportedMisconfiguration(api::parseMediVoteService(nextGeneration).object) == std::nullopt);
  // Once the observation no longer carries it, the condition clears even though the status still reports it.
  auto cleared = observe(reported, {runningPod(mvs, 0)});
  const Plan after = plan(cleared, {});
  CHECK(condition(after, "Degraded")->at("status") == "False");
  CHECK(condition(after, "Degraded")->at("reason") == "AsExpected");
}

TEST_CASE("conditions keep lastTransitionTime while their status holds") {
  json mvs = makeMvs(1);
  const Plan first = plan(observe(mvs, {runningPod(mvs, 0)}), {});
  json later = mvs;
  later["status"] = first.status;
  auto o = observe(later, {runningPod(mvs, 0)});
  o.now = kNow + std::chrono::hours(1);
  const Plan second = plan(o, {});
  CHECK(condition(second, "Ready")->at("lastTransitionTime") == condition(first, "Ready")->at("lastTransitionTime"));
  CHECK(sameStatus(first.status, second.status));
}

TEST_CASE("the shutdown history records each shutdown's stages and its outcome once the pod is gone") {
  json mvs = makeMvs(1);
  json going = withStage(runningPod(mvs, 1), shutdown::Stage::Accepted, shutdown::reasons::kScaleDown);
  Plan p = plan(observe(mvs, {runningPod(mvs, 0), going}), {});
  REQUIRE(p.status["shutdowns"].size() == 1);
  CHECK(p.status["shutdowns"][0]["pod"] == "vote-1");
  CHECK(p.status["shutdowns"][0]["outcome"] == "");
  json next = mvs;
  next["status"] = p.status;
  auto o = observe(next, {runningPod(mvs, 0)});
  o.completedOutcomes["vote-1"] = "http";
  p = plan(o, {});
  CHECK(p.status["shutdowns"][0]["outcome"] == "http");
  CHECK(p.status["shutdowns"][0]["stages"].back()["stage"] == "Completed");
  // Without a known outcome (the operator was down), the last stage decides.
  auto unknown = observe(next, {runningPod(mvs, 0)});
  CHECK(plan(unknown, {}).status["shutdowns"][0]["outcome"] == "sigterm");
}

TEST_CASE("a shutdown that began and ended between two plans still gets its history entry, once") {
  json mvs = makeMvs(1);
  auto o = observe(mvs, {runningPod(mvs, 0)});
  shutdown::ShutdownState s;
  s.stage = shutdown::Stage::Terminating;
  s.reason = std::string(shutdown::reasons::kUpgrade);
  s.startedAt = o.now;
  s.terminatingAt = o.now;
  o.completedOutcomes["vote-1"] = "sigterm";
  o.completedStates["vote-1"] = s;
  const Plan p = plan(o, {});
  REQUIRE(p.status["shutdowns"].size() == 1);
  CHECK(p.status["shutdowns"][0]["pod"] == "vote-1");
  CHECK(p.status["shutdowns"][0]["reason"] == "Upgrade");
  CHECK(p.status["shutdowns"][0]["outcome"] == "sigterm");
  CHECK(p.status["shutdowns"][0]["stages"].front()["stage"] == "Terminating");
  CHECK(p.status["shutdowns"][0]["stages"].back()["stage"] == "Completed");
  // An entry already open for that pod is completed, not doubled.
  json next = mvs;
  next["status"]["shutdowns"] = json::array({{{"pod", "vote-1"}, {"reason", "Upgrade"}, {"outcome", ""},
                                              {"stages", json::array()}}});
  auto again = observe(next, {runningPod(mvs, 0)});
  again.completedOutcomes["vote-1"] = "sigterm";
  again.completedStates["vote-1"] = s;
  CHECK(plan(again, {}).status["shutdowns"].size() == 1);
}

// CI's existing-cluster suite (stop 23): 50 pods scaled to 0, then many ended between two plans. Their entries, added
// newest first, pushed the open entries of pods still shutting down out of the last 10: the history read "all
// finished" while 10 pods were still going, and the next plan opened their entries again.
TEST_CASE("the shutdown history keeps shutdowns under way before finished ones") {
  json mvs = makeMvs(0);
  std::vector<json> going;
  for (int i = 0; i < 50; ++i)
    going.push_back(withStage(runningPod(mvs, i), shutdown::Stage::Accepted, shutdown::reasons::kScaleDown));
  Plan p = plan(observe(mvs, going), {});
  REQUIRE(p.status["shutdowns"].size() == 10);
  std::set<std::string> shown;
  for (const auto& h : p.status["shutdowns"]) {
    CHECK(h["outcome"] == "");
    shown.insert(h["pod"].get<std::string>());
  }
  // The next plan shows the same ten: none of them ended.
  json next = mvs;
  next["status"] = p.status;
  p = plan(observe(next, going), {});
  for (const auto& h : p.status["shutdowns"]) CHECK(shown.count(h["pod"].get<std::string>()) == 1);

  // 40 pods gone since, the ten shown among them (the case of CI: every entry shown ended); 10 still shutting down.
  std::vector<json> still;
  std::set<std::string> stillNames;
  next["status"] = p.status;
  auto o = observe(next, {});
  for (const auto& pod : going) {
    const std::string name = pod["metadata"]["name"];
    if (shown.count(name) || still.size() == 10) {
      o.completedOutcomes[name] = "http";
      o.completedStates[name] = shutdown::readState(pod["metadata"]["annotations"]);
    } else {
      still.push_back(pod);
      stillNames.insert(name);
    }
  }
  REQUIRE(still.size() == 10);
  REQUIRE(o.completedStates.size() == 40);
  o.pods = still;
  p = plan(o, {});
  REQUIRE(p.status["shutdowns"].size() == 10);
  std::set<std::string> open;
  for (const auto& h : p.status["shutdowns"])
    if (h["outcome"] == "") open.insert(h["pod"].get<std::string>());
  CHECK(open == stillNames);

  // Once every pod is gone, every entry is finished, and a later plan keeps it so.
  next["status"] = p.status;
  auto gone = observe(next, {});
  for (const auto& pod : stillNames) gone.completedOutcomes[pod] = "http";
  p = plan(gone, {});
  for (const auto& h : p.status["shutdowns"]) CHECK(h["outcome"] == "http");
  next["status"] = p.status;
  CHECK(sameStatus(plan(observe(next, {}), {}).status, p.status));
}

TEST_CASE("the Service is patched when its selector drifted") {
  json mvs = makeMvs(1);
  auto o = observe(mvs, {runningPod(mvs, 0)});
  o.service["spec"]["selector"] = {{"app", "other"}};
  const Plan p = plan(o, {});
  REQUIRE(p.servicePatch);
  CHECK((*p.servicePatch)["spec"]["selector"]["medivote.io/service"] == "vote");
}

TEST_CASE("a Service patch carries the cached Service's resourceVersion and uid as preconditions") {
  json mvs = makeMvs(1);
  auto o = observe(mvs, {runningPod(mvs, 0)});
  o.service["metadata"]["resourceVersion"] = "4711";
  o.service["metadata"]["uid"] = "svc-uid";
  o.service["spec"]["selector"] = {{"app", "other"}};
  const Plan p = plan(o, {});
  REQUIRE(p.servicePatch);
  CHECK((*p.servicePatch)["metadata"]["resourceVersion"] == "4711");
  CHECK((*p.servicePatch)["metadata"]["uid"] == "svc-uid");
  // No drift, no patch: nothing to precondition.
  auto same = observe(mvs, {runningPod(mvs, 0)});
  same.service["metadata"]["resourceVersion"] = "4712";
  CHECK_FALSE(plan(same, {}).servicePatch);
}

TEST_CASE("a changed containerPort reaches the Service: its ports are compared in full, not counted") {
  json mvs = makeMvs(1);
  auto o = observe(mvs, {runningPod(mvs, 0)});  // the Service as built for containerPort 8080
  mvs["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 9090;
  auto changed = observe(mvs, {runningPod(mvs, 0)});
  changed.service = o.service;
  const Plan p = plan(changed, {});
  REQUIRE(p.servicePatch);
  const json ports = (*p.servicePatch)["spec"]["ports"];
  REQUIRE(ports.size() == 1);
  CHECK(ports[0]["port"] == 9090);
  CHECK(ports[0]["targetPort"] == 9090);
  CHECK(ports[0]["name"] == "http");
}

TEST_CASE("Service drift: a renamed port, a new targetPort or protocol each patch - server-added fields do not") {
  const json mvs = makeMvs(1);
  const json desired = buildService(api::parseMediVoteService(mvs).object);
  CHECK_FALSE(serviceDrift(desired, desired));
  json served = desired;  // as a real server returns it: defaults and fields of its own added
  served["spec"]["ports"][0]["appProtocol"] = "http";
  served["spec"]["clusterIP"] = "10.96.0.10";
  served["spec"]["type"] = "ClusterIP";
  CHECK_FALSE(serviceDrift(served, desired));
  json noProtocol = desired;  // TCP is the server's default for an absent protocol
  noProtocol["spec"]["ports"][0].erase("protocol");
  CHECK_FALSE(serviceDrift(noProtocol, desired));
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"name", "web"}, {"port", 80}, {"targetPort", 8081}, {"targetPort", "http"}, {"protocol", "UDP"}}) {
    CAPTURE(field);
    json drifted = served;
    drifted["spec"]["ports"][0][field] = value;
    const auto patch = serviceDrift(drifted, desired);
    REQUIRE(patch);
    CHECK((*patch)["spec"]["ports"] == desired["spec"]["ports"]);
  }
}

TEST_CASE("the shutdown history says how Draining ended, and nothing when it was not waited for") {
  json mvs = makeMvs(1);
  json timedOut = withStage(runningPod(mvs, 1), shutdown::Stage::Requested, shutdown::reasons::kScaleDown);
  timedOut["metadata"]["annotations"][std::string(shutdown::annotations::kDrain)] = "timed-out";
  Plan p = plan(observe(mvs, {runningPod(mvs, 0), timedOut}), {});
  REQUIRE(p.status["shutdowns"].size() == 1);
  CHECK(p.status["shutdowns"][0]["drain"] == "timed-out");
  // Kept once the pod is gone and the entry completed.
  json next = mvs;
  next["status"] = p.status;
  auto o = observe(next, {runningPod(mvs, 0)});
  o.completedOutcomes["vote-1"] = "http";
  CHECK(plan(o, {}).status["shutdowns"][0]["drain"] == "timed-out");
  // Not waited for (drainTimeoutSeconds 0, or deleted by someone else): no drain field.
  json external = withStage(runningPod(mvs, 1), shutdown::Stage::Requested, shutdown::reasons::kExternal);
  CHECK_FALSE(plan(observe(mvs, {runningPod(mvs, 0), external}), {}).status["shutdowns"][0].contains("drain"));
  // From the state of a shutdown that began and ended between two plans, too.
  auto between = observe(mvs, {runningPod(mvs, 0)});
  shutdown::ShutdownState s;
  s.stage = shutdown::Stage::Accepted;
  s.reason = std::string(shutdown::reasons::kScaleDown);
  s.startedAt = between.now;
  s.drain = "drained";
  between.completedStates["vote-1"] = s;
  CHECK(plan(between, {}).status["shutdowns"][0]["drain"] == "drained");
}

// Issue 15 item 4: the pods carry their shutdown wiring (tier, preStop, grace period, agent sidecar); a spec change
// that alters it rolls them like a template change, and one that reaches no pod rolls none.
TEST_CASE("a change of reach, tier, preStop sleep or grace period rolls the pods like a template change") {
  const json mvs = makeMvs(3);
  const std::vector<json> old = {runningPod(mvs, 0), runningPod(mvs, 1), runningPod(mvs, 2)};
  REQUIRE(plan(observe(mvs, old), {}).startShutdown.empty());
  auto rolls = [&](const json& changed) {
    REQUIRE(api::parseMediVoteService(changed).errors.empty());
    const Plan p = plan(observe(changed, old), {});
    return shutdownPods(p) == std::vector<std::string>{"vote-2:Upgrade"} &&
           condition(p, "Progressing")->at("reason") == "RollingUpdate" && p.status["updatedReplicas"] == 0;
  };
  json agent = mvs;
  agent["spec"]["shutdown"]["endpoint"]["reach"] = "agent";
  CHECK(rolls(agent));
  json simple = mvs;
  simple["spec"]["tier"] = "simple";
  CHECK(rolls(simple));
  json sleep = mvs;
  sleep["spec"]["shutdown"]["preStopSleepSeconds"] = 12;
  CHECK(rolls(sleep));
  json grace = mvs;
  grace["spec"]["shutdown"]["terminationGracePeriodSeconds"] = 40;
  CHECK(rolls(grace));

  // The replacement of vote-2 carries the new wiring: the agent sidecar and its hook.
  std::vector<json> rest = {old[0], old[1]};
  const Plan p = plan(observe(agent, rest), {});
  REQUIRE(names(p.podsToCreate) == std::vector<std::string>{"vote-2"});
  CHECK(p.podsToCreate[0]["spec"]["initContainers"][0]["name"] == "medivote-agent");
  CHECK(p.podsToCreate[0]["spec"]["containers"][0]["lifecycle"]["preStop"].contains("httpGet"));
}

TEST_CASE("a change of the operator's own timeouts rolls no pod") {
  const json mvs = makeMvs(3);
  const std::vector<json> pods = {runningPod(mvs, 0), runningPod(mvs, 1), runningPod(mvs, 2)};
  json changed = mvs;
  changed["metadata"]["generation"] = 3;
  changed["spec"]["shutdown"]["refusalTimeoutSeconds"] = 50;
  changed["spec"]["shutdown"]["forceDeleteAfterSeconds"] = 90;
  changed["spec"]["shutdown"]["drainTimeoutSeconds"] = 9;
  changed["spec"]["shutdown"]["exitTimeoutSeconds"] = 4;
  changed["spec"]["shutdown"]["maxConcurrent"] = 2;
  changed["spec"]["shutdown"]["endpoint"]["requestTimeoutSeconds"] = 2;
  const Plan p = plan(observe(changed, pods), {});
  CHECK(p.startShutdown.empty());
  CHECK(p.podsToCreate.empty());
  CHECK(p.status["updatedReplicas"] == 3);
  CHECK(condition(p, "Ready")->at("status") == "True");
}
