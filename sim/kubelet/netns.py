"""Pod networks in namespace isolation mode: one network namespace per pod on a bridge of this kubelet.

Contract of PodNetwork (it takes Ipam's place: allocate(uid, preferred) / release(uid)):
- The kubelet instance leases a subnet of 198.18.0.0/15 (RFC 2544's benchmarking range: it never routes off this
  machine, and it is neither private nor public address space). Without --pod-cidr it takes a free /24 (the one its
  state dir used last time when that one is free, so a restarted kubelet keeps its pods' IPs); with --pod-cidr, that
  network, which must lie inside 198.18.0.0/15. A lease is an flock on /run/medivote-sim-kubelet/subnet-<i>.lock for
  every /24 <i> the subnet covers, held for the kubelet's life: the kernel drops it when the process dies (even by
  SIGKILL), so two live kubelets never share a /24, and a free lock means its previous holder is dead.
- Without --pod-cidr a kubelet prefers, after its own last /24, a /24 that has no leftovers (so a SIGKILLed
  kubelet that comes back on its state dir finds its /24 free again). Taking a lease first removes the leftovers of
  that subnet's previous holder: every process inside one of its network namespaces is SIGKILLed, the namespaces
  and the bridge are deleted. Then it sweeps the leftovers of every other /24 whose lock it can take for a moment
  (its holder is dead). Nothing of a live instance is touched: its lock is held.
- The bridge msimbr<i> holds the subnet's first host address (.1): the host reaches every pod IP through it, and a
  connection from the host to a pod arrives from that address, not from 127.0.0.1.
- allocate(uid): the next free address (Ipam), a namespace msim<i>-<offset> with its own `lo` up (127.0.0.1 inside is
  the pod's own) and eth0 holding the pod IP, the other end of the veth pair (msim<i>v<offset>) on the bridge. The pod
  gets no default route: it reaches its own subnet (the host's bridge address and other pods) and nothing else.
- release(uid): SIGKILLs whatever still runs inside the pod's namespace (a runtime tears down the whole sandbox),
  deletes the namespace (and with it the veth pair), frees the address.
- teardown(): releases every pod, deletes the bridge, drops the lease. Idempotent.
Sources: the pod sandbox's network namespace and `lo` are the CRI runtime's + CNI's job (the CNI bridge plugin: a
veth per pod on a host bridge, the gateway address on the bridge, pkg/kubelet/kuberuntime RunPodSandbox).
"""
import fcntl
import ipaddress
import json
import logging
import os
import re
import signal
import subprocess

from .ipam import Ipam

log = logging.getLogger("kubelet.netns")

POOL = ipaddress.ip_network("198.18.0.0/15")
LEASE_DIR = "/run/medivote-sim-kubelet"
NETNS_DIR = "/run/netns"


class NetworkError(Exception):
    pass


def _ip(*args: str, batch: list[str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["ip", *args] + (["-batch", "-"] if batch is not None else [])
    p = subprocess.run(argv, input="\n".join(batch or []) + "\n" if batch is not None else None,
                       capture_output=True, text=True, timeout=20)
    if check and p.returncode != 0:
        raise NetworkError(f"{' '.join(argv)} failed: {p.stderr.strip()}")
    return p


def slots_of(net: ipaddress.IPv4Network) -> list[int]:
    """Indexes of the /24s of POOL that `net` overlaps."""
    first = (int(net.network_address) - int(POOL.network_address)) >> 8
    last = (int(net.broadcast_address) - int(POOL.network_address)) >> 8
    return list(range(first, last + 1))


def subnet_of_slot(slot: int) -> ipaddress.IPv4Network:
    return ipaddress.ip_network((int(POOL.network_address) + (slot << 8), 24))


def kill_processes_in(netns_path: str) -> int:
    """SIGKILLs every process whose network namespace is the one bound at netns_path."""
    try:
        st = os.stat(netns_path)
    except OSError:
        return 0
    killed = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            ns = os.stat(f"/proc/{name}/ns/net")
        except OSError:
            continue
        if (ns.st_dev, ns.st_ino) == (st.st_dev, st.st_ino):
            try:
                os.kill(int(name), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


def _leftovers() -> list[tuple[int, str]]:
    """(slot, name) of every msim bridge and pod namespace on this machine, live or not."""
    out = []
    for line in _ip("netns", "list").stdout.splitlines():
        m = re.match(r"msim(\d+)-\d+\b", line)
        if m:
            out.append((int(m.group(1)), m.group(0)))
    for line in _ip("-o", "link", "show", "type", "bridge").stdout.splitlines():
        m = re.search(r"^\d+: (msimbr(\d+)):", line)
        if m:
            out.append((int(m.group(2)), m.group(1)))
    return out


def _remove_slot(slot: int):
    """Removes a dead holder's namespaces (killing what runs in them) and bridge of /24 `slot`."""
    names = [name for s, name in _leftovers() if s == slot and not name.startswith("msimbr")]
    killed = 0
    for name in names:
        killed += kill_processes_in(os.path.join(NETNS_DIR, name))
        _ip("netns", "delete", name, check=False)
    _ip("link", "delete", f"msimbr{slot}", check=False)
    log.warning("removed leftovers of a previous kubelet on %s: %d namespaces, %d processes",
                subnet_of_slot(slot), len(names), killed)


def _try_lock(slot: int) -> int | None:
    os.makedirs(LEASE_DIR, exist_ok=True)
    fd = os.open(os.path.join(LEASE_DIR, f"subnet-{slot}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError:
        os.close(fd)
        return None


class PodNetwork:
    def __init__(self, record: str, pod_cidr: str | None):
        self._record = record     # a file where the subnet in use is recorded (Layout.network_record)
        self._locks: list[int] = []
        if pod_cidr:
            net = ipaddress.ip_network(pod_cidr, strict=False)
            if net.version != 4 or not net.subnet_of(POOL) or net.prefixlen > 29:
                raise NetworkError(f"--pod-cidr {pod_cidr}: in namespace mode the pod CIDR must lie inside {POOL} "
                                   f"(RFC 2544, never routed off this machine) and hold at least 8 addresses")
            if not self._lease(slots_of(net)):
                raise NetworkError(f"--pod-cidr {pod_cidr} is in use by another running kubelet simulator")
        else:
            net = self._lease_free_slot()
        self.net = net
        self.cidr = str(net)
        self.slot = slots_of(net)[0]
        self.bridge = f"msimbr{self.slot}"
        self.gateway = str(net.network_address + 1)
        self.ipam = Ipam(self.cidr)
        self._netns: dict[str, str] = {}      # pod uid -> namespace name
        self._remove_leftovers()
        self._create_bridge()
        os.makedirs(os.path.dirname(self._record), exist_ok=True)
        with open(self._record, "w") as f:
            json.dump({"cidr": self.cidr}, f)

    # ---- lease --------------------------------------------------------------------------
    def _lease(self, slots: list[int]) -> bool:
        fds = []
        for s in slots:
            fd = _try_lock(s)
            if fd is None:
                for f in fds:
                    os.close(f)
                return False
            fds.append(fd)
        self._locks = fds
        return True

    def _lease_free_slot(self) -> ipaddress.IPv4Network:
        preferred = []
        try:
            with open(self._record) as f:
                last = ipaddress.ip_network(json.load(f)["cidr"])
            if last.prefixlen == 24 and last.subnet_of(POOL):
                preferred = [slots_of(last)[0]]
        except (OSError, ValueError, KeyError):
            pass
        dirty = {slot for slot, _ in _leftovers()}
        every = list(range(POOL.num_addresses >> 8))
        for slot in preferred + [s for s in every if s not in dirty] + every:
            if self._lease([slot]):
                return subnet_of_slot(slot)
        raise NetworkError(f"no free /24 left in {POOL}")

    # ---- set-up and clean-up --------------------------------------------------------------
    def _remove_leftovers(self):
        for slot in sorted({slot for slot, _ in _leftovers()}):
            if slot in slots_of(self.net):
                _remove_slot(slot)
                continue
            fd = _try_lock(slot)
            if fd is not None:          # its holder is dead
                try:
                    _remove_slot(slot)
                finally:
                    os.close(fd)

    def _create_bridge(self):
        _ip(batch=[f"link add {self.bridge} type bridge",
                   f"addr add {self.gateway}/{self.net.prefixlen} dev {self.bridge}",
                   f"link set {self.bridge} up"])

    def netns_path(self, uid: str) -> str | None:
        name = self._netns.get(uid)
        return os.path.join(NETNS_DIR, name) if name else None

    def allocate(self, uid: str, preferred: str | None = None) -> str:
        if uid in self._netns:
            return self.ipam.allocate(uid)
        ip = self.ipam.allocate(uid, preferred)
        offset = int(ipaddress.ip_address(ip)) - int(self.net.network_address)
        name, host_if = f"msim{self.slot}-{offset}", f"msim{self.slot}v{offset}"
        try:
            if os.path.exists(os.path.join(NETNS_DIR, name)):   # a pod released by a crashed run of ours
                kill_processes_in(os.path.join(NETNS_DIR, name))
                _ip("netns", "delete", name, check=False)
            _ip(batch=[f"netns add {name}",
                       f"link add {host_if} type veth peer name eth0 netns {name}",
                       f"link set {host_if} master {self.bridge}",
                       f"link set {host_if} up"])
            _ip("-n", name, batch=["link set lo up",
                                   f"addr add {ip}/{self.net.prefixlen} dev eth0",
                                   "link set eth0 up"])
        except NetworkError:
            self.ipam.release(uid)
            _ip("netns", "delete", name, check=False)
            raise
        self._netns[uid] = name
        return ip

    def release(self, uid: str):
        name = self._netns.pop(uid, None)
        if name:
            kill_processes_in(os.path.join(NETNS_DIR, name))
            _ip("netns", "delete", name, check=False)
        self.ipam.release(uid)

    def teardown(self):
        for uid in list(self._netns):
            self.release(uid)
        if self._locks:
            _ip("link", "delete", self.bridge, check=False)
            for fd in self._locks:
                os.close(fd)
            self._locks = []
