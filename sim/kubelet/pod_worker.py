"""One pod's lifecycle on this node (the kubelet's pod worker).

Contract of PodWorker (created for each pod bound to this node, keyed by uid):
- update(pod): the latest object from the watch (possibly --watch-delay-ms
  late: the worker knows only what the watch told it). The first
  deletionTimestamp starts termination, once no pod sync is in progress
  (pod_sync.py: a deletion does not stop a sync already running); a later,
  shorter deletionGracePeriodSeconds moves the kill deadline earlier. An
  update that changes spec, labels or annotations starts a sync.
- Start-up: allocate the pod IP, set up volumes (retried while a referenced
  Secret/ConfigMap is missing), run regular init containers one by one to
  completion (restarted per restartPolicy; under Never a failure makes the
  pod Failed), start native sidecars (restartPolicy Always init containers)
  in order, each waiting for `started`, then start all main containers.
- Termination (deletionTimestamp set): deadline = start of termination +
  deletionGracePeriodSeconds (the kubelet hands the grace to killContainer). Main containers (and a running regular init
  container) are killed in parallel (preStop, SIGTERM, SIGKILL at the deadline
  but never sooner than 2 s after SIGTERM); then sidecars, in reverse order,
  the same way. Then the terminal status (Succeeded if every container exited
  0, else Failed) is written and the pod is deleted with gracePeriodSeconds=0
  and a uid precondition.
- removed(): the pod object is gone (force delete, or our own delete): every
  process gets SIGTERM, then SIGKILL 2 s later (the kubelet's minimum grace);
  the IP and the pod's non-persistent volumes are released. Logs and PVC data
  stay. While the node is lost nothing happens: the processes keep running
  until the node is back (then the kubelet's housekeeping, HandlePodCleanups,
  kills what no longer exists in the API).
- Status: every change marks the status dirty; a writer task merges and PATCHes
  pods/<name>/status (merge patch with a metadata.uid precondition), skipping
  writes identical to the last one. While the node is "lost" nothing is written
  and nothing is started, restarted or signalled.
"""
import asyncio
import logging
import signal
import time

from . import timeutil
from .client import ApiError, pod_path
from .container import MIN_KILL_GRACE_S, ContainerRunner
from .pod_sync import SyncInProgress, differ_semantically
from .status import KUBELET_CONDITIONS, ContainerView, pod_status
from .volumes import VolumeError, remove_pod_dir, setup_pod_volumes

log = logging.getLogger("kubelet.pod")

FORCE_KILL_WAIT_S = MIN_KILL_GRACE_S   # killContainer never gives less than minimumGracePeriodInSeconds


def is_sidecar(c: dict) -> bool:
    return c.get("restartPolicy") == "Always"


class PodWorker:
    def __init__(self, kubelet, pod: dict):
        self.k = kubelet
        self.pod = pod
        md = pod["metadata"]
        self.uid = md["uid"]
        self.name = md["name"]
        self.namespace = md["namespace"]
        self.host_ip = kubelet.host_ip
        self.pod_ip: str | None = None
        self.volume_dirs: dict[str, str] = {}
        self.start_time: float | None = None
        self.sandbox_ready = False
        self.terminal = False
        self.terminating = asyncio.Event()     # set when termination begins (the kubelet acts on the deletion)
        self.deletion_seen = False             # a deletionTimestamp arrived (termination may wait for a sync)
        self._grace: int | None = None
        self.sync = SyncInProgress(kubelet.restart_race_window)
        self.deadline: float | None = None
        self.gone = False
        self._dirty = asyncio.Event()
        self._last_written = None
        spec = pod.get("spec") or {}
        old = {c["name"]: c for c in ((pod.get("status") or {}).get("containerStatuses") or [])
               + ((pod.get("status") or {}).get("initContainerStatuses") or [])}
        self.init_views = [self._view(c, True, old) for c in spec.get("initContainers") or []]
        self.main_views = [self._view(c, False, old) for c in spec.get("containers") or []]
        self.init_runners: list[ContainerRunner] = []
        self.main_runners: list[ContainerRunner] = []
        self._tasks: list[asyncio.Task] = []
        self.frozen_status = False

    def _view(self, c: dict, init: bool, old: dict) -> ContainerView:
        v = ContainerView(name=c["name"], image=c.get("image", ""), init=init, sidecar=init and is_sidecar(c))
        # Real kubelet: everything waits in PodInitializing while init containers exist.
        has_inits = bool((self.pod.get("spec") or {}).get("initContainers"))
        v.reason = "PodInitializing" if has_inits else "ContainerCreating"
        prev = old.get(c["name"])
        if prev and prev.get("containerID"):
            # Seen running under a previous kubelet run: its processes were killed at start-up.
            v.restart_count = int(prev.get("restartCount", 0)) + 1
            term = (prev.get("state") or {}).get("terminated")
            v.last_state = {"terminated": term} if term else {"terminated": {
                "exitCode": 137, "reason": "Error", "startedAt": (prev.get("state") or {}).get("running", {}).get("startedAt"),
                "finishedAt": timeutil.rfc3339(), "containerID": prev["containerID"]}}
        return v

    # ---- entry points from the kubelet --------------------------------------
    def start(self):
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._status_writer()))
        status = self.pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            # Already terminal (e.g. after a kubelet restart): nothing to run, and the
            # published status stays as it is (our container views were not rebuilt).
            self.terminal = True
            self.frozen_status = True
            self.pod_ip = status.get("podIP")
            self._tasks.append(loop.create_task(self._terminate_when_deleted()))
        else:
            self._tasks.append(loop.create_task(self._run()))
            self._tasks.append(loop.create_task(self._terminate_when_deleted()))
        self.update(self.pod)

    def update(self, pod: dict):
        prev, self.pod = self.pod, pod
        # Other writers' conditions (readiness gates, DisruptionTarget) may change Ready.
        self.mark_dirty()
        md = pod["metadata"]
        if not md.get("deletionTimestamp"):
            if differ_semantically(prev, pod):
                self.sync.trigger()
            return
        grace = md.get("deletionGracePeriodSeconds")
        grace = 30 if grace is None else int(grace)
        if not self.deletion_seen:
            self.deletion_seen = True
            self._grace = grace
            self._tasks.append(asyncio.get_running_loop().create_task(self._begin_termination()))
        elif not self.terminating.is_set():
            self._grace = min(self._grace, grace)
        elif time.time() + grace < self.deadline:
            self.deadline = time.time() + grace
            for r in self.init_runners + self.main_runners:
                r.shorten(self.deadline)

    async def _begin_termination(self):
        """The deletion is acted on once no sync is in progress (the restart race, pod_sync.py)."""
        if self.sync.in_progress():
            log.info("pod %s/%s: deletion seen during a sync in progress; terminating when it ends",
                     self.namespace, self.name)
        await self.sync.wait_idle()
        self.deadline = time.time() + self._grace
        self.terminating.set()

    async def removed(self):
        """The pod object is gone: stop everything and release resources, once the node is not lost."""
        await self.k.gate()
        self.gone = True
        self.terminating.set()
        for t in self._tasks:
            t.cancel()
        runners = [r for r in self.init_runners + self.main_runners if r.proc is not None and r.proc.running]
        for r in runners:
            r.proc.signal(signal.SIGTERM)
        if runners:
            await asyncio.wait([asyncio.ensure_future(r.proc.wait()) for r in runners], timeout=FORCE_KILL_WAIT_S)
        for r in runners:
            if r.proc.running:
                r.proc.signal(signal.SIGKILL)
                await r.proc.wait()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.k.ipam.release(self.uid)
        try:
            remove_pod_dir(self.k.layout, self.uid)
        except OSError as e:
            log.warning("cleanup of pod %s failed: %s", self.uid, e)

    def kill_now(self):
        """Kubelet shutdown: SIGKILL every process of the pod (no API calls)."""
        for r in self.init_runners + self.main_runners:
            if r.proc is not None and r.proc.running:
                r.proc.signal(signal.SIGKILL)
        for t in self._tasks:
            t.cancel()

    # ---- helpers -------------------------------------------------------------
    def mark_dirty(self):
        self._dirty.set()

    async def sleep_unless_terminating(self, seconds: float) -> bool:
        """Sleep; True if termination started meanwhile."""
        try:
            await asyncio.wait_for(self.terminating.wait(), timeout=max(0.0, seconds))
            return True
        except asyncio.TimeoutError:
            return False

    async def fetch(self, kind: str, name: str):
        plural = {"Secret": "secrets", "ConfigMap": "configmaps"}[kind]
        try:
            return await self.k.client.get(f"/api/v1/namespaces/{self.namespace}/{plural}/{name}")
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def restart_rule(self, sidecar: bool):
        policy = (self.pod.get("spec") or {}).get("restartPolicy", "Always")
        if sidecar or policy == "Always":
            return lambda code: True
        if policy == "OnFailure":
            return lambda code: code != 0
        return lambda code: False

    # ---- start-up ------------------------------------------------------------
    async def _run(self):
        spec = self.pod.get("spec") or {}
        await self.k.gate()
        status = self.pod.get("status") or {}
        self.start_time = timeutil.parse(status["startTime"]) if status.get("startTime") else time.time()
        if spec.get("hostNetwork"):
            self.pod_ip = self.host_ip
        else:
            self.pod_ip = self.k.ipam.allocate(self.uid, status.get("podIP"))
        self.mark_dirty()
        while True:
            try:
                self.volume_dirs = await setup_pod_volumes(self.k.layout, self.pod, self.pod_ip, self.host_ip, self.fetch)
                break
            except (VolumeError, ApiError) as e:
                for v in self.main_views:
                    v.message = f"MountVolume.SetUp failed: {e}"
                self.mark_dirty()
                if await self.sleep_unless_terminating(2.0):
                    return
        for v in self.main_views:
            v.message = ""
        self.sandbox_ready = True
        self.mark_dirty()
        loop = asyncio.get_running_loop()
        for c, v in zip(spec.get("initContainers") or [], self.init_views):
            if self.terminating.is_set():
                return
            sidecar = is_sidecar(c)
            r = ContainerRunner(self, c, v, self.restart_rule(sidecar) if sidecar else self._init_rule())
            self.init_runners.append(r)
            task = loop.create_task(r.run())
            self._tasks.append(task)
            if sidecar:
                await self._first([r.started_event.wait(), self.terminating.wait()])
            else:
                await r.done.wait()
                if not (v.state == "terminated" and v.exit_code == 0):
                    # Init failed for good (restartPolicy Never) or the pod is terminating.
                    if not self.terminating.is_set():
                        self.terminal = True
                        for mv in self.main_views:
                            mv.reason = "PodInitializing"
                        await self._stop_sidecars(time.time() + float(spec.get("terminationGracePeriodSeconds", 30)))
                        self.mark_dirty()
                    return
        for v in self.main_views:
            if v.state == "waiting" and v.reason == "PodInitializing":
                v.reason = "ContainerCreating"
        self.mark_dirty()
        if self.terminating.is_set():
            return
        for c, v in zip(spec.get("containers") or [], self.main_views):
            r = ContainerRunner(self, c, v, self.restart_rule(False))
            self.main_runners.append(r)
        for r in self.main_runners:
            self._tasks.append(loop.create_task(r.run()))
        await asyncio.gather(*[r.done.wait() for r in self.main_runners])
        if not self.terminating.is_set():
            # Every main container finished for good (Never / OnFailure): the pod is complete.
            self.terminal = True
            await self._stop_sidecars(time.time() + float(spec.get("terminationGracePeriodSeconds", 30)))
            self.mark_dirty()

    def _init_rule(self):
        policy = (self.pod.get("spec") or {}).get("restartPolicy", "Always")
        if policy == "Never":
            return lambda code: False
        return lambda code: code != 0

    @staticmethod
    async def _first(aws):
        tasks = [asyncio.ensure_future(a) for a in aws]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()

    async def _stop_sidecars(self, deadline: float):
        """Stop native sidecars in reverse order; self.terminal keeps them from restarting."""
        for r in reversed([r for r in self.init_runners if r.view.sidecar]):
            await self.k.gate()
            await r.kill(deadline, run_prestop=True)

    # ---- termination -----------------------------------------------------------
    async def _terminate_when_deleted(self):
        await self.terminating.wait()
        await self.k.gate()
        deadline = self.deadline
        log.info("terminating pod %s/%s (grace deadline in %.1fs)", self.namespace, self.name, deadline - time.time())
        regular = [r for r in self.init_runners if not r.view.sidecar] + self.main_runners
        await asyncio.gather(*[r.kill(self.deadline, run_prestop=not r.view.init) for r in regular])
        await asyncio.gather(*[r.done.wait() for r in regular])
        for r in reversed([r for r in self.init_runners if r.view.sidecar]):
            await self.k.gate()
            await r.kill(self.deadline, run_prestop=True)
        for r in self.init_runners + self.main_runners:
            await r.done.wait()
        # Pod start-up may still be waiting (volumes, pulls): it returns on `terminating`.
        self.terminal = True
        for v in self.init_views + self.main_views:
            if v.state == "running":
                v.state = "terminated"
        self.mark_dirty()
        await self.k.gate()
        await self._write_status(force=True)
        await self.k.gate()
        try:
            await self.k.client.delete(pod_path(self.namespace, self.name),
                                       {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}})
            log.info("deleted pod %s/%s", self.namespace, self.name)
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("final delete of %s/%s failed: %s", self.namespace, self.name, e)

    # ---- status ----------------------------------------------------------------
    def compute_status(self) -> dict:
        pod = self.pod
        if self._last_written:
            # Our own conditions come from what we wrote last (a watch event may lag behind
            # our writes); conditions owned by others come from the latest object.
            mine = [c for c in self._last_written["conditions"] if c["type"] in KUBELET_CONDITIONS]
            foreign = [c for c in (pod.get("status") or {}).get("conditions") or []
                       if c.get("type") not in KUBELET_CONDITIONS]
            pod = {**pod, "status": {**(pod.get("status") or {}), "conditions": mine + foreign}}
        return pod_status(pod, self.init_views, self.main_views, sandbox_ready=self.sandbox_ready,
                          pod_ip=self.pod_ip, host_ip=self.host_ip, start_time=self.start_time,
                          terminal=self.terminal)

    async def _status_writer(self):
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.02)
            await self.k.gate()
            self._dirty.clear()
            try:
                await self._write_status()
            except Exception as e:  # noqa: BLE001 - retried on the next change
                log.warning("status write for %s/%s failed: %s", self.namespace, self.name, e)
                await asyncio.sleep(0.5)
                self._dirty.set()

    async def _write_status(self, force: bool = False):
        if self.gone or self.frozen_status:
            return
        st = self.compute_status()
        if st == self._last_written and not force:
            return
        try:
            obj = await self.k.client.merge_patch(pod_path(self.namespace, self.name, "status"),
                                                  {"metadata": {"uid": self.uid}, "status": st})
            if obj and (obj.get("metadata") or {}).get("uid") == self.uid:
                # Keep our copy of the server's status (conditions of other writers included).
                self.pod = {**self.pod, "status": obj.get("status") or st}
            self._last_written = st
        except ApiError as e:
            if e.code in (404, 409):
                return
            raise
