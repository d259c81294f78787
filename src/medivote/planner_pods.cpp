#include <algorithm>

#include "api/names.h"
#include "medivote/planner_parts.h"

namespace mv::medivote::planning {
namespace {

using shutdown::Stage;
namespace reasons = shutdown::reasons;

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

}  // namespace

bool keepsSlot(const PodView& v) {
  if (!v.shuttingDown) return true;
  const std::string& r = v.state.reason;
  return r == reasons::kUpgrade || r == reasons::kReplace || r == reasons::kExternal ||
         (r.empty() && v.deleting);  // deleted by someone else, before the operator recorded anything
}

PodSet classifyPods(const Observation& o) {
  PodSet s;
  s.all.reserve(o.pods.size());
  for (const auto& pod : o.pods) s.all.push_back(view(pod, o.mvs));
  std::sort(s.all.begin(), s.all.end(), [](const PodView& a, const PodView& b) {
    return a.ordinal != b.ordinal ? a.ordinal < b.ordinal : a.name < b.name;
  });
  for (const auto& v : s.all) {
    if (v.ordinal >= 0) s.usedOrdinals.insert(v.ordinal);
    if (!v.ours) {
      if (v.ordinal >= 0) s.foreign.push_back(v.name);
      continue;
    }
    if (v.shuttingDown) s.shuttingDown.push_back(v.name);
    else s.active.push_back(&v);
    if (keepsSlot(v)) ++s.slots;
  }
  return s;
}

ShutdownChoices::ShutdownChoices(int maxConcurrent, int alreadyShuttingDown)
    : budget_(std::max(0, std::max(1, maxConcurrent) - alreadyShuttingDown)) {}

bool ShutdownChoices::start(const PodView& v, std::string_view reason) {
  if (budget_ <= 0 || chosen(v.name)) return false;
  --budget_;
  chosen_.insert(v.name);
  orders_.push_back({v.name, std::string(reason)});
  return true;
}

}  // namespace mv::medivote::planning
