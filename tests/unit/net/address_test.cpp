#include "net/address.h"

#include <doctest/doctest.h>

using namespace mv::net;

TEST_CASE("IP literals are parsed and anything else is refused") {
  auto v4 = parseIpLiteral("10.1.2.3", 80);
  REQUIRE(v4);
  CHECK(v4->family() == AF_INET);
  CHECK(v4->ip() == "10.1.2.3");
  CHECK(v4->port() == 80);
  CHECK(v4->toString() == "10.1.2.3:80");

  auto v6 = parseIpLiteral("fd00::5", 8546);
  REQUIRE(v6);
  CHECK(v6->family() == AF_INET6);
  CHECK(v6->toString() == "[fd00::5]:8546");

  for (const char* bad : {"", "localhost", "example.com", "10.1.2", "10.1.2.3.4", "[::1]", "::1%lo", "1.2.3.4 ",
                          " 1.2.3.4", "256.1.1.1", "0x7f.0.0.1", "127.1"})
    CHECK_MESSAGE(!parseIpLiteral(bad, 80), bad);
  CHECK(!parseIpLiteral(std::string_view("127.0.0.1\0x", 11), 80));
}

TEST_CASE("host and port pairs need brackets for IPv6") {
  auto a = parseHostPort("0.0.0.0:9901");
  REQUIRE(a);
  CHECK(a->port() == 9901);
  auto b = parseHostPort("[::]:0");
  REQUIRE(b);
  CHECK(b->family() == AF_INET6);
  CHECK(b->port() == 0);
  for (const char* bad : {"::1:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:8a",
                          "[127.0.0.1]:80", "[::1]80", "[::1]", "localhost:80", ":80"})
    CHECK_MESSAGE(!parseHostPort(bad), bad);
}

TEST_CASE("loopback addresses are recognised in both families") {
  CHECK(parseIpLiteral("127.0.0.1", 1)->isLoopback());
  CHECK(parseIpLiteral("127.9.8.7", 1)->isLoopback());
  CHECK(parseIpLiteral("::1", 1)->isLoopback());
  CHECK(parseIpLiteral("::ffff:127.0.0.1", 1)->isLoopback());
  CHECK(parseIpLiteral("::ffff:127.0.0.1", 1)->ip() == "127.0.0.1");
  CHECK(!parseIpLiteral("10.0.0.1", 1)->isLoopback());
  CHECK(!parseIpLiteral("::", 1)->isLoopback());
  CHECK(!parseIpLiteral("::ffff:10.0.0.1", 1)->isLoopback());
  CHECK(!SocketAddress().isLoopback());
}

TEST_CASE("joinHostPort brackets IPv6 only") {
  CHECK(joinHostPort("10.0.0.1", 80) == "10.0.0.1:80");
  CHECK(joinHostPort("::1", 80) == "[::1]:80");
}
