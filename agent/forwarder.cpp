#include "forwarder.h"

#include <cerrno>

#include "log.h"
#include "net/socket_io.h"

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
    serviceStatus_ = out.status;
    if (out.status >= 200 && out.status < 300 && state_ == State::Idle) {
      state_ = State::Forwarded;
      watchedIp_ = out.target.substr(0, out.target.rfind(':'));
      if (watchedIp_.starts_with("[")) watchedIp_ = watchedIp_.substr(1, watchedIp_.size() - 2);
      nextProbe_ = steady_clock::now() + kProbeInterval;
    }
  }
  return out;
}

void Forwarder::tick() {
  if (state_ != State::Forwarded || std::chrono::steady_clock::now() < nextProbe_) return;
  nextProbe_ = std::chrono::steady_clock::now() + kProbeInterval;
  auto address = net::parseIpLiteral(watchedIp_, static_cast<std::uint16_t>(options_.targetPort));
  if (!address) return;
  net::IoResult io;
  // A short deadline: on loopback a closed port refuses at once; an open one accepts at once.
  net::Fd fd = net::connectTo(*address, net::Deadline::after(std::chrono::milliseconds(50)), cancelFd_, io);
  if (io.status == net::IoStatus::Error && io.error == ECONNREFUSED) {
    state_ = State::Done;
    logLine("service port %s has closed: shutdown done", net::joinHostPort(watchedIp_, options_.targetPort).c_str());
  }
}

std::chrono::milliseconds Forwarder::untilNextTick() const {
  using namespace std::chrono;
  if (state_ != State::Forwarded) return seconds(3600);
  auto left = duration_cast<milliseconds>(nextProbe_ - steady_clock::now());
  return left < milliseconds(0) ? milliseconds(0) : left;
}

}  // namespace mv::agent
