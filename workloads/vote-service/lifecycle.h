#pragma once
// The vote service's state and its one-way shutdown: running → draining → saving → done.
//
//   running   votes are taken. POST /shutdown (accepted) or SIGTERM/SIGINT moves to draining.
//   draining  new votes get 503; votes already in flight finish and are stored (and acknowledged).
//   saving    the votes stored so far are the snapshot being saved. A vote still in flight now is refused
//             (503, not stored), so every vote acknowledged with 2xx is in the snapshot.
//   done      saved (or the save was skipped/failed); the process exits.
//
// Every method is thread-safe. The HTTP handlers call submitVote/requestShutdown/markBusy; main runs the sequence
// awaitTrigger → beginSaving → finish → awaitExit.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "events_log.h"
#include "state_file.h"

namespace mv::workloads::vote {

enum class Phase { Running, Draining, Saving, Done };
enum class Trigger { None, Http, Signal };
const char* phaseName(Phase p);
const char* triggerName(Trigger t);

class Lifecycle {
 public:
  using Clock = std::chrono::steady_clock;

  struct Config {
    std::chrono::milliseconds busyOnStart{0};     // busy from construction for that long
    std::chrono::milliseconds busyOnShutdown{0};  // the first shutdown request opens a busy window that long
  };
  Lifecycle(VoteMap loaded, EventsLog& events, Config config);

  enum class VoteOutcome { Stored, Duplicate, Conflict, ShuttingDown };
  // Takes a vote: refused at once unless running; otherwise in flight for `processing`, then stored unless the
  // snapshot was already taken. Stored/Duplicate mean the vote is in the state (the caller acknowledges it).
  // Duplicate: the same id with the same choice was stored before; Conflict: with another choice (kept as it was).
  VoteOutcome submitVote(const std::string& id, const std::string& choice, std::chrono::milliseconds processing);

  struct ShutdownAnswer {
    enum class Kind { Accepted, AlreadyShuttingDown, Busy } kind;
    std::chrono::seconds retryAfter{0};  // Busy: whole seconds until the busy window ends (at least 1)
  };
  // An authorised POST /shutdown. Accepted moves to draining; a service already shutting down (for whatever
  // trigger) answers AlreadyShuttingDown; a busy one refuses and stays running.
  ShutdownAnswer requestShutdown();

  // POST /admin/busy: busy for `d` from now (extends, never shortens, the current window).
  Clock::time_point markBusy(std::chrono::milliseconds d);

  // SIGTERM/SIGINT arrived: recorded; moves to draining when running; cuts short awaitExit.
  void onSignal(int signo);

  Phase phase() const;
  Trigger trigger() const;
  size_t count() const;
  int inFlight() const;  // votes taken but not yet stored or refused
  std::vector<std::string> ids() const;

  // Blocks until the shutdown was triggered; returns by what.
  Trigger awaitTrigger();
  // Waits until no vote is in flight (at most `drainTimeout`), moves to saving and returns the snapshot to save.
  VoteMap beginSaving(std::chrono::milliseconds drainTimeout);
  // Moves to done.
  void finish();
  // After an HTTP-triggered shutdown: blocks until `exitDelay` after it was accepted, or until a signal arrives.
  void awaitExit(std::chrono::milliseconds exitDelay);

 private:
  EventsLog& events_;
  const Config config_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  VoteMap votes_;
  Phase phase_ = Phase::Running;
  Trigger trigger_ = Trigger::None;
  int inFlight_ = 0;
  bool signalled_ = false;
  bool busyOnShutdownUsed_ = false;
  Clock::time_point busyUntil_;
  Clock::time_point acceptedAt_;
};

}  // namespace mv::workloads::vote
