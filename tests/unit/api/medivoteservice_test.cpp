#include "api/medivoteservice.h"

#include <doctest/doctest.h>

using namespace mv::api;

namespace {

json base() {
  return json::parse(R"({
    "apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
    "metadata": {"name": "vote", "namespace": "ns", "uid": "u1", "generation": 3, "resourceVersion": "77",
                 "annotations": {}, "finalizers": ["medivote.io/graceful-shutdown"]},
    "spec": {
      "replicas": 3,
      "template": {"metadata": {"labels": {"app": "vote"}},
                   "spec": {"containers": [{"name": "vote", "image": "medivote/vote:1",
                                            "ports": [{"name": "http", "containerPort": 8080}]}]}},
      "shutdown": {"endpoint": {"port": "http", "path": "/shutdown"}}
    }
  })");
}

bool hasError(const Parsed& p, const std::string& field) {
  for (const auto& e : p.errors)
    if (e.field == field) return true;
  return false;
}

}  // namespace

TEST_CASE("a valid resource parses with its metadata and the CRD's defaults") {
  const auto p = parseMediVoteService(base());
  CHECK(p.errors.empty());
  const auto& o = p.object;
  CHECK(o.name == "vote");
  CHECK(o.ns == "ns");
  CHECK(o.generation == 3);
  CHECK(o.finalizers == std::vector<std::string>{"medivote.io/graceful-shutdown"});
  CHECK_FALSE(o.deleting);
  CHECK(o.spec.replicas == 3);
  REQUIRE(o.spec.shutdown.endpoint);
  CHECK(o.spec.shutdown.endpoint->method == "POST");
  CHECK(o.spec.shutdown.endpoint->reach == Reach::Direct);
  CHECK(o.spec.shutdown.endpoint->requestTimeoutSeconds == 5);
  CHECK(o.spec.shutdown.maxConcurrent == 1);
  CHECK(resolveMaxUnavailable(o.spec.updateStrategy.maxUnavailable, 3) == 1);
}

TEST_CASE("tier: spec wins, the annotation serves when spec is unset, the default follows the endpoint") {
  auto obj = base();
  CHECK(resolveTier(parseMediVoteService(obj).object).tier == Tier::Critical);
  CHECK(resolveTier(parseMediVoteService(obj).object).source == "default");
  obj["spec"]["shutdown"].erase("endpoint");
  CHECK(resolveTier(parseMediVoteService(obj).object).tier == Tier::Simple);
  obj["metadata"]["annotations"]["medivote.io/tier"] = "simple";
  auto d = resolveTier(parseMediVoteService(obj).object);
  CHECK(d.tier == Tier::Simple);
  CHECK(d.source == "annotation medivote.io/tier");
  obj["spec"]["tier"] = "simple";
  CHECK_FALSE(resolveTier(parseMediVoteService(obj).object).conflict);
}

TEST_CASE("tier: spec and annotation that disagree are refused with a message naming both") {
  auto obj = base();
  obj["spec"]["tier"] = "critical";
  obj["metadata"]["annotations"]["medivote.io/tier"] = "simple";
  const auto p = parseMediVoteService(obj);
  REQUIRE(hasError(p, "spec.tier"));
  const auto d = resolveTier(p.object);
  REQUIRE(d.conflict);
  CHECK(d.conflict->find("annotation medivote.io/tier is simple") != std::string::npos);
  obj["spec"].erase("tier");
  obj["metadata"]["annotations"]["medivote.io/tier"] = "vital";
  CHECK(hasError(parseMediVoteService(obj), "spec.tier"));
}

TEST_CASE("critical needs an endpoint and a grace period longer than the preStop sleep") {
  auto obj = base();
  obj["spec"]["tier"] = "critical";
  obj["spec"]["shutdown"].erase("endpoint");
  CHECK(hasError(parseMediVoteService(obj), "spec.shutdown.endpoint"));
  obj = base();
  obj["spec"]["shutdown"]["preStopSleepSeconds"] = 30;
  obj["spec"]["shutdown"]["terminationGracePeriodSeconds"] = 30;
  CHECK(hasError(parseMediVoteService(obj), "spec.shutdown.terminationGracePeriodSeconds"));
}

TEST_CASE("the preStop hold is validated against the request and exit timeouts, with a message that says why") {
  auto obj = base();
  obj["spec"]["shutdown"]["exitTimeoutSeconds"] = 5;
  obj["spec"]["shutdown"]["preStopSleepSeconds"] = 4;
  obj["spec"]["shutdown"]["terminationGracePeriodSeconds"] = 30;
  auto p = parseMediVoteService(obj);
  REQUIRE(hasError(p, "spec.shutdown.exitTimeoutSeconds"));  // direct: SIGTERM comes when the sleep ends
  obj["spec"]["shutdown"]["preStopSleepSeconds"] = 5;
  CHECK(parseMediVoteService(obj).errors.empty());

  obj["spec"]["shutdown"]["endpoint"]["reach"] = "agent";
  obj["spec"]["shutdown"]["endpoint"]["requestTimeoutSeconds"] = 4;
  p = parseMediVoteService(obj);
  CHECK(p.errors.empty());
  CHECK(p.object.spec.shutdown.agentHoldSeconds() == 10);  // agent: the hold covers a call, the exit and 1 s
  obj["spec"]["shutdown"]["preStopSleepSeconds"] = 12;
  CHECK(parseMediVoteService(obj).object.spec.shutdown.agentHoldSeconds() == 12);
  obj["spec"]["shutdown"]["preStopSleepSeconds"] = 5;
  obj["spec"]["shutdown"]["terminationGracePeriodSeconds"] = 10;
  p = parseMediVoteService(obj);
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].field == "spec.shutdown.terminationGracePeriodSeconds");
  CHECK(p.errors[0].message.find("agent's hold (10s") != std::string::npos);
  obj["spec"]["shutdown"]["terminationGracePeriodSeconds"] = 30;
  CHECK(parseMediVoteService(obj).errors.empty());  // the hold is 10 s
  obj["spec"]["shutdown"]["endpoint"]["requestTimeoutSeconds"] = 2;
  CHECK(hasError(parseMediVoteService(obj), "spec.shutdown.endpoint.requestTimeoutSeconds"));
  obj["spec"]["shutdown"]["endpoint"]["requestTimeoutSeconds"] = 4;
  obj["spec"]["template"]["spec"]["containers"][0]["lifecycle"] = {{"preStop", {{"exec", {{"command", {"true"}}}}}}};
  CHECK(hasError(parseMediVoteService(obj), "spec.template.spec.containers[].lifecycle.preStop"));
  // direct with a hook of the user's: the user's hook holds SIGTERM, not the operator's sleep
  obj["spec"]["shutdown"]["endpoint"]["reach"] = "direct";
  obj["spec"]["shutdown"]["preStopSleepSeconds"] = 0;
  CHECK(parseMediVoteService(obj).errors.empty());
}

TEST_CASE("the endpoint port must be declared by a container, by number or by name") {
  auto obj = base();
  CHECK(parseMediVoteService(obj).errors.empty());
  obj["spec"]["shutdown"]["endpoint"]["port"] = 8080;
  CHECK(parseMediVoteService(obj).errors.empty());
  obj["spec"]["shutdown"]["endpoint"]["port"] = 22;
  CHECK(hasError(parseMediVoteService(obj), "spec.shutdown.endpoint.port"));
  obj["spec"]["shutdown"]["endpoint"]["port"] = "admin";
  CHECK(hasError(parseMediVoteService(obj), "spec.shutdown.endpoint.port"));
  obj["spec"]["shutdown"]["endpoint"]["port"] = 70000;
  CHECK(hasError(parseMediVoteService(obj), "spec.shutdown.endpoint.port"));
  CHECK(resolveEndpointPort(IntOrString::ofString("http"), base()["spec"]["template"]["spec"]) == 8080);
}

TEST_CASE("endpoint paths that could point the call elsewhere are refused") {
  for (const char* ok : {"/shutdown", "/internal-shutdown", "/api/v1/shut_down~x", "/a%41b", "/a:b@c"})
    CHECK_MESSAGE(isSafeEndpointPath(ok), ok);
  for (const char* bad : {"", "shutdown", "/a%20b", "http://evil/x", "//evil.example/x", "/a/../b", "/..", "/a/./b",
                          "/%2e%2e/x", "/x?y=1", "/x#f", "/a\\b", "/a b", "/a%0d%0aHost:%20evil", "/%2F%2Fevil",
                          "/x%zz", "/a\tb"})
    CHECK_MESSAGE(!isSafeEndpointPath(bad), bad);
  CHECK_FALSE(isSafeEndpointPath(std::string(300, 'a').insert(0, "/")));
  auto obj = base();
  obj["spec"]["shutdown"]["endpoint"]["path"] = "http://10.0.0.1/shutdown";
  CHECK(hasError(parseMediVoteService(obj), "spec.shutdown.endpoint.path"));
}

TEST_CASE("bad types and ranges become field errors, never exceptions") {
  auto obj = base();
  obj["spec"]["replicas"] = "three";
  obj["spec"]["shutdown"]["maxConcurrent"] = 0;
  obj["spec"]["shutdown"]["endpoint"]["method"] = "GET";
  obj["spec"]["shutdown"]["endpoint"]["reach"] = "teleport";
  obj["spec"]["shutdown"]["endpoint"]["tokenSecretRef"] = {{"key", "t"}};
  obj["spec"]["updateStrategy"] = {{"maxUnavailable", "lots"}, {"partition", -1}};
  obj["spec"]["podsToDelete"] = {1, 2};
  const auto p = parseMediVoteService(obj);
  for (const char* f : {"spec.replicas", "spec.shutdown.maxConcurrent", "spec.shutdown.endpoint.method",
                        "spec.shutdown.endpoint.reach", "spec.shutdown.endpoint.tokenSecretRef.name",
                        "spec.updateStrategy.maxUnavailable", "spec.updateStrategy.partition", "spec.podsToDelete"})
    CHECK_MESSAGE(hasError(p, f), f);
  CHECK(p.object.spec.replicas == 1);  // the default stays when the value is unusable
  CHECK(hasError(parseMediVoteService(json::object()), "spec"));
  CHECK(hasError(parseMediVoteService(json("garbage")), "spec"));
  auto noContainers = base();
  noContainers["spec"]["template"]["spec"]["containers"] = json::array();
  CHECK(hasError(parseMediVoteService(noContainers), "spec.template"));
}

TEST_CASE("maxUnavailable: numbers as is, percentages rounded down, never below 1") {
  CHECK(resolveMaxUnavailable(IntOrString::ofInt(2), 10) == 2);
  CHECK(resolveMaxUnavailable(IntOrString::ofInt(0), 10) == 1);
  CHECK(resolveMaxUnavailable(IntOrString::ofString("25%"), 10) == 2);
  CHECK(resolveMaxUnavailable(IntOrString::ofString("10%"), 3) == 1);
}

TEST_CASE("drainTimeoutSeconds: 5 by default, 0 allowed (no wait), at most kMaxDrainTimeoutSeconds") {
  CHECK(parseMediVoteService(base()).object.spec.shutdown.drainTimeoutSeconds == 5);
  for (int ok : {0, 1, 30, ShutdownSpec::kMaxDrainTimeoutSeconds}) {
    auto obj = base();
    obj["spec"]["shutdown"]["drainTimeoutSeconds"] = ok;
    const auto p = parseMediVoteService(obj);
    CHECK_MESSAGE(p.errors.empty(), ok);
    CHECK(p.object.spec.shutdown.drainTimeoutSeconds == ok);
  }
  for (const json& bad : {json(-1), json(ShutdownSpec::kMaxDrainTimeoutSeconds + 1), json("5s"), json(2.5)}) {
    auto obj = base();
    obj["spec"]["shutdown"]["drainTimeoutSeconds"] = bad;
    const auto p = parseMediVoteService(obj);
    CHECK_MESSAGE(hasError(p, "spec.shutdown.drainTimeoutSeconds"), bad.dump());
    CHECK(p.object.spec.shutdown.drainTimeoutSeconds == 5);  // the default stays when the value is unusable
  }
}

TEST_CASE("shutdown order: after is empty and dependencyTimeoutSeconds 120 by default") {
  const auto p = parseMediVoteService(base());
  CHECK(p.object.spec.shutdown.after.empty());
  CHECK(p.object.spec.shutdown.dependencyTimeoutSeconds == 120);
}

TEST_CASE("shutdown order: after takes names of other resources, in order") {
  auto obj = base();
  obj["spec"]["shutdown"]["after"] = {"frontend", "network-dashboard", "blockchain-node"};
  obj["spec"]["shutdown"]["dependencyTimeoutSeconds"] = 0;
  const auto p = parseMediVoteService(obj);
  CHECK(p.errors.empty());
  CHECK(p.object.spec.shutdown.after == std::vector<std::string>{"frontend", "network-dashboard", "blockchain-node"});
  CHECK(p.object.spec.shutdown.dependencyTimeoutSeconds == 0);
}

TEST_CASE("shutdown order: bad names, duplicates, itself, too many and bad timeouts are field errors") {
  auto check = [](const json& after, const std::string& needle) {
    auto obj = base();
    obj["spec"]["shutdown"]["after"] = after;
    const auto p = parseMediVoteService(obj);
    REQUIRE_MESSAGE(hasError(p, "spec.shutdown.after"), after.dump());
    bool named = false;
    for (const auto& e : p.errors)
      if (e.field == "spec.shutdown.after" && e.message.find(needle) != std::string::npos) named = true;
    CHECK_MESSAGE(named, after.dump());
  };
  check(json::array({"Frontend"}), "'Frontend' is not a MediVoteService name");
  check(json::array({"-x"}), "'-x'");
  check(json::array({""}), "''");
  check(json::array({"a", "b", "a"}), "'a' is listed twice");
  check(json::array({"vote"}), "itself");
  check(json::array({1}), "list of MediVoteService names");
  check(json("frontend"), "list of MediVoteService names");
  json many = json::array();
  for (int i = 0; i < 33; ++i) many.push_back("r" + std::to_string(i));
  check(many, "at most 32");
  for (const json& bad : {json(-1), json(86401), json("2m"), json(1.5)}) {
    auto obj = base();
    obj["spec"]["shutdown"]["dependencyTimeoutSeconds"] = bad;
    const auto p = parseMediVoteService(obj);
    CHECK_MESSAGE(hasError(p, "spec.shutdown.dependencyTimeoutSeconds"), bad.dump());
    CHECK(p.object.spec.shutdown.dependencyTimeoutSeconds == 120);
  }
}

TEST_CASE("reserved keys in the pod template: every label and annotation under medivote.io/ is refused by name") {
  auto obj = base();
  obj["spec"]["template"]["metadata"]["annotations"] = {{"medivote.io/shutdown-stage", "Forced"},
                                                        {"medivote.io/agent-hold-seconds", "999"},
                                                        {"example.com/owner", "team-a"}};
  obj["spec"]["template"]["metadata"]["labels"]["medivote.io/serving"] = "false";
  obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm";  // overwritten, allowed
  const auto p = parseMediVoteService(obj);
  CHECK(p.errors.size() == 3);
  CHECK(hasError(p, "spec.template.metadata.annotations[medivote.io/shutdown-stage]"));
  CHECK(hasError(p, "spec.template.metadata.annotations[medivote.io/agent-hold-seconds]"));
  CHECK(hasError(p, "spec.template.metadata.labels[medivote.io/serving]"));
  for (const auto& e : p.errors) CHECK(e.message.find("reserved") != std::string::npos);
  // The resource's own tier annotation is the user's, not the template's.
  auto own = base();
  own["metadata"]["annotations"]["medivote.io/tier"] = "critical";
  CHECK(parseMediVoteService(own).errors.empty());
}
