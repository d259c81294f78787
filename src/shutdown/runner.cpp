#include "shutdown/runner.h"

#include <algorithm>

#include <fmt/format.h>

#include "api/names.h"
#include "util/log.h"

namespace mv::shutdown {
namespace {

std::string uidOf(const json& pod) { return pod.value("/metadata/uid"_json_pointer, std::string()); }
std::string nameOf(const json& pod) { return pod.value("/metadata/name"_json_pointer, std::string()); }
std::string nsOf(const json& pod) { return pod.value("/metadata/namespace"_json_pointer, std::string()); }

// The pod a step was decided for is not there any more: gone (404), or replaced by a new pod of the same name, which
// the uid guard of a state patch reveals: the real server answers 422 `metadata.uid: field is immutable`
// (../shared/k8s-reference/edge-cases-2026-12.md, "A patch that names another uid"). Either way the step is moot;
// the replacement is a pod of its own, decided about on its own facts.
bool podGoneOrReplaced(const kube::ApiError& e) {
  if (e.isNotFound()) return true;
  if (!e.isInvalid()) return false;
  for (const auto& cause : e.status().value("/details/causes"_json_pointer, json::array()))
    if (cause.is_object() && cause.value("field", "") == "metadata.uid") return true;
  return false;
}

}  // namespace

ShutdownRunner::ShutdownRunner(kube::Client& client, EndpointCaller& caller, runtime::events::EventRecorder& events,
                               ShutdownMetrics* metrics, util::Clock& clock, Requeue requeue, int maxConcurrentCalls,
                               RunnerOptions options)
    : client_(client),
      caller_(caller),
      events_(events),
      metrics_(metrics),
      clock_(clock),
      requeue_(std::move(requeue)),
      pods_(options.pods),
      pool_(clock, {std::max(1, maxConcurrentCalls),
                    options.perOwnerCallLimit > 0 ? options.perOwnerCallLimit
                                                  : defaultPerOwnerCallLimit(std::max(1, maxConcurrentCalls)),
                    options.idleThreadTimeout}) {}

ShutdownRunner::~ShutdownRunner() { stop(); }

void ShutdownRunner::cancel() { pool_.cancel(); }

bool ShutdownRunner::stop(util::Clock::TimePoint deadline) { return pool_.stop(deadline); }

PodFacts ShutdownRunner::facts(const DriveInput& input) {
  PodFacts f = observePod(input.pod, input.serviceContainer);
  f.inEndpoints = input.inEndpoints;
  overlay_.apply(f);
  return f;
}

void ShutdownRunner::patchState(const json& pod, const ShutdownState& state, bool stopServing) {
  json patch = {{"metadata", {{"uid", uidOf(pod)}, {"annotations", stateAnnotationsPatch(state)}}}};
  if (stopServing) patch["metadata"]["labels"][std::string(api::kLabelServing)] = nullptr;
  client_.patch(kube::resources::pods(), nsOf(pod), nameOf(pod), kube::PatchType::Merge, patch);
  overlay_.wrote(uidOf(pod), state);
}

bool ShutdownRunner::recordStep(const DriveInput& input, const ShutdownState& before, const Step& step) {
  try {
    patchState(input.pod, step.state, step.stopServing);
  } catch (const kube::ApiError& e) {
    if (podGoneOrReplaced(e)) return false;
    throw;
  }
  noteStep(input, before, step);
  return true;
}

void ShutdownRunner::noteStep(const DriveInput& input, const ShutdownState& before, const Step& step) {
  if (step.state.stage != before.stage)
    log::info("shutdown stage", {{"stage", std::string(stageName(step.state.stage))}, {"reason", step.state.reason}});
  noteDrainEnd(before, step.state, input);
}

void ShutdownRunner::noteDrainEnd(const ShutdownState& before, const ShutdownState& after, const DriveInput& input) {
  if (after.drain == before.drain) return;
  // How Draining ended: a timed-out or unknown drain is a warning (the Event says why).
  const char* listed = !input.inEndpoints ? "unknown" : *input.inEndpoints ? "true" : "false";
  const log::Fields fields{{"drain", after.drain}, {"inEndpoints", listed}};
  if (after.drain == drains::kDrained) log::info("pod drained from its Service", fields);
  else log::warn("pod not drained from its Service in time", fields);
  if (metrics_) metrics_->drained(after.drain);
}

void ShutdownRunner::emit(const json& pod, const runtime::events::ObjectRef& owner,
                          const std::vector<EventNote>& notes) {
  for (const auto& n : notes) {
    if (metrics_ && n.reason == kOrderWaitCutShort) metrics_->orderWaitEnded(n.reason);  // a held call's wait
    events_.record(runtime::events::ObjectRef::of(pod), n.warning, n.reason, n.message);
    if (!owner.name.empty()) events_.record(owner, n.warning, n.reason, n.message);
  }
}

DriveResult ShutdownRunner::drive(const DriveInput& input) {
  DriveResult result;
  if (pool_.cancelled()) {
    result.inProgress = true;  // leadership ended: nothing more is decided or written here
    return result;
  }
  PodFacts f = facts(input);
  const std::string uid = f.uid;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (inFlight_.count(uid)) {
      result.inProgress = true;
      result.stage = f.state.stage;
      return result;
    }
  }
  log::ScopedLogContext ctx(log::Fields{{"pod", fmt::format("{}/{}", nsOf(input.pod), f.name)}});
  for (int i = 0; i < 8; ++i) {
    const Step step = decide(f, input.policy, clock_.wallNow(), input.startReason);
    result.stage = step.state.stage;
    if (step.kind != Step::Kind::Idle)
      tracker_.seen(input.ownerKey, f.uid, {input.pod, input.policy, input.serviceContainer, input.owner});
    if (step.kind != Step::Kind::Idle && step.kind != Step::Kind::Wait)
      log::debug("shutdown step", {{"step", std::string(stepKindName(step.kind))},
                                   {"stage", std::string(stageName(step.state.stage))}});
    switch (step.kind) {
      case Step::Kind::Idle:
        return result;
      case Step::Kind::UpdateState:
        // Safe to repeat: a merge patch of annotations (and the removal of a label) converges.
        if (!recordStep(input, f.state, step)) return result;
        emit(input.pod, input.owner, step.events);
        f.state = step.state;
        if (step.stopServing) f.serving = false;
        result.inProgress = true;
        continue;
      case Step::Kind::CallEndpoint: {
        // The attempt is recorded on the pod before it is made, so a crash between the two makes the next leader
        // call again (harmless by the endpoint's contract) rather than skip the call. Not on a pod that is not being
        // deleted (Step::recordBeforeCall): there it is recorded with the answer, and a crash also repeats the call.
        if (step.recordBeforeCall) {
          if (!recordStep(input, f.state, step)) return result;
        } else {
          noteStep(input, f.state, step);
        }
        emit(input.pod, input.owner, step.events);
        f.state = step.state;
        {
          std::lock_guard<std::mutex> g(mu_);
          inFlight_.insert(uid);
        }
        // Urgent when the pod is already being deleted (by someone else, or by reach agent's first DELETE): its
        // preStop clock is running.
        auto call = std::make_shared<Call>(Call{f, input});
        if (!pool_.submit(
                input.ownerKey, uid, f.deletionTimestamp.has_value(), [this, call] { finishCall(*call); },
                [this, call] { callEnded(*call, false); })) {
          callEnded(*call, false);  // cancelled: leadership ended
          return result;
        }
        updateInProgressGauge();
        result.inProgress = true;
        return result;
      }
      case Step::Kind::DeletePod: {
        // Safe to repeat: a second delete keeps (or only shortens) the grace period; the uid precondition keeps it
        // from ever touching a replacement pod of the same name.
        kube::DeleteOptions o;
        o.gracePeriodSeconds = step.graceSeconds;
        o.preconditionUid = uid;
        bool deleted = true;
        try {
          client_.remove(kube::resources::pods(), nsOf(input.pod), f.name, o);
          log::info("pod deleted", {{"gracePeriodSeconds", static_cast<long>(step.graceSeconds)},
                                    {"stage", std::string(stageName(step.state.stage))}});
        } catch (const kube::ApiError& e) {
          if (!podGoneOrReplaced(e) && !e.isConflict()) {
            // The delete failed (an outage, a webhook): the shutdown is recorded anyway, so that it is visible and
            // resumes from its state (a pod in Draining that is not being deleted drains, then is deleted, see
            // decide()); the error propagates for the retry with back-off. A failed record changes nothing.
            if (step.state != f.state) {
              try {
                patchState(input.pod, step.state, step.stopServing);
                log::warn("pod delete failed: shutdown recorded, the delete is retried",
                          {{"stage", std::string(stageName(step.state.stage))}, {"error", e.what()}});
              } catch (const kube::Error&) {
              }
            }
            throw;
          }
          deleted = false;  // gone, or another pod now has the name: nothing of this one's to record
        }
        emit(input.pod, input.owner, step.events);
        result.inProgress = true;
        // Recorded after the delete (stage_machine.h): the delete is the first write. A failed write propagates;
        // the retry sees the deletion, and decide() resumes from the pod as it is.
        if (deleted && step.state != f.state) recordStep(input, f.state, step);
        result.wakeAt = clock_.wallNow() + std::chrono::seconds(5);  // the watch normally wakes us first
        return result;
      }
      case Step::Kind::ForceDeletePod: {
        kube::DeleteOptions o;
        o.gracePeriodSeconds = 0;
        o.preconditionUid = uid;
        try {
          client_.remove(kube::resources::pods(), nsOf(input.pod), f.name, o);
        } catch (const kube::ApiError& e) {
          if (!podGoneOrReplaced(e) && !e.isConflict()) throw;
        }
        result.inProgress = true;
        result.wakeAt = step.wakeAt;
        return result;
      }
      case Step::Kind::Wait:
        result.inProgress = true;
        result.wakeAt = step.wakeAt;
        return result;
      case Step::Kind::Done:
        result.inProgress = false;
        return result;
    }
  }
  result.inProgress = true;
  result.wakeAt = clock_.wallNow() + std::chrono::seconds(1);
  return result;
}

bool ShutdownRunner::targetStillThere(const Call& call) const {
  if (!pods_) return true;
  const auto now = pods_->find(nsOf(call.input.pod), call.facts.name);
  if (!now || now->uid != call.facts.uid) return false;
  return !call.input.target || now->ip == call.input.target->ip;
}

void ShutdownRunner::callEnded(const Call& call, bool requeue) {
  {
    std::lock_guard<std::mutex> g(mu_);
    inFlight_.erase(call.facts.uid);
  }
  updateInProgressGauge();
  if (requeue && requeue_) requeue_(call.input.ownerKey);
}

void ShutdownRunner::finishCall(Call& call) {
  const DriveInput& input = call.input;
  log::ScopedLogContext ctx(log::Fields{{"pod", fmt::format("{}/{}", nsOf(input.pod), call.facts.name)}});
  if (pool_.cancelled()) return callEnded(call, false);
  if (!targetStillThere(call)) {
    // Queued while the pod went, was replaced or moved: calling the address captured then could reach another pod.
    log::info("shutdown call dropped: the pod is gone, replaced or has another IP");
    return callEnded(call, true);
  }
  const WallTime sentAt = clock_.wallNow();
  EndpointAnswer answer = input.target ? caller_.call(*input.target) : unreachable(input.unavailableReason);
  if (metrics_) metrics_->called(answer);
  log::info("shutdown endpoint answered", {{"answer", answer.detail}, {"attempt", call.facts.state.attempts}});
  if (pool_.cancelled()) {
    // Leadership ended during the call: another replica may lead already and decide from the pod as it is.
    log::info("shutdown answer not recorded: leadership ended during the call");
    return callEnded(call, false);
  }
  const AnswerEffect effect = afterAnswer(call.facts, answer, input.policy, clock_.wallNow(), sentAt);
  try {
    // Delete at once when the answer allows it (accepted, or escalated), even before the answer is recorded: the
    // service exits within about a second of accepting, and a kubelet restarts a container that exits while its
    // pod is not being deleted. Safe in this order too: after a crash between the two, the next leader finds the
    // pod deleted in stage Requested (or Draining, when the attempt was not recorded before the call, as for a pod
    // reached directly) and calls again, which the endpoint's contract allows.
    PodFacts after = call.facts;
    after.state = effect.state;
    const Step next = decide(after, input.policy, clock_.wallNow());
    if (next.kind == Step::Kind::DeletePod) {
      kube::DeleteOptions o;
      o.gracePeriodSeconds = next.graceSeconds;
      o.preconditionUid = call.facts.uid;
      try {
        client_.remove(kube::resources::pods(), nsOf(input.pod), call.facts.name, o);
        log::info("pod deleted", {{"gracePeriodSeconds", static_cast<long>(next.graceSeconds)},
                                  {"stage", std::string(stageName(next.state.stage))}});
      } catch (const kube::ApiError& e) {
        if (!podGoneOrReplaced(e) && !e.isConflict()) throw;
      }
    }
    patchState(input.pod, effect.state, false);
    emit(input.pod, input.owner, effect.events);
  } catch (const kube::ApiError& e) {
    if (podGoneOrReplaced(e)) {
      // The pod went before its answer could be written on it (an agent pod is deleted first, and the service may
      // be done within a second): the outcome is still judged from the answer, which the runner keeps.
      overlay_.wrote(call.facts.uid, effect.state);
    } else if (!e.isConflict()) {
      log::warn("could not record the shutdown answer", {{"error", e.what()}});
    }
  } catch (const std::exception& e) {
    log::warn("could not record the shutdown answer", {{"error", e.what()}});
  }
  if (effect.misconfiguration) misconfigurations_.reported(input.ownerKey, input.config, *effect.misconfiguration);
  else if (effect.state.stage == Stage::Accepted) misconfigurations_.accepted(input.ownerKey);
  callEnded(call, true);
}

std::vector<Completion> ShutdownRunner::reapGone(const std::string& ownerKey, const std::set<std::string>& presentUids) {
  std::vector<Completion> done;
  std::set<std::string> keep = presentUids;
  {
    std::lock_guard<std::mutex> g(mu_);
    keep.insert(inFlight_.begin(), inFlight_.end());
  }
  for (auto& t : tracker_.takeGone(ownerKey, keep)) {
    const std::string name = nameOf(t.pod);
    PodFacts f = observePod(t.pod, t.serviceContainer);
    overlay_.finish(f);
    f.exists = false;
    const Step step = decide(f, t.policy, clock_.wallNow());
    if (step.kind != Step::Kind::Done) continue;
    if (metrics_) metrics_->completed(t.policy.tier, step.outcome, f.state, clock_.wallNow());
    emit(t.pod, t.owner, step.events);
    log::info("shutdown completed",
              {{"pod", name},
               {"outcome", std::string(outcomeName(step.outcome))},
               {"stage", std::string(stageName(f.state.stage))},
               {"escalation", f.state.escalation},
               {"exitCode", f.exitCode ? std::to_string(*f.exitCode) : "unknown"},
               {"exitedAt", f.exitedAt ? util::formatTimeMillis(*f.exitedAt) : "unknown"},
               {"deletionTimestamp", f.deletionTimestamp ? util::formatTimeMillis(*f.deletionTimestamp) : "none"}});
    done.push_back({name, step.outcome, f.state});
  }
  updateInProgressGauge();
  return done;
}

void ShutdownRunner::podDeleted(const json& lastKnown) { tracker_.lastKnown(lastKnown); }

void ShutdownRunner::updateInProgressGauge() {
  if (metrics_) metrics_->setInProgress(static_cast<double>(tracker_.size()));
}

}  // namespace mv::shutdown
