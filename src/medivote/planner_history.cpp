#include <algorithm>

#include "medivote/planner_parts.h"

namespace mv::medivote::planning {
namespace {

using shutdown::Stage;
namespace reasons = shutdown::reasons;

constexpr std::size_t kHistoryLength = 10;

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

// At most kHistoryLength entries. Finished shutdowns go first, oldest first; a shutdown under way is dropped only when
// more than kHistoryLength are under way, and then one this plan added (its pod had no entry yet), so the entries
// shown stay the same until one of them ends. Were an open entry dropped for a finished one (as a plain cut of the
// oldest did when many shutdowns ended between two plans), the history would read "all finished" while pods are
// still shutting down, and the next plan would open their entries again.
json trimmed(json history, const json& previous) {
  if (history.size() <= kHistoryLength) return history;
  auto shownBefore = [&](const json& h) {
    return previous.is_array() && std::any_of(previous.begin(), previous.end(), [&](const json& p) {
      return p.is_object() && p.value("pod", "") == h.value("pod", "") && p.value("outcome", "").empty();
    });
  };
  std::size_t excess = history.size() - kHistoryLength;
  std::vector<bool> drop(history.size(), false);
  for (std::size_t i = history.size(); i-- > 0 && excess > 0;)
    if (!history[i].value("outcome", "").empty()) drop[i] = true, --excess;
  for (std::size_t i = 0; i < history.size() && excess > 0; ++i)
    if (!drop[i] && !shownBefore(history[i])) drop[i] = true, --excess;
  for (std::size_t i = 0; i < history.size() && excess > 0; ++i)
    if (!drop[i]) drop[i] = true, --excess;
  json kept = json::array();
  for (std::size_t i = 0; i < history.size(); ++i)
    if (!drop[i]) kept.push_back(std::move(history[i]));
  return kept;
}

}  // namespace

json updatedHistory(const json& previous, const PodSet& pods, const Observation& o) {
  json history = previous.is_array() ? previous : json::array();
  std::set<std::string> present;
  for (const auto& v : pods.all) {
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
  // Shutdowns that began and ended between two plans: their entry comes from the state the runner last saw. A
  // completion is offered again until a status write carrying it succeeded (the reconciler keeps it): an entry of
  // the same shutdown (same pod, same first stage), open or closed, is not added twice.
  for (const auto& [pod, state] : o.completedStates) {
    if (present.count(pod) || state.stage == Stage::None) continue;
    const json entry = historyEntry(pod, state);
    const json first = entry["stages"].empty() ? json() : entry["stages"][0];
    const bool known = std::any_of(history.begin(), history.end(), [&, &name = pod](const json& h) {
      if (h.value("pod", "") != name) return false;
      if (h.value("outcome", "").empty()) return true;
      const json stages = h.value("stages", json::array());
      return !first.is_null() && !stages.empty() && stages[0] == first;
    });
    if (known) continue;
    history.insert(history.begin(), entry);
  }
  for (auto& h : history) {
    if (!h.value("outcome", "").empty() || present.count(h.value("pod", ""))) continue;
    // Its pod is gone: the shutdown is complete.
    const auto it = o.completedOutcomes.find(h.value("pod", ""));
    h["outcome"] = it != o.completedOutcomes.end() ? it->second : impliedOutcome(h);
    if (!h.contains("stages") || !h["stages"].is_array()) h["stages"] = json::array();
    h["stages"].push_back({{"stage", "Completed"}, {"time", util::formatTime(o.now)}});
  }
  return trimmed(std::move(history), previous);
}

}  // namespace mv::medivote::planning
