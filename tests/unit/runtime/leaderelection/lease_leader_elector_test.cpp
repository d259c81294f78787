// Leader election over a Lease against the fake API server, on a fake clock: acquire, respect a fresh holder,
// take over an expired lease, renew, lose on renew failure within the renew deadline, release on stop.

#include "runtime/leaderelection/lease_leader_elector.h"

#include <doctest/doctest.h>

#include <atomic>
#include <regex>
#include <thread>

#include "support/fake_client.h"
#include "util/clock.h"

using namespace std::chrono_literals;
using namespace mv::runtime::leaderelection;
using mv::testing::FakeClient;

namespace {

const std::string kLeases = "leases.coordination.k8s.io";

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

bool isMicroTime(const json& value) {
  static const std::regex microTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  return value.is_string() && std::regex_match(value.get<std::string>(), microTime);
}

// One candidate: an elector running on its own thread, with its callbacks recorded.
class Candidate {
 public:
  Candidate(FakeClient& client, mv::util::FakeClock& clock, const std::string& identity) {
    LeaderElectionConfig config;
    config.leaseNamespace = "demo";
    config.leaseName = "medivote-leader";
    config.identity = identity;
    config.random = [] { return 0.0; };  // no jitter: attempts exactly every retry period
    config.onMasterStatus = [this](bool leading) {
      std::lock_guard<std::mutex> lock(mu_);
      masterStatus_.push_back(leading);
    };
    elector_ = std::make_unique<LeaseLeaderElector>(client, clock, config);
  }
  ~Candidate() { stop(); }

  void start() {
    thread_ = std::thread([this] {
      elector_->run([this] { started = true; }, [this] { stopped = true; });
      returned = true;
    });
  }
  void stop() {
    elector_->stop();
    if (thread_.joinable()) thread_.join();
  }
  LeaseLeaderElector& elector() { return *elector_; }
  std::vector<bool> masterStatus() {
    std::lock_guard<std::mutex> lock(mu_);
    return masterStatus_;
  }

  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::atomic<bool> returned{false};

 private:
  std::mutex mu_;
  std::vector<bool> masterStatus_;
  std::unique_ptr<LeaseLeaderElector> elector_;
  std::thread thread_;
};

struct Fixture {
  mv::util::FakeClock clock;
  FakeClient client;

  json lease() {
    auto found = client.object(mv::kube::resources::leases(), "demo", "medivote-leader");
    REQUIRE(found.has_value());
    return *found;
  }
  json seedLease(const std::string& holder, long transitions = 0) {
    json lease = makeLease("demo", "medivote-leader",
                           {holder, 15, "2026-11-25T20:27:03.313439Z", "2026-11-25T20:27:03.313439Z", transitions});
    return client.put(mv::kube::resources::leases(), lease);
  }
  std::size_t count(const std::string& verb) { return client.calls(verb).size(); }
  // Advances fake time by `d` once the candidate is parked on the clock, then waits until it made `verb` call
  // number `n` and parked again.
  void advanceUntilCall(mv::util::Clock::Duration d, const std::string& verb, std::size_t n) {
    REQUIRE(clock.awaitWaiters(1));
    clock.advance(d);
    REQUIRE(client.awaitCalls(verb, n));
  }
};

}  // namespace

TEST_CASE("leader election acquires an absent lease by creating it") {
  Fixture f;
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(eventually([&] { return a.started.load(); }));
  CHECK(a.elector().isLeader());
  CHECK(a.masterStatus() == std::vector<bool>{true});
  json lease = f.lease();
  CHECK(lease["spec"]["holderIdentity"] == "a");
  CHECK(lease["spec"]["leaseDurationSeconds"] == 15);
  CHECK(lease["spec"]["leaseTransitions"] == 0);
  CHECK(isMicroTime(lease["spec"]["acquireTime"]));
  CHECK(lease["spec"]["renewTime"] == lease["spec"]["acquireTime"]);
  auto calls = f.client.calls();
  REQUIRE(calls.size() >= 2);
  CHECK(calls[0].verb == "get");
  CHECK(calls[1].verb == "create");
  CHECK(calls[1].body["metadata"]["name"] == "medivote-leader");
}

TEST_CASE("leader election waits on a fresh lease held by another, and takes it over once expired") {
  Fixture f;
  f.seedLease("other", 4);
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(f.client.awaitCalls("get", 1));
  // Attempts every 2 s; the lease was first seen at t=0 and expires (by our clock) at t=15 s.
  for (std::size_t attempt = 2; attempt <= 7; ++attempt) {
    f.advanceUntilCall(2s, "get", attempt);  // t = 2, 4, ..., 12
    CHECK_FALSE(a.started.load());
  }
  f.advanceUntilCall(2s, "get", 8);  // t = 14: still valid
  CHECK_FALSE(a.started.load());
  CHECK(f.count("update") == 0);
  f.advanceUntilCall(2s, "get", 9);  // t = 16: expired
  REQUIRE(eventually([&] { return a.started.load(); }));
  json lease = f.lease();
  CHECK(lease["spec"]["holderIdentity"] == "a");
  CHECK(lease["spec"]["leaseTransitions"] == 5);
  CHECK(lease["spec"]["acquireTime"] != "2026-11-25T20:27:03.313439Z");
  CHECK(lease["spec"]["acquireTime"] == lease["spec"]["renewTime"]);
  // The takeover was an optimistic update carrying the resourceVersion read.
  auto updates = f.client.calls("update");
  REQUIRE(updates.size() == 1);
  CHECK_FALSE(updates[0].body["metadata"]["resourceVersion"].get<std::string>().empty());
}

TEST_CASE("leader election restarts the expiry countdown whenever the holder renews") {
  Fixture f;
  f.seedLease("other");
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(f.client.awaitCalls("get", 1));
  for (std::size_t attempt = 2; attempt <= 6; ++attempt) f.advanceUntilCall(2s, "get", attempt);  // t = 10
  REQUIRE(f.clock.awaitWaiters(1));  // the attempt at t = 10 is over: the renewal below is first seen at t = 12
  json renewed = f.lease();
  renewed["spec"]["renewTime"] = "2026-11-25T20:27:13.313439Z";
  f.client.put(mv::kube::resources::leases(), renewed);
  for (std::size_t attempt = 7; attempt <= 12; ++attempt) {
    CAPTURE(attempt);
    f.advanceUntilCall(2s, "get", attempt);  // t = 12 (change seen) ... 22: valid until 27
    CHECK_FALSE(a.started.load());
  }
  f.advanceUntilCall(2s, "get", 13);  // t = 24
  CHECK_FALSE(a.started.load());
  f.advanceUntilCall(2s, "get", 14);  // t = 26
  CHECK_FALSE(a.started.load());
  f.advanceUntilCall(2s, "get", 15);  // t = 28 > 12 + 15
  REQUIRE(eventually([&] { return a.started.load(); }));
}

TEST_CASE("leader election renews every retry period, keeping acquireTime and transitions") {
  Fixture f;
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(eventually([&] { return a.started.load(); }));
  const json acquired = f.lease();
  const std::size_t getsBefore = f.count("get");
  f.advanceUntilCall(2s, "update", 1);
  f.advanceUntilCall(2s, "update", 2);
  json renewed = f.lease();
  CHECK(renewed["spec"]["holderIdentity"] == "a");
  CHECK(renewed["spec"]["acquireTime"] == acquired["spec"]["acquireTime"]);
  CHECK(renewed["spec"]["leaseTransitions"] == 0);
  CHECK(renewed["spec"]["renewTime"] != acquired["spec"]["renewTime"]);
  CHECK(isMicroTime(renewed["spec"]["renewTime"]));
  CHECK(f.count("get") == getsBefore);  // renewals write the lease last written, without re-reading it
  CHECK(a.elector().isLeader());
}

TEST_CASE("leader election re-reads the lease after a 409 on renew and renews from it") {
  Fixture f;
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(eventually([&] { return a.started.load(); }));
  f.client.failNext("update", kLeases, mv::testing::conflictError());
  const std::size_t gets = f.count("get");
  f.advanceUntilCall(2s, "update", 2);  // the failed fast-path update, then get, then the update that succeeds
  CHECK(f.count("get") == gets + 1);
  CHECK(a.elector().isLeader());
  CHECK_FALSE(a.stopped.load());
  CHECK(f.lease()["metadata"]["resourceVersion"] != "");
}

TEST_CASE("leader election is lost when renewals fail for the renew deadline: onStoppedLeading fires at once") {
  Fixture f;
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(eventually([&] { return a.started.load(); }));
  for (int i = 0; i < 20; ++i) {
    f.client.failNext("update", kLeases, mv::testing::internalError());
    f.client.failNext("get", kLeases, mv::testing::internalError());
  }
  const std::size_t gets = f.count("get");
  // The renew round starts at t = 2 s; attempts at 2, 4, 6, 8, 10 fail (each reads the lease after the first
  // failed write); the deadline is 2 + 10 = 12 s.
  for (std::size_t i = 1; i <= 5; ++i) {
    CAPTURE(i);
    f.advanceUntilCall(2s, "get", gets + i);
    CHECK_FALSE(a.stopped.load());
    CHECK(a.elector().isLeader());
  }
  REQUIRE(f.clock.awaitWaiters(1));
  f.clock.advance(2s);  // t = 12: the renew deadline
  REQUIRE(eventually([&] { return a.stopped.load(); }));
  CHECK_FALSE(a.elector().isLeader());
  CHECK(a.masterStatus() == std::vector<bool>{true, false});
  REQUIRE(eventually([&] { return a.returned.load(); }));
  CHECK(f.count("get") == gets + 5);  // no attempt at or after the deadline
}

TEST_CASE("leader election releases the lease on stop, so another candidate leads at its next attempt") {
  Fixture f;
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(eventually([&] { return a.started.load(); }));
  a.stop();
  CHECK(a.stopped.load());
  CHECK(a.returned.load());
  CHECK(a.masterStatus() == std::vector<bool>{true, false});
  json released = f.lease();
  CHECK(released["spec"]["holderIdentity"] == "");
  CHECK(released["spec"]["leaseDurationSeconds"] == 1);
  CHECK(released["spec"]["leaseTransitions"] == 0);

  Candidate b(f.client, f.clock, "b");
  b.start();
  REQUIRE(eventually([&] { return b.started.load(); }));  // no clock advance: an empty holder is free at once
  CHECK(f.lease()["spec"]["holderIdentity"] == "b");
  CHECK(f.lease()["spec"]["leaseTransitions"] == 1);
}

TEST_CASE("leader election: of two candidates one leads - a lost create race (409 AlreadyExists) is retried") {
  Fixture f;
  f.client.failNext("create", kLeases, mv::testing::alreadyExistsError("leases \"medivote-leader\""));
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(f.client.awaitCalls("create", 1));
  CHECK_FALSE(a.started.load());
  f.advanceUntilCall(2s, "create", 2);
  REQUIRE(eventually([&] { return a.started.load(); }));

  Candidate b(f.client, f.clock, "b");
  b.start();
  REQUIRE(f.client.awaitCalls("get", 3));
  REQUIRE(f.clock.awaitWaiters(2));
  CHECK_FALSE(b.started.load());
  CHECK(f.lease()["spec"]["holderIdentity"] == "a");
}

TEST_CASE("leader election stopped while campaigning returns without callbacks") {
  Fixture f;
  f.seedLease("other");
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(f.clock.awaitWaiters(1));
  a.stop();
  CHECK(a.returned.load());
  CHECK_FALSE(a.started.load());
  CHECK_FALSE(a.stopped.load());
  CHECK(a.masterStatus().empty());
  CHECK(f.lease()["spec"]["holderIdentity"] == "other");
}

TEST_CASE("leader election rejects inconsistent timings and names a default identity") {
  FakeClient client;
  mv::util::FakeClock clock;
  LeaderElectionConfig config;
  config.leaseNamespace = "demo";
  config.leaseName = "l";
  config.renewDeadline = 15s;  // not below the lease duration
  CHECK_THROWS_AS(LeaseLeaderElector(client, clock, config), std::invalid_argument);
  config.renewDeadline = 2s;  // not above retryPeriod * 1.2
  CHECK_THROWS_AS(LeaseLeaderElector(client, clock, config), std::invalid_argument);
  config.renewDeadline = kDefaultRenewDeadline;
  config.leaseName = "";
  CHECK_THROWS_AS(LeaseLeaderElector(client, clock, config), std::invalid_argument);
  config.leaseName = "l";
  LeaseLeaderElector elector(client, clock, config);
  CHECK(elector.identity().find('_') != std::string::npos);
  CHECK(defaultIdentity() != defaultIdentity());
  CHECK(kDefaultLeaseDuration == 15s);
  CHECK(kDefaultRenewDeadline == 10s);
  CHECK(kDefaultRetryPeriod == 2s);
}

TEST_CASE("leader election: a leader paused past its renew deadline holds no lease for writing before it has renewed") {
  // Issue 15 item 3: SIGSTOP the leader, SIGCONT it after its lease ran out. Its elector has not noticed yet (it
  // still counts as leading until its renew round fails for the renew deadline), but writes must stop at once.
  Fixture f;
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(eventually([&] { return a.started.load(); }));
  CHECK(a.elector().leaseHeld());
  // The first renew attempt after the pause fails (its fast-path update, and the update after re-reading).
  f.client.failNext("update", kLeases, mv::testing::internalError());
  f.client.failNext("update", kLeases, mv::testing::internalError());
  const std::size_t updates = f.client.calls("update").size();
  REQUIRE(f.clock.awaitWaiters(1));
  f.clock.advance(11s);  // the pause: more than the renew deadline (10 s) since the last renewal began
  CHECK_FALSE(a.elector().leaseHeld());
  REQUIRE(f.client.awaitCalls("update", updates + 2));
  CHECK_FALSE(a.elector().leaseHeld());
  CHECK(a.elector().isLeader());  // the elector's own verdict comes only at the end of its renew round
  // The next attempt renews: from then on the lease is held again.
  f.advanceUntilCall(2s, "update", updates + 3);
  CHECK(eventually([&] { return a.elector().leaseHeld(); }));
  CHECK_FALSE(a.stopped.load());
}

TEST_CASE("leader election: the lease is not held for writing once it is released") {
  Fixture f;
  Candidate a(f.client, f.clock, "a");
  a.start();
  REQUIRE(eventually([&] { return a.started.load(); }));
  CHECK(a.elector().leaseHeld());
  a.stop();
  CHECK_FALSE(a.elector().leaseHeld());
  CHECK(f.lease()["spec"]["holderIdentity"] == "");
}
