"""Issue 6 end to end: the MediVoteService resource, its pods, scaling, rolling upgrade and deletion, with the real
kubectl, the API server and kubelet simulators, and real processes (tier simple: SIGTERM, then SIGKILL)."""
import os
import threading
import time

from e2elib import REPO, condition, first, mvs, poll, processes_matching, read_events, wait_ready


def simple(name, ns, replicas, image="medivote/workload:1", **kw):
    kw.setdefault("shutdown", {"terminationGracePeriodSeconds": 5})
    return mvs(name, ns, image, replicas=replicas, tier="simple", **kw)


def test_apply_three_replicas_ready_and_kubectl_shows_it(cluster, ns, operator):
    operator()
    cluster.apply(simple("web", ns, 3))
    wait_ready(cluster, ns, "web", 3)
    out = cluster.kubectl("get", "mvs", "-n", ns).stdout
    header, row = out.splitlines()[:2]
    assert header.split()[:6] == ["NAME", "TIER", "DESIRED", "READY", "UPDATED", "STATUS"]
    assert row.split()[:6] == ["web", "simple", "3", "3", "3", "Ready"]
    pods = cluster.pods(ns, "web")
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    for p in pods.values():
        assert p["metadata"]["ownerReferences"][0]["kind"] == "MediVoteService"
        assert p["metadata"]["annotations"]["medivote.io/tier"] == "simple"
        assert p["metadata"]["labels"]["medivote.io/serving"] == "true"
        assert p["spec"]["terminationGracePeriodSeconds"] == 5
    svc = cluster.get(f"/api/v1/namespaces/{ns}/services/web")
    assert svc["spec"]["selector"] == {"medivote.io/service": "web", "medivote.io/serving": "true"}
    obj = cluster.mvs(ns, "web")
    assert obj["metadata"]["finalizers"] == ["medivote.io/graceful-shutdown"]
    assert condition(obj, "Ready")["status"] == "True"
    assert condition(obj, "Ready")["observedGeneration"] == obj["metadata"]["generation"]


def test_kubectl_scale_removes_the_highest_ordinals_each_with_sigterm(cluster, ns, operator):
    operator()
    cluster.apply(simple("web", ns, 3))
    wait_ready(cluster, ns, "web", 3)
    cluster.kubectl("scale", "mvs/web", "--replicas=1", "-n", ns)
    poll(lambda: sorted(cluster.pods(ns, "web")) == ["web-0"], 30, "only web-0 to remain")
    ev = {i: read_events(f"{cluster.pvc_dir(ns, f'data-web-{i}')}/events") for i in range(3)}
    t2, t1 = first(ev[2], "sigterm"), first(ev[1], "sigterm")
    assert t2 and t1, ev
    assert t2 < t1, "ordinal 2 goes before ordinal 1 (maxConcurrent 1)"
    assert first(ev[0], "sigterm") is None
    wait_ready(cluster, ns, "web", 1)
    poll(lambda: len([h for h in cluster.mvs(ns, "web")["status"]["shutdowns"] if h["outcome"]]) == 2, 10,
         "both shutdowns completed")
    history = cluster.mvs(ns, "web")["status"]["shutdowns"]
    assert {h["pod"] for h in history} == {"web-1", "web-2"}
    assert all(h["reason"] == "ScaleDown" and h["outcome"] == "sigterm" for h in history)


def test_pods_to_delete_picks_the_named_pod(cluster, ns, operator):
    operator()
    cluster.apply(simple("web", ns, 3))
    wait_ready(cluster, ns, "web", 3)
    cluster.apply(simple("web", ns, 2, extra_spec={"podsToDelete": ["web-0"]}))
    poll(lambda: sorted(cluster.pods(ns, "web")) == ["web-1", "web-2"], 30, "web-0 to go")
    assert first(read_events(f"{cluster.pvc_dir(ns, 'data-web-0')}/events"), "sigterm")


def test_rolling_upgrade_one_at_a_time_never_more_than_max_unavailable(cluster, ns, operator):
    operator()
    cluster.apply(simple("web", ns, 3, args=["--ready-after", "0.5"]))
    wait_ready(cluster, ns, "web", 3)
    watch = cluster.rest.watch(f"/api/v1/namespaces/{ns}/pods", labelSelector="medivote.io/service=web",
                               resourceVersion=cluster.rest.get(f"/api/v1/namespaces/{ns}/pods").body["metadata"]["resourceVersion"])
    state = {n: True for n in ("web-0", "web-1", "web-2")}  # pod name -> available (Ready, not terminating)
    worst = [0]
    done = threading.Event()

    def follow():
        while not done.is_set():
            try:
                ev = watch.next(timeout=1)
            except Exception:
                continue
            if ev is None:
                continue
            pod = ev["object"]
            name = pod["metadata"]["name"]
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))
            state[name] = ev["type"] != "DELETED" and ready and not pod["metadata"].get("deletionTimestamp") \
                and pod["metadata"].get("labels", {}).get("medivote.io/serving") == "true"
            worst[0] = max(worst[0], sum(1 for n in ("web-0", "web-1", "web-2") if not state.get(n)))
    t = threading.Thread(target=follow, daemon=True)
    t.start()
    cluster.apply(simple("web", ns, 3, image="medivote/workload:2", args=["--ready-after", "0.5"]))
    try:
        wait_ready(cluster, ns, "web", 3, timeout=60)
        poll(lambda: all(p["spec"]["containers"][0]["image"] == "medivote/workload:2"
                         for p in cluster.pods(ns, "web").values()), 10, "every pod upgraded")
    finally:
        done.set()
        t.join(5)
        watch.close()
    assert worst[0] == 1, f"at most maxUnavailable=1 pod unavailable at once, saw {worst[0]}"
    obj = cluster.mvs(ns, "web")
    assert obj["status"]["currentRevision"] == obj["status"]["updateRevision"]
    assert {h["reason"] for h in obj["status"]["shutdowns"]} == {"Upgrade"}


def test_kubectl_delete_waits_for_the_shutdowns_and_leaves_no_process(cluster, ns, operator):
    operator()
    cluster.apply(simple("web", ns, 2))
    wait_ready(cluster, ns, "web", 2)
    ips = {p["status"]["podIP"] for p in cluster.pods(ns, "web").values()}
    pids = [p for p in processes_matching("workload.py")
            if any(f"POD_IP={ip}\0".encode() in open(f"/proc/{p}/environ", "rb").read() for ip in ips)]
    start = time.monotonic()
    cluster.kubectl("delete", "mvs", "web", "-n", ns, "--timeout=60s")
    assert time.monotonic() - start < 60
    assert cluster.mvs(ns, "web") is None
    assert cluster.pods(ns, "web") == {}
    for i in range(2):
        assert first(read_events(f"{cluster.pvc_dir(ns, f'data-web-{i}')}/events"), "sigterm")
    assert len(pids) == 2
    poll(lambda: not set(pids) & set(processes_matching("workload.py")), 10, "the pods' processes to be gone")


def test_invalid_spec_is_refused_at_the_door_or_reported_degraded_with_nothing_deleted(cluster, ns, operator):
    operator()
    bad = simple("web", ns, 1)
    bad["spec"]["tier"] = "vital"
    out = cluster.kubectl("apply", "-f", "-", input=__import__("yaml").safe_dump(bad), check=False)
    assert out.returncode != 0 and "tier" in out.stderr, out.stderr
    # What the schema cannot say: an endpoint port the pod does not declare.
    cluster.apply(simple("web", ns, 2))
    wait_ready(cluster, ns, "web", 2)
    before = {n: p["metadata"]["uid"] for n, p in cluster.pods(ns, "web").items()}
    broken = simple("web", ns, 1)
    broken["spec"]["shutdown"]["endpoint"] = {"port": 9999, "path": "/shutdown"}
    cluster.apply(broken)
    poll(lambda: (condition(cluster.mvs(ns, "web"), "Degraded") or {}).get("status") == "True", 20, "Degraded")
    c = condition(cluster.mvs(ns, "web"), "Degraded")
    assert c["reason"] == "InvalidSpec" and "spec.shutdown.endpoint.port" in c["message"]
    poll(lambda: any(e["reason"] == "InvalidSpec" and e["type"] == "Warning" for e in cluster.events(ns)), 10,
         "a Warning Event")
    time.sleep(1.5)  # give a wrong implementation the time to delete something
    assert {n: p["metadata"]["uid"] for n, p in cluster.pods(ns, "web").items()} == before


def test_restarting_the_operator_mid_upgrade_continues_it(cluster, ns, operator):
    op = operator()
    cluster.apply(simple("web", ns, 3, args=["--ready-after", "1.5"]))
    wait_ready(cluster, ns, "web", 3, timeout=40)
    cluster.apply(simple("web", ns, 3, image="medivote/workload:2", args=["--ready-after", "1.5"]))
    poll(lambda: any(p["spec"]["containers"][0]["image"] == "medivote/workload:2"
                     for p in cluster.pods(ns, "web").values()), 20, "the first replacement")
    op.kill()
    operator()
    wait_ready(cluster, ns, "web", 3, timeout=60)
    pods = cluster.pods(ns, "web")
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    assert all(p["spec"]["containers"][0]["image"] == "medivote/workload:2" for p in pods.values())


def test_crds_apply_cleanly_with_server_side_dry_run(cluster):
    out = cluster.kubectl("apply", "--dry-run=server", "-f", os.path.join(REPO, "crds"))
    assert "medivoteservices.medivote.io" in out.stdout and "(server dry run)" in out.stdout, out.stdout
    explain = cluster.kubectl("explain", "mvs.spec.shutdown", check=False)
    if explain.returncode == 0:  # kubectl 1.20 cannot explain from OpenAPI v3
        assert "preStopSleepSeconds" in explain.stdout and "refusalTimeoutSeconds" in explain.stdout
