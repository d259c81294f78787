#include "prestop_hold.h"

#include <algorithm>
#include <thread>

#include "log.h"
#include "service_port.h"

namespace mv::agent {

const char* name(Release r) {
  switch (r) {
    case Release::NotListening: return "not-listening";
    case Release::ServiceExited: return "service-exited";
    case Release::ExitTimeout: return "exit-timeout";
    case Release::HoldTimeout: return "hold-timeout";
  }
  return "hold-timeout";
}

HoldOutcome holdPreStop(const Options& options, Termination& termination, Forwarder& forwarder, int cancelFd) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point arrived = Clock::now();
  auto closed = [&] { return servicePortClosed(options.targetIps, options.targetPort, cancelFd); };
  auto outcome = [&](Release r) {
    return HoldOutcome{r, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - arrived)};
  };

  bool closedOnArrival = closed();
  Termination::Witness witness = termination.witness(!closedOnArrival);
  if (witness.first)
    logLine("termination witnessed (preStop hook); service port %d %s", options.targetPort,
            closedOnArrival ? "not listening: released at once" : "listening: held");
  if (closedOnArrival) {
    if (!witness.first && witness.serviceListeningAtFirst) forwarder.serviceClosed();
    return outcome(witness.first || !witness.serviceListeningAtFirst ? Release::NotListening
                                                                     : Release::ServiceExited);
  }

  const Clock::time_point holdUntil = witness.at + options.preStopHold;
  for (;;) {
    Clock::time_point now = Clock::now();
    std::optional<Clock::time_point> exitBy;
    if (auto accepted = forwarder.snapshot().acceptedAt) exitBy = *accepted + options.exitTimeout;
    if (exitBy && now >= *exitBy) return outcome(Release::ExitTimeout);
    if (now >= holdUntil) return outcome(Release::HoldTimeout);
    Clock::time_point wake = std::min(now + kProbeInterval, holdUntil);
    if (exitBy) wake = std::min(wake, *exitBy);
    std::this_thread::sleep_until(wake);
    if (closed()) {
      forwarder.serviceClosed();
      return outcome(Release::ServiceExited);
    }
  }
}

}  // namespace mv::agent
