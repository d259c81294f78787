#pragma once
// Forwards the shutdown call to the service inside the pod, and follows the shutdown to its end.
//
// State (reported by GET /shutdown):
// - idle: no forwarded call was accepted yet (serviceStatus is the last status the service gave, 0 if none);
// - forwarded: the service answered 2xx (acceptedAt() is then set; a refusal, 409/429/503, leaves the state idle and
//   does not set it); from then on its port is probed every kProbeInterval;
// - done: a probe found the service's port closed (service_port.h). Final.
//
// Forwarding:
// - the targets are tried in order; the next one only when a connection to the previous one could not be opened
//   (so 127.0.0.1 then ::1), all within one deadline (--target-timeout-seconds);
// - the call carries no body and no header of the caller: not its Authorization (the token is for the agent) and no
//   X-Forwarded-For (a loopback-trusting service would then judge the caller's address instead of the loopback peer);
// - cancelFd aborts a call in progress (SIGTERM).
//
// Thread-safe: calls are forwarded one at a time (a second forward() waits for the first); snapshot(), tick() and
// serviceClosed() never wait for a call in progress.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "options.h"

namespace mv::agent {

struct ForwardOutcome {
  bool reached = false;  // the service answered with an HTTP status
  int status = 0;
  std::optional<long long> retryAfterSeconds;
  std::string target;  // "127.0.0.1:8546", the one that answered or the first that failed
  std::string error;   // when not reached: "connection refused", "timeout after 5s", ...
};

class Forwarder {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { Idle, Forwarded, Done };
  struct Snapshot {
    State state = State::Idle;
    int serviceStatus = 0;
    std::optional<Clock::time_point> acceptedAt;  // when the service first answered 2xx
  };

  Forwarder(const Options& options, int cancelFd) : options_(options), cancelFd_(cancelFd) {}

  ForwardOutcome forward();
  // Probes the service's port when one is due; call it at least every kProbeInterval while the state is Forwarded.
  void tick();
  // How long the owner may wait before the next tick() is due.
  std::chrono::milliseconds untilNextTick() const;
  // Someone else's probe found the port closed: forwarded becomes done.
  void serviceClosed();

  Snapshot snapshot() const;
  static const char* name(State s);

 private:
  const Options& options_;
  int cancelFd_;
  std::mutex callMutex_;  // one forwarded call at a time
  mutable std::mutex stateMutex_;
  Snapshot state_;
  Clock::time_point nextProbe_{};
};

}  // namespace mv::agent
