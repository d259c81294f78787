#pragma once
// The runtime's command-line flags (controller-runtime's and client-go's names), their defaults, and a pure parser.
//
// Syntax, as Go's flag package: "--name=value" or "--name value" ("-name" works too); boolean flags take no value
// ("--leader-elect") or an attached one ("--leader-elect=false"). Durations are Go durations ("15s", "1m30s",
// "500ms"). Bind addresses are "host:port", ":port" for every IPv4 interface, or "0" to disable the server.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/log.h"

namespace mv::runtime::manager {

using Duration = std::chrono::steady_clock::duration;

// Defaults, and where they come from.
inline constexpr Duration kDefaultLeaseDuration = std::chrono::seconds(15);  // controller-runtime manager defaults
inline constexpr Duration kDefaultRenewDeadline = std::chrono::seconds(10);
inline constexpr Duration kDefaultRetryPeriod = std::chrono::seconds(2);
inline constexpr Duration kDefaultGracefulShutdownTimeout = std::chrono::seconds(30);  // controller-runtime
inline constexpr Duration kDefaultCacheSyncTimeout = std::chrono::minutes(2);           // controller-runtime
inline constexpr std::uint16_t kDefaultMetricsPort = 8080;                              // kubebuilder scaffold
inline constexpr std::uint16_t kDefaultHealthProbePort = 8081;                          // kubebuilder scaffold
inline constexpr double kDefaultKubeApiQps = 20;  // kube::ClientOptions (controller-runtime raises client-go's 5/10)
inline constexpr int kDefaultKubeApiBurst = 30;
inline constexpr const char* kDefaultLeaderElectionId = "medivote-operator-leader";

// An IPv4 listen address. host "" means every interface.
struct BindAddress {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const BindAddress&) const = default;
};

struct Flags {
  std::optional<BindAddress> metricsBindAddress = BindAddress{"", kDefaultMetricsPort};  // nullopt: disabled
  std::optional<BindAddress> healthProbeBindAddress = BindAddress{"", kDefaultHealthProbePort};
  bool leaderElect = false;
  Duration leaseDuration = kDefaultLeaseDuration;
  Duration renewDeadline = kDefaultRenewDeadline;
  Duration retryPeriod = kDefaultRetryPeriod;
  std::string leaderElectionId = kDefaultLeaderElectionId;
  std::string leaderElectionNamespace;  // "": the namespace the pod runs in
  int maxConcurrentReconciles = 1;
  Duration gracefulShutdownTimeout = kDefaultGracefulShutdownTimeout;
  Duration cacheSyncTimeout = kDefaultCacheSyncTimeout;
  log::Level logLevel = log::Level::Info;
  log::Format logFormat = log::Format::Logfmt;
  std::string kubeconfig;  // "": $KUBECONFIG, then in-cluster, then ~/.kube/config
  std::string context;     // "": the kubeconfig's current-context
  double kubeApiQps = kDefaultKubeApiQps;
  int kubeApiBurst = kDefaultKubeApiBurst;
  std::string watchNamespace;  // "": all namespaces
  bool help = false;           // --help / -h: print usage() and exit 0
  bool version = false;        // --version
};

struct FlagError {
  std::string message;  // one sentence naming the flag and what is wrong, e.g. for "program: <message>"
};

// Parses the arguments after the program name. Unknown flags, missing or malformed values, positional arguments and
// inconsistent leader-election timings (client-go's rules: lease duration > renew deadline > 1.2 x retry period) are
// errors. With --help or --version, the other flags are still checked.
std::variant<Flags, FlagError> parseFlags(const std::vector<std::string>& args);
std::variant<Flags, FlagError> parseFlags(int argc, const char* const* argv);

// The --help text.
std::string usage(std::string_view program);

// Parses a Go duration ("300ms", "1.5h", "2h45m", "0"); nullopt when malformed or negative.
std::optional<Duration> parseDuration(std::string_view text);
// Parses a bind address as the flags take it; "0" gives nullopt. Throws std::invalid_argument when malformed.
std::optional<BindAddress> parseBindAddress(std::string_view text);
std::string toString(const BindAddress& address);

}  // namespace mv::runtime::manager
