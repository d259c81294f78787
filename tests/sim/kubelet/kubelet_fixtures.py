"""Fixtures for the kubelet simulator suite: an API server simulator, a kubelet
on it, per-test namespaces, and a final check that no process is left behind.

Test modules import them by name (`from kubelet_fixtures import ...`). This is not
a conftest.py, because tests/sim/apiserver imports names `from conftest`, which
must stay tests/sim/conftest.py.

- `apiserver`: the state dir D of the session's API server simulator (the
  shared `sim` fixture of tests/sim/conftest.py: HTTPS, ephemeral port); D holds
  `kubeconfig` (admin, for kubectl and the tests) and `kubelet.kubeconfig`
  (the node's client certificate).
- `kubelet`: session-scoped KubeletProc on node "sim-node-1", binding
  unscheduled pods, pod CIDR a random 127.x.y.0/24 (so concurrent suites on
  the machine never share an IP), back-off base 0.3 s.
- `start_kubelet`: factory for extra kubelets (other node names) in a test.
- `ns`: a fresh namespace per test.
Every process started here is stopped by a finalizer, and teardown fails if a
process started from a kubelet state dir survives the kubelet.
"""
import os
import pathlib
import random
import signal
import subprocess
import sys

import pytest

from kubelet_testlib import Api, poll, processes_under

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
IMAGE_MAP = os.path.join(REPO, "sim", "testdata", "images.yaml")
PY = "/usr/bin/python3"


def _random_cidr() -> str:
    return f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"


def _stop(proc: subprocess.Popen, timeout=10.0) -> int:
    """SIGTERM, then SIGKILL after `timeout`; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


@pytest.fixture(scope="session")
def apiserver(sim):
    """The shared API server simulator of tests/sim/conftest.py (`sim`), as its state dir."""
    return pathlib.Path(sim.dir)


class KubeletProc:
    def __init__(self, apiserver_dir, state_dir, node_name, cidr, extra=()):
        self.state_dir = str(state_dir)
        self.node_name = node_name
        self.cidr = cidr
        self.log_path = os.path.join(self.state_dir + ".log")
        self.args = [PY, "-m", "sim.kubelet", "--kubeconfig", str(apiserver_dir / "kubelet.kubeconfig"),
                     "--node-name", node_name, "--state-dir", self.state_dir, "--image-map", IMAGE_MAP,
                     "--pod-cidr", cidr, "--restart-backoff-base", "0.3", "--heartbeat-interval", "1", *extra]
        self.proc = None
        self._log = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self) -> int:
        rc = _stop(self.proc)
        self._log.close()
        return rc


@pytest.fixture(scope="session")
def api(apiserver):
    return Api(str(apiserver / "kubeconfig"))


@pytest.fixture(scope="session")
def kubeconfig(apiserver):
    return str(apiserver / "kubeconfig")


def _wait_node(api, name):
    def ready():
        node = api.get_or_none(f"/api/v1/nodes/{name}")
        conds = ((node or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)
    poll(ready, timeout=15, what=f"node {name} Ready")


def _assert_no_leftovers(k: KubeletProc):
    """Fails (after killing them) if processes started from k's state dir outlive it."""
    try:
        poll(lambda: not processes_under(k.state_dir), timeout=5, what=f"no process of kubelet {k.node_name}")
    except AssertionError:
        survivors = processes_under(k.state_dir)
        for pid, _ in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise AssertionError(f"processes survived kubelet {k.node_name}: {survivors}")


@pytest.fixture(scope="session")
def kubelet(apiserver, api, tmp_path_factory):
    k = KubeletProc(apiserver, tmp_path_factory.mktemp("kubelet") / "state", "sim-node-1", _random_cidr()).start()
    try:
        _wait_node(api, k.node_name)
        yield k
    finally:
        rc = k.stop()
        sys.stderr.write(f"kubelet log tail:\n{k.log()[-3000:]}\n")
        _assert_no_leftovers(k)
        assert rc == 0, f"kubelet exited {rc}"


@pytest.fixture
def start_kubelet(apiserver, api, tmp_path):
    started = []

    def start(node_name, extra=(), state_dir=None, cidr=None):
        k = KubeletProc(apiserver, state_dir or (tmp_path / f"state-{node_name}-{len(started)}"), node_name,
                        cidr or _random_cidr(), ["--no-scheduler", *extra]).start()
        started.append(k)
        _wait_node(api, node_name)
        return k

    yield start
    for k in started:
        if k.proc.poll() is None:
            k.stop()
        _assert_no_leftovers(k)


@pytest.fixture
def ns(api, request):
    name = "kt-" + request.node.name.lower().replace("_", "-")[:40].strip("-") + f"-{random.randint(0, 9999)}"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    # Pods are deleted by the tests; whatever is left goes with grace 0.
    for p in api.get(f"/api/v1/namespaces/{name}/pods")["items"]:
        try:
            api.delete(f"/api/v1/namespaces/{name}/pods/{p['metadata']['name']}", gracePeriodSeconds=0)
        except Exception:  # noqa: BLE001 - already gone
            pass
