"""`kubectl apply --dry-run=server -f deploy/` succeeds against the API server simulator, and so does the real
apply (both variants). As on a real server, a dry-run create inside a namespace that does not exist yet is a 404:
the Namespaces are created for real first (01-namespace.yaml), then every other object is dry-run created, and
nothing of it is stored."""
import os

import pytest
import yaml

from packaging_lib import DEPLOY, DEPLOY_NAMESPACED, load_docs, object_path
from simlib import Sim

pytestmark = pytest.mark.needs_sim_apiserver(
    reason="applies the whole of deploy/ (CRD, namespaces, cluster roles) to a fresh API server simulator of its own")


@pytest.fixture
def sim(tmp_path):
    s = Sim(tmp_path / "sim")
    yield s
    s.stop()


def names(docs):
    return {f"{d['kind'].lower()}/{d['metadata']['name']}" for d in docs}


@pytest.mark.parametrize("folder", [DEPLOY, DEPLOY_NAMESPACED], ids=["cluster-wide", "namespaced"])
def test_server_dry_run_then_apply_of_deploy(sim, folder):
    docs = load_docs(folder)
    namespaces = [d for d in docs if d["kind"] == "Namespace"]
    assert {d["metadata"]["name"] for d in namespaces} == {"medivote-system", "medivote"}
    sim.kubectl("apply", "-f", os.path.join(folder, "01-namespace.yaml"))

    out = sim.kubectl("apply", "--dry-run=server", "-f", folder).stdout
    for d in docs:
        verb = "unchanged" if d["kind"] == "Namespace" else "created"
        line = f"{d['kind'].lower()}"
        assert any(l.startswith(line) and l.endswith(f"/{d['metadata']['name']} {verb} (server dry run)")
                   for l in out.splitlines()), (d["kind"], d["metadata"]["name"], out)
    for d in docs:
        if d["kind"] != "Namespace":
            assert sim.rest.get(object_path(d)).status == 404, f"dry run stored {object_path(d)}"

    out = sim.kubectl("apply", "-f", folder).stdout
    assert out.count(" created") == len(docs) - len(namespaces), out
    for d in docs:
        got = sim.rest.get(object_path(d))
        assert got.status == 200, (object_path(d), got)
    deployment = sim.rest.get(object_path([d for d in docs if d["kind"] == "Deployment"][0])).body
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == \
        [d for d in docs if d["kind"] == "Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"]

    again = sim.kubectl("apply", "--dry-run=server", "-f", folder)
    assert again.returncode == 0 and "(server dry run)" in again.stdout


def test_a_dry_run_into_a_missing_namespace_fails_as_on_a_real_server(sim, tmp_path):
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x", "namespace": "nowhere"}}
    f = tmp_path / "sa.yaml"
    f.write_text(yaml.safe_dump(sa))
    r = sim.kubectl("apply", "--dry-run=server", "-f", str(f), check=False)
    assert r.returncode != 0 and 'namespaces "nowhere" not found' in r.stderr


@pytest.mark.parametrize("folder", [DEPLOY, DEPLOY_NAMESPACED], ids=["cluster-wide", "namespaced"])
def test_a_plain_apply_on_a_fresh_cluster_needs_no_preparation(sim, folder):
    # kubectl takes the files in name order: the CRD and the Namespaces (00-, 01-) exist before anything in them.
    r = sim.kubectl("apply", "-f", folder, check=False)
    assert r.returncode == 0, r.stderr
    for d in load_docs(folder):
        assert sim.rest.get(object_path(d)).status == 200, object_path(d)
