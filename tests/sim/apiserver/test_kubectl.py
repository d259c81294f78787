"""The real kubectl (on PATH) against the simulator: CRD + CR apply, printer columns, scale, finalizer wait,
get -w, apply of changed Pod/Service manifests, server-side dry-run, explain, typed (protobuf) creates."""
import os
import subprocess
import time

import pytest

from simlib import kubectl_minor, poll

DATA = os.path.join(os.path.dirname(__file__), "data")
CRD = os.path.join(DATA, "crd-medivoteservice.yaml")
MVS = "/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices"


def mvs_yaml(ns, name="api", replicas=2, image="medivote/api:1.0", tier="critical"):
    return f"""apiVersion: medivote.io/v1alpha1
kind: MediVoteService
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: medivote}}
spec:
  tier: {tier}
  replicas: {replicas}
  template: {{image: "{image}", port: 8080}}
"""


@pytest.fixture(scope="module")
def crd(sim):
    out = sim.kubectl("apply", "-f", CRD)
    assert "customresourcedefinition.apiextensions.k8s.io/medivoteservices.medivote.io" in out.stdout
    crd = sim.rest.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/medivoteservices.medivote.io").body
    conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conds == {"NamesAccepted": "True", "Established": "True"}
    return crd


def test_apply_crd_then_cr_create_and_reapply(crd, kubectl, rest, sim_ns):
    out = kubectl("apply", "-f", "-", input=mvs_yaml(sim_ns))
    assert "medivoteservice.medivote.io/api created" in out.stdout
    obj = rest.get(MVS.format(ns=sim_ns) + "/api").body
    assert obj["metadata"]["generation"] == 1
    assert obj["spec"]["template"]["image"] == "medivote/api:1.0"
    out = kubectl("apply", "-f", "-", input=mvs_yaml(sim_ns, image="medivote/api:1.1"))
    assert "medivoteservice.medivote.io/api configured" in out.stdout
    obj2 = rest.get(MVS.format(ns=sim_ns) + "/api").body
    assert obj2["spec"]["template"]["image"] == "medivote/api:1.1"
    assert obj2["metadata"]["generation"] == 2
    assert obj2["metadata"]["uid"] == obj["metadata"]["uid"]
    out = kubectl("apply", "-f", "-", input=mvs_yaml(sim_ns, image="medivote/api:1.1"))
    assert "unchanged" in out.stdout
    assert rest.get(MVS.format(ns=sim_ns) + "/api").body["metadata"]["resourceVersion"] == \
        obj2["metadata"]["resourceVersion"]


def test_apply_rejects_invalid_cr_with_field_names(crd, kubectl, sim_ns):
    out = kubectl("apply", "-f", "-", input=mvs_yaml(sim_ns, name="bad", tier="gold"), check=False)
    assert out.returncode != 0
    assert 'spec.tier: Unsupported value: "gold"' in out.stderr


def test_get_shows_printer_columns(crd, kubectl, rest, sim_ns):
    kubectl("apply", "-f", "-", input=mvs_yaml(sim_ns, replicas=3))
    rest.ok(rest.patch(MVS.format(ns=sim_ns) + "/api/status", {"status": {"readyReplicas": 2, "replicas": 3}}))
    lines = kubectl("get", "mvs", "-n", sim_ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "TIER", "DESIRED", "READY", "AGE"]
    row = lines[1].split()
    assert row[:4] == ["api", "critical", "3", "2"]
    assert row[4].endswith("s")


def test_scale_goes_through_scale_subresource(crd, kubectl, rest, sim, sim_ns):
    kubectl("apply", "-f", "-", input=mvs_yaml(sim_ns))
    sim.admin("DELETE", "requests")
    out = kubectl("scale", "mvs", "api", "-n", sim_ns, "--replicas=5")
    assert "scaled" in out.stdout
    assert rest.get(MVS.format(ns=sim_ns) + "/api").body["spec"]["replicas"] == 5
    scale = rest.get(MVS.format(ns=sim_ns) + "/api/scale").body
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 5
    reqs = sim.admin("GET", "requests").body["items"]
    assert any(r["verb"] == "patch" and r["subresource"] == "scale" and r["name"] == "api" for r in reqs), reqs


def test_delete_with_finalizer_waits_until_removed(crd, kubectl, rest, sim, sim_ns):
    kubectl("apply", "-f", "-", input=mvs_yaml(sim_ns, name="fin"))
    rest.ok(rest.patch(MVS.format(ns=sim_ns) + "/fin", {"metadata": {"finalizers": ["medivote.io/cleanup"]}}))
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig)
    proc = subprocess.Popen(["kubectl", "delete", "mvs", "fin", "-n", sim_ns], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        poll(lambda: rest.get(MVS.format(ns=sim_ns) + "/fin").body["metadata"].get("deletionTimestamp"), 10,
             "deletionTimestamp")
        time.sleep(1.0)
        assert proc.poll() is None, "kubectl delete returned while the finalizer was still there"
        rest.ok(rest.patch(MVS.format(ns=sim_ns) + "/fin", [{"op": "remove", "path": "/metadata/finalizers"}],
                           "json"))
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert 'medivoteservice.medivote.io "fin" deleted' in out
        assert rest.get(MVS.format(ns=sim_ns) + "/fin").status == 404
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_get_watch_streams_changes(kubectl, rest, sim, sim_ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w1", "labels": {"a": "1"}},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/pods", pod))
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig)
    proc = subprocess.Popen(["kubectl", "get", "pods", "-n", sim_ns, "-w", "--output-watch-events"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []

    def reader():
        for line in proc.stdout:
            lines.append(line.split())
    import threading
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        poll(lambda: any("w1" in ln for ln in lines), 15, "initial row")
        pod["metadata"]["name"] = "w2"
        rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/pods", pod))
        poll(lambda: any(ln[:2] == ["ADDED", "w2"] for ln in lines), 10, "ADDED w2 row")
        rest.ok(rest.patch(f"/api/v1/namespaces/{sim_ns}/pods/w2", {"metadata": {"labels": {"a": "2"}}}))
        poll(lambda: any(ln[:2] == ["MODIFIED", "w2"] for ln in lines), 10, "MODIFIED w2 row")
        rest.ok(rest.delete(f"/api/v1/namespaces/{sim_ns}/pods/w2"))
        poll(lambda: any(ln[:2] == ["DELETED", "w2"] for ln in lines), 10, "DELETED w2 row")
    finally:
        proc.kill()
        proc.wait()


POD = """apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web, rev: "{rev}"}}
spec:
  containers:
  - name: app
    image: {image}
    env: [{{name: MODE, value: "{mode}"}}]
    ports: [{{containerPort: 80}}]
  - name: side
    image: busybox:1.36
"""


def test_apply_twice_changed_pod_patches_it(kubectl, rest, sim, sim_ns):
    kubectl("apply", "-f", "-", input=POD.format(ns=sim_ns, rev="1", image="nginx:1.25", mode="a"))
    before = rest.get(f"/api/v1/namespaces/{sim_ns}/pods/web").body
    sim.admin("DELETE", "requests")
    out = kubectl("apply", "-f", "-", input=POD.format(ns=sim_ns, rev="2", image="nginx:1.26", mode="a"))
    assert "pod/web configured" in out.stdout
    reqs = [r for r in sim.admin("GET", "requests").body["items"] if r["resource"] == "pods"]
    assert [r["verb"] for r in reqs] == ["get", "patch"], reqs
    after = rest.get(f"/api/v1/namespaces/{sim_ns}/pods/web").body
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["labels"] == {"app": "web", "rev": "2"}
    assert [c["image"] for c in after["spec"]["containers"]] == ["nginx:1.26", "busybox:1.36"]
    assert after["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "a"}]
    assert "generation" not in after["metadata"]
    # an env change is not allowed on a pod: the real 422
    out = kubectl("apply", "-f", "-", input=POD.format(ns=sim_ns, rev="2", image="nginx:1.26", mode="b"),
                  check=False)
    assert out.returncode != 0
    assert "pod updates may not change fields other than" in out.stderr


SVC = """apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: {target}}}
"""


def test_apply_twice_changed_service_patches_it(kubectl, rest, sim_ns):
    kubectl("apply", "-f", "-", input=SVC.format(ns=sim_ns, target=8080))
    ip = rest.get(f"/api/v1/namespaces/{sim_ns}/services/web").body["spec"]["clusterIP"]
    out = kubectl("apply", "-f", "-", input=SVC.format(ns=sim_ns, target=9090))
    assert "service/web configured" in out.stdout
    svc = rest.get(f"/api/v1/namespaces/{sim_ns}/services/web").body
    assert svc["spec"]["ports"] == [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9090}]
    assert svc["spec"]["clusterIP"] == ip


def test_apply_dry_run_server_changes_nothing(crd, kubectl, rest, sim_ns):
    out = kubectl("apply", "--dry-run=server", "-f", "-", input=mvs_yaml(sim_ns, name="dry"))
    assert "created (server dry run)" in out.stdout
    assert rest.get(MVS.format(ns=sim_ns) + "/dry").status == 404
    kubectl("apply", "-f", "-", input=SVC.format(ns=sim_ns, target=8080))
    before = rest.get(f"/api/v1/namespaces/{sim_ns}/services/web").body
    out = kubectl("apply", "--dry-run=server", "-f", "-", input=SVC.format(ns=sim_ns, target=7070))
    assert "configured (server dry run)" in out.stdout
    after = rest.get(f"/api/v1/namespaces/{sim_ns}/services/web").body
    assert after == before


@pytest.mark.skipif(kubectl_minor() < 27, reason="kubectl < 1.27 explains from /openapi/v2 definitions, "
                    "which the simulator does not publish (see sim/README.md)")
def test_explain_reads_crd_schema(crd, kubectl):
    out = kubectl("explain", "mvs.spec").stdout
    assert "KIND:       MediVoteService" in out
    assert "replicas\t<integer>" in out and "tier\t<string>" in out
    assert "enum: critical, simple" in out


def test_typed_create_commands_send_protobuf(kubectl, rest, sim_ns):
    kubectl("create", "configmap", "cm1", "-n", sim_ns, "--from-literal=k=v")
    kubectl("create", "secret", "generic", "s1", "-n", sim_ns, "--from-literal=p=q")
    assert rest.get(f"/api/v1/namespaces/{sim_ns}/configmaps/cm1").body["data"] == {"k": "v"}
    assert rest.get(f"/api/v1/namespaces/{sim_ns}/secrets/s1").body["data"] == {"p": "cQ=="}


def test_get_pods_wide_table_columns(kubectl, rest, sim_ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}}
    rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/pods", pod))
    lines = kubectl("get", "pods", "-n", sim_ns, "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                                "READINESS", "GATES"]
    assert lines[1].split()[:3] == ["p", "0/1", "Pending"] and lines[1].split()[6] == "n1"


def test_builtin_printers_match_kubectl_columns(kubectl, rest, sim_ns):
    kubectl("apply", "-f", "-", input=SVC.format(ns=sim_ns, target=8080))
    rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/events", {
        "metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "web", "namespace": sim_ns},
        "reason": "Killing", "message": "Stopping container app", "type": "Normal"}))
    svc = kubectl("get", "svc", "-n", sim_ns).stdout.splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert svc[1].split()[:5][:2] == ["web", "ClusterIP"] and svc[1].split()[4] == "80/TCP"
    ev = kubectl("get", "events", "-n", sim_ns).stdout.splitlines()
    assert ev[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert ev[1].split()[1:4] == ["Normal", "Killing", "pod/web"]
    ns = kubectl("get", "ns", sim_ns).stdout.splitlines()
    assert ns[0].split() == ["NAME", "STATUS", "AGE"] and ns[1].split()[:2] == [sim_ns, "Active"]


def test_namespace_finalize_subresource(rest):
    rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": "fin-ns"}}))
    ns = rest.get("/api/v1/namespaces/fin-ns").body
    ns["spec"]["finalizers"] = []
    rest.ok(rest.put("/api/v1/namespaces/fin-ns", ns))
    assert rest.get("/api/v1/namespaces/fin-ns").body["spec"]["finalizers"] == ["kubernetes"]
    ns = rest.get("/api/v1/namespaces/fin-ns").body
    ns["spec"]["finalizers"] = []
    assert rest.ok(rest.put("/api/v1/namespaces/fin-ns/finalize", ns))["spec"]["finalizers"] == []
    rest.ok(rest.delete("/api/v1/namespaces/fin-ns"))
    poll(lambda: rest.get("/api/v1/namespaces/fin-ns").status == 404, 10, "namespace gone")
