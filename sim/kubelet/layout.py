"""Where things live under --state-dir (one place, so the README can point here).

    <state>/pods/<pod-uid>/volumes/<volume>/            emptyDir, secret, configMap, downwardAPI, projected
    <state>/pods/<pod-uid>/rootfs/<container>/          the container's "root": mountPaths are symlinks to volumes
    <state>/pvc/<namespace>/<claimName>/                persistentVolumeClaim data; survives the pod
    <state>/logs/<namespace>_<pod>_<pod-uid>/<container>/<restartCount>.log
                                                        stdout+stderr of each container start (kept after the pod)
    <state>/runtime/<container-id>.json                 a record of each live process group (pid, start time),
                                                        used to kill orphans after a kubelet crash/restart
    --pod-isolation namespaces only:
    <state>/pods/<pod-uid>/ns/<container>-<id>/         where a container's private tmpfs is mounted (inside its
                                                        own mount namespace; empty as the host sees it)
    <state>/runtime/launch-*.json                       a launcher's plan, deleted by the launcher as it reads it
    <state>/network.json                                the pod CIDR this state dir used last (taken again if free)
"""
import os


class Layout:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.root, "pods", uid)

    def volume_dir(self, uid: str, volume: str) -> str:
        return os.path.join(self.pod_dir(uid), "volumes", volume)

    def rootfs(self, uid: str, container: str) -> str:
        return os.path.join(self.pod_dir(uid), "rootfs", container)

    def pvc_dir(self, namespace: str, claim: str) -> str:
        return os.path.join(self.root, "pvc", namespace, claim)

    def log_file(self, namespace: str, pod: str, uid: str, container: str, restart: int) -> str:
        return os.path.join(self.root, "logs", f"{namespace}_{pod}_{uid}", container, f"{restart}.log")

    def runtime_dir(self) -> str:
        return os.path.join(self.root, "runtime")

    def sandbox_scratch(self, uid: str, container: str, start_id: str) -> str:
        return os.path.join(self.pod_dir(uid), "ns", f"{container}-{start_id}")

    def network_record(self) -> str:
        return os.path.join(self.root, "network.json")
