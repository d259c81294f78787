#include "shutdown/state.h"

#include <array>

namespace mv::shutdown {
namespace {

constexpr std::array<std::pair<Stage, std::string_view>, 6> kStages{{
    {Stage::None, ""},
    {Stage::Draining, "Draining"},
    {Stage::Requested, "Requested"},
    {Stage::Accepted, "Accepted"},
    {Stage::Terminating, "Terminating"},
    {Stage::Forced, "Forced"},
}};

std::string str(const json& a, std::string_view key) {
  const std::string k(key);
  return a.is_object() && a.contains(k) && a[k].is_string() ? a[k].get<std::string>() : std::string();
}

std::optional<WallTime> time(const json& a, std::string_view key) { return util::parseTime(str(a, key)); }

int integer(const json& a, std::string_view key) {
  const std::string s = str(a, key);
  if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoi(s);
}

json timeValue(const std::optional<WallTime>& t) { return t ? json(util::formatTimeMillis(*t)) : json(nullptr); }
json textValue(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
json intValue(int n) { return n == 0 ? json(nullptr) : json(std::to_string(n)); }

}  // namespace

std::string_view stageName(Stage s) {
  for (const auto& [stage, name] : kStages)
    if (stage == s) return name.empty() ? std::string_view("None") : name;
  return "None";
}

std::optional<Stage> parseStage(std::string_view s) {
  for (const auto& [stage, name] : kStages)
    if (!name.empty() && name == s) return stage;
  return std::nullopt;
}

ShutdownState readState(const json& a) {
  ShutdownState s;
  s.stage = parseStage(str(a, annotations::kStage)).value_or(Stage::None);
  s.reason = str(a, annotations::kReason);
  s.startedAt = time(a, annotations::kStartedAt);
  s.requestedAt = time(a, annotations::kRequestedAt);
  s.acceptedAt = time(a, annotations::kAcceptedAt);
  s.terminatingAt = time(a, annotations::kTerminatingAt);
  s.forcedAt = time(a, annotations::kForcedAt);
  s.nextAttemptAt = time(a, annotations::kNextAttemptAt);
  s.attempts = integer(a, annotations::kAttempts);
  s.failures = integer(a, annotations::kFailures);
  s.restartBaseline = integer(a, annotations::kRestartBaseline);
  s.lastAnswer = str(a, annotations::kLastAnswer);
  s.escalation = str(a, annotations::kEscalation);
  s.drain = str(a, annotations::kDrain);
  s.drainedAt = time(a, annotations::kDrainedAt);
  return s;
}

json stateAnnotationsPatch(const ShutdownState& s) {
  json a = json::object();
  a[std::string(annotations::kStage)] = s.stage == Stage::None ? json(nullptr) : json(std::string(stageName(s.stage)));
  a[std::string(annotations::kReason)] = textValue(s.reason);
  a[std::string(annotations::kStartedAt)] = timeValue(s.startedAt);
  a[std::string(annotations::kRequestedAt)] = timeValue(s.requestedAt);
  a[std::string(annotations::kAcceptedAt)] = timeValue(s.acceptedAt);
  a[std::string(annotations::kTerminatingAt)] = timeValue(s.terminatingAt);
  a[std::string(annotations::kForcedAt)] = timeValue(s.forcedAt);
  a[std::string(annotations::kNextAttemptAt)] = timeValue(s.nextAttemptAt);
  a[std::string(annotations::kAttempts)] = intValue(s.attempts);
  a[std::string(annotations::kFailures)] = intValue(s.failures);
  a[std::string(annotations::kRestartBaseline)] = intValue(s.restartBaseline);
  a[std::string(annotations::kLastAnswer)] = textValue(s.lastAnswer);
  a[std::string(annotations::kEscalation)] = textValue(s.escalation);
  a[std::string(annotations::kDrain)] = textValue(s.drain);
  a[std::string(annotations::kDrainedAt)] = timeValue(s.drainedAt);
  return a;
}

}  // namespace mv::shutdown
