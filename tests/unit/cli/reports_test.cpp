#include "cli/reports.h"

#include <doctest/doctest.h>

#include "api/medivoteservice.h"
#include "shutdown/policy.h"
#include "shutdown/state.h"

using namespace mv;
using namespace mv::cli;
using json = nlohmann::json;
using std::chrono::seconds;

namespace {

const util::WallTime kNow = util::WallTime(seconds(1795642898));

json mvsObject(int replicas = 3, int maxConcurrent = 1) {
  json o = json::parse(R"({
    "apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
    "metadata": {"name": "vote", "namespace": "ns", "uid": "mvs-uid", "generation": 2, "resourceVersion": "10",
                 "finalizers": ["medivote.io/graceful-shutdown"]},
    "spec": {
      "replicas": 3, "tier": "critical",
      "template": {"metadata": {"labels": {"app": "vote"}},
                   "spec": {"containers": [{"name": "vote", "image": "medivote/vote:1",
                                            "ports": [{"name": "http", "containerPort": 8080}]}]}},
      "shutdown": {"endpoint": {"port": "http", "path": "/shutdown"}, "maxConcurrent": 1}
    },
    "status": {"phase": "Running", "readyReplicas": 3}
  })");
  o["spec"]["replicas"] = replicas;
  o["spec"]["shutdown"]["maxConcurrent"] = maxConcurrent;
  return o;
}

// A running, Ready pod at `ordinal`, built by the operator's own pod builder.
json runningPod(const json& mvsJson, int ordinal) {
  const auto mvs = api::parseMediVoteService(mvsJson).object;
  json pod = medivote::buildPod(mvs, ordinal, api::Tier::Critical, medivote::PodSettings{});
  pod["metadata"]["uid"] = "pod-uid-" + std::to_string(ordinal);
  pod["status"] = {{"phase", "Running"},
                   {"podIP", "127.77.0." + std::to_string(ordinal + 2)},
                   {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
  return pod;
}

// `pod` with the shutdown state `s` written as the operator writes it.
json withState(json pod, const shutdown::ShutdownState& s) {
  const json patch = shutdown::stateAnnotationsPatch(s);
  for (const auto& [k, v] : patch.items())
    if (!v.is_null()) pod["metadata"]["annotations"][k] = v;
  return pod;
}

// A scale-down's state in `stage`, started 6 s ago and called 4 s ago.
shutdown::ShutdownState scaleDownIn(shutdown::Stage stage, int attempts, std::string lastAnswer) {
  shutdown::ShutdownState s;
  s.stage = stage;
  s.reason = "ScaleDown";
  s.startedAt = kNow - seconds(6);
  s.requestedAt = kNow - seconds(4);
  s.attempts = attempts;
  s.lastAnswer = std::move(lastAnswer);
  return s;
}

ResourceView resource(const json& mvs, int pods) {
  ResourceView v;
  v.mvs = mvs;
  for (int i = 0; i < pods; ++i) v.pods.push_back(runningPod(mvs, i));
  return v;
}

std::vector<std::string> podsOf(const json& plan) {
  std::vector<std::string> out;
  for (const auto& p : plan["pods"]) out.push_back(p["pod"]);
  return out;
}

double bound(const json& mvs) {
  return static_cast<double>(
      shutdown::policyFor(api::parseMediVoteService(mvs).object, std::nullopt).bound().count());
}

}  // namespace

TEST_CASE("status shows each pod's stage, time in stage, attempts, last answer and the stage machine's next step") {
  ResourceView v = resource(mvsObject(), 3);
  shutdown::ShutdownState requested = scaleDownIn(shutdown::Stage::Requested, 2, "409 busy");
  requested.drain = "drained";
  requested.nextAttemptAt = kNow + seconds(1);
  v.pods[2] = withState(v.pods[2], requested);
  v.slices = std::vector<json>{};  // read, and the pod is in none

  const json report = statusReport({v}, kNow);
  REQUIRE(report["items"].size() == 1);
  const json& item = report["items"][0];
  CHECK(item["name"] == "vote");
  CHECK(item["tier"] == "critical");
  CHECK(item["shuttingDown"] == 1);
  REQUIRE(item["pods"].size() == 3);
  const json& serving = item["pods"][0];
  CHECK(serving["stage"] == "");
  CHECK(serving["next"].is_null());
  CHECK(serving["reach"] == "direct");
  const json& going = item["pods"][2];
  CHECK(going["name"] == "vote-2");
  CHECK(going["stage"] == "Requested");
  CHECK(going["reason"] == "ScaleDown");
  CHECK(going["secondsInStage"].get<double>() == doctest::Approx(4.0));
  CHECK(going["attempts"] == 2);
  CHECK(going["lastAnswer"] == "409 busy");
  CHECK(going["inEndpoints"] == false);
  // The retry is due at nextAttemptAt: the stage machine then calls again.
  CHECK(going["next"]["at"] == util::formatTimeMillis(kNow + seconds(1)));
  CHECK(going["next"]["inSeconds"].get<double>() == doctest::Approx(1.0));
  CHECK(going["next"]["step"] == "CallEndpoint");
}

TEST_CASE("status: an accepted pod that does not exit is escalated to SIGTERM at its exit timeout") {
  ResourceView v = resource(mvsObject(), 1);
  shutdown::ShutdownState accepted = scaleDownIn(shutdown::Stage::Accepted, 1, "202");
  accepted.acceptedAt = kNow - seconds(3);
  json pod = withState(v.pods[0], accepted);
  pod["metadata"]["deletionTimestamp"] = util::formatTime(kNow + seconds(27));
  pod["metadata"]["deletionGracePeriodSeconds"] = 30;
  v.pods = {pod};
  const json p = statusReport({v}, kNow)["items"][0]["pods"][0];
  CHECK(p["stage"] == "Accepted");
  CHECK(p["deleting"] == true);
  // exitTimeoutSeconds defaults to 10: 7 s left.
  CHECK(p["next"]["inSeconds"].get<double>() == doctest::Approx(7.0));
  CHECK(p["next"]["step"] == "UpdateState");
  CHECK(p["next"]["stage"] == "Terminating");
  CHECK(p["next"]["escalation"] == "exit-timeout");
  CHECK(p["next"]["events"][0]["reason"] == "EscalatedToSIGTERM");
}

TEST_CASE("status: a pod deleted by someone else is shown as Deleting, and is due for the operator now") {
  ResourceView v = resource(mvsObject(), 1);
  v.pods[0]["metadata"]["deletionTimestamp"] = util::formatTime(kNow + seconds(28));
  v.pods[0]["metadata"]["deletionGracePeriodSeconds"] = 30;
  const json p = statusReport({v}, kNow)["items"][0]["pods"][0];
  CHECK(p["stage"] == "Deleting");
  CHECK(p["secondsInStage"].get<double>() == doctest::Approx(2.0));
  CHECK(p["next"]["inSeconds"].get<double>() == 0.0);
  CHECK(p["next"]["step"] == "CallEndpoint");  // reach direct: its preStop sleep runs; the endpoint is called
}

TEST_CASE("history lists status.shutdowns with outcomes, durations and stage offsets") {
  json mvs = mvsObject();
  mvs["status"]["shutdowns"] = json::parse(R"([
    {"pod": "vote-1", "reason": "ScaleDown", "outcome": "", "drain": "drained",
     "stages": [{"stage": "Draining", "time": "2026-11-25T21:41:30Z"}, {"stage": "Requested", "time": "2026-11-25T21:41:31Z"}]},
    {"pod": "vote-2", "reason": "ScaleDown", "outcome": "http",
     "stages": [{"stage": "Draining", "time": "2026-11-25T21:40:00Z"}, {"stage": "Requested", "time": "2026-11-25T21:40:01Z"},
                {"stage": "Accepted", "time": "2026-11-25T21:40:01Z"}, {"stage": "Completed", "time": "2026-11-25T21:40:03Z"}]}
  ])");
  const util::WallTime now = *util::parseTime("2026-11-25T21:41:35Z");
  const json h = historyReport(mvs, now);
  CHECK(h["name"] == "vote");
  REQUIRE(h["items"].size() == 2);
  CHECK(h["items"][0]["outcome"] == "");
  CHECK(h["items"][0]["durationSeconds"].get<double>() == doctest::Approx(5.0));  // under way: until now
  CHECK(h["items"][0]["endedAt"].is_null());
  CHECK(h["items"][1]["outcome"] == "http");
  CHECK(h["items"][1]["durationSeconds"].get<double>() == doctest::Approx(3.0));
  CHECK(h["items"][1]["stages"][3]["offsetSeconds"].get<double>() == doctest::Approx(3.0));
  CHECK(historyReport(mvsObject(), now)["items"].empty());
}

TEST_CASE("plan --replicas: the planner's order, one wave per pod at maxConcurrent 1, and the summed bound") {
  const json mvs = mvsObject(3, 1);
  PlanChange change;
  change.replicas = 1;
  const json plan = planReport(resource(mvs, 3), change, kNow);
  CHECK(podsOf(plan) == std::vector<std::string>{"vote-2", "vote-1"});
  CHECK(plan["pods"][0]["wave"] == 1);
  CHECK(plan["pods"][1]["wave"] == 2);
  CHECK(plan["pods"][0]["reason"] == "ScaleDown");
  CHECK(plan["pods"][0]["tier"] == "critical");
  CHECK(plan["pods"][0]["path"] == "http (direct)");
  CHECK(plan["pods"][0]["boundSeconds"].get<double>() == bound(mvs));
  CHECK(plan["longestSeconds"].get<double>() == 2 * bound(mvs));
  CHECK(plan["change"]["from"] == 3);
  CHECK(plan["create"].empty());
  CHECK(plan["waitsForReady"] == false);

  // maxConcurrent 2: both go at once, and the longest is one bound.
  const json wide = planReport(resource(mvsObject(3, 2), 3), change, kNow);
  CHECK(podsOf(wide) == std::vector<std::string>{"vote-2", "vote-1"});
  CHECK(wide["pods"][1]["wave"] == 1);
  CHECK(wide["longestSeconds"].get<double>() == bound(mvs));
}

TEST_CASE("plan --replicas honours podsToDelete, as the planner does") {
  json mvs = mvsObject(3, 1);
  mvs["spec"]["podsToDelete"] = json::array({"vote-0"});
  PlanChange change;
  change.replicas = 2;
  CHECK(podsOf(planReport(resource(mvs, 3), change, kNow)) == std::vector<std::string>{"vote-0"});
}

TEST_CASE("plan --replicas up creates pods and shuts none down") {
  PlanChange change;
  change.replicas = 5;
  const json plan = planReport(resource(mvsObject(), 3), change, kNow);
  CHECK(plan["pods"].empty());
  REQUIRE(plan["create"].size() == 2);
  CHECK(plan["create"][0]["pod"] == "vote-3");
  CHECK(plan["longestSeconds"].get<double>() == 0.0);
}

TEST_CASE("plan --image: a rolling upgrade, highest ordinal first, each replacement awaited") {
  PlanChange change;
  change.image = "medivote/vote:2";
  const json plan = planReport(resource(mvsObject(), 3), change, kNow);
  CHECK(podsOf(plan) == std::vector<std::string>{"vote-2", "vote-1", "vote-0"});
  CHECK(plan["pods"][0]["reason"] == "Upgrade");
  // One wave each: the next old pod goes once the replacement of the last is Ready.
  CHECK(plan["pods"][1]["wave"] == 2);
  CHECK(plan["pods"][2]["wave"] == 3);
  CHECK(plan["create"][0]["afterWave"] == 1);
  CHECK(plan["waitsForReady"] == true);
  CHECK(plan["change"]["container"] == "vote");
  CHECK(plan["change"]["from"] == "medivote/vote:1");
  CHECK(plan["create"].size() == 3);

  change.image = "medivote/vote:1";  // the same image: nothing changes
  CHECK(planReport(resource(mvsObject(), 3), change, kNow)["pods"].empty());

  change.container = "sidecar";
  CHECK_THROWS_AS(planReport(resource(mvsObject(), 3), change, kNow), UsageError);
}

TEST_CASE("plan --delete: every pod goes, maxConcurrent at a time") {
  PlanChange change;
  change.remove = true;
  const json plan = planReport(resource(mvsObject(3, 2), 3), change, kNow);
  CHECK(podsOf(plan).size() == 3);
  CHECK(plan["pods"][0]["reason"] == "Deletion");
  CHECK(plan["pods"][1]["wave"] == 1);
  CHECK(plan["pods"][2]["wave"] == 2);
}

TEST_CASE("plan lists a shutdown already under way first, with what is left of its bound") {
  const json mvs = mvsObject(3, 1);
  ResourceView v = resource(mvs, 3);
  shutdown::ShutdownState draining;
  draining.stage = shutdown::Stage::Draining;
  draining.reason = "Upgrade";
  draining.startedAt = kNow - seconds(10);
  v.pods[1] = withState(v.pods[1], draining);
  PlanChange change;
  change.replicas = 1;
  const json plan = planReport(v, change, kNow);
  REQUIRE(plan["pods"].size() >= 2);
  CHECK(plan["pods"][0]["pod"] == "vote-1");
  CHECK(plan["pods"][0]["underWay"] == true);
  CHECK(plan["pods"][0]["wave"] == 0);
  CHECK(plan["pods"][0]["boundSeconds"].get<double>() == bound(mvs) - 10);
  CHECK(plan["pods"][1]["pod"] == "vote-2");
  CHECK(plan["pods"][1]["reason"] == "ScaleDown");
  CHECK(plan["pods"][1]["wave"] == 1);  // the first wave that starts one
}

TEST_CASE("plan on a spec the change makes invalid starts nothing and says why") {
  json mvs = mvsObject();
  mvs["spec"]["template"]["metadata"]["labels"]["medivote.io/stage"] = "x";
  PlanChange change;
  change.replicas = 1;
  const json plan = planReport(resource(mvs, 3), change, kNow);
  CHECK(plan["pods"].empty());
  CHECK_FALSE(plan["specErrors"].empty());
}
