// The cache freshness readiness check: it fails from the detection of a history reset until the relist completed,
// as /readyz answers it.

#include "runtime/informer/freshness_check.h"

#include <doctest/doctest.h>

#include "reflector_fixture.h"

using namespace std::chrono_literals;
using namespace mv::runtime::informer;
using mv::testing::ReflectorFixture;

TEST_CASE("readiness fails while the cache is known stale and passes again once the relist completed") {
  ReflectorFixture f;
  f.seed("a");
  f.start();
  auto stream = f.watch(0);
  mv::runtime::health::Checks readyz;
  readyz.add(freshnessCheckName(*f.informer), freshnessCheck(*f.informer));
  CHECK(freshnessCheckName(*f.informer) == "cache-fresh-pods");
  CHECK(readyz.answer("", "").status == 200);

  // The restored server's lower revision shows in a bookmark; the relist that follows fails once.
  f.client.failNext("list", "pods", mv::testing::internalError());
  stream->bookmark("5");
  REQUIRE(f.inState(ReflectorState::BackingOff));
  auto failing = readyz.answer("", "");
  CHECK(failing.status == 500);
  CHECK(failing.body.find("[-]cache-fresh-pods failed") != std::string::npos);
  auto alone = readyz.answer("cache-fresh-pods", "");
  CHECK(alone.status == 500);
  CHECK(alone.body.find("pods cache is stale") != std::string::npos);
  CHECK(alone.body.find("went back from") != std::string::npos);

  REQUIRE(f.clock.awaitWaiters(1));
  f.clock.advance(800ms);
  f.watch(1);
  CHECK(readyz.answer("", "").status == 200);
}
