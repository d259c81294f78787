#!/usr/bin/python3
"""Benchmark (issue 16): cache sync of 10,000 pods of the real server's shape and 1,000 MediVoteServices, the operator
against a peer and against the physical limits, in one run, one table.

The API server is bench/recorded_apiserver.py (the real server's answers, rendered once, written at socket speed), so
the figures are the clients'. For each client it measures, over `--rounds` runs (the median is printed):
* medivote-controller --leader-elect (the Lease is held by someone else: it caches, never leads): exec -> /readyz 200,
  its CPU until then, VmHWM (peak), RssAnon at sync and 5 s later;
* the peer, the Kubernetes Python client (bench/sync_peer.py): `typed` (model objects, as client-go's typed
  informers) and `raw` (json.loads of the bodies): its start -> both lists held, its CPU, VmHWM, RssAnon;
* the limits on the same bytes: the wire (the pod list read from the recorded server by a plain socket loop, nothing
  parsed) and the operator's parser alone (tests/tools/medivote-json-parse-speed: simdjson's validation of the
  whole text; ListStream with the pod filter, as the operator reads a list).
The recorded server's own CPU per round is printed too: it is the price of writing bytes, not of an API server.

Usage: bench/sync_vs_peer.py [--build-dir build] [--services 1000] [--replicas 10] [--rounds 3] [--no-peer]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402  (first: tests/e2e on the path, --build-dir applied)

import e2elib  # noqa: E402
from e2elib import proc_status  # noqa: E402

LEASE_ID = "bench-leader"


def mb(kb):
    return kb / 1024


class Recorded:
    """bench/recorded_apiserver.py as a child process."""

    def __init__(self, workdir, services, replicas):
        self.kubeconfig = os.path.join(workdir, "recorded.kubeconfig")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "recorded_apiserver.py"), "--services",
                                      str(services), "--replicas", str(replicas), "--kubeconfig", self.kubeconfig],
                                     stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())
        self.port = self.info["port"]

    def cpu(self):
        return benchlib.cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def wire_seconds(port, path="/api/v1/pods?resourceVersion=0&limit=500"):
    """The pod list read through a plain socket: the request, then every byte until the connection's end."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        buf, n = bytearray(1 << 20), 0
        while True:
            got = s.recv_into(buf)
            if not got:
                break
            n += got
    return time.monotonic() - t0, n


def run_operator(recorded, workdir, i):
    log_path = os.path.join(workdir, f"operator-{i}.log")
    args = [e2elib.CONTROLLER, "--kubeconfig", recorded.kubeconfig, "--metrics-bind-address=127.0.0.1:0",
            "--health-probe-bind-address=127.0.0.1:0", "--leader-elect", "--leader-election-namespace=default",
            f"--leader-election-id={LEASE_ID}"]
    server_cpu0 = recorded.cpu()
    with open(log_path, "w") as logf:
        t0 = time.time()
        proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT)
    try:
        benchlib.wait_until_ready(proc, log_path, interval=0.02)
        took, cpu = time.time() - t0, benchlib.cpu_seconds(proc.pid)
        server_cpu = recorded.cpu() - server_cpu0
        at_sync = proc_status(proc.pid)
        time.sleep(5)  # the observation window of the steady figure, not a wait for a condition
        later = proc_status(proc.pid)
        assert "leader election won" not in open(log_path).read()
        return {"wall": took, "cpu": cpu, "server": server_cpu, "hwm": later["VmHWM"], "anonSync": at_sync["RssAnon"],
                "anon": later["RssAnon"], "rss": later["VmRSS"]}
    finally:
        proc.terminate()
        proc.wait(60)


def run_peer(recorded, mode):
    server_cpu0 = recorded.cpu()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "sync_peer.py"), "--kubeconfig", recorded.kubeconfig,
                             "--mode", mode], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the peer ({mode}) exited: {proc.wait()}")
        r = json.loads(line)
        server_cpu = recorded.cpu() - server_cpu0
        time.sleep(5)
        later = proc_status(proc.pid)
        return {"wall": r["wallSeconds"], "cpu": r["cpuSeconds"], "server": server_cpu, "hwm": later["VmHWM"],
                "anonSync": r["RssAnon"], "anon": later["RssAnon"], "rss": later["VmRSS"]}
    finally:
        proc.kill()
        proc.wait(10)


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--replicas", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-peer", action="store_true")
    benchlib.add_run_options(ap)
    opts = ap.parse_args()
    workdir = benchlib.prepare_run(opts, "medivote-sync-")
    t0 = time.monotonic()
    recorded = Recorded(workdir, opts.services, opts.replicas)
    info = recorded.info
    print(f"recorded server: {info['pods']} pods ({info['podBytes']} B each as served), {info['medivoteservices']} "
          f"MediVoteServices; pod list {info['podListBytes'] / 1e6:.1f} MB, MVS list {info['mvsListBytes'] / 1e6:.1f} "
          f"MB; rendered in {time.monotonic() - t0:.1f} s", flush=True)
    try:
        rows = {}
        wires = [wire_seconds(recorded.port) for _ in range(opts.rounds)]
        wire = min(w[0] for w in wires)
        body = os.path.join(workdir, "pods.json")
        with urllib.request.urlopen(f"http://127.0.0.1:{recorded.port}/api/v1/pods?resourceVersion=0") as r, \
                open(body, "wb") as f:
            shutil.copyfileobj(r, f)
        tool = os.path.join(os.path.dirname(e2elib.CONTROLLER), "tests", "tools", "medivote-json-parse-speed")
        parse = json.loads(subprocess.run([tool, body, str(max(opts.rounds, 3))], check=True, capture_output=True,
                                          text=True).stdout)
        clients = [("medivote-controller", lambda i: run_operator(recorded, workdir, i))]
        if not opts.no_peer:
            clients += [("python3-kubernetes, typed", lambda i: run_peer(recorded, "typed")),
                        ("python3-kubernetes, raw (json.loads)", lambda i: run_peer(recorded, "raw"))]
        for i in range(opts.rounds):  # interleaved: each round runs every client once
            for name, run in clients:
                rows.setdefault(name, []).append(run(i))
                print(f"  round {i + 1}, {name}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                              for k, v in rows[name][-1].items()), flush=True)
        print()
        print(f"| client ({opts.rounds} rounds, medians) | start -> synced | its CPU | server's CPU | VmHWM (peak) "
              "| RssAnon at sync / 5 s later |")
        print("|---|---|---|---|---|---|")
        for name, rs in rows.items():
            print(f"| {name} | {median(rs, 'wall'):.2f} s | {median(rs, 'cpu'):.2f} s | {median(rs, 'server'):.2f} s "
                  f"| {mb(median(rs, 'hwm')):.1f} MB | {mb(median(rs, 'anonSync')):.1f} / {mb(median(rs, 'anon')):.1f} "
                  "MB |")
        print(f"| limit: the pod list's {wires[0][1] / 1e6:.1f} MB read from the socket, nothing parsed | {wire:.2f} s "
              "| – | – | – | – |")
        print(f"| limit: the operator's parser on those bytes: simdjson validation / ListStream with the pod filter "
              f"/ without | {parse['validateSeconds']:.2f} / {parse['listStreamSeconds']:.2f} / "
              f"{parse['listStreamWholeSeconds']:.2f} s | – | – | – | – |")
        op = rows["medivote-controller"]
        print(f"\nratios: the operator's CPU to sync / its parser alone on the pod list: "
              f"{median(op, 'cpu') / parse['listStreamSeconds']:.1f}x; its time to sync / the wire: "
              f"{median(op, 'wall') / wire:.1f}x")
        for name, rs in rows.items():
            if name != "medivote-controller":
                print(f"ratios: {name} / the operator: time {median(rs, 'wall') / median(op, 'wall'):.1f}x, CPU "
                      f"{median(rs, 'cpu') / median(op, 'cpu'):.1f}x, peak {median(rs, 'hwm') / median(op, 'hwm'):.1f}x")
    finally:
        benchlib.end_run(opts, workdir, recorded)


if __name__ == "__main__":
    main()
