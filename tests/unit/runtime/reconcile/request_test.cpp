#include "runtime/reconcile/reconciler.h"

#include <stdexcept>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using mv::runtime::reconcile::Request;
using mv::runtime::reconcile::Result;

TEST_CASE("Request keys round-trip for namespaced and cluster-scoped objects") {
  CHECK(Request{"ns", "web", ""}.key() == "ns/web");
  CHECK(Request{"", "node-1", ""}.key() == "node-1");
  const auto r = Request::fromKey("medivote/api", "pod api-0 changed");
  CHECK(r.ns == "medivote");
  CHECK(r.name == "api");
  CHECK(r.reason == "pod api-0 changed");
  CHECK(Request::fromKey("cluster-thing").ns.empty());
  CHECK_THROWS_AS(Request::fromKey(""), std::invalid_argument);
  CHECK_THROWS_AS(Request::fromKey("ns/"), std::invalid_argument);
  CHECK_THROWS_AS(Request::fromKey("/name"), std::invalid_argument);
  CHECK_THROWS_AS(Request::fromKey("a/b/c"), std::invalid_argument);
}

TEST_CASE("Result: a non-positive requeueAfter is a rate-limited requeue") {
  CHECK(Result::requeueAfter(3s).kind() == Result::Kind::RequeueAfter);
  CHECK(Result::requeueAfter(3s).after() == 3s);
  CHECK(Result::requeueAfter(0s).kind() == Result::Kind::Requeue);
  CHECK(Result::error("x").isError());
  CHECK(Result::terminal("x").isError());
  CHECK_FALSE(Result::done().isError());
}
