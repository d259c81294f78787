"""Pod isolation modes of the kubelet simulator, and the namespace mode's per-pod sandbox.

Modes (--pod-isolation, else $MEDIVOTE_SIM_POD_ISOLATION, else DEFAULT_MODE):
- loopback: every container is a host process; pods share the host's loopback, each with its own 127.x address
  from --pod-cidr; volumes are symlinks under the container's rootfs dir (see volumes.py).
- namespaces: every pod gets its own network namespace on a bridge (netns.py) and every container its own mount
  namespace with its volumes at their mountPaths, run as its securityContext's user (mountns.py, launcher.py).
  Needs root, `ip netns`, mount namespaces and overlayfs: without them the kubelet refuses to start.
- auto: namespaces when available, else loopback; also loopback when a --pod-cidr outside 198.18.0.0/15 is given
  (a 127.x range asks for loopback addressing).
choose(requested, pod_cidr) returns (mode, why): the kubelet logs both once at start.

Contract of NamespaceIsolation (the namespace mode's pod network plus container sandbox):
- allocate(uid, preferred) / release(uid): the pod's network namespace and IP (PodNetwork); release also forgets the
  pod's sandbox state and its exec targets.
- container_command(argv, env, cwd, labels): the launcher command that starts the container inside its pod's
  namespaces. The container is identified by labels (uid, container) and its spec read from the pod worker; the
  workingDir inside the container is cwd relative to the container's loopback-mode rootfs dir (so the caller's
  "rootfs + workingDir" contract maps one to one). The first container start of a pod applies
  set_volume_ownership. SIM_ROOTFS is "/" inside (mountPaths are real paths there).
- started(cwd, pid) / exec_command(argv, env, cwd): exec probes and hooks given the same cwd join that container's
  namespaces and user.
- teardown(): the network's teardown (every pod namespace, the bridge, the lease).
"""
import ipaddress
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

from . import mountns
from .layout import Layout
from .netns import POOL, PodNetwork
from .volumes import set_volume_ownership

log = logging.getLogger("kubelet.isolation")

MODES = ("auto", "namespaces", "loopback")
DEFAULT_MODE = "auto"   # namespaces where the machine allows them (root, ip netns, overlayfs), else loopback
ENV_VAR = "MEDIVOTE_SIM_POD_ISOLATION"
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.py")


class IsolationError(Exception):
    pass


def namespaces_unavailable() -> str | None:
    """Why namespace mode cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "not running as root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    try:
        with open("/proc/filesystems") as f:
            if "overlay" not in f.read():
                return "no overlayfs in /proc/filesystems"
    except OSError as e:
        return f"cannot read /proc/filesystems: {e}"
    probe = f"msim-probe-{os.getpid()}"
    p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if p.returncode != 0:
        return f"`ip netns add` failed: {p.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    p = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True) \
        if shutil.which("unshare") else None
    if p is not None and p.returncode != 0:
        return f"no mount namespaces: {p.stderr.strip()}"
    return None


def choose(requested: str | None, pod_cidr: str | None = None) -> tuple[str, str]:
    env = os.environ.get(ENV_VAR)
    mode = requested or env or DEFAULT_MODE
    source = "--pod-isolation" if requested else (f"${ENV_VAR}" if env else "the default")
    if mode not in MODES:
        raise IsolationError(f"pod isolation {mode!r} (from {source}) is not one of {', '.join(MODES)}")
    if mode == "loopback":
        return mode, f"asked by {source}"
    if mode == "auto" and pod_cidr and not _in_pool(pod_cidr):
        return "loopback", f"auto (from {source}): --pod-cidr {pod_cidr} is outside {POOL}"
    reason = namespaces_unavailable()
    if mode == "namespaces":
        if reason:
            raise IsolationError(f"pod isolation 'namespaces' (from {source}) is unavailable: {reason}")
        return mode, f"asked by {source}"
    if reason:
        return "loopback", f"auto (from {source}): namespaces unavailable: {reason}"
    return "namespaces", f"auto (from {source}): root, netns, mount namespaces and overlayfs available"


def _in_pool(cidr: str) -> bool:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return net.version == 4 and net.subnet_of(POOL)


class NamespaceIsolation:
    def __init__(self, state_dir: str, pod_cidr: str | None):
        self.network = PodNetwork(Layout(state_dir).network_record(), pod_cidr)
        self.cidr = self.network.cidr
        self.kubelet = None
        self._prepared: set[str] = set()
        self._exec_targets: dict[str, tuple[int, dict]] = {}   # cwd -> (container pid, identity)

    def attach(self, kubelet):
        self.kubelet = kubelet

    # ---- pod network (Ipam's interface) ----------------------------------------------------------
    def allocate(self, uid: str, preferred: str | None = None) -> str:
        return self.network.allocate(uid, preferred)

    def release(self, uid: str):
        self.network.release(uid)
        self._prepared.discard(uid)
        prefix = self.kubelet.layout.pod_dir(uid) + os.sep
        for cwd in [c for c in self._exec_targets if c.startswith(prefix)]:
            del self._exec_targets[cwd]

    def teardown(self):
        self.network.teardown()

    # ---- containers -------------------------------------------------------------------------------
    def _plan_file(self, plan: dict) -> str:
        fd, path = tempfile.mkstemp(prefix="launch-", suffix=".json", dir=self.kubelet.layout.runtime_dir())
        with os.fdopen(fd, "w") as f:
            json.dump(plan, f)
        return path

    def container_command(self, argv: list, env: dict, cwd: str, labels: dict) -> tuple[list, dict, str]:
        k = self.kubelet
        uid, name = labels["uid"], labels["container"]
        worker = k.workers[uid]
        spec = worker.pod.get("spec") or {}
        container = next(c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])
                         if c["name"] == name)
        if uid not in self._prepared:
            set_volume_ownership(worker.pod, worker.volume_dirs)
            self._prepared.add(uid)
        image = k.images.lookup(container.get("image", ""))
        ident = mountns.identity(worker.pod, container, getattr(image, "user", None))
        rootfs = k.layout.rootfs(uid, name)
        rel = os.path.relpath(cwd, rootfs)
        workdir = "/" if rel == "." else "/" + rel
        scratch = k.layout.sandbox_scratch(uid, name, uuid.uuid4().hex[:8])
        os.makedirs(scratch)
        plan = {"parent": os.getpid(), "netns": self.network.netns_path(uid), "scratch": scratch,
                "mounts": mountns.container_mounts(worker.pod, container, worker.volume_dirs),
                "workdir": workdir, "uid": ident[0], "gid": ident[1], "groups": ident[2],
                "argv": list(argv), "env": {**env, "SIM_ROOTFS": "/"}}
        self._exec_targets[cwd] = (0, {"workdir": workdir, "uid": ident[0], "gid": ident[1], "groups": ident[2]})
        return [sys.executable, "-S", LAUNCHER, self._plan_file(plan)], {"PATH": env.get("PATH", "")}, "/"

    def started(self, cwd: str, pid: int):
        if cwd in self._exec_targets:
            self._exec_targets[cwd] = (pid, self._exec_targets[cwd][1])

    def exec_command(self, argv: list, env: dict, cwd: str) -> tuple[list, dict, str] | None:
        target = self._exec_targets.get(cwd)
        if target is None or not target[0]:
            return None
        pid, ident = target
        plan = {"parent": os.getpid(), "join_pid": pid, **ident, "argv": list(argv),
                "env": {**env, "SIM_ROOTFS": "/"}}
        return [sys.executable, "-S", LAUNCHER, self._plan_file(plan)], {"PATH": env.get("PATH", "")}, "/"
