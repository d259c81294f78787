#pragma once
// The manager owns the operator's lifecycle (controller-runtime's manager): the metrics and probe servers, the
// runnables that run on every replica (informers), the wait for their caches, leader election, and the runnables
// that run only while leading (controllers).
//
// run() goes through these phases, in order:
//   Starting        the metrics and probe servers bind (a bind failure ends run() with exit code 1);
//                   the non-leader runnables start.
//   SyncingCaches   every cache sync function must report synced within --cache-sync-timeout (else exit code 1).
//                   /readyz's "informers-synced" check passes from here on.
//   Campaigning     with a LeaderElector, waits until this replica leads. Without one, it leads at once.
//   Leading         the leader-only runnables (controllers) run.
//   Stopping        see below.
//   Stopped         run() has returned.
//
// How it ends:
// - requestStop() (SIGTERM/SIGINT, via TerminationSignals): leader runnables stop taking new work and in-flight work
//   gets --graceful-shutdown-timeout to finish; then the lease is released (LeaderElector::stop), the other runnables
//   and the servers stop. Exit code 0, or 1 when the grace period ran out.
// - Leadership lost (the elector could not renew): the leader runnables stop taking work AT ONCE, with no grace
//   period, because another replica may already be leading; exit code 1, so that the process restarts afresh as
//   controller-runtime's does. Leader election does not fence: in-flight reconciles of the old leader may overlap
//   with the new leader's, which is why reconcile effects must be safe to repeat (reconcile/reconciler.h).
// - A runnable that fails to start, or an elector whose run() returns without having led while no stop was
//   requested: exit code 1.
//
// When in-flight work did not finish (abandonedWork()), its threads still run: the caller must end the process with
// std::_Exit(code) instead of destroying the runnables.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/controller/controller.h"
#include "runtime/health/checks.h"
#include "runtime/health/probe_server.h"
#include "runtime/leaderelection/leader_elector.h"
#include "runtime/manager/flags.h"
#include "runtime/manager/runnable.h"
#include "runtime/metrics/metrics_server.h"
#include "runtime/metrics/registry.h"
#include "util/clock.h"

namespace mv::runtime::manager {

struct ManagerOptions {
  std::optional<BindAddress> metricsBindAddress;      // nullopt: no metrics server
  std::optional<BindAddress> healthProbeBindAddress;  // nullopt: no probe server
  Duration gracefulShutdownTimeout = kDefaultGracefulShutdownTimeout;
  Duration cacheSyncTimeout = kDefaultCacheSyncTimeout;

  static ManagerOptions fromFlags(const Flags& flags);
};

// Blocks until the cache is synced (true) or `deadline` passes on the manager's clock (false), e.g.
// Informer::waitForSync. The manager calls it with deadlines at most 1 s apart, so that a stop request is noticed.
using CacheSync = std::function<bool(util::Clock::TimePoint deadline)>;

class Manager {
 public:
  enum class Phase { Created, Starting, SyncingCaches, Campaigning, Leading, Stopping, Stopped };
  static constexpr int kExitOk = 0;
  static constexpr int kExitError = 1;

  Manager(ManagerOptions options, util::Clock& clock, metrics::Registry& registry);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Set up before run(). The manager does not own what it is given: it must outlive run().
  void setLeaderElector(leaderelection::LeaderElector* elector);
  void add(RunnablePtr runnable);
  // A controller runs only while leading.
  void addController(controller::Controller& controller);
  void addCacheSync(std::string name, CacheSync sync);
  void addHealthzCheck(std::string name, health::Check check);
  void addReadyzCheck(std::string name, health::Check check);

  // Blocks until the manager has stopped; returns the process exit code (see above). Called once.
  int run();
  // Thread-safe, idempotent, and safe before run(): asks run() to stop gracefully.
  void requestStop();

  bool abandonedWork() const;
  Phase phase() const;
  // Waits (in real time, for tests and wiring) until the manager has reached `phase` or a later one.
  bool awaitPhase(Phase phase, std::chrono::milliseconds timeout) const;
  // The bound ports once past Starting; 0 when that server is disabled.
  std::uint16_t metricsPort() const;
  std::uint16_t healthProbePort() const;

 private:
  enum class SyncOutcome { Synced, StopRequested, TimedOut };

  void setPhase(Phase phase);
  bool startServers();
  bool startAll(bool leaderOnly);
  bool stopAll(bool leaderOnly, util::Clock::TimePoint deadline);
  SyncOutcome waitForCaches();
  void startElector();
  void stopElector();
  int shutdown(int exitCode, bool graceful);

  ManagerOptions options_;
  util::Clock& clock_;
  metrics::Registry& registry_;
  leaderelection::LeaderElector* elector_ = nullptr;
  std::vector<RunnablePtr> runnables_;
  std::vector<std::pair<std::string, CacheSync>> caches_;
  std::vector<RunnablePtr> started_;  // in start order; stopped in reverse
  health::Checks healthz_;
  health::Checks readyz_;
  std::unique_ptr<metrics::MetricsServer> metricsServer_;
  std::unique_ptr<health::ProbeServer> probeServer_;
  std::thread electorThread_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  Phase phase_ = Phase::Created;
  bool stopRequested_ = false;
  bool leading_ = false;
  bool lost_ = false;         // onStoppedLeading came without a stop request
  bool electorDone_ = false;  // the elector's run() returned
  bool synced_ = false;
  bool abandoned_ = false;
};

}  // namespace mv::runtime::manager
