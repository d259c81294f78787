"""simctl: fast start, working kubeconfigs (also plain HTTP), and stop leaving no process behind."""
import os
import subprocess
import time

from simlib import SIMCTL, Rest, _alive


def test_start_under_3s_and_stop_leaves_nothing(tmp_path):
    d = tmp_path / "s"
    t0 = time.monotonic()
    out = subprocess.run([SIMCTL, "start", "--dir", str(d)], capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - t0
    pid = int((d / "apiserver.pid").read_text())
    try:
        assert out.returncode == 0, out.stderr
        assert elapsed < 3.0, f"start took {elapsed:.2f}s"
        assert out.stdout.strip() == f"export KUBECONFIG={d}/kubeconfig"
        for f in ("kubeconfig", "operator.kubeconfig", "kubelet.kubeconfig", "ca.crt", "port"):
            assert (d / f).exists(), f
        r = subprocess.run(["kubectl", "get", "ns", "default", "-o", "name"], capture_output=True, text=True,
                           env=dict(os.environ, KUBECONFIG=str(d / "kubeconfig")), timeout=30)
        assert r.stdout.strip() == "namespace/default", r.stderr
        again = subprocess.run([SIMCTL, "start", "--dir", str(d)], capture_output=True, text=True, timeout=30)
        assert again.returncode != 0 and "already running" in again.stderr
    finally:
        subprocess.run([SIMCTL, "stop", "--dir", str(d)], timeout=30)
    assert not _alive(pid)
    assert not (d / "apiserver.pid").exists()


def test_plain_http_option(start_sim):
    s = start_sim("--http")
    url = open(os.path.join(s.dir, "server-url")).read()
    assert url.startswith("http://127.0.0.1:")
    assert s.rest.get("/api/v1/namespaces/default").status == 200
    assert s.kubectl("get", "ns", "kube-system", "-o", "name").stdout.strip() == "namespace/kube-system"
    assert Rest(os.path.join(s.dir, "operator.kubeconfig"), token="bad").get("/api/v1/pods").status == 401
    s.admin("DELETE", "requests")
    Rest(os.path.join(s.dir, "operator.kubeconfig")).get("/api/v1/pods")
    users = [i["user"] for i in s.admin("GET", "requests").body["items"]]
    assert users == ["system:serviceaccount:medivote-system:medivote-operator"]


def _procs_mentioning(text):
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().decode(errors="replace")
        except OSError:
            continue
        if text in cmd or text in env:
            out.append((int(pid), cmd))
    return out


def test_start_with_kubelet_runs_pods_and_stop_kills_everything(tmp_path):
    from simlib import REPO, poll
    image_map = os.path.join(REPO, "sim", "testdata", "images.yaml")
    d = tmp_path / "k"
    out = subprocess.run([SIMCTL, "start", "--dir", str(d), "--kubelet-image-map", image_map],
                         capture_output=True, text=True, timeout=30)
    try:
        assert out.returncode == 0, out.stderr
        kpid = int((d / "kubelet.pid").read_text())
        rest = Rest(str(d / "kubeconfig"))

        def node_ready():
            n = rest.get("/api/v1/nodes/sim-node-1")
            return n.status == 200 and any(c["type"] == "Ready" and c["status"] == "True"
                                           for c in n.body.get("status", {}).get("conditions", []))
        poll(node_ready, 20, "node sim-node-1 Ready")
        rest.ok(rest.post("/api/v1/namespaces/default/pods", {"metadata": {"name": "sleeper"}, "spec": {
            "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "300"]}]}}))
        poll(lambda: rest.get("/api/v1/namespaces/default/pods/sleeper").body.get("status", {}).get("phase")
             == "Running", 20, "pod Running")
        assert _procs_mentioning(str(d / "kubelet")), "the container runs under the kubelet state dir"
    finally:
        subprocess.run([SIMCTL, "stop", "--dir", str(d)], timeout=60)
    assert not _alive(kpid)
    poll(lambda: not _procs_mentioning(str(d)), 10, f"no process left from {d}")
