"""core/v1 Events, written the way the kubelet's legacy EventRecorder does.

Contract: EventRecorder.emit(pod, type, reason, message, container=None)
queues one Event (name "<pod>.<hex nanoseconds>", involvedObject = the pod,
fieldPath "spec.containers{c}" / "spec.initContainers{c}" when a container is
named, source {component: kubelet, host: node}, first/lastTimestamp, count 1,
reportingComponent "kubelet", reportingInstance = node). A background task
POSTs them in order. Emitting never blocks and never fails the caller: write
errors are logged and dropped. Nothing is written while the node is lost.
Reasons used: Scheduled (by the scheduler role), Pulled, Failed, BackOff,
Created, Started, Killing, Unhealthy, FailedPreStopHook.
"""
import asyncio
import logging
import time

from . import timeutil

log = logging.getLogger("kubelet.events")

MAX_QUEUE = 1000


class EventRecorder:
    def __init__(self, kubelet, component: str = "kubelet"):
        self.k = kubelet
        self.component = component
        self._queue: asyncio.Queue = asyncio.Queue(MAX_QUEUE)

    def emit(self, pod: dict, etype: str, reason: str, message: str, container: dict | None = None,
             init: bool = False):
        if self.k.lost:
            return
        md = pod["metadata"]
        obj = {"kind": "Pod", "namespace": md["namespace"], "name": md["name"], "uid": md.get("uid"),
               "apiVersion": "v1", "resourceVersion": md.get("resourceVersion")}
        if container is not None:
            obj["fieldPath"] = f"spec.{'initContainers' if init else 'containers'}{{{container['name']}}}"
        now = timeutil.rfc3339()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": f"{md['name']}.{time.time_ns():x}", "namespace": md["namespace"]},
              "involvedObject": obj, "reason": reason, "message": message,
              "source": {"component": self.component, "host": self.k.node_name},
              "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype,
              "reportingComponent": self.component, "reportingInstance": self.k.node_name}
        try:
            self._queue.put_nowait(ev)
        except asyncio.QueueFull:
            log.warning("event queue full: dropping %s %s", reason, message)

    async def run(self):
        while True:
            ev = await self._queue.get()
            await self.k.gate()
            try:
                await self.k.client.create(f"/api/v1/namespaces/{ev['metadata']['namespace']}/events", ev)
            except Exception as e:  # noqa: BLE001 - events are best effort
                log.debug("event %s not written: %s", ev["reason"], e)
