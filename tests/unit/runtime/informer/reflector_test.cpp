// The reflector's state machine against the scripted fake API server, driven through an Informer (its sink), with a
// fake clock: paging, watch parameters, 410 relists that replace the cache, resumption from the last
// resourceVersion, bookmarks, and the back-off sequence.

#include "runtime/informer/reflector.h"

#include <doctest/doctest.h>

#include <memory>

#include "reflector_fixture.h"

using namespace std::chrono_literals;
using namespace mv::runtime::informer;
using mv::kube::WatchEvent;
using mv::testing::eventually;
using mv::testing::FakeClient;
using mv::testing::makePod;
using mv::testing::ReflectorFixture;

TEST_CASE("the first list is client-go's, resourceVersion 0 (the watch cache answers it whole), and a relist pages") {
  ReflectorFixture f;
  for (int i = 0; i < 5; ++i) f.seed("p" + std::to_string(i));
  f.start(2);
  auto stream = f.watch(0);
  auto lists = f.client.calls("list");
  REQUIRE(lists.size() == 1);
  CHECK(lists[0].list.resourceVersion == "0");
  CHECK(lists[0].list.limit == 2);  // sent as client-go does; the watch cache ignores it
  CHECK(f.informer->store().size() == 5);
  // After a 410 the relist is a consistent read: never behind what the cache has seen, and paged.
  stream->send(WatchEvent::Type::Error, mv::testing::goneEvent().object);
  f.watch(1);
  lists = f.client.calls("list");
  REQUIRE(lists.size() == 4);
  for (std::size_t i = 1; i < 4; ++i) CHECK(lists[i].list.resourceVersion.empty());
  CHECK_FALSE(lists[2].list.continueToken.empty());
  CHECK(f.informer->store().size() == 5);
}

TEST_CASE("reflector pages the initial list where the server does, then watches from its resourceVersion") {
  ReflectorFixture f;
  f.client.setWatchCache(false);  // resourceVersion=0 lists are then paged, as by a server with --watch-cache=false
  for (int i = 0; i < 5; ++i) f.seed("p" + std::to_string(i));
  const std::string listRv = f.client.currentResourceVersion();
  f.start(2);

  auto stream = f.watch(0);
  auto lists = f.client.calls("list");
  REQUIRE(lists.size() == 3);
  CHECK(lists[0].list.limit == 2);
  CHECK(lists[0].list.continueToken.empty());
  CHECK(lists[0].list.resourceVersion == "0");
  CHECK_FALSE(lists[1].list.continueToken.empty());
  CHECK(lists[2].list.continueToken != lists[1].list.continueToken);
  CHECK(lists[2].list.limit == 2);

  CHECK(stream->options.resourceVersion == listRv);
  CHECK(stream->options.allowWatchBookmarks);
  REQUIRE(stream->options.timeoutSeconds.has_value());
  CHECK(*stream->options.timeoutSeconds == 450);  // 300 * (1 + 0.5): randomized within [300, 600)
  CHECK(f.informer->hasSynced());
  CHECK(f.informer->store().size() == 5);
  CHECK(f.recorder.count() == 5);
  // List items come without kind/apiVersion; the informer sets them.
  CHECK((*f.informer->store().get("ns/p0"))["kind"] == "Pod");
  CHECK(f.informer->state() == ReflectorState::Watching);
}

TEST_CASE("the item filter goes with every list and every watch of the reflector") {
  ReflectorFixture f;
  f.seed("a");
  InformerOptions options;
  options.reflector.itemFields = std::make_shared<mv::kube::JsonFieldFilter>();
  options.reflector.random = [] { return 0.5; };
  f.informer = std::make_unique<Informer>(f.client, mv::kube::resources::pods(), f.clock, options);
  f.informer->start();
  auto stream = f.watch(0);
  REQUIRE(f.client.calls("list").size() == 1);
  CHECK(f.client.calls("list")[0].list.itemFields == options.reflector.itemFields);
  CHECK(stream->options.itemFields == options.reflector.itemFields);
}

TEST_CASE("reflector watch timeouts span 300 to 600 seconds with the random source") {
  for (double r : {0.0, 0.999}) {
    ReflectorFixture f;
    InformerOptions options;
    options.reflector.random = [r] { return r; };
    f.informer = std::make_unique<Informer>(f.client, mv::kube::resources::pods(), f.clock, options);
    f.informer->start();
    auto stream = f.watch(0);
    CHECK(*stream->options.timeoutSeconds == (r == 0.0 ? 300 : 599));
  }
}

TEST_CASE("a 410 mid-watch leads to a relist whose result replaces the cache, deletions noticed") {
  ReflectorFixture f;
  f.seed("keep");
  f.seed("change", {{"v", "1"}});
  f.seed("vanish", {{"app", "x"}});
  f.start();
  auto stream = f.watch(0);
  REQUIRE(f.informer->store().size() == 3);
  f.recorder.clear();

  // The server moves on while the watch misses it (e.g. the watch cache window passed): no events for these.
  f.client.erase(mv::kube::resources::pods(), "ns", "vanish");
  f.seed("change", {{"v", "2"}});
  f.seed("born");
  const std::string serverRv = f.client.currentResourceVersion();

  stream->send(WatchEvent::Type::Error, mv::testing::goneEvent().object);  // ERROR event with 410 Expired
  auto relistWatch = f.watch(1);
  CHECK(relistWatch->options.resourceVersion == serverRv);
  CHECK(f.client.calls("list").size() == 2);

  CHECK(f.informer->store().listKeys() == std::vector<std::string>{"ns/born", "ns/change", "ns/keep"});
  CHECK(f.informer->store().indexKeys(kLabelIndex, "app=x").empty());
  const auto events = f.recorder.events();
  CHECK(events == std::vector<std::string>{"add ns/born", "update ns/change", "delete ns/vanish"});
  // The deletion carries the last known state; the update both states.
  CHECK(f.recorder.objects()[2]["metadata"]["labels"]["app"] == "x");
  CHECK(f.recorder.previous()[1]["metadata"]["labels"]["v"] == "1");
  CHECK(f.recorder.objects()[1]["metadata"]["labels"]["v"] == "2");
  CHECK(f.informer->hasSynced());
}

TEST_CASE("a 410 HTTP status on the watch request relists at once, without back-off") {
  ReflectorFixture f;
  f.seed("a");
  f.client.failNext("watch", "pods", mv::testing::goneError());
  f.start();
  auto second = f.watch(1);  // the first watch failed with 410; a relist came before this one
  CHECK(f.client.calls("list").size() == 2);
  CHECK(f.informer->lastSyncResourceVersion() == second->options.resourceVersion);
}

TEST_CASE("a dropped stream resumes from the last resourceVersion seen, after the back-off, without relisting") {
  ReflectorFixture f;
  f.seed("a");
  f.start();
  auto stream = f.watch(0);

  json modified = f.client.put(mv::kube::resources::pods(), makePod("ns", "a", {{"v", "2"}}));
  stream->send(WatchEvent::Type::Modified, modified);
  json added = f.client.put(mv::kube::resources::pods(), makePod("ns", "b"));
  stream->send(WatchEvent::Type::Added, added);
  REQUIRE(stream->awaitDelivered());
  const std::string lastRv = added["metadata"]["resourceVersion"];
  CHECK(f.informer->lastSyncResourceVersion() == lastRv);

  stream->fail(std::make_exception_ptr(
      mv::kube::TransportError(mv::kube::TransportError::Kind::Protocol, "stream cut short")));
  REQUIRE(f.inState(ReflectorState::BackingOff));
  REQUIRE(f.clock.awaitWaiters(1));
  f.clock.advance(799ms);
  CHECK_FALSE(f.client.awaitWatch(1, 20ms));  // not before the 800 ms back-off
  f.clock.advance(1ms);
  auto resumed = f.watch(1);
  CHECK(resumed->options.resourceVersion == lastRv);
  CHECK(f.client.calls("list").size() == 1);
  CHECK(f.informer->store().size() == 2);
  CHECK(f.recorder.events() == std::vector<std::string>{"add ns/a", "update ns/a", "add ns/b"});
}

TEST_CASE("bookmarks advance the resourceVersion without touching the cache") {
  ReflectorFixture f;
  f.seed("a");
  f.start();
  auto stream = f.watch(0);
  const auto before = f.informer->store().list();
  f.recorder.clear();

  stream->bookmark("5000");
  REQUIRE(stream->awaitDelivered());
  CHECK(f.informer->lastSyncResourceVersion() == "5000");
  CHECK(f.informer->store().list() == before);
  CHECK(f.recorder.count() == 0);

  stream->close();  // the server's timeout: a quiet end
  auto next = f.watch(1);
  CHECK(next->options.resourceVersion == "5000");
}

TEST_CASE("a watch that ends quietly resumes from the last resourceVersion at once, without relisting") {
  ReflectorFixture f;
  f.seed("a");
  f.start();
  auto stream = f.watch(0);
  json added = f.client.put(mv::kube::resources::pods(), makePod("ns", "b"));
  stream->send(WatchEvent::Type::Added, added);
  stream->close();
  auto next = f.watch(1);  // no clock advance needed: no back-off
  CHECK(next->options.resourceVersion == added["metadata"]["resourceVersion"]);
  CHECK(f.client.calls("list").size() == 1);
  CHECK(f.informer->lastSyncResourceVersion() == added["metadata"]["resourceVersion"]);
}

TEST_CASE("a watch that ends at once without any event is a failure and backs off") {
  ReflectorFixture f;
  f.start();
  f.watch(0)->close();
  REQUIRE(f.inState(ReflectorState::BackingOff));
  CHECK(f.informer->state() == ReflectorState::BackingOff);
  REQUIRE(f.clock.awaitWaiters(1));
  f.clock.advance(800ms);
  f.watch(1);
}

TEST_CASE("watch failures back off 800ms doubling to 30s, and start over after 2 minutes of health") {
  ReflectorFixture f;
  f.seed("a");
  f.start();
  std::size_t index = 0;
  auto stream = f.watch(index);

  // Fails the current watch with a 500 and checks that the next watch comes exactly `delay` later.
  auto failAndExpectRetryAfter = [&](std::chrono::milliseconds delay) {
    stream->fail(std::make_exception_ptr(mv::testing::internalError()));
    REQUIRE(f.inState(ReflectorState::BackingOff));
    REQUIRE(f.clock.awaitWaiters(1));
    f.clock.advance(delay - 1ms);
    CHECK_FALSE(f.client.awaitWatch(index + 1, 20ms));
    f.clock.advance(1ms);
    stream = f.watch(++index);
    CHECK(stream->options.resourceVersion == f.informer->lastSyncResourceVersion());
  };

  for (auto delay : {800ms, 1600ms, 3200ms, 6400ms, 12800ms, 25600ms, 30000ms, 30000ms}) {
    CAPTURE(delay.count());
    failAndExpectRetryAfter(delay);
  }
  // Healthy for 2 minutes: the next failure starts the sequence over.
  f.clock.advance(2min);
  failAndExpectRetryAfter(800ms);
  failAndExpectRetryAfter(1600ms);
  CHECK(f.relists() == 1);  // the history probe's limit=1 lists (the watches were quiet for minutes) are no relists
}

TEST_CASE("a failed list backs off and lists again from the first page") {
  ReflectorFixture f;
  f.client.setWatchCache(false);  // paged
  f.seed("a");
  f.seed("b");
  f.seed("c");
  f.client.failNext("list", "pods", mv::testing::internalError());
  f.start(2);
  REQUIRE(f.inState(ReflectorState::BackingOff));
  CHECK_FALSE(f.informer->hasSynced());
  REQUIRE(f.clock.awaitWaiters(1));
  f.clock.advance(800ms);
  f.watch(0);
  auto lists = f.client.calls("list");
  REQUIRE(lists.size() == 3);
  CHECK(lists[1].list.continueToken.empty());
  CHECK(f.informer->store().size() == 3);
  CHECK(f.informer->hasSynced());
}

TEST_CASE("an expired continue token (410 on a later page) restarts the list from scratch at once") {
  ReflectorFixture f;
  f.client.setWatchCache(false);  // paged
  for (int i = 0; i < 4; ++i) f.seed("p" + std::to_string(i));
  f.client.failNext("list", "pods",
                    mv::testing::apiError(410, mv::kube::StatusReason::Expired,
                                          "The provided continue parameter is too old"),
                    1);  // the second list call: the first continue request
  f.start(2);
  f.watch(0);  // no clock advance: a 410 relists without back-off
  auto lists = f.client.calls("list");
  REQUIRE(lists.size() == 4);
  CHECK_FALSE(lists[1].list.continueToken.empty());
  CHECK(lists[2].list.continueToken.empty());
  CHECK_FALSE(lists[3].list.continueToken.empty());
  CHECK(f.informer->store().size() == 4);
  CHECK(f.recorder.count() == 4);  // the abandoned first page was never applied
}

TEST_CASE("stop ends the reflector while watching and while backing off") {
  SUBCASE("watching") {
    ReflectorFixture f;
    f.start();
    auto stream = f.watch(0);
    f.informer->stop();
    CHECK(f.informer->state() == ReflectorState::Stopped);
    CHECK_FALSE(stream->active());
  }
  SUBCASE("backing off") {
    ReflectorFixture f;
    f.client.failNext("list", "pods", mv::testing::internalError());
    f.start();
    REQUIRE(f.inState(ReflectorState::BackingOff));
    f.informer->stop();
    CHECK(f.informer->state() == ReflectorState::Stopped);
    CHECK(f.client.calls("list").size() == 1);
  }
}
