#include "shutdown/stage_machine.h"

#include <algorithm>

#include <fmt/format.h>

namespace mv::shutdown {
namespace {

using std::chrono::seconds;

EventNote normal(std::string reason, std::string message) { return {false, std::move(reason), std::move(message)}; }
EventNote warning(std::string reason, std::string message) { return {true, std::move(reason), std::move(message)}; }

Step makeStep(Step::Kind kind, const ShutdownState& s) {
  Step st;
  st.kind = kind;
  st.state = s;
  return st;
}

Step waitUntil(const ShutdownState& s, std::optional<WallTime> t) {
  Step st = makeStep(Step::Kind::Wait, s);
  st.wakeAt = t;
  return st;
}

Step deletePod(const ShutdownState& s, const ShutdownPolicy& p) {
  Step st = makeStep(Step::Kind::DeletePod, s);
  st.graceSeconds = p.gracePeriod.count();
  return st;
}

// The latest moment the kubelet sends (or sent) SIGTERM to the service of a pod being deleted, from the pod as it is:
// the kubelet began terminating when the deletion was requested (deletionTimestamp minus its grace period), runs the
// service container's preStop hook for at most that grace period, and sends SIGTERM when the hook returns
// (kuberuntime_container.go: executePreStopHook, then StopContainer with the time left).
// - no hook: at once;
// - a `sleep` action: after its full time (runSleepHandler returns only when the time is up), capped by the grace;
// - the agent's hold: at most its hold bound (capped by the grace), and no later than the exit timeout (plus
//   kAgentReleaseMargin) after the call was accepted: the agent releases the hook then, a second after the
//   operator's own exit-timeout escalation, so that the escalation is on the pod before SIGTERM can end it;
//   it ends earlier when the service exits, which cannot be seen from here;
// - a hook of the user's: unknown; the grace period bounds it.
std::optional<WallTime> sigtermAt(const PodFacts& f, const ShutdownPolicy& p) {
  if (!f.deletionTimestamp) return std::nullopt;
  const long grace = std::max(0L, f.deletionGracePeriodSeconds);
  const WallTime begun = *f.deletionTimestamp - seconds(grace);
  switch (f.preStop) {
    case PreStopKind::None: return begun;
    case PreStopKind::Sleep: return begun + seconds(std::min(f.preStopSeconds, grace));
    case PreStopKind::AgentHold: {
      WallTime t = begun + seconds(std::min(f.preStopSeconds, grace));
      if (f.state.acceptedAt) t = std::min(t, *f.state.acceptedAt + p.exitTimeout + kAgentReleaseMargin);
      return t;
    }
    case PreStopKind::Other: return begun + seconds(grace);
  }
  return begun;
}

std::optional<WallTime> forceAt(const PodFacts& f, const ShutdownPolicy& p) {
  if (!f.deletionTimestamp) return std::nullopt;
  return *f.deletionTimestamp + p.forceDeleteAfter;
}

// The last moment an endpoint call may still be started.
WallTime callDeadline(const PodFacts& f, const ShutdownPolicy& p) {
  WallTime d = f.state.requestedAt.value_or(WallTime{}) + p.refusalTimeout;
  if (auto t = sigtermAt(f, p)) d = std::min(d, *t);
  return d;
}

// The state of a pod handed to SIGTERM without its service having exited by itself, and why.
void toTerminating(ShutdownState& s, WallTime now, std::string why) {
  s.stage = Stage::Terminating;
  s.terminatingAt = now;
  s.nextAttemptAt.reset();
  s.escalation = std::move(why);
}

Step escalate(const PodFacts& f, WallTime now, std::string why, std::string message) {
  ShutdownState s = f.state;
  toTerminating(s, now, std::move(why));
  Step st = makeStep(Step::Kind::UpdateState, s);
  st.stopServing = true;
  st.events.push_back(warning("EscalatedToSIGTERM", std::move(message)));
  return st;
}

Step call(const PodFacts& f, WallTime now, bool first) {
  ShutdownState s = f.state;
  s.stage = Stage::Requested;
  if (first) {
    s.requestedAt = now;
    s.restartBaseline = f.restartCount;
  }
  s.attempts += 1;
  s.nextAttemptAt.reset();
  Step st = makeStep(Step::Kind::CallEndpoint, s);
  st.stopServing = true;
  st.recordBeforeCall = f.deletionTimestamp.has_value();
  if (first)
    st.events.push_back(normal("ShutdownRequested", fmt::format("Calling the shutdown endpoint of pod {}", f.name)));
  return st;
}

// The drain wait of a pod in stage Draining whose label is gone: a Wait step while the wait is not over, or, once it
// ended, a step of kind UpdateState that carries how it ended (drain, drainedAt) and its Events, for the caller to
// fold into its next step (the drain's end is recorded with the write that follows it: one pod write fewer);
// nullopt when there is no wait to make.
// - No wait when drainTimeout is 0, or for a pod with a preStop sleep (or a hook of the user's) that is being
//   deleted: its preStop time runs from that deletion, and the endpoint slice controller marks a terminating
//   endpoint not ready at once.
// - With the agent's hold the pod is deleted first (see Stage::None), so the wait runs inside the hold, in parallel
//   with the kubelet's latency before its preStop hook: it leaves the call and the service's exit their whole time,
//   ending no later than requestTimeout + exitTimeout before the hold can end (sigtermAt).
// - The deadline is startedAt + drainTimeout (or that cap), read from the persisted state: a new leader resumes the
//   same wait.
// - Out of the slices: "drained". Still listed at the deadline: "timed-out". Slices unreadable (inEndpoints
//   unknown: RBAC, API not served, cache not synced): the timeout is waited out in full, the conservative guess,
//   and recorded as "unknown". Both end with a DrainTimedOut warning.
std::optional<Step> awaitDrain(const PodFacts& f, const ShutdownPolicy& p, WallTime now) {
  const ShutdownState& s = f.state;
  if (!s.drain.empty() || p.drainTimeout.count() <= 0) return std::nullopt;
  WallTime deadline = s.startedAt.value_or(WallTime{}) + p.drainTimeout;
  std::optional<seconds> capped;  // the wait the hold leaves, when it is shorter than drainTimeout
  if (f.deletionTimestamp) {
    if (f.preStop != PreStopKind::AgentHold) return std::nullopt;
    const WallTime latest = *sigtermAt(f, p) - p.requestTimeout - p.exitTimeout;
    if (latest < deadline) {
      deadline = latest;
      capped = std::chrono::duration_cast<seconds>(latest - s.startedAt.value_or(WallTime{}));
    }
  }
  const bool drained = f.inEndpoints.has_value() && !*f.inEndpoints;
  if (!drained && now < deadline) return waitUntil(s, deadline);
  ShutdownState next = s;
  next.drainedAt = now;
  if (drained) {
    next.drain = std::string(drains::kDrained);
    return makeStep(Step::Kind::UpdateState, next);
  }
  next.drain = std::string(f.inEndpoints ? drains::kTimedOut : drains::kUnknown);
  Step st = makeStep(Step::Kind::UpdateState, next);
  const std::string waited =
      capped ? fmt::format("{}s (less than spec.shutdown.drainTimeoutSeconds, {}s: the agent's {}s hold must leave "
                           "the call and the exit their time)",
                           std::max<long>(0, capped->count()), p.drainTimeout.count(), f.preStopSeconds)
             : fmt::format("{}s (spec.shutdown.drainTimeoutSeconds)", p.drainTimeout.count());
  st.events.push_back(warning(
      "DrainTimedOut",
      f.inEndpoints ? fmt::format("Pod {} is still listed in its Service's EndpointSlices {} after it left the "
                                  "Service's selector; shutting it down anyway",
                                  f.name, waited)
                    : fmt::format("Pod {}: its Service's EndpointSlices cannot be read (RBAC, API or cache not "
                                  "synced); waited {} instead",
                                  f.name, waited)));
  return st;
}

// The shutdown order's hold of an External pod's call (stage_machine.h): a Wait until the budget's end while the
// order holds it, nullopt when it may be called now. A call that goes ahead only because the budget ends gets the
// OrderWaitCutShort warning in `notes`.
std::optional<Step> awaitOrder(const PodFacts& f, const ShutdownPolicy& p, WallTime now, std::vector<EventNote>& notes) {
  if (!p.orderHeld || !f.deletionTimestamp) return std::nullopt;
  const WallTime end = *orderWaitEnd(f, p);
  if (now < end) return waitUntil(f.state, end);
  notes.push_back(warning(
      kOrderWaitCutShort,
      fmt::format("Pod {} was deleted by someone else while its resource waits for the resources of its "
                  "spec.shutdown.after; its preStop budget leaves no longer wait (the call, {}s, and the exit, {}s, "
                  "must end before SIGTERM): calling it now",
                  f.name, p.requestTimeout.count(), p.exitTimeout.count())));
  return std::nullopt;
}

// How a finished shutdown ended, from what the kubelet reported for the service container (exit code or signal, and
// finishedAt) against when the kubelet's SIGTERM could come:
// - SIGKILL (signal 9, exit code 137) that was not an exit before SIGTERM: sigkill.
// - An exit before SIGTERM could reach the service: http (when the HTTP stage ran). The signal alone does not tell
//   who sent it: the real MediVote services end themselves by SIGTERM to their own process after they answered
//   (exit code 143, medivote-services.md), so a signal 15 is the kubelet's only when it came at or after the SIGTERM
//   time. A container's finishedAt has whole seconds (metav1.Time): the exit may have come up to a second later than
//   it says, so `http` is claimed only when even that second is before SIGTERM.
// - No exit seen (the pod went before its final status was read), accepted and never escalated: http. (Judging it by
//   when the pod was seen gone, http only before the SIGTERM time, made every reach-direct pod whose final status was
//   missed a sigterm, since such a pod goes only after its whole preStop sleep; reverted until the final status is
//   reliably kept.)
Outcome outcomeOf(const PodFacts& f, const ShutdownPolicy& p, WallTime now) {
  const ShutdownState& s = f.state;
  if (s.stage == Stage::Forced) return Outcome::Forced;
  const bool killed = f.exitSignal == 9 || f.exitCode == 137;
  if (p.httpStage() && (s.stage == Stage::Requested || s.stage == Stage::Accepted || s.escalation == "exit-timeout")) {
    const auto sigterm = sigtermAt(f, p);
    if (f.exitedAt && (!sigterm || *f.exitedAt + kFinishedAtPrecision <= *sigterm)) return Outcome::Http;
    (void)now;
    if (!f.exitedAt && s.stage == Stage::Accepted && s.escalation.empty()) return Outcome::Http;
  }
  return killed ? Outcome::Sigkill : Outcome::Sigterm;
}

}  // namespace

std::optional<WallTime> orderWaitEnd(const PodFacts& f, const ShutdownPolicy& p) {
  const auto sigterm = sigtermAt(f, p);
  if (!sigterm) return std::nullopt;
  return *sigterm - p.requestTimeout - p.exitTimeout - kOrderWaitMargin;
}

std::string_view outcomeName(Outcome o) {
  switch (o) {
    case Outcome::Http: return "http";
    case Outcome::Sigterm: return "sigterm";
    case Outcome::Sigkill: return "sigkill";
    case Outcome::Forced: return "forced";
  }
  return "sigterm";
}

std::string_view stepKindName(Step::Kind k) {
  switch (k) {
    case Step::Kind::Idle: return "Idle";
    case Step::Kind::UpdateState: return "UpdateState";
    case Step::Kind::CallEndpoint: return "CallEndpoint";
    case Step::Kind::DeletePod: return "DeletePod";
    case Step::Kind::ForceDeletePod: return "ForceDeletePod";
    case Step::Kind::Wait: return "Wait";
    case Step::Kind::Done: return "Done";
  }
  return "?";
}

Step decide(const PodFacts& f, const ShutdownPolicy& p, WallTime now, const std::string& startReason) {
  const ShutdownState& s = f.state;

  // Gone: the shutdown is over (or never began).
  if (!f.exists) {
    if (s.stage == Stage::None && !f.deletionTimestamp) return makeStep(Step::Kind::Idle, s);
    Step st = makeStep(Step::Kind::Done, s);
    st.outcome = outcomeOf(f, p, now);
    st.events.push_back(normal("ShutdownCompleted", fmt::format("Pod {} is gone (ended by {})", f.name,
                                                                outcomeName(st.outcome))));
    return st;
  }

  // A pod that outlived its grace period by forceDeleteAfter (a lost node: nobody runs its termination) is deleted
  // with grace 0, whatever stage it was in. The decision is recorded first; the delete is repeated until it is gone.
  if (f.deletionTimestamp && s.stage != Stage::Forced && now >= *forceAt(f, p)) {
    ShutdownState next = s;
    if (next.stage == Stage::None) {
      next.reason = std::string(reasons::kExternal);
      next.startedAt = now;
    }
    next.stage = Stage::Forced;
    next.forcedAt = now;
    next.nextAttemptAt.reset();
    Step st = makeStep(Step::Kind::UpdateState, next);
    st.events.push_back(warning("ForceDeleted", fmt::format("Pod {} still exists {}s after its grace period ended "
                                                            "(node lost?); deleting it with grace 0",
                                                            f.name, p.forceDeleteAfter.count())));
    return st;
  }

  switch (s.stage) {
    case Stage::None: {
      const bool external = f.deletionTimestamp.has_value();
      if (!external && startReason.empty()) return makeStep(Step::Kind::Idle, s);
      ShutdownState next = s;
      next.reason = external ? std::string(reasons::kExternal) : startReason;
      next.startedAt = now;
      if (!p.httpStage()) {
        // Simple tier: straight to SIGTERM. Recorded first, so a crash before the delete repeats only the delete.
        next.stage = Stage::Terminating;
        next.terminatingAt = now;
        Step st = makeStep(Step::Kind::UpdateState, next);
        st.stopServing = true;
        st.events.push_back(normal("ShutdownStarted", fmt::format("Pod {} is shut down by SIGTERM (tier {}, {})",
                                                                  f.name, api::tierName(p.tier), next.reason)));
        return st;
      }
      if (external && now >= *sigtermAt(f, p)) {
        // Someone else deleted or evicted the pod, and the kubelet's SIGTERM already went out (the operator was away
        // too long).
        PodFacts late = f;
        late.state = next;
        return escalate(late, now, "too-late",
                        fmt::format("Pod {} was deleted by someone else and its {} ended before the operator could "
                                    "call its endpoint",
                                    f.name, f.preStop == PreStopKind::AgentHold ? "agent's hold" : "preStop sleep"));
      }
      if (f.preStop == PreStopKind::AgentHold) {
        // Witnessed termination (reach agent). The kubelet sends the service container's preStop hook to the agent,
        // which holds SIGTERM off and forwards the shutdown call only once that hook has arrived: a container that
        // exits after the call can no longer be restarted by a sync already in progress (the restart race,
        // kubernetes#57291), because the hook proves the kubelet has begun terminating the pod.
        next.stage = Stage::Draining;
        if (!external) {
          // Operator-chosen: delete first, before any other write to the pod. An update of the pod's labels or
          // annotations starts a kubelet sync that does not see a DELETE arriving meanwhile (up to the 1 s PLEG
          // relist, kubelet-termination-2026-12.md): it would hold the termination, and the hook, back by that long.
          // The Draining state (and the serving label's removal) is written right after the delete; a crash between
          // the two leaves a deleted pod without state, which the next leader resumes below as deleted by someone
          // else: drained and called the same way, only its reason reads External. A repeated delete keeps the
          // grace period (uid precondition).
          Step st = deletePod(next, p);
          st.stopServing = true;
          st.events.push_back(normal("ShutdownTerminating",
                                     fmt::format("Pod {} deleted first ({}): it leaves its Service while the kubelet "
                                                 "starts terminating it; its agent holds SIGTERM off for up to {}s and "
                                                 "takes the shutdown call once the kubelet's preStop hook arrives",
                                                 f.name, next.reason, f.preStopSeconds)));
          return st;
        }
        // Being deleted with nothing recorded: drained (inside the hold) like a pod the operator deleted.
        Step st = makeStep(Step::Kind::UpdateState, next);
        st.stopServing = true;
        st.events.push_back(normal("ShutdownDraining", fmt::format("Pod {} is being deleted ({}); it leaves its "
                                                                   "Service before its agent forwards the shutdown call",
                                                                   f.name, next.reason)));
        return st;
      }
      if (external) {
        // Someone else deleted or evicted the pod: its preStop sleep holds SIGTERM off; call the endpoint now, unless
        // the shutdown order holds it: then it leaves its Service (Draining, no drain wait for a pod being deleted)
        // and its call waits there.
        PodFacts started = f;
        started.state = next;
        std::vector<EventNote> notes;
        if (awaitOrder(started, p, now, notes)) {
          next.stage = Stage::Draining;
          Step st = makeStep(Step::Kind::UpdateState, next);
          st.stopServing = true;
          st.events.push_back(normal("ShutdownDraining",
                                     fmt::format("Pod {} is being deleted ({}); it leaves its Service, and its "
                                                 "shutdown call waits for the resources of spec.shutdown.after",
                                                 f.name, next.reason)));
          return st;
        }
        Step st = call(started, now, true);
        st.events.insert(st.events.begin(), notes.begin(), notes.end());
        return st;
      }
      // Operator-chosen (reach direct): first take the pod out of its Service. Dropping a label is idempotent.
      next.stage = Stage::Draining;
      Step st = makeStep(Step::Kind::UpdateState, next);
      st.stopServing = true;
      st.events.push_back(normal("ShutdownDraining", fmt::format("Pod {} leaves its Service before its shutdown ({})",
                                                                 f.name, next.reason)));
      return st;
    }

    case Stage::Draining: {
      // The label is gone (persisted with the stage); then the pod must be out of its Service's EndpointSlices, or
      // the drain timeout over, before anything that ends its service. How the drain ended is recorded with the next
      // step's write. The call is recorded before it is made; calling a shutdown endpoint twice is harmless by its
      // contract (idempotent: 200/202 again).
      if (f.serving) {
        Step st = makeStep(Step::Kind::UpdateState, s);
        st.stopServing = true;
        return st;
      }
      PodFacts drained = f;
      std::vector<EventNote> drainNotes;
      bool drainEnded = false;
      if (auto wait = awaitDrain(f, p, now)) {
        if (wait->kind == Step::Kind::Wait) return *wait;
        drained.state = wait->state;
        drainNotes = std::move(wait->events);
        drainEnded = true;
      }
      if (s.reason == reasons::kExternal) {
        // Deleted by someone else: the call may wait for the shutdown order, within the pod's budget. A drain that
        // ended is recorded first (the wait then resumes from the record).
        if (auto hold = awaitOrder(drained, p, now, drainNotes)) {
          if (!drainEnded) return *hold;
          Step st = makeStep(Step::Kind::UpdateState, drained.state);
          st.events = std::move(drainNotes);
          return st;
        }
      }
      if (!f.deletionTimestamp && f.preStop != PreStopKind::AgentHold && s.startedAt &&
          now < *s.startedAt + kKubeletSyncSettle) {
        // Reach direct: the Draining write started a kubelet sync; a service called now could exit inside it and be
        // restarted (kKubeletSyncSettle). The drain's end is decided again when the wait is over.
        return waitUntil(s, *s.startedAt + kKubeletSyncSettle);
      }
      Step st;
      if (f.preStop == PreStopKind::AgentHold && !f.deletionTimestamp) {
        // Drained before its delete: a shutdown begun by an operator version that drained first. Delete now (the
        // drain's end is recorded after the delete, see Step::Kind::DeletePod).
        st = deletePod(drained.state, p);
        st.events.push_back(normal("ShutdownTerminating",
                                   fmt::format("Pod {} deleted: its agent holds SIGTERM off for up to {}s and takes "
                                               "the shutdown call once the kubelet's preStop hook arrives",
                                               f.name, f.preStopSeconds)));
      } else {
        st = call(drained, now, true);
      }
      st.events.insert(st.events.begin(), drainNotes.begin(), drainNotes.end());
      return st;
    }

    case Stage::Requested: {
      // The service exited without our seeing its answer (a crash lost it, or it raced): as good as accepted.
      if (f.serviceExited) {
        const auto sigterm = sigtermAt(f, p);
        if (sigterm && (!f.exitedAt || *f.exitedAt >= *sigterm))
          return escalate(f, now, s.reason == reasons::kExternal ? "too-late" : "refusal-timeout",
                          fmt::format("Pod {} was stopped by SIGTERM before it accepted its shutdown", f.name));
        ShutdownState next = s;
        next.stage = Stage::Accepted;
        next.acceptedAt = now;
        next.nextAttemptAt.reset();
        Step st = makeStep(Step::Kind::UpdateState, next);
        st.events.push_back(normal("ShutdownAccepted", fmt::format("Pod {}'s service exited after the shutdown call",
                                                                   f.name)));
        return st;
      }
      const WallTime deadline = callDeadline(f, p);
      if (now >= deadline) {
        const bool kubeletFirst = f.deletionTimestamp && now >= *sigtermAt(f, p);
        return escalate(f, now, kubeletFirst && s.reason == reasons::kExternal ? "too-late" : "refusal-timeout",
                        fmt::format("Pod {} did not accept its shutdown within {}s (last answer: {}); handing it "
                                    "to SIGTERM",
                                    f.name, p.refusalTimeout.count(), s.lastAnswer.empty() ? "none" : s.lastAnswer));
      }
      if (s.nextAttemptAt && now < *s.nextAttemptAt) return waitUntil(s, std::min(*s.nextAttemptAt, deadline));
      // Due: either a retry, or a call that was recorded but whose answer was lost (crash): call again.
      return call(f, now, false);
    }

    case Stage::Accepted: {
      // Accepted means scheduled, not done. Delete now with a grace period that covers the preStop sleep: the
      // kubelet never restarts a container of a terminating pod, so the service exits by itself during the sleep
      // and SIGTERM reaches only a service that did not finish in time. A repeated delete only keeps or shortens
      // the grace period.
      if (!f.deletionTimestamp) return deletePod(s, p);
      const WallTime force = *forceAt(f, p);
      if (f.serviceExited) return waitUntil(s, force);  // the kubelet finishes the preStop sleep and removes it
      const WallTime exitDeadline = s.acceptedAt.value_or(now) + p.exitTimeout;
      if (now >= exitDeadline)
        return escalate(f, now, "exit-timeout",
                        fmt::format("Pod {} accepted its shutdown but did not exit within {}s; the kubelet sends "
                                    "SIGTERM",
                                    f.name, p.exitTimeout.count()));
      return waitUntil(s, std::min(exitDeadline, force));
    }

    case Stage::Terminating: {
      // SIGTERM, then SIGKILL after the grace period, are the kubelet's, triggered by the delete.
      if (!f.deletionTimestamp) return deletePod(s, p);
      return waitUntil(s, *forceAt(f, p));
    }

    case Stage::Forced: {
      // Grace-0 deletes with the uid precondition are idempotent; a pod still here is retried every few seconds.
      Step st = makeStep(Step::Kind::ForceDeletePod, s);
      st.wakeAt = now + kForceDeleteRetry;
      return st;
    }
  }
  return makeStep(Step::Kind::Idle, s);
}

AnswerEffect afterAnswer(const PodFacts& f, const EndpointAnswer& a, const ShutdownPolicy& p, WallTime now,
                         std::optional<WallTime> sentAt) {
  AnswerEffect e;
  ShutdownState s = f.state;
  s.lastAnswer = a.detail.substr(0, 120);
  s.nextAttemptAt.reset();
  auto escalateNow = [&](std::string why, std::string message) {
    toTerminating(s, now, std::move(why));
    e.events.push_back(warning("EscalatedToSIGTERM", std::move(message)));
  };
  // 401/403 and other refusals of the request itself: the resource is misconfigured; retrying cannot help.
  auto misconfigured = [&](std::string why, std::string_view check) {
    e.misconfiguration = fmt::format("the shutdown endpoint of pod {} answered {}: check {}", f.name, a.detail, check);
    escalateNow(std::move(why), *e.misconfiguration + "; handing the pod to SIGTERM");
    e.events.push_back(warning("ShutdownMisconfigured", *e.misconfiguration));
  };
  switch (a.kind) {
    case EndpointAnswer::Kind::Accepted:
      s.stage = Stage::Accepted;
      s.acceptedAt = std::min(now, sentAt.value_or(now));
      s.failures = 0;
      e.events.push_back(normal("ShutdownAccepted", fmt::format("Pod {} accepted its shutdown ({}); waiting up to {}s "
                                                                "for it to exit",
                                                                f.name, a.detail, p.exitTimeout.count())));
      break;
    case EndpointAnswer::Kind::Busy:
    case EndpointAnswer::Kind::RateLimited: {
      s.failures = 0;
      const seconds wait = std::clamp(a.retryAfter.value_or(kDefaultRefusalRetry), kDefaultRefusalRetry,
                                      kMaxRefusalRetry);
      s.nextAttemptAt = now + wait;
      e.events.push_back(warning("ShutdownRefused",
                                 fmt::format("Pod {} refused its shutdown ({}); retrying in {}s, until {}s after the "
                                             "first call",
                                             f.name, a.detail, wait.count(), p.refusalTimeout.count())));
      break;
    }
    case EndpointAnswer::Kind::Unauthorized:
      misconfigured("unauthorized", "spec.shutdown.endpoint.tokenSecretRef and spec.shutdown.endpoint.reach");
      break;
    case EndpointAnswer::Kind::Rejected:
      misconfigured("rejected", "spec.shutdown.endpoint (path, method, port)");
      break;
    case EndpointAnswer::Kind::Unreachable:
      s.failures += 1;
      if (s.failures >= kMaxUnreachableAttempts) {
        escalateNow("unreachable", fmt::format("The shutdown endpoint of pod {} failed {} times (last: {}); handing "
                                               "the pod to SIGTERM",
                                               f.name, s.failures, a.detail));
      } else {
        s.nextAttemptAt = now + kUnreachableBackoff * (1 << (s.failures - 1));
        e.events.push_back(warning("ShutdownRefused", fmt::format("The shutdown endpoint of pod {} failed ({}); "
                                                                  "retrying",
                                                                  f.name, a.detail)));
      }
      break;
  }
  e.state = s;
  return e;
}

}  // namespace mv::shutdown
