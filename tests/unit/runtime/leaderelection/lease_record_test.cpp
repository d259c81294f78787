#include "runtime/leaderelection/lease_record.h"

#include <doctest/doctest.h>

#include <regex>

using namespace mv::runtime::leaderelection;

TEST_CASE("MicroTime has exactly six fractional digits, in UTC with Z") {
  using namespace std::chrono;
  const auto t = system_clock::time_point{} + seconds(1795638423) + microseconds(313439);  // 2026-11-25T20:27:03
  CHECK(formatMicroTime(t) == "2026-11-25T20:27:03.313439Z");
  CHECK(formatMicroTime(system_clock::time_point{} + seconds(1795638423)) == "2026-11-25T20:27:03.000000Z");
  CHECK(formatMicroTime(system_clock::time_point{} + nanoseconds(1999)) == "1970-01-01T00:00:00.000001Z");
  const std::regex microTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  CHECK(std::regex_match(formatMicroTime(system_clock::now()), microTime));
}

TEST_CASE("lease records read what the API server stores, absent fields as empty") {
  const json lease = json::parse(R"({"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
    "metadata": {"name": "medivote-leader", "namespace": "demo", "resourceVersion": "1416"},
    "spec": {"leaseDurationSeconds": 15, "acquireTime": "2026-11-25T20:27:04.429038Z",
             "renewTime": "2026-11-25T20:30:00.123456Z", "leaseTransitions": 1}})");  // holder released (null)
  LeaseRecord record = leaseRecordFrom(lease);
  CHECK(record.holderIdentity.empty());
  CHECK(record.leaseDurationSeconds == 15);
  CHECK(record.acquireTime == "2026-11-25T20:27:04.429038Z");
  CHECK(record.renewTime == "2026-11-25T20:30:00.123456Z");
  CHECK(record.leaseTransitions == 1);
  CHECK(leaseRecordFrom(json::parse(R"({"metadata": {"name": "empty"}, "spec": {}})")) == LeaseRecord{});
}

TEST_CASE("makeLease and applyLeaseRecord write every field, holderIdentity \"\" included") {
  LeaseRecord record{"", 1, "2026-11-25T20:27:04.429038Z", "2026-11-25T20:27:04.429038Z", 3};
  json lease = makeLease("demo", "medivote-leader", record);
  CHECK(lease["apiVersion"] == "coordination.k8s.io/v1");
  CHECK(lease["kind"] == "Lease");
  CHECK(lease["metadata"] == json{{"name", "medivote-leader"}, {"namespace", "demo"}});
  CHECK(lease["spec"]["holderIdentity"] == "");
  CHECK(leaseRecordFrom(lease) == record);
}
