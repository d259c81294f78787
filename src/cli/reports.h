#pragma once
// What the plugin's commands report, as JSON documents (`-o json` prints them; render.h draws them as tables).
// Pure functions of objects read from the API server and the time: no I/O. They call the operator's own code
// rather than repeating it: the stage state read from the pod (shutdown::observePod, readState), the stage
// machine (shutdown::decide) for the next deadline and what happens then, the shutdown policy (policyFor, bound)
// for the timeouts, and the planner (medivote::plan) for the dry run.

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/options.h"
#include "medivote/pod_builder.h"
#include "util/time_format.h"

namespace mv::cli {

using json = nlohmann::json;

// One MediVoteService and what was read with it.
struct ResourceView {
  json mvs;
  std::vector<json> pods;  // its pods (label medivote.io/service=<name> in its namespace)
  // The EndpointSlices of its Service (label kubernetes.io/service-name=<name>); nullopt when they cannot be read,
  // as the operator then cannot tell whether a pod still gets traffic either.
  std::optional<std::vector<json>> slices;
};

// `status`: {"items": [{namespace, name, tier, phase, replicas, readyReplicas, shuttingDown, pods: [...]}]}; each
// pod: name, tier, reach, ready, stage ("" when serving), reason, stageSince, secondsInStage, attempts, lastAnswer,
// escalation, drain, and for a pod shutting down: next {at, inSeconds, step, stage, escalation, events} (the step
// the operator takes then, by the stage machine, if nothing else changes first).
json statusReport(const std::vector<ResourceView>& resources, util::WallTime now);

// `history`: {namespace, name, items: [{pod, reason, outcome ("" while under way), drain, startedAt, endedAt,
// durationSeconds, stages: [{stage, time, offsetSeconds}]}]}, newest first as in status.shutdowns.
json historyReport(const json& mvs, util::WallTime now);

// `plan`: the change applied to a copy of the resource, then the operator's planner run on it and the live pods,
// again and again as if each chosen pod had gone and each created pod were Ready, until it chooses nothing more.
// {namespace, name, change, maxConcurrent, specErrors, pods: [{order, wave, pod, reason, tier, reach, path,
// boundSeconds, underWay}], create: [{afterWave, pod}], longestSeconds, waitsForReady}. Waves are numbered from 1 in
// the order they start (0: shutdowns already under way); a pod created after wave N replaces one that went in it. Throws UsageError when the
// change cannot apply (no such container).
json planReport(const ResourceView& live, const PlanChange& change, util::WallTime now,
                const medivote::PodSettings& settings = {});

}  // namespace mv::cli
