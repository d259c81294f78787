// medivote-vote-service: the reference critical MediVote service. main wires the parts and runs the shutdown
// sequence; the contract is in README.md and routes.h, the state machine in lifecycle.h.

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "events_log.h"
#include "http/server.h"
#include "lifecycle.h"
#include "options.h"
#include "process/signals.h"
#include "routes.h"
#include "state_file.h"

namespace vote = mv::workloads::vote;
namespace http = mv::workloads::http;
using std::chrono::milliseconds;

namespace {

// How long the final stop of the HTTP server waits for connections that are mid-request.
constexpr milliseconds kServerStopGrace{1000};

}  // namespace

int main(int argc, char** argv) {
  auto parsed = vote::parseOptions(argc, argv);
  if (!parsed.options) return parsed.exitCode;
  const vote::Options& opts = *parsed.options;

  std::error_code ec;
  std::filesystem::create_directories(opts.dataDir, ec);
  if (ec) {
    std::cerr << "vote-service: cannot create data dir " << opts.dataDir << ": " << ec.message() << std::endl;
    return 1;
  }
  std::unique_ptr<vote::EventsLog> events;
  try {
    events = std::make_unique<vote::EventsLog>((std::filesystem::path(opts.dataDir) / "events.log").string());
  } catch (const std::exception& e) {
    std::cerr << "vote-service: " << e.what() << std::endl;
    return 1;
  }
  std::string loadError;
  auto loaded = vote::loadState(opts.dataDir, &loadError);
  if (!loaded) {
    // Starting empty would overwrite votes at the next save: refuse instead.
    events->record("start-failed", "reason=unreadable-state");
    std::cerr << "vote-service: " << loadError << std::endl;
    return 1;
  }
  const size_t loadedCount = loaded->size();

  vote::Lifecycle lifecycle(std::move(*loaded), *events,
                            {milliseconds(opts.busyOnStartSeconds * 1000), milliseconds(opts.busyOnShutdownSeconds * 1000)});
  // Before any other thread exists (the watcher blocks the signals in this thread and its future children).
  mv::workloads::process::SignalWatcher signals([&](int signo) { lifecycle.onSignal(signo); });

  vote::Routes routes(opts, lifecycle);
  http::Server::Options serverOptions;
  serverOptions.serverName = "medivote-vote-service";
  http::Server server([&](const http::Request& r) { return routes.handle(r); }, serverOptions);
  mv::workloads::net::Endpoint bound;
  try {
    bound = server.listen(opts.listen);
  } catch (const std::exception& e) {
    events->record("start-failed", "reason=listen");
    std::cerr << "vote-service: " << e.what() << std::endl;
    return 1;
  }
  server.start();
  events->record("start", "pid=" + std::to_string(getpid()) + " listen=" + bound.str() +
                              " loaded=" + std::to_string(loadedCount));
  std::cerr << "vote-service: data dir " << opts.dataDir << ", token " << (opts.token ? "required" : "not required")
            << ", allow " << opts.allow.str() << std::endl;
  std::cout << "listening on http://" << bound.str() << std::endl;

  const auto trigger = lifecycle.awaitTrigger();
  int code = 0;
  if (trigger == vote::Trigger::Signal && !opts.saveOnSigterm) {
    events->record("save-skipped", "votes=" + std::to_string(lifecycle.count()));
    lifecycle.finish();
  } else {
    const auto snapshot = lifecycle.beginSaving(milliseconds(opts.drainTimeoutMs));
    const auto started = std::chrono::steady_clock::now();
    if (opts.saveDelayMs > 0) std::this_thread::sleep_for(milliseconds(opts.saveDelayMs));
    std::string saveError;
    if (vote::saveState(opts.dataDir, snapshot, &saveError)) {
      const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
      events->record("saved", "votes=" + std::to_string(snapshot.size()) + " ms=" + std::to_string(took.count()));
    } else {
      events->record("save-failed", "votes=" + std::to_string(snapshot.size()));
      std::cerr << "vote-service: save failed: " << saveError << std::endl;
      code = 1;
    }
    lifecycle.finish();
  }
  if (trigger == vote::Trigger::Http) lifecycle.awaitExit(milliseconds(opts.exitDelayMs));
  server.stop(kServerStopGrace);
  events->record("exit", "code=" + std::to_string(code));
  std::cout.flush();
  std::cerr.flush();
  // Connection threads may still be finishing: leave without running destructors under them.
  _exit(code);
}
