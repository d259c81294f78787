#pragma once
// Executes the stage machine's steps for the pods of one or many MediVoteServices: patches the stage state onto the
// pod, calls the endpoint, deletes the pod, records Events and metrics.
//
// Contract:
// - drive() never blocks on a shutdown endpoint: calls run on the runner's own bounded pool (--max-concurrent-
//   shutdown-calls, CallPool), and when one ends the runner patches its answer onto the pod and asks for the owner
//   to be reconciled again (the `requeue` callback). A slow pod never holds a reconcile worker.
// - Fair: the pool takes turns across owners, runs at most RunnerOptions::perOwnerCallLimit calls of one owner at a
//   time, and calls pods that are already being deleted first (CallScheduler): one resource's slow endpoints cannot
//   hold up another's shutdowns.
// - Right before a call, the target is checked against the pod as the cache has it now (RunnerOptions::pods): a pod
//   that is gone, replaced (another uid) or has another IP is not called; its call is dropped and its owner
//   reconciled again, which decides afresh from the pod as it is.
// - One call per pod at a time: drive() of a pod with a call in flight does nothing.
// - Leadership is a context that cancels (issue 15 item 3): after cancel() or stop(), drive() starts no call,
//   queued calls are dropped, and a call in flight is abandoned: its answer is not written (the next leader calls
//   again, which the endpoint's contract allows).
// - The informer cache may lag behind the runner's own writes: the runner overlays the stage state it last wrote
//   for a pod until the cache shows it, so a lagging cache never makes it repeat a stage.
// - API errors from patches and deletes propagate (as kube::Error) to the reconciler, which retries with back-off.
//   A pod that vanished (404) is not an error.
// - Safe to repeat across replicas: every effect is idempotent or recorded first (see stage_machine.cpp), so an old
//   leader still finishing and a new one starting cannot skip a stage; at worst the endpoint is called twice, which
//   its contract allows.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kube/client.h"
#include "runtime/events/event_recorder.h"
#include "shutdown/call_pool.h"
#include "shutdown/endpoint_caller.h"
#include "shutdown/metrics.h"
#include "shutdown/misconfiguration_memory.h"
#include "shutdown/pod_lookup.h"
#include "shutdown/stage_machine.h"
#include "shutdown/shutdown_tracker.h"
#include "shutdown/state_overlay.h"
#include "util/clock.h"

namespace mv::shutdown {

struct DriveInput {
  json pod;  // as cached
  ShutdownPolicy policy;
  std::string startReason;       // non-empty when the planner chose this pod to go now
  std::string serviceContainer;  // the container whose exit completes the HTTP stage
  // Whether the pod is listed in its Service's EndpointSlices (PodFacts::inEndpoints); nullopt: cannot be told.
  std::optional<bool> inEndpoints;
  // Where to call; nullopt when the endpoint cannot be called (the pod has no IP, the Secret is missing): the call
  // then counts as unreachable, and the shutdown escalates within its bounds.
  std::optional<EndpointRequest> target;
  std::string unavailableReason;     // why target is nullopt
  std::string ownerKey;              // "namespace/name" of the MediVoteService, for requeue
  runtime::events::ObjectRef owner;  // the MediVoteService, for Events
  // The configuration `target` was built from: a misconfiguration its answer reveals holds until it changes.
  ConfigVersion config;
};

struct DriveResult {
  Stage stage = Stage::None;
  bool inProgress = false;             // the pod is shutting down (any stage, or a call in flight)
  std::optional<WallTime> wakeAt;      // reconcile again no later than this
};

struct Completion {
  std::string pod;
  Outcome outcome;
  ShutdownState state;  // as last recorded on the pod (or written by the runner)
};

struct RunnerOptions {
  int perOwnerCallLimit = 0;  // calls of one MediVoteService running at once; 0: defaultPerOwnerCallLimit()
  util::Clock::Duration idleThreadTimeout = std::chrono::seconds(30);  // a call thread idle this long ends
  const PodLookup* pods = nullptr;  // the pods as cached, for the check before each call; nullptr: no check
};

class ShutdownRunner {
 public:
  using Requeue = std::function<void(const std::string& ownerKey)>;
  ShutdownRunner(kube::Client& client, EndpointCaller& caller, runtime::events::EventRecorder& events,
                 ShutdownMetrics* metrics, util::Clock& clock, Requeue requeue, int maxConcurrentCalls,
                 RunnerOptions options = {});
  ~ShutdownRunner();
  ShutdownRunner(const ShutdownRunner&) = delete;
  ShutdownRunner& operator=(const ShutdownRunner&) = delete;

  DriveResult drive(const DriveInput& input);

  // Pods of `ownerKey` that the runner saw shutting down and whose uid is no longer in `presentUids`: their
  // shutdowns are complete. Records ShutdownCompleted, the outcome metric, and forgets them. Pods are told apart by
  // uid, not name: a replacement that took the name of a pod still being reaped is another pod.
  std::vector<Completion> reapGone(const std::string& ownerKey, const std::set<std::string>& presentUids);

  // The last known state of a deleted pod (the informer's onDelete): a tracked pod's final container status (exit
  // code, signal, time) decides its outcome. Call it before the owner is reconciled.
  void podDeleted(const json& lastKnown);

  // What the endpoints' answers said is wrong with each owner's configuration, until its cause is gone (a
  // misconfiguration answer is reported there, an accepted shutdown clears it). The reconciler reads it and
  // releases an owner's entry when the owner is gone.
  MisconfigurationMemory& misconfigurations() { return misconfigurations_; }

  // Leadership ended: no new call, the queued ones dropped, those in flight abandoned (nothing more is written for
  // them). Returns at once; idempotent.
  void cancel();
  // cancel(), then waits until the call threads have ended or `deadline` passes; false when some still run (a
  // runtime::manager::Runnable's stop).
  bool stop(util::Clock::TimePoint deadline);
  void stop() { stop(util::Clock::TimePoint::max()); }
  // Call threads alive now: none once idle for RunnerOptions::idleThreadTimeout.
  int callThreads() const { return pool_.threads(); }

 private:
  struct Call {
    PodFacts facts;  // with the attempt recorded
    DriveInput input;
  };

  PodFacts facts(const DriveInput& input);  // observed from the cache, corrected by overlay_
  void patchState(const json& pod, const ShutdownState& state, bool stopServing);
  // Persists a step's state (and the serving label's removal when stopServing), logs a new stage and how a drain
  // ended. False when the pod is gone or replaced (nothing to record); other API errors propagate.
  bool recordStep(const DriveInput& input, const ShutdownState& before, const Step& step);
  // recordStep's log line and drain metric alone, for a step whose state is written later (a call not recorded
  // before it is made).
  void noteStep(const DriveInput& input, const ShutdownState& before, const Step& step);
  // The log line and metric of a drain that ended between `before` and `after` (nothing when it did not).
  void noteDrainEnd(const ShutdownState& before, const ShutdownState& after, const DriveInput& input);
  void emit(const json& pod, const runtime::events::ObjectRef& owner, const std::vector<EventNote>& notes);
  // Runs on a pool thread: re-checks the target, calls, records the answer (unless cancelled).
  void finishCall(Call& call);
  // The target is still the pod the call was decided for (same uid, same IP), per options_.pods.
  bool targetStillThere(const Call& call) const;
  void callEnded(const Call& call, bool requeue);
  void updateInProgressGauge();

  kube::Client& client_;
  EndpointCaller& caller_;
  runtime::events::EventRecorder& events_;
  ShutdownMetrics* metrics_;
  util::Clock& clock_;
  Requeue requeue_;

  const PodLookup* pods_;

  std::mutex mu_;
  std::set<std::string> inFlight_;                 // pod uids with a call queued or running
  StateOverlay overlay_;
  ShutdownTracker tracker_;
  MisconfigurationMemory misconfigurations_;
  CallPool pool_;  // last: its threads use the members above, so it ends first
};

}  // namespace mv::shutdown
