// The shutdown order's hold of a pod deleted by someone else (stage_machine.h: ShutdownPolicy::orderHeld,
// orderWaitEnd): its call waits while its resource is held, at most until its preStop budget leaves just the call
// and the exit their time before SIGTERM; it leaves its Service at once; nothing else is held. Decided from the pod
// and the order decision alone, on a fake clock: every case is checked at every quarter second of the budget, and
// with the state re-read from the pod's annotations (an operator restart) at each of them.
#include "shutdown/stage_machine.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "util/clock.h"

using namespace mv::shutdown;
using namespace std::chrono_literals;
using Kind = Step::Kind;

namespace {

// The e2e chain's budget: preStop 12 s, grace 16 s, request 1 s, exit 3 s: the call waits at most until 7 s after
// the deletion was requested (12 - 1 - 3 - kOrderWaitMargin).
ShutdownPolicy policy(bool held) {
  ShutdownPolicy p;
  p.tier = mv::api::Tier::Critical;
  p.hasEndpoint = true;
  p.requestTimeout = 1s;
  p.exitTimeout = 3s;
  p.refusalTimeout = 10s;
  p.gracePeriod = 16s;
  p.forceDeleteAfter = 30s;
  p.drainTimeout = 5s;
  p.orderHeld = held;
  return p;
}

enum class Reach { Direct, Agent };

// A serving pod whose deletion (grace 16 s) was requested at `deletedAt`.
PodFacts deletedPod(Reach reach, WallTime deletedAt) {
  PodFacts f;
  f.name = "mid-0";
  f.uid = "u1";
  f.serving = true;
  f.inEndpoints = false;  // the endpoint slice controller took the terminating pod out
  f.deletionTimestamp = deletedAt + 16s;
  f.deletionGracePeriodSeconds = 16;
  f.preStop = reach == Reach::Direct ? PreStopKind::Sleep : PreStopKind::AgentHold;
  f.preStopSeconds = 12;
  return f;
}

// The pod after `step` was carried out (its state persisted, its label dropped), as the next decision reads it:
// through the annotations when `restart` (a new leader has nothing but the pod).
PodFacts applied(PodFacts f, const Step& step, bool restart) {
  f.state = restart ? readState(stateAnnotationsPatch(step.state)) : step.state;
  if (step.stopServing) f.serving = false;
  return f;
}

bool cutShort(const Step& st) {
  return std::any_of(st.events.begin(), st.events.end(),
                     [](const EventNote& e) { return e.reason == kOrderWaitCutShort && e.warning; });
}

// Drives the pod's shutdown from the operator's first look at `now` (held or not) until its first call, repeating
// every decision (a restart gives the same one). Returns the call step; `waits` collects the Wait steps on the way.
Step untilCall(Reach reach, WallTime deletedAt, WallTime now, bool held, bool restart, std::vector<Step>& waits) {
  PodFacts f = deletedPod(reach, deletedAt);
  const ShutdownPolicy p = policy(held);
  for (int i = 0; i < 10; ++i) {
    const Step st = decide(f, p, now);
    PodFacts reread = f;
    reread.state = readState(stateAnnotationsPatch(f.state));
    const Step again = decide(restart ? reread : f, p, now);
    REQUIRE(st.kind == again.kind);
    REQUIRE(st.wakeAt == again.wakeAt);
    if (st.kind == Kind::CallEndpoint) return st;
    if (st.kind == Kind::Wait) {
      REQUIRE(st.wakeAt);
      waits.push_back(st);
      now = *st.wakeAt;
      continue;
    }
    REQUIRE(st.kind == Kind::UpdateState);
    f = applied(f, st, restart);
  }
  FAIL("no call");
  return {};
}

}  // namespace

TEST_CASE("orderWaitEnd: SIGTERM's time minus the call's and the exit's time and the margin") {
  const WallTime t0 = WallTime(std::chrono::seconds(1795642898));
  const ShutdownPolicy p = policy(true);
  CHECK(*orderWaitEnd(deletedPod(Reach::Direct, t0), p) == t0 + 12s - 1s - 3s - kOrderWaitMargin);
  CHECK(*orderWaitEnd(deletedPod(Reach::Agent, t0), p) == t0 + 7s);
  // A shorter deletion grace (kubectl delete --grace-period=5) cuts the hook, and so the wait: 5 - 5 = at once.
  PodFacts shortGrace = deletedPod(Reach::Direct, t0);
  shortGrace.deletionTimestamp = t0 + 5s;
  shortGrace.deletionGracePeriodSeconds = 5;
  CHECK(*orderWaitEnd(shortGrace, p) == t0);
  PodFacts live = deletedPod(Reach::Direct, t0);
  live.deletionTimestamp.reset();
  CHECK_FALSE(orderWaitEnd(live, p));
}

TEST_CASE("a held pod deleted by someone else leaves its Service at once and is called only at its budget's end") {
  mv::util::FakeClock clock;
  const WallTime t0 = clock.wallNow();
  for (Reach reach : {Reach::Direct, Reach::Agent})
    for (bool restart : {false, true})
      for (auto at = 0ms; at <= 9000ms; at += 250ms) {
        CAPTURE(static_cast<int>(reach));
        CAPTURE(restart);
        CAPTURE(at.count());
        const WallTime end = t0 + 7s;
        mv::util::FakeClock later;  // the operator's first look, `at` after the deletion
        later.advance(at);
        const WallTime first = later.wallNow();
        REQUIRE(first == t0 + at);
        // The first decision never waits: the pod leaves its Service (Draining, the serving label dropped).
        const Step start = decide(deletedPod(reach, t0), policy(true), first);
        if (first < end) {
          CHECK(start.kind == Kind::UpdateState);
          CHECK(start.state.stage == Stage::Draining);
          CHECK(start.state.reason == "External");
          CHECK(start.stopServing);
        }
        std::vector<Step> waits;
        const Step call = untilCall(reach, t0, first, true, restart, waits);
        // Waits end at the budget's end, never later, and the call comes then with the warning.
        for (const auto& w : waits) CHECK(*w.wakeAt <= end);
        CHECK(call.state.requestedAt >= std::max(first, end));
        CHECK(*call.state.requestedAt < t0 + 12s);  // before SIGTERM
        CHECK(cutShort(call));
        CHECK(call.state.stage == Stage::Requested);
      }
}

TEST_CASE("released by the order, or never held (the resource is not going down): called without a warning") {
  const WallTime t0 = WallTime(std::chrono::seconds(1795642898));
  for (Reach reach : {Reach::Direct, Reach::Agent})
    for (bool restart : {false, true})
      for (auto at = 0ms; at < 7000ms; at += 250ms) {
        CAPTURE(static_cast<int>(reach));
        CAPTURE(at.count());
        // Never held: the first call comes at the operator's first look (direct) or right after the drain (agent).
        std::vector<Step> waits;
        const Step call = untilCall(reach, t0, t0 + at, false, restart, waits);
        CHECK(waits.empty());
        CHECK(*call.state.requestedAt == t0 + at);
        CHECK_FALSE(cutShort(call));
        // Held up to `at`, then released by the order: the waiting pod is called at once, without the warning.
        PodFacts f = deletedPod(reach, t0);
        Step st = decide(f, policy(true), t0);
        for (int i = 0; i < 3 && st.kind == Kind::UpdateState; ++i) {
          f = applied(f, st, restart);
          st = decide(f, policy(true), t0);
        }
        REQUIRE(st.kind == Kind::Wait);
        CHECK(*st.wakeAt == t0 + 7s);
        CHECK(decide(f, policy(true), t0 + at).kind == Kind::Wait);
        const Step released = decide(f, policy(false), t0 + at);
        CHECK(released.kind == Kind::CallEndpoint);
        CHECK(*released.state.requestedAt == t0 + at);
        CHECK_FALSE(cutShort(released));
      }
}

TEST_CASE("the hold is the call's alone: a drain that ended is recorded first, and operator-chosen shutdowns go on") {
  const WallTime t0 = WallTime(std::chrono::seconds(1795642898));
  // Agent: the drain's end (out of the slices) is written while held, then the wait resumes from the record.
  PodFacts f = deletedPod(Reach::Agent, t0);
  Step st = decide(f, policy(true), t0);
  REQUIRE(st.kind == Kind::UpdateState);
  f = applied(f, st, true);
  st = decide(f, policy(true), t0 + 500ms);
  REQUIRE(st.kind == Kind::UpdateState);
  CHECK(st.state.drain == "drained");
  CHECK_FALSE(cutShort(st));
  f = applied(f, st, true);
  st = decide(f, policy(true), t0 + 600ms);
  CHECK(st.kind == Kind::Wait);
  CHECK(*st.wakeAt == t0 + 7s);
  // A shutdown the operator started (its resource's deletion) is under way: the order does not hold its call.
  for (Reach reach : {Reach::Direct, Reach::Agent}) {
    PodFacts chosen = deletedPod(reach, t0);
    chosen.serving = false;
    chosen.state.stage = Stage::Draining;
    chosen.state.reason = "Deletion";
    chosen.state.startedAt = t0 - 3s;
    chosen.state.drain = "drained";
    chosen.state.drainedAt = t0;
    CHECK(decide(chosen, policy(true), t0 + 1s).kind == Kind::CallEndpoint);
  }
  // A pod not being deleted is not the stage machine's to hold (the planner does not start it).
  PodFacts live = deletedPod(Reach::Direct, t0);
  live.deletionTimestamp.reset();
  CHECK(decide(live, policy(true), t0).kind == Kind::Idle);
  // Past SIGTERM already (the operator was away): too late, as without the order.
  const Step late = decide(deletedPod(Reach::Direct, t0), policy(true), t0 + 13s);
  CHECK(late.state.stage == Stage::Terminating);
  CHECK(late.state.escalation == "too-late");
}
