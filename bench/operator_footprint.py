#!/usr/bin/python3
"""Benchmark (issue 5): the operator's memory and cache sync time with 10,000 pods and 1,000 MediVoteServices.

Loads an API server simulator (its own, HTTPS, no kubelet) with N MediVoteServices of R replicas each and, for every
replica, a Pod as the operator would have created it (labels, owner reference, a container with env, probe and
mount, a claim volume; a Running status with conditions and a container status). Then it starts
`medivote-controller --leader-elect` while a Lease held by someone else exists: the operator lists, watches and
caches everything, but never leads, so what is measured is its caches, not reconcile work. It prints:

* the cache sync time: process start -> /readyz 200 (and the "cache synced" log lines);
* VmRSS/VmHWM/RssAnon/RssFile and threads of the operator, once synced and again after a few seconds of watching;
* for where the memory goes: the same figures for tests/tools/medivote-informer-probe caching only the pods (with the
  operator's projection, and with no transform at all), and the probe's encoded cache size.

Usage: bench/operator_footprint.py [--services 1000] [--replicas 10] [--namespaces 10] [--workers 8]
                                   [--build-dir build] [--keep DIR] [--variant='ENV=V --flag=V' ...]
                                   [--no-probes] [--controller PATH]
"""
import argparse
import http.client
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import benchlib  # noqa: E402,F401  (first: tests/e2e on the path, --build-dir applied)

import e2elib  # noqa: E402
from e2elib import ApiServerOnly, InformerProbe, log_records, mvs, poll, proc_status  # noqa: E402

LEASE_ID = "bench-leader"


class Loader:
    """Concurrent, bounded writes over persistent HTTPS connections (one per worker thread)."""

    def __init__(self, rest, workers):
        self.rest, self.workers = rest, workers
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = self.local.conn = self.rest.conn(timeout=60)
        return c

    def request(self, method, path, body, ctype="application/json"):
        for attempt in range(3):
            c = self._conn()
            try:
                h = dict(self.rest.headers, **{"Content-Type": ctype})
                c.request(method, path, body=json.dumps(body), headers=h)
                r = c.getresponse()
                data = r.read()
                if r.status >= 300:
                    raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
                return json.loads(data)
            except (http.client.HTTPException, OSError):
                c.close()
                self.local.conn = None
                if attempt == 2:
                    raise

    def run(self, jobs):
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(lambda job: self.request(*job), jobs))


def pod_manifest(ns, svc, uid, ordinal):
    name = f"{svc}-{ordinal}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns,
            "labels": {"app": svc, "medivote.io/service": svc, "medivote.io/revision": "5d8f7c9b4",
                       "medivote.io/ordinal": str(ordinal), "medivote.io/serving": "true",
                       "app.kubernetes.io/managed-by": "medivote-operator"},
            "annotations": {"medivote.io/tier": "critical"},
            "ownerReferences": [{"apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService", "name": svc,
                                 "uid": uid, "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "nodeName": "sim-node-1", "hostname": name, "subdomain": svc, "terminationGracePeriodSeconds": 30,
            "containers": [{
                "name": "app", "image": "medivote/vote-service:1", "args": ["--listen", ":8080"],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "DATA_DIR", "value": "/data"}],
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                "lifecycle": {"preStop": {"sleep": {"seconds": 3}}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{name}"}}],
        },
    }


def pod_status(ordinal):
    t = "2026-11-25T20:00:00Z"
    return {"status": {
        "phase": "Running", "podIP": f"10.1.{ordinal // 250}.{ordinal % 250 + 1}", "hostIP": "127.0.0.1",
        "startTime": t, "qosClass": "Burstable",
        "conditions": [{"type": c, "status": "True", "lastProbeTime": None, "lastTransitionTime": t}
                       for c in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "containerStatuses": [{"name": "app", "ready": True, "started": True, "restartCount": 0,
                               "image": "medivote/vote-service:1", "imageID": "sim://medivote/vote-service:1",
                               "containerID": f"sim://{ordinal:08x}", "state": {"running": {"startedAt": t}},
                               "lastState": {}}],
    }}


def load(server, services, replicas, namespaces, workers):
    loader = Loader(server.rest, workers)
    t0 = time.monotonic()
    nss = [f"bench-{i}" for i in range(namespaces)]
    loader.run([("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}})
                for n in nss])
    jobs = []
    for i in range(services):
        ns = nss[i % namespaces]
        body = mvs(f"svc-{i}", ns, "medivote/vote-service:1", replicas=replicas, tier="critical",
                   endpoint={"port": "http", "path": "/shutdown"})
        jobs.append(("POST", f"/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices", body))
    created = loader.run(jobs)
    pod_jobs, status_jobs = [], []
    for obj in created:
        ns, svc, uid = obj["metadata"]["namespace"], obj["metadata"]["name"], obj["metadata"]["uid"]
        for r in range(replicas):
            pod_jobs.append(("POST", f"/api/v1/namespaces/{ns}/pods", pod_manifest(ns, svc, uid, r)))
            status_jobs.append(("PATCH", f"/api/v1/namespaces/{ns}/pods/{svc}-{r}/status", pod_status(r),
                                "application/merge-patch+json"))
    loader.run(pod_jobs)
    loader.run(status_jobs)
    took = time.monotonic() - t0
    print(f"loaded {services} MediVoteServices and {len(pod_jobs)} pods (+ their status) in {took:.1f} s "
          f"({(services + 2 * len(pod_jobs)) / took:.0f} writes/s, {workers} workers)", flush=True)


def hold_lease(server):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    server.rest.ok(server.rest.post("/apis/coordination.k8s.io/v1/namespaces/default/leases", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": LEASE_ID},
        "spec": {"holderIdentity": "bench-holder", "leaseDurationSeconds": 3600, "acquireTime": now,
                 "renewTime": now, "leaseTransitions": 0}}), 201)


def memory(pid):
    s = proc_status(pid)
    return {k: s.get(k) for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads")}


def fmt_mem(m):
    return (f"VmRSS {m['VmRSS'] / 1024:.1f} MB, VmHWM {m['VmHWM'] / 1024:.1f} MB, "
            f"RssAnon {m['RssAnon'] / 1024:.1f} MB, RssFile {m['RssFile'] / 1024:.1f} MB, {m['Threads']} threads")


def settle(pid, seconds):
    """Samples memory for `seconds` (the benchmark's observation window, not a test wait); returns the last sample."""
    end = time.monotonic() + seconds
    m = memory(pid)
    while time.monotonic() < end:
        time.sleep(0.5)
        m = memory(pid)
    return m


def bench_operator(server, workdir, variant=""):
    """Runs the operator once (with the variant's extra environment variables and flags) and prints its figures."""
    tokens = variant.split()
    env = dict(os.environ, **dict(t.split("=", 1) for t in tokens if not t.startswith("--")))
    binary = os.path.abspath(env.pop("controller", e2elib.CONTROLLER))
    extra = [t for t in tokens if t.startswith("--")]
    log_path = os.path.join(workdir, f"operator-{abs(hash(variant))}.log")
    args = [binary, "--kubeconfig", os.path.join(server.sim.dir, "operator.kubeconfig"),
            "--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0",
            "--leader-elect", "--leader-election-namespace=default", f"--leader-election-id={LEASE_ID}", *extra]
    with open(log_path, "w") as logf:
        t0 = time.time()
        proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=env)
    try:
        benchlib.wait_until_ready(proc, log_path)
        t_ready = time.time() - t0
        cpu_at_sync = benchlib.cpu_seconds(proc.pid)
        at_sync = memory(proc.pid)
        recs = log_records(open(log_path).read())
        synced = {r["cache"]: e2elib.log_time(r) - t0 for r in recs if r.get("msg") == "cache synced"}
        later = settle(proc.pid, 5)
        assert "phase=campaigning" in open(log_path).read() and "leader election won" not in open(log_path).read()
        print(f"medivote-controller{' [' + variant + ']' if variant else ''}: /readyz 200 after {t_ready:.2f} s "
              f"(cache synced: {', '.join(f'{k} {v:.2f} s' for k, v in synced.items())}); its CPU until then "
              f"{cpu_at_sync:.2f} s")
        print(f"  at sync:        {fmt_mem(at_sync)}")
        print(f"  5 s later:      {fmt_mem(later)}")
        return t_ready, at_sync, later
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def bench_probe(server, workdir, transform, resource="pods", selector="app.kubernetes.io/managed-by=medivote-operator"):
    args = ["--transform", transform, "--log-level", "warn"]
    if selector:
        args += ["--label-selector", selector]
    t0 = time.monotonic()
    p = InformerProbe(os.path.join(server.sim.dir, "operator.kubeconfig"), resource, *args,
                      log_path=os.path.join(workdir, f"probe-{resource}-{transform}.log"))
    try:
        d = poll(lambda: (lambda d: d if d["info"]["synced"] == "true" else None)(p.info(60)), 300, "probe sync",
                 interval=0.2)
        took = time.monotonic() - t0
        m = settle(p.proc.pid, 2)
        enc = int(d["info"]["encodedBytes"])
        n = int(d["info"]["size"])
        print(f"informer probe, {resource} ({transform}): {n} cached in {took:.2f} s, encoded {enc / 1048576:.1f} MB "
              f"({enc / max(n, 1):.0f} B/object); {fmt_mem(m)}")
        return m, enc
    finally:
        p.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--replicas", type=int, default=10)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--variant", action="append", default=[],
                    help="one more operator run: space-separated ENV=VALUE and --flag=value tokens, and controller=PATH "
                         "for another binary, e.g. 'MALLOC_ARENA_MAX=2 --max-concurrent-shutdown-calls=4'")
    ap.add_argument("--no-probes", action="store_true", help="skip the informer probe figures")
    benchlib.add_run_options(ap)
    opts = ap.parse_args()
    workdir = benchlib.prepare_run(opts, "medivote-bench-")
    # History: 1,000 events per resource (the default) is plenty, the operator starts after the load.
    server = ApiServerOnly(os.path.join(workdir, "cluster"), "--history", "1000")
    try:
        hold_lease(server)
        print("empty cluster (baseline):")
        bench_operator(server, workdir)
        load(server, opts.services, opts.replicas, opts.namespaces, opts.workers)
        bench_operator(server, workdir)
        for variant in opts.variant:
            bench_operator(server, workdir, variant)
        if not opts.no_probes:
            bench_probe(server, workdir, "operator-pod")
            bench_probe(server, workdir, "none")
            bench_probe(server, workdir, "strip", resource="medivoteservices", selector="")
    finally:
        benchlib.end_run(opts, workdir, server)


if __name__ == "__main__":
    main()
