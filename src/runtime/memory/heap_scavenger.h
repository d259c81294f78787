#pragma once
// Gives the heap's free pages back to the operating system at a steady interval, as Go's runtime scavenger or
// jemalloc's decay do, so that the process's RSS follows what it uses rather than the highest it ever used.
//
// Why: the operator runs with one malloc arena (controller/main.cpp). Its steady work is short-lived allocations (a
// watch event, a reconcile's JSON, an HTTP call); glibc returns memory to the OS only from the top of the heap, so a
// long-lived allocation made above a burst of short-lived ones keeps the pages below it resident after they are
// freed. Measured over 400 create/scale/delete cycles (bench/README.md, "Soak"): heaptrack saw 2.8 KB leaked and a
// 1.8 MB heap peak, while VmRSS grew by steps to +1 MB per 1,000 cycles. malloc_trim(0) releases every whole free page,
// wherever it lies in the heap (madvise MADV_DONTNEED); it costs one walk of the heap's free chunks under the malloc
// lock (its duration is not measured yet) and changes nothing the program can observe but RSS. It did not make the
// soak flat: pages shared with live objects stay (bench/README.md).
//
// Contract: start() begins a thread that calls `release` once every `interval` on `clock` (the first call one interval
// after start), until stop(). stop() is idempotent, returns once the thread has ended (it never waits out an interval),
// and is called by the destructor. runs() counts the completed calls. Neither start() nor stop() throws but for
// std::system_error when no thread can be started.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "runtime/informer/clock_signal.h"
#include "util/clock.h"

namespace mv::runtime::memory {

// The default release: glibc's malloc_trim(0).
void releaseFreeHeapPages();

class HeapScavenger {
 public:
  static constexpr std::chrono::seconds kDefaultInterval{60};

  explicit HeapScavenger(util::Clock& clock, util::Clock::Duration interval = kDefaultInterval,
                         std::function<void()> release = releaseFreeHeapPages);
  ~HeapScavenger();
  HeapScavenger(const HeapScavenger&) = delete;
  HeapScavenger& operator=(const HeapScavenger&) = delete;

  void start();
  void stop();
  std::uint64_t runs() const { return runs_.load(); }

 private:
  void loop();

  util::Clock& clock_;
  const util::Clock::Duration interval_;
  const std::function<void()> release_;
  informer::ClockSignal stop_;
  std::atomic<std::uint64_t> runs_{0};
  std::thread thread_;
};

}  // namespace mv::runtime::memory
