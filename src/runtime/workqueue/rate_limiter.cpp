#include "runtime/workqueue/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace mv::runtime::workqueue {

ItemExponentialFailureRateLimiter::ItemExponentialFailureRateLimiter(Duration base, Duration maxDelay)
    : base_(base), max_(maxDelay) {}

Duration ItemExponentialFailureRateLimiter::when(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  const int exp = failures_[key]++;
  // Doubling in floating point cannot overflow; compare before converting back.
  const double delay = std::chrono::duration<double>(base_).count() * std::pow(2.0, exp);
  if (delay >= std::chrono::duration<double>(max_).count()) return max_;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(delay));
}

void ItemExponentialFailureRateLimiter::forget(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  failures_.erase(key);
}

int ItemExponentialFailureRateLimiter::numRequeues(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(util::Clock& clock, double qps, int burst) : bucket_(clock, qps, burst) {}

Duration BucketRateLimiter::when(const std::string&) { return bucket_.reserve(); }

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<RateLimiterPtr> limiters) : limiters_(std::move(limiters)) {}

Duration MaxOfRateLimiter::when(const std::string& key) {
  Duration longest = Duration::zero();
  for (auto& l : limiters_) longest = std::max(longest, l->when(key));
  return longest;
}

void MaxOfRateLimiter::forget(const std::string& key) {
  for (auto& l : limiters_) l->forget(key);
}

int MaxOfRateLimiter::numRequeues(const std::string& key) {
  int most = 0;
  for (auto& l : limiters_) most = std::max(most, l->numRequeues(key));
  return most;
}

RateLimiterPtr defaultControllerRateLimiter(util::Clock& clock) {
  std::vector<RateLimiterPtr> limiters;
  limiters.push_back(std::make_unique<ItemExponentialFailureRateLimiter>());
  limiters.push_back(std::make_unique<BucketRateLimiter>(clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace mv::runtime::workqueue
