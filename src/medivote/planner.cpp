#include "medivote/planner.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "api/names.h"
#include "medivote/service_drift.h"
#include "shutdown/state.h"

namespace mv::medivote {
namespace {

using shutdown::Stage;
namespace reasons = shutdown::reasons;

constexpr std::size_t kHistoryLength = 10;

struct PodView {
  const json* pod;
  std::string name;
  int ordinal = -1;  // -1: a name that is not <mvs>-<n>
  bool ours = false;
  bool shuttingDown = false;
  bool deleting = false;
  shutdown::ShutdownState state;
  std::string revision;
  bool ready = false;
  bool failed = false;  // phase Failed or Succeeded: it will not serve again
};

bool podReady(const json& pod) {
  const json conditions = pod.value("/status/conditions"_json_pointer, json::array());
  if (!conditions.is_array()) return false;
  for (const auto& c : conditions)
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

PodView view(const json& pod, const api::MediVoteService& mvs) {
  PodView v;
  v.pod = &pod;
  const json meta = pod.value("metadata", json::object());
  v.name = meta.value("name", "");
  v.ordinal = ordinalOf(mvs.name, v.name);
  for (const auto& ref : meta.value("ownerReferences", json::array()))
    if (ref.value("controller", false) && ref.value("uid", "") == mvs.uid) v.ours = true;
  v.state = shutdown::readState(meta.value("annotations", json::object()));
  v.deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
  v.shuttingDown = v.deleting || v.state.stage != Stage::None;
  v.revision = meta.value("/labels"_json_pointer, json::object()).value(std::string(api::kLabelRevision), "");
  v.ready = podReady(pod);
  const std::string phase = pod.value("/status/phase"_json_pointer, std::string());
  v.failed = phase == "Failed" || phase == "Succeeded";
  return v;
}

// A pod shutting down to be replaced at its ordinal keeps its slot.
bool keepsSlot(const PodView& v) {
  if (!v.shuttingDown) return true;
  const std::string& r = v.state.reason;
  return r == reasons::kUpgrade || r == reasons::kReplace || r == reasons::kExternal ||
         (r.empty() && v.deleting);  // deleted by someone else, before the operator recorded anything
}

json stagesOf(const shutdown::ShutdownState& s) {
  json stages = json::array();
  auto add = [&](const char* name, const std::optional<util::WallTime>& t) {
    if (t) stages.push_back({{"stage", name}, {"time", util::formatTime(*t)}});
  };
  // A simple-tier shutdown starts at Terminating; only the HTTP path drains first.
  if (s.requestedAt || s.stage == Stage::Draining) add("Draining", s.startedAt);
  add("Requested", s.requestedAt);
  add("Accepted", s.acceptedAt);
  add("Terminating", s.terminatingAt);
  add("Forced", s.forcedAt);
  std::stable_sort(stages.begin(), stages.end(),
                   [](const json& a, const json& b) { return a["time"].get<std::string>() < b["time"].get<std::string>(); });
  return stages;
}

std::string impliedOutcome(const json& entry) {
  const json stages = entry.value("stages", json::array());
  std::string last = stages.empty() ? "" : stages.back().value("stage", "");
  if (last == "Forced") return "forced";
  if (last == "Accepted") return "http";
  return "sigterm";
}

// The history entry of a shutdown in progress (its outcome is written when its pod is gone). `drain` says how
// Draining ended, when it was waited for.
json historyEntry(const std::string& pod, const shutdown::ShutdownState& s) {
  json entry = {{"pod", pod},
                {"reason", s.reason.empty() ? std::string(reasons::kExternal) : s.reason},
                {"outcome", ""},
                {"stages", stagesOf(s)}};
  if (!s.drain.empty()) entry["drain"] = s.drain;
  return entry;
}

json updatedHistory(const json& previous, const std::vector<PodView>& pods, const Observation& o) {
  json history = previous.is_array() ? previous : json::array();
  std::set<std::string> present;
  for (const auto& v : pods) {
    if (!v.ours || !v.shuttingDown) continue;
    present.insert(v.name);
    const json entry = historyEntry(v.name, v.state);
    bool found = false;
    for (auto& h : history) {
      if (h.value("pod", "") == v.name && h.value("outcome", "").empty()) {
        h = entry;
        found = true;
        break;
      }
    }
    if (!found) history.insert(history.begin(), entry);
  }
  // Shutdowns that began and ended between two plans: their entry comes from the state the runner last saw.
  for (const auto& [pod, state] : o.completedStates) {
    if (present.count(pod) || state.stage == Stage::None) continue;
    const bool open = std::any_of(history.begin(), history.end(), [&, &name = pod](const json& h) {
      return h.value("pod", "") == name && h.value("outcome", "").empty();
    });
    if (open) continue;
    history.insert(history.begin(), historyEntry(pod, state));
  }
  for (auto& h : history) {
    if (!h.value("outcome", "").empty() || present.count(h.value("pod", ""))) continue;
    // Its pod is gone: the shutdown is complete.
    const auto it = o.completedOutcomes.find(h.value("pod", ""));
    h["outcome"] = it != o.completedOutcomes.end() ? it->second : impliedOutcome(h);
    if (!h.contains("stages") || !h["stages"].is_array()) h["stages"] = json::array();
    h["stages"].push_back({{"stage", "Completed"}, {"time", util::formatTime(o.now)}});
  }
  if (history.size() > kHistoryLength) history.erase(history.begin() + kHistoryLength, history.end());
  return history;
}

}  // namespace

void setCondition(json& conditions, const std::string& type, bool status, const std::string& reason,
                  const std::string& message, int64_t generation, util::WallTime now) {
  if (!conditions.is_array()) conditions = json::array();
  const std::string value = status ? "True" : "False";
  for (auto& c : conditions) {
    if (c.value("type", "") != type) continue;
    if (c.value("status", "") != value) c["lastTransitionTime"] = util::formatTime(now);
    c["status"] = value;
    c["reason"] = reason;
    c["message"] = message;
    c["observedGeneration"] = generation;
    return;
  }
  conditions.push_back({{"type", type},
                        {"status", value},
                        {"reason", reason},
                        {"message", message},
                        {"observedGeneration", generation},
                        {"lastTransitionTime", util::formatTime(now)}});
}

bool sameStatus(const json& a, const json& b) { return a == b; }

std::optional<std::string> reportedMisconfiguration(const api::MediVoteService& mvs) {
  const json conditions = mvs.status.is_object() ? mvs.status.value("conditions", json::array()) : json::array();
  if (!conditions.is_array()) return std::nullopt;
  for (const auto& c : conditions)
    if (c.is_object() && c.value("type", "") == "Degraded" && c.value("status", "") == "True" &&
        c.value("reason", "") == "ShutdownMisconfigured" &&
        c.value("observedGeneration", int64_t{-1}) == mvs.generation)
      return c.value("message", "");
  return std::nullopt;
}

Plan plan(const Observation& o, const PodSettings& settings) {
  Plan p;
  const api::MediVoteService& mvs = o.mvs;
  const auto& spec = mvs.spec;
  const api::TierDecision tier = api::resolveTier(mvs);
  const std::string updateRevision = templateRevision(mvs);
  const bool specValid = o.specErrors.empty();
  // Pods are created and chosen to go only on a valid spec whose token Secret can be mounted.
  const bool managePods = specValid && !(o.tokenSecretProblem && o.tokenSecretProblem->blocksPods);

  std::vector<PodView> pods;
  pods.reserve(o.pods.size());
  for (const auto& pod : o.pods) pods.push_back(view(pod, mvs));
  std::sort(pods.begin(), pods.end(), [](const PodView& a, const PodView& b) {
    return a.ordinal != b.ordinal ? a.ordinal < b.ordinal : a.name < b.name;
  });

  std::set<int> usedOrdinals;     // by any pod with our name pattern, ours or not: never created over
  std::vector<std::string> foreign;
  int shuttingDown = 0;
  for (const auto& v : pods) {
    if (v.ordinal >= 0) usedOrdinals.insert(v.ordinal);
    if (!v.ours) {
      if (v.ordinal >= 0) foreign.push_back(v.name);
      continue;
    }
    if (v.shuttingDown) {
      ++shuttingDown;
      p.continueShutdown.push_back(v.name);
    }
  }
  const int maxConcurrent = std::max(1, spec.shutdown.maxConcurrent);
  int budget = std::max(0, maxConcurrent - shuttingDown);
  auto startShutdown = [&](const PodView& v, std::string_view reason) {
    if (budget <= 0) return false;
    --budget;
    p.startShutdown.push_back({v.name, std::string(reason)});
    return true;
  };

  // Our active pods (not shutting down), and the slots.
  std::vector<const PodView*> active;
  int slots = 0;
  for (const auto& v : pods) {
    if (!v.ours) continue;
    if (!v.shuttingDown) active.push_back(&v);
    if (keepsSlot(v)) ++slots;
  }

  std::string progressingReason;
  if (mvs.deleting) {
    // Every pod goes; nothing is created. The finalizer goes with the last pod.
    for (const auto* v : active) startShutdown(*v, reasons::kDeletion);
    const bool anyLeft = std::any_of(pods.begin(), pods.end(), [](const PodView& v) { return v.ours; });
    if (!anyLeft && std::find(mvs.finalizers.begin(), mvs.finalizers.end(), std::string(api::kFinalizer)) !=
                        mvs.finalizers.end())
      p.removeFinalizer = true;
  } else {
    if (std::find(mvs.finalizers.begin(), mvs.finalizers.end(), std::string(api::kFinalizer)) == mvs.finalizers.end())
      p.addFinalizer = true;
    if (managePods) {
      // Failed pods are replaced in place.
      std::set<std::string> chosen;
      for (const auto* v : active)
        if (v->failed && startShutdown(*v, reasons::kReplace)) chosen.insert(v->name);

      const int replicas = spec.replicas;
      if (slots > replicas) {
        progressingReason = "ScalingDown";
        // podsToDelete first (in the order given), then the highest ordinals; pods with odd names before all.
        std::vector<const PodView*> order;
        for (const auto* v : active)
          if (v->ordinal < 0) order.push_back(v);
        for (const auto& name : spec.podsToDelete)
          for (const auto* v : active)
            if (v->name == name && v->ordinal >= 0) order.push_back(v);
        for (auto it = active.rbegin(); it != active.rend(); ++it)
          if (std::find(order.begin(), order.end(), *it) == order.end()) order.push_back(*it);
        int excess = slots - replicas;
        for (const auto* v : order) {
          if (excess <= 0) break;
          if (chosen.count(v->name)) continue;
          if (startShutdown(*v, reasons::kScaleDown)) chosen.insert(v->name);
          --excess;  // counted whether started now or waiting for the concurrency budget
        }
      } else if (slots < replicas) {
        progressingReason = "ScalingUp";
        int missing = replicas - slots;
        // Ordinals are stable, as a StatefulSet's: a pod still shutting down after a scale-down holds its ordinal
        // until it is gone, and its replacement then takes it (with its claim and the state saved there); no pod is
        // made at a higher ordinal meanwhile.
        std::set<int> releasing;
        for (const auto& v : pods)
          if (v.ours && v.ordinal >= 0 && !keepsSlot(v)) releasing.insert(v.ordinal);
        for (int ordinal = 0; missing > 0 && ordinal < 100000; ++ordinal) {
          if (releasing.count(ordinal)) {
            --missing;
            continue;
          }
          if (usedOrdinals.count(ordinal)) continue;
          p.podsToCreate.push_back(buildPod(mvs, ordinal, tier.tier, settings));
          for (const auto& ct : spec.volumeClaimTemplates) {
            json claim = buildClaim(mvs, ct, ordinal);
            const std::string name = claim["metadata"]["name"];
            if (std::find(o.existingClaims.begin(), o.existingClaims.end(), name) == o.existingClaims.end())
              p.claimsToCreate.push_back(std::move(claim));
          }
          --missing;
        }
      }

      // Rolling upgrade (only when the count is right, so that scaling and upgrading do not fight).
      if (slots == replicas) {
        int unavailable = 0;
        for (const auto& v : pods)
          if (v.ours && keepsSlot(v) && (v.shuttingDown || !v.ready)) ++unavailable;
        unavailable += replicas - slots;
        const int maxUnavailable = api::resolveMaxUnavailable(spec.updateStrategy.maxUnavailable, replicas);
        for (auto it = active.rbegin(); it != active.rend(); ++it) {
          const PodView& v = **it;
          if (v.revision == updateRevision || chosen.count(v.name)) continue;
          if (v.ordinal >= 0 && v.ordinal < spec.updateStrategy.partition) continue;
          progressingReason = "RollingUpdate";
          // Unavailable pods of the old revision are replaced first: replacing them costs no availability.
          if (!v.ready || unavailable < maxUnavailable) {
            if (!startShutdown(v, reasons::kUpgrade)) break;
            chosen.insert(v.name);
            if (v.ready) ++unavailable;
          }
        }
      }
      // Pods not yet Ready also mean progress is under way.
      if (progressingReason.empty())
        for (const auto* v : active)
          if (!v->ready) progressingReason = "WaitingForReady";
    }

    if (specValid) {
      const json service = buildService(mvs);
      if (!service.is_null()) {
        if (!o.serviceExists) {
          p.serviceToCreate = service;
        } else {
          p.servicePatch = serviceDrift(o.service, service);
        }
      }
    }
  }

  // --- Status -------------------------------------------------------------------------------------------------
  json status = mvs.status.is_object() ? mvs.status : json::object();
  int replicas = 0, ready = 0, updated = 0;
  std::map<std::string, int> revisions;
  bool failedPods = false;
  for (const auto* v : active) {
    ++replicas;
    if (v->ready) ++ready;
    if (v->revision == updateRevision) ++updated;
    ++revisions[v->revision];
    if (v->failed) failedPods = true;
  }
  status["observedGeneration"] = mvs.generation;
  status["tier"] = std::string(api::tierName(tier.tier));
  status["replicas"] = replicas;
  status["readyReplicas"] = ready;
  status["updatedReplicas"] = updated;
  status["updateRevision"] = updateRevision;
  if (updated == replicas || !status.contains("currentRevision")) {
    std::string current = updateRevision;
    if (updated != replicas) {
      int best = -1;
      for (const auto& [rev, n] : revisions)
        if (rev != updateRevision && n > best) best = n, current = rev;
    }
    status["currentRevision"] = current;
  }
  status["selector"] = selectorString(mvs);
  status["shutdowns"] = updatedHistory(mvs.status.value("shutdowns", json::array()), pods, o);

  json conditions = status.value("conditions", json::array());
  // Degraded: what the user must fix.
  std::string degradedReason, degradedMessage;
  if (!o.specErrors.empty()) {
    degradedReason = "InvalidSpec";
    for (const auto& e : o.specErrors)
      degradedMessage += (degradedMessage.empty() ? "" : "; ") + e.field + ": " + e.message;
  } else if (o.serverRefusal) {
    degradedReason = "ServerRefused";
    degradedMessage = *o.serverRefusal;
  } else if (o.tokenSecretProblem) {
    degradedReason = o.tokenSecretProblem->reason;
    degradedMessage = o.tokenSecretProblem->message;
  } else if (o.misconfiguration) {
    degradedReason = "ShutdownMisconfigured";
    degradedMessage = *o.misconfiguration;
  } else if (!foreign.empty()) {
    degradedReason = "PodConflict";
    degradedMessage = fmt::format("pods {} are named like this resource's but not owned by it; their ordinals are "
                                  "skipped",
                                  fmt::join(foreign, ", "));
  } else if (failedPods) {
    degradedReason = "PodFailed";
    degradedMessage = "a pod failed and is being replaced";
  }
  const bool degraded = !degradedReason.empty();
  setCondition(conditions, "Degraded", degraded, degraded ? degradedReason : "AsExpected",
               degraded ? degradedMessage : "", mvs.generation, o.now);
  if (degraded && degradedReason != "ShutdownMisconfigured" && degradedReason != "PodFailed") {
    const json previous = mvs.status.value("conditions", json::array());
    const bool wasDegraded = std::any_of(previous.begin(), previous.end(), [&](const json& c) {
                                           return c.value("type", "") == "Degraded" && c.value("status", "") == "True" &&
                                                  c.value("message", "") == degradedMessage;
                                         });
    if (!wasDegraded) p.events.push_back({true, degradedReason, degradedMessage});
  }

  std::vector<std::string> shutting;
  for (const auto& v : pods)
    if (v.ours && v.shuttingDown)
      shutting.push_back(fmt::format("{}: {}", v.name,
                                     v.state.stage == Stage::None ? "Terminating" : shutdown::stageName(v.state.stage)));
  for (const auto& order : p.startShutdown) shutting.push_back(fmt::format("{}: Starting", order.pod));
  setCondition(conditions, "ShuttingDown", !shutting.empty(), shutting.empty() ? "NoShutdown" : "InProgress",
               fmt::format("{}", fmt::join(shutting, ", ")), mvs.generation, o.now);

  const bool progressing = !progressingReason.empty() || !p.podsToCreate.empty() || !p.startShutdown.empty();
  setCondition(conditions, "Progressing", progressing && !mvs.deleting,
               mvs.deleting ? "Deleting" : (progressing ? (progressingReason.empty() ? "Reconciling" : progressingReason)
                                                       : "Complete"),
               progressing ? fmt::format("{} of {} pods ready, {} updated", ready, spec.replicas, updated) : "",
               mvs.generation, o.now);
  const bool isReady = !mvs.deleting && ready >= spec.replicas && replicas == spec.replicas && updated == replicas &&
                       specValid;
  setCondition(conditions, "Ready", isReady, isReady ? "AllPodsReady" : (mvs.deleting ? "Deleting" : "PodsNotReady"),
               fmt::format("{}/{} pods ready", ready, spec.replicas), mvs.generation, o.now);
  status["conditions"] = conditions;
  status["phase"] = mvs.deleting ? "Deleting"
                    : degraded   ? "Degraded"
                    : !shutting.empty() ? "ShuttingDown"
                    : progressing       ? "Progressing"
                    : isReady           ? "Ready"
                                        : "Progressing";
  p.status = status;

  if (!p.podsToCreate.empty())
    p.events.push_back({false, "ScalingUp", fmt::format("Creating {} pod(s)", p.podsToCreate.size())});
  for (const auto& order : p.startShutdown)
    p.events.push_back({false, "ShutdownScheduled", fmt::format("Pod {} will be shut down ({}, tier {})", order.pod,
                                                                 order.reason, api::tierName(tier.tier))});
  return p;
}

}  // namespace mv::medivote
