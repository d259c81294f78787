#include "runtime/manager/flags.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

namespace mv::runtime::manager {
namespace {

// One flag: its name, whether it is boolean, its help line, and how a value is applied to Flags.
struct FlagSpec {
  const char* name;
  bool boolean;
  const char* valueName;
  const char* help;
  std::function<void(Flags&, const std::string&)> apply;  // throws std::invalid_argument with the reason
};

bool parseBool(const std::string& v) {
  if (v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True") return true;
  if (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "False") return false;
  throw std::invalid_argument("want true or false");
}

Duration durationValue(const std::string& v) {
  auto d = parseDuration(v);
  if (!d) throw std::invalid_argument("want a non-negative duration such as 30s, 1m30s or 500ms");
  return *d;
}

long long intValue(const std::string& v) {
  long long out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) throw std::invalid_argument("want an integer");
  return out;
}

double doubleValue(const std::string& v) {
  std::size_t used = 0;
  double out = 0;
  try {
    out = std::stod(v, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("want a number");
  }
  if (used != v.size() || !std::isfinite(out)) throw std::invalid_argument("want a number");
  return out;
}

std::string nonEmpty(const std::string& v) {
  if (v.empty()) throw std::invalid_argument("want a non-empty value");
  return v;
}

const std::vector<FlagSpec>& specs() {
  static const std::vector<FlagSpec> table = {
      {"metrics-bind-address", false, "ADDR",
       "address the /metrics endpoint binds to: host:port, :port, or 0 to disable (default :8080)",
       [](Flags& f, const std::string& v) { f.metricsBindAddress = parseBindAddress(v); }},
      {"health-probe-bind-address", false, "ADDR",
       "address the /healthz and /readyz endpoints bind to, or 0 to disable (default :8081)",
       [](Flags& f, const std::string& v) { f.healthProbeBindAddress = parseBindAddress(v); }},
      {"leader-elect", true, "",
       "elect a leader over a coordination.k8s.io/v1 Lease, so that one replica acts at a time (default false)",
       [](Flags& f, const std::string& v) { f.leaderElect = parseBool(v); }},
      {"leader-elect-lease-duration", false, "DURATION",
       "how long non-leaders wait after the last renewal before taking the lease over (default 15s)",
       [](Flags& f, const std::string& v) { f.leaseDuration = durationValue(v); }},
      {"leader-elect-renew-deadline", false, "DURATION",
       "how long the leader keeps retrying a renewal before it stops leading (default 10s)",
       [](Flags& f, const std::string& v) { f.renewDeadline = durationValue(v); }},
      {"leader-elect-retry-period", false, "DURATION",
       "how long to wait between attempts to acquire or renew the lease (default 2s)",
       [](Flags& f, const std::string& v) { f.retryPeriod = durationValue(v); }},
      {"leader-election-id", false, "NAME", "name of the Lease object (default medivote-operator-leader)",
       [](Flags& f, const std::string& v) { f.leaderElectionId = nonEmpty(v); }},
      {"leader-election-namespace", false, "NAMESPACE",
       "namespace of the Lease object (default: the namespace the pod runs in)",
       [](Flags& f, const std::string& v) { f.leaderElectionNamespace = v; }},
      {"max-concurrent-reconciles", false, "N", "reconciles running at once per controller (default 1)",
       [](Flags& f, const std::string& v) {
         const auto n = intValue(v);
         if (n < 1 || n > 1000) throw std::invalid_argument("want an integer from 1 to 1000");
         f.maxConcurrentReconciles = static_cast<int>(n);
       }},
      {"graceful-shutdown-timeout", false, "DURATION",
       "on SIGTERM or SIGINT, how long in-flight reconciles may take to finish (default 30s)",
       [](Flags& f, const std::string& v) { f.gracefulShutdownTimeout = durationValue(v); }},
      {"cache-sync-timeout", false, "DURATION", "how long to wait for the informer caches to sync (default 2m0s)",
       [](Flags& f, const std::string& v) {
         f.cacheSyncTimeout = durationValue(v);
         if (f.cacheSyncTimeout <= Duration::zero()) throw std::invalid_argument("want a positive duration");
       }},
      {"log-level", false, "LEVEL", "debug, info, warn or error (default info)",
       [](Flags& f, const std::string& v) {
         try {
           f.logLevel = log::parseLevel(v);
         } catch (const std::exception&) {
           throw std::invalid_argument("want debug, info, warn or error");
         }
       }},
      {"log-format", false, "FORMAT", "logfmt or json (default logfmt)",
       [](Flags& f, const std::string& v) {
         try {
           f.logFormat = log::parseFormat(v);
         } catch (const std::exception&) {
           throw std::invalid_argument("want logfmt or json");
         }
       }},
      {"kubeconfig", false, "PATH",
       "kubeconfig file (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)",
       [](Flags& f, const std::string& v) { f.kubeconfig = nonEmpty(v); }},
      {"context", false, "NAME", "kubeconfig context to use instead of current-context",
       [](Flags& f, const std::string& v) { f.context = nonEmpty(v); }},
      {"kube-api-qps", false, "QPS", "steady rate of requests to the API server (default 20)",
       [](Flags& f, const std::string& v) {
         f.kubeApiQps = doubleValue(v);
         if (f.kubeApiQps <= 0) throw std::invalid_argument("want a number above 0");
       }},
      {"kube-api-burst", false, "N", "requests to the API server allowed in a burst (default 30)",
       [](Flags& f, const std::string& v) {
         const auto n = intValue(v);
         if (n < 1 || n > 100000) throw std::invalid_argument("want an integer from 1 to 100000");
         f.kubeApiBurst = static_cast<int>(n);
       }},
      {"watch-namespace", false, "NAMESPACE", "watch only this namespace (default: all namespaces)",
       [](Flags& f, const std::string& v) { f.watchNamespace = v; }},
      {"help", true, "", "print this help and exit",
       [](Flags& f, const std::string& v) { f.help = parseBool(v); }},
      {"version", true, "", "print the version and exit",
       [](Flags& f, const std::string& v) { f.version = parseBool(v); }},
  };
  return table;
}

const FlagSpec* findSpec(std::string_view name) {
  for (const auto& s : specs()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

std::string formatDuration(Duration d) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(d).count();
  if (ms % 1000 != 0) return fmt::format("{}ms", ms);
  return fmt::format("{}s", ms / 1000);
}

}  // namespace

std::optional<Duration> parseDuration(std::string_view text) {
  if (text.empty() || text.front() == '-') return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  if (text == "0") return Duration::zero();
  static const std::map<std::string_view, double> units = {
      {"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3}, {"s", 1.0}, {"m", 60.0}, {"h", 3600.0}};
  double total = 0;
  if (text.empty()) return std::nullopt;
  while (!text.empty()) {
    std::size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    const std::string number(text.substr(0, i));
    if (number == "." || std::count(number.begin(), number.end(), '.') > 1) return std::nullopt;
    text.remove_prefix(i);
    std::size_t j = 0;
    while (j < text.size() && !std::isdigit(static_cast<unsigned char>(text[j])) && text[j] != '.') ++j;
    const auto unit = units.find(text.substr(0, j));
    if (j == 0 || unit == units.end()) return std::nullopt;
    text.remove_prefix(j);
    total += std::stod(number) * unit->second;
  }
  if (total > 1e9) return std::nullopt;  // beyond any sensible timeout, and far from overflow
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(total));
}

std::optional<BindAddress> parseBindAddress(std::string_view text) {
  if (text == "0") return std::nullopt;
  const std::string shown = "\"" + std::string(text) + "\"";
  if (!text.empty() && text.front() == '[') {
    throw std::invalid_argument(shown + ": IPv6 addresses are not supported (the HTTP servers bind IPv4 only)");
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw std::invalid_argument(shown + ": want host:port, :port, or 0 to disable");
  }
  BindAddress out;
  out.host = std::string(text.substr(0, colon));
  if (out.host.find(':') != std::string::npos) {
    throw std::invalid_argument(shown + ": IPv6 addresses are not supported (the HTTP servers bind IPv4 only)");
  }
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    throw std::invalid_argument(shown + ": the port must be a number from 0 to 65535");
  }
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

std::string toString(const BindAddress& address) {
  return (address.host.empty() ? std::string("0.0.0.0") : address.host) + ":" + std::to_string(address.port);
}

std::variant<Flags, FlagError> parseFlags(const std::vector<std::string>& args) {
  Flags flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      flags.help = true;
      continue;
    }
    if (arg == "--") {
      if (i + 1 < args.size()) return FlagError{"unexpected argument \"" + args[i + 1] + "\""};
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') return FlagError{"unexpected argument \"" + arg + "\" (flags start with --)"};
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (const auto eq = body.find('='); eq != std::string::npos) {
      value = body.substr(eq + 1);
      body.resize(eq);
    }
    const FlagSpec* spec = findSpec(body);
    if (!spec) return FlagError{"unknown flag --" + body + " (see --help)"};
    if (!value) {
      if (spec->boolean) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return FlagError{"flag --" + body + " needs a value"};
      }
    }
    try {
      spec->apply(flags, *value);
    } catch (const std::invalid_argument& e) {
      return FlagError{"invalid value \"" + *value + "\" for --" + body + ": " + e.what()};
    }
  }
  // client-go's LeaderElectionConfig rules.
  if (flags.leaseDuration <= flags.renewDeadline) {
    return FlagError{"--leader-elect-lease-duration (" + formatDuration(flags.leaseDuration) +
                     ") must be greater than --leader-elect-renew-deadline (" + formatDuration(flags.renewDeadline) +
                     ")"};
  }
  if (flags.retryPeriod <= Duration::zero()) {
    return FlagError{"--leader-elect-retry-period must be greater than 0"};
  }
  if (std::chrono::duration<double>(flags.renewDeadline).count() <=
      1.2 * std::chrono::duration<double>(flags.retryPeriod).count()) {
    return FlagError{"--leader-elect-renew-deadline (" + formatDuration(flags.renewDeadline) +
                     ") must be greater than 1.2 x --leader-elect-retry-period (" +
                     formatDuration(flags.retryPeriod) + ")"};
  }
  return flags;
}

std::variant<Flags, FlagError> parseFlags(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parseFlags(args);
}

std::string usage(std::string_view program) {
  std::string out = fmt::format("Usage: {} [flags]\n\nFlags:\n", program);
  for (const auto& s : specs()) {
    const std::string left = std::string("--") + s.name + (s.boolean ? "" : std::string(" ") + s.valueName);
    out += fmt::format("  {:<40} {}\n", left, s.help);
  }
  return out;
}

}  // namespace mv::runtime::manager
