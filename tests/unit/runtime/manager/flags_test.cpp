#include "runtime/manager/flags.h"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using namespace mv::runtime::manager;

namespace {

Flags ok(std::vector<std::string> args) {
  auto r = parseFlags(args);
  if (auto* e = std::get_if<FlagError>(&r)) FAIL_CHECK("unexpected error: " << e->message);
  REQUIRE(std::holds_alternative<Flags>(r));
  return std::get<Flags>(r);
}

std::string error(std::vector<std::string> args) {
  auto r = parseFlags(args);
  REQUIRE_MESSAGE(std::holds_alternative<FlagError>(r), "expected an error");
  return std::get<FlagError>(r).message;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("parseFlags: defaults are controller-runtime's") {
  const Flags f = ok({});
  CHECK((f.metricsBindAddress == BindAddress{"", 8080}));
  CHECK((f.healthProbeBindAddress == BindAddress{"", 8081}));
  CHECK_FALSE(f.leaderElect);
  CHECK(f.leaseDuration == 15s);
  CHECK(f.renewDeadline == 10s);
  CHECK(f.retryPeriod == 2s);
  CHECK(f.leaderElectionId == "medivote-operator-leader");
  CHECK(f.maxConcurrentReconciles == 1);
  CHECK(f.gracefulShutdownTimeout == 30s);
  CHECK(f.cacheSyncTimeout == 2min);
  CHECK(f.logLevel == mv::log::Level::Info);
  CHECK(f.logFormat == mv::log::Format::Logfmt);
  CHECK(f.kubeApiQps == 20);
  CHECK(f.kubeApiBurst == 30);
  CHECK(f.watchNamespace.empty());
  CHECK_FALSE(f.help);
}

TEST_CASE("parseFlags: every flag, with = and with a separate value") {
  const Flags f = ok({"--metrics-bind-address=127.0.0.1:9090", "--health-probe-bind-address", ":0", "--leader-elect",
                      "--leader-elect-lease-duration=30s", "--leader-elect-renew-deadline", "20s",
                      "--leader-elect-retry-period=4s", "--leader-election-id=my-lease",
                      "--leader-election-namespace", "ops", "--max-concurrent-reconciles=4",
                      "--graceful-shutdown-timeout=1m30s", "--cache-sync-timeout", "45s", "--log-level=debug",
                      "--log-format", "json", "--kubeconfig=/tmp/kc", "--context", "kind-a", "--kube-api-qps=50.5",
                      "--kube-api-burst", "100", "-watch-namespace=prod"});
  CHECK((f.metricsBindAddress == BindAddress{"127.0.0.1", 9090}));
  CHECK((f.healthProbeBindAddress == BindAddress{"", 0}));
  CHECK(f.leaderElect);
  CHECK(f.leaseDuration == 30s);
  CHECK(f.renewDeadline == 20s);
  CHECK(f.retryPeriod == 4s);
  CHECK(f.leaderElectionId == "my-lease");
  CHECK(f.leaderElectionNamespace == "ops");
  CHECK(f.maxConcurrentReconciles == 4);
  CHECK(f.gracefulShutdownTimeout == 90s);
  CHECK(f.cacheSyncTimeout == 45s);
  CHECK(f.logLevel == mv::log::Level::Debug);
  CHECK(f.logFormat == mv::log::Format::Json);
  CHECK(f.kubeconfig == "/tmp/kc");
  CHECK(f.context == "kind-a");
  CHECK(f.kubeApiQps == 50.5);
  CHECK(f.kubeApiBurst == 100);
  CHECK(f.watchNamespace == "prod");
}

TEST_CASE("parseFlags: \"0\" disables a server, and boolean flags take only attached values") {
  const Flags f = ok({"--metrics-bind-address=0", "--health-probe-bind-address", "0", "--leader-elect=false"});
  CHECK_FALSE(f.metricsBindAddress.has_value());
  CHECK_FALSE(f.healthProbeBindAddress.has_value());
  CHECK_FALSE(f.leaderElect);
  CHECK(ok({"--leader-elect=true"}).leaderElect);
  CHECK(contains(error({"--leader-elect", "false"}), "unexpected argument \"false\""));
  CHECK(contains(error({"--leader-elect=maybe"}), "--leader-elect"));
  CHECK(ok({"--help"}).help);
  CHECK(ok({"-h"}).help);
  CHECK(ok({"--version"}).version);
}

TEST_CASE("parseFlags: clear errors for bad values") {
  CHECK(error({"--no-such-flag"}) == "unknown flag --no-such-flag (see --help)");
  CHECK(error({"--max-concurrent-reconciles"}) == "flag --max-concurrent-reconciles needs a value");
  CHECK(contains(error({"--max-concurrent-reconciles=0"}), "from 1 to 1000"));
  CHECK(contains(error({"--max-concurrent-reconciles=two"}), "want an integer"));
  CHECK(contains(error({"--metrics-bind-address=[::1]:8080"}), "IPv6"));
  CHECK(contains(error({"--metrics-bind-address=8080"}), "want host:port"));
  CHECK(contains(error({"--health-probe-bind-address=:99999"}), "0 to 65535"));
  CHECK(contains(error({"--health-probe-bind-address=:"}), "0 to 65535"));
  CHECK(contains(error({"--graceful-shutdown-timeout=30"}), "duration"));
  CHECK(contains(error({"--graceful-shutdown-timeout=-5s"}), "duration"));
  CHECK(contains(error({"--cache-sync-timeout=0s"}), "positive"));
  CHECK(contains(error({"--log-level=verbose"}), "debug, info, warn or error"));
  CHECK(contains(error({"--log-format=xml"}), "logfmt or json"));
  CHECK(contains(error({"--kube-api-qps=0"}), "above 0"));
  CHECK(contains(error({"--kube-api-qps=fast"}), "number"));
  CHECK(contains(error({"--kube-api-burst=0"}), "from 1"));
  CHECK(contains(error({"--leader-election-id="}), "non-empty"));
  CHECK(contains(error({"stray"}), "unexpected argument \"stray\""));
  CHECK(contains(error({"--log-level=info", "--", "x"}), "unexpected argument \"x\""));
}

TEST_CASE("parseFlags: leader-election timings follow client-go's rules") {
  CHECK(contains(error({"--leader-elect-lease-duration=10s"}),
                 "--leader-elect-lease-duration (10s) must be greater than --leader-elect-renew-deadline (10s)"));
  CHECK(contains(error({"--leader-elect-retry-period=9s"}), "1.2 x --leader-elect-retry-period (9s)"));
  CHECK(contains(error({"--leader-elect-retry-period=0s"}), "greater than 0"));
  ok({"--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=500ms"});
}

TEST_CASE("parseDuration reads Go durations") {
  CHECK(parseDuration("0") == Duration::zero());
  CHECK(parseDuration("500ms") == 500ms);
  CHECK(parseDuration("1m30s") == 90s);
  CHECK(parseDuration("1.5h") == 90min);
  CHECK(parseDuration("2h45m") == 165min);
  CHECK(parseDuration("10us") == 10us);
  CHECK(parseDuration("7ns") == 7ns);
  CHECK_FALSE(parseDuration("").has_value());
  CHECK_FALSE(parseDuration("15").has_value());
  CHECK_FALSE(parseDuration("s").has_value());
  CHECK_FALSE(parseDuration("1x").has_value());
  CHECK_FALSE(parseDuration("-1s").has_value());
  CHECK_FALSE(parseDuration("1..5s").has_value());
}

TEST_CASE("usage lists every flag") {
  const std::string text = usage("medivote-controller");
  for (const char* flag :
       {"--metrics-bind-address", "--health-probe-bind-address", "--leader-elect ", "--leader-elect-lease-duration",
        "--leader-elect-renew-deadline", "--leader-elect-retry-period", "--leader-election-id",
        "--leader-election-namespace", "--max-concurrent-reconciles", "--graceful-shutdown-timeout",
        "--cache-sync-timeout", "--log-level", "--log-format", "--kubeconfig", "--context", "--kube-api-qps",
        "--kube-api-burst", "--watch-namespace", "--help"}) {
    CAPTURE(flag);
    CHECK(contains(text, flag));
  }
  CHECK(text.rfind("Usage: medivote-controller [flags]", 0) == 0);
}
