#include "runtime/memory/heap_scavenger.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "util/clock.h"

using namespace std::chrono_literals;
using mv::runtime::memory::HeapScavenger;
using mv::util::FakeClock;

namespace {

// Waits (really, bounded) until `counter` reaches `n`: the release runs on the scavenger's thread.
bool reaches(const std::atomic<int>& counter, int n) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (counter.load() < n) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("the heap scavenger releases once per interval of its clock, never before the first interval") {
  FakeClock clock;
  std::atomic<int> released{0};
  HeapScavenger scavenger(clock, 60s, [&] { released.fetch_add(1); });
  scavenger.start();
  REQUIRE(clock.awaitWaiters(1));
  clock.advance(59s);
  REQUIRE(clock.awaitWaiters(1));  // woke (or not), and parked again without releasing
  CHECK(released.load() == 0);
  clock.advance(1s);
  REQUIRE(reaches(released, 1));
  REQUIRE(clock.awaitWaiters(1));
  clock.advance(30s);
  REQUIRE(clock.awaitWaiters(1));
  CHECK(released.load() == 1);
  clock.advance(30s);
  REQUIRE(reaches(released, 2));
  REQUIRE(clock.awaitWaiters(1));
  CHECK(scavenger.runs() == 2);
}

TEST_CASE("a stalled heap scavenger does not catch up on the intervals it missed") {
  FakeClock clock;
  std::atomic<int> released{0};
  HeapScavenger scavenger(clock, 60s, [&] { released.fetch_add(1); });
  scavenger.start();
  REQUIRE(clock.awaitWaiters(1));
  clock.advance(10min);  // ten intervals at once
  REQUIRE(reaches(released, 1));
  REQUIRE(clock.awaitWaiters(1));
  CHECK(released.load() == 1);
  clock.advance(60s);
  REQUIRE(reaches(released, 2));
  REQUIRE(clock.awaitWaiters(1));
  CHECK(released.load() == 2);
}

TEST_CASE("stopping the heap scavenger ends its thread at once, mid-interval, and is idempotent") {
  FakeClock clock;
  std::atomic<int> released{0};
  HeapScavenger scavenger(clock, 60s, [&] { released.fetch_add(1); });
  scavenger.start();
  REQUIRE(clock.awaitWaiters(1));
  scavenger.stop();  // returns without fake time passing: it would hang here otherwise
  CHECK(clock.waiters() == 0);
  scavenger.stop();
  scavenger.start();  // a stopped scavenger does not start again
  clock.advance(2min);
  CHECK(released.load() == 0);
  CHECK(clock.waiters() == 0);
}
