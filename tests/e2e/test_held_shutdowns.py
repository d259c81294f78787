"""Issue 15 item 5 end to end: while a critical resource's token Secret is missing, a scale-down does not start (the
call could not be made, and three "unreachable" answers used to turn it into a SIGTERM within 1.5 s). The pod stays,
the resource says why, and once the Secret is there the pod is shut down by its endpoint, with the token."""
import base64

from e2elib import condition, first, poll, wait_ready
from test_tiered_shutdown import critical, events_of, outcome, wait_gone


def test_a_scale_down_waits_for_the_missing_token_secret_then_calls_with_it(cluster, ns, operator):
    operator()
    cluster.apply(critical("vote", ns, 2, args=["--token", "s3cret"], endpoint={"tokenSecretRef": {"name": "vote-token"}}))
    wait_ready(cluster, ns, "vote", 2)
    uid = cluster.pods(ns)["vote-1"]["metadata"]["uid"]
    cluster.kubectl("scale", "mvs/vote", "--replicas=1", "-n", ns)
    held = poll(lambda: (lambda c: c if c and "wait until it is fixed" in c.get("message", "") else None)(
        condition(cluster.mvs(ns, "vote"), "Degraded")), 15, "Degraded saying that shutdowns wait")
    assert held["reason"] == "SecretNotFound" and "vote-token" in held["message"]
    cluster.wait_event(ns, "SecretNotFound", "Warning")
    # The old operator had deleted vote-1 by now (three unreachable calls, then SIGTERM).
    pod = cluster.pods(ns).get("vote-1")
    assert pod and pod["metadata"]["uid"] == uid
    assert "medivote.io/shutdown-stage" not in pod["metadata"].get("annotations", {})
    assert first(events_of(cluster, ns, "vote", 1), "sigterm") is None

    cluster.rest.ok(cluster.rest.post(f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vote-token"},
        "data": {"token": base64.b64encode(b"s3cret").decode()}}))
    wait_gone(cluster, ns, "vote-1", timeout=60)  # within a token resync (30 s) and the shutdown
    ev = events_of(cluster, ns, "vote", 1)
    call = first(ev, "shutdown-call", "202")
    assert call, ev
    assert first(ev, "sigterm") is None, ev
    assert outcome(cluster, ns, "vote", "vote-1") == "http"
    poll(lambda: (condition(cluster.mvs(ns, "vote"), "Degraded") or {}).get("status") == "False", 15,
         "Degraded to clear")
