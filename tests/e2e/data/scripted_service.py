#!/usr/bin/python3
"""A critical service with a scriptable shutdown endpoint, for the end-to-end tests of the tiered shutdown.

It binds $POD_IP (or 127.0.0.1) on --port and records every event, with its time, into --events (default
$EVENTS_FILE, normally on the pod's claim, so it outlives the pod):
  "<event> <unix time, 6 decimals> <pid> [detail]"
Events: start, shutdown-call <status>, shutdown-accepted, saved, exit, sigterm, alive (every 20 ms after SIGTERM
while --ignore-sigterm, so that the SIGKILL time is bounded).

Shutdown modes (POST --path, default /shutdown):
  accept        202 at once; saves (writes --state-file) after --save-ms and exits 0.
  busy:N        409 with Retry-After 1 for the first N calls, then as accept.
  hang          never answers (the connection stays open).
  never-exit    202, then keeps running (the exit never comes).
  status:CODE   answers CODE every time.
--token T: a call without "Authorization: Bearer T" gets 401 (checked before the mode).
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
p.add_argument("--path", default="/shutdown")
p.add_argument("--mode", default="accept")
p.add_argument("--save-ms", type=int, default=300)
p.add_argument("--token", default=None)
p.add_argument("--ignore-sigterm", action="store_true")
p.add_argument("--events", default=os.environ.get("EVENTS_FILE"))
p.add_argument("--state-file", default=os.environ.get("STATE_FILE"))
args = p.parse_args()

lock = threading.Lock()
calls = 0
shutting_down = False


def record(event, detail=""):
    if not args.events:
        return
    with lock, open(args.events, "a") as f:
        f.write(f"{event} {time.time():.6f} {os.getpid()} {detail}".rstrip() + "\n")


def finish():
    time.sleep(args.save_ms / 1000.0)
    if args.state_file:
        tmp = args.state_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"saved by {os.environ.get('POD_NAME', '?')} at {time.time():.6f}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, args.state_file)
    record("saved")
    record("exit", "code=0")
    os._exit(0)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % a))

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200, b"ok\n")

    def do_POST(self):
        global calls, shutting_down
        if self.path != args.path:
            return self.reply(404, b"not found\n")
        if args.token is not None and self.headers.get("Authorization") != f"Bearer {args.token}":
            record("shutdown-call", "401")
            return self.reply(401, b'{"error":"invalid token"}')
        with lock:
            calls += 1
            n = calls
        mode = args.mode
        if mode.startswith("busy:"):
            if n <= int(mode.split(":")[1]):
                record("shutdown-call", "409")
                return self.reply(409, b'{"error":"busy"}', [("Retry-After", "1")])
            mode = "accept"
        if mode == "hang":
            record("shutdown-call", "hang")
            time.sleep(3600)
            return
        if mode.startswith("status:"):
            code = int(mode.split(":")[1])
            record("shutdown-call", str(code))
            return self.reply(code, b"{}")
        record("shutdown-call", "202")
        self.reply(202, b'{"status":"shutdown_initiated"}')
        if mode == "accept" and not shutting_down:
            shutting_down = True
            record("shutdown-accepted")
            threading.Thread(target=finish, daemon=True).start()


def on_sigterm(signo, frame):
    record("sigterm")
    if args.ignore_sigterm:
        def alive():
            while True:
                record("alive")
                time.sleep(0.02)
        threading.Thread(target=alive, daemon=True).start()
        return
    record("exit", "code=143")
    os._exit(143)


signal.signal(signal.SIGTERM, on_sigterm)
host = os.environ.get("POD_IP", "127.0.0.1")
server = ThreadingHTTPServer((host, args.port), Handler)
server.daemon_threads = True
record("start")
server.serve_forever()
