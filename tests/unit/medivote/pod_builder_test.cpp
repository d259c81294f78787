#include "medivote/pod_builder.h"

#include <doctest/doctest.h>

#include "api/names.h"
#include "medivote/pod_wiring.h"

using namespace mv::medivote;
using namespace mv;
using json = nlohmann::json;

namespace {
api::MediVoteService mvs(const std::string& reach = "direct", bool claims = false) {
  json o = json::parse(R"({
    "metadata": {"name": "vote", "namespace": "ns", "uid": "u1"},
    "spec": {"replicas": 2,
             "template": {"metadata": {"labels": {"app": "vote"}, "annotations": {"a": "b"}},
                          "spec": {"containers": [{"name": "side", "image": "side:1"},
                                                  {"name": "vote", "image": "vote:1",
                                                   "ports": [{"name": "http", "containerPort": 8080}]}]}},
             "shutdown": {"endpoint": {"port": "http", "path": "/shutdown",
                                       "tokenSecretRef": {"name": "vote-token"}},
                          "preStopSleepSeconds": 7, "terminationGracePeriodSeconds": 37}}
  })");
  o["spec"]["shutdown"]["endpoint"]["reach"] = reach;
  if (claims) o["spec"]["volumeClaimTemplates"] = json::array({{{"metadata", {{"name", "data"}}}}});
  return api::parseMediVoteService(o).object;
}
}  // namespace

TEST_CASE("a pod gets its name, labels, tier annotation, owner and grace period") {
  const json pod = buildPod(mvs(), 1, api::Tier::Critical, {});
  CHECK(pod["metadata"]["name"] == "vote-1");
  CHECK(pod["metadata"]["labels"]["app"] == "vote");
  CHECK(pod["metadata"]["labels"]["medivote.io/service"] == "vote");
  CHECK(pod["metadata"]["labels"]["medivote.io/serving"] == "true");
  CHECK(pod["metadata"]["labels"]["medivote.io/ordinal"] == "1");
  CHECK(pod["metadata"]["labels"]["medivote.io/revision"] == podRevision(mvs()));
  CHECK(pod["metadata"]["annotations"]["medivote.io/tier"] == "critical");
  CHECK(pod["metadata"]["annotations"]["a"] == "b");
  CHECK(pod["metadata"]["ownerReferences"][0]["uid"] == "u1");
  CHECK(pod["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(pod["spec"]["terminationGracePeriodSeconds"] == 37);
}

TEST_CASE("critical pods get a preStop sleep on the service container only - simple pods none") {
  const json pod = buildPod(mvs(), 0, api::Tier::Critical, {});
  CHECK_FALSE(pod["spec"]["containers"][0].contains("lifecycle"));
  CHECK(pod["spec"]["containers"][1]["lifecycle"]["preStop"]["sleep"]["seconds"] == 7);
  const json simple = buildPod(mvs(), 0, api::Tier::Simple, {});
  CHECK_FALSE(simple["spec"]["containers"][1].contains("lifecycle"));
  CHECK(simple["metadata"]["annotations"]["medivote.io/tier"] == "simple");
}

TEST_CASE("the token never goes into the pod for direct reach") {
  const json pod = buildPod(mvs("direct"), 0, api::Tier::Critical, {});
  CHECK(pod.dump().find("vote-token") == std::string::npos);
  CHECK_FALSE(pod["spec"].contains("initContainers"));
}

TEST_CASE("reach agent injects the native sidecar with the token Secret mounted into it alone") {
  PodSettings settings;
  settings.agentImage = "medivote/agent:test";
  const json pod = buildPod(mvs("agent"), 0, api::Tier::Critical, settings);
  REQUIRE(pod["spec"]["initContainers"].size() == 1);
  const json& agent = pod["spec"]["initContainers"][0];
  CHECK(agent["name"] == "medivote-agent");
  CHECK(agent["restartPolicy"] == "Always");
  CHECK(agent["image"] == "medivote/agent:test");
  CHECK(agent["volumeMounts"][0]["name"] == "medivote-agent-token");
  const std::string args = agent["args"].dump();
  CHECK(args.find("--target-port=8080") != std::string::npos);
  CHECK(args.find("--target-path=/shutdown") != std::string::npos);
  for (const auto& c : pod["spec"]["containers"]) CHECK_FALSE(c.contains("volumeMounts"));
  bool secretVolume = false;
  for (const auto& v : pod["spec"]["volumes"])
    if (v.contains("secret") && v["secret"]["secretName"] == "vote-token") secretVolume = true;
  CHECK(secretVolume);
}

TEST_CASE("reach agent: the service's preStop is an httpGet to the agent's /prestop, and the hold is on the pod") {
  PodSettings settings;
  settings.agentPort = 9911;
  const json pod = buildPod(mvs("agent"), 0, api::Tier::Critical, settings);
  const json& hook = pod["spec"]["containers"][1]["lifecycle"]["preStop"];
  CHECK_FALSE(hook.contains("sleep"));
  CHECK(hook["httpGet"]["path"] == "/prestop");
  CHECK(hook["httpGet"]["port"] == 9911);
  CHECK_FALSE(hook["httpGet"].contains("host"));  // the kubelet sends it to the pod IP
  // preStopSleepSeconds 7 is raised to requestTimeoutSeconds + exitTimeoutSeconds + 1 (5 + 10 + 1)
  CHECK(pod["metadata"]["annotations"]["medivote.io/agent-hold-seconds"] == "16");
  const std::string args = pod["spec"]["initContainers"][0]["args"].dump();
  CHECK(args.find("--prestop-hold-seconds=16") != std::string::npos);
  // The agent releases a second after the operator's exit timeout: the escalation is recorded first.
  CHECK(args.find("--exit-timeout-seconds=11") != std::string::npos);
  // requestTimeoutSeconds 5: the agent waits up to 2 s for the hook and forwards for up to 2 s, answering 1 s
  // before the operator gives up.
  CHECK(args.find("--await-termination-seconds=2") != std::string::npos);
  CHECK(args.find("--target-timeout-seconds=2") != std::string::npos);
  const json direct = buildPod(mvs("direct"), 0, api::Tier::Critical, settings);
  CHECK_FALSE(direct["metadata"]["annotations"].contains("medivote.io/agent-hold-seconds"));
}

TEST_CASE("the agent's timeouts always nest inside the operator's request timeout") {
  for (int r = 3; r <= 60; ++r) {
    const AgentTimeouts t = agentTimeoutsFor(r);
    CHECK(t.awaitTermination >= 1);
    CHECK(t.target >= 1);
    CHECK(t.awaitTermination + t.target + 1 <= r);
  }
}

TEST_CASE("claims are per ordinal and survive the pod: named <claim>-<mvs>-<ordinal>") {
  const auto m = mvs("direct", true);
  const json pod = buildPod(m, 2, api::Tier::Critical, {});
  CHECK(pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-vote-2");
  const json claim = buildClaim(m, m.spec.volumeClaimTemplates[0], 2);
  CHECK(claim["metadata"]["name"] == "data-vote-2");
  CHECK_FALSE(claim["metadata"].contains("ownerReferences"));
}

TEST_CASE("ordinals parse only from canonical names") {
  CHECK(ordinalOf("vote", "vote-0") == 0);
  CHECK(ordinalOf("vote", "vote-12") == 12);
  CHECK(ordinalOf("vote", "vote-01") == -1);
  CHECK(ordinalOf("vote", "vote-") == -1);
  CHECK(ordinalOf("vote", "voter-1") == -1);
  CHECK(ordinalOf("vote", "vote-x") == -1);
  CHECK(ordinalOf("vote-a", "vote-a-3") == 3);
}

TEST_CASE("the revision changes with the template, not with the replica count") {
  auto a = mvs();
  auto b = mvs();
  b.spec.replicas = 9;
  CHECK(podRevision(a) == podRevision(b));
  b.spec.podTemplate["spec"]["containers"][1]["image"] = "vote:2";
  CHECK(podRevision(a) != podRevision(b));
  CHECK(podRevision(a).size() == 10);
}

TEST_CASE("no key of the operator's comes from the template: a shutdown stage or hold there never reaches a pod") {
  json o = json::parse(R"({
    "metadata": {"name": "vote", "namespace": "ns", "uid": "u1"},
    "spec": {"template": {"metadata": {"labels": {"app": "vote", "medivote.io/serving": "false",
                                                  "medivote.io/service": "other",
                                                  "app.kubernetes.io/managed-by": "Helm"},
                                       "annotations": {"medivote.io/shutdown-stage": "Forced",
                                                       "medivote.io/shutdown-reason": "ScaleDown",
                                                       "medivote.io/agent-hold-seconds": "999",
                                                       "medivote.io/tier": "simple", "a": "b"}},
                          "spec": {"containers": [{"name": "vote", "image": "vote:1",
                                                   "ports": [{"name": "http", "containerPort": 8080}]}]}},
             "shutdown": {"endpoint": {"port": "http", "path": "/shutdown"}}}
  })");
  const json pod = buildPod(api::parseMediVoteService(o).object, 0, api::Tier::Critical, {});
  const json& annotations = pod["metadata"]["annotations"];
  CHECK(annotations == json({{"a", "b"}, {"medivote.io/tier", "critical"}}));
  const json& labels = pod["metadata"]["labels"];
  CHECK(labels["app"] == "vote");
  CHECK(labels["medivote.io/serving"] == "true");
  CHECK(labels["medivote.io/service"] == "vote");
  CHECK(labels["app.kubernetes.io/managed-by"] == "medivote-operator");
  CHECK(labels.size() == 6);  // app + service, revision, ordinal, serving, managed-by
}

// Issue 15 item 4: the pods carry their shutdown wiring (pod_wiring.h), so a spec change that alters it must give a
// new revision (the rolling upgrade replaces the pods); one that reaches no pod must not.
TEST_CASE("the revision changes with the shutdown wiring the pods carry: reach, tier, preStop sleep, grace period") {
  const auto base = mvs("direct");
  const std::string before = podRevision(base);

  auto agent = base;
  agent.spec.shutdown.endpoint->reach = api::Reach::Agent;
  CHECK(podRevision(agent) != before);

  auto simple = base;
  simple.spec.tier = api::Tier::Simple;
  CHECK(podRevision(simple) != before);

  auto sleep = base;
  sleep.spec.shutdown.preStopSleepSeconds = 9;
  CHECK(podRevision(sleep) != before);

  auto grace = base;
  grace.spec.shutdown.terminationGracePeriodSeconds = 45;
  CHECK(podRevision(grace) != before);

  // The agent's arguments come from the endpoint and the timeouts: with reach agent they reach the pod.
  auto agentTimeout = agent;
  agentTimeout.spec.shutdown.endpoint->requestTimeoutSeconds = 9;
  CHECK(podRevision(agentTimeout) != podRevision(agent));
  auto agentExit = agent;
  agentExit.spec.shutdown.exitTimeoutSeconds = 4;
  CHECK(podRevision(agentExit) != podRevision(agent));
}

TEST_CASE("the revision stays when a spec change reaches no pod: the operator's own timeouts, a simple pod's endpoint") {
  const auto base = mvs("direct");
  auto timeouts = base;
  timeouts.spec.shutdown.refusalTimeoutSeconds = 99;
  timeouts.spec.shutdown.forceDeleteAfterSeconds = 99;
  timeouts.spec.shutdown.drainTimeoutSeconds = 9;
  timeouts.spec.shutdown.maxConcurrent = 7;
  timeouts.spec.shutdown.exitTimeoutSeconds = 3;            // reach direct: the operator's wait, not on the pod
  timeouts.spec.shutdown.endpoint->requestTimeoutSeconds = 2;  // reach direct: the operator's request
  timeouts.spec.shutdown.endpoint->path = "/stop";            // reach direct: the operator's request
  timeouts.spec.shutdown.endpoint->agentTarget = "pod-ip";     // only the agent uses it
  CHECK(podRevision(timeouts) == podRevision(base));
  CHECK(buildPod(timeouts, 0, api::Tier::Critical, {}) == buildPod(base, 0, api::Tier::Critical, {}));

  auto agent = base;
  agent.spec.shutdown.endpoint->reach = api::Reach::Agent;
  auto agentTimeouts = agent;
  agentTimeouts.spec.shutdown.refusalTimeoutSeconds = 99;
  agentTimeouts.spec.shutdown.forceDeleteAfterSeconds = 99;
  agentTimeouts.spec.shutdown.drainTimeoutSeconds = 9;
  CHECK(podRevision(agentTimeouts) == podRevision(agent));

  // A simple pod gets neither a hook nor an agent: the endpoint and the preStop sleep do not reach it.
  auto simple = base;
  simple.spec.tier = api::Tier::Simple;
  auto simpleChanged = simple;
  simpleChanged.spec.shutdown.preStopSleepSeconds = 3;
  simpleChanged.spec.shutdown.endpoint->reach = api::Reach::Agent;
  CHECK(podRevision(simpleChanged) == podRevision(simple));

  // A hook of the user's on the service container is kept instead of the sleep: the sleep's length reaches no pod.
  auto hooked = base;
  hooked.spec.podTemplate["spec"]["containers"][1]["lifecycle"] = {{"preStop", {{"exec", {{"command", {"true"}}}}}}};
  auto hookedSleep = hooked;
  hookedSleep.spec.shutdown.preStopSleepSeconds = 20;
  CHECK(podRevision(hookedSleep) == podRevision(hooked));
}

TEST_CASE("a pod's revision label is the revision of the wiring it was built with") {
  const auto m = mvs("agent");
  CHECK(buildPod(m, 0, api::Tier::Critical, {})["metadata"]["labels"]["medivote.io/revision"] == podRevision(m));
  // The operator's own settings are not part of it: other flags roll no pod.
  PodSettings other;
  other.agentImage = "medivote/agent:other";
  other.agentPort = 9999;
  CHECK(buildPod(m, 0, api::Tier::Critical, other)["metadata"]["labels"]["medivote.io/revision"] == podRevision(m));
  CHECK(buildPod(m, 0, api::Tier::Simple, {})["metadata"]["labels"]["medivote.io/revision"] != podRevision(m));
}

TEST_CASE("whether a pod carries the agent is read from the pod itself") {
  CHECK(podHasAgent(buildPod(mvs("agent"), 0, api::Tier::Critical, {})));
  CHECK_FALSE(podHasAgent(buildPod(mvs("direct"), 0, api::Tier::Critical, {})));
  CHECK_FALSE(podHasAgent(buildPod(mvs("agent"), 0, api::Tier::Simple, {})));
  CHECK_FALSE(podHasAgent(json::object()));
}
