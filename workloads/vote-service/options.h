#pragma once
// medivote-vote-service's configuration: flags and environment, validated before anything starts.

#include <cstdint>
#include <optional>
#include <string>

#include "net/address.h"
#include "net/cidr.h"

namespace mv::workloads::vote {

struct Options {
  net::Endpoint listen;                 // --listen; default $POD_IP (else 127.0.0.1), port 8080
  std::string dataDir = "data";         // --data-dir; default $DATA_DIR, else "data" relative to the working dir
  std::optional<std::string> token;     // from --token-file, else $SHUTDOWN_TOKEN; unset: no token check
  net::Allowlist allow;                 // --allow; empty: every peer
  double rateLimitPerSecond = 0;        // --rate-limit N/s (or N/min); 0: no limit
  int64_t exitDelayMs = 500;            // --exit-delay-ms: from an accepted POST /shutdown to the exit, at least
  int64_t saveDelayMs = 0;              // --save-delay-ms: simulated slow save
  int64_t voteDelayMs = 0;              // --vote-delay-ms: simulated processing of each vote (it is in flight)
  int64_t drainTimeoutMs = 5000;        // --drain-timeout-ms: the most a shutdown waits for votes in flight
  int64_t busyOnStartSeconds = 0;       // --busy-on-start-seconds: busy from the start for that long
  int64_t busyOnShutdownSeconds = 0;    // --busy-on-shutdown-seconds: the first POST /shutdown starts a busy window
  bool saveOnSigterm = true;            // --[no-]save-on-sigterm
};

// Parses argv and the environment. Returns the exit code to leave with (after --help or an error, printed to
// stderr), or the options.
struct ParsedOptions {
  std::optional<Options> options;
  int exitCode = 0;
};
ParsedOptions parseOptions(int argc, char** argv);

// "N/s", "N/min" or "N" (per second); 0 disables. nullopt when malformed or negative.
std::optional<double> parseRate(const std::string& text);

}  // namespace mv::workloads::vote
