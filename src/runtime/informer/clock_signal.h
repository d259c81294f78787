#pragma once
// A one-shot signal that threads can wait for with a deadline on a util::Clock: "stop requested", "cache synced".
//
// Contract: raise() is thread-safe and idempotent; once raised, waitUntil() returns true at once, for every waiter.
// waitUntil() returns false when `deadline` passes on the clock first. raise() returns only after every thread
// that was waiting has woken (bounded by a second of real time).
//
// Why not a bare condition variable: FakeClock wakes its waiters by polling in 1 ms slices and takes a
// notification that arrives late in a slice (or between two slices) for a timeout, so a single notify can be lost
// and the waiter then sleeps until fake time passes its deadline. raise() therefore keeps notifying until the
// waiters have left. (A fix belongs in util/clock.cpp: see the D2 report; this class can move to util/ with it.)

#include <condition_variable>
#include <mutex>

#include "util/clock.h"

namespace mv::runtime::informer {

class ClockSignal {
 public:
  void raise();
  bool raised() const;
  // True when raised (before or during the wait), false when the deadline passed first.
  bool waitUntil(util::Clock& clock, util::Clock::TimePoint deadline);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool raised_ = false;
  int waiters_ = 0;
};

}  // namespace mv::runtime::informer
