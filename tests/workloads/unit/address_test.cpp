#include <doctest/doctest.h>

#include "net/address.h"
#include "net/cidr.h"

using namespace mv::workloads::net;

namespace {
Address addr(const char* s) { return Address::parse(s).value(); }
}  // namespace

TEST_CASE("address: parse and print") {
  CHECK(addr("127.0.0.1").str() == "127.0.0.1");
  CHECK(addr("localhost") == addr("127.0.0.1"));
  CHECK(addr("::1").str() == "::1");
  CHECK(addr("::1").family == Address::Family::V6);
  // IPv4-mapped IPv6 is IPv4.
  CHECK(addr("::ffff:10.1.2.3") == addr("10.1.2.3"));
  CHECK_FALSE(Address::parse("example.com"));
  CHECK_FALSE(Address::parse("1.2.3"));
  CHECK_FALSE(Address::parse(""));
}

TEST_CASE("endpoint: forms") {
  const auto def = addr("127.0.0.9");
  CHECK(Endpoint::parse("10.0.0.1:8080", def)->str() == "10.0.0.1:8080");
  CHECK(Endpoint::parse("[::1]:0", def)->str() == "[::1]:0");
  CHECK(Endpoint::parse(":81", def)->str() == "127.0.0.9:81");
  CHECK_FALSE(Endpoint::parse("::1:80", def));
  CHECK_FALSE(Endpoint::parse("[127.0.0.1]:80", def));
  CHECK_FALSE(Endpoint::parse("1.2.3.4", def));
  CHECK_FALSE(Endpoint::parse("1.2.3.4:65536", def));
  CHECK_FALSE(Endpoint::parse("1.2.3.4:", def));
  CHECK_FALSE(Endpoint::parse("1.2.3.4:8x", def));
  CHECK_FALSE(Endpoint::parse("host:80", def));
}

TEST_CASE("cidr: contains") {
  const auto ten = Cidr::parse("10.1.2.3/8").value();
  CHECK(ten.str() == "10.0.0.0/8");
  CHECK(ten.contains(addr("10.255.0.1")));
  CHECK_FALSE(ten.contains(addr("11.0.0.1")));
  CHECK_FALSE(ten.contains(addr("::ffff:11.0.0.1")));
  CHECK(ten.contains(addr("::ffff:10.0.0.1")));
  CHECK(Cidr::parse("0.0.0.0/0")->contains(addr("8.8.8.8")));
  CHECK_FALSE(Cidr::parse("0.0.0.0/0")->contains(addr("::1")));
  CHECK(Cidr::parse("127.0.0.2")->contains(addr("127.0.0.2")));
  CHECK_FALSE(Cidr::parse("127.0.0.2")->contains(addr("127.0.0.1")));
  CHECK(Cidr::parse("fd00::/8")->contains(addr("fd12::1")));
  CHECK(Cidr::parse("10.0.0.0/13")->contains(addr("10.7.255.255")));
  CHECK_FALSE(Cidr::parse("10.0.0.0/13")->contains(addr("10.8.0.0")));
  CHECK_FALSE(Cidr::parse("10.0.0.0/33"));
  CHECK_FALSE(Cidr::parse("10.0.0.0/"));
  CHECK_FALSE(Cidr::parse("10.0.0.0/-1"));
  CHECK_FALSE(Cidr::parse("::/129"));
}

TEST_CASE("allowlist: empty allows all - a bad entry is named") {
  CHECK(Allowlist::parse("")->allows(addr("1.2.3.4")));
  CHECK(Allowlist::parse("")->str() == "any");
  const auto list = Allowlist::parse(" 10.0.0.0/8 , ::1 ,").value();
  CHECK(list.allows(addr("10.0.0.1")));
  CHECK(list.allows(addr("::1")));
  CHECK_FALSE(list.allows(addr("127.0.0.1")));
  std::string bad;
  CHECK_FALSE(Allowlist::parse("10.0.0.0/8,nope", &bad));
  CHECK(bad == "nope");
}
