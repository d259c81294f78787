"""The operator recovers from an API server whose history went backwards (issue 14): kube-apiserver restarted on a
restored etcd, its resourceVersions lower than the ones the operator's informers hold. Before the fix their watches
resumed from the lost future and stayed silent forever (200, no events, no bookmarks); /readyz stayed 200; a new
MediVoteService was never reconciled.

Here the API server simulator of the test takes an etcd snapshot before the operator starts, the operator reconciles a
first MediVoteService (moving the revision on), the server is restored to the snapshot (/admin/etcd/restore: objects
and revision back, every watch cut), and a second MediVoteService is created: the operator, the same process, must
notice (its reflectors' probe: a limit=1 list shows the lower revision), relist, and reconcile the new resource within
30 s. Its first relist of MediVoteServices is slowed by 3 s (/admin/latency), so that /readyz is seen failing while
that cache is known stale, and ready again after. Nothing waits a fixed time: every wait polls with a deadline.
"""
import threading
import time
import urllib.error
import urllib.request

import pytest

from e2elib import CONTROLLER, Operator, log_records, mvs, own_api_server, poll

pytestmark = pytest.mark.needs_sim_apiserver(
    reason="the test restores the API server simulator's etcd to a snapshot through its /admin endpoints")

MVS = "/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices"
CONVERGE = 30  # the acceptance of issue 14


@pytest.fixture
def apiserver(tmp_path):
    with own_api_server(tmp_path / "history", CONTROLLER) as s:
        yield s


def probe_address(op):
    rec = poll(lambda: next((r for r in log_records(op.log()) if r.get("msg") == "serving health probes"), None),
               10, "the health probe address in the operator's log")
    return rec["address"]


def readyz(address):
    try:
        with urllib.request.urlopen(f"http://{address}/readyz?verbose", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class ReadyzWatcher:
    """Polls /readyz every 50 ms on a thread and keeps what it answered."""

    def __init__(self, address):
        self.address, self.seen, self.stop_ev = address, [], threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                self.seen.append(readyz(self.address))
            except OSError:
                pass
            self.stop_ev.wait(0.05)

    def stop(self):
        self.stop_ev.set()
        self.t.join(5)


def owned_pods(rest, ns, name):
    r = rest.get(f"/api/v1/namespaces/{ns}/pods", labelSelector=f"medivote.io/service={name}")
    return r.body["items"] if r.status == 200 else []


def service(rest, ns, name):
    r = rest.get(f"/api/v1/namespaces/{ns}/services/{name}")
    return r.body if r.status == 200 else None


def test_operator_relists_and_reconciles_after_the_api_server_history_went_back(apiserver):
    rest = apiserver.rest
    ns = "history-reset"
    rest.ok(rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    S = int(apiserver.admin("POST", "etcd/snapshot")["resourceVersion"])

    op = Operator(apiserver)
    op.wait_leading()
    pid = op.proc.pid
    address = probe_address(op)
    poll(lambda: readyz(address)[0] == 200, 20, "the operator to be ready")

    # The lost future: a first MediVoteService, reconciled (its pods and Service), moving the revision on.
    rest.ok(rest.post(MVS.format(ns=ns), mvs("before", ns, "busybox", replicas=2, claims=False)))
    poll(lambda: len(owned_pods(rest, ns, "before")) == 2 and service(rest, ns, "before"), 20,
         "the first MediVoteService to be reconciled")
    W = int(apiserver.admin("GET", "state")["resourceVersion"])
    assert W > S + 3

    # The operator's next relist of MediVoteServices (pages of 500; its probe lists with limit=1) takes 3 s.
    apiserver.admin("POST", "latency", {"method": "GET", "path": r"/medivoteservices\?(.*&)?limit=500",
                                        "seconds": 3, "count": 1})
    watcher = ReadyzWatcher(address)
    try:
        restored = apiserver.admin("POST", "etcd/restore")
        assert restored["resourceVersion"] == str(S) and restored["droppedWatches"] >= 3
        assert rest.get(MVS.format(ns=ns) + "/before").status == 404

        created = time.monotonic()
        rest.ok(rest.post(MVS.format(ns=ns), mvs("after", ns, "busybox", replicas=1, claims=False)))
        assert int(rest.get(MVS.format(ns=ns) + "/after").body["metadata"]["resourceVersion"]) < W
        poll(lambda: len(owned_pods(rest, ns, "after")) == 1 and service(rest, ns, "after"), CONVERGE,
             "the MediVoteService created after the restore to be reconciled")
        took = time.monotonic() - created
        poll(lambda: readyz(address)[0] == 200, 10, "the operator to be ready again")
    finally:
        watcher.stop()

    assert op.proc.poll() is None and op.proc.pid == pid, "the operator must recover without a restart"
    assert took < CONVERGE
    records = log_records(op.log())
    resets = [r for r in records if r.get("msg") == "reflector state" and r.get("to") == "Empty"
              and r.get("reason", "").startswith("HistoryReset")]
    resources = {r["resource"] for r in resets}
    assert {"medivoteservices.medivote.io", "pods", "services"} <= resources, resets
    assert any(f"to {S}" in r["reason"] or "went back" in r["reason"] for r in resets)
    failing = [body for code, body in watcher.seen if code != 200]
    assert any("[-]cache-fresh-medivoteservices failed" in body for body in failing), watcher.seen[-5:]
    assert watcher.seen[-1][0] == 200
    # The caches converged: the first MediVoteService, lost with the restore, left no pods behind in them.
    assert not owned_pods(rest, ns, "before")
