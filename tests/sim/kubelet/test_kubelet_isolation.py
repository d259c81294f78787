"""The kubelet simulator's namespace isolation mode (--pod-isolation namespaces): pods isolated like real pods.

Each test starts its own kubelet in namespace mode (node iso-*, no scheduler: pods name their node) on the session's
API server simulator, with an image map of its own (python:3 as root, nonroot/python with `user: "65532"`).
Skipped when this machine cannot run namespaces (not root, no `ip netns`, no mount namespaces or overlayfs).
"""
import base64
import ipaddress
import os
import re
import signal
import socket
import stat
import subprocess

import pytest
import yaml

from kubelet_fixtures import KubeletProc, _assert_no_leftovers, _wait_node, api, apiserver, ns  # noqa: F401
from kubelet_testlib import pod_body, poll
from sim.kubelet.isolation import namespaces_unavailable
from sim.kubelet.layout import Layout

UNAVAILABLE = namespaces_unavailable()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"namespace isolation unavailable: {UNAVAILABLE}")

BENCHMARK_RANGE = ipaddress.ip_network("198.18.0.0/15")

# A server for the loopback tests: 127.0.0.1:8083 (loopback only) answers "pong"; 0.0.0.0:8084 answers with the
# caller's address.
SERVER = """
import socket, threading, time
def serve(addr, answer):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(addr); s.listen()
    while True:
        c, peer = s.accept(); c.sendall(answer(peer).encode()); c.close()
threading.Thread(target=serve, args=(("127.0.0.1", 8083), lambda p: "pong"), daemon=True).start()
serve(("0.0.0.0", 8084), lambda p: p[0])
"""
# A sidecar that calls 127.0.0.1:8083 until it answers, then prints what it got.
CALLER = """
import socket, time
while True:
    try:
        c = socket.create_connection(("127.0.0.1", 8083), timeout=1); print("got", c.recv(16).decode(), flush=True)
        break
    except OSError:
        time.sleep(0.1)
time.sleep(3600)
"""
LOOPBACK_READY = {"exec": {"command": ["/usr/bin/python3", "-c",
                                       "import socket; socket.create_connection(('127.0.0.1', 8083), timeout=1)"]},
                  "periodSeconds": 1}


def py(name, script, image="python:3", **extra):
    return {"name": name, "image": image, "command": ["/usr/bin/python3", "-c", script], **extra}


@pytest.fixture
def iso_kubelet(apiserver, api, tmp_path):
    """Factory: start(node, state_dir=None) -> KubeletProc in namespace mode; all stopped and checked at the end."""
    images = tmp_path / "images.yaml"
    images.write_text(yaml.safe_dump({"images": {
        "python:3": {"entrypoint": ["/usr/bin/python3"]},
        "nonroot/python:1": {"entrypoint": ["/usr/bin/python3"], "user": "65532"}}}))
    started = []

    def start(node, state_dir=None, wait=True, extra=()):
        k = KubeletProc(apiserver, state_dir or tmp_path / f"state-{node}-{len(started)}", node, "unused",
                        ["--no-scheduler", "--pod-isolation", "namespaces", *extra])
        if "--pod-cidr" in k.args:   # namespace mode takes a free /24 of 198.18.0.0/15 by itself
            i = k.args.index("--pod-cidr")
            del k.args[i:i + 2]
        k.args[k.args.index("--image-map") + 1] = str(images)
        k.start()
        started.append(k)
        if wait:
            _wait_node(api, node)
        return k

    yield start
    held = {name: ino for k in started if "pod isolation: namespaces" in k.log()
            for name, ino in identities(namespaces_of(k)).items()}
    for k in started:
        if k.proc.poll() is None:
            k.stop()
    for k in started:
        _assert_no_leftovers(k)
    assert not set(identities(list(held)).items()) & set(held.items()), "network namespaces left behind"


def slot_of(k: KubeletProc) -> int:
    """The /24 of k's latest start (a restart on the same state dir appends to the same log)."""
    found = poll(lambda: re.findall(r"pod CIDR 198\.1[89]\.\d+\.\d+/\d+ on bridge msimbr(\d+)", k.log()),
                 timeout=10, what="the kubelet's isolation log line")
    return int(found[-1])


def subnet(slot: int) -> str:
    return str(ipaddress.ip_network((int(BENCHMARK_RANGE.network_address) + (slot << 8), 24)))


def namespaces_of(k: KubeletProc) -> list[str]:
    prefix = f"msim{slot_of(k)}-"
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


def identities(names: list[str]) -> dict[str, int]:
    """name -> inode of each named network namespace that exists (a later one of the same name differs)."""
    out = {}
    for n in names:
        try:
            out[n] = os.stat(f"/run/netns/{n}").st_ino
        except FileNotFoundError:
            pass
    return out


def bridge_exists(slot: int) -> bool:
    return subprocess.run(["ip", "link", "show", f"msimbr{slot}"], capture_output=True).returncode == 0


def run_pod(api, ns, k, name, containers, wait_ready=True, **spec):
    body = pod_body(name, containers, nodeName=k.node_name, **spec)
    api.create(f"/api/v1/namespaces/{ns}/pods", body)

    def ready():
        p = api.pod(ns, name)
        conds = {c["type"]: c["status"] for c in (p.get("status") or {}).get("conditions") or []}
        return p if conds.get("Ready") == "True" else None
    return poll(ready, timeout=30, what=f"pod {name} Ready") if wait_ready else None


def container_log(k, pod, container) -> str:
    md = pod["metadata"]
    path = Layout(k.state_dir).log_file(md["namespace"], md["name"], md["uid"], container, 0)
    return open(path).read() if os.path.exists(path) else ""


def wait_log(k, pod, container, needle, timeout=20) -> str:
    return poll(lambda: (lambda s: s if needle in s else None)(container_log(k, pod, container)), timeout=timeout,
                what=f"{needle!r} in the log of {container}")


def call(ip, port) -> str:
    with socket.create_connection((ip, port), timeout=3) as c:
        return c.recv(64).decode()


def test_loopback_listener_is_private_to_its_pod(api, ns, iso_kubelet):
    k = iso_kubelet("iso-loopback")
    pod = run_pod(api, ns, k, "server", [py("server", SERVER, readinessProbe=LOOPBACK_READY)],
                  initContainers=[py("sidecar", CALLER, restartPolicy="Always")])
    ip = pod["status"]["podIP"]
    assert ipaddress.ip_address(ip) in BENCHMARK_RANGE
    # The sidecar (a native sidecar, same pod) reached the loopback-only listener on 127.0.0.1.
    wait_log(k, pod, "sidecar", "got pong")
    # The host cannot: nothing listens on the pod IP's 8083, and the host's 127.0.0.1:8083 is not the pod's.
    with pytest.raises(ConnectionRefusedError):
        call(ip, 8083)
    # A connection from the host arrives from the bridge's address (the subnet's .1), not from 127.0.0.1.
    gateway = str(ipaddress.ip_network(pod["status"]["podIP"] + "/24", strict=False).network_address + 1)
    assert call(ip, 8084) == gateway


def test_two_replicas_both_listen_on_127_0_0_1_8083(api, ns, iso_kubelet):
    k = iso_kubelet("iso-replicas")
    pods = [run_pod(api, ns, k, f"replica-{i}", [py("server", SERVER, readinessProbe=LOOPBACK_READY)])
            for i in range(2)]
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == 2 and all(ipaddress.ip_address(i) in BENCHMARK_RANGE for i in ips)
    assert [p["status"]["containerStatuses"][0]["restartCount"] for p in pods] == [0, 0]
    assert [call(i, 8084) for i in ips] == [call(ips[0], 8084)] * 2   # both answer, from the same gateway


def test_volumes_at_their_mount_paths_and_working_dir(api, ns, iso_kubelet):
    assert not os.path.exists("/app/network_data") and not os.path.exists("/run/medivote-agent")
    k = iso_kubelet("iso-volumes")
    api.create(f"/api/v1/namespaces/{ns}/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tok"},
                                                    "data": {"token": base64.b64encode(b"s3cret").decode()}})
    script = """
import os, time
print("cwd", os.getcwd(), flush=True)
print("token", open("/var/run/medivote-agent/token").read(), flush=True)
open("/app/network_data/nodes.json", "w").write("[]")
print("wrote", flush=True)
time.sleep(3600)
"""
    pod = run_pod(api, ns, k, "volumes", [py("main", script, workingDir="/srv/work", volumeMounts=[
        {"name": "tok", "mountPath": "/var/run/medivote-agent"},
        {"name": "data", "mountPath": "/app/network_data"}])],
        volumes=[{"name": "tok", "secret": {"secretName": "tok"}}, {"name": "data", "emptyDir": {}}])
    out = wait_log(k, pod, "main", "wrote")
    assert "cwd /srv/work" in out and "token s3cret" in out, out
    # The emptyDir is the volume's directory in the state dir; nothing was created in the host's root.
    host_file = os.path.join(Layout(k.state_dir).volume_dir(pod["metadata"]["uid"], "data"), "nodes.json")
    assert open(host_file).read() == "[]"
    assert not os.path.exists("/app") and not os.path.exists("/srv/work") and not os.path.exists("/run/medivote-agent")


TOKEN_READER = """
import os, time
print("ids", os.getuid(), sorted(os.getgroups()), flush=True)
try:
    print("token", open("/var/run/medivote-agent/token").read(), flush=True)
except PermissionError as e:
    print("token EACCES", e.errno, flush=True)
try:
    open("/data/written-by-%d" % os.getuid(), "w").write("x")
    print("claim writable", flush=True)
except PermissionError:
    print("claim EACCES", flush=True)
time.sleep(3600)
"""


def _token_pod(api, ns, k, name, fs_group, image="python:3", run_as=65532):
    spec = {"volumes": [{"name": "tok", "secret": {"secretName": "agent-token", "defaultMode": 256}},
                        {"name": "data", "persistentVolumeClaim": {"claimName": f"claim-{name}"}}]}
    sc = {}
    if fs_group is not None:
        sc["fsGroup"] = fs_group
    spec["securityContext"] = sc
    c = py("agent", TOKEN_READER, image=image, volumeMounts=[{"name": "tok", "mountPath": "/var/run/medivote-agent"},
                                                               {"name": "data", "mountPath": "/data"}])
    if run_as is not None:
        c["securityContext"] = {"runAsUser": run_as}
    pod = run_pod(api, ns, k, name, [c], **spec)
    return pod, wait_log(k, pod, "agent", "claim ")


def test_secret_0400_needs_fs_group_for_a_non_root_user(api, ns, iso_kubelet):
    k = iso_kubelet("iso-users")
    api.create(f"/api/v1/namespaces/{ns}/secrets", {"apiVersion": "v1", "kind": "Secret",
                                                    "metadata": {"name": "agent-token"},
                                                    "data": {"token": base64.b64encode(b"t0ken").decode()}})
    # The real-node bug of issue 12: the token mounted 0400 (owner root), the agent runs as uid 65532.
    pod, out = _token_pod(api, ns, k, "no-fsgroup", None)
    assert "ids 65532 [0]" in out and "token EACCES 13" in out, out
    assert "claim writable" in out, out   # a claim directory is 0777, as the local-path provisioner makes it
    # With fsGroup 65532: group fsGroup, mode 0440 (SetVolumeOwnership), and the claim group-owned with setgid.
    pod, out = _token_pod(api, ns, k, "fsgroup", 65532)
    assert "ids 65532 [0, 65532]" in out and "token t0ken" in out and "claim writable" in out, out
    claim = Layout(k.state_dir).pvc_dir(ns, "claim-fsgroup")
    st = os.stat(claim)
    assert st.st_gid == 65532 and st.st_mode & stat.S_ISGID, oct(st.st_mode)
    written = os.stat(os.path.join(claim, "written-by-65532"))
    assert (written.st_uid, written.st_gid) == (65532, 65532)   # the setgid dir hands its group down
    token = os.stat(os.path.join(Layout(k.state_dir).volume_dir(pod["metadata"]["uid"], "tok"), "token"))
    assert (token.st_uid, token.st_gid, stat.S_IMODE(token.st_mode)) == (0, 65532, 0o440)
    # The image map's `user` applies when the pod gives no runAsUser.
    pod, out = _token_pod(api, ns, k, "image-user", 65532, image="nonroot/python:1", run_as=None)
    assert "ids 65532 [0, 65532]" in out and "token t0ken" in out, out


def _escaping_pod(api, ns, k, name):
    """A pod whose container leaves a daemon in its network namespace (new session: PDEATHSIG does not reach it)."""
    script = """
import subprocess, time
p = subprocess.Popen(["/usr/bin/sleep", "3600"], start_new_session=True)
print("daemon", p.pid, flush=True)
time.sleep(3600)
"""
    pod = run_pod(api, ns, k, name, [py("main", script)])
    daemon = int(wait_log(k, pod, "main", "daemon").split("daemon ")[1].split()[0])
    return pod, daemon


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_stop_removes_namespaces_bridge_and_processes(api, ns, iso_kubelet):
    k = iso_kubelet("iso-stop")
    pod, daemon = _escaping_pod(api, ns, k, "escaper")
    slot = slot_of(k)
    held = identities(namespaces_of(k))
    assert len(held) == 1 and bridge_exists(slot) and alive(daemon)
    bridge_index = open(f"/sys/class/net/msimbr{slot}/ifindex").read()
    assert k.stop() == 0
    # Gone (a kubelet that takes the free /24 later makes a bridge and namespaces of its own, never these again).
    assert not set(identities(list(held)).items()) & set(held.items())
    assert not bridge_exists(slot) or open(f"/sys/class/net/msimbr{slot}/ifindex").read() != bridge_index
    poll(lambda: not alive(daemon), timeout=5, what="the daemon left in the pod's namespace killed")


def test_sigkilled_kubelet_leftovers_cleaned_by_the_next_start_and_no_one_elses(api, ns, iso_kubelet, tmp_path):
    other = iso_kubelet("iso-bystander")
    bystander, bystander_daemon = _escaping_pod(api, ns, other, "bystander")
    k = iso_kubelet("iso-crash", state_dir=tmp_path / "crash-state")
    pod, daemon = _escaping_pod(api, ns, k, "crasher")
    slot = slot_of(k)
    assert slot != slot_of(other)
    k.proc.send_signal(signal.SIGKILL)
    k.proc.wait(10)
    # Left behind by the SIGKILL: the namespace, the bridge and the daemon inside the namespace.
    assert len(namespaces_of(k)) == 1 and bridge_exists(slot) and alive(daemon)
    crashed_log = len(k.log())
    again = iso_kubelet("iso-crash", state_dir=tmp_path / "crash-state")
    poll(lambda: not alive(daemon), timeout=10, what="the crashed run's daemon killed")
    restarted = poll(lambda: (lambda p: p if p["status"]["containerStatuses"][0].get("ready")
                              and p["status"]["containerStatuses"][0]["restartCount"] == 1 else None)(
        api.pod(ns, "crasher")), timeout=30, what="the pod restarted by the new kubelet")
    assert len(namespaces_of(again)) == 1
    if slot_of(again) == slot:
        # Its own /24 again (unless a kubelet starting meanwhile swept the dead /24 first and took it): it removed
        # its leftovers itself, and the pod kept its IP.
        assert f"removed leftovers of a previous kubelet on {subnet(slot)}: 1 namespaces" in again.log()[crashed_log:]
        assert restarted["status"]["podIP"] == pod["status"]["podIP"]
    # The other live kubelet's pod was not touched.
    assert alive(bystander_daemon) and len(namespaces_of(other)) == 1
    assert api.pod(ns, "bystander")["status"]["containerStatuses"][0]["restartCount"] == 0


def test_any_new_kubelet_sweeps_a_dead_kubelets_leftovers(api, ns, iso_kubelet):
    k = iso_kubelet("iso-dead")
    pod, daemon = _escaping_pod(api, ns, k, "orphan")
    held = identities(namespaces_of(k))
    k.proc.send_signal(signal.SIGKILL)
    k.proc.wait(10)
    assert alive(daemon)
    iso_kubelet("iso-sweeper")   # another state dir (and, usually, another /24): it sweeps the dead one's
    # (On a shared machine another kubelet starting meanwhile may sweep first: any new start cleans up.)
    poll(lambda: not alive(daemon), timeout=10, what="the dead kubelet's daemon killed")
    assert len(held) == 1 and not set(identities(list(held)).items()) & set(held.items())


def test_namespace_mode_refuses_a_loopback_pod_cidr(apiserver, tmp_path):
    k = KubeletProc(apiserver, tmp_path / "state", "iso-bad-cidr", "127.9.9.0/24",
                    ["--no-scheduler", "--pod-isolation", "namespaces"])
    k.args += ["--pod-cidr", "127.9.9.0/24"]   # explicitly, whatever the fixture does with the CIDR
    k.start()
    try:
        assert k.proc.wait(20) == 2
    finally:
        k.stop()
    assert "must lie inside 198.18.0.0/15" in k.log()


def test_auto_mode_says_which_mode_runs_and_why(api, iso_kubelet):
    k = iso_kubelet("iso-auto", extra=["--pod-isolation", "auto"])
    assert re.search(r"pod isolation: namespaces \(auto .*available\)", k.log()), k.log()[-2000:]


def test_auto_mode_keeps_loopback_for_a_loopback_pod_cidr(api, iso_kubelet):
    k = iso_kubelet("iso-auto-127", extra=["--pod-isolation", "auto", "--pod-cidr", "127.9.8.0/24"])
    assert "pod isolation: loopback (auto (from --pod-isolation): --pod-cidr 127.9.8.0/24 is outside" in k.log()
