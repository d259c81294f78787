#pragma once
// The pods the runner saw shutting down, per owner, with what it last knew of each (one of the runner's parts,
// issue 15 Shape): a tracked pod that is gone from the cache has completed its shutdown, and what it last looked
// like (its final container status, from the informer's onDelete) decides the outcome.
// Pods are told apart by uid, not name: a replacement that took the name of a pod still being reaped is another pod.
// Thread-safe.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runtime/events/event_recorder.h"
#include "shutdown/policy.h"
#include "shutdown/state.h"

namespace mv::shutdown {

class ShutdownTracker {
 public:
  struct Pod {
    json pod;  // last seen
    ShutdownPolicy policy;
    std::string serviceContainer;
    runtime::events::ObjectRef owner;
  };

  // Pod `uid` of `owner` is shutting down, as `pod` shows it now.
  void seen(const std::string& owner, const std::string& uid, Pod pod);
  // The last known state of a deleted pod (the informer's onDelete) replaces what was seen of it, if tracked.
  void lastKnown(const json& pod);
  // Takes out, and returns, the tracked pods of `owner` whose uid is not in `keep` (present in the cache, or with
  // a call in flight). An owner with no tracked pod left leaves no entry.
  std::vector<Pod> takeGone(const std::string& owner, const std::set<std::string>& keep);
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, Pod>> pods_;  // owner key → pod uid → last seen
};

}  // namespace mv::shutdown
