#pragma once
// A token bucket (the shape of golang.org/x/time/rate.Limiter): `qps` tokens per second refill a bucket of `burst`.
// One implementation serves both the API client's request limit (which waits) and the work queue's overall limit
// (which turns the wait into a delay).

#include <mutex>

#include "util/clock.h"

namespace mv::util {

class TokenBucket {
 public:
  // qps <= 0 means unlimited. burst >= 1.
  TokenBucket(Clock& clock, double qps, int burst);

  // Takes one token now, possibly going into debt, and returns how long the caller must wait before acting so that
  // the long-run rate stays at qps. Zero when a token was available. Never blocks.
  Clock::Duration reserve();

  // reserve(), then sleeps the returned delay on the clock.
  void acquire();

  double qps() const { return qps_; }
  int burst() const { return burst_; }

 private:
  Clock& clock_;
  const double qps_;
  const int burst_;
  std::mutex mu_;
  double tokens_;
  Clock::TimePoint last_;
};

}  // namespace mv::util
