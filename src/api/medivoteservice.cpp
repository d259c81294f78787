#include "api/medivoteservice.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "api/names.h"
#include "api/object_names.h"

namespace mv::api {
namespace {

// Reads typed fields out of a JSON object, recording a FieldError (and keeping the default) when a field has the
// wrong type or range.
class FieldReader {
 public:
  FieldReader(const json& obj, std::string path, std::vector<FieldError>& errors)
      : obj_(obj), path_(std::move(path)), errors_(errors) {}

  std::string path(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }
  bool has(const char* key) const { return obj_.is_object() && obj_.contains(key) && !obj_[key].is_null(); }
  const json& at(const char* key) const { return obj_[key]; }

  void integer(const char* key, int& out, int64_t min, int64_t max) const {
    if (!has(key)) return;
    const json& v = obj_[key];
    if (!v.is_number_integer()) return fail(key, "must be an integer");
    const int64_t n = v.get<int64_t>();
    if (n < min || n > max) return fail(key, fmt::format("must be between {} and {}", min, max));
    out = static_cast<int>(n);
  }
  void string(const char* key, std::string& out) const {
    if (!has(key)) return;
    if (!obj_[key].is_string()) return fail(key, "must be a string");
    out = obj_[key].get<std::string>();
  }
  bool object(const char* key) const {
    if (!has(key)) return false;
    if (!obj_[key].is_object()) {
      fail(key, "must be an object");
      return false;
    }
    return true;
  }
  void fail(const char* key, std::string message) const { errors_.push_back({path(key), std::move(message)}); }

 private:
  const json& obj_;
  std::string path_;
  std::vector<FieldError>& errors_;
};

std::map<std::string, std::string> stringMap(const json& obj) {
  std::map<std::string, std::string> out;
  if (!obj.is_object()) return out;
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  return out;
}

std::optional<IntOrString> readIntOrString(const json& v) {
  if (v.is_number_integer()) return IntOrString::ofInt(v.get<int64_t>());
  if (v.is_string()) return IntOrString::ofString(v.get<std::string>());
  return std::nullopt;
}

void parseEndpoint(const json& e, std::vector<FieldError>& errors, EndpointSpec& out) {
  const FieldReader r(e, "spec.shutdown.endpoint", errors);
  if (!r.has("port")) {
    r.fail("port", "is required");
  } else if (auto port = readIntOrString(r.at("port"))) {
    out.port = *port;
    if (port->isInt && (port->intValue < 1 || port->intValue > 65535)) r.fail("port", "must be between 1 and 65535");
    if (!port->isInt && port->strValue.empty()) r.fail("port", "must not be empty");
  } else {
    r.fail("port", "must be a port number or a container port name");
  }
  if (!r.has("path")) r.fail("path", "is required");
  r.string("path", out.path);
  if (r.has("path") && !isSafeEndpointPath(out.path))
    r.fail("path", fmt::format("'{}' is not a plain absolute path: a scheme, host, '..', '\\\\', query or fragment "
                               "could send the call somewhere other than the pod",
                               out.path.substr(0, 64)));
  r.string("method", out.method);
  if (out.method != "POST" && out.method != "PUT" && out.method != "DELETE")
    r.fail("method", "must be POST, PUT or DELETE");
  std::string reach = "direct";
  r.string("reach", reach);
  if (reach == "direct") out.reach = Reach::Direct;
  else if (reach == "agent") out.reach = Reach::Agent;
  else r.fail("reach", "must be direct or agent");
  r.string("agentTarget", out.agentTarget);
  if (out.agentTarget != "loopback" && out.agentTarget != "loopback-ipv4" && out.agentTarget != "pod-ip")
    r.fail("agentTarget", "must be loopback, loopback-ipv4 or pod-ip");
  if (r.object("tokenSecretRef")) {
    const FieldReader s(r.at("tokenSecretRef"), r.path("tokenSecretRef"), errors);
    SecretKeyRef ref;
    s.string("name", ref.name);
    s.string("key", ref.key);
    if (ref.name.empty()) s.fail("name", "is required");
    if (ref.key.empty()) s.fail("key", "must not be empty");
    out.tokenSecretRef = ref;
  }
  r.integer("requestTimeoutSeconds", out.requestTimeoutSeconds, 1, 60);
}

void parseShutdown(const json& s, std::vector<FieldError>& errors, ShutdownSpec& out) {
  const FieldReader r(s, "spec.shutdown", errors);
  if (r.object("endpoint")) {
    EndpointSpec e;
    parseEndpoint(r.at("endpoint"), errors, e);
    out.endpoint = e;
  }
  r.integer("exitTimeoutSeconds", out.exitTimeoutSeconds, 1, 3600);
  r.integer("refusalTimeoutSeconds", out.refusalTimeoutSeconds, 0, 3600);
  r.integer("terminationGracePeriodSeconds", out.terminationGracePeriodSeconds, 1, 86400);
  r.integer("forceDeleteAfterSeconds", out.forceDeleteAfterSeconds, 1, 86400);
  r.integer("drainTimeoutSeconds", out.drainTimeoutSeconds, 0, ShutdownSpec::kMaxDrainTimeoutSeconds);
  r.integer("preStopSleepSeconds", out.preStopSleepSeconds, 0, 3600);
  r.integer("maxConcurrent", out.maxConcurrent, 1, 1000);
  r.integer("dependencyTimeoutSeconds", out.dependencyTimeoutSeconds, 0, ShutdownSpec::kMaxDependencyTimeoutSeconds);
  if (r.has("after")) {
    if (!r.at("after").is_array()) return r.fail("after", "must be a list of MediVoteService names");
    for (const auto& n : r.at("after")) {
      if (!n.is_string()) {
        r.fail("after", "must be a list of MediVoteService names");
        continue;
      }
      const std::string name = n.get<std::string>();
      if (const auto bad = dns1123SubdomainError(name))
        r.fail("after", fmt::format("'{}' is not a MediVoteService name: {}", name.substr(0, 64), *bad));
      else if (std::find(out.after.begin(), out.after.end(), name) != out.after.end())
        r.fail("after", fmt::format("'{}' is listed twice", name));
      else
        out.after.push_back(name);
    }
    if (out.after.size() > ShutdownSpec::kMaxAfter)
      r.fail("after", fmt::format("must list at most {} resources", ShutdownSpec::kMaxAfter));
  }
}

}  // namespace

void validateTemplateMetadata(const json& podTemplate, std::vector<FieldError>& errors) {
  const json meta = podTemplate.is_object() ? podTemplate.value("metadata", json::object()) : json::object();
  if (!meta.is_object()) return;
  for (const char* kind : {"labels", "annotations"}) {
    const json keys = meta.value(kind, json::object());
    if (!keys.is_object()) continue;
    for (auto it = keys.begin(); it != keys.end(); ++it)
      if (isOperatorPodKey(it.key()))
        errors.push_back(
            {fmt::format("spec.template.metadata.{}[{}]", kind, it.key().substr(0, 80)),
             fmt::format("is reserved: keys under {} on pods are the operator's (it reads a shutdown stage as a pod "
                         "shutting down, and sets the selector, revision, serving, ordinal and tier itself); remove it "
                         "(the tier is set with spec.tier or the resource's own {} annotation)",
                         kOperatorKeyPrefix, kAnnotationTier)});
  }
}

std::string_view tierName(Tier t) { return t == Tier::Critical ? "critical" : "simple"; }

std::optional<Tier> parseTier(std::string_view s) {
  if (s == "critical") return Tier::Critical;
  if (s == "simple") return Tier::Simple;
  return std::nullopt;
}

Parsed parseMediVoteService(const json& object) {
  Parsed p;
  auto& o = p.object;
  auto& errors = p.errors;
  const json meta = object.is_object() ? object.value("metadata", json::object()) : json::object();
  o.ns = meta.value("namespace", "");
  o.name = meta.value("name", "");
  o.uid = meta.value("uid", "");
  o.resourceVersion = meta.value("resourceVersion", "");
  o.generation = meta.contains("generation") && meta["generation"].is_number_integer() ? meta["generation"].get<int64_t>() : 0;
  o.labels = stringMap(meta.value("labels", json::object()));
  o.annotations = stringMap(meta.value("annotations", json::object()));
  if (meta.contains("finalizers") && meta["finalizers"].is_array())
    for (const auto& f : meta["finalizers"])
      if (f.is_string()) o.finalizers.push_back(f.get<std::string>());
  o.deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
  if (object.is_object() && object.contains("status") && object["status"].is_object()) o.status = object["status"];

  if (!object.is_object() || !object.contains("spec") || !object["spec"].is_object()) {
    errors.push_back({"spec", "is required"});
    return p;
  }
  const json& spec = object["spec"];
  const FieldReader r(spec, "spec", errors);
  r.integer("replicas", o.spec.replicas, 0, 1000);
  if (r.has("tier")) {
    std::string tier;
    r.string("tier", tier);
    if (auto t = parseTier(tier)) o.spec.tier = t;
    else if (!tier.empty()) r.fail("tier", "must be critical or simple");
  }
  if (!r.object("template")) {
    if (!r.has("template")) r.fail("template", "is required");
  } else {
    o.spec.podTemplate = spec["template"];
    validateTemplateMetadata(o.spec.podTemplate, errors);
    const json& podSpec = o.spec.podTemplate.value("spec", json::object());
    if (!podSpec.is_object() || !podSpec.contains("containers") || !podSpec["containers"].is_array() ||
        podSpec["containers"].empty())
      r.fail("template", "must have spec.containers with at least one container");
    else
      for (const auto& c : podSpec["containers"])
        if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || !c.contains("image") ||
            !c["image"].is_string())
          r.fail("template", "every container needs a name and an image");
  }
  if (r.has("volumeClaimTemplates")) {
    if (!spec["volumeClaimTemplates"].is_array()) {
      r.fail("volumeClaimTemplates", "must be a list");
    } else {
      o.spec.volumeClaimTemplates = spec["volumeClaimTemplates"];
      for (const auto& t : o.spec.volumeClaimTemplates)
        if (!t.is_object() || !t.contains("metadata") || !t["metadata"].is_object() ||
            !t["metadata"].contains("name") || !t["metadata"]["name"].is_string())
          r.fail("volumeClaimTemplates", "every claim template needs metadata.name");
    }
  }
  if (r.object("shutdown")) parseShutdown(spec["shutdown"], errors, o.spec.shutdown);
  if (r.object("updateStrategy")) {
    const FieldReader u(spec["updateStrategy"], "spec.updateStrategy", errors);
    if (u.has("maxUnavailable")) {
      auto v = readIntOrString(u.at("maxUnavailable"));
      const bool okPercent = v && !v->isInt && v->strValue.size() >= 2 && v->strValue.back() == '%' &&
                             std::all_of(v->strValue.begin(), v->strValue.end() - 1,
                                         [](unsigned char c) { return std::isdigit(c); });
      if (!v || (v->isInt && v->intValue < 0) || (!v->isInt && !okPercent))
        u.fail("maxUnavailable", "must be a non-negative number or a percentage like 25%");
      else
        o.spec.updateStrategy.maxUnavailable = *v;
    }
    u.integer("partition", o.spec.updateStrategy.partition, 0, 1000);
  }
  if (r.has("podsToDelete")) {
    if (!spec["podsToDelete"].is_array()) r.fail("podsToDelete", "must be a list of pod names");
    else
      for (const auto& n : spec["podsToDelete"])
        if (n.is_string()) o.spec.podsToDelete.push_back(n.get<std::string>());
        else r.fail("podsToDelete", "must be a list of pod names");
  }

  // Cross-field rules.
  const auto& sd = o.spec.shutdown;
  if (sd.endpoint && !o.spec.podTemplate.empty()) {
    if (!resolveEndpointPort(sd.endpoint->port, o.spec.podTemplate.value("spec", json::object())))
      errors.push_back({"spec.shutdown.endpoint.port",
                        sd.endpoint->port.isInt
                            ? fmt::format("port {} is not declared by any container of the pod template",
                                          sd.endpoint->port.intValue)
                            : fmt::format("no container of the pod template declares a port named '{}'",
                                          sd.endpoint->port.strValue)});
  }
  if (std::find(sd.after.begin(), sd.after.end(), o.name) != sd.after.end())
    errors.push_back({"spec.shutdown.after", "must not name the resource itself"});
  const TierDecision tier = resolveTier(o);
  if (tier.conflict) errors.push_back({"spec.tier", *tier.conflict});
  if (tier.tier == Tier::Critical) {
    if (!sd.endpoint)
      errors.push_back({"spec.shutdown.endpoint", "is required for tier critical: there is nothing to call"});
    if (sd.terminationGracePeriodSeconds <= sd.preStopSleepSeconds)
      errors.push_back({"spec.shutdown.terminationGracePeriodSeconds",
                        fmt::format("must be greater than preStopSleepSeconds ({}): the grace period holds the "
                                    "preStop sleep and then the SIGTERM window",
                                    sd.preStopSleepSeconds)});
    if (sd.endpoint) validateHoldAgainstTimeouts(o, errors);
  }
  return p;
}

namespace {

// Whether the service container of the template declares a preStop hook of its own.
bool templateHasPreStop(const MediVoteService& o) {
  const json containers = o.spec.podTemplate.value("/spec/containers"_json_pointer, json::array());
  if (!containers.is_array() || containers.empty()) return false;
  const auto& e = *o.spec.shutdown.endpoint;
  const json* service = &containers[0];
  for (const auto& c : containers)
    for (const auto& p : c.value("ports", json::array()))
      if ((e.port.isInt && p.value("containerPort", -1) == e.port.intValue) ||
          (!e.port.isInt && p.value("name", "") == e.port.strValue))
        service = &c;
  return service->is_object() && service->contains("lifecycle") && (*service)["lifecycle"].is_object() &&
         (*service)["lifecycle"].contains("preStop");
}

}  // namespace

// The preStop hold against the HTTP stage's timeouts (issue 13): SIGTERM must not come before the service had its
// chance to exit after accepting.
void validateHoldAgainstTimeouts(const MediVoteService& o, std::vector<FieldError>& errors) {
  const auto& sd = o.spec.shutdown;
  const auto& e = *sd.endpoint;
  if (e.reach == Reach::Agent) {
    if (templateHasPreStop(o))
      errors.push_back({"spec.template.spec.containers[].lifecycle.preStop",
                        "must not be set on the service container with reach agent: the operator puts the agent's "
                        "preStop hook there (it holds SIGTERM off until the service has exited); a container has "
                        "one preStop hook"});
    if (e.requestTimeoutSeconds < 3)
      errors.push_back({"spec.shutdown.endpoint.requestTimeoutSeconds",
                        "must be at least 3 with reach agent: the agent waits up to 1s for the kubelet's preStop "
                        "hook, forwards the call for at least 1s, and answers 1s before the operator gives up"});
    if (sd.terminationGracePeriodSeconds <= sd.agentHoldSeconds())
      errors.push_back({"spec.shutdown.terminationGracePeriodSeconds",
                        fmt::format("must be greater than the agent's hold ({}s: preStopSleepSeconds, at least "
                                    "requestTimeoutSeconds + exitTimeoutSeconds + 1) with reach agent: the kubelet stops "
                                    "waiting for the preStop hook when the grace period ends, and SIGTERM needs a "
                                    "window before SIGKILL",
                                    sd.agentHoldSeconds())});
    return;
  }
  if (!templateHasPreStop(o) && sd.exitTimeoutSeconds > sd.preStopSleepSeconds)
    errors.push_back({"spec.shutdown.exitTimeoutSeconds",
                      fmt::format("must not exceed preStopSleepSeconds ({}) with reach direct: the pod is deleted "
                                  "when the service accepts, and the kubelet sends SIGTERM when the preStop sleep "
                                  "ends, so a longer exit timeout could never apply",
                                  sd.preStopSleepSeconds)});
}

TierDecision resolveTier(const MediVoteService& mvs) {
  TierDecision d;
  std::optional<Tier> fromAnnotation;
  std::optional<std::string> badAnnotation;
  if (auto it = mvs.annotations.find(std::string(kAnnotationTier)); it != mvs.annotations.end()) {
    fromAnnotation = parseTier(it->second);
    if (!fromAnnotation)
      badAnnotation = fmt::format("annotation {} is '{}'; it must be critical or simple", kAnnotationTier,
                                  it->second.substr(0, 64));
  }
  if (mvs.spec.tier) {
    d.tier = *mvs.spec.tier;
    d.source = "spec.tier";
    if (fromAnnotation && *fromAnnotation != *mvs.spec.tier)
      d.conflict = fmt::format("spec.tier is {} but annotation {} is {}; remove one or make them agree",
                               tierName(*mvs.spec.tier), kAnnotationTier, tierName(*fromAnnotation));
    else if (badAnnotation)
      d.conflict = badAnnotation;
    return d;
  }
  if (fromAnnotation) {
    d.tier = *fromAnnotation;
    d.source = fmt::format("annotation {}", kAnnotationTier);
    return d;
  }
  d.conflict = badAnnotation;
  d.tier = mvs.spec.shutdown.endpoint ? Tier::Critical : Tier::Simple;
  d.source = "default";
  return d;
}

bool isSafeEndpointPath(std::string_view path) {
  if (path.empty() || path.size() > 256 || path.front() != '/') return false;
  std::string decoded;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(path[i]);
    if (c == '%') {
      if (i + 2 >= path.size() || !std::isxdigit(static_cast<unsigned char>(path[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(path[i + 2])))
        return false;
      decoded += static_cast<char>(std::stoi(std::string(path.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      decoded += static_cast<char>(c);
    }
  }
  for (unsigned char c : decoded)
    if (c <= ' ' || c >= 0x7f || c == '\\' || c == '?' || c == '#' || c == '"' || c == '<' || c == '>' || c == '`' ||
        c == '{' || c == '}' || c == '|' || c == '^')
      return false;
  if (decoded.find("//") != std::string::npos) return false;
  // No ".." segment, and no "." segment either: both are resolved differently by different HTTP stacks.
  std::size_t start = 1;
  while (start <= decoded.size()) {
    const auto end = std::min(decoded.find('/', start), decoded.size());
    const auto seg = std::string_view(decoded).substr(start, end - start);
    if (seg == ".." || seg == ".") return false;
    start = end + 1;
  }
  if (decoded.find("://") != std::string::npos) return false;
  return true;
}

std::optional<int> resolveEndpointPort(const IntOrString& port, const json& podSpec) {
  if (!podSpec.is_object() || !podSpec.contains("containers") || !podSpec["containers"].is_array()) return std::nullopt;
  for (const auto& c : podSpec["containers"]) {
    if (!c.is_object() || !c.contains("ports") || !c["ports"].is_array()) continue;
    for (const auto& p : c["ports"]) {
      if (!p.is_object() || !p.contains("containerPort") || !p["containerPort"].is_number_integer()) continue;
      const int number = p["containerPort"].get<int>();
      if (port.isInt && number == port.intValue) return number;
      if (!port.isInt && p.value("name", "") == port.strValue) return number;
    }
  }
  return std::nullopt;
}

int resolveMaxUnavailable(const IntOrString& v, int replicas) {
  int64_t n = v.intValue;
  if (!v.isInt) {
    int pct = 0;
    try {
      pct = std::stoi(v.strValue.substr(0, v.strValue.size() - 1));
    } catch (const std::exception&) {
      pct = 0;
    }
    n = static_cast<int64_t>(replicas) * pct / 100;
  }
  return static_cast<int>(std::max<int64_t>(1, n));
}

}  // namespace mv::api
