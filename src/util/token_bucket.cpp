#include "util/token_bucket.h"

#include <algorithm>

namespace mv::util {

TokenBucket::TokenBucket(Clock& clock, double qps, int burst)
    : clock_(clock), qps_(qps), burst_(std::max(1, burst)), tokens_(std::max(1, burst)), last_(clock.now()) {}

Clock::Duration TokenBucket::reserve() {
  if (qps_ <= 0) return Clock::Duration::zero();
  std::lock_guard<std::mutex> g(mu_);
  const auto now = clock_.now();
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min<double>(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1.0;
  if (tokens_ >= 0) return Clock::Duration::zero();
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

void TokenBucket::acquire() {
  const auto delay = reserve();
  if (delay > Clock::Duration::zero()) clock_.sleepFor(delay);
}

}  // namespace mv::util
