#!/usr/bin/python3
"""Benchmark (issue 16): a standby operator takes over leadership of N MediVoteServices.

Loads an API server simulator (its own, HTTPS, no kubelet) with N MediVoteServices (default 1,000; critical tier,
`reach: agent` without tokenSecretRef, so each one uses the operator's own token Secret `<mvs>-agent-token`; one
replica, no claims) while a Lease held by someone else exists. `medivote-controller --leader-elect` starts as a
standby: it lists, watches and caches everything, but does not lead. Then the Lease is released (holderIdentity
emptied, as client-go's ReleaseOnCancel does) or left to expire (`--expire`: its renewTime set in the past), and the
operator takes over all N resources at once: finalizer, token Secret, Service, pod and status for each.

From the simulator's audit log (/admin/requests, cleared just before the takeover) it prints:

* status writes (update/patch of medivoteservices/status) and how many were answered 409, and 409s on any request;
* Secret GETs, and the number of distinct Secrets read;
* the time from takeover (the operator's "leader election won" log line) to all resources reconciled (each has the
  finalizer and a status with conditions, and the operator made no write for `--quiet` seconds: the time of its
  last write);
* then, over a further `--observe` seconds (default 35, more than one TokenSecrets::kResync of 30 s), the Secret GETs
  again: at most one per Secret per resync is the goal.

Usage: bench/takeover.py [--services 1000] [--namespaces 10] [--workers 8] [--workers-operator 4]
                         [--operator-flag=--kube-api-qps=100 ...] [--build-dir build] [--expire]
                         [--observe 35] [--quiet 3] [--keep DIR] [--controller PATH]
"""
import argparse
import calendar
import collections
import os
import time
import urllib.request

import benchlib  # noqa: E402,F401  (first: tests/e2e on the path, --build-dir applied)

import e2elib  # noqa: E402
from e2elib import ApiServerOnly, log_records, mvs, poll  # noqa: E402
from operator_footprint import Loader  # noqa: E402

LEASE_ID = "bench-takeover"
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{LEASE_ID}"


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(t))


def audit_time(item):
    base, frac = item["time"].rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(frac) / 1e6


def hold_lease(server):
    now = rfc3339(time.time())
    server.rest.ok(server.rest.post("/apis/coordination.k8s.io/v1/namespaces/default/leases", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": LEASE_ID},
        "spec": {"holderIdentity": "bench-holder", "leaseDurationSeconds": 3600, "acquireTime": now,
                 "renewTime": now, "leaseTransitions": 0}}), 201)


def let_go(server, expire):
    """The holder releases its Lease (client-go: holderIdentity "", leaseDurationSeconds 1), or stops renewing it and
    it expires (here: its renewTime put far enough in the past)."""
    lease = server.rest.ok(server.rest.get(LEASE_PATH), 200)
    if expire:
        lease["spec"]["renewTime"] = rfc3339(time.time() - 3 * lease["spec"]["leaseDurationSeconds"])
    else:
        lease["spec"].update({"holderIdentity": "", "leaseDurationSeconds": 1})
    server.rest.ok(server.rest.put(LEASE_PATH, lease), 200)


def load(server, services, namespaces, workers, replicas=1, reach="agent"):
    """Namespaces bench-0.. and MediVoteServices svc-0.. spread over them (critical, no claims, endpoint `reach`);
    returns their (namespace, name) in order."""
    loader = Loader(server.rest, workers)
    t0 = time.monotonic()
    nss = [f"bench-{i}" for i in range(namespaces)]
    loader.run([("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}})
                for n in nss])
    jobs = []
    for i in range(services):
        ns = nss[i % namespaces]
        body = mvs(f"svc-{i}", ns, "medivote/vote-service:1", replicas=replicas, tier="critical", claims=False,
                   endpoint={"port": "http", "path": "/shutdown", "reach": reach})
        jobs.append(("POST", f"/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices", body))
    loader.run(jobs)
    print(f"loaded {services} MediVoteServices in {time.monotonic() - t0:.1f} s", flush=True)
    return [(nss[i % namespaces], f"svc-{i}") for i in range(services)]


def quiet_for(server, seconds, since=None, user=None):
    """(t,) once no write (other than to Leases and Events; `user`'s only, when given) has come for `seconds`, t the
    time of the last one; None before. `since` counts as the last write while there is none (None: wait for one)."""
    writes = [audit_time(i) for i in server.audit(user=user) if i["verb"] in WRITES
              and i.get("resource") not in ("leases", "events")]
    if not writes and since is None:
        return None
    last = max(writes, default=since)
    return (last,) if time.time() - last >= seconds else None


def all_reconciled(server, keys):
    items = server.rest.ok(server.rest.get("/apis/medivote.io/v1alpha1/medivoteservices"), 200)["items"]
    done = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items
            if "medivote.io/graceful-shutdown" in o["metadata"].get("finalizers", [])
            and o.get("status", {}).get("conditions")}
    return keys <= done


def standing_by(op):
    """Whether the operator serves /readyz 200 (its caches synced) without leading."""
    assert op.proc.poll() is None, op.log()[-3000:]
    probes = [r["address"] for r in log_records(op.log()) if r.get("msg") == "serving health probes"]
    try:
        return bool(probes) and urllib.request.urlopen(f"http://{probes[0]}/readyz", timeout=5).status == 200
    except OSError:
        return False


WRITES = {"create", "update", "patch", "delete"}


def figures(items):
    status = [i for i in items if i.get("resource") == "medivoteservices" and i.get("subresource") == "status"
              and i["verb"] in ("update", "patch")]
    secret_gets = [i for i in items if i.get("resource") == "secrets" and i["verb"] == "get"]
    per_secret = collections.Counter((i.get("namespace"), i.get("name")) for i in secret_gets)
    by_kind = collections.Counter(f"{i['verb']} {i.get('resource')}{'/' + i['subresource'] if i.get('subresource') else ''}"
                                  for i in items if i.get("code") == 409)
    return {
        "status writes": len(status),
        "status 409": sum(1 for i in status if i.get("code") == 409),
        "all 409": sum(1 for i in items if i.get("code") == 409),
        "409 by request": dict(by_kind),
        "secret GETs": len(secret_gets),
        "secrets read": len(per_secret),
        "max GETs of one secret": max(per_secret.values(), default=0),
        "secret creates": sum(1 for i in items if i.get("resource") == "secrets" and i["verb"] == "create"),
        "requests": len(items),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--workers-operator", type=int, default=4,
                    help="the operator's --max-concurrent-reconciles (deploy/ runs 4)")
    ap.add_argument("--operator-flag", action="append", default=[],
                    help="one more flag for the operator, e.g. --operator-flag=--kube-api-qps=100 (deploy/ runs 20)")
    ap.add_argument("--expire", action="store_true", help="let the Lease expire instead of releasing it")
    ap.add_argument("--observe", type=float, default=35.0, help="seconds of steady state observed after the takeover")
    ap.add_argument("--quiet", type=float, default=3.0, help="seconds without a write that mean 'all reconciled'")
    benchlib.add_run_options(ap)
    opts = ap.parse_args()
    workdir = benchlib.prepare_run(opts, "medivote-takeover-")
    server = ApiServerOnly(os.path.join(workdir, "cluster"), "--history", "1000")
    op = None
    try:
        hold_lease(server)
        keys = set(load(server, opts.services, opts.namespaces, opts.workers))
        op = e2elib.Operator(server, "--leader-elect", "--leader-election-namespace=default",
                             f"--leader-election-id={LEASE_ID}", "--log-level=info",
                             f"--max-concurrent-reconciles={opts.workers_operator}", *opts.operator_flag)
        log_path = op.log_path
        poll(lambda: standing_by(op), 300, "the standby's caches synced (/readyz)", interval=0.1)
        assert "leader election won" not in open(log_path).read()
        server.admin("DELETE", "requests")
        let_go(server, opts.expire)
        print(f"Lease {'expired' if opts.expire else 'released'}; the standby takes over", flush=True)

        def won():
            assert op.proc.poll() is None, op.log()[-3000:]
            recs = [r for r in log_records(open(log_path).read()) if r.get("msg") == "leader election won"]
            return e2elib.log_time(recs[0]) if recs else None
        t_won = poll(won, 120, "leader election won", interval=0.1)
        poll(lambda: all_reconciled(server, keys), 900, "every resource reconciled", interval=0.5)
        (t_last,) = poll(lambda: quiet_for(server, opts.quiet, since=t_won), 900, "no write for --quiet seconds",
                         interval=0.5)
        items = server.audit()
        took = [i for i in items if audit_time(i) <= t_last + 0.001]
        f = figures(took)
        print(f"takeover of {opts.services} resources: all reconciled {t_last - t_won:.2f} s after "
              f"'leader election won'")
        for k, v in f.items():
            print(f"  {k}: {v}")
        if opts.observe > 0:
            # The window is [t_last, t_last + observe] on the simulator's clock: the wait for quiet and the audit
            # reads above already took part of it (with 1,000 resources, seconds), so only the rest is slept.
            time.sleep(max(0.0, t_last + opts.observe - time.time()))  # the window itself, not a wait for a condition
            later = [i for i in server.audit() if t_last + 0.001 < audit_time(i) <= t_last + opts.observe]
            g = figures(later)
            print(f"the next {opts.observe:.0f} s (TokenSecrets::kResync is 30 s): secret GETs {g['secret GETs']} "
                  f"({g['secrets read']} Secrets, at most {g['max GETs of one secret']} GETs of one), status writes "
                  f"{g['status writes']}, 409s {g['all 409']}, requests {g['requests']}")
    finally:
        benchlib.end_run(opts, workdir, op, server)


if __name__ == "__main__":
    main()
