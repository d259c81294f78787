#!/usr/bin/python3
"""Benchmark: critical pods scaled to 0 under a real kubelet's timing (issue 13), against their physical limit.

Starts the simulated cluster with the kubelet's real semantics (tests/e2e/timing_clusters.py: restart-race window
1000 ms, pods in namespaces of their own, preStop hooks as a real kubelet runs them), a leading medivote-controller,
and a critical MediVoteService of N replicas of the reference vote service (tests/e2e/vote_service.py, `reach:
agent` by default: delete first, the call once the kubelet's preStop hook reached the agent) that saves for
`--save-ms` (`--save-delay-ms`) and exits the instant it has saved. Once the N pods are Ready, it sets replicas to 0
and prints:
- the time from that write to the last pod object gone (the pods are watched: tests/e2e/pod_history.py);
- the physical limit: the slowest pod's own time, from the shutdown request it accepted to its exit (its save and
  exit, from its claim's events.log), and the ratio of the two;
- where the time goes, per pod (median and max from the scale-down): drained (first shutdown stage), deleted
  (deletionTimestamp seen), call accepted by the service, service exited, pod gone; and the recorded outcomes.

Usage: bench/scale_to_zero.py [--replicas 100] [--save-ms 1000] [--reach agent|direct] [--settle-s 3]
                              [--watch-delay-ms 0] [--tier critical|simple] [--build-dir build]
"""
import argparse
import collections
import os
import shutil
import statistics
import sys
import tempfile
import time

import benchlib  # noqa: E402,F401  (first: tests/e2e on the path, --build-dir applied)

from e2elib import Cluster, Operator, poll, processes_matching, wait_ready  # noqa: E402
from pod_history import PodHistory  # noqa: E402
from timing_clusters import kubelet_flags  # noqa: E402
from vote_service import claim_events, create_token, vote_service  # noqa: E402

NAME = "many"


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"


def run(cluster, ns, replicas, save_ms, reach, settle_s, tier="critical"):
    create_token(cluster, ns, NAME, reach)
    cluster.apply(vote_service(NAME, ns, replicas=replicas, reach=reach, tier=tier,
                               args=["--save-delay-ms", str(save_ms)], maxConcurrent=replicas))
    t0 = time.monotonic()
    wait_ready(cluster, ns, NAME, replicas, timeout=150)
    print(f"{replicas} pods ready in {time.monotonic() - t0:.1f} s", flush=True)
    with PodHistory(cluster.rest, ns) as pods:
        poll(lambda: len(pods.uids()) >= replicas, 30, "the watch to list every pod")
        # A real kubelet syncs a pod when its readiness changes, and a sync in progress holds a DELETE back for up to
        # the 1 s PLEG relist (kubelet-termination-2026-12.md: 26 of 26 restarted 0.2 s after Ready, 0 of 30 3 s
        # after). --settle-s lets the pods reach the steady state a running service is in; 0 measures pods scaled
        # down the moment they became Ready.
        time.sleep(settle_s)
        start = time.time()
        cluster.rest.ok(cluster.rest.patch(f"/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices/{NAME}",
                                           {"spec": {"replicas": 0}}))
        poll(lambda: all(pods.gone_at(u) for u in pods.uids()), 120, "every pod to go", interval=0.05)
        to_zero = max(pods.gone_at(u) for u in pods.uids()) - start
        phases = collections.defaultdict(list)
        own = []
        restarted = 0
        for uid in pods.uids():
            seen = pods.seen(uid)
            name = pods.name(uid)
            log = claim_events(os.path.join(cluster.pvc_dir(ns, f"data-{name}"), "events.log"))
            accepted = next((t / 1000.0 for t, e, _ in log if e == "shutdown-requested"), None)
            exited = next((t / 1000.0 for t, e, _ in log if e == "exit" and (not accepted or t / 1000.0 >= accepted)
                           and t / 1000.0 >= start), None)
            if accepted and exited:
                own.append(exited - accepted)
            phases["drained"].append(next((s.t - start for s in seen if s.stage), None))
            phases["deleted"].append(next((s.t - start for s in seen if s.deleting), None))
            phases["accepted"].append(accepted - start if accepted else None)
            phases["exited"].append(exited - start if exited else None)
            phases["gone"].append(pods.gone_at(uid) - start)
            restarted += pods.restarted(uid) > 0
    if tier != "critical":
        # The floor of the simulated cluster itself: the operator only deletes (one write per pod), the service exits
        # on SIGTERM; what remains is the API server's and the kubelet's own work for N terminations.
        print(f"{replicas} simple pods (SIGTERM, {save_ms} ms save) scaled to 0 in {to_zero:.2f} s: the simulated "
              f"cluster's own floor for {replicas} terminations on this machine", flush=True)
        for phase in ("deleted", "exited", "gone"):
            print(f"  {phase:9s} {spread(phases[phase])} after the scale-down")
        return to_zero, None
    limit = max(own) if own else float("nan")
    history = (cluster.mvs(ns, NAME) or {}).get("status", {}).get("shutdowns", [])
    outcomes = collections.Counter(h.get("outcome") for h in history)
    print(f"{replicas} critical pods (reach {reach}, {save_ms} ms save each, exit at once) scaled to 0 in "
          f"{to_zero:.2f} s; physical limit (slowest pod's accepted call to exit) {limit:.2f} s; "
          f"ratio {to_zero / limit:.2f}x (goal 1.5x)", flush=True)
    print(f"  pods whose own time was measured: {len(own)}/{replicas}; restarted containers: {restarted}; "
          f"outcomes (status keeps the last 10): {dict(outcomes)}")
    for phase in ("drained", "deleted", "accepted", "exited", "gone"):
        print(f"  {phase:9s} {spread(phases[phase])} after the scale-down")
    return to_zero, limit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--save-ms", type=int, default=1000)
    ap.add_argument("--reach", choices=("agent", "direct"), default="agent")
    ap.add_argument("--tier", choices=("critical", "simple"), default="critical",
                    help="simple: the simulated cluster's own floor (the operator only deletes; SIGTERM ends the pod)")
    benchlib.add_run_options(ap, keep=False, controller=False)
    ap.add_argument("--watch-delay-ms", type=int, default=0,
                    help="the kubelet sees pod events this late (a slower node; default 0)")
    ap.add_argument("--settle-s", type=float, default=3.0,
                    help="seconds between every pod Ready and the scale-down (default 3: pods in steady state)")
    opts = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="medivote-bench-scale-")
    began = time.monotonic()
    cluster = Cluster(workdir, *kubelet_flags(opts.watch_delay_ms))
    op = None
    try:
        ns = "bench-scale"
        cluster.ensure_namespace(ns)
        op = Operator(cluster, "--max-concurrent-shutdown-calls=64", "--kube-api-qps=200", "--kube-api-burst=400",
                      "--log-level=info")
        op.wait_leading()
        print(f"scale-down {opts.settle_s:.1f} s after every pod is Ready; kubelet watch delay "
              f"{opts.watch_delay_ms} ms; load average {os.getloadavg()[0]:.1f}", flush=True)
        run(cluster, ns, opts.replicas, opts.save_ms, opts.reach, opts.settle_s, opts.tier)
    finally:
        if op:
            op.stop()
        cluster.stop()
        left = processes_matching(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
        if left:
            print(f"warning: processes survived: {left}", file=sys.stderr)
        print(f"(benchmark wall time {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
