"""Issue 12, acceptance: every preset of deploy/samples/ runs end to end as shipped, on a simulated cluster whose pods
are isolated like real pods (`--pod-isolation namespaces`: own loopback, pod IP on a bridge, volumes at their
mountPath, containers as their uid), with the stand-ins of the real MediVote services (workloads/standins) and the
operator started as deploy/08-deployment.yaml starts it.

Every file of deploy/samples/ is applied unchanged with `kubectl apply -n <ns> -f <file>`, and nothing else (the
agent's token Secret is the operator's). Then, for each service at the same time: scale to zero, scale back, `kubectl
delete pod`, a rolling upgrade (image tag 1.0.0 -> 1.0.1) and the deletion of the resource. Each shutdown is checked
(samples_lib: check_shutdown, check_history, check_saved_state) from the pod's medivote.io/shutdown-* annotations
recorded by a watch while the scenario ran, the resource's status.shutdowns and the stand-ins' own records, against
/work/shared/medivote-services.md:
- blockchain node, network coordinator, incentive system: called, the 200 before any SIGTERM from outside, outcome
  http; the coordinator's nodes.json and the incentive system's node_credentials.json found by the next pod;
- backend: called, then exit-timeout (its reload parent keeps the port) and SIGTERM;
- frontend, network dashboard: never called, SIGTERM only;
- the reference services: vote-service called with its token (outcome http), static-server SIGTERM only.
Three more cases: a `reach: direct` blockchain node (a loopback-only allowlist) ends in Degraded ShutdownMisconfigured
naming the 403; the incentive system as published (500 to every request) is escalated cleanly; a coordinator scaled
to zero and at once back to one gets its ordinal and its saved nodes.json back.
"""
import ipaddress
import json
import threading
import time

import pytest

from e2elib import poll, running_cluster, unique_name, wait_ready
from samples_lib import (POD_NETWORK, PUBLISHED_BUG_IMAGE, Stack, StackCluster, check_history,
                         check_saved_state, check_shutdown, is_shutdown_call, isolation_unavailable, sample_files,
                         sample_mvs, start_operator, upgraded, wait_history)

pytestmark = pytest.mark.skipif(isolation_unavailable() is not None,
                                reason=f"the samples run with per-pod namespaces: {isolation_unavailable()}")

WAIT = 90  # bound of each wait for pods to go or to become ready (readiness probes every 5-10 s)
MEDIVOTE = ["blockchain-node", "network-coordinator", "incentive-system", "backend", "frontend", "network-dashboard"]
REFERENCE = ["vote-service", "static-server"]
PHASES = ("scale-to-zero", "delete-pod", "upgrade", "deletion")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("samples"), StackCluster) as cluster:
        operator = start_operator(cluster)
        s = Stack(cluster, unique_name("samples"))
        try:
            for path in sample_files():
                s.apply(path)
            yield s
        finally:
            s.stop()
            assert operator.stop() == 0, operator.log()[-3000:]


def wait_pods(stack, service, n, wrong):
    """Ready with n pods. The presets keep state on per-ordinal claims, so a pod that comes back must take the
    ordinal (and the claim) of the one before it, as a StatefulSet's would: other names go to `wrong`."""
    wait_ready(stack.cluster, stack.ns, service, n, timeout=WAIT)
    names = sorted(stack.pods(service), key=lambda name: int(name.rsplit("-", 1)[1]))
    if names != [f"{service}-{i}" for i in range(n)]:
        wrong.append(f"{service} runs pods {names}, not the ordinals 0..{n - 1} of its claims")
    return names


def settled(stack, service):
    """The operator's status shows no pod and no shutdown in progress."""
    st = (stack.cluster.mvs(stack.ns, service) or {}).get("status", {})
    return st.get("replicas") == 0 and all(h.get("outcome") for h in st.get("shutdowns", []))


def run_scenario(stack, service):
    """Scale to zero and back, `kubectl delete pod`, rolling upgrade, deletion: ({phase: uids of the pods shut
    down}, [what went wrong on the way])."""
    c, ns, n = stack.cluster, stack.ns, stack.replicas(service)
    phases, wrong = {}, []
    wait_pods(stack, service, n, wrong)

    before = stack.uids(service)
    c.kubectl("scale", f"mvs/{service}", "--replicas=0", "-n", ns)
    poll(lambda: not stack.pods(service), WAIT, f"every {service} pod to go")
    # As a user watching `kubectl get mvs` would: scaled back once the operator reports the shutdowns complete (a
    # scale-up while they are still in progress is test_a_service_scaled_back_at_once_...).
    poll(lambda: settled(stack, service), WAIT, f"the operator to report {service}'s shutdowns complete")
    phases["scale-to-zero"] = before
    c.kubectl("scale", f"mvs/{service}", f"--replicas={n}", "-n", ns)
    first = wait_pods(stack, service, n, wrong)[0]

    victim = stack.pods(service)[first]["metadata"]["uid"]
    c.kubectl("delete", "pod", first, "-n", ns, "--wait=false")
    poll(lambda: victim not in stack.uids(service) and len(stack.pods(service)) == n, WAIT,
         f"{first} to be replaced")
    wait_pods(stack, service, n, wrong)
    phases["delete-pod"] = {victim}

    before, image = stack.uids(service), upgraded(stack.image(service))
    c.kubectl("patch", f"mvs/{service}", "-n", ns, "--type", "json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}]))
    poll(lambda: not (before & stack.uids(service)) and all(
        p["spec"]["containers"][0]["image"] == image for p in stack.pods(service).values()),
        WAIT * n, f"every {service} pod to be upgraded")
    wait_pods(stack, service, n, wrong)
    phases["upgrade"] = before

    before = stack.uids(service)
    c.kubectl("delete", "mvs", service, "-n", ns, "--wait=false")
    poll(lambda: not stack.pods(service) and c.mvs(ns, service) is None, WAIT, f"{service} to be deleted")
    phases["deletion"] = before
    return phases, wrong


@pytest.fixture(scope="module")
def scenarios(stack):
    """Every preset's scenario, all at the same time (a thread each): {service: run_scenario's result, or the
    exception it ended with}."""
    results = {}

    def run(service):
        try:
            results[service] = run_scenario(stack, service)
        except BaseException as e:  # reported by the service's own test
            results[service] = e
    threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in MEDIVOTE + REFERENCE]
    for t in threads:
        t.start()
    deadline = time.monotonic() + WAIT * 8
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not [t for t in threads if t.is_alive()], "a scenario did not end within its bounds"
    return results


def test_every_sample_applies_unchanged_and_becomes_ready_on_isolated_pods(stack):
    assert set(stack.presets) == set(MEDIVOTE + REFERENCE), "a preset of deploy/samples/ without a scenario"
    for service in stack.presets:
        wait_ready(stack.cluster, stack.ns, service, stack.replicas(service), timeout=WAIT)
    for p in stack.cluster.pods(stack.ns).values():
        assert ipaddress.ip_address(p["status"]["podIP"]) in POD_NETWORK, p["status"]["podIP"]
    # reach: agent without tokenSecretRef: the operator made and owns the token Secret; the user applied none.
    for service, preset in stack.presets.items():
        endpoint = (preset["spec"].get("shutdown") or {}).get("endpoint") or {}
        if endpoint.get("reach") == "agent" and not endpoint.get("tokenSecretRef"):
            secret = stack.cluster.get(f"/api/v1/namespaces/{stack.ns}/secrets/{service}-agent-token")
            assert secret, f"no {service}-agent-token Secret"
            assert [o["kind"] for o in secret["metadata"].get("ownerReferences", [])] == ["MediVoteService"]


def shut_down(stack, scenarios, service):
    """[(phase, PodLife)] of every pod the scenario of `service` shut down."""
    result = scenarios[service]
    if isinstance(result, BaseException):
        raise result
    out = []
    for phase in PHASES:
        for uid in sorted(result[0][phase]):
            life = stack.watch.pods.get(uid)
            assert life is not None, f"the watch never saw pod {uid} of {service}"
            out.append((phase, life))
    return out


@pytest.mark.parametrize("service", MEDIVOTE + REFERENCE)
def test_each_shutdown_follows_the_service_contract(stack, scenarios, service):
    """The pods' shutdown annotations and the stand-ins' own records, per shutdown; what the scenario met on its way
    (a pod that came back under another ordinal); the saved files found by the next pod."""
    wrong = list(scenarios[service][1]) if not isinstance(scenarios[service], BaseException) else []
    for phase, life in shut_down(stack, scenarios, service):
        wrong += [f"{phase}: {w}" for w in check_shutdown(stack, service, life, external=phase == "delete-pod")]
    wrong += check_saved_state(stack, service)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("service", MEDIVOTE + REFERENCE)
def test_each_shutdown_is_in_the_status_history_with_its_outcome(stack, scenarios, service):
    wrong = []
    for phase, life in shut_down(stack, scenarios, service):
        wrong += [f"{phase}: {w}" for w in check_history(stack, service, life, final=phase == "deletion")]
    assert not wrong, "\n".join(wrong)


def applied_as(stack, preset, name, change=None):
    """A preset applied under another name (pods and records of its own), `change`d first if given (a preset as a
    user might get it wrong)."""
    obj = sample_mvs(preset)
    obj["metadata"]["name"] = name
    if change:
        change(obj)
    stack.cluster.kubectl("apply", "-n", stack.ns, "-f", "-", input=json.dumps(obj))
    return obj


def test_reach_direct_to_a_loopback_only_service_is_a_clear_misconfiguration(stack):
    def direct(obj):
        ep = obj["spec"]["shutdown"]["endpoint"]
        ep["reach"] = "direct"
        ep.pop("agentTarget", None)
    applied_as(stack, "blockchain-node", "node-direct", direct)
    c, ns = stack.cluster, stack.ns
    wait_ready(c, ns, "node-direct", 1, timeout=WAIT)
    c.kubectl("scale", "mvs/node-direct", "--replicas=0", "-n", ns)
    poll(lambda: not stack.pods("node-direct"), WAIT, "node-direct-0 to go")
    life = stack.watch.lives(service="node-direct")[0]
    calls = [r for r in stack.records_of(life) if is_shutdown_call(r)]
    assert calls and {r.get("status") for r in calls} == {403}, calls  # refused: not from the pod's own loopback
    assert life.annotation("last-answer").startswith("403"), life
    assert life.at("terminating") and life.annotation("escalation") and not life.at("accepted"), life
    assert wait_history(stack.watch, "node-direct", life)["outcome"] != "http"
    degraded = poll(lambda: [d for d in stack.watch.degraded_conditions("node-direct")
                             if d.get("reason") == "ShutdownMisconfigured"], 20, "Degraded ShutdownMisconfigured")
    assert "403" in degraded[0]["message"], degraded
    c.kubectl("delete", "mvs", "node-direct", "-n", ns, "--wait=false")


def test_the_published_incentive_system_answering_500_is_escalated_cleanly(stack):
    def published(obj):
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = PUBLISHED_BUG_IMAGE
    applied_as(stack, "incentive-system", "incentive-published", published)
    c, ns = stack.cluster, stack.ns
    # Its readiness probe gets 500 too, so it never becomes Ready; running is enough to be shut down.
    poll(lambda: [r for r in stack.records.of("incentive-published-0") if r.get("event") == "start"], WAIT,
         "the published incentive system to start")
    started = time.monotonic()
    c.kubectl("scale", "mvs/incentive-published", "--replicas=0", "-n", ns)
    poll(lambda: not stack.pods("incentive-published"), WAIT, "incentive-published-0 to go")
    sd = sample_mvs("incentive-system")["spec"]["shutdown"]
    bound = sd["refusalTimeoutSeconds"] + sd["terminationGracePeriodSeconds"] + 5
    assert time.monotonic() - started < bound, "no hang: the escalation stays within the preset's bounds"
    life = stack.watch.lives(service="incentive-published")[0]
    calls = [r for r in stack.records_of(life) if is_shutdown_call(r)]
    assert calls and {r.get("status") for r in calls} == {500}, calls
    assert life.at("terminating") and life.annotation("escalation") and not life.at("accepted"), life
    assert wait_history(stack.watch, "incentive-published", life)["outcome"] == "sigterm"
    c.kubectl("delete", "mvs", "incentive-published", "-n", ns, "--wait=false")


def test_a_service_scaled_back_at_once_gets_its_ordinal_and_saved_state_back(stack):
    """`kubectl scale --replicas=0` then at once `--replicas=1`, as a user who changes their mind: the pod that comes
    back is <name>-0 on the same claim, and loads the nodes.json the one before it saved (a StatefulSet's pods
    keep their ordinals the same way)."""
    c, ns, name = stack.cluster, stack.ns, "coordinator-again"
    applied_as(stack, "network-coordinator", name)
    wait_ready(c, ns, name, 1, timeout=WAIT)
    c.kubectl("scale", f"mvs/{name}", "--replicas=0", "-n", ns)
    poll(lambda: stack.pods(name).get(f"{name}-0", {}).get("metadata", {}).get("annotations", {}).get(
        "medivote.io/shutdown-stage"), WAIT, f"{name}-0's shutdown to begin")
    c.kubectl("scale", f"mvs/{name}", "--replicas=1", "-n", ns)
    poll(lambda: len(stack.watch.lives(service=name)) >= 2 and len(stack.pods(name)) == 1, WAIT,
         "one pod after the first")
    wait_ready(c, ns, name, 1, timeout=WAIT)
    try:
        assert sorted(stack.pods(name)) == [f"{name}-0"]
        wrong = check_saved_state(stack, name, saves=("network-data", "nodes.json"))
        assert not wrong, "\n".join(wrong)
    finally:
        c.kubectl("delete", "mvs", name, "-n", ns, "--wait=false")
