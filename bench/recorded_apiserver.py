#!/usr/bin/python3
"""A recorded API server for the cache-sync benchmarks (issue 16): the real kube-apiserver's answers, rendered once
before the first request and then written as fast as the socket takes them, so that a figure measures the client, not
the API server simulator (which builds every reply in Python, object by object).

What it serves (HTTP/1.1, no TLS, 127.0.0.1 only):
* a list of pods: N pods of the shape a real kube-apiserver 1.32 served for a pod the operator made
  (../shared/k8s-reference/pod-operator-shape-as-served.json: managedFields, the projected token volume, the
  kubelet's status...), each with its own name, namespace, uid, pod IP and a controller reference to its
  MediVoteService (as the operator sets it); a list of MediVoteServices: M of them, with the metadata the server adds;
  every other collection: empty. A list at resourceVersion=0 is answered whole whatever its `limit`, as the watch
  cache answers it (../shared/k8s-reference/edge-cases-2026-12.md); another list is paged by its `limit` and
  `continue`; selectors are not applied (every pod matches the operator's). One fixed resourceVersion for everything.
* a watch (watch=true): 200, chunked, one BOOKMARK at that resourceVersion, then nothing until its timeoutSeconds
  (at most 600 s) or the client goes.
* the Lease of leader election: held by someone else for an hour (reads answer it; writes answer 409), so an operator
  with --leader-elect caches everything and never leads.
* anything else: 404 with a Status.

Not a simulator: nothing can be written, nothing changes. Run alone (`--port 0` prints the port it took) or from
bench/sync_vs_peer.py.
"""
import argparse
import copy
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
POD_SHAPE = os.path.join(HERE, "..", "..", "shared", "k8s-reference", "pod-operator-shape-as-served.json")
RESOURCE_VERSION = "7000000"
MVS_PATH = "/apis/medivote.io/v1alpha1/"


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def mvs_object(ns, name, replicas, created):
    """A MediVoteService as the server returns it (the spec as bench/operator_footprint.py creates it)."""
    return {
        "apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
        "metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()), "resourceVersion": "6000000",
                     "generation": 1, "creationTimestamp": created, "finalizers": ["medivote.io/shutdown"]},
        "spec": {"replicas": replicas, "tier": "critical",
                 "shutdown": {"endpoint": {"port": "http", "path": "/shutdown"}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "medivote/vote-service:1",
                                                       "ports": [{"name": "http", "containerPort": 8080}]}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Mi"}}}}]},
        "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas},
    }


def pod_object(shape, ns, mvs, ordinal, index):
    pod = copy.deepcopy(shape)
    name = f"{mvs['metadata']['name']}-{ordinal}"
    md = pod["metadata"]
    md.update(name=name, namespace=ns, uid=str(uuid.uuid4()), resourceVersion=str(5000000 + index))
    md["labels"]["medivote.io/service"] = mvs["metadata"]["name"]
    md["labels"]["app.kubernetes.io/instance"] = mvs["metadata"]["name"]
    md["ownerReferences"] = [{"apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService",
                              "name": mvs["metadata"]["name"], "uid": mvs["metadata"]["uid"],
                              "controller": True, "blockOwnerDeletion": True}]
    for v in pod["spec"].get("volumes", []):
        if "persistentVolumeClaim" in v:
            v["persistentVolumeClaim"]["claimName"] = f"data-{name}"
    ip = f"10.{1 + index // 65000}.{(index // 250) % 260 % 256}.{index % 250 + 1}"
    pod["status"]["podIP"] = ip
    if "podIPs" in pod["status"]:
        pod["status"]["podIPs"] = [{"ip": ip}]
    return pod


def render_list(kind, api_version, rendered_items, metadata=None):
    """The list as the server writes it: kind, apiVersion, metadata, then items (the order list_stream.h expects)."""
    head = compact({"kind": kind, "apiVersion": api_version,
                    "metadata": dict({"resourceVersion": RESOURCE_VERSION}, **(metadata or {}))})
    return head[:-1] + b',"items":[' + b",".join(rendered_items) + b"]}"


class Collection:
    """One resource's items, rendered once; a whole list, or a page of it."""

    def __init__(self, kind, api_version, items):
        self.kind, self.api_version = kind, api_version
        self.items = [compact(i) for i in items]
        self.whole = render_list(kind, api_version, self.items)

    def body(self, query):
        """resourceVersion=0: the whole list whatever the limit (the watch cache). Otherwise `limit` and `continue`
        page it, as a quorum read does (the history probe of a quiet watch lists with limit=1)."""
        limit = int(query.get("limit", ["0"])[0] or 0)
        if query.get("resourceVersion", [""])[0] == "0" or not limit:
            return self.whole
        start = int(query.get("continue", ["0"])[0] or 0)
        end = min(len(self.items), start + limit)
        meta = {"continue": str(end), "remainingItemCount": len(self.items) - end} if end < len(self.items) else {}
        return render_list(self.kind, self.api_version, self.items[start:end], meta)


class Recording:
    def __init__(self, services, replicas, namespaces):
        with open(POD_SHAPE) as f:
            shape = json.load(f)
        created = "2026-12-06T03:18:38Z"
        nss = [f"bench-{i}" for i in range(namespaces)]
        mvss = [mvs_object(nss[i % namespaces], f"svc-{i}", replicas, created) for i in range(services)]
        pods = [pod_object(shape, m["metadata"]["namespace"], m, r, i * replicas + r)
                for i, m in enumerate(mvss) for r in range(replicas)]
        self.pod_bytes = len(compact(pods[0])) if pods else 0
        self.lists = {
            "pods": Collection("PodList", "v1", pods),
            "medivoteservices": Collection("MediVoteServiceList", "medivote.io/v1alpha1", mvss),
        }
        self.pods, self.services = len(pods), len(mvss)

    def list_body(self, path, query):
        resource = path.rstrip("/").rsplit("/", 1)[-1]
        if resource in self.lists:
            return self.lists[resource].body(query)
        group = path.split("/")
        api_version = "v1" if path.startswith("/api/") else "/".join(group[2:4])
        return render_list("List", api_version, [])


def lease(namespace, name):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace, "uid": "0b0b0b0b-0000-4000-8000-000000000001",
                         "resourceVersion": RESOURCE_VERSION, "creationTimestamp": now},
            "spec": {"holderIdentity": "bench-holder", "leaseDurationSeconds": 3600, "acquireTime": now,
                     "renewTime": now, "leaseTransitions": 0}}


def status(code, reason, message):
    return compact({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                    "reason": reason, "code": code})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    recording = None  # set by serve()

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if "leases" in parts and len(parts) >= 2 and parts[-2] == "leases":
            return self.reply(200, compact(lease(parts[-3], parts[-1])))
        if q.get("watch", [""])[0] in ("true", "1"):
            return self.watch(q)
        if self.is_collection(parts):
            return self.reply(200, self.recording.list_body(url.path, q))
        return self.reply(404, status(404, "NotFound", f"the server could not find the requested resource ({url.path})"))

    def is_collection(self, parts):
        # /api/v1/<r>, /api/v1/namespaces/<ns>/<r>, /apis/<g>/<v>/<r>, /apis/<g>/<v>/namespaces/<ns>/<r>
        base = 2 if parts[0] == "api" else 3
        rest = parts[base:]
        return len(rest) == 1 or (len(rest) == 3 and rest[0] == "namespaces")

    def watch(self, q):
        timeout = min(int(q.get("timeoutSeconds", ["600"])[0] or 600), 600)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        event = compact({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {
            "resourceVersion": RESOURCE_VERSION}}}) + b"\n"
        try:
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                time.sleep(1)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        self.close_connection = True

    def do_PUT(self):
        self.drain()
        self.reply(409, status(409, "Conflict", "the lease is held by bench-holder (a recorded server: no writes)"))

    do_POST = do_PUT
    do_PATCH = do_PUT

    def drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that went away (a stopped operator's watches): nothing to report
        super().handle_error(request, client_address)


def serve(recording, port=0):
    handler = type("RecordedHandler", (Handler,), {"recording": recording})
    server = Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_kubeconfig(path, port):
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: recorded
  cluster:
    server: http://127.0.0.1:{port}
users:
- name: bench
  user:
    token: recorded-server-bench-token
contexts:
- name: recorded
  context:
    cluster: recorded
    user: bench
    namespace: default
current-context: recorded
""")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--replicas", type=int, default=10)
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--kubeconfig", required=True, help="where to write a kubeconfig for it")
    opts = ap.parse_args()
    rec = Recording(opts.services, opts.replicas, opts.namespaces)
    server = serve(rec, opts.port)
    port = server.server_address[1]
    write_kubeconfig(opts.kubeconfig, port)
    print(json.dumps({"port": port, "pods": rec.pods, "medivoteservices": rec.services, "podBytes": rec.pod_bytes,
                      "podListBytes": len(rec.lists["pods"].whole),
                      "mvsListBytes": len(rec.lists["medivoteservices"].whole)}),
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
