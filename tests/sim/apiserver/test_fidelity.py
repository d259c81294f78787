"""Behaviours where the simulator once was kinder than kube-apiserver 1.32 + kube-controller-manager (issue 14).
Each test names the real code it follows; sim/README.md ("Fidelity") lists them with their sources."""
import json
import os
import re
import time

import pytest
import yaml

from simlib import REPO, poll

POD = "/api/v1/namespaces/{ns}/pods"
REPO_CRD = os.path.join(REPO, "crds", "medivote.io_medivoteservices.yaml")
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod(name, node=None, volumes=None, **spec):
    s = {"containers": [{"name": "app", "image": "busybox"}], **spec}
    if node:
        s["nodeName"] = node
    if volumes:
        s["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


def pvc(name):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


# ---- 1. booleans in query strings ---------------------------------------------------------------------------
@pytest.mark.parametrize("value,is_watch", [("True", True), ("1", True), ("", True), ("yes", True),
                                            ("true", True), ("false", False), ("0", False), ("FALSE", False)])
def test_watch_query_boolean_as_convert_slice_string_to_bool(rest, sim_ns, value, is_watch):
    """k8s.io/apimachinery/pkg/runtime/conversion.go Convert_Slice_string_To_bool and RequestInfoFactory: any value
    of `watch` but "0"/"false" (any case) makes a GET a watch; the official Python client sends `watch=True`."""
    rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/configmaps",
                      {"metadata": {"name": "b"}, "data": {"k": "v"}}))
    r = rest.request("GET", f"/api/v1/namespaces/{sim_ns}/configmaps?watch={value}&timeoutSeconds=1")
    assert r.status == 200, r
    if is_watch:
        events = [json.loads(line) for line in r.raw.decode().splitlines() if line.strip()]
        assert events and all(e["type"] in ("ADDED", "BOOKMARK") for e in events), events
        assert "b" in {e["object"]["metadata"]["name"] for e in events}
    else:
        assert r.body["kind"] == "ConfigMapList", r


@pytest.mark.parametrize("value", ["True", "1", ""])
def test_allow_watch_bookmarks_parsed_the_same_way(rest, sim_ns, value):
    """allowWatchBookmarks is a ListOptions bool: converted by the same Convert_Slice_string_To_bool."""
    w = rest.watch(f"/api/v1/namespaces/{sim_ns}/configmaps", allowWatchBookmarks=value, timeoutSeconds=4)
    try:
        ev = w.until(lambda e: e["type"] == "BOOKMARK", timeout=5)   # the test sim's bookmark interval is 1 s
        assert ev["object"]["metadata"]["resourceVersion"]
    finally:
        w.close()


# ---- 3. scale subresource discovery --------------------------------------------------------------------------
class ScaleClient:
    """What HPA's scale client does (k8s.io/client-go/scale): find `<plural>/scale` through discovery, take its
    group/version (discovery-legacy.json shows autoscaling/v1 Scale), then GET/PUT that path."""

    def __init__(self, rest):
        self.rest = rest

    def find(self, group, kind):
        groups = self.rest.ok(self.rest.get("/apis"))["groups"]
        g = next(x for x in groups if x["name"] == group)
        gv = g["preferredVersion"]["groupVersion"]
        resources = self.rest.ok(self.rest.get(f"/apis/{gv}"))["resources"]
        main = next(r for r in resources if r["kind"] == kind and "/" not in r["name"])
        sub = next(r for r in resources if r["name"] == main["name"] + "/scale")
        assert (sub.get("group"), sub.get("version"), sub["kind"]) == ("autoscaling", "v1", "Scale"), sub
        return gv, main["name"]

    def path(self, gv, plural, ns, name):
        return f"/apis/{gv}/namespaces/{ns}/{plural}/{name}/scale"


def test_hpa_style_scale_client_through_discovery_alone(start_sim):
    s = start_sim()
    s.kubectl("apply", "-f", REPO_CRD)
    rest = s.rest
    poll(lambda: rest.get("/apis/medivote.io/v1alpha1").status == 200, 5, "CRD served")
    # the aggregated document (apidiscovery.k8s.io/v2, kubectl's Accept) says the same
    agg = rest.request("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}).body
    grp = next(i for i in agg["items"] if i["metadata"]["name"] == "medivote.io")
    res = next(r for r in grp["versions"][0]["resources"] if r["resource"] == "medivoteservices")
    scale = next(x for x in res["subresources"] if x["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}

    rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": "hpa"}}))
    mvs = yaml.safe_load("""
apiVersion: medivote.io/v1alpha1
kind: MediVoteService
metadata: {name: web}
spec:
  tier: simple
  replicas: 2
  template:
    spec:
      containers: [{name: app, image: busybox}]
""")
    obj = rest.ok(rest.post("/apis/medivote.io/v1alpha1/namespaces/hpa/medivoteservices", mvs))
    obj["status"] = {"replicas": 2, "selector": "app.kubernetes.io/instance=web"}
    rest.ok(rest.put("/apis/medivote.io/v1alpha1/namespaces/hpa/medivoteservices/web/status", obj))

    client = ScaleClient(rest)
    gv, plural = client.find("medivote.io", "MediVoteService")
    path = client.path(gv, plural, "hpa", "web")
    sc = rest.ok(rest.get(path))
    assert (sc["kind"], sc["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert sc["spec"]["replicas"] == 2 and sc["status"]["replicas"] == 2
    assert sc["status"]["selector"] == "app.kubernetes.io/instance=web"   # a string, as HPA parses it
    sc["spec"]["replicas"] = 5
    out = rest.ok(rest.put(path, sc))
    assert out["spec"]["replicas"] == 5
    assert rest.ok(rest.get("/apis/medivote.io/v1alpha1/namespaces/hpa/medivoteservices/web"))["spec"]["replicas"] == 5


# ---- 4. metadata.uid on writes ---------------------------------------------------------------------------------
WRONG_UID = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize("ptype,ctype,body", [
    ("merge", "application/merge-patch+json", {"metadata": {"uid": WRONG_UID, "labels": {"x": "y"}}}),
    ("strategic", "application/strategic-merge-patch+json", {"metadata": {"uid": WRONG_UID, "labels": {"x": "y"}}}),
    ("json", "application/json-patch+json", [{"op": "replace", "path": "/metadata/uid", "value": WRONG_UID},
                                             {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]),
    ("apply", "application/apply-patch+yaml", {"apiVersion": "v1", "kind": "Pod",
                                               "metadata": {"name": "u", "uid": WRONG_UID, "labels": {"x": "y"}}}),
])
def test_patch_with_another_uid_is_refused_not_applied(rest, sim_ns, ptype, ctype, body):
    """A patched object whose uid differs reaches rest.BeforeUpdate -> ValidateObjectMetaAccessorUpdate
    (ValidateImmutableField metadata.uid): 422, nothing written. Only a PUT carries the uid as a precondition."""
    base = POD.format(ns=sim_ns)
    created = rest.ok(rest.post(base, pod("u")))
    r = rest.request("PATCH", base + "/u" + ("?fieldManager=t" if ptype == "apply" else ""), json.dumps(body),
                     ctype=ctype)
    assert r.status == 422, r
    assert r.body["reason"] == "Invalid"
    assert r.body["message"] == f'Pod "u" is invalid: metadata.uid: Invalid value: "{WRONG_UID}": field is immutable'
    assert {c["field"] for c in r.body["details"]["causes"]} == {"metadata.uid"}
    now = rest.ok(rest.get(base + "/u"))
    assert now["metadata"]["uid"] == created["metadata"]["uid"]
    assert now["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert "x" not in (now["metadata"].get("labels") or {})


def test_patch_with_matching_uid_applies(rest, sim_ns):
    base = POD.format(ns=sim_ns)
    created = rest.ok(rest.post(base, pod("ok")))
    out = rest.ok(rest.patch(base + "/ok", {"metadata": {"uid": created["metadata"]["uid"], "labels": {"x": "y"}}}))
    assert out["metadata"]["labels"] == {"x": "y"}


def test_put_with_another_uid_fails_the_storage_precondition(rest, sim_ns):
    """rest.defaultUpdatedObjectInfo.Preconditions: a PUT body's uid is a precondition, checked by the storage
    (storage.Preconditions.Check) before the resourceVersion; InterpretUpdateError makes it a 409 Conflict."""
    base = POD.format(ns=sim_ns)
    created = rest.ok(rest.post(base, pod("p")))
    stored = created["metadata"]["uid"]
    created["metadata"]["uid"] = WRONG_UID
    created["metadata"]["labels"] = {"x": "y"}
    r = rest.put(base + "/p", created)
    assert r.status == 409, r
    assert r.body["reason"] == "Conflict"
    assert r.body["message"] == (
        f'Operation cannot be fulfilled on pods "p": StorageError: invalid object, Code: 4, Key: '
        f"/registry/pods/{sim_ns}/p, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in "
        f"precondition: {WRONG_UID}, UID in object meta: {stored}")
    assert r.body["details"] == {"name": "p", "kind": "pods"}
    assert "x" not in (rest.ok(rest.get(base + "/p"))["metadata"].get("labels") or {})


def test_patch_with_stale_resource_version_is_a_conflict(rest, sim_ns):
    """The patched object's resourceVersion must equal the stored one (registry Store.Update): 409 before any
    validation, so a stale rv wins over a wrong uid."""
    base = POD.format(ns=sim_ns)
    created = rest.ok(rest.post(base, pod("rv")))
    rest.ok(rest.patch(base + "/rv", {"metadata": {"labels": {"a": "1"}}}))
    r = rest.patch(base + "/rv", {"metadata": {"uid": WRONG_UID,
                                               "resourceVersion": created["metadata"]["resourceVersion"]}})
    assert r.status == 409 and r.body["reason"] == "Conflict", r
    assert "the object has been modified" in r.body["message"]


# ---- 5. pvc-protection -----------------------------------------------------------------------------------
def test_claim_gets_pvc_protection_finalizer_and_outlives_its_pod(rest, sim_ns):
    """StorageObjectInUseProtection admission adds kubernetes.io/pvc-protection; the pvc-protection controller
    removes it from a deleting claim once no scheduled pod names it (podUsesPVC)."""
    pvcs = f"/api/v1/namespaces/{sim_ns}/persistentvolumeclaims"
    c = rest.ok(rest.post(pvcs, pvc("data")))
    assert c["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    rest.ok(rest.post(POD.format(ns=sim_ns), pod("user", node="sim-node-1", volumes=[
        {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])))
    d = rest.ok(rest.delete(pvcs + "/data"))
    assert d["metadata"]["deletionTimestamp"]
    time.sleep(0.5)   # the controller runs every write and every second: give it a chance to be wrong
    still = rest.get(pvcs + "/data")
    assert still.status == 200 and still.body["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    rest.ok(rest.delete(POD.format(ns=sim_ns) + "/user", gracePeriodSeconds=0))
    poll(lambda: rest.get(pvcs + "/data").status == 404, 5, "claim gone once its pod is gone")


def test_unused_claim_is_deleted_at_once(rest, sim_ns):
    pvcs = f"/api/v1/namespaces/{sim_ns}/persistentvolumeclaims"
    rest.ok(rest.post(pvcs, pvc("free")))
    rest.ok(rest.post(POD.format(ns=sim_ns), pod("unscheduled", volumes=[
        {"name": "d", "persistentVolumeClaim": {"claimName": "free"}}])))   # no nodeName: does not count
    rest.ok(rest.delete(pvcs + "/free"))
    poll(lambda: rest.get(pvcs + "/free").status == 404, 5, "unused claim deleted")


def test_finalizer_put_back_on_a_claim_that_lost_it(rest, sim_ns):
    """The controller also adds the finalizer to live claims lacking it (protectionutil.NeedToAddFinalizer)."""
    pvcs = f"/api/v1/namespaces/{sim_ns}/persistentvolumeclaims"
    rest.ok(rest.post(pvcs, pvc("c")))
    rest.ok(rest.request("PATCH", pvcs + "/c", json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]),
                         ctype="application/json-patch+json"))
    poll(lambda: rest.get(pvcs + "/c").body["metadata"].get("finalizers") == ["kubernetes.io/pvc-protection"], 5,
         "finalizer added again")


def test_namespace_deletion_waits_for_a_claim_in_use(rest):
    ns = f"pvcns-{os.getpid()}-{int(time.time() * 1000) % 100000}"
    rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": ns}}))
    poll(lambda: rest.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default").status == 200, 5, "default SA")
    rest.ok(rest.post(f"/api/v1/namespaces/{ns}/persistentvolumeclaims", pvc("data")))
    rest.ok(rest.post(POD.format(ns=ns), pod("user", node="sim-node-1", volumes=[
        {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])))
    rest.ok(rest.delete(f"/api/v1/namespaces/{ns}"))
    claim = poll(lambda: (lambda r: r.body if r.status == 200 and r.body["metadata"].get("deletionTimestamp")
                          else None)(rest.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/data")), 5,
                 "claim terminating")
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert rest.get(f"/api/v1/namespaces/{ns}").status == 200
    rest.ok(rest.delete(POD.format(ns=ns) + "/user", gracePeriodSeconds=0))   # what the kubelet does at the end
    poll(lambda: rest.get(f"/api/v1/namespaces/{ns}").status == 404, 10, "namespace gone after its claim")


# ---- 6. per-namespace defaults and ServiceAccount admission ------------------------------------------------------
def test_kube_root_ca_configmap_in_every_namespace(rest, sim, sim_ns):
    """root-ca-cert-publisher (kube-controller-manager): ConfigMap kube-root-ca.crt, key ca.crt = the cluster CA,
    annotation kubernetes.io/description; recreated when deleted, data put back when changed."""
    ca = open(os.path.join(sim.dir, "ca.crt")).read()
    path = f"/api/v1/namespaces/{sim_ns}/configmaps/kube-root-ca.crt"
    cm = poll(lambda: rest.get(path).body if rest.get(path).status == 200 else None, 5, "kube-root-ca.crt")
    assert cm["data"] == {"ca.crt": ca}
    assert cm["metadata"]["annotations"]["kubernetes.io/description"].startswith(
        "Contains a CA bundle that can be used to verify the kube-apiserver")
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert rest.get(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt").status == 200, ns
    rest.ok(rest.delete(path))
    again = poll(lambda: (lambda r: r.body if r.status == 200 else None)(rest.get(path)), 5, "recreated")
    assert again["metadata"]["uid"] != cm["metadata"]["uid"] and again["data"] == {"ca.crt": ca}
    rest.ok(rest.patch(path, {"data": {"ca.crt": "tampered"}}))
    poll(lambda: rest.get(path).body["data"] == {"ca.crt": ca}, 5, "data put back")


def test_default_service_account_in_every_namespace(rest, sim_ns):
    """serviceaccount controller: `default` in every active namespace, created again when deleted."""
    path = f"/api/v1/namespaces/{sim_ns}/serviceaccounts/default"
    sa = poll(lambda: (lambda r: r.body if r.status == 200 else None)(rest.get(path)), 5, "default SA")
    for ns in ("kube-system", "kube-public", "kube-node-lease"):
        assert rest.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default").status == 200, ns
    rest.ok(rest.delete(path))
    again = poll(lambda: (lambda r: r.body if r.status == 200 else None)(rest.get(path)), 5, "recreated")
    assert again["metadata"]["uid"] != sa["metadata"]["uid"]


def _token_volume(p):
    vols = [v for v in p["spec"].get("volumes") or [] if v["name"].startswith("kube-api-access-")]
    return vols[0] if vols else None


def test_service_account_admission_adds_the_projected_token_volume(rest, sim_ns):
    """plugin/pkg/admission/serviceaccount: serviceAccountName defaults to `default`; volume kube-api-access-<5>
    (TokenVolumeSource) mounted read-only at the token path in every container and init container."""
    body = pod("sa", initContainers=[{"name": "init", "image": "busybox"}])
    body["spec"]["containers"].append({"name": "own", "image": "busybox", "volumeMounts": [
        {"name": "mine", "mountPath": TOKEN_PATH}]})
    body["spec"]["volumes"] = [{"name": "mine", "emptyDir": {}}]
    p = rest.ok(rest.post(POD.format(ns=sim_ns), body))
    assert p["spec"]["serviceAccountName"] == "default" and p["spec"]["serviceAccount"] == "default"
    vol = _token_volume(p)
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", vol["name"]), vol
    assert vol["projected"] == {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}}],
        "defaultMode": 420}
    mount = {"name": vol["name"], "readOnly": True, "mountPath": TOKEN_PATH}
    by_name = {c["name"]: c for c in p["spec"]["containers"] + p["spec"]["initContainers"]}
    assert mount in by_name["app"]["volumeMounts"] and mount in by_name["init"]["volumeMounts"]
    assert by_name["own"]["volumeMounts"] == [{"name": "mine", "mountPath": TOKEN_PATH}]   # path already taken


def test_automount_false_on_pod_or_service_account(rest, sim_ns):
    base = POD.format(ns=sim_ns)
    assert _token_volume(rest.ok(rest.post(base, pod("off", automountServiceAccountToken=False)))) is None
    rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/serviceaccounts",
                      {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False}))
    assert _token_volume(rest.ok(rest.post(base, pod("q", serviceAccountName="quiet")))) is None
    p = rest.ok(rest.post(base, pod("q2", serviceAccountName="quiet", automountServiceAccountToken=True)))
    assert _token_volume(p) is not None   # the pod's preference wins (shouldAutomount)


def test_pod_naming_a_missing_service_account_is_forbidden(rest, sim_ns):
    r = rest.post(POD.format(ns=sim_ns), pod("nosa", serviceAccountName="ghost"))
    assert r.status == 403, r
    assert r.body["reason"] == "Forbidden"
    assert r.body["message"] == (f'pods "nosa" is forbidden: error looking up service account {sim_ns}/ghost: '
                                 'serviceaccount "ghost" not found')
    assert r.body["details"] == {"name": "nosa", "kind": "pods"}
    g = pod("x", serviceAccountName="ghost")
    g["metadata"] = {"generateName": "web-"}
    r = rest.post(POD.format(ns=sim_ns), g)
    assert r.status == 403 and r.body["message"].startswith('pods "web-" is forbidden'), r   # NewForbidden's name


def test_pod_right_after_its_namespace_is_admitted(rest):
    """The plugin retries the `default` ServiceAccount (10 live lookups) while the controller creates it, so a
    namespace and a pod created back to back work, as against the real server."""
    for i in range(5):
        ns = f"race-{os.getpid()}-{i}-{int(time.time() * 1000) % 100000}"
        rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": ns}}))
        p = rest.ok(rest.post(POD.format(ns=ns), pod("first")))
        assert _token_volume(p) is not None
        rest.delete(f"/api/v1/namespaces/{ns}")


# ---- 1b. streaming lists (sendInitialEvents) ---------------------------------------------------------------------
def test_streaming_list_answers_as_the_captured_server(rest, sim_ns):
    """edge-cases-2026-12.md "Streaming lists": 1.32 on etcd 3.4.23 answers a WatchList request with 200 and one
    ERROR event (500, RequestWatchProgress disabled); sendInitialEvents is a bool like the others ("True")."""
    r = rest.request("GET", f"/api/v1/namespaces/{sim_ns}/pods?watch=1&sendInitialEvents=True"
                            "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5")
    assert r.status == 200, r
    events = [json.loads(line) for line in r.raw.decode().splitlines()]
    assert events == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "a watch stream was requested by the client but the required storage feature RequestWatchProgress "
                   "is disabled", "reason": "InternalError", "code": 500}}]


@pytest.mark.parametrize("query,message", [
    ("sendInitialEvents=true", "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                               "resourceVersionMatch to NotOlderThan"),
    ("resourceVersionMatch=NotOlderThan", "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for "
                                          "watch unless sendInitialEvents is provided"),
])
def test_watch_list_options_validated_like_validate_watch_options(rest, sim_ns, query, message):
    """apimachinery internalversion/validation validateWatchOptions: 422 on ListOptions."""
    r = rest.request("GET", f"/api/v1/namespaces/{sim_ns}/pods?watch=true&timeoutSeconds=1&{query}")
    assert r.status == 422, r
    assert r.body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {message}'
    assert r.body["details"]["kind"] == "ListOptions" and r.body["details"]["group"] == "meta.k8s.io"


def test_apply_that_names_a_uid_cannot_create(rest, sim_ns):
    """endpoints/handlers/patch.go applyPatch: a server-side apply creating an object whose config carries a uid is a
    409 (`uid mismatch: ... no existing object was found`), not a create with a fresh uid."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "uid": WRONG_UID}}
    r = rest.request("PATCH", f"/api/v1/namespaces/{sim_ns}/configmaps/ssa?fieldManager=t", json.dumps(body),
                     ctype="application/apply-patch+yaml")
    assert r.status == 409 and r.body["reason"] == "Conflict", r
    assert r.body["message"] == (f'Operation cannot be fulfilled on configmaps "ssa": uid mismatch: the provided '
                                 f"object specified uid {WRONG_UID}, and no existing object was found")
    assert rest.get(f"/api/v1/namespaces/{sim_ns}/configmaps/ssa").status == 404
