#pragma once
// Shutdown order between MediVoteServices (spec.shutdown.after): whether this resource's pods must wait before they
// get their shutdown, because resources it names are going down with it and still have pods. Pure: a function of
// the resource, what is observed of the other resources of its namespace, and the time. The planner applies it (a
// held resource starts no new shutdown of its pods; shutdowns already under way go on) and reports it as the
// WaitingForDependents condition.
//
// The rules:
// - Only shutdowns together are ordered. This resource is held only while it is going down entirely (being deleted,
//   or spec.replicas == 0), it still has pods to shut down, and a resource it names is going down too (being deleted,
//   or replicas 0) and still has pods (any pod of it, shutting down or not). A resource that is not going down
//   (scale-down to N > 0, upgrade, kubectl delete pod, eviction) is never held; a named resource that does not exist,
//   is gone or has no pods does not hold it.
// - Resources going down together are deleted (or scaled) one request after another (kubectl delete -f, helm
//   uninstall, kubectl scale --all), in any order: a resource that starts going down while a resource it names, with
//   pods, is not (yet) going down waits kSettle for it to follow (reason DependentsSettling, no Event); if it does
//   not, the resource goes on (DependentsStayUp) and does not wait for it again while it goes down.
// - Every wait is bounded: dependencyTimeoutSeconds from when the hold began. That start is kept on the object (the
//   WaitingForDependents condition's lastTransitionTime while it is True), so an operator restart resumes the same
//   wait; a timeout is remembered the same way (the condition False with reason DependencyTimeout) for as long as the
//   resource is going down, so the released shutdown is not held again.
// - A cycle among the after lists (over the resources of the namespace that exist) never deadlocks: a resource on a
//   cycle is not held, and is reported Degraded (DependencyCycle, naming the cycle).

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/medivoteservice.h"
#include "util/time_format.h"

namespace mv::medivote {

using json = nlohmann::json;

// The condition type, its reasons, and the Event reasons.
inline constexpr const char* kWaitingForDependents = "WaitingForDependents";
namespace order_reasons {
inline constexpr const char* kDependentsUp = "DependentsUp";            // held (True)
inline constexpr const char* kDependentsSettling = "DependentsSettling";  // held (True) at most kSettle
inline constexpr const char* kDependentsStayUp = "DependentsStayUp";    // released: named ones did not go down
inline constexpr const char* kDependentsDown = "DependentsDown";        // released: every named resource is down
inline constexpr const char* kDependencyTimeout = "DependencyTimeout";  // released: the wait timed out
inline constexpr const char* kNotGoingDown = "NotGoingDown";            // not held: not going down entirely
inline constexpr const char* kDependencyCycle = "DependencyCycle";      // not held: on a cycle (Degraded)
inline constexpr const char* kNoPods = "NoPodsToShutDown";              // not held: nothing left to hold
}  // namespace order_reasons

// How long a resource going down waits for the resources it names to start going down too (see above).
inline constexpr std::chrono::seconds kSettle{2};

// What is observed of another MediVoteService of the namespace.
struct OrderPeer {
  bool goingDown = false;  // being deleted, or spec.replicas == 0
  bool hasPods = false;    // any pod of it still exists
  std::vector<std::string> after;  // its own spec.shutdown.after (for cycles)
};

struct OrderInput {
  std::string name;
  bool goingDown = false;          // this resource: being deleted, or spec.replicas == 0
  bool hasPodsToShutDown = false;  // this resource has pods not shutting down yet
  std::vector<std::string> after;
  int dependencyTimeoutSeconds = api::ShutdownSpec::kDefaultDependencyTimeoutSeconds;
  std::map<std::string, OrderPeer> peers;  // the other MediVoteServices of the namespace that exist, by name
  json previousConditions = json::array();  // status.conditions as the resource has them
  util::WallTime now{};
};

struct OrderDecision {
  bool held = false;
  std::string reason;   // order_reasons
  std::string message;  // for the condition (and the Events)
  std::vector<std::string> up;     // the named resources still up (held, or released by the timeout)
  std::vector<std::string> cycle;  // when on a cycle: the names along it, the first repeated at the end
  std::optional<util::WallTime> since;   // held: when the hold began
  std::optional<util::WallTime> wakeAt;  // held: when the hold times out
};

OrderDecision decideShutdownOrder(const OrderInput& in);

// The input for `mvs`, from the MediVoteServices of its namespace (the resource itself among them or not) and
// whether each has pods (by name). `hasPodsToShutDown` is the resource's own.
OrderInput orderInput(const api::MediVoteService& mvs, const std::vector<api::MediVoteService>& namespaceResources,
                      const std::map<std::string, bool>& hasPods, bool hasPodsToShutDown, util::WallTime now);

// Whether a resource is going down entirely: being deleted, or scaled to 0.
bool goingDown(const api::MediVoteService& mvs);

// The Events of a change of decision, against the previous conditions: Normal WaitingForDependents when a hold
// begins, Normal DependentsDown when it ends so, Warning DependencyTimeout when it ends by the timeout.
struct OrderEvent {
  bool warning = false;
  std::string reason;
  std::string message;
};
std::vector<OrderEvent> orderEvents(const json& previousConditions, const OrderDecision& d);

// Index of the MediVoteService informer: "<namespace>/<name>" for every name in spec.shutdown.after, so that a change
// of resource B (or of one of its pods) finds every resource that names B.
inline constexpr const char* kShutdownAfterIndex = "shutdown-after";
std::vector<std::string> indexByShutdownAfter(const json& object);

}  // namespace mv::medivote
