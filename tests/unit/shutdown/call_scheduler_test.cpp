// Which shutdown call goes next (issue 15 item 2): fair across resources, bounded per resource, urgent first.
#include "shutdown/call_scheduler.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using mv::shutdown::CallScheduler;

namespace {

std::vector<std::string> drain(CallScheduler& s) {
  std::vector<std::string> order;
  while (auto e = s.next()) order.push_back(e->uid);
  return order;
}

}  // namespace

TEST_CASE("call scheduler: owners take turns, each owner's calls in the order they were queued") {
  CallScheduler s(10);
  for (int i = 0; i < 3; ++i) s.push("ns/slow", "slow-" + std::to_string(i), false);
  s.push("ns/other", "other-0", false);
  s.push("ns/other", "other-1", false);
  CHECK(drain(s) == std::vector<std::string>{"other-0", "slow-0", "other-1", "slow-1", "slow-2"});
}

TEST_CASE("call scheduler: a resource at its limit holds no more threads, and another resource's call goes at once") {
  CallScheduler s(2);
  for (int i = 0; i < 66; ++i) s.push("ns/slow", "slow-" + std::to_string(i), false);
  REQUIRE(s.next()->uid == "slow-0");
  REQUIRE(s.next()->uid == "slow-1");
  CHECK_FALSE(s.next());  // the slow resource is at its limit: its 64 other calls wait
  CHECK(s.running("ns/slow") == 2);
  s.push("ns/fast", "fast-0", false);
  const auto e = s.next();
  REQUIRE(e);
  CHECK(e->uid == "fast-0");
  CHECK(e->owner == "ns/fast");
  s.finished("ns/slow");
  CHECK(s.next()->uid == "slow-2");
  CHECK(s.queued() == 63);
}

TEST_CASE("call scheduler: a pod already being deleted jumps the queue, within its owner's limit") {
  CallScheduler s(1);
  s.push("ns/a", "a-0", false);
  s.push("ns/a", "a-1", false);
  s.push("ns/b", "b-0", false);
  s.push("ns/b", "b-external", true);
  CHECK(s.next()->uid == "b-external");
  CHECK(s.next()->uid == "a-0");
  CHECK_FALSE(s.next());
  s.finished("ns/b");
  CHECK(s.next()->uid == "b-0");
}

TEST_CASE("call scheduler: urgent calls of several owners take turns too") {
  CallScheduler s(5);
  s.push("ns/a", "a-0", true);
  s.push("ns/a", "a-1", true);
  s.push("ns/b", "b-0", true);
  s.push("ns/c", "c-0", false);
  CHECK(drain(s) == std::vector<std::string>{"a-0", "b-0", "a-1", "c-0"});
}

TEST_CASE("call scheduler: one entry per pod, drop takes a queued call out, dropAll empties the queue") {
  CallScheduler s(4);
  CHECK(s.push("ns/a", "p", false));
  CHECK_FALSE(s.push("ns/a", "p", true));
  CHECK(s.push("ns/a", "q", false));
  CHECK(s.drop("p"));
  CHECK_FALSE(s.drop("p"));
  CHECK(s.queued() == 1);
  REQUIRE(s.next()->uid == "q");
  s.push("ns/a", "r", false);
  s.push("ns/b", "s", false);
  CHECK(s.dropAll().size() == 2);
  CHECK(s.queued() == 0);
  CHECK_FALSE(s.next());
  CHECK(s.running("ns/a") == 1);  // still running until finished
  s.finished("ns/a");
  CHECK(s.running("ns/a") == 0);
  CHECK(s.push("ns/a", "p", false));  // a dropped uid can be queued again
}

TEST_CASE("call scheduler: the default per-resource limit is a quarter of the pool, at least one") {
  CHECK(mv::shutdown::defaultPerOwnerCallLimit(64) == 16);
  CHECK(mv::shutdown::defaultPerOwnerCallLimit(3) == 1);
  CHECK(mv::shutdown::defaultPerOwnerCallLimit(1) == 1);
}

TEST_CASE("call scheduler: runnable counts the queued calls within each owner's free slots") {
  CallScheduler s(2);
  for (int i = 0; i < 5; ++i) s.push("ns/a", "a-" + std::to_string(i), false);
  s.push("ns/b", "b-0", false);
  CHECK(s.runnable() == 3);
  s.next();
  s.next();
  s.next();
  CHECK(s.runnable() == 0);  // a has 2 running (its limit), b has none queued
  CHECK(s.queued() == 3);
}
