#include "runtime/leaderelection/lease_leader_elector.h"

#include <unistd.h>

#include <array>
#include <mutex>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include "util/log.h"

namespace mv::runtime::leaderelection {

namespace {

std::function<double()> defaultRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  auto mu = std::make_shared<std::mutex>();
  return [engine, mu] {
    std::lock_guard<std::mutex> lock(*mu);
    return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
  };
}

long toMillis(util::Clock::Duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

std::string defaultIdentity() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device device;
  std::uniform_int_distribution<unsigned> byte(0, 255);
  std::array<unsigned, 16> b{};
  for (auto& x : b) x = byte(device);
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return fmt::format("{}_{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     host.data(), b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                     b[13], b[14], b[15]);
}

LeaseLeaderElector::LeaseLeaderElector(kube::Client& client, util::Clock& clock, LeaderElectionConfig config)
    : client_(client),
      clock_(clock),
      config_(std::move(config)),
      leaseDurationSeconds_(static_cast<long>(
          std::chrono::duration_cast<std::chrono::seconds>(config_.leaseDuration).count())) {
  if (config_.leaseName.empty() || config_.leaseNamespace.empty()) {
    throw std::invalid_argument("leader election needs a lease namespace and name");
  }
  if (config_.retryPeriod <= util::Clock::Duration::zero() || leaseDurationSeconds_ < 1) {
    throw std::invalid_argument("leader election: retryPeriod and leaseDuration (>= 1s) must be positive");
  }
  if (config_.leaseDuration <= config_.renewDeadline) {
    throw std::invalid_argument("leader election: leaseDuration must be greater than renewDeadline");
  }
  if (std::chrono::duration<double>(config_.renewDeadline).count() <=
      std::chrono::duration<double>(config_.retryPeriod).count() * std::max(1.0, config_.retryJitter)) {
    throw std::invalid_argument("leader election: renewDeadline must be greater than retryPeriod * jitter");
  }
  if (config_.identity.empty()) config_.identity = defaultIdentity();
  if (!config_.random) config_.random = defaultRandom();
}

void LeaseLeaderElector::stop() { stopRequested_.raise(); }

bool LeaseLeaderElector::waitUntil(util::Clock::TimePoint deadline) {
  return !stopRequested_.waitUntil(clock_, deadline);
}

bool LeaseLeaderElector::leaseHeld() const {
  return leading_.load() && clock_.now().time_since_epoch().count() < heldUntil_.load();
}

void LeaseLeaderElector::setLeading(bool leading) {
  if (!leading) heldUntil_ = util::Clock::Duration::min().count();
  leading_ = leading;
  if (config_.onMasterStatus) config_.onMasterStatus(leading);
}

void LeaseLeaderElector::observe(const LeaseRecord& record, util::Clock::TimePoint now) {
  observed_ = record;
  observedTime_ = now;
}

bool LeaseLeaderElector::observedValid(util::Clock::TimePoint now) const {
  return observedTime_ + std::chrono::seconds(observed_.leaseDurationSeconds) > now;
}

bool LeaseLeaderElector::tryUpdate(json lease, const LeaseRecord& record, util::Clock::TimePoint now) {
  applyLeaseRecord(lease, record);
  try {
    lastLease_ = client_.update(kube::resources::leases(), config_.leaseNamespace, lease);
    observe(record, now);
    if (observedHolderIsMe()) heldUntil_ = (now + config_.renewDeadline).time_since_epoch().count();
    return true;
  } catch (const kube::Error& e) {
    // 409 Conflict: someone else wrote the Lease since we read it; the next attempt re-reads it.
    log::warn("lease update failed", {{"lease", config_.leaseName}, {"error", e.what()}});
    lastLease_.reset();
    return false;
  }
}

bool LeaseLeaderElector::tryAcquireOrRenew() {
  const auto now = clock_.now();
  const std::string wallNow = formatMicroTime(clock_.wallNow());
  LeaseRecord desired{config_.identity, leaseDurationSeconds_, wallNow, wallNow, 0};

  // Fast path while leading: renew from the Lease we last wrote, without reading it first.
  if (observedHolderIsMe() && observedValid(now) && lastLease_) {
    desired.acquireTime = observed_.acquireTime;
    desired.leaseTransitions = observed_.leaseTransitions;
    if (tryUpdate(*lastLease_, desired, now)) return true;
  }

  json lease;
  try {
    lease = client_.get(kube::resources::leases(), config_.leaseNamespace, config_.leaseName);
  } catch (const kube::ApiError& e) {
    if (!e.isNotFound()) {
      log::warn("lease read failed", {{"lease", config_.leaseName}, {"error", e.what()}});
      return false;
    }
    try {
      lastLease_ = client_.create(kube::resources::leases(), config_.leaseNamespace,
                                  makeLease(config_.leaseNamespace, config_.leaseName, desired));
      observe(desired, now);
      heldUntil_ = (now + config_.renewDeadline).time_since_epoch().count();
      return true;
    } catch (const kube::Error& createError) {
      // 409 AlreadyExists: another replica created it first.
      log::info("lease create failed", {{"lease", config_.leaseName}, {"error", createError.what()}});
      return false;
    }
  } catch (const kube::Error& e) {
    log::warn("lease read failed", {{"lease", config_.leaseName}, {"error", e.what()}});
    return false;
  }

  const LeaseRecord current = leaseRecordFrom(lease);
  if (current != observed_) observe(current, now);  // a change restarts the expiry countdown, on our clock
  lastLease_ = lease;
  if (!current.holderIdentity.empty() && observedValid(now) && !observedHolderIsMe()) {
    return false;  // held by another replica, and not expired
  }
  if (observedHolderIsMe()) {
    desired.acquireTime = current.acquireTime;
    desired.leaseTransitions = current.leaseTransitions;
  } else {
    desired.leaseTransitions = current.leaseTransitions + 1;
  }
  return tryUpdate(std::move(lease), desired, now);
}

// Safe to repeat, and safe after the leadership already moved on (leader election does not fence): the update is
// conditional on the resourceVersion this replica last saw, so if another replica wrote the Lease since, it fails
// with 409 and changes nothing.
void LeaseLeaderElector::release() {
  // No write of this replica may follow the release: another replica may act as soon as it sees it.
  heldUntil_ = util::Clock::Duration::min().count();
  if (!observedHolderIsMe() || !lastLease_) return;
  const std::string wallNow = formatMicroTime(clock_.wallNow());
  LeaseRecord released{"", 1, wallNow, wallNow, observed_.leaseTransitions};
  if (tryUpdate(*lastLease_, released, clock_.now())) {
    log::info("lease released", {{"lease", config_.leaseName}, {"identity", config_.identity}});
  }
}

void LeaseLeaderElector::run(std::function<void()> onStartedLeading, std::function<void()> onStoppedLeading) {
  log::info("leader election campaigning", {{"lease", config_.leaseNamespace + "/" + config_.leaseName},
                                            {"identity", config_.identity}});
  while (!tryAcquireOrRenew()) {
    const auto wait = config_.retryPeriod + std::chrono::duration_cast<util::Clock::Duration>(
                                                config_.retryPeriod * (config_.retryJitter * config_.random()));
    if (!waitUntil(clock_.now() + wait)) return;  // stopped before ever leading
  }
  if (stopping()) {
    // Acquired just as stop() came: hand it back at once.
    if (config_.releaseOnCancel) release();
    return;
  }
  log::info("leader election won", {{"lease", config_.leaseName}, {"identity", config_.identity},
                                    {"leaseTransitions", observed_.leaseTransitions}});
  setLeading(true);
  if (onStartedLeading) onStartedLeading();

  while (true) {
    if (!waitUntil(clock_.now() + config_.retryPeriod)) break;
    // Renew: retry every retryPeriod until renewDeadline has passed since this round began.
    const auto deadline = clock_.now() + config_.renewDeadline;
    bool renewed = false;
    while (!stopping()) {
      if (tryAcquireOrRenew()) {
        renewed = true;
        break;
      }
      const auto next = std::min(clock_.now() + config_.retryPeriod, deadline);
      if (!waitUntil(next) || clock_.now() >= deadline) break;
    }
    if (stopping()) break;
    if (!renewed) {
      log::error("leader election lost: could not renew the lease within the renew deadline",
                 {{"lease", config_.leaseName}, {"identity", config_.identity},
                  {"renewDeadlineMs", toMillis(config_.renewDeadline)}});
      setLeading(false);
      if (onStoppedLeading) onStoppedLeading();
      return;
    }
  }
  if (config_.releaseOnCancel) release();
  setLeading(false);
  log::info("leader election stopped leading", {{"lease", config_.leaseName}, {"identity", config_.identity}});
  if (onStoppedLeading) onStoppedLeading();
}

}  // namespace mv::runtime::leaderelection
