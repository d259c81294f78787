#pragma once
// Leader election over a coordination.k8s.io/v1 Lease, with client-go's leaderelection semantics.
//
// - A campaign attempt (every retryPeriod, plus up to retryJitter * retryPeriod): read the Lease; create it when
//   absent (409 AlreadyExists: another replica was faster, retry later); take it over when its holder is empty or
//   the lease has expired; otherwise wait.
// - Expiry is judged by this replica's own monotonic clock, never by the timestamps in the Lease (remote clocks are
//   not trusted): a lease expires leaseDurationSeconds after this replica last saw its record change.
// - Writes are optimistic: an update carries the resourceVersion last read, so a concurrent writer makes it fail
//   with 409 Conflict, and the next attempt re-reads.
// - Leading: renew every retryPeriod. When renewals keep failing for renewDeadline, leadership is lost:
//   onStoppedLeading is called at once (before the lease can expire for the others: renewDeadline < leaseDuration).
// - stop() while leading releases the lease when releaseOnCancel (holderIdentity "", leaseDurationSeconds 1, as
//   client-go's ReleaseOnCancel), so that another replica takes over at its next attempt instead of waiting out the
//   lease.
// - leaseHeld() closes most of the gap leases leave (leader_elector.h): it turns false renewDeadline after the last
//   successful renewal began, when the lease is released, and when leadership is lost, whether or not the elector's
//   thread has run since.
// - renewTime/acquireTime are written as MicroTime from the clock's wall time; leaseTransitions grows by one each
//   time the holder changes.

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "kube/client.h"
#include "runtime/informer/clock_signal.h"
#include "runtime/leaderelection/leader_elector.h"
#include "runtime/leaderelection/lease_record.h"
#include "util/clock.h"

namespace mv::runtime::leaderelection {

// controller-runtime's defaults (pkg/manager/internal.go: defaultLeaseDuration, defaultRenewDeadline,
// defaultRetryPeriod).
inline constexpr std::chrono::seconds kDefaultLeaseDuration{15};
inline constexpr std::chrono::seconds kDefaultRenewDeadline{10};
inline constexpr std::chrono::seconds kDefaultRetryPeriod{2};
// client-go's leaderelection.JitterFactor: campaign attempts wait retryPeriod * (1 + random * 1.2).
inline constexpr double kClientGoJitterFactor = 1.2;

struct LeaderElectionConfig {
  std::string leaseNamespace;
  std::string leaseName;
  std::string identity;  // "" = defaultIdentity()
  util::Clock::Duration leaseDuration = kDefaultLeaseDuration;
  util::Clock::Duration renewDeadline = kDefaultRenewDeadline;
  util::Clock::Duration retryPeriod = kDefaultRetryPeriod;
  double retryJitter = kClientGoJitterFactor;
  bool releaseOnCancel = true;
  // Uniform in [0, 1). Default: a pseudo-random generator seeded from std::random_device.
  std::function<double()> random;
  // Told true when this replica starts leading and false when it stops: feeds leader_election_master_status.
  std::function<void(bool leading)> onMasterStatus;
};

// hostname + "_" + a random UUID, unique per process start (client-go's convention).
std::string defaultIdentity();

class LeaseLeaderElector final : public LeaderElector {
 public:
  // Throws std::invalid_argument unless leaseDuration > renewDeadline > retryPeriod * retryJitter > 0 (client-go's
  // checks) and the lease is named. The client and clock must outlive the elector.
  LeaseLeaderElector(kube::Client& client, util::Clock& clock, LeaderElectionConfig config);

  void run(std::function<void()> onStartedLeading, std::function<void()> onStoppedLeading) override;
  void stop() override;
  bool isLeader() const override { return leading_.load(); }
  // Leading, and less than renewDeadline has passed on this replica's monotonic clock since the last successful
  // renewal began (conservative: the renewal is counted from before it was sent, and renewDeadline < leaseDuration,
  // the time the others wait after they saw the renewal).
  bool leaseHeld() const override;

  const std::string& identity() const { return config_.identity; }

 private:
  // One attempt to become or stay the holder. True when this replica holds the lease afterwards.
  bool tryAcquireOrRenew();
  bool tryUpdate(json lease, const LeaseRecord& record, util::Clock::TimePoint now);
  void release();
  void observe(const LeaseRecord& record, util::Clock::TimePoint now);
  bool observedValid(util::Clock::TimePoint now) const;
  bool observedHolderIsMe() const { return observed_.holderIdentity == config_.identity; }
  // Waits on the clock until `deadline` or stop(). Returns false when stopped.
  bool waitUntil(util::Clock::TimePoint deadline);
  void setLeading(bool leading);
  bool stopping() const { return stopRequested_.raised(); }

  kube::Client& client_;
  util::Clock& clock_;
  LeaderElectionConfig config_;
  const long leaseDurationSeconds_;

  // Touched only by the run() thread.
  LeaseRecord observed_;
  util::Clock::TimePoint observedTime_{};
  std::optional<json> lastLease_;  // the Lease as last read or written (its resourceVersion makes updates conditional)

  informer::ClockSignal stopRequested_;
  std::atomic<bool> leading_{false};
  // Until when, on clock_, the last renewal vouches for the lease (time_since_epoch ticks); min: not held.
  std::atomic<util::Clock::Duration::rep> heldUntil_{util::Clock::Duration::min().count()};
};

}  // namespace mv::runtime::leaderelection
