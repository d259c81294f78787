"""`helm install`, `helm upgrade` and `helm uninstall` of the chart against the API server simulator (helm speaks
to it like to a real API server: discovery, release Secret, creates, patches, deletes). The installed objects are
those of deploy/; an upgrade changes what its values say; an uninstall removes the operator but keeps the CRD and
the services' namespace with what is in it (their claims hold the services' saved state)."""
import pytest
import yaml

from packaging_lib import CHART, DEPLOY, deployment, load_docs, mvs, object_path
from simlib import Sim

pytestmark = pytest.mark.needs_sim_apiserver(
    reason="installs and uninstalls the chart (CRD, namespaces, cluster roles) on a fresh API server simulator of "
           "its own")


@pytest.fixture
def sim(tmp_path):
    s = Sim(tmp_path / "sim")
    yield s
    s.stop()


@pytest.fixture
def helm_sim(helm_run, sim):
    def run(*args, check=True):
        return helm_run(*args, "--kubeconfig", sim.kubeconfig, check=check)
    return run


def test_install_upgrade_uninstall_against_the_simulator(sim, helm_sim):
    out = helm_sim("install", "medivote-operator", CHART, "--wait=false").stdout
    assert "STATUS: deployed" in out and "installed in namespace medivote-system" in out
    for d in load_docs(DEPLOY):
        assert sim.rest.get(object_path(d)).status == 200, object_path(d)
    live = sim.rest.get("/apis/apps/v1/namespaces/medivote-system/deployments/medivote-operator").body
    assert live["spec"]["template"]["spec"] == deployment()["spec"]["template"]["spec"]

    helm_sim("upgrade", "medivote-operator", CHART, "--set", "replicaCount=3", "--set", "logLevel=debug")
    live = sim.rest.get("/apis/apps/v1/namespaces/medivote-system/deployments/medivote-operator").body
    assert live["spec"]["replicas"] == 3
    assert "--log-level=debug" in live["spec"]["template"]["spec"]["containers"][0]["args"]

    sim.kubectl("apply", "-f", "-", input=yaml.safe_dump(
        mvs("keepme", "medivote", "medivote/workload:1", claims=False)))
    helm_sim("uninstall", "medivote-operator")
    assert sim.rest.get("/apis/apps/v1/namespaces/medivote-system/deployments/medivote-operator").status == 404
    assert sim.rest.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/medivote-operator").status == 404
    assert sim.rest.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                        "medivoteservices.medivote.io").status == 200, "helm never deletes crds/"
    ns = sim.rest.get("/api/v1/namespaces/medivote").body
    assert ns["status"]["phase"] == "Active", "the services' namespace is kept"
    assert sim.rest.get("/apis/medivote.io/v1alpha1/namespaces/medivote/medivoteservices/keepme").status == 200
