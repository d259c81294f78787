#include "options.h"

#include <charconv>

#include "net/http_message.h"

namespace mv::agent {

namespace {

bool parseInt(const std::string& text, long min, long max, long& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && out >= min && out <= max;
}

std::optional<net::SocketAddress> parseListen(const std::string& text) {
  if (auto a = net::parseHostPort(text)) return a;
  auto colon = text.rfind(':');
  if (colon == std::string::npos || text.find(':') == colon) return std::nullopt;
  long port = 0;
  if (!parseInt(text.substr(colon + 1), 0, 65535, port)) return std::nullopt;
  return net::parseIpLiteral(text.substr(0, colon), static_cast<std::uint16_t>(port));
}

// Decimal seconds ("10", "0.25") within [min, max], kept to the millisecond.
bool parseSeconds(const std::string& text, double min, double max, std::chrono::milliseconds& out) {
  auto dot = text.find('.');
  long whole = 0, millis = 0;
  std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (!parseInt(text.substr(0, dot), 0, 1000000, whole)) return false;
  if (dot != std::string::npos) {
    if (fraction.empty() || fraction.size() > 3 || !parseInt(fraction, 0, 999, millis)) return false;
    for (std::size_t i = fraction.size(); i < 3; ++i) millis *= 10;
  }
  double seconds = static_cast<double>(whole) + static_cast<double>(millis) / 1000.0;
  if (seconds < min || seconds > max) return false;
  out = std::chrono::milliseconds(whole * 1000 + millis);
  return true;
}

bool validPath(const std::string& path) {
  if (path.empty() || path.front() != '/' || path.find("..") != std::string::npos) return false;
  for (unsigned char c : path)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

const char* usage() {
  return "usage: medivote-agent --token-file FILE --target-port N [options]\n"
         "  --listen ADDR:PORT              where to serve (default 0.0.0.0:9901; [::]:9901 for IPv6)\n"
         "  --token-file FILE               the bearer token the caller must present (re-read when it changes)\n"
         "  --target loopback|loopback-ipv4|pod-ip\n"
         "                                  how to reach the service (default loopback: 127.0.0.1, then ::1)\n"
         "  --target-port N                 the service's port\n"
         "  --target-path /p                its shutdown path (default /shutdown)\n"
         "  --target-method M               its method (default POST)\n"
         "  --target-timeout-seconds S      the whole forwarded call (default 5)\n"
         "  --prestop-hold-seconds S        the longest GET /prestop (the kubelet's preStop hook) is held (default 10)\n"
         "  --exit-timeout-seconds S        after an accepted call, the longest the hook waits for the service's\n"
         "                                  port to close (default 10)\n"
         "  --await-termination-seconds S   how long POST /shutdown waits for the hook before 503 (default 2)\n"
         "  --caller-timeout-seconds S      optional: the caller's request timeout; the agent refuses to start\n"
         "                                  unless await + target timeout + 1 fit in it\n";
}

ParseResult parseOptions(const std::vector<std::string>& args, const std::optional<std::string>& podIp) {
  Options o;
  o.listen = *net::parseHostPort("0.0.0.0:9901");
  std::string target = "loopback";
  auto fail = [](std::string message) { return ParseResult{std::nullopt, std::move(message)}; };

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return {o, ""};
    }
    if (auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return fail(flag + " needs a value");
    }
    long n = 0;
    if (flag == "--listen") {
      auto a = parseListen(value);
      if (!a) return fail("--listen: not ADDR:PORT with an IP literal: " + value);
      o.listen = *a;
    } else if (flag == "--token-file") {
      o.tokenFile = value;
    } else if (flag == "--target") {
      target = value;
    } else if (flag == "--target-port") {
      if (!parseInt(value, 1, 65535, n)) return fail("--target-port: not a port: " + value);
      o.targetPort = static_cast<int>(n);
    } else if (flag == "--target-path") {
      if (!validPath(value)) return fail("--target-path: not a plain path: " + value);
      o.targetPath = value;
    } else if (flag == "--target-method") {
      if (!net::isToken(value)) return fail("--target-method: not a method: " + value);
      o.targetMethod = value;
    } else if (flag == "--target-timeout-seconds") {
      if (!parseInt(value, 1, 3600, n)) return fail("--target-timeout-seconds: not 1..3600: " + value);
      o.targetTimeout = std::chrono::seconds(n);
    } else if (flag == "--prestop-hold-seconds") {
      if (!parseSeconds(value, 0.001, 3600, o.preStopHold)) return fail("--prestop-hold-seconds: not 0.001..3600: " + value);
    } else if (flag == "--exit-timeout-seconds") {
      if (!parseSeconds(value, 0.001, 3600, o.exitTimeout)) return fail("--exit-timeout-seconds: not 0.001..3600: " + value);
    } else if (flag == "--await-termination-seconds") {
      if (!parseSeconds(value, 0, 3600, o.awaitTermination))
        return fail("--await-termination-seconds: not 0..3600: " + value);
    } else if (flag == "--caller-timeout-seconds") {
      std::chrono::milliseconds caller{};
      if (!parseSeconds(value, 0.001, 7200, caller)) return fail("--caller-timeout-seconds: not 0.001..7200: " + value);
      o.callerTimeout = caller;
    } else {
      return fail("unknown flag " + flag);
    }
  }
  if (o.tokenFile.empty()) return fail("--token-file is required");
  if (o.targetPort == 0) return fail("--target-port is required");
  if (o.callerTimeout && o.awaitTermination + o.targetTimeout + std::chrono::seconds(1) > *o.callerTimeout)
    return fail("--await-termination-seconds + --target-timeout-seconds + 1 s must not exceed --caller-timeout-seconds "
                "(" + std::to_string(o.awaitTermination.count()) + " ms + " + std::to_string(o.targetTimeout.count()) +
                " s + 1 s > " + std::to_string(o.callerTimeout->count()) + " ms): the caller would give up first");
  if (target == "loopback") {
    o.target = TargetReach::Loopback;
    o.targetIps = {"127.0.0.1", "::1"};
  } else if (target == "loopback-ipv4") {
    o.target = TargetReach::LoopbackIpv4;
    o.targetIps = {"127.0.0.1"};
  } else if (target == "pod-ip") {
    o.target = TargetReach::PodIp;
    if (!podIp || !net::parseIpLiteral(*podIp, 0)) return fail("--target pod-ip needs env POD_IP set to an IP literal");
    o.targetIps = {*podIp};
  } else {
    return fail("--target: not loopback, loopback-ipv4 or pod-ip: " + target);
  }
  return {o, ""};
}

}  // namespace mv::agent
