"""Issue 15 item 3 end to end: a leader paused (SIGSTOP) past its lease during an in-flight shutdown call, while
another replica takes over, writes nothing once it is resumed (SIGCONT): the API server simulator's audit log tells
the two replicas apart by user (the first connects as the operator's service account, the second as admin)."""
import os
import signal
import time

import pytest

from e2elib import OPERATOR_USER, Operator, OperatorAs, first, mvs, poll, read_events, wait_ready

pytestmark = pytest.mark.needs_sim_apiserver(
    reason="reads the API server simulator's audit log (/admin/requests) to tell the two replicas' writes apart")

WRITES = {"create", "update", "patch", "delete", "deletecollection"}
ADMIN_USER = "kubernetes-admin"
LEASE_DURATION = 4  # Operator(leader_elect=True): --leader-elect-lease-duration=4s, renew deadline 3 s


def critical_hanging(name, ns, replicas):
    """A critical service whose shutdown endpoint never answers: each call is in flight for its 3 s timeout."""
    return mvs(name, ns, "medivote/scripted:1", replicas=replicas, tier="critical",
               endpoint={"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 3},
               shutdown={"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 6, "exitTimeoutSeconds": 3,
                         "refusalTimeoutSeconds": 10, "forceDeleteAfterSeconds": 30, "maxConcurrent": 1},
               args=["--mode", "hang"])


def audit(cluster, since):
    items = cluster.sim.admin("GET", "requests").body["items"]
    return [i for i in items if i["time"] >= since]


def audit_stamp():
    """Now, in the audit log's time format (UTC, microseconds): its entries compare as strings."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000Z"


def test_a_leader_paused_past_its_lease_writes_nothing_once_resumed(cluster, ns):
    a = Operator(cluster, leader_elect=True)
    b = None
    try:
        a.wait_leading()
        b = OperatorAs(cluster, os.path.join(cluster.sim.dir, "kubeconfig"), leader_elect=True)
        cluster.apply(critical_hanging("vote", ns, 2))
        wait_ready(cluster, ns, "vote", 2)
        start = audit_stamp()
        cluster.kubectl("scale", "mvs/vote", "--replicas=1", "-n", ns)
        events = f"{cluster.pvc_dir(ns, 'data-vote-1')}/events"
        poll(lambda: first(read_events(events), "shutdown-call"), 20, "the first shutdown call to be in flight")

        # Paused during the call, past its lease: the other replica takes over and carries on.
        a.proc.send_signal(signal.SIGSTOP)
        try:
            b.wait_leading(timeout=LEASE_DURATION + 10)
            takeover = [i for i in audit(cluster, start) if i["user"] == ADMIN_USER and i.get("resource") == "leases"
                        and i["verb"] in ("update", "create") and i["code"] in (200, 201)]
            assert takeover, "the second replica led without writing the Lease"
            lost_at = takeover[0]["time"]
            time.sleep(1)  # the new leader acts (status, pod, Events) while the old one is still paused
        finally:
            a.proc.send_signal(signal.SIGCONT)

        # The resumed replica finds the lease gone and exits (as controller-runtime's manager does).
        poll(lambda: a.proc.poll() is not None, 20, "the old leader to exit after losing its lease")
        assert a.proc.returncode == 1, a.log()[-3000:]

        poll(lambda: sorted(cluster.pods(ns, "vote")) == ["vote-0"], 60, "the new leader to finish the scale-down")
        late = [f"{i['verb']} {i.get('resource')} {i.get('name', '')} -> {i['code']} at {i['time']}"
                for i in audit(cluster, lost_at) if i["user"] == OPERATOR_USER and i["verb"] in WRITES]
        assert late == [], "writes by the old leader after it lost its lease:\n" + "\n".join(late)
        # Hence no pod created from its stale state, and no status of its own over the new leader's.
        assert sorted(cluster.pods(ns, "vote")) == ["vote-0"]
        refused = [line for line in a.log().splitlines() if "write refused" in line]
        print(f"old leader: {len(refused)} writes refused after it resumed")
    finally:
        for op in (a, b):
            if op is not None:
                if op.proc.poll() is None:
                    op.proc.send_signal(signal.SIGCONT)
                op.kill(signal.SIGKILL)
