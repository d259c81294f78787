#include "cli/reports.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "api/medivoteservice.h"
#include "medivote/derived_names.h"
#include "medivote/planner.h"
#include "shutdown/endpoint_membership.h"
#include "shutdown/pod_facts.h"
#include "shutdown/policy.h"
#include "shutdown/stage_machine.h"

namespace mv::cli {
namespace {

using shutdown::Stage;
using util::WallTime;

double secondsBetween(WallTime from, WallTime to) {
  return std::chrono::duration<double>(to - from).count();
}

json timeOrNull(const std::optional<WallTime>& t) { return t ? json(util::formatTimeMillis(*t)) : json(nullptr); }

std::string str(const json& j, const char* pointer) {
  const json::json_pointer p(pointer);
  return j.contains(p) && j.at(p).is_string() ? j.at(p).get<std::string>() : std::string();
}

bool podReady(const json& pod) {
  const json conditions = pod.value("/status/conditions"_json_pointer, json::array());
  if (!conditions.is_array()) return false;
  for (const auto& c : conditions)
    if (c.is_object() && c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

// Pods by ordinal (as the operator numbers them), then name.
void sortPods(std::vector<json>& pods, const std::string& mvsName) {
  std::sort(pods.begin(), pods.end(), [&](const json& a, const json& b) {
    const std::string na = str(a, "/metadata/name"), nb = str(b, "/metadata/name");
    const int oa = medivote::ordinalOf(mvsName, na), ob = medivote::ordinalOf(mvsName, nb);
    return oa != ob ? oa < ob : na < nb;
  });
}

// How the pod's service is reached for its shutdown call: "agent", "direct", or "" (no HTTP stage: SIGTERM).
std::string reachOf(const shutdown::PodFacts& f, const shutdown::ShutdownPolicy& p) {
  if (!p.httpStage()) return "";
  return f.preStop == shutdown::PreStopKind::AgentHold ? "agent" : "direct";
}

std::string pathOf(const std::string& reach) { return reach.empty() ? "sigterm" : "http (" + reach + ")"; }

// When the pod entered its current stage; a pod being deleted with no stage recorded: when its deletion began.
std::optional<WallTime> stageSince(const shutdown::PodFacts& f) {
  const auto& s = f.state;
  switch (s.stage) {
    case Stage::Draining: return s.startedAt;
    case Stage::Requested: return s.requestedAt;
    case Stage::Accepted: return s.acceptedAt;
    case Stage::Terminating: return s.terminatingAt;
    case Stage::Forced: return s.forcedAt;
    case Stage::None: break;
  }
  if (f.deletionTimestamp) return *f.deletionTimestamp - std::chrono::seconds(f.deletionGracePeriodSeconds);
  return std::nullopt;
}

json stepJson(const shutdown::Step& step) {
  json events = json::array();
  for (const auto& e : step.events)
    events.push_back({{"reason", e.reason}, {"message", e.message}, {"warning", e.warning}});
  json j = {{"step", std::string(shutdown::stepKindName(step.kind))},
            {"stage", std::string(shutdown::stageName(step.state.stage))},
            {"escalation", step.state.escalation},
            {"events", events}};
  if (step.kind == shutdown::Step::Kind::DeletePod) j["graceSeconds"] = step.graceSeconds;
  return j;
}

// The next deadline of a pod shutting down and what the stage machine does then, if nothing changes first: the step
// it decides now when that is a wait, else now (the operator is due to act).
json nextStep(const shutdown::PodFacts& f, const shutdown::ShutdownPolicy& p, WallTime now) {
  const shutdown::Step step = shutdown::decide(f, p, now);
  if (step.kind != shutdown::Step::Kind::Wait) {
    json j = stepJson(step);
    j["at"] = util::formatTimeMillis(now);
    j["inSeconds"] = 0.0;
    return j;
  }
  if (!step.wakeAt) {
    json j = stepJson(step);
    j["at"] = nullptr;
    j["inSeconds"] = nullptr;
    return j;
  }
  json j = stepJson(shutdown::decide(f, p, *step.wakeAt));
  j["at"] = util::formatTimeMillis(*step.wakeAt);
  j["inSeconds"] = std::max(0.0, secondsBetween(now, *step.wakeAt));
  return j;
}

json podStatus(const json& pod, const api::MediVoteService& mvs, const std::optional<std::vector<json>>& slices,
               WallTime now) {
  shutdown::PodFacts f = shutdown::observePod(pod, medivote::serviceContainerName(mvs));
  if (slices) f.inEndpoints = shutdown::inEndpointSlices(f.uid, f.podIP, *slices);
  const shutdown::ShutdownPolicy policy = shutdown::policyFor(mvs, shutdown::podTierAnnotation(pod));
  const auto& s = f.state;
  const bool shuttingDown = s.stage != Stage::None || f.deletionTimestamp.has_value();
  const auto since = stageSince(f);
  json j = {{"name", f.name},
            {"tier", std::string(api::tierName(policy.tier))},
            {"reach", reachOf(f, policy)},
            {"ready", podReady(pod)},
            {"phase", str(pod, "/status/phase")},
            {"deleting", f.deletionTimestamp.has_value()},
            {"stage", s.stage != Stage::None ? std::string(shutdown::stageName(s.stage))
                                             : std::string(f.deletionTimestamp ? "Deleting" : "")},
            {"reason", s.reason},
            {"stageSince", timeOrNull(since)},
            {"secondsInStage", since ? json(std::max(0.0, secondsBetween(*since, now))) : json(nullptr)},
            {"attempts", s.attempts},
            {"lastAnswer", s.lastAnswer},
            {"escalation", s.escalation},
            {"drain", s.drain},
            {"inEndpoints", f.inEndpoints ? json(*f.inEndpoints) : json(nullptr)},
            {"boundSeconds", policy.bound().count()}};
  j["next"] = shuttingDown ? nextStep(f, policy, now) : json(nullptr);
  return j;
}

int intAt(const json& j, const char* pointer, int fallback = 0) {
  const json::json_pointer p(pointer);
  return j.contains(p) && j.at(p).is_number_integer() ? j.at(p).get<int>() : fallback;
}

}  // namespace

json statusReport(const std::vector<ResourceView>& resources, WallTime now) {
  json items = json::array();
  for (const auto& rv : resources) {
    const api::MediVoteService mvs = api::parseMediVoteService(rv.mvs).object;
    std::vector<json> pods = rv.pods;
    sortPods(pods, mvs.name);
    json podItems = json::array();
    int shuttingDown = 0;
    for (const auto& pod : pods) {
      podItems.push_back(podStatus(pod, mvs, rv.slices, now));
      if (!podItems.back()["next"].is_null()) ++shuttingDown;
    }
    items.push_back({{"namespace", mvs.ns},
                     {"name", mvs.name},
                     {"tier", std::string(api::tierName(api::resolveTier(mvs).tier))},
                     {"phase", str(rv.mvs, "/status/phase")},
                     {"replicas", mvs.spec.replicas},
                     {"readyReplicas", intAt(rv.mvs, "/status/readyReplicas")},
                     {"deleting", mvs.deleting},
                     {"shuttingDown", shuttingDown},
                     {"pods", podItems}});
  }
  return {{"kind", "MediVoteStatus"}, {"now", util::formatTimeMillis(now)}, {"items", items}};
}

json historyReport(const json& object, WallTime now) {
  const json shutdowns = object.value("/status/shutdowns"_json_pointer, json::array());
  json items = json::array();
  for (const auto& h : shutdowns.is_array() ? shutdowns : json::array()) {
    if (!h.is_object()) continue;
    const json stages = h.value("stages", json::array());
    std::optional<WallTime> first, completed;
    json stageItems = json::array();
    for (const auto& st : stages.is_array() ? stages : json::array()) {
      const auto t = util::parseTime(st.value("time", ""));
      if (t && !first) first = t;
      if (st.value("stage", "") == "Completed" && t) completed = t;
      stageItems.push_back({{"stage", st.value("stage", "")},
                            {"time", st.value("time", "")},
                            {"offsetSeconds", t && first ? json(secondsBetween(*first, *t)) : json(nullptr)}});
    }
    const std::string outcome = h.value("outcome", "");
    // Until Completed; while under way, until now; a closed entry without Completed has no duration.
    const bool hasEnd = completed.has_value() || outcome.empty();
    const WallTime end = completed.value_or(now);
    items.push_back({{"pod", h.value("pod", "")},
                     {"reason", h.value("reason", "")},
                     {"outcome", outcome},
                     {"drain", h.value("drain", "")},
                     {"startedAt", first ? json(util::formatTime(*first)) : json(nullptr)},
                     {"endedAt", completed ? json(util::formatTime(*completed)) : json(nullptr)},
                     {"durationSeconds", first && hasEnd ? json(std::max(0.0, secondsBetween(*first, end))) : json(nullptr)},
                     {"stages", stageItems}});
  }
  return {{"kind", "MediVoteHistory"},
          {"namespace", str(object, "/metadata/namespace")},
          {"name", str(object, "/metadata/name")},
          {"now", util::formatTimeMillis(now)},
          {"items", items}};
}

json planReport(const ResourceView& live, const PlanChange& change, WallTime now,
                const medivote::PodSettings& settings) {
  const api::MediVoteService before = api::parseMediVoteService(live.mvs).object;
  json changed = live.mvs;
  json changeJson = json::object();
  if (change.replicas) {
    changed["spec"]["replicas"] = *change.replicas;
    changeJson = {{"replicas", *change.replicas}, {"from", before.spec.replicas}};
  } else if (change.image) {
    const std::string container =
        change.container.empty() ? medivote::serviceContainerName(before) : change.container;
    json& containers = changed["spec"]["template"]["spec"]["containers"];
    if (!containers.is_array()) containers = json::array();
    std::vector<std::string> names;
    bool found = false;
    for (auto& c : containers) {
      names.push_back(c.value("name", ""));
      if (c.value("name", "") == container) {
        changeJson = {{"image", *change.image}, {"container", container}, {"from", c.value("image", "")}};
        c["image"] = *change.image;
        found = true;
      }
    }
    if (!found)
      throw UsageError(fmt::format("container \"{}\" is not in the pod template of {}/{} (containers: {})", container,
                                   before.ns, before.name, fmt::join(names, ", ")));
  } else if (change.remove) {
    if (!before.deleting) changed["metadata"]["deletionTimestamp"] = util::formatTime(now);
    changeJson = {{"delete", true}};
  }

  medivote::Observation o;
  const api::Parsed parsed = api::parseMediVoteService(changed);
  o.mvs = parsed.object;
  o.specErrors = parsed.errors;
  for (auto& e : medivote::derivedNameErrors(o.mvs)) o.specErrors.push_back(std::move(e));
  o.pods = live.pods;
  o.now = now;
  const std::string serviceContainer = medivote::serviceContainerName(o.mvs);

  // The pod objects by name, the planned replacements included, for the path and bound of each pod that goes.
  std::map<std::string, json> known;
  for (const auto& p : live.pods) known[str(p, "/metadata/name")] = p;

  json pods = json::array(), create = json::array();
  std::map<int, double> longestOfWave;
  bool waitsForReady = false;
  auto addGoing = [&](const std::string& name, const std::string& reason, int wave, bool underWay) {
    const json& pod = known[name];
    const shutdown::PodFacts f = shutdown::observePod(pod, serviceContainer);
    const shutdown::ShutdownPolicy policy = shutdown::policyFor(o.mvs, shutdown::podTierAnnotation(pod));
    double bound = static_cast<double>(policy.bound().count());
    if (underWay) {  // what is left of its bound
      const auto started = f.state.startedAt ? f.state.startedAt : f.deletionTimestamp;
      if (started) bound = std::max(0.0, bound - secondsBetween(*started, now));
    }
    longestOfWave[wave] = std::max(longestOfWave[wave], bound);
    waitsForReady = waitsForReady || reason == shutdown::reasons::kUpgrade || reason == shutdown::reasons::kReplace;
    const std::string reach = reachOf(f, policy);
    pods.push_back({{"order", pods.size() + 1},
                    {"wave", wave},
                    {"pod", name},
                    {"reason", reason},
                    {"tier", std::string(api::tierName(policy.tier))},
                    {"reach", reach},
                    {"path", pathOf(reach)},
                    {"boundSeconds", bound},
                    {"underWay", underWay}});
  };

  // Each wave: what the planner decides now; then the world as if its shutdowns had ended and its new pods were
  // Ready. The planner is the operator's: the same choice of pods, order and concurrency as on the cluster.
  const std::size_t maxWaves = 2 * live.pods.size() + static_cast<std::size_t>(std::max(0, o.mvs.spec.replicas)) + 8;
  int shutdownWaves = 0;  // the waves that start a shutdown, numbered from 1 (0: those already under way)
  for (std::size_t wave = 0; wave < maxWaves; ++wave) {
    const medivote::Plan p = medivote::plan(o, settings);
    std::set<std::string> going;
    if (wave == 0)
      for (const auto& name : p.continueShutdown) {
        const auto state = shutdown::observePod(known[name], serviceContainer).state;
        addGoing(name, state.reason.empty() ? std::string(shutdown::reasons::kExternal) : state.reason, 0, true);
        going.insert(name);
      }
    if (!p.startShutdown.empty()) ++shutdownWaves;
    for (const auto& order : p.startShutdown) {
      addGoing(order.pod, order.reason, shutdownWaves, false);
      going.insert(order.pod);
    }
    if (wave > 0)
      for (const auto& name : p.continueShutdown) going.insert(name);
    const std::size_t podCount = o.pods.size();
    std::erase_if(o.pods, [&](const json& pod) { return going.count(str(pod, "/metadata/name")) > 0; });
    const bool removed = o.pods.size() != podCount;
    for (json pod : p.podsToCreate) {
      const std::string name = str(pod, "/metadata/name");
      create.push_back({{"afterWave", shutdownWaves}, {"pod", name}});
      pod["metadata"]["uid"] = "planned-" + name;
      pod["status"] = {{"phase", "Running"}, {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}}})}};
      known[name] = pod;
      o.pods.push_back(std::move(pod));
    }
    if (!removed && p.podsToCreate.empty()) break;
  }
  double longest = 0;
  for (const auto& [wave, seconds] : longestOfWave) longest += seconds;
  json specErrors = json::array();
  for (const auto& e : o.specErrors) specErrors.push_back({{"field", e.field}, {"message", e.message}});
  return {{"kind", "MediVotePlan"},
          {"namespace", before.ns},
          {"name", before.name},
          {"change", changeJson},
          {"maxConcurrent", std::max(1, o.mvs.spec.shutdown.maxConcurrent)},
          {"specErrors", specErrors},
          {"pods", pods},
          {"create", create},
          {"longestSeconds", longest},
          {"waitsForReady", waitsForReady}};
}

}  // namespace mv::cli
