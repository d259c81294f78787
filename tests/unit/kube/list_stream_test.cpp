// ListStream: a list reply handed out item by item as it arrives, whatever the split of its pieces; the same result
// as parseJsonList on the whole text; errors where the text breaks.
#include "kube/list_stream.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kube/json_parse.h"

using mv::kube::JsonFieldFilter;
using mv::kube::ListStream;
using mv::kube::ListStreamError;
using mv::kube::ListStreamLimits;
using nlohmann::json;

namespace {

struct Got {
  std::vector<json> pages;
  std::vector<json> items;
  bool operator==(const Got& o) const { return pages == o.pages && items == o.items; }
};

// The text fed in pieces of `size` bytes (0: whole).
Got streamed(const std::string& text, std::size_t size = 0, const JsonFieldFilter* fields = nullptr,
             bool takeItems = true, ListStreamLimits limits = {}) {
  Got got;
  ListStream s([&](const json& page) { return got.pages.push_back(page), takeItems; },
               [&](json&& item) { got.items.push_back(std::move(item)); }, fields, limits);
  if (size == 0) size = text.size() ? text.size() : 1;
  for (std::size_t i = 0; i < text.size(); i += size) s.feed(std::string_view(text).substr(i, size));
  s.finish();
  return got;
}

Got whole(const std::string& text, const JsonFieldFilter* fields = nullptr) {
  Got got;
  REQUIRE(mv::kube::parseJsonList(
      text, [&](const json& page) { return got.pages.push_back(page), true; },
      [&](json&& item) { got.items.push_back(std::move(item)); }, fields));
  return got;
}

std::string errorOf(const std::string& text, std::size_t size = 0, ListStreamLimits limits = {}) {
  try {
    streamed(text, size, nullptr, true, limits);
  } catch (const ListStreamError& e) {
    return e.what();
  }
  return "";
}

const std::string kPodList =
    R"J({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"8812","continue":"eyJ2Ijoi\"}"},)J"
    R"J("items":[{"metadata":{"name":"vote-0","namespace":"e2e","labels":{"a":"[{"},"annotations":{"q":"\\\"]}"}},)J"
    R"J("spec":{"containers":[{"name":"app","args":["--x","}"]}]},"status":{"phase":"Running","podIP":"10.0.0.7"}},)J"
    "\n  {\"metadata\":{\"name\":\"vote-\\u00e9\"},\"status\":{\"containerStatuses\":[]}} ,{}\t]}\n";

}  // namespace

TEST_CASE("a list read whole or in pieces of any size gives what parseJsonList gives on the whole text") {
  const Got expected = whole(kPodList);
  REQUIRE(expected.items.size() == 3);
  CHECK(expected.items[1]["metadata"]["name"] == "vote-\u00e9");
  for (std::size_t size = 1; size <= kPodList.size(); ++size) {
    CAPTURE(size);
    CHECK(streamed(kPodList, size) == expected);
  }
}

TEST_CASE("the page's members come before any item, without items") {
  std::vector<std::string> order;
  ListStream s(
      [&](const json& page) {
        CHECK_FALSE(page.contains("items"));
        order.push_back("page " + page["metadata"]["resourceVersion"].get<std::string>());
        return true;
      },
      [&](json&& item) { order.push_back(item["metadata"]["name"]); });
  s.feed(R"J({"kind":"PodList","metadata":{"resourceVersion":"3"},"items":[{"metadata":{"name":"a"}})J");
  CHECK(order == std::vector<std::string>{"page 3", "a"});  // handed out before the rest arrived
  s.feed(R"J(,{"metadata":{"name":"b"}}]})J");
  s.finish();
  CHECK(order == std::vector<std::string>{"page 3", "a", "b"});
}

TEST_CASE("the item filter builds only what it keeps, as parseJsonList does") {
  JsonFieldFilter metadata;
  metadata.keep["name"] = nullptr;
  JsonFieldFilter filter;
  filter.keep["metadata"] = std::make_shared<JsonFieldFilter>(metadata);
  filter.keep["status"] = nullptr;
  const Got got = streamed(kPodList, 7, &filter);
  CHECK(got == whole(kPodList, &filter));
  CHECK(got.items[0] == json::parse(R"J({"metadata":{"name":"vote-0"},"status":{"phase":"Running","podIP":"10.0.0.7"}})J"));
}

TEST_CASE("a page refused by onPage hands out no item, but its items are still checked") {
  CHECK(streamed(kPodList, 5, nullptr, false).items.empty());
  CHECK_THROWS_AS(streamed(R"J({"metadata":{},"items":[{"a":}]})J", 5, nullptr, false), ListStreamError);
}

TEST_CASE("replies without items, with null items or an empty list") {
  for (const char* text : {R"J({"metadata":{"resourceVersion":"1"}})J", R"J({"metadata":{"resourceVersion":"1"},"items":null})J",
                           R"J({"metadata":{"resourceVersion":"1"},"items":[]})J", R"J( {"metadata":{"resourceVersion":"1"},"items":[ ] } )J"}) {
    CAPTURE(text);
    const Got got = streamed(text, 3);
    REQUIRE(got.pages.size() == 1);
    CHECK(got.pages[0] == json::parse(R"J({"metadata":{"resourceVersion":"1"}})J"));
    CHECK(got.items.empty());
  }
}

TEST_CASE("metadata after the items (valid, not the API server's order): held whole, then handed out in order") {
  const std::string text = R"J({"kind":"PodList","items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}],)J"
                           R"J("metadata":{"resourceVersion":"9","continue":"c"}})J";
  for (std::size_t size : {1, 4, 1000}) {
    const Got got = streamed(text, size);
    CHECK(got == whole(text));
    REQUIRE(got.pages.size() == 1);
    CHECK(got.pages[0]["metadata"]["resourceVersion"] == "9");
    CHECK(got.items.size() == 2);
  }
  ListStreamLimits small;
  small.maxHeldBytes = 40;
  CHECK(errorOf(text, 8, small).find("held whole") != std::string::npos);
}

TEST_CASE("errors say where the list breaks") {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {"", "empty"},
           {"  ", "empty"},
           {"[1,2]", "not a JSON object"},
           {R"J({"metadata":{},"items":[{"a":1},)J", "ended early"},
           {R"J({"metadata":{},"items":[{"a":1})J", "ended early"},
           {R"J({"metadata":{},"items":[{"a":1}])J", "ended early"},
           {R"J({"metadata":{},"items":[{"a":1}{"b":2}]})J", "missing ','"},
           {R"J({"metadata":{},"items":[,{"a":1}]})J", "where an item was expected"},
           {R"J({"metadata":{},"items":[{"a":1},]})J", "after a ','"},
           {R"J({"metadata":{},"items":[{"a":1},,{"b":1}]})J", "where an item was expected"},
           {R"J({"metadata":{},"items":[1,2]})J", "not a JSON object"},
           {R"J({"metadata":{},"items":[{"a":tru}]})J", "not valid JSON"},
           {R"J({"metadata":{},"items":[{"a":"\x01"}]})J", "not valid JSON"},
           {R"J({"metadata":{} "items":[{"a":1}]})J", "invalid JSON"},
           {R"J({"metadata":{},"kind" "items":[{"a":1}]})J", "invalid JSON"},
           {R"J({"metadata":{"a"},"items":[{"a":1}]})J", "invalid JSON before \"items\""},
           {R"J({"metadata":{},"items":[{"a":1}] "x":1})J", "invalid JSON outside the items"},
           {R"J({"metadata":{},"items":[{"a":1}]}{})J", "after the list"},
           {R"J({"metadata":{},"items":[],"items":[]})J", "a second \"items\""},
       }) {
    const std::string text = c.text;
    CAPTURE(text);
    for (std::size_t size : {1, 3, 1000}) {
      CAPTURE(size);
      const std::string why = errorOf(text, size);
      CAPTURE(why);
      CHECK(why.find(c.why) != std::string::npos);
      CHECK(why.find("at byte") != std::string::npos);
    }
  }
}

TEST_CASE("an item over the limit is refused before it is held whole, and so is an oversized frame") {
  ListStreamLimits limits;
  limits.maxItemBytes = 64;
  const std::string big = R"J({"metadata":{},"items":[{"a":")J" + std::string(100, 'x') + R"J("}]})J";
  CHECK(errorOf(big, 16, limits).find("an item over 64 bytes") != std::string::npos);
  CHECK_NOTHROW(streamed(R"J({"metadata":{},"items":[{"a":"small"}]})J", 16, nullptr, true, limits));
  limits.maxFrameBytes = 32;
  const std::string frame = R"J({"metadata":{"x":")J" + std::string(100, 'y') + R"J("},"items":[]})J";
  CHECK(errorOf(frame, 16, limits).find("other than items") != std::string::npos);
}

TEST_CASE("an exception from a callback ends the stream and propagates") {
  ListStream s([](const json&) { return true; }, [](json&&) { throw std::runtime_error("sink full"); });
  CHECK_THROWS_WITH(s.feed(R"J({"metadata":{},"items":[{"a":1}]})J"), "sink full");
}
