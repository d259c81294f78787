#include "runtime/memory/heap_scavenger.h"

#include <utility>

namespace mv::runtime::memory {

HeapScavenger::HeapScavenger(util::Clock& clock, util::Clock::Duration interval, std::function<void()> release)
    : clock_(clock), interval_(interval), release_(std::move(release)) {}

HeapScavenger::~HeapScavenger() { stop(); }

void HeapScavenger::start() {
  if (thread_.joinable() || stop_.raised()) return;
  thread_ = std::thread([this] { loop(); });
}

void HeapScavenger::stop() {
  stop_.raise();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void HeapScavenger::loop() {
  auto next = clock_.now() + interval_;
  while (!stop_.waitUntil(clock_, next)) {
    release_();
    runs_.fetch_add(1);
    next += interval_;
    if (next < clock_.now()) next = clock_.now() + interval_;  // a stalled process does not catch up in a burst
  }
}

}  // namespace mv::runtime::memory
