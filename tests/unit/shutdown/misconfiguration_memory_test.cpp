#include "shutdown/misconfiguration_memory.h"

#include <doctest/doctest.h>

using namespace mv::shutdown;

namespace {
const ConfigVersion kV1{"uid-1", 1, "rv-10"};
const std::string kOwner = "ns/node";
const std::string kMessage = "the shutdown endpoint of pod node-0 answered 401 unauthorized: check ...";
}  // namespace

TEST_CASE("a reported misconfiguration holds while the configuration stays the same") {
  MisconfigurationMemory m;
  CHECK(m.current(kOwner, kV1, std::nullopt) == std::nullopt);
  m.reported(kOwner, kV1, kMessage);
  for (int i = 0; i < 3; ++i) CHECK(m.current(kOwner, kV1, std::nullopt) == kMessage);
}

TEST_CASE("it clears after an accepted shutdown of a pod of the resource") {
  MisconfigurationMemory m;
  m.reported(kOwner, kV1, kMessage);
  m.accepted("ns/other");
  CHECK(m.current(kOwner, kV1, std::nullopt) == kMessage);
  m.accepted(kOwner);
  CHECK(m.current(kOwner, kV1, std::nullopt) == std::nullopt);
}

TEST_CASE("it clears when the spec generation changes") {
  MisconfigurationMemory m;
  m.reported(kOwner, kV1, kMessage);
  CHECK(m.current(kOwner, {"uid-1", 2, "rv-10"}, std::nullopt) == std::nullopt);
  CHECK(m.current(kOwner, kV1, std::nullopt) == std::nullopt);  // cleared, not hidden
}

TEST_CASE("it clears when the token Secret's resourceVersion changes (or the resource is a new one)") {
  MisconfigurationMemory m;
  m.reported(kOwner, kV1, kMessage);
  CHECK(m.current(kOwner, {"uid-1", 1, "rv-11"}, std::nullopt) == std::nullopt);
  m.reported(kOwner, kV1, kMessage);
  CHECK(m.current(kOwner, {"uid-2", 1, "rv-10"}, std::nullopt) == std::nullopt);
}

TEST_CASE("an answer to a call made under an older configuration does not outlive it") {
  MisconfigurationMemory m;
  CHECK(m.current(kOwner, {"uid-1", 2, "rv-10"}, std::nullopt) == std::nullopt);
  m.reported(kOwner, kV1, kMessage);  // the call was made before generation 2
  CHECK(m.current(kOwner, {"uid-1", 2, "rv-10"}, std::nullopt) == std::nullopt);
}

TEST_CASE("what the status already reports is adopted the first time the resource is seen, and only then") {
  MisconfigurationMemory m;
  CHECK(m.current(kOwner, kV1, kMessage) == kMessage);  // a restarted operator, or a new leader
  CHECK(m.current(kOwner, kV1, kMessage) == kMessage);
  CHECK(m.current(kOwner, {"uid-1", 2, "rv-10"}, kMessage) == std::nullopt);
  CHECK(m.current(kOwner, {"uid-1", 2, "rv-10"}, kMessage) == std::nullopt);  // not adopted again: seen already
}

TEST_CASE("a resource's entry is released when it is gone") {
  MisconfigurationMemory m;
  for (int i = 0; i < 100; ++i) {
    const std::string owner = "ns/r" + std::to_string(i);
    m.current(owner, kV1, std::nullopt);
    m.reported(owner, kV1, kMessage);
    m.forget(owner);
  }
  CHECK(m.size() == 0);
}

TEST_CASE("retain keeps the resources that exist and drops the others (a deletion that went unseen)") {
  MisconfigurationMemory m;
  m.reported("ns/a", kV1, kMessage);
  m.reported("ns/b", kV1, kMessage);
  m.current("ns/c", kV1, std::nullopt);
  m.retain({"ns/b"});
  CHECK(m.size() == 1);
  CHECK(m.current("ns/b", kV1, std::nullopt) == kMessage);
}
