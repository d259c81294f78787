#include "cli/render.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

using namespace mv::cli;
using json = nlohmann::json;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

json statusReport() {
  return json::parse(R"({"items": [{"namespace": "ns", "name": "vote", "tier": "critical", "phase": "ScalingDown",
    "replicas": 1, "readyReplicas": 1, "deleting": false, "shuttingDown": 1, "pods": [
      {"name": "vote-0", "tier": "critical", "reach": "agent", "ready": true, "stage": "", "reason": "",
       "secondsInStage": null, "attempts": 0, "lastAnswer": "", "next": null},
      {"name": "vote-1", "tier": "critical", "reach": "agent", "ready": false, "stage": "Requested",
       "reason": "ScaleDown", "secondsInStage": 4.25, "attempts": 3, "lastAnswer": "409 busy",
       "next": {"inSeconds": 26.0, "step": "UpdateState", "stage": "Terminating", "escalation": "refusal-timeout",
                "events": [{"reason": "EscalatedToSIGTERM", "message": "m", "warning": true}]}}]}]})");
}

}  // namespace

TEST_CASE("durations read like kubectl's ages") {
  CHECK(formatDuration(0) == "0.0s");
  CHECK(formatDuration(-3) == "0.0s");
  CHECK(formatDuration(0.46) == "0.4s");
  CHECK(formatDuration(59.99) == "59.9s");
  CHECK(formatDuration(80) == "1m20s");
  CHECK(formatDuration(3600 + 5 * 60 + 7) == "1h5m");
  CHECK(formatDuration(2 * 86400 + 3 * 3600) == "2d3h");
}

TEST_CASE("status table: one line per resource, one per pod, columns aligned, plain when not coloured") {
  const std::string out = renderStatus(statusReport(), RenderOptions{false});
  CHECK(out.find('\x1b') == std::string::npos);
  const auto l = lines(out);
  REQUIRE(l.size() == 5);
  CHECK(l[0].rfind("MEDIVOTESERVICE", 0) == 0);
  CHECK(l[1].find("ns/vote") == 0);
  CHECK(l[1].find("1/1") != std::string::npos);
  CHECK(l[2].find("  POD") == 0);
  CHECK(l[3].find("Serving") != std::string::npos);
  CHECK(l[4].find("Requested") != std::string::npos);
  CHECK(l[4].find("409 busy") != std::string::npos);
  CHECK(l[4].find("in 26.0s") != std::string::npos);
  CHECK(l[4].find("SIGTERM (refusal-timeout)") != std::string::npos);
  // Aligned: every column of the pod table starts at the same offset in each row.
  CHECK(l[2].find("STAGE") == l[4].find("Requested"));
  CHECK(l[3].find("Serving") == l[4].find("Requested"));
  for (const auto& line : l) CHECK(line.back() != ' ');
}

TEST_CASE("status table: colours on a terminal, around the text only") {
  const std::string out = renderStatus(statusReport(), RenderOptions{true});
  CHECK(out.find("\x1b[36mRequested\x1b[0m") != std::string::npos);
  CHECK(out.find("\x1b[31mSIGTERM (refusal-timeout)\x1b[0m") != std::string::npos);
  CHECK(renderStatus(json{{"items", json::array()}}, RenderOptions{}) == "No resources found.\n");
}

TEST_CASE("history table: outcome, duration and stages with offsets, and an open shutdown reads in progress") {
  const json report = json::parse(R"({"namespace": "ns", "name": "vote", "items": [
    {"pod": "vote-1", "reason": "ScaleDown", "outcome": "", "drain": "", "startedAt": "t1", "durationSeconds": 2.0,
     "stages": [{"stage": "Draining", "offsetSeconds": 0.0}]},
    {"pod": "vote-2", "reason": "ScaleDown", "outcome": "sigterm", "drain": "timed-out", "startedAt": "t0",
     "durationSeconds": 75.0, "stages": [{"stage": "Draining", "offsetSeconds": 0.0},
     {"stage": "Terminating", "offsetSeconds": 35.0}, {"stage": "Completed", "offsetSeconds": 75.0}]}]})");
  const auto l = lines(renderHistory(report, RenderOptions{}));
  REQUIRE(l.size() == 3);
  CHECK(l[0].find("OUTCOME") != std::string::npos);
  CHECK(l[1].find("in progress") != std::string::npos);
  CHECK(l[2].find("sigterm") != std::string::npos);
  CHECK(l[2].find("timed-out") != std::string::npos);
  CHECK(l[2].find("1m15s") != std::string::npos);
  CHECK(l[2].find("Draining +0.0s, Terminating +35.0s, Completed +1m15s") != std::string::npos);
  CHECK(renderHistory(json{{"namespace", "ns"}, {"name", "vote"}, {"items", json::array()}}, RenderOptions{}) ==
        "No shutdowns recorded for ns/vote.\n");
  CHECK(renderHistory(report, RenderOptions{true}).find("\x1b[33msigterm\x1b[0m") != std::string::npos);
}

TEST_CASE("plan table: the change, the pods in order with their path and bound, the total, and that it is a dry run") {
  const json report = json::parse(R"json({"namespace": "ns", "name": "vote", "maxConcurrent": 1,
    "change": {"replicas": 1, "from": 3}, "specErrors": [], "create": [], "longestSeconds": 220.0,
    "waitsForReady": false, "pods": [
      {"order": 1, "wave": 1, "pod": "vote-2", "reason": "ScaleDown", "tier": "critical", "path": "http (agent)",
       "boundSeconds": 110.0, "underWay": false},
      {"order": 2, "wave": 2, "pod": "vote-1", "reason": "ScaleDown", "tier": "critical", "path": "http (agent)",
       "boundSeconds": 110.0, "underWay": false}]})json");
  const std::string out = renderPlan(report, RenderOptions{});
  const auto l = lines(out);
  CHECK(l[0] == "Plan for ns/vote: replicas 3 -> 1 (maxConcurrent 1)");
  CHECK(l[1].rfind("ORDER", 0) == 0);
  CHECK(l[2].find("vote-2") != std::string::npos);
  CHECK(l[2].find("1m50s") != std::string::npos);
  CHECK(l[3].find("vote-1") != std::string::npos);
  CHECK(out.find("Longest in all: 3m40s") != std::string::npos);
  CHECK(out.find("Dry run: nothing was changed.") != std::string::npos);

  json none = report;
  none["pods"] = json::array();
  none["change"] = {{"delete", true}};
  none["specErrors"] = json::array({{{"field", "spec.x"}, {"message", "bad"}}});
  const std::string empty = renderPlan(none, RenderOptions{});
  CHECK(empty.find("delete the resource") != std::string::npos);
  CHECK(empty.find("No pod would be shut down.") != std::string::npos);
  CHECK(empty.find("spec.x: bad") != std::string::npos);
}

TEST_CASE("json output is the report itself") {
  const json report = statusReport();
  CHECK(json::parse(renderJson(report)) == report);
  CHECK(renderJson(report).back() == '\n');
}
