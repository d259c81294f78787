#include "forwarder.h"

#include "log.h"
#include "net/http_client.h"
#include "service_port.h"

namespace mv::agent {

const char* Forwarder::name(State s) {
  switch (s) {
    case State::Idle: return "idle";
    case State::Forwarded: return "forwarded";
    case State::Done: return "done";
  }
  return "idle";
}

ForwardOutcome Forwarder::forward() {
  using namespace std::chrono;
  std::lock_guard call(callMutex_);
  auto deadline = steady_clock::now() + options_.targetTimeout;
  ForwardOutcome out;
  for (const std::string& ip : options_.targetIps) {
    net::ClientRequest r;
    r.ip = ip;
    r.port = options_.targetPort;
    r.method = options_.targetMethod;
    r.target = options_.targetPath;
    r.timeout = duration_cast<milliseconds>(deadline - steady_clock::now());
    r.cancelFd = cancelFd_;
    if (r.timeout <= milliseconds(0)) break;
    net::ClientResult result = net::httpCall(r);
    result.timeout = options_.targetTimeout;  // describe() the whole budget, not what was left of it
    std::string target = net::joinHostPort(ip, options_.targetPort);
    if (result.ok() || (result.headComplete && result.error != net::ClientResult::Error::TooLarge)) {
      out = {true, result.reply.status, std::nullopt, target, ""};
      if (auto s = net::retryAfterSeconds(result.reply.headers)) out.retryAfterSeconds = *s;
      break;
    }
    if (out.target.empty()) out = {false, 0, std::nullopt, target, result.describe()};
    if (result.error != net::ClientResult::Error::ConnectFailed) break;
  }
  if (out.reached) {
    std::lock_guard lock(stateMutex_);
    state_.serviceStatus = out.status;
    if (out.status >= 200 && out.status < 300 && state_.state == State::Idle) {
      state_.state = State::Forwarded;
      state_.acceptedAt = steady_clock::now();
      nextProbe_ = steady_clock::now() + kProbeInterval;
    }
  }
  return out;
}

void Forwarder::tick() {
  {
    std::lock_guard lock(stateMutex_);
    if (state_.state != State::Forwarded || Clock::now() < nextProbe_) return;
    nextProbe_ = Clock::now() + kProbeInterval;
  }
  if (servicePortClosed(options_.targetIps, options_.targetPort, cancelFd_)) serviceClosed();
}

void Forwarder::serviceClosed() {
  std::lock_guard lock(stateMutex_);
  if (state_.state != State::Forwarded) return;
  state_.state = State::Done;
  logLine("service port %d has closed: shutdown done", options_.targetPort);
}

std::chrono::milliseconds Forwarder::untilNextTick() const {
  using namespace std::chrono;
  std::lock_guard lock(stateMutex_);
  if (state_.state != State::Forwarded) return seconds(3600);
  auto left = duration_cast<milliseconds>(nextProbe_ - steady_clock::now());
  return left < milliseconds(0) ? milliseconds(0) : left;
}

Forwarder::Snapshot Forwarder::snapshot() const {
  std::lock_guard lock(stateMutex_);
  return state_;
}

}  // namespace mv::agent
