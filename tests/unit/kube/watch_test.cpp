#include "kube/watch.h"

#include <doctest/doctest.h>

#include "kube/errors.h"

using namespace mv::kube;

namespace {
const std::string kAdded = R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"5"}}})";
const std::string kBookmark =
    R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"478","creationTimestamp":null},"spec":{"containers":null},"status":{}}})";
}  // namespace

TEST_CASE("an event split across pieces is delivered when its line completes, not before") {
  std::vector<WatchEvent> got;
  WatchDecoder d([&](WatchEvent&& e) { got.push_back(std::move(e)); });
  const std::string line = kAdded + "\n";
  d.feed(line.substr(0, 10));
  CHECK(got.empty());
  d.feed(line.substr(10, 20));
  CHECK(got.empty());
  d.feed(line.substr(30));
  REQUIRE(got.size() == 1);
  CHECK(got[0].type == WatchEvent::Type::Added);
  CHECK(got[0].object["metadata"]["name"] == "a");
  d.finish();
}

TEST_CASE("several events in one piece come out in order - bookmarks are events") {
  std::vector<WatchEvent::Type> types;
  WatchDecoder d([&](WatchEvent&& e) { types.push_back(e.type); });
  d.feed(kAdded + "\n" + kBookmark + "\n" +
         R"({"type":"DELETED","object":{"metadata":{"name":"a"}}})" + "\n");
  CHECK(types == std::vector<WatchEvent::Type>{WatchEvent::Type::Added, WatchEvent::Type::Bookmark,
                                               WatchEvent::Type::Deleted});
}

TEST_CASE("malformed lines are protocol errors, never crashes") {
  auto decodeOne = [](const std::string& text) {
    WatchDecoder d([](WatchEvent&&) {});
    d.feed(text);
  };
  CHECK_THROWS_AS(decodeOne("{not json\n"), TransportError);
  CHECK_THROWS_AS(decodeOne("[1,2]\n"), TransportError);
  CHECK_THROWS_AS(decodeOne(R"({"type":"ADDED"})" "\n"), TransportError);
  CHECK_THROWS_AS(decodeOne(R"({"type":"SIDEWAYS","object":{}})" "\n"), TransportError);
  try {
    decodeOne("{not json\n");
  } catch (const TransportError& e) {
    CHECK(e.kind() == TransportError::Kind::Protocol);
  }
}

TEST_CASE("a stream that ends mid-event is reported by finish()") {
  WatchDecoder d([](WatchEvent&&) {});
  d.feed(kAdded.substr(0, 15));
  CHECK_THROWS_AS(d.finish(), TransportError);
  WatchDecoder ok([](WatchEvent&&) {});
  ok.feed(kAdded + "\n\r\n");
  CHECK_NOTHROW(ok.finish());
}

TEST_CASE("an oversized line is refused") {
  WatchDecoder d([](WatchEvent&&) {}, 64);
  CHECK_THROWS_AS(d.feed(std::string(100, 'x')), TransportError);
}

TEST_CASE("with a filter, the objects of ADDED, MODIFIED and DELETED events keep only its members, others stay whole") {
  JsonFieldFilter metadata;
  metadata.keep["name"] = nullptr;
  metadata.keep["resourceVersion"] = nullptr;
  JsonFieldFilter fields;
  fields.keep["metadata"] = std::make_shared<JsonFieldFilter>(metadata);
  std::vector<WatchEvent> got;
  WatchDecoder d([&](WatchEvent&& e) { got.push_back(std::move(e)); }, 1 << 20, &fields);
  const std::string pod = R"({"kind":"Pod","metadata":{"name":"a","resourceVersion":"5","labels":{"x":"y"}},"spec":{}})";
  d.feed(R"({"type":"ADDED","object":)" + pod + "}\n" + R"({"type":"MODIFIED","object":)" + pod + "}\n" +
         R"({"type":"DELETED","object":)" + pod + "}\n");
  d.feed(R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9","annotations":)"
         R"({"k8s.io/initial-events-end":"true"}}}})" "\n");
  d.feed(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})" "\n");
  REQUIRE(got.size() == 5);
  for (int i = 0; i < 3; ++i) CHECK(got[i].object == json::parse(R"({"metadata":{"name":"a","resourceVersion":"5"}})"));
  CHECK(got[3].object["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true");
  CHECK(got[3].object["kind"] == "Pod");
  CHECK(got[4].object == json::parse(R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})"));
}
