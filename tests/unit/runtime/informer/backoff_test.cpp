#include "runtime/informer/backoff.h"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using mv::runtime::informer::BackoffPolicy;
using mv::runtime::informer::ReconnectBackoff;
using mv::util::Clock;

TEST_CASE("reconnect back-off doubles from 800ms to a 30s cap (client-go's reflector values)") {
  ReconnectBackoff backoff(BackoffPolicy{}, nullptr);
  Clock::TimePoint t{};
  std::vector<Clock::Duration> seen;
  for (int i = 0; i < 9; ++i) {
    auto d = backoff.next(t);
    seen.push_back(d);
    t += d;  // fail again right after each wait
  }
  const std::vector<Clock::Duration> expected{800ms, 1600ms, 3200ms, 6400ms, 12800ms, 25600ms, 30s, 30s, 30s};
  CHECK(seen == expected);
}

TEST_CASE("reconnect back-off starts over after 2 minutes without failure, not before") {
  ReconnectBackoff backoff(BackoffPolicy{}, nullptr);
  Clock::TimePoint t{};
  backoff.next(t);
  t += 1s;
  CHECK(backoff.next(t) == 1600ms);
  t += 2min - 1ms;
  CHECK(backoff.next(t) == 3200ms);
  t += 2min;
  CHECK(backoff.next(t) == 800ms);
}

TEST_CASE("reconnect back-off jitter adds up to jitter * delay") {
  BackoffPolicy policy;
  policy.jitter = 1.0;
  double r = 0.5;
  ReconnectBackoff backoff(policy, [&] { return r; });
  CHECK(backoff.next(Clock::TimePoint{}) == 1200ms);
  r = 0.0;
  CHECK(backoff.next(Clock::TimePoint{} + 1s) == 1600ms);
}
