// medivote-agent: the in-pod shutdown agent (issue 8, section 3). It runs as a native sidecar of a critical pod,
// takes the operator's authenticated POST /shutdown on a pod port, and forwards it to the service on loopback,
// where the service's allowlist accepts it. See routes.h for its API and forwarder.h for how it follows the
// shutdown to the service's exit.
//
// Process contract:
// - exit 2 on a bad command line, 1 when it cannot listen; 0 on SIGTERM or SIGINT, at once, even in the middle of a
//   forwarded call (a native sidecar must outlive the main container, then stop without delay);
// - single-threaded: a forwarded call (at most --target-timeout-seconds) holds other requests, /healthz included;
// - the log line "listening on ADDR:PORT; ..." is written once the socket accepts connections.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "forwarder.h"
#include "log.h"
#include "net/http_server.h"
#include "options.h"
#include "routes.h"
#include "token_file.h"

int main(int argc, char** argv) {
  using namespace mv;
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* podIp = std::getenv("POD_IP");
  agent::ParseResult parsed = agent::parseOptions(args, podIp ? std::optional<std::string>(podIp) : std::nullopt);
  if (!parsed.options) {
    std::fprintf(stderr, "medivote-agent: %s\n%s", parsed.error.c_str(), agent::usage());
    return 2;
  }
  const agent::Options& options = *parsed.options;
  if (options.help) {
    std::fputs(agent::usage(), stdout);
    return 0;
  }

  // SIGTERM and SIGINT are taken from a signalfd, so that the serving loop and a forwarded call both see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  net::Fd signalFd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signalFd) {
    agent::logLine("signalfd: %s", std::strerror(errno));
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  agent::TokenFile token(options.tokenFile);
  token.reload();
  agent::Forwarder forwarder(options, signalFd.get());
  agent::Routes routes(token, forwarder);

  net::ServerOptions serverOptions;
  serverOptions.maxHeadBytes = 8 * 1024;
  serverOptions.maxBodyBytes = 4 * 1024;  // no route takes a body
  serverOptions.maxConnections = 16;
  std::optional<net::HttpServer> server;
  try {
    server.emplace(options.listen, [&](const net::ServerRequest& r) { return routes.handle(r); }, serverOptions);
  } catch (const std::system_error& e) {
    agent::logLine("cannot listen: %s", e.what());
    return 1;
  }
  agent::logLine("listening on %s; forwarding %s %s to port %d", server->localAddress().toString().c_str(),
                 options.targetMethod.c_str(), options.targetPath.c_str(), options.targetPort);

  for (;;) {
    auto wait = forwarder.untilNextTick();
    if (wait > std::chrono::seconds(1)) wait = std::chrono::seconds(1);
    if (server->serveOnce(wait, signalFd.get())) break;
    forwarder.tick();
  }
  signalfd_siginfo info{};
  if (::read(signalFd.get(), &info, sizeof(info)) == sizeof(info))
    agent::logLine("%s: exiting", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
  return 0;
}
