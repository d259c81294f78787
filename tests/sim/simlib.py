"""Helpers for the simulator suites (tests/sim/...): start/stop a simulator, a REST client, watch streams,
polling with a deadline. Import them as `from simlib import ...` (a unique module name, unlike conftest).

* `Sim(dir, *simctl_args)`: `sim/simctl start` in dir; `.rest`, `.kubectl(...)`, `.admin(method, path, body)`,
  `.stop()` (must leave no process behind).
* `Rest(kubeconfig, token=None)`: minimal client (client certificate or token, TLS verified with the sim CA);
  `.get/.post/.put/.patch/.delete/.request`, `.ok(resp)`, `.watch(path, **query)` -> WatchStream.
* `poll(fn, timeout, what)`: first truthy fn() or AssertionError at the deadline.
* `kubectl_minor()`: the minor version of the kubectl on PATH.
"""
import base64
import http.client
import json
import os
import ssl
import subprocess
import threading
import time
from urllib.parse import urlencode, urlparse

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SIMCTL = os.path.join(REPO, "sim", "simctl")


def kubectl_minor():
    """Minor version of the kubectl on PATH (e.g. 32), or 0 when unknown."""
    out = subprocess.run(["kubectl", "version", "--client", "-o", "json"], capture_output=True, text=True)
    try:
        return int(json.loads(out.stdout)["clientVersion"]["minor"].rstrip("+"))
    except (ValueError, KeyError):
        return 0


def poll(fn, timeout=10.0, what="condition", interval=0.05):
    """Return fn()'s first truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Response:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        try:
            self.body = json.loads(raw) if raw else None
        except ValueError:
            self.body = raw.decode(errors="replace")

    def __repr__(self):
        return f"<{self.status} {str(self.body)[:300]}>"


class Rest:
    """Minimal Kubernetes REST client over http.client, configured from a kubeconfig."""

    def __init__(self, kubeconfig, token=None):
        cfg = yaml.safe_load(open(kubeconfig))
        self.kubeconfig = kubeconfig
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        u = urlparse(cluster["server"])
        self.host, self.port, self.https = u.hostname, u.port, u.scheme == "https"
        self.headers = {}
        tok = token or user.get("token")
        if tok:
            self.headers["Authorization"] = f"Bearer {tok}"
        self.ctx = None
        if self.https:
            d = os.path.dirname(kubeconfig)
            self.ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
            if "client-certificate-data" in user and not token:
                base = os.path.join(d, f".client-{os.path.basename(kubeconfig)}")
                with open(base + ".crt", "wb") as f:
                    f.write(base64.b64decode(user["client-certificate-data"]))
                with open(base + ".key", "wb") as f:
                    f.write(base64.b64decode(user["client-key-data"]))
                self.ctx.load_cert_chain(base + ".crt", base + ".key")

    def conn(self, timeout=30):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json", headers=None, query=None, timeout=30):
        if query:
            path += ("&" if "?" in path else "?") + urlencode(query, doseq=True)
        h = dict(self.headers)
        h.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = ctype
        c = self.conn(timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            c.close()

    def get(self, path, **q):
        return self.request("GET", path, query=q or None)

    def post(self, path, body, **q):
        return self.request("POST", path, body, query=q or None)

    def put(self, path, body, **q):
        return self.request("PUT", path, body, query=q or None)

    def patch(self, path, body, ptype="merge", **q):
        ct = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
              "strategic": "application/strategic-merge-patch+json"}[ptype]
        return self.request("PATCH", path, body, ctype=ct, query=q or None)

    def delete(self, path, body=None, **q):
        return self.request("DELETE", path, body, query=q or None)

    def ok(self, resp, *codes):
        assert resp.status in (codes or (200, 201)), resp
        return resp.body

    def watch(self, path, **q):
        return WatchStream(self, path, q)


class WatchStream:
    """An open watch: `.next(timeout)` returns the next event dict, or None when the stream ended."""

    def __init__(self, rest, path, q):
        q = dict(q)
        q.setdefault("watch", "true")
        path += ("&" if "?" in path else "?") + urlencode(q)
        self.c = rest.conn(timeout=60)
        self.c.request("GET", path, headers=rest.headers)
        self.resp = self.c.getresponse()
        self.status = self.resp.status
        self.events, self.ended = [], False
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                with self.cv:
                    self.events.append(json.loads(line))
                    self.cv.notify_all()
        except Exception:  # connection closed by close()
            pass
        with self.cv:
            self.ended = True
            self.cv.notify_all()

    def next(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not self.events and not self.ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no watch event within timeout")
                self.cv.wait(left)
            return self.events.pop(0) if self.events else None

    def until(self, pred, timeout=10.0):
        """Skip events until pred(event); returns it."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next(max(0.01, deadline - time.monotonic()))
            if ev is None:
                raise AssertionError("watch ended before the expected event")
            if pred(ev):
                return ev

    def close(self):
        try:
            self.c.sock and self.c.sock.shutdown(2)
        except OSError:
            pass
        self.c.close()


class Sim:
    def __init__(self, d, *args):
        self.dir = str(d)
        out = subprocess.run([SIMCTL, "start", "--dir", self.dir, *args], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr + self._log()
        self.export_line = out.stdout.strip()
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.pid = int(open(os.path.join(self.dir, "apiserver.pid")).read())
        self.rest = Rest(self.kubeconfig)
        self.admin_token = open(os.path.join(self.dir, "admin.token")).read().strip()

    def _log(self):
        p = os.path.join(self.dir, "apiserver.log")
        return open(p).read()[-3000:] if os.path.exists(p) else ""

    def kubectl(self, *args, input=None, check=True, timeout=60, env=None):
        e = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=os.path.join(self.dir, "kubecache"))
        e.update(env or {})
        out = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, timeout=timeout,
                             env=e)
        if check:
            assert out.returncode == 0, f"kubectl {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
        return out

    def admin(self, method, path, body=None):
        return self.rest.request(method, "/admin/" + path.lstrip("/"), body)

    def stop(self):
        subprocess.run([SIMCTL, "stop", "--dir", self.dir], check=True, timeout=30)
        poll(lambda: not _alive(self.pid), 10, f"apiserver pid {self.pid} to exit")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); check /proc state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
