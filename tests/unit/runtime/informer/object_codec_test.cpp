#include "runtime/informer/object_codec.h"

#include <doctest/doctest.h>

#include "realistic_pod.h"

using namespace mv::runtime::informer;

TEST_CASE("encoded objects decode to exactly the object, whatever its keys and strings") {
  const json tricky = {
      {"metadata", {{"name", "x"}, {"labels", {{"app", "Running"}, {"\x01\x03", "\x02kept"}, {"", ""}}}}},
      {"\x02" "escaped", {1, 2.5, -3, nullptr, true, "apiVersion", json::array(), json::object()}},
      {"status", {{"phase", "Running"}, {"big", 1ull << 63}}},
      {"\x01", "\x01"},
  };
  CHECK(decodeObject(*encodeObject(tricky)) == tricky);
  const json pod = json::parse(mv::testing::kRealisticPodJson);
  CHECK(decodeObject(*encodeObject(pod)) == pod);
}

TEST_CASE("encoding stores common Kubernetes keys in two bytes: smaller than MessagePack alone") {
  const json pod = json::parse(mv::testing::kRealisticPodJson);
  std::string plain;
  json::to_msgpack(pod, plain);
  const auto encoded = encodeObject(pod);
  INFO("msgpack " << plain.size() << " bytes, encoded " << encoded->size() << " bytes, text " << pod.dump().size());
  CHECK(encoded->size() * 10 < plain.size() * 9);  // at least 10% smaller
}

TEST_CASE("decoding rejects what is not an encoded object") {
  CHECK_THROWS(decodeObject(std::string("\xc1", 1)));  // a MessagePack byte that is never used
  CHECK_THROWS(decodeObject(std::string()));
}
