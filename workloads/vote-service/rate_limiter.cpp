#include "rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace mv::workloads::vote {

RateLimiter::RateLimiter(double perSecond)
    : perSecond_(perSecond), burst_(std::max(1.0, perSecond)), tokens_(burst_), last_(Clock::now()) {}

std::optional<std::chrono::milliseconds> RateLimiter::tryTake(Clock::time_point now) {
  if (perSecond_ <= 0) return std::nullopt;
  std::lock_guard<std::mutex> g(mu_);
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * perSecond_);
    last_ = now;
  }
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil((1.0 - tokens_) / perSecond_ * 1000.0)));
}

}  // namespace mv::workloads::vote
