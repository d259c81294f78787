#include "medivote/reconciler.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "api/names.h"
#include "medivote/derived_names.h"
#include "runtime/informer/indexers.h"
#include "shutdown/endpoint_membership.h"
#include "util/log.h"

namespace mv::medivote {
namespace {

using runtime::reconcile::Result;

std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::optional<std::string> podTier(const json& pod) {
  const json a = pod.value("/metadata/annotations"_json_pointer, json::object());
  if (a.is_object() && a.contains(std::string(api::kAnnotationTier)) && a[std::string(api::kAnnotationTier)].is_string())
    return a[std::string(api::kAnnotationTier)].get<std::string>();
  return std::nullopt;
}

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

}  // namespace

MediVoteReconciler::MediVoteReconciler(kube::Client& client, ReconcilerStores stores, shutdown::ShutdownRunner& runner,
                                       runtime::events::EventRecorder& events, util::Clock& clock, PodSettings settings)
    : client_(client),
      stores_(stores),
      runner_(runner),
      events_(events),
      clock_(clock),
      settings_(std::move(settings)),
      tokens_(client, clock) {}

void MediVoteReconciler::forget(const std::string& mvsKey) {
  runner_.misconfigurations().forget(mvsKey);
  tokens_.forget(mvsKey);
  std::lock_guard<std::mutex> g(mu_);
  conflicts_.erase(mvsKey);
  refusals_.erase(mvsKey);
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
  if (e->reach == api::Reach::Agent) {
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

bool MediVoteReconciler::applyFinalizer(const api::MediVoteService& mvs, bool add) {
  json finalizers = json::array();
  for (const auto& f : mvs.finalizers)
    if (f != api::kFinalizer) finalizers.push_back(f);
  if (add) finalizers.push_back(std::string(api::kFinalizer));
  // The resourceVersion makes the patch conditional: a concurrent change of the list gives a Conflict, not a loss.
  json patch = {{"metadata", {{"finalizers", finalizers}, {"resourceVersion", mvs.resourceVersion}}}};
  try {
    client_.patch(kube::resources::mediVoteServices(), mvs.ns, mvs.name, kube::PatchType::Merge, patch);
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
  const auto object = stores_.mediVoteServices.get(mvsKey);
  if (!object) {
    runner_.reapGone(mvsKey, {});
    forget(mvsKey);
    return Result::done();
  }
  const api::Parsed parsed = api::parseMediVoteService(*object);
  const api::MediVoteService& mvs = parsed.object;
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
  {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& pod : conflicts_[mvsKey])
      if (stores_.pods.get(key(mvs.ns, pod["metadata"]["name"].get<std::string>()))) addPod(pod);
    // A refusal is the server's answer to this generation's writes; a new generation asks afresh.
    if (auto it = refusals_.find(mvsKey); it != refusals_.end()) {
      if (it->second.generation == mvs.generation) o.serverRefusal = it->second.message;
      else refusals_.erase(it);
    }
  }
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
  if (!token.problem.empty()) o.tokenSecretProblem = {token.problemReason, token.problem, token.blocksPods};
  const shutdown::ConfigVersion config{mvs.uid, mvs.generation, token.secretVersion};
  o.misconfiguration = runner_.misconfigurations().current(mvsKey, config, reportedMisconfiguration(mvs));

  std::set<std::string> presentUids;
  for (const auto& pod : o.pods) presentUids.insert(pod.value("/metadata/uid"_json_pointer, std::string()));
  for (const auto& c : runner_.reapGone(mvsKey, presentUids)) {
    o.completedOutcomes[c.pod] = std::string(outcomeName(c.outcome));
    o.completedStates[c.pod] = c.state;
  }

  const Plan p = plan(o, settings_);
  const auto owner = runtime::events::ObjectRef::of(*object);
  for (const auto& e : p.events) events_.record(owner, e.warning, e.reason, e.message);
  for (const auto& err : specErrors)
    log::warn("invalid MediVoteService spec",
              {{"object", mvsKey}, {"field", err.field}, {"error", err.message}});

  if (p.addFinalizer && !applyFinalizer(mvs, true)) return Result::requeue();

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
      noteRefusal("patch", "Service", mvs.name, e);
    }
  }
  for (const auto& claim : p.claimsToCreate) {
    try {
      client_.create(kube::resources::persistentVolumeClaims(), mvs.ns, claim);
    } catch (const kube::ApiError& e) {
      if (!e.isAlreadyExists())
        noteRefusal("create", "PersistentVolumeClaim", claim["metadata"]["name"].get<std::string>(), e);
    }
  }
  for (const auto& pod : p.podsToCreate) {
    try {
      client_.create(kube::resources::pods(), mvs.ns, pod);
      log::info("pod created", {{"pod", pod["metadata"]["name"].get<std::string>()}});
    } catch (const kube::ApiError& e) {
      if (!e.isAlreadyExists()) {
        noteRefusal("create", "pod", pod["metadata"]["name"].get<std::string>(), e);
        continue;
      }
      // Someone else's pod holds the name: remember it, so the next plan skips that ordinal and reports it.
      const json existing = client_.get(kube::resources::pods(), mvs.ns, pod["metadata"]["name"].get<std::string>());
      std::lock_guard<std::mutex> g(mu_);
      conflicts_[mvsKey].push_back(existing);
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
  std::optional<util::WallTime> wake;
  for (const auto& pod : o.pods) {
    const std::string name = pod["metadata"]["name"].get<std::string>();
    auto it = reasons.find(name);
    if (it == reasons.end()) continue;
    shutdown::DriveInput in;
    in.pod = pod;
    in.policy = shutdown::policyFor(mvs, podTier(pod));
    in.startReason = it->second;
    in.serviceContainer = serviceContainerName(mvs);
    in.ownerKey = mvsKey;
    in.owner = owner;
    in.target = callTarget(mvs, pod, token, in.unavailableReason);
    in.inEndpoints = inEndpoints(mvs, pod);
    in.config = config;
    const auto r = runner_.drive(in);
    if (r.wakeAt && (!wake || *r.wakeAt < *wake)) wake = r.wakeAt;
  }

  if (!sameStatus(mvs.status, p.status) && !writeStatus(*object, p.status)) return Result::requeue();
  if (p.removeFinalizer && !applyFinalizer(mvs, false)) return Result::requeue();
  // A refusal that appeared or went is reported by the next plan; one that holds is retried with back-off.
  if (refusalChanged) return Result::requeue();
  if (refused) return Result::error(*refused);

  // The operator's token Secret is checked again (re-created if deleted), and a token problem re-read, every resync.
  if (const auto ref = tokenSecretOf(mvs); ref && (ref->operatorOwned || !token.problem.empty())) {
    const util::WallTime resync = clock_.wallNow() + TokenSecrets::kResync;
    if (!wake || resync < *wake) wake = resync;
  }
  if (wake) {
    const auto delay = *wake - clock_.wallNow();
    return Result::requeueAfter(std::max<util::Clock::Duration>(
        std::chrono::milliseconds(50), std::chrono::duration_cast<util::Clock::Duration>(delay)));
  }
  return Result::done();
}

}  // namespace mv::medivote
