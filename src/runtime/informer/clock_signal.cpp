#include "runtime/informer/clock_signal.h"

#include <thread>

namespace mv::runtime::informer {

void ClockSignal::raise() {
  std::unique_lock<std::mutex> lock(mu_);
  raised_ = true;
  cv_.notify_all();
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (waiters_ > 0 && std::chrono::steady_clock::now() < giveUp) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    lock.lock();
    cv_.notify_all();
  }
}

bool ClockSignal::raised() const {
  std::lock_guard<std::mutex> lock(mu_);
  return raised_;
}

bool ClockSignal::waitUntil(util::Clock& clock, util::Clock::TimePoint deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  ++waiters_;
  while (!raised_ && clock.now() < deadline) clock.waitUntil(cv_, lock, deadline);
  --waiters_;
  return raised_;
}

}  // namespace mv::runtime::informer
