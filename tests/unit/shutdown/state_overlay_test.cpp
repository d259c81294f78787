// The runner's overlay of its own writes and of each pod's first graceful deletion over the informer cache.
#include "shutdown/state_overlay.h"

#include <doctest/doctest.h>

using namespace mv::shutdown;
using namespace std::chrono_literals;

namespace {

PodFacts pod(const std::string& uid) {
  PodFacts f;
  f.uid = uid;
  return f;
}

ShutdownState requested() {
  ShutdownState s;
  s.stage = Stage::Requested;
  s.reason = "ScaleDown";
  return s;
}

}  // namespace

TEST_CASE("state overlay: the state last written shows until the cache has it, then the overlay is dropped") {
  StateOverlay o;
  o.wrote("u", requested());
  PodFacts lagging = pod("u");
  o.apply(lagging);
  CHECK(lagging.state == requested());
  CHECK(o.size() == 1);
  PodFacts caughtUp = pod("u");
  caughtUp.state = requested();
  o.apply(caughtUp);
  CHECK(o.size() == 0);
  PodFacts other = pod("v");
  o.apply(other);
  CHECK(other.state.stage == Stage::None);
}

TEST_CASE("state overlay: the kubelet's grace-0 delete does not hide the first graceful deletion, finish forgets") {
  StateOverlay o;
  const WallTime t0 = WallTime{} + 1000s;
  PodFacts graceful = pod("u");
  graceful.deletionTimestamp = t0;
  graceful.deletionGracePeriodSeconds = 30;
  o.apply(graceful);
  PodFacts final = pod("u");
  final.deletionTimestamp = t0 + 20s;
  final.deletionGracePeriodSeconds = 0;
  o.apply(final);
  CHECK(final.deletionTimestamp == t0);
  CHECK(final.deletionGracePeriodSeconds == 30);
  o.wrote("u", requested());
  PodFacts gone = pod("u");
  gone.exists = false;
  o.finish(gone);
  CHECK(gone.state == requested());
  CHECK(o.size() == 0);
}

TEST_CASE("state overlay: dropped once the cache has the write, although the annotations keep only milliseconds") {
  StateOverlay o;
  ShutdownState s = requested();
  // A time with the clock's precision, as decide() stamps it.
  s.startedAt = WallTime(std::chrono::nanoseconds(1795642898123456789LL));
  s.requestedAt = *s.startedAt + 1500us;
  o.wrote("u", s);
  CHECK(o.size() == 1);
  // The cache reads the state back from the pod's annotations.
  PodFacts cached = pod("u");
  cached.state = readState(stateAnnotationsPatch(s));
  CHECK(cached.state != s);  // the precision the annotations lose
  o.apply(cached);
  CHECK(o.size() == 0);
  CHECK(cached.state.stage == Stage::Requested);
}
