#include "util/token_bucket.h"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using mv::util::FakeClock;
using mv::util::TokenBucket;

TEST_CASE("TokenBucket allows a burst, then spaces requests at 1/qps") {
  FakeClock clock;
  TokenBucket bucket(clock, 10.0, 3);
  CHECK(bucket.reserve() == 0ms);
  CHECK(bucket.reserve() == 0ms);
  CHECK(bucket.reserve() == 0ms);
  CHECK(bucket.reserve() == 100ms);  // 4th: one token of debt at 10 qps
  CHECK(bucket.reserve() == 200ms);  // 5th: two tokens of debt
}

TEST_CASE("TokenBucket refills with time, never above its burst") {
  FakeClock clock;
  TokenBucket bucket(clock, 10.0, 2);
  bucket.reserve();
  bucket.reserve();
  clock.advance(1h);
  CHECK(bucket.reserve() == 0ms);
  CHECK(bucket.reserve() == 0ms);
  CHECK(bucket.reserve() == 100ms);
}

TEST_CASE("TokenBucket with qps <= 0 never delays") {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  for (int i = 0; i < 1000; ++i) REQUIRE(bucket.reserve() == 0ms);
}
