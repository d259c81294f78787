#pragma once
// The agent's command line (see usage()). Parsing never exits: it returns the options or an error message.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "net/address.h"

namespace mv::agent {

// Where the service's shutdown endpoint is reached from inside the pod.
enum class TargetReach {
  Loopback,      // 127.0.0.1, then ::1 when IPv4 loopback refuses the connection
  LoopbackIpv4,  // 127.0.0.1 only (services whose allowlist lacks ::1)
  PodIp,         // the pod's own IP, from env POD_IP
};

struct Options {
  net::SocketAddress listen;  // default 0.0.0.0:9901
  std::string tokenFile;      // required
  TargetReach target = TargetReach::Loopback;
  int targetPort = 0;  // required, 1..65535
  std::string targetPath = "/shutdown";
  std::string targetMethod = "POST";
  std::chrono::seconds targetTimeout{5};
  std::vector<std::string> targetIps;  // derived from `target` (and POD_IP), tried in order
  // The preStop hook protocol (routes.h): the longest a hook is held from its first arrival; how long after an
  // accepted call a hook is held at most while the service keeps its port; how long POST /shutdown waits for the
  // hook. The three take decimal seconds ("0.5"), kept to the millisecond.
  std::chrono::milliseconds preStopHold{std::chrono::seconds(10)};
  std::chrono::milliseconds exitTimeout{std::chrono::seconds(10)};
  std::chrono::milliseconds awaitTermination{std::chrono::seconds(2)};
  // The caller's request timeout, if given: the agent then refuses to start unless await + target timeout + 1 s fit
  // in it (otherwise the caller gives up just before the agent answers).
  std::optional<std::chrono::milliseconds> callerTimeout;
  bool help = false;
};

struct ParseResult {
  std::optional<Options> options;
  std::string error;
};

// `podIp` is the value of env POD_IP, if set. --listen also accepts an unbracketed IPv6 literal followed by
// ":PORT" (what "$(POD_IP):9901" expands to in an IPv6 pod).
ParseResult parseOptions(const std::vector<std::string>& args, const std::optional<std::string>& podIp);

const char* usage();

}  // namespace mv::agent
