#pragma once
// Whether the kubelet has begun terminating the pod: witnessed by the arrival of its preStop hook (GET /prestop).
//
// Why the hook and not the pod's deletion: a kubelet pod sync already in progress does not see a DELETE and restarts a
// container that exits meanwhile (kubelet-termination-2026-12.md, "The restart race"). The kubelet sends the preStop
// hook only once it is killing the pod, and then waits for the hook's reply before its SIGTERM: from the hook's arrival
// on, an exiting service is not restarted. So the agent forwards a shutdown call only once the hook has come.
//
// Contract: witnessed once, for good (a later hook changes nothing but is told whether it was first). Thread-safe;
// awaitWitnessed() wakes as soon as witness() is called.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace mv::agent {

class Termination {
 public:
  using Clock = std::chrono::steady_clock;

  struct Witness {
    bool first = false;            // this call is the hook that witnessed termination
    Clock::time_point at;          // when termination was first witnessed
    bool serviceListeningAtFirst;  // whether the service's port accepted connections when the first hook came
  };

  // Records a hook's arrival; `serviceListening` matters only for the first one.
  Witness witness(bool serviceListening);
  // Waits until termination is witnessed or the deadline passes; true when witnessed.
  bool awaitWitnessed(Clock::time_point deadline);
  // How long ago termination was witnessed; nullopt before.
  std::optional<std::chrono::milliseconds> witnessedFor() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable witnessed_;
  std::optional<Clock::time_point> at_;
  bool serviceListeningAtFirst_ = false;
};

}  // namespace mv::agent
