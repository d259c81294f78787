#include "runtime/informer/backoff.h"

#include <algorithm>

namespace mv::runtime::informer {

ReconnectBackoff::ReconnectBackoff(BackoffPolicy policy, std::function<double()> random)
    : policy_(policy), random_(std::move(random)) {}

util::Clock::Duration ReconnectBackoff::next(util::Clock::TimePoint now) {
  if (!failedBefore_ || now - lastFailure_ >= policy_.resetAfter) {
    current_ = policy_.initial;
  } else {
    auto grown = std::chrono::duration_cast<util::Clock::Duration>(current_ * policy_.factor);
    current_ = std::min<util::Clock::Duration>(grown, policy_.max);
  }
  failedBefore_ = true;
  lastFailure_ = now;
  util::Clock::Duration delay = current_;
  if (policy_.jitter > 0 && random_) {
    delay += std::chrono::duration_cast<util::Clock::Duration>(current_ * (policy_.jitter * random_()));
  }
  return delay;
}

}  // namespace mv::runtime::informer
