"""The existing-cluster mode of the suites (issue 14; tests/e2e/existing_cluster.py), tested against a second API
server simulator started on its own (`sim/simctl start`, no kubelet), as a user would point the suites at a cluster:
a pytest session of two real e2e tests with MEDIVOTE_EXISTING_CLUSTER naming its admin kubeconfig passes; it starts
no API server of its own (no apiserver process under its temp dir, nothing of one written there) while the second
server's audit log holds the session's requests, the operator's among them as its ServiceAccount with the
TokenRequest token and its Lease in medivote-system; a second session against the same server passes too (no 409:
unique names), and each leaves nothing behind (namespaces, Node, CRD, ServiceAccount, cluster roles)."""
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET

import pytest

from e2elib import OPERATOR_USER, REPO, Sim, processes_matching

pytestmark = pytest.mark.needs_sim_apiserver(reason="starts a second API server simulator of its own to test the "
                                                    "mode against it")

TESTS = ["tests/e2e/test_medivoteservice.py::test_apply_three_replicas_ready_and_kubectl_shows_it",
         "tests/e2e/test_tiered_shutdown.py::test_two_replicas_with_leader_election_the_survivor_finishes_a_scale_down"]
BASELINE_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


@pytest.fixture
def second(tmp_path):
    s = Sim(tmp_path / "second-apiserver")
    yield s
    s.stop()


def run_session(second, d):
    """A pytest session of TESTS against `second`, its temp dir `d`; returns (exit code, output, junit counts,
    command lines of the processes seen under `d` while it ran)."""
    junit = os.path.join(d, "junit.xml")
    env = dict(os.environ, MEDIVOTE_EXISTING_CLUSTER=second.kubeconfig)
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            for pid in processes_matching(d):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        seen.add(f.read().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    pass
            done.wait(0.2)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={d}/tmp",
                            f"--junitxml={junit}", *TESTS], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=600)
    finally:
        done.set()
        t.join(timeout=5)
    cases = list(ET.parse(junit).getroot().iter("testcase")) if os.path.exists(junit) else []
    counts = {"passed": sum(1 for c in cases if not list(c)), "other": sum(1 for c in cases if list(c))}
    return r.returncode, r.stdout + r.stderr, counts, seen


def audit(second):
    return second.admin("GET", "requests").body["items"]


def leftovers(second):
    """What of a session is still on the server."""
    rest = second.rest
    out = {"namespaces": {n["metadata"]["name"] for n in rest.get("/api/v1/namespaces").body["items"]}
           - BASELINE_NAMESPACES,
           "nodes": {n["metadata"]["name"] for n in rest.get("/api/v1/nodes").body["items"]},
           "crds": {c["metadata"]["name"] for c in
                    rest.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").body["items"]},
           "clusterroles": {c["metadata"]["name"] for c in
                            rest.get("/apis/rbac.authorization.k8s.io/v1/clusterroles").body["items"]
                            if c["metadata"]["name"].startswith("medivote")}}
    return {k: v for k, v in out.items() if v}


def test_two_sessions_run_against_an_existing_api_server_and_leave_nothing_behind(second, tmp_path):
    earlier_ns = set()
    for run in (1, 2):
        d = str(tmp_path / f"session-{run}")
        os.makedirs(d)
        before = len(audit(second))
        code, out, counts, seen = run_session(second, d)
        assert code == 0 and counts == {"passed": len(TESTS), "other": 0}, f"session {run}:\n{out[-5000:]}"

        # It started no API server: none ran under its temp dir, and none wrote its state there; its kubelet did.
        assert not [c for c in seen if "sim.apiserver" in c], f"session {run} started an API server: {seen}"
        assert any("sim.kubelet" in c for c in seen), f"session {run}: no kubelet simulator seen ({seen})"
        files = [f for _root, _dirs, names in os.walk(d) for f in names]
        assert "kubelet.log" in files and "apiserver.log" not in files and "apiserver.pid" not in files

        # The second server served the session: its namespaces, its pods bound to its own Node, and the operator
        # as its ServiceAccount (TokenRequest token), holding its Lease in medivote-system.
        items = audit(second)[before:]
        run_ns = {i["name"] for i in items if i["resource"] == "namespaces" and i["verb"] == "delete"
                  and i["name"].startswith("e2e-")}
        assert len(run_ns) == len(TESTS) and not run_ns & earlier_ns, (run_ns, earlier_ns)
        earlier_ns |= run_ns
        assert [i for i in items if i["resource"] == "serviceaccounts" and i.get("subresource") == "token"
                and i["code"] == 201], "the operator's token came from the TokenRequest API"
        operator = [i for i in items if i["user"] == OPERATOR_USER]
        assert [i for i in operator if i["resource"] == "medivoteservices" and i["code"] == 200]
        leases = {i["namespace"] for i in operator if i["resource"] == "leases"}
        assert leases == {"medivote-system"}, leases
        assert [i for i in items if i["resource"] == "pods" and i.get("subresource") == "binding"
                and i["code"] == 201], "the session bound its pods to its Node"

        assert leftovers(second) == {}, f"session {run} left behind: {leftovers(second)}"
        assert not processes_matching(d), f"session {run} left processes"
