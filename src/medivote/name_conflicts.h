#pragma once
// Names a resource's pods and claims would take that another owner already holds: a pod `<mvs>-N` that is not the
// resource's (it lacks the operator's managed-by label, so no informer shows it), a claim `<template>-<mvs>-N` of
// another MediVoteService (`vote` with template `data-x` and `x-vote` with `data` both make `data-x-vote-0`).
// The reconciler remembers them per resource so that it neither writes over them nor asks for them again on every
// pass; the planner keeps their ordinals free of new pods and reports them (Degraded PodConflict, ClaimConflict).
//
// Contract:
// - One entry per (resource, kind, name): recording a name again replaces its entry, never adds a second.
// - The holder's objects are in no informer of the operator, so nothing tells it they went: a held name is due for
//   a re-check (one GET) kRecheck after it was last checked, and nextCheck() says when the first is due. Between
//   re-checks no request is made for it, however often the resource is reconciled.
// - release() drops a name found free (or the resource's own after all); forget() drops a resource; retain() drops
//   every resource not in a given set. Nothing is kept for a resource that is gone.
// - claimHolder() is pure: who holds a claim, judged from its labels and ownerReferences.
// Thread-safe.

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "api/medivoteservice.h"
#include "util/clock.h"

namespace mv::medivote {

using json = nlohmann::json;

// Who holds the claim `claim` when it is not `mvs`'s, e.g. "MediVoteService x-vote" (its medivote.io/service label
// names another resource) or "StatefulSet db" (a controller ownerReference to something else); nullopt when it is
// the resource's own or nobody's (a claim created beforehand by the user is used, as a StatefulSet uses one).
std::optional<std::string> claimHolder(const json& claim, const api::MediVoteService& mvs);

// Who holds the pod `pod`, for a message: its controller owner ("ReplicaSet web-abc") or "no controller".
std::string podHolder(const json& pod);

class NameConflicts {
 public:
  enum class Kind { Pod, Claim };
  static constexpr std::chrono::seconds kRecheck{30};

  struct Held {
    std::string holder;  // podHolder / claimHolder
    std::string uid;     // of the object holding the name
    util::Clock::TimePoint checkedAt;
  };

  // `name` of kind `kind`, wanted by resource `owner` ("namespace/name"), is held by someone else (checked at
  // `held.checkedAt`).
  void record(const std::string& owner, Kind kind, const std::string& name, Held held);
  // `name` is free again (or not a conflict after all).
  void release(const std::string& owner, Kind kind, const std::string& name);
  // The names of `kind` held for `owner`, by name.
  std::map<std::string, Held> held(const std::string& owner, Kind kind) const;
  static bool due(const Held& h, util::Clock::TimePoint now) { return now - h.checkedAt >= kRecheck; }
  // When the first of `owner`'s held names is due for a re-check; nullopt when none is held.
  std::optional<util::Clock::TimePoint> nextCheck(const std::string& owner) const;

  void forget(const std::string& owner);
  void retain(const std::set<std::string>& owners);
  std::size_t size() const;  // held names, all resources

 private:
  using Key = std::tuple<std::string, Kind, std::string>;  // owner, kind, name
  mutable std::mutex mu_;
  std::map<Key, Held> held_;
};

}  // namespace mv::medivote
