#pragma once
// A fake clock for the runtime's tests that never loses a notification.
//
// Why not util::FakeClock: its waitUntil() loops on cv.wait_for(1 ms) and leaves only when wait_for reports
// no_timeout. When a notify_all() wakes the waiter but the waiter reacquires the lock after its 1 ms slice has ended
// (any scheduling delay on a loaded machine), wait_for reports timeout, the notification is lost, and the waiter
// stays parked until the fake time reaches its deadline: a shutDown() or done() that should wake it does not, and
// the test hangs. (Seen in about one run in forty of this suite.)
//
// This clock keeps util::FakeClock's time (advance(), now(), wallNow()) and its awaitWaiters() test hook, but its
// waitUntil() returns after each slice of real time, as a spurious wake-up, which the Clock contract allows: the
// caller re-checks its predicate, so a notification can never be lost. Delete this file and use util::FakeClock
// again once util::FakeClock::waitUntil does the same.

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "util/clock.h"

namespace mv::test {

class FakeClock final : public util::Clock {
 public:
  TimePoint now() const override { return time_.now(); }
  WallTime wallNow() const override { return time_.wallNow(); }

  std::cv_status waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                           TimePoint deadline) override {
    if (now() >= deadline) return std::cv_status::timeout;
    {
      std::lock_guard<std::mutex> g(mu_);
      ++waiting_;
    }
    waitersChanged_.notify_all();
    cv.wait_for(lock, kSlice);
    {
      std::lock_guard<std::mutex> g(mu_);
      --waiting_;
    }
    return now() >= deadline ? std::cv_status::timeout : std::cv_status::no_timeout;
  }

  void advance(Duration d) { time_.advance(d); }

  // Blocks (really) until at least `n` threads are parked in waitUntil(), or `timeout` of real time passes. A parked
  // thread leaves and re-enters every slice, so this sees it within a slice.
  bool awaitWaiters(int n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    std::unique_lock<std::mutex> g(mu_);
    return waitersChanged_.wait_for(g, timeout, [&] { return waiting_ >= n; });
  }

 private:
  static constexpr std::chrono::milliseconds kSlice{1};
  util::FakeClock time_;
  mutable std::mutex mu_;
  mutable std::condition_variable waitersChanged_;
  int waiting_ = 0;
};

}  // namespace mv::test
