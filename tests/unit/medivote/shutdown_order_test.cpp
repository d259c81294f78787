#include "medivote/shutdown_order.h"

#include <doctest/doctest.h>

#include "medivote/planner.h"
#include "shutdown/state.h"

using namespace mv::medivote;
using namespace mv;
using json = nlohmann::json;
namespace r = order_reasons;

namespace {

const util::WallTime kNow = util::WallTime(std::chrono::seconds(1795642898));

// The backend of the chain frontend <- coordinator <- backend, going down with pods, frontend and coordinator too.
OrderInput backendDown() {
  OrderInput in;
  in.name = "backend";
  in.goingDown = true;
  in.hasPodsToShutDown = true;
  in.after = {"frontend", "coordinator"};
  in.dependencyTimeoutSeconds = 120;
  in.peers["frontend"] = {true, true, {}};
  in.peers["coordinator"] = {true, true, {"frontend"}};
  in.now = kNow;
  return in;
}

json waitingCondition(const std::string& status, const std::string& reason, util::WallTime since,
                      const std::string& message = "m") {
  return json::array({{{"type", kWaitingForDependents},
                       {"status", status},
                       {"reason", reason},
                       {"message", message},
                       {"lastTransitionTime", util::formatTime(since)}}});
}

}  // namespace

TEST_CASE("held while going down with named resources that go down too and still have pods") {
  const auto d = decideShutdownOrder(backendDown());
  CHECK(d.held);
  CHECK(d.reason == r::kDependentsUp);
  CHECK(d.up == std::vector<std::string>{"frontend", "coordinator"});
  CHECK(d.message.find("frontend, coordinator") != std::string::npos);
  REQUIRE(d.since);
  CHECK(*d.since == kNow);
  REQUIRE(d.wakeAt);
  CHECK(*d.wakeAt == kNow + std::chrono::seconds(120));
  CHECK(d.cycle.empty());
}

TEST_CASE("a resource not going down entirely is never held, whatever its dependencies do") {
  auto in = backendDown();
  in.goingDown = false;  // scale-down to N > 0, upgrade, kubectl delete pod, eviction
  const auto d = decideShutdownOrder(in);
  CHECK_FALSE(d.held);
  CHECK(d.reason == r::kNotGoingDown);
  CHECK_FALSE(d.wakeAt);
}

TEST_CASE("a resource with no pod left to shut down is not held, and keeps saying how its wait ended") {
  auto in = backendDown();
  in.hasPodsToShutDown = false;
  auto d = decideShutdownOrder(in);
  CHECK_FALSE(d.held);
  CHECK(d.reason == r::kNoPods);
  for (const char* ended : {r::kDependentsDown, r::kDependencyTimeout, r::kDependentsStayUp}) {
    in.previousConditions = waitingCondition("False", ended, kNow, "how");
    d = decideShutdownOrder(in);
    CHECK_FALSE(d.held);
    CHECK(d.reason == ended);
    CHECK(d.message == "how");
  }
  in.previousConditions = waitingCondition("False", r::kNotGoingDown, kNow);
  CHECK(decideShutdownOrder(in).reason == r::kNoPods);
}

TEST_CASE("dependencies that are missing or without pods count as down") {
  SUBCASE("missing") {
    auto in = backendDown();
    in.peers.clear();
    CHECK(decideShutdownOrder(in).reason == r::kDependentsDown);
  }
  SUBCASE("no pods") {
    auto in = backendDown();
    in.peers["frontend"].hasPods = false;
    in.peers["coordinator"].hasPods = false;
    CHECK(decideShutdownOrder(in).reason == r::kDependentsDown);
  }
  SUBCASE("one of two still up holds, and is the only one named") {
    auto in = backendDown();
    in.peers["frontend"].hasPods = false;
    const auto d = decideShutdownOrder(in);
    CHECK(d.held);
    CHECK(d.up == std::vector<std::string>{"coordinator"});
  }
  SUBCASE("a resource not named does not hold") {
    auto in = backendDown();
    in.after = {"frontend"};
    in.peers["frontend"].hasPods = false;
    CHECK_FALSE(decideShutdownOrder(in).held);
  }
  SUBCASE("an empty list holds nothing") {
    auto in = backendDown();
    in.after.clear();
    CHECK_FALSE(decideShutdownOrder(in).held);
  }
}

TEST_CASE("named resources not going down (yet) are given kSettle to follow, once, without Events") {
  auto in = backendDown();
  in.peers["frontend"].goingDown = false;
  in.peers["coordinator"].goingDown = false;
  auto d = decideShutdownOrder(in);
  CHECK(d.held);
  CHECK(d.reason == r::kDependentsSettling);
  CHECK(d.up == std::vector<std::string>{"frontend", "coordinator"});
  CHECK(*d.wakeAt == kNow + kSettle);
  CHECK(orderEvents(json::array(), d).empty());

  SUBCASE("they do not follow: released, and not held again while going down") {
    in.previousConditions = waitingCondition("True", r::kDependentsSettling, kNow);
    in.now = kNow + kSettle;
    d = decideShutdownOrder(in);
    CHECK_FALSE(d.held);
    CHECK(d.reason == r::kDependentsStayUp);
    CHECK(orderEvents(in.previousConditions, d).empty());
    in.previousConditions = waitingCondition("False", r::kDependentsStayUp, kNow + kSettle);
    in.now = kNow + std::chrono::seconds(60);
    CHECK(decideShutdownOrder(in).reason == r::kDependentsStayUp);
    SUBCASE("one goes down later after all: held for it") {
      in.peers["frontend"].goingDown = true;
      d = decideShutdownOrder(in);
      CHECK(d.held);
      CHECK(d.reason == r::kDependentsUp);
      CHECK(*d.since == in.now);
    }
  }
  SUBCASE("one follows: the wait goes on from the same start, and now it is announced") {
    in.previousConditions = waitingCondition("True", r::kDependentsSettling, kNow);
    in.now = kNow + std::chrono::seconds(1);
    in.peers["frontend"].goingDown = true;
    d = decideShutdownOrder(in);
    CHECK(d.held);
    CHECK(d.reason == r::kDependentsUp);
    CHECK(d.up == std::vector<std::string>{"frontend"});
    CHECK(*d.since == kNow);
    const auto events = orderEvents(in.previousConditions, d);
    REQUIRE(events.size() == 1);
    CHECK(events[0].reason == kWaitingForDependents);
  }
  SUBCASE("dependencyTimeoutSeconds 0 does not settle either") {
    in.dependencyTimeoutSeconds = 0;
    CHECK(decideShutdownOrder(in).reason == r::kDependentsStayUp);
  }
}

TEST_CASE("the wait is counted from the condition's lastTransitionTime, so a restart resumes it") {
  auto in = backendDown();
  in.previousConditions = waitingCondition("True", r::kDependentsUp, kNow - std::chrono::seconds(100));
  auto d = decideShutdownOrder(in);
  CHECK(d.held);
  REQUIRE(d.since);
  CHECK(*d.since == kNow - std::chrono::seconds(100));
  CHECK(*d.wakeAt == kNow + std::chrono::seconds(20));

  in.now = kNow + std::chrono::seconds(20);  // 120 s since the hold began
  d = decideShutdownOrder(in);
  CHECK_FALSE(d.held);
  CHECK(d.reason == r::kDependencyTimeout);
  CHECK(d.up == std::vector<std::string>{"frontend", "coordinator"});
  CHECK(d.message.find("waited 120s for frontend, coordinator") != std::string::npos);
}

TEST_CASE("a False condition does not carry a start: a new hold starts now") {
  auto in = backendDown();
  in.previousConditions = waitingCondition("False", r::kNotGoingDown, kNow - std::chrono::seconds(1000));
  const auto d = decideShutdownOrder(in);
  CHECK(d.held);
  CHECK(*d.since == kNow);
}

TEST_CASE("a timeout stays reached while going down, and is forgotten once the resource is not going down") {
  auto in = backendDown();
  in.previousConditions = waitingCondition("False", r::kDependencyTimeout, kNow - std::chrono::seconds(5), "waited");
  auto d = decideShutdownOrder(in);
  CHECK_FALSE(d.held);
  CHECK(d.reason == r::kDependencyTimeout);
  CHECK(d.message == "waited");
  in.goingDown = false;
  CHECK(decideShutdownOrder(in).reason == r::kNotGoingDown);
}

TEST_CASE("dependencyTimeoutSeconds 0 does not wait") {
  auto in = backendDown();
  in.dependencyTimeoutSeconds = 0;
  const auto d = decideShutdownOrder(in);
  CHECK_FALSE(d.held);
  CHECK(d.reason == r::kDependencyTimeout);
}

TEST_CASE("a cycle through the resource is reported, named, and holds nothing") {
  auto in = backendDown();
  in.peers["coordinator"].after = {"backend"};  // backend -> coordinator -> backend
  auto d = decideShutdownOrder(in);
  CHECK_FALSE(d.held);
  CHECK(d.reason == r::kDependencyCycle);
  CHECK(d.cycle == std::vector<std::string>{"backend", "coordinator", "backend"});
  CHECK(d.message.find("backend -> coordinator -> backend") != std::string::npos);

  // A longer one, found whether or not the resource goes down.
  in.peers["coordinator"].after = {"frontend"};
  in.peers["frontend"].after = {"backend"};
  in.goingDown = false;
  d = decideShutdownOrder(in);
  CHECK(d.reason == r::kDependencyCycle);
  CHECK(d.cycle.size() == 3);  // backend -> frontend -> backend is the shortest
  CHECK(d.cycle.front() == "backend");
  CHECK(d.cycle.back() == "backend");
}

TEST_CASE("a cycle among others, or through a resource that does not exist, is not this resource's") {
  auto in = backendDown();
  in.peers["frontend"].after = {"coordinator"};
  in.peers["coordinator"].after = {"frontend"};  // frontend <-> coordinator, backend only names them
  auto d = decideShutdownOrder(in);
  CHECK(d.cycle.empty());
  CHECK(d.held);  // they are not held for each other, so they go down and release it

  in = backendDown();
  in.after = {"ghost"};  // ghost -> backend would close a cycle, but ghost does not exist
  d = decideShutdownOrder(in);
  CHECK(d.cycle.empty());
  CHECK(d.reason == r::kDependentsDown);
}

TEST_CASE("orderInput reads going down, pods and the after lists of the namespace's other resources") {
  auto parse = [](const std::string& name, int replicas, bool deleting, json after) {
    json o = {{"metadata", {{"name", name}, {"namespace", "ns"}, {"uid", name + "-uid"}}},
              {"spec",
               {{"replicas", replicas},
                {"template", {{"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}}}}}},
                {"shutdown", {{"after", after}}}}}};
    if (deleting) o["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z";
    return api::parseMediVoteService(o).object;
  };
  const auto backend = parse("backend", 0, false, {"frontend", "node"});
  const auto frontend = parse("frontend", 2, true, json::array());
  const auto node = parse("node", 1, false, {"frontend"});
  auto other = parse("elsewhere", 0, true, json::array());
  other.ns = "other";
  const auto in = orderInput(backend, {backend, frontend, node, other}, {{"frontend", true}}, true, kNow);
  CHECK(in.goingDown);  // replicas 0
  CHECK(in.after == std::vector<std::string>{"frontend", "node"});
  REQUIRE(in.peers.size() == 2);  // itself and the other namespace's are not peers
  CHECK(in.peers.at("frontend").goingDown);
  CHECK(in.peers.at("frontend").hasPods);
  CHECK_FALSE(in.peers.at("node").goingDown);
  CHECK_FALSE(in.peers.at("node").hasPods);
  CHECK(in.peers.at("node").after == std::vector<std::string>{"frontend"});
  const auto d = decideShutdownOrder(in);
  CHECK(d.held);
  CHECK(d.up == std::vector<std::string>{"frontend"});
}

TEST_CASE("Events: Normal when a hold begins, Normal when released, Warning when it timed out, none otherwise") {
  OrderDecision held;
  held.held = true;
  held.reason = r::kDependentsUp;
  held.message = "waits for a";
  const json none = json::array();
  const json wasHeld = waitingCondition("True", r::kDependentsUp, kNow);
  auto events = orderEvents(none, held);
  REQUIRE(events.size() == 1);
  CHECK_FALSE(events[0].warning);
  CHECK(events[0].reason == kWaitingForDependents);
  CHECK(orderEvents(wasHeld, held).empty());  // still held: said once

  // The hold ends: released (Normal) or timed out (Warning), one Event each.
  for (const auto& [reason, warning] : {std::pair{r::kDependentsDown, false}, std::pair{r::kDependencyTimeout, true}}) {
    OrderDecision ended;
    ended.reason = reason;
    events = orderEvents(wasHeld, ended);
    REQUIRE(events.size() == 1);
    CHECK(events[0].warning == warning);
    CHECK(events[0].reason == reason);
  }
  OrderDecision timeout;
  timeout.reason = r::kDependencyTimeout;
  CHECK(orderEvents(waitingCondition("False", r::kDependencyTimeout, kNow), timeout).empty());

  OrderDecision notDown;
  notDown.reason = r::kNotGoingDown;
  CHECK(orderEvents(none, notDown).empty());
  CHECK(orderEvents(wasHeld, notDown).empty());
}

TEST_CASE("the after index files a resource under namespace/name of each resource it names") {
  const json mvs = {{"metadata", {{"name", "backend"}, {"namespace", "ns"}}},
                    {"spec", {{"shutdown", {{"after", {"frontend", "node", "frontend"}}}}}}};
  CHECK(indexByShutdownAfter(mvs) == std::vector<std::string>{"ns/frontend", "ns/node"});
  CHECK(indexByShutdownAfter({{"metadata", {{"name", "x"}, {"namespace", "ns"}}}}).empty());
  CHECK(indexByShutdownAfter({{"metadata", {{"name", "x"}}}, {"spec", {{"shutdown", {{"after", "frontend"}}}}}})
            .empty());
}

// The planner with the order: the hold stops new shutdowns of the resource's pods, and only those.
namespace {

json mvsJson(const std::string& name, int replicas, json after) {
  return {{"apiVersion", "medivote.io/v1alpha1"},
          {"kind", "MediVoteService"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"uid", name + "-uid"},
            {"generation", 2},
            {"finalizers", {"medivote.io/graceful-shutdown"}}}},
          {"spec",
           {{"replicas", replicas},
            {"tier", "simple"},
            {"template", {{"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}}}}}},
            {"shutdown", {{"after", after}, {"maxConcurrent", 5}}}}}};
}

json podOf(const api::MediVoteService& mvs, int ordinal) {
  json pod = buildPod(mvs, ordinal, api::Tier::Simple, PodSettings{});
  pod["metadata"]["uid"] = mvs.name + "-pod-" + std::to_string(ordinal);
  pod["status"] = {{"phase", "Running"}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}};
  return pod;
}

Observation observeBackend(json backendJson, bool frontendGoingDown, bool frontendHasPods) {
  Observation o;
  o.mvs = api::parseMediVoteService(backendJson).object;
  o.pods = {podOf(o.mvs, 0), podOf(o.mvs, 1)};
  o.serviceExists = true;
  o.now = kNow;
  o.namespaceResources.push_back(
      api::parseMediVoteService(mvsJson("frontend", frontendGoingDown ? 0 : 1, json::array())).object);
  o.namespaceHasPods["frontend"] = frontendHasPods;
  return o;
}

const json* condition(const json& status, const std::string& type) {
  for (const auto& c : status["conditions"])
    if (c["type"] == type) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("planner: a deleted resource held by a dependency starts no shutdown, and says why") {
  json backend = mvsJson("backend", 2, json::array({"frontend"}));
  backend["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z";
  const Plan p = plan(observeBackend(backend, true, true), PodSettings{});
  CHECK(p.startShutdown.empty());
  CHECK_FALSE(p.removeFinalizer);
  const json* c = condition(p.status, kWaitingForDependents);
  REQUIRE(c);
  CHECK((*c)["status"] == "True");
  CHECK((*c)["reason"] == r::kDependentsUp);
  CHECK((*c)["observedGeneration"] == 2);
  CHECK((*c)["message"].get<std::string>().find("frontend") != std::string::npos);
  REQUIRE(p.order.wakeAt);
  bool event = false;
  for (const auto& e : p.events) event = event || (e.reason == kWaitingForDependents && !e.warning);
  CHECK(event);
  CHECK_FALSE(p.orderWaitEnded);
}

TEST_CASE("planner: released, the deletion shuts every pod down, and the Event and the metric flag say so") {
  json backend = mvsJson("backend", 2, json::array({"frontend"}));
  backend["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z";
  backend["status"] = {{"conditions", waitingCondition("True", r::kDependentsUp, kNow - std::chrono::seconds(3))}};
  const Plan p = plan(observeBackend(backend, true, false), PodSettings{});
  CHECK(p.startShutdown.size() == 2);
  const json* c = condition(p.status, kWaitingForDependents);
  REQUIRE(c);
  CHECK((*c)["status"] == "False");
  CHECK((*c)["reason"] == r::kDependentsDown);
  CHECK(p.orderWaitEnded);
}

TEST_CASE("planner: scaled to 0 is held like a deletion, a scale-down to N > 0 is not") {
  Plan p = plan(observeBackend(mvsJson("backend", 0, json::array({"frontend"})), true, true), PodSettings{});
  CHECK(p.startShutdown.empty());
  p = plan(observeBackend(mvsJson("backend", 1, json::array({"frontend"})), true, true), PodSettings{});
  CHECK(p.startShutdown.size() == 1);
  const json* c = condition(p.status, kWaitingForDependents);
  REQUIRE(c);
  CHECK((*c)["reason"] == r::kNotGoingDown);
}

TEST_CASE("planner: a dependency that is not going down holds a deletion kSettle at most") {
  json backend = mvsJson("backend", 2, json::array({"frontend"}));
  backend["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z";
  Observation o = observeBackend(backend, false, true);
  Plan p = plan(o, PodSettings{});
  CHECK(p.startShutdown.empty());
  CHECK(p.order.reason == r::kDependentsSettling);
  CHECK(p.events.empty());
  o.mvs.status = p.status;
  o.now = kNow + kSettle;
  p = plan(o, PodSettings{});
  CHECK(p.startShutdown.size() == 2);
  CHECK(p.order.reason == r::kDependentsStayUp);
  CHECK_FALSE(p.orderWaitEnded);
}

TEST_CASE("planner: a pod deleted by someone else is driven while held, and nothing new starts") {
  json backend = mvsJson("backend", 0, json::array({"frontend"}));
  Observation o = observeBackend(backend, true, true);
  o.pods[0]["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z";  // kubectl delete pod, eviction
  const Plan p = plan(o, PodSettings{});
  CHECK(p.startShutdown.empty());
  CHECK(p.continueShutdown == std::vector<std::string>{"backend-0"});
}

TEST_CASE("planner: a cycle is Degraded DependencyCycle naming it, and holds nothing") {
  json backend = mvsJson("backend", 2, json::array({"frontend"}));
  backend["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z";
  Observation o = observeBackend(backend, true, true);
  o.namespaceResources[0] = api::parseMediVoteService(mvsJson("frontend", 0, json::array({"backend"}))).object;
  const Plan p = plan(o, PodSettings{});
  CHECK(p.startShutdown.size() == 2);
  const json* degraded = condition(p.status, "Degraded");
  REQUIRE(degraded);
  CHECK((*degraded)["status"] == "True");
  CHECK((*degraded)["reason"] == r::kDependencyCycle);
  CHECK((*degraded)["message"].get<std::string>().find("backend -> frontend -> backend") != std::string::npos);
}

TEST_CASE("planner: a resource without after gets no WaitingForDependents condition") {
  const Plan p = plan(observeBackend(mvsJson("backend", 2, json::array()), true, true), PodSettings{});
  CHECK_FALSE(condition(p.status, kWaitingForDependents));
}

TEST_CASE("planner: pods all deleted by someone else (a namespace deletion) hold the resource until they are called") {
  // Both resources deleted with their pods, as the namespace controller does: backend's pods are External, not
  // active, and still count as pods to shut down while their call is not made (the stage machine holds it).
  json backend = mvsJson("backend", 2, json::array({"frontend"}));
  backend["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z";
  for (const std::string stage : {"", "Draining", "Requested"}) {
    CAPTURE(stage);
    Observation o = observeBackend(backend, true, true);
    o.namespaceResources[0] = api::parseMediVoteService(mvsJson("frontend", 1, json::array())).object;
    o.namespaceResources[0].deleting = true;
    for (auto& pod : o.pods) {
      pod["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:16Z";
      pod["metadata"]["deletionGracePeriodSeconds"] = 16;
      if (!stage.empty()) {
        pod["metadata"]["annotations"]["medivote.io/shutdown-stage"] = stage;
        pod["metadata"]["annotations"]["medivote.io/shutdown-reason"] = "External";
      }
    }
    const Plan p = plan(o, PodSettings{});
    CHECK(p.startShutdown.empty());
    CHECK(p.continueShutdown.size() == 2);
    if (stage == "Requested") {  // called: nothing left to hold
      CHECK_FALSE(p.order.held);
      CHECK(p.order.reason == r::kNoPods);
    } else {
      CHECK(p.order.held);
      CHECK(p.order.reason == r::kDependentsUp);
    }
    // Not going down (yet), every pod of it deleted by someone else (a namespace deletion that deleted the pods
    // first, or kubectl delete pod of them all): kSettle at most from the deletion request (grace 16 s).
    Observation alone = o;
    alone.mvs = api::parseMediVoteService(mvsJson("backend", 2, json::array({"frontend"}))).object;
    alone.namespaceResources[0].deleting = false;
    alone.now = util::parseTime("2026-12-06T10:00:01Z").value();
    const Plan settling = plan(alone, PodSettings{});
    CHECK(settling.order.held == (stage != "Requested"));
    CHECK(settling.startShutdown.empty());
    alone.now = util::parseTime("2026-12-06T10:00:02Z").value();
    CHECK_FALSE(plan(alone, PodSettings{}).order.held);
    // One pod deleted while the other serves (an eviction): never held.
    alone.now = util::parseTime("2026-12-06T10:00:01Z").value();
    alone.pods[1]["metadata"].erase("deletionTimestamp");
    alone.pods[1]["metadata"]["annotations"].erase("medivote.io/shutdown-stage");
    alone.pods[1]["metadata"]["annotations"].erase("medivote.io/shutdown-reason");
    CHECK_FALSE(plan(alone, PodSettings{}).order.held);
  }
}

TEST_CASE("podHoldsOrder: a pod holds the resources that name it until it is deleted and its service exited") {
  const auto mvs = api::parseMediVoteService(mvsJson("frontend", 1, json::array())).object;
  json pod = podOf(mvs, 0);
  pod["status"]["containerStatuses"] = {{{"name", "c"}, {"restartCount", 0}, {"state", {{"running", json::object()}}}}};
  CHECK(podHoldsOrder(pod, "c"));
  pod["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:16Z";
  CHECK(podHoldsOrder(pod, "c"));  // being deleted, the service still runs (its HTTP stage is not over)
  pod["status"]["containerStatuses"][0]["state"] = {
      {"terminated", {{"exitCode", 0}, {"finishedAt", "2026-12-06T10:00:03Z"}}}};
  CHECK_FALSE(podHoldsOrder(pod, "c"));  // in its preStop sleep, the service done
  pod["metadata"].erase("deletionTimestamp");
  CHECK(podHoldsOrder(pod, "c"));  // exited while not being deleted: restarted by the kubelet, still up
}

TEST_CASE("every pod deleted by someone else while a named resource has pods: kSettle for the resource to go down") {
  // A namespace deletion may delete the pods before the resources: backend is not going down yet, all its pods are
  // deleted (since kNow); frontend has pods, or has none left holding the order.
  for (bool frontendHasPods : {true, false}) {
    CAPTURE(frontendHasPods);
    auto in = backendDown();
    in.goingDown = false;
    in.after = {"frontend"};
    in.peers["frontend"] = {false, frontendHasPods, {}};
    in.podsDeletedSince = kNow;
    for (auto at : {std::chrono::seconds(0), std::chrono::seconds(1), kSettle}) {
      in.now = kNow + at;
      const auto d = decideShutdownOrder(in);
      const bool held = frontendHasPods && at < kSettle;
      CHECK(d.held == held);
      CHECK(d.reason == (held ? r::kDependentsSettling : r::kNotGoingDown));
      if (held) {
        CHECK(*d.wakeAt == kNow + kSettle);
        CHECK(d.up == std::vector<std::string>{"frontend"});
        CHECK(orderEvents(json::array(), d).empty());  // no Event for a settle
      }
    }
    // Its own deletion seen meanwhile, frontend's too: the ordinary hold, counted from the settle's start.
    in.goingDown = true;
    in.now = kNow + std::chrono::seconds(1);
    in.previousConditions = waitingCondition("True", r::kDependentsSettling, kNow);
    in.peers["frontend"].goingDown = true;
    const auto d = decideShutdownOrder(in);
    CHECK(d.held == frontendHasPods);
    if (d.held) {
      CHECK(d.reason == r::kDependentsUp);
      CHECK(*d.since == kNow);
    }
  }
  // No pod of it deleted by someone else (podsDeletedSince unset): never held while not going down.
  auto live = backendDown();
  live.goingDown = false;
  CHECK_FALSE(decideShutdownOrder(live).held);
}
