#include "util/clock.h"
#include "runtime/workqueue/work_queue.h"

#include <future>
#include <thread>

#include <doctest/doctest.h>


using namespace std::chrono_literals;
using mv::util::FakeClock;
using namespace mv::runtime::workqueue;

namespace {

// A rate limiter whose delays the test sets.
class FixedRateLimiter final : public RateLimiter {
 public:
  explicit FixedRateLimiter(Duration d) : delay(d) {}
  Duration when(const std::string& key) override {
    ++counts[key];
    return delay;
  }
  void forget(const std::string& key) override { counts.erase(key); }
  int numRequeues(const std::string& key) override { return counts.count(key) ? counts[key] : 0; }
  Duration delay;
  std::map<std::string, int> counts;
};

struct RecordingMetrics final : QueueMetrics {
  std::mutex mu;
  double depth = 0;
  int adds = 0, retries = 0, queueDurations = 0, workDurations = 0;
  double lastQueueSeconds = -1, lastWorkSeconds = -1, unfinished = -1, longest = -1;
  void setDepth(double d) override { std::lock_guard g(mu); depth = d; }
  void add() override { std::lock_guard g(mu); ++adds; }
  void retry() override { std::lock_guard g(mu); ++retries; }
  void observeQueueDuration(double s) override { std::lock_guard g(mu); ++queueDurations; lastQueueSeconds = s; }
  void observeWorkDuration(double s) override { std::lock_guard g(mu); ++workDurations; lastWorkSeconds = s; }
  void setUnfinishedWork(double t, double l) override { std::lock_guard g(mu); unfinished = t; longest = l; }
};

template <typename T>
bool ready(std::future<T>& f, std::chrono::milliseconds within = 5000ms) {
  return f.wait_for(within) == std::future_status::ready;
}

}  // namespace

TEST_CASE("WorkQueue de-duplicates waiting keys and keeps FIFO order") {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("ns/a");
  q.add("ns/b");
  q.add("ns/a");
  q.add("ns/c");
  q.add("ns/b");
  CHECK(q.len() == 3);
  CHECK(q.get() == "ns/a");
  CHECK(q.get() == "ns/b");
  CHECK(q.get() == "ns/c");
  CHECK(q.len() == 0);
  CHECK(q.inProcess() == 3);
}

TEST_CASE("WorkQueue: a key added while in process is held back, then queued again after done") {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("ns/a");
  REQUIRE(q.get() == "ns/a");
  q.add("ns/a");
  q.add("ns/a");
  CHECK(q.len() == 0);  // not handed out while in process
  q.add("ns/b");
  CHECK(q.get() == "ns/b");
  q.done("ns/b");
  q.done("ns/a");
  CHECK(q.len() == 1);  // once, however many adds
  CHECK(q.get() == "ns/a");
  q.done("ns/a");
  CHECK(q.len() == 0);
  CHECK(q.inProcess() == 0);
}

TEST_CASE("WorkQueue: done without a re-add does not queue the key again") {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("k");
  REQUIRE(q.get() == "k");
  q.done("k");
  CHECK(q.len() == 0);
  q.done("never-added");  // tolerated
  CHECK(q.inProcess() == 0);
}

TEST_CASE("WorkQueue: addAfter makes the key ready only once the fake time has passed") {
  FakeClock clock;
  WorkQueue q(clock);
  q.addAfter("ns/a", 1s);
  CHECK(q.len() == 0);
  CHECK(q.delayedLen() == 1);
  clock.advance(999ms);
  CHECK(q.len() == 0);
  clock.advance(1ms);
  CHECK(q.len() == 1);
  CHECK(q.delayedLen() == 0);
  CHECK(q.get() == "ns/a");
}

TEST_CASE("WorkQueue: a blocked get() wakes when a delayed key becomes ready") {
  FakeClock clock;
  WorkQueue q(clock);
  q.addAfter("ns/a", 30s);
  auto got = std::async(std::launch::async, [&] { return q.get(); });
  REQUIRE(clock.awaitWaiters(1));  // the getter is parked on the delayed key's deadline
  clock.advance(29s);
  CHECK(got.wait_for(20ms) == std::future_status::timeout);
  clock.advance(1s);
  REQUIRE(ready(got));
  CHECK(got.get() == "ns/a");
}

TEST_CASE("WorkQueue: a getter parked on a late deadline picks up an earlier delayed add") {
  FakeClock clock;
  WorkQueue q(clock);
  q.addAfter("late", 1h);
  auto got = std::async(std::launch::async, [&] { return q.get(); });
  REQUIRE(clock.awaitWaiters(1));
  q.addAfter("early", 1s);
  clock.advance(1s);
  REQUIRE(ready(got));
  CHECK(got.get() == "early");
}

TEST_CASE("WorkQueue: several delayed adds of one key keep the earliest, and a ready key is not duplicated") {
  FakeClock clock;
  WorkQueue q(clock);
  q.addAfter("k", 10s);
  q.addAfter("k", 2s);
  q.addAfter("k", 5s);
  CHECK(q.delayedLen() == 1);
  clock.advance(2s);
  CHECK(q.len() == 1);
  q.addAfter("k", 0s);  // zero delay adds at once, and dedups with the waiting key
  q.add("k");
  CHECK(q.len() == 1);
}

TEST_CASE("WorkQueue: addRateLimited uses the limiter, and forget and numRequeues pass through") {
  FakeClock clock;
  auto limiter = std::make_unique<FixedRateLimiter>(250ms);
  auto* raw = limiter.get();
  WorkQueue q(clock, std::move(limiter));
  q.addRateLimited("k");
  q.addRateLimited("k");
  CHECK(q.numRequeues("k") == 2);
  CHECK(q.len() == 0);
  clock.advance(250ms);
  CHECK(q.len() == 1);
  q.forget("k");
  CHECK(q.numRequeues("k") == 0);
  CHECK(raw->counts.empty());
}

TEST_CASE("WorkQueue: addRateLimited with a cap waits at most the cap, and the failure still counts") {
  FakeClock clock;
  WorkQueue q(clock, std::make_unique<FixedRateLimiter>(1000s));  // a back-off grown by a long API outage
  q.addRateLimited("k", 2s);
  CHECK(q.numRequeues("k") == 1);
  clock.advance(2s - 1ns);
  CHECK(q.len() == 0);
  clock.advance(1ns);
  CHECK(q.len() == 1);

  WorkQueue short_(clock, std::make_unique<FixedRateLimiter>(50ms));  // a back-off below the cap is kept
  short_.addRateLimited("k", 2s);
  clock.advance(50ms);
  CHECK(short_.len() == 1);
}

TEST_CASE("WorkQueue with the default limiter: the exact back-off sequence on the fake clock") {
  FakeClock clock;
  WorkQueue q(clock);
  Duration expected = 5ms;
  for (int i = 0; i < 8; ++i) {
    q.addRateLimited("k");
    clock.advance(expected - 1ns);
    REQUIRE(q.len() == 0);
    clock.advance(1ns);
    REQUIRE(q.len() == 1);
    REQUIRE(q.get() == "k");
    q.done("k");
    expected *= 2;
  }
  q.forget("k");
  q.addRateLimited("k");
  clock.advance(5ms);
  CHECK(q.len() == 1);
}

TEST_CASE("WorkQueue: shutDown unblocks every get() and drops waiting keys, and later adds are ignored") {
  FakeClock clock;
  WorkQueue q(clock);
  auto g1 = std::async(std::launch::async, [&] { return q.get(); });
  auto g2 = std::async(std::launch::async, [&] { return q.get(); });
  q.addAfter("delayed", 1h);  // one getter may park on this deadline
  CHECK(g1.wait_for(20ms) == std::future_status::timeout);
  q.shutDown();
  REQUIRE(ready(g1));
  REQUIRE(ready(g2));
  CHECK_FALSE(g1.get().has_value());
  CHECK_FALSE(g2.get().has_value());
  CHECK(q.shuttingDown());
  q.add("late");
  CHECK(q.len() == 0);
  CHECK_FALSE(q.get().has_value());
}

TEST_CASE("WorkQueue: shutDownWithDrain waits for keys in process, and gives up at the deadline") {
  FakeClock clock;
  SUBCASE("drains when the worker finishes") {
    WorkQueue q(clock);
    q.add("a");
    REQUIRE(q.get() == "a");
    auto drained = std::async(std::launch::async, [&] { return q.shutDownWithDrain(clock.now() + 30s); });
    REQUIRE(clock.awaitWaiters(1));  // parked, waiting for "a"
    CHECK(q.shuttingDown());
    q.add("a");  // ignored: no re-queue after done
    q.done("a");
    REQUIRE(ready(drained));
    CHECK(drained.get());
    CHECK(q.len() == 0);
  }
  SUBCASE("times out on the clock when the worker does not finish") {
    WorkQueue q(clock);
    q.add("a");
    REQUIRE(q.get() == "a");
    auto drained = std::async(std::launch::async, [&] { return q.shutDownWithDrain(clock.now() + 30s); });
    REQUIRE(clock.awaitWaiters(1));
    clock.advance(30s);
    REQUIRE(ready(drained));
    CHECK_FALSE(drained.get());
    CHECK(q.inProcess() == 1);
    q.done("a");
  }
  SUBCASE("returns at once when nothing is in process") {
    WorkQueue q(clock);
    q.add("waiting");
    CHECK(q.shutDownWithDrain(clock.now()));
  }
}

TEST_CASE("WorkQueue reports depth, adds, retries, queue and work durations, and unfinished work") {
  FakeClock clock;
  auto metrics = std::make_shared<RecordingMetrics>();
  WorkQueue q(clock, nullptr, metrics);
  q.add("a");
  q.add("a");
  q.add("b");
  CHECK(metrics->adds == 2);
  CHECK(metrics->depth == 2);
  clock.advance(3s);
  REQUIRE(q.get() == "a");
  CHECK(metrics->depth == 1);
  CHECK(metrics->lastQueueSeconds == doctest::Approx(3.0));
  clock.advance(2s);
  q.updateUnfinishedWork();
  CHECK(metrics->unfinished == doctest::Approx(2.0));
  CHECK(metrics->longest == doctest::Approx(2.0));
  REQUIRE(q.get() == "b");
  clock.advance(1s);
  q.updateUnfinishedWork();
  CHECK(metrics->unfinished == doctest::Approx(4.0));  // a: 3 s, b: 1 s
  CHECK(metrics->longest == doctest::Approx(3.0));
  q.done("a");
  CHECK(metrics->workDurations == 1);
  CHECK(metrics->lastWorkSeconds == doctest::Approx(3.0));
  q.addAfter("c", 1s);
  q.addRateLimited("d");
  CHECK(metrics->retries == 2);
}
