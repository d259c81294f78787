"""Deletion: graceful pod deletion, preconditions, DELETE bodies, ownerReferences GC (background, foreground with
blockOwnerDeletion, orphan), namespace deletion."""
from simlib import poll


def pod(name, node="n1", owner=None, grace=None):
    md = {"name": name}
    if owner:
        md["ownerReferences"] = [owner]
    spec = {"containers": [{"name": "c", "image": "i"}]}
    if node:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}


def owner_ref(o, block=None):
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]}
    if block is not None:
        ref["blockOwnerDeletion"] = block
    return ref


def test_graceful_pod_deletion(rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/pods"
    p = rest.ok(rest.post(base, pod("g", grace=30)))
    w = rest.watch(base, resourceVersion=p["metadata"]["resourceVersion"])
    d = rest.ok(rest.delete(base + "/g"))
    assert d["kind"] == "Pod" and d["metadata"]["deletionGracePeriodSeconds"] == 30
    ev = w.next()
    assert ev["type"] == "MODIFIED" and ev["object"]["metadata"]["deletionTimestamp"]
    # grace only shortens
    d2 = rest.ok(rest.delete(base + "/g", {"gracePeriodSeconds": 60}))
    assert d2["metadata"]["deletionGracePeriodSeconds"] == 30
    d3 = rest.ok(rest.delete(base + "/g", {"gracePeriodSeconds": 10}))
    assert d3["metadata"]["deletionGracePeriodSeconds"] == 10
    assert w.next()["type"] == "MODIFIED"
    assert rest.get(base + "/g").status == 200, "a scheduled pod stays until a grace-0 delete"
    d4 = rest.ok(rest.delete(base + "/g", gracePeriodSeconds="0"))
    assert d4["metadata"]["deletionGracePeriodSeconds"] == 0
    assert [w.next()["type"], w.next()["type"]] == ["MODIFIED", "DELETED"]
    assert rest.get(base + "/g").status == 404
    w.close()


def test_unscheduled_pod_deleted_at_once_with_modified_then_deleted(rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/pods"
    p = rest.ok(rest.post(base, pod("u", node=None)))
    assert p["spec"]["terminationGracePeriodSeconds"] == 30 and p["status"]["phase"] == "Pending"
    w = rest.watch(base, resourceVersion=p["metadata"]["resourceVersion"])
    d = rest.ok(rest.delete(base + "/u"))
    assert d["kind"] == "Pod"
    assert [w.next()["type"], w.next()["type"]] == ["MODIFIED", "DELETED"]
    assert rest.get(base + "/u").status == 404
    w.close()


def test_preconditions_and_delete_bodies(rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/configmaps"
    c = rest.ok(rest.post(base, {"metadata": {"name": "pre"}}))
    r = rest.delete(base + "/pre", {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
    assert r.status == 409 and "does not match the UID in record" in r.body["message"]
    r = rest.delete(base + "/pre", {"preconditions": {"resourceVersion": "1"}})
    assert r.status == 409 and r.body["details"] == {"name": "pre", "kind": "ConfigMap"}
    r = rest.delete(base + "/pre", {"propagationPolicy": "Background"})
    assert r.status == 200
    assert r.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": "pre", "kind": "configmaps", "uid": c["metadata"]["uid"]}}


def test_gc_background_deletes_owned_pods_after_owner_goes(rest, sim_ns):
    cms = f"/api/v1/namespaces/{sim_ns}/configmaps"
    pods = f"/api/v1/namespaces/{sim_ns}/pods"
    owner = rest.ok(rest.post(cms, {"metadata": {"name": "owner"}}))
    other = rest.ok(rest.post(cms, {"metadata": {"name": "other"}}))
    rest.ok(rest.post(pods, pod("d1", node=None, owner=owner_ref(owner))))
    rest.ok(rest.post(pods, pod("d2", node=None, owner=owner_ref(owner))))
    two = pod("d3", node=None, owner=owner_ref(owner))
    two["metadata"]["ownerReferences"].append(owner_ref(other))
    rest.ok(rest.post(pods, two))
    rest.ok(rest.post(pods, pod("free", node=None)))
    rest.ok(rest.delete(cms + "/owner"))
    poll(lambda: rest.get(pods + "/d1").status == 404 and rest.get(pods + "/d2").status == 404, 10, "GC of d1, d2")
    d3 = poll(lambda: (lambda b: b if len(b["metadata"]["ownerReferences"]) == 1 else None)(
        rest.get(pods + "/d3").body), 10, "d3 loses the dangling owner reference")
    assert d3["metadata"]["ownerReferences"][0]["name"] == "other"
    assert rest.get(pods + "/free").status == 200


def test_gc_foreground_waits_for_blocking_dependents(rest, sim_ns):
    cms = f"/api/v1/namespaces/{sim_ns}/configmaps"
    owner = rest.ok(rest.post(cms, {"metadata": {"name": "fg"}}))
    dep = {"metadata": {"name": "fg-dep", "ownerReferences": [owner_ref(owner, block=True)],
                        "finalizers": ["x.io/hold"]}}
    rest.ok(rest.post(cms, dep))
    r = rest.delete(cms + "/fg", {"propagationPolicy": "Foreground"})
    assert r.status == 200 and r.body["metadata"]["finalizers"] == ["foregroundDeletion"]
    poll(lambda: rest.get(cms + "/fg-dep").body["metadata"].get("deletionTimestamp"), 10, "dependent deleting")
    assert rest.get(cms + "/fg").status == 200, "the owner waits for its blocking dependent"
    rest.ok(rest.patch(cms + "/fg-dep", {"metadata": {"finalizers": None}}))
    poll(lambda: rest.get(cms + "/fg").status == 404, 10, "owner gone after its dependent")


def test_gc_orphan_keeps_dependents_without_owner_reference(rest, sim_ns):
    cms = f"/api/v1/namespaces/{sim_ns}/configmaps"
    owner = rest.ok(rest.post(cms, {"metadata": {"name": "or"}}))
    rest.ok(rest.post(cms, {"metadata": {"name": "or-dep", "ownerReferences": [owner_ref(owner)]}}))
    r = rest.delete(cms + "/or", propagationPolicy="Orphan")
    assert r.body["metadata"]["finalizers"] == ["orphan"]
    poll(lambda: rest.get(cms + "/or").status == 404, 10, "owner removed")
    dep = rest.get(cms + "/or-dep").body
    assert "ownerReferences" not in dep["metadata"]


def test_namespace_deletion_removes_contents(rest):
    rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": "todelete"}}))
    rest.ok(rest.post("/api/v1/namespaces/todelete/configmaps", {"metadata": {"name": "c"}}))
    rest.ok(rest.post("/api/v1/namespaces/todelete/pods", pod("p", node=None)))
    r = rest.ok(rest.delete("/api/v1/namespaces/todelete"))
    assert r["status"]["phase"] == "Terminating" and r["spec"]["finalizers"] == ["kubernetes"]
    late = rest.post("/api/v1/namespaces/todelete/configmaps", {"metadata": {"name": "late"}})
    if late.status != 404:  # the namespace may already be gone
        assert late.status == 403 and late.body["reason"] == "Forbidden"
        assert late.body["message"] == ('configmaps "late" is forbidden: unable to create new content in namespace '
                                        "todelete because it is being terminated")
    poll(lambda: rest.get("/api/v1/namespaces/todelete").status == 404, 10, "namespace removed")
    assert rest.get("/api/v1/namespaces/todelete/configmaps/c").status == 404
