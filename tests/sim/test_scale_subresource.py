"""The scale subresource of a custom resource, as kube-apiserver 1.32 serves it and the HPA's scale client reads it.

Every expectation comes from the real server's traffic in shared/k8s-reference/ (cr-semantics.json "/scale"
steps, kubectl-scale-mvs.txt, dry-run.json, table-output.json, discovery-legacy.json, discovery-aggregated.json) or,
where nothing was captured, from the code named in the test (apiextensions-apiserver pkg/registry/customresource
etcd.go ScaleREST and validator.go, pkg/apiserver/customresource_handler.go serveScale)."""
import json
import os

import pytest

from simlib import poll

CRD = os.path.join(os.path.dirname(__file__), "apiserver", "data", "crd-medivoteservice.yaml")
GV = "/apis/medivote.io/v1alpha1"
AGG = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
SCALE_KIND = {"kind": "Scale", "apiVersion": "autoscaling/v1"}


@pytest.fixture(scope="module")
def crd(sim):
    sim.kubectl("apply", "-f", CRD)
    poll(lambda: sim.rest.get(GV).status == 200, 10, "medivote.io/v1alpha1 served")


@pytest.fixture
def mvs(crd, rest, sim_ns):
    """A MediVoteService `sem` (2 replicas) whose status carries replicas and a selector, as cr-semantics.json's."""
    base = f"{GV}/namespaces/{sim_ns}/medivoteservices"
    obj = rest.ok(rest.post(base, {"apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
                                   "metadata": {"name": "sem", "labels": {"app": "medivote"}},
                                   "spec": {"tier": "critical", "replicas": 2, "template": {"image": "i:1"}}}))
    obj["status"] = {"replicas": 2, "selector": "app=medivote"}
    rest.ok(rest.put(f"{base}/sem/status", obj))
    return f"{base}/sem"


def test_discovery_lists_scale_as_autoscaling_v1_and_status_without_group(crd, rest):
    """discovery-legacy.json: medivoteservices/scale names group autoscaling, version v1, kind Scale; the CR's own
    /status names no group or version (customresource_discovery_controller.go)."""
    res = {r["name"]: r for r in rest.ok(rest.get(GV))["resources"]}
    assert res["medivoteservices/scale"] == {"name": "medivoteservices/scale", "singularName": "", "namespaced": True,
                                             "group": "autoscaling", "version": "v1", "kind": "Scale",
                                             "verbs": ["get", "patch", "update"]}
    assert res["medivoteservices/status"] == {"name": "medivoteservices/status", "singularName": "",
                                              "namespaced": True, "kind": "MediVoteService",
                                              "verbs": ["get", "patch", "update"]}
    agg = rest.request("GET", "/apis", headers={"Accept": AGG}).body
    group = next(i for i in agg["items"] if i["metadata"]["name"] == "medivote.io")
    (resource,) = [r for r in group["versions"][0]["resources"] if r["resource"] == "medivoteservices"]
    assert {s["subresource"]: (s["responseKind"], s["verbs"]) for s in resource["subresources"]} == {
        "status": ({"group": "medivote.io", "version": "v1alpha1", "kind": "MediVoteService"},
                   ["get", "patch", "update"]),
        "scale": ({"group": "autoscaling", "version": "v1", "kind": "Scale"}, ["get", "patch", "update"])}


def test_get_put_patch_as_captured(rest, mvs):
    """cr-semantics.json: GET builds the Scale from the CRD's three paths; PUT with the Scale's resourceVersion and
    a merge patch both write spec.replicas, bump the generation and answer the new Scale; a stale PUT is 409."""
    obj = rest.ok(rest.get(mvs))
    sc = rest.ok(rest.get(mvs + "/scale"))
    md = obj["metadata"]
    assert sc == {**SCALE_KIND, "metadata": {"name": "sem", "namespace": md["namespace"], "uid": md["uid"],
                                             "resourceVersion": md["resourceVersion"],
                                             "creationTimestamp": md["creationTimestamp"]},
                  "spec": {"replicas": 2}, "status": {"replicas": 2, "selector": "app=medivote"}}
    stale = json.loads(json.dumps(sc))
    sc["spec"]["replicas"] = 4
    out = rest.ok(rest.put(mvs + "/scale", sc))
    assert out["spec"] == {"replicas": 4} and out["status"] == {"replicas": 2, "selector": "app=medivote"}
    assert int(out["metadata"]["resourceVersion"]) > int(md["resourceVersion"])
    after = rest.ok(rest.get(mvs))
    assert after["spec"]["replicas"] == 4 and after["metadata"]["generation"] == md["generation"] + 1
    assert after["metadata"]["resourceVersion"] == out["metadata"]["resourceVersion"]
    out = rest.ok(rest.patch(mvs + "/scale", {"spec": {"replicas": 5}}))
    assert out["spec"] == {"replicas": 5} and rest.ok(rest.get(mvs))["metadata"]["generation"] == md["generation"] + 2
    out = rest.ok(rest.patch(mvs + "/scale", [{"op": "replace", "path": "/spec/replicas", "value": 3}], ptype="json"))
    assert out["spec"] == {"replicas": 3}
    r = rest.put(mvs + "/scale", stale)
    assert r.status == 409 and r.body["reason"] == "Conflict"
    assert r.body["message"] == ('Operation cannot be fulfilled on medivoteservices.medivote.io "sem": the object has '
                                 "been modified; please apply your changes to the latest version and try again")
    assert r.body["details"] == {"name": "sem", "group": "medivote.io", "kind": "medivoteservices"}


def test_scale_without_status_reads_zero_replicas_and_no_selector(crd, rest, sim_ns):
    """kubectl-scale-mvs.txt: a resource with no status answers "status":{"replicas":0}, no selector key."""
    base = f"{GV}/namespaces/{sim_ns}/medivoteservices"
    rest.ok(rest.post(base, {"apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
                             "metadata": {"name": "api"}, "spec": {"tier": "critical", "replicas": 2,
                                                                   "template": {"image": "i:1"}}}))
    sc = rest.ok(rest.patch(f"{base}/api/scale", {"spec": {"replicas": 3}}))
    assert sc["spec"] == {"replicas": 3} and sc["status"] == {"replicas": 0}


def test_negative_replicas_is_the_resources_own_422(rest, mvs):
    """cr-semantics.json: the updated MediVoteService is validated as any update of it, so the 422 (PUT and PATCH
    alike) names the MediVoteService, with the schema's minimum and validateScaleSpec's cause (leading dot)."""
    for r in (rest.put(mvs + "/scale", {**SCALE_KIND, "metadata": {"name": "sem"}, "spec": {"replicas": -1}}),
              rest.patch(mvs + "/scale", {"spec": {"replicas": -1}})):
        _assert_negative_422(r)
    assert rest.ok(rest.get(mvs))["spec"]["replicas"] == 2


def _assert_negative_422(r):
    assert r.status == 422, r
    assert r.body["message"] == (
        'MediVoteService.medivote.io "sem" is invalid: [spec.replicas: Invalid value: -1: spec.replicas in body '
        "should be greater than or equal to 0, .spec.replicas: Invalid value: -1: should be a non-negative integer]")
    assert r.body["details"] == {"name": "sem", "group": "medivote.io", "kind": "MediVoteService", "causes": [
        {"reason": "FieldValueInvalid", "field": "spec.replicas",
         "message": "Invalid value: -1: spec.replicas in body should be greater than or equal to 0"},
        {"reason": "FieldValueInvalid", "field": ".spec.replicas",
         "message": "Invalid value: -1: should be a non-negative integer"}]}


def test_status_writes_are_checked_against_the_scale_paths(rest, mvs):
    """validator.go ValidateStatusUpdate -> validateScaleStatus: status replicas non-negative, selector a string."""
    r = rest.patch(mvs + "/status", {"status": {"replicas": -3}})
    assert r.status == 422 and {"field": ".status.replicas", "reason": "FieldValueInvalid",
                                "message": "Invalid value: -3: should be a non-negative integer"} \
        in r.body["details"]["causes"], r
    r = rest.patch(mvs + "/status", {"status": {"selector": {"app": "medivote"}}})
    assert r.status == 422 and any(c["field"] == ".status.selector" and "expected string" in c["message"]
                                   for c in r.body["details"]["causes"]), r
    assert rest.ok(rest.get(mvs + "/scale"))["status"] == {"replicas": 2, "selector": "app=medivote"}


def test_dry_run_answers_the_scale_and_writes_nothing(rest, mvs):
    """dry-run.json: PATCH /scale?dryRun=All answers the new spec with the unchanged resourceVersion."""
    before = rest.ok(rest.get(mvs))
    out = rest.ok(rest.patch(mvs + "/scale?dryRun=All", {"spec": {"replicas": 7}}))
    assert out["spec"] == {"replicas": 7}
    assert out["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert rest.ok(rest.get(mvs)) == before


def test_other_verbs_are_405_and_leave_the_resource(rest, mvs):
    """customresource_handler.go serveScale: get, update and patch; anything else is NewMethodNotSupported. A
    DELETE of .../sem/scale must not delete sem, a POST must not create anything."""
    for method, verb in (("DELETE", "delete"), ("POST", "create")):
        r = rest.request(method, mvs + "/scale", {**SCALE_KIND, "metadata": {"name": "sem"},
                                                   "spec": {"replicas": 1}})
        assert r.status == 405, r
        assert r.body["reason"] == "MethodNotAllowed"
        assert r.body["message"] == f'{verb} is not supported on resources of kind "medivoteservices.medivote.io"'
        assert r.body["details"] == {"group": "medivote.io", "kind": "medivoteservices"}
        assert rest.ok(rest.get(mvs))["spec"]["replicas"] == 2


def test_get_with_a_watch_query_is_still_a_get(rest, mvs):
    """RequestInfoFactory makes a GET a list or watch only without a name: .../sem/scale?watch=1 is the Scale."""
    r = rest.request("GET", mvs + "/scale?watch=1&timeoutSeconds=1")
    assert r.status == 200 and r.body["kind"] == "Scale" and r.body["spec"] == {"replicas": 2}, r


def test_replicas_decode_as_the_typed_scale(rest, mvs):
    """ScaleREST decodes into autoscaling/v1 Scale (int32 replicas): null or absent is 0; a string is a decode
    error, 400 from a PUT (transformDecodeError) and 422 on the field `patch` from a patch (patch.go)."""
    err = "json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32"
    r = rest.put(mvs + "/scale", {**SCALE_KIND, "metadata": {"name": "sem"}, "spec": {"replicas": "3"}})
    assert (r.status, r.body["reason"]) == (400, "BadRequest"), r
    assert r.body["message"] == f'Scale in version "v1" cannot be handled as a Scale: {err}'
    r = rest.patch(mvs + "/scale", {"spec": {"replicas": "3"}})
    assert (r.status, r.body["reason"]) == (422, "Invalid"), r
    assert r.body["details"]["causes"][0]["field"] == "patch" and r.body["message"].endswith(err)
    r = rest.put(mvs + "/scale", {**SCALE_KIND, "metadata": {"name": "other"}, "spec": {"replicas": 1}})
    assert r.status == 400 and r.body["message"] == \
        "the name of the object (other) does not match the name on the URL (sem)", r
    assert rest.ok(rest.get(mvs))["spec"]["replicas"] == 2
    assert rest.ok(rest.patch(mvs + "/scale", {"spec": {"replicas": None}}))["spec"] == {"replicas": 0}
    assert rest.ok(rest.get(mvs))["spec"]["replicas"] == 0


def test_server_side_apply_of_a_scale_sets_replicas_only(rest, mvs):
    """serveScale accepts apply-patch: the applied Scale's replicas land at specReplicasPath, nothing else."""
    before = rest.ok(rest.get(mvs))
    body = json.dumps({**SCALE_KIND, "metadata": {"name": "sem"}, "spec": {"replicas": 6}})
    r = rest.request("PATCH", mvs + "/scale?fieldManager=hpa-test&force=true", body,
                     ctype="application/apply-patch+yaml")
    assert r.status == 200 and r.body["kind"] == "Scale" and r.body["spec"] == {"replicas": 6}, r
    after = rest.ok(rest.get(mvs))
    assert (after["kind"], after["apiVersion"]) == ("MediVoteService", "medivote.io/v1alpha1")
    assert after["spec"] == {**before["spec"], "replicas": 6}
    r = rest.request("PATCH", mvs + "/scale", body, ctype="application/apply-patch+yaml")
    assert r.status == 422 and r.body["details"]["causes"][0]["field"] == "fieldManager", r


def _varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(num, value):
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def test_protobuf_scale_update_as_the_controller_manager_sends_it(rest, mvs):
    """kube-controller-manager's clients speak protobuf: the HPA PUTs a `k8s\\0` runtime.Unknown wrapping an
    autoscaling/v1 Scale (generated.proto: metadata 1, spec 2 {replicas 1}, status 3), Accept protobuf then JSON."""
    sc = rest.ok(rest.get(mvs + "/scale"))
    meta = _field(1, "sem") + _field(3, sc["metadata"]["namespace"]) + _field(6, sc["metadata"]["resourceVersion"])
    scale = _field(1, meta) + _field(2, _field(1, 5)) + _field(3, _field(1, 2) + _field(2, "app=medivote"))
    raw = b"k8s\x00" + _field(1, _field(1, "autoscaling/v1") + _field(2, "Scale")) + _field(2, scale)
    r = rest.request("PUT", mvs + "/scale", raw, ctype="application/vnd.kubernetes.protobuf",
                     headers={"Accept": "application/vnd.kubernetes.protobuf, application/json"})
    assert r.status == 200 and r.headers["Content-Type"] == "application/json", r
    assert r.body["spec"] == {"replicas": 5}
    assert rest.ok(rest.get(mvs))["spec"]["replicas"] == 5
    r = rest.request("PUT", mvs + "/scale", raw, ctype="application/vnd.kubernetes.protobuf")
    assert r.status == 409 and r.body["reason"] == "Conflict", r   # the same resourceVersion, now stale


def test_table_of_a_scale(rest, mvs):
    """table-output.json: Name, Desired, Available, Age, the row's object PartialObjectMetadata."""
    t = rest.request("GET", mvs + "/scale", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).body
    assert t["kind"] == "Table" and [c["name"] for c in t["columnDefinitions"]] == \
        ["Name", "Desired", "Available", "Age"]
    assert [c["type"] for c in t["columnDefinitions"]] == ["string", "integer", "integer", "date"]
    (row,) = t["rows"]
    assert row["cells"][:3] == ["sem", 2, 2] and row["object"]["kind"] == "PartialObjectMetadata"
