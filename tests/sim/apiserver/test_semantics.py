"""Write semantics over REST: optimistic concurrency, CR PUT rules, generation, /status, validation causes,
pruning and fieldValidation, patch content types, dry-run, MicroTime, events validation."""
import copy

import pytest
import yaml

from simlib import poll
from test_kubectl import CRD

MVS = "/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices"


@pytest.fixture(scope="module", autouse=True)
def crd(sim):
    sim.kubectl("apply", "-f", CRD)
    poll(lambda: sim.rest.get("/apis/medivote.io/v1alpha1").status == 200, 5, "CRD served")


def mvs(name, **spec):
    return {"apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService", "metadata": {"name": name},
            "spec": {"tier": "critical", **spec}}


def test_stale_update_gets_409_conflict(rest, sim_ns):
    base = MVS.format(ns=sim_ns)
    obj = rest.ok(rest.post(base, mvs("sem")))
    stale = copy.deepcopy(obj)
    obj["spec"]["replicas"] = 4
    rest.ok(rest.put(base + "/sem", obj))
    stale["spec"]["replicas"] = 5
    r = rest.put(base + "/sem", stale)
    assert r.status == 409
    assert r.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": 'Operation cannot be fulfilled on medivoteservices.medivote.io "sem": the object has '
                                 "been modified; please apply your changes to the latest version and try again",
                      "reason": "Conflict", "details": {"name": "sem", "group": "medivote.io",
                                                        "kind": "medivoteservices"}, "code": 409}
    # built-ins: stale RV 409 too, but an unconditional PUT is allowed
    cmb = f"/api/v1/namespaces/{sim_ns}/configmaps"
    c = rest.ok(rest.post(cmb, {"metadata": {"name": "c"}, "data": {"a": "1"}}))
    c2 = dict(c, data={"a": "2"})
    rest.ok(rest.put(cmb + "/c", c2))
    assert rest.put(cmb + "/c", dict(c, data={"a": "3"})).status == 409
    del c["metadata"]["resourceVersion"]
    assert rest.put(cmb + "/c", dict(c, data={"a": "4"})).status == 200


def test_cr_put_without_resource_version_is_422(rest, sim_ns):
    base = MVS.format(ns=sim_ns)
    obj = rest.ok(rest.post(base, mvs("norv")))
    del obj["metadata"]["resourceVersion"]
    r = rest.put(base + "/norv", obj)
    assert r.status == 422
    assert r.body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                                            "message": "Invalid value: 0x0: must be specified for an update"}]


def test_generation_status_and_noop_rules(rest, sim_ns):
    base = MVS.format(ns=sim_ns)
    o = rest.ok(rest.post(base, dict(mvs("gen"), status={"replicas": 9})))
    assert o["metadata"]["generation"] == 1 and "status" not in o and o["spec"]["replicas"] == 1  # default
    rv0 = o["metadata"]["resourceVersion"]
    o = rest.ok(rest.patch(base + "/gen", {"metadata": {"labels": {"l": "1"}}}))
    assert o["metadata"]["generation"] == 1 and o["metadata"]["resourceVersion"] != rv0
    o = rest.ok(rest.patch(base + "/gen", {"status": {"replicas": 3}}))
    assert "status" not in o, "the main endpoint drops status"
    o = rest.ok(rest.patch(base + "/gen/status", {"spec": {"replicas": 7}, "metadata": {"labels": {"l": "2"}},
                                                  "status": {"replicas": 3}}))
    assert o["status"] == {"replicas": 3} and o["spec"]["replicas"] == 1 and o["metadata"]["labels"] == {"l": "1"}
    assert o["metadata"]["generation"] == 1
    o = rest.ok(rest.patch(base + "/gen", {"spec": {"replicas": 2}}))
    assert o["metadata"]["generation"] == 2
    rv = o["metadata"]["resourceVersion"]
    o = rest.ok(rest.patch(base + "/gen", {"spec": {"replicas": 2}}))
    assert o["metadata"]["resourceVersion"] == rv, "a no-op update keeps the resourceVersion"
    o = rest.ok(rest.put(base + "/gen/scale", {"kind": "Scale", "apiVersion": "autoscaling/v1",
                                               "metadata": {"name": "gen"}, "spec": {"replicas": 6}}))
    assert o["spec"]["replicas"] == 6 and o["status"]["replicas"] == 3
    assert rest.get(base + "/gen").body["metadata"]["generation"] == 3
    # pods have no generation
    p = rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/pods",
                          {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}))
    assert "generation" not in p["metadata"]


def test_invalid_cr_gets_422_with_causes_naming_fields(rest, sim_ns):
    r = rest.post(MVS.format(ns=sim_ns), {"apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
                                          "metadata": {"name": "bad"},
                                          "spec": {"tier": "gold", "replicas": -1}})
    assert r.status == 422 and r.body["reason"] == "Invalid"
    causes = {c["field"]: c for c in r.body["details"]["causes"]}
    assert causes["spec.tier"]["reason"] == "FieldValueNotSupported"
    assert causes["spec.tier"]["message"] == 'Unsupported value: "gold": supported values: "critical", "simple"'
    assert causes["spec.replicas"]["message"] == \
        "Invalid value: -1: spec.replicas in body should be greater than or equal to 0"
    assert r.body["details"]["kind"] == "MediVoteService" and r.body["details"]["group"] == "medivote.io"
    assert r.body["message"].startswith('MediVoteService.medivote.io "bad" is invalid: [')
    r = rest.post(MVS.format(ns=sim_ns), mvs("typ", replicas="three"))
    assert r.status == 422 and r.body["details"]["causes"][0]["field"] == "spec.replicas"


def test_unknown_fields_warn_strict_ignore(rest, sim_ns):
    base = MVS.format(ns=sim_ns)
    body = dict(mvs("unk", colour="red"), extraTop=1)
    r = rest.post(base, body)
    assert r.status == 201 and "colour" not in r.body["spec"] and "extraTop" not in r.body
    warnings = r.headers.get_all("Warning")
    assert '299 - "unknown field \\"spec.colour\\""' in warnings and len(warnings) == 2
    body["metadata"]["name"] = "unk2"
    r = rest.post(base + "?fieldValidation=Strict", body)
    assert r.status == 400
    assert r.body["message"] == ('MediVoteService in version "v1alpha1" cannot be handled as a MediVoteService: '
                                 'strict decoding error: unknown field "extraTop", unknown field "spec.colour"')
    r = rest.post(base + "?fieldValidation=Ignore", body)
    assert r.status == 201 and not r.headers.get_all("Warning")


def test_patch_content_types(rest, sim_ns):
    base = MVS.format(ns=sim_ns)
    rest.ok(rest.post(base, mvs("pt")))
    r = rest.patch(base + "/pt", {"spec": {"replicas": 2}}, "strategic")
    assert r.status == 415 and "application/json-patch+json, application/merge-patch+json" in r.body["message"]
    r = rest.request("PATCH", base + "/pt", {"spec": {}}, ctype="application/json")
    assert r.status == 415 and r.body["message"] == "415: Unsupported Media Type"
    assert rest.patch(base + "/pt", [{"op": "replace", "path": "/spec/replicas", "value": 3}], "json").body[
        "spec"]["replicas"] == 3
    r = rest.patch(base + "/pt", [{"op": "test", "path": "/spec/replicas", "value": 9}], "json")
    assert r.status == 422
    # strategic merge on a pod merges containers by name, $patch: delete removes an env entry
    pods = f"/api/v1/namespaces/{sim_ns}/pods"
    rest.ok(rest.post(pods, {"metadata": {"name": "smp"}, "spec": {"containers": [
        {"name": "a", "image": "x:1", "env": [{"name": "E", "value": "1"}]}, {"name": "b", "image": "y:1"}]}}))
    o = rest.ok(rest.patch(pods + "/smp", {"spec": {"containers": [{"name": "b", "image": "y:2"}]}}, "strategic"))
    assert [(c["name"], c["image"]) for c in o["spec"]["containers"]] == [("a", "x:1"), ("b", "y:2")]
    r = rest.patch(pods + "/smp", {"spec": {"containers": [{"name": "b", "image": "y:3"}]}}, "merge")
    assert r.status == 422 and r.body["details"]["causes"][0]["field"] == "spec.containers"


def test_dry_run_create_update_delete(rest, sim_ns):
    base = MVS.format(ns=sim_ns)
    r = rest.post(base + "?dryRun=All", mvs("dr"))
    assert r.status == 201 and r.body["metadata"]["uid"] and "resourceVersion" not in r.body["metadata"]
    assert rest.get(base + "/dr").status == 404
    o = rest.ok(rest.post(base, mvs("dr")))
    r = rest.patch(base + "/dr?dryRun=All", {"spec": {"replicas": 9}})
    assert r.status == 200 and r.body["spec"]["replicas"] == 9
    assert rest.get(base + "/dr").body == o
    assert rest.delete(base + "/dr?dryRun=All").status == 200
    assert rest.get(base + "/dr").status == 200
    assert rest.post(base + "?dryRun=Some", mvs("dr2")).status == 422


def test_not_found_conflicts_and_odd_codes(rest, sim_ns):
    base = MVS.format(ns=sim_ns)
    r = rest.get(base + "/nope")
    assert r.status == 404 and r.body["details"] == {"name": "nope", "group": "medivote.io",
                                                     "kind": "medivoteservices"}
    rest.ok(rest.post(base, mvs("dup")))
    r = rest.post(base, mvs("dup"))
    assert r.status == 409 and r.body["reason"] == "AlreadyExists"
    assert rest.request("PUT", base, mvs("x")).body["message"] == "name must be provided"
    r = rest.get("/apis/nosuch.io/v1/things")
    assert r.status == 404 and r.body == "404 page not found\n"
    r = rest.post(base, dict(mvs("k"), kind="Other"))
    assert r.status == 422 and r.body["details"]["kind"] == "Other"
    r = rest.get(f"/api/v1/namespaces/{sim_ns}/pods?resourceVersion=abc")
    assert r.status == 500
    assert rest.get(f"/api/v1/namespaces/{sim_ns}/pods/x/eviction").status == 405
    assert rest.request("POST", "/api/v1/namespaces/nonexist/configmaps", {"metadata": {"name": "a"}}).status == 404


def test_yaml_in_and_out(rest, sim_ns):
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}, "data": {"a": "b"}})
    r = rest.request("POST", f"/api/v1/namespaces/{sim_ns}/configmaps", body, ctype="application/yaml")
    assert r.status == 201
    r = rest.request("GET", f"/api/v1/namespaces/{sim_ns}/configmaps/y", headers={"Accept": "application/yaml"})
    assert r.headers["Content-Type"] == "application/yaml"
    assert yaml.safe_load(r.raw)["data"] == {"a": "b"}


def test_lease_microtime_and_validation(rest, sim_ns):
    base = f"/apis/coordination.k8s.io/v1/namespaces/{sim_ns}/leases"
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                                                 "renewTime": "2026-11-25T20:30:00Z"}}
    r = rest.post(base, lease)
    assert r.status == 400
    assert r.body["message"].endswith('parsing time "2026-11-25T20:30:00Z" as "2006-01-02T15:04:05.000000Z07:00": '
                                      'cannot parse "Z" as ".000000"')
    lease["spec"]["renewTime"] = "2026-11-25T21:30:00.123456+01:00"
    o = rest.ok(rest.post(base, lease))
    assert o["spec"]["renewTime"] == "2026-11-25T20:30:00.123456Z"
    r = rest.patch(base + "/l", {"spec": {"leaseDurationSeconds": 0}})
    assert r.status == 422 and r.body["details"]["causes"][0]["field"] == "spec.leaseDurationSeconds"


def test_events_validation_both_apis(rest, sim_ns):
    r = rest.post(f"/api/v1/namespaces/{sim_ns}/events",
                  {"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": sim_ns},
                   "type": "Info", "reason": "R"})
    assert r.status == 201
    r = rest.post(f"/api/v1/namespaces/{sim_ns}/events",
                  {"metadata": {"name": "e2"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "x"}})
    assert r.status == 422 and r.body["details"]["causes"][0]["field"] == "involvedObject.namespace"
    base = f"/apis/events.k8s.io/v1/namespaces/{sim_ns}/events"
    r = rest.post(base, {"metadata": {"name": "n1"}, "regarding": {"kind": "Pod", "name": "p", "namespace": sim_ns}})
    assert r.status == 422
    assert [c["field"] for c in r.body["details"]["causes"]] == ["eventTime", "type"]
    good = {"metadata": {"name": "n2"}, "regarding": {"kind": "Pod", "name": "p", "namespace": sim_ns},
            "eventTime": "2026-11-25T20:27:24.000000Z", "reportingController": "medivote.io/operator",
            "reportingInstance": "op-1", "action": "Shutdown", "reason": "Drain", "type": "Normal", "note": "x"}
    rest.ok(rest.post(base, good))
    bad = dict(good, metadata={"name": "n3"}, eventTime="2026-11-25T20:27:24Z")
    assert rest.post(base, bad).status == 400
    r = rest.patch(base + "/n2", {"note": "changed"})
    assert r.status == 422 and r.body["details"]["causes"][0]["message"] == \
        'Invalid value: "changed": field is immutable'


def test_events_are_one_resource_through_both_apis(rest, sim_ns):
    new = {"metadata": {"name": "x1"}, "regarding": {"kind": "Pod", "name": "p", "namespace": sim_ns},
           "eventTime": "2026-11-25T20:27:24.064523Z", "series": {"count": 2,
                                                                 "lastObservedTime": "2026-11-25T20:27:24.067822Z"},
           "reportingController": "medivote.io/operator", "reportingInstance": "op-1", "action": "Shutdown",
           "reason": "Drain", "type": "Normal", "note": "asked to shut down"}
    w = rest.watch(f"/api/v1/namespaces/{sim_ns}/events")
    rest.ok(rest.post(f"/apis/events.k8s.io/v1/namespaces/{sim_ns}/events", new))
    core = rest.get(f"/api/v1/namespaces/{sim_ns}/events/x1").body
    assert core["apiVersion"] == "v1" and core["message"] == "asked to shut down"
    assert core["involvedObject"] == new["regarding"] and core["reportingComponent"] == "medivote.io/operator"
    assert core["series"] == new["series"] and core["firstTimestamp"] is None
    ev = w.next()
    assert ev["type"] == "ADDED" and ev["object"]["message"] == "asked to shut down"
    w.close()
    old = {"metadata": {"name": "x2"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": sim_ns},
           "reason": "Killing", "message": "stopping", "type": "Normal", "count": 3,
           "source": {"component": "kubelet"}, "firstTimestamp": "2026-11-25T20:27:24Z",
           "lastTimestamp": "2026-11-25T20:27:25Z"}
    rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/events", old))
    n = rest.get(f"/apis/events.k8s.io/v1/namespaces/{sim_ns}/events/x2").body
    assert n["apiVersion"] == "events.k8s.io/v1" and n["note"] == "stopping" and n["eventTime"] is None
    assert n["deprecatedSource"] == {"component": "kubelet"} and n["deprecatedCount"] == 3
    assert n["deprecatedFirstTimestamp"] == "2026-11-25T20:27:24Z"
    names = [i["metadata"]["name"] for i in rest.get(f"/apis/events.k8s.io/v1/namespaces/{sim_ns}/events",
                                                     fieldSelector="reason=Killing").body["items"]]
    assert names == ["x2"]
    assert rest.ok(rest.patch(f"/apis/events.k8s.io/v1/namespaces/{sim_ns}/events/x1",
                              {"series": {"count": 3, "lastObservedTime": "2026-11-25T20:28:00.000000Z"}}))[
        "series"]["count"] == 3
    assert rest.get(f"/api/v1/namespaces/{sim_ns}/events/x1").body["series"]["count"] == 3
