#include "lifecycle.h"

#include <signal.h>

#include <algorithm>
#include <thread>

namespace mv::workloads::vote {

const char* phaseName(Phase p) {
  switch (p) {
    case Phase::Running: return "running";
    case Phase::Draining: return "draining";
    case Phase::Saving: return "saving";
    case Phase::Done: return "done";
  }
  return "unknown";
}

const char* triggerName(Trigger t) {
  switch (t) {
    case Trigger::None: return "none";
    case Trigger::Http: return "http";
    case Trigger::Signal: return "signal";
  }
  return "unknown";
}

Lifecycle::Lifecycle(VoteMap loaded, EventsLog& events, Config config)
    : events_(events), config_(config), votes_(std::move(loaded)), busyUntil_(Clock::now() + config.busyOnStart) {}

Lifecycle::VoteOutcome Lifecycle::submitVote(const std::string& id, const std::string& choice,
                                             std::chrono::milliseconds processing) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (phase_ != Phase::Running) return VoteOutcome::ShuttingDown;
    ++inFlight_;
  }
  if (processing.count() > 0) std::this_thread::sleep_for(processing);
  std::lock_guard<std::mutex> g(mu_);
  --inFlight_;
  changed_.notify_all();
  if (phase_ != Phase::Running && phase_ != Phase::Draining) return VoteOutcome::ShuttingDown;
  const auto [it, inserted] = votes_.emplace(id, choice);
  if (inserted) return VoteOutcome::Stored;
  return it->second == choice ? VoteOutcome::Duplicate : VoteOutcome::Conflict;
}

Lifecycle::ShutdownAnswer Lifecycle::requestShutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  if (phase_ != Phase::Running) {
    lock.unlock();
    events_.record("shutdown-requested", "repeat=true");
    return {ShutdownAnswer::Kind::AlreadyShuttingDown};
  }
  const auto now = Clock::now();
  if (config_.busyOnShutdown.count() > 0 && !busyOnShutdownUsed_) {
    busyOnShutdownUsed_ = true;
    busyUntil_ = std::max(busyUntil_, now + config_.busyOnShutdown);
  }
  if (now < busyUntil_) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(busyUntil_ - now);
    lock.unlock();
    events_.record("shutdown-refused", "status=409");
    return {ShutdownAnswer::Kind::Busy, std::max(left, std::chrono::seconds(1))};
  }
  // Recorded before the sequence in main can see the new phase, so the log keeps the order of events.
  events_.record("shutdown-requested");
  phase_ = Phase::Draining;
  trigger_ = Trigger::Http;
  acceptedAt_ = now;
  changed_.notify_all();
  return {ShutdownAnswer::Kind::Accepted};
}

Lifecycle::Clock::time_point Lifecycle::markBusy(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> g(mu_);
  busyUntil_ = std::max(busyUntil_, Clock::now() + d);
  return busyUntil_;
}

void Lifecycle::onSignal(int signo) {
  events_.record(signo == SIGINT ? "sigint" : "sigterm");
  std::lock_guard<std::mutex> g(mu_);
  signalled_ = true;
  if (phase_ == Phase::Running) {
    phase_ = Phase::Draining;
    trigger_ = Trigger::Signal;
  }
  changed_.notify_all();
}

Phase Lifecycle::phase() const {
  std::lock_guard<std::mutex> g(mu_);
  return phase_;
}

Trigger Lifecycle::trigger() const {
  std::lock_guard<std::mutex> g(mu_);
  return trigger_;
}

size_t Lifecycle::count() const {
  std::lock_guard<std::mutex> g(mu_);
  return votes_.size();
}

int Lifecycle::inFlight() const {
  std::lock_guard<std::mutex> g(mu_);
  return inFlight_;
}

std::vector<std::string> Lifecycle::ids() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::string> out;
  out.reserve(votes_.size());
  for (const auto& [id, choice] : votes_) out.push_back(id);
  return out;
}

Trigger Lifecycle::awaitTrigger() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [this] { return trigger_ != Trigger::None; });
  return trigger_;
}

VoteMap Lifecycle::beginSaving(std::chrono::milliseconds drainTimeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const int waiting = inFlight_;
  const bool drained = changed_.wait_for(lock, drainTimeout, [this] { return inFlight_ == 0; });
  phase_ = Phase::Saving;
  VoteMap snapshot = votes_;
  const int abandoned = inFlight_;
  lock.unlock();
  events_.record("drained", "in_flight=" + std::to_string(waiting) + (drained ? "" : " abandoned=" + std::to_string(abandoned)));
  events_.record("saving", "votes=" + std::to_string(snapshot.size()));
  return snapshot;
}

void Lifecycle::finish() {
  std::lock_guard<std::mutex> g(mu_);
  phase_ = Phase::Done;
  changed_.notify_all();
}

void Lifecycle::awaitExit(std::chrono::milliseconds exitDelay) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_until(lock, acceptedAt_ + exitDelay, [this] { return signalled_; });
}

}  // namespace mv::workloads::vote
