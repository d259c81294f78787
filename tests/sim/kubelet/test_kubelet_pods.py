"""The kubelet simulator against the API server simulator, with real processes and kubectl.

Each test uses its own namespace and the session's kubelet (node sim-node-1),
which binds the unscheduled pods created here.
"""
import json
import os
import time
import urllib.request

from kubelet_fixtures import api, apiserver, kubeconfig, kubelet, ns, start_kubelet  # noqa: F401 - pytest fixtures
from kubelet_testlib import Watcher, events_of, kubectl, pod_body, poll, workload


def pods_path(ns, name=""):
    return f"/api/v1/namespaces/{ns}/pods" + (f"/{name}" if name else "")


def cond(pod, ctype):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return c["status"]
    return None


def cstatus(pod, name, init=False):
    key = "initContainerStatuses" if init else "containerStatuses"
    for c in (pod.get("status") or {}).get(key) or []:
        if c["name"] == name:
            return c
    return None


def wait_pod(api, ns, name, pred, timeout=20, what=None):
    def check():
        p = api.pod(ns, name)
        return p if p is not None and pred(p) else None
    return poll(check, timeout=timeout, what=what or f"pod {ns}/{name}")


def wait_gone(api, ns, name, timeout=20):
    poll(lambda: api.pod(ns, name) is None, timeout=timeout, what=f"pod {ns}/{name} gone")


def http_get(ip, port, path="/"):
    with urllib.request.urlopen(f"http://{ip}:{port}{path}", timeout=2) as r:
        return r.status, r.read().decode()


def test_node_registered_and_lease_renewed(api, kubelet):
    node = api.get(f"/api/v1/nodes/{kubelet.node_name}")
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    assert [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    assert int(node["status"]["capacity"]["pods"]) > 0
    path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{kubelet.node_name}"
    first = api.get(path)["spec"]
    assert first["holderIdentity"] == kubelet.node_name
    frac = first["renewTime"].split(".")[1]
    assert len(frac) == 7 and frac.endswith("Z"), first["renewTime"]   # exactly 6 digits + Z
    poll(lambda: api.get(path)["spec"]["renewTime"] != first["renewTime"], timeout=5, what="lease renewal")


def test_readiness_gates_ready_and_pod_ip_serves(api, kubelet, ns, tmp_path):
    body = pod_body("web", [workload("web", tmp_path / "ev", ["--port", "8080", "--ready-after", "2"],
                                     readinessProbe={"httpGet": {"path": "/healthz", "port": 8080},
                                                     "periodSeconds": 1})])
    w = Watcher(api, pods_path(ns))
    try:
        api.create(pods_path(ns), body)
        ready = wait_pod(api, ns, "web", lambda p: cond(p, "Ready") == "True", what="Ready")
    finally:
        w.stop()
    assert ready["spec"]["nodeName"] == kubelet.node_name          # bound by the kubelet
    assert ready["status"]["phase"] == "Running"
    assert cond(ready, "ContainersReady") == "True" and cstatus(ready, "web")["ready"] is True
    ip = ready["status"]["podIP"]
    assert ready["status"]["podIPs"] == [{"ip": ip}] and ready["status"]["hostIP"] == "127.0.0.1"
    assert ip.startswith(kubelet.cidr.rsplit(".", 1)[0] + ".")
    # Before the probe passed, the container ran (started) but was not ready.
    objs = [e["object"] for e in w.events if e["type"] in ("ADDED", "MODIFIED")]
    running_unready = [o for o in objs if "running" in ((cstatus(o, "web") or {}).get("state") or {})
                       and cond(o, "Ready") == "False"]
    assert running_unready, "never saw the container running but unready"
    assert cstatus(running_unready[0], "web")["ready"] is False
    assert cstatus(running_unready[0], "web")["started"] is True
    first_start = events_of(tmp_path / "ev")[0]
    assert first_start[0] == "start" and time.time() - first_start[1] >= 2.0
    assert http_get(ip, 8080) == (200, "ok web")                  # it listens on its own pod IP
    api.delete(pods_path(ns, "web"), gracePeriodSeconds=0)


def test_delete_with_grace_sigterm_then_sigkill(api, kubelet, kubeconfig, ns, tmp_path):
    term, ignore = tmp_path / "term", tmp_path / "ignore"
    body = pod_body("graceful", [workload("term", term, ["--port", "8080"]),
                                 workload("ignore", ignore, ["--port", "8081", "--ignore-sigterm"])],
                    terminationGracePeriodSeconds=30)
    api.create(pods_path(ns), body)
    p = wait_pod(api, ns, "graceful", lambda p: cond(p, "Ready") == "True")
    ip = p["status"]["podIP"]
    assert http_get(ip, 8080)[0] == 200 and http_get(ip, 8081)[0] == 200   # containers share the pod IP
    w = Watcher(api, pods_path(ns), fieldSelector="metadata.name=graceful")
    try:
        t0 = time.time()
        kubectl(kubeconfig, "delete", "pod", "graceful", "-n", ns, "--grace-period=2", timeout=30)
        took = time.time() - t0
        assert api.pod(ns, "graceful") is None
        assert 1.9 <= took < 8, took
        poll(lambda: any(e["type"] == "DELETED" for e in w.events), timeout=5, what="DELETED event")
    finally:
        w.stop()
    ev_t, ev_i = events_of(term), events_of(ignore)
    sig_t = [t for e, t, _ in ev_t if e == "sigterm"]
    assert len(sig_t) == 1 and [e for e, _, _ in ev_t][-1] == "exit"
    sig_i = [t for e, t, _ in ev_i if e == "sigterm"]
    alive = [t for e, t, _ in ev_i if e == "alive"]
    assert len(sig_i) == 1 and alive
    # SIGKILL came no earlier than 2 s after SIGTERM (last heartbeat every 20 ms), and not much later.
    assert alive[-1] - sig_i[0] >= 1.9, alive[-1] - sig_i[0]
    assert alive[-1] - sig_i[0] < 3.5, alive[-1] - sig_i[0]
    # The final status written before the pod went: Failed, SIGKILL = 137, clean exit = 0.
    final = [e["object"] for e in w.events if e["type"] == "MODIFIED"
             and e["object"]["status"].get("phase") in ("Failed", "Succeeded")]
    assert final, [e["type"] for e in w.events]
    last = final[-1]
    assert last["status"]["phase"] == "Failed"
    term_state = cstatus(last, "term")["state"]["terminated"]
    ign_state = cstatus(last, "ignore")["state"]["terminated"]
    assert term_state["exitCode"] == 0 and term_state["reason"] == "Completed"
    assert ign_state["exitCode"] == 137 and ign_state["reason"] == "Error" and ign_state.get("signal") == 9
    deleted = [e["object"] for e in w.events if e["type"] == "DELETED"][-1]
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 0


def test_prestop_sleep_and_http_run_before_sigterm(api, kubelet, ns, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    body = pod_body("hooks", [
        workload("sleeper", a, ["--port", "8080"], lifecycle={"preStop": {"sleep": {"seconds": 1}}}),
        workload("http", b, ["--port", "8081"], lifecycle={"preStop": {"httpGet": {"path": "/prestop", "port": 8081}}}),
    ], terminationGracePeriodSeconds=10)
    api.create(pods_path(ns), body)
    wait_pod(api, ns, "hooks", lambda p: cond(p, "Ready") == "True")
    t0 = time.time()
    api.delete(pods_path(ns, "hooks"), gracePeriodSeconds=10)
    wait_gone(api, ns, "hooks")
    ev_a, ev_b = events_of(a), events_of(b)
    sig_a = [t for e, t, _ in ev_a if e == "sigterm"][0]
    assert sig_a - t0 >= 1.0, "SIGTERM came before the 1 s preStop sleep ended"
    assert sig_a - t0 < 5.0
    names_b = [e for e, _, _ in ev_b]
    assert "prestop" in names_b and "sigterm" in names_b
    assert names_b.index("prestop") < names_b.index("sigterm")


def test_exit_zero_under_always_restarts(api, kubelet, ns, tmp_path):
    runs = tmp_path / "runs"
    body = pod_body("again", [{"name": "c", "image": "medivote/exit-now",
                               "env": [{"name": "EVENTS_FILE", "value": str(runs)}]}], restartPolicy="Always")
    api.create(pods_path(ns), body)
    p = wait_pod(api, ns, "again", lambda p: (cstatus(p, "c") or {}).get("restartCount", 0) >= 3,
                 timeout=30, what="restartCount >= 3")
    c = cstatus(p, "c")
    assert p["status"]["phase"] == "Running"
    assert c["lastState"]["terminated"]["exitCode"] == 0
    assert c["lastState"]["terminated"]["reason"] == "Completed"
    assert len(events_of(runs)) >= 3
    # While backing off the container waits in CrashLoopBackOff with the kubelet's message.
    p = wait_pod(api, ns, "again", lambda p: "waiting" in (cstatus(p, "c") or {}).get("state", {}),
                 what="CrashLoopBackOff")
    waiting = cstatus(p, "c")["state"]["waiting"]
    assert waiting["reason"] == "CrashLoopBackOff"
    assert waiting["message"].startswith("back-off ") and "restarting failed container=c pod=again_" in waiting["message"]
    api.delete(pods_path(ns, "again"))
    wait_gone(api, ns, "again")


def test_restart_policy_never_gives_succeeded_or_failed(api, kubelet, ns):
    api.create(pods_path(ns), pod_body("ok", [{"name": "c", "image": "medivote/exit-now", "args": ["0"]}],
                                       restartPolicy="Never"))
    api.create(pods_path(ns), pod_body("bad", [{"name": "c", "image": "medivote/exit-now", "args": ["3"]}],
                                       restartPolicy="Never"))
    ok = wait_pod(api, ns, "ok", lambda p: p["status"].get("phase") == "Succeeded")
    bad = wait_pod(api, ns, "bad", lambda p: p["status"].get("phase") == "Failed")
    t_ok = cstatus(ok, "c")["state"]["terminated"]
    t_bad = cstatus(bad, "c")["state"]["terminated"]
    assert (t_ok["exitCode"], t_ok["reason"]) == (0, "Completed")
    assert (t_bad["exitCode"], t_bad["reason"]) == (3, "Error")
    assert cstatus(bad, "c")["restartCount"] == 0
    assert cond(ok, "Ready") == "False"
    assert [c.get("reason") for c in ok["status"]["conditions"] if c["type"] == "Ready"] == ["PodCompleted"]
    for name in ("ok", "bad"):
        api.delete(pods_path(ns, name))
        wait_gone(api, ns, name)


def test_pvc_data_survives_into_next_pod(api, kubelet, ns):
    def pvc_pod(name, text):
        return pod_body(name, [{"name": "c", "image": "medivote/pvc-writer", "args": ["data", text],
                                "volumeMounts": [{"name": "store", "mountPath": "/data"}]}],
                        volumes=[{"name": "store", "persistentVolumeClaim": {"claimName": "votes"}}],
                        terminationGracePeriodSeconds=5)

    def log_of(pod):
        uid = pod["metadata"]["uid"]
        path = os.path.join(kubelet.state_dir, "logs", f"{ns}_{pod['metadata']['name']}_{uid}", "c", "0.log")
        return open(path).read() if os.path.exists(path) else ""

    first = api.create(pods_path(ns), pvc_pod("first", "one"))
    poll(lambda: "before:" in log_of(first), what="first pod output")
    assert "before: <none>" in log_of(first)
    api.delete(pods_path(ns, "first"))
    wait_gone(api, ns, "first")
    second = api.create(pods_path(ns), pvc_pod("second", "two"))
    poll(lambda: "before:" in log_of(second), what="second pod output")
    assert "before: one|" in log_of(second)
    assert open(os.path.join(kubelet.state_dir, "pvc", ns, "votes", "state.txt")).read() == "one\ntwo\n"
    api.delete(pods_path(ns, "second"), gracePeriodSeconds=0)


def test_kubectl_wide_and_force_delete(api, kubelet, kubeconfig, ns, tmp_path):
    api.create(pods_path(ns), pod_body("wide", [workload("c", tmp_path / "ev", ["--port", "8080", "--ignore-sigterm"])],
                                       terminationGracePeriodSeconds=60))
    p = wait_pod(api, ns, "wide", lambda p: cond(p, "Ready") == "True")
    ip = p["status"]["podIP"]
    out = kubectl(kubeconfig, "get", "pods", "-n", ns, "-o", "wide").stdout
    row = [line for line in out.splitlines() if line.startswith("wide ")]
    assert row and ip in row[0].split() and kubelet.node_name in row[0].split() and "Running" in row[0], out
    pid = events_of(tmp_path / "ev")[0][2]
    t0 = time.time()
    kubectl(kubeconfig, "delete", "pod", "wide", "-n", ns, "--grace-period=0", "--force")
    assert api.pod(ns, "wide") is None
    assert time.time() - t0 < 5
    # The kubelet sees the pod vanish and kills its processes (it ignores SIGTERM: SIGKILL after ~1 s).
    poll(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z",
         timeout=5, what="force-deleted pod's process gone")


def test_unmapped_image_waits_like_a_failed_pull(api, kubelet, ns):
    api.create(pods_path(ns), pod_body("nopull", [{"name": "c", "image": "registry.invalid/nothing:1"}]))
    seen = set()

    def reasons(p):
        w = ((cstatus(p, "c") or {}).get("state") or {}).get("waiting") or {}
        seen.add(w.get("reason"))
        return {"ErrImagePull", "ImagePullBackOff"} <= seen
    p = wait_pod(api, ns, "nopull", reasons, timeout=15, what="ErrImagePull then ImagePullBackOff")
    assert p["status"]["phase"] == "Pending"
    w = cstatus(p, "c")["state"]["waiting"]
    if w["reason"] == "ImagePullBackOff":
        assert w["message"] == 'Back-off pulling image "registry.invalid/nothing:1"'
    api.delete(pods_path(ns, "nopull"))
    wait_gone(api, ns, "nopull")


def test_env_command_expansion_and_config_volumes(api, kubelet, ns, tmp_path):
    api.create(f"/api/v1/namespaces/{ns}/secrets", {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "s"}, "data": {"token": "czNjcjN0"}})
    api.create(f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "cm"}, "data": {"mode": "fast", "app.conf": "a=1\n"}})
    out = tmp_path / "out.json"
    script = ("import json,os,sys; "
              "json.dump({'argv': sys.argv[1:], 'env': dict(os.environ), 'cwd': os.getcwd(), "
              "'conf': open('etc/cfg/app.conf').read(), 'secret': open('etc/sec/tok').read(), "
              "'name': open('etc/info/name').read()}, open(os.environ['OUT'], 'w'))")
    c = {"name": "c", "image": "python:3", "command": ["/usr/bin/python3", "-c", script],
         "args": ["$(MODE)", "$$(MODE)", "$(UNDEFINED)", "ip=$(MY_IP)"], "workingDir": "/work",
         "env": [{"name": "OUT", "value": str(out)},
                 {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                 {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "mode"}}},
                 {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
                 {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k", "optional": True}}},
                 {"name": "URL", "value": "http://$(MY_IP):8080"}],
         "volumeMounts": [{"name": "cfg", "mountPath": "/work/etc/cfg"}, {"name": "sec", "mountPath": "/work/etc/sec"},
                          {"name": "info", "mountPath": "/work/etc/info"}, {"name": "tmp", "mountPath": "/tmp"}]}
    vols = [{"name": "cfg", "configMap": {"name": "cm"}},
            {"name": "sec", "secret": {"secretName": "s", "items": [{"key": "token", "path": "tok"}]}},
            {"name": "info", "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {"name": "tmp", "emptyDir": {}}]
    api.create(pods_path(ns), pod_body("envy", [c], volumes=vols, restartPolicy="Never"))
    p = wait_pod(api, ns, "envy", lambda p: p["status"].get("phase") in ("Succeeded", "Failed"))
    assert p["status"]["phase"] == "Succeeded", p["status"]
    got = json.loads(out.read_text())
    ip = p["status"]["podIP"]
    assert got["argv"] == ["fast", "$(MODE)", "$(UNDEFINED)", f"ip={ip}"]
    env = got["env"]
    assert env["MY_IP"] == ip and env["MY_NS"] == ns and env["TOKEN"] == "s3cr3t" and "OPT" not in env
    assert env["URL"] == f"http://{ip}:8080"
    assert got["cwd"].endswith("/work") and got["cwd"].startswith(kubelet.state_dir)
    assert got["conf"] == "a=1\n" and got["secret"] == "s3cr3t" and got["name"] == "envy"
    api.delete(pods_path(ns, "envy"))
    wait_gone(api, ns, "envy")


def test_liveness_failure_restarts_container(api, kubelet, ns, tmp_path):
    body = pod_body("live", [workload("c", tmp_path / "ev", ["--port", "8080"],
                                      livenessProbe={"tcpSocket": {"port": 9}, "periodSeconds": 1,
                                                     "failureThreshold": 2})],
                    terminationGracePeriodSeconds=3)
    api.create(pods_path(ns), body)
    p = wait_pod(api, ns, "live", lambda p: (cstatus(p, "c") or {}).get("restartCount", 0) >= 1,
                 timeout=20, what="liveness restart")
    last = cstatus(p, "c")["lastState"]["terminated"]
    assert last["exitCode"] == 0          # workload exits 0 on SIGTERM
    assert [e for e, _, _ in events_of(tmp_path / "ev")].count("sigterm") >= 1
    api.delete(pods_path(ns, "live"), gracePeriodSeconds=0)


def test_init_containers_and_native_sidecar_order(api, kubelet, ns, tmp_path):
    order = tmp_path / "order"
    env = [{"name": "EVENTS_FILE", "value": str(order)}]
    # The sidecar's startup probe holds the main container back until the sidecar listens.
    side = workload("side", order, ["--port", "8090"], restartPolicy="Always",
                    startupProbe={"tcpSocket": {"port": 8090}, "periodSeconds": 1})
    body = pod_body("ordered", [workload("main", order, ["--port", "8080"])],
                    initContainers=[{"name": "init", "image": "medivote/exit-now", "env": env}, side],
                    terminationGracePeriodSeconds=5)
    api.create(pods_path(ns), body)
    p = wait_pod(api, ns, "ordered", lambda p: cond(p, "Ready") == "True")
    assert cond(p, "Initialized") == "True"
    assert cstatus(p, "init", init=True)["state"]["terminated"]["reason"] == "Completed"
    assert "running" in cstatus(p, "side", init=True)["state"]
    starts = poll(lambda: (lambda s: s if len(s) >= 3 else None)(
        [(e, t, pid) for e, t, pid in events_of(order) if e in ("run", "start")]), what="three starts")
    assert [e for e, _, _ in starts] == ["run", "start", "start"]          # init, then sidecar, then main
    side_pid, main_pid = starts[1][2], starts[2][2]
    api.delete(pods_path(ns, "ordered"), gracePeriodSeconds=5)
    wait_gone(api, ns, "ordered")
    evs = events_of(order)
    main_exit = [t for e, t, pid in evs if pid == main_pid and e == "exit"][0]
    side_term = [t for e, t, pid in evs if pid == side_pid and e == "sigterm"][0]
    assert side_term >= main_exit, "the sidecar got SIGTERM before the main container had exited"


def test_exec_readiness_probe_sees_container_files(api, kubelet, ns):
    probe = {"exec": {"command": ["/bin/sh", "-c", "test -f tmp/ready"]}, "periodSeconds": 1}
    c = {"name": "c", "image": "busybox:1.36", "command": ["/bin/sh", "-c", "sleep 300"],
         "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}], "readinessProbe": probe}
    api.create(pods_path(ns), pod_body("execp", [c], volumes=[{"name": "tmp", "emptyDir": {}}],
                                       terminationGracePeriodSeconds=1))
    p = wait_pod(api, ns, "execp", lambda p: "running" in ((cstatus(p, "c") or {}).get("state") or {}))
    assert cond(p, "Ready") == "False"
    # The probe runs in the container's cwd (its rootfs), where /tmp is the emptyDir.
    uid = p["metadata"]["uid"]
    open(os.path.join(kubelet.state_dir, "pods", uid, "volumes", "tmp", "ready"), "w").close()
    wait_pod(api, ns, "execp", lambda p: cond(p, "Ready") == "True", what="Ready after the file appears")
    api.delete(pods_path(ns, "execp"), gracePeriodSeconds=0)


def test_second_delete_shortens_the_grace_period(api, kubelet, ns, tmp_path):
    ev = tmp_path / "ev"
    api.create(pods_path(ns), pod_body("slow", [workload("c", ev, ["--port", "8080", "--ignore-sigterm"])],
                                       terminationGracePeriodSeconds=60))
    wait_pod(api, ns, "slow", lambda p: cond(p, "Ready") == "True")
    api.delete(pods_path(ns, "slow"))                       # the pod's own 60 s
    poll(lambda: "sigterm" in [e for e, _, _ in events_of(ev)], what="SIGTERM")
    t0 = time.time()
    api.delete(pods_path(ns, "slow"), gracePeriodSeconds=3)
    wait_gone(api, ns, "slow", timeout=15)
    assert time.time() - t0 < 6
    sig = [t for e, t, _ in events_of(ev) if e == "sigterm"][0]
    last = [t for e, t, _ in events_of(ev) if e == "alive"][-1]
    assert 1.9 <= last - sig < 6


def test_eviction_keeps_disruption_target_condition(api, kubelet, ns):
    api.create(pods_path(ns), pod_body("ev", [workload("c", None, ["--port", "8080"])],
                                       terminationGracePeriodSeconds=5))
    wait_pod(api, ns, "ev", lambda p: cond(p, "Ready") == "True")
    w = Watcher(api, pods_path(ns), fieldSelector="metadata.name=ev")
    try:
        api.create(pods_path(ns, "ev") + "/eviction", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                        "metadata": {"name": "ev", "namespace": ns}})
        wait_gone(api, ns, "ev")
        poll(lambda: any(e["type"] == "DELETED" for e in w.events), timeout=5, what="DELETED event")
    finally:
        w.stop()
    final = [e["object"] for e in w.events if e["type"] == "MODIFIED"][-1]
    assert final["status"]["phase"] == "Succeeded"                  # exited 0 on SIGTERM
    assert cond(final, "DisruptionTarget") == "True"
    assert cond(final, "Ready") == "False"


def test_readiness_gate_holds_ready_until_its_condition_is_true(api, kubelet, ns):
    gate = "medivote.io/serving"
    api.create(pods_path(ns), pod_body("gated", [workload("c", None, ["--port", "8080"])],
                                       readinessGates=[{"conditionType": gate}], terminationGracePeriodSeconds=1))
    p = wait_pod(api, ns, "gated", lambda p: cond(p, "ContainersReady") == "True")
    ready = [c for c in p["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "False" and ready["reason"] == "ReadinessGatesNotReady"
    conds = p["status"]["conditions"] + [{"type": gate, "status": "True", "lastProbeTime": None,
                                          "lastTransitionTime": p["status"]["conditions"][0]["lastTransitionTime"]}]
    api.patch(pods_path(ns, "gated") + "/status", {"status": {"conditions": conds}})
    p = wait_pod(api, ns, "gated", lambda p: cond(p, "Ready") == "True", what="Ready once the gate is True")
    assert cond(p, gate) == "True"
    api.delete(pods_path(ns, "gated"), gracePeriodSeconds=0)


def test_kubelet_records_pod_events(api, kubelet, kubeconfig, ns):
    api.create(pods_path(ns), pod_body("evs", [workload("c", None, ["--port", "8080"])],
                                       terminationGracePeriodSeconds=2))
    wait_pod(api, ns, "evs", lambda p: cond(p, "Ready") == "True")
    api.delete(pods_path(ns, "evs"))
    wait_gone(api, ns, "evs")

    def reasons():
        items = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
        got = {e["reason"]: e for e in items if e["involvedObject"]["name"] == "evs"}
        return got if {"Scheduled", "Pulled", "Created", "Started", "Killing"} <= set(got) else None
    got = poll(reasons, timeout=10, what="pod events")
    assert got["Started"]["message"] == "Started container c"
    assert got["Started"]["involvedObject"]["fieldPath"] == "spec.containers{c}"
    assert got["Started"]["source"] == {"component": "kubelet", "host": kubelet.node_name}
    assert got["Killing"]["message"] == "Stopping container c"
    assert got["Scheduled"]["message"] == f"Successfully assigned {ns}/evs to {kubelet.node_name}"
    out = kubectl(kubeconfig, "get", "events", "-n", ns).stdout
    assert "Started container c" in out and "Stopping container c" in out
