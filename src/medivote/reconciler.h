#pragma once
// The MediVoteService reconciler: gathers the observation from the informer caches, asks the planner, applies the
// plan through the API, and drives each shutting-down pod's stage machine through the ShutdownRunner.
//
// Contract (see runtime/reconcile/reconciler.h for the outcomes):
// - Every write is safe to repeat: creates tolerate AlreadyExists, finalizer and status writes carry the
//   resourceVersion they were computed from (a Conflict requeues with fresh state), pod deletes carry a uid
//   precondition, and the shutdown stages are resumable from the pod annotations.
// - A bad spec or a missing Secret is reported (Degraded condition, Event, log line) and never deletes anything;
//   shutdowns already under way still run to their bounded end. Validation includes the names derived from the
//   resource's (derived_names.h).
// - While a critical resource's endpoint cannot be called for a reason the user can fix (its token Secret is
//   missing, foreign or unusable: TokenLookup without a token), no shutdown the operator chooses (ScaleDown,
//   Upgrade, Replace) starts: the pods stay, the resource is Degraded with the Secret's reason (and says that
//   shutdowns wait), and they start at the first reconcile that reads a usable token (within TokenSecrets::kResync
//   of the fix, plus the refreshes' pacing). Two cases do not wait, as waiting could last forever and the pod is
//   going anyway: a pod deleted by someone else (its preStop clock is already running) and a resource being deleted
//   (its namespace may be going, and its Secret with it). Their shutdowns run without a call: it counts as
//   unreachable and escalates within the policy's bounds (SIGTERM at the end of the preStop sleep). Shutdowns
//   already under way go on the same way.
// - A name the resource's pods or claims would take that another owner holds (name_conflicts.h) is never written
//   over: a pod create answered 409 by someone else's pod, or a claim of another resource (or controller) that a new
//   pod would mount (claims are created before their pods; a create answered 409 reads the claim, so a claim costs
//   no extra request unless it exists already). The ordinal gets no pod, the resource is Degraded (PodConflict, ClaimConflict, naming it and its
//   holder) with a Warning Event and a log line, and the name is not asked for again until a re-check (one GET every
//   NameConflicts::kRecheck, the reconcile requeues itself for it) finds it free; the ordinal is then used.
// - A create or patch of a pod, claim or Service that the server refuses (400, 403, 422) does not stop the other
//   writes; it is logged and reported as Degraded ServerRefused with the server's message (and an Event) from the
//   next pass, retried with back-off while it holds, and cleared by the first pass whose writes all go through (or
//   by a new generation of the resource).
// - The endpoint's token comes from TokenSecrets (agent_token.h): for reach agent without tokenSecretRef, the
//   operator's own Secret is created before any pod that mounts it; while it is missing, foreign or unusable, no pod
//   is created or chosen to go. A resource using the operator's Secret (or with a token problem) is reconciled again
//   when its copy of the Secret is next due (TokenLookup::nextRead: every TokenSecrets::kResync, later when the
//   refreshes are paced by `secretRefreshQps`, see agent_token.h), so a deleted Secret is created again and a fixed
//   one clears Degraded. A
//   new misconfiguration reported by a call's answer (a 401: the token may be outdated) has the Secret read again
//   at the next reconcile (TokenSecrets::invalidate), not a resync later.
// - Degraded ShutdownMisconfigured lasts exactly as long as the runner's MisconfigurationMemory holds it: until an
//   endpoint of the resource accepts a shutdown, or its uid, generation or token Secret version changes.
// - Everything kept per resource (token Secret cache, misconfigurations, name conflicts, refusals) is released when
//   the resource is gone: at the reconcile of its deletion, when a resource of the same name but another uid shows up
//   (deleted and created again unseen), and at the latest at the next sweep (every kSweep) should its deletion have
//   gone unseen.
// - API failures return Result::error (retried with back-off). The reconcile requeues itself for the earliest
//   moment a shutdown stage needs attention; pod and resource changes wake it through the informers.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "kube/client.h"
#include "medivote/agent_token.h"
#include "medivote/name_conflicts.h"
#include "medivote/planner.h"
#include "runtime/events/event_recorder.h"
#include "runtime/informer/store.h"
#include "runtime/reconcile/reconciler.h"
#include "shutdown/runner.h"
#include "util/clock.h"

namespace mv::medivote {

struct ReconcilerStores {
  const runtime::informer::Store& mediVoteServices;
  const runtime::informer::Store& pods;
  const runtime::informer::Store& services;
  // The EndpointSlices of the resources' Services (shutdown/endpoint_membership.h), read by the Draining stage, and
  // whether that cache can be trusted (its informer has synced). Without a store, or before the sync (RBAC denied,
  // API not served), a pod's membership is unknown and Draining waits out its timeout.
  const runtime::informer::Store* endpointSlices = nullptr;
  std::function<bool()> endpointSlicesSynced;
};

class MediVoteReconciler final : public runtime::reconcile::Reconciler {
 public:
  MediVoteReconciler(kube::Client& client, ReconcilerStores stores, shutdown::ShutdownRunner& runner,
                     runtime::events::EventRecorder& events, util::Clock& clock, PodSettings settings,
                     double secretRefreshQps = 0);

  runtime::reconcile::Result reconcile(const runtime::reconcile::Request& request) override;

  // Where the end of a shutdown-order wait is counted (optional).
  void setOrderMetrics(shutdown::ShutdownMetrics* metrics) { orderMetrics_ = metrics; }

  // A failed reconcile of a resource with a shutdown in flight is retried within this, whatever the work queue's
  // back-off has grown to: a shutdown's deadlines (refusal, exit, force) must hold after an API outage.
  static constexpr std::chrono::seconds kShutdownRetryCap{2};
  // How many of one resource's pods are driven at a time (their deletes, state writes and calls queued).
  static constexpr std::size_t kParallelDrives = 8;
  // How often what is kept for resources that are no longer in the cache is dropped.
  static constexpr std::chrono::seconds kSweep{60};

  // What is kept per resource, counted (for tests and leak checks).
  struct Memory {
    std::size_t tokenUsers = 0, cachedSecrets = 0, misconfigurations = 0, nameConflicts = 0, refusals = 0, uids = 0,
                pendingCompletions = 0;
    std::size_t total() const {
      return tokenUsers + cachedSecrets + misconfigurations + nameConflicts + refusals + uids + pendingCompletions;
    }
  };
  Memory memory() const;

 private:
  runtime::reconcile::Result reconcileOnce(const runtime::reconcile::Request& request);
  // Whether a pod of the resource is shutting down (a stage recorded, or a deletion under way).
  bool shutdownInFlight(const std::string& mvsKey) const;
  // Whether `pod` is listed in the EndpointSlices of the resource's Service; nullopt when they cannot be read.
  std::optional<bool> inEndpoints(const api::MediVoteService& mvs, const json& pod) const;
  std::optional<shutdown::EndpointRequest> callTarget(const api::MediVoteService& mvs, const json& pod,
                                                      const TokenLookup& token, std::string& whyNot) const;
  // The resource `mvsKey` is gone: release everything kept for it.
  void forget(const std::string& mvsKey);
  // Releases what is kept for resources no longer in the cache, at most every kSweep.
  void sweepIfDue();
  // The pods holding names the resource's pods would take (re-checked with a GET when due), for the observation.
  std::vector<json> podsHoldingNames(const api::MediVoteService& mvs, const std::string& mvsKey);
  // A claim a new pod would mount exists already (its create was answered 409): read it, and record it when another
  // owner holds it (true: the plan must be made again without the pods that would mount it).
  bool claimHeldByOther(const api::MediVoteService& mvs, const std::string& mvsKey, const std::string& name);
  // A pod create answered 409: whose pod holds the name.
  void podNameTaken(const api::MediVoteService& mvs, const std::string& mvsKey, const std::string& name);
  // Adds or removes the finalizer, conditional on the resource's resourceVersion: false on a Conflict. `written`, when
  // given, receives the object as the server answered the patch (unchanged when there was no answer, e.g. 404).
  bool applyFinalizer(const api::MediVoteService& mvs, bool add, json* written = nullptr);
  bool writeStatus(const json& object, const json& status);
  // The other MediVoteServices of the namespace and whether each has pods, for the shutdown order (shutdown_order.h).
  void observeOrderPeers(const api::MediVoteService& mvs, Observation& o) const;

  kube::Client& client_;
  ReconcilerStores stores_;
  shutdown::ShutdownRunner& runner_;
  runtime::events::EventRecorder& events_;
  util::Clock& clock_;
  PodSettings settings_;
  shutdown::ShutdownMetrics* orderMetrics_ = nullptr;

  TokenSecrets tokens_;

  NameConflicts conflicts_;

  mutable std::mutex mu_;
  std::map<std::string, std::string> uids_;  // resource key → the uid last reconciled under it
  util::Clock::TimePoint nextSweep_{};
  // The server's refusal of a resource's writes (isRefusal in reconciler.cpp), for the generation it answered.
  struct Refusal {
    int64_t generation = 0;
    std::string message;
  };
  std::map<std::string, Refusal> refusals_;
  // Completions reaped from the runner and not yet carried by a successful status write: resource key → pod name.
  struct PendingCompletion {
    std::string outcome;
    shutdown::ShutdownState state;
  };
  std::map<std::string, std::map<std::string, PendingCompletion>> pendingCompletions_;
};

}  // namespace mv::medivote
