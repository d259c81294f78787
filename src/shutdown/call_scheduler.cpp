#include "shutdown/call_scheduler.h"

#include <algorithm>

namespace mv::shutdown {

CallScheduler::CallScheduler(int perOwnerLimit) : limit_(std::max(1, perOwnerLimit)) {}

int defaultPerOwnerCallLimit(int maxCalls) { return std::max(1, maxCalls / 4); }

bool CallScheduler::push(const std::string& owner, const std::string& uid, bool urgent) {
  if (!queuedUids_.insert(uid).second) return false;
  owners_[owner].calls.push_back({owner, uid, urgent});
  ++queued_;
  return true;
}

std::map<std::string, CallScheduler::Owner>::iterator CallScheduler::pick(bool urgentOnly) {
  auto wanted = [&](const Owner& o) {
    if (o.running >= limit_ || o.calls.empty()) return false;
    return !urgentOnly || std::any_of(o.calls.begin(), o.calls.end(), [](const Entry& e) { return e.urgent; });
  };
  // Round-robin: the owners after the last one served, then from the start up to and including it.
  const auto start = owners_.upper_bound(last_);
  for (auto it = start; it != owners_.end(); ++it)
    if (wanted(it->second)) return it;
  for (auto it = owners_.begin(); it != start; ++it)
    if (wanted(it->second)) return it;
  return owners_.end();
}

std::optional<CallScheduler::Entry> CallScheduler::next() {
  bool urgent = true;
  auto it = pick(true);
  if (it == owners_.end()) {
    urgent = false;
    it = pick(false);
  }
  if (it == owners_.end()) return std::nullopt;
  auto& calls = it->second.calls;
  auto call = urgent ? std::find_if(calls.begin(), calls.end(), [](const Entry& e) { return e.urgent; })
                     : calls.begin();
  Entry e = std::move(*call);
  calls.erase(call);
  ++it->second.running;
  --queued_;
  queuedUids_.erase(e.uid);
  last_ = it->first;
  return e;
}

void CallScheduler::finished(const std::string& owner) {
  auto it = owners_.find(owner);
  if (it == owners_.end()) return;
  if (it->second.running > 0) --it->second.running;
  eraseIfIdle(it);
}

bool CallScheduler::drop(const std::string& uid) {
  if (!queuedUids_.erase(uid)) return false;
  for (auto it = owners_.begin(); it != owners_.end(); ++it) {
    auto& calls = it->second.calls;
    auto call = std::find_if(calls.begin(), calls.end(), [&](const Entry& e) { return e.uid == uid; });
    if (call == calls.end()) continue;
    calls.erase(call);
    --queued_;
    eraseIfIdle(it);
    return true;
  }
  return false;
}

std::deque<CallScheduler::Entry> CallScheduler::dropAll() {
  std::deque<Entry> dropped;
  for (auto it = owners_.begin(); it != owners_.end();) {
    for (auto& e : it->second.calls) dropped.push_back(std::move(e));
    it->second.calls.clear();
    if (it->second.running == 0) it = owners_.erase(it);
    else ++it;
  }
  queuedUids_.clear();
  queued_ = 0;
  return dropped;
}

std::size_t CallScheduler::runnable() const {
  std::size_t n = 0;
  for (const auto& [key, o] : owners_)
    n += std::min(o.calls.size(), static_cast<std::size_t>(std::max(0, limit_ - o.running)));
  return n;
}

int CallScheduler::running(const std::string& owner) const {
  auto it = owners_.find(owner);
  return it == owners_.end() ? 0 : it->second.running;
}

void CallScheduler::eraseIfIdle(std::map<std::string, Owner>::iterator it) {
  // An owner without queued or running calls leaves no memory behind (resources come and go).
  if (it->second.running == 0 && it->second.calls.empty()) owners_.erase(it);
}

}  // namespace mv::shutdown
