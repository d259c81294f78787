"""The operator's own rolling upgrade, as the Deployment of deploy/ does it (maxSurge 1, maxUnavailable 0): two
replicas with leader election; in the middle of a critical service's scale-down a new process starts, then the old
leader gets SIGTERM and must release its lease, so that a standby leads at once (not a lease duration later) and
resumes the in-flight shutdowns from the pods' annotations; then the other old replica is replaced the same way.

Nothing may be skipped or lost: every removed pod got its shutdown endpoint call (202) and saved its state, none
got a SIGTERM before that call, the pod that stays was never called, and the shutdown history records each one.
"""
import re
import time

from packaging_lib import (DEPLOY, OPERATOR_NAMESPACE, first, local_args, mvs, poll, read_events, unique_name,
                           wait_ready)

LEASE_SECONDS = 10
LEASE = (f"{LEASE_SECONDS}s", "7s", "500ms")
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/leases/medivote-operator-leader"


def identity(op):
    m = poll(lambda: re.search(r"leader election enabled.*identity=(\S+)", op.log()), 10, "the elector's identity")
    return m.group(1).strip('"')


def holder(cluster):
    lease = cluster.get(LEASE_PATH) or {}
    return lease.get("spec", {}).get("holderIdentity") or ""


def critical(name, ns, replicas):
    sd = {"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 8, "exitTimeoutSeconds": 3,
          "refusalTimeoutSeconds": 20, "forceDeleteAfterSeconds": 60, "maxConcurrent": 1}
    ep = {"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 1}
    return mvs(name, ns, "medivote/scripted:1", replicas=replicas, tier="critical", endpoint=ep, shutdown=sd,
               args=["--mode", "busy:2", "--save-ms", "500"])


def replace(cluster, operators, old, standbys):
    """Starts the new process, then SIGTERMs `old`; returns (new process, seconds from old's exit to a new
    holder among the standbys and the new process)."""
    new = operators(*local_args(DEPLOY, LEASE))
    poll(lambda: "phase=campaigning" in new.log() or "phase=leading" in new.log(), 30, "the new process to campaign")
    was_leader = holder(cluster) == identity(old)
    assert old.stop() == 0, old.log()[-2000:]
    exited = time.monotonic()
    if not was_leader:
        return new, 0.0
    assert "lease released" in old.log(), "the old leader released its lease on SIGTERM"
    candidates = {identity(op) for op in standbys + [new]}
    poll(lambda: holder(cluster) in candidates, LEASE_SECONDS + 5, "a standby to take the lease")
    return new, time.monotonic() - exited


def test_replacing_both_replicas_mid_scale_down_skips_and_loses_nothing(cluster, operators):
    ns = unique_name("upgrade")
    cluster.ensure_namespace(OPERATOR_NAMESPACE)
    cluster.ensure_namespace(ns)
    old_a = operators(*local_args(DEPLOY, LEASE))
    old_a.wait_leading()
    old_b = operators(*local_args(DEPLOY, LEASE))
    poll(lambda: "phase=campaigning" in old_b.log(), 30, "the standby to campaign")

    cluster.apply(critical("vote", ns, 4))
    wait_ready(cluster, ns, "vote", 4, timeout=60)
    cluster.kubectl("scale", "mvs/vote", "--replicas=1", "-n", ns)

    def events(i):
        return read_events(f"{cluster.pvc_dir(ns, f'data-vote-{i}')}/events")
    # Mid-scale-down: the first pod to go has refused once (it is busy), the others wait their turn.
    poll(lambda: any(first(events(i), "shutdown-call", "409") for i in (1, 2, 3)), 20, "a first refusal")

    leader = old_a if holder(cluster) == identity(old_a) else old_b
    standby = old_b if leader is old_a else old_a
    pending = [i for i in (1, 2, 3) if not first(events(i), "shutdown-call", "202")]
    assert len(pending) >= 2, "the leader is replaced mid-scale-down, with shutdowns still to do"
    new_c, takeover = replace(cluster, operators, leader, [standby])
    print(f"\nlease taken over {takeover:.2f}s after the old leader exited; pods still to call then: {pending}")
    assert takeover < LEASE_SECONDS / 2, f"took {takeover:.1f}s: the lease was not released"
    new_d, _ = replace(cluster, operators, standby, [new_c])
    poll(lambda: "phase=leading" in new_c.log() + new_d.log(), LEASE_SECONDS + 5, "a new process to lead")

    poll(lambda: sorted(cluster.pods(ns, "vote")) == ["vote-0"], 90, "vote-1..3 to go")
    for i in (1, 2, 3):
        ev = events(i)
        call = first(ev, "shutdown-call", "202")
        assert call, f"vote-{i} never got its shutdown call: {ev}"
        sigterm = first(ev, "sigterm")
        assert sigterm is None, f"vote-{i} got SIGTERM: {ev}"
        assert first(ev, "saved") and first(ev, "saved") > call
        with open(f"{cluster.pvc_dir(ns, f'data-vote-{i}')}/state") as f:
            assert f"saved by vote-{i}" in f.read()
    assert first(events(0), "shutdown-call") is None, "the pod that stays was never asked to shut down"
    # The outcome is written once the operator has seen the pod vanish, just after it does: wait for all three.
    def recorded():
        h = {e["pod"]: e for e in cluster.mvs(ns, "vote")["status"].get("shutdowns", [])}
        return h if all(h.get(p, {}).get("outcome") for p in ("vote-1", "vote-2", "vote-3")) else None
    history = poll(recorded, 15, "the three outcomes in the shutdown history")
    assert {p: history[p]["outcome"] for p in ("vote-1", "vote-2", "vote-3")} == \
        {"vote-1": "http", "vote-2": "http", "vote-3": "http"}, history
    wait_ready(cluster, ns, "vote", 1, timeout=30)
    # Both old processes exited 0 (checked in replace); the new ones stop cleanly too.
    for op in (new_c, new_d):
        assert op.stop() == 0
