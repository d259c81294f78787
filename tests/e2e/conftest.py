"""Fixtures of the end-to-end suites (helpers in e2elib.py).

* `cluster` (session): API server + kubelet simulators with the MediVoteService CRD applied; at the end, stopped,
  and no test process may survive.
* `operator`: a medivote-controller for the test, leading; stopped (SIGTERM) at the end, which must exit 0.
* `ns`: a fresh namespace per test.
"""
import random

import pytest

from e2elib import NO_RESTART_RACE, Cluster, Operator, running_cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("e2e"), lambda d: Cluster(d, *NO_RESTART_RACE)) as c:
        yield c


@pytest.fixture
def ns(cluster, request):
    name = "e2e-" + request.node.name.lower().replace("_", "-")[5:35].strip("-") + f"-{random.randint(0, 9999)}"
    cluster.rest.ok(cluster.rest.post("/api/v1/namespaces",
                                      {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    cluster.rest.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture
def operator(cluster):
    ops = []

    def start(*extra, leader_elect=False, wait=True):
        op = Operator(cluster, *extra, leader_elect=leader_elect)
        ops.append(op)
        if wait:
            op.wait_leading()
        return op
    start.all = ops
    yield start
    for op in ops:
        op.kill(__import__("signal").SIGTERM)
