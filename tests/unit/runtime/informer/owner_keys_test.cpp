#include "runtime/informer/owner_keys.h"

#include <doctest/doctest.h>

#include "informer_test_support.h"

using namespace mv::runtime::informer;
using mv::testing::makePod;

TEST_CASE("controllerOwnerKey maps a pod to its controlling MediVoteService") {
  json pod = makePod("medivote", "backend-0", json::object(), "MediVoteService", "backend", "uid-1");
  CHECK(controllerOwnerKey(pod, "MediVoteService") == std::optional<std::string>("medivote/backend"));
  CHECK(controllerOwnerKey(pod, "MediVoteService", "medivote.io") == std::optional<std::string>("medivote/backend"));
  CHECK_FALSE(controllerOwnerKey(pod, "MediVoteService", "apps").has_value());
  CHECK_FALSE(controllerOwnerKey(pod, "ReplicaSet").has_value());
  CHECK_FALSE(controllerOwnerKey(makePod("medivote", "lonely"), "MediVoteService").has_value());

  json notController = pod;
  notController["metadata"]["ownerReferences"][0]["controller"] = false;
  CHECK_FALSE(controllerOwnerKey(notController, "MediVoteService").has_value());
}

TEST_CASE("enqueueControllerOwner enqueues the owner on add, update and delete, old and new owner") {
  std::vector<std::string> keys;
  auto handler = enqueueControllerOwner("MediVoteService", "medivote.io", [&](const std::string& k) {
    keys.push_back(k);
  });
  json a = makePod("ns", "p", json::object(), "MediVoteService", "svc-a", "uid-a");
  json b = makePod("ns", "p", json::object(), "MediVoteService", "svc-b", "uid-b");
  handler.onAdd(a);
  handler.onUpdate(a, a);
  handler.onUpdate(a, b);
  handler.onDelete(b);
  handler.onAdd(makePod("ns", "unowned"));
  CHECK(keys == std::vector<std::string>{"ns/svc-a", "ns/svc-a", "ns/svc-a", "ns/svc-b", "ns/svc-b"});
}

TEST_CASE("enqueueObjectKey enqueues the object's own key") {
  std::vector<std::string> keys;
  auto handler = enqueueObjectKey([&](const std::string& k) { keys.push_back(k); });
  handler.onAdd(makePod("ns", "a"));
  handler.onUpdate(makePod("ns", "a"), makePod("ns", "a"));
  handler.onDelete(makePod("ns", "b"));
  CHECK(keys == std::vector<std::string>{"ns/a", "ns/a", "ns/b"});
}
