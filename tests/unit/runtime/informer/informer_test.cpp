#include "runtime/informer/informer.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "informer_test_support.h"
#include "runtime/informer/owner_keys.h"
#include "support/fake_client.h"

using namespace std::chrono_literals;
using namespace mv::runtime::informer;
using mv::kube::WatchEvent;
using mv::testing::eventually;
using mv::testing::FakeClient;
using mv::testing::makePod;
using mv::testing::RecordingHandler;

namespace {

InformerOptions quietOptions() {
  InformerOptions options;
  options.reflector.random = [] { return 0.0; };
  return options;
}

}  // namespace

TEST_CASE("informer turns watch events into cache changes and handler calls, in order") {
  mv::util::FakeClock clock;
  FakeClient client;  // emits events for writes made through its API
  RecordingHandler recorder;
  Informer informer(client, mv::kube::resources::pods(), clock, quietOptions());
  informer.addEventHandler(recorder.handler());
  informer.start();
  REQUIRE(informer.waitForSync(clock.now() + 1s));
  REQUIRE(client.awaitWatch(0));

  const auto pods = mv::kube::resources::pods();
  client.create(pods, "ns", makePod("ns", "a", {{"app", "x"}}));
  json updated = makePod("ns", "a", {{"app", "y"}});
  client.update(pods, "ns", updated);
  client.remove(pods, "ns", "a");
  REQUIRE(eventually([&] { return recorder.count() == 3; }));
  CHECK(recorder.events() == std::vector<std::string>{"add ns/a", "update ns/a", "delete ns/a"});
  CHECK(recorder.previous()[1]["metadata"]["labels"]["app"] == "x");
  CHECK(recorder.objects()[1]["metadata"]["labels"]["app"] == "y");
  CHECK(recorder.objects()[2]["metadata"]["labels"]["app"] == "y");  // the DELETED event's last state
  CHECK(informer.store().size() == 0);
  CHECK(informer.store().indexKeys(kLabelIndex, "app=y").empty());
  informer.stop();
}

TEST_CASE("informer applies the transform before caching and before handlers see an object") {
  mv::util::FakeClock clock;
  FakeClient client;
  json pod = makePod("ns", "a");
  pod["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  client.put(mv::kube::resources::pods(), pod);

  InformerOptions options = quietOptions();
  options.transform = projectPodForOperator;
  RecordingHandler recorder;
  Informer informer(client, mv::kube::resources::pods(), clock, options);
  informer.addEventHandler(recorder.handler());
  informer.start();
  REQUIRE(informer.waitForSync(clock.now() + 1s));
  auto cached = informer.store().get("ns/a");
  REQUIRE(cached.has_value());
  CHECK_FALSE((*cached)["metadata"].contains("managedFields"));
  CHECK_FALSE((*cached)["spec"]["containers"][0].contains("image"));
  CHECK((*cached)["kind"] == "Pod");
  CHECK(recorder.objects().at(0) == *cached);

  // A relist that finds the same object (as projected) reports no change, although list items lack kind.
  REQUIRE(client.awaitWatch(0));
  recorder.clear();
  client.awaitWatch(0)->send(WatchEvent::Type::Error, mv::testing::goneEvent().object);
  REQUIRE(client.awaitWatch(1));
  CHECK(recorder.count() == 0);
  informer.stop();
}

TEST_CASE("a handler added after sync is replayed the cached objects, and a throwing handler stops nothing") {
  mv::util::FakeClock clock;
  FakeClient client;
  client.put(mv::kube::resources::pods(), makePod("ns", "a"));
  client.put(mv::kube::resources::pods(), makePod("ns", "b"));
  Informer informer(client, mv::kube::resources::pods(), clock, quietOptions());
  EventHandler throwing;
  throwing.onAdd = [](const json&) { throw std::runtime_error("handler bug"); };
  informer.addEventHandler(throwing);
  informer.start();
  REQUIRE(informer.waitForSync(clock.now() + 1s));
  CHECK(informer.store().size() == 2);

  RecordingHandler late;
  informer.addEventHandler(late.handler());
  CHECK(late.events() == std::vector<std::string>{"add ns/a", "add ns/b"});
  REQUIRE(client.awaitWatch(0));
  client.create(mv::kube::resources::pods(), "ns", makePod("ns", "c"));
  REQUIRE(eventually([&] { return late.count() == 3; }));
  CHECK(informer.store().size() == 3);
  informer.stop();
}

TEST_CASE("waitForSync gives up at its deadline on the informer's clock, and on stop") {
  mv::util::FakeClock clock;
  FakeClient client;
  client.failNext("list", "pods", mv::testing::internalError());
  Informer informer(client, mv::kube::resources::pods(), clock, quietOptions());
  informer.start();
  std::atomic<int> result{-1};
  std::thread waiter([&] { result = informer.waitForSync(clock.now() + 500ms) ? 1 : 0; });
  REQUIRE(clock.awaitWaiters(2));  // the waiter and the reflector's back-off (800 ms)
  clock.advance(500ms);
  waiter.join();
  CHECK(result.load() == 0);
  CHECK_FALSE(informer.hasSynced());
  clock.advance(300ms);  // the back-off ends, the list succeeds
  CHECK(informer.waitForSync(clock.now() + 10s));
  informer.stop();
  CHECK(informer.hasSynced());  // stays true
}

TEST_CASE("a pod change enqueues its owning MediVoteService through the informer") {
  mv::util::FakeClock clock;
  FakeClient client;
  std::mutex mu;
  std::vector<std::string> queue;
  client.put(mv::kube::resources::pods(),
             makePod("medivote", "backend-0", json::object(), "MediVoteService", "backend", "uid-1"));
  Informer informer(client, mv::kube::resources::pods(), clock, quietOptions());
  informer.addEventHandler(enqueueControllerOwner("MediVoteService", "medivote.io", [&](const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    queue.push_back(key);
  }));
  informer.start();
  REQUIRE(informer.waitForSync(clock.now() + 1s));
  REQUIRE(client.awaitWatch(0));
  json changed = *client.object(mv::kube::resources::pods(), "medivote", "backend-0");
  changed["status"]["phase"] = "Succeeded";
  client.update(mv::kube::resources::pods(), "medivote", changed);
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return queue.size() == 2;
  }));
  CHECK(queue == std::vector<std::string>{"medivote/backend", "medivote/backend"});
  CHECK(informer.store().indexKeys(kControllerOwnerUidIndex, "uid-1") ==
        std::vector<std::string>{"medivote/backend-0"});
  informer.stop();
}
