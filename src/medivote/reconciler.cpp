#include "medivote/reconciler.h"

#include <algorithm>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "api/names.h"
#include "medivote/derived_names.h"
#include "medivote/pod_wiring.h"
#include "runtime/informer/indexers.h"
#include "shutdown/endpoint_membership.h"
#include "util/log.h"
#include "util/parallel.h"

namespace mv::medivote {
namespace {

using runtime::reconcile::Result;

std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// A refusal the server will repeat for the same request: 400 BadRequest, 403 Forbidden (RBAC, quota, admission),
// 422 Invalid. Retrying as is cannot help; the user (or an administrator) has to change something.
bool isRefusal(const kube::ApiError& e) { return e.code() == 400 || e.code() == 403 || e.code() == 422; }

// `what`: the request, e.g. "create pod vote-0".
std::string refusalMessage(const std::string& what, const kube::ApiError& e) {
  return fmt::format("the API server refused to {}: {} {}: {}", what, e.code(), kube::reasonName(e.reason()),
                     e.message().substr(0, 400));
}

// The port `name` declares in the pod's own containers (or init containers), or 0.
int declaredPort(const json& pod, const api::IntOrString& port, bool initContainers) {
  const json list = pod.value(initContainers ? "/spec/initContainers"_json_pointer : "/spec/containers"_json_pointer,
                              json::array());
  json spec = {{"containers", list}};
  return api::resolveEndpointPort(port, spec).value_or(0);
}

// The wall-clock time of a moment on `clock`'s monotonic time (a wake-up's moment, past or future).
util::WallTime wallTimeOf(const util::Clock& clock, util::Clock::TimePoint at) {
  return clock.wallNow() + std::chrono::duration_cast<std::chrono::system_clock::duration>(at - clock.now());
}

}  // namespace

MediVoteReconciler::MediVoteReconciler(kube::Client& client, ReconcilerStores stores, shutdown::ShutdownRunner& runner,
                                       runtime::events::EventRecorder& events, util::Clock& clock, PodSettings settings,
                                       double secretRefreshQps)
    : client_(client),
      stores_(stores),
      runner_(runner),
      events_(events),
      clock_(clock),
      settings_(std::move(settings)),
      tokens_(client, clock, newAgentToken, secretRefreshQps) {}

void MediVoteReconciler::forget(const std::string& mvsKey) {
  runner_.misconfigurations().forget(mvsKey);
  tokens_.forget(mvsKey);
  conflicts_.forget(mvsKey);
  std::lock_guard<std::mutex> g(mu_);
  refusals_.erase(mvsKey);
  uids_.erase(mvsKey);
  pendingCompletions_.erase(mvsKey);
}

void MediVoteReconciler::sweepIfDue() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (clock_.now() < nextSweep_) return;
    nextSweep_ = clock_.now() + kSweep;
  }
  const auto keys = stores_.mediVoteServices.listKeys();
  const std::set<std::string> present(keys.begin(), keys.end());
  runner_.misconfigurations().retain(present);
  tokens_.retain(present);
  conflicts_.retain(present);
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = refusals_.begin(); it != refusals_.end();) it = present.count(it->first) ? std::next(it) : refusals_.erase(it);
  for (auto it = uids_.begin(); it != uids_.end();) it = present.count(it->first) ? std::next(it) : uids_.erase(it);
  for (auto it = pendingCompletions_.begin(); it != pendingCompletions_.end();)
    it = present.count(it->first) ? std::next(it) : pendingCompletions_.erase(it);
}

MediVoteReconciler::Memory MediVoteReconciler::memory() const {
  Memory m;
  m.tokenUsers = tokens_.users();
  m.cachedSecrets = tokens_.cachedSecrets();
  m.misconfigurations = runner_.misconfigurations().size();
  m.nameConflicts = conflicts_.size();
  std::lock_guard<std::mutex> g(mu_);
  m.refusals = refusals_.size();
  m.uids = uids_.size();
  m.pendingCompletions = pendingCompletions_.size();
  return m;
}

std::vector<json> MediVoteReconciler::podsHoldingNames(const api::MediVoteService& mvs, const std::string& mvsKey) {
  std::vector<json> out;
  const auto now = clock_.now();
  for (const auto& [name, held] : conflicts_.held(mvsKey, NameConflicts::Kind::Pod)) {
    if (const auto cached = stores_.pods.get(key(mvs.ns, name))) {  // in the informer (it carries our label)
      out.push_back(*cached);
      continue;
    }
    NameConflicts::Held now_held = held;
    if (NameConflicts::due(held, now)) {
      try {
        const json pod = client_.get(kube::resources::pods(), mvs.ns, name);
        now_held = {podHolder(pod), pod.value("/metadata/uid"_json_pointer, std::string()), now};
        conflicts_.record(mvsKey, NameConflicts::Kind::Pod, name, now_held);
      } catch (const kube::ApiError& e) {
        if (!e.isNotFound()) throw;
        conflicts_.release(mvsKey, NameConflicts::Kind::Pod, name);
        log::info("pod name free again: its ordinal is used", {{"object", mvsKey}, {"pod", name}});
        continue;
      }
    }
    // What the planner needs of it: a pod of that name that is not the resource's.
    out.push_back({{"metadata", {{"name", name}, {"namespace", mvs.ns}, {"uid", now_held.uid}}}});
  }
  return out;
}

void MediVoteReconciler::podNameTaken(const api::MediVoteService& mvs, const std::string& mvsKey,
                                      const std::string& name) {
  json existing;
  try {
    existing = client_.get(kube::resources::pods(), mvs.ns, name);
  } catch (const kube::ApiError& e) {
    if (e.isNotFound()) return;  // gone meanwhile: the next pass creates it
    throw;
  }
  const json labels = existing.value("/metadata/labels"_json_pointer, json::object());
  const bool labelled = labels.is_object() && labels.value(std::string(api::kLabelManagedBy), "") ==
                                                  std::string(api::kManagedByValue);
  bool ours = false;
  for (const auto& r : existing.value("/metadata/ownerReferences"_json_pointer, json::array()))
    if (r.is_object() && r.value("controller", false) && r.value("uid", "") == mvs.uid) ours = true;
  if (ours && labelled) return;  // an earlier create of ours went through: the informer brings it
  const std::string holder = podHolder(existing);
  conflicts_.record(mvsKey, NameConflicts::Kind::Pod, name,
                    {holder, existing.value("/metadata/uid"_json_pointer, std::string()), clock_.now()});
  log::warn("pod name held by another owner: its ordinal gets no pod until it is gone",
            {{"object", mvsKey}, {"pod", name}, {"holder", holder}});
}

bool MediVoteReconciler::claimHeldByOther(const api::MediVoteService& mvs, const std::string& mvsKey,
                                          const std::string& name) {
  json claim;
  try {
    claim = client_.get(kube::resources::persistentVolumeClaims(), mvs.ns, name);
  } catch (const kube::ApiError& e) {
    if (!e.isNotFound()) throw;
    conflicts_.release(mvsKey, NameConflicts::Kind::Claim, name);  // gone meanwhile: the next pass creates it
    return false;
  }
  const auto holder = claimHolder(claim, mvs);
  if (!holder) {
    conflicts_.release(mvsKey, NameConflicts::Kind::Claim, name);
    return false;
  }
  conflicts_.record(mvsKey, NameConflicts::Kind::Claim, name,
                    {*holder, claim.value("/metadata/uid"_json_pointer, std::string()), clock_.now()});
  log::warn("claim held by another owner: the pod that would mount it is not created",
            {{"object", mvsKey}, {"claim", name}, {"holder", *holder}});
  return true;
}

std::optional<shutdown::EndpointRequest> MediVoteReconciler::callTarget(const api::MediVoteService& mvs, const json& pod,
                                                                         const TokenLookup& token,
                                                                         std::string& whyNot) const {
  const auto& e = mvs.spec.shutdown.endpoint;
  if (!e) {
    whyNot = "no shutdown endpoint is declared";
    return std::nullopt;
  }
  shutdown::EndpointRequest r;
  // Only the pod's own IP, from its status, and only a port the pod itself declares.
  r.ip = pod.value("/status/podIP"_json_pointer, std::string());
  if (r.ip.empty()) {
    whyNot = "the pod has no IP yet";
    return std::nullopt;
  }
  // Through the agent when the pod carries one, whatever the reach is now: a pod built before a change of reach is
  // called as it was built until the rolling upgrade replaces it (pod_wiring.h).
  if (podHasAgent(pod)) {
    r.port = declaredPort(pod, api::IntOrString::ofString(std::string(kAgentPortName)), true);
    r.path = "/shutdown";
    r.method = "POST";
  } else {
    r.port = declaredPort(pod, e->port, false);
    r.path = e->path;
    r.method = e->method;
  }
  if (r.port <= 0) {
    whyNot = "the pod declares no such port";
    return std::nullopt;
  }
  if (!api::isSafeEndpointPath(r.path)) {
    whyNot = "the endpoint path is not safe";
    return std::nullopt;
  }
  if (tokenSecretOf(mvs)) {
    if (!token.token) {
      whyNot = token.problem;
      return std::nullopt;
    }
    r.bearerToken = token.token;
  }
  r.timeout = std::chrono::seconds(e->requestTimeoutSeconds);
  return r;
}

bool MediVoteReconciler::applyFinalizer(const api::MediVoteService& mvs, bool add, json* written) {
  json finalizers = json::array();
  for (const auto& f : mvs.finalizers)
    if (f != api::kFinalizer) finalizers.push_back(f);
  if (add) finalizers.push_back(std::string(api::kFinalizer));
  // The resourceVersion makes the patch conditional: a concurrent change of the list gives a Conflict, not a loss.
  json patch = {{"metadata", {{"finalizers", finalizers}, {"resourceVersion", mvs.resourceVersion}}}};
  try {
    json answer = client_.patch(kube::resources::mediVoteServices(), mvs.ns, mvs.name, kube::PatchType::Merge, patch);
    if (written && answer.is_object() && answer.contains("metadata")) *written = std::move(answer);
    return true;
  } catch (const kube::ApiError& e) {
    if (e.isNotFound()) return true;
    if (e.isConflict()) return false;
    throw;
  }
}

bool MediVoteReconciler::writeStatus(const json& object, const json& status) {
  json updated = object;
  updated["status"] = status;
  try {
    client_.update(kube::resources::mediVoteServices(), object["metadata"]["namespace"].get<std::string>(), updated,
                   "status");
    return true;
  } catch (const kube::ApiError& e) {
    if (e.isNotFound()) return true;
    if (e.isConflict()) return false;  // another writer won: recompute on fresh state
    throw;
  }
}

bool MediVoteReconciler::shutdownInFlight(const std::string& mvsKey) const {
  const auto object = stores_.mediVoteServices.get(mvsKey);
  if (!object) return false;
  const std::string uid = object->value("/metadata/uid"_json_pointer, std::string());
  for (const auto& pod : stores_.pods.byIndex(runtime::informer::kControllerOwnerUidIndex, uid)) {
    const json meta = pod.value("metadata", json::object());
    if (meta.contains("deletionTimestamp")) return true;
    const json annotations = meta.value("annotations", json::object());
    if (annotations.is_object() && annotations.contains(std::string(shutdown::annotations::kStage))) return true;
  }
  return false;
}

std::optional<bool> MediVoteReconciler::inEndpoints(const api::MediVoteService& mvs, const json& pod) const {
  if (!stores_.endpointSlices || (stores_.endpointSlicesSynced && !stores_.endpointSlicesSynced())) return std::nullopt;
  // The Service is named as its resource (planner.h); its slices carry kubernetes.io/service-name=<that name>.
  std::vector<json> slices;
  for (auto& slice : stores_.endpointSlices->byIndex(
           runtime::informer::kLabelIndex,
           runtime::informer::labelIndexValue(std::string(shutdown::kLabelServiceName), mvs.name)))
    if (slice.value("/metadata/namespace"_json_pointer, std::string()) == mvs.ns) slices.push_back(std::move(slice));
  return shutdown::inEndpointSlices(pod.value("/metadata/uid"_json_pointer, std::string()),
                                    pod.value("/status/podIP"_json_pointer, std::string()), slices);
}

void MediVoteReconciler::observeOrderPeers(const api::MediVoteService& mvs, Observation& o) const {
  for (const auto& object : stores_.mediVoteServices.byIndex(runtime::informer::kNamespaceIndex, mvs.ns)) {
    api::MediVoteService peer = api::parseMediVoteService(object).object;
    if (peer.name == mvs.name) continue;
    const auto peerPods = stores_.pods.byIndex(runtime::informer::kControllerOwnerUidIndex, peer.uid);
    const std::string container = serviceContainerName(peer);
    o.namespaceHasPods[peer.name] = std::any_of(peerPods.begin(), peerPods.end(),
                                                [&](const json& pod) { return podHoldsOrder(pod, container); });
    o.namespaceResources.push_back(std::move(peer));
  }
}

Result MediVoteReconciler::reconcile(const runtime::reconcile::Request& request) {
  Result r = Result::done();
  try {
    r = reconcileOnce(request);
  } catch (const std::exception& e) {
    r = Result::error(e.what());
  }
  if (r.kind() == Result::Kind::Error && shutdownInFlight(request.key()))
    return r.retryWithin(std::chrono::duration_cast<Result::Duration>(kShutdownRetryCap));
  return r;
}

Result MediVoteReconciler::reconcileOnce(const runtime::reconcile::Request& request) {
  const std::string mvsKey = request.key();
  sweepIfDue();
  const auto object = stores_.mediVoteServices.get(mvsKey);
  if (!object) {
    runner_.reapGone(mvsKey, {});
    forget(mvsKey);
    return Result::done();
  }
  const api::Parsed parsed = api::parseMediVoteService(*object);
  const api::MediVoteService& mvs = parsed.object;
  bool replaced = false;  // another resource of the same name: nothing kept for the old one applies
  {
    std::lock_guard<std::mutex> g(mu_);
    const auto [it, first] = uids_.try_emplace(mvsKey, mvs.uid);
    replaced = !first && it->second != mvs.uid;
  }
  if (replaced) {
    forget(mvsKey);
    std::lock_guard<std::mutex> g(mu_);
    uids_[mvsKey] = mvs.uid;
  }
  // Validation: the spec's own rules, and whether the names derived from it are ones the server accepts.
  std::vector<api::FieldError> specErrors = parsed.errors;
  for (auto& e : derivedNameErrors(mvs)) specErrors.push_back(std::move(e));

  Observation o;
  o.mvs = mvs;
  o.specErrors = specErrors;
  o.now = clock_.wallNow();
  std::set<std::string> seen;
  auto addPod = [&](json pod) {
    const std::string name = pod.value("/metadata/name"_json_pointer, std::string());
    if (seen.insert(name).second) o.pods.push_back(std::move(pod));
  };
  for (auto& pod : stores_.pods.byIndex(runtime::informer::kControllerOwnerUidIndex, mvs.uid)) addPod(std::move(pod));
  for (auto& pod : stores_.pods.byIndex(runtime::informer::kLabelIndex,
                                        runtime::informer::labelIndexValue(std::string(api::kLabelService), mvs.name)))
    if (pod.value("/metadata/namespace"_json_pointer, std::string()) == mvs.ns) addPod(std::move(pod));
  for (auto& pod : podsHoldingNames(mvs, mvsKey)) addPod(std::move(pod));
  for (const auto& [name, held] : conflicts_.held(mvsKey, NameConflicts::Kind::Claim))
    if (!NameConflicts::due(held, clock_.now())) o.foreignClaims[name] = held.holder;  // a due one is read again
  {
    std::lock_guard<std::mutex> g(mu_);
    // A refusal is the server's answer to this generation's writes; a new generation asks afresh.
    if (auto it = refusals_.find(mvsKey); it != refusals_.end()) {
      if (it->second.generation == mvs.generation) o.serverRefusal = it->second.message;
      else refusals_.erase(it);
    }
  }
  if (!mvs.spec.shutdown.after.empty()) observeOrderPeers(mvs, o);
  if (const auto service = stores_.services.get(key(mvs.ns, mvs.name))) {
    o.serviceExists = true;
    o.service = *service;
  }
  // Before any pod is created: the operator's token Secret, when the resource needs one.
  TokenLookup token;
  try {
    token = tokens_.lookup(mvs, specErrors.empty() && !mvs.deleting);
  } catch (const kube::ApiError& e) {
    // Refused reads or creates of the token Secret block the pods that would mount it, as any token problem does.
    if (!isRefusal(e)) throw;
    token.problemReason = "ServerRefused";
    const auto ref = tokenSecretOf(mvs);
    token.problem = refusalMessage(fmt::format("read or create Secret {}", ref ? ref->name : ""), e);
    token.blocksPods = true;
    log::warn("API server refused a write", {{"object", mvsKey}, {"error", token.problem}});
  }
  if (!token.problem.empty()) {
    o.tokenSecretProblem = {token.problemReason, token.problem, token.blocksPods};
    // Without a token no call can be made: a critical resource's voluntary shutdowns wait for the fix.
    if (tokenSecretOf(mvs) && !token.token && api::resolveTier(mvs).tier == api::Tier::Critical) {
      o.tokenSecretProblem->holdsShutdowns = true;
      o.tokenSecretProblem->message +=
          "; no shutdown endpoint can be called, so scale-down, upgrade and replacement of pods wait until it is "
          "fixed";
    }
  }
  const shutdown::ConfigVersion config{mvs.uid, mvs.generation, token.secretVersion};
  const auto reported = reportedMisconfiguration(mvs);
  o.misconfiguration = runner_.misconfigurations().current(mvsKey, config, reported);
  // A call answered 401 (or another answer saying the configuration is wrong) that the status does not show yet: the
  // token in use may be outdated (the Secret replaced since it was read), so the next reconcile (woken by this one's
  // status write) reads the Secret again rather than a resync later. Once per new report: the status then shows it.
  if (o.misconfiguration && o.misconfiguration != reported) tokens_.invalidate(mvs);

  std::set<std::string> presentUids;
  for (const auto& pod : o.pods) presentUids.insert(pod.value("/metadata/uid"_json_pointer, std::string()));
  {
    // Completions are kept until a status write carrying them succeeds (below): a 409 on that write, or an error
    // before it, must not lose a shutdown's entry in status.shutdowns (the runner hands each one out once).
    const auto reaped = runner_.reapGone(mvsKey, presentUids);
    std::lock_guard<std::mutex> g(mu_);
    auto& pending = pendingCompletions_[mvsKey];
    for (const auto& c : reaped) pending[c.pod] = {std::string(outcomeName(c.outcome)), c.state};
    for (const auto& [pod, c] : pending) {
      o.completedOutcomes[pod] = c.outcome;
      o.completedStates[pod] = c.state;
    }
    if (pending.empty()) pendingCompletions_.erase(mvsKey);
  }

  Plan p = plan(o, settings_);
  if (p.orderWaitEnded && orderMetrics_) orderMetrics_->orderWaitEnded(p.order.reason);
  for (const auto& err : specErrors)
    log::warn("invalid MediVoteService spec",
              {{"object", mvsKey}, {"field", err.field}, {"error", err.message}});

  // The object the writes below start from: after the finalizer patch, the server's answer to it. The status write
  // carries its resourceVersion, so it does not conflict with the operator's own patch (the cache shows that only
  // later); a change by another writer in between still answers 409 and the reconcile runs again on fresh state.
  json current = *object;
  if (p.addFinalizer && !applyFinalizer(mvs, true, &current)) return Result::requeue();

  // Writes the server refuses (isRefusal) do not stop the others; the first is reported on the resource.
  std::optional<std::string> refused;
  const bool writes = p.serviceToCreate || p.servicePatch || !p.claimsToCreate.empty() || !p.podsToCreate.empty();
  auto noteRefusal = [&](std::string_view verb, std::string_view kind, const std::string& name,
                         const kube::ApiError& e) {
    if (!isRefusal(e)) throw e;
    const std::string message = refusalMessage(fmt::format("{} {} {}", verb, kind, name), e);
    log::warn("API server refused a write", {{"object", mvsKey}, {"error", message}});
    if (!refused) refused = message;
  };
  if (p.serviceToCreate) {
    try {
      client_.create(kube::resources::services(), mvs.ns, *p.serviceToCreate);
    } catch (const kube::ApiError& e) {
      if (!e.isAlreadyExists()) noteRefusal("create", "Service", mvs.name, e);
    }
  } else if (p.servicePatch) {
    try {
      client_.patch(kube::resources::services(), mvs.ns, mvs.name, kube::PatchType::Merge, *p.servicePatch);
    } catch (const kube::ApiError& e) {
      // 409: the Service changed since the cache read it (the patch's resourceVersion precondition); its watch event
      // requeues this resource, and the drift is computed again from the new one. The rest of the plan goes on.
      if (e.isConflict()) log::info("Service changed since it was read: its drift is patched at the next reconcile",
                                    {{"object", mvsKey}});
      else noteRefusal("patch", "Service", mvs.name, e);
    }
  }
  // The claims new pods would mount, created before them. One that exists already is read: another owner's is never
  // mounted, and the plan is made again without the pods that would mount it (they wait at their ordinals).
  bool claimHeld = false;
  for (const auto& claim : p.claimsToCreate) {
    const std::string name = claim["metadata"]["name"].get<std::string>();
    try {
      client_.create(kube::resources::persistentVolumeClaims(), mvs.ns, claim);
      conflicts_.release(mvsKey, NameConflicts::Kind::Claim, name);
    } catch (const kube::ApiError& e) {
      if (!e.isAlreadyExists()) noteRefusal("create", "PersistentVolumeClaim", name, e);
      else if (claimHeldByOther(mvs, mvsKey, name)) claimHeld = true;
    }
  }
  if (claimHeld) {
    for (const auto& [name, held] : conflicts_.held(mvsKey, NameConflicts::Kind::Claim))
      o.foreignClaims[name] = held.holder;
    p = plan(o, settings_);
  }
  const auto owner = runtime::events::ObjectRef::of(*object);
  for (const auto& e : p.events) {
    events_.record(owner, e.warning, e.reason, e.message);
    if (e.warning && e.reason != "InvalidSpec")  // spec errors are logged field by field above
      log::warn("MediVoteService degraded", {{"object", mvsKey}, {"reason", e.reason}, {"message", e.message}});
  }
  bool conflictFound = false;
  for (const auto& pod : p.podsToCreate) {
    try {
      client_.create(kube::resources::pods(), mvs.ns, pod);
      log::info("pod created", {{"pod", pod["metadata"]["name"].get<std::string>()}});
    } catch (const kube::ApiError& e) {
      if (!e.isAlreadyExists()) {
        noteRefusal("create", "pod", pod["metadata"]["name"].get<std::string>(), e);
        continue;
      }
      // Someone else's pod may hold the name: remembered, so the next plan skips that ordinal and reports it.
      podNameTaken(mvs, mvsKey, pod["metadata"]["name"].get<std::string>());
      conflictFound = true;
    }
  }
  // The refusal memory follows what this pass's writes met; a pass without writes leaves it as it was.
  bool refusalChanged = false;
  if (writes && refused != o.serverRefusal) {
    std::lock_guard<std::mutex> g(mu_);
    if (refused) refusals_[mvsKey] = {mvs.generation, *refused};
    else refusals_.erase(mvsKey);
    refusalChanged = true;
    if (!refused) log::info("API server accepts the writes again", {{"object", mvsKey}});
  }

  // Drive every pod that is shutting down or chosen to go.
  std::map<std::string, std::string> reasons;
  for (const auto& name : p.continueShutdown) reasons[name] = "";
  for (const auto& order : p.startShutdown) reasons[order.pod] = order.reason;
  std::vector<shutdown::DriveInput> drives;
  for (const auto& pod : o.pods) {
    const std::string name = pod["metadata"]["name"].get<std::string>();
    auto it = reasons.find(name);
    if (it == reasons.end()) continue;
    shutdown::DriveInput in;
    in.pod = pod;
    in.policy = shutdown::policyFor(mvs, shutdown::podTierAnnotation(pod));
    in.policy.orderHeld = p.order.held;  // holds the call of a pod deleted by someone else (stage_machine.h)
    in.startReason = it->second;
    in.serviceContainer = serviceContainerName(mvs);
    in.ownerKey = mvsKey;
    in.owner = owner;
    in.target = callTarget(mvs, pod, token, in.unavailableReason);
    in.inEndpoints = inEndpoints(mvs, pod);
    in.config = config;
    drives.push_back(std::move(in));
  }
  // Side by side, kParallelDrives at a time: a drive makes one or two writes (a delete and its record, a state and
  // its call), and a scale-down of a hundred pods one after another would wait for every round trip in turn (the
  // ReplicaSet controller deletes in parallel too). ShutdownRunner::drive is safe to call concurrently; the first
  // API error is rethrown once every drive has returned, and the reconcile is retried with back-off.
  std::vector<std::optional<util::WallTime>> wakes(drives.size());
  if (p.order.wakeAt) wakes.push_back(p.order.wakeAt);  // a held shutdown goes ahead at its timeout
  const log::Fields context = log::currentContext();
  const auto caller = std::this_thread::get_id();
  util::forEachParallel(drives.size(), kParallelDrives, [&](std::size_t i) {
    std::optional<log::ScopedLogContext> scope;
    if (std::this_thread::get_id() != caller) scope.emplace(context);
    wakes[i] = runner_.drive(drives[i]).wakeAt;
  });
  std::optional<util::WallTime> wake;
  for (const auto& w : wakes)
    if (w && (!wake || *w < *wake)) wake = w;

  if (!sameStatus(mvs.status, p.status) && !writeStatus(current, p.status)) return Result::requeue();
  if (!o.completedStates.empty()) {
    // The status now carries them (written, or already so).
    std::lock_guard<std::mutex> g(mu_);
    pendingCompletions_.erase(mvsKey);
  }
  if (p.removeFinalizer && !applyFinalizer(mvs, false)) return Result::requeue();
  // A refusal that appeared or went is reported by the next plan; one that holds is retried with back-off.
  if (refusalChanged || conflictFound) return Result::requeue();
  if (refused) return Result::error(*refused);

  // The operator's token Secret is checked again (re-created if deleted), and a token problem re-read, when its copy
  // is next due (a resync, or the paced refresh's slot).
  if (const auto ref = tokenSecretOf(mvs); ref && (ref->operatorOwned || !token.problem.empty())) {
    const util::WallTime resync = wallTimeOf(clock_, token.nextRead.value_or(clock_.now() + TokenSecrets::kResync));
    if (!wake || resync < *wake) wake = resync;
  }
  // Names held by others are re-checked when due: nothing else would tell that they went.
  if (const auto check = conflicts_.nextCheck(mvsKey)) {
    const util::WallTime at = wallTimeOf(clock_, *check);
    if (!wake || at < *wake) wake = at;
  }
  if (wake) {
    const auto delay = *wake - clock_.wallNow();
    return Result::requeueAfter(std::max<util::Clock::Duration>(
        std::chrono::milliseconds(50), std::chrono::duration_cast<util::Clock::Duration>(delay)));
  }
  return Result::done();
}

}  // namespace mv::medivote
