"""Container launcher for namespace isolation mode: `python3 -S launcher.py PLAN.json`, exec'd by the runtime.

It reads (and deletes) the plan the runtime wrote, puts itself where the container belongs, and execs the
container's command in place (same pid, so the runtime's process-group bookkeeping is unchanged). Standard library
only, no import of the sim package: it runs between fork and the container's exec.

Plan "start" (a container's first process), in this order:
 1. join the pod's network namespace (plan.netns; none for hostNetwork pods);
 2. a new mount namespace, propagation private (nothing reaches the host's mount table);
 3. a tmpfs at plan.scratch (a host dir of the pod's state) that holds every directory the container's view needs
    and the host lacks, so nothing is written to the host's root: the root view R is a recursive bind of the host's
    `/` (host binaries, interpreters and absolute host paths keep working, writes to existing host paths reach the
    host); where a mountPath or the workingDir needs a directory that does not exist, the nearest existing directory
    D gets an overlay (lower D, upper on the tmpfs) and D's subdirectories (and mounted files) are bound back on top
    of it, so writes below them still reach the host;
 4. every plan.mounts entry bind-mounted at its target inside R (symlinks in the target resolved inside R, e.g.
    /var/run -> /run), parents before children, read-only when asked;
 5. pivot_root into R; workingDir created when missing (as containerd does) and entered;
 6. supplementary groups, gid, uid; PR_SET_PDEATHSIG again (a credential change clears it), then exec.
Plan "join" (exec probes and hooks): enter the network and mount namespaces of plan.join_pid, then 5-6.
A failure before exec prints one line to stderr (the container log) and exits 127.
Sources: what runc does for a container (rootfs mounts, pivot_root, workingDir created, setgroups/setgid/setuid in
that order: libcontainer/standard_init_linux.go, rootfs_linux.go); mountPaths are created by the runtime.
"""
import ctypes
import json
import os
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SYS_PIVOT_ROOT = 155   # x86_64

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(None if source is None else source.encode(), target.encode(),
                       None if fstype is None else fstype.encode(), ctypes.c_ulong(flags),
                       None if data is None else data.encode()), f"mount {source} on {target}")


def setns(path, nstype):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, nstype), f"setns {path}")
    finally:
        os.close(fd)


class RootView:
    """The container's root R under construction (paths given to its methods are inside R, absolute)."""

    def __init__(self, scratch: str):
        self.scratch = scratch
        self.root = os.path.join(scratch, "root")
        self._private: set[str] = set()     # in-R dirs that live on the tmpfs or an overlay of ours
        self._layers = 0

    def host(self, path: str) -> str:
        return self.root + path if path != "/" else self.root

    def resolve(self, path: str) -> str:
        """path with every symlink resolved inside R (an absolute link target restarts at R's root)."""
        todo = [c for c in path.split("/") if c]
        done: list[str] = []
        hops = 0
        while todo:
            c = todo.pop(0)
            if c == ".":
                continue
            if c == "..":
                if done:
                    done.pop()
                continue
            cand = "/" + "/".join(done + [c])
            if os.path.islink(self.host(cand)):
                hops += 1
                if hops > 40:
                    raise OSError(40, f"too many symlinks in {path}")
                target = os.readlink(self.host(cand))
                if target.startswith("/"):
                    done = []
                todo = [x for x in target.split("/") if x] + todo
                continue
            done.append(c)
        return "/" + "/".join(done)

    def _shadow(self, d: str):
        """Overlay in-R dir d (lower: d as it is now) so entries can be added without touching the host."""
        hd = self.host(d)
        fd = os.open(hd, os.O_PATH | os.O_DIRECTORY)
        try:
            orig = f"/proc/self/fd/{fd}"
            dev = os.stat(orig).st_dev
            n = self._layers = self._layers + 1
            upper, work = os.path.join(self.scratch, f"upper{n}"), os.path.join(self.scratch, f"work{n}")
            os.mkdir(upper)
            os.mkdir(work)
            mount("overlay", hd, "overlay", 0, f"lowerdir={hd},upperdir={upper},workdir={work}")
            for e in os.listdir(orig):
                src = os.path.join(orig, e)
                st = os.lstat(src)
                if os.path.isdir(src) and not os.path.islink(src):
                    mount(src, os.path.join(hd, e), None, MS_BIND | MS_REC)
                elif not os.path.islink(src) and st.st_dev != dev:
                    mount(src, os.path.join(hd, e), None, MS_BIND)   # a file mounted from elsewhere
        finally:
            os.close(fd)
        self._private.add(d)

    def ensure(self, path: str, is_dir: bool = True) -> str:
        """Makes in-R path exist (a dir, or an empty file when not is_dir); returns it with symlinks resolved."""
        path = self.resolve(path)
        parts = [c for c in path.split("/") if c]
        cur = "/"
        for i, c in enumerate(parts):
            nxt = os.path.join(cur, c)
            last = i == len(parts) - 1
            if not os.path.lexists(self.host(nxt)):
                if cur not in self._private:
                    self._shadow(cur)
                if last and not is_dir:
                    open(self.host(nxt), "a").close()
                else:
                    os.mkdir(self.host(nxt), 0o755)
                    self._private.add(nxt)
            cur = nxt
        return path


def build_root(plan: dict) -> RootView:
    scratch = plan["scratch"]
    mount("tmpfs", scratch, "tmpfs", 0, "mode=0700")
    view = RootView(scratch)
    os.mkdir(view.root)
    mount("/", view.root, None, MS_BIND | MS_REC)
    for m in sorted(plan["mounts"], key=lambda m: m["target"].rstrip("/").count("/")):
        is_dir = os.path.isdir(m["source"])
        target = view.host(view.ensure(m["target"], is_dir))
        mount(m["source"], target, None, MS_BIND | MS_REC)
        if m.get("readonly"):
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    view.ensure(plan["workdir"])
    os.chdir(view.root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")
    return view


def become(plan: dict):
    os.setgroups(plan["groups"])
    os.setgid(plan["gid"])
    os.setuid(plan["uid"])
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != plan["parent"]:
        os._exit(137)   # the kubelet died meanwhile


def main(argv):
    with open(argv[1]) as f:
        plan = json.load(f)
    os.unlink(argv[1])
    try:
        if plan.get("join_pid"):
            pid = plan["join_pid"]
            net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            mnt = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            _check(_libc.setns(net, CLONE_NEWNET), "setns net")
            _check(_libc.setns(mnt, CLONE_NEWNS), "setns mnt")
            os.close(net)
            os.close(mnt)
        else:
            if plan.get("netns"):
                setns(plan["netns"], CLONE_NEWNET)
            _check(_libc.unshare(CLONE_NEWNS), "unshare mount namespace")
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            build_root(plan)
        workdir = plan["workdir"]
        os.makedirs(workdir, exist_ok=True)
        os.chdir(workdir)
        become(plan)
        os.execvpe(plan["argv"][0], plan["argv"], plan["env"])
    except OSError as e:
        sys.stderr.write(f"sim container launcher: {e}\n")
        sys.stderr.flush()
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv)
