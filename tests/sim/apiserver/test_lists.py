"""List semantics: limit/continue paging with remainingItemCount over a consistent snapshot, RV rules, label and
field selectors (and their 400s), Table and PartialObjectMetadata forms."""
import pytest


@pytest.fixture
def pods(rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/pods"
    specs = [("p1", {"app": "a", "tier": "front"}, "n1"), ("p2", {"app": "a", "tier": "back"}, "n2"),
             ("p3", {"app": "b"}, ""), ("p4", {"app": "b", "tier": "front"}, "n1"), ("p5", {}, "n2")]
    for name, labels, node in specs:
        spec = {"containers": [{"name": "c", "image": "i"}]}
        if node:
            spec["nodeName"] = node
        rest.ok(rest.post(base, {"metadata": {"name": name, "labels": labels}, "spec": spec}))
    return base


def names(body):
    return [i["metadata"]["name"] for i in body["items"]]


def test_paging_is_consistent_and_counts_remaining(rest, pods):
    r1 = rest.get(pods, limit="2").body
    assert names(r1) == ["p1", "p2"] and r1["metadata"]["remainingItemCount"] == 3
    assert "kind" not in r1["items"][0], "built-in list items omit kind/apiVersion"
    rv = r1["metadata"]["resourceVersion"]
    rest.ok(rest.delete(pods + "/p3", gracePeriodSeconds="0"))
    rest.ok(rest.post(pods, {"metadata": {"name": "p0"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}))
    r2 = rest.get(pods, limit="2", **{"continue": r1["metadata"]["continue"]}).body
    assert names(r2) == ["p3", "p4"] and r2["metadata"]["resourceVersion"] == rv
    r3 = rest.get(pods, limit="2", **{"continue": r2["metadata"]["continue"]}).body
    assert names(r3) == ["p5"]
    assert "continue" not in r3["metadata"] and "remainingItemCount" not in r3["metadata"]
    assert rest.get(pods, limit="2", resourceVersion="0").body["items"].__len__() == 5, "RV=0 ignores limit"
    r = rest.get(pods, limit="2", resourceVersion="1", **{"continue": r1["metadata"]["continue"]})
    assert r.status == 400
    assert r.body["message"] == "specifying resource version is not allowed when using continue"
    assert rest.get(pods, limit="2", **{"continue": "garbage"}).status == 400


def test_exact_rv_list_returns_past_state(rest, pods):
    rv = rest.get(pods).body["metadata"]["resourceVersion"]
    rest.ok(rest.delete(pods + "/p1", gracePeriodSeconds="0"))
    old = rest.get(pods, resourceVersion=rv, resourceVersionMatch="Exact").body
    assert "p1" in names(old) and old["metadata"]["resourceVersion"] == rv
    assert "p1" not in names(rest.get(pods).body)
    r = rest.get(pods, resourceVersionMatch="Exact")
    assert r.status == 422


def test_label_selectors(rest, pods):
    q = lambda s: names(rest.get(pods, labelSelector=s).body)
    assert q("app=a") == ["p1", "p2"]
    assert q("app==b") == ["p3", "p4"]
    assert q("tier!=front") == ["p2", "p3", "p5"], "!= also matches objects without the label"
    assert q("tier in (front,back)") == ["p1", "p2", "p4"]
    assert q("app notin (a)") == ["p3", "p4", "p5"]
    assert q("tier") == ["p1", "p2", "p4"]
    assert q("!tier") == ["p3", "p5"]
    assert q("app=b,tier=front") == ["p4"]
    r = rest.get(pods, labelSelector="app==lw==x")
    assert r.status == 400 and r.body["message"] == "found '==', expected: ',' or 'end of string'"


def test_field_selectors(rest, pods, sim_ns):
    q = lambda s: names(rest.get(pods, fieldSelector=s).body)
    assert q("spec.nodeName=n1") == ["p1", "p4"]
    assert q("spec.nodeName=") == ["p3"]
    assert q("metadata.name=p2") == ["p2"]
    assert q("status.phase=Pending,spec.nodeName!=n1") == ["p2", "p3", "p5"]
    assert q(f"metadata.namespace={sim_ns}") == ["p1", "p2", "p3", "p4", "p5"]
    r = rest.get(pods, fieldSelector="metadata.labels.app=a")
    assert r.status == 400 and r.body["message"] == "field label not supported: metadata.labels.app"
    r = rest.get(f"/api/v1/namespaces/{sim_ns}/configmaps", fieldSelector="spec.nodeName=x")
    assert r.status == 400


def test_table_and_partial_metadata(rest, pods):
    t = rest.request("GET", pods + "?limit=2", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert t.headers["Content-Type"] == "application/json"
    b = t.body
    assert b["kind"] == "Table" and b["metadata"]["remainingItemCount"] == 3
    cols = [(c["name"], c["priority"]) for c in b["columnDefinitions"]]
    assert cols == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1), ("Node", 1),
                    ("Nominated Node", 1), ("Readiness Gates", 1)]
    assert b["rows"][0]["cells"][:4] == ["p1", "0/1", "Pending", "0"]
    assert b["rows"][0]["cells"][5:] == ["<none>", "n1", "<none>", "<none>"]
    assert b["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    t = rest.request("GET", pods + "?includeObject=None",
                     headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).body
    assert all(r["object"] is None for r in t["rows"])
    p = rest.request("GET", pods, headers={
        "Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"}).body
    assert p["kind"] == "PartialObjectMetadataList" and len(p["items"]) == 5 and "spec" not in p["items"][0]


def test_cluster_wide_paging_in_key_order_across_namespaces(rest):
    # "a" < "a-b" as tuples but "a-b/..." < "a/..." as keys: paging must follow the key order.
    import random
    tag = f"pg{random.randint(0, 99999)}"
    for ns in (f"{tag}", f"{tag}-b"):
        rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": ns}}))
        for n in ("x", "z"):
            rest.ok(rest.post(f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": n, "labels": {"t": tag}}}))
    seen, cont = [], None
    while True:
        q = {"limit": "1", "labelSelector": f"t={tag}"}
        if cont:
            q["continue"] = cont
        b = rest.get("/api/v1/configmaps", **q).body
        seen += [f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in b["items"]]
        cont = b["metadata"].get("continue")
        if not cont:
            break
    assert seen == sorted(seen) and len(seen) == 4 == len(set(seen)), seen
