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
//   is gone or has no pods does not hold it. A pod being deleted whose service has exited (in its preStop sleep)
//   counts as gone (podHoldsOrder).
// - Pods deleted by someone else (a namespace deletion deletes the pods themselves, as it deletes every object of
//   the namespace) are held too while the resource is held, but only within their own preStop budget: their
//   shutdown starts by itself (External) and their preStop clock runs, so the stage machine lets them leave their
//   Service at once and holds only their call, until the order releases it or until the latest moment that still
//   leaves the call and the exit their time before SIGTERM (shutdown::orderWaitEnd: sigtermAt - requestTimeout -
//   exitTimeout - 1 s); called then, the pod and the resource get an OrderWaitCutShort warning (in the log; the
//   API server takes no new Event in a terminating namespace), and
//   medivote_shutdown_order_waits_total{result="prestop-budget"} counts it. Such pods count as pods to shut down
//   (hasPodsToShutDown) until their call is made. A namespace deletion is ordered as far as the budgets allow: the
//   pods' deletion may be seen before the resources' own (the namespace controller deletes them one kind after the
//   other, in an order of its own, and the pods of one resource may go first): a resource not going down (yet)
//   whose pods are ALL being deleted by someone else, while a resource it names has pods, has their calls held at
//   most kSettle from the deletion request (DependentsSettling, no Event) for its own deletion to be seen. That
//   cannot be told from a `kubectl delete pod` of the last pod of such a resource, whose call so comes up to 2 s
//   later (within its preStop time: a direct pod's sleep is waited out in full anyway). A pod deleted while
//   others of its resource serve (eviction, a rolling drain of nodes) is never held. Each waiter needs a preStop
//   budget that covers the resources before it.
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
  bool hasPods = false;    // any pod of it still holds the order (podHoldsOrder: exists, its service not exited)
  std::vector<std::string> after;  // its own spec.shutdown.after (for cycles)
};

struct OrderInput {
  std::string name;
  bool goingDown = false;          // this resource: being deleted, or spec.replicas == 0
  bool hasPodsToShutDown = false;  // this resource has pods not shutting down yet
  std::vector<std::string> after;
  int dependencyTimeoutSeconds = api::ShutdownSpec::kDefaultDependencyTimeoutSeconds;
  std::map<std::string, OrderPeer> peers;  // the other MediVoteServices of the namespace that exist, by name
  // Every pod of this resource being deleted by someone else, some with their call not made yet: the earliest
  // deletion request (deletionTimestamp - grace). While it is not going down (yet), see the settle rule above.
  std::optional<util::WallTime> podsDeletedSince;
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

// Whether a pod of a resource keeps the resources that name it waiting (OrderPeer::hasPods): it exists, and it is
// not a pod being deleted whose service container has exited. A pod in its preStop sleep whose service is done has
// ended its HTTP stage: with a namespace deletion every pod's preStop time runs at once, and waiting out the
// named resources' sleeps would use up the waiter's own.
bool podHoldsOrder(const json& pod, const std::string& serviceContainer);

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
