#pragma once
// The MediVoteService resource (medivote.io/v1alpha1) as the operator reads it: typed spec with defaults applied,
// and the semantic validation the CRD schema cannot express. Parsing never throws on bad input: it collects
// FieldErrors, which the controller reports as a Degraded condition and an Event, deleting nothing.

#include <cstdint>
#include <map>
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mv::api {

using json = nlohmann::json;

enum class Tier { Critical, Simple };
enum class Reach { Direct, Agent };

std::string_view tierName(Tier t);
std::optional<Tier> parseTier(std::string_view s);

// A Kubernetes IntOrString.
struct IntOrString {
  bool isInt = true;
  int64_t intValue = 0;
  std::string strValue;
  static IntOrString ofInt(int64_t v) { return {true, v, {}}; }
  static IntOrString ofString(std::string s) { return {false, 0, std::move(s)}; }
};

struct SecretKeyRef {
  std::string name;
  std::string key = "token";
};

struct EndpointSpec {
  IntOrString port;
  std::string path;
  std::string method = "POST";
  Reach reach = Reach::Direct;
  std::string agentTarget = "loopback";  // loopback | loopback-ipv4 | pod-ip
  std::optional<SecretKeyRef> tokenSecretRef;
  int requestTimeoutSeconds = 5;
};

// Defaults here match the CRD's, so an object written before defaulting (or by a server that does not default)
// means the same thing.
struct ShutdownSpec {
  std::optional<EndpointSpec> endpoint;
  int exitTimeoutSeconds = 10;
  int refusalTimeoutSeconds = 30;
  int terminationGracePeriodSeconds = 30;
  int forceDeleteAfterSeconds = 60;
  // How long a critical pod's Draining stage waits for the pod to leave its Service's EndpointSlices before the
  // call (reach direct) or the delete (reach agent); 0 = not at all.
  int drainTimeoutSeconds = kDefaultDrainTimeoutSeconds;
  static constexpr int kDefaultDrainTimeoutSeconds = 5;
  static constexpr int kMaxDrainTimeoutSeconds = 300;
  int preStopSleepSeconds = 10;
  int maxConcurrent = 1;
  // Shutdown order (medivote/shutdown_order.h): names of other MediVoteServices of the namespace that must be down
  // before this resource's pods get their shutdown, when they go down together; and the bound of that wait.
  std::vector<std::string> after;
  static constexpr std::size_t kMaxAfter = 32;
  int dependencyTimeoutSeconds = kDefaultDependencyTimeoutSeconds;
  static constexpr int kDefaultDependencyTimeoutSeconds = 120;
  static constexpr int kMaxDependencyTimeoutSeconds = 86400;

  // With reach agent: the longest the agent holds the kubelet's SIGTERM off (its --prestop-hold-seconds).
  // preStopSleepSeconds, raised to requestTimeoutSeconds + exitTimeoutSeconds + 1 when shorter, so that the hold
  // always covers one call, the exit after it and the agent's release a second after the exit timeout: it ends as
  // soon as the service exits, so a long bound costs nothing.
  int agentHoldSeconds() const {
    const int call = endpoint ? endpoint->requestTimeoutSeconds : 0;
    return std::max(preStopSleepSeconds, call + exitTimeoutSeconds + 1);
  }
};

struct UpdateStrategy {
  IntOrString maxUnavailable = IntOrString::ofInt(1);
  int partition = 0;
};

struct MediVoteServiceSpec {
  int replicas = 1;
  std::optional<Tier> tier;  // as written in spec.tier
  json podTemplate = json::object();
  json volumeClaimTemplates = json::array();
  ShutdownSpec shutdown;
  UpdateStrategy updateStrategy;
  std::vector<std::string> podsToDelete;
};

struct MediVoteService {
  std::string ns;
  std::string name;
  std::string uid;
  std::string resourceVersion;
  int64_t generation = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> finalizers;
  bool deleting = false;  // metadata.deletionTimestamp is set
  MediVoteServiceSpec spec;
  json status = json::object();
};

struct FieldError {
  std::string field;    // JSON path, e.g. spec.shutdown.endpoint.path
  std::string message;  // what is wrong, in a sentence
};

struct Parsed {
  MediVoteService object;
  std::vector<FieldError> errors;  // empty when the spec can be acted on
};

// Reads a MediVoteService. Metadata is always filled when present; spec errors are collected, not thrown.
Parsed parseMediVoteService(const json& object);

// Refuses (part of parseMediVoteService) every label and annotation key of the pod template under medivote.io/: they
// are the operator's on pods (names.h), and a template carrying e.g. medivote.io/shutdown-stage would make every new
// pod look like it is shutting down. One FieldError per key, naming it.
void validateTemplateMetadata(const json& podTemplate, std::vector<FieldError>& errors);

// The preStop hold against the HTTP stage's timeouts, for a critical resource with an endpoint (part of
// parseMediVoteService): with reach agent, no preStop of the user's on the service container, requestTimeoutSeconds
// >= 3 and terminationGracePeriodSeconds > agentHoldSeconds(); with reach direct and the operator's sleep,
// exitTimeoutSeconds <= preStopSleepSeconds.
void validateHoldAgainstTimeouts(const MediVoteService& o, std::vector<FieldError>& errors);

// The tier in force: spec.tier, else the annotation medivote.io/tier, else critical when an endpoint is declared and
// simple otherwise. `conflict` is set (and the spec's value wins for nothing: the resource is Degraded) when both
// are set and differ, or when the annotation holds an unknown value.
struct TierDecision {
  Tier tier = Tier::Simple;
  std::string source;  // "spec.tier", "annotation medivote.io/tier", "default"
  std::optional<std::string> conflict;
};
TierDecision resolveTier(const MediVoteService& mvs);

// True when `path` can only address the pod itself: starts with "/", no scheme/authority ("//"), no "..", "\\",
// "?", "#", control characters or spaces, at most 256 bytes, and percent-escapes that do not decode to any of those.
bool isSafeEndpointPath(std::string_view path);

// The container port the endpoint names, resolved against the pod template's containers (a number must be
// declared there; a name must match a declared port). nullopt when it does not resolve.
std::optional<int> resolveEndpointPort(const IntOrString& port, const json& podSpec);

// maxUnavailable as a count for `replicas`: an int as is, a percentage rounded down; at least 1.
int resolveMaxUnavailable(const IntOrString& v, int replicas);

}  // namespace mv::api
