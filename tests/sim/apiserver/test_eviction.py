"""Eviction API with PodDisruptionBudgets: PDB status, 429 bodies, 201 with DisruptionTarget then graceful delete,
Pending pods bypassing the budget."""
from simlib import poll


def ready_pod(rest, ns, name, phase="Running"):
    base = f"/api/v1/namespaces/{ns}/pods"
    rest.ok(rest.post(base, {"metadata": {"name": name, "labels": {"app": "ev"}},
                             "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}}))
    conds = [{"type": "Ready", "status": "True"}] if phase == "Running" else []
    rest.ok(rest.patch(base + f"/{name}/status", {"status": {"phase": phase, "conditions": conds}}))


def evict(rest, ns, name, **q):
    return rest.post(f"/api/v1/namespaces/{ns}/pods/{name}/eviction",
                     {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}},
                     **q)


def test_eviction_blocked_by_pdb_answers_429(rest, sim_ns):
    ready_pod(rest, sim_ns, "e1")
    ready_pod(rest, sim_ns, "e2")
    pdbs = f"/apis/policy/v1/namespaces/{sim_ns}/poddisruptionbudgets"
    rest.ok(rest.post(pdbs, {"metadata": {"name": "ev-pdb"},
                             "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "ev"}}}}))
    st = poll(lambda: (lambda s: s if s.get("observedGeneration") == 1 else None)(
        rest.get(pdbs + "/ev-pdb").body.get("status", {})), 10, "PDB status")
    assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == (2, 2, 2, 0)
    r = evict(rest, sim_ns, "e1")
    assert r.status == 429
    assert r.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                      "reason": "TooManyRequests", "details": {"causes": [
                          {"reason": "DisruptionBudget",
                           "message": "The disruption budget ev-pdb needs 2 healthy pods and has 2 currently"}]},
                      "code": 429}
    assert "Retry-After" not in r.headers
    assert evict(rest, sim_ns, "e1", dryRun="All").status == 429
    # lower the budget: one eviction allowed
    rest.ok(rest.patch(pdbs + "/ev-pdb", {"spec": {"minAvailable": 1}}))
    poll(lambda: rest.get(pdbs + "/ev-pdb").body["status"].get("disruptionsAllowed") == 1, 10, "allowed 1")
    r = evict(rest, sim_ns, "e1")
    assert r.status == 201
    assert r.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    p = rest.get(f"/api/v1/namespaces/{sim_ns}/pods/e1").body
    assert p["metadata"]["deletionTimestamp"] and p["metadata"]["deletionGracePeriodSeconds"] == 30
    dt = [c for c in p["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert dt and dt[0]["reason"] == "EvictionByEvictionAPI"
    st = poll(lambda: (lambda s: s if s["currentHealthy"] == 1 else None)(rest.get(pdbs + "/ev-pdb").body["status"]),
              10, "PDB recomputed")
    assert st["disruptionsAllowed"] == 0
    r = evict(rest, sim_ns, "e2")
    assert r.status == 429 and "needs 1 healthy pods and has 1 currently" in r.body["details"]["causes"][0]["message"]
    assert evict(rest, sim_ns, "e1").status == 201, "a terminating pod is not counted against the budget"


def test_pending_pods_bypass_pdb_and_missing_pod_404(rest, sim_ns):
    ready_pod(rest, sim_ns, "r1")
    ready_pod(rest, sim_ns, "pend", phase="Pending")
    pdbs = f"/apis/policy/v1/namespaces/{sim_ns}/poddisruptionbudgets"
    rest.ok(rest.post(pdbs, {"metadata": {"name": "all"},
                             "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "ev"}}}}))
    poll(lambda: rest.get(pdbs + "/all").body.get("status", {}).get("observedGeneration") == 1, 10, "status")
    assert evict(rest, sim_ns, "r1").status == 429
    assert evict(rest, sim_ns, "pend").status == 201
    assert evict(rest, sim_ns, "nosuch").status == 404
