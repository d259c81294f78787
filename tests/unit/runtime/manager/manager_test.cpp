#include "util/clock.h"
#include "runtime/manager/manager.h"

#include <atomic>
#include <future>
#include <thread>

#include <doctest/doctest.h>


#include "../health/http_get.h"

using namespace std::chrono_literals;
using mv::runtime::controller::Controller;
using mv::runtime::controller::ControllerOptions;
using mv::runtime::manager::BindAddress;
using mv::runtime::manager::makeRunnable;
using mv::runtime::manager::Manager;
using mv::runtime::manager::ManagerOptions;
using mv::runtime::metrics::Registry;
using mv::runtime::reconcile::Reconciler;
using mv::runtime::reconcile::Request;
using mv::runtime::reconcile::Result;
using mv::test::httpGet;
using mv::util::FakeClock;
using Phase = Manager::Phase;

namespace {

bool eventually(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

// Shared record of what happened, in order, across the fakes.
struct Events {
  std::mutex mu;
  std::vector<std::string> list;
  void add(std::string e) {
    std::lock_guard g(mu);
    list.push_back(std::move(e));
  }
  std::vector<std::string> get() {
    std::lock_guard g(mu);
    return list;
  }
};

// A leader elector the test drives: grant() makes it lead, lose() makes it lose; stop() releases when leading.
class FakeElector final : public mv::runtime::leaderelection::LeaderElector {
 public:
  explicit FakeElector(Events& events) : events_(events) {}
  void run(std::function<void()> onStarted, std::function<void()> onStopped) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return granted_ || stopped_; });
    if (stopped_) return;  // never led: no callback
    leader_ = true;
    lock.unlock();
    onStarted();
    lock.lock();
    cv_.wait(lock, [&] { return lost_ || stopped_; });
    leader_ = false;
    if (!lost_) events_.add("lease released");
    lock.unlock();
    onStopped();
  }
  void stop() override {
    std::lock_guard g(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  bool isLeader() const override {
    std::lock_guard g(mu_);
    return leader_;
  }
  void grant() {
    std::lock_guard g(mu_);
    granted_ = true;
    cv_.notify_all();
  }
  void lose() {
    std::lock_guard g(mu_);
    lost_ = true;
    cv_.notify_all();
  }

 private:
  Events& events_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool granted_ = false, lost_ = false, stopped_ = false, leader_ = false;
};

// Counts reconciles; while `hold` is set, blocks inside reconcile() until released.
class TestReconciler final : public Reconciler {
 public:
  Result reconcile(const Request&) override {
    std::unique_lock lock(mu_);
    ++calls;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold; });
    return Result::done();
  }
  void release() {
    std::lock_guard g(mu_);
    hold = false;
    cv_.notify_all();
  }
  int count() {
    std::lock_guard g(mu_);
    return calls;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold = false;
  int calls = 0;
};

ManagerOptions loopbackOptions() {
  ManagerOptions o;
  o.metricsBindAddress = BindAddress{"127.0.0.1", 0};
  o.healthProbeBindAddress = BindAddress{"127.0.0.1", 0};
  o.gracefulShutdownTimeout = 30s;
  o.cacheSyncTimeout = 10s;
  return o;
}

ControllerOptions controllerOptions(Registry& registry) {
  ControllerOptions o;
  o.name = "medivoteservice";
  o.maxConcurrentReconciles = 2;
  o.metrics = &registry;
  return o;
}

}  // namespace

TEST_CASE("Manager without leader election: serves probes and metrics, runs controllers, stops with exit 0") {
  FakeClock clock;
  Registry registry;
  TestReconciler reconciler;
  Controller controller(controllerOptions(registry), reconciler, clock);
  Manager manager(loopbackOptions(), clock, registry);
  manager.addController(controller);
  auto exit = std::async(std::launch::async, [&] { return manager.run(); });
  REQUIRE(manager.awaitPhase(Phase::Leading, 5s));

  CHECK(httpGet(manager.healthProbePort(), "/healthz").status == 200);
  const auto ready = httpGet(manager.healthProbePort(), "/readyz?verbose");
  CHECK(ready.status == 200);
  CHECK(ready.body == "[+]informers-synced ok\nhealthz check passed\n");
  controller.enqueue({"prod", "api", "test"});
  REQUIRE(eventually([&] { return reconciler.count() == 1; }));
  const auto scrape = httpGet(manager.metricsPort(), "/metrics");
  CHECK(scrape.status == 200);
  CHECK(scrape.body.find(R"(controller_runtime_max_concurrent_reconciles{controller="medivoteservice"} 2)") !=
        std::string::npos);

  manager.requestStop();
  REQUIRE(exit.wait_for(5s) == std::future_status::ready);
  CHECK(exit.get() == Manager::kExitOk);
  CHECK(manager.phase() == Phase::Stopped);
  CHECK_FALSE(manager.abandonedWork());
  CHECK(controller.queue().shuttingDown());
}

TEST_CASE("Manager: /readyz fails until the caches sync, then controllers start") {
  FakeClock clock;
  Registry registry;
  TestReconciler reconciler;
  Controller controller(controllerOptions(registry), reconciler, clock);
  Manager manager(loopbackOptions(), clock, registry);
  manager.addController(controller);
  std::atomic<bool> synced{false};
  manager.addCacheSync("pods", [&](auto) { return synced.load(); });
  controller.enqueue({"prod", "api", ""});
  auto exit = std::async(std::launch::async, [&] { return manager.run(); });
  REQUIRE(manager.awaitPhase(Phase::SyncingCaches, 5s));
  REQUIRE(clock.awaitWaiters(1));  // waiting out a sync slice

  auto r = httpGet(manager.healthProbePort(), "/readyz");
  CHECK(r.status == 500);
  CHECK(r.body == "[-]informers-synced failed: reason withheld\nhealthz check failed\n");
  CHECK(httpGet(manager.healthProbePort(), "/healthz").status == 200);
  CHECK(reconciler.count() == 0);

  synced = true;
  clock.advance(1s);
  REQUIRE(manager.awaitPhase(Phase::Leading, 5s));
  CHECK(httpGet(manager.healthProbePort(), "/readyz").status == 200);
  REQUIRE(eventually([&] { return reconciler.count() == 1; }));
  manager.requestStop();
  CHECK(exit.get() == Manager::kExitOk);
}

TEST_CASE("Manager: a cache that never syncs ends run() with exit 1 after --cache-sync-timeout, controllers unstarted") {
  FakeClock clock;
  Registry registry;
  TestReconciler reconciler;
  Controller controller(controllerOptions(registry), reconciler, clock);
  auto options = loopbackOptions();
  options.cacheSyncTimeout = 3s;
  Manager manager(options, clock, registry);
  manager.addController(controller);
  manager.addCacheSync("pods", [](auto) { return false; });
  controller.enqueue({"prod", "api", ""});
  auto exit = std::async(std::launch::async, [&] { return manager.run(); });
  REQUIRE(manager.awaitPhase(Phase::SyncingCaches, 5s));
  for (int i = 0; i < 10 && exit.wait_for(0s) != std::future_status::ready; ++i) {
    if (clock.awaitWaiters(1, 200ms)) clock.advance(1s);
  }
  REQUIRE(exit.wait_for(5s) == std::future_status::ready);
  CHECK(exit.get() == Manager::kExitError);
  CHECK(reconciler.count() == 0);
}

TEST_CASE("Manager with leader election: controllers run only while leading, and the lease is released after they stop") {
  FakeClock clock;
  Registry registry;
  Events events;
  FakeElector elector(events);
  TestReconciler reconciler;
  Controller controller(controllerOptions(registry), reconciler, clock);
  Manager manager(loopbackOptions(), clock, registry);
  manager.setLeaderElector(&elector);
  manager.addController(controller);
  manager.add(makeRunnable("informer", false, [&] { events.add("informer started"); },
                           [&](auto) {
                             events.add("informer stopped");
                             return true;
                           }));
  manager.add(makeRunnable("leader-work", true, [&] { events.add("leader work started"); },
                           [&](auto) {
                             events.add("leader work stopped");
                             return true;
                           }));
  controller.enqueue({"prod", "api", ""});
  auto exit = std::async(std::launch::async, [&] { return manager.run(); });
  REQUIRE(manager.awaitPhase(Phase::Campaigning, 5s));
  CHECK(httpGet(manager.healthProbePort(), "/readyz").status == 200);  // caches synced: ready to take over
  CHECK(reconciler.count() == 0);
  CHECK((events.get() == std::vector<std::string>{"informer started"}));

  elector.grant();
  REQUIRE(manager.awaitPhase(Phase::Leading, 5s));
  REQUIRE(eventually([&] { return reconciler.count() == 1; }));

  manager.requestStop();
  REQUIRE(exit.wait_for(5s) == std::future_status::ready);
  CHECK(exit.get() == Manager::kExitOk);
  CHECK((events.get() == std::vector<std::string>{"informer started", "leader work started", "leader work stopped",
                                                 "lease released", "informer stopped"}));
}

TEST_CASE("Manager: losing the lease stops taking work at once, with no grace period, and exits 1") {
  FakeClock clock;
  Registry registry;
  Events events;
  FakeElector elector(events);
  TestReconciler reconciler;
  reconciler.hold = true;
  Controller controller(controllerOptions(registry), reconciler, clock);
  Manager manager(loopbackOptions(), clock, registry);
  manager.setLeaderElector(&elector);
  manager.addController(controller);
  controller.enqueue({"prod", "a", ""});
  auto exit = std::async(std::launch::async, [&] { return manager.run(); });
  elector.grant();
  REQUIRE(manager.awaitPhase(Phase::Leading, 5s));
  REQUIRE(eventually([&] { return reconciler.count() == 1; }));  // one reconcile in flight, held

  elector.lose();
  REQUIRE(exit.wait_for(5s) == std::future_status::ready);  // no fake time passes: it did not wait for a grace
  CHECK(exit.get() == Manager::kExitError);
  CHECK(manager.abandonedWork());
  controller.enqueue({"prod", "b", ""});
  CHECK(controller.queue().len() == 0);  // no new work taken
  CHECK(events.get().empty());           // nothing to release: the lease was lost
  reconciler.release();                  // let the in-flight reconcile return before the controller is destroyed
}

TEST_CASE("Manager: on a stop request, in-flight reconciles get the graceful shutdown timeout") {
  FakeClock clock;
  Registry registry;
  Events events;
  FakeElector elector(events);
  TestReconciler reconciler;
  reconciler.hold = true;
  Controller controller(controllerOptions(registry), reconciler, clock);
  Manager manager(loopbackOptions(), clock, registry);
  manager.setLeaderElector(&elector);
  manager.addController(controller);
  controller.enqueue({"prod", "a", ""});
  auto exit = std::async(std::launch::async, [&] { return manager.run(); });
  elector.grant();
  REQUIRE(eventually([&] { return reconciler.count() == 1; }));

  SUBCASE("they finish in time: exit 0, then the lease is released") {
    manager.requestStop();
    REQUIRE(manager.awaitPhase(Phase::Stopping, 5s));
    REQUIRE(clock.awaitWaiters(1));  // waiting for the in-flight reconcile, on the clock
    clock.advance(29s);
    CHECK(exit.wait_for(20ms) == std::future_status::timeout);
    CHECK(events.get().empty());  // the lease is still held while the reconcile runs
    reconciler.release();
    REQUIRE(exit.wait_for(5s) == std::future_status::ready);
    CHECK(exit.get() == Manager::kExitOk);
    CHECK_FALSE(manager.abandonedWork());
    CHECK((events.get() == std::vector<std::string>{"lease released"}));
  }
  SUBCASE("the grace period runs out: exit 1, lease released anyway") {
    manager.requestStop();
    REQUIRE(clock.awaitWaiters(1));
    clock.advance(30s);
    REQUIRE(exit.wait_for(5s) == std::future_status::ready);
    CHECK(exit.get() == Manager::kExitError);
    CHECK(manager.abandonedWork());
    CHECK((events.get() == std::vector<std::string>{"lease released"}));
    reconciler.release();
  }
}

TEST_CASE("Manager: a stop while campaigning exits 0 without ever starting controllers") {
  FakeClock clock;
  Registry registry;
  Events events;
  FakeElector elector(events);
  TestReconciler reconciler;
  Controller controller(controllerOptions(registry), reconciler, clock);
  Manager manager(loopbackOptions(), clock, registry);
  manager.setLeaderElector(&elector);
  manager.addController(controller);
  controller.enqueue({"prod", "a", ""});
  auto exit = std::async(std::launch::async, [&] { return manager.run(); });
  REQUIRE(manager.awaitPhase(Phase::Campaigning, 5s));
  manager.requestStop();
  REQUIRE(exit.wait_for(5s) == std::future_status::ready);
  CHECK(exit.get() == Manager::kExitOk);
  CHECK(reconciler.count() == 0);
  CHECK(events.get().empty());
}

TEST_CASE("Manager: a probe address already in use is a clear error and exit 1, not a crash") {
  FakeClock clock;
  Registry registry;
  mv::runtime::health::Checks h, r;
  mv::runtime::health::ProbeServer squatter("127.0.0.1", 0, h, r);
  auto options = loopbackOptions();
  options.healthProbeBindAddress = BindAddress{"127.0.0.1", squatter.port()};
  Manager manager(options, clock, registry);
  std::atomic<bool> started{false};
  manager.add(makeRunnable("informer", false, [&] { started = true; }, {}));
  CHECK(manager.run() == Manager::kExitError);
  CHECK_FALSE(started);
  CHECK(manager.phase() == Phase::Stopped);
}

TEST_CASE("Manager: servers can be disabled") {
  FakeClock clock;
  Registry registry;
  ManagerOptions options;
  Manager manager(options, clock, registry);
  manager.requestStop();  // before run(): run() stops at once
  CHECK(manager.run() == Manager::kExitOk);
  CHECK(manager.metricsPort() == 0);
  CHECK(manager.healthProbePort() == 0);
}

TEST_CASE("Manager: an elector that throws counts as lost leadership: exit 1, never a crash") {
  FakeClock clock;
  Registry registry;
  struct ThrowingElector final : mv::runtime::leaderelection::LeaderElector {
    void run(std::function<void()>, std::function<void()>) override { throw std::runtime_error("lease API gone"); }
    void stop() override {}
    bool isLeader() const override { return false; }
  } elector;
  TestReconciler reconciler;
  Controller controller(controllerOptions(registry), reconciler, clock);
  Manager manager(loopbackOptions(), clock, registry);
  manager.setLeaderElector(&elector);
  manager.addController(controller);
  controller.enqueue({"prod", "a", ""});
  CHECK(manager.run() == Manager::kExitError);
  CHECK(reconciler.count() == 0);
}
