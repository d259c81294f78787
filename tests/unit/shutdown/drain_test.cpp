// The Draining stage waits until the pod is out of its Service's EndpointSlices, or the drain timeout: direct and
// agent, a stalled slice controller, unreadable slices, no wait (0), a restarted operator, someone else's deletion.
// The whole-shutdown invariants (no call or agent delete before the drain ended) are also checked by the World of
// stage_machine_test.cpp on every shutdown it runs; here each drain rule is pinned down by itself.
#include "shutdown/stage_machine.h"

#include <doctest/doctest.h>

using namespace mv::shutdown;
using namespace std::chrono_literals;
using Kind = Step::Kind;

namespace {

const WallTime kT0 = WallTime(std::chrono::seconds(1795642898));

ShutdownPolicy critical(std::chrono::seconds drain = 5s) {
  ShutdownPolicy p;
  p.tier = mv::api::Tier::Critical;
  p.hasEndpoint = true;
  p.gracePeriod = 40s;
  p.drainTimeout = drain;
  return p;
}

// A critical pod the operator began to drain at `startedAt`: its label is gone, its endpoint is `inEndpoints`.
PodFacts draining(WallTime startedAt, std::optional<bool> inEndpoints, bool agent = false) {
  PodFacts f;
  f.name = "vote-1";
  f.uid = "u1";
  f.podIP = "10.244.0.7";
  f.serving = false;
  f.inEndpoints = inEndpoints;
  f.preStop = agent ? PreStopKind::AgentHold : PreStopKind::Sleep;
  f.preStopSeconds = agent ? 20 : 10;
  f.state.stage = Stage::Draining;
  f.state.reason = "ScaleDown";
  f.state.startedAt = startedAt;
  return f;
}

bool hasEvent(const Step& s, const std::string& reason) {
  for (const auto& e : s.events)
    if (e.reason == reason) return true;
  return false;
}

}  // namespace

TEST_CASE("still listed: Draining waits until the drain deadline, counted from the shutdown's start") {
  for (bool agent : {false, true}) {
    const Step s = decide(draining(kT0, true, agent), critical(), kT0 + 1s);
    CHECK(s.kind == Kind::Wait);
    REQUIRE(s.wakeAt);
    CHECK(*s.wakeAt == kT0 + 5s);
    CHECK(s.events.empty());
    CHECK(s.state.drain.empty());
  }
}

TEST_CASE("out of the slices: the drain is recorded with the call (direct) or the delete (agent, drained first)") {
  for (bool agent : {false, true}) {
    const PodFacts f = draining(kT0, false, agent);
    // (Past kKubeletSyncSettle: a direct pod is not called sooner after its Draining write, see stage_machine_test.)
    const WallTime t = kT0 + kKubeletSyncSettle + 200ms;
    const Step s = decide(f, critical(), t);
    // One write: how the drain ended goes with the step that follows it.
    CHECK(s.kind == (agent ? Kind::DeletePod : Kind::CallEndpoint));
    CHECK(s.state.stage == (agent ? Stage::Draining : Stage::Requested));
    CHECK(s.state.drain == "drained");
    CHECK(s.state.drainedAt == t);
    CHECK_FALSE(hasEvent(s, "DrainTimedOut"));
  }
}

TEST_CASE("a stalled slice controller: at the deadline the timeout is recorded with a DrainTimedOut warning") {
  for (bool agent : {false, true}) {
    const PodFacts f = draining(kT0, true, agent);
    const Step s = decide(f, critical(), kT0 + 5s);
    CHECK(s.kind == (agent ? Kind::DeletePod : Kind::CallEndpoint));
    CHECK(s.state.drain == "timed-out");
    CHECK(s.state.drainedAt == kT0 + 5s);
    REQUIRE_FALSE(s.events.empty());
    CHECK(s.events[0].warning);
    CHECK(s.events[0].reason == "DrainTimedOut");
    CHECK(s.events[0].message.find("still listed") != std::string::npos);
    // Recorded: the shutdown goes on although the pod is still listed, and never waits again.
    PodFacts after = f;
    after.state = readState(stateAnnotationsPatch(s.state));
    CHECK(decide(after, critical(), kT0 + 9s).kind != Kind::Wait);
  }
}

TEST_CASE("unreadable slices: the drain timeout is waited out in full, recorded as unknown, and said so") {
  const PodFacts f = draining(kT0, std::nullopt);
  const Step early = decide(f, critical(), kT0 + 4s);
  CHECK(early.kind == Kind::Wait);
  CHECK(*early.wakeAt == kT0 + 5s);
  const Step s = decide(f, critical(), kT0 + 5s);
  REQUIRE(s.kind == Kind::CallEndpoint);
  CHECK(s.state.drain == "unknown");
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[0].warning);
  CHECK(s.events[0].reason == "DrainTimedOut");
  CHECK(s.events[0].message.find("cannot be read") != std::string::npos);
  CHECK(s.events[1].reason == "ShutdownRequested");
}

TEST_CASE("drainTimeoutSeconds 0: no drain wait and nothing recorded, even while listed or unreadable") {
  for (std::optional<bool> in : {std::optional<bool>(true), std::optional<bool>()}) {
    // Only the kubelet sync of the Draining write is waited out (kKubeletSyncSettle), with nothing recorded.
    const Step settling = decide(draining(kT0, in), critical(0s), kT0);
    CHECK(settling.kind == Kind::Wait);
    CHECK(settling.wakeAt == kT0 + kKubeletSyncSettle);
    CHECK(settling.state.drain.empty());
    const Step s = decide(draining(kT0, in), critical(0s), kT0 + kKubeletSyncSettle);
    CHECK(s.kind == Kind::CallEndpoint);
    CHECK(s.state.drain.empty());
    CHECK_FALSE(hasEvent(s, "DrainTimedOut"));
  }
}

TEST_CASE("a restarted operator resumes the same wait: its deadline comes from the persisted start") {
  // The state as a new leader reads it from the pod's annotations, 3 s into the drain.
  PodFacts f = draining(kT0, true);
  f.state = readState(stateAnnotationsPatch(f.state));
  const Step resumed = decide(f, critical(), kT0 + 3s);
  CHECK(resumed.kind == Kind::Wait);
  CHECK(*resumed.wakeAt == kT0 + 5s);  // not 5 s after the restart
  // Back after the deadline: the timeout is recorded at once, no new wait.
  CHECK(decide(f, critical(), kT0 + 60s).state.drain == "timed-out");
  // A drain recorded before the crash is not waited for again, even if the pod shows up listed again.
  PodFacts done = draining(kT0, true);
  done.state.drain = "drained";
  done.state.drainedAt = kT0 + 1s;
  done.state = readState(stateAnnotationsPatch(done.state));
  CHECK(done.state.drain == "drained");
  CHECK(done.state.drainedAt == kT0 + 1s);
  CHECK(decide(done, critical(), kT0 + 2s).kind == Kind::CallEndpoint);
}

TEST_CASE("a pod with a preStop sleep deleted by someone else is not drained: called at once, although listed") {
  PodFacts f = draining(kT0, true);
  f.state = ShutdownState{};
  f.serving = true;
  f.deletionTimestamp = kT0 + 40s;
  f.deletionGracePeriodSeconds = 40;
  const Step s = decide(f, critical(), kT0);
  CHECK(s.kind == Kind::CallEndpoint);
  CHECK(s.state.reason == "External");
  CHECK(s.state.drain.empty());
  CHECK_FALSE(hasEvent(s, "ShutdownDraining"));
}

TEST_CASE("a draining pod with a preStop sleep that someone else deletes stops waiting: its preStop time runs") {
  PodFacts f = draining(kT0, true);
  f.deletionTimestamp = kT0 + 41s;
  f.deletionGracePeriodSeconds = 40;
  const Step s = decide(f, critical(), kT0 + 1s);
  CHECK(s.kind == Kind::CallEndpoint);
  CHECK_FALSE(hasEvent(s, "DrainTimedOut"));
}

TEST_CASE("agent: a pod deleted with nothing recorded (by someone else, or before a crash) is drained too") {
  PodFacts f = draining(kT0, true, true);
  f.state = ShutdownState{};
  f.serving = true;
  f.deletionTimestamp = kT0 + 40s;
  f.deletionGracePeriodSeconds = 40;
  const Step s = decide(f, critical(), kT0);
  REQUIRE(s.kind == Kind::UpdateState);
  CHECK(s.stopServing);
  CHECK(s.state.stage == Stage::Draining);
  CHECK(s.state.reason == "External");
  CHECK(s.state.startedAt == kT0);
  CHECK(hasEvent(s, "ShutdownDraining"));
}

TEST_CASE("agent: the drain runs inside the hold and ends early enough to leave the call and the exit their time") {
  // Deleted at kT0 with grace 40; hold 20 s; requestTimeout 5 s + exitTimeout 10 s: the wait may last 5 s.
  PodFacts f = draining(kT0, true, true);
  f.deletionTimestamp = kT0 + 40s;
  f.deletionGracePeriodSeconds = 40;
  const Step w = decide(f, critical(30s), kT0 + 1s);
  REQUIRE(w.kind == Kind::Wait);
  CHECK(*w.wakeAt == kT0 + 5s);  // not the 30 s drain timeout
  const Step s = decide(f, critical(30s), kT0 + 5s);
  REQUIRE(s.kind == Kind::CallEndpoint);
  CHECK(s.state.drain == "timed-out");
  REQUIRE_FALSE(s.events.empty());
  CHECK(s.events[0].reason == "DrainTimedOut");
  CHECK(s.events[0].message.find("hold") != std::string::npos);
  // A hold with no time to spare (16 s = 5 + 10 + 1): the wait may last only 1 s.
  f.preStopSeconds = 16;
  CHECK(*decide(f, critical(), kT0 + 200ms).wakeAt == kT0 + 1s);
  // Out of the slices in time: called at once, the drain recorded with the call.
  PodFacts out = f;
  out.inEndpoints = false;
  const Step c = decide(out, critical(), kT0 + 300ms);
  CHECK(c.kind == Kind::CallEndpoint);
  CHECK(c.state.drain == "drained");
}

TEST_CASE("the label goes first: a pod still carrying it is unlabelled before any drain decision") {
  PodFacts f = draining(kT0, false);
  f.serving = true;
  const Step s = decide(f, critical(), kT0 + 1s);
  CHECK(s.kind == Kind::UpdateState);
  CHECK(s.stopServing);
  CHECK(s.state.drain.empty());
}

TEST_CASE("the bound grows by the drain timeout") {
  const auto without = critical(0s).bound();
  CHECK(critical(5s).bound() == without + 5s);
  CHECK(critical(300s).bound() == without + 300s);
}
