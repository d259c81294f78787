"""Issue 17 item 1 end to end: the shutdown order between MediVoteServices (spec.shutdown.after), with the scripted
critical services of test_tiered_shutdown.py, which record their calls, saves and exits with times on their claims.

The chain is MediVote's own in small: `front` goes first, `mid` after it, `back` after both
(back.after = [front, mid], mid.after = [front]).

The order is checked from both sides: the stand-ins' own records (calls, saves, exits) and the pods' shutdown
annotations (tests/e2e/pod_annotations.py), followed by a watch from before the deletion."""
import re
import urllib.request

import pytest
import yaml

from e2elib import condition, first, log_records, mvs, poll, read_events, wait_ready
from pod_annotations import annotation_order_wrong, final_lives, watch_pods

TIMEOUTS = {"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 6, "exitTimeoutSeconds": 3,
            "refusalTimeoutSeconds": 10, "forceDeleteAfterSeconds": 30, "maxConcurrent": 1}
CHAIN = {"front": [], "mid": ["front"], "back": ["front", "mid"]}


def service(name, ns, after=(), args=(), mode="accept", **shutdown):
    sd = dict(TIMEOUTS, **shutdown)
    if after:
        sd["after"] = list(after)
    return mvs(name, ns, "medivote/scripted:1", replicas=1, tier="critical",
               endpoint={"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 1}, shutdown=sd,
               args=["--mode", mode, *args])


def chain(cluster, ns, **by_name):
    """Applies the chain (extra arguments of service() by name) and waits until each is Ready."""
    objs = [service(name, ns, after, **by_name.get(name, {})) for name, after in CHAIN.items()]
    for o in objs:
        cluster.apply(o)
    for name in CHAIN:
        wait_ready(cluster, ns, name, 1)
    return objs


def events_of(cluster, ns, name):
    return read_events(f"{cluster.pvc_dir(ns, f'data-{name}-0')}/events")


def gone(cluster, ns, names, timeout=90):
    poll(lambda: all(cluster.mvs(ns, n) is None for n in names), timeout, f"{names} to be gone")


def k8s_events(cluster, ns, name, reason):
    return [e for e in cluster.events(ns)
            if e["involvedObject"]["name"] == name and e["involvedObject"]["kind"] == "MediVoteService"
            and e["reason"] == reason]


def order_waits(op, result):
    """medivote_shutdown_order_waits_total{result} on the operator's /metrics page."""
    served = poll(lambda: [r for r in log_records(op.log()) if r.get("msg") == "serving metrics"], 20,
                  "the metrics server")[0]
    port = served["address"].rsplit(":", 1)[1]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    m = re.search(r'^medivote_shutdown_order_waits_total\{result="%s"\} (\S+)$' % result, text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.fixture
def pods(cluster, ns):
    """The pods of the test's namespace followed from the test's start (samples_lib.ShutdownWatch)."""
    watch = watch_pods(cluster, ns)
    yield watch
    watch.stop()


def running_uids(cluster, ns, names):
    return {p["metadata"]["uid"] for name in names for p in cluster.pods(ns, name).values()}


def assert_in_order(cluster, ns, names, pods, uids=None):
    """Each service's HTTP stage (its accepted call, its save and its exit) ended before the next one's call, by the
    stand-ins' records; and by the pods' annotations (of the pods of `uids`, by default every pod seen), each pod
    accepted before the next service's first call."""
    wrong = annotation_order_wrong(final_lives(pods, names, uids), names)
    assert wrong == [], "\n".join(wrong)
    prev = None
    for name in names:
        ev = events_of(cluster, ns, name)
        call = first(ev, "shutdown-call", "202")
        exit_ = first(ev, "exit")
        assert call and first(ev, "saved") and exit_, f"{name}: {ev}"
        assert first(ev, "sigterm") is None, f"{name} got SIGTERM: {ev}"
        if prev:
            assert call > prev[1], f"{name} was called at {call}, before {prev[0]} exited at {prev[1]}"
        prev = (name, exit_)


def test_kubectl_delete_of_the_chain_shuts_it_down_in_order(cluster, ns, operator, tmp_path, pods):
    op = operator()
    objs = chain(cluster, ns)
    manifest = tmp_path / "chain.yaml"
    manifest.write_text(yaml.safe_dump_all(objs))
    cluster.kubectl("delete", "-f", str(manifest), "--wait=false")
    # The ones that wait say so while they wait, with the names still up.
    held = poll(lambda: (c := condition(cluster.mvs(ns, "back"), "WaitingForDependents")) and c["status"] == "True"
                and c, 20, "back to wait")
    assert held["reason"] == "DependentsUp"
    assert "front" in held["message"] or "mid" in held["message"], held
    gone(cluster, ns, CHAIN)
    assert_in_order(cluster, ns, ["front", "mid", "back"], pods)
    for name in ("mid", "back"):
        assert k8s_events(cluster, ns, name, "WaitingForDependents"), name
        assert k8s_events(cluster, ns, name, "DependentsDown"), name
    assert not k8s_events(cluster, ns, "front", "WaitingForDependents")
    assert order_waits(op, "dependents-down") == 2  # mid's and back's
    assert order_waits(op, "timed-out") == 0


def test_scale_of_the_chain_to_zero_is_ordered_but_a_scale_down_alone_is_not_held(cluster, ns, operator, pods):
    operator()
    chain(cluster, ns)
    # back alone to 0 while front and mid stay: they do not follow within the settle time (2 s), so it goes on
    # without them, and its condition says why.
    cluster.kubectl("scale", "mvs/back", "--replicas=0", "-n", ns)
    poll(lambda: (c := condition(cluster.mvs(ns, "back"), "WaitingForDependents")) and c["status"] == "False"
         and c["reason"] == "DependentsStayUp", 20, "back to go on without front and mid")
    poll(lambda: not cluster.pods(ns, "back"), 30, "back's pod to go")
    assert first(events_of(cluster, ns, "front"), "shutdown-call") is None
    assert not k8s_events(cluster, ns, "back", "WaitingForDependents")
    # A scale-down to N > 0 is never held, not even for the settle time.
    cluster.kubectl("scale", "mvs/mid", "--replicas=2", "-n", ns)
    wait_ready(cluster, ns, "mid", 2)
    cluster.kubectl("scale", "mvs/mid", "--replicas=1", "-n", ns)
    poll(lambda: sorted(cluster.pods(ns, "mid")) == ["mid-0"], 30, "mid-1 to go")
    c = condition(cluster.mvs(ns, "mid"), "WaitingForDependents")
    assert c["status"] == "False" and c["reason"] == "NotGoingDown", c
    # mid and front to 0 together, mid first: mid waits for front.
    running = running_uids(cluster, ns, ["front", "mid"])
    for name in ("mid", "front"):
        cluster.kubectl("scale", f"mvs/{name}", "--replicas=0", "-n", ns)
    poll(lambda: not cluster.pods(ns, "mid") and not cluster.pods(ns, "front"), 60, "mid and front to go")
    assert_in_order(cluster, ns, ["front", "mid"], pods, running)
    assert k8s_events(cluster, ns, "mid", "WaitingForDependents")


def test_a_dependency_that_never_goes_down_releases_the_waiter_at_its_timeout(cluster, ns, operator):
    op = operator()
    # front accepts and never exits, ignores SIGTERM, and has a long grace period: its pod stays about 20 s.
    cluster.apply(service("front", ns, mode="never-exit", args=["--ignore-sigterm"],
                          terminationGracePeriodSeconds=20, preStopSleepSeconds=3))
    cluster.apply(service("back", ns, after=["front"], dependencyTimeoutSeconds=4))
    wait_ready(cluster, ns, "front", 1)
    wait_ready(cluster, ns, "back", 1)
    cluster.kubectl("delete", "mvs/front", "mvs/back", "-n", ns, "--wait=false")
    poll(lambda: (c := condition(cluster.mvs(ns, "back"), "WaitingForDependents")) and c["status"] == "True",
         20, "back to wait")
    timeout_event = poll(lambda: k8s_events(cluster, ns, "back", "DependencyTimeout"), 30, "the timeout Event")
    assert timeout_event[0]["type"] == "Warning"
    assert "front" in timeout_event[0]["message"]
    gone(cluster, ns, ["back"], timeout=40)
    back = events_of(cluster, ns, "back")
    call = first(back, "shutdown-call", "202")
    assert call and first(back, "exit"), back
    front = events_of(cluster, ns, "front")
    # front was still running (not exited) when back got its call: the wait ended by its bound.
    assert first(front, "exit") is None or first(front, "exit") > call, front
    assert not k8s_events(cluster, ns, "back", "DependentsDown")
    assert order_waits(op, "timed-out") == 1


def test_a_cycle_is_reported_degraded_and_holds_nothing(cluster, ns, operator):
    operator()
    cluster.apply(service("a", ns, after=["b"]))
    cluster.apply(service("b", ns, after=["a"]))
    for name in ("a", "b"):
        c = poll(lambda: (c := condition(cluster.mvs(ns, name), "Degraded")) and c["status"] == "True" and c,
                 30, f"{name} to be Degraded")
        assert c["reason"] == "DependencyCycle", c
        assert f"{name} -> " in c["message"] and "cycle" in c["message"], c
    cluster.wait_event(ns, "DependencyCycle", "Warning")
    cluster.kubectl("delete", "mvs/a", "mvs/b", "-n", ns, "--wait=false")
    gone(cluster, ns, ["a", "b"], timeout=40)
    for name in ("a", "b"):
        assert first(events_of(cluster, ns, name), "shutdown-call", "202"), name
        assert not k8s_events(cluster, ns, name, "WaitingForDependents"), name


def test_an_operator_killed_mid_way_resumes_the_order(cluster, ns, operator, pods):
    op = operator()
    # front takes 3 s to save: the operator is killed while back and mid wait for it.
    objs = chain(cluster, ns, front={"args": ["--save-ms", "2500"], "exitTimeoutSeconds": 3})
    for o in objs:
        cluster.kubectl("delete", "mvs/" + o["metadata"]["name"], "-n", ns, "--wait=false")
    held = poll(lambda: (c := condition(cluster.mvs(ns, "back"), "WaitingForDependents")) and c["status"] == "True"
                and c, 20, "back to wait")
    poll(lambda: first(events_of(cluster, ns, "front"), "shutdown-call", "202"), 20, "front's call")
    op.kill()
    operator()
    gone(cluster, ns, CHAIN)
    assert_in_order(cluster, ns, ["front", "mid", "back"], pods)
    # The wait kept its start across the restart (the condition's lastTransitionTime is on the object).
    starts = [e for e in k8s_events(cluster, ns, "back", "WaitingForDependents")]
    assert sum(e.get("count", 1) for e in starts) == 1, starts
    assert held["lastTransitionTime"]


def delete_namespace(cluster, ns):
    cluster.rest.delete(f"/api/v1/namespaces/{ns}")  # as is: no finalizer dropped (existing_cluster.py does)
    poll(lambda: cluster.get(f"/api/v1/namespaces/{ns}") is None, 90, f"namespace {ns} to be gone")


def test_namespace_deletion_ends_in_the_declared_order_within_the_pods_prestop_budget(cluster, ns, operator, pods):
    """The namespace controller deletes the pods themselves: each shutdown starts by itself (External), its preStop
    clock running. The order holds their calls (not their draining) while their resource waits, within each pod's
    budget: 12 s of preStop sleep leave 7 s of wait (12 - request 1 - exit 3 - 1), room for the chain."""
    op = operator()
    chain(cluster, ns, **{n: {"preStopSleepSeconds": 12, "terminationGracePeriodSeconds": 16} for n in CHAIN})
    delete_namespace(cluster, ns)
    assert_in_order(cluster, ns, ["front", "mid", "back"], pods)
    # Released by the order, not by the budget. (No Event can be created in a terminating namespace: the metric
    # tells how the waits ended.)
    assert order_waits(op, "prestop-budget") == 0
    assert order_waits(op, "dependents-down") >= 1  # back's at least (mid's too unless front was down first)


def test_namespace_deletion_with_a_budget_too_small_for_the_wait_calls_the_waiter_before_its_sigterm(
        cluster, ns, operator):
    """back waits for front, which takes 7 s to save: back's 6 s preStop sleep leaves 2 s of wait (6 - 1 - 2 - 1).
    Then back is called anyway, before its SIGTERM, and says why (a Warning OrderWaitCutShort for the pod and the
    resource, the metric's prestop-budget)."""
    op = operator()
    cluster.apply(service("front", ns, args=["--save-ms", "7000"], preStopSleepSeconds=6,
                          terminationGracePeriodSeconds=8, exitTimeoutSeconds=2))
    cluster.apply(service("back", ns, after=["front"], preStopSleepSeconds=6, terminationGracePeriodSeconds=8,
                          exitTimeoutSeconds=2))
    wait_ready(cluster, ns, "front", 1)
    wait_ready(cluster, ns, "back", 1)
    delete_namespace(cluster, ns)
    back = events_of(cluster, ns, "back")
    call = first(back, "shutdown-call", "202")
    assert call and first(back, "saved") and first(back, "exit"), back
    assert first(back, "sigterm") is None, f"back got SIGTERM: {back}"
    front = events_of(cluster, ns, "front")
    # back waited (front, never held, was called first) but not for front's save: the budget ended the wait.
    assert first(front, "shutdown-call", "202") < call, (front, back)
    assert first(front, "saved") is None or first(front, "saved") > call, (front, back)
    # The API server refuses new Events in a terminating namespace (NamespaceLifecycle): the operator's log has
    # them, with the metric.
    cut = [r for r in log_records(op.log()) if r.get("event") == "OrderWaitCutShort"]
    assert sorted(r["object"] for r in cut) == ["MediVoteService/back", "Pod/back-0"], cut
    assert all(r["level"] == "warn" and r["namespace"] == ns for r in cut), cut
    assert order_waits(op, "prestop-budget") == 1
