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
  CHECK(decodeObject(encodeObject(tricky)) == tricky);
  const json pod = json::parse(mv::testing::kRealisticPodJson);
  CHECK(decodeObject(encodeObject(pod)) == pod);
}

TEST_CASE("encoding stores common Kubernetes keys in two bytes: smaller than MessagePack alone") {
  const json pod = json::parse(mv::testing::kRealisticPodJson);
  std::string plain;
  json::to_msgpack(pod, plain);
  const auto encoded = encodeObject(pod);
  INFO("msgpack " << plain.size() << " bytes, encoded " << encoded.size() << " bytes, text " << pod.dump().size());
  CHECK(encoded.size() * 10 < plain.size() * 9);  // at least 10% smaller
}

TEST_CASE("the operator's own labels, annotations and owner references are stored in two bytes each") {
  // From the start, the middle and the end of the table (codes above 127 included): as a key and as a value, each
  // is 3 bytes of MessagePack (a 2-byte string), and decodes to itself.
  for (const char* common : {"apiVersion", "memory", "app.kubernetes.io/instance", "medivote.io/v1alpha1",
                             "medivote.io/shutdown-restart-baseline", "CrashLoopBackOff", "time"}) {
    CAPTURE(common);
    const json object = {{common, common}};
    const auto encoded = encodeObject(object);
    CHECK(encoded.size() == 1 + 3 + 3);  // a one-entry map, then the key and the value
    CHECK(decodeObject(encoded) == object);
  }
  const json pod = json::parse(mv::testing::kRealisticPodJson);
  json labelled = pod;
  labelled["metadata"]["labels"] = {{"app.kubernetes.io/managed-by", "medivote-operator"},
                                    {"medivote.io/service", "vote"}, {"medivote.io/serving", "true"}};
  labelled["metadata"]["annotations"] = {{"medivote.io/tier", "critical"}};
  CHECK(decodeObject(encodeObject(labelled)) == labelled);
}

TEST_CASE("decoding rejects what is not an encoded object") {
  CHECK_THROWS(decodeObject(std::string("\xc1", 1)));  // a MessagePack byte that is never used
  CHECK_THROWS(decodeObject(std::string()));
}

TEST_CASE("an encoded object holds its bytes, shared by its copies, and compares by them") {
  const EncodedObject none;
  CHECK_FALSE(none);
  CHECK(none.bytes().empty());
  CHECK(none == EncodedObject(nullptr));

  const std::string bytes("a\0b\xff", 4);  // any bytes, zeros included
  const EncodedObject one = EncodedObject::copyOf(bytes);
  REQUIRE(one);
  CHECK(one.size() == 4);
  CHECK(one.bytes() == bytes);
  const EncodedObject copy = one;  // NOLINT: the copy is the point
  CHECK(copy.bytes().data() == one.bytes().data());  // shared, not copied
  CHECK(copy == one);
  CHECK(EncodedObject::copyOf(bytes) == one);          // other bytes, same content
  CHECK_FALSE(EncodedObject::copyOf("a") == one);
  CHECK_FALSE(none == one);
  CHECK_FALSE(one == none);

  const EncodedObject empty = EncodedObject::copyOf("");
  CHECK(empty);  // empty bytes are not a null object
  CHECK(empty.size() == 0);
  CHECK_FALSE(empty == none);
  CHECK_THROWS(decodeObject(none));
}
