"""Synchronous test helpers: a tiny REST client (kubeconfig TLS + auth), a watch
collector thread, kubectl, polling, and process-table checks.

Contract: Api(kubeconfig).get/create/delete/... raise ApiStatus on non-2xx;
poll(fn, timeout) returns fn()'s first truthy value or fails the test with the
last value seen. No sleeping for a fixed time: everything polls to a deadline.
"""
import http.client
import json
import os
import subprocess
import threading
import time
from urllib.parse import urlencode, urlparse

from sim.kubelet.kubeconfig import load


class ApiStatus(Exception):
    def __init__(self, code, body):
        super().__init__(f"{code}: {body}")
        self.code = code
        self.body = body


class Api:
    def __init__(self, kubeconfig: str):
        self.kubeconfig = kubeconfig
        self.cfg = load(kubeconfig)
        u = urlparse(self.cfg.server)
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.https else 80)
        self.ssl = self.cfg.ssl_context()

    def _conn(self, timeout=10):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ssl, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, params=None, ctype="application/json"):
        if params:
            path += "?" + urlencode(params)
        headers = {"Accept": "application/json", **self.cfg.auth_headers()}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        c = self._conn()
        try:
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
        finally:
            c.close()
        doc = json.loads(raw) if raw else None
        if r.status >= 300:
            raise ApiStatus(r.status, doc)
        return doc

    def get(self, path, **params):
        return self.request("GET", path, params=params or None)

    def get_or_none(self, path):
        try:
            return self.get(path)
        except ApiStatus as e:
            if e.code == 404:
                return None
            raise

    def create(self, path, body):
        return self.request("POST", path, body)

    def delete(self, path, **opts):
        body = {"kind": "DeleteOptions", "apiVersion": "v1", **opts} if opts else None
        return self.request("DELETE", path, body)

    def patch(self, path, body):
        return self.request("PATCH", path, body, ctype="application/merge-patch+json")

    def pod(self, ns, name):
        return self.get_or_none(f"/api/v1/namespaces/{ns}/pods/{name}")


class Watcher:
    """Collects the events of a watch on `path` in a thread until stop()."""

    def __init__(self, api: Api, path: str, **params):
        self.api, self.events, self._stop = api, [], False
        rv = api.get(path, **params)["metadata"]["resourceVersion"]
        q = dict(params, watch="true", resourceVersion=rv, timeoutSeconds="120")
        self._c = api._conn(timeout=130)
        self._c.request("GET", path + "?" + urlencode(q), headers={"Accept": "application/json",
                                                                    **api.cfg.auth_headers()})
        self._r = self._c.getresponse()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        try:
            while not self._stop:
                line = self._r.readline()
                if not line:
                    return
                if line.strip():
                    self.events.append(json.loads(line))
        except Exception:  # noqa: BLE001 - stop() closes the socket under the reader
            return

    def stop(self):
        self._stop = True
        try:
            self._c.sock.shutdown(2)
        except OSError:
            pass
        self._c.close()
        self._t.join(5)


def poll(fn, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def kubectl(kubeconfig, *args, timeout=30, check=True, input=None):
    p = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True,
                       timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr}{p.stdout}")
    return p


def processes_under(path: str) -> list:
    """PIDs whose cwd, executable arguments or environment refer to `path`."""
    path = os.path.realpath(path)
    found = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            cwd = os.readlink(f"/proc/{name}/cwd")
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(path) or path in env.replace("\0", " ") and "SIM_ROOTFS" in env:
            found.append((int(name), cmd.replace("\0", " ")))
    return found


def events_of(path: str) -> list:
    """Lines "<event> <time> <pid>" recorded by sim/testdata workloads, as (event, time, pid)."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                out.append((parts[0], float(parts[1]), int(parts[2])))
    return out


def workload(name, events=None, args=(), image="medivote/workload", **extra):
    """A container running sim/testdata/workload.py with POD_IP / POD_NAME from the downward API.

    Unless `readinessProbe` is given (None for none), it gets an httpGet /healthz
    readiness probe on its --port, so "Ready" means "listening, handlers installed".
    """
    c = {"name": name, "image": image,
         "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}
    if events:
        c["env"].append({"name": "EVENTS_FILE", "value": str(events)})
    if args:
        c["args"] = list(args)
    if "--port" in args and "readinessProbe" not in extra:
        port = int(list(args)[list(args).index("--port") + 1])
        c["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 1}
    c.update({k: v for k, v in extra.items() if v is not None})
    return c


def pod_body(name, containers, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": containers, **spec}}
