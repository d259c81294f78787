"""Issue 15 item 4 end to end: a pod's shutdown wiring (its tier, preStop hook, grace period and agent sidecar) is
part of its revision, so editing spec.shutdown.endpoint.reach from direct to agent with kubectl rolls the pods like a
template change: replaced one at a time (maxUnavailable 1) through the tiered shutdown, each replacement with the
medivote-agent sidecar. Each old pod is shut down as it was built: called directly (it has no agent), so its
outcome is `http`, never an escalation for want of an agent to call.

The service is tests/e2e/data/scripted_service.py (no token; it binds the pod IP, hence agentTarget pod-ip, set from
the start: with reach direct it reaches no pod). The cluster isolates pods when run as root (the agent reads its
token at its mountPath), as in test_drain.py.
"""
import os

import pytest

from e2elib import NO_RESTART_RACE, Cluster, mvs, poll, running_cluster, wait_ready

NAME = "wired"
SHUTDOWN = {"preStopSleepSeconds": 8, "terminationGracePeriodSeconds": 12, "exitTimeoutSeconds": 3,
            "refusalTimeoutSeconds": 10, "forceDeleteAfterSeconds": 30, "maxConcurrent": 1}
ENDPOINT = {"port": "http", "path": "/shutdown", "reach": "direct", "agentTarget": "pod-ip",
            "requestTimeoutSeconds": 3}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    isolation = ("--pod-isolation", "namespaces") if os.geteuid() == 0 else ()
    with running_cluster(tmp_path_factory.mktemp("wiring"), lambda d: Cluster(d, *isolation, *NO_RESTART_RACE)) as c:
        yield c


def has_agent(pod):
    return any(c["name"] == "medivote-agent" for c in pod["spec"].get("initContainers") or [])


def test_editing_reach_direct_to_agent_replaces_the_pods_one_by_one_with_the_agent(cluster, ns, operator):
    operator()
    cluster.apply(mvs(NAME, ns, "medivote/scripted:1", replicas=2, tier="critical", endpoint=ENDPOINT,
                      shutdown=SHUTDOWN, args=["--mode", "accept"]))
    wait_ready(cluster, ns, NAME, 2)
    before = cluster.pods(ns, NAME)
    assert not any(has_agent(p) for p in before.values())
    old_uids = {p["metadata"]["uid"] for p in before.values()}
    old_revision = cluster.mvs(ns, NAME)["status"]["updateRevision"]

    cluster.kubectl("patch", f"mvs/{NAME}", "-n", ns, "--type", "merge",
                    "-p", '{"spec":{"shutdown":{"endpoint":{"reach":"agent"}}}}')
    new_revision = poll(lambda: (lambda r: r if r and r != old_revision else None)(
        cluster.mvs(ns, NAME)["status"].get("updateRevision")), 10, "a new updateRevision")

    # One by one: while the rollout runs, never more than one of the two ordinals without a Ready pod.
    most_unavailable = 0

    def replaced():
        nonlocal most_unavailable
        pods = cluster.pods(ns, NAME)
        ready = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")
                 and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]
        most_unavailable = max(most_unavailable, 2 - len(ready))
        current = [p for p in ready if p["metadata"]["uid"] not in old_uids]
        return len(pods) == 2 and len(current) == 2 and all(has_agent(p) for p in current)
    poll(replaced, 90, "both pods replaced by pods with the agent", interval=0.1)
    assert most_unavailable <= 1, "both pods were unavailable at once: the pods were not replaced one by one"

    after = cluster.pods(ns, NAME)
    for pod in after.values():
        assert pod["metadata"]["labels"]["medivote.io/revision"] == new_revision
        assert pod["spec"]["containers"][0]["lifecycle"]["preStop"]["httpGet"]["path"]
    wait_ready(cluster, ns, NAME, 2)

    # The old pods went through the rolling upgrade and were called as built (directly): outcome http.
    def recorded():
        history = cluster.mvs(ns, NAME)["status"].get("shutdowns") or []
        done = [h for h in history if h.get("outcome")]
        return done if len(done) >= 2 else None
    history = poll(recorded, 20, "both old pods' shutdowns recorded")
    assert sorted(h["pod"] for h in history) == [f"{NAME}-0", f"{NAME}-1"], history
    assert {h["reason"] for h in history} == {"Upgrade"}, history
    assert {h["outcome"] for h in history} == {"http"}, history
    # The second began only after the first was complete (maxConcurrent 1, maxUnavailable 1).
    first, second = sorted(history, key=lambda h: h["stages"][0]["time"])
    completed = next(s["time"] for s in first["stages"] if s["stage"] == "Completed")
    assert completed <= second["stages"][0]["time"], history
