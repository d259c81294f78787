#pragma once
// The parts plan() (planner.h) is made of, one job each; internal to the planner. All pure.
//
//   classifyPods        what each observed pod is to the resource (planner_pods.cpp)
//   ShutdownChoices     the pods chosen to go in this plan, within spec.shutdown.maxConcurrent (planner_pods.cpp)
//   replaceFailed, scaleDown, scaleUp    the number of slots towards spec.replicas (planner_scaling.cpp)
//   rollingUpgrade      pods of another revision replaced, maxUnavailable at a time (planner_upgrade.cpp)
//   updatedHistory      status.shutdowns (planner_history.cpp)
//   desiredStatus       the status fields and conditions, and the Events they imply (planner_status.cpp)

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "medivote/planner.h"

namespace mv::medivote::planning {

// One observed pod as the planner sees it.
struct PodView {
  const json* pod;
  std::string name;
  int ordinal = -1;  // -1: a name that is not <mvs>-<n>
  bool ours = false;
  bool shuttingDown = false;
  bool deleting = false;
  shutdown::ShutdownState state;
  std::string revision;
  bool ready = false;
  bool failed = false;  // phase Failed or Succeeded: it will not serve again
};

// A pod shutting down to be replaced at its ordinal keeps its slot.
bool keepsSlot(const PodView& v);

// The observed pods, classified. `active` points into `all`: a PodSet is moved, never copied.
struct PodSet {
  std::vector<PodView> all;                 // by ordinal, then name
  std::vector<const PodView*> active;       // ours and not shutting down
  std::vector<std::string> shuttingDown;    // ours and shutting down (their stage machine is driven)
  std::vector<std::string> foreign;         // named like ours, owned by something else
  std::set<int> usedOrdinals;               // by any pod with our name pattern, ours or not: never created over
  int slots = 0;                            // ours, counted towards spec.replicas (keepsSlot)

  PodSet() = default;
  PodSet(PodSet&&) = default;
  PodSet& operator=(PodSet&&) = default;
  PodSet(const PodSet&) = delete;
  PodSet& operator=(const PodSet&) = delete;
};
PodSet classifyPods(const Observation& o);

// The pods chosen to go in this plan. New shutdowns start only while fewer than maxConcurrent of the resource's pods
// are shutting down (counting the ones chosen here); a pod is chosen at most once.
class ShutdownChoices {
 public:
  ShutdownChoices(int maxConcurrent, int alreadyShuttingDown);
  // Chooses `v` to go for `reason`, if the budget allows; false when it does not (or `v` is already chosen).
  bool start(const PodView& v, std::string_view reason);
  bool chosen(const std::string& pod) const { return chosen_.count(pod) > 0; }
  const std::vector<ShutdownOrder>& orders() const { return orders_; }

 private:
  int budget_;
  std::set<std::string> chosen_;
  std::vector<ShutdownOrder> orders_;
};

// Failed pods (phase Failed or Succeeded) are replaced in place.
void replaceFailed(const PodSet& pods, ShutdownChoices& choices);

// More slots than spec.replicas: podsToDelete first (in the order given), then the highest ordinals; pods with odd
// names before all. Returns the Progressing reason ("ScalingDown"), or "" when there is nothing to scale down.
std::string scaleDown(const api::MediVoteService& mvs, const PodSet& pods, ShutdownChoices& choices);

// Fewer slots than spec.replicas: pods (and their missing claims) for the lowest free ordinals. Returns the
// Progressing reason ("ScalingUp"), or "" when there is nothing to scale up.
std::string scaleUp(const Observation& o, const PodSettings& settings, api::Tier tier, const PodSet& pods,
                    Plan& plan);

// When the slot count is right: active pods of another revision than `updateRevision`, at or above the partition,
// highest ordinal first, while fewer than maxUnavailable slots are unavailable. Returns the Progressing reason
// ("RollingUpdate"), or "" when every pod is up to date.
std::string rollingUpgrade(const api::MediVoteService& mvs, const PodSet& pods, const std::string& updateRevision,
                           ShutdownChoices& choices);

// status.shutdowns: at most 10 shutdowns, newest first; a shutdown's outcome is written when its pod is gone. Those
// under way are kept before finished ones: while any of the resource's pods is shutting down, an entry shows it open.
json updatedHistory(const json& previous, const PodSet& pods, const Observation& o);

// What the status needs to know of the plan besides the observation.
struct PlanSummary {
  api::Tier tier = api::Tier::Simple;
  std::string updateRevision;
  std::string progressingReason;  // "" when nothing is under way by the scaling and upgrade parts
};

// The WaitingForDependents condition (when the resource names others in spec.shutdown.after, or had it before) and
// the Events of a change (shutdown_order.h); sets p.orderWaitEnded when a wait ends.
void orderStatus(const Observation& o, json& conditions, Plan& p);

// The complete desired status (counts, revisions, history, conditions, phase) for the plan `p` so far (its pods to
// create and shutdowns to start), and the Warning Event of a new degradation, appended to p.events.
json desiredStatus(const Observation& o, const PodSet& pods, const PlanSummary& summary, Plan& p);

}  // namespace mv::medivote::planning
