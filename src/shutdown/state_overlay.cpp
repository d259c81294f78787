#include "shutdown/state_overlay.h"

namespace mv::shutdown {

void StateOverlay::keepGracefulDeletion(PodFacts& f) {
  if (!f.deletionTimestamp) return;
  auto it = deletions_.find(f.uid);
  if (it == deletions_.end()) {
    if (f.deletionGracePeriodSeconds > 0) deletions_[f.uid] = {*f.deletionTimestamp, f.deletionGracePeriodSeconds};
    return;
  }
  if (f.deletionGracePeriodSeconds == 0) {
    f.deletionTimestamp = it->second.first;
    f.deletionGracePeriodSeconds = it->second.second;
  }
}

void StateOverlay::apply(PodFacts& f) {
  std::lock_guard<std::mutex> g(mu_);
  keepGracefulDeletion(f);
  auto it = written_.find(f.uid);
  if (it == written_.end()) return;
  if (f.state == it->second) written_.erase(it);  // the cache caught up
  else f.state = it->second;                      // the cache lags behind our own write
}

void StateOverlay::wrote(const std::string& uid, const ShutdownState& state) {
  // Kept as the pod's annotations hold it (times in milliseconds): the state as decided has the clock's precision,
  // and would never equal what the cache reads back, so the overlay would never be dropped (issue 15 item 9).
  const ShutdownState stored = readState(stateAnnotationsPatch(state));
  std::lock_guard<std::mutex> g(mu_);
  written_[uid] = stored;
}

void StateOverlay::finish(PodFacts& f) {
  std::lock_guard<std::mutex> g(mu_);
  auto w = written_.find(f.uid);
  if (w != written_.end()) {
    f.state = w->second;
    written_.erase(w);
  }
  keepGracefulDeletion(f);
  deletions_.erase(f.uid);
}

std::size_t StateOverlay::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return written_.size() + deletions_.size();
}

}  // namespace mv::shutdown
