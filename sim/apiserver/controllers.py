"""In-process controllers: garbage collector, namespace lifecycle, PodDisruptionBudget status, CRD cleanup.

They run as one asyncio task woken after every committed write (and on a short timer) and act through
`Api`, like kube-controller-manager does through the API:
* GC: a dependent none of whose owners exist is deleted (Background); owners marked `foregroundDeletion`
  get their dependents deleted and lose the finalizer once no dependent with blockOwnerDeletion remains;
  owners marked `orphan` get their dependents' ownerReferences removed, then lose the finalizer.
* Namespace: a Terminating namespace has its contents deleted; once empty its `kubernetes` finalizer goes
  and the namespace is removed.
* PDB: status from Ready, non-deleting pods matching the selector (currentHealthy, desiredHealthy,
  expectedPods, disruptionsAllowed, observedGeneration, DisruptionAllowed condition).
* CRD: a deleting CRD has its custom resources deleted, then the cleanup finalizer is removed.
* ServiceAccount (pkg/controller/serviceaccount/serviceaccounts_controller.go): every Active namespace has a
  `default` ServiceAccount (created again when deleted).
* Root CA publisher (pkg/controller/certificates/rootcacertpublisher/publisher.go): every Active namespace has the
  ConfigMap `kube-root-ca.crt` with `ca.crt` = the cluster CA and the `kubernetes.io/description` annotation;
  created again when deleted, its data and annotation put back when changed.
* PVC protection (pkg/controller/volume/pvcprotection/pvc_protection_controller.go): claims get the
  `kubernetes.io/pvc-protection` finalizer; a deleting claim loses it once no pod uses it. A pod uses a claim when
  it is scheduled (spec.nodeName) and names it in a persistentVolumeClaim volume, whatever its phase, or in an
  ephemeral volume (`<pod>-<volume>`, owned by the pod) unless it was force-deleted / finished by the kubelet
  (deletionTimestamp with deletionGracePeriodSeconds 0, podIsShutDown).
"""
import asyncio
import copy
import logging
import math

from .admission import DEFAULT_SA, PVC_PROTECTION_FINALIZER, ROOT_CA_CONFIGMAP
from .crd import CLEANUP_FINALIZER, CRD_KEY
from .endpointslices import EndpointSliceController
from .errors import ApiError
from .selectors import match_label_selector
from .store import now_rfc3339

log = logging.getLogger("sim.controllers")


class Controllers:
    def __init__(self, api, registry, store, root_ca=""):
        self.api, self.registry, self.store = api, registry, store
        self.root_ca = root_ca            # PEM of the cluster CA, published as kube-root-ca.crt
        self.wake = asyncio.Event()
        api.hooks_after_write.append(lambda rt: self.wake.set())
        self.task = None

    def start(self):
        self.task = asyncio.get_event_loop().create_task(self.run())
        self.endpointslices = EndpointSliceController(self.api, self.registry, self.store).start()

    async def run(self):
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()
            await asyncio.sleep(0.01)
            for step in (self.gc, self.namespaces, self.pdbs, self.crds, self.service_accounts, self.root_ca_publisher,
                         self.pvc_protection):
                try:
                    step()
                except ApiError:
                    pass
                except Exception:  # a controller bug must not kill the server
                    log.exception("controller step failed")

    def _rt(self, rtkey):
        for rt in self.registry.types.values():
            if rt.key == rtkey:
                return rt
        return None

    def _all(self):
        for rtkey in list(self.store.objects):
            rt = self._rt(rtkey)
            if rt is None:
                continue
            for o in self.store.items(rtkey):
                yield rt, o

    # ---- garbage collector -------------------------------------------------------------------
    def gc(self):
        objs = list(self._all())
        dependents = {}
        for rt, o in objs:
            for ref in o["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid"), []).append((rt, o))
        for rt, o in objs:
            md = o["metadata"]
            refs = md.get("ownerReferences") or []
            if refs and not md.get("deletionTimestamp"):
                alive = [r for r in refs if self.store.by_uid(r.get("uid")) is not None]
                owners_foreground = any(self._owner_has(r, "foregroundDeletion") for r in refs)
                if not alive:
                    self.api.delete(rt, md.get("namespace", ""), md["name"], {"propagationPolicy": "Background"})
                elif owners_foreground:
                    self.api.delete(rt, md.get("namespace", ""), md["name"], {"propagationPolicy": "Background"})
                elif len(alive) != len(refs):
                    cur = copy.deepcopy(o)
                    cur["metadata"]["ownerReferences"] = alive
                    self.api.put_internal(rt, cur)
        for rt, o in objs:
            md = o["metadata"]
            fins = md.get("finalizers") or []
            if not md.get("deletionTimestamp"):
                continue
            deps = [(drt, d) for drt, d in dependents.get(md["uid"], [])
                    if self.store.get(drt.key, d["metadata"].get("namespace", ""), d["metadata"]["name"])]
            if "orphan" in fins:
                for drt, d in deps:
                    cur = self.store.get(drt.key, d["metadata"].get("namespace", ""), d["metadata"]["name"])
                    cur["metadata"]["ownerReferences"] = [r for r in cur["metadata"].get("ownerReferences") or []
                                                          if r.get("uid") != md["uid"]]
                    if not cur["metadata"]["ownerReferences"]:
                        cur["metadata"].pop("ownerReferences")
                    self.api.put_internal(drt, cur)
                self._drop_finalizer(rt, o, "orphan")
            elif "foregroundDeletion" in fins:
                blocking = [d for _drt, d in deps
                            if any(r.get("uid") == md["uid"] and r.get("blockOwnerDeletion")
                                   for r in d["metadata"].get("ownerReferences") or [])]
                if not blocking:
                    self._drop_finalizer(rt, o, "foregroundDeletion")

    def _owner_has(self, ref, finalizer):
        loc = self.store.by_uid(ref.get("uid"))
        if loc is None:
            return False
        o = self.store.objects.get(loc[0], {}).get((loc[1], loc[2]))
        return o is not None and finalizer in (o["metadata"].get("finalizers") or []) and \
            bool(o["metadata"].get("deletionTimestamp"))

    def _drop_finalizer(self, rt, o, fin):
        cur = self.store.get(rt.key, o["metadata"].get("namespace", ""), o["metadata"]["name"])
        if cur is None:
            return
        cur["metadata"]["finalizers"] = [f for f in cur["metadata"].get("finalizers") or [] if f != fin]
        if not cur["metadata"]["finalizers"]:
            cur["metadata"].pop("finalizers")
        self.api.put_internal(rt, cur)

    # ---- namespaces --------------------------------------------------------------------------
    def namespaces(self):
        nsrt = self._rt("/namespaces")
        for ns in self.store.items("/namespaces"):
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            name = ns["metadata"]["name"]
            remaining = 0
            for rtkey in list(self.store.objects):
                rt = self._rt(rtkey)
                if rt is None or not rt.namespaced:
                    continue
                for o in self.store.items(rtkey, name):
                    remaining += 1
                    if not o["metadata"].get("deletionTimestamp"):
                        self.api.delete(rt, name, o["metadata"]["name"], {})
            if remaining:
                continue
            cur = self.store.get("/namespaces", "", name)
            if cur is None:
                continue
            if cur.get("spec", {}).get("finalizers"):
                cur["spec"]["finalizers"] = []
                self.api.put_internal(nsrt, cur)
                cur = self.store.get("/namespaces", "", name)
            if cur is not None and not cur["metadata"].get("finalizers"):
                self.store.remove("/namespaces", "", name)
                self.wake.set()

    # ---- pod disruption budgets -----------------------------------------------------------------
    def pdbs(self):
        prt = self._rt("policy/poddisruptionbudgets")
        for pdb in self.store.items("policy/poddisruptionbudgets"):
            ns = pdb["metadata"].get("namespace")
            spec = pdb.get("spec") or {}
            sel = spec.get("selector")
            pods = [p for p in self.store.items("/pods", ns)
                    if sel is not None and match_label_selector(sel, p["metadata"].get("labels"))]
            expected = len(pods)
            healthy = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp") and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []))
            desired = _desired(spec, expected)
            cur = copy.deepcopy(pdb)
            st = cur.setdefault("status", {})
            disrupted = st.get("disruptedPods") or {}
            pod_names = {p["metadata"]["name"]: p for p in pods}
            disrupted = {k: v for k, v in disrupted.items()
                         if k in pod_names and not pod_names[k]["metadata"].get("deletionTimestamp")}
            allowed = max(0, healthy - desired - len(disrupted))
            st.update({"observedGeneration": pdb["metadata"].get("generation", 1), "currentHealthy": healthy,
                       "desiredHealthy": desired, "expectedPods": expected, "disruptionsAllowed": allowed})
            if disrupted:
                st["disruptedPods"] = disrupted
            else:
                st.pop("disruptedPods", None)
            old_c = next((c for c in st.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
            status = "True" if allowed > 0 else "False"
            reason = "SufficientPods" if allowed > 0 else "InsufficientPods"
            if old_c is None or old_c.get("status") != status or old_c.get("reason") != reason:
                st["conditions"] = [{"type": "DisruptionAllowed", "status": status,
                                     "observedGeneration": st["observedGeneration"],
                                     "lastTransitionTime": now_rfc3339(), "reason": reason, "message": ""}]
            elif old_c.get("observedGeneration") != st["observedGeneration"]:
                old_c["observedGeneration"] = st["observedGeneration"]
            if cur != pdb:
                self.api.put_internal(prt, cur)

    # ---- CRD cleanup ----------------------------------------------------------------------------
    def crds(self):
        crt = self._rt(CRD_KEY)
        for crd in self.store.items(CRD_KEY):
            md = crd["metadata"]
            if not md.get("deletionTimestamp") or CLEANUP_FINALIZER not in (md.get("finalizers") or []):
                continue
            key = f"{crd['spec']['group']}/{crd['spec']['names']['plural']}"
            rt = self._rt(key)
            objs = self.store.items(key) if rt else []
            for o in objs:
                if not o["metadata"].get("deletionTimestamp"):
                    self.api.delete(rt, o["metadata"].get("namespace", ""), o["metadata"]["name"], {})
            if not objs:
                self._drop_finalizer(crt, crd, CLEANUP_FINALIZER)


    # ---- per-namespace defaults: ServiceAccount `default`, ConfigMap `kube-root-ca.crt` ------------------
    def _active_namespaces(self):
        return [ns["metadata"]["name"] for ns in self.store.items("/namespaces")
                if not ns["metadata"].get("deletionTimestamp") and (ns.get("status") or {}).get("phase") == "Active"]

    def _ensure(self, rtkey, ns, obj):
        """Create obj in ns unless it exists; a namespace that went terminating in between is skipped."""
        if self.store.get(rtkey, ns, obj["metadata"]["name"]) is not None:
            return
        try:
            self.api.create(self._rt(rtkey), ns, obj)
        except ApiError:
            pass

    def service_accounts(self):
        for ns in self._active_namespaces():
            self._ensure("/serviceaccounts", ns, {"metadata": {"name": DEFAULT_SA}})

    def root_ca_publisher(self):
        data = {"ca.crt": self.root_ca}
        for ns in self._active_namespaces():
            cm = self.store.get("/configmaps", ns, ROOT_CA_CONFIGMAP)
            if cm is None:
                self._ensure("/configmaps", ns, {"metadata": {"name": ROOT_CA_CONFIGMAP,
                                                              "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                                                 "data": data})
                continue
            if cm.get("data") == data and (cm["metadata"].get("annotations") or {}).get(DESCRIPTION_ANNOTATION):
                continue
            cm["data"] = data
            cm.pop("binaryData", None)
            cm["metadata"].setdefault("annotations", {})[DESCRIPTION_ANNOTATION] = DESCRIPTION
            self.api.put_internal(self._rt("/configmaps"), cm)

    # ---- PVC protection ---------------------------------------------------------------------------------
    def pvc_protection(self):
        prt = self._rt("/persistentvolumeclaims")
        for pvc in self.store.items("/persistentvolumeclaims"):
            md = pvc["metadata"]
            fins = md.get("finalizers") or []
            if not md.get("deletionTimestamp"):
                if PVC_PROTECTION_FINALIZER not in fins:
                    cur = copy.deepcopy(pvc)
                    cur["metadata"]["finalizers"] = fins + [PVC_PROTECTION_FINALIZER]
                    self.api.put_internal(prt, cur)
                continue
            if PVC_PROTECTION_FINALIZER in fins and not any(
                    pod_uses_claim(p, pvc) for p in self.store.items("/pods", md.get("namespace"))):
                self._drop_finalizer(prt, pvc, PVC_PROTECTION_FINALIZER)


DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def pod_uses_claim(pod, pvc):
    """podUsesPVC of the pvc-protection controller (see the module docstring)."""
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        return False
    pmd, name = pod["metadata"], pvc["metadata"]["name"]
    shut_down = bool(pmd.get("deletionTimestamp")) and pmd.get("deletionGracePeriodSeconds") == 0
    for v in spec.get("volumes") or []:
        if (v.get("persistentVolumeClaim") or {}).get("claimName") == name:
            return True
        if "ephemeral" in v and not shut_down and f"{pmd['name']}-{v.get('name')}" == name and any(
                r.get("uid") == pmd.get("uid") and r.get("controller")
                for r in pvc["metadata"].get("ownerReferences") or []):
            return True
    return False


def _desired(spec, expected):
    def resolve(v):
        if isinstance(v, str) and v.endswith("%"):
            return math.ceil(int(v[:-1]) * expected / 100.0)
        return int(v)
    if "minAvailable" in spec:
        return resolve(spec["minAvailable"])
    if "maxUnavailable" in spec:
        return max(0, expected - resolve(spec["maxUnavailable"]))
    return expected
