#include "shutdown/misconfiguration_memory.h"

namespace mv::shutdown {

void MisconfigurationMemory::reported(const std::string& owner, const ConfigVersion& version, std::string message) {
  std::lock_guard<std::mutex> g(mu_);
  entries_[owner] = {std::move(message), version};
}

void MisconfigurationMemory::accepted(const std::string& owner) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = entries_.find(owner);
  if (it != entries_.end()) it->second.message.reset();
}

std::optional<std::string> MisconfigurationMemory::current(const std::string& owner, const ConfigVersion& version,
                                                           const std::optional<std::string>& alreadyReported) {
  std::lock_guard<std::mutex> g(mu_);
  auto [it, firstSeen] = entries_.try_emplace(owner);
  Entry& e = it->second;
  if (firstSeen) {
    e.message = alreadyReported;
    e.version = version;
  } else if (e.message && e.version != version) {
    e.message.reset();  // the configuration changed since the failing call: its cause may be gone
  }
  return e.message;
}

void MisconfigurationMemory::forget(const std::string& owner) {
  std::lock_guard<std::mutex> g(mu_);
  entries_.erase(owner);
}

void MisconfigurationMemory::retain(const std::set<std::string>& owners) {
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) it = owners.count(it->first) ? std::next(it) : entries_.erase(it);
}

std::size_t MisconfigurationMemory::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return entries_.size();
}

}  // namespace mv::shutdown
