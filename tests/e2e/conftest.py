"""Fixtures of the end-to-end suites (helpers in e2elib.py).

* `cluster` (session): API server + kubelet simulators with the MediVoteService CRD applied; at the end, stopped,
  and no test process may survive.
* `operator`: a medivote-controller for the test, leading; stopped (SIGTERM) at the end, which must exit 0.
* `ns`: a fresh namespace per test, its name unique to the run (e2elib.unique_name); deleted at the end.

With MEDIVOTE_EXISTING_CLUSTER=/path/to/admin.kubeconfig the cluster is that API server with the kubelet simulator
as its node (tests/e2e/existing_cluster.py); tests marked `needs_sim_apiserver` are skipped there.
"""
import re

import pytest

from e2elib import NO_RESTART_RACE, Cluster, Operator, existing_cluster, running_cluster, unique_name


def pytest_configure(config):
    existing_cluster.register_marker(config)


def pytest_collection_modifyitems(config, items):
    existing_cluster.skip_marked(items)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("e2e"), lambda d: Cluster(d, *NO_RESTART_RACE)) as c:
        yield c


@pytest.fixture
def ns(cluster, request):
    test = re.sub(r"[^a-z0-9-]", "", request.node.name.lower().replace("_", "-"))  # no parameter brackets
    name = unique_name("e2e-" + test[5:35].strip("-"))
    cluster.rest.ok(cluster.create_namespace(name))
    yield name
    cluster.delete_namespace(name)


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
