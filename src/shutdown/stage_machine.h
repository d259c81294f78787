#pragma once
// The tiered shutdown of one pod as a pure state machine: from the pod's facts (including the stage state persisted
// in its annotations), its policy and the time, decide the one next step. No I/O, no clock: the runner executes the
// step and asks again. Every step is safe to repeat after a crash, because its effect is either idempotent or
// recorded on the pod before it is taken (see the comments at each stage in stage_machine.cpp).
//
// Invariants the tests check:
// - No SIGTERM before the HTTP stage is over. A critical pod whose preStop hook is a plain `sleep` (reach direct) is
//   never deleted by the operator (the only thing that lets the kubelet send SIGTERM) before the endpoint accepted,
//   or the refusal, misconfiguration, unreachable or too-late escalation was recorded in its state. A pod whose hook
//   is the agent's hold (reach agent) is deleted first, and called only once it is being deleted: the agent holds
//   SIGTERM until the service has exited, its exit timeout after acceptance, or the hold bound.
// - With the agent's hold, the operator's DELETE is its first write to a pod it chose to shut down: no update of the
//   pod's labels or annotations comes before it, as one would start a kubelet sync that holds the termination (and
//   the hook) back by up to a second (kubelet-termination-2026-12.md). The Draining state follows the delete.
// - Drain before the HTTP stage. An operator-chosen critical pod is called only once it is out of its Service's
//   EndpointSlices, or after ShutdownPolicy::drainTimeout from its start with a DrainTimedOut warning (with the
//   agent's hold, the wait runs after the delete and ends early enough to leave the call and the exit their time);
//   how the drain ended is recorded in its state (drain, drainedAt).
// - Every wait has a deadline: a shutdown ends within ShutdownPolicy::bound() of its start, whatever the service does.
// - The shutdown order holds a pod deleted by someone else only within its own preStop budget. A pod whose shutdown
//   is External (a namespace deletion deletes the pods themselves) and whose resource is held by its order
//   (ShutdownPolicy::orderHeld) leaves its Service and drains as usual, but its call waits until the order releases
//   it, or at the latest until orderWaitEnd: SIGTERM's time (sigtermAt, from the pod's deletionTimestamp, grace
//   period and hook) minus requestTimeout, exitTimeout and kOrderWaitMargin, the time the call and the service's
//   save still need. Called then, the call's step carries an OrderWaitCutShort warning. A function of the pod and
//   the order decision, both observed: a new leader resumes the same wait. Operator-chosen shutdowns are held by
//   the planner instead (they do not start), a pod whose resource is not going down is never held, and a simple-tier
//   pod has no call to hold (SIGTERM at once).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "shutdown/answer.h"
#include "shutdown/pod_facts.h"
#include "shutdown/policy.h"

namespace mv::shutdown {

struct EventNote {
  bool warning = false;
  std::string reason;   // ShutdownDraining, ShutdownTerminating (agent: deleted first), ShutdownRequested, ShutdownAccepted, ShutdownRefused, ShutdownCompleted,
                        // DrainTimedOut, EscalatedToSIGTERM, ForceDeleted, ShutdownMisconfigured, OrderWaitCutShort
  std::string message;
};

// How a finished shutdown ended, by the stage that ended it.
enum class Outcome { Http, Sigterm, Sigkill, Forced };
std::string_view outcomeName(Outcome o);

struct Step {
  enum class Kind {
    Idle,            // the pod is not shutting down and was not chosen to
    UpdateState,     // persist `state` (and drop the serving label when `stopServing`), then decide again
    CallEndpoint,    // persist `state` when `recordBeforeCall` (the attempt is recorded before it is made), call
                     // the endpoint, then persist afterAnswer(...)
    DeletePod,       // delete with `graceSeconds` (uid precondition); the kubelet runs preStop, SIGTERM, SIGKILL.
                     // Then, when `state` differs from the pod's, persist it (and drop the serving label when
                     // `stopServing`): with the agent's hold the delete is the first write, before anything is
                     // recorded (see the invariants above). A delete refused (404, a replaced pod) writes nothing.
    ForceDeletePod,  // delete with grace 0 (uid precondition)
    Wait,            // nothing to do until `wakeAt` or a change of the pod
    Done,            // the pod is gone: record `outcome`
  };
  Kind kind = Kind::Idle;
  ShutdownState state;
  bool stopServing = false;
  // CallEndpoint only. False for a pod not being deleted: any write to it (an annotation) starts a kubelet sync that
  // restarts a container exiting within it, so its attempt is recorded with the answer instead (a crash before that
  // repeats the call: harmless by the endpoint's contract). True once the pod is being deleted: writes then start no
  // sync (config.go checkAndUpdatePod: an update of a pod with a deletionTimestamp is a graceful delete).
  bool recordBeforeCall = true;
  long graceSeconds = 0;
  std::optional<WallTime> wakeAt;
  Outcome outcome = Outcome::Sigterm;
  std::vector<EventNote> events;
};

std::string_view stepKindName(Step::Kind k);

// The next step for a pod. `startReason` is non-empty when the planner has chosen this pod to go (ScaleDown,
// Upgrade, Deletion, Replace); a pod deleted by someone else starts by itself (External).
Step decide(const PodFacts& pod, const ShutdownPolicy& policy, WallTime now, const std::string& startReason = "");

// The state after the endpoint answered (or failed to), with the Events that tell it. `misconfiguration` is set for
// answers that mean the resource is misconfigured (401/403/other 4xx): the controller reports it as Degraded.
// `sentAt` is when the call was sent (default: `now`): an acceptance is recorded at that moment, the earliest the
// service (or the agent, whose exit timeout starts when the service accepted) can have taken it, so that a service
// still running acceptedAt + exitTimeout later is surely past the agent's release and never counted as `http`.
struct AnswerEffect {
  ShutdownState state;
  std::vector<EventNote> events;
  std::optional<std::string> misconfiguration;
};
AnswerEffect afterAnswer(const PodFacts& pod, const EndpointAnswer& answer, const ShutdownPolicy& policy,
                         WallTime now, std::optional<WallTime> sentAt = std::nullopt);

// Constants of the retry rules, named so tests and docs can refer to them.
inline constexpr int kMaxUnreachableAttempts = 3;                       // then escalate
inline constexpr std::chrono::milliseconds kUnreachableBackoff{500};    // 0.5 s, 1 s, 2 s ...
inline constexpr std::chrono::seconds kDefaultRefusalRetry{1};          // when a refusal has no Retry-After
inline constexpr std::chrono::seconds kMaxRefusalRetry{30};             // a Retry-After is capped to this
inline constexpr std::chrono::seconds kForceDeleteRetry{5};             // a pod still there after grace 0
// The agent releases the kubelet's preStop hook this long after the operator's exit timeout (its
// --exit-timeout-seconds is exitTimeoutSeconds + this), so the operator records the escalation first.
inline constexpr std::chrono::seconds kAgentReleaseMargin{1};
// How long after its last write to a pod not being deleted the operator lets that pod's service be called: the write
// (an annotation or label change) starts a kubelet pod sync that lasts until the next PLEG relist (up to 1 s after the
// kubelet saw the write) and restarts a container that exits meanwhile, the restart race of
// kubelet-termination-2026-12.md ("patch, patch, POST, DELETE restarted 4 of 6"). 1 s for the relist and 1 s for the
// write to reach the kubelet's watch: a service that exits on acceptance is restarted only by a slower kubelet.
inline constexpr std::chrono::seconds kKubeletSyncSettle{2};
// How long before the kubelet's SIGTERM an External shutdown held by the order is called at the latest, on top of
// the call's request timeout and the service's exit timeout (orderWaitEnd): the answer's record, the kubelet's own
// latency and a service that takes its whole exit timeout still fit before SIGTERM.
inline constexpr std::chrono::seconds kOrderWaitMargin{1};
// The Event reason of a held External shutdown called because its preStop budget ends (see the invariants).
inline constexpr const char* kOrderWaitCutShort = "OrderWaitCutShort";

// The latest moment the call of a pod being deleted may wait for the shutdown order (see the invariants above):
// sigtermAt - requestTimeout - exitTimeout - kOrderWaitMargin; nullopt for a pod not being deleted.
std::optional<WallTime> orderWaitEnd(const PodFacts& pod, const ShutdownPolicy& policy);

// A container's finishedAt (metav1.Time) has whole seconds.
inline constexpr std::chrono::seconds kFinishedAtPrecision{1};

}  // namespace mv::shutdown
