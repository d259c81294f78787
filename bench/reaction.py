#!/usr/bin/python3
"""Benchmark (issue 16, "reaction p99 stays <= 20 ms"): from a MediVoteService event to the operator's first pod
write, with a full cache of MediVoteServices.

Loads an API server simulator (its own, HTTPS, no kubelet) with N MediVoteServices at replicas 0 (default 1,000;
critical tier, endpoint reach `--reach`), then
starts `medivote-controller --leader-elect` (it leads: nobody else holds its Lease) and waits until it has reconciled
them all (finalizer and status on each) and made no write for `--quiet` seconds. Then, one at a time, `--samples`
of them (spread over the namespaces) are scaled 0 -> 1 with a merge patch, `--gap` seconds apart; each scale-up's
reaction is, on the simulator's clock (its audit log: the time each request arrived), from the arrival of the patch
to the arrival of the operator's create of that resource's pod. So a figure holds: the patch's own handling, the
watch event's delivery, the operator's decision and its request's way to the server; not the pod's start (there is
no kubelet).

Prints p50, p90, p99 and max over the samples, and the operator's CPU over the sampling.

What differs from the issue's figure (a real kube-apiserver with 10,000 pods and 1,000 MVS cached): the simulator
is Python (its own share of each figure is in it), and the pod cache holds only the sampled pods.

Usage: bench/reaction.py [--services 1000] [--namespaces 10] [--samples 200] [--gap 0.25] [--quiet 3] [--reach direct]
                         [--workers 8] [--operator-flag=--kube-api-qps=20 ...] [--build-dir build] [--keep DIR]
                         [--controller PATH]
"""
import argparse
import os
import statistics
import time

import benchlib  # noqa: E402,F401  (first: tests/e2e on the path, --build-dir applied)

import e2elib  # noqa: E402
from e2elib import OPERATOR_USER, ApiServerOnly, poll  # noqa: E402
from takeover import all_reconciled, audit_time, load, quiet_for  # noqa: E402

LEASE_ID = "bench-reaction"
MVS_PATH = "/apis/medivote.io/v1alpha1"


def pod_creates(items):
    """The operator's successful pod creates in the audit log, in arrival order."""
    return [i for i in items if i["user"] == OPERATOR_USER and i["verb"] == "create" and i.get("resource") == "pods"
            and i.get("code") == 201]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.25,
                    help="seconds between one pod's create and the next patch (each sample makes 3-4 requests: at "
                         "deploy/'s --kube-api-qps=20 a shorter gap measures the rate limiter)")
    ap.add_argument("--operator-flag", action="append", default=[],
                    help="one more flag for the operator, e.g. --operator-flag=--kube-api-qps=20 (as deploy/ runs)")
    ap.add_argument("--quiet", type=float, default=3.0, help="seconds without a write that mean 'all reconciled'")
    ap.add_argument("--reach", choices=("direct", "agent"), default="direct",
                    help="the resources' shutdown endpoint reach; agent: each has the operator's token Secret, "
                         "which the operator re-reads every 30 s, paced to a tenth of --kube-api-qps (1,000 of "
                         "them would want 33 reads/s, more than deploy/'s 20 QPS)")
    ap.add_argument("--workers", type=int, default=8)
    benchlib.add_run_options(ap)
    opts = ap.parse_args()
    if opts.samples > opts.services:
        ap.error("--samples must not exceed --services (each sample scales a resource of its own)")
    workdir = benchlib.prepare_run(opts, "medivote-reaction-")
    server = ApiServerOnly(os.path.join(workdir, "cluster"))
    op = None
    try:
        keys = load(server, opts.services, opts.namespaces, opts.workers, replicas=0, reach=opts.reach)
        op = e2elib.Operator(server, "--leader-elect", "--leader-election-namespace=default",
                             f"--leader-election-id={LEASE_ID}", "--log-level=info", *opts.operator_flag)
        op.wait_leading(timeout=60)
        poll(lambda: all_reconciled(server, set(keys)), 900, "every resource reconciled", interval=0.5)
        poll(lambda: quiet_for(server, opts.quiet, user=OPERATOR_USER), 900, "no write for --quiet seconds",
             interval=0.5)
        server.admin("DELETE", "requests")

        sampled = keys[:opts.samples]  # svc-0, svc-1, ...: one namespace after the other
        cpu0 = benchlib.cpu_seconds(op.proc.pid)
        # Each pod's creation is seen on a watch (no polling that would load the simulator while it is measured).
        pods = server.rest.watch("/api/v1/pods", resourceVersion=server.rest.ok(
            server.rest.get("/api/v1/pods", limit=1), 200)["metadata"]["resourceVersion"])
        for ns, name in sampled:
            server.rest.ok(server.rest.patch(f"{MVS_PATH}/namespaces/{ns}/medivoteservices/{name}",
                                             {"spec": {"replicas": 1}}), 200)
            pods.until(lambda e, ns=ns, name=name: e["type"] == "ADDED" and e["object"]["metadata"]["name"] ==
                       f"{name}-0" and e["object"]["metadata"]["namespace"] == ns, timeout=30)
            time.sleep(opts.gap)  # the spacing between samples, not a wait for a condition
        pods.close()
        cpu = benchlib.cpu_seconds(op.proc.pid) - cpu0

        items = server.audit()
        patches = [i for i in items if i["verb"] == "patch" and i.get("resource") == "medivoteservices"
                   and not i.get("subresource") and i["user"] != OPERATOR_USER]
        creates = pod_creates(items)
        assert len(patches) == len(creates) == len(sampled), (len(patches), len(creates), len(sampled))
        reactions = []
        for (ns, name), patch, create in zip(sampled, patches, creates):
            assert (patch["namespace"], patch["name"]) == (ns, name) and create["namespace"] == ns, (patch, create)
            reactions.append((audit_time(create) - audit_time(patch)) * 1000)
        print(f"reaction, MediVoteService scaled 0 -> 1 -> the operator's pod create arrives ({len(reactions)} samples, "
              f"{opts.services} MediVoteServices cached, simulator's clock):")
        print(f"  p50 {statistics.median(reactions):.1f} ms, p90 {percentile(reactions, 90):.1f} ms, "
              f"p99 {percentile(reactions, 99):.1f} ms, max {max(reactions):.1f} ms; min {min(reactions):.1f} ms")
        print(f"  the operator's CPU over the sampling: {cpu:.2f} s")
    finally:
        benchlib.end_run(opts, workdir, op, server)


if __name__ == "__main__":
    main()
