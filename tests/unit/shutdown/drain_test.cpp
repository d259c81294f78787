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

// Applies an UpdateState as the runner does (the state is persisted and read back) and decides again.
Step afterUpdate(PodFacts f, const Step& update, const ShutdownPolicy& p, WallTime now) {
  REQUIRE(update.kind == Kind::UpdateState);
  f.state = readState(stateAnnotationsPatch(update.state));
  return decide(f, p, now);
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

TEST_CASE("out of the slices: recorded as drained, then the call (direct) or the delete (agent) follows") {
  for (bool agent : {false, true}) {
    const PodFacts f = draining(kT0, false, agent);
    const Step s = decide(f, critical(), kT0 + 1200ms);
    REQUIRE(s.kind == Kind::UpdateState);
    CHECK(s.state.stage == Stage::Draining);
    CHECK(s.state.drain == "drained");
    CHECK(s.state.drainedAt == kT0 + 1200ms);
    CHECK_FALSE(hasEvent(s, "DrainTimedOut"));
    const Step next = afterUpdate(f, s, critical(), kT0 + 1200ms);
    CHECK(next.kind == (agent ? Kind::DeletePod : Kind::CallEndpoint));
    CHECK(next.state.drain == "drained");  // kept through the later stages
  }
}

TEST_CASE("a stalled slice controller: at the deadline the timeout is recorded with a DrainTimedOut warning") {
  for (bool agent : {false, true}) {
    const PodFacts f = draining(kT0, true, agent);
    const Step s = decide(f, critical(), kT0 + 5s);
    REQUIRE(s.kind == Kind::UpdateState);
    CHECK(s.state.drain == "timed-out");
    CHECK(s.state.drainedAt == kT0 + 5s);
    REQUIRE(s.events.size() == 1);
    CHECK(s.events[0].warning);
    CHECK(s.events[0].reason == "DrainTimedOut");
    CHECK(s.events[0].message.find("still listed") != std::string::npos);
    // Recorded: the shutdown goes on although the pod is still listed, and never waits again.
    CHECK(afterUpdate(f, s, critical(), kT0 + 5s).kind == (agent ? Kind::DeletePod : Kind::CallEndpoint));
    CHECK(afterUpdate(f, s, critical(), kT0 + 9s).kind == (agent ? Kind::DeletePod : Kind::CallEndpoint));
  }
}

TEST_CASE("unreadable slices: the drain timeout is waited out in full, recorded as unknown, and said so") {
  const PodFacts f = draining(kT0, std::nullopt);
  const Step early = decide(f, critical(), kT0 + 4s);
  CHECK(early.kind == Kind::Wait);
  CHECK(*early.wakeAt == kT0 + 5s);
  const Step s = decide(f, critical(), kT0 + 5s);
  REQUIRE(s.kind == Kind::UpdateState);
  CHECK(s.state.drain == "unknown");
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].warning);
  CHECK(s.events[0].reason == "DrainTimedOut");
  CHECK(s.events[0].message.find("cannot be read") != std::string::npos);
  CHECK(afterUpdate(f, s, critical(), kT0 + 5s).kind == Kind::CallEndpoint);
}

TEST_CASE("drainTimeoutSeconds 0: no wait and nothing recorded, even while listed or unreadable") {
  for (std::optional<bool> in : {std::optional<bool>(true), std::optional<bool>()}) {
    const Step s = decide(draining(kT0, in), critical(0s), kT0);
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

TEST_CASE("a pod deleted by someone else is not drained: called at once, although still listed") {
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

TEST_CASE("a draining pod that someone else deletes meanwhile stops waiting: its preStop time already runs") {
  PodFacts f = draining(kT0, true);
  f.deletionTimestamp = kT0 + 41s;
  f.deletionGracePeriodSeconds = 40;
  const Step s = decide(f, critical(), kT0 + 1s);
  CHECK(s.kind == Kind::CallEndpoint);
  CHECK_FALSE(hasEvent(s, "DrainTimedOut"));
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
