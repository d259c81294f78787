"""Issue 18 item 3: a HorizontalPodAutoscaler drives a MediVoteService through its scale subresource, and the pods
its scale-down removes go through the tiered shutdown.

The HPA's own path is replayed by scale_client.py (discovery of `medivoteservices/scale`, GET of the Scale, the
selector it lists pods with, PUT of the Scale); the pods are scripted critical services (data/scripted_service.py)
that record on their claims what happened to them: the shutdown call and its answer, the save, any signal."""
import os

import yaml

from e2elib import REPO, first, mvs, poll, read_events, wait_ready
from scale_client import ScaleClient, parse_selector

HPA_EXAMPLE = os.path.join(REPO, "docs", "examples", "hpa.yaml")
TIMEOUTS = {"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 6, "exitTimeoutSeconds": 3,
            "refusalTimeoutSeconds": 10, "forceDeleteAfterSeconds": 30, "maxConcurrent": 1}
TARGET = {"apiVersion": "medivote.io/v1alpha1", "kind": "MediVoteService"}


def critical(name, ns, replicas):
    ep = {"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 1}
    return mvs(name, ns, "medivote/scripted:1", replicas=replicas, tier="critical", endpoint=ep,
               shutdown=dict(TIMEOUTS), args=["--mode", "accept"])


def scale_to(client, mapping, ns, name, replicas, attempts=10):
    """One HPA sync after another until an update lands: read the Scale, set spec.replicas, PUT it. A 409 (the
    operator wrote status in between) is retried with a fresh read, as the HPA's next sync would."""
    for _ in range(attempts):
        sc = client.get(mapping, ns, name)
        sc["spec"]["replicas"] = replicas
        code, out = client.update(mapping, ns, sc)
        if code == 200:
            return sc, out
        assert code == 409 and out["reason"] == "Conflict", (code, out)
    raise AssertionError(f"no Scale update of {name} landed in {attempts} attempts")


def shutdown_history(cluster, ns, name):
    return {h["pod"]: h for h in (cluster.mvs(ns, name) or {}).get("status", {}).get("shutdowns", [])}


def test_hpa_scale_client_scales_down_through_the_tiered_shutdown(cluster, ns, operator):
    operator()
    cluster.apply(critical("web", ns, 3))
    wait_ready(cluster, ns, "web", 3)

    client = ScaleClient(cluster.rest)
    mapping, sc, selector = client.scale_target(ns, dict(TARGET, name="web"))
    assert mapping["resource"] == "medivoteservices" and mapping["namespaced"]
    assert (sc["apiVersion"], sc["kind"]) == ("autoscaling/v1", "Scale")
    assert sc["spec"]["replicas"] == 3 and sc["status"]["replicas"] == 3
    # The operator's status.selector is what the HPA lists pods with to average their metrics: exactly these pods.
    assert selector == {"medivote.io/service": "web"}
    listed = cluster.rest.get(f"/api/v1/namespaces/{ns}/pods", labelSelector=sc["status"]["selector"]).body
    assert sorted(p["metadata"]["name"] for p in listed["items"]) == ["web-0", "web-1", "web-2"]

    read, out = scale_to(client, mapping, ns, "web", 1)
    assert out["spec"]["replicas"] == 1 and out["metadata"]["uid"] == sc["metadata"]["uid"]
    assert cluster.mvs(ns, "web")["spec"]["replicas"] == 1
    code, stale = client.update(mapping, ns, read)   # the Scale read before the write is now stale
    assert code == 409 and stale["reason"] == "Conflict", stale

    poll(lambda: sorted(cluster.pods(ns, "web")) == ["web-0"], 60, "web-1 and web-2 to go")
    for i in (1, 2):
        ev = read_events(f"{cluster.pvc_dir(ns, f'data-web-{i}')}/events")
        call = first(ev, "shutdown-call", "202")
        assert call, f"web-{i} was never asked over HTTP: {ev}"
        assert first(ev, "sigterm") is None, f"web-{i} got SIGTERM: {ev}"
        assert first(ev, "saved") > call, ev
    assert first(read_events(f"{cluster.pvc_dir(ns, 'data-web-0')}/events"), "shutdown-call") is None
    hist = poll(lambda: (lambda h: h if all(h.get(p, {}).get("outcome") for p in ("web-1", "web-2")) else None)(
        shutdown_history(cluster, ns, "web")), 20, "the outcomes of web-1 and web-2")
    for p in ("web-1", "web-2"):
        assert hist[p]["outcome"] == "http", hist[p]
        assert hist[p]["reason"] == "ScaleDown", hist[p]
        assert [s["stage"] for s in hist[p]["stages"]][:3] == ["Draining", "Requested", "Accepted"], hist[p]
    # The HPA's next sync reads the new count from the Scale (status.replicas, written by the operator).
    poll(lambda: client.get(mapping, ns, "web")["status"]["replicas"] == 1, 20, "Scale status.replicas == 1")


def test_control_a_simple_service_scaled_the_same_way_gets_sigterm_and_no_call(cluster, ns, operator):
    """The same scale-down of a tier simple resource: no HTTP stage, so its pod records SIGTERM and no call, and its
    outcome is not http. The observations of the test above can tell the two paths apart."""
    operator()
    spec = mvs("plain", ns, "medivote/scripted:1", replicas=2, tier="simple",
               shutdown={"terminationGracePeriodSeconds": 6}, args=["--mode", "accept"])
    cluster.apply(spec)
    wait_ready(cluster, ns, "plain", 2)
    client = ScaleClient(cluster.rest)
    mapping, _, _ = client.scale_target(ns, dict(TARGET, name="plain"))
    scale_to(client, mapping, ns, "plain", 1)
    poll(lambda: sorted(cluster.pods(ns, "plain")) == ["plain-0"], 40, "plain-1 to go")
    ev = read_events(f"{cluster.pvc_dir(ns, 'data-plain-1')}/events")
    assert first(ev, "sigterm") and first(ev, "shutdown-call") is None, ev
    hist = poll(lambda: shutdown_history(cluster, ns, "plain").get("plain-1", {}).get("outcome"), 20,
                "the outcome of plain-1")
    assert hist != "http", hist


def test_kubectl_autoscale_and_the_example_target_the_scale_subresource(cluster, ns, operator):
    """`kubectl autoscale mvs/NAME` (client dry run: the simulator serves no autoscaling API) and
    docs/examples/hpa.yaml name a target the HPA's scale client resolves; scaling up through it creates pods."""
    operator()
    cluster.apply(critical("web", ns, 1))
    wait_ready(cluster, ns, "web", 1)
    out = cluster.kubectl("autoscale", "mvs/web", "-n", ns, "--min=1", "--max=3", "--cpu-percent=70",
                          "--dry-run=client", "-o", "yaml")
    generated = yaml.safe_load(out.stdout)
    assert generated["kind"] == "HorizontalPodAutoscaler"
    assert generated["spec"]["scaleTargetRef"] == dict(TARGET, name="web")
    with open(HPA_EXAMPLE) as f:
        example = yaml.safe_load(f)
    assert (example["apiVersion"], example["kind"]) == ("autoscaling/v2", "HorizontalPodAutoscaler")
    ref = example["spec"]["scaleTargetRef"]
    assert {k: ref[k] for k in ("apiVersion", "kind")} == TARGET
    assert example["spec"]["behavior"]["scaleDown"]["policies"], "the example paces scale-downs"

    client = ScaleClient(cluster.rest)
    mapping, sc, selector = client.scale_target(ns, dict(ref, name="web"))
    assert parse_selector(sc["status"]["selector"]) == selector == {"medivote.io/service": "web"}
    scale_to(client, mapping, ns, "web", 2)
    wait_ready(cluster, ns, "web", 2)
    assert client.get(mapping, ns, "web")["status"]["replicas"] == 2
