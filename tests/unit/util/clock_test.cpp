#include "util/clock.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using mv::util::FakeClock;

TEST_CASE("FakeClock moves only when advanced, monotonic and wall time together") {
  FakeClock clock;
  const auto t0 = clock.now();
  const auto w0 = clock.wallNow();
  CHECK(clock.now() == t0);
  clock.advance(1500ms);
  CHECK(clock.now() - t0 == 1500ms);
  CHECK(clock.wallNow() - w0 == 1500ms);
}

TEST_CASE("FakeClock waitUntil returns timeout at once for a past deadline") {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  CHECK(clock.waitUntil(cv, lock, clock.now()) == std::cv_status::timeout);
}

TEST_CASE("FakeClock sleepFor wakes only after enough fake time has passed") {
  FakeClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.sleepFor(10s);
    woke = true;
  });
  REQUIRE(clock.awaitWaiters(1));
  clock.advance(9s);
  std::this_thread::sleep_for(20ms);  // give a wrong implementation the chance to wake early
  CHECK_FALSE(woke.load());
  clock.advance(1s);
  sleeper.join();
  CHECK(woke.load());
}

TEST_CASE("FakeClock waitUntil returns no_timeout when notified before the deadline") {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  std::cv_status status = std::cv_status::timeout;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!flag) status = clock.waitUntil(cv, lock, clock.now() + 1h);
  });
  REQUIRE(clock.awaitWaiters(1));
  {
    std::lock_guard<std::mutex> g(mu);
    flag = true;
  }
  cv.notify_all();
  waiter.join();
  CHECK(status == std::cv_status::no_timeout);
}
