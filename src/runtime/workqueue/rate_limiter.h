#pragma once
// Per-key retry delays for the work queue (client-go's workqueue.RateLimiter and its standard implementations).
//
// Contract of a RateLimiter:
// - when(key) records one more failure of `key` and returns how long to wait before the key is handed out again.
// - forget(key) ends the key's failure history (called when it was reconciled successfully): its next when() starts
//   from the first step again.
// - numRequeues(key) is the number of when() calls since the last forget().
// - Thread-safe.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "util/clock.h"
#include "util/token_bucket.h"

namespace mv::runtime::workqueue {

using Duration = util::Clock::Duration;

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  virtual Duration when(const std::string& key) = 0;
  virtual void forget(const std::string& key) = 0;
  virtual int numRequeues(const std::string& key) = 0;
};
using RateLimiterPtr = std::unique_ptr<RateLimiter>;

// Per-key exponential back-off: base * 2^failures, capped at maxDelay. client-go's defaults are 5 ms and 1000 s.
class ItemExponentialFailureRateLimiter final : public RateLimiter {
 public:
  static constexpr Duration kDefaultBase = std::chrono::milliseconds(5);
  static constexpr Duration kDefaultMax = std::chrono::seconds(1000);

  explicit ItemExponentialFailureRateLimiter(Duration base = kDefaultBase, Duration maxDelay = kDefaultMax);
  Duration when(const std::string& key) override;
  void forget(const std::string& key) override;
  int numRequeues(const std::string& key) override;

 private:
  const Duration base_;
  const Duration max_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
};

// One token bucket over all keys: the overall retry rate stays at qps after a burst. Keeps no per-key history, so
// forget() does nothing and numRequeues() is 0. client-go's defaults are 10 qps, burst 100.
class BucketRateLimiter final : public RateLimiter {
 public:
  static constexpr double kDefaultQps = 10.0;
  static constexpr int kDefaultBurst = 100;

  explicit BucketRateLimiter(util::Clock& clock, double qps = kDefaultQps, int burst = kDefaultBurst);
  Duration when(const std::string& key) override;
  void forget(const std::string&) override {}
  int numRequeues(const std::string&) override { return 0; }

 private:
  util::TokenBucket bucket_;
};

// The largest delay of several limiters. Every limiter sees every when() and forget(); numRequeues() is the largest.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<RateLimiterPtr> limiters);
  Duration when(const std::string& key) override;
  void forget(const std::string& key) override;
  int numRequeues(const std::string& key) override;

 private:
  std::vector<RateLimiterPtr> limiters_;
};

// client-go's DefaultControllerRateLimiter: the max of a per-key exponential back-off (5 ms doubling to 1000 s) and
// an overall token bucket (10 qps, burst 100).
RateLimiterPtr defaultControllerRateLimiter(util::Clock& clock);

}  // namespace mv::runtime::workqueue
