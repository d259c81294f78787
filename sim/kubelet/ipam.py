"""Pod IP allocation from --pod-cidr (a loopback range, so no set-up is needed:
Linux answers for all of 127.0.0.0/8 on lo).

Contract: allocate(uid, preferred) returns the same IP for the same pod uid
until release(uid); it returns `preferred` when that address is free and in
range (so a restarted kubelet keeps a pod's published status.podIP). The
network address, the first host address and the broadcast address are never
handed out. Raises RuntimeError when the range is exhausted.
"""
import ipaddress


class Ipam:
    def __init__(self, cidr: str):
        self.net = ipaddress.ip_network(cidr, strict=False)
        self._by_uid: dict[str, str] = {}
        self._used: set[str] = set()
        self._next = 2

    def allocate(self, uid: str, preferred: str | None = None) -> str:
        if uid in self._by_uid:
            return self._by_uid[uid]
        if preferred and preferred not in self._used:
            try:
                if ipaddress.ip_address(preferred) in self.net:
                    return self._take(uid, preferred)
            except ValueError:
                pass
        size = self.net.num_addresses
        for _ in range(size):
            idx = self._next
            self._next = self._next + 1 if self._next + 1 < size - 1 else 2
            ip = str(self.net.network_address + idx)
            if ip not in self._used:
                return self._take(uid, ip)
        raise RuntimeError(f"pod CIDR {self.net} exhausted")

    def _take(self, uid, ip):
        self._by_uid[uid] = ip
        self._used.add(ip)
        return ip

    def release(self, uid: str):
        ip = self._by_uid.pop(uid, None)
        if ip:
            self._used.discard(ip)
