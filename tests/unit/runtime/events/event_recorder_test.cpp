// The Event recorder against the fake API: aggregation of repeats, and the bounds of what it remembers for that.
#include "runtime/events/event_recorder.h"

#include <doctest/doctest.h>

#include <fmt/format.h>

#include "support/fake_client.h"
#include "util/clock.h"

using namespace mv;
using namespace std::chrono_literals;
using runtime::events::KubeEventRecorder;
using runtime::events::ObjectRef;

namespace {

ObjectRef pod(const std::string& name, const std::string& uid) { return {"v1", "Pod", "ns", name, uid}; }

struct Recorder {
  testing::FakeClient client;
  util::FakeClock clock;
  KubeEventRecorder events{client, clock, "medivote-controller", "test-host"};

  void record(const ObjectRef& o, const std::string& message) {
    events.record(o, false, "ShutdownCompleted", message);
    events.flush();
  }
  std::size_t creates() const { return client.calls("create").size(); }
  std::size_t patches() const { return client.calls("patch").size(); }
};

}  // namespace

TEST_CASE("a repeat within the aggregation window raises the count of one Event, after it a new Event") {
  Recorder r;
  r.record(pod("vote-0", "u0"), "gone");
  r.record(pod("vote-0", "u0"), "gone");
  CHECK(r.creates() == 1);
  REQUIRE(r.patches() == 1);
  CHECK(r.client.calls("patch")[0].body["count"] == 2);
  r.clock.advance(KubeEventRecorder::kAggregationWindow + 1s);
  r.record(pod("vote-0", "u0"), "gone");
  CHECK(r.creates() == 2);
  CHECK(r.patches() == 1);
}

TEST_CASE("what the recorder remembers is forgotten once its window is over, so it does not grow with time") {
  Recorder r;
  for (int i = 0; i < 50; ++i) r.record(pod(fmt::format("vote-{}", i), fmt::format("u{}", i)), "gone");
  CHECK(r.events.remembered() == 50);
  r.clock.advance(KubeEventRecorder::kAggregationWindow + 2min);
  r.record(pod("vote-new", "u-new"), "gone");
  CHECK(r.events.remembered() == 1);
}

TEST_CASE("forget(uid): a deleted object's Events are forgotten, another object's kept") {
  Recorder r;
  r.record(pod("vote-0", "u0"), "accepted");
  r.record(pod("vote-0", "u0"), "gone");
  r.record(pod("vote-1", "u1"), "gone");
  r.events.forget("u0");
  r.events.forget("");  // an object without uid forgets nothing
  CHECK(r.events.remembered() == 1);
  r.record(pod("vote-1", "u1"), "gone");  // still aggregated
  CHECK(r.patches() == 1);
}

TEST_CASE("beyond kMaxRemembered the least recently written Event is forgotten first, not all of them") {
  Recorder r;
  const std::size_t n = KubeEventRecorder::kMaxRemembered;
  for (std::size_t i = 0; i <= n; ++i) {
    r.clock.advance(10ms);
    r.record(pod(fmt::format("vote-{}", i), fmt::format("u{}", i)), "gone");
  }
  CHECK(r.events.remembered() == n);
  const std::size_t creates = r.creates();
  r.record(pod(fmt::format("vote-{}", n), fmt::format("u{}", n)), "gone");  // the newest: still aggregated
  CHECK(r.patches() == 1);
  r.record(pod("vote-0", "u0"), "gone");  // the oldest: forgotten, a new Event
  CHECK(r.creates() == creates + 1);
}

TEST_CASE("an Event about an object already gone is written, not remembered, until the window is over") {
  Recorder r;
  r.events.forget("u0");
  r.record(pod("vote-0", "u0"), "gone");  // a shutdown's completion, told once the pod is gone
  CHECK(r.creates() == 1);
  CHECK(r.events.remembered() == 0);
  r.clock.advance(KubeEventRecorder::kAggregationWindow + 2min);
  r.record(pod("vote-1", "u1"), "gone");  // expires what forget() kept about u0
  r.record(pod("vote-0", "u0"), "gone");
  CHECK(r.events.remembered() == 2);
}
