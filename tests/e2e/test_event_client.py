"""Issue 15 item 10 end to end: Events are written through a client of their own, with its own rate limit, so a burst
of Events never delays pod operations nor waits behind them. The API server's audit log tells the two clients apart
by User-Agent (the Events client's ends in "/events", as client-go's leader-election client adds "/leader-election")."""
import pytest

from e2elib import OPERATOR_USER, mvs, poll, wait_ready

pytestmark = pytest.mark.needs_sim_apiserver(reason="reads the API server simulator's audit log (/admin/requests)")

WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def operator_requests(cluster, ns):
    """The operator's requests in namespace `ns`, from the simulator's audit log."""
    items = cluster.sim.admin("GET", "requests").body["items"]
    return [i for i in items if i["user"] == OPERATOR_USER and i.get("namespace") == ns]


def test_events_go_through_their_own_client_and_nothing_else_does(cluster, ns, operator):
    operator()
    cluster.apply(mvs("evt", ns, "medivote/workload:1", replicas=2, tier="simple"))
    wait_ready(cluster, ns, "evt", 2)
    cluster.kubectl("scale", "mvs/evt", "--replicas=0", "-n", ns)
    poll(lambda: cluster.pods(ns, "evt") == {}, 60, "the pods to go")
    # The ShutdownStarted Events of the two pods (and their resource) can trail the pods' removal by a little.
    poll(lambda: [i for i in operator_requests(cluster, ns) if i.get("resource") == "events"], 10,
         "the operator's Events")
    mine = operator_requests(cluster, ns)
    events = [i for i in mine if i.get("resource") == "events"]
    others = [i for i in mine if i.get("resource") != "events" and i.get("verb") in WRITES]
    assert events and others, mine
    assert all(i["userAgent"].startswith("medivote-controller/") for i in mine), {i["userAgent"] for i in mine}
    assert all(i["userAgent"].endswith("/events") for i in events), {i["userAgent"] for i in events}
    assert not [i for i in others if i["userAgent"].endswith("/events")], "a pod or status write by the Events client"
