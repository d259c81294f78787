#include "medivote/shutdown_order.h"

#include <algorithm>
#include <deque>
#include <set>

#include <fmt/format.h>

#include "shutdown/pod_facts.h"

namespace mv::medivote {
namespace {

namespace r = order_reasons;

const json* findCondition(const json& conditions, const char* type) {
  if (!conditions.is_array()) return nullptr;
  for (const auto& c : conditions)
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

// The shortest cycle through `self` along the after lists, over the resources that exist (`self` and the peers):
// the names along it, `self` first and last; empty when there is none.
std::vector<std::string> cycleThrough(const OrderInput& in) {
  auto edges = [&](const std::string& name) -> const std::vector<std::string>& {
    static const std::vector<std::string> none;
    if (name == in.name) return in.after;
    const auto it = in.peers.find(name);
    return it == in.peers.end() ? none : it->second.after;
  };
  auto exists = [&](const std::string& name) { return name == in.name || in.peers.count(name) > 0; };
  std::map<std::string, std::string> parent;  // breadth first from self; parent[n] = the node that reached n
  std::deque<std::string> queue{in.name};
  std::set<std::string> seen{in.name};
  while (!queue.empty()) {
    const std::string node = queue.front();
    queue.pop_front();
    for (const auto& next : edges(node)) {
      if (!exists(next)) continue;
      if (next == in.name) {
        std::vector<std::string> path{in.name};
        for (std::string at = node; at != in.name; at = parent[at]) path.push_back(at);
        std::reverse(path.begin() + 1, path.end());
        path.push_back(in.name);
        return path;
      }
      if (seen.insert(next).second) {
        parent[next] = node;
        queue.push_back(next);
      }
    }
  }
  return {};
}

}  // namespace

bool podHoldsOrder(const json& pod, const std::string& serviceContainer) {
  const shutdown::PodFacts f = shutdown::observePod(pod, serviceContainer);
  return !(f.deletionTimestamp && f.serviceExited);
}

bool goingDown(const api::MediVoteService& mvs) { return mvs.deleting || mvs.spec.replicas == 0; }

OrderDecision decideShutdownOrder(const OrderInput& in) {
  OrderDecision d;
  d.cycle = cycleThrough(in);
  if (!d.cycle.empty()) {
    d.reason = r::kDependencyCycle;
    d.message = fmt::format("spec.shutdown.after makes a cycle: {}; these resources are not held for each other",
                            fmt::join(d.cycle, " -> "));
    return d;
  }
  const json* previous = findCondition(in.previousConditions, kWaitingForDependents);
  const std::string prevStatus = previous ? previous->value("status", "") : "";
  const std::string prevReason = previous ? previous->value("reason", "") : "";
  auto heldSince = [&]() {
    if (prevStatus == "True")
      if (const auto t = util::parseTime(previous->value("lastTransitionTime", ""))) return *t;
    return in.now;
  };
  if (!in.goingDown) {
    if (in.podsDeletedSince && in.now < *in.podsDeletedSince + kSettle) {
      // Every pod of it deleted by someone else while a resource it names has pods (a namespace deletion may
      // delete the pods before the resources): their calls wait a little for the resource's own deletion.
      for (const auto& name : in.after) {
        const auto it = in.peers.find(name);
        if (it != in.peers.end() && it->second.hasPods) d.up.push_back(name);
      }
      if (!d.up.empty()) {
        d.held = true;
        d.reason = r::kDependentsSettling;
        d.since = heldSince();
        d.wakeAt = *in.podsDeletedSince + kSettle;
        d.message = fmt::format("its pods are being deleted by someone else while {} has pods: their shutdown calls "
                                "wait up to {}s for the resource to go down too (a namespace deletion)",
                                fmt::join(d.up, ", "), kSettle.count());
        return d;
      }
    }
    d.reason = r::kNotGoingDown;
    d.message = "not going down entirely (neither deleted nor scaled to 0): shutdowns are not held";
    return d;
  }
  if (!in.hasPodsToShutDown) {
    // Every pod is shutting down already: how the wait ended (if it did) stays said while they go.
    if (prevStatus == "False" && (prevReason == r::kDependentsDown || prevReason == r::kDependencyTimeout ||
                                  prevReason == r::kDependentsStayUp)) {
      d.reason = prevReason;
      d.message = previous->value("message", "");
      return d;
    }
    d.reason = r::kNoPods;
    d.message = "no pod left to hold";
    return d;
  }
  std::vector<std::string> stayingUp;  // named, with pods, not going down (yet)
  for (const auto& name : in.after) {
    const auto it = in.peers.find(name);
    if (it == in.peers.end() || !it->second.hasPods) continue;
    (it->second.goingDown ? d.up : stayingUp).push_back(name);
  }
  if (d.up.empty() && !stayingUp.empty()) {
    // Maybe not yet going down: they may be the next requests of the same kubectl delete or helm uninstall.
    const util::WallTime since = heldSince();
    const util::WallTime end =
        since + std::min<std::chrono::seconds>(kSettle, std::chrono::seconds(in.dependencyTimeoutSeconds));
    if ((prevStatus == "False" && prevReason == r::kDependentsStayUp) || in.now >= end) {
      d.reason = r::kDependentsStayUp;
      d.message = fmt::format("{} not going down with it: the pods are shut down without waiting for them",
                              fmt::join(stayingUp, ", "));
      return d;
    }
    d.held = true;
    d.reason = r::kDependentsSettling;
    d.since = since;
    d.wakeAt = end;
    d.up = stayingUp;
    d.message = fmt::format("the pods' shutdown waits up to {}s for {} to go down too", kSettle.count(),
                            fmt::join(stayingUp, ", "));
    return d;
  }
  if (d.up.empty()) {
    d.reason = r::kDependentsDown;
    d.message = in.after.empty() ? "no resource named in spec.shutdown.after"
                                 : fmt::format("{} down: the pods are shut down", fmt::join(in.after, ", "));
    return d;
  }
  // A timeout already reached in this going-down stays reached: the condition says so until the resource is not
  // going down any more (NotGoingDown resets it).
  if (prevStatus == "False" && prevReason == r::kDependencyTimeout) {
    d.reason = r::kDependencyTimeout;
    d.message = previous->value("message", "");
    return d;
  }
  const util::WallTime since = heldSince();
  const util::WallTime deadline = since + std::chrono::seconds(in.dependencyTimeoutSeconds);
  if (in.now >= deadline) {
    d.reason = r::kDependencyTimeout;
    d.message = fmt::format("waited {}s for {} to be down (spec.shutdown.dependencyTimeoutSeconds): the pods are "
                            "shut down anyway",
                            in.dependencyTimeoutSeconds, fmt::join(d.up, ", "));
    return d;
  }
  d.held = true;
  d.reason = r::kDependentsUp;
  d.since = since;
  d.wakeAt = deadline;
  d.message = fmt::format("the pods' shutdown waits for {} to be down (at most {}s, until {})", fmt::join(d.up, ", "),
                          in.dependencyTimeoutSeconds, util::formatTime(deadline));
  return d;
}

OrderInput orderInput(const api::MediVoteService& mvs, const std::vector<api::MediVoteService>& namespaceResources,
                      const std::map<std::string, bool>& hasPods, bool hasPodsToShutDown, util::WallTime now) {
  OrderInput in;
  in.name = mvs.name;
  in.goingDown = goingDown(mvs);
  in.hasPodsToShutDown = hasPodsToShutDown;
  in.after = mvs.spec.shutdown.after;
  in.dependencyTimeoutSeconds = mvs.spec.shutdown.dependencyTimeoutSeconds;
  in.previousConditions = mvs.status.is_object() ? mvs.status.value("conditions", json::array()) : json::array();
  in.now = now;
  for (const auto& peer : namespaceResources) {
    if (peer.name == mvs.name || peer.ns != mvs.ns) continue;
    const auto it = hasPods.find(peer.name);
    in.peers[peer.name] = {goingDown(peer), it != hasPods.end() && it->second, peer.spec.shutdown.after};
  }
  return in;
}

std::vector<OrderEvent> orderEvents(const json& previousConditions, const OrderDecision& d) {
  // A short wait for named resources to start going down too (DependentsSettling) is not reported by Events.
  const json* previous = findCondition(previousConditions, kWaitingForDependents);
  const bool wasHeld = previous && previous->value("status", "") == "True" &&
                       previous->value("reason", "") != r::kDependentsSettling;
  if (d.held && d.reason == r::kDependentsUp && !wasHeld) return {{false, kWaitingForDependents, d.message}};
  if (!d.held && wasHeld && d.reason == r::kDependencyTimeout) return {{true, r::kDependencyTimeout, d.message}};
  if (!d.held && wasHeld && d.reason == r::kDependentsDown) return {{false, r::kDependentsDown, d.message}};
  return {};
}

std::vector<std::string> indexByShutdownAfter(const json& object) {
  std::vector<std::string> out;
  const std::string ns = object.value("/metadata/namespace"_json_pointer, std::string());
  const json after = object.value("/spec/shutdown/after"_json_pointer, json::array());
  if (!after.is_array()) return out;
  for (const auto& name : after)
    if (name.is_string() && std::find(out.begin(), out.end(), ns + "/" + name.get<std::string>()) == out.end())
      out.push_back(ns + "/" + name.get<std::string>());
  return out;
}

}  // namespace mv::medivote
