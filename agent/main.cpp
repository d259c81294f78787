// medivote-agent: the in-pod shutdown agent (issues 8, 12, 13). It runs as a native sidecar of a critical pod, takes
// the kubelet's preStop hook (the proof that the pod is being terminated, termination.h) and the operator's
// authenticated POST /shutdown on a pod port, and forwards the call to the service on loopback, where the service's
// allowlist accepts it. See routes.h for its API, prestop_hold.h for how long the hook is held and forwarder.h for
// how it follows the shutdown to the service's exit.
//
// Process contract:
// - exit 2 on a bad command line, 1 when it cannot listen; 0 on SIGTERM or SIGINT, at once, even while a call is
//   forwarded or a hook held (a native sidecar must outlive the main container, then stop without delay);
// - one poll loop for the connections, each request handled on a thread of its own (kHandlerThreads at most): a held
//   hook or a forwarded call delays no other request, /healthz included;
// - the log line "listening on ADDR:PORT; ..." is written once the socket accepts connections.
#include <malloc.h>
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
#include "termination.h"
#include "token_file.h"

namespace {

// Requests handled at once: a held hook or two, a forwarded call, state reads and probes. One more is answered 503.
constexpr std::size_t kHandlerThreads = 8;

}  // namespace

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

  // One malloc arena for all threads: the handler threads allocate little, and each arena costs resident memory.
  mallopt(M_ARENA_MAX, 1);

  // SIGTERM and SIGINT are taken from a signalfd, so that the serving loop and a forwarded call both see them. They
  // are blocked before any thread starts, so no thread takes them by their default action.
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
  agent::Termination termination;
  agent::Routes routes(options, token, termination, forwarder, signalFd.get());

  net::ServerOptions serverOptions;
  serverOptions.maxHeadBytes = 8 * 1024;
  serverOptions.maxBodyBytes = 4 * 1024;  // no route takes a body
  serverOptions.maxConnections = 16;
  serverOptions.handlerThreads = kHandlerThreads;
  std::optional<net::HttpServer> server;
  try {
    server.emplace(options.listen, [&](const net::ServerRequest& r) { return routes.handle(r); }, serverOptions);
  } catch (const std::system_error& e) {
    agent::logLine("cannot listen: %s", e.what());
    return 1;
  }
  agent::logLine("listening on %s; forwarding %s %s to port %d; preStop hold %lld ms, exit timeout %lld ms, "
                 "await termination %lld ms",
                 server->localAddress().toString().c_str(), options.targetMethod.c_str(), options.targetPath.c_str(),
                 options.targetPort, static_cast<long long>(options.preStopHold.count()),
                 static_cast<long long>(options.exitTimeout.count()),
                 static_cast<long long>(options.awaitTermination.count()));

  for (;;) {
    auto wait = forwarder.untilNextTick();
    if (wait > std::chrono::seconds(1)) wait = std::chrono::seconds(1);
    if (server->serveOnce(wait, signalFd.get())) break;
    forwarder.tick();
  }
  signalfd_siginfo info{};
  if (::read(signalFd.get(), &info, sizeof(info)) == sizeof(info))
    agent::logLine("%s: exiting", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
  // At once, without unwinding: handler threads may be blocked in a hold or a call that they would otherwise finish
  // first (the server's destructor waits for them). Nothing is left to flush: the log is written line by line.
  std::_Exit(0);
}
