// The reflector's streaming list (StreamingList::Auto; KEP-3157) against the scripted fake API server: the initial
// ADDED events fill the cache at the initial-events-end bookmark and the watch goes on on the same stream; an ERROR
// event, an error status or a stream that ends or breaks before that bookmark falls back to paged lists for good, without an
// object lost or doubled; a 410 later relists by the mode in force.

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "reflector_fixture.h"
#include "runtime/informer/reflector.h"

using namespace std::chrono_literals;
using namespace mv::runtime::informer;
using mv::kube::WatchEvent;
using mv::testing::makePod;
using mv::testing::ReflectorFixture;

namespace {

const std::string kSelector = "app=x";

void startStreaming(ReflectorFixture& f) {
  InformerOptions options;
  options.reflector.streamingList = StreamingList::Auto;
  options.reflector.labelSelector = kSelector;
  options.reflector.random = [] { return 0.5; };
  f.informer = std::make_unique<Informer>(f.client, mv::kube::resources::pods(), f.clock, options);
  f.informer->addEventHandler(f.recorder.handler());
  f.informer->start();
}

json pod(const std::string& name, const std::string& rv) {
  json p = makePod("ns", name, {{"app", "x"}});
  p["metadata"]["resourceVersion"] = rv;
  p["metadata"]["uid"] = "uid-" + name;
  return p;
}

json endBookmark(const std::string& rv) {
  return {{"kind", "Pod"},
          {"apiVersion", "v1"},
          {"metadata", {{"resourceVersion", rv}, {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}};
}

json refusedStatus() {  // edge-cases-2026-12.md, "Streaming lists": a 1.32 server on etcd 3.4.23
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Failure"},
          {"message", "a watch stream was requested by the client but the required storage feature "
                      "RequestWatchProgress is disabled"},
          {"reason", "InternalError"},
          {"code", 500}};
}

void checkStreamingOptions(const mv::testing::FakeWatchStream& s) {
  CHECK(s.options.sendInitialEvents);
  CHECK(s.options.allowWatchBookmarks);
  CHECK(s.options.resourceVersion.empty());
  CHECK(s.options.labelSelector == kSelector);
}

// The informer's cache after a fallback equals the server's objects, each once.
void checkCacheIsServer(ReflectorFixture& f, const std::vector<std::string>& keys) {
  REQUIRE(f.inState(ReflectorState::Watching));
  CHECK(f.informer->hasSynced());
  CHECK(f.informer->store().listKeys() == keys);
}

}  // namespace

TEST_CASE("a streaming list fills the cache at the initial-events-end bookmark and watches on the same stream") {
  ReflectorFixture f;
  startStreaming(f);
  auto stream = f.watch(0);
  checkStreamingOptions(*stream);
  CHECK(f.informer->state() == ReflectorState::StreamingListing);

  stream->send(WatchEvent::Type::Added, pod("a", "11"));
  stream->send(WatchEvent::Type::Added, pod("b", "12"));
  stream->send(WatchEvent::Type::Bookmark, json{{"kind", "Pod"}, {"metadata", {{"resourceVersion", "12"}}}});
  REQUIRE(stream->awaitDelivered());
  CHECK_FALSE(f.informer->hasSynced());  // a bookmark without the annotation does not end the list
  CHECK(f.informer->store().size() == 0);

  stream->send(WatchEvent::Type::Added, pod("c", "13"));
  stream->send(WatchEvent::Type::Bookmark, endBookmark("20"));
  REQUIRE(stream->awaitDelivered());
  REQUIRE(f.inState(ReflectorState::Watching));
  CHECK(f.informer->hasSynced());
  CHECK(f.informer->store().listKeys() == std::vector<std::string>{"ns/a", "ns/b", "ns/c"});
  CHECK(f.informer->lastSyncResourceVersion() == "20");
  CHECK(f.recorder.count() == 3);
  CHECK(f.client.calls("list").empty());

  // The watch goes on on the same stream: no second request.
  json changed = pod("a", "21");
  changed["metadata"]["labels"]["v"] = "2";
  stream->send(WatchEvent::Type::Modified, changed);
  stream->send(WatchEvent::Type::Deleted, pod("b", "22"));
  REQUIRE(stream->awaitDelivered());
  CHECK(f.informer->store().listKeys() == std::vector<std::string>{"ns/a", "ns/c"});
  CHECK((*f.informer->store().get("ns/a"))["metadata"]["labels"]["v"] == "2");
  CHECK(f.informer->lastSyncResourceVersion() == "22");
  CHECK(f.client.watchCount() == 1);

  // A quiet end resumes with a plain watch from the last resourceVersion.
  stream->close();
  auto resumed = f.watch(1);
  CHECK_FALSE(resumed->options.sendInitialEvents);
  CHECK(resumed->options.resourceVersion == "22");
  CHECK(f.client.calls("list").empty());
}

TEST_CASE("an ERROR 500 event answering a streaming list falls back to a paged list, nothing doubled") {
  ReflectorFixture f;
  f.seed("a", {{"app", "x"}});
  f.seed("b", {{"app", "x"}});
  startStreaming(f);
  auto stream = f.watch(0);
  checkStreamingOptions(*stream);
  stream->send(WatchEvent::Type::Added, pod("a", "1"));
  stream->send(WatchEvent::Type::Added, pod("gone", "2"));  // seen before the ERROR: dropped with the pending list
  stream->send(WatchEvent::Type::Error, refusedStatus());
  auto watch = f.watch(1);
  CHECK_FALSE(watch->options.sendInitialEvents);
  CHECK(watch->options.resourceVersion == f.client.currentResourceVersion());
  REQUIRE(f.client.calls("list").size() == 1);
  CHECK(f.client.calls("list")[0].list.labelSelector == kSelector);
  checkCacheIsServer(f, {"ns/a", "ns/b"});
  CHECK(f.recorder.count() == 2);

  // Remembered: a 410 relists by pages, not by another streaming list.
  watch->send(WatchEvent::Type::Error, mv::testing::goneEvent().object);
  auto relisted = f.watch(2);
  CHECK_FALSE(relisted->options.sendInitialEvents);
  CHECK(f.client.calls("list").size() == 2);
}

TEST_CASE("a streaming list cut before its end bookmark falls back to a paged list") {
  for (bool broken : {false, true}) {
    CAPTURE(broken);
    ReflectorFixture f;
    f.seed("a", {{"app", "x"}});
    startStreaming(f);
    auto stream = f.watch(0);
    stream->send(WatchEvent::Type::Added, pod("a", "1"));
    REQUIRE(stream->awaitDelivered());
    if (broken) {
      stream->fail(std::make_exception_ptr(std::runtime_error("connection reset by peer")));
    } else {
      stream->close();  // ended quietly: a proxy's timeout, or a server that does not send the bookmark
    }
    auto watch = f.watch(1);
    CHECK_FALSE(watch->options.sendInitialEvents);
    CHECK(f.client.calls("list").size() == 1);
    checkCacheIsServer(f, {"ns/a"});
  }
}

TEST_CASE("an error status answering the streaming list falls back, a refused connection retries it after the back-off") {
  ReflectorFixture f;
  f.seed("a", {{"app", "x"}});
  f.client.failNext("watch", "pods", std::make_exception_ptr(std::runtime_error("connection refused")));
  f.client.failNext("watch", "pods",
                    mv::testing::apiError(422, mv::kube::StatusReason::Invalid, "sendInitialEvents: Forbidden"), 1);
  startStreaming(f);
  REQUIRE(f.inState(ReflectorState::BackingOff));
  CHECK(f.client.calls("list").empty());
  f.clock.advance(1s);  // the first back-off: 800 ms
  auto second = f.watch(1);
  checkStreamingOptions(*second);  // a refused connection says nothing of the server's abilities: streaming again
  auto third = f.watch(2);  // the 422: paged list, then a plain watch
  CHECK_FALSE(third->options.sendInitialEvents);
  CHECK(f.client.calls("list").size() == 1);
  checkCacheIsServer(f, {"ns/a"});
}

TEST_CASE("a 410 after a completed streaming list relists by another streaming list") {
  ReflectorFixture f;
  startStreaming(f);
  auto stream = f.watch(0);
  stream->send(WatchEvent::Type::Added, pod("a", "1"));
  stream->send(WatchEvent::Type::Added, pod("b", "2"));
  stream->send(WatchEvent::Type::Bookmark, endBookmark("5"));
  REQUIRE(f.inState(ReflectorState::Watching));
  f.recorder.clear();
  stream->send(WatchEvent::Type::Error, mv::testing::goneEvent().object);
  auto relist = f.watch(1);
  checkStreamingOptions(*relist);
  relist->send(WatchEvent::Type::Added, pod("b", "2"));
  relist->send(WatchEvent::Type::Added, pod("c", "7"));
  relist->send(WatchEvent::Type::Bookmark, endBookmark("8"));
  REQUIRE(relist->awaitDelivered());
  REQUIRE(f.inState(ReflectorState::Watching));
  CHECK(f.informer->store().listKeys() == std::vector<std::string>{"ns/b", "ns/c"});
  auto events = f.recorder.events();
  std::sort(events.begin(), events.end());
  CHECK(events == std::vector<std::string>{"add ns/c", "delete ns/a"});  // b unchanged: no event
  CHECK(f.informer->lastSyncResourceVersion() == "8");
  CHECK(f.client.calls("list").empty());
}
