#!/usr/bin/python3
"""Test workload for the kubelet timing suite (run with the `python:3` image).

Usage: timing_workload.py --port N [--ignore-first-sigterm] [--count-file F]
- Binds $POD_IP:N. Records "<event> <unix time> <pid>" lines into $EVENTS_FILE:
  start, sigterm, exit, hook (a GET /hold), plus "hookinfo <json>" for the
  request line, headers and peer of each GET /hold.
- GET /healthz -> 200.
- POST /exit?after=S&code=N -> 200, then exits with code N S seconds later.
- GET /hold?s=S&status=N -> answers N (default 200) after S seconds.
- On SIGTERM: records it and exits 0; with --ignore-first-sigterm the first
  instance (per --count-file) records it and keeps running, as in the trace.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--ignore-first-sigterm", action="store_true")
p.add_argument("--count-file", default=None)
args = p.parse_args()
EVENTS = os.environ.get("EVENTS_FILE")
lock = threading.Lock()


def record(event, extra=None):
    if EVENTS:
        with lock, open(EVENTS, "a") as f:
            f.write(f"{event} {time.time():.6f} {os.getpid()}\n" if extra is None else f"{event} {extra}\n")


instance = 1
if args.count_file:
    with lock:
        if os.path.exists(args.count_file):
            instance = int(open(args.count_file).read() or "0") + 1
        open(args.count_file, "w").write(str(instance))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % a))

    def _reply(self, code, body=b"ok"):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path == "/hold":
            record("hook")
            record("hookinfo", json.dumps({"path": self.path, "headers": dict(self.headers),
                                           "peer": self.client_address[0]}))
            time.sleep(float(q.get("s", "0")))
            self._reply(int(q.get("status", "200")))
            record("replied")
        else:
            self._reply(200)

    def do_POST(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path == "/exit":
            self._reply(200)

            def later():
                time.sleep(float(q.get("after", "0")))
                record("exit")
                os._exit(int(q.get("code", "0")))
            threading.Thread(target=later, daemon=True).start()
        else:
            self._reply(404)


def on_sigterm(_s, _f):
    record("sigterm")
    if args.ignore_first_sigterm and instance == 1:
        return
    record("exit")
    os._exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
server = ThreadingHTTPServer((os.environ.get("POD_IP", "127.0.0.1"), args.port), Handler)
record("start")
server.serve_forever()
