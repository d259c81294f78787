#pragma once
// The reflector's reconnect back-off (client-go's reflector uses wait.NewExponentialBackoffManager with these
// values): the first failure waits `initial`, each further one `factor` times longer, up to `max`; a failure that
// comes `resetAfter` or more after the previous one starts again from `initial` (the connection was healthy that
// long).

#include <functional>

#include "util/clock.h"

namespace mv::runtime::informer {

struct BackoffPolicy {
  // client-go's reflector values (k8s.io/client-go/tools/cache/reflector.go).
  static constexpr std::chrono::milliseconds kClientGoInitial{800};
  static constexpr std::chrono::seconds kClientGoMax{30};
  static constexpr std::chrono::minutes kClientGoResetAfter{2};

  util::Clock::Duration initial = kClientGoInitial;
  util::Clock::Duration max = kClientGoMax;
  util::Clock::Duration resetAfter = kClientGoResetAfter;
  double factor = 2.0;
  // Adds up to jitter * delay of random extra wait (client-go uses 1.0). 0 keeps the sequence exact.
  double jitter = 0.0;
};

class ReconnectBackoff {
 public:
  // `random` returns values in [0, 1); it is only used when policy.jitter > 0.
  ReconnectBackoff(BackoffPolicy policy, std::function<double()> random);

  // The delay to wait after a failure that happened at `now`. Not thread-safe (one reflector owns it).
  util::Clock::Duration next(util::Clock::TimePoint now);

 private:
  BackoffPolicy policy_;
  std::function<double()> random_;
  util::Clock::Duration current_{0};
  bool failedBefore_ = false;
  util::Clock::TimePoint lastFailure_{};
};

}  // namespace mv::runtime::informer
