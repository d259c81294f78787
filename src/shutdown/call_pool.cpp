#include "shutdown/call_pool.h"

#include <algorithm>

namespace mv::shutdown {

CallPool::CallPool(util::Clock& clock, Options options)
    : clock_(clock), options_(options), scheduler_(options.perOwnerLimit) {}

CallPool::~CallPool() { stop(util::Clock::TimePoint::max()); }

bool CallPool::submit(const std::string& owner, const std::string& uid, bool urgent, std::function<void()> run,
                      std::function<void()> dropped) {
  std::unique_lock<std::mutex> lock(mu_);
  if (cancelled_ || !scheduler_.push(owner, uid, urgent)) return false;
  tasks_[uid] = {std::move(run), std::move(dropped)};
  joinExited(lock);
  // Threads are started on demand: one more while the calls that could start now outnumber the idle threads.
  if (static_cast<std::size_t>(idle_) < scheduler_.runnable() &&
      static_cast<int>(workers_.size()) < std::max(1, options_.maxThreads)) {
    std::thread t([this] { worker(); });
    workers_.emplace(t.get_id(), std::move(t));
  }
  cv_.notify_one();
  return true;
}

void CallPool::cancel() {
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> g(mu_);
    cancelled_ = true;
    for (auto& e : scheduler_.dropAll()) {
      auto it = tasks_.find(e.uid);
      if (it == tasks_.end()) continue;
      dropped.push_back(std::move(it->second.dropped));
      tasks_.erase(it);
    }
  }
  cv_.notify_all();
  for (auto& f : dropped)
    if (f) f();
}

bool CallPool::cancelled() const {
  std::lock_guard<std::mutex> g(mu_);
  return cancelled_;
}

bool CallPool::stop(util::Clock::TimePoint deadline) {
  cancel();
  std::unique_lock<std::mutex> lock(mu_);
  while (!workers_.empty() && clock_.now() < deadline) {
    cv_.notify_all();
    clock_.waitUntil(changed_, lock, std::min(deadline, clock_.now() + std::chrono::milliseconds(100)));
  }
  joinExited(lock);
  return workers_.empty();
}

int CallPool::threads() const {
  std::lock_guard<std::mutex> g(mu_);
  return static_cast<int>(workers_.size());
}

void CallPool::joinExited(std::unique_lock<std::mutex>& lock) {
  if (exited_.empty()) return;
  std::vector<std::thread> done;
  done.swap(exited_);
  // Those threads no longer take the lock: they only return after handing over their handle.
  lock.unlock();
  for (auto& t : done) t.join();
  lock.lock();
}

void CallPool::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  std::optional<util::Clock::TimePoint> idleSince;
  while (!cancelled_) {
    if (auto e = scheduler_.next()) {
      idleSince.reset();
      auto it = tasks_.find(e->uid);
      std::function<void()> run;
      if (it != tasks_.end()) {
        run = std::move(it->second.run);
        tasks_.erase(it);
      }
      lock.unlock();
      if (run) run();
      lock.lock();
      scheduler_.finished(e->owner);
      continue;
    }
    const auto now = clock_.now();
    if (!idleSince) idleSince = now;
    if (now >= *idleSince + options_.idleTimeout) break;  // idle long enough: this thread ends
    ++idle_;
    clock_.waitUntil(cv_, lock, *idleSince + options_.idleTimeout);
    --idle_;
  }
  // Hands its own handle over to be joined by the next submit() or stop(), and ends.
  auto self = workers_.find(std::this_thread::get_id());
  if (self != workers_.end()) {
    exited_.push_back(std::move(self->second));
    workers_.erase(self);
  }
  changed_.notify_all();
}

}  // namespace mv::shutdown
