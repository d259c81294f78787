#pragma once
// Forwards the shutdown call to the service inside the pod, and follows the shutdown to its end.
//
// State (reported by GET /shutdown):
// - idle: no forwarded call was accepted yet (serviceStatus is the last status the service gave, 0 if none);
// - forwarded: the service answered 2xx; from then on its port is probed every kProbeInterval;
// - done: a probe was refused: the service's port has closed. Final.
//
// Forwarding:
// - the targets are tried in order; the next one only when a connection to the previous one could not be opened
//   (so 127.0.0.1 then ::1), all within one deadline (--target-timeout-seconds);
// - the call carries no body and no header of the caller: not its Authorization (the token is for the agent) and no
//   X-Forwarded-For (a loopback-trusting service would then judge the caller's address instead of the loopback peer);
// - cancelFd aborts a call in progress (SIGTERM).

#include <chrono>
#include <optional>
#include <string>

#include "net/http_client.h"
#include "options.h"

namespace mv::agent {

inline constexpr std::chrono::milliseconds kProbeInterval{100};

struct ForwardOutcome {
  bool reached = false;  // the service answered with an HTTP status
  int status = 0;
  std::optional<long long> retryAfterSeconds;
  std::string target;  // "127.0.0.1:8546", the one that answered or the first that failed
  std::string error;   // when not reached: "connection refused", "timeout after 5s", ...
};

class Forwarder {
 public:
  enum class State { Idle, Forwarded, Done };

  Forwarder(const Options& options, int cancelFd) : options_(options), cancelFd_(cancelFd) {}

  ForwardOutcome forward();
  // Probes the service's port when one is due; call it at least every kProbeInterval while state() is Forwarded.
  void tick();
  // How long the owner may wait before the next tick() is due.
  std::chrono::milliseconds untilNextTick() const;

  State state() const { return state_; }
  int serviceStatus() const { return serviceStatus_; }
  static const char* name(State s);

 private:
  const Options& options_;
  int cancelFd_;
  State state_ = State::Idle;
  int serviceStatus_ = 0;
  std::string watchedIp_;
  std::chrono::steady_clock::time_point nextProbe_{};
};

}  // namespace mv::agent
