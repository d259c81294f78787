#include "runtime/workqueue/rate_limiter.h"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using mv::util::FakeClock;
using namespace mv::runtime::workqueue;

TEST_CASE("ItemExponentialFailureRateLimiter doubles from 5 ms, caps at 1000 s, and forget resets it") {
  ItemExponentialFailureRateLimiter limiter;
  Duration expected = 5ms;
  for (int i = 0; i < 18; ++i) {  // 5 ms * 2^17 = 655.36 s, still below the cap
    REQUIRE(limiter.when("ns/a") == expected);
    expected *= 2;
  }
  CHECK(limiter.when("ns/a") == 1000s);  // 5 ms * 2^18 = 1310.72 s -> capped
  CHECK(limiter.when("ns/a") == 1000s);
  for (int i = 0; i < 100; ++i) limiter.when("ns/a");  // 2^120 must not overflow
  CHECK(limiter.when("ns/a") == 1000s);
  CHECK(limiter.numRequeues("ns/a") == 121);

  CHECK(limiter.when("ns/b") == 5ms);  // keys are independent
  limiter.forget("ns/a");
  CHECK(limiter.numRequeues("ns/a") == 0);
  CHECK(limiter.when("ns/a") == 5ms);
  CHECK(limiter.when("ns/a") == 10ms);
}

TEST_CASE("ItemExponentialFailureRateLimiter: the first steps are exactly 5, 10, 20, 40, 80 ms") {
  ItemExponentialFailureRateLimiter limiter;
  CHECK(limiter.when("k") == 5ms);
  CHECK(limiter.when("k") == 10ms);
  CHECK(limiter.when("k") == 20ms);
  CHECK(limiter.when("k") == 40ms);
  CHECK(limiter.when("k") == 80ms);
}

TEST_CASE("BucketRateLimiter: a burst of 100, then one every 100 ms, refilled by time") {
  FakeClock clock;
  BucketRateLimiter limiter(clock);
  for (int i = 0; i < 100; ++i) REQUIRE(limiter.when("k" + std::to_string(i)) == 0ms);
  CHECK(limiter.when("x") == 100ms);
  CHECK(limiter.when("y") == 200ms);
  CHECK(limiter.when("z") == 300ms);
  CHECK(limiter.numRequeues("x") == 0);
  clock.advance(10s);  // pays the 3 tokens of debt and refills 97, capped at the burst
  for (int i = 0; i < 97; ++i) REQUIRE(limiter.when("r" + std::to_string(i)) == 0ms);
  CHECK(limiter.when("after") == 100ms);
}

TEST_CASE("defaultControllerRateLimiter takes the larger of the per-key back-off and the bucket") {
  FakeClock clock;
  auto limiter = defaultControllerRateLimiter(clock);
  // 100 different keys fail once: the bucket has tokens, the per-key back-off says 5 ms.
  for (int i = 0; i < 100; ++i) REQUIRE(limiter->when("k" + std::to_string(i)) == 5ms);
  // The 101st failure overall: the bucket is empty, so its 100 ms wins over 5 ms.
  CHECK(limiter->when("k100") == 100ms);
  // Back-off of a key that keeps failing grows past the bucket's delay: k0 is at its 2nd failure (10 ms) but the
  // bucket now says 200 ms.
  CHECK(limiter->when("k0") == 200ms);
  CHECK(limiter->numRequeues("k0") == 2);
  limiter->forget("k0");
  CHECK(limiter->numRequeues("k0") == 0);
}

TEST_CASE("MaxOfRateLimiter forwards forget to every limiter") {
  std::vector<RateLimiterPtr> limiters;
  limiters.push_back(std::make_unique<ItemExponentialFailureRateLimiter>(1ms, 1s));
  limiters.push_back(std::make_unique<ItemExponentialFailureRateLimiter>(2ms, 1s));
  MaxOfRateLimiter limiter(std::move(limiters));
  CHECK(limiter.when("k") == 2ms);
  CHECK(limiter.when("k") == 4ms);
  limiter.forget("k");
  CHECK(limiter.when("k") == 2ms);
}
