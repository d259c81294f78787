"""Issue 7 end to end: the tiered shutdown of critical pods (drain, HTTP call, exit, SIGTERM, SIGKILL, forced), with
real processes whose shutdown endpoint is scripted (tests/e2e/data/scripted_service.py) and record what happened to
them, with times, on their claims."""
import base64
import time

from e2elib import condition, first, log_records, mvs, poll, read_events, wait_ready

TIMEOUTS = {"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 6, "exitTimeoutSeconds": 3,
            "refusalTimeoutSeconds": 10, "forceDeleteAfterSeconds": 30, "maxConcurrent": 1}


def critical(name, ns, replicas, mode="accept", args=(), endpoint=None, **shutdown):
    sd = dict(TIMEOUTS, **shutdown)
    ep = {"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 1}
    ep.update(endpoint or {})
    return mvs(name, ns, "medivote/scripted:1", replicas=replicas, tier="critical", endpoint=ep, shutdown=sd,
               args=["--mode", mode, *args])


def events_of(cluster, ns, name, ordinal):
    return read_events(f"{cluster.pvc_dir(ns, f'data-{name}-{ordinal}')}/events")


def history(cluster, ns, name):
    return {h["pod"]: h for h in cluster.mvs(ns, name)["status"].get("shutdowns", [])}


def outcome(cluster, ns, name, pod):
    """The outcome of `pod`'s shutdown in the resource's history, once the operator recorded it."""
    return poll(lambda: history(cluster, ns, name).get(pod, {}).get("outcome"), 10, f"the outcome of {pod}")


def wait_gone(cluster, ns, pod, timeout=40):
    poll(lambda: pod not in cluster.pods(ns), timeout, f"pod {pod} to be gone")


def test_scale_down_calls_the_endpoint_of_exactly_the_removed_pods_before_any_sigterm(cluster, ns, operator):
    operator()
    cluster.apply(critical("vote", ns, 3))
    wait_ready(cluster, ns, "vote", 3)
    pod = cluster.pods(ns, "vote")["vote-2"]
    assert pod["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] == 3
    cluster.kubectl("scale", "mvs/vote", "--replicas=1", "-n", ns)
    poll(lambda: sorted(cluster.pods(ns, "vote")) == ["vote-0"], 40, "vote-1 and vote-2 to go")
    for i in (1, 2):
        ev = events_of(cluster, ns, "vote", i)
        call = first(ev, "shutdown-call", "202")
        assert call, ev
        assert first(ev, "sigterm") is None, f"vote-{i} got SIGTERM: {ev}"
        assert first(ev, "saved") > call
        with open(f"{cluster.pvc_dir(ns, f'data-vote-{i}')}/state") as f:
            assert f"saved by vote-{i}" in f.read()
    assert first(events_of(cluster, ns, "vote", 0), "shutdown-call") is None
    assert {outcome(cluster, ns, "vote", "vote-1"), outcome(cluster, ns, "vote", "vote-2")} == {"http"}
    h = history(cluster, ns, "vote")
    stages = [s["stage"] for s in h["vote-2"]["stages"]]
    assert stages == ["Draining", "Requested", "Accepted", "Completed"], stages
    reasons = [e["reason"] for e in cluster.events(ns) if e["involvedObject"]["name"] == "vote-2"]
    for r in ("ShutdownDraining", "ShutdownRequested", "ShutdownAccepted", "ShutdownCompleted"):
        assert r in reasons, reasons


def test_a_busy_service_is_retried_until_it_accepts(cluster, ns, operator):
    operator()
    cluster.apply(critical("vote", ns, 1, mode="busy:2"))
    wait_ready(cluster, ns, "vote", 1)
    cluster.kubectl("scale", "mvs/vote", "--replicas=0", "-n", ns)
    wait_gone(cluster, ns, "vote-0")
    ev = events_of(cluster, ns, "vote", 0)
    calls = [e[3] for e in ev if e[0] == "shutdown-call"]
    assert calls == ["409", "409", "202"], ev
    assert first(ev, "sigterm") is None
    assert outcome(cluster, ns, "vote", "vote-0") == "http"
    cluster.wait_event(ns, "ShutdownRefused")


def test_a_hanging_endpoint_is_escalated_to_sigterm_once_its_timeouts_run_out(cluster, ns, operator):
    operator()
    cluster.apply(critical("vote", ns, 1, mode="hang"))
    wait_ready(cluster, ns, "vote", 1)
    cluster.kubectl("scale", "mvs/vote", "--replicas=0", "-n", ns)
    wait_gone(cluster, ns, "vote-0")
    ev = events_of(cluster, ns, "vote", 0)
    calls = [e for e in ev if e[0] == "shutdown-call"]
    sigterm = first(ev, "sigterm")
    assert len(calls) == 3, ev  # three unanswered calls, then escalation
    assert sigterm, ev
    # 3 calls of 1 s each, 0.5 s and 1 s apart, then the preStop sleep (3 s) before the kubelet's SIGTERM.
    assert sigterm - calls[0][1] >= 3 + 1.5 + 3 - 0.5
    assert sigterm - calls[0][1] < 30
    assert outcome(cluster, ns, "vote", "vote-0") == "sigterm"
    cluster.wait_event(ns, "EscalatedToSIGTERM")


def test_a_service_that_ignores_sigterm_is_killed_after_the_grace_period(cluster, ns, operator):
    operator()
    cluster.apply(critical("vote", ns, 1, mode="never-exit", args=["--ignore-sigterm"]))
    wait_ready(cluster, ns, "vote", 1)
    cluster.kubectl("scale", "mvs/vote", "--replicas=0", "-n", ns)
    wait_gone(cluster, ns, "vote-0")
    ev = events_of(cluster, ns, "vote", 0)
    accepted = first(ev, "shutdown-call", "202")
    sigterm = first(ev, "sigterm")
    last_alive = max(e[1] for e in ev if e[0] == "alive")
    assert accepted and sigterm and accepted < sigterm
    assert sigterm - accepted >= 3 - 0.2  # held off by the preStop sleep
    assert last_alive - sigterm >= 3 - 0.2  # SIGKILL only when the 6 s grace period ran out
    assert last_alive - sigterm < 3 + 2
    assert outcome(cluster, ns, "vote", "vote-0") == "sigkill"


def test_a_wrong_token_is_a_degraded_condition_and_escalates(cluster, ns, operator):
    operator()
    cluster.rest.ok(cluster.rest.post(f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vote-token"},
        "data": {"token": base64.b64encode(b"not-the-right-one").decode()}}))
    cluster.apply(critical("vote", ns, 1, args=["--token", "the-right-one"],
                           endpoint={"tokenSecretRef": {"name": "vote-token"}}))
    wait_ready(cluster, ns, "vote", 1)
    cluster.kubectl("scale", "mvs/vote", "--replicas=0", "-n", ns)
    wait_gone(cluster, ns, "vote-0")
    ev = events_of(cluster, ns, "vote", 0)
    assert [e[3] for e in ev if e[0] == "shutdown-call"] == ["401"]
    assert first(ev, "sigterm")
    poll(lambda: (condition(cluster.mvs(ns, "vote"), "Degraded") or {}).get("reason") == "ShutdownMisconfigured", 10,
         "Degraded ShutdownMisconfigured")
    assert "tokenSecretRef" in condition(cluster.mvs(ns, "vote"), "Degraded")["message"]
    cluster.wait_event(ns, "ShutdownMisconfigured", "Warning")
    log = "\n".join(op.log() for op in operator.all)
    assert "not-the-right-one" not in log


def test_a_missing_secret_still_escalates_within_the_bounds(cluster, ns, operator):
    operator()
    cluster.apply(critical("vote", ns, 1, endpoint={"tokenSecretRef": {"name": "absent"}}))
    wait_ready(cluster, ns, "vote", 1)
    poll(lambda: (condition(cluster.mvs(ns, "vote"), "Degraded") or {}).get("reason") == "SecretNotFound", 10,
         "Degraded SecretNotFound")
    start = time.monotonic()
    cluster.kubectl("delete", "mvs", "vote", "-n", ns, "--timeout=60s")
    assert time.monotonic() - start < 30
    ev = events_of(cluster, ns, "vote", 0)
    assert first(ev, "shutdown-call") is None and first(ev, "sigterm")


def test_kubectl_delete_pod_calls_the_endpoint_before_sigterm(cluster, ns, operator):
    operator()
    cluster.apply(critical("vote", ns, 2))
    wait_ready(cluster, ns, "vote", 2)
    uid = cluster.pods(ns)["vote-1"]["metadata"]["uid"]
    deleted_at = time.time()
    cluster.kubectl("delete", "pod", "vote-1", "-n", ns, "--wait=false")
    poll(lambda: cluster.pods(ns).get("vote-1", {}).get("metadata", {}).get("uid") not in (None, uid), 40,
         "vote-1 to be replaced")
    ev = [e for e in events_of(cluster, ns, "vote", 1) if e[1] >= deleted_at - 0.5]
    call = first(ev, "shutdown-call", "202")
    assert call, ev
    assert call - deleted_at < 2.5, "called during the preStop sleep"
    assert first(ev[:[e[0] for e in ev].index("start") if "start" in [e[0] for e in ev] else len(ev)], "sigterm") is None
    assert history(cluster, ns, "vote")["vote-1"]["reason"] == "External"
    wait_ready(cluster, ns, "vote", 2)


def test_operator_killed_between_requested_and_terminating_resumes_without_skipping(cluster, ns, operator):
    op = operator()
    cluster.apply(critical("vote", ns, 1, mode="busy:4"))
    wait_ready(cluster, ns, "vote", 1)
    cluster.kubectl("scale", "mvs/vote", "--replicas=0", "-n", ns)
    poll(lambda: first(events_of(cluster, ns, "vote", 0), "shutdown-call", "409"), 10, "a first refusal")
    op.kill()  # SIGKILL mid-stage: the pod's annotations say Requested
    stage = cluster.pods(ns)["vote-0"]["metadata"]["annotations"]["medivote.io/shutdown-stage"]
    assert stage == "Requested"
    operator()
    wait_gone(cluster, ns, "vote-0")
    ev = events_of(cluster, ns, "vote", 0)
    assert [e[3] for e in ev if e[0] == "shutdown-call"][-1] == "202"
    assert first(ev, "sigterm") is None, "no SIGTERM came before the HTTP stage completed"
    assert first(ev, "saved")


def test_two_replicas_with_leader_election_the_survivor_finishes_a_scale_down(cluster, ns, operator):
    a = operator(leader_elect=True)
    b = operator(leader_elect=True, wait=False)
    cluster.apply(critical("vote", ns, 2, mode="busy:3"))
    wait_ready(cluster, ns, "vote", 2)
    time.sleep(0.5)
    assert "phase=leading" not in b.log()
    cluster.kubectl("scale", "mvs/vote", "--replicas=0", "-n", ns)
    poll(lambda: first(events_of(cluster, ns, "vote", 1), "shutdown-call", "409"), 10, "a first refusal")
    killed = time.monotonic()
    a.kill()
    b.wait_leading(timeout=10)
    assert time.monotonic() - killed < 4 + 1 + 1, "led within the lease duration plus a retry period"
    poll(lambda: cluster.pods(ns, "vote") == {}, 60, "every pod to go")
    for i in (0, 1):
        ev = events_of(cluster, ns, "vote", i)
        assert first(ev, "shutdown-call", "202") and first(ev, "sigterm") is None, ev


# Reach direct's margin (docs/architecture.md) is the time from the 202 to the exit: the kubelet must have seen the
# DELETE by then, or it restarts the service. With 1 s, CI's existing-cluster suite (2 cores, a separate kubelet
# process) had 4 of 50 restarted; a 2.5 s save leaves the same 2.5 s on both sides (the DELETE seen by the kubelet
# within 2.5 s of the 202; SIGTERM at least 2.5 s after the exit, at the end of the 5 s sleep that starts then).
SAVE_MS = 2500


def test_fifty_critical_pods_scaled_to_zero_take_seconds(cluster, ns, operator):
    op = operator("--max-concurrent-shutdown-calls=64", "--kube-api-qps=200", "--kube-api-burst=400")
    cluster.apply(critical("many", ns, 50, args=["--save-ms", str(SAVE_MS)], maxConcurrent=50, preStopSleepSeconds=5,
                           exitTimeoutSeconds=5, terminationGracePeriodSeconds=10))
    wait_ready(cluster, ns, "many", 50, timeout=120)
    start = time.monotonic()
    cluster.kubectl("scale", "mvs/many", "--replicas=0", "-n", ns)
    poll(lambda: cluster.pods(ns, "many") == {}, 120, "every pod to go")
    took = time.monotonic() - start
    print(f"\n50 critical pods ({SAVE_MS / 1000:g} s save each) scaled to 0 in {took:.1f} s")
    assert took < 30
    poll(lambda: all(h["outcome"] for h in cluster.mvs(ns, "many")["status"]["shutdowns"]), 10, "the history")
    outcomes = [h["outcome"] for h in cluster.mvs(ns, "many")["status"]["shutdowns"]]
    if set(outcomes) != {"http"}:
        # What each service did (a second "start" is the kubelet's restart of a service that exited before its pod
        # was terminating) and how the operator judged it.
        starts = {i: [e[0] for e in events_of(cluster, ns, "many", i)].count("start") for i in range(50)}
        judged = [r for r in log_records(op.log()) if r.get("msg") == "shutdown completed"]
        print("starts per ordinal:", starts)
        print("\n".join(str(r) for r in judged[:10]))
        print("history:", cluster.mvs(ns, "many")["status"]["shutdowns"])
    assert set(outcomes) == {"http"}
