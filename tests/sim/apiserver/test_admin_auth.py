"""Transport, authentication, discovery and the admin API: faults, latency, hang, audit log."""
import os
import time

from simlib import Rest


def test_kubeconfigs_authenticate_expected_users(sim, rest, sim_ns):
    d = sim.dir
    assert Rest(os.path.join(d, "operator.kubeconfig")).get(f"/api/v1/namespaces/{sim_ns}/pods").status == 200
    assert Rest(os.path.join(d, "kubelet.kubeconfig")).get("/api/v1/nodes").status == 200
    anon = Rest(os.path.join(d, "operator.kubeconfig"), token="wrong")
    r = anon.get("/api/v1/pods")
    assert r.status == 401 and r.body["reason"] == "Unauthorized"
    assert anon.get("/readyz").status == 200
    sim.admin("DELETE", "requests")
    Rest(os.path.join(d, "operator.kubeconfig")).get(f"/api/v1/namespaces/{sim_ns}/pods/x")
    Rest(os.path.join(d, "kubelet.kubeconfig")).get("/api/v1/nodes?watch=true&timeoutSeconds=1")
    items = sim.admin("GET", "requests").body["items"]
    op = [i for i in items if i["user"] == "system:serviceaccount:medivote-system:medivote-operator"]
    assert op and op[0]["verb"] == "get" and op[0]["resource"] == "pods" and op[0]["code"] == 404
    assert "system:serviceaccounts" in op[0]["groups"]
    kl = [i for i in items if i["user"] == "system:node:sim-node-1"]
    assert kl and kl[0]["verb"] == "watch" and "system:nodes" in kl[0]["groups"]
    # admin endpoints need system:masters
    r = Rest(os.path.join(d, "operator.kubeconfig")).request("GET", "/admin/requests")
    assert r.status == 403


def test_audit_log_records_rbac_verbs(sim, rest, sim_ns):
    sim.admin("DELETE", "requests")
    base = f"/api/v1/namespaces/{sim_ns}/configmaps"
    rest.post(base, {"metadata": {"name": "a"}})
    rest.get(base)
    rest.get(base + "/a")
    rest.patch(base + "/a", {"data": {"x": "y"}})
    rest.request("PUT", base + "/a", rest.get(base + "/a").body)
    rest.delete(base + "/a")
    rest.delete(base)
    rest.get(f"/api/v1/namespaces/{sim_ns}/pods/nope/status")
    items = [i for i in sim.admin("GET", "requests").body["items"] if i["resource"]]
    assert [i["verb"] for i in items] == ["create", "list", "get", "patch", "get", "update", "delete",
                                          "deletecollection", "get"]
    assert items[-1]["subresource"] == "status" and items[-1]["code"] == 404
    assert all(i["namespace"] == sim_ns for i in items)
    assert {"time", "user", "groups", "verb", "apiGroup", "resource", "subresource", "namespace", "name", "code",
            "method", "path"} <= set(items[0])


def test_fault_injection_statuses(sim, rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/configmaps"
    sim.admin("POST", "faults", {"method": "GET", "path": f"{sim_ns}/configmaps$", "status": 500, "count": 2})
    assert [rest.get(base).status for _ in range(3)] == [500, 500, 200]
    sim.admin("POST", "faults", {"method": "POST", "path": "configmaps", "status": 429, "count": 1,
                                 "retryAfter": 7})
    r = rest.post(base, {"metadata": {"name": "z"}})
    assert r.status == 429 and r.headers["Retry-After"] == "7" and r.body["details"]["retryAfterSeconds"] == 7
    assert r.body["kind"] == "Status" and r.body["reason"] == "TooManyRequests"
    assert rest.get(base + "/z").status == 404, "a faulted write is not applied"
    sim.admin("POST", "faults", {"method": "*", "path": "configmaps/z", "status": 409, "count": 1})
    rest.ok(rest.post(base, {"metadata": {"name": "z"}}))
    assert rest.patch(base + "/z", {"data": {}}).status == 409
    for code in (503, 504):
        sim.admin("POST", "faults", {"method": "GET", "path": "configmaps/z", "status": code, "count": 1})
        r = rest.get(base + "/z")
        assert r.status == code and r.body["code"] == code and "Retry-After" in r.headers
    sim.admin("DELETE", "faults")


def test_latency_and_hang(sim, rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/configmaps"
    sim.admin("POST", "latency", {"method": "GET", "path": "configmaps", "seconds": 0.6, "count": 1})
    t0 = time.monotonic()
    rest.get(base)
    assert time.monotonic() - t0 >= 0.6
    t0 = time.monotonic()
    rest.get(base)
    assert time.monotonic() - t0 < 0.5
    sim.admin("POST", "hang", {"seconds": 1.0})
    t0 = time.monotonic()
    assert rest.get(base).status == 200
    assert time.monotonic() - t0 >= 0.8


def test_discovery_aggregated_etag_and_legacy(rest, sim):
    acc = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;"
           "g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    r = rest.request("GET", "/apis", headers={"Accept": acc})
    assert r.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    groups = {g["metadata"]["name"]: g for g in r.body["items"]}
    assert {"policy", "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io"} <= set(groups)
    r2 = rest.request("GET", "/apis", headers={"Accept": acc, "If-None-Match": r.headers["Etag"]})
    assert r2.status == 304
    legacy = rest.request("GET", "/api", headers={"Accept": acc}).body
    pods = [x for x in legacy["items"][0]["versions"][0]["resources"] if x["resource"] == "pods"][0]
    assert {s["subresource"] for s in pods["subresources"]} >= {"status", "eviction"}
    assert rest.get("/api").body["versions"] == ["v1"]
    assert rest.get("/apis/policy").body["preferredVersion"]["groupVersion"] == "policy/v1"
    res = {x["name"] for x in rest.get("/api/v1").body["resources"]}
    assert {"pods", "pods/status", "pods/eviction", "namespaces", "nodes", "events", "endpoints",
            "persistentvolumeclaims", "serviceaccounts", "secrets", "configmaps", "services"} <= res
    assert rest.get("/version").body["minor"] == "32"
    r = rest.get("/openapi/v3")
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8" and "api/v1" in r.body["paths"]


def test_default_namespaces_exist(rest):
    names = {n["metadata"]["name"] for n in rest.get("/api/v1/namespaces").body["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
