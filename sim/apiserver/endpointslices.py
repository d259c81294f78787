"""The EndpointSlice controller, as kube-controller-manager runs it (pkg/controller/endpointslice, 1.32).

Contracts:
* Reacts to commits (a store listener), never rescans: a pod event queues the Services of its namespace whose
  selector matches it, only when something an endpoint shows changed (GetServicesToUpdateOnPodChange); a Service
  event queues that Service; a change to one of its slices made by someone else queues the Service after 1 s
  (endpointSliceChangeMinSyncDelay). A sync reads one Service, the pods of its namespace and its slices.
* Services without a selector and ExternalName Services get no slices. What the slices hold is decided by
  endpointslice_reconciler.reconcile; this module performs its writes through `Api` like any client: creates
  (not while the Service is being deleted), updates, deletes, each validated and seen by watches. A create
  refused because the namespace is terminating drops the sync (NamespaceTerminatingCause), as the real one does.
* A failed sync (a write refused, e.g. a loopback pod IP; a pod on a Node that does not exist) records a Warning
  Event `FailedToUpdateEndpointSlices` on the Service ("Error updating Endpoint Slices for Service ns/name: ...",
  source component endpoint-slice-controller; a repeat of the same Event raises its count) and is retried with
  the workqueue's per-item back-off: 1 s, 2 s, 4 s ... (max 1000 s), dropped after 15 retries until the Service
  changes again. Any new event for the Service syncs it at once.
* The legacy core/v1 Endpoints controller is not simulated.
"""
import asyncio
import logging
import time

from . import endpointslice_reconciler as rec
from .errors import ApiError
from .store import now_rfc3339

log = logging.getLogger("sim.endpointslices")

SLICES = "discovery.k8s.io/endpointslices"
SLICE_CHANGE_DELAY = 1.0    # endpointSliceChangeMinSyncDelay
BACKOFF_BASE, BACKOFF_MAX, MAX_RETRIES = 1.0, 1000.0, 15
EVENT_SOURCE = "endpoint-slice-controller"


class EndpointSliceController:
    def __init__(self, api, registry, store, clock=time.monotonic):
        self.api, self.store, self.clock = api, store, clock
        self.rt = registry.get("discovery.k8s.io", "v1", "endpointslices")
        self.events_rt = registry.get("", "v1", "events")
        self.due = {}          # (ns, service) -> monotonic time the sync is due
        self.failures = {}     # (ns, service) -> failed syncs since the last success
        self.triggers = {}     # (ns, service) -> trigger-time tracker state
        self.memos = {}        # (ns, service) -> the reconciler's per-pod memo
        self.recorded = {}     # (uid, reason, message) -> (namespace, Event name), for the recorder's dedup
        self.writing = False   # our own writes do not queue their Service again
        self.wake = asyncio.Event()
        self.task = None
        store.listeners.append(self.on_commit)

    def start(self):
        for (ns, name) in list(self.store.objects.get("/services", {})):
            self.add((ns, name))
        self.task = asyncio.get_event_loop().create_task(self.run())
        return self

    # ---- queue -------------------------------------------------------------------------------------------------
    def add(self, key, delay=0.0):
        at = self.clock() + delay
        if key not in self.due or at < self.due[key]:
            self.due[key] = at
        self.wake.set()

    def on_commit(self, rtkey, ev):
        if rtkey == "/pods":
            md = ev.obj["metadata"]
            ns = md.get("namespace") or ""
            old, new = (None, ev.obj) if ev.type == "ADDED" else (ev.prev, None) if ev.type == "DELETED" \
                else (ev.prev, ev.obj)
            services = [s for (sns, _n), s in self.store.objects.get("/services", {}).items() if sns == ns]
            for name in rec.services_to_sync(services, old, new):
                self.add((ns, name))
        elif rtkey == "/services":
            md = ev.obj["metadata"]
            self.add((md.get("namespace") or "", md["name"]))
        elif rtkey == SLICES and not self.writing:
            labels = ev.obj["metadata"].get("labels") or {}
            prev_labels = ((ev.prev or {}).get("metadata") or {}).get("labels") or {}
            for ls in (labels, prev_labels):
                if ls.get(rec.LABEL_MANAGED_BY) == rec.CONTROLLER_NAME and ls.get(rec.LABEL_SERVICE_NAME):
                    self.add((ev.obj["metadata"].get("namespace") or "", ls[rec.LABEL_SERVICE_NAME]),
                             SLICE_CHANGE_DELAY)

    async def run(self):
        while True:
            now = self.clock()
            wait = min([at - now for at in self.due.values()] + [1.0])
            if wait > 0:
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout=wait)
                except asyncio.TimeoutError:
                    pass
            self.wake.clear()
            now = self.clock()
            for key in sorted(k for k, at in self.due.items() if at <= now):
                del self.due[key]
                try:
                    err = self.sync(key)
                except Exception as e:  # a controller bug must not kill the server
                    log.exception("endpointslice sync of %s/%s failed", *key)
                    err = str(e)
                self.handle(key, err)
            await asyncio.sleep(0)

    def handle(self, key, err):
        """handleErr: forget on success; else requeue after the item's exponential back-off, up to 15 times."""
        if err is None:
            self.failures.pop(key, None)
            return
        n = self.failures.get(key, 0)
        if n >= MAX_RETRIES:
            self.failures.pop(key, None)
            log.info("retry budget exceeded for %s/%s: %s", key[0], key[1], err)
            return
        self.failures[key] = n + 1
        self.add(key, min(BACKOFF_BASE * 2 ** n, BACKOFF_MAX))

    # ---- sync --------------------------------------------------------------------------------------------------
    def sync(self, key):
        """syncService: returns None, or the error text (an Event has then been recorded)."""
        ns, name = key
        svc = self.store.objects.get("/services", {}).get(key)
        if svc is None:
            self.triggers.pop(key, None)
            self.memos.pop(key, None)
            return None
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            return None
        pods = [p for (pns, _n), p in self.store.objects.get("/pods", {}).items()
                if pns == ns and rec.selector_matches(spec["selector"], p["metadata"].get("labels"))]
        slices = [s for (sns, _n), s in self.store.objects.get(SLICES, {}).items()
                  if sns == ns and not s["metadata"].get("deletionTimestamp")
                  and (s["metadata"].get("labels") or {}).get(rec.LABEL_SERVICE_NAME) == name
                  and (s["metadata"].get("labels") or {}).get(rec.LABEL_MANAGED_BY) == rec.CONTROLLER_NAME]
        trigger, self.triggers[key] = rec.trigger_time(self.triggers.get(key), svc, pods)
        nodes = self.store.objects.get("/nodes", {})
        plans, stale = rec.reconcile(svc, pods, slices, lambda n: nodes.get(("", n)),
                                     memo=self.memos.setdefault(key, {}))
        errors = []
        for plan in plans:
            errors += plan.errors
            err = self.finalize(svc, plan, trigger)
            if err:
                errors.append(err)
        for s in stale:
            err = self.delete(svc, s)
            if err:
                errors.append(f"error deleting {s['metadata']['name']} EndpointSlice for Service {ns}/{name}: {err}")
        if not errors:
            return None
        msg = _aggregate(errors)
        self.record(svc, "Warning", "FailedToUpdateEndpointSlices",
                    f"Error updating Endpoint Slices for Service {ns}/{name}: {msg}")
        return msg

    def finalize(self, svc, plan, trigger):
        """finalize: creates, then updates, then deletes; the first refused write ends it with its error."""
        md = svc["metadata"]
        ns, name = md.get("namespace") or "", md["name"]
        if not md.get("deletionTimestamp"):
            for s in plan.creates:
                rec.set_trigger_time(s, trigger)
                try:
                    self._write(lambda: self.api.create(self.rt, ns, s))
                except ApiError as e:
                    if any(c.get("reason") == "NamespaceTerminating"
                           for c in (e.body.get("details") or {}).get("causes") or []):
                        return None
                    return f"failed to create EndpointSlice for Service {ns}/{name}: {e}"
        for s in plan.updates:
            rec.set_trigger_time(s, trigger)
            try:
                self._write(lambda: self.api.update(self.rt, ns, s["metadata"]["name"], s))
            except ApiError as e:
                return f"failed to update {s['metadata']['name']} EndpointSlice for Service {ns}/{name}: {e}"
        for s in plan.deletes:
            err = self.delete(svc, s)
            if err:
                return f"failed to delete {s['metadata']['name']} EndpointSlice for Service {ns}/{name}: {err}"
        return None

    def delete(self, svc, s):
        """deleteEndpointSlice: a slice already gone is fine."""
        try:
            self._write(lambda: self.api.delete(self.rt, svc["metadata"].get("namespace") or "",
                                                s["metadata"]["name"], {}))
        except ApiError as e:
            if e.code != 404:
                return str(e)
        return None

    def _write(self, fn):
        self.writing = True
        try:
            return fn()
        finally:
            self.writing = False

    # ---- events ------------------------------------------------------------------------------------------------
    def record(self, obj, etype, reason, message):
        """The legacy EventRecorder: a core/v1 Event on the object; an identical one seen before gets count+1."""
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        now = now_rfc3339()
        dedup = (md.get("uid"), reason, message)
        seen = self.recorded.get(dedup)
        try:
            if seen is not None:
                cur = self.store.get("/events", seen[0], seen[1])
                if cur is not None:
                    cur["count"] = (cur.get("count") or 1) + 1
                    cur["lastTimestamp"] = now
                    self.api.update(self.events_rt, seen[0], seen[1], cur)
                    return
            ev = {"apiVersion": "v1", "kind": "Event",
                  "metadata": {"name": f"{md['name']}.{time.time_ns():x}", "namespace": ns},
                  "involvedObject": {"kind": obj.get("kind") or "Service", "namespace": ns, "name": md["name"],
                                     "uid": md.get("uid"), "apiVersion": "v1",
                                     "resourceVersion": md.get("resourceVersion")},
                  "reason": reason, "message": message, "source": {"component": EVENT_SOURCE},
                  "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype,
                  "reportingComponent": EVENT_SOURCE, "reportingInstance": ""}
            res = self.api.create(self.events_rt, ns, ev)
            self.recorded[dedup] = (ns, res.body["metadata"]["name"])
        except ApiError as e:  # events are best effort, as in the real recorder
            log.debug("event %s not written: %s", reason, e)


def _aggregate(errors):
    """utilerrors.NewAggregate(...).Error(): one message as is, several as [a, b] (duplicates once)."""
    seen = []
    for e in errors:
        if e not in seen:
            seen.append(e)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
