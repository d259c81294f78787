#include "termination.h"

namespace mv::agent {

Termination::Witness Termination::witness(bool serviceListening) {
  std::lock_guard lock(mutex_);
  bool first = !at_;
  if (first) {
    at_ = Clock::now();
    serviceListeningAtFirst_ = serviceListening;
    witnessed_.notify_all();
  }
  return {first, *at_, serviceListeningAtFirst_};
}

bool Termination::awaitWitnessed(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return witnessed_.wait_until(lock, deadline, [this] { return at_.has_value(); });
}

std::optional<std::chrono::milliseconds> Termination::witnessedFor() const {
  std::lock_guard lock(mutex_);
  if (!at_) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *at_);
}

}  // namespace mv::agent
