#pragma once
// What the runner knows about its pods beyond the informer cache (one of the runner's parts, issue 15 Shape):
// - the stage state it last wrote on a pod, until the cache shows it (a lagging cache must never make it repeat a
//   stage);
// - each pod's first graceful deletion: the kubelet's final grace-0 delete resets deletionTimestamp to "now" and the
//   grace to 0, which would hide when SIGTERM came.
// Keyed by pod uid; thread-safe; forget() releases a pod's entries once its shutdown is over.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "shutdown/pod_facts.h"
#include "shutdown/state.h"

namespace mv::shutdown {

class StateOverlay {
 public:
  // Facts observed from the cache, corrected: the first graceful deletion kept, the state last written overlaid
  // while the cache lags behind it (and dropped once the cache shows it).
  void apply(PodFacts& f);
  // `state` was written on pod `uid` (or is its last known state, when the pod went before it could be written).
  void wrote(const std::string& uid, const ShutdownState& state);
  // The pod is gone: `f` gets its last written state and first graceful deletion, and both are forgotten.
  void finish(PodFacts& f);
  std::size_t size() const;

 private:
  void keepGracefulDeletion(PodFacts& f);  // caller holds mu_
  mutable std::mutex mu_;
  std::map<std::string, ShutdownState> written_;                // pod uid → the state last written
  std::map<std::string, std::pair<WallTime, long>> deletions_;  // pod uid → first graceful deletion seen
};

}  // namespace mv::shutdown
