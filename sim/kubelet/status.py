"""Pod status computation: pure functions, no I/O.

Contract: pod_status(...) returns the full `status` object the kubelet
publishes (through the pods/status subresource) from the kubelet's view of
each container, following the real kubelet (1.32):
- phase: getPhase() of pkg/kubelet: Pending while regular init containers are
  unfinished or any main container waits without ever having run; Running when
  one runs (or all stopped but will restart); Succeeded/Failed once terminal.
- conditions, in the kubelet's order: PodReadyToStartContainers, Initialized,
  Ready, ContainersReady, PodScheduled; each keeps its lastTransitionTime
  while its status does not change. Conditions owned by others (e.g.
  DisruptionTarget, readiness gates) are carried over untouched.
- containerStatuses / initContainerStatuses in spec order, keys in the real
  order (name, state, lastState, ready, restartCount, image, imageID,
  containerID, started).
"""
from dataclasses import dataclass, field

from . import timeutil

KUBELET_CONDITIONS = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]


@dataclass
class ContainerView:
    """The kubelet's knowledge of one container (mutable; owned by its runner)."""
    name: str
    image: str
    sidecar: bool = False
    init: bool = False
    state: str = "waiting"                 # waiting | running | terminated
    reason: str = "ContainerCreating"      # waiting reason, or terminated reason
    message: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    container_id: str = ""
    image_id: str = ""
    restart_count: int = 0
    last_state: dict = field(default_factory=dict)
    ready: bool = False
    started: bool = False

    def api_state(self) -> dict:
        if self.state == "running":
            return {"running": {"startedAt": timeutil.rfc3339(self.started_at)}}
        if self.state == "terminated":
            return {"terminated": self.terminated_dict()}
        w = {"reason": self.reason}
        if self.message:
            w["message"] = self.message
        return {"waiting": w}

    def terminated_dict(self) -> dict:
        t = {"exitCode": self.exit_code}
        if self.signal:
            t["signal"] = self.signal
        t["reason"] = self.reason
        if self.message:
            t["message"] = self.message
        t["startedAt"] = timeutil.rfc3339(self.started_at)
        t["finishedAt"] = timeutil.rfc3339(self.finished_at)
        if self.container_id:
            t["containerID"] = self.container_id
        return t

    def api_status(self) -> dict:
        s = {"name": self.name, "state": self.api_state(), "lastState": self.last_state,
             "ready": self.ready, "restartCount": self.restart_count, "image": self.image,
             "imageID": self.image_id}
        if self.container_id:
            s["containerID"] = self.container_id
        s["started"] = self.started
        return s

    @property
    def ever_terminated(self) -> bool:
        return self.state == "terminated" or "terminated" in self.last_state


def phase(restart_policy: str, inits: list[ContainerView], mains: list[ContainerView], terminal: bool) -> str:
    pending_init = failed_init = 0
    for c in inits:
        if c.sidecar:
            continue
        if c.state == "running":
            pending_init += 1
        elif c.state == "terminated":
            if c.exit_code != 0:
                failed_init += 1
        elif "terminated" in c.last_state:
            if c.last_state["terminated"].get("exitCode") != 0:
                failed_init += 1
        else:
            pending_init += 1
    running = waiting = stopped = succeeded = 0
    for c in mains:
        if c.state == "running":
            running += 1
        elif c.state == "terminated":
            stopped += 1
            if c.exit_code == 0:
                succeeded += 1
        elif "terminated" in c.last_state:
            stopped += 1
        else:
            waiting += 1
    if failed_init > 0 and restart_policy == "Never":
        return "Failed"
    if pending_init > 0 or failed_init > 0:
        return "Failed" if terminal else "Pending"
    if waiting > 0:
        return "Failed" if terminal and running == 0 else "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _cond(prev: dict, ctype: str, ok: bool, now: float, reason: str = "", message: str = "") -> dict:
    status = "True" if ok else "False"
    old = prev.get(ctype)
    ltt = old["lastTransitionTime"] if old and old.get("status") == status and old.get("lastTransitionTime") else timeutil.rfc3339(now)
    c = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": ltt}
    if not ok and reason:
        c["reason"] = reason
        if message:
            c["message"] = message
    return c


def pod_status(pod: dict, inits: list[ContainerView], mains: list[ContainerView], *, sandbox_ready: bool,
               pod_ip: str | None, host_ip: str, start_time: float | None, terminal: bool,
               now: float | None = None) -> dict:
    now = timeutil.now() if now is None else now
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    prev = {c.get("type"): c for c in old.get("conditions") or []}
    ph = phase(spec.get("restartPolicy", "Always"), inits, mains, terminal)

    incomplete = [c.name for c in inits if (c.sidecar and not c.started)
                  or (not c.sidecar and not (c.state == "terminated" and c.exit_code == 0))]
    initialized = not incomplete or ph == "Succeeded"
    unready = [c.name for c in inits if c.sidecar and not c.ready] + [c.name for c in mains if not c.ready]
    completed = ph in ("Succeeded", "Failed")
    gates = [g.get("conditionType") for g in spec.get("readinessGates") or []]
    gates_missing = [g for g in gates if (prev.get(g) or {}).get("status") != "True"]

    conds = [_cond(prev, "PodReadyToStartContainers", sandbox_ready and not (completed and terminal), now)]
    conds.append(_cond(prev, "Initialized", initialized, now, "ContainersNotInitialized",
                       f"containers with incomplete status: [{' '.join(incomplete)}]"))
    if completed:
        ready_reason, ready_msg = "PodCompleted", ""
        containers_ready = ready = False
    else:
        containers_ready = not unready
        ready = containers_ready and not gates_missing
        ready_reason = "ContainersNotReady" if unready else "ReadinessGatesNotReady"
        ready_msg = (f"containers with unready status: [{' '.join(unready)}]" if unready
                     else f"corresponding condition of pod readiness gate \"{gates_missing[0]}\" does not exist."
                     if gates_missing else "")
    conds.append(_cond(prev, "Ready", ready, now, ready_reason, ready_msg))
    cr_reason = ready_reason if completed or unready else ""
    conds.append(_cond(prev, "ContainersReady", containers_ready, now, cr_reason,
                       ready_msg if unready and not completed else ""))
    conds.append(_cond(prev, "PodScheduled", True, now))
    for ctype, c in prev.items():
        if ctype not in KUBELET_CONDITIONS:
            conds.append(c)

    st = {"phase": ph, "conditions": conds, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}]}
    if pod_ip:
        st["podIP"] = pod_ip
        st["podIPs"] = [{"ip": pod_ip}]
    if start_time is not None:
        st["startTime"] = timeutil.rfc3339(start_time)
    if inits:
        st["initContainerStatuses"] = [c.api_status() for c in inits]
    st["containerStatuses"] = [c.api_status() for c in mains]
    st["qosClass"] = old.get("qosClass", "BestEffort")
    return st
