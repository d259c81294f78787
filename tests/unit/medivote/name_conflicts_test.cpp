// The memory of names held by another owner: one entry per name, a re-check due every kRecheck, nothing kept for a
// resource that is gone.
#include "medivote/name_conflicts.h"

#include <doctest/doctest.h>

using namespace mv;
using namespace mv::medivote;
using Kind = NameConflicts::Kind;

namespace {
const util::Clock::TimePoint t0{std::chrono::seconds(1000)};
}

TEST_CASE("a name recorded again replaces its entry - never a second one") {
  NameConflicts c;
  for (int i = 0; i < 5; ++i) c.record("ns/a", Kind::Pod, "a-0", {"no controller", "uid", t0 + std::chrono::seconds(i)});
  CHECK(c.size() == 1);
  const auto held = c.held("ns/a", Kind::Pod);
  REQUIRE(held.size() == 1);
  CHECK(held.at("a-0").checkedAt == t0 + std::chrono::seconds(4));
  CHECK(c.held("ns/a", Kind::Claim).empty());  // kinds apart
  c.record("ns/a", Kind::Claim, "a-0", {"MediVoteService b", "uid", t0});
  CHECK(c.held("ns/a", Kind::Pod).size() == 1);
  CHECK(c.held("ns/a", Kind::Claim).size() == 1);
}

TEST_CASE("a held name is due for a re-check kRecheck after its last check, and nextCheck is the earliest") {
  NameConflicts c;
  CHECK_FALSE(c.nextCheck("ns/a"));
  c.record("ns/a", Kind::Pod, "a-0", {"x", "u", t0 + std::chrono::seconds(5)});
  c.record("ns/a", Kind::Claim, "data-a-1", {"y", "v", t0});
  c.record("ns/ab", Kind::Pod, "ab-0", {"z", "w", t0 - std::chrono::seconds(100)});  // another resource's
  CHECK(c.nextCheck("ns/a") == t0 + NameConflicts::kRecheck);
  const auto held = c.held("ns/a", Kind::Claim).at("data-a-1");
  CHECK_FALSE(NameConflicts::due(held, t0 + NameConflicts::kRecheck - std::chrono::seconds(1)));
  CHECK(NameConflicts::due(held, t0 + NameConflicts::kRecheck));
}

TEST_CASE("release, forget and retain drop what they name and nothing else") {
  NameConflicts c;
  c.record("ns/a", Kind::Pod, "a-0", {"x", "u", t0});
  c.record("ns/a", Kind::Pod, "a-1", {"x", "u", t0});
  c.record("ns/b", Kind::Claim, "data-b-0", {"x", "u", t0});
  c.record("ns/c", Kind::Pod, "c-0", {"x", "u", t0});
  c.release("ns/a", Kind::Pod, "a-1");
  CHECK(c.held("ns/a", Kind::Pod).size() == 1);
  c.forget("ns/a");
  CHECK(c.held("ns/a", Kind::Pod).empty());
  CHECK(c.size() == 2);
  c.retain({"ns/c", "ns/gone-already"});
  CHECK(c.size() == 1);
  CHECK(c.held("ns/c", Kind::Pod).size() == 1);
}

TEST_CASE("podHolder names the pod's controller") {
  CHECK(podHolder({{"metadata", json::object()}}) == "no controller");
  CHECK(podHolder({{"metadata", {{"ownerReferences", json::array({{{"kind", "ReplicaSet"}, {"name", "web-abc"},
                                                                  {"controller", true}}})}}}}) ==
        "ReplicaSet web-abc");
}
