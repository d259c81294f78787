#!/usr/bin/python3
"""Benchmark: 50 critical pods scaled to 0, each taking 1 s to save its state (the case of
tests/e2e/test_tiered_shutdown.py::test_fifty_critical_pods_scaled_to_zero_take_seconds, timed here alone).

Starts the simulated cluster (API server + kubelet simulators, real pod processes), a leading medivote-controller, a
MediVoteService of 50 critical replicas of the scripted service (`--save-ms 1000`: it answers the shutdown call with
202, saves for 1 s, then exits), waits for the 50 to be ready, then `kubectl scale --replicas=0` and prints the time
until the last pod object is gone, with the shutdown outcomes.

Usage: bench/scale_to_zero.py [--replicas 50] [--save-ms 1000] [--build-dir build] [--runs 1]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
for i, a in enumerate(sys.argv):
    if a == "--build-dir" and i + 1 < len(sys.argv):
        os.environ["MEDIVOTE_BUILD_DIR"] = os.path.abspath(sys.argv[i + 1])

from e2elib import Cluster, Operator, mvs, poll, processes_matching, wait_ready  # noqa: E402


def manifest(name, ns, replicas, save_ms):
    # As the e2e test: every pod may be shut down at once (maxConcurrent = replicas).
    shutdown = {"preStopSleepSeconds": 5, "terminationGracePeriodSeconds": 10, "exitTimeoutSeconds": 5,
                "refusalTimeoutSeconds": 10, "forceDeleteAfterSeconds": 30, "maxConcurrent": replicas}
    endpoint = {"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 1}
    return mvs(name, ns, "medivote/scripted:1", replicas=replicas, tier="critical", endpoint=endpoint,
               shutdown=shutdown, args=["--mode", "accept", "--save-ms", str(save_ms)])


def run_once(cluster, ns, replicas, save_ms):
    name = "many"
    t0 = time.monotonic()
    cluster.apply(manifest(name, ns, replicas, save_ms))
    wait_ready(cluster, ns, name, replicas, timeout=300)
    up = time.monotonic() - t0
    start = time.monotonic()
    cluster.kubectl("scale", f"mvs/{name}", "--replicas=0", "-n", ns)
    poll(lambda: cluster.pods(ns, name) == {}, 300, "every pod to go", interval=0.1)
    took = time.monotonic() - start
    poll(lambda: all(h.get("outcome") for h in cluster.mvs(ns, name)["status"].get("shutdowns", [])), 30,
         "the shutdown history")
    outcomes = {}
    for h in cluster.mvs(ns, name)["status"].get("shutdowns", []):
        outcomes[h["outcome"]] = outcomes.get(h["outcome"], 0) + 1
    print(f"{replicas} critical pods ({save_ms} ms save each) scaled to 0 in {took:.2f} s "
          f"(scale-up to {replicas} ready took {up:.1f} s); outcomes: {outcomes}", flush=True)
    cluster.kubectl("delete", "mvs", name, "-n", ns, "--wait=true", "--timeout=120s")
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, default=50)
    ap.add_argument("--save-ms", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--build-dir", default=None)
    opts = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="medivote-bench-scale-")
    cluster = Cluster(workdir)
    op = None
    try:
        ns = "bench-scale"
        cluster.rest.ok(cluster.rest.post("/api/v1/namespaces",
                                          {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        op = Operator(cluster, "--max-concurrent-shutdown-calls=64", "--kube-api-qps=200", "--kube-api-burst=400",
                      "--log-level=info")
        op.wait_leading()
        times = [run_once(cluster, ns, opts.replicas, opts.save_ms) for _ in range(opts.runs)]
        if len(times) > 1:
            print(f"runs: {', '.join(f'{t:.2f}' for t in times)} s; best {min(times):.2f} s")
    finally:
        if op:
            op.stop()
        cluster.stop()
        left = processes_matching(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
        if left:
            print(f"warning: processes survived: {left}", file=sys.stderr)


if __name__ == "__main__":
    main()
