"""CustomResourceDefinition handling: CRD status (NamesAccepted/Established) and serving its CRs.

`establish(crd)` sets the status the apiextensions controllers would set. `CrdSync` keeps the registry in
step with the stored CRDs (a store listener): each served version becomes a ResourceType, with the
status/scale subresources the CRD declares; a removed CRD drops its CR data and closes its watches."""
from .resources import ResourceType
from .store import now_rfc3339

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"


def establish(crd):
    spec = crd.get("spec") or {}
    now = now_rfc3339()
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    spec["names"] = names
    for v in spec.get("versions") or []:
        sub = v.get("subresources")
        if sub is not None and not sub:
            v.pop("subresources")
    if "conversion" not in spec:
        spec["conversion"] = {"strategy": "None"}
    old_conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
    conds = []
    for t, reason, msg in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                           ("Established", "InitialNamesAccepted", "the initial names have been accepted")):
        conds.append(old_conds.get(t) or {"type": t, "status": "True", "lastTransitionTime": now,
                                          "reason": reason, "message": msg})
    stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    crd["status"] = {"conditions": conds, "acceptedNames": {k: v for k, v in names.items()},
                     "storedVersions": sorted(set((crd.get("status") or {}).get("storedVersions", []) + stored))}
    md = crd["metadata"]
    if not md.get("deletionTimestamp") and CLEANUP_FINALIZER not in (md.get("finalizers") or []):
        md["finalizers"] = (md.get("finalizers") or []) + [CLEANUP_FINALIZER]


def resource_types(crd):
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        sub = v.get("subresources") or {}
        out.append(ResourceType(spec["group"], v["name"], names["plural"], names["kind"],
                                namespaced=spec.get("scope") == "Namespaced", short=names.get("shortNames") or [],
                                singular=names.get("singular"), status="status" in sub, generation=True,
                                scale=sub.get("scale"), categories=names.get("categories") or [], crd=crd,
                                list_continue=True))
    return out


class CrdSync:
    def __init__(self, registry, store):
        self.registry, self.store = registry, store
        store.listeners.append(self.on_event)

    def on_event(self, rtkey, ev):
        if rtkey != CRD_KEY:
            return
        crd = ev.obj
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        self.registry.remove(group, plural)
        if ev.type == "DELETED":
            self.store.drop(f"{group}/{plural}")
            return
        for rt in resource_types(crd):
            self.registry.add(rt)
        self.store.ensure(f"{group}/{plural}")
