#include "shutdown/shutdown_tracker.h"

namespace mv::shutdown {

void ShutdownTracker::seen(const std::string& owner, const std::string& uid, Pod pod) {
  std::lock_guard<std::mutex> g(mu_);
  pods_[owner][uid] = std::move(pod);
}

void ShutdownTracker::lastKnown(const json& pod) {
  const std::string uid = pod.value("/metadata/uid"_json_pointer, std::string());
  std::lock_guard<std::mutex> g(mu_);
  for (auto& [owner, pods] : pods_) {
    auto it = pods.find(uid);
    if (it != pods.end()) it->second.pod = pod;
  }
}

std::vector<ShutdownTracker::Pod> ShutdownTracker::takeGone(const std::string& owner,
                                                            const std::set<std::string>& keep) {
  std::vector<Pod> gone;
  std::lock_guard<std::mutex> g(mu_);
  auto it = pods_.find(owner);
  if (it == pods_.end()) return gone;
  for (auto p = it->second.begin(); p != it->second.end();) {
    if (keep.count(p->first)) {
      ++p;
      continue;
    }
    gone.push_back(std::move(p->second));
    p = it->second.erase(p);
  }
  if (it->second.empty()) pods_.erase(it);
  return gone;
}

std::size_t ShutdownTracker::size() const {
  std::lock_guard<std::mutex> g(mu_);
  std::size_t n = 0;
  for (const auto& [owner, pods] : pods_) n += pods.size();
  return n;
}

}  // namespace mv::shutdown
