#pragma once
// The leader-election record kept in a coordination.k8s.io/v1 Lease's spec, and the MicroTime format its
// timestamps must have.

#include <string>

#include <nlohmann/json.hpp>

#include "util/clock.h"

namespace mv::runtime::leaderelection {

using json = nlohmann::json;

struct LeaseRecord {
  std::string holderIdentity;  // "" = nobody (released); an absent field reads as ""
  long leaseDurationSeconds = 0;
  std::string acquireTime;  // MicroTime
  std::string renewTime;    // MicroTime
  long leaseTransitions = 0;

  bool operator==(const LeaseRecord&) const = default;
};

// Reads the record from a Lease object (missing fields read as empty/zero).
LeaseRecord leaseRecordFrom(const json& lease);
// Writes the record into lease.spec (every field, holderIdentity included even when "").
void applyLeaseRecord(json& lease, const LeaseRecord& record);
// A new Lease object holding the record.
json makeLease(const std::string& ns, const std::string& name, const LeaseRecord& record);

// RFC 3339 in UTC with exactly 6 fractional digits, e.g. "2026-11-25T20:27:03.313439Z": the only form the API
// server accepts for a metav1.MicroTime (no fraction or 3 digits are rejected with 400/422).
std::string formatMicroTime(util::Clock::WallTime t);

}  // namespace mv::runtime::leaderelection
