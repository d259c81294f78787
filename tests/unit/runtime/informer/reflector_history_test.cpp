// The reflector against an API server whose history went backwards (restarted on a restored etcd): each detection
// path relists and marks the cache stale until the relist completes; equal, higher and opaque resourceVersions
// raise no alarm. The fake server's revision never goes back by itself: scripted list pages and bookmarks play the
// restored server's lower revision.

#include <doctest/doctest.h>

#include "reflector_fixture.h"
#include "runtime/informer/reflector.h"

using namespace std::chrono_literals;
using namespace mv::runtime::informer;
using mv::kube::StatusReason;
using mv::kube::WatchEvent;
using mv::testing::eventually;
using mv::testing::makePod;
using mv::testing::ReflectorFixture;

namespace {

json pageAt(const std::string& resourceVersion, json items = json::array(), const std::string& next = "") {
  json page = {{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", resourceVersion}}},
               {"items", std::move(items)}};
  if (!next.empty()) page["metadata"]["continue"] = next;
  return page;
}

mv::kube::ApiError futureRevision() {
  return mv::testing::apiError(500, StatusReason::Unknown, "etcdserver: mvcc: required revision is a future revision");
}

std::size_t probes(const ReflectorFixture& f) {
  std::size_t n = 0;
  for (const auto& call : f.client.calls("list")) {
    if (call.list.limit == 1) {
      CHECK(call.list.resourceVersion.empty());  // a consistent read: the server's current revision
      CHECK(call.list.continueToken.empty());
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("a quiet watch is probed after historyProbeAfter, and a lower revision cancels it and relists, stale until done") {
  ReflectorFixture f;
  f.seed("old");
  f.start();
  auto stream = f.watch(0);
  const std::string ours = f.informer->lastSyncResourceVersion();
  REQUIRE(std::stol(ours) > 200);

  // The server restarted on a restored etcd: its revision is 200 now; the watch stays open and silent.
  f.client.pushListPage("pods", pageAt("200"));                     // the probe's answer
  f.client.failNext("list", "pods", mv::testing::internalError(), 1);  // the relist after it fails once
  REQUIRE(f.clock.awaitWaiters(1));                                  // the probe waits on the clock
  f.clock.advance(9s);
  CHECK_FALSE(f.client.awaitCalls("list", 2, 50ms));  // not before historyProbeAfter
  f.clock.advance(1s);
  REQUIRE(stream->awaitDone());  // cancelled by the probe
  REQUIRE(f.inState(ReflectorState::BackingOff));
  CHECK(probes(f) == 1);
  auto stale = f.informer->staleReason();
  REQUIRE(stale);
  CHECK(stale->find("went back from " + ours + " to 200") != std::string::npos);

  REQUIRE(f.clock.awaitWaiters(1));
  f.clock.advance(800ms);
  auto relisted = f.watch(1);
  CHECK(f.relists() == 3);  // the first list, the failed relist, the relist
  CHECK(relisted->options.resourceVersion == f.client.currentResourceVersion());
  CHECK_FALSE(f.informer->staleReason());
}

TEST_CASE("the probe raises no alarm for an equal, higher or opaque revision, and waits while the watch advances") {
  ReflectorFixture f;
  f.seed("a");
  f.start();
  auto stream = f.watch(0);
  const long ours = std::stol(f.informer->lastSyncResourceVersion());

  // The watch advances at 6 s: the probe waits 10 s from then.
  REQUIRE(f.clock.awaitWaiters(1));
  f.clock.advance(6s);
  json added = f.client.put(mv::kube::resources::pods(), makePod("ns", "b"));
  stream->send(WatchEvent::Type::Added, added);
  REQUIRE(stream->awaitDelivered());
  f.clock.advance(6s);
  CHECK_FALSE(f.client.awaitCalls("list", 2, 50ms));
  const long afterEvent = std::stol(f.informer->lastSyncResourceVersion());
  REQUIRE(afterEvent > ours);

  f.client.pushListPage("pods", pageAt(std::to_string(afterEvent)));        // equal
  f.client.pushListPage("pods", pageAt(std::to_string(afterEvent + 100)));  // higher
  f.clock.advance(4s);
  REQUIRE(f.client.awaitCalls("list", 2));
  CHECK_FALSE(f.client.awaitCalls("list", 3, 50ms));  // one probe per quiet time
  // The probe waits on the clock again before time moves on (else a slow probe thread would take its next deadline
  // from a clock already advanced past it).
  REQUIRE(f.clock.awaitWaiters(1));
  // The history was intact: the quiet time doubles (20 s), so an idle watch costs a few probes, not one per 10 s.
  f.clock.advance(10s);
  CHECK_FALSE(f.client.awaitCalls("list", 3, 50ms));
  f.clock.advance(10s);
  REQUIRE(f.client.awaitCalls("list", 3));
  REQUIRE(f.clock.awaitWaiters(1));

  // An opaque resourceVersion (a bookmark from a server that is not etcd-backed) is never compared.
  stream->bookmark("opaque-1");
  REQUIRE(stream->awaitDelivered());
  REQUIRE(f.clock.awaitWaiters(1));
  f.client.pushListPage("pods", pageAt("5"));
  f.clock.advance(20s);
  CHECK_FALSE(f.client.awaitCalls("list", 4, 50ms));  // 40 s now
  f.clock.advance(20s);
  REQUIRE(f.client.awaitCalls("list", 4));
  CHECK(probes(f) == 3);
  CHECK(stream->active());
  CHECK(f.relists() == 1);
  CHECK(f.informer->state() == ReflectorState::Watching);
  CHECK_FALSE(f.informer->staleReason());
}

TEST_CASE("historyProbeAfter zero disables the probe") {
  ReflectorFixture f;
  f.start(500, 0s);
  f.watch(0);
  f.clock.advance(10min);
  CHECK_FALSE(f.client.awaitCalls("list", 2, 50ms));
  CHECK(f.clock.waiters() == 0);
}

TEST_CASE("a bookmark lower than the last resourceVersion relists at once, an equal one does not") {
  ReflectorFixture f;
  f.seed("a");
  f.start();
  auto stream = f.watch(0);
  const std::string ours = f.informer->lastSyncResourceVersion();
  stream->bookmark(ours);
  REQUIRE(stream->awaitDelivered());
  CHECK(stream->active());

  stream->bookmark("5");
  auto relisted = f.watch(1);  // no clock advance: no back-off
  CHECK(f.relists() == 2);
  CHECK_FALSE(stream->active());
  CHECK(relisted->options.resourceVersion == f.client.currentResourceVersion());
  CHECK_FALSE(f.informer->staleReason());
}

TEST_CASE("a future revision error on the watch relists from scratch at once") {
  SUBCASE("as the HTTP status of the watch request (etcd's 500)") {
    ReflectorFixture f;
    f.seed("a");
    f.client.failNext("watch", "pods", futureRevision());
    f.start();
    f.watch(1);
    CHECK(f.relists() == 2);
  }
  SUBCASE("as an ERROR event (the watch cache's 504 Too large resource version)") {
    ReflectorFixture f;
    f.seed("a");
    f.start();
    json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
                   {"message", "Timeout: Too large resource version: 7300, current: 200"}, {"reason", "Timeout"},
                   {"details", {{"causes", {{{"reason", "ResourceVersionTooLarge"},
                                             {"message", "Too large resource version"}}}}}},
                   {"code", 504}};
    f.watch(0)->send(WatchEvent::Type::Error, status);
    auto relisted = f.watch(1);
    CHECK(f.relists() == 2);
    CHECK(relisted->options.resourceVersion == f.client.currentResourceVersion());
  }
}

TEST_CASE("a continue token beyond the server's revision, or a later page at a lower revision, restarts the list") {
  SUBCASE("500 future revision on the continued page") {
    ReflectorFixture f;
    f.client.setWatchCache(false);  // paged
    for (int i = 0; i < 4; ++i) f.seed("p" + std::to_string(i));
    f.client.failNext("list", "pods", futureRevision(), 1);
    f.start(2);
    f.watch(0);  // no clock advance: at once
    auto lists = f.client.calls("list");
    REQUIRE(lists.size() == 4);
    CHECK_FALSE(lists[1].list.continueToken.empty());
    CHECK(lists[2].list.continueToken.empty());
    CHECK(f.informer->store().size() == 4);
    CHECK(f.recorder.count() == 4);
  }
  SUBCASE("a second page at a lower resourceVersion than the first") {
    ReflectorFixture f;
    f.seed("real");
    f.client.pushListPage("pods", pageAt("7300", json::array({makePod("ns", "ghost")}), "next"));
    f.client.pushListPage("pods", pageAt("200"));
    f.start(1);
    f.watch(0);
    auto lists = f.client.calls("list");
    REQUIRE(lists.size() == 3);
    CHECK(lists[2].list.continueToken.empty());
    CHECK(f.informer->store().size() == 1);
    CHECK(f.informer->store().get("ns/real"));
    CHECK(f.recorder.events() == std::vector<std::string>{"add ns/real"});  // the ghost page was never applied
  }
}

TEST_CASE("a relist at a lower revision than the last seen replaces the cache and resumes from the lower revision") {
  ReflectorFixture f;
  f.seed("gone-after-restore");
  f.start();
  auto stream = f.watch(0);
  REQUIRE(std::stol(f.informer->lastSyncResourceVersion()) > 200);
  f.client.pushListPage("pods", pageAt("200", json::array({makePod("ns", "restored")})));
  stream->send(WatchEvent::Type::Error, mv::testing::goneEvent().object);
  auto resumed = f.watch(1);
  CHECK(resumed->options.resourceVersion == "200");
  CHECK(f.informer->lastSyncResourceVersion() == "200");
  CHECK(f.informer->store().size() == 1);
  CHECK(f.informer->store().get("ns/restored"));
  CHECK_FALSE(f.informer->staleReason());
}
