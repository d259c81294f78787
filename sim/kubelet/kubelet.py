"""The kubelet: wires the pod watch to pod workers, the node agent and the scheduler.

Contract of Kubelet:
- run(): kills orphans of a previous run (runtime records in the state dir),
  registers the Node, then list+watches all pods. Pods bound to this node get
  one PodWorker per uid; pods without spec.nodeName are bound here (unless
  scheduling is disabled). Returns only when cancelled; shutdown() then
  SIGKILLs every process group it started and exits without touching the API.
- Lost node: while the control file exists or after SIGUSR1 (until SIGUSR2),
  `lost` is True: no heartbeat, no status write, no binding, no start,
  restart, signal or delete for any pod (the running processes keep running,
  unfrozen), also for pods force-deleted from the API meanwhile. When the node
  is back, the processes of pods that no longer exist are killed (the
  kubelet's housekeeping, HandlePodCleanups), and pending work proceeds.
- watch_delay (--watch-delay-ms): every pod watch event (and relist) reaches
  the pod workers that late, in order: a loaded kubelet/apiserver.
- restart_race_window (--restart-race-window-ms, 0 = off): the length of a pod
  sync in progress, during which a deletion waits and an exited container is
  restarted (pod_sync.py).
"""
import asyncio
import logging
import os

from .client import KubeClient
from .events import EventRecorder
from .images import ImageMap
from .ipam import Ipam
from .layout import Layout
from .node import NodeAgent
from .pod_worker import PodWorker
from .runtime import Runtime
from .scheduler import bind
from .watch import LateDelivery, ListWatch

log = logging.getLogger("kubelet")


class Kubelet:
    def __init__(self, client: KubeClient, node_name: str, state_dir: str, images: ImageMap, pod_cidr: str,
                 backoff_base: float = 10.0, lost_node_file: str | None = None, host_ip: str = "127.0.0.1",
                 schedule: bool = True, heartbeat_interval: float = 10.0, isolation=None,
                 watch_delay: float = 0.0, restart_race_window: float = 0.0):
        self.client = client
        self.node_name = node_name
        self.layout = Layout(state_dir)
        os.makedirs(self.layout.root, exist_ok=True)
        self.images = images
        self.pod_cidr = pod_cidr
        # isolation: None in loopback mode, else isolation.NamespaceIsolation (pod network + container sandbox).
        self.ipam = Ipam(pod_cidr) if isolation is None else isolation
        self.runtime = Runtime(self.layout, sandbox=isolation)
        if isolation is not None:
            isolation.attach(self)
        self.backoff_base = backoff_base
        self.restart_race_window = restart_race_window
        self.pod_events = LateDelivery(watch_delay)
        self.lost_node_file = lost_node_file
        self.host_ip = host_ip
        self.schedule = schedule
        self.node = NodeAgent(self, heartbeat_interval)
        self.events = EventRecorder(self)
        self.scheduler_events = EventRecorder(self, component="default-scheduler")
        self.workers: dict[str, PodWorker] = {}
        self._lost_by_signal = False
        self._active = asyncio.Event()
        self._active.set()
        self._binding: set[str] = set()

    # ---- lost-node switch -----------------------------------------------------
    @property
    def lost(self) -> bool:
        return not self._active.is_set()

    def set_lost_by_signal(self, lost: bool):
        self._lost_by_signal = lost
        self._refresh_lost()

    def _refresh_lost(self):
        lost = self._lost_by_signal or bool(self.lost_node_file and os.path.exists(self.lost_node_file))
        if lost and self._active.is_set():
            log.warning("node %s is now LOST: no heartbeats, no pod actions", self.node_name)
            self._active.clear()
        elif not lost and not self._active.is_set():
            log.warning("node %s is back", self.node_name)
            self._active.set()

    async def gate(self):
        """Block while the node is lost."""
        await self._active.wait()

    async def _watch_lost_file(self):
        while True:
            self._refresh_lost()
            await asyncio.sleep(0.1)

    # ---- main -----------------------------------------------------------------
    async def run(self):
        killed = self.runtime.kill_orphans()
        if killed:
            log.warning("killed %d orphaned processes of a previous kubelet run", killed)
        self._refresh_lost()
        tasks = [asyncio.create_task(self._watch_lost_file()), asyncio.create_task(self.events.run()),
                 asyncio.create_task(self.scheduler_events.run()), asyncio.create_task(self.pod_events.run())]
        await self.gate()
        while True:
            try:
                await self.node.register()
                break
            except Exception as e:  # noqa: BLE001 - retry until the API server answers
                log.warning("node registration failed: %s", e)
                await asyncio.sleep(0.5)
        tasks.append(asyncio.create_task(self.node.run()))
        lw = ListWatch(self.client, "/api/v1/pods", self.pod_events.later(self._on_sync),
                       self.pod_events.later(self._on_event))
        tasks.append(asyncio.create_task(lw.run()))
        log.info("kubelet for node %s running", self.node_name)
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    def shutdown(self):
        for w in self.workers.values():
            w.kill_now()
        self.runtime.kill_all()

    # ---- pod events -------------------------------------------------------------
    async def _on_sync(self, pods: list):
        seen = set()
        for pod in pods:
            await self._on_event("MODIFIED", pod)
            seen.add(pod["metadata"]["uid"])
        for uid in [u for u in self.workers if u not in seen]:
            await self._on_event("DELETED", self.workers[uid].pod)

    async def _on_event(self, typ: str, pod: dict):
        md = pod.get("metadata") or {}
        uid = md.get("uid")
        node = (pod.get("spec") or {}).get("nodeName")
        if typ == "DELETED":
            w = self.workers.pop(uid, None)
            if w is not None:
                log.info("pod %s/%s removed from the API", md.get("namespace"), md.get("name"))
                asyncio.get_running_loop().create_task(w.removed())
            return
        if node == self.node_name:
            w = self.workers.get(uid)
            if w is None:
                w = PodWorker(self, pod)
                self.workers[uid] = w
                w.start()
            else:
                w.update(pod)
        elif not node and self.schedule and not md.get("deletionTimestamp") and uid not in self._binding:
            if self.lost:
                return
            self._binding.add(uid)
            asyncio.get_running_loop().create_task(self._bind(pod))

    async def _bind(self, pod):
        try:
            if await bind(self.client, pod, self.node_name):
                md = pod["metadata"]
                self.scheduler_events.emit(pod, "Normal", "Scheduled",
                                           f"Successfully assigned {md['namespace']}/{md['name']} to {self.node_name}")
        finally:
            self._binding.discard(pod["metadata"]["uid"])
