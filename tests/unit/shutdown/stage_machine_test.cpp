// The stage machine, driven through whole shutdowns by a small simulated world (pod, kubelet, service) on simulated
// time, and checked at every step: the order of stages, every answer of the endpoint table, every timeout, and a
// restart of the operator at every step (the state re-read from the pod's annotations gives the same decision).
#include "shutdown/stage_machine.h"

#include <doctest/doctest.h>

#include <functional>

using namespace mv::shutdown;
using namespace std::chrono_literals;
using mv::api::Tier;
using Kind = Step::Kind;

namespace {

ShutdownPolicy critical() {
  ShutdownPolicy p;
  p.tier = Tier::Critical;
  p.hasEndpoint = true;
  p.requestTimeout = 5s;
  p.exitTimeout = 10s;
  p.refusalTimeout = 30s;
  p.gracePeriod = 40s;
  p.forceDeleteAfter = 60s;
  p.drainTimeout = 5s;
  return p;
}

ShutdownPolicy simple() {
  ShutdownPolicy p = critical();
  p.tier = Tier::Simple;
  p.hasEndpoint = false;
  return p;
}

const WallTime kT0 = WallTime(std::chrono::seconds(1795642898));

// A pod, its kubelet and its service, on simulated time. The kubelet follows a real kubelet 1.32
// (shared/k8s-reference/kubelet-termination-2026-12.md): a preStop `sleep` is waited out in full; the agent's httpGet
// hook reaches the agent kHookLatency after the deletion and is held until the service exited, its exit timeout after
// acceptance, or the hold bound; SIGTERM follows the hook; SIGKILL at the end of the grace period.
constexpr auto kHookLatency = 500ms;

struct World {
  ShutdownPolicy policy;
  PodFacts pod;
  WallTime now = kT0;
  std::function<EndpointAnswer(int attempt)> service = [](int) { return classifyHttpStatus(200, {}, "200"); };
  std::optional<std::chrono::seconds> exitsAfterAccept = 1s;  // nullopt: hangs until signalled
  bool ignoresSigterm = false;
  bool nodeLost = false;

  // Recorded history.
  std::vector<Kind> kinds;
  std::vector<std::string> events;
  std::vector<Stage> stages;
  std::optional<WallTime> deletedAt, sigtermAt, exitedAt, calledFirstAt, callAfterDelete, goneAt;
  int calls = 0;
  std::optional<Outcome> outcome;
  bool restartEveryStep = false;
  std::optional<WallTime> acceptedAt;
  // The Service's EndpointSlices, as the endpoint slice controller keeps them: the pod is listed until `sliceLag`
  // after its serving label was dropped (nullopt: the controller is stalled and never removes it). With
  // slicesUnreadable the operator cannot read them (PodFacts::inEndpoints unknown). A change of the slices wakes a
  // waiting operator, as the slice informer's handler does.
  std::optional<std::chrono::milliseconds> sliceLag = 300ms;
  bool slicesUnreadable = false;
  std::optional<WallTime> unlabelledAt, leftSlicesAt;
  bool listed = true;
  bool drained = false;  // the shutdown went through Draining
  // The operator's last write to the pod while it was not being deleted: it starts a kubelet sync that restarts a
  // service exiting within it (kKubeletSyncSettle), so the first call must come that long after it.
  std::optional<WallTime> lastLiveWrite;
  void wrote() {
    if (!pod.deletionTimestamp) lastLiveWrite = now;
  }

  // preStop: a 10 s sleep for critical pods (reach direct), none for simple ones; agent() switches to the agent's hold.
  World(ShutdownPolicy p) : policy(p) {
    pod.name = "vote-2";
    pod.uid = "u";
    pod.podIP = "127.77.0.3";
    pod.serving = true;
    pod.inEndpoints = true;
    if (p.httpStage()) {
      pod.preStop = PreStopKind::Sleep;
      pod.preStopSeconds = 10;
    }
  }
  World& agent(long holdSeconds = 20) {
    pod.preStop = PreStopKind::AgentHold;
    pod.preStopSeconds = holdSeconds;
    return *this;
  }

  void record(const Step& s) {
    kinds.push_back(s.kind);
    for (const auto& e : s.events) events.push_back(e.reason);
  }

  // Kubelet, slice controller and service act on time passing; a change of the slices ends the wait early.
  void advanceTo(WallTime t) {
    for (;; now = std::min(t, now + 100ms)) {
      const bool wasListed = listed;
      act();
      if (!pod.exists || now >= t || listed != wasListed) return;
    }
  }

  void unlabelled() {
    pod.serving = false;
    if (!unlabelledAt) unlabelledAt = now;
  }

  void updateSlices() {
    if (listed && unlabelledAt && sliceLag && now >= *unlabelledAt + *sliceLag) {
      listed = false;
      leftSlicesAt = now;
    }
    pod.inEndpoints = slicesUnreadable ? std::nullopt : std::optional<bool>(listed);
  }

  // The drain invariant, checked when the endpoint is first called or the pod deleted by the operator: the pod has
  // left its Service's EndpointSlices, or the drain timeout from its start has passed and that was recorded. Only
  // for a shutdown seen Draining (one started by the operator, or resumed in that stage).
  void checkDrained(const char* what) {
    if (!drained || policy.drainTimeout == 0s) return;
    if (pod.state.drain == "drained") {
      CHECK_MESSAGE(!listed, what, " while the pod was still listed");
    } else {
      CHECK_MESSAGE((pod.state.drain == "timed-out" || pod.state.drain == "unknown"), what, " before the drain ended");
      REQUIRE(pod.state.startedAt);
      // With the agent's hold the wait runs after the delete and leaves the call and the exit their time.
      WallTime deadline = *pod.state.startedAt + policy.drainTimeout;
      if (pod.preStop == PreStopKind::AgentHold && terminationBegan())
        deadline = std::min(deadline, *terminationBegan() + std::chrono::seconds(pod.preStopSeconds) -
                                          policy.requestTimeout - policy.exitTimeout);
      CHECK_MESSAGE(now >= deadline, what, " before the drain timeout");
    }
  }

  std::optional<WallTime> terminationBegan() const {
    if (!pod.deletionTimestamp) return std::nullopt;
    return *pod.deletionTimestamp - std::chrono::seconds(pod.deletionGracePeriodSeconds);
  }
  // The agent has seen the kubelet's preStop hook.
  bool witnessed() const { return terminationBegan() && now >= *terminationBegan() + kHookLatency; }

  // When the kubelet's preStop hook returns, if it has by now.
  bool hookReturned() const {
    const auto begun = terminationBegan();
    if (!begun) return false;
    const auto grace = std::chrono::seconds(pod.deletionGracePeriodSeconds);
    switch (pod.preStop) {
      case PreStopKind::None: return true;
      case PreStopKind::Sleep:
        return now >= *begun + std::min<std::chrono::seconds>(std::chrono::seconds(pod.preStopSeconds), grace);
      case PreStopKind::Other: return now >= *begun + std::min<std::chrono::seconds>(3s, grace);
      case PreStopKind::AgentHold:
        if (now >= *begun + std::min<std::chrono::seconds>(std::chrono::seconds(pod.preStopSeconds), grace))
          return true;
        if (pod.serviceExited) return witnessed();
        return acceptedAt && now >= *acceptedAt + policy.exitTimeout + kAgentReleaseMargin;
    }
    return true;
  }

  void act() {
    updateSlices();
    {
      if (nodeLost) return;
      if (!pod.serviceExited && acceptedAt && exitsAfterAccept && now >= *acceptedAt + *exitsAfterAccept) exit(0, {});
      if (pod.deletionTimestamp) {
        const bool hookDone = hookReturned();
        if (!sigtermAt && hookDone && !pod.serviceExited) {
          sigtermAt = now;
          if (!ignoresSigterm) exit(143, 15);
        }
        if (now >= *pod.deletionTimestamp && !pod.serviceExited) exit(137, 9);
        // The kubelet removes the pod once the preStop hook and the container are done.
        if ((pod.serviceExited && hookDone) || now >= *pod.deletionTimestamp) {
          pod.exists = false;
          goneAt = now;
        }
      }
    }
  }

  void exit(int code, std::optional<int> signal) {
    pod.serviceExited = true;
    pod.exitCode = code;
    pod.exitSignal = signal;
    pod.exitedAt = now;
    exitedAt = now;
  }

  // Runs the operator until Done (or a step limit). startReason as the planner would give it.
  void run(const std::string& startReason, int maxSteps = 200) {
    for (int i = 0; i < maxSteps; ++i) {
      if (restartEveryStep) pod.state = readState(stateAnnotationsPatch(pod.state));
      updateSlices();
      if (pod.state.stage == Stage::Draining) drained = true;
      const Step step = decide(pod, policy, now, startReason);
      record(step);
      switch (step.kind) {
        case Kind::Idle:
          return;
        case Kind::UpdateState:
          REQUIRE(step.state != pod.state);  // never an empty write
          wrote();
          pod.state = step.state;
          if (pod.state.stage == Stage::Draining) drained = true;
          if (step.stopServing) unlabelled();
          break;
        case Kind::CallEndpoint: {
          // A pod not being deleted gets no write right before its call: the runner records the attempt with its
          // answer, and the first call waits out the sync the Draining write started.
          CHECK(step.recordBeforeCall == pod.deletionTimestamp.has_value());
          if (!calledFirstAt && !pod.deletionTimestamp && lastLiveWrite)
            CHECK_MESSAGE(now >= *lastLiveWrite + kKubeletSyncSettle, "a first call within a kubelet sync of a write");
          if (step.recordBeforeCall) wrote();
          pod.state = step.state;
          if (step.stopServing) unlabelled();
          if (stages.empty() || stages.back() != pod.state.stage) stages.push_back(pod.state.stage);
          ++calls;
          if (!calledFirstAt) {
            calledFirstAt = now;
            checkDrained("the first call");
          }
          if (deletedAt && !callAfterDelete) callAfterDelete = now;
          CHECK_MESSAGE(!sigtermAt, "an endpoint call after SIGTERM");
          if (pod.preStop == PreStopKind::AgentHold) CHECK_MESSAGE(pod.deletionTimestamp, "an agent call before the delete");
          EndpointAnswer a = pod.serviceExited ? unreachable("connection refused")
                             : pod.preStop == PreStopKind::AgentHold && !witnessed()
                                 ? classifyHttpStatus(503, 1s, "503 awaiting-termination")
                                 : service(calls);
          const AnswerEffect eff = afterAnswer(pod, a, policy, now);
          for (const auto& e : eff.events) events.push_back(e.reason);
          if (eff.state.stage != Stage::Accepted && eff.state.escalation.empty()) wrote();  // else: deleted first
          pod.state = eff.state;
          if (pod.state.stage == Stage::Accepted && !acceptedAt) acceptedAt = now;
          break;
        }
        case Kind::DeletePod:
          if (!pod.deletionTimestamp) {
            // The invariant of the tiered shutdown: a critical pod is deleted only once accepted or escalated; with
            // the agent's hold, first, before any write to the pod (an update would start a kubelet sync that holds
            // the termination back), as the agent holds SIGTERM off and forwards the call only after the hook.
            if (policy.httpStage() && pod.preStop == PreStopKind::AgentHold) {
              CHECK(pod.state.stage == Stage::None);
              CHECK(std::count(kinds.begin(), kinds.end(), Kind::UpdateState) == 0);
              CHECK(step.state.stage == Stage::Draining);
              CHECK(step.stopServing);
            } else if (policy.httpStage()) {
              CHECK((pod.state.stage == Stage::Accepted || !pod.state.escalation.empty()));
              checkDrained("the delete");
            }
            deletedAt = now;
            pod.deletionTimestamp = now + std::chrono::seconds(step.graceSeconds);
            pod.deletionGracePeriodSeconds = step.graceSeconds;
            // Then the runner records the step's state (the delete was the first write).
            if (step.state != pod.state) {
              pod.state = step.state;
              if (pod.state.stage == Stage::Draining) drained = true;
              if (step.stopServing) unlabelled();
            }
          }
          break;
        case Kind::ForceDeletePod:
          pod.exists = false;
          break;
        case Kind::Wait:
          REQUIRE(step.wakeAt);  // every wait has a deadline
          REQUIRE(*step.wakeAt > now);
          advanceTo(*step.wakeAt);
          break;
        case Kind::Done:
          outcome = step.outcome;
          return;
      }
      if (stages.empty() || stages.back() != pod.state.stage) stages.push_back(pod.state.stage);
    }
    FAIL("the shutdown did not finish");
  }

  bool saw(const std::string& event) const { return std::find(events.begin(), events.end(), event) != events.end(); }
};

}  // namespace

TEST_CASE("critical: drain, call, accept, delete - the service exits by itself before SIGTERM") {
  for (bool restart : {false, true}) {
    World w(critical());
    w.restartEveryStep = restart;
    w.run("ScaleDown");
    CHECK(w.stages == std::vector<Stage>{Stage::Draining, Stage::Requested, Stage::Accepted});
    CHECK(w.calls == 1);
    REQUIRE(w.outcome);
    CHECK(*w.outcome == Outcome::Http);
    CHECK_FALSE(w.sigtermAt);  // the kubelet never had to send it
    REQUIRE(w.exitedAt);
    CHECK(*w.deletedAt <= *w.exitedAt);  // deleted as soon as accepted: no restart possible before the exit
    CHECK(w.saw("ShutdownDraining"));
    CHECK(w.saw("ShutdownRequested"));
    CHECK(w.saw("ShutdownAccepted"));
    CHECK(w.saw("ShutdownCompleted"));
    CHECK_FALSE(w.pod.serving);
  }
}

TEST_CASE("reach direct: the first call waits out the kubelet sync of the Draining write, and no write precedes it") {
  for (auto lag : {0ms, 300ms, 1500ms, 2500ms}) {
    World w(critical());
    w.sliceLag = lag;
    const WallTime start = w.now;
    w.run("ScaleDown");
    REQUIRE(w.calledFirstAt);
    CHECK(*w.calledFirstAt >= start + std::max<std::chrono::milliseconds>(kKubeletSyncSettle, lag));
    CHECK(*w.calledFirstAt < start + std::max<std::chrono::milliseconds>(kKubeletSyncSettle, lag) + 200ms);
    REQUIRE(w.outcome);
    CHECK(*w.outcome == Outcome::Http);
  }
  // The step itself: drained at once, still inside the settle: wait; after it: a call not recorded before it is made.
  World w(critical());
  w.pod.serving = false;
  w.pod.inEndpoints = false;
  w.pod.state.stage = Stage::Draining;
  w.pod.state.reason = "ScaleDown";
  w.pod.state.startedAt = kT0;
  const Step early = decide(w.pod, w.policy, kT0 + 1s);
  CHECK(early.kind == Kind::Wait);
  CHECK(early.wakeAt == kT0 + kKubeletSyncSettle);
  const Step due = decide(w.pod, w.policy, kT0 + kKubeletSyncSettle);
  CHECK(due.kind == Kind::CallEndpoint);
  CHECK_FALSE(due.recordBeforeCall);
  CHECK(due.state.drain == "drained");
  // Once the pod is being deleted (by someone else), writes start no sync: the call is recorded first, at once.
  w.pod.deletionTimestamp = kT0 + 40s;
  w.pod.deletionGracePeriodSeconds = 40;
  const Step deleted = decide(w.pod, w.policy, kT0 + 1s);
  CHECK(deleted.kind == Kind::CallEndpoint);
  CHECK(deleted.recordBeforeCall);
}

TEST_CASE("critical: the call (direct) or the delete (agent) comes once the pod has left its Service's slices") {
  for (bool agent : {false, true})
    for (bool restart : {false, true}) {
      World w(critical());
      if (agent) w.agent();
      w.restartEveryStep = restart;
      w.sliceLag = 2s;
      const WallTime start = w.now;
      w.run("ScaleDown");
      REQUIRE(w.leftSlicesAt);
      CHECK(*w.leftSlicesAt - *w.unlabelledAt == 2s);
      // Woken by the slice change, not by the deadline (5 s). The agent's pod was deleted first, at once.
      CHECK(*w.calledFirstAt == *w.leftSlicesAt);
      if (agent) CHECK(*w.deletedAt == start);
      CHECK(w.pod.state.drain == "drained");
      CHECK(w.pod.state.drainedAt == w.leftSlicesAt);
      CHECK_FALSE(w.saw("DrainTimedOut"));
      CHECK(*w.outcome == Outcome::Http);
    }
}

TEST_CASE("critical: a stalled slice controller holds the shutdown for the drain timeout, then it goes on") {
  for (bool agent : {false, true})
    for (bool unreadable : {false, true}) {
      World w(critical());
      if (agent) w.agent();
      w.sliceLag.reset();
      w.slicesUnreadable = unreadable;
      const WallTime start = w.now;
      w.run("ScaleDown");
      CHECK_FALSE(w.leftSlicesAt);
      // The hold (20 s) leaves exactly the drain timeout (20 - 5 - 10 s) for the agent's pod.
      CHECK(*w.calledFirstAt == start + w.policy.drainTimeout);
      if (agent) CHECK(*w.deletedAt == start);
      CHECK(w.pod.state.drain == (unreadable ? "unknown" : "timed-out"));
      CHECK(w.saw("DrainTimedOut"));
      CHECK(*w.outcome == Outcome::Http);
    }
}

TEST_CASE("simple: SIGTERM at once, SIGKILL after the grace period for a service that ignores it") {
  World w(simple());
  w.run("ScaleDown");
  CHECK(w.calls == 0);
  CHECK(w.stages == std::vector<Stage>{Stage::Terminating});
  CHECK(*w.outcome == Outcome::Sigterm);
  CHECK(*w.sigtermAt == *w.deletedAt);

  World k(simple());
  k.ignoresSigterm = true;
  k.run("ScaleDown");
  CHECK(*k.outcome == Outcome::Sigkill);
  CHECK(*k.exitedAt - *k.sigtermAt >= 40s);
}

TEST_CASE("busy (409, 423, 503) is retried per Retry-After until accepted") {
  for (int busy : {409, 423, 503}) {
    World w(critical());
    w.service = [busy](int attempt) {
      return attempt <= 2 ? classifyHttpStatus(busy, 2s, std::to_string(busy) + " busy") : classifyHttpStatus(202, {}, "202");
    };
    w.run("ScaleDown");
    CHECK(w.calls == 3);
    CHECK(*w.outcome == Outcome::Http);
    CHECK(w.saw("ShutdownRefused"));
    CHECK_FALSE(w.saw("EscalatedToSIGTERM"));
    CHECK(w.pod.state.lastAnswer == "202");
  }
}

TEST_CASE("a service busy past refusalTimeout escalates to SIGTERM with a warning") {
  for (bool restart : {false, true}) {
    World w(critical());
    w.restartEveryStep = restart;
    w.service = [](int) { return classifyHttpStatus(409, 5s, "409 busy"); };
    w.run("ScaleDown");
    CHECK(w.saw("EscalatedToSIGTERM"));
    CHECK(w.pod.state.escalation == "refusal-timeout");
    CHECK(*w.outcome == Outcome::Sigterm);
    // Calls every 5 s from the first until refusalTimeout (30 s): 7 calls at most, and the delete after the deadline.
    CHECK(w.calls >= 6);
    CHECK(w.calls <= 7);
    CHECK(*w.deletedAt - *w.calledFirstAt >= 30s);
    CHECK(*w.deletedAt - *w.calledFirstAt < 31s);
  }
}

TEST_CASE("429 backs off per Retry-After, clamped, within the same deadline") {
  World w(critical());
  std::vector<WallTime> callTimes;
  w.service = [&](int attempt) {
    callTimes.push_back(w.now);
    return attempt == 1 ? classifyHttpStatus(429, 3s, "429") : classifyHttpStatus(200, {}, "200");
  };
  w.run("Upgrade");
  REQUIRE(callTimes.size() == 2);
  CHECK(callTimes[1] - callTimes[0] == 3s);
  CHECK(*w.outcome == Outcome::Http);

  World huge(critical());
  huge.service = [](int) { return classifyHttpStatus(429, 3600s, "429"); };
  huge.run("Upgrade");
  CHECK(huge.pod.state.escalation == "refusal-timeout");
}

TEST_CASE("401 and 403 escalate at once and report a misconfiguration - so does any other 4xx") {
  for (int status : {401, 403, 404, 405, 301}) {
    World w(critical());
    w.service = [status](int) { return classifyHttpStatus(status, {}, std::to_string(status)); };
    w.run("ScaleDown");
    CHECK(w.calls == 1);
    CHECK(w.saw("ShutdownMisconfigured"));
    CHECK(w.saw("EscalatedToSIGTERM"));
    CHECK(w.pod.state.escalation == (status <= 403 && status >= 401 ? "unauthorized" : "rejected"));
    CHECK(*w.outcome == Outcome::Sigterm);
    PodFacts f;
    const auto eff = afterAnswer(f, classifyHttpStatus(status, {}, "x"), critical(), kT0);
    CHECK(eff.misconfiguration.has_value());
  }
}

TEST_CASE("connection refused, timeouts, 5xx and garbage are retried briefly, then escalated") {
  for (bool http500 : {false, true}) {
    World w(critical());
    std::vector<WallTime> callTimes;
    w.service = [&](int) {
      callTimes.push_back(w.now);
      return http500 ? classifyHttpStatus(500, {}, "500") : unreachable("connection refused");
    };
    w.run("ScaleDown");
    CHECK(w.calls == kMaxUnreachableAttempts);
    REQUIRE(callTimes.size() == 3);
    CHECK(callTimes[1] - callTimes[0] == 500ms);
    CHECK(callTimes[2] - callTimes[1] == 1s);
    CHECK(w.pod.state.escalation == "unreachable");
    CHECK(*w.outcome == Outcome::Sigterm);
  }
}

TEST_CASE("accepted but never exits: the preStop sleep ends, the kubelet SIGTERMs, the exit timeout is recorded") {
  ShutdownPolicy p = critical();
  p.exitTimeout = 5s;
  World w(p);
  w.exitsAfterAccept.reset();
  w.run("ScaleDown");
  CHECK(w.pod.state.escalation == "exit-timeout");
  CHECK(w.saw("EscalatedToSIGTERM"));
  REQUIRE(w.sigtermAt);
  CHECK(*w.sigtermAt - *w.deletedAt == 10s);  // held off by the preStop sleep
  CHECK(*w.outcome == Outcome::Sigterm);

  World k(critical());
  k.exitsAfterAccept.reset();
  k.ignoresSigterm = true;
  k.run("ScaleDown");
  CHECK(*k.outcome == Outcome::Sigkill);
  CHECK(*k.exitedAt - *k.deletedAt >= 40s);
}

TEST_CASE("a lost node: the pod outlives its grace period and is force-deleted") {
  for (bool critical_ : {true, false}) {
    World w(critical_ ? critical() : simple());
    w.nodeLost = true;
    w.service = [](int) { return unreachable("timeout"); };
    w.run("ScaleDown");
    CHECK(w.saw("ForceDeleted"));
    CHECK(*w.outcome == Outcome::Forced);
    CHECK(w.now - *w.deletedAt >= 40s + 60s);
    CHECK(w.now - *w.deletedAt < 40s + 60s + 1s);
  }
}

TEST_CASE("someone else deletes a critical pod: the endpoint is called at once, before the kubelet's SIGTERM") {
  for (bool restart : {false, true}) {
    World w(critical());
    w.restartEveryStep = restart;
    w.deletedAt = w.now;
    w.pod.deletionTimestamp = w.now + 40s;
    w.pod.deletionGracePeriodSeconds = 40;
    w.advanceTo(w.now + 1s);  // the operator notices a second later
    w.run("");
    CHECK(w.pod.state.reason == "External");
    CHECK(w.calls == 1);
    CHECK(*w.calledFirstAt - *w.deletedAt == 1s);
    CHECK_FALSE(w.sigtermAt);
    CHECK(*w.outcome == Outcome::Http);
  }
}

TEST_CASE("someone else deletes a critical pod while the operator is away past the preStop sleep: too late") {
  World w(critical());
  w.deletedAt = w.now;
  w.pod.deletionTimestamp = w.now + 40s;
  w.pod.deletionGracePeriodSeconds = 40;
  w.ignoresSigterm = true;
  w.advanceTo(w.now + 12s);
  w.run("");
  CHECK(w.calls == 0);
  CHECK(w.pod.state.escalation == "too-late");
  CHECK(*w.outcome == Outcome::Sigkill);
}

TEST_CASE("a refused call on an externally deleted pod is retried only until SIGTERM") {
  World ignoring(critical());
  ignoring.deletedAt = ignoring.now;
  ignoring.pod.deletionTimestamp = ignoring.now + 40s;
  ignoring.pod.deletionGracePeriodSeconds = 40;
  ignoring.ignoresSigterm = true;
  ignoring.service = [](int) { return classifyHttpStatus(409, 1s, "409 busy"); };
  ignoring.run("");
  CHECK(ignoring.pod.state.escalation == "too-late");
  CHECK(*ignoring.outcome == Outcome::Sigkill);

  World w(critical());
  w.deletedAt = w.now;
  w.pod.deletionTimestamp = w.now + 40s;
  w.pod.deletionGracePeriodSeconds = 40;
  w.service = [](int) { return classifyHttpStatus(409, 1s, "409 busy"); };
  w.run("");
  CHECK(*w.outcome == Outcome::Sigterm);  // the kubelet's SIGTERM ended it; no call came after it (see run())
  CHECK(w.calls >= 9);
  CHECK(w.calls <= 11);
}

TEST_CASE("a service that exited while the answer was lost counts as accepted - the pod is then deleted") {
  World w(critical());
  w.pod.state.stage = Stage::Requested;
  w.pod.state.requestedAt = w.now;
  w.pod.state.attempts = 1;
  w.pod.serving = false;
  w.pod.serviceExited = true;
  w.pod.exitedAt = w.now;
  w.run("");
  CHECK(w.calls == 0);
  CHECK(w.kinds.front() == Kind::UpdateState);
  CHECK(w.stages.front() == Stage::Accepted);
  CHECK(*w.outcome == Outcome::Http);
}

TEST_CASE("a call recorded but never answered (the operator crashed mid-call) is made again") {
  World w(critical());
  w.pod.state.stage = Stage::Requested;
  w.pod.state.requestedAt = w.now;
  w.pod.state.attempts = 1;
  w.pod.serving = false;
  w.run("");
  CHECK(w.calls == 1);
  CHECK(w.pod.state.attempts == 2);
  CHECK(*w.outcome == Outcome::Http);
}

TEST_CASE("an operator restarted in Accepted before its delete deletes - in Terminating it waits for the kubelet") {
  World w(critical());
  w.pod.state.stage = Stage::Accepted;
  w.pod.state.acceptedAt = w.now;
  w.acceptedAt = w.now;
  w.pod.serving = false;
  const Step first = decide(w.pod, w.policy, w.now);
  CHECK(first.kind == Kind::DeletePod);
  CHECK(first.graceSeconds == 40);

  PodFacts t = w.pod;
  t.state.stage = Stage::Terminating;
  t.deletionTimestamp = w.now + 30s;
  t.deletionGracePeriodSeconds = 40;
  const Step wait = decide(t, w.policy, w.now);
  CHECK(wait.kind == Kind::Wait);
  CHECK(*wait.wakeAt == w.now + 30s + 60s);
}

TEST_CASE("agent hold: drain, delete, call once the hook arrived, accepted - gone when the service exits") {
  for (bool restart : {false, true}) {
    World w(critical());
    w.agent();
    w.restartEveryStep = restart;
    w.run("ScaleDown");
    CHECK(w.stages == std::vector<Stage>{Stage::Draining, Stage::Requested, Stage::Accepted});
    REQUIRE(w.deletedAt);
    REQUIRE(w.calledFirstAt);
    CHECK(*w.deletedAt <= *w.calledFirstAt);  // deleted first: the kubelet is terminating before any call
    CHECK(*w.outcome == Outcome::Http);
    CHECK_FALSE(w.sigtermAt);
    REQUIRE(w.goneAt);
    REQUIRE(w.exitedAt);
    CHECK(*w.goneAt - *w.exitedAt <= 100ms);  // not held for the whole hold bound
    CHECK(*w.goneAt - *w.deletedAt < 3s);
    CHECK(w.saw("ShutdownTerminating"));
  }
}

TEST_CASE("agent hold: the operator's first write is the DELETE, the Draining state and the label's removal follow") {
  World w(critical());
  w.agent();
  const Step first = decide(w.pod, w.policy, w.now, "ScaleDown");
  REQUIRE(first.kind == Kind::DeletePod);
  CHECK(first.graceSeconds == 40);
  CHECK(first.state.stage == Stage::Draining);
  CHECK(first.state.reason == "ScaleDown");
  CHECK(first.state.startedAt == w.now);
  CHECK(first.stopServing);
  REQUIRE(first.events.size() == 1);
  CHECK(first.events[0].reason == "ShutdownTerminating");
  // A pod already unlabelled by someone else changes nothing: still the delete first.
  w.pod.serving = false;
  CHECK(decide(w.pod, w.policy, w.now, "Upgrade").kind == Kind::DeletePod);
}

TEST_CASE("agent hold: a crash between the delete and its record - the next leader drains and calls, no second delete") {
  World w(critical());
  w.agent();
  // The old leader deleted the pod and died before writing anything.
  w.deletedAt = w.now;
  w.pod.deletionTimestamp = w.now + 40s;
  w.pod.deletionGracePeriodSeconds = 40;
  w.restartEveryStep = true;
  w.run("");
  CHECK(std::count(w.kinds.begin(), w.kinds.end(), Kind::DeletePod) == 0);
  CHECK(w.stages == std::vector<Stage>{Stage::Draining, Stage::Requested, Stage::Accepted});
  CHECK(w.pod.state.drain == "drained");
  CHECK_FALSE(w.pod.serving);
  CHECK(*w.outcome == Outcome::Http);
  CHECK_FALSE(w.sigtermAt);
}

TEST_CASE("agent hold: a call before the kubelet's hook is refused as awaiting termination and retried") {
  World w(critical());
  w.agent();
  // The operator's first call comes at once after the delete; the hook arrives 0.5 s later.
  w.run("ScaleDown");
  CHECK(w.calls == 2);
  CHECK(*w.outcome == Outcome::Http);
}

TEST_CASE("agent hold: accepted but never exits - the agent releases at the exit timeout, recorded as SIGTERM") {
  ShutdownPolicy p = critical();
  p.exitTimeout = 5s;
  World w(p);
  w.agent(20);
  w.exitsAfterAccept.reset();
  w.run("ScaleDown");
  // The operator records the escalation at the exit timeout; the agent releases a second later.
  CHECK(w.pod.state.escalation == "exit-timeout");
  REQUIRE(w.sigtermAt);
  REQUIRE(w.acceptedAt);
  CHECK(*w.sigtermAt - *w.acceptedAt >= 6s);
  CHECK(*w.sigtermAt - *w.acceptedAt < 6s + 200ms);
  CHECK(*w.outcome == Outcome::Sigterm);
}

TEST_CASE("agent hold: a service that exits late, after the agent released the hook, is not counted as http") {
  ShutdownPolicy p = critical();
  p.exitTimeout = 2s;
  World w(p);
  w.agent(20);
  w.exitsAfterAccept = 4s;
  w.ignoresSigterm = true;  // exits by itself at +4 s, after SIGTERM at +3 s (exit timeout + the agent's margin)
  w.run("ScaleDown");
  CHECK(*w.outcome == Outcome::Sigterm);
}

TEST_CASE("an acceptance is recorded when the call was sent, so a late exit after the agent's release is sigterm") {
  ShutdownPolicy p = critical();
  PodFacts f;
  f.name = "vote-2";
  f.preStop = PreStopKind::AgentHold;
  f.preStopSeconds = 20;
  f.state.stage = Stage::Requested;
  const WallTime sent = kT0;
  const WallTime answered = kT0 + 300ms;  // the answer took 0.3 s to reach the operator
  const AnswerEffect eff = afterAnswer(f, classifyHttpStatus(200, {}, "200"), p, answered, sent);
  REQUIRE(eff.state.acceptedAt);
  CHECK(*eff.state.acceptedAt == sent);
  // The agent released at (its own acceptance, >= sent) + exitTimeout + 1 s; the service exited just after.
  PodFacts gone = f;
  gone.state = eff.state;
  gone.exists = false;
  gone.deletionTimestamp = kT0 + 40s;
  gone.deletionGracePeriodSeconds = 40;
  gone.serviceExited = true;
  gone.exitedAt = answered + p.exitTimeout + kAgentReleaseMargin - 100ms;  // the agent may have released
  const Step done = decide(gone, p, kT0 + 60s);
  REQUIRE(done.kind == Kind::Done);
  CHECK(done.outcome == Outcome::Sigterm);
}

TEST_CASE("agent hold: someone else deletes the pod - called once the hook arrived, gone when the service exits") {
  World w(critical());
  w.agent();
  w.deletedAt = w.now;
  w.pod.deletionTimestamp = w.now + 40s;
  w.pod.deletionGracePeriodSeconds = 40;
  w.advanceTo(w.now + 1s);
  w.run("");
  CHECK(w.pod.state.reason == "External");
  CHECK(*w.outcome == Outcome::Http);
  CHECK(*w.goneAt - *w.deletedAt < 3s);
}

TEST_CASE("a deletion grace shorter than the preStop sleep brings SIGTERM earlier: calls stop then") {
  // kubectl delete pod --grace-period=3 on a pod with a 10 s sleep: the kubelet cuts the hook at 3 s.
  World w(critical());
  w.deletedAt = w.now;
  w.pod.deletionTimestamp = w.now + 3s;
  w.pod.deletionGracePeriodSeconds = 3;
  w.ignoresSigterm = true;
  std::vector<WallTime> callTimes;
  w.service = [&](int) {
    callTimes.push_back(w.now);
    return classifyHttpStatus(409, 1s, "409 busy");
  };
  w.run("");
  CHECK(w.calls >= 2);
  REQUIRE_FALSE(callTimes.empty());
  CHECK(callTimes.back() - *w.deletedAt < 3s);  // every second until +3 s, not until +10 s
  CHECK(*w.outcome == Outcome::Sigkill);

  // Exiting after SIGTERM came (at +3 s, not +10 s) is not an HTTP outcome.
  World late(critical());
  late.pod.state.stage = Stage::Accepted;
  late.pod.state.acceptedAt = late.now;
  late.acceptedAt = late.now;
  late.pod.serving = false;
  late.exitsAfterAccept = 5s;
  late.ignoresSigterm = true;
  late.pod.deletionTimestamp = late.now + 3s;
  late.pod.deletionGracePeriodSeconds = 3;
  late.deletedAt = late.now;
  late.run("");
  CHECK(*late.outcome == Outcome::Sigkill);
}

TEST_CASE("a preStop hook of the user's: its length is unknown, so the grace period bounds the calls") {
  World w(critical());
  w.pod.preStop = PreStopKind::Other;
  w.deletedAt = w.now;
  w.pod.deletionTimestamp = w.now + 40s;
  w.pod.deletionGracePeriodSeconds = 40;
  w.advanceTo(w.now + 1s);
  w.run("");
  CHECK(w.calls == 1);
  CHECK(*w.outcome == Outcome::Http);
}

TEST_CASE("pods that are not shutting down and not chosen are left alone") {
  PodFacts f;
  f.serving = true;
  CHECK(decide(f, critical(), kT0).kind == Kind::Idle);
  f.exists = false;
  CHECK(decide(f, critical(), kT0).kind == Kind::Idle);
}

TEST_CASE("every shutdown ends within the policy's bound, whatever the service does") {
  const std::vector<std::function<EndpointAnswer(int)>> behaviours = {
      [](int) { return classifyHttpStatus(200, {}, "200"); },
      [](int) { return classifyHttpStatus(409, 1s, "409"); },
      [](int) { return classifyHttpStatus(429, 100s, "429"); },
      [](int) { return unreachable("timeout"); },
      [](int) { return classifyHttpStatus(403, {}, "403"); },
  };
  for (std::size_t b = 0; b < behaviours.size(); ++b)
    for (bool exits : {true, false})
      for (bool ignores : {false, true})
        for (bool lost : {false, true})
          for (bool agent : {false, true})
          for (bool stalled : {false, true}) {
          World w(critical());
          if (agent) w.agent();
          if (stalled) w.sliceLag.reset();
          w.service = behaviours[b];
          if (!exits) w.exitsAfterAccept.reset();
          w.ignoresSigterm = ignores;
          w.nodeLost = lost;
          const WallTime start = w.now;
          w.run("ScaleDown");
          CHECK_MESSAGE(w.now - start <= w.policy.bound(), "behaviour ", b, " exits ", exits, " lost ", lost,
                        " agent ", agent, " stalled ", stalled);
          CHECK(w.outcome.has_value());
          }
}

TEST_CASE("state annotations round-trip, and a merge patch clears what is unset") {
  ShutdownState s;
  s.stage = Stage::Requested;
  s.reason = "Upgrade";
  s.startedAt = kT0;
  s.requestedAt = kT0 + 1500ms;
  s.nextAttemptAt = kT0 + 3s;
  s.attempts = 2;
  s.failures = 1;
  s.restartBaseline = 4;
  s.lastAnswer = "409 busy";
  const json patch = stateAnnotationsPatch(s);
  CHECK(patch["medivote.io/shutdown-stage"] == "Requested");
  CHECK(patch["medivote.io/shutdown-requested-at"] == "2026-11-25T21:41:39.500Z");
  CHECK(patch["medivote.io/shutdown-accepted-at"].is_null());
  CHECK(readState(patch) == s);
  CHECK(readState(json::object()) == ShutdownState{});
  CHECK(readState(json{{"medivote.io/shutdown-stage", "Exploded"}, {"medivote.io/shutdown-attempts", "-1"}}) ==
        ShutdownState{});
}

// The outcome of a finished shutdown, from what the kubelet reported for the service container (issue 15 item 9).
namespace {
// A pod deleted at kT0 with grace 40 s and a 10 s preStop sleep (SIGTERM at kT0 + 10 s), whose service container
// ended `exitedAfter` kT0 with `exitCode`/`signal` (no exit seen: exitedAfter nullopt), seen gone at `seenGoneAfter`.
Step finished(Stage stage, std::optional<int> exitCode, std::optional<int> signal,
              std::optional<std::chrono::seconds> exitedAfter, const std::string& escalation = "",
              std::chrono::seconds seenGoneAfter = 60s) {
  PodFacts f;
  f.name = "vote-4";
  f.exists = false;
  f.preStop = PreStopKind::Sleep;
  f.preStopSeconds = 10;
  f.deletionTimestamp = kT0 + 40s;
  f.deletionGracePeriodSeconds = 40;
  f.state.stage = stage;
  f.state.requestedAt = kT0 - 1s;
  if (stage == Stage::Accepted) f.state.acceptedAt = kT0 - 1s;
  f.state.escalation = escalation;
  f.exitCode = exitCode;
  f.exitSignal = signal;
  if (exitedAfter) {
    f.serviceExited = true;
    f.exitedAt = kT0 + *exitedAfter;
  }
  return decide(f, critical(), kT0 + seenGoneAfter);
}
}  // namespace

TEST_CASE("outcome: a signal is the kubelet's only when it came at or after the SIGTERM time") {
  // The real MediVote services end themselves by SIGTERM after answering (exit 143): before the kubelet's, http.
  CHECK(finished(Stage::Accepted, 143, 15, 2s).outcome == Outcome::Http);
  // Accepted, then hung until the kubelet's SIGTERM at +10 s: sigterm, although it says Accepted.
  CHECK(finished(Stage::Accepted, 143, 15, 10s).outcome == Outcome::Sigterm);
  CHECK(finished(Stage::Accepted, 0, std::nullopt, 10s).outcome == Outcome::Sigterm);  // handled SIGTERM, exit 0
  // finishedAt has whole seconds: an exit stamped a whole second before SIGTERM was before it; one stamped at the
  // SIGTERM second may have been after it.
  CHECK(finished(Stage::Accepted, 143, 15, 9s).outcome == Outcome::Http);
  // SIGKILL at the end of the grace period: sigkill, also when the last recorded stage was Accepted or Terminating.
  CHECK(finished(Stage::Accepted, 137, 9, 40s).outcome == Outcome::Sigkill);
  CHECK(finished(Stage::Terminating, 137, std::nullopt, 40s, "refusal-timeout").outcome == Outcome::Sigkill);
  CHECK(finished(Stage::Terminating, 0, std::nullopt, 2s, "refusal-timeout").outcome == Outcome::Sigterm);
  CHECK(finished(Stage::Requested, 0, std::nullopt, 2s).outcome == Outcome::Http);  // its answer was lost
}

TEST_CASE("outcome: no exit seen - accepted and never escalated is http, an escalation is sigterm") {
  CHECK(finished(Stage::Accepted, std::nullopt, std::nullopt, std::nullopt, "", 5s).outcome == Outcome::Http);
  CHECK(finished(Stage::Accepted, std::nullopt, std::nullopt, std::nullopt, "exit-timeout", 5s).outcome ==
        Outcome::Sigterm);
}
