#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "events_log.h"
#include "lifecycle.h"
#include "options.h"
#include "rate_limiter.h"
#include "state_file.h"

using namespace mv::workloads::vote;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/mv-vote-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<std::string> eventNames(const fs::path& log) {
  std::vector<std::string> out;
  std::ifstream in(log);
  for (std::string ms, name, rest; in >> ms >> name && std::getline(in, rest);) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("rate limiter: burst, refusal with the wait, refill") {
  RateLimiter limiter(2.0);  // 2/s, burst 2
  const auto t0 = RateLimiter::Clock::now();
  CHECK_FALSE(limiter.tryTake(t0));
  CHECK_FALSE(limiter.tryTake(t0));
  const auto wait = limiter.tryTake(t0);
  REQUIRE(wait);
  CHECK(*wait == 500ms);
  CHECK(limiter.tryTake(t0 + 400ms));  // refused calls take nothing
  CHECK_FALSE(limiter.tryTake(t0 + 500ms));
  RateLimiter unlimited(0);
  for (int i = 0; i < 100; ++i) CHECK_FALSE(unlimited.tryTake(t0));
}

TEST_CASE("parseRate") {
  CHECK(parseRate("5/s") == 5.0);
  CHECK(parseRate("5") == 5.0);
  CHECK(parseRate("120/min") == 2.0);
  CHECK(parseRate("0") == 0.0);
  CHECK_FALSE(parseRate("-1/s"));
  CHECK_FALSE(parseRate("x/s"));
  CHECK_FALSE(parseRate("5/h"));
  CHECK_FALSE(parseRate("5s"));
}

TEST_CASE("state file: round trip, atomic replace, refusal of a corrupt file") {
  TempDir dir;
  std::string error;
  CHECK(loadState(dir.path.string(), &error)->empty());
  REQUIRE(saveState(dir.path.string(), {{"a", "x"}, {"b", "y"}}, &error));
  CHECK(*loadState(dir.path.string(), &error) == VoteMap{{"a", "x"}, {"b", "y"}});
  REQUIRE(saveState(dir.path.string(), {{"c", "z"}}, &error));
  CHECK(*loadState(dir.path.string(), &error) == VoteMap{{"c", "z"}});
  for (const auto& e : fs::directory_iterator(dir.path)) CHECK(e.path().filename() == "votes.json");

  std::ofstream(dir.path / "votes.json") << R"({"format":"other","votes":{}})";
  CHECK_FALSE(loadState(dir.path.string(), &error));
  CHECK(error.find("unknown format") != std::string::npos);
  std::ofstream(dir.path / "votes.json") << "{";
  CHECK_FALSE(loadState(dir.path.string(), &error));
  CHECK_FALSE(saveState((dir.path / "missing" / "dir").string(), {}, &error));
}

TEST_CASE("lifecycle: HTTP shutdown drains in-flight votes into the snapshot and refuses late ones") {
  TempDir dir;
  EventsLog events((dir.path / "events.log").string());
  Lifecycle lc({{"old", "x"}}, events, {});
  CHECK(lc.submitVote("a", "x", 0ms) == Lifecycle::VoteOutcome::Stored);
  CHECK(lc.submitVote("a", "x", 0ms) == Lifecycle::VoteOutcome::Duplicate);
  CHECK(lc.submitVote("a", "y", 0ms) == Lifecycle::VoteOutcome::Conflict);

  std::atomic<int> slow{-1};
  std::thread t([&] { slow = static_cast<int>(lc.submitVote("slow", "x", 300ms)); });
  while (lc.inFlight() == 0) std::this_thread::sleep_for(1ms);
  CHECK(lc.requestShutdown().kind == Lifecycle::ShutdownAnswer::Kind::Accepted);
  CHECK(lc.phase() == Phase::Draining);
  CHECK(lc.trigger() == Trigger::Http);
  CHECK(lc.submitVote("new", "x", 0ms) == Lifecycle::VoteOutcome::ShuttingDown);
  CHECK(lc.requestShutdown().kind == Lifecycle::ShutdownAnswer::Kind::AlreadyShuttingDown);
  CHECK(lc.awaitTrigger() == Trigger::Http);
  const auto snapshot = lc.beginSaving(5s);
  t.join();
  CHECK(slow == static_cast<int>(Lifecycle::VoteOutcome::Stored));
  CHECK(snapshot == VoteMap{{"a", "x"}, {"old", "x"}, {"slow", "x"}});
  CHECK(lc.phase() == Phase::Saving);
  lc.finish();
  CHECK(lc.phase() == Phase::Done);
  CHECK(eventNames(dir.path / "events.log") ==
        std::vector<std::string>{"shutdown-requested", "shutdown-requested", "drained", "saving"});
}

TEST_CASE("lifecycle: a vote still in flight after the drain timeout is refused, not stored") {
  TempDir dir;
  EventsLog events((dir.path / "events.log").string());
  Lifecycle lc({}, events, {});
  std::atomic<int> slow{-1};
  std::thread t([&] { slow = static_cast<int>(lc.submitVote("slow", "x", 400ms)); });
  while (lc.inFlight() == 0) std::this_thread::sleep_for(1ms);
  lc.onSignal(SIGTERM);
  CHECK(lc.trigger() == Trigger::Signal);
  const auto snapshot = lc.beginSaving(10ms);
  t.join();
  CHECK(snapshot.empty());
  CHECK(slow == static_cast<int>(Lifecycle::VoteOutcome::ShuttingDown));
  CHECK(lc.count() == 0);
}

TEST_CASE("lifecycle: busy windows") {
  TempDir dir;
  EventsLog events((dir.path / "events.log").string());
  SUBCASE("on start") {
    Lifecycle lc({}, events, {2500ms, 0ms});
    const auto a = lc.requestShutdown();
    CHECK(a.kind == Lifecycle::ShutdownAnswer::Kind::Busy);
    CHECK(a.retryAfter == 3s);
    CHECK(lc.phase() == Phase::Running);
  }
  SUBCASE("on the first shutdown request only") {
    Lifecycle lc({}, events, {0ms, 100ms});
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(lc.requestShutdown().kind == Lifecycle::ShutdownAnswer::Kind::Busy);
    // Refused until the window ends, then accepted (polled to a deadline).
    auto kind = Lifecycle::ShutdownAnswer::Kind::Busy;
    while (kind == Lifecycle::ShutdownAnswer::Kind::Busy && std::chrono::steady_clock::now() - t0 < 5s) {
      kind = lc.requestShutdown().kind;
      std::this_thread::sleep_for(5ms);
    }
    CHECK(kind == Lifecycle::ShutdownAnswer::Kind::Accepted);
    CHECK(std::chrono::steady_clock::now() - t0 >= 100ms);
  }
  SUBCASE("marked by hand, extended never shortened") {
    Lifecycle lc({}, events, {});
    lc.markBusy(10s);
    lc.markBusy(1s);
    const auto a = lc.requestShutdown();
    CHECK(a.kind == Lifecycle::ShutdownAnswer::Kind::Busy);
    CHECK(a.retryAfter == 10s);
  }
}

TEST_CASE("lifecycle: a signal cuts the exit delay short") {
  TempDir dir;
  EventsLog events((dir.path / "events.log").string());
  Lifecycle lc({}, events, {});
  REQUIRE(lc.requestShutdown().kind == Lifecycle::ShutdownAnswer::Kind::Accepted);
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    lc.onSignal(SIGTERM);
  });
  const auto t0 = std::chrono::steady_clock::now();
  lc.awaitExit(30s);
  t.join();
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(lc.trigger() == Trigger::Http);  // the first trigger stays
}
