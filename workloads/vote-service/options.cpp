#include "options.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "process/flags.h"

namespace mv::workloads::vote {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string trim(std::string s) {
  const auto ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

}  // namespace

std::optional<double> parseRate(const std::string& text) {
  std::string number = text;
  double per = 1.0;
  if (const auto slash = text.find('/'); slash != std::string::npos) {
    const auto unit = text.substr(slash + 1);
    number = text.substr(0, slash);
    if (unit == "s" || unit == "sec") {
      per = 1.0;
    } else if (unit == "m" || unit == "min") {
      per = 60.0;
    } else {
      return std::nullopt;
    }
  }
  try {
    size_t used = 0;
    const double n = std::stod(number, &used);
    if (used != number.size() || n < 0) return std::nullopt;
    return n / per;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

ParsedOptions parseOptions(int argc, char** argv) {
  Options o;
  const auto podIp = net::Address::parse(env("POD_IP"));
  const auto defaultHost = podIp.value_or(*net::Address::parse("127.0.0.1"));
  o.listen.host = defaultHost;
  o.listen.port = 8080;
  if (!env("DATA_DIR").empty()) o.dataDir = env("DATA_DIR");

  std::string tokenFile;
  process::Flags flags("medivote-vote-service",
                       "The reference critical MediVote service: takes votes, saves them on a graceful shutdown.");
  flags.addCustom(
      "listen",
      [&](const std::string& v) {
        auto ep = net::Endpoint::parse(v, defaultHost);
        if (!ep) return "--listen: expected HOST:PORT, [IPV6]:PORT or :PORT, got " + v;
        o.listen = *ep;
        return std::string();
      },
      "address to listen on (default $POD_IP:8080, else 127.0.0.1:8080; port 0 picks a free port)", "HOST:PORT");
  flags.addString("data-dir", &o.dataDir, "directory of votes.json and events.log (the pod's claim; $DATA_DIR)");
  flags.addString("token-file", &tokenFile,
                  "file holding the bearer token POST /shutdown requires (else $SHUTDOWN_TOKEN; none: no check)");
  flags.addCustom(
      "allow",
      [&](const std::string& v) {
        std::string bad;
        auto list = net::Allowlist::parse(v, &bad);
        if (!list) return "--allow: not a CIDR block: " + bad;
        o.allow = *list;
        return std::string();
      },
      "peer networks allowed to call POST /shutdown, comma-separated (default: all)", "CIDR[,CIDR]");
  flags.addCustom(
      "rate-limit",
      [&](const std::string& v) {
        auto rate = parseRate(v);
        if (!rate) return "--rate-limit: expected N/s or N/min, got " + v;
        o.rateLimitPerSecond = *rate;
        return std::string();
      },
      "most POST /shutdown calls answered per second, beyond which 429 (default 0: no limit)", "N/s");
  flags.addInt("exit-delay-ms", &o.exitDelayMs, "time from an accepted POST /shutdown to the exit, at least");
  flags.addInt("save-delay-ms", &o.saveDelayMs, "simulated extra time the save takes");
  flags.addInt("vote-delay-ms", &o.voteDelayMs, "simulated processing time of each vote before it is stored");
  flags.addInt("drain-timeout-ms", &o.drainTimeoutMs, "the most a shutdown waits for votes in flight");
  flags.addInt("busy-on-start-seconds", &o.busyOnStartSeconds, "busy (POST /shutdown gets 409) from the start");
  flags.addInt("busy-on-shutdown-seconds", &o.busyOnShutdownSeconds,
               "the first POST /shutdown finds the service busy for that long from then on");
  flags.addBool("save-on-sigterm", &o.saveOnSigterm, "save the votes on SIGTERM without a prior HTTP shutdown");

  if (auto code = flags.parse(argc, argv)) return {std::nullopt, *code};

  if (!tokenFile.empty()) {
    std::ifstream in(tokenFile);
    if (!in) {
      std::cerr << "medivote-vote-service: cannot read --token-file " << tokenFile << "\n";
      return {std::nullopt, 2};
    }
    std::stringstream ss;
    ss << in.rdbuf();
    o.token = trim(ss.str());
    if (o.token->empty()) {
      std::cerr << "medivote-vote-service: --token-file " << tokenFile << " is empty\n";
      return {std::nullopt, 2};
    }
  } else if (auto t = trim(env("SHUTDOWN_TOKEN")); !t.empty()) {
    o.token = t;
  }
  if (o.dataDir.empty()) {
    std::cerr << "medivote-vote-service: --data-dir is empty\n";
    return {std::nullopt, 2};
  }
  return {o, 0};
}

}  // namespace mv::workloads::vote
