#!/usr/bin/python3
"""Test workload: an HTTP server on $POD_IP that records what happens to it.

Usage: workload.py [--port N] [--ready-after S] [--ignore-sigterm] [--events FILE]
                   [--exit-after S --exit-code N] [--state-file PATH]

- Binds $POD_IP (or 127.0.0.1) : --port (default 8080).
- GET /healthz -> 200 once --ready-after seconds have passed since start, else 503.
- GET /anything-else -> 200 "ok <pod name>".
- GET or POST /prestop and /shutdown -> 200; recorded as "prestop"/"shutdown"
  (a preStop httpGet hook is a GET). Any other POST is recorded under its path.
- Records lines "<event> <unix time with 6 decimals> <pid>" into --events
  (default $EVENTS_FILE): "start", "sigterm", "prestop", "exit", and "alive"
  every 20 ms once SIGTERM arrived (so a SIGKILL time can be bounded).
- On SIGTERM: exits 0 after recording, unless --ignore-sigterm.
- --state-file: appends "<pod name>\n" to it at start (a PVC test helper).
"""
import argparse
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, default=8080)
p.add_argument("--ready-after", type=float, default=0.0)
p.add_argument("--ignore-sigterm", action="store_true")
p.add_argument("--events", default=os.environ.get("EVENTS_FILE"))
p.add_argument("--exit-after", type=float, default=None)
p.add_argument("--exit-code", type=int, default=0)
p.add_argument("--state-file", default=None)
args = p.parse_args()

START = time.time()
POD = os.environ.get("POD_NAME", "?")
lock = threading.Lock()


def record(event: str):
    if not args.events:
        return
    with lock, open(args.events, "a") as f:
        f.write(f"{event} {time.time():.6f} {os.getpid()}\n")
        f.flush()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % a))

    def _reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            ready = time.time() - START >= args.ready_after
            self._reply(200 if ready else 503, "ready" if ready else "starting")
        elif self.path in ("/prestop", "/shutdown"):
            record(self.path.strip("/"))
            self._reply(200, "recorded")
        else:
            self._reply(200, f"ok {POD}")

    def do_POST(self):
        name = self.path.strip("/") or "post"
        record(name)
        self._reply(200, "recorded")


def on_sigterm(_sig, _frm):
    record("sigterm")
    if args.ignore_sigterm:
        def alive():
            while True:
                record("alive")
                time.sleep(0.02)
        threading.Thread(target=alive, daemon=True).start()
        return
    record("exit")
    os._exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
if args.state_file:
    os.makedirs(os.path.dirname(os.path.abspath(args.state_file)), exist_ok=True)
    with open(args.state_file, "a") as f:
        f.write(POD + "\n")
host = os.environ.get("POD_IP", "127.0.0.1")
server = ThreadingHTTPServer((host, args.port), Handler)
record("start")
print(f"listening on {host}:{args.port}", flush=True)
if args.exit_after is not None:
    def _exit():
        time.sleep(args.exit_after)
        record("exit")
        os._exit(args.exit_code)
    threading.Thread(target=_exit, daemon=True).start()
server.serve_forever()
