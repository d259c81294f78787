#include "runtime/health/probe_server.h"

#include <atomic>
#include <stdexcept>

#include <doctest/doctest.h>

#include "http_get.h"

using mv::runtime::health::Checks;
using mv::runtime::health::ProbeServer;
using mv::test::httpGet;

namespace {
std::optional<std::string> ok() { return std::nullopt; }
}  // namespace

TEST_CASE("Checks: all pass gives ok, verbose lists each check") {
  Checks c;
  c.add("ping", ok);
  c.add("informers-synced", ok);
  auto r = c.answer("", "");
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  r = c.answer("", "verbose");
  CHECK(r.status == 200);
  CHECK(r.body == "[+]ping ok\n[+]informers-synced ok\nhealthz check passed\n");
}

TEST_CASE("Checks: a failing check gives 500 with every check's line and withholds the reason") {
  Checks c;
  c.add("ping", ok);
  c.add("informers-synced", [] { return std::optional<std::string>("pods not synced"); });
  c.add("throws", []() -> std::optional<std::string> { throw std::runtime_error("oops"); });
  const auto r = c.answer("", "");
  CHECK(r.status == 500);
  CHECK(r.body ==
        "[+]ping ok\n[-]informers-synced failed: reason withheld\n[-]throws failed: reason withheld\n"
        "healthz check failed\n");
  CHECK(r.body.find("pods not synced") == std::string::npos);
}

TEST_CASE("Checks: exclude skips a check, warns about unknown names, and a single check answers alone") {
  Checks c;
  c.add("ping", ok);
  c.add("bad", [] { return std::optional<std::string>("nope"); });
  auto r = c.answer("", "exclude=bad&exclude=ghost&verbose");
  CHECK(r.status == 200);
  CHECK(r.body ==
        "[+]ping ok\n[+]bad excluded: ok\nwarn: some health checks cannot be excluded: no matches for \"ghost\"\n"
        "healthz check passed\n");
  r = c.answer("bad", "");
  CHECK(r.status == 500);
  CHECK(r.body == "internal server error: nope\n");
  CHECK(c.answer("ping", "").status == 200);
  CHECK(c.answer("missing", "").status == 404);
  CHECK_THROWS_AS(c.add("ping", ok), std::invalid_argument);
  CHECK_THROWS_AS(c.add("a/b", ok), std::invalid_argument);
}

TEST_CASE("Checks with no check answer with ping") {
  Checks c;
  CHECK(c.answer("", "verbose").body == "[+]ping ok\nhealthz check passed\n");
}

TEST_CASE("ProbeServer serves /healthz and /readyz on a loopback port and follows readiness changes") {
  Checks healthz, readyz;
  std::atomic<bool> synced{false};
  healthz.add("ping", ok);
  readyz.add("informers-synced",
             [&] { return synced ? std::nullopt : std::optional<std::string>("waiting for pods"); });
  ProbeServer server("127.0.0.1", 0, healthz, readyz);
  REQUIRE(server.port() != 0);

  auto r = httpGet(server.port(), "/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  CHECK(r.headers.find("text/plain") != std::string::npos);

  r = httpGet(server.port(), "/readyz");
  CHECK(r.status == 500);
  CHECK(r.body == "[-]informers-synced failed: reason withheld\nhealthz check failed\n");

  synced = true;
  r = httpGet(server.port(), "/readyz?verbose");
  CHECK(r.status == 200);
  CHECK(r.body == "[+]informers-synced ok\nhealthz check passed\n");
  CHECK(httpGet(server.port(), "/readyz/informers-synced").status == 200);
  CHECK(httpGet(server.port(), "/healthz/ping").body == "ok");
  CHECK(httpGet(server.port(), "/metrics").status == 404);
  CHECK(httpGet(server.port(), "/healthz", "POST").status == 405);
  r = httpGet(server.port(), "/healthz", "HEAD");
  CHECK(r.status == 200);
  CHECK(r.body.empty());
}

TEST_CASE("ProbeServer: a port in use and an IPv6 host are clear errors, not a crash") {
  Checks healthz, readyz;
  ProbeServer first("127.0.0.1", 0, healthz, readyz);
  try {
    ProbeServer second("127.0.0.1", first.port(), healthz, readyz);
    FAIL("binding a port in use must throw");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(std::to_string(first.port())) != std::string::npos);
    CHECK(std::string(e.what()).find("cannot listen") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(ProbeServer("::1", 0, healthz, readyz), doctest::Contains("IPv6"), std::runtime_error);
  CHECK_THROWS_AS(ProbeServer("no-such-host.invalid", 0, healthz, readyz), std::runtime_error);
}
