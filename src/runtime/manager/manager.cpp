#include "runtime/manager/manager.h"

#include <algorithm>

#include "util/log.h"

namespace mv::runtime::manager {
namespace {

constexpr auto kCacheSyncSlice = std::chrono::seconds(1);

const char* phaseName(Manager::Phase p) {
  switch (p) {
    case Manager::Phase::Created: return "created";
    case Manager::Phase::Starting: return "starting";
    case Manager::Phase::SyncingCaches: return "syncing-caches";
    case Manager::Phase::Campaigning: return "campaigning";
    case Manager::Phase::Leading: return "leading";
    case Manager::Phase::Stopping: return "stopping";
    case Manager::Phase::Stopped: return "stopped";
  }
  return "unknown";
}

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

ManagerOptions ManagerOptions::fromFlags(const Flags& flags) {
  ManagerOptions o;
  o.metricsBindAddress = flags.metricsBindAddress;
  o.healthProbeBindAddress = flags.healthProbeBindAddress;
  o.gracefulShutdownTimeout = flags.gracefulShutdownTimeout;
  o.cacheSyncTimeout = flags.cacheSyncTimeout;
  return o;
}

Manager::Manager(ManagerOptions options, util::Clock& clock, metrics::Registry& registry)
    : options_(std::move(options)), clock_(clock), registry_(registry) {
  healthz_.add("ping", [] { return std::optional<std::string>(); });
  readyz_.add("informers-synced", [this]() -> std::optional<std::string> {
    std::lock_guard<std::mutex> g(mu_);
    if (synced_) return std::nullopt;
    return std::string("the informer caches have not synced yet");
  });
}

Manager::~Manager() {
  if (electorThread_.joinable()) stopElector();
  probeServer_.reset();
  metricsServer_.reset();
}

void Manager::setLeaderElector(leaderelection::LeaderElector* elector) { elector_ = elector; }

void Manager::add(RunnablePtr runnable) { runnables_.push_back(std::move(runnable)); }

void Manager::addController(controller::Controller& c) {
  add(makeRunnable(
      "controller/" + c.name(), true, [&c] { c.start(); },
      [&c](util::Clock::TimePoint deadline) { return c.stop(deadline); }));
}

void Manager::addCacheSync(std::string name, CacheSync sync) { caches_.emplace_back(std::move(name), std::move(sync)); }

void Manager::addHealthzCheck(std::string name, health::Check check) { healthz_.add(std::move(name), std::move(check)); }

void Manager::addReadyzCheck(std::string name, health::Check check) { readyz_.add(std::move(name), std::move(check)); }

void Manager::requestStop() {
  std::lock_guard<std::mutex> g(mu_);
  if (!stopRequested_) log::info("stop requested");
  stopRequested_ = true;
  changed_.notify_all();
}

bool Manager::abandonedWork() const {
  std::lock_guard<std::mutex> g(mu_);
  return abandoned_;
}

Manager::Phase Manager::phase() const {
  std::lock_guard<std::mutex> g(mu_);
  return phase_;
}

bool Manager::awaitPhase(Phase phase, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return phase_ >= phase; });
}

std::uint16_t Manager::metricsPort() const {
  std::lock_guard<std::mutex> g(mu_);
  return metricsServer_ ? metricsServer_->port() : 0;
}

std::uint16_t Manager::healthProbePort() const {
  std::lock_guard<std::mutex> g(mu_);
  return probeServer_ ? probeServer_->port() : 0;
}

void Manager::setPhase(Phase phase) {
  {
    std::lock_guard<std::mutex> g(mu_);
    phase_ = phase;
    changed_.notify_all();
  }
  log::info("manager phase", {{"phase", phaseName(phase)}});
}

bool Manager::startServers() {
  try {
    if (options_.metricsBindAddress) {
      auto server = std::make_unique<metrics::MetricsServer>(registry_, options_.metricsBindAddress->host,
                                                             options_.metricsBindAddress->port);
      log::info("serving metrics", {{"address", options_.metricsBindAddress->host + ":" +
                                                    std::to_string(server->port())}});
      std::lock_guard<std::mutex> g(mu_);
      metricsServer_ = std::move(server);
    }
    if (options_.healthProbeBindAddress) {
      auto server = std::make_unique<health::ProbeServer>(options_.healthProbeBindAddress->host,
                                                          options_.healthProbeBindAddress->port, healthz_, readyz_);
      log::info("serving health probes", {{"address", options_.healthProbeBindAddress->host + ":" +
                                                          std::to_string(server->port())}});
      std::lock_guard<std::mutex> g(mu_);
      probeServer_ = std::move(server);
    }
    return true;
  } catch (const std::exception& e) {
    log::error("cannot start a server", {{"error", e.what()}});
    return false;
  }
}

bool Manager::startAll(bool leaderOnly) {
  for (const auto& r : runnables_) {
    if (r->needsLeaderElection() != leaderOnly) continue;
    started_.push_back(r);  // stop() is called even if start() throws half-way
    try {
      r->start();
    } catch (const std::exception& e) {
      log::error("runnable failed to start", {{"runnable", r->name()}, {"error", e.what()}});
      return false;
    }
  }
  return true;
}

bool Manager::stopAll(bool leaderOnly, util::Clock::TimePoint deadline) {
  bool finished = true;
  for (auto it = started_.rbegin(); it != started_.rend(); ++it) {
    if ((*it)->needsLeaderElection() != leaderOnly) continue;
    bool ok = false;
    try {
      ok = (*it)->stop(deadline);
    } catch (const std::exception& e) {
      log::error("runnable failed to stop", {{"runnable", (*it)->name()}, {"error", e.what()}});
    }
    if (!ok) {
      log::error("runnable did not finish its in-flight work in time", {{"runnable", (*it)->name()}});
      finished = false;
    }
  }
  started_.erase(std::remove_if(started_.begin(), started_.end(),
                                [&](const RunnablePtr& r) { return r->needsLeaderElection() == leaderOnly; }),
                 started_.end());
  return finished;
}

Manager::SyncOutcome Manager::waitForCaches() {
  const auto deadline = clock_.now() + options_.cacheSyncTimeout;
  for (const auto& [name, sync] : caches_) {
    while (true) {
      const auto now = clock_.now();
      {
        std::lock_guard<std::mutex> g(mu_);
        if (stopRequested_) return SyncOutcome::StopRequested;
      }
      if (now >= deadline) {
        log::error("timed out waiting for a cache to sync",
                   {{"cache", name}, {"timeoutSeconds", seconds(options_.cacheSyncTimeout)}});
        return SyncOutcome::TimedOut;
      }
      const auto slice = std::min(deadline, now + std::chrono::duration_cast<Duration>(kCacheSyncSlice));
      bool synced = false;
      try {
        synced = sync(slice);
      } catch (const std::exception& e) {
        log::warn("cache sync check failed", {{"cache", name}, {"error", e.what()}});
      }
      if (synced) break;
      // A sync function that answered early: wait out the slice, unless a stop is requested.
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopRequested_ && clock_.now() < slice) clock_.waitUntil(changed_, lock, slice);
    }
    log::info("cache synced", {{"cache", name}});
  }
  std::lock_guard<std::mutex> g(mu_);
  synced_ = true;
  return SyncOutcome::Synced;
}

void Manager::startElector() {
  electorThread_ = std::thread([this] {
    auto onStopped = [this] {
      std::lock_guard<std::mutex> g(mu_);
      leading_ = false;
      if (!stopRequested_) lost_ = true;
      changed_.notify_all();
    };
    try {
      elector_->run(
          [this] {
            std::lock_guard<std::mutex> g(mu_);
            leading_ = true;
            changed_.notify_all();
          },
          onStopped);
    } catch (const std::exception& e) {
      // An elector that fails can no longer vouch for the leadership: treat it as lost.
      log::error("leader election failed", {{"error", e.what()}});
      onStopped();
    }
    std::lock_guard<std::mutex> g(mu_);
    electorDone_ = true;
    changed_.notify_all();
  });
}

void Manager::stopElector() {
  if (!electorThread_.joinable()) return;
  elector_->stop();  // releases the lease when leading (release-on-cancel)
  electorThread_.join();
}

int Manager::run() {
  setPhase(Phase::Starting);
  if (!startServers()) return shutdown(kExitError, true);
  if (!startAll(false)) return shutdown(kExitError, true);

  setPhase(Phase::SyncingCaches);
  switch (waitForCaches()) {
    case SyncOutcome::StopRequested: return shutdown(kExitOk, true);
    case SyncOutcome::TimedOut: return shutdown(kExitError, true);
    case SyncOutcome::Synced: break;
  }

  if (elector_) {
    setPhase(Phase::Campaigning);
    startElector();
  } else {
    std::lock_guard<std::mutex> g(mu_);
    leading_ = true;
  }

  {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return stopRequested_ || leading_ || lost_ || electorDone_; });
    if (stopRequested_) {
      lock.unlock();
      return shutdown(kExitOk, true);
    }
    if (!leading_) {
      lock.unlock();
      log::error("leader election ended without this replica leading");
      return shutdown(kExitError, false);
    }
  }

  log::info("leading: starting controllers");
  if (!startAll(true)) return shutdown(kExitError, true);
  setPhase(Phase::Leading);

  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return stopRequested_ || lost_ || electorDone_; });
  if (stopRequested_) {
    lock.unlock();
    return shutdown(kExitOk, true);
  }
  lock.unlock();
  // Another replica may lead already: stop acting now, without waiting for a grace period.
  log::error("leader election lost: stopping at once");
  return shutdown(kExitError, false);
}

int Manager::shutdown(int exitCode, bool graceful) {
  setPhase(Phase::Stopping);
  const auto deadline = graceful ? clock_.now() + options_.gracefulShutdownTimeout : clock_.now();
  if (!stopAll(true, deadline)) {
    std::lock_guard<std::mutex> g(mu_);
    abandoned_ = true;
    if (graceful) log::error("in-flight work did not finish within the graceful shutdown timeout",
                             {{"timeoutSeconds", seconds(options_.gracefulShutdownTimeout)}});
    exitCode = kExitError;
  }
  // Only after the controllers stopped: a released lease lets another replica start acting at once.
  stopElector();
  if (!stopAll(false, std::max(deadline, clock_.now()))) {
    std::lock_guard<std::mutex> g(mu_);
    abandoned_ = true;
  }
  std::unique_ptr<health::ProbeServer> probe;
  std::unique_ptr<metrics::MetricsServer> metrics;
  {
    std::lock_guard<std::mutex> g(mu_);
    probe = std::move(probeServer_);
    metrics = std::move(metricsServer_);
  }
  // Destroyed outside mu_: the probe server's thread may be inside a check that takes mu_.
  probe.reset();
  metrics.reset();
  setPhase(Phase::Stopped);
  log::info("manager stopped", {{"exitCode", exitCode}});
  return exitCode;
}

}  // namespace mv::runtime::manager
