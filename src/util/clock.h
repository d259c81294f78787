#pragma once
// The one clock interface of the project. Everything that waits on time (back-offs, leases, requeue delays,
// shutdown deadlines) takes a Clock&, so tests drive time with FakeClock and never sleep through real timeouts.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace mv::util {

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;

  // Monotonic time: use it for deadlines and durations.
  virtual TimePoint now() const = 0;
  // Wall-clock time: use it only for timestamps written to the API (leases, annotations, conditions).
  virtual WallTime wallNow() const = 0;

  // Blocks the caller, who holds `lock`, until `cv` is notified or this clock reaches `deadline`.
  // Returns std::cv_status::timeout when the deadline has passed on this clock. Spurious wake-ups may return
  // no_timeout: callers re-check their predicate in a loop, as with std::condition_variable.
  virtual std::cv_status waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                                   TimePoint deadline) = 0;

  // Sleeps until `deadline` on this clock, with nothing to wake it earlier.
  void sleepUntil(TimePoint deadline);
  void sleepFor(Duration d) { sleepUntil(now() + d); }
};

// The process-wide real clock.
class RealClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  std::cv_status waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                           TimePoint deadline) override {
    return cv.wait_until(lock, deadline);
  }
  static RealClock& instance();
};

// A clock that moves only when a test calls advance(). Waiters blocked in waitUntil() are woken by advance(), so a
// test can fire every timer up to a point by hand. Thread-safe.
//
// A waiter whose deadline is passed by advance() wakes within kRecheck of real time; waitUntil() returns after at most
// kRecheck of real time in any case (a spurious wake-up, which the Clock contract allows).
class FakeClock final : public Clock {
 public:
  FakeClock();
  TimePoint now() const override;
  WallTime wallNow() const override;
  std::cv_status waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                           TimePoint deadline) override;

  void advance(Duration d);
  // Number of threads currently blocked in waitUntil(): lets a test wait until a component is parked on a timer.
  int waiters() const;
  // Blocks (really) until at least `n` threads wait on this clock, or `timeout` of real time passes.
  bool awaitWaiters(int n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  static constexpr std::chrono::milliseconds kRecheck{1};
  mutable std::mutex mu_;
  mutable std::condition_variable waitersChanged_;
  TimePoint now_;
  WallTime wall_;
  int waiting_ = 0;
};

}  // namespace mv::util
