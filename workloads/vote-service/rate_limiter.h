#pragma once
// The limit on POST /shutdown calls: a token bucket of `perSecond` tokens per second holding at most
// max(1, perSecond) tokens. A call that finds no token is refused (never queued) and told when one will be there.

#include <chrono>
#include <mutex>
#include <optional>

namespace mv::workloads::vote {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(double perSecond);  // <= 0: unlimited

  // nullopt: allowed (a token was taken). Otherwise refused, with the time until the next token.
  std::optional<std::chrono::milliseconds> tryTake(Clock::time_point now = Clock::now());

 private:
  const double perSecond_;
  const double burst_;
  std::mutex mu_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace mv::workloads::vote
