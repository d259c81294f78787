#pragma once
// Gives the allocator's free pages back to the operating system at a steady interval, as Go's runtime scavenger does,
// so that the process's RSS follows what it uses rather than the highest it ever used.
//
// Why: the operator's steady work is short-lived allocations (a watch event, a reconcile's JSON, an HTTP call). On
// glibc's malloc (one arena, controller/main.cpp) memory goes back to the OS only from the top of the heap unless
// malloc_trim is called; jemalloc (the operator's allocator, allocator.h) returns unused pages by its own decay, and
// a purge on this beat bounds what a quiet process keeps. The release (allocator.h, releaseFreePages) changes nothing
// the program can observe but RSS; its duration is not measured. With glibc alone the soak was not flat even with
// this (bench/README.md, "Soak"): pages shared with live objects stay.
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
#include "runtime/memory/allocator.h"
#include "util/clock.h"

namespace mv::runtime::memory {

class HeapScavenger {
 public:
  static constexpr std::chrono::seconds kDefaultInterval{60};

  explicit HeapScavenger(util::Clock& clock, util::Clock::Duration interval = kDefaultInterval,
                         std::function<void()> release = releaseFreePages);
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
