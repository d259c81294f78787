"""The stand-ins of the six real MediVote services (workloads/standins/, issue 12 §2), each run directly as a process
on 127.0.0.1 with a free port, checked against the contract (../shared/medivote-services.md): status codes and JSON,
allowlists, the 200-then-self-SIGTERM exit (died by SIGTERM: 143 as the kubelet reports it) and its timing window,
the coordinator's non-atomic save, the state the next process loads, the backend's reload parent, the frontend's 501,
the incentive system's published bug, and the records. The image map deploy/samples/sim-images.yaml is checked
against every preset of deploy/samples/.

On the host's loopback every peer is loopback: the allowlist function is checked with non-loopback peers, and the
403 answer with an allowlist replaced by --allowlist. The last test runs every preset's pod as shipped on the kubelet
simulator in namespace mode (skipped when unavailable), where a call from the host does come from another address.
"""
import glob
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml

from workload_fixtures import REPO, Http, Proc, poll

SCRIPT = os.path.join(REPO, "workloads", "standins", "medivote_standin.py")
SAMPLES = os.path.join(REPO, "deploy", "samples")
PY = "/usr/bin/python3"
sys.path.insert(0, os.path.dirname(SCRIPT))
import medivote_standin as standin  # noqa: E402

SLACK = 0.6   # scheduling slack on a loaded 2-core machine, added to the contract's upper bounds only


class Standin(Proc):
    def __init__(self, argv, env, log_path, cwd, record_file):
        super().__init__(argv, env, log_path, cwd=cwd)
        self.cwd, self.record_file = cwd, record_file

    def records(self, event=None):
        if not os.path.exists(self.record_file):
            return []
        lines = [json.loads(x) for x in open(self.record_file).read().splitlines()]
        return [r for r in lines if event is None or r["event"] == event]

    def wait_record(self, event, timeout=5, **match):
        def found():
            return [r for r in self.records(event) if all(r.get(k) == v for k, v in match.items())]
        return poll(found, timeout, f"a {event} record {match}")[0]

    def exit_after(self, t_call, timeout=5):
        """(returncode, seconds since t_call (monotonic)) once the process has exited."""
        code = self.wait_exit(timeout)
        return code, time.monotonic() - t_call


@pytest.fixture
def standins(tmp_path):
    started = []

    def start(service, *args, cwd=None, hostname="pod-0", record=True):
        cwd = str(cwd or tmp_path / "app")
        os.makedirs(cwd, exist_ok=True)
        rec_dir = str(tmp_path / "records")
        argv = [PY, SCRIPT, "--service", service, "--port", "0", "--bind", "127.0.0.1",
                *(["--record-dir", rec_dir] if record else []), *args]
        env = dict(os.environ, HOSTNAME=hostname)
        p = Standin(argv, env, str(tmp_path / f"{service}-{len(started)}.log"), cwd,
                    os.path.join(rec_dir, f"{hostname}.jsonl"))
        started.append(p)
        return p.wait_listening()

    yield start
    for p in started:
        p.stop()
    assert not [p.p.pid for p in started if p.p.poll() is None]


def shutdown_call(p, path="/shutdown", **kw):
    t_call = time.monotonic()
    r = p.http().post(path, **kw)
    return r, t_call


# ---- allowlists (unit level: a non-loopback peer cannot be made on the host's loopback) ------------------------

def test_allowlists_compare_the_peer_as_the_real_code_does():
    node, coord, dash = standin.NODE_ALLOWLIST, standin.COORDINATOR_ADMIN_IPS, standin.DASHBOARD_ALLOWLIST
    for allow in (node, dash):
        assert standin.allowlist_admits(allow, "127.0.0.1") and standin.allowlist_admits(allow, "::1")
    assert standin.allowlist_admits(coord, "127.0.0.1")
    assert not standin.allowlist_admits(coord, "::1")            # contract: the coordinator refuses ::1
    for allow in (node, coord, dash, standin.BACKEND_INTERNAL_ALLOWLIST):
        for peer in ("198.18.0.1", "10.0.0.7", "127.0.0.2", "::ffff:127.0.0.1"):
            assert not standin.allowlist_admits(allow, peer), (allow, peer)
    assert standin.allowlist_admits(None, "198.18.0.1")          # the incentive system has no allowlist
    assert (standin.BlockchainNode.allowlist, standin.NetworkCoordinator.allowlist, standin.NetworkDashboard.allowlist,
            standin.IncentiveSystem.allowlist, standin.BackendWorker.allowlist) == (node, coord, dash, None,
                                                                                  standin.BACKEND_INTERNAL_ALLOWLIST)


def test_backend_judges_forwarded_for_only_from_a_loopback_peer():
    ip = standin.backend_client_ip
    assert ip("127.0.0.1", None) == "127.0.0.1" and ip("::1", None) == "::1"
    assert ip("127.0.0.1", "198.18.0.9") == "198.18.0.9"          # trusted from loopback: judged as the caller
    assert ip("::1", "198.18.0.9, 127.0.0.1") == "198.18.0.9"
    assert ip("198.18.0.9", "127.0.0.1") == "198.18.0.9"          # not trusted from another address
    allowed = standin.BACKEND_INTERNAL_ALLOWLIST
    assert not standin.allowlist_admits(allowed, ip("127.0.0.1", "198.18.0.9"))
    assert not standin.allowlist_admits(allowed, ip("198.18.0.9", "127.0.0.1"))


# ---- blockchain node -----------------------------------------------------------------------------------------------

def test_blockchain_node_answers_at_once_and_dies_by_its_own_sigterm_08s_later(standins):
    node = standins("blockchain-node", "--version", "1.0.1")
    http = node.http()
    st = http.get("/status")
    assert st.status == 200 and st.json["version"] == "1.0.1" and st.json["is_running"] is True
    assert http.get("/health").status == 404                     # contract: no /health
    r, t_call = shutdown_call(node)
    assert r.status == 200 and r.json["status"] == "shutting_down"
    again = http.post("/shutdown")                               # contract: repeated POSTs all answer 200
    assert again.status == 200
    code, elapsed = node.exit_after(t_call)
    assert code == -signal.SIGTERM                               # 128+15 = 143 as the kubelet reports it
    assert 0.8 <= elapsed <= 0.9 + SLACK, elapsed
    events = [r["event"] for r in node.records()]
    assert events[:5] == ["start", "request", "request", "request", "request"]
    assert "self-sigterm" in events and events[-1] == "signal"
    assert node.records("signal")[-1]["self_sent"] is True
    assert [(r["method"], r["path"], r["status"], r["peer"]) for r in node.records("request")][2:] == \
        [("POST", "/shutdown", 200, "127.0.0.1")] * 2
    assert node.records("start")[0]["version"] == "1.0.1"
    # It writes nothing on shutdown: only the data dir its start creates.
    assert sorted(os.listdir(node.cwd)) == ["blockchain_data"] and not os.listdir(
        os.path.join(node.cwd, "blockchain_data"))
    assert not node.records("save")


def test_a_caller_outside_the_allowlist_gets_403_and_nothing_happens(standins):
    node = standins("blockchain-node", "--allowlist", "192.0.2.1", "--shutdown-delay", "0")
    r = node.http().post("/shutdown")
    assert r.status == 403 and r.json == {"error": "Unauthorized"}
    # With a zero delay an accepted call would have killed it within milliseconds.
    with pytest.raises(AssertionError):
        poll(lambda: not node.alive(), 0.5, "an exit")
    assert not node.records("self-sigterm")


# ---- network coordinator -------------------------------------------------------------------------------------------

def previous_pods_file(cwd, node_id):
    data = json.dumps([{"node_id": node_id, "address": "localhost", "port": 8545, "rpc_port": 8546}])
    os.makedirs(os.path.join(cwd, "network_data"), exist_ok=True)
    with open(os.path.join(cwd, "network_data", "nodes.json"), "w") as f:
        f.write(data)
    return hashlib.sha256(data.encode()).hexdigest()


def test_coordinator_saves_nodes_json_non_atomically_then_exits_and_the_next_process_loads_it(standins, tmp_path):
    cwd = tmp_path / "app"
    seeded = previous_pods_file(str(cwd), "node_earlier")
    coord = standins("network-coordinator", "--save-chunk-gap", "0.05", cwd=cwd, hostname="network-coordinator-0")
    loaded = coord.records("start")[0]["loaded"]
    assert loaded["sha256"] == seeded and loaded["entries"] == ["node_earlier"]

    path = os.path.join(coord.cwd, "network_data", "nodes.json")
    seen, stop = set(), threading.Event()

    def reader():   # what another process reading the claim sees while the save runs
        while not stop.is_set():
            try:
                raw = open(path, "rb").read()
                json.loads(raw)
                seen.add("valid")
            except ValueError:
                seen.add("empty" if not raw else "partial")
            except OSError:
                seen.add("missing")
            time.sleep(0.001)
    t = threading.Thread(target=reader)
    t.start()
    try:
        r, t_call = shutdown_call(coord)
        assert r.status == 200 and r.json["status"] == "shutting_down"
        code, elapsed = coord.exit_after(t_call)
    finally:
        stop.set()
        t.join()
    assert code == -signal.SIGTERM and 0.5 <= elapsed <= 0.6 + 3 * 0.05 + SLACK, elapsed
    assert "empty" in seen and "partial" in seen, seen            # contract: "the file was seen empty for a moment"
    save = coord.records("save")[0]
    raw = open(path, "rb").read()
    assert save["bytes"] == len(raw) and save["sha256"] == hashlib.sha256(raw).hexdigest()
    assert save["path"] == "network_data/nodes.json" and save["entries"] == ["node_earlier",
                                                                             "node_network-coordinator-0"]
    # The save starts 0.5 s after the call and the SIGTERM follows it at once.
    sig = coord.records("self-sigterm")[0]
    assert sig["t"] - save["end"] < 0.1
    # The replacement (same pod name, same claim) finds that file.
    nxt = standins("network-coordinator", cwd=cwd, hostname="network-coordinator-0")
    assert nxt.records("start")[-1]["loaded"]["sha256"] == save["sha256"]


def test_coordinator_rate_limits_get_root_to_100_per_ip(standins):
    coord = standins("network-coordinator")
    http = coord.http()
    conn = http.connection()
    statuses = [http.get("/", conn=conn).status for _ in range(101)]
    conn.close()
    assert statuses[:100] == [200] * 100 and statuses[100] == 429
    assert http.get("/").json == {"error": "Rate limit exceeded"}
    assert http.post("/shutdown").status == 200                  # only GET / is rate-limited


def test_external_sigterm_kills_without_saving(standins, tmp_path):
    cwd = tmp_path / "app"
    seeded = previous_pods_file(str(cwd), "node_earlier")
    coord = standins("network-coordinator", cwd=cwd)
    t0 = time.monotonic()
    coord.signal(signal.SIGTERM)
    code, elapsed = coord.exit_after(t0)
    assert code == -signal.SIGTERM and elapsed < 0.5
    assert hashlib.sha256(open(cwd / "network_data" / "nodes.json", "rb").read()).hexdigest() == seeded
    assert not coord.records("save") and not coord.records("self-sigterm")
    assert coord.records("signal")[0]["self_sent"] is False


# ---- incentive system ----------------------------------------------------------------------------------------------

def test_incentive_system_fixed_saves_credentials_and_exits(standins):
    inc = standins("incentive-system", hostname="incentive-system-0")
    http = inc.http()
    assert http.get("/health").json["status"] == "healthy" and http.get("/status").json["status"] == "operational"
    r, t_call = shutdown_call(inc)
    assert r.status == 200 and r.json["status"] == "shutting_down"
    code, elapsed = inc.exit_after(t_call)
    assert code == -signal.SIGTERM and 0.5 <= elapsed <= 0.55 + SLACK, elapsed
    saved = json.load(open(os.path.join(inc.cwd, "incentive_data", "node_credentials.json")))
    assert [c["node_id"] for c in saved] == ["node_incentive-system-0"]
    assert inc.records("save")[0]["path"] == "incentive_data/node_credentials.json"


def test_incentive_system_exits_the_instant_it_has_saved_when_asked(standins):
    inc = standins("incentive-system", "--shutdown-delay", "0.05")
    r, t_call = shutdown_call(inc)
    code, elapsed = inc.exit_after(t_call)
    assert r.status == 200 and code == -signal.SIGTERM and elapsed < 0.05 + SLACK
    save, sig = inc.records("save")[0], inc.records("signal")[0]
    assert 0 <= sig["t"] - save["end"] < 0.05


def test_incentive_system_as_published_answers_500_to_everything(standins):
    inc = standins("incentive-system", "--published-bug", "--shutdown-delay", "0")
    http = inc.http()
    for method, path in (("GET", "/health"), ("GET", "/status"), ("POST", "/shutdown"), ("GET", "/nowhere")):
        r = http.request(method, path)
        assert r.status == 500 and r.raw.startswith(b"500 Internal Server Error"), (method, path, r)
    with pytest.raises(AssertionError):
        poll(lambda: not inc.alive(), 0.5, "an exit")
    assert not inc.records("save") and not os.path.exists(os.path.join(inc.cwd, "incentive_data"))


# ---- network dashboard and frontend --------------------------------------------------------------------------------

def test_dashboard_shutdown_exists_and_every_call_is_recorded(standins):
    dash = standins("network-dashboard")
    http = dash.http()
    assert http.get("/").status == 200 and http.get("/health").status == 404
    assert not [r for r in dash.records("request") if r["path"] == "/shutdown"]
    r, t_call = shutdown_call(dash)
    assert r.status == 200 and r.json["status"] == "shutting_down"
    code, elapsed = dash.exit_after(t_call)
    assert code == -signal.SIGTERM and 0.3 <= elapsed <= 0.3 + SLACK, elapsed
    assert [(r["method"], r["status"]) for r in dash.records("request") if r["path"] == "/shutdown"] == \
        [("POST", 200)]


def test_frontend_answers_501_to_post_and_dies_at_once_on_sigterm(standins):
    fe = standins("frontend")
    http = fe.http()
    h = http.get("/health")
    assert h.status == 200 and h.json["status"] == "healthy" and h.json["service"] == "frontend"
    page = http.get("/")                                          # its own folder, not the working directory
    assert page.status == 200 and b"<h1>MediVote</h1>" in page.raw
    assert http.post("/shutdown").status == 501 and http.post("/").status == 501
    t0 = time.monotonic()
    fe.signal(signal.SIGTERM)
    code, elapsed = fe.exit_after(t0)
    assert code == -signal.SIGTERM and elapsed < 0.25, elapsed    # contract: exit 143 within 10 ms (+ scheduling)
    assert [(r["method"], r["path"], r["status"]) for r in fe.records("request")] == \
        [("GET", "/health", 200), ("GET", "/", 200), ("POST", "/shutdown", 501), ("POST", "/", 501)]
    assert fe.records("signal")[0]["self_sent"] is False


def test_frontend_without_its_index_html_exits_1(standins, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AssertionError, match="exited 1 before listening"):
        standins("frontend", "--root", str(tmp_path / "empty"))


# ---- backend -------------------------------------------------------------------------------------------------------

def test_backend_worker_dies_and_the_reload_parent_keeps_the_port_without_answering(standins):
    be = standins("backend")
    http = be.http()
    poll(lambda: be.records("start") and len(be.records("start")) == 2, 5, "the worker's start")
    assert http.get("/health").json["status"] == "healthy" and http.get("/status").status == 200
    assert http.post("/shutdown").json == {"detail": "Not authenticated"}          # FastAPI 0.104.1 HTTPBearer: 403
    r = http.post("/shutdown", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    r = http.post("/internal-shutdown", headers={"X-Forwarded-For": "198.18.0.9"})
    assert r.status == 403 and r.json == {"detail": "Internal shutdown only allowed from localhost"}
    r, t_call = shutdown_call(be, "/internal-shutdown")
    assert r.status == 200 and r.json["status"] == "success" and r.json["message"] == "Internal shutdown initiated"
    worker_exit = be.wait_record("worker-exit")
    # The parent and its worker each record their start; under load either line may come first.
    [parent] = [r for r in be.records("start") if r["role"] == "reload-parent"]
    assert worker_exit["worker_pid"] == parent["worker_pid"]
    assert worker_exit["t"] - be.records("request")[-1]["t"] >= 0.2
    assert be.alive()                                              # the container has not exited
    # The port still accepts connections (the parent holds the socket) but nothing answers.
    with socket.create_connection((be.host, be.port), timeout=2) as s:
        s.settimeout(0.5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(socket.timeout):
            s.recv(1)
    t0 = time.monotonic()
    be.signal(signal.SIGTERM)
    code, elapsed = be.exit_after(t0)
    assert code == 0 and elapsed < 1.0                             # contract: "SIGTERM (exit 0)"
    assert be.records("exit")[-1]["role"] == "reload-parent"


def test_backend_secure_shutdown_with_an_accepted_jwt_kills_the_worker_after_05s(standins):
    be = standins("backend", "--accept-jwt", "t0ken")
    poll(lambda: len(be.records("start")) == 2, 5, "the worker's start")
    r, t_call = shutdown_call(be, headers={"Authorization": "Bearer t0ken"})
    assert r.status == 200 and r.json["message"] == "Secure shutdown initiated"
    worker_exit = be.wait_record("worker-exit")
    assert worker_exit["t"] - be.records("request")[-1]["t"] >= 0.5
    assert be.alive()


def test_backend_parent_sigterm_stops_a_live_worker_and_exits_0(standins):
    be = standins("backend")
    poll(lambda: be.http().get("/health").status == 200, 5, "the worker to answer")
    be.signal(signal.SIGTERM)
    assert be.wait_exit(5) == 0
    roles = [r.get("role") for r in be.records("exit")]
    assert sorted(roles) == ["reload-parent", "worker"]


# ---- records -------------------------------------------------------------------------------------------------------

def test_without_record_dir_nothing_is_recorded(standins, tmp_path):
    node = standins("blockchain-node", record=False)
    assert node.http().get("/status").status == 200
    assert not os.path.exists(tmp_path / "records")


# ---- the image map against the presets -----------------------------------------------------------------------------

def test_sim_images_map_every_preset_and_the_upgrade_tag(tmp_path):
    sys.path.insert(0, REPO)
    from sim.kubelet.images import ImageMap, argv
    raw = yaml.safe_load(open(os.path.join(SAMPLES, "sim-images.yaml")))["images"]
    assert raw["medivote/agent:0.1.0"]["user"] == "65532"
    assert raw["medivote/agent:0.1.0"]["entrypoint"] == ["../../build/medivote-agent"]
    assert {"medivote/vote-service:0.1.0", "medivote/static-server:0.1.0"} <= set(raw)
    images = ImageMap(os.path.join(SAMPLES, "sim-images.yaml"))
    for service in standin.SERVICES:
        for tag in ("1.0.0", "1.0.1"):
            words = argv(images.lookup(f"medivote/{service}:{tag}"), None, None)
            assert words == [PY, SCRIPT, "--service", service, "--version", tag]
    # Every preset of a real service names a mapped image, whose stand-in listens on the preset's port and answers
    # its readiness probe.
    names = set()
    for path in sorted(glob.glob(os.path.join(SAMPLES, "*.yaml"))):
        for doc in yaml.safe_load_all(open(path)):
            if not doc or doc.get("kind") != "MediVoteService":
                continue
            c = doc["spec"]["template"]["spec"]["containers"][0]
            assert images.lookup(c["image"]) is not None, c["image"]
            if "--service" not in argv(images.lookup(c["image"]), None, None):
                continue
            service = argv(images.lookup(c["image"]), None, None)[3]
            names.add(service)
            assert c["ports"][0]["containerPort"] == standin.PORTS[service], path
            probe = c["readinessProbe"]
            if "httpGet" in probe:
                check_probe(tmp_path, images, c, probe["httpGet"]["path"])
    assert names == set(standin.SERVICES)


def check_probe(tmp_path, images, container, probe_path):
    from sim.kubelet.images import argv
    words = argv(images.lookup(container["image"]), None, None) + ["--port", "0", "--bind", "127.0.0.1"]
    cwd = tmp_path / container["name"]
    cwd.mkdir()
    p = Proc(words, dict(os.environ), str(tmp_path / f"{container['name']}.log"), cwd=str(cwd))
    try:
        p.wait_listening()
        r = poll(lambda: _get_or_none(Http(p.host, p.port, timeout=2), probe_path), 5, f"{probe_path} answering")
        assert r.status == 200, (container["name"], probe_path, r)
    finally:
        p.stop()


def _get_or_none(http, path):
    try:
        return http.get(path)
    except OSError:
        return None


# ---- the presets as shipped, on the kubelet simulator --------------------------------------------------------------

sys.path.insert(0, REPO)
from sim.kubelet.isolation import namespaces_unavailable  # noqa: E402
from simlib import Sim  # noqa: E402

NO_NAMESPACES = namespaces_unavailable()


def stand_in_image_map(path, record_dir):
    """deploy/samples/sim-images.yaml with absolute paths and the stand-ins recording into record_dir (the way the
    README tells a test to make its own map)."""
    doc = yaml.safe_load(open(os.path.join(SAMPLES, "sim-images.yaml")))
    for entry in doc["images"].values():
        entry["entrypoint"] = [os.path.normpath(os.path.join(SAMPLES, w)) if w.startswith(("./", "../")) else w
                               for w in entry["entrypoint"]]
        if entry["entrypoint"][1:2] == [SCRIPT]:
            entry["entrypoint"] += ["--record-dir", record_dir]
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)


def preset_pods():
    """Each stand-in preset's pod as its StatefulSet-like ordinal 0 would be: the template as shipped, its grace, and
    the claims of its volumeClaimTemplates."""
    images = yaml.safe_load(open(os.path.join(SAMPLES, "sim-images.yaml")))["images"]
    for path in sorted(glob.glob(os.path.join(SAMPLES, "*.yaml"))):
        for mvs in yaml.safe_load_all(open(path)):
            if not mvs or mvs.get("kind") != "MediVoteService":
                continue
            tpl = json.loads(json.dumps(mvs["spec"]["template"]))
            if "standins" not in json.dumps(images[tpl["spec"]["containers"][0]["image"]]):
                continue
            name = mvs["metadata"]["name"]
            tpl["spec"]["terminationGracePeriodSeconds"] = mvs["spec"]["shutdown"]["terminationGracePeriodSeconds"]
            tpl["spec"]["volumes"] = [{"name": c["metadata"]["name"], "persistentVolumeClaim": {
                "claimName": f"{c['metadata']['name']}-{name}-0"}} for c in mvs["spec"].get("volumeClaimTemplates", [])]
            yield name, {"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"{name}-0", **tpl.get("metadata", {})}, "spec": tpl["spec"]}


def in_pod(pid, method, port, path):
    """An HTTP call from inside the network namespace of process pid (what the agent sidecar does): its status."""
    code = (f"import http.client; c = http.client.HTTPConnection('127.0.0.1', {port}, timeout=5); "
            f"c.request('{method}', '{path}'); print(c.getresponse().status)")
    out = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", PY, "-c", code], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.mark.skipif(NO_NAMESPACES is not None, reason=f"namespace isolation unavailable: {NO_NAMESPACES}")
def test_every_preset_runs_as_shipped_on_the_kubelet_simulator(tmp_path):
    """Namespace mode, as on a real node: each stand-in listens on 0.0.0.0 of its own pod, sees its claims at their
    mountPath under its workingDir, passes its preset's readiness probe, refuses a call from the host (the bridge
    address, like the operator's pod IP) where its contract says loopback only, and the coordinator and incentive
    system, shut down from inside their pods, exit 143 and find their files again when restarted."""
    record_dir = str(tmp_path / "records")
    stand_in_image_map(str(tmp_path / "images.yaml"), record_dir)
    sim = Sim(str(tmp_path / "sim"), "--kubelet-image-map", str(tmp_path / "images.yaml"),
              "--pod-isolation", "namespaces")
    try:
        rest = sim.rest
        rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": "presets"}}))
        pods = dict(preset_pods())
        assert set(pods) == set(standin.SERVICES)
        for pod in pods.values():
            rest.ok(rest.post("/api/v1/namespaces/presets/pods", pod))

        def ready(name):
            p = rest.get(f"/api/v1/namespaces/presets/pods/{name}-0").body
            conds = (p.get("status") or {}).get("conditions") or []
            return p if any(c["type"] == "Ready" and c["status"] == "True" for c in conds) else None
        ips = {name: poll(lambda: ready(name), 40, f"{name}-0 Ready")["status"]["podIP"] for name in pods}
        records = {name: os.path.join(record_dir, f"{name}-0.jsonl") for name in pods}
        starts = {name: [json.loads(x) for x in open(records[name])][0] for name in pods}
        assert starts["network-coordinator"]["cwd"] == "/app" and starts["incentive-system"]["cwd"] == "/app"

        for name in ("blockchain-node", "network-coordinator", "backend", "network-dashboard"):
            path = "/internal-shutdown" if name == "backend" else "/shutdown"
            r = Http(ips[name], standin.PORTS[name], timeout=5).post(path)
            assert r.status == 403, (name, r)                     # the host's call comes from the bridge address

        for name, data in (("network-coordinator", "network_data"), ("incentive-system", "incentive_data")):
            assert in_pod(starts[name]["pid"], "POST", standin.PORTS[name], "/shutdown") == 200

            def restarted():
                st = rest.get(f"/api/v1/namespaces/presets/pods/{name}-0").body["status"]["containerStatuses"][0]
                return st if st["restartCount"] >= 1 and st.get("lastState", {}).get("terminated") else None
            st = poll(restarted, 20, f"{name} restarted after its own exit")
            assert st["lastState"]["terminated"]["exitCode"] == 143
            lines = [json.loads(x) for x in open(records[name])]
            save = [r for r in lines if r["event"] == "save"][0]
            assert save["abspath"].startswith(f"/app/{data}/")   # on the claim, at its mountPath
            nxt = poll(lambda: [r for r in map(json.loads, open(records[name])) if r["event"] == "start"][1:], 20,
                       f"{name}'s second start")[0]
            assert nxt["loaded"]["sha256"] == save["sha256"]
    finally:
        sim.stop()
