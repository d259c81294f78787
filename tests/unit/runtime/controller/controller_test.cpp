#include "util/clock.h"
#include "runtime/controller/controller.h"

#include <algorithm>
#include <functional>
#include <future>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <doctest/doctest.h>


#include "util/log.h"

using namespace std::chrono_literals;
using mv::util::FakeClock;
using mv::runtime::controller::Controller;
using mv::runtime::controller::ControllerOptions;
using mv::runtime::metrics::Registry;
using mv::runtime::reconcile::Reconciler;
using mv::runtime::reconcile::Request;
using mv::runtime::reconcile::Result;

namespace {

// Polls `pred` until it holds or 5 s of real time pass.
bool eventually(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

// Answers each reconcile with the next scripted outcome (the last one repeats) and counts calls per key.
class ScriptedReconciler final : public Reconciler {
 public:
  explicit ScriptedReconciler(std::vector<std::function<Result()>> script) : script_(std::move(script)) {}
  Result reconcile(const Request& r) override {
    std::function<Result()> next;
    {
      std::lock_guard g(mu_);
      calls_[r.key()]++;
      requests_.push_back(r);
      next = script_[std::min(step_++, script_.size() - 1)];
    }
    return next();
  }
  int calls(const std::string& key) {
    std::lock_guard g(mu_);
    return calls_[key];
  }
  std::vector<Request> requests() {
    std::lock_guard g(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::vector<std::function<Result()>> script_;
  std::size_t step_ = 0;
  std::map<std::string, int> calls_;
  std::vector<Request> requests_;
};

double sample(Registry& registry, const std::string& line) {
  // Finds `line` (a metric name with its labels) in the exposition and returns its value, or -1.
  std::istringstream in(registry.scrapeText());
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(line + " ", 0) == 0) return std::stod(l.substr(line.size() + 1));
  }
  return -1;
}

ControllerOptions options(std::string name, int workers = 1, Registry* registry = nullptr) {
  ControllerOptions o;
  o.name = std::move(name);
  o.maxConcurrentReconciles = workers;
  o.metrics = registry;
  return o;
}

}  // namespace

TEST_CASE("Controller: success forgets the key's back-off and counts success") {
  FakeClock clock;
  Registry registry;
  ScriptedReconciler reconciler({[] { return Result::done(); }});
  Controller c(options("svc", 1, &registry), reconciler, clock);
  c.queue().addRateLimited("ns/a");  // some back-off history
  c.queue().forget("ns/other");
  REQUIRE(c.queue().numRequeues("ns/a") == 1);
  c.start();
  clock.advance(5ms);
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 1 && c.queue().inProcess() == 0; }));
  CHECK(c.queue().numRequeues("ns/a") == 0);
  CHECK(sample(registry, R"(controller_runtime_reconcile_total{controller="svc",result="success"})") == 1);
  CHECK(sample(registry, R"(controller_runtime_reconcile_errors_total{controller="svc"})") == 0);
  CHECK(c.stop(clock.now() + 1s));
}

TEST_CASE("Controller: an error is retried with the queue's back-off, 5 ms then 10 ms, then success forgets") {
  FakeClock clock;
  Registry registry;
  ScriptedReconciler reconciler({[] { return Result::error("boom"); }, [] { return Result::error("boom"); },
                                 [] { return Result::done(); }});
  Controller c(options("svc", 1, &registry), reconciler, clock);
  c.start();
  c.enqueue({"ns", "a", "test"});
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 1 && c.queue().delayedLen() == 1; }));
  CHECK(c.queue().numRequeues("ns/a") == 1);
  REQUIRE(clock.awaitWaiters(1));  // the worker is parked on the retry's deadline
  clock.advance(4ms);
  CHECK(c.queue().len() == 0);
  CHECK(reconciler.calls("ns/a") == 1);
  clock.advance(1ms);
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 2 && c.queue().delayedLen() == 1; }));
  CHECK(c.queue().numRequeues("ns/a") == 2);
  clock.advance(9ms);
  CHECK(c.queue().len() == 0);
  clock.advance(1ms);
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 3 && c.queue().inProcess() == 0; }));
  CHECK(c.queue().numRequeues("ns/a") == 0);
  CHECK(c.queue().delayedLen() == 0);
  CHECK(sample(registry, R"(controller_runtime_reconcile_total{controller="svc",result="error"})") == 2);
  CHECK(sample(registry, R"(controller_runtime_reconcile_errors_total{controller="svc"})") == 2);
  CHECK(sample(registry, R"(controller_runtime_reconcile_total{controller="svc",result="success"})") == 1);
  CHECK(sample(registry, R"(workqueue_retries_total{name="svc"})") == 2);
  CHECK(c.stop(clock.now()));
}

TEST_CASE("Controller: an error with retryWithin is retried within the cap however long the back-off has grown") {
  FakeClock clock;
  ScriptedReconciler reconciler({[] { return Result::error("api down").retryWithin(2s); }});
  Controller c(options("svc", 1), reconciler, clock);
  // 20 failures of ns/a before: its plain back-off would be 5 ms * 2^20, about 87 minutes (capped at 1000 s).
  for (int i = 0; i < 20; ++i) c.queue().addRateLimited("ns/a", 0s);
  REQUIRE(c.queue().len() == 1);
  c.start();
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 1 && c.queue().delayedLen() >= 1; }));
  REQUIRE(clock.awaitWaiters(1));
  clock.advance(2s);
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 2; }));
  CHECK(c.stop(clock.now() + 1s));
}

TEST_CASE("Controller: a terminal error is recorded and not retried") {
  FakeClock clock;
  Registry registry;
  ScriptedReconciler reconciler({[] { return Result::terminal("spec.tiers is invalid"); }});
  Controller c(options("svc", 1, &registry), reconciler, clock);
  c.start();
  c.enqueue({"ns", "a", ""});
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 1 && c.queue().inProcess() == 0; }));
  CHECK(c.queue().delayedLen() == 0);
  CHECK(c.queue().numRequeues("ns/a") == 0);
  clock.advance(2000s);
  CHECK(c.queue().len() == 0);
  CHECK(reconciler.calls("ns/a") == 1);
  CHECK(sample(registry, R"(controller_runtime_terminal_reconcile_errors_total{controller="svc"})") == 1);
  CHECK(sample(registry, R"(controller_runtime_reconcile_errors_total{controller="svc"})") == 1);
  CHECK(sample(registry, R"(controller_runtime_reconcile_total{controller="svc",result="error"})") == 1);
  CHECK(c.stop(clock.now()));
}

TEST_CASE("Controller: an exception from the reconciler is an error outcome, never a crash") {
  FakeClock clock;
  Registry registry;
  ScriptedReconciler reconciler({[]() -> Result { throw std::runtime_error("api unreachable"); },
                                 []() -> Result { throw 42; }, [] { return Result::done(); }});
  Controller c(options("svc", 1, &registry), reconciler, clock);
  c.start();
  c.enqueue({"ns", "a", ""});
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 1 && c.queue().delayedLen() == 1; }));
  CHECK(c.queue().numRequeues("ns/a") == 1);
  clock.advance(5ms);
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 2 && c.queue().delayedLen() == 1; }));
  clock.advance(10ms);
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 3 && c.queue().inProcess() == 0; }));
  CHECK(sample(registry, R"(controller_runtime_reconcile_errors_total{controller="svc"})") == 2);
  CHECK(c.stop(clock.now()));
}

TEST_CASE("Controller: requeueAfter forgets the back-off and fires only after the fake time passes") {
  FakeClock clock;
  Registry registry;
  ScriptedReconciler reconciler({[] { return Result::requeueAfter(30s); }, [] { return Result::done(); }});
  Controller c(options("svc", 1, &registry), reconciler, clock);
  c.queue().addRateLimited("ns/a");
  clock.advance(5ms);
  c.start();
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 1 && c.queue().delayedLen() == 1; }));
  CHECK(c.queue().numRequeues("ns/a") == 0);
  clock.advance(29s);
  CHECK(c.queue().len() == 0);
  CHECK(reconciler.calls("ns/a") == 1);
  clock.advance(1s);
  REQUIRE(eventually([&] { return reconciler.calls("ns/a") == 2; }));
  CHECK(reconciler.requests().back().reason == "requeue-after");
  CHECK(sample(registry, R"(controller_runtime_reconcile_total{controller="svc",result="requeue_after"})") == 1);
  CHECK(c.stop(clock.now()));
}

TEST_CASE("Controller: Result::requeue re-adds with back-off without counting an error") {
  FakeClock clock;
  Registry registry;
  ScriptedReconciler reconciler({[] { return Result::requeue(); }, [] { return Result::done(); }});
  Controller c(options("svc", 1, &registry), reconciler, clock);
  c.start();
  c.enqueue({"", "cluster-thing", ""});
  REQUIRE(eventually([&] { return reconciler.calls("cluster-thing") == 1 && c.queue().delayedLen() == 1; }));
  clock.advance(5ms);
  REQUIRE(eventually([&] { return reconciler.calls("cluster-thing") == 2; }));
  CHECK(sample(registry, R"(controller_runtime_reconcile_total{controller="svc",result="requeue"})") == 1);
  CHECK(sample(registry, R"(controller_runtime_reconcile_errors_total{controller="svc"})") == 0);
  CHECK(c.stop(clock.now() + 1s));
}

namespace {

// Records, per key, how many workers are inside reconcile() at once.
class ConcurrencyProbe final : public Reconciler {
 public:
  Result reconcile(const Request& r) override {
    {
      std::lock_guard g(mu_);
      const int now = ++inFlight_[r.key()];
      maxPerKey_ = std::max(maxPerKey_, now);
      maxOverall_ = std::max(maxOverall_, ++overall_);
      ++total_;
    }
    std::this_thread::sleep_for(200us);  // widens the window in which a second worker could enter
    std::lock_guard g(mu_);
    --inFlight_[r.key()];
    --overall_;
    return Result::done();
  }
  std::mutex mu_;
  std::map<std::string, int> inFlight_;
  int maxPerKey_ = 0, maxOverall_ = 0, overall_ = 0, total_ = 0;
};

}  // namespace

TEST_CASE("Controller: many workers and many adds never reconcile one key twice at once") {
  FakeClock clock;
  Registry registry;
  ConcurrencyProbe probe;
  Controller c(options("svc", 8, &registry), probe, clock);
  c.start();
  auto adder = [&](int seed) {
    for (int i = 0; i < 1500; ++i) c.enqueue({"ns", "k" + std::to_string((i * 7 + seed) % 6), ""});
  };
  std::thread t1(adder, 0), t2(adder, 3);
  t1.join();
  t2.join();
  REQUIRE(eventually([&] { return c.queue().len() == 0 && c.queue().inProcess() == 0; }));
  CHECK(c.stop(clock.now() + 1s));
  std::lock_guard g(probe.mu_);
  CHECK(probe.maxPerKey_ == 1);
  CHECK(probe.maxOverall_ >= 2);  // the workers did run in parallel, so the per-key bound means something
  CHECK(probe.total_ >= 6);
  CHECK(probe.total_ < 3000);  // adds of waiting keys were de-duplicated
  CHECK(sample(registry, R"(controller_runtime_max_concurrent_reconciles{controller="svc"})") == 8);
  CHECK(sample(registry, R"(controller_runtime_active_workers{controller="svc"})") == 0);
}

namespace {

// Blocks inside reconcile() until released.
class Gate final : public Reconciler {
 public:
  Result reconcile(const Request&) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return Result::done();
  }
  void open() {
    std::lock_guard g(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool awaitEntered(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return entered_ >= n; });
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int entered_ = 0;
};

}  // namespace

TEST_CASE("Controller: stop takes no new work and waits for in-flight reconciles within the deadline") {
  FakeClock clock;
  Gate gate;
  SUBCASE("in-flight reconciles finish in time") {
    Controller c(options("svc", 2), gate, clock);
    c.start();
    c.enqueue({"ns", "a", ""});
    c.enqueue({"ns", "b", ""});
    REQUIRE(gate.awaitEntered(2));
    c.enqueue({"ns", "c", ""});  // waits: both workers are busy
    auto stopped = std::async(std::launch::async, [&] { return c.stop(clock.now() + 30s); });
    REQUIRE(clock.awaitWaiters(1));
    CHECK(c.activeWorkers() == 2);
    gate.open();
    REQUIRE(stopped.wait_for(5s) == std::future_status::ready);
    CHECK(stopped.get());
    CHECK(gate.entered_ == 2);  // "c" was never started
  }
  SUBCASE("the deadline passes first") {
    Controller c(options("svc"), gate, clock);
    c.start();
    c.enqueue({"ns", "a", ""});
    REQUIRE(gate.awaitEntered(1));
    auto stopped = std::async(std::launch::async, [&] { return c.stop(clock.now() + 30s); });
    REQUIRE(clock.awaitWaiters(1));
    clock.advance(30s);
    REQUIRE(stopped.wait_for(5s) == std::future_status::ready);
    CHECK_FALSE(stopped.get());
    gate.open();  // the destructor waits for the reconcile to return
  }
}

TEST_CASE("Controller: a reconcile's log lines carry controller, key, reconcileID and the trigger reason") {
  FakeClock clock;
  std::ostringstream out;
  mv::log::setSink(&out);
  mv::log::configure(mv::log::Level::Debug, mv::log::Format::Logfmt);
  struct Logging final : Reconciler {
    Result reconcile(const Request&) override {
      mv::log::info("inside reconcile");
      return Result::done();
    }
  } reconciler;
  {
    Controller c(options("medivoteservice"), reconciler, clock);
    c.start();
    c.enqueue({"prod", "api", "pod api-0 changed"});
    REQUIRE(eventually([&] { return c.queue().inProcess() == 0 && c.queue().len() == 0; }));
    c.stop(clock.now() + 1s);
  }
  mv::log::setSink(nullptr);
  mv::log::configure(mv::log::Level::Info, mv::log::Format::Logfmt);
  const std::string text = out.str();
  const auto line = text.substr(text.find("inside reconcile"));
  CHECK(line.find("controller=medivoteservice") != std::string::npos);
  CHECK(line.find("key=prod/api") != std::string::npos);
  CHECK(line.find("reconcileID=") != std::string::npos);
  CHECK(text.find("pod api-0 changed") != std::string::npos);
}
