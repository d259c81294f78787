// parseJson (src/kube/json_parse.h): the same value as nlohmann's own parser, value types included, for what the API
// server sends (a kubelet-style pod, a list page larger than the reused parser's limit, escapes, numbers), and a
// discarded value wherever nlohmann's parser fails.

#include "kube/json_parse.h"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "unit/runtime/informer/realistic_pod.h"

using nlohmann::json;

namespace {

// The value and the type of every node, as one string: "==" on nlohmann values compares numbers across types.
std::string typed(const json& j) {
  std::string out = std::to_string(static_cast<int>(j.type())) + ":";
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) out += it.key() + "=" + typed(it.value()) + ",";
  } else if (j.is_array()) {
    for (const auto& e : j) out += typed(e) + ",";
  } else {
    out += j.dump();
  }
  return out;
}

void sameAsNlohmann(const std::string& text) {
  CAPTURE(text.substr(0, 200));
  json expected = json::parse(text);
  json got = mv::kube::parseJson(text);
  REQUIRE_FALSE(got.is_discarded());
  CHECK(got == expected);
  CHECK(typed(got) == typed(expected));
  CHECK(got.dump() == expected.dump());
}

std::string listOf(int pods) {
  std::string text = R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"184467","continue":"x"},"items":[)";
  for (int i = 0; i < pods; ++i) text += (i ? "," : "") + std::string(mv::testing::kRealisticPodJson);
  return text + "]}";
}

}  // namespace

TEST_CASE("parseJson: a kubelet-style pod is the same value, with the same types, as nlohmann's parser gives") {
  sameAsNlohmann(std::string(mv::testing::kRealisticPodJson));
}

TEST_CASE("parseJson: a list page larger than the reused parser's limit, and again after it") {
  const std::string page = listOf(40);  // ~240 KB
  REQUIRE(page.size() > 64 * 1024);
  sameAsNlohmann(page);
  sameAsNlohmann(R"({"type":"ADDED","object":{"kind":"Pod"}})");  // the thread's small parser still works
  sameAsNlohmann(page);
}

TEST_CASE("parseJson: numbers keep nlohmann's types (unsigned when non-negative, signed when negative, float)") {
  sameAsNlohmann(R"([0, 1, 30, -1, -9223372036854775808, 9223372036854775807, 18446744073709551615, 1.5, -0.25,
                    1e3, 2.5E-3, 100.0])");
  json j = mv::kube::parseJson(R"({"a":30,"b":-30,"c":1.0})");
  CHECK(j["a"].is_number_unsigned());
  CHECK(j["b"].is_number_integer());
  CHECK_FALSE(j["b"].is_number_unsigned());
  CHECK(j["c"].is_number_float());
}

TEST_CASE("parseJson: strings with escapes and multi-byte characters, duplicates, empty and nested containers") {
  sameAsNlohmann(R"({"s":"a\"b\\c\/d\b\f\n\r\t","u":"\u00e9\u4e2d\ud83d\ude00","raw":"é中😀","e":"",
                    "o":{},"a":[],"n":null,"t":true,"f":false,"deep":{"x":[[[{"y":[1,{"z":null}]}]]]}})");
  sameAsNlohmann(R"({"k":1,"k":2,"j":{"a":1},"j":[3]})");  // the last of duplicate keys
  sameAsNlohmann("  \n\t[1]\r\n ");
  sameAsNlohmann(R"("just a string")");
  sameAsNlohmann("42");
}

TEST_CASE("parseJson: whatever nlohmann's parser refuses is a discarded value, never an exception") {
  const std::vector<std::string> bad = {"",        "   ",          "{",          "[1,]",        R"({"a":1} x)",
                                        "nul",     R"({"a" 1})",   R"({a:1})",   "[1 2]",       "\"\xff\"",
                                        "\"\x01\"", "01",          "[1.]",       R"("\u12")",   "{\"a\":1}{}"};
  for (const auto& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(json::accept(text));  // the premise: nlohmann refuses it too
    CHECK(mv::kube::parseJson(text).is_discarded());
  }
}

TEST_CASE("parseJson: concurrent parses on several threads give each its own value") {
  const std::string small = std::string(mv::testing::kRealisticPodJson);
  const std::string large = listOf(20);
  const json expectedSmall = json::parse(small), expectedLarge = json::parse(large);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const bool big = (i + t) % 3 == 0;
        ok[t] += mv::kube::parseJson(big ? large : small) == (big ? expectedLarge : expectedSmall);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>(4, 20));
}

TEST_CASE("parseJsonList: items are built with only the members a field filter keeps, in objects and arrays") {
  auto leaf = std::shared_ptr<const mv::kube::JsonFieldFilter>();
  auto inner = std::make_shared<mv::kube::JsonFieldFilter>();
  inner->keep.emplace("name", leaf);
  mv::kube::JsonFieldFilter filter;
  filter.keep.emplace("metadata", inner);
  filter.keep.emplace("spec", leaf);       // whole
  filter.keep.emplace("containers", inner);  // each element of the array
  const std::string page = R"({"metadata":{"resourceVersion":"5","continue":""},"items":[
      {"metadata":{"name":"a","uid":"u","managedFields":[{"x":1}]},"spec":{"big":[1,2,{"c":3}]},"status":{"s":1},
       "containers":[{"name":"c1","env":[1]},{"image":"i"},7]},
      {"other":1}]})";
  std::vector<json> items;
  json seenPage;
  REQUIRE(mv::kube::parseJsonList(
      page, [&](const json& p) { seenPage = p; return true; }, [&](json&& item) { items.push_back(std::move(item)); },
      &filter));
  CHECK(seenPage == json::parse(R"({"metadata":{"resourceVersion":"5","continue":""}})"));  // the page is whole
  REQUIRE(items.size() == 2);
  CHECK(items[0] == json::parse(R"({"metadata":{"name":"a"},"spec":{"big":[1,2,{"c":3}]},
                                    "containers":[{"name":"c1"},{},7]})"));
  CHECK(items[1] == json::object());
  CHECK(items[0]["metadata"]["name"].is_string());
}
