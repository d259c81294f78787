#include "runtime/workqueue/work_queue.h"

#include <algorithm>

namespace mv::runtime::workqueue {
namespace {

double seconds(util::Clock::Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

WorkQueue::WorkQueue(util::Clock& clock, RateLimiterPtr rateLimiter, QueueMetricsPtr metrics)
    : clock_(clock),
      rateLimiter_(rateLimiter ? std::move(rateLimiter) : defaultControllerRateLimiter(clock)),
      metrics_(metrics ? std::move(metrics) : std::make_shared<NoopQueueMetrics>()) {}

void WorkQueue::add(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  addLocked(key);
}

void WorkQueue::addLocked(const std::string& key) {
  if (shuttingDown_) return;
  if (dirty_.count(key)) return;
  metrics_->add();
  dirty_.insert(key);
  addedAt_.emplace(key, clock_.now());
  if (!processing_.count(key)) {
    queue_.push_back(key);
    // Every waiter re-evaluates: one may be parked on a delayed key's deadline that a notify_one would strand.
    changed_.notify_all();
  }
  reportDepthLocked();
}

void WorkQueue::addAfter(const std::string& key, Duration delay) {
  std::lock_guard<std::mutex> g(mu_);
  if (shuttingDown_) return;
  metrics_->retry();
  if (delay <= Duration::zero()) {
    addLocked(key);
    return;
  }
  const TimePoint readyAt = clock_.now() + delay;
  const auto known = delayedAt_.find(key);
  if (known != delayedAt_.end()) {
    if (known->second <= readyAt) return;  // keep the earlier time
    for (auto it = delayed_.lower_bound(known->second); it != delayed_.end() && it->first == known->second; ++it) {
      if (it->second == key) {
        delayed_.erase(it);
        break;
      }
    }
  }
  delayed_.emplace(readyAt, key);
  delayedAt_[key] = readyAt;
  changed_.notify_all();  // a waiter may need to shorten its wait to this deadline
}

void WorkQueue::addRateLimited(const std::string& key) { addAfter(key, rateLimiter_->when(key)); }

void WorkQueue::addRateLimited(const std::string& key, Duration cap) {
  addAfter(key, std::min(rateLimiter_->when(key), cap));
}

void WorkQueue::forget(const std::string& key) { rateLimiter_->forget(key); }

int WorkQueue::numRequeues(const std::string& key) { return rateLimiter_->numRequeues(key); }

void WorkQueue::promoteReadyLocked(TimePoint now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    const std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayedAt_.erase(key);
    addLocked(key);
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (shuttingDown_) return std::nullopt;
    const TimePoint now = clock_.now();
    promoteReadyLocked(now);
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      processing_[key] = now;
      dirty_.erase(key);
      const auto added = addedAt_.find(key);
      if (added != addedAt_.end()) {
        metrics_->observeQueueDuration(seconds(now - added->second));
        addedAt_.erase(added);
      }
      reportDepthLocked();
      if (!queue_.empty()) changed_.notify_all();
      return key;
    }
    if (delayed_.empty()) {
      changed_.wait(lock);
    } else {
      clock_.waitUntil(changed_, lock, delayed_.begin()->first);
    }
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard<std::mutex> g(mu_);
  const auto it = processing_.find(key);
  if (it == processing_.end()) return;
  metrics_->observeWorkDuration(seconds(clock_.now() - it->second));
  processing_.erase(it);
  if (dirty_.count(key) && !shuttingDown_) {
    queue_.push_back(key);
  }
  changed_.notify_all();  // a waiter for a key, or shutDownWithDrain()
}

void WorkQueue::shutDown() {
  std::lock_guard<std::mutex> g(mu_);
  shuttingDown_ = true;
  queue_.clear();
  dirty_.clear();
  addedAt_.clear();
  delayed_.clear();
  delayedAt_.clear();
  reportDepthLocked();
  changed_.notify_all();
}

bool WorkQueue::shutDownWithDrain(util::Clock::TimePoint deadline) {
  shutDown();
  std::unique_lock<std::mutex> lock(mu_);
  while (!processing_.empty()) {
    if (clock_.waitUntil(changed_, lock, deadline) == std::cv_status::timeout && !processing_.empty()) return false;
  }
  return true;
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard<std::mutex> g(mu_);
  return shuttingDown_;
}

std::size_t WorkQueue::len() {
  std::lock_guard<std::mutex> g(mu_);
  promoteReadyLocked(clock_.now());
  return queue_.size();
}

std::size_t WorkQueue::delayedLen() const {
  std::lock_guard<std::mutex> g(mu_);
  return delayed_.size();
}

std::size_t WorkQueue::inProcess() const {
  std::lock_guard<std::mutex> g(mu_);
  return processing_.size();
}

void WorkQueue::updateUnfinishedWork() {
  std::lock_guard<std::mutex> g(mu_);
  const TimePoint now = clock_.now();
  double total = 0, longest = 0;
  for (const auto& [key, since] : processing_) {
    const double s = seconds(now - since);
    total += s;
    longest = std::max(longest, s);
  }
  metrics_->setUnfinishedWork(total, longest);
}

void WorkQueue::reportDepthLocked() { metrics_->setDepth(static_cast<double>(dirty_.size())); }

}  // namespace mv::runtime::workqueue
