#include "util/clock.h"


namespace mv::util {

void Clock::sleepUntil(TimePoint deadline) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  while (now() < deadline) waitUntil(cv, lock, deadline);
}

RealClock& RealClock::instance() {
  static RealClock clock;
  return clock;
}

FakeClock::FakeClock()
    : now_(TimePoint{} + std::chrono::hours(1)),
      wall_(std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 56)) {}

Clock::TimePoint FakeClock::now() const {
  std::lock_guard<std::mutex> g(mu_);
  return now_;
}

Clock::WallTime FakeClock::wallNow() const {
  std::lock_guard<std::mutex> g(mu_);
  return wall_;
}

std::cv_status FakeClock::waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                                    TimePoint deadline) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (now_ >= deadline) return std::cv_status::timeout;
    ++waiting_;
  }
  waitersChanged_.notify_all();
  // advance() never touches the waiter's condition variable (it may be gone by then): the waiter waits at most
  // kRecheck of real time and then returns, as a spurious wake-up when its deadline has not passed. Callers loop on
  // their predicate (the Clock contract), so a notification is never lost: either it ends the wait, or the caller
  // re-checks its predicate within kRecheck.
  cv.wait_for(lock, kRecheck);
  const std::cv_status result = now() >= deadline ? std::cv_status::timeout : std::cv_status::no_timeout;
  {
    std::lock_guard<std::mutex> g(mu_);
    --waiting_;
  }
  waitersChanged_.notify_all();
  return result;
}

void FakeClock::advance(Duration d) {
  std::lock_guard<std::mutex> g(mu_);
  now_ += d;
  wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
}

int FakeClock::waiters() const {
  std::lock_guard<std::mutex> g(mu_);
  return waiting_;
}

bool FakeClock::awaitWaiters(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> g(mu_);
  return waitersChanged_.wait_for(g, timeout, [&] { return waiting_ >= n; });
}

}  // namespace mv::util
