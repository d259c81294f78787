"""The kubelet process itself: lost-node simulation, its own shutdown, crash and restart.

Each test runs its own kubelet (own node name, own state dir, no scheduling)
and creates pods already bound to it with spec.nodeName.
"""
import os
import signal
import time

from kubelet_fixtures import api, apiserver, kubeconfig, kubelet, ns, start_kubelet  # noqa: F401 - pytest fixtures
from kubelet_testlib import events_of, pod_body, poll, processes_under, workload

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ready(api, ns, name):
    def check():
        p = api.pod(ns, name)
        conds = ((p or {}).get("status") or {}).get("conditions") or []
        return p if any(c["type"] == "Ready" and c["status"] == "True" for c in conds) else None
    return poll(check, timeout=20, what=f"pod {name} Ready")


def test_lost_node_leaves_pod_terminating_until_force_delete(api, start_kubelet, ns, tmp_path):
    flag = tmp_path / "lost"
    k = start_kubelet("sim-lost-node", ["--lost-node-file", str(flag)])
    ev = tmp_path / "ev"
    api.create(f"/api/v1/namespaces/{ns}/pods",
               pod_body("stuck", [workload("c", ev, ["--port", "8080"])], nodeName=k.node_name,
                        terminationGracePeriodSeconds=1))
    ready(api, ns, "stuck")
    pid = events_of(ev)[0][2]
    flag.touch()
    lease_path = f"{LEASES}/{k.node_name}"
    poll(lambda: "LOST" in k.log(), timeout=5, what="kubelet to notice the lost-node file")
    renew = api.get(lease_path)["spec"]["renewTime"]
    api.delete(f"/api/v1/namespaces/{ns}/pods/stuck", gracePeriodSeconds=1)
    # For 3 s (three heartbeat periods, grace 1 s): the pod stays Terminating, its process runs, no heartbeat.
    end = time.time() + 3
    while time.time() < end:
        p = api.pod(ns, "stuck")
        assert p is not None and p["metadata"].get("deletionTimestamp")
        assert alive(pid)
        assert api.get(lease_path)["spec"]["renewTime"] == renew
        time.sleep(0.2)
    assert "sigterm" not in [e for e, _, _ in events_of(ev)]
    # Force deletion removes the object; a lost node does not hear of it: its process keeps running
    # (for 2 s here, two heartbeat periods)...
    api.delete(f"/api/v1/namespaces/{ns}/pods/stuck", gracePeriodSeconds=0)
    assert api.pod(ns, "stuck") is None
    end = time.time() + 2
    while time.time() < end:
        assert alive(pid)
        time.sleep(0.2)
    assert "sigterm" not in [e for e, _, _ in events_of(ev)]
    # ... until the node comes back (the file goes): heartbeats resume, and the kubelet's housekeeping
    # (HandlePodCleanups) kills the processes of the pod that no longer exists.
    flag.unlink()
    poll(lambda: api.get(lease_path)["spec"]["renewTime"] != renew, timeout=5, what="heartbeats resume")
    poll(lambda: not alive(pid), timeout=5, what="process of the force-deleted pod killed once the node is back")
    assert "sigterm" in [e for e, _, _ in events_of(ev)]


def test_kubelet_sigterm_kills_every_container(api, start_kubelet, ns, tmp_path):
    k = start_kubelet("sim-stop-node")
    ev = tmp_path / "ev"
    api.create(f"/api/v1/namespaces/{ns}/pods",
               pod_body("p", [workload("c", ev, ["--port", "8080", "--ignore-sigterm"])], nodeName=k.node_name))
    ready(api, ns, "p")
    pid = events_of(ev)[0][2]
    assert processes_under(k.state_dir)
    assert k.stop() == 0
    poll(lambda: not alive(pid), timeout=5, what="container process gone with the kubelet")
    assert processes_under(k.state_dir) == []
    assert os.listdir(os.path.join(k.state_dir, "runtime")) == []


def test_crashed_kubelet_restart_kills_orphans_and_restarts_pods(api, start_kubelet, ns, tmp_path):
    k = start_kubelet("sim-crash-node")
    pidfile = tmp_path / "grandchild.pid"
    c = {"name": "c", "image": "busybox:1.36",
         "command": ["/bin/sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"]}
    api.create(f"/api/v1/namespaces/{ns}/pods", pod_body("p", [c], nodeName=k.node_name))
    before = ready(api, ns, "p")
    grandchild = int(poll(lambda: pidfile.exists() and pidfile.read_text().strip(), what="grandchild pid"))
    assert alive(grandchild)
    k.proc.send_signal(signal.SIGKILL)
    k.proc.wait(5)
    # PR_SET_PDEATHSIG takes the container's main process down with the kubelet...
    poll(lambda: not any("sleep 300" not in cmd and "-c" in cmd for _, cmd in processes_under(k.state_dir)),
         timeout=5, what="main process dies with the kubelet")
    # ... but its own child survives as an orphan, until the kubelet starts again on the same state dir.
    assert alive(grandchild)
    pidfile.unlink()
    k2 = start_kubelet("sim-crash-node", state_dir=k.state_dir, cidr=k.cidr)
    poll(lambda: not alive(grandchild), timeout=5, what="orphan killed at kubelet start")
    after = poll(lambda: (lambda p: p if p and p["status"]["containerStatuses"][0]["restartCount"] >= 1
                          and "running" in p["status"]["containerStatuses"][0]["state"] else None)(api.pod(ns, "p")),
                 timeout=20, what="container restarted by the new kubelet")
    assert after["status"]["podIP"] == before["status"]["podIP"]
    assert after["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 137
    assert k2.stop() == 0


def test_simctl_starts_and_stops_both_simulators(start_sim, tmp_path):
    image_map = os.path.join(os.path.dirname(__file__), "..", "..", "..", "sim", "testdata", "images.yaml")
    s = start_sim("--kubelet-image-map", image_map, "--node-name", "sim-ctl-node")
    runs = tmp_path / "runs"
    ns = f"ctl-{os.getpid()}"
    s.rest.ok(s.rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    s.kubectl("run", "once", "-n", ns, "--image=medivote/exit-now", "--restart=Never",
              f"--env=EVENTS_FILE={runs}")

    def phase():
        p = s.rest.get(f"/api/v1/namespaces/{ns}/pods/once").body or {}
        return (p.get("status") or {}).get("phase") == "Succeeded" and p
    pod = poll(phase, timeout=20, what="pod run by the simctl kubelet to succeed")
    assert pod["spec"]["nodeName"] == "sim-ctl-node"
    assert len(events_of(runs)) == 1
    state_dir = os.path.join(s.dir, "kubelet")
    assert os.path.isdir(os.path.join(state_dir, "logs"))
    s.kubectl("run", "sleeper", "-n", ns, "--image=busybox:1.36", "--restart=Never", "--command", "--",
              "/bin/sh", "-c", "sleep 300")
    poll(lambda: processes_under(state_dir), timeout=20, what="sleeper running")
    s.stop()
    poll(lambda: not processes_under(state_dir), timeout=5, what="no process left after simctl stop")


def test_sigusr1_makes_the_node_lost_and_sigusr2_brings_it_back(api, start_kubelet):
    k = start_kubelet("sim-usr1-node")
    lease_path = f"{LEASES}/{k.node_name}"
    k.proc.send_signal(signal.SIGUSR1)
    poll(lambda: "LOST" in k.log(), timeout=5, what="kubelet to act lost")
    renew = api.get(lease_path)["spec"]["renewTime"]
    end = time.time() + 2.5            # 2.5 heartbeat periods without renewal
    while time.time() < end:
        assert api.get(lease_path)["spec"]["renewTime"] == renew
        time.sleep(0.2)
    k.proc.send_signal(signal.SIGUSR2)
    poll(lambda: api.get(lease_path)["spec"]["renewTime"] != renew, timeout=5, what="heartbeats resume")


def test_restarted_kubelet_leaves_completed_pods_alone(api, start_kubelet, ns, tmp_path):
    from kubelet_testlib import Watcher
    k = start_kubelet("sim-adopt-node")
    pods = f"/api/v1/namespaces/{ns}/pods"
    api.create(pods, pod_body("done", [{"name": "c", "image": "medivote/exit-now"}], nodeName=k.node_name,
                              restartPolicy="Never"))
    api.create(pods, pod_body("runs", [workload("c", None, ["--port", "8080"])], nodeName=k.node_name))
    done = poll(lambda: (lambda p: p if p and p["status"].get("phase") == "Succeeded" else None)(api.pod(ns, "done")),
                what="pod Succeeded")
    ready(api, ns, "runs")
    assert k.stop() == 0
    w = Watcher(api, pods)
    try:
        start_kubelet("sim-adopt-node", state_dir=k.state_dir, cidr=k.cidr)
        # The new kubelet has synced once it restarted the running pod's container.
        poll(lambda: api.pod(ns, "runs")["status"]["containerStatuses"][0]["restartCount"] == 1
             and ready(api, ns, "runs"), timeout=20, what="running pod restarted by the new kubelet")
    finally:
        w.stop()
    assert [e for e in w.events if e["object"]["metadata"]["name"] == "done"] == []
    assert api.pod(ns, "done")["status"] == done["status"]


def test_kubelet_survives_closed_watches_compaction_and_failed_writes(api, sim, start_kubelet, ns):
    k = start_kubelet("sim-faults-node")
    pods = f"/api/v1/namespaces/{ns}/pods"
    # Resuming watches now gets ERROR 410 Expired: the kubelet must relist.
    assert sim.admin("POST", "compact").status == 200
    assert sim.admin("POST", "close-watches").status == 200
    # Its next status writes fail: it must retry.
    rule = {"method": "PATCH", "path": f"/api/v1/namespaces/{ns}/pods/.*/status", "status": 500, "count": 3}
    assert sim.admin("POST", "faults", rule).status in (200, 201)
    api.create(pods, pod_body("p", [workload("c", None, ["--port", "8080"])], nodeName=k.node_name,
                              terminationGracePeriodSeconds=1))
    p = ready(api, ns, "p")
    assert p["status"]["podIP"].startswith(k.cidr.rsplit(".", 1)[0] + ".")
    audit = sim.admin("GET", "requests").body["items"]
    mine = [r for r in audit if r["path"].startswith(f"{pods}/p/status")]
    assert [r["code"] for r in mine][:3] == [500, 500, 500] and mine[-1]["code"] == 200
    api.delete(f"{pods}/p", gracePeriodSeconds=1)
    poll(lambda: api.pod(ns, "p") is None, timeout=10, what="pod deleted by the kubelet")
