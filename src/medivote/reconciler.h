#pragma once
// The MediVoteService reconciler: gathers the observation from the informer caches, asks the planner, applies the
// plan through the API, and drives each shutting-down pod's stage machine through the ShutdownRunner.
//
// Contract (see runtime/reconcile/reconciler.h for the outcomes):
// - Every write is safe to repeat: creates tolerate AlreadyExists, finalizer and status writes carry the
//   resourceVersion they were computed from (a Conflict requeues with fresh state), pod deletes carry a uid
//   precondition, and the shutdown stages are resumable from the pod annotations.
// - A bad spec or a missing Secret is reported (Degraded condition, Event, log line) and never deletes anything;
//   shutdowns already under way still run to their bounded end.
// - API failures return Result::error (retried with back-off). The reconcile requeues itself for the earliest
//   moment a shutdown stage needs attention; pod and resource changes wake it through the informers.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "kube/client.h"
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
};

class MediVoteReconciler final : public runtime::reconcile::Reconciler {
 public:
  MediVoteReconciler(kube::Client& client, ReconcilerStores stores, shutdown::ShutdownRunner& runner,
                     runtime::events::EventRecorder& events, util::Clock& clock, PodSettings settings);

  runtime::reconcile::Result reconcile(const runtime::reconcile::Request& request) override;

 private:
  struct SecretLookup {
    std::optional<std::string> token;
    std::string problem;  // why there is no token
    util::Clock::TimePoint at;
  };
  SecretLookup lookupToken(const api::MediVoteService& mvs);
  std::optional<shutdown::EndpointRequest> callTarget(const api::MediVoteService& mvs, const json& pod,
                                                      const SecretLookup& token, std::string& whyNot) const;
  bool applyFinalizer(const api::MediVoteService& mvs, bool add);
  bool writeStatus(const json& object, const json& status);

  kube::Client& client_;
  ReconcilerStores stores_;
  shutdown::ShutdownRunner& runner_;
  runtime::events::EventRecorder& events_;
  util::Clock& clock_;
  PodSettings settings_;

  std::mutex mu_;
  std::map<std::string, SecretLookup> tokens_;           // by resource key; re-read after kTokenTtl
  std::map<std::string, std::vector<json>> conflicts_;   // pods found by a failed create, not ours
};

}  // namespace mv::medivote
