"""Container process runtime: one process group (session) per container start.

Contract:
- start(...) spawns argv in a new session (so pgid == pid), stdin /dev/null,
  stdout+stderr appended to the log file, with PR_SET_PDEATHSIG=SIGKILL so the
  process dies if the kubelet dies. It records the group in
  <state>/runtime/<id>.json until the process is reaped.
- Process.wait() returns (exit_code, signal): exit_code is 128+N when killed by
  signal N (as container runtimes report), signal is N or None. When the leader
  exits, the rest of its group is SIGKILLed, as a runtime tears down a
  container's cgroup.
- Process.signal(sig) signals the whole group; it is a no-op once reaped.
- kill_orphans(layout) SIGKILLs every group recorded by a previous kubelet
  run whose processes still exist (matched by pgid and start time, so reused
  pids are left alone), then forgets the records.
- kill_all() SIGKILLs every live group this runtime started.
- Runtime(layout, sandbox): with a sandbox (isolation.NamespaceIsolation, namespace mode) a container's argv, env
  and cwd are wrapped by sandbox.container_command(...) (the launcher execs the container in place, so pid and
  group are the container's) and run_exec wraps probe/hook commands with sandbox.exec_command(...) so they run in
  that container's namespaces as its user. Without one (loopback mode) argv runs as it is.
"""
import asyncio
import ctypes
import json
import os
import signal
import subprocess
import time
import uuid

from .layout import Layout

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _child_setup():
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _proc_stat(pid: int):
    """(pgid, starttime) of pid from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); pgrp is field 5, starttime field 22.
    return int(rest[2]), int(rest[19])


def _group_members(pgid: int, min_start: int = 0):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _proc_stat(int(name))
        if st and st[0] == pgid and st[1] >= min_start:
            out.append(int(name))
    return out


class Process:
    def __init__(self, runtime: "Runtime", proc: asyncio.subprocess.Process, cid: str, log_path: str):
        self.runtime = runtime
        self.proc = proc
        self.container_id = cid
        self.pid = proc.pid
        self.log_path = log_path
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.result: tuple[int, int | None] | None = None
        self._reaped = asyncio.Event()

    def signal(self, sig: int):
        if self.result is not None and not _group_members(self.pid):
            return
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    async def wait(self) -> tuple[int, int | None]:
        if self.result is None:
            rc = await self.proc.wait()
            if self.result is None:
                self.finished_at = time.time()
                self.result = (128 - rc, -rc) if rc < 0 else (rc, None)
                # Tear down whatever is left of the container's process group.
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                self.runtime._forget(self)
                self._reaped.set()
        return self.result

    @property
    def running(self) -> bool:
        return self.result is None


# The sandbox of the one Runtime of this process that has one (exec probes/hooks reach run_exec without it).
_exec_sandbox = None


class Runtime:
    def __init__(self, layout: Layout, sandbox=None):
        global _exec_sandbox
        self.layout = layout
        self.sandbox = sandbox
        if sandbox is not None:
            _exec_sandbox = sandbox
        self._live: dict[str, Process] = {}
        os.makedirs(layout.runtime_dir(), exist_ok=True)

    async def start(self, argv: list, env: dict, cwd: str, log_path: str, labels: dict) -> Process:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        cid = uuid.uuid4().hex
        spawn = (argv, env, cwd)
        if self.sandbox is not None:
            try:
                spawn = self.sandbox.container_command(argv, env, cwd, labels)
            except (KeyError, StopIteration, ValueError) as e:   # e.g. an image USER the host does not know
                raise OSError(f"failed to create the container's sandbox: {e}") from e
        with open(log_path, "ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *spawn[0], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=spawn[2], env=spawn[1], start_new_session=True, preexec_fn=_child_setup)
        if self.sandbox is not None:
            self.sandbox.started(cwd, proc.pid)
        p = Process(self, proc, cid, log_path)
        self._live[cid] = p
        st = _proc_stat(p.pid)
        record = {"pid": p.pid, "pgid": p.pid, "starttime": st[1] if st else 0, **labels}
        with open(self._record_path(cid), "w") as f:
            json.dump(record, f)
        return p

    def _record_path(self, cid: str) -> str:
        return os.path.join(self.layout.runtime_dir(), cid + ".json")

    def _forget(self, p: Process):
        self._live.pop(p.container_id, None)
        try:
            os.unlink(self._record_path(p.container_id))
        except FileNotFoundError:
            pass

    def kill_all(self):
        for p in list(self._live.values()):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.unlink(self._record_path(p.container_id))
            except FileNotFoundError:
                pass

    def kill_orphans(self) -> int:
        killed = 0
        d = self.layout.runtime_dir()
        for name in os.listdir(d):
            path = os.path.join(d, name)
            try:
                with open(path) as f:
                    rec = json.load(f)
                for pid in _group_members(int(rec["pgid"]), int(rec.get("starttime", 0))):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed += 1
                    except ProcessLookupError:
                        pass
            except (OSError, ValueError, KeyError):
                pass
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        return killed


async def run_exec(argv: list, env: dict, cwd: str, timeout: float) -> tuple[int, bytes]:
    """Run a probe/hook command to completion in its own session.

    Returns (exit_code, output). On timeout the group is SIGKILLed and the
    exit code is -1 (a timed-out exec probe counts as a failure).
    """
    wrapped = _exec_sandbox.exec_command(argv, env, cwd) if _exec_sandbox is not None else None
    if wrapped is not None:
        argv, env, cwd = wrapped
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=cwd, env=env, start_new_session=True, preexec_fn=_child_setup)
    except OSError as e:
        return 126, str(e).encode()
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
        return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode, out
    except (asyncio.TimeoutError, asyncio.CancelledError) as e:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
        if isinstance(e, asyncio.CancelledError):
            raise
        return -1, b"timeout"
