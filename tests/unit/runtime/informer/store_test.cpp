#include "runtime/informer/store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "informer_test_support.h"
#include "runtime/informer/object_key.h"

using namespace mv::runtime::informer;
using mv::testing::makePod;

namespace {

json withRv(json object, const std::string& rv) {
  object["metadata"]["resourceVersion"] = rv;
  return object;
}

std::vector<std::string> names(const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(objectKey(o));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("object keys are namespace/name, or name for cluster-scoped objects") {
  CHECK(objectKey(makePod("ns1", "a")) == "ns1/a");
  CHECK(objectKey(json{{"metadata", {{"name", "node-a"}}}}) == "node-a");
  CHECK_THROWS_AS(objectKey(json{{"metadata", json::object()}}), std::invalid_argument);
}

TEST_CASE("store get/list/upsert/erase return copies and previous states") {
  Store store;
  CHECK_FALSE(store.get("ns1/a").has_value());
  CHECK_FALSE(store.upsert(withRv(makePod("ns1", "a"), "1")).has_value());
  auto previous = store.upsert(withRv(makePod("ns1", "a"), "2"));
  REQUIRE(previous.has_value());
  CHECK((*previous)["metadata"]["resourceVersion"] == "1");
  auto got = store.get("ns1/a");
  REQUIRE(got.has_value());
  CHECK((*got)["metadata"]["resourceVersion"] == "2");
  (*got)["metadata"]["resourceVersion"] = "changed by the caller";
  CHECK((*store.get("ns1/a"))["metadata"]["resourceVersion"] == "2");
  CHECK(store.size() == 1);
  CHECK(store.encodedBytes() > 0);

  auto last = store.erase("ns1/a");
  REQUIRE(last.has_value());
  CHECK((*last)["metadata"]["resourceVersion"] == "2");
  CHECK_FALSE(store.erase("ns1/a").has_value());
  CHECK(store.size() == 0);
  CHECK(store.encodedBytes() == 0);
}

TEST_CASE("store indexes by namespace, controller owner uid and label, and keeps them current") {
  Store store;
  store.upsert(makePod("ns1", "a", {{"app", "backend"}, {"tier", "critical"}}, "MediVoteService", "svc", "uid-1"));
  store.upsert(makePod("ns1", "b", {{"app", "backend"}}, "MediVoteService", "svc", "uid-1"));
  store.upsert(makePod("ns2", "c", {{"app", "frontend"}}));
  json notController = makePod("ns2", "d", {{"app", "backend"}}, "ReplicaSet", "rs", "uid-2");
  notController["metadata"]["ownerReferences"][0]["controller"] = false;
  store.upsert(notController);

  CHECK(store.indexKeys(kNamespaceIndex, "ns1") == std::vector<std::string>{"ns1/a", "ns1/b"});
  CHECK(store.indexKeys(kNamespaceIndex, "ns2") == std::vector<std::string>{"ns2/c", "ns2/d"});
  CHECK(store.indexKeys(kControllerOwnerUidIndex, "uid-1") == std::vector<std::string>{"ns1/a", "ns1/b"});
  CHECK(store.indexKeys(kControllerOwnerUidIndex, "uid-2").empty());
  CHECK(store.indexKeys(kLabelIndex, labelIndexValue("app", "backend")) ==
        std::vector<std::string>{"ns1/a", "ns1/b", "ns2/d"});
  CHECK(names(store.byIndex(kLabelIndex, "tier=critical")) == std::vector<std::string>{"ns1/a"});
  CHECK_THROWS_AS(store.byIndex("no-such-index", "x"), std::invalid_argument);

  // An update moves the object between index values; an erase removes it from all.
  store.upsert(makePod("ns1", "a", {{"app", "frontend"}}));
  CHECK(store.indexKeys(kLabelIndex, "app=backend") == std::vector<std::string>{"ns1/b", "ns2/d"});
  CHECK(store.indexKeys(kLabelIndex, "app=frontend") == std::vector<std::string>{"ns1/a", "ns2/c"});
  CHECK(store.indexKeys(kLabelIndex, "tier=critical").empty());
  CHECK(store.indexKeys(kControllerOwnerUidIndex, "uid-1") == std::vector<std::string>{"ns1/b"});
  store.erase("ns1/b");
  CHECK(store.indexKeys(kControllerOwnerUidIndex, "uid-1").empty());
  CHECK(store.indexKeys(kNamespaceIndex, "ns1") == std::vector<std::string>{"ns1/a"});
}

TEST_CASE("store replace reports additions, content changes and deletions with the last known state") {
  Store store;
  store.upsert(withRv(makePod("ns", "keep"), "1"));
  store.upsert(withRv(makePod("ns", "change", {{"v", "1"}}), "2"));
  store.upsert(withRv(makePod("ns", "gone", {{"app", "x"}}), "3"));

  auto snapshot = store.newSnapshot();
  snapshot.add(withRv(makePod("ns", "keep"), "1"));
  snapshot.add(withRv(makePod("ns", "change", {{"v", "2"}}), "5"));
  snapshot.add(withRv(makePod("ns", "new"), "6"));
  CHECK(snapshot.size() == 3);
  auto changes = store.replace(std::move(snapshot));
  std::sort(changes.begin(), changes.end(), [](auto& a, auto& b) { return a.key < b.key; });

  REQUIRE(changes.size() == 3);
  CHECK(changes[0].key == "ns/change");
  CHECK(decodeObject(changes[0].before)["metadata"]["labels"]["v"] == "1");
  CHECK(decodeObject(changes[0].after)["metadata"]["labels"]["v"] == "2");
  CHECK(changes[1].key == "ns/gone");
  REQUIRE(changes[1].before);
  CHECK_FALSE(changes[1].after);
  CHECK(decodeObject(changes[1].before)["metadata"]["resourceVersion"] == "3");
  CHECK(changes[2].key == "ns/new");
  CHECK_FALSE(changes[2].before);

  CHECK(store.listKeys() == std::vector<std::string>{"ns/change", "ns/keep", "ns/new"});
  CHECK(store.indexKeys(kLabelIndex, "app=x").empty());
  CHECK(store.indexKeys(kLabelIndex, "v=2") == std::vector<std::string>{"ns/change"});
  CHECK(store.indexKeys(kNamespaceIndex, "ns").size() == 3);
}

TEST_CASE("store custom indexers replace the defaults") {
  Indexers indexers{{"phase", [](const json& o) {
                       return std::vector<std::string>{o["status"].value("phase", "")};
                     }}};
  Store store(indexers);
  store.upsert(makePod("ns", "a"));
  CHECK(store.indexKeys("phase", "Running") == std::vector<std::string>{"ns/a"});
  CHECK_THROWS_AS(store.indexKeys(kNamespaceIndex, "ns"), std::invalid_argument);
}

TEST_CASE("store reads are safe while the writer changes the content") {
  Store store;
  std::atomic<bool> done{false};
  std::atomic<long> reads{0};
  std::thread reader([&] {
    while (!done) {
      for (const auto& pod : store.byIndex(kLabelIndex, "app=x")) CHECK(pod["metadata"]["labels"]["app"] == "x");
      store.list();
      store.get("ns/p7");
      ++reads;
    }
  });
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 20; ++i) store.upsert(makePod("ns", "p" + std::to_string(i), {{"app", round % 2 ? "x" : "y"}}));
    auto snapshot = store.newSnapshot();
    for (int i = 0; i < 10; ++i) snapshot.add(makePod("ns", "p" + std::to_string(i), {{"app", "x"}}));
    store.replace(std::move(snapshot));
    store.erase("ns/p3");
  }
  done = true;
  reader.join();
  CHECK(reads.load() > 0);
  CHECK(store.size() == 9);
}

TEST_CASE("store compact keeps content and indexes, and objects already read stay valid") {
  Store store;
  store.upsert(makePod("ns", "a", {{"app", "x"}}, "MediVoteService", "svc", "uid-1"));
  store.upsert(makePod("ns", "b", {{"app", "x"}}));
  auto snapshot = store.newSnapshot();
  snapshot.add(makePod("ns", "a", {{"app", "x"}}, "MediVoteService", "svc", "uid-1"));
  snapshot.add(makePod("ns", "c", {{"app", "y"}}));
  store.replace(std::move(snapshot));
  const auto before = store.list();
  const std::size_t bytes = store.encodedBytes();
  std::thread([&] { store.compact(); }).join();
  CHECK(store.listKeys() == std::vector<std::string>{"ns/a", "ns/c"});
  CHECK(store.encodedBytes() == bytes);
  CHECK(store.indexKeys(kLabelIndex, "app=x") == std::vector<std::string>{"ns/a"});
  CHECK(store.indexKeys(kControllerOwnerUidIndex, "uid-1") == std::vector<std::string>{"ns/a"});
  CHECK(store.indexKeys(kNamespaceIndex, "ns") == std::vector<std::string>{"ns/a", "ns/c"});
  // Index entries point at the new keys: changing and erasing after compaction keeps them exact.
  store.upsert(makePod("ns", "a", {{"app", "y"}}));
  store.erase("ns/c");
  CHECK(store.indexKeys(kLabelIndex, "app=y") == std::vector<std::string>{"ns/a"});
  CHECK(store.indexKeys(kLabelIndex, "app=x").empty());
  CHECK(before.size() == 2);
}
