#include "runtime/events/event_recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "util/log.h"
#include "util/time_format.h"

namespace mv::runtime::events {
namespace {
constexpr std::size_t kMaxQueue = 1000;
constexpr std::chrono::minutes kExpiryInterval{1};

// Drops the entries of `m` last touched (timeOf) a whole aggregation window before `now`, then the least recently
// touched beyond KubeEventRecorder::kMaxRemembered.
template <typename Map, typename TimeOf>
void expire(Map& m, util::WallTime now, TimeOf timeOf) {
  for (auto it = m.begin(); it != m.end();)
    it = now - timeOf(it->second) >= KubeEventRecorder::kAggregationWindow ? m.erase(it) : std::next(it);
  while (m.size() > KubeEventRecorder::kMaxRemembered)
    m.erase(std::min_element(m.begin(), m.end(),
                             [&](const auto& a, const auto& b) { return timeOf(a.second) < timeOf(b.second); }));
}
}  // namespace

ObjectRef ObjectRef::of(const json& object) {
  ObjectRef r;
  r.apiVersion = object.value("apiVersion", "");
  r.kind = object.value("kind", "");
  const json meta = object.value("metadata", json::object());
  r.ns = meta.value("namespace", "");
  r.name = meta.value("name", "");
  r.uid = meta.value("uid", "");
  return r;
}

KubeEventRecorder::KubeEventRecorder(kube::Client& client, util::Clock& clock, std::string component, std::string host)
    : client_(client), clock_(clock), component_(std::move(component)), host_(std::move(host)) {
  thread_ = std::thread([this] { loop(); });
}

KubeEventRecorder::~KubeEventRecorder() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void KubeEventRecorder::record(const ObjectRef& object, bool warning, const std::string& reason,
                               const std::string& message) {
  log::write(warning ? log::Level::Warn : log::Level::Info, message,
             {{"event", reason}, {"object", fmt::format("{}/{}", object.kind, object.name)}, {"namespace", object.ns}});
  std::lock_guard<std::mutex> g(mu_);
  if (queue_.size() >= kMaxQueue) {
    log::warn("event dropped: queue full", {{"reason", reason}});
    return;
  }
  queue_.push_back({object, warning, reason, message.substr(0, 1024), clock_.wallNow()});
  cv_.notify_all();
}

void KubeEventRecorder::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return (queue_.empty() && inFlight_ == 0) || stopping_; });
}

void KubeEventRecorder::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything written
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    ++inFlight_;
    lock.unlock();
    write(p);
    lock.lock();
    --inFlight_;
    cv_.notify_all();
  }
}

void KubeEventRecorder::write(const Pending& p) {
  const std::string key = fmt::format("{}/{}/{}/{}/{}/{}", p.object.ns, p.object.name, p.object.uid, p.warning,
                                      p.reason, p.message);
  const std::string now = util::formatTime(p.time);
  try {
    std::optional<std::pair<std::string, int>> repeat;  // the Event's name and its new count
    {
      std::lock_guard<std::mutex> g(writtenMu_);
      forgetExpired(p.time);
      auto it = written_.find(key);
      if (it != written_.end() && p.time - it->second.last < kAggregationWindow) {
        it->second.count += 1;
        it->second.last = p.time;
        repeat.emplace(it->second.name, it->second.count);
      }
    }
    if (repeat) {
      client_.patch(kube::resources::events(), p.object.ns, repeat->first, kube::PatchType::Merge,
                    {{"count", repeat->second}, {"lastTimestamp", now}});
      return;
    }
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(p.time.time_since_epoch()).count();
    const std::string name = fmt::format("{}.{:x}", p.object.name, static_cast<unsigned long long>(nanos));
    json ev = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", name}, {"namespace", p.object.ns}}},
               {"involvedObject",
                {{"apiVersion", p.object.apiVersion},
                 {"kind", p.object.kind},
                 {"namespace", p.object.ns},
                 {"name", p.object.name},
                 {"uid", p.object.uid}}},
               {"reason", p.reason},
               {"message", p.message},
               {"type", p.warning ? "Warning" : "Normal"},
               {"source", {{"component", component_}, {"host", host_}}},
               {"reportingComponent", component_},
               {"reportingInstance", host_},
               {"firstTimestamp", now},
               {"lastTimestamp", now},
               {"count", 1}};
    client_.create(kube::resources::events(), p.object.ns, ev);
    std::lock_guard<std::mutex> g(writtenMu_);
    if (gone_.count(p.object.uid)) return;  // about an object already gone: nothing more to aggregate
    written_[key] = {name, p.object.uid, 1, p.time, p.time};
    if (written_.size() > kMaxRemembered) forgetExpired(p.time);
  } catch (const std::exception& e) {
    log::warn("could not write an Event", {{"reason", p.reason}, {"error", e.what()}});
  }
}

void KubeEventRecorder::forgetExpired(util::WallTime now) {
  const bool over = written_.size() > kMaxRemembered || gone_.size() > kMaxRemembered;
  if (!over && now - lastExpiry_ < kExpiryInterval) return;
  lastExpiry_ = now;
  expire(written_, now, [](const Written& w) { return w.last; });
  expire(gone_, now, [](util::WallTime t) { return t; });
}

void KubeEventRecorder::forget(const std::string& uid) {
  if (uid.empty()) return;
  std::lock_guard<std::mutex> g(writtenMu_);
  for (auto it = written_.begin(); it != written_.end();) it = it->second.uid == uid ? written_.erase(it) : std::next(it);
  gone_[uid] = clock_.wallNow();
  if (gone_.size() > kMaxRemembered) forgetExpired(clock_.wallNow());
}

std::size_t KubeEventRecorder::remembered() const {
  std::lock_guard<std::mutex> g(writtenMu_);
  return written_.size();
}

}  // namespace mv::runtime::events
