"""The existing-cluster mode of the e2e and packaging suites (issue 14), like envtest's USE_EXISTING_CLUSTER.

With MEDIVOTE_EXISTING_CLUSTER=/path/to/admin.kubeconfig, e2elib.Cluster runs against that API server instead of
starting the API server simulator: `ExistingApi` stands in for simlib.Sim (same `dir` layout, `rest`, `kubectl`,
`stop`), and starts only the kubelet simulator, with the kubelet options the suite gives, as a Node of its own.

Contract of ExistingApi (d, *simctl_args):
* `d/kubeconfig` + `d/ca.crt`: the admin kubeconfig's current context, flattened (what simlib.Rest reads);
  `d/kubelet.kubeconfig`: the same identity for the kubelet.
* The operator's identity as deploy/ defines it: Namespace medivote-system, ServiceAccount medivote-operator,
  its ClusterRole(Binding) and leader-election Role(Binding) are created when absent; a token of the
  ServiceAccount from the TokenRequest API (`kubectl create token`) goes into `d/operator.kubeconfig`.
* The kubelet simulator (`d/kubelet/`, log `d/kubelet.log`) registers Node `medivote-e2e-<run>-<n>` and runs with
  --no-scheduler: a `PodBinder` binds the unscheduled pods of this cluster's namespaces (`namespaces`) to that Node
  only, so several clusters of one session (or two runs) sharing the API server never run each other's pods.
* `delete_namespace(name)`: deletes it, and drops the MediVoteService finalizers left in it (the test's operator
  is already stopped; nobody else would).
* `stop()`: deletes every namespace of `namespaces` that this run created and waits (bounded) until they are
  gone, stops the kubelet, deletes its Node and node Lease, then every object it created, in reverse order (the
  CRD only when the run created it: `created_crd`). Fails when something of the run is left behind.
* `admin(...)`: there is no simulator /admin here; a test that needs it carries @pytest.mark.needs_sim_apiserver.
"""
import os
import secrets
import signal
import subprocess
import sys
import time

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
for _path in (REPO, os.path.join(REPO, "tests", "sim")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
from sim.kubelet.kubeconfig import load as load_kubeconfig  # noqa: E402
from simlib import Rest, Sim, poll  # noqa: E402

ENV = "MEDIVOTE_EXISTING_CLUSTER"
MARKER = "needs_sim_apiserver"
RUN_ID = secrets.token_hex(3)        # this pytest process: suffix of every name it creates
RUN_LABEL = "medivote.io/e2e-run"    # on every namespace a run creates
OPERATOR_NAMESPACE = "medivote-system"
OPERATOR_SA = "medivote-operator"
CRD_NAME = "medivoteservices.medivote.io"
# Objects of deploy/ that give the operator its identity and permissions (the rest is the Deployment, etc.).
IDENTITY_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
# simctl flags that configure the kubelet simulator (and their sim.kubelet spelling); the API server's own flags
# (--bookmark-interval, --history, ...) have no meaning for an existing server and are ignored.
KUBELET_FLAGS = {"--kubelet-image-map": "--image-map", "--pod-cidr": "--pod-cidr",
                 "--pod-isolation": "--pod-isolation", "--watch-delay-ms": "--watch-delay-ms",
                 "--restart-race-window-ms": "--restart-race-window-ms"}
SERVER_FLAGS_WITH_VALUE = {"--bookmark-interval", "--history", "--port"}
CLEANUP_TIMEOUT = 120


def admin_kubeconfig():
    """The admin kubeconfig named by MEDIVOTE_EXISTING_CLUSTER, or None (the suites start their own simulator)."""
    return os.environ.get(ENV) or None


def run_name(base):
    """`base-<run id>`: a DNS label unique to this run (63 characters at most)."""
    return f"{base[:62 - len(RUN_ID)].rstrip('-')}-{RUN_ID}"


def object_path(d):
    """The REST path of a manifest's object (the kinds of deploy/)."""
    plural = {"Deployment": "deployments", "NetworkPolicy": "networkpolicies", "Service": "services",
              "ServiceAccount": "serviceaccounts", "PodDisruptionBudget": "poddisruptionbudgets", "Role": "roles",
              "RoleBinding": "rolebindings", "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
              "Namespace": "namespaces", "CustomResourceDefinition": "customresourcedefinitions"}[d["kind"]]
    gv = d["apiVersion"]
    base = f"/api/{gv}" if "/" not in gv else f"/apis/{gv}"
    ns = d["metadata"].get("namespace")
    return f"{base}{'/namespaces/' + ns if ns else ''}/{plural}/{d['metadata']['name']}"


def _b64(data):
    import base64
    return base64.b64encode(data).decode()


def write_kubeconfig(path, server, ca_pem, user):
    """A one-context kubeconfig (the shape the simulator writes) with the CA inline, and ca.crt beside it."""
    cluster = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = _b64(ca_pem)
        with open(os.path.join(os.path.dirname(path), "ca.crt"), "wb") as f:
            f.write(ca_pem)
    cfg = {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "existing", "cluster": cluster}],
           "users": [{"name": "user", "user": user}],
           "contexts": [{"name": "existing", "context": {"cluster": "existing", "user": "user"}}],
           "current-context": "existing"}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return path


def flatten_kubeconfig(src, path):
    """Writes the current context of kubeconfig `src` (files or inline data, token or client certificate) to
    `path` as write_kubeconfig does; returns (server, CA PEM)."""
    kc = load_kubeconfig(src)
    if kc.server.startswith("https://") and not kc.ca_pem:
        raise AssertionError(f"{ENV}={src}: the cluster needs a certificate-authority (the suites verify TLS)")
    if kc.client_cert_pem and kc.client_key_pem:
        user = {"client-certificate-data": _b64(kc.client_cert_pem), "client-key-data": _b64(kc.client_key_pem)}
    elif kc.token:
        user = {"token": kc.token}
    else:
        raise AssertionError(f"{ENV}={src}: the user needs a client certificate or a token (exec plugins and "
                             "basic auth are not supported)")
    write_kubeconfig(path, kc.server, kc.ca_pem, user)
    return kc.server, kc.ca_pem


def split_simctl_args(args):
    """simctl flags -> sim.kubelet flags (the API server's own flags dropped)."""
    out, i = [], 0
    args = list(args)
    while i < len(args):
        a = args[i]
        if a in KUBELET_FLAGS:
            out += [KUBELET_FLAGS[a], args[i + 1]]
            i += 2
        elif a in SERVER_FLAGS_WITH_VALUE:
            i += 2
        elif a == "--http":
            i += 1
        else:
            raise AssertionError(f"existing-cluster mode: simctl flag {a} has no meaning here")
    return out


class PodBinder:
    """Binds the unscheduled pods of `owns(namespace)` to `node` through pods/binding, as kube-scheduler does (the
    kubelet runs with --no-scheduler). Runs in a thread from start() to stop()."""

    def __init__(self, rest, node, owns):
        from e2elib import Followers  # e2elib imports this module
        self.rest, self.node, self.owns = rest, node, owns
        self.followers = Followers(rest, {"/api/v1/pods": self._handle})

    def _handle(self, typ, pod):
        md, spec = pod["metadata"], pod.get("spec") or {}
        if typ == "DELETED" or spec.get("nodeName") or md.get("deletionTimestamp") or not self.owns(md["namespace"]):
            return
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": md["name"], "uid": md["uid"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.node}}
        # 409: bound already (an update of the same pod); 404: gone meanwhile.
        self.rest.post(f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}/binding", body)

    def start(self):
        self.followers.start()
        return self

    def stop(self):
        self.followers.stop()


class ExistingApi:
    count = 0

    def __init__(self, d, *simctl_args):
        ExistingApi.count += 1
        self.source = admin_kubeconfig()
        self.dir = str(d)
        os.makedirs(os.path.join(self.dir, "kubelet"), exist_ok=True)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.server, self.ca_pem = flatten_kubeconfig(self.source, self.kubeconfig)
        self.rest = Rest(self.kubeconfig)
        self.node_name = run_name(f"medivote-e2e-{ExistingApi.count}")
        self.namespaces = set()   # namespaces whose pods this cluster's kubelet runs
        self.created = []         # REST paths of the objects this run created, in creation order
        self.created_crd = False
        self.kubelet = None
        self.binder = None
        try:
            self._operator_identity()
            self._start_kubelet(split_simctl_args(simctl_args))
            self.binder = PodBinder(self.rest, self.node_name, lambda ns: ns in self.namespaces).start()
        except BaseException:
            self.stop(check=False)
            raise

    # ---- what simlib.Sim offers -----------------------------------------------------------------------------
    kubectl = Sim.kubectl   # kubectl with d/kubeconfig: it needs only `kubeconfig` and `dir`

    def admin(self, method, path, body=None):
        raise AssertionError(f"{ENV}: {self.server} is no API server simulator and has no /admin/{path}; "
                             f"mark the test @pytest.mark.{MARKER}(reason=...)")

    # ---- objects of the run ---------------------------------------------------------------------------------
    def create_if_absent(self, obj):
        """Creates `obj` unless it exists; a created object is deleted at stop(). True when created."""
        path = object_path(obj)
        if self.rest.get(path).status == 200:
            return False
        collection, _, _ = path.rpartition("/")
        r = self.rest.post(collection, obj)
        assert r.status == 201 or r.status == 409, f"POST {collection}: {r}"
        if r.status == 201:
            self.created.append(path)
        return r.status == 201

    def apply_crd(self, crd_file):
        """`kubectl apply` of the CRD; remembered for deletion when this run created it."""
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}"
        existed = self.rest.get(path).status == 200
        self.kubectl("apply", "-f", crd_file)
        if not existed:
            self.created_crd = True
            self.created.insert(0, path)   # deleted last

    def _operator_identity(self):
        from e2elib import DEPLOY, load_docs  # e2elib imports this module
        self.create_if_absent({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}})
        for doc in load_docs(DEPLOY):
            if doc["kind"] in IDENTITY_KINDS:
                self.create_if_absent(doc)
        # The TokenRequest API (authentication.k8s.io/v1), as `kubectl create token` calls it.
        token = self.kubectl("create", "token", OPERATOR_SA, "-n", OPERATOR_NAMESPACE, "--duration", "6h").stdout
        write_kubeconfig(os.path.join(self.dir, "operator.kubeconfig"), self.server, self.ca_pem,
                         {"token": token.strip()})

    def _start_kubelet(self, kubelet_args):
        with open(self.kubeconfig) as src, open(os.path.join(self.dir, "kubelet.kubeconfig"), "w") as dst:
            dst.write(src.read())
        os.chmod(os.path.join(self.dir, "kubelet.kubeconfig"), 0o600)
        log = open(os.path.join(self.dir, "kubelet.log"), "ab")
        self.kubelet = subprocess.Popen(
            ["/usr/bin/python3", "-m", "sim.kubelet", "--kubeconfig", os.path.join(self.dir, "kubelet.kubeconfig"),
             "--node-name", self.node_name, "--state-dir", os.path.join(self.dir, "kubelet"), "--no-scheduler",
             *kubelet_args],
            cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        with open(os.path.join(self.dir, "kubelet.pid"), "w") as f:
            f.write(str(self.kubelet.pid))

        def ready():
            assert self.kubelet.poll() is None, "the kubelet simulator exited:\n" + self._kubelet_log()
            node = self.rest.get(f"/api/v1/nodes/{self.node_name}")
            return node.status == 200 and any(c["type"] == "Ready" and c["status"] == "True"
                                               for c in node.body.get("status", {}).get("conditions", []))
        poll(ready, 30, f"Node {self.node_name} to be Ready")

    def _kubelet_log(self):
        with open(os.path.join(self.dir, "kubelet.log")) as f:
            return f.read()[-3000:]

    # ---- namespaces -----------------------------------------------------------------------------------------
    def create_namespace(self, name):
        """POSTs the namespace, labelled with this run; the response (201, or 409 when it exists)."""
        r = self.rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": name, "labels": {RUN_LABEL: RUN_ID}}})
        self.namespaces.add(name)
        if r.status == 201:
            self.created.append(f"/api/v1/namespaces/{name}")
        return r

    def delete_namespace(self, name):
        self.rest.delete(f"/api/v1/namespaces/{name}")
        self._drop_finalizers(name)

    def _drop_finalizers(self, ns):
        r = self.rest.get(f"/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices")
        for o in (r.body or {}).get("items", []) if r.status == 200 else []:
            if o["metadata"].get("finalizers"):
                self.rest.patch(f"/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices/"
                                f"{o['metadata']['name']}", {"metadata": {"finalizers": None}})

    # ---- the end --------------------------------------------------------------------------------------------
    def stop(self, check=True):
        left = []
        ours = [p for p in self.created if p.startswith("/api/v1/namespaces/") and p.count("/") == 4
                and p.rsplit("/", 1)[1] != OPERATOR_NAMESPACE]
        for path in ours:
            self.delete_namespace(path.rsplit("/", 1)[1])
        deadline = time.monotonic() + CLEANUP_TIMEOUT
        while ours and time.monotonic() < deadline:
            for path in ours:
                self._drop_finalizers(path.rsplit("/", 1)[1])
            ours = [p for p in ours if self.rest.get(p).status != 404]
            time.sleep(0.5)
        left += ours
        if self.binder:
            self.binder.stop()
        if self.kubelet and self.kubelet.poll() is None:
            self.kubelet.send_signal(signal.SIGTERM)
            try:
                self.kubelet.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.kubelet.pid, signal.SIGKILL)
                self.kubelet.wait(timeout=10)
        if self.kubelet:
            try:
                os.killpg(self.kubelet.pid, signal.SIGKILL)   # stragglers of its session
            except ProcessLookupError:
                pass
        self.rest.delete(f"/api/v1/nodes/{self.node_name}")
        self.rest.delete(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node_name}")
        for path in reversed([p for p in self.created if p not in ours]):
            self.rest.delete(path)
        for path in [p for p in self.created if p not in ours]:
            try:
                poll(lambda: self.rest.get(path).status == 404, max(1.0, deadline - time.monotonic()),
                     f"{path} to be deleted")
            except AssertionError:
                left.append(path)
        if check:
            assert not left, f"existing-cluster mode: the run left {left} behind on {self.server}"


# ---- pytest: the marker of the tests that need the simulator itself ----------------------------------------------

def register_marker(config):
    config.addinivalue_line("markers", f"{MARKER}(reason): the test needs the API server simulator itself (its "
                            "/admin fault injection or audit log, or a fresh server of its own); skipped in "
                            f"existing-cluster mode ({ENV})")


def skip_marked(items):
    """In existing-cluster mode, adds a skip with the marker's reason to every item marked MARKER."""
    if admin_kubeconfig() is None:
        return
    import pytest
    for item in items:
        m = item.get_closest_marker(MARKER)
        if m is not None and not getattr(item, "_skipped_for_existing_cluster", False):
            reason = m.kwargs.get("reason") or (m.args[0] if m.args else "needs the API server simulator")
            item.add_marker(pytest.mark.skip(reason=f"existing-cluster mode ({ENV}): {reason}"))
            item._skipped_for_existing_cluster = True
