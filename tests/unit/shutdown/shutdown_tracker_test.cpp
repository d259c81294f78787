// The pods the runner saw shutting down: taken out once gone, told apart by uid, released per owner.
#include "shutdown/shutdown_tracker.h"

#include <doctest/doctest.h>

using namespace mv::shutdown;

namespace {

ShutdownTracker::Pod pod(const std::string& name, const std::string& uid) {
  ShutdownTracker::Pod p;
  p.pod = {{"metadata", {{"name", name}, {"uid", uid}}}};
  return p;
}

}  // namespace

TEST_CASE("shutdown tracker: a pod gone from the cache is taken out once, one still present or in a call stays") {
  ShutdownTracker t;
  t.seen("ns/a", "u1", pod("vote-1", "u1"));
  t.seen("ns/a", "u2", pod("vote-2", "u2"));
  t.seen("ns/b", "u3", pod("vote-1", "u3"));
  CHECK(t.size() == 3);
  auto gone = t.takeGone("ns/a", {"u2"});
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].pod["metadata"]["uid"] == "u1");
  CHECK(t.takeGone("ns/a", {"u2"}).empty());
  CHECK(t.takeGone("ns/a", {}).size() == 1);
  CHECK(t.size() == 1);  // only ns/b's pod is left
}

TEST_CASE("shutdown tracker: the last known state of a deleted pod replaces what was seen, by uid") {
  ShutdownTracker t;
  t.seen("ns/a", "u1", pod("vote-1", "u1"));
  nlohmann::json last = {{"metadata", {{"name", "vote-1"}, {"uid", "u1"}}}, {"status", {{"phase", "Succeeded"}}}};
  t.lastKnown(last);
  t.lastKnown({{"metadata", {{"name", "vote-1"}, {"uid", "replacement"}}}});  // another pod of the same name
  auto gone = t.takeGone("ns/a", {});
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].pod["status"]["phase"] == "Succeeded");
}
