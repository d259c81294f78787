"""Node registration and heartbeats.

Contract of NodeAgent:
- register(): creates the Node (Ready=True, addresses InternalIP=host IP and
  Hostname, capacity/allocatable, podCIDR) or, when it exists, refreshes its
  status through nodes/<name>/status. Creates the kube-node-lease namespace if
  the server lacks it.
- run(): every `interval` seconds renews the Lease kube-node-lease/<node>
  (holderIdentity=node, leaseDurationSeconds=40, renewTime as MicroTime with
  6 fractional digits, ownerReference to the Node) with a resourceVersion-
  checked PUT (409 -> re-read and retry next round), and refreshes the Ready
  condition's lastHeartbeatTime. While the kubelet is "lost" it skips both.
- A Node that disappears while the kubelet runs is NOT registered again, as in
  kubelet 1.32: registerWithAPIServer returns at once once registrationCompleted
  (pkg/kubelet/kubelet_node_status.go), and every status update then fails
  with "error getting node" (kubernetes#71398, #115761; the fix #123535 was not
  merged). The Lease keeps being renewed while it exists; once it is gone (the
  garbage collector deletes it with its owner Node), it is not created again
  while the Node is missing: SetNodeOwnerFunc (pkg/kubelet/util/nodelease.go)
  fails and the lease controller skips the CREATE
  (component-helpers/apimachinery/lease/controller.go ensureLease). A restarted
  kubelet registers the Node again (register()).
"""
import asyncio
import logging
import os

from . import timeutil
from .client import ApiError

log = logging.getLogger("kubelet.node")

LEASE_NS = "kube-node-lease"
LEASE_DURATION_S = 40
KUBELET_VERSION = "v1.32.0-sim"


class NodeAgent:
    def __init__(self, kubelet, interval: float = 10.0):
        self.k = kubelet
        self.interval = interval
        self.node_uid: str | None = None
        self._lease: dict | None = None
        self._ready_since = timeutil.rfc3339()

    def _conditions(self) -> list:
        now = timeutil.rfc3339()
        conds = []
        for ctype, reason, msg in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ):
            conds.append({"type": ctype, "status": "False", "lastHeartbeatTime": now,
                          "lastTransitionTime": self._ready_since, "reason": reason, "message": msg})
        conds.append({"type": "Ready", "status": "True", "lastHeartbeatTime": now,
                      "lastTransitionTime": self._ready_since, "reason": "KubeletReady",
                      "message": "kubelet is posting ready status"})
        return conds

    def _status(self) -> dict:
        cpu = str(os.cpu_count() or 2)
        try:
            mem_kib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
        except (ValueError, OSError):
            mem_kib = 4 * 1024 * 1024
        cap = {"cpu": cpu, "memory": f"{mem_kib}Ki", "pods": "110", "ephemeral-storage": "10Gi"}
        return {
            "capacity": cap, "allocatable": dict(cap), "conditions": self._conditions(),
            "addresses": [{"type": "InternalIP", "address": self.k.host_ip},
                          {"type": "Hostname", "address": self.k.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": os.uname().release,
                         "osImage": "medivote kubelet simulator", "containerRuntimeVersion": "sim://1.0",
                         "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64"},
        }

    async def register(self):
        name = self.k.node_name
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {
                    "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}},
                "spec": {"podCIDR": self.k.pod_cidr, "podCIDRs": [self.k.pod_cidr]},
                "status": self._status()}
        try:
            node = await self.k.client.create("/api/v1/nodes", body)
        except ApiError as e:
            if e.code != 409:
                raise
            node = await self.k.client.get(f"/api/v1/nodes/{name}")
        self.node_uid = node["metadata"]["uid"]
        # A create may drop status (it does for most kinds): always write it via /status too.
        await self.k.client.merge_patch(f"/api/v1/nodes/{name}/status", {"status": self._status()})
        await self._ensure_lease_namespace()
        await self.renew_lease()

    async def _ensure_lease_namespace(self):
        try:
            await self.k.client.get(f"/api/v1/namespaces/{LEASE_NS}")
        except ApiError as e:
            if e.code != 404:
                raise
            try:
                await self.k.client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                                  "metadata": {"name": LEASE_NS}})
            except ApiError as e2:
                if e2.code != 409:
                    raise

    async def renew_lease(self):
        name = self.k.node_name
        path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases/{name}"
        now = timeutil.micro_time()
        if self._lease is None:
            try:
                self._lease = await self.k.client.get(path)
            except ApiError as e:
                if e.code != 404:
                    raise
                owner = await self._node_owner_ref()
                if owner is None:
                    log.warning("Failed to get node %s when trying to set owner ref to the node lease: "
                                "lease not created", name)
                    return
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": name, "namespace": LEASE_NS, "ownerReferences": [owner]},
                        "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_S,
                                 "renewTime": now}}
                self._lease = await self.k.client.create(
                    f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases", body)
                return
        lease = dict(self._lease)
        lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": name,
                         "leaseDurationSeconds": LEASE_DURATION_S, "renewTime": now}
        try:
            self._lease = await self.k.client.replace(path, lease)
        except ApiError as e:
            self._lease = None
            if e.code not in (404, 409):
                raise

    async def _node_owner_ref(self) -> dict | None:
        """The Node as the lease's owner, read afresh (SetNodeOwnerFunc); None while the Node is missing."""
        try:
            node = await self.k.client.get(f"/api/v1/nodes/{self.k.node_name}")
        except ApiError as e:
            if e.code == 404:
                return None
            raise
        return {"apiVersion": "v1", "kind": "Node", "name": self.k.node_name, "uid": node["metadata"]["uid"]}

    async def heartbeat(self):
        await self.renew_lease()
        await self.k.client.merge_patch(f"/api/v1/nodes/{self.k.node_name}/status",
                                        {"status": {"conditions": self._conditions()}})

    async def run(self):
        while True:
            await asyncio.sleep(self.interval)
            if self.k.lost:
                continue
            try:
                await self.heartbeat()
            except Exception as e:  # noqa: BLE001 - next round retries
                log.warning("heartbeat failed: %s", e)
