"""One container's life inside a pod: pull (image map), start, probe, restart.

Contract of ContainerRunner (one per container of a pod, owned by PodWorker):
- run(): loops "start -> wait for exit -> maybe restart" according to the
  restart rule given by should_restart(exit_code); returns when the
  container will not run again (it exited and must not restart, or the pod
  is terminating). While an image is not in the image map the container waits
  with ErrImagePull, then ImagePullBackOff, retried with the back-off.
  Configuration errors (missing Secret/ConfigMap key) wait with
  CreateContainerConfigError and are retried.
- Restart decisions come from the pod worker's own, watch-fed view only (no
  fresh GET, as a real kubelet): a container that exits once termination has
  begun is not restarted. A container that exits while the deletion waits
  behind a sync in progress (pod_sync.py, the restart race) is restarted by
  that sync when its back-off allows it: RESTART_LATENCY_S after the exit at
  the earliest, and termination begins only after that.
- Restarts honour Backoff, showing waiting/CrashLoopBackOff meanwhile.
  Nothing restarts while the node is "lost".
- Probes: startup gates liveness/readiness and `started`; readiness sets
  `ready`; a failing liveness or startup probe kills the container (preStop,
  SIGTERM, grace = terminationGracePeriodSeconds, SIGKILL); it then restarts
  per policy. A start and a readiness/startup result change start a pod sync.
- kill(deadline, run_prestop): for a running container only (a container
  already dead gets no hook: killPod acts on the running containers). preStop
  bounded by the time left (executePreStopHook): `sleep` and `httpGet` are
  waited for even when the container exits meanwhile; `exec` runs in the
  container and ends with it (FailedPreStopHook). Then SIGTERM to the process
  group (at once after the hook), wait until max(deadline, SIGTERM + 2 s) (the
  kubelet's minimum grace), SIGKILL; returns once the process has been reaped.
  The deadline may be moved earlier while waiting (shortened deletion grace).
- Every visible change calls on_change() so the pod status gets written.
"""
import asyncio
import logging
import os
import signal
import time

from . import images as images_mod
from .backoff import Backoff, go_duration
from .expand import EnvError, build_env, expand
from .handlers import HandlerContext, run_handler
from .probes import ProbeWorker
from .runtime import Process
from .status import ContainerView
from .volumes import setup_rootfs

log = logging.getLogger("kubelet.container")

MIN_KILL_GRACE_S = 2.0   # kubelet's minimumGracePeriodInSeconds
# The restart race's new container came 0.3-0.6 s after the exit (kubelet-termination-2026-12.md).
RESTART_LATENCY_S = 0.3


class ContainerRunner:
    def __init__(self, worker, spec: dict, view: ContainerView, should_restart):
        self.w = worker
        self.spec = spec
        self.view = view
        self.should_restart = should_restart
        self.backoff = Backoff(worker.k.backoff_base)
        self.proc: Process | None = None
        self.ctx: HandlerContext | None = None
        self.started_event = asyncio.Event()     # set once `started` (startup probe passed)
        self.done = asyncio.Event()              # set when run() returns
        self.kill_deadline: float | None = None
        self._probe_kill = asyncio.Event()
        self._killing = False
        self._holds_sync = False

    def event(self, etype: str, reason: str, message: str):
        self.w.k.events.emit(self.w.pod, etype, reason, message, self.spec, self.view.init)

    # ---- main loop -------------------------------------------------------
    async def run(self):
        try:
            await self._run()
        finally:
            self._release_sync()
            self.done.set()

    def _release_sync(self):
        """A restart race restart holds the pod's sync in progress until its start is done."""
        if self._holds_sync:
            self._holds_sync = False
            self.w.sync.release()

    async def _run(self):
        w = self.w
        while not w.terminating.is_set() and not w.terminal:
            await w.k.gate()
            if w.terminating.is_set():
                return
            try:
                ok = await self._start_once()
            finally:
                self._release_sync()
            if not ok:
                continue
            if w.terminating.is_set() and not self._killing:
                # Termination began while the process was being spawned.
                asyncio.get_running_loop().create_task(self.kill(w.deadline or time.time(), run_prestop=True))
            exit_code = await self._supervise()
            if w.terminating.is_set() or w.terminal or not self.should_restart(exit_code):
                return
            await w.k.gate()
            if w.terminating.is_set():
                return
            if w.deletion_seen:
                # The deletion waits behind a sync in progress, which sees the exit and restarts the container
                # (the restart race, pod_sync.py) unless the back-off holds it; termination follows.
                if self.backoff.next_delay(self.view.finished_at or time.time()) > 0:
                    return
                restart_at = max(w.sync.until, (self.view.finished_at or time.time()) + RESTART_LATENCY_S)
                w.sync.hold()
                self._holds_sync = True
                await asyncio.sleep(max(0.0, restart_at - time.time()))
                log.info("restart race: restarting %s/%s/%s of a pod being deleted (sync in progress)",
                         w.namespace, w.name, self.view.name)
            else:
                delay = self.backoff.next_delay(self.view.finished_at or time.time())
                if delay > 0:
                    v = self.view
                    v.last_state = {"terminated": v.terminated_dict()}
                    v.state, v.reason = "waiting", "CrashLoopBackOff"
                    v.message = (f"back-off {go_duration(delay)} restarting failed container={v.name} "
                                 f"pod={w.name}_{w.namespace}({w.uid})")
                    v.ready = False
                    v.started = False
                    w.mark_dirty()
                    self.event("Warning", "BackOff", f"Back-off restarting failed container {v.name} in pod "
                                                     f"{w.name}_{w.namespace}({w.uid})")
                    if await w.sleep_unless_terminating(delay):
                        return
            v = self.view
            v.last_state = {"terminated": v.terminated_dict()} if v.state == "terminated" else v.last_state
            v.restart_count += 1

    async def _wait_before_retry(self, reason, message, backoff_reason=None):
        """Waiting state for a failed pull/config: reason now, backoff_reason during the back-off."""
        v = self.view
        v.state, v.reason, v.message = "waiting", reason, message
        self.w.mark_dirty()
        delay = self.backoff.next_delay(time.time()) or min(1.0, self.w.k.backoff_base)
        if backoff_reason:
            await self.w.sleep_unless_terminating(min(1.0, delay))
            v.reason, v.message = backoff_reason[0], backoff_reason[1]
            self.w.mark_dirty()
        await self.w.sleep_unless_terminating(delay)

    async def _start_once(self) -> bool:
        w, v, spec = self.w, self.view, self.spec
        image = spec.get("image", "")
        ispec = w.k.images.lookup(image)
        if ispec is None:
            msg = (f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
                   f'failed to resolve reference "{image}": {image}: not found')
            self.event("Warning", "Failed", f'Failed to pull image "{image}": {msg}')
            self.event("Normal", "BackOff", f'Back-off pulling image "{image}"')
            await self._wait_before_retry("ErrImagePull", msg,
                                          ("ImagePullBackOff", f'Back-off pulling image "{image}"'))
            return False
        self.event("Normal", "Pulled", f'Container image "{image}" already present on machine')
        v.image_id = f"sim.local/{image.split(':')[0]}@{ispec.digest()}"
        try:
            env = await build_env(w.pod, spec, w.pod_ip, w.host_ip, w.fetch)
        except EnvError as e:
            self.event("Warning", "Failed", f"Error: {e}")
            await self._wait_before_retry("CreateContainerConfigError", str(e))
            return False
        full_env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": "/root"}
        full_env.update(ispec.env)
        full_env["HOSTNAME"] = w.name
        full_env.update(env)
        command = [expand(a, env) for a in spec.get("command") or []]
        args = [expand(a, env) for a in spec.get("args") or []]
        argv = images_mod.argv(ispec, command or None, args or None)
        rootfs = setup_rootfs(w.k.layout, w.uid, spec, w.volume_dirs)
        full_env["SIM_ROOTFS"] = rootfs
        full_env["SIM_POD_DIR"] = w.k.layout.pod_dir(w.uid)
        workdir = spec.get("workingDir") or ispec.working_dir
        cwd = rootfs
        if workdir:
            cwd = os.path.join(rootfs, workdir.lstrip("/"))
            os.makedirs(cwd, exist_ok=True)
        if not argv:
            await self._wait_before_retry("CreateContainerError", "no command specified")
            return False
        if w.terminating.is_set():
            return False
        log_path = w.k.layout.log_file(w.namespace, w.name, w.uid, v.name, v.restart_count)
        try:
            self.proc = await w.k.runtime.start(argv, full_env, cwd, log_path,
                                                {"pod": f"{w.namespace}/{w.name}", "uid": w.uid,
                                                 "container": v.name})
        except OSError as e:
            v.container_id = ""
            v.state, v.reason, v.message = "terminated", "StartError", str(e)
            v.exit_code, v.signal = 128, None
            v.started_at = v.finished_at = time.time()
            w.mark_dirty()
            await w.sleep_unless_terminating(min(1.0, w.k.backoff_base))
            return False
        self.event("Normal", "Created", f"Created container: {v.name}")
        self.event("Normal", "Started", f"Started container {v.name}")
        self.ctx = HandlerContext(pod_ip=w.pod_ip, env=full_env, cwd=cwd, ports=spec.get("ports") or [])
        v.container_id = "sim://" + self.proc.container_id
        v.state, v.reason, v.message = "running", "", ""
        v.started_at = self.proc.started_at
        v.exit_code = v.signal = v.finished_at = None
        has_startup = "startupProbe" in spec
        v.started = not has_startup
        v.ready = not has_startup and "readinessProbe" not in spec
        if v.started:
            self.started_event.set()
        w.sync.trigger()
        w.mark_dirty()
        log.info("started %s/%s container %s pid %d: %s", w.namespace, w.name, v.name, self.proc.pid, argv)
        return True

    async def _supervise(self) -> int:
        """Probe the running process until it exits; returns its exit code."""
        v, spec = self.view, self.spec
        self._probe_kill.clear()
        probes: list[asyncio.Task] = []
        loop = asyncio.get_running_loop()
        startup_done = asyncio.Event()

        async def on_change(kind, ok, msg):
            before = (v.started, v.ready)
            if kind == "startup":
                if ok:
                    v.started = True
                    self.started_event.set()
                    startup_done.set()
                    if "readinessProbe" not in spec:
                        v.ready = True
                else:
                    self.event("Warning", "Unhealthy", f"Startup probe failed: {msg}")
                    self._probe_kill.set()
            elif kind == "readiness":
                v.ready = ok and v.started
                if not ok:
                    self.event("Warning", "Unhealthy", f"Readiness probe failed: {msg}")
            elif kind == "liveness" and not ok:
                self.event("Warning", "Unhealthy", f"Liveness probe failed: {msg}")
                self._probe_kill.set()
            if (v.started, v.ready) != before and not self.w.deletion_seen:
                self.w.sync.trigger()     # a probe result change syncs the pod (syncLoopIteration)
            self.w.mark_dirty()

        async def gated(kind):
            if "startupProbe" in spec:
                await startup_done.wait()
            await ProbeWorker(kind, spec[kind + "Probe"], self.ctx, on_change).run()

        if "startupProbe" in spec:
            probes.append(loop.create_task(ProbeWorker("startup", spec["startupProbe"], self.ctx, on_change).run()))
        else:
            startup_done.set()
        for kind in ("readiness", "liveness"):
            if kind + "Probe" in spec:
                probes.append(loop.create_task(gated(kind)))
        wait_exit = loop.create_task(self.proc.wait())
        probe_kill = loop.create_task(self._probe_kill.wait())
        try:
            while True:
                done, _ = await asyncio.wait({wait_exit, probe_kill}, return_when=asyncio.FIRST_COMPLETED)
                if wait_exit in done:
                    break
                # liveness/startup failure: restart the container unless the pod is going away.
                for t in probes:
                    t.cancel()
                if not self.w.terminating.is_set() and not self._killing:
                    grace = float(spec_grace(self.w.pod))
                    log.info("%s probe failed: killing %s/%s/%s", "startup" if not v.started else "liveness",
                             self.w.namespace, self.w.name, v.name)
                    self.event("Normal", "Killing", f"Container {v.name} failed "
                                                    f"{'startup' if not v.started else 'liveness'} probe, will be restarted")
                    await self.kill(time.time() + grace, run_prestop=True, announce=False)
                probe_kill = loop.create_task(asyncio.sleep(3600))
        finally:
            for t in probes + [probe_kill]:
                t.cancel()
        exit_code, sig = wait_exit.result()
        v.state = "terminated"
        v.exit_code, v.signal = exit_code, sig
        v.reason = "Completed" if exit_code == 0 else "Error"
        v.message = ""
        v.finished_at = self.proc.finished_at
        v.ready = False
        v.started = False
        self.w.mark_dirty()
        log.info("container %s/%s/%s exited %d", self.w.namespace, self.w.name, v.name, exit_code)
        return exit_code

    # ---- termination -----------------------------------------------------
    async def kill(self, deadline: float, run_prestop: bool, announce: bool = True):
        p = self.proc
        if p is None or not p.running:
            return
        if self._killing:          # already being killed (e.g. termination began during its start)
            await p.wait()
            return
        self._killing = True
        self.kill_deadline = deadline
        if announce:
            self.event("Normal", "Killing", f"Stopping container {self.view.name}")
        try:
            hook = ((self.spec.get("lifecycle") or {}).get("preStop"))
            if run_prestop and hook and self.ctx is not None and deadline - time.time() > 0:
                await self._prestop(hook, p, deadline)
            if not p.running:
                return
            sigterm_at = time.time()
            log.info("SIGTERM %s/%s/%s (pgid %d)", self.w.namespace, self.w.name, self.view.name, p.pid)
            p.signal(signal.SIGTERM)
            while p.running:
                kill_at = max(self.kill_deadline, sigterm_at + MIN_KILL_GRACE_S)
                left = kill_at - time.time()
                if left <= 0:
                    log.info("SIGKILL %s/%s/%s (pgid %d)", self.w.namespace, self.w.name, self.view.name, p.pid)
                    p.signal(signal.SIGKILL)
                    await p.wait()
                    break
                try:
                    await asyncio.wait_for(asyncio.shield(p.wait()), timeout=min(left, 0.1))
                except asyncio.TimeoutError:
                    pass
        finally:
            self._killing = False

    async def _prestop(self, hook: dict, p, deadline: float):
        """executePreStopHook: wait for the handler or the grace period, whichever ends first. An exec hook runs
        inside the container (RunInContainer) and dies with it; sleep and httpGet do not care that it exited.
        The event carries no detail ("do not record the message in the event so that secrets won't leak")."""
        left = deadline - time.time()
        hook_task = asyncio.ensure_future(run_handler(hook, self.ctx, left, lifecycle=True))
        exit_task = asyncio.ensure_future(asyncio.shield(p.wait())) if "exec" in hook else None
        await asyncio.wait({t for t in (hook_task, exit_task) if t}, timeout=left,
                           return_when=asyncio.FIRST_COMPLETED)
        if exit_task is not None:
            exit_task.cancel()

        def report(t: asyncio.Task):
            if not t.cancelled() and not t.result()[0]:
                log.info("preStop hook of %s/%s/%s failed: %s", self.w.namespace, self.w.name, self.view.name,
                         t.result()[1])
                self.event("Warning", "FailedPreStopHook", "PreStopHook failed")

        if hook_task.done():
            report(hook_task)
        elif exit_task is not None and not p.running:
            hook_task.cancel()
            log.info("preStop exec hook of %s/%s/%s cut off: the container exited", self.w.namespace, self.w.name,
                     self.view.name)
            self.event("Warning", "FailedPreStopHook", "PreStopHook failed")
        else:
            # The grace period ran out: the kubelet stops waiting; the handler goes on and reports on its own.
            hook_task.add_done_callback(report)

    def shorten(self, deadline: float):
        if self.kill_deadline is not None and deadline < self.kill_deadline:
            self.kill_deadline = deadline


def spec_grace(pod: dict) -> int:
    g = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return 30 if g is None else int(g)
