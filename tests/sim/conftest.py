"""Shared fixtures for the simulator suites (tests/sim/...); helpers live in simlib.py.

* `sim` (session): an API server simulator started with `sim/simctl start` in a temp dir (HTTPS, ephemeral
  port, bookmark interval 1 s, history 300 events per resource); stopped by `sim/simctl stop` at the end,
  which must leave no process behind.
* `rest`: a `simlib.Rest` client (admin client certificate, verifies TLS against the sim CA).
* `kubectl`: run the real `kubectl` with KUBECONFIG set: `kubectl("get", "pods", "-n", ns)` -> CompletedProcess.
* `sim_ns`: a fresh namespace per test (deleted afterwards).
* `start_sim(*args)`: factory for extra, test-owned simulators (stopped at test end).
"""
import random

import pytest

# Re-exported for suites that still import helpers from conftest.
from simlib import REPO, SIMCTL, Rest, Response, Sim, WatchStream, _alive, kubectl_minor, poll  # noqa: F401


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    s = Sim(tmp_path_factory.mktemp("sim"), "--bookmark-interval", "1", "--history", "300")
    try:
        yield s
    finally:
        s.stop()
        assert not _alive(s.pid), "API server survived simctl stop"


@pytest.fixture
def start_sim(tmp_path):
    started = []

    def start(*args, d=None):
        s = Sim(d or tmp_path / f"sim{len(started)}", *args)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def rest(sim):
    return sim.rest


@pytest.fixture(scope="session")
def kubectl(sim):
    return sim.kubectl


@pytest.fixture
def sim_ns(rest, request):
    name = "t-" + request.node.name.lower().replace("_", "-")[:40].strip("-") + f"-{random.randint(0, 99999)}"
    rest.ok(rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    rest.delete(f"/api/v1/namespaces/{name}")
