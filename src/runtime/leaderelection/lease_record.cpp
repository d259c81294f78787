#include "runtime/leaderelection/lease_record.h"

#include <ctime>

#include <fmt/format.h>

namespace mv::runtime::leaderelection {

namespace {

std::string stringField(const json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

long numberField(const json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_number_integer() ? it->get<long>() : 0;
}

}  // namespace

LeaseRecord leaseRecordFrom(const json& lease) {
  LeaseRecord record;
  if (!lease.is_object()) return record;
  auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return record;
  record.holderIdentity = stringField(*spec, "holderIdentity");
  record.leaseDurationSeconds = numberField(*spec, "leaseDurationSeconds");
  record.acquireTime = stringField(*spec, "acquireTime");
  record.renewTime = stringField(*spec, "renewTime");
  record.leaseTransitions = numberField(*spec, "leaseTransitions");
  return record;
}

void applyLeaseRecord(json& lease, const LeaseRecord& record) {
  json& spec = lease["spec"];
  spec["holderIdentity"] = record.holderIdentity;
  spec["leaseDurationSeconds"] = record.leaseDurationSeconds;
  spec["acquireTime"] = record.acquireTime;
  spec["renewTime"] = record.renewTime;
  spec["leaseTransitions"] = record.leaseTransitions;
}

json makeLease(const std::string& ns, const std::string& name, const LeaseRecord& record) {
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", name}, {"namespace", ns}}}};
  applyLeaseRecord(lease, record);
  return lease;
}

std::string formatMicroTime(util::Clock::WallTime t) {
  using namespace std::chrono;
  const auto micros = duration_cast<microseconds>(t.time_since_epoch()).count();
  long long seconds = micros / 1000000;
  long long fraction = micros % 1000000;
  if (fraction < 0) {  // before 1970: floor, not truncate
    fraction += 1000000;
    seconds -= 1;
  }
  const std::time_t tt = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
}

}  // namespace mv::runtime::leaderelection
