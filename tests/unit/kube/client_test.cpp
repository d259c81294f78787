// The API client's own logic on a scripted transport: paths, queries, headers, error mapping, retries, paging and
// watch decoding. The real transport is tested against a scripted HTTP(S) server in transport_test.cpp.
#include "kube/client.h"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "support/fake_transport.h"

using namespace mv::kube;
using namespace std::chrono_literals;
using mv::testing::FakeTransport;
using mv::util::FakeClock;

namespace {

struct Fixture {
  FakeClock clock;
  FakeTransport* transport;
  std::unique_ptr<RestClient> client;
  Fixture(std::shared_ptr<BearerToken> token = BearerToken::fixed("t0k3n"), ClientOptions opts = {}) {
    auto t = std::make_unique<FakeTransport>();
    transport = t.get();
    client = std::make_unique<RestClient>(std::move(t), std::move(token), clock, opts);
  }
  const HttpRequest& last() const { return transport->requests().back(); }
};

const char* kConflict =
    R"J({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on pods \"a\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"a","kind":"pods"},"code":409})J";

}  // namespace

TEST_CASE("get sends the object path, JSON Accept, the bearer token and a user agent") {
  Fixture f;
  f.transport->reply(200, R"J({"kind":"Pod","metadata":{"name":"a"}})J");
  const auto pod = f.client->get(resources::pods(), "ns", "a");
  CHECK(pod["metadata"]["name"] == "a");
  CHECK(f.last().method == "GET");
  CHECK(f.last().pathAndQuery == "/api/v1/namespaces/ns/pods/a");
  CHECK(f.last().headers.at("Accept") == "application/json");
  CHECK(f.last().headers.at("Authorization") == "Bearer t0k3n");
  CHECK(f.last().headers.at("User-Agent").rfind("medivote-controller/", 0) == 0);
}

TEST_CASE("list carries selectors, limit, continue and resourceVersion in the query") {
  Fixture f;
  f.transport->reply(200, R"J({"items":[]})J");
  ListOptions o;
  o.labelSelector = "app=vote,tier!=simple";
  o.fieldSelector = "spec.nodeName=n1";
  o.limit = 50;
  o.continueToken = "abc";
  f.client->list(resources::pods(), "", o);
  CHECK(f.last().pathAndQuery ==
        "/api/v1/pods?labelSelector=app%3Dvote%2Ctier%21%3Dsimple&fieldSelector=spec.nodeName%3Dn1&limit=50&continue=abc");
}

TEST_CASE("listPage hands out the page's metadata, then each item in order, with the same query as list") {
  Fixture f;
  f.transport->reply(200, R"J({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"c2"},
                               "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}},{"metadata":{"name":"c"}}]})J");
  ListOptions o;
  o.labelSelector = "app=vote";
  o.limit = 3;
  std::vector<std::string> seen;
  f.client->listPage(
      resources::pods(), "ns", o,
      [&](const json& page) {
        CHECK_FALSE(page.contains("items"));
        CHECK(page["kind"] == "PodList");
        CHECK(page["metadata"]["continue"] == "c2");
        seen.push_back("page " + page["metadata"]["resourceVersion"].get<std::string>());
        return true;
      },
      [&](json&& item) { seen.push_back(item["metadata"]["name"].get<std::string>()); });
  CHECK(seen == std::vector<std::string>{"page 42", "a", "b", "c"});
  CHECK(f.last().pathAndQuery == "/api/v1/namespaces/ns/pods?labelSelector=app%3Dvote&limit=3");
}

TEST_CASE("listPage: a page refused by onPage hands out no item, nor does a page without items or with null items") {
  Fixture f;
  int items = 0;
  auto count = [&](json&&) { ++items; };
  f.transport->reply(200, R"J({"metadata":{"resourceVersion":"1"},"items":[{},{}]})J");
  f.client->listPage(resources::pods(), "ns", {}, [](const json&) { return false; }, count);
  f.transport->reply(200, R"J({"metadata":{"resourceVersion":"1"}})J");
  f.client->listPage(resources::pods(), "ns", {}, [](const json&) { return true; }, count);
  f.transport->reply(200, R"J({"metadata":{"resourceVersion":"1"},"items":null})J");
  f.client->listPage(resources::pods(), "ns", {}, [](const json&) { return true; }, count);
  CHECK(items == 0);
}

TEST_CASE("listPage: a reply that is not a valid list is a protocol error, found where it breaks") {
  Fixture f;
  // Read as it arrives: a reply cut short has handed out what came before the cut (the caller abandons it).
  f.transport->reply(200, R"J({"metadata":{"resourceVersion":"5"},"items":[{"a":1},)J");
  int pages = 0, items = 0;
  auto onPage = [&](const json&) { return ++pages, true; };
  auto onItem = [&](json&&) { ++items; };
  try {
    f.client->listPage(resources::pods(), "ns", {}, onPage, onItem);
    FAIL("no error");
  } catch (const TransportError& e) {
    CHECK(e.kind() == TransportError::Kind::Protocol);
    CHECK(std::string(e.what()).find("GET /api/v1/namespaces/ns/pods") != std::string::npos);
    CHECK(std::string(e.what()).find("ended early") != std::string::npos);
  }
  CHECK((pages == 1 && items == 1));
  // Not an object: nothing is handed out.
  f.transport->reply(200, "[1,2]");
  CHECK_THROWS_AS(f.client->listPage(resources::pods(), "ns", {}, onPage, onItem), TransportError);
  CHECK((pages == 1 && items == 1));
  f.transport->reply(409, kConflict);
  CHECK_THROWS_AS(f.client->listPage(resources::pods(), "ns", {}, onPage, onItem), ApiError);
  CHECK((pages == 1 && items == 1));
}

TEST_CASE("listPage reads the reply in pieces split anywhere, after the same retries as any call (a 401: once)") {
  Fixture f;
  f.transport->reply(401, R"J({"kind":"Status","code":401,"reason":"Unauthorized","status":"Failure"})J");
  f.transport->replyStream({R"J({"metadata":{"resourceVersion":"7"},"it)J", R"J(ems":[{"metadata":{"name":"a"}})J",
                            R"J(,{"metadata":{"name":"b"}}]})J"});
  std::vector<std::string> names;
  f.client->listPage(
      resources::pods(), "ns", {}, [](const json& page) { return page["metadata"]["resourceVersion"] == "7"; },
      [&](json&& item) { names.push_back(item["metadata"]["name"]); });
  CHECK(names == std::vector<std::string>{"a", "b"});
  REQUIRE(f.transport->requests().size() == 2);
  CHECK(f.transport->pending() == 0);
}

TEST_CASE("update is a PUT of the object - a stale resourceVersion is a Conflict") {
  Fixture f;
  f.transport->reply(409, kConflict);
  json pod = {{"metadata", {{"name", "a"}, {"namespace", "ns"}, {"resourceVersion", "3"}}}};
  try {
    f.client->update(resources::pods(), "ignored", pod);
    FAIL("expected a conflict");
  } catch (const ApiError& e) {
    CHECK(e.isConflict());
    CHECK(e.message().find("has been modified") != std::string::npos);
  }
  CHECK(f.last().method == "PUT");
  CHECK(f.last().pathAndQuery == "/api/v1/namespaces/ns/pods/a?fieldManager=medivote-controller");
  CHECK(json::parse(f.last().body)["metadata"]["resourceVersion"] == "3");
}

TEST_CASE("patch types choose their content type - status goes to the subresource") {
  Fixture f;
  f.transport->reply(200, "{}");
  f.transport->reply(200, "{}");
  f.transport->reply(200, "{}");
  f.client->patch(resources::mediVoteServices(), "d", "v", PatchType::Merge, {{"spec", {{"replicas", 3}}}}, "scale");
  CHECK(f.last().headers.at("Content-Type") == "application/merge-patch+json");
  CHECK(f.last().pathAndQuery == "/apis/medivote.io/v1alpha1/namespaces/d/medivoteservices/v/scale?fieldManager=medivote-controller");
  f.client->patch(resources::pods(), "d", "p", PatchType::Json, json::array({{{"op", "remove"}, {"path", "/x"}}}));
  CHECK(f.last().headers.at("Content-Type") == "application/json-patch+json");
  f.client->patch(resources::pods(), "d", "p", PatchType::StrategicMerge, json::object(), "", {true, "me"});
  CHECK(f.last().headers.at("Content-Type") == "application/strategic-merge-patch+json");
  CHECK(f.last().pathAndQuery == "/api/v1/namespaces/d/pods/p?dryRun=All&fieldManager=me");
}

TEST_CASE("delete sends grace period, propagation policy and preconditions") {
  Fixture f;
  f.transport->reply(200, R"J({"kind":"Pod"})J");
  DeleteOptions o;
  o.gracePeriodSeconds = 0;
  o.propagationPolicy = "Foreground";
  o.preconditionUid = "u-1";
  o.preconditionResourceVersion = "9";
  f.client->remove(resources::pods(), "ns", "a", o);
  const auto body = json::parse(f.last().body);
  CHECK(f.last().method == "DELETE");
  CHECK(body["gracePeriodSeconds"] == 0);
  CHECK(body["propagationPolicy"] == "Foreground");
  CHECK(body["preconditions"]["uid"] == "u-1");
  CHECK(body["preconditions"]["resourceVersion"] == "9");
}

TEST_CASE("eviction is a POST to the eviction subresource - a PDB refusal is TooManyRequests without retry") {
  Fixture f;
  f.transport->reply(429,
                     R"J({"kind":"Status","status":"Failure","message":"Cannot evict pod as it would violate the pod's disruption budget.","reason":"TooManyRequests","code":429})J");
  json eviction = {{"apiVersion", "policy/v1"}, {"kind", "Eviction"}, {"metadata", {{"name", "a"}, {"namespace", "ns"}}}};
  CHECK_THROWS_AS(f.client->createSubresource(resources::pods(), "ns", "a", "eviction", eviction), ApiError);
  CHECK(f.transport->requests().size() == 1);
  CHECK(f.last().pathAndQuery == "/api/v1/namespaces/ns/pods/a/eviction");
}

TEST_CASE("a 429 with Retry-After is waited out on the clock, then retried") {
  Fixture f;
  f.transport->reply(429, R"J({"kind":"Status","reason":"TooManyRequests","code":429})J", {{"retry-after", "7"}});
  f.transport->reply(200, R"J({"ok":true})J");
  const auto start = f.clock.now();
  std::thread advancer([&] {
    REQUIRE(f.clock.awaitWaiters(1));
    f.clock.advance(7s);
  });
  const auto result = f.client->get(resources::pods(), "ns", "a");
  advancer.join();
  CHECK(result["ok"] == true);
  CHECK(f.transport->requests().size() == 2);
  CHECK(f.clock.now() - start >= 7s);
}

TEST_CASE("a 429 asking for longer than the client's budget is returned to the caller with its Retry-After") {
  Fixture f;
  f.transport->reply(429, R"J({"kind":"Status","reason":"TooManyRequests","code":429})J", {{"retry-after", "60"}});
  try {
    f.client->get(resources::pods(), "ns", "a");
    FAIL("expected TooManyRequests");
  } catch (const ApiError& e) {
    CHECK(e.isTooManyRequests());
    CHECK(e.retryAfter() == 60s);
  }
}

TEST_CASE("a 2xx reply that is not JSON is a protocol error - transport failures pass through") {
  Fixture f;
  f.transport->reply(200, "<html>proxy</html>");
  try {
    f.client->get(resources::pods(), "ns", "a");
    FAIL("expected a protocol error");
  } catch (const TransportError& e) {
    CHECK(e.kind() == TransportError::Kind::Protocol);
  }
  f.transport->fail(TransportError::Kind::ConnectionFailed);
  CHECK_THROWS_AS(f.client->get(resources::pods(), "ns", "a"), TransportError);
}

TEST_CASE("the client-side token bucket spaces requests beyond the burst") {
  ClientOptions o;
  o.qps = 2;
  o.burst = 1;
  Fixture f(nullptr, o);
  f.transport->reply(200, "{}");
  f.transport->reply(200, "{}");
  f.client->get(resources::pods(), "ns", "a");
  std::thread advancer([&] {
    REQUIRE(f.clock.awaitWaiters(1));
    f.clock.advance(500ms);
  });
  const auto before = f.clock.now();
  f.client->get(resources::pods(), "ns", "a");
  advancer.join();
  CHECK(f.clock.now() - before == 500ms);
  CHECK(f.last().headers.count("Authorization") == 0);
}

TEST_CASE("listAll follows continue tokens and keeps the first page's resourceVersion") {
  Fixture f;
  f.transport->reply(200, R"J({"metadata":{"resourceVersion":"100","continue":"c1","remainingItemCount":3},"items":[{"n":1},{"n":2}]})J");
  f.transport->reply(200, R"J({"metadata":{"resourceVersion":"100","continue":"c2","remainingItemCount":1},"items":[{"n":3},{"n":4}]})J");
  f.transport->reply(200, R"J({"metadata":{"resourceVersion":"100"},"items":[{"n":5}]})J");
  const auto all = listAll(*f.client, resources::pods(), "ns", {}, 2);
  CHECK(all["items"].size() == 5);
  CHECK(all["metadata"]["resourceVersion"] == "100");
  CHECK_FALSE(all["metadata"].contains("continue"));
  const auto& reqs = f.transport->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].pathAndQuery == "/api/v1/namespaces/ns/pods?limit=2");
  CHECK(reqs[1].pathAndQuery == "/api/v1/namespaces/ns/pods?limit=2&continue=c1");
  CHECK(reqs[2].pathAndQuery == "/api/v1/namespaces/ns/pods?limit=2&continue=c2");
}

TEST_CASE("watch delivers each event as decoded, from a resourceVersion with bookmarks and a timeout") {
  Fixture f;
  f.transport->replyStream({R"J({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})J" "\n"
                            R"J({"type":"MODI)J",
                            R"J(FIED","object":{"metadata":{"name":"a","resourceVersion":"12"}}})J" "\n",
                            R"J({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"15"}}})J" "\n"});
  std::vector<std::string> seen;
  CancelToken cancel;
  WatchOptions o;
  o.resourceVersion = "10";
  o.timeoutSeconds = 300;
  f.client->watch(resources::pods(), "ns", o,
                  [&](const WatchEvent& e) {
                    seen.push_back(std::string(eventTypeName(e.type)) + ":" +
                                   e.object["metadata"]["resourceVersion"].get<std::string>());
                  },
                  cancel);
  CHECK(seen == std::vector<std::string>{"ADDED:11", "MODIFIED:12", "BOOKMARK:15"});
  CHECK(f.last().pathAndQuery ==
        "/api/v1/namespaces/ns/pods?watch=true&resourceVersion=10&allowWatchBookmarks=true&timeoutSeconds=300");
}

TEST_CASE("a streaming list is a watch with sendInitialEvents and resourceVersionMatch=NotOlderThan") {
  Fixture f;
  f.transport->replyStream({R"J({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"15"}}})J" "\n"});
  CancelToken cancel;
  WatchOptions o;
  o.labelSelector = "app=x";
  o.sendInitialEvents = true;
  f.client->watch(resources::pods(), "", o, [](const WatchEvent&) {}, cancel);
  CHECK(f.last().pathAndQuery ==
        "/api/v1/pods?watch=true&labelSelector=app%3Dx&allowWatchBookmarks=true&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan");
}

TEST_CASE("a watch decodes its objects with the item filter, never sent as a query parameter, and ERRORs whole") {
  Fixture f;
  f.transport->replyStream(
      {R"J({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"},"spec":{"x":1}}})J" "\n"
       R"J({"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old","reason":"Expired","code":410}})J" "\n"});
  auto metadata = std::make_shared<JsonFieldFilter>();
  metadata->keep["name"] = nullptr;
  auto fields = std::make_shared<JsonFieldFilter>();
  fields->keep["metadata"] = metadata;
  WatchOptions o;
  o.itemFields = fields;
  CancelToken cancel;
  std::vector<json> objects;
  try {
    f.client->watch(resources::pods(), "ns", o, [&](const WatchEvent& e) { objects.push_back(e.object); }, cancel);
    FAIL("no error");
  } catch (const ApiError& e) {
    CHECK(e.isGone());  // the Status was decoded whole
  }
  REQUIRE(objects.size() == 1);
  CHECK(objects[0] == json::parse(R"J({"metadata":{"name":"a"}})J"));
  CHECK(f.last().pathAndQuery == "/api/v1/namespaces/ns/pods?watch=true&allowWatchBookmarks=true");
}

TEST_CASE("410 during a watch is Gone, whether an ERROR event or an HTTP status") {
  Fixture f;
  f.transport->replyStream(
      {R"J({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})J" "\n"
       R"J({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 458 (679)","reason":"Expired","code":410}})J" "\n"});
  f.transport->reply(410, R"J({"kind":"Status","status":"Failure","message":"too old","reason":"Expired","code":410})J");
  int events = 0;
  CancelToken cancel;
  for (int i = 0; i < 2; ++i) {
    try {
      f.client->watch(resources::pods(), "ns", {}, [&](const WatchEvent&) { ++events; }, cancel);
      FAIL("expected Gone");
    } catch (const ApiError& e) {
      CHECK(e.isGone());
    }
  }
  CHECK(events == 1);
}

TEST_CASE("a watch stream cut mid-event is a protocol error") {
  Fixture f;
  f.transport->replyStream({R"J({"type":"ADDED","object":{"metadata")J"});
  CancelToken cancel;
  CHECK_THROWS_AS(f.client->watch(resources::pods(), "ns", {}, [](const WatchEvent&) {}, cancel), TransportError);
}

TEST_CASE("the REST observer sees each request's verb and code") {
  std::vector<std::string> seen;
  ClientOptions o;
  o.observer = [&](const std::string& verb, int code, double) { seen.push_back(verb + ":" + std::to_string(code)); };
  Fixture f(nullptr, o);
  f.transport->reply(404, R"J({"kind":"Status","reason":"NotFound","code":404})J");
  f.transport->reply(201, "{}");
  CHECK_THROWS_AS(f.client->get(resources::pods(), "ns", "a"), ApiError);
  f.client->create(resources::pods(), "ns", {{"metadata", {{"name", "a"}}}});
  CHECK(seen == std::vector<std::string>{"get:404", "create:201"});
}
