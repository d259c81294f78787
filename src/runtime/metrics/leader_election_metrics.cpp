#include "runtime/metrics/leader_election_metrics.h"

namespace mv::runtime::metrics {

LeaderElectionMetrics::LeaderElectionMetrics(prometheus::Registry& registry)
    : status_(prometheus::BuildGauge()
                  .Name("leader_election_master_status")
                  .Help("Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 "
                        "indicates master. 'name' is the string used to identify the lease.")
                  .Register(registry)) {}

prometheus::Gauge& LeaderElectionMetrics::masterStatus(const std::string& name) { return status_.Add({{"name", name}}); }

std::function<void(bool)> LeaderElectionMetrics::statusCallback(const std::string& name) {
  prometheus::Gauge* gauge = &masterStatus(name);
  return [gauge](bool leading) { gauge->Set(leading ? 1 : 0); };
}

}  // namespace mv::runtime::metrics
