#include "runtime/metrics/registry.h"

#include <doctest/doctest.h>

#include "../health/http_get.h"
#include "runtime/metrics/metrics_server.h"
#include "runtime/workqueue/work_queue.h"

using namespace std::chrono_literals;
using mv::runtime::metrics::MetricsServer;
using mv::runtime::metrics::Registry;

namespace {
bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }
}  // namespace

TEST_CASE("Registry: every runtime metric name appears in the exposition once used") {
  Registry registry;
  auto series = registry.controllers().forController("medivoteservice");
  series.success.Increment();
  series.reconcileTime.Observe(0.02);
  mv::util::FakeClock clock;
  mv::runtime::workqueue::WorkQueue queue(clock, nullptr, registry.workqueues().forQueue("medivoteservice"));
  queue.add("ns/a");
  registry.restClient().observe("10.0.0.1:6443", "list", 200, 0.03);
  registry.restClient().observer("10.0.0.1:6443")("update", 0, 1.5);
  registry.leaderElection().statusCallback("medivote-operator")(true);

  const std::string text = registry.scrapeText();
  for (const char* name :
       {"controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
        "controller_runtime_terminal_reconcile_errors_total", "controller_runtime_reconcile_time_seconds_bucket",
        "controller_runtime_active_workers", "controller_runtime_max_concurrent_reconciles", "workqueue_depth",
        "workqueue_adds_total", "workqueue_retries_total", "workqueue_queue_duration_seconds_bucket",
        "workqueue_work_duration_seconds_bucket", "workqueue_unfinished_work_seconds",
        "workqueue_longest_running_processor_seconds", "rest_client_requests_total",
        "rest_client_request_duration_seconds_bucket", "leader_election_master_status"}) {
    CAPTURE(name);
    CHECK(has(text, std::string("\n") + name + "{"));
  }
  CHECK(has(text, R"(controller_runtime_reconcile_total{controller="medivoteservice",result="success"} 1)"));
  CHECK(has(text, R"(workqueue_depth{name="medivoteservice"} 1)"));
  CHECK(has(text, R"(workqueue_adds_total{name="medivoteservice"} 1)"));
  CHECK(has(text, R"(rest_client_requests_total{code="200",host="10.0.0.1:6443",method="GET"} 1)"));
  CHECK(has(text, R"(rest_client_requests_total{code="<error>",host="10.0.0.1:6443",method="PUT"} 1)"));
  CHECK(has(text, R"(rest_client_request_duration_seconds_count{host="10.0.0.1:6443",verb="GET"} 1)"));
  CHECK(has(text, R"(leader_election_master_status{name="medivote-operator"} 1)"));
  CHECK(has(text, R"(controller_runtime_reconcile_time_seconds_bucket{controller="medivoteservice",le="0.025"} 1)"));
}

TEST_CASE("Registry: collect hooks refresh gauges at scrape time and stop when their handle dies") {
  Registry registry;
  auto& gauge = registry.leaderElection().masterStatus("lease");
  int calls = 0;
  {
    auto handle = registry.addCollectHook([&] {
      ++calls;
      gauge.Set(calls);
    });
    CHECK(has(registry.scrapeText(), R"(leader_election_master_status{name="lease"} 1)"));
    CHECK(has(registry.scrapeText(), R"(leader_election_master_status{name="lease"} 2)"));
  }
  registry.scrapeText();
  CHECK(calls == 2);
}

TEST_CASE("Registry: a work queue's unfinished work is reported at scrape time") {
  Registry registry;
  mv::util::FakeClock clock;
  mv::runtime::workqueue::WorkQueue queue(clock, nullptr, registry.workqueues().forQueue("q"));
  auto hook = registry.addCollectHook([&] { queue.updateUnfinishedWork(); });
  queue.add("a");
  REQUIRE(queue.get() == "a");
  clock.advance(7s);
  const auto text = registry.scrapeText();
  CHECK(has(text, R"(workqueue_unfinished_work_seconds{name="q"} 7)"));
  CHECK(has(text, R"(workqueue_longest_running_processor_seconds{name="q"} 7)"));
}

TEST_CASE("MetricsServer serves /metrics on a loopback port, and a bad address is a clear error") {
  Registry registry;
  registry.leaderElection().masterStatus("lease").Set(1);
  MetricsServer server(registry, "127.0.0.1", 0);
  REQUIRE(server.port() != 0);
  const auto reply = mv::test::httpGet(server.port(), "/metrics");
  CHECK(reply.status == 200);
  CHECK(has(reply.body, R"(leader_election_master_status{name="lease"} 1)"));
  CHECK_THROWS_WITH_AS(MetricsServer(registry, "127.0.0.1", server.port()), doctest::Contains("cannot listen"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(MetricsServer(registry, "::1", 0), doctest::Contains("IPv6"), std::runtime_error);
}

TEST_CASE("REST client metrics label requests with the HTTP method of the client's verb, as client-go") {
  using mv::runtime::metrics::httpMethodOf;
  CHECK(httpMethodOf("get") == "GET");
  CHECK(httpMethodOf("list") == "GET");
  CHECK(httpMethodOf("watch") == "GET");
  CHECK(httpMethodOf("create") == "POST");
  CHECK(httpMethodOf("update") == "PUT");
  CHECK(httpMethodOf("patch") == "PATCH");
  CHECK(httpMethodOf("delete") == "DELETE");
  CHECK(httpMethodOf("options") == "OPTIONS");
}
