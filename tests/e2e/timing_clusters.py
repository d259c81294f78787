"""Simulated clusters whose kubelet has the real node's timing (issue 13), for the suites that depend on it.

`KubeletTimingClusters(tmp_path_factory)` hands out one e2elib.Cluster per kubelet watch delay, started on first
use and kept until `close()`: its kubelet runs with `--restart-race-window-ms 1000` (a pod sync in progress after a
container start, a probe change or a pod update ignores a DELETE and restarts a container that exits meanwhile, as
on a real node: ../shared/k8s-reference/kubelet-termination-2026-12.md, "The restart race") and
`--watch-delay-ms <delay>` (pod events reach the kubelet that late), and isolates pods in namespaces of their own
(`--pod-isolation namespaces`: the agent reads its token at its mountPath; a service on the pod's loopback is
reachable from that pod only). The preStop semantics are the simulator's
default, the real ones (a `sleep` waited out in full, an `exec` hook ended with its container, an `httpGet` waited
for). close() stops every cluster and fails if a process it started survived.
"""
import contextlib

from e2elib import Cluster, running_cluster

RACE_WINDOW_MS = 1000


def kubelet_flags(watch_delay_ms=0):
    """The `simctl start` flags of such a cluster."""
    return ("--pod-isolation", "namespaces", "--restart-race-window-ms", str(RACE_WINDOW_MS),
            "--watch-delay-ms", str(watch_delay_ms))


class KubeletTimingClusters:
    def __init__(self, tmp_path_factory):
        self._factory = tmp_path_factory
        self._stack = contextlib.ExitStack()
        self._clusters = {}

    def __call__(self, watch_delay_ms=0):
        if watch_delay_ms not in self._clusters:
            flags = kubelet_flags(watch_delay_ms)
            d = self._factory.mktemp(f"timing-watch-{watch_delay_ms}ms")
            self._clusters[watch_delay_ms] = self._stack.enter_context(
                running_cluster(d, lambda path: Cluster(path, *flags)))
        return self._clusters[watch_delay_ms]

    def close(self):
        self._stack.close()

