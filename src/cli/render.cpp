#include "cli/render.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace mv::cli {
namespace {

using json = nlohmann::json;

struct Cell {
  std::string text;
  std::string color;  // an SGR code ("31"), or "" for none
};
using Row = std::vector<Cell>;

// kubectl's layout: columns padded to their widest cell, three spaces apart, no trailing spaces.
std::string table(const std::vector<std::string>& header, const std::vector<Row>& rows, const RenderOptions& o,
                  const std::string& indent = "") {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].text.size());
  std::string out;
  auto line = [&](const Row& r) {
    std::string l = indent;
    for (std::size_t c = 0; c < r.size(); ++c) {
      const bool last = c + 1 == r.size();
      const std::string text = last ? r[c].text : r[c].text + std::string(width[c] - r[c].text.size(), ' ') + "   ";
      if (o.color && !r[c].color.empty() && !r[c].text.empty())
        l += fmt::format("\x1b[{}m{}\x1b[0m{}", r[c].color, r[c].text, text.substr(r[c].text.size()));
      else
        l += text;
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  Row h;
  for (const auto& t : header) h.push_back({t, o.color ? "1" : ""});
  line(h);
  for (const auto& r : rows) line(r);
  return out;
}

std::string s(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}
bool isNum(const json& j, const char* key) { return j.is_object() && j.contains(key) && j[key].is_number(); }
double num(const json& j, const char* key) { return isNum(j, key) ? j[key].get<double>() : 0; }
std::string orDash(const std::string& v) { return v.empty() ? "-" : v; }

std::string stageColor(const std::string& stage) {
  if (stage == "Draining" || stage == "Deleting") return "33";
  if (stage == "Requested") return "36";
  if (stage == "Accepted") return "32";
  if (stage == "Terminating") return "31";
  if (stage == "Forced") return "1;31";
  return "";
}

std::string outcomeColor(const std::string& outcome) {
  if (outcome == "http") return "32";
  if (outcome == "sigterm") return "33";
  if (outcome == "sigkill" || outcome == "forced") return "31";
  return "36";  // under way
}

bool hasEvent(const json& next, const std::string& reason) {
  for (const auto& e : next.value("events", json::array()))
    if (e.value("reason", "") == reason) return true;
  return false;
}

// What the stage machine does at the next deadline, in a few words.
std::string thenText(const json& next) {
  const std::string step = s(next, "step");
  std::string prefix = hasEvent(next, "DrainTimedOut") ? "drain timed out; " : "";
  if (hasEvent(next, "ForceDeleted") || step == "ForceDeletePod") return prefix + "force delete (grace 0)";
  if (hasEvent(next, "EscalatedToSIGTERM")) return prefix + "SIGTERM (" + s(next, "escalation") + ")";
  if (step == "CallEndpoint") return prefix + "call the endpoint";
  if (step == "DeletePod")
    return prefix + fmt::format("delete the pod (grace {}s)", next.value("graceSeconds", 0L));
  if (step == "UpdateState") return prefix + "-> " + s(next, "stage");
  if (step == "Wait") return prefix + "wait for the pod to go";
  if (step == "Done") return "done";
  return "-";
}

std::string nextText(const json& next) {
  if (!isNum(next, "inSeconds")) return "-";
  const double in = next["inSeconds"].get<double>();
  return in <= 0 ? "now" : "in " + formatDuration(in);
}

}  // namespace

std::string formatDuration(double seconds) {
  if (!(seconds > 0)) seconds = 0;
  if (seconds < 60) return fmt::format("{:.1f}s", std::floor(seconds * 10) / 10);
  const long whole = static_cast<long>(seconds);
  if (whole < 3600) return fmt::format("{}m{}s", whole / 60, whole % 60);
  if (whole < 86400) return fmt::format("{}h{}m", whole / 3600, (whole % 3600) / 60);
  return fmt::format("{}d{}h", whole / 86400, (whole % 86400) / 3600);
}

std::string renderJson(const json& report) { return report.dump(2) + "\n"; }

std::string renderStatus(const json& report, const RenderOptions& o) {
  const json items = report.value("items", json::array());
  if (items.empty()) return "No resources found.\n";
  std::string out;
  for (const auto& mvs : items) {
    if (!out.empty()) out += "\n";
    std::vector<Row> top = {{{s(mvs, "namespace") + "/" + s(mvs, "name"), ""},
                             {s(mvs, "tier"), ""},
                             {fmt::format("{}/{}", mvs.value("readyReplicas", 0), mvs.value("replicas", 0)), ""},
                             {orDash(s(mvs, "phase")), mvs.value("deleting", false) ? "33" : ""},
                             {std::to_string(mvs.value("shuttingDown", 0)), mvs.value("shuttingDown", 0) ? "33" : ""}}};
    out += table({"MEDIVOTESERVICE", "TIER", "READY", "PHASE", "SHUTTING DOWN"}, top, o);
    std::vector<Row> rows;
    for (const auto& pod : mvs.value("pods", json::array())) {
      const json next = pod.value("next", json());
      const bool going = next.is_object();
      const std::string stage = s(pod, "stage");
      rows.push_back({{s(pod, "name"), ""},
                      {s(pod, "tier"), ""},
                      {orDash(s(pod, "reach")), ""},
                      {pod.value("ready", false) ? "yes" : "no", ""},
                      {stage.empty() ? "Serving" : stage, stageColor(stage)},
                      {orDash(s(pod, "reason")), ""},
                      {isNum(pod, "secondsInStage") ? formatDuration(num(pod, "secondsInStage")) : "-", ""},
                      {going ? std::to_string(pod.value("attempts", 0)) : "-", ""},
                      {orDash(s(pod, "lastAnswer")), ""},
                      {going ? nextText(next) : "-", ""},
                      {going ? thenText(next) : "-", going && hasEvent(next, "EscalatedToSIGTERM") ? "31" : ""}});
    }
    if (rows.empty()) out += "  (no pods)\n";
    else
      out += table({"POD", "TIER", "REACH", "READY", "STAGE", "REASON", "IN STAGE", "ATTEMPTS", "LAST ANSWER", "NEXT",
                    "THEN"},
                   rows, o, "  ");
  }
  return out;
}

std::string renderHistory(const json& report, const RenderOptions& o) {
  const json items = report.value("items", json::array());
  if (items.empty())
    return fmt::format("No shutdowns recorded for {}/{}.\n", s(report, "namespace"), s(report, "name"));
  std::vector<Row> rows;
  for (const auto& h : items) {
    std::vector<std::string> stages;
    for (const auto& st : h.value("stages", json::array()))
      stages.push_back(isNum(st, "offsetSeconds")
                           ? fmt::format("{} +{}", s(st, "stage"), formatDuration(st["offsetSeconds"].get<double>()))
                           : s(st, "stage"));
    const std::string outcome = s(h, "outcome");
    rows.push_back({{s(h, "pod"), ""},
                    {s(h, "reason"), ""},
                    {outcome.empty() ? "in progress" : outcome, outcomeColor(outcome)},
                    {orDash(s(h, "drain")), s(h, "drain") == "drained" || s(h, "drain").empty() ? "" : "33"},
                    {orDash(s(h, "startedAt")), ""},
                    {isNum(h, "durationSeconds") ? formatDuration(num(h, "durationSeconds")) : "-", ""},
                    {fmt::format("{}", fmt::join(stages, ", ")), ""}});
  }
  return table({"POD", "REASON", "OUTCOME", "DRAIN", "STARTED", "DURATION", "STAGES"}, rows, o);
}

std::string renderPlan(const json& report, const RenderOptions& o) {
  const json change = report.value("change", json::object());
  std::string what;
  if (change.contains("replicas"))
    what = fmt::format("replicas {} -> {}", change.value("from", 0), change.value("replicas", 0));
  else if (change.contains("image"))
    what = fmt::format("image of container {}: {} -> {}", s(change, "container"), s(change, "from"), s(change, "image"));
  else
    what = "delete the resource";
  std::string out = fmt::format("Plan for {}/{}: {} (maxConcurrent {})\n", s(report, "namespace"), s(report, "name"),
                                what, report.value("maxConcurrent", 1));
  for (const auto& e : report.value("specErrors", json::array()))
    out += fmt::format("The spec would be invalid, so the operator would start no shutdown: {}: {}\n", s(e, "field"),
                       s(e, "message"));
  const json pods = report.value("pods", json::array());
  if (pods.empty()) {
    out += "No pod would be shut down.\n";
  } else {
    std::vector<Row> rows;
    for (const auto& p : pods)
      rows.push_back({{std::to_string(p.value("order", 0)), ""},
                      {std::to_string(p.value("wave", 0)) + (p.value("underWay", false) ? " (under way)" : ""), ""},
                      {s(p, "pod"), ""},
                      {s(p, "reason"), ""},
                      {s(p, "tier"), ""},
                      {s(p, "path"), s(p, "path") == "sigterm" ? "33" : "32"},
                      {formatDuration(num(p, "boundSeconds")), ""}});
    out += table({"ORDER", "WAVE", "POD", "REASON", "TIER", "PATH", "LONGEST"}, rows, o);
  }
  std::vector<std::string> created;
  for (const auto& c : report.value("create", json::array())) created.push_back(s(c, "pod"));
  if (!created.empty()) out += fmt::format("Pods created: {}\n", fmt::join(created, ", "));
  if (!pods.empty())
    out += fmt::format("Longest in all: {} (each wave's longest shutdown bound, wave after wave{})\n",
                       formatDuration(num(report, "longestSeconds")),
                       report.value("waitsForReady", false) ? ", plus the time each replacement takes to be Ready" : "");
  out += "Dry run: nothing was changed.\n";
  return out;
}

}  // namespace mv::cli
