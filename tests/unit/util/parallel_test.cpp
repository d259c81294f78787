#include "util/parallel.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using mv::util::forEachParallel;

TEST_CASE("forEachParallel calls every index exactly once") {
  for (std::size_t parallelism : {0, 1, 3, 64}) {
    std::vector<std::atomic<int>> calls(50);
    forEachParallel(calls.size(), parallelism, [&](std::size_t i) { ++calls[i]; });
    for (auto& c : calls) CHECK(c == 1);
  }
  forEachParallel(0, 8, [](std::size_t) { FAIL("no item"); });
}

TEST_CASE("forEachParallel runs at most `parallelism` calls at a time") {
  std::atomic<int> running{0}, most{0};
  std::set<std::thread::id> threads;
  std::mutex mu;
  forEachParallel(24, 4, [&](std::size_t) {
    const int now = ++running;
    int seen = most;
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    {
      std::lock_guard<std::mutex> g(mu);
      threads.insert(std::this_thread::get_id());
    }
    std::this_thread::yield();
    --running;
  });
  CHECK(most <= 4);
  CHECK(threads.size() <= 4);
}

TEST_CASE("forEachParallel runs calls on the calling thread too, as one of the `parallelism`") {
  // Each call waits until 4 calls run at once (bounded): the 3 threads started hold one each, so the 4th must be the
  // caller's. (With short calls the started threads may take every item before the caller does: not asserted.)
  std::atomic<int> running{0};
  std::atomic<bool> allFour{true};
  std::set<std::thread::id> threads;
  std::mutex mu;
  forEachParallel(4, 4, [&](std::size_t) {
    {
      std::lock_guard<std::mutex> g(mu);
      threads.insert(std::this_thread::get_id());
    }
    ++running;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (running.load() < 4) {
      if (std::chrono::steady_clock::now() > until) {
        allFour = false;
        break;
      }
      std::this_thread::yield();
    }
  });
  CHECK(allFour.load());
  CHECK(threads.size() == 4);
  CHECK(threads.count(std::this_thread::get_id()) == 1);
}

TEST_CASE("forEachParallel finishes every item, then rethrows the first exception") {
  std::atomic<int> done{0};
  CHECK_THROWS_WITH_AS(forEachParallel(10, 3,
                                       [&](std::size_t i) {
                                         ++done;
                                         if (i == 2) throw std::runtime_error("item 2");
                                       }),
                       "item 2", std::runtime_error);
  CHECK(done == 10);
}

TEST_CASE("forEachParallel runs calls side by side: two calls that each wait for the other both return") {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  bool bothSeen = true;
  forEachParallel(2, 2, [&](std::size_t) {
    std::unique_lock<std::mutex> g(mu);
    ++arrived;
    cv.notify_all();
    // Sequential calls would leave the first waiting alone: it gives up (and the test fails) after 10 s.
    if (!cv.wait_for(g, std::chrono::seconds(10), [&] { return arrived == 2; })) bothSeen = false;
  });
  CHECK(bothSeen);
}
