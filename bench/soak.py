#!/usr/bin/python3
"""Soak benchmark (issue 15): create/scale/delete cycles of MediVoteServices; the operator's memory, threads and open
files must stay flat after warm-up.

Starts the simulated cluster (tests/e2e/e2elib.py) and a leading medivote-controller, then runs `--cycles` cycles,
`--parallel` at a time, each on a resource of its own. One cycle: create a MediVoteService of the reference vote
service (tests/e2e/vote_service.py; `--tier simple`: SIGTERM only, `--tier critical`: `reach: agent` with its token
Secret) with `--replicas` pods, wait until they are Ready, scale it through `--scale` (default 2,1: one pod up, one
pod shut down), wait for each, delete it and wait until it is gone (finalizer removed, object 404, its pods gone).
Worker i reuses the name `soak-i`, so name-keyed maps see the same key come and go; every `--fresh-every`-th cycle
of a worker takes a name never used before (`soak-i-cN`: new keys; its claims and Secret are deleted afterwards).

Prints at start, after `--warmup` cycles and every 100 cycles: cycles done, the operator's VmRSS, RssAnon, threads
(/proc/<pid>/status Threads), open fds (/proc/<pid>/fd) and the API server simulator's request count since the last
line (all users, and the operator's). The operator is sampled every 10 cycles too; the verdict line compares the RSS
slope (KB/cycle, least squares over the samples of the last 500 cycles) and the thread and fd counts at the end
against warm-up. `--settle-s` (default 65: past the operator's 60 s sweep and the call pool's 30 s idle retirement)
adds one more line after the last cycle with nothing running.

Usage: bench/soak.py [--cycles 1000] [--parallel 8] [--tier simple|critical] [--replicas 1] [--scale 2,1]
                     [--warmup 100] [--fresh-every 5] [--settle-s 65] [--build-dir build] [--keep DIR]
SIGINT stops handing out cycles: those running finish, then the idle line and the verdict as usual.
Exit code 0 when the verdict is flat, 1 when something grew, 2 when cycles failed.
"""
import argparse
import base64
import os
import signal
import sys
import threading
import time
import traceback

import benchlib  # noqa: E402,F401  (first: tests/e2e on the path, --build-dir applied)

from e2elib import OPERATOR_USER, Cluster, Operator, poll, processes_matching, proc_status  # noqa: E402
from timing_clusters import kubelet_flags  # noqa: E402
from vote_service import TOKEN, token_secret, vote_service  # noqa: E402

NS = "soak"
GROUP = "/apis/medivote.io/v1alpha1"
SAMPLE_EVERY = 10
# Verdict thresholds: what "flat" tolerates. RSS moves by whole pages and malloc keeps some slack, so a slope under
# 0.5 KB/cycle (0.5 MB per 1,000 cycles) is noise; item 10 measured about 4 KB/cycle. Threads and fds may differ from
# warm-up by what is in flight at the sampling instant (a call thread, a connection per parallel worker).
RSS_SLOPE_FLAT_KB = 0.5


def mvs_path(name):
    return f"{GROUP}/namespaces/{NS}/medivoteservices/{name}"


class Sampler:
    """The operator's figures: /proc/<pid>/status and /proc/<pid>/fd."""

    def __init__(self, pid):
        self.pid = pid

    def sample(self):
        s = proc_status(self.pid)
        heap, other = self.anon_split()
        return {"VmRSS": s["VmRSS"], "RssAnon": s["RssAnon"], "Threads": s["Threads"],
                "fds": len(os.listdir(f"/proc/{self.pid}/fd")), "heap": heap, "anonOther": other}

    def anon_split(self):
        """Anonymous resident kB in the brk heap ([heap]: glibc malloc's one arena in a glibc build of the operator;
        0 on jemalloc, the operator's allocator, which maps its own memory) and in every other anonymous mapping
        (thread stacks, mmapped blocks, jemalloc's extents), from /proc/<pid>/smaps."""
        heap = other = 0
        name = ""
        with open(f"/proc/{self.pid}/smaps") as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):  # a mapping's header: range perms offset dev inode [name]
                    parts = line.split()
                    name = parts[5] if len(parts) > 5 else ""
                elif first == "Anonymous:":
                    kb = int(line.split()[1])
                    if name == "[heap]":
                        heap += kb
                    else:
                        other += kb
        return heap, other


class Requests:
    """The API server simulator's request count since the last call (its audit log, read then cleared)."""

    def __init__(self, cluster):
        self.cluster = cluster

    def take(self):
        try:
            items = self.cluster.sim.admin("GET", "requests").body["items"]
            self.cluster.sim.admin("DELETE", "requests")
        except Exception:  # noqa: BLE001 - a figure of the report, not something the run depends on
            return None, None
        return len(items), sum(1 for i in items if i.get("user") == OPERATOR_USER)


class Cycler:
    """One cycle of one resource, against the cluster's REST API (thread-safe: a connection per request)."""

    def __init__(self, cluster, opts):
        self.rest = cluster.rest
        self.opts = opts
        self.reach = "agent"

    def _ok(self, r, *codes):
        assert r.status in codes, f"{r.status}: {str(r.body)[:300]}"
        return r

    def status_ready(self, name, n):
        r = self.rest.get(mvs_path(name))
        if r.status != 200:
            return False
        st, meta = r.body.get("status", {}), r.body["metadata"]
        return (st.get("readyReplicas", 0) == n and st.get("replicas", 0) == n and st.get("updatedReplicas", 0) == n
                and st.get("observedGeneration") == meta.get("generation"))

    def pods(self, name):
        r = self.rest.get(f"/api/v1/namespaces/{NS}/pods", labelSelector=f"medivote.io/service={name}")
        return r.body["items"]

    def ready(self, name, n, timeout):
        poll(lambda: self.status_ready(name, n) and len(self.pods(name)) == n, timeout,
             f"{name} to have {n} ready replicas and {n} pods", interval=0.2)

    def gone(self, name, timeout):
        poll(lambda: self.rest.get(mvs_path(name)).status == 404 and not self.pods(name), timeout,
             f"{name} and its pods to be gone", interval=0.2)

    def run(self, name, fresh):
        o = self.opts
        critical = o.tier == "critical"
        if critical:
            self._ok(self.rest.post(f"/api/v1/namespaces/{NS}/secrets", {
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": token_secret(name, self.reach)},
                "data": {"token": base64.b64encode(TOKEN.encode()).decode()}}), 201, 409)
        body = vote_service(name, NS, replicas=o.replicas, reach=self.reach, tier=o.tier)
        self._ok(self.rest.post(f"{GROUP}/namespaces/{NS}/medivoteservices", body), 201)
        self.ready(name, o.replicas, o.step_timeout)
        for n in o.scale:
            self._ok(self.rest.patch(mvs_path(name), {"spec": {"replicas": n}}), 200)
            self.ready(name, n, o.step_timeout)
        self._ok(self.rest.delete(mvs_path(name)), 200, 202)
        self.gone(name, o.step_timeout)
        if fresh:
            # A one-off name leaves nothing behind: its claims (kept by design when a resource goes) and its Secret.
            for c in self.rest.get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims").body["items"]:
                cname = c["metadata"]["name"]
                if cname.startswith("data-") and cname[len("data-"):].rsplit("-", 1)[0] == name:
                    self._ok(self.rest.delete(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{cname}"),
                             200, 202, 404)
            if critical:
                self._ok(self.rest.delete(f"/api/v1/namespaces/{NS}/secrets/{token_secret(name, self.reach)}"),
                         200, 404)


class Soak:
    """Hands cycles to the workers and samples the operator as the cycle count crosses each mark."""

    def __init__(self, opts, cycler, sampler, requests):
        self.opts, self.cycler, self.sampler, self.requests = opts, cycler, sampler, requests
        self.lock = threading.Lock()
        self.started = self.done = self.failed = 0
        self.samples = []  # (cycles done, sample)
        self.marks = {}  # cycles done -> printed sample
        self.began = time.monotonic()
        self.stop = threading.Event()

    def claim(self):
        with self.lock:
            if self.started >= self.opts.cycles or self.stop.is_set():
                return False
            self.started += 1
            return True

    def finish(self, ok):
        with self.lock:
            self.done += 1
            self.failed += not ok
            done = self.done
            if self.failed > self.opts.max_failures:
                self.stop.set()
        if done % SAMPLE_EVERY == 0 or done == self.opts.cycles:
            s = self.sampler.sample()
            with self.lock:
                self.samples.append((done, s))
        if done in (self.opts.warmup,) or done % 100 == 0 or done == self.opts.cycles:
            self.report(done)

    def report(self, done, label=None):
        s = self.sampler.sample()
        total, ours = self.requests.take()
        with self.lock:
            self.marks[done if label is None else label] = s
            failed = self.failed
        req = f"{total} requests ({ours} by the operator)" if total is not None else "requests: -"
        tag = label or ("warm-up" if done == self.opts.warmup else "")
        print(f"{time.monotonic() - self.began:7.0f} s  cycles {done:5d}{' ' + tag if tag else '':10s} "
              f"VmRSS {s['VmRSS']:6d} kB  RssAnon {s['RssAnon']:6d} kB (brk heap {s['heap']:6d}, other {s['anonOther']:6d})  "
              f"threads {s['Threads']:3d}  "
              f"fds {s['fds']:3d}  {req}; failed cycles {failed}", flush=True)

    def worker(self, i):
        own = 0
        while self.claim():
            own += 1
            fresh = self.opts.fresh_every > 0 and own % self.opts.fresh_every == 0
            name = f"soak-{i}-c{own}" if fresh else f"soak-{i}"
            ok = True
            try:
                self.cycler.run(name, fresh)
            except Exception:  # noqa: BLE001 - counted and shown; the resource is cleaned up before the next cycle
                ok = False
                print(f"cycle of {name} failed:\n{traceback.format_exc(limit=3)}", file=sys.stderr, flush=True)
                try:
                    self.cycler.rest.delete(mvs_path(name))
                    self.cycler.gone(name, self.opts.step_timeout * 2)
                except Exception:  # noqa: BLE001
                    print(f"{name} could not be cleaned up; worker {i} stops", file=sys.stderr, flush=True)
                    self.finish(ok)
                    return
            self.finish(ok)

    def run(self):
        self.report(0, "start")
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(self.opts.parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.done not in self.marks:  # stopped early (SIGINT, failures)
            self.report(self.done)
        if self.opts.settle_s > 0:
            time.sleep(self.opts.settle_s)
            self.report(self.done, f"+{self.opts.settle_s:.0f}s idle")


def slope(points):
    """Least-squares slope of [(x, y)]; None with fewer than 2 distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


def verdict(soak, opts):
    """The closing line: RSS slope over the last 500 cycles, threads and fds at the end against warm-up."""
    done = soak.done
    warm = soak.marks.get(opts.warmup)
    end = soak.marks.get(done)
    if warm is None or end is None or done - opts.warmup < 100:
        print(f"verdict: not enough cycles after warm-up ({done} done, warm-up {opts.warmup})")
        return 2
    window = [(c, s["VmRSS"]) for c, s in soak.samples if c >= max(opts.warmup, done - 500)]
    anon = [(c, s["RssAnon"]) for c, s in soak.samples if c >= max(opts.warmup, done - 500)]
    k, ka = slope(window), slope(anon)
    first = window[0][0] if window else done
    thread_slack, fd_slack = 2, opts.parallel + 2
    grew = []
    if k is not None and k > RSS_SLOPE_FLAT_KB:
        grew.append("RSS")
    if end["Threads"] > warm["Threads"] + thread_slack:
        grew.append("threads")
    if end["fds"] > warm["fds"] + fd_slack:
        grew.append("fds")
    print(f"verdict: {'GROWS (' + ', '.join(grew) + ')' if grew else 'FLAT'} - cycles {first}..{done}: "
          f"VmRSS slope {k:+.2f} KB/cycle, RssAnon slope {ka:+.2f} KB/cycle (flat: <= {RSS_SLOPE_FLAT_KB}); "
          f"VmRSS {warm['VmRSS']} -> {end['VmRSS']} kB; threads {warm['Threads']} -> {end['Threads']} "
          f"(slack {thread_slack}); fds {warm['fds']} -> {end['fds']} (slack {fd_slack}); "
          f"failed cycles {soak.failed}", flush=True)
    if soak.failed:
        return 2
    return 1 if grew else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--tier", choices=("simple", "critical"), default="simple")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--scale", default="2,1", help="replica counts to scale through after creation (default 2,1)")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--fresh-every", type=int, default=5,
                    help="every Nth cycle of a worker uses a name never used before (0: always reuse)")
    ap.add_argument("--settle-s", type=float, default=65.0)
    ap.add_argument("--step-timeout", type=float, default=120.0)
    ap.add_argument("--max-failures", type=int, default=20)
    benchlib.add_run_options(ap, controller=False)
    opts = ap.parse_args()
    opts.scale = [int(x) for x in opts.scale.split(",") if x.strip()]
    workdir = benchlib.prepare_run(opts, "medivote-bench-soak-")
    # The vote service writes to its claim at /data and the agent reads its token at its mountPath: pods isolated in
    # namespaces of their own, with the kubelet's real timing (tests/e2e/timing_clusters.py).
    cluster = Cluster(workdir, *kubelet_flags(0))
    op = None
    code = 2
    try:
        cluster.ensure_namespace(NS)
        op = Operator(cluster, "--kube-api-qps=200", "--kube-api-burst=400", "--log-level=info")
        op.wait_leading()
        print(f"soak: {opts.cycles} cycles, {opts.parallel} in parallel, tier {opts.tier}, {opts.replicas} replica(s) "
              f"then {opts.scale}, a fresh name every {opts.fresh_every} cycles of a worker; operator pid "
              f"{op.proc.pid}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        soak = Soak(opts, Cycler(cluster, opts), Sampler(op.proc.pid), Requests(cluster))
        # SIGINT: no new cycle; those running finish, and the figures so far get their verdict.
        signal.signal(signal.SIGINT, lambda *_: soak.stop.set())
        soak.run()
        print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        code = verdict(soak, opts)
    finally:
        if op:
            op.stop()
        cluster.stop()
        left = processes_matching(workdir)
        benchlib.remove_unless_kept(opts, workdir)
        if left:
            print(f"warning: processes survived: {left}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
