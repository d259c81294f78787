#pragma once
// The per-pod shutdown state, persisted as annotations on the pod itself. The pod is the one place every operator
// replica sees, so a new leader resumes each shutdown exactly where the last one stopped. Writes of this state are
// merge patches of annotations: repeating one is harmless.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/time_format.h"

namespace mv::shutdown {

using json = nlohmann::json;
using util::WallTime;

// The stages of one pod's shutdown, in order. A critical pod goes Draining → Requested → Accepted → (gone), or
// escalates to Terminating (SIGTERM by the kubelet) and, for a pod stuck on a lost node, Forced. A simple pod goes
// straight to Terminating.
enum class Stage { None, Draining, Requested, Accepted, Terminating, Forced };

std::string_view stageName(Stage s);
std::optional<Stage> parseStage(std::string_view s);

// Why a pod is being shut down.
namespace reasons {
inline constexpr std::string_view kScaleDown = "ScaleDown";
inline constexpr std::string_view kUpgrade = "Upgrade";
inline constexpr std::string_view kDeletion = "Deletion";    // its MediVoteService is being deleted
inline constexpr std::string_view kExternal = "External";    // someone else deleted or evicted it
inline constexpr std::string_view kReplace = "Replace";      // it failed and is replaced
}  // namespace reasons

// How the Draining stage ended (ShutdownState::drain).
namespace drains {
inline constexpr std::string_view kDrained = "drained";     // the pod left its Service's EndpointSlices
inline constexpr std::string_view kTimedOut = "timed-out";  // still listed when the drain timeout ended
inline constexpr std::string_view kUnknown = "unknown";     // the slices could not be read: the timeout was waited out
}  // namespace drains

// Annotation keys (all under medivote.io/shutdown-*).
namespace annotations {
inline constexpr std::string_view kStage = "medivote.io/shutdown-stage";
inline constexpr std::string_view kReason = "medivote.io/shutdown-reason";
inline constexpr std::string_view kStartedAt = "medivote.io/shutdown-started-at";
inline constexpr std::string_view kRequestedAt = "medivote.io/shutdown-requested-at";
inline constexpr std::string_view kAcceptedAt = "medivote.io/shutdown-accepted-at";
inline constexpr std::string_view kTerminatingAt = "medivote.io/shutdown-terminating-at";
inline constexpr std::string_view kForcedAt = "medivote.io/shutdown-forced-at";
inline constexpr std::string_view kNextAttemptAt = "medivote.io/shutdown-next-attempt-at";
inline constexpr std::string_view kAttempts = "medivote.io/shutdown-attempts";
inline constexpr std::string_view kFailures = "medivote.io/shutdown-failures";
inline constexpr std::string_view kRestartBaseline = "medivote.io/shutdown-restart-baseline";
inline constexpr std::string_view kLastAnswer = "medivote.io/shutdown-last-answer";
inline constexpr std::string_view kEscalation = "medivote.io/shutdown-escalation";
inline constexpr std::string_view kDrain = "medivote.io/shutdown-drain";
inline constexpr std::string_view kDrainedAt = "medivote.io/shutdown-drained-at";
}  // namespace annotations

struct ShutdownState {
  Stage stage = Stage::None;
  std::string reason;
  std::optional<WallTime> startedAt;      // Draining (or the first stage) began
  std::optional<WallTime> requestedAt;    // the first endpoint call was made
  std::optional<WallTime> acceptedAt;     // the endpoint answered 2xx (or the service exited by itself)
  std::optional<WallTime> terminatingAt;  // escalated: the pod is handed to SIGTERM
  std::optional<WallTime> forcedAt;       // deleted with grace 0
  std::optional<WallTime> nextAttemptAt;  // a refused or failed call is retried no earlier than this
  int attempts = 0;                       // endpoint calls started
  int failures = 0;                       // unreachable answers in a row
  int restartBaseline = 0;                // the container's restartCount when the call was first made
  std::string lastAnswer;                 // the last answer, short: "202", "409 busy", "connection refused"
  std::string escalation;                 // why SIGTERM was needed: refusal-timeout, unauthorized, rejected,
                                          // unreachable, exit-timeout, too-late; empty when the service exited
  std::string drain;                      // how Draining ended (drains::*); empty: not waited for (timeout 0, or
                                          // deleted by someone else)
  std::optional<WallTime> drainedAt;      // when that was recorded

  bool operator==(const ShutdownState&) const = default;
};

// Reads the state from a pod's metadata.annotations (missing or malformed values read as unset).
ShutdownState readState(const json& annotations);
// The annotations of `state` as a merge-patch fragment: every key, with null for unset values, so that applying it
// replaces the whole previous state.
json stateAnnotationsPatch(const ShutdownState& state);

}  // namespace mv::shutdown
