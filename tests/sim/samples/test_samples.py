"""deploy/samples/: every sample validates against the real CRD (kubectl apply --dry-run=server against the API
server simulator), each encodes its service's real shutdown contract (issue 8 §4), and the reference presets run
on the kubelet simulator with the built workloads (the pod template, the claim path, the token and POD_IP work)."""
import copy
import glob
import json
import os
import random
import signal
import subprocess

import pytest
import yaml

from simlib import poll

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SAMPLES = os.path.join(REPO, "deploy", "samples")
CRD = os.path.join(REPO, "crds", "medivote.io_medivoteservices.yaml")
BUILD_DIR = os.path.abspath(os.environ.get("MEDIVOTE_BUILD_DIR") or os.path.join(REPO, "build"))
MVS = "/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices"
PY = "/usr/bin/python3"

SAMPLE_FILES = sorted(p for p in glob.glob(os.path.join(SAMPLES, "*.yaml")) if not p.endswith("sim-images.yaml"))

# The real contracts (shared/medivote-services.md) and the reference presets: tier, port, path, reach, agentTarget.
EXPECTED = {
    "backend": ("critical", 8001, "/internal-shutdown", "agent", "loopback"),
    "blockchain-node": ("critical", 8546, "/shutdown", "agent", "loopback"),
    "network-coordinator": ("critical", 8083, "/shutdown", "agent", "loopback-ipv4"),
    "incentive-system": ("critical", 8082, "/shutdown", "agent", "loopback"),
    "frontend": ("simple", 8080, None, None, None),
    "network-dashboard": ("simple", 8084, None, None, None),
    "vote-service": ("critical", 8080, "/shutdown", "agent", "pod-ip"),
    "static-server": ("simple", 8080, None, None, None),
}


def docs(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


def mvs_of(path):
    return next(d for d in docs(path) if d["kind"] == "MediVoteService")


def container_port(template, port):
    """The number a port (number or name) resolves to among the template's declared container ports, or None."""
    for c in template["spec"]["containers"]:
        for p in c.get("ports") or []:
            if port in (p["containerPort"], p.get("name")):
                return p["containerPort"]
    return None


@pytest.fixture(scope="module")
def crd(sim):
    out = sim.kubectl("apply", "-f", CRD)
    assert "medivoteservices.medivote.io" in out.stdout

    def established():
        got = sim.rest.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/medivoteservices.medivote.io")
        conds = {c["type"]: c["status"] for c in (got.body.get("status") or {}).get("conditions") or []}
        # the schema in force must be this repository's (another suite may have applied a test CRD before)
        props = got.body["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        return conds.get("Established") == "True" and "volumeClaimTemplates" in props
    poll(established, 10, "the CRD to be established")


@pytest.fixture
def ns(rest):
    """A fresh namespace (tests/sim/conftest.py's ns puts the parametrize id's brackets into the name)."""
    name = f"samples-{random.randint(0, 999999)}"
    rest.ok(rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    rest.delete(f"/api/v1/namespaces/{name}")


def test_every_service_has_a_sample():
    names = {mvs_of(p)["metadata"]["name"] for p in SAMPLE_FILES}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=os.path.basename)
def test_sample_validates_with_server_dry_run(crd, kubectl, rest, ns, path):
    out = kubectl("apply", "--dry-run=server", "-n", ns, "-f", path, "-o", "json", check=False)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    items = got["items"] if got.get("kind") == "List" else [got]
    assert [i["kind"] for i in items] == [d["kind"] for d in docs(path)]
    mvs = next(i for i in items if i["kind"] == "MediVoteService")
    # The server applied the CRD's defaults: the schema really was in force.
    sh = mvs["spec"]["shutdown"]
    assert sh["maxConcurrent"] == 1 and sh["forceDeleteAfterSeconds"] == 60
    assert mvs["spec"]["updateStrategy"]["partition"] == 0
    if "endpoint" in sh:
        assert sh["endpoint"]["method"] == "POST"
        assert sh["endpoint"]["reach"] in ("direct", "agent")
    # Nothing was created.
    assert rest.get(MVS.format(ns=ns) + "/" + mvs["metadata"]["name"]).status == 404


@pytest.mark.parametrize("mutate,message", [
    (lambda m: m["spec"]["shutdown"]["endpoint"].update(path="http://evil/shutdown"), "path"),
    (lambda m: m["spec"]["shutdown"]["endpoint"].update(reach="sidecar"), "reach"),
    (lambda m: m["spec"].update(tier="gold"), "spec.tier"),
    (lambda m: m["spec"]["shutdown"].update(preStopSleepSeconds=-1), "preStopSleepSeconds"),
], ids=["url-path", "bad-reach", "bad-tier", "negative-sleep"])
def test_dry_run_refuses_a_broken_sample(crd, kubectl, ns, mutate, message):
    """The control: the same dry run fails when a sample breaks the schema."""
    mvs = copy.deepcopy(mvs_of(os.path.join(SAMPLES, "backend.yaml")))
    mutate(mvs)
    out = kubectl("apply", "--dry-run=server", "-n", ns, "-f", "-", input=yaml.safe_dump(mvs), check=False)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_encodes_the_service_contract(name):
    tier, port, path, reach, target = EXPECTED[name]
    [file] = [p for p in SAMPLE_FILES if mvs_of(p)["metadata"]["name"] == name]
    mvs = mvs_of(file)
    spec = mvs["spec"]
    template = spec["template"]
    assert spec["tier"] == tier
    containers = template["spec"]["containers"]
    assert all(c["image"].startswith(f"medivote/{name}:") for c in containers)
    assert container_port(template, port) == port, f"{name} must declare container port {port}"
    endpoint = spec.get("shutdown", {}).get("endpoint")
    if path is None:
        assert endpoint is None, f"{name} is SIGTERM-only"
        return
    assert container_port(template, endpoint["port"]) == port, "the endpoint port must be a declared one"
    assert endpoint["path"] == path
    assert endpoint.get("reach", "direct") == reach
    if reach == "agent":
        assert endpoint.get("agentTarget", "loopback") == target
    sh = spec["shutdown"]
    # The preStop sleep must cover the service's own exit after the call, and fit in the grace period.
    assert sh["preStopSleepSeconds"] < sh["terminationGracePeriodSeconds"]
    # Every claim template backs a volume the containers mount.
    mounts = {m["name"] for c in containers for m in c.get("volumeMounts") or []}
    for claim in spec.get("volumeClaimTemplates") or []:
        assert claim["metadata"]["name"] in mounts


def test_vote_service_preset_uses_its_token_secret_and_a_claim():
    """The Secret authenticates the operator to the agent; the service itself takes /shutdown from its own pod only
    (the agent's forward to the pod IP), like the real services' loopback-only allowlists."""
    path = os.path.join(SAMPLES, "vote-service.yaml")
    secret = next(d for d in docs(path) if d["kind"] == "Secret")
    mvs = mvs_of(path)
    ref = mvs["spec"]["shutdown"]["endpoint"]["tokenSecretRef"]
    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    container = mvs["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert "SHUTDOWN_TOKEN" not in env, "the agent strips the Authorization header: a token on the service would 401"
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    args = container["args"]
    assert args[args.index("--allow") + 1] == "$(POD_IP)/32"
    assert [c["metadata"]["name"] for c in mvs["spec"]["volumeClaimTemplates"]] == ["data"]


# ---- the reference presets on the kubelet simulator ----

@pytest.fixture
def node(sim, tmp_path):
    """A kubelet simulator on its own node (no scheduler, random pod CIDR) whose image map runs the reference images
    as the built binaries: deploy/samples/sim-images.yaml with its build/ paths pointed at BUILD_DIR."""
    for b in ("medivote-vote-service", "medivote-static-server"):
        if not os.access(os.path.join(BUILD_DIR, "workloads", b), os.X_OK):
            pytest.fail(f"{b} not built in {BUILD_DIR} (set MEDIVOTE_BUILD_DIR)")
    images = yaml.safe_load(open(os.path.join(SAMPLES, "sim-images.yaml")))
    for entry in images["images"].values():
        entry["entrypoint"] = [os.path.join(BUILD_DIR, w[len("../../build/"):]) if w.startswith("../../build/") else w
                               for w in entry["entrypoint"]]
    image_map = tmp_path / "images.yaml"
    image_map.write_text(yaml.safe_dump(images))
    name = f"samples-{random.randint(0, 99999)}"
    state = tmp_path / "kubelet"
    log = open(tmp_path / "kubelet.log", "wb")
    proc = subprocess.Popen([PY, "-m", "sim.kubelet", "--kubeconfig", os.path.join(sim.dir, "kubelet.kubeconfig"),
                             "--node-name", name, "--state-dir", str(state), "--image-map", str(image_map),
                             "--pod-cidr", f"127.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24",
                             "--restart-backoff-base", "0.3", "--heartbeat-interval", "1", "--no-scheduler"],
                            cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), stdout=log, stderr=subprocess.STDOUT)
    try:
        yield {"name": name, "state": state}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
        sim.rest.delete(f"/api/v1/nodes/{name}")


def pod_from(mvs, node_name, ordinal=0):
    """The pod the operator would make for an ordinal, minus its additions: the template, bound to `node_name`, with
    the claim volumes of the volumeClaimTemplates (<claim>-<name>-<ordinal>)."""
    name = mvs["metadata"]["name"]
    tpl = copy.deepcopy(mvs["spec"]["template"])
    spec = tpl["spec"]
    spec["nodeName"] = node_name
    spec["terminationGracePeriodSeconds"] = mvs["spec"]["shutdown"]["terminationGracePeriodSeconds"]
    spec["volumes"] = [{"name": c["metadata"]["name"],
                        "persistentVolumeClaim": {"claimName": f"{c['metadata']['name']}-{name}-{ordinal}"}}
                       for c in mvs["spec"].get("volumeClaimTemplates") or []]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{name}-{ordinal}", **tpl.get("metadata", {})},
            "spec": spec}


def ready_pod(rest, ns, name, restarts=0):
    def ready():
        p = rest.get(f"/api/v1/namespaces/{ns}/pods/{name}").body
        st = p.get("status") or {}
        cs = (st.get("containerStatuses") or [{}])[0]
        ok = any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or [])
        return p if ok and cs.get("restartCount", 0) >= restarts and st.get("podIP") else None
    return poll(ready, 20, f"pod {name} Ready (restarts >= {restarts})")


def call(ip, method, path, body=None, headers=None, source=None):
    import http.client
    c = http.client.HTTPConnection(ip, 8080, timeout=5, source_address=(source, 0) if source else None)
    try:
        h = dict(headers or {})
        if body is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)
    finally:
        c.close()


def test_vote_service_preset_runs_saves_to_its_claim_and_reloads(sim, rest, ns, node):
    path = os.path.join(SAMPLES, "vote-service.yaml")
    secret = next(d for d in docs(path) if d["kind"] == "Secret")
    rest.ok(rest.post(f"/api/v1/namespaces/{ns}/secrets", secret))
    pod = pod_from(mvs_of(path), node["name"])
    rest.ok(rest.post(f"/api/v1/namespaces/{ns}/pods", pod))
    ip = ready_pod(rest, ns, "vote-service-0")["status"]["podIP"]

    for i in range(10):
        assert call(ip, "POST", "/votes", {"id": f"a{i}", "choice": "yes"})[0] == 201
    # Only the pod itself may ask (--allow $(POD_IP)/32): the host is refused; a call from the pod's own address (what
    # the agent's pod-ip forward is; in loopback mode any 127.x address is local, so the test can bind it) is taken.
    assert call(ip, "POST", "/shutdown", source="127.0.0.1")[0] == 403
    assert call(ip, "POST", "/shutdown", source=ip)[0] == 202
    # It exits 0 after saving; restartPolicy Always starts it again, and it loads the votes from the claim.
    ip = ready_pod(rest, ns, "vote-service-0", restarts=1)["status"]["podIP"]
    assert call(ip, "GET", "/votes/count") == (200, {"count": 10})
    for i in range(5):
        assert call(ip, "POST", "/votes", {"id": f"b{i}", "choice": "no"})[0] == 201

    # Deletion: the kubelet's SIGTERM triggers the best-effort save.
    rest.ok(rest.delete(f"/api/v1/namespaces/{ns}/pods/vote-service-0"), 200, 202)
    poll(lambda: rest.get(f"/api/v1/namespaces/{ns}/pods/vote-service-0").status == 404, 20, "pod gone")
    claim = node["state"] / "pvc" / ns / "data-vote-service-0"
    saved = json.load(open(claim / "votes.json"))
    assert saved["count"] == 15 and set(saved["votes"]) == {f"a{i}" for i in range(10)} | {f"b{i}" for i in range(5)}
    events = [line.split()[1] for line in open(claim / "events.log").read().splitlines()]
    assert events == ["start", "shutdown-requested", "drained", "saving", "saved", "exit",
                      "start", "sigterm", "drained", "saving", "saved", "exit"], events


def test_static_server_preset_serves_and_stops_promptly(sim, rest, ns, node):
    pod = pod_from(mvs_of(os.path.join(SAMPLES, "static-server.yaml")), node["name"])
    pod["spec"]["terminationGracePeriodSeconds"] = 30
    rest.ok(rest.post(f"/api/v1/namespaces/{ns}/pods", pod))
    ip = ready_pod(rest, ns, "static-server-0")["status"]["podIP"]
    assert call(ip, "GET", "/health") == (200, {"status": "ok"})
    rest.ok(rest.delete(f"/api/v1/namespaces/{ns}/pods/static-server-0"), 200, 202)
    # Gone long before the 30 s grace period: it exits at once on SIGTERM.
    poll(lambda: rest.get(f"/api/v1/namespaces/{ns}/pods/static-server-0").status == 404, 10, "pod gone")
