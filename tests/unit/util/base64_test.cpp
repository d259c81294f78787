#include "util/base64.h"

#include <doctest/doctest.h>

using namespace mv::util;

TEST_CASE("base64 round-trips every length and rejects garbage") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\x00\xff\x10"}) {
    CHECK(base64Decode(base64Encode(s)) == s);
  }
  CHECK(base64Encode("foobar") == "Zm9vYmFy");
  CHECK(base64Decode("Zm9v\nYmFy\n") == std::string("foobar"));
  CHECK_FALSE(base64Decode("Zm9v!"));
  CHECK_FALSE(base64Decode("Zm9vY"));
  CHECK_FALSE(base64Decode("Zg==Zg=="));
}
