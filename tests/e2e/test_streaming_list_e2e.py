"""Issue 16: the operator's informers list by a streaming list (`--streaming-list=auto`; sendInitialEvents, KEP-3157)
where the API server serves one, and fall back to paged lists where it does not.

With the simulator's `--watch-list` switch (a 1.32 server on etcd >= 3.4.31) the operator's audit trail for pods and
MediVoteServices holds no paged list, only the streaming watches, and it still shuts a critical pod down over HTTP.
Without it (the captured server on etcd 3.4.23), each informer makes one streaming watch, answered by the ERROR 500
event, then pages."""
import pytest

from e2elib import (NO_RESTART_RACE, OPERATOR_USER, Cluster, Operator, first, log_records, mvs, poll,
                    read_events, running_cluster, unique_name, wait_ready)

pytestmark = pytest.mark.needs_sim_apiserver(reason="reads the API server simulator's audit log (/admin/requests)")

RESOURCES = ("pods", "medivoteservices")
TIMEOUTS = {"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 6, "exitTimeoutSeconds": 3,
            "refusalTimeoutSeconds": 10, "forceDeleteAfterSeconds": 30, "maxConcurrent": 1}


@pytest.fixture(scope="module")
def wl_cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("watchlist"),
                         lambda d: Cluster(d, "--watch-list", *NO_RESTART_RACE)) as c:
        yield c


def requests_since(cluster, start):
    """The operator's requests for pods and MediVoteServices after the first `start` audit entries."""
    items = cluster.sim.admin("GET", "requests").body["items"][start:]
    return [i for i in items if i["user"] == OPERATOR_USER and i.get("resource") in RESOURCES]


def audit_length(cluster):
    return len(cluster.sim.admin("GET", "requests").body["items"])


def streaming(entry):
    return entry["verb"] == "watch" and "sendInitialEvents=true" in entry["path"]


def paged_list(entry):
    # The history probe of a quiet watch (reflector.h: a limit=1 list) is no list of the cache's content.
    return entry["verb"] == "list" and "limit=1&" not in entry["path"] + "&"


def start_operator(cluster):
    op = Operator(cluster, "--streaming-list=auto")
    op.wait_leading()
    return op


def test_streaming_lists_fill_the_caches_without_a_list_request(wl_cluster):
    cluster = wl_cluster
    ns = unique_name("e2e-watchlist")
    cluster.rest.ok(cluster.create_namespace(ns))
    start = audit_length(cluster)
    op = start_operator(cluster)
    try:
        ep = {"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 1}
        cluster.apply(mvs("web", ns, "medivote/scripted:1", replicas=2, tier="critical", endpoint=ep,
                          shutdown=dict(TIMEOUTS), args=["--mode", "accept"]))
        wait_ready(cluster, ns, "web", 2)
        cluster.kubectl("scale", "mvs/web", "--replicas=1", "-n", ns)
        poll(lambda: sorted(cluster.pods(ns, "web")) == ["web-0"], 60, "web-1 to go")
        ev = read_events(f"{cluster.pvc_dir(ns, 'data-web-1')}/events")
        assert first(ev, "shutdown-call", "202"), f"web-1 was never asked over HTTP: {ev}"

        def outcome():
            h = {x["pod"]: x for x in cluster.mvs(ns, "web").get("status", {}).get("shutdowns", [])}
            return h.get("web-1", {}).get("outcome")
        assert poll(outcome, 20, "the outcome of web-1") == "http"

        mine = requests_since(cluster, start)
        for resource in RESOURCES:
            of = [i for i in mine if i["resource"] == resource]
            assert [i for i in of if streaming(i) and i["code"] == 200], of
            assert not [i for i in of if paged_list(i)], [i["path"] for i in of if paged_list(i)]
        done = [r for r in log_records(op.log()) if r.get("msg") == "reflector state" and r.get("to") == "Watching"
                and "streaming list complete" in r.get("reason", "")]
        assert {r["resource"] for r in done} >= {"pods", "medivoteservices.medivote.io"}, done
    finally:
        op.stop()
        cluster.delete_namespace(ns)


def test_without_the_server_switch_one_refused_streaming_watch_then_paged_lists(cluster, ns):
    start = audit_length(cluster)
    op = start_operator(cluster)
    try:
        def both_paged():
            mine = requests_since(cluster, start)
            return mine if all(any(paged_list(i) for i in mine if i["resource"] == r) for r in RESOURCES) else None
        mine = poll(both_paged, 20, "paged lists of pods and MediVoteServices")
        for resource in RESOURCES:
            of = [i for i in mine if i["resource"] == resource]
            first_list = next(n for n, i in enumerate(of) if paged_list(i))
            assert [i for i in of[:first_list] if streaming(i)], of  # the streaming watch came first
            assert len([i for i in of if streaming(i)]) == 1, [i["path"] for i in of]  # and only once
        warnings = [r for r in log_records(op.log()) if "cannot serve streaming lists" in r.get("msg", "")]
        assert warnings and all("RequestWatchProgress is disabled" in r["reason"] for r in warnings), warnings
        assert len(warnings) == len({r["resource"] for r in warnings})  # once per informer
    finally:
        op.stop()
