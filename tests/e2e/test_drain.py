"""Issue 14 end to end: a Draining stage that really drains. A critical pod the operator shuts down is called (reach
direct) or deleted and then called through its agent (reach agent) only once it is out of its Service's
EndpointSlices, or after spec.shutdown.drainTimeoutSeconds with a DrainTimedOut warning. The tests use reach agent
(the drain comes before the delete, so the call is held with it); that reach direct waits the same way before its
call is pinned down by the unit tests (tests/unit/shutdown/drain_test.cpp, stage_machine_test.cpp).

The cluster isolates pods in network namespaces (`--pod-isolation namespaces`, root): their addresses are in
198.18.0.0/15, so the API server simulator's EndpointSlice controller fills the Services' slices (it refuses
loopback pod IPs, as a real cluster does). The restart race is off: these tests are about the order of the drain and
the call, not the restart race (kubernetes#57291, test_shutdown_timing.py).

* the slice controller's own slices: the endpoint leaves the slice first, then the service is called;
* a slice the test writes itself (as another EndpointSlice controller would, managed-by a name of its own, which
  the simulator's controller leaves alone), listing the pod:
  - removed by the test 2 s into the drain: the call comes after the removal, woken by it (well before the 20 s
    drain timeout);
  - never removed (a stalled controller): the delete and the call come at the 3 s drain timeout, with a
    DrainTimedOut Warning on the pod and the resource, a warning log line,
    medivote_shutdown_drains_total{result="timed-out"}, and the history entry says `timed-out`.
The call's time is the vote service's own record on its claim (events.log, unix ms); slice changes are timed by a
watch on the namespace's EndpointSlices (time.time() at arrival, which is after the change was written).
"""
import os
import re
import threading
import time
import urllib.request

import pytest

from e2elib import NO_RESTART_RACE, Cluster, follow, log_records, poll, running_cluster, wait_ready
from vote_service import claim_events, create_token, vote_service

SLICES = "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "app.kubernetes.io/managed-by"
STAGE = "medivote.io/shutdown-stage"
# An address a slice may hold (not loopback) for the test's own slices when pods are on 127.x (no isolation): the
# operator matches the endpoint by its targetRef uid first.
SPARE_ADDRESS = "198.19.255.254"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    isolation = ("--pod-isolation", "namespaces") if os.geteuid() == 0 else ()
    with running_cluster(tmp_path_factory.mktemp("drain"),
                         lambda d: Cluster(d, *isolation, *NO_RESTART_RACE)) as c:
        yield c


class SliceHistory:
    """Follows the namespace's EndpointSlices; per Service, the times the pods' uids were listed and unlisted."""

    def __init__(self, rest, ns):
        self.rest, self.ns = rest, ns
        self.slices = {}   # slice name -> (service, {uid})
        self.events = []   # (t, service, frozenset of the uids all its slices list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._streams = []
        self._thread = threading.Thread(target=follow, daemon=True, name=f"slices-{ns}",
                                        args=(rest, SLICES.format(ns=ns), self._handle, self._stop, self._streams))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for s in self._streams:
            s.close()
        self._thread.join(timeout=10)

    def _handle(self, type_, s):
        service = (s["metadata"].get("labels") or {}).get(SERVICE_NAME)
        uids = {(e.get("targetRef") or {}).get("uid") for e in s.get("endpoints") or []}
        with self._lock:
            if type_ == "DELETED":
                self.slices.pop(s["metadata"]["name"], None)
            else:
                self.slices[s["metadata"]["name"]] = (service, uids)
            listed = frozenset(u for svc, us in self.slices.values() if svc == service for u in us)
            self.events.append((time.time(), service, listed))

    def listed(self, service):
        with self._lock:
            return {u for svc, us in self.slices.values() if svc == service for u in us}

    def left_at(self, service, uid):
        """When `uid` stopped being listed by the Service's slices after having been listed (None: not yet)."""
        with self._lock:
            was = False
            for t, svc, listed in self.events:
                if svc != service:
                    continue
                if uid in listed:
                    was = True
                elif was:
                    return t
        return None


def set_replicas(cluster, ns, name, n):
    cluster.rest.ok(cluster.rest.patch(f"/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices/{name}",
                                       {"spec": {"replicas": n}}))


def called_at(cluster, ns, pod):
    """When the vote service of `pod` took its shutdown call (its own record, seconds), or None."""
    log = claim_events(os.path.join(cluster.pvc_dir(ns, f"data-{pod}"), "events.log"))
    return next((ms / 1000.0 for ms, event, _ in log if event == "shutdown-requested"), None)


def last_shutdown(cluster, ns, name):
    """The resource's newest status.shutdowns entry once it has its outcome."""
    def done():
        history = (cluster.mvs(ns, name) or {}).get("status", {}).get("shutdowns") or []
        return history[0] if history and history[0].get("outcome") else None
    return poll(done, 20, f"the recorded shutdown of {name}")


def warnings(cluster, ns, reason):
    return [(e["involvedObject"]["kind"], e["involvedObject"]["name"], e["message"]) for e in cluster.events(ns)
            if e["reason"] == reason and e["type"] == "Warning"]


def own_slice(cluster, ns, service, pod):
    """Writes an EndpointSlice of `service` listing `pod`, as an EndpointSlice controller other than the built-in one
    would (the built-in one leaves slices of another managed-by alone). It carries the Service's labels, as the
    built-in controller copies them (setEndpointSliceLabels); the operator watches slices by its managed-by label."""
    ip = pod["status"]["podIP"]
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{service}-by-test",
                         "labels": {SERVICE_NAME: service, MANAGED_BY: "medivote-operator",
                                    "endpointslice.kubernetes.io/managed-by": "e2e.medivote.io"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [SPARE_ADDRESS if ip.startswith("127.") else ip],
                           "conditions": {"ready": True, "serving": True, "terminating": False},
                           "targetRef": {"kind": "Pod", "namespace": ns, "name": pod["metadata"]["name"],
                                         "uid": pod["metadata"]["uid"]}}]}
    cluster.rest.ok(cluster.rest.post(SLICES.format(ns=ns), body))


def shutdown_began(cluster, ns, pod):
    p = cluster.pods(ns).get(pod)
    return p is not None and (p["metadata"].get("annotations") or {}).get(STAGE) == "Draining"


def test_the_pod_leaves_the_controllers_slices_before_its_endpoint_is_called(cluster, ns, operator):
    operator()
    create_token(cluster, ns, "drain", "agent")
    cluster.apply(vote_service("drain", ns, replicas=2, reach="agent"))
    wait_ready(cluster, ns, "drain", 2, timeout=60)
    pod = cluster.pods(ns)["drain-1"]
    if pod["status"]["podIP"].startswith("127."):
        pytest.skip("pods on loopback addresses (no pod isolation without root): the slice controller lists none")
    uid = pod["metadata"]["uid"]
    with SliceHistory(cluster.rest, ns) as slices:
        poll(lambda: uid in slices.listed("drain"), 30, "drain-1 in the slices of its Service")
        set_replicas(cluster, ns, "drain", 1)
        poll(lambda: "drain-1" not in cluster.pods(ns), 60, "drain-1 to go")
        left = slices.left_at("drain", uid)
    called = called_at(cluster, ns, "drain-1")
    assert left is not None, "drain-1 never left the slices"
    assert called is not None, "the service of drain-1 was never called"
    assert left <= called, f"called {left - called:.3f}s before its endpoint left the Service's slices"
    entry = last_shutdown(cluster, ns, "drain")
    assert (entry["pod"], entry["outcome"], entry.get("drain")) == ("drain-1", "http", "drained"), entry
    assert warnings(cluster, ns, "DrainTimedOut") == []


def test_a_drain_ends_when_the_pod_leaves_a_slice_not_at_its_timeout(cluster, ns, operator):
    operator()
    create_token(cluster, ns, "held", "agent")
    cluster.apply(vote_service("held", ns, replicas=1, reach="agent", drainTimeoutSeconds=20))
    wait_ready(cluster, ns, "held", 1, timeout=60)
    pod = cluster.pods(ns)["held-0"]
    own_slice(cluster, ns, "held", pod)
    set_replicas(cluster, ns, "held", 0)
    poll(lambda: shutdown_began(cluster, ns, "held-0"), 20, "held-0 to start draining")
    time.sleep(2)  # the drain goes on while the test's slice lists the pod; this is when the slice changes
    assert "held-0" in cluster.pods(ns) and called_at(cluster, ns, "held-0") is None, \
        "the pod was shut down while its Service's slice still listed it"
    removed = time.time()
    cluster.rest.ok(cluster.rest.patch(SLICES.format(ns=ns) + "/held-by-test", {"endpoints": []}))
    poll(lambda: "held-0" not in cluster.pods(ns), 60, "held-0 to go")
    called = called_at(cluster, ns, "held-0")
    assert called is not None and called >= removed
    assert called - removed < 5, f"called {called - removed:.1f}s after the slice changed: not woken by the change"
    entry = last_shutdown(cluster, ns, "held")
    assert (entry["outcome"], entry.get("drain")) == ("http", "drained"), entry
    assert warnings(cluster, ns, "DrainTimedOut") == []


def test_a_stalled_slice_holds_the_call_for_the_drain_timeout_then_warns(cluster, ns, operator):
    op = operator()
    create_token(cluster, ns, "stuck", "agent")
    cluster.apply(vote_service("stuck", ns, replicas=1, reach="agent", drainTimeoutSeconds=3))
    wait_ready(cluster, ns, "stuck", 1, timeout=60)
    own_slice(cluster, ns, "stuck", cluster.pods(ns)["stuck-0"])
    scaled = time.time()
    set_replicas(cluster, ns, "stuck", 0)
    poll(lambda: "stuck-0" not in cluster.pods(ns), 60, "stuck-0 to go")
    called = called_at(cluster, ns, "stuck-0")
    assert called is not None
    assert 3 <= called - scaled < 8, f"called {called - scaled:.1f}s after the scale-down (drain timeout 3 s)"
    entry = last_shutdown(cluster, ns, "stuck")
    assert (entry["outcome"], entry.get("drain")) == ("http", "timed-out"), entry
    got = poll(lambda: (lambda w: w if len(w) >= 2 else None)(warnings(cluster, ns, "DrainTimedOut")), 10,
               "DrainTimedOut on the pod and the resource")
    assert {(kind, name) for kind, name, _ in got} == {("Pod", "stuck-0"), ("MediVoteService", "stuck")}
    assert all("still listed" in message and "3s" in message for _, _, message in got), got
    logged = [r for r in log_records(op.log()) if r.get("msg") == "pod not drained from its Service in time"]
    assert [(r.get("drain"), r.get("inEndpoints")) for r in logged] == [("timed-out", "true")], logged
    assert drains_metric(op) == {"timed-out": 1.0}


def drains_metric(op):
    """medivote_shutdown_drains_total by result, from the operator's /metrics."""
    served = poll(lambda: [r for r in log_records(op.log()) if r.get("msg") == "serving metrics"], 20,
                  "the metrics server")[0]
    port = served["address"].rsplit(":", 1)[1]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^medivote_shutdown_drains_total\{result="([^"]+)"\} (\S+)$', text, re.M)}
