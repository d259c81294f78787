"""The pods/eviction subresource, honouring PodDisruptionBudgets like the real eviction REST handler.

* Pods already terminating, or in phase Pending/Succeeded/Failed, bypass PDBs.
* More than one matching PDB -> 500; a PDB whose status is behind its generation -> 429 with Retry-After 10;
  disruptionsAllowed 0 -> 429 (no Retry-After); otherwise the PDB records the disruption
  (disruptionsAllowed-1, status.disruptedPods) and the pod gets the DisruptionTarget condition, then a
  graceful delete. Success answers 201 Status Success.
"""
import copy

from .errors import ApiError, bad_request, not_found
from .selectors import match_label_selector
from .store import now_rfc3339

SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
MSG = "Cannot evict pod as it would violate the pod's disruption budget."


def _too_many(cause, retry=None):
    details = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    headers = {}
    if retry:
        details["retryAfterSeconds"] = retry
        headers["Retry-After"] = str(retry)
    return ApiError(429, "TooManyRequests", MSG, details, headers=headers)


def evict(api, registry, ns, name, body, dry_run):
    pods = registry.get("", "v1", "pods")
    pdbs = registry.get("policy", "v1", "poddisruptionbudgets")
    if not isinstance(body, dict):
        raise bad_request("the object provided is unrecognized")
    bname = (body.get("metadata") or {}).get("name")
    if bname and bname != name:
        raise bad_request("name in URL does not match name in Eviction object")
    pod = api.store.get("/pods", ns, name)
    if pod is None:
        raise not_found(pods, name)
    opts = body.get("deleteOptions") or {}
    phase = (pod.get("status") or {}).get("phase")
    if pod["metadata"].get("deletionTimestamp") or phase in ("Pending", "Succeeded", "Failed"):
        api.delete(pods, ns, name, opts, dry_run=dry_run)
        return SUCCESS
    matching = [p for p in api.store.items("policy/poddisruptionbudgets", ns)
                if match_label_selector((p.get("spec") or {}).get("selector"), pod["metadata"].get("labels"))]
    if len(matching) > 1:
        raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction "
                       "subresource does not support.")
    if matching:
        pdb = copy.deepcopy(matching[0])
        st = pdb.setdefault("status", {})
        if st.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
            raise _too_many(f"The disruption budget {pdb['metadata']['name']} is still being processed by the "
                            "server.", 10)
        if st.get("disruptionsAllowed", 0) <= 0:
            raise _too_many(f"The disruption budget {pdb['metadata']['name']} needs {st.get('desiredHealthy', 0)} "
                            f"healthy pods and has {st.get('currentHealthy', 0)} currently")
        if dry_run:
            return SUCCESS
        st["disruptionsAllowed"] -= 1
        st.setdefault("disruptedPods", {})[name] = now_rfc3339()
        api.put_internal(pdbs, pdb)
    if dry_run:
        return SUCCESS
    cur = api.store.get("/pods", ns, name)
    conds = [c for c in (cur.get("status") or {}).get("conditions") or [] if c.get("type") != "DisruptionTarget"]
    conds.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                  "lastTransitionTime": now_rfc3339(), "reason": "EvictionByEvictionAPI",
                  "message": "Eviction API: evicting"})
    cur.setdefault("status", {})["conditions"] = conds
    api.put_internal(pods, cur)
    api.delete(pods, ns, name, opts)
    return SUCCESS
