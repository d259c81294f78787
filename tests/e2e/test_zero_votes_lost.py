"""Issue 8 §5 and issue 13 end to end: no acknowledged vote is lost when critical vote-service pods go away, on a
kubelet with the real node's timing.

Each scenario runs the reference vote service (build/workloads/medivote-vote-service, vote_service.py) as a critical
MediVoteService with `reach: agent` (the operator deletes the pod first and calls POST /shutdown through the agent
once the kubelet's preStop hook has arrived; the service takes the call from loopback only and has no token), votes
on a volumeClaimTemplate, under a load of a few hundred votes per second sent straight to the serving pods
(votes_load.VoteLoad). The services exit the instant they have saved (`--exit-delay-ms 0`) and do not save on
SIGTERM (`--no-save-on-sigterm`), so only the HTTP stage can save a vote. The kubelet runs with the restart-race
window on (1000 ms) and a watch delay of 2000 ms (some scenarios also with 0), see timing_clusters.py.

Afterwards every vote acknowledged with a 2xx must be in the union of the saved states: votes.json of every claim,
plus, for pods still running at the end, what they hold (GET /votes). Each test prints
`votes: acknowledged=N persisted=N lost=N`. And no service container was restarted once its shutdown had begun:
its restartCount stays what it was when the pod got its first medivote.io/shutdown-stage annotation (and the
operator's medivote.io/shutdown-restart-baseline), and its claim's events.log has no `start` between the shutdown
request and the pod's deletion (pod_history.py).

The control run does the same scale-down with the HTTP stage off (tier simple, --no-save-on-sigterm) and must
lose votes: that proves the tally can fail.
"""
import os
import signal

import pytest

from e2elib import poll, wait_ready
from pod_history import PodHistory
from timing_clusters import KubeletTimingClusters
from vote_service import claim_events as read_claim_events, create_token, vote_service
from votes_load import VoteLoad, claims_votes, live_votes, tally

RATE = 300  # votes per second
BOTH_WATCH_DELAYS = pytest.mark.parametrize("watch_delay_ms", [0, 2000])


@pytest.fixture(scope="module")
def timing_clusters(tmp_path_factory):
    clusters = KubeletTimingClusters(tmp_path_factory)
    yield clusters
    clusters.close()


@pytest.fixture
def watch_delay_ms():
    """The kubelet's watch delay of a scenario (parametrized with BOTH_WATCH_DELAYS)."""
    return 2000


@pytest.fixture
def cluster(timing_clusters, watch_delay_ms):
    return timing_clusters(watch_delay_ms)


@pytest.fixture
def pods(cluster, ns):
    """The namespace's pod history (pod_history.PodHistory); at the end, no service restarted after its shutdown
    began."""
    with PodHistory(cluster.rest, ns) as history:
        yield history
    bad = history.restarts_after_shutdown_start()
    assert not bad, f"service containers restarted after their shutdown began: {bad}"


@pytest.fixture
def votes(cluster, ns, capsys):
    """start(name) -> a running VoteLoad on ns/name; finish(load) stops it, gathers the saved state, prints the
    tally line and returns the Tally. Every load is stopped at teardown."""
    loads = []

    def start(name, rate=RATE):
        load = VoteLoad(cluster.rest, ns, name, rate=rate).start()
        loads.append(load)
        return load

    def finish(load, label):
        load.stop()
        saved = set()
        per_claim = claims_votes(os.path.join(cluster.sim.dir, "kubelet", "pvc", ns))
        for ids in per_claim.values():
            saved |= ids
        for pod in cluster.pods(ns, load.service).values():
            ip = pod.get("status", {}).get("podIP")
            if ip and not pod["metadata"].get("deletionTimestamp") and pod["status"].get("phase") == "Running":
                saved |= live_votes(ip)
        t = tally(load.acknowledged, saved)
        t.per_claim = {c: len(ids) for c, ids in per_claim.items()}
        with capsys.disabled():
            print(f"\n[{label}] {t.line()} (sent={load.sent} retried={load.retries} per claim={t.per_claim})")
        return t

    start.finish = finish
    yield start
    for load in loads:
        load.stop()


def claim_events(cluster, ns, claim):
    """The event names of a claim's events.log (written by the vote service, across its pods), in order."""
    return [e for _, e, _ in read_claim_events(os.path.join(cluster.pvc_dir(ns, claim), "events.log"))]


def assert_http_stage(cluster, ns, claim, pods):
    """The claim's service saved on the HTTP call, not on SIGTERM, and was not started again while its pod was
    shutting down (a restart writes `start` between the request and the pod's deletion)."""
    log = read_claim_events(os.path.join(cluster.pvc_dir(ns, claim), "events.log"))
    ev = [e for _, e, _ in log]
    assert "shutdown-requested" in ev and "saved" in ev, (claim, ev)
    first_request = ev.index("shutdown-requested")
    assert "sigterm" not in ev[:ev.index("saved", first_request)], f"{claim}: SIGTERM before the save: {ev}"
    pod = claim[len("data-"):]
    for uid in pods.uids(pod):
        lived = (pods.seen_from(uid) * 1000, (pods.gone_at(uid) or float("inf")) * 1000)
        requested = [t for t, e, _ in log if e == "shutdown-requested" and lived[0] <= t <= lived[1]]
        if requested:
            starts = [t for t, e, _ in log if e == "start" and requested[0] < t < lived[1]]
            assert not starts, f"{pod} ({uid}) started again after its shutdown request: {log}"


def outcomes(cluster, ns, name):
    return {h["pod"]: h["outcome"] for h in cluster.mvs(ns, name)["status"].get("shutdowns", [])}


def assert_outcomes(cluster, ns, name, expected):
    """The MediVoteService's shutdown history ends up with exactly `expected` ({pod: outcome}, or a set of
    outcomes); the outcome of the last shutdown is written once the pod is gone, hence the poll."""
    def got():
        o = outcomes(cluster, ns, name)
        return o if (set(o.values()) if isinstance(expected, set) else o) == expected else None
    try:
        poll(got, 10, f"the shutdown history {expected}")
    except AssertionError:
        raise AssertionError(f"shutdown history: {outcomes(cluster, ns, name)}, expected {expected}") from None


def wait_ready_or_explain(cluster, ns, name, n, timeout=60):
    """wait_ready, failing with the resource's status and the pods' states (these runs share 2 busy cores)."""
    try:
        wait_ready(cluster, ns, name, n, timeout=timeout)
    except AssertionError as e:
        pods = {p: (o["status"].get("phase"), o["metadata"].get("deletionTimestamp"),
                    [(c["type"], c["status"]) for c in o["status"].get("conditions", [])])
                for p, o in cluster.pods(ns, name).items()}
        raise AssertionError(f"{e}\nstatus: {(cluster.mvs(ns, name) or {}).get('status')}\npods: {pods}") from None


def run(cluster, ns, votes, replicas=3, **kw):
    if kw.get("tier", "critical") == "critical":
        create_token(cluster, ns, "vote")
    cluster.apply(vote_service("vote", ns, replicas, **kw))
    wait_ready_or_explain(cluster, ns, "vote", replicas)
    load = votes("vote")
    load.wait_acked(RATE)  # about a second of votes, spread over every pod
    return load


@BOTH_WATCH_DELAYS
def test_scale_3_to_1_loses_no_vote(cluster, ns, operator, votes, pods):
    operator()
    load = run(cluster, ns, votes)
    cluster.kubectl("scale", "mvs/vote", "--replicas=1", "-n", ns)
    poll(lambda: sorted(cluster.pods(ns, "vote")) == ["vote-0"], 40, "vote-1 and vote-2 to go")
    load.wait_acked(RATE // 2)
    t = votes.finish(load, "scale 3 to 1")
    assert t.lost == 0, sorted(t.missing)[:20]
    assert t.per_claim["data-vote-1"] > 0 and t.per_claim["data-vote-2"] > 0, "the removed pods took votes"
    for claim in ("data-vote-1", "data-vote-2"):
        assert_http_stage(cluster, ns, claim, pods)
    assert_outcomes(cluster, ns, "vote", {"vote-1": "http", "vote-2": "http"})


@BOTH_WATCH_DELAYS
def test_rolling_upgrade_of_3_replicas_loses_no_vote(cluster, ns, operator, votes, pods):
    operator()
    load = run(cluster, ns, votes)
    cluster.apply(vote_service("vote", ns, 3, image="medivote/vote-service:2"))
    wait_ready_or_explain(cluster, ns, "vote", 3, timeout=90)
    poll(lambda: all(p["spec"]["containers"][0]["image"] == "medivote/vote-service:2"
                     for p in cluster.pods(ns, "vote").values()), 10, "every pod upgraded")
    load.wait_acked(RATE // 2)
    t = votes.finish(load, "rolling upgrade")
    assert t.lost == 0, sorted(t.missing)[:20]
    for i in range(3):
        assert_http_stage(cluster, ns, f"data-vote-{i}", pods)
    assert_outcomes(cluster, ns, "vote", {"http"})


def test_deleting_the_medivoteservice_loses_no_vote(cluster, ns, operator, votes, pods):
    operator()
    load = run(cluster, ns, votes)
    cluster.kubectl("delete", "mvs", "vote", "-n", ns, "--timeout=60s")
    assert cluster.pods(ns, "vote") == {}
    t = votes.finish(load, "delete the MediVoteService")
    assert t.lost == 0, sorted(t.missing)[:20]
    for i in range(3):
        assert t.per_claim[f"data-vote-{i}"] > 0
        assert_http_stage(cluster, ns, f"data-vote-{i}", pods)


def test_kubectl_delete_pod_loses_no_vote(cluster, ns, operator, votes, pods):
    operator()
    load = run(cluster, ns, votes)
    uid = cluster.pods(ns)["vote-1"]["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "vote-1", "-n", ns, "--wait=false")
    poll(lambda: cluster.pods(ns).get("vote-1", {}).get("metadata", {}).get("uid") not in (None, uid), 40,
         "vote-1 to be replaced")
    wait_ready_or_explain(cluster, ns, "vote", 3)
    load.wait_acked(RATE // 2)
    t = votes.finish(load, "kubectl delete pod")
    assert t.lost == 0, sorted(t.missing)[:20]
    assert_http_stage(cluster, ns, "data-vote-1", pods)
    assert_outcomes(cluster, ns, "vote", {"vote-1": "http"})


def test_operator_sigkilled_mid_scale_down_then_restarted_loses_no_vote(cluster, ns, operator, votes, pods):
    op = operator()
    # Busy for 2 s when asked: the first pod stays in stage Requested long enough to be caught there.
    load = run(cluster, ns, votes, args=["--busy-on-shutdown-seconds", "2"])
    cluster.kubectl("scale", "mvs/vote", "--replicas=1", "-n", ns)

    def stage():
        pod = cluster.pods(ns, "vote").get("vote-2", {})
        return (pod.get("metadata", {}).get("annotations") or {}).get("medivote.io/shutdown-stage")
    poll(lambda: stage() == "Requested", 15, "vote-2 in stage Requested")
    op.kill(signal.SIGKILL)
    assert op.proc.returncode == -signal.SIGKILL
    load.wait_acked(RATE // 4)  # votes keep flowing while no operator runs
    operator()
    poll(lambda: sorted(cluster.pods(ns, "vote")) == ["vote-0"], 40, "vote-1 and vote-2 to go")
    load.wait_acked(RATE // 2)
    t = votes.finish(load, "operator SIGKILLed mid-scale-down")
    assert t.lost == 0, sorted(t.missing)[:20]
    for claim in ("data-vote-1", "data-vote-2"):
        assert_http_stage(cluster, ns, claim, pods)
    assert_outcomes(cluster, ns, "vote", {"vote-1": "http", "vote-2": "http"})


def test_a_service_busy_for_3s_when_asked_loses_no_vote(cluster, ns, operator, votes, pods):
    operator()
    load = run(cluster, ns, votes, args=["--busy-on-shutdown-seconds", "3"])
    cluster.kubectl("scale", "mvs/vote", "--replicas=2", "-n", ns)
    poll(lambda: sorted(cluster.pods(ns, "vote")) == ["vote-0", "vote-1"], 40, "vote-2 to go")
    load.wait_acked(RATE // 2)
    t = votes.finish(load, "busy for 3 s when asked")
    assert t.lost == 0, sorted(t.missing)[:20]
    path = os.path.join(cluster.pvc_dir(ns, "data-vote-2"), "events.log")
    with open(path) as f:
        lines = [line.split() for line in f]
    refused = [int(w[0]) for w in lines if w[1] == "shutdown-refused"]
    accepted = [int(w[0]) for w in lines if w[1] == "shutdown-requested"]
    assert refused and accepted, lines
    assert accepted[0] - refused[0] >= 3000 - 100, "accepted only once the 3 s busy window ended"
    assert_http_stage(cluster, ns, "data-vote-2", pods)
    assert_outcomes(cluster, ns, "vote", {"vote-2": "http"})
    cluster.wait_event(ns, "ShutdownRefused")


def test_control_run_without_the_http_stage_loses_votes(cluster, ns, operator, votes):
    """The same scale-down as test_scale_3_to_1_loses_no_vote, tier simple, with a service that does not save on
    SIGTERM: the votes of the removed pods are lost, so the tally above can fail."""
    operator()
    load = run(cluster, ns, votes, tier="simple", args=["--no-save-on-sigterm"])
    cluster.kubectl("scale", "mvs/vote", "--replicas=1", "-n", ns)
    poll(lambda: sorted(cluster.pods(ns, "vote")) == ["vote-0"], 40, "vote-1 and vote-2 to go")
    load.wait_acked(RATE // 2)
    t = votes.finish(load, "control: tier simple, no save on SIGTERM")
    assert t.lost > 0, "the control run must lose the votes of the removed pods"
    for claim in ("data-vote-1", "data-vote-2"):
        assert t.per_claim.get(claim, 0) == 0
        assert "save-skipped" in claim_events(cluster, ns, claim) or "sigterm" in claim_events(cluster, ns, claim)
