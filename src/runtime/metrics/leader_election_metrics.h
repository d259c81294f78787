#pragma once
// client-go's leader-election metric:
//   leader_election_master_status{name}   gauge, 1 while this process holds the lease `name`, else 0.

#include <functional>
#include <string>

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace mv::runtime::metrics {

class LeaderElectionMetrics {
 public:
  explicit LeaderElectionMetrics(prometheus::Registry& registry);
  // The gauge of lease `name` (created at 0).
  prometheus::Gauge& masterStatus(const std::string& name);
  // A callback for a leader elector: leading(true) when it acquires the lease, leading(false) when it loses or
  // releases it. Valid as long as the Registry.
  std::function<void(bool leading)> statusCallback(const std::string& name);

 private:
  prometheus::Family<prometheus::Gauge>& status_;
};

}  // namespace mv::runtime::metrics
