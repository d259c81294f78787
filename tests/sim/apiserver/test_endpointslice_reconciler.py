"""Unit tests of the EndpointSlice reconciler's pure decisions (sim/apiserver/endpointslice_reconciler.py), each
named after the kube-controller-manager behaviour it follows (staging/src/k8s.io/endpointslice: reconciler.go,
utils.go, util/controller_utils.go, util/trigger_time_tracker.go)."""
from sim.apiserver import endpointslice_reconciler as rec

NODE = {"metadata": {"name": "n1", "resourceVersion": "1", "labels": {}}}


def svc(name="web", **spec):
    return {"metadata": {"name": name, "namespace": "ns", "uid": "svc-uid", "resourceVersion": "5",
                         "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.1", "ipFamilies": ["IPv4"],
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}], **spec}}


def pod(name, ip, ready=True, since="2026-01-01T00:01:00Z", deleting=False, **spec):
    md = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "7", "labels": {"app": "web"}}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:09:00Z"
    return {"metadata": md, "spec": {"nodeName": "n1", "containers": [{"name": "c"}], **spec},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": since}]}}


def existing(name, n, start=0, service=None):
    """A stored slice of `service` holding n endpoints for pods p<start>..."""
    s = rec.new_slice(service or svc(), [{"name": "http", "protocol": "TCP", "port": 8080}], "IPv4")
    s["metadata"]["name"] = name
    s["metadata"]["resourceVersion"] = "9"
    s["endpoints"] = [rec.pod_to_endpoint(pod(f"p{i}", f"198.18.0.{i + 1}"), NODE, service or svc(), "IPv4")
                      for i in range(start, start + n)]
    return s


def plan(service, pods, slices):
    plans, stale = rec.reconcile(service, pods, slices, lambda n: NODE if n == "n1" else None)
    assert stale == []
    [p] = plans
    return p


def test_new_endpoints_fill_the_unchanged_slice_closest_to_full():
    """getSliceToFill: fewer than 100 new endpoints go into the unchanged slice that ends closest to 100."""
    s = svc()
    a, b = existing("web-a", 95), existing("web-b", 50, start=95)
    pods = [pod(f"p{i}", f"198.18.0.{i + 1}") for i in range(150)]
    p = plan(s, pods, [a, b])
    assert p.creates == [] and p.deletes == []
    [u] = p.updates
    assert u["metadata"]["name"] == "web-a" and len(u["endpoints"]) == 100


def test_no_slice_with_room_means_a_new_slice():
    """reconcileByPortMapping step 3: when no unchanged slice can take them all, a new slice is created."""
    s = svc()
    a = existing("web-a", 95)
    pods = [pod(f"p{i}", f"198.18.0.{i + 1}") for i in range(95 + 10)]
    p = plan(s, pods, [a])
    assert p.updates == [] and [len(c["endpoints"]) for c in p.creates] == [10]
    assert p.creates[0]["metadata"]["generateName"] == "web-"


def test_placeholder_is_kept_when_empty_and_reused_by_the_first_slice():
    """The placeholder slice: created for a Service without endpoints, kept as is while it stays empty, and
    finalize() turns the first real slice's create into an update of the placeholder (same name)."""
    s = svc()
    p = plan(s, [], [])
    [ph] = p.creates
    assert ph["endpoints"] == [] and ph["ports"] == [] and p.updates == [] and p.deletes == []
    ph["metadata"]["name"] = "web-ph"
    ph["endpoints"] = ph["ports"] = None   # as stored
    assert (plan(s, [], [ph]).creates, plan(s, [], [ph]).updates, plan(s, [], [ph]).deletes) == ([], [], [])
    p = plan(s, [pod("p0", "198.18.0.1")], [ph])
    assert p.creates == [] and p.deletes == []
    [u] = p.updates
    assert u["metadata"]["name"] == "web-ph" and [e["targetRef"]["name"] for e in u["endpoints"]] == ["p0"]


def test_conditions_terminating_serving_and_publish_not_ready():
    """podToEndpoint: a terminating Ready pod is serving but not ready; publishNotReadyAddresses makes every
    endpoint ready."""
    e = rec.pod_to_endpoint(pod("t", "198.18.0.9", deleting=True), NODE, svc(), "IPv4")
    assert e["conditions"] == {"ready": False, "serving": True, "terminating": True}
    e = rec.pod_to_endpoint(pod("u", "198.18.0.9", ready=False), NODE, svc(publishNotReadyAddresses=True), "IPv4")
    assert e["conditions"] == {"ready": True, "serving": False, "terminating": False}


def test_hostname_only_for_the_pods_subdomain_service():
    """ShouldSetHostname: hostname is published when the pod's subdomain names the Service."""
    p = pod("h", "198.18.0.9", hostname="h0", subdomain="web")
    assert rec.pod_to_endpoint(p, NODE, svc("web"), "IPv4")["hostname"] == "h0"
    assert "hostname" not in rec.pod_to_endpoint(p, NODE, svc("other"), "IPv4")


def test_labels_follow_the_service_and_mark_headless():
    """setEndpointSliceLabels: the Service's labels plus the reserved ones; headless without a ClusterIP; a
    changed Service label makes an otherwise unchanged slice an update."""
    labels, _ = rec.slice_labels(None, svc(clusterIP="None"))
    assert labels == {"team": "a", "service.kubernetes.io/headless": "", rec.LABEL_SERVICE_NAME: "web",
                      rec.LABEL_MANAGED_BY: rec.CONTROLLER_NAME}
    s = svc()
    a = existing("web-a", 1)
    s["metadata"]["labels"] = {"team": "b"}
    [u] = plan(s, [pod("p0", "198.18.0.1")], [a]).updates
    assert u["metadata"]["labels"]["team"] == "b"


def test_services_to_sync_after_a_label_change():
    """determineNeededServiceUpdates: labels only changed -> the Services matched before xor after; the pod
    changed too -> all of them; nothing an endpoint shows changed -> none."""
    web, other = svc("web"), svc("other")
    other["spec"]["selector"] = {"tier": "x"}
    old = pod("p", "198.18.0.1")
    new = pod("p", "198.18.0.1")
    new["metadata"]["labels"] = {"app": "web", "tier": "x"}
    assert rec.services_to_sync([web, other], old, new) == {"other"}
    new_unready = pod("p", "198.18.0.1", ready=False)
    new_unready["metadata"]["labels"] = {"app": "web", "tier": "x"}
    assert rec.services_to_sync([web, other], old, new_unready) == {"web", "other"}
    same = pod("p", "198.18.0.1")
    same["metadata"]["annotations"] = {"x": "y"}
    assert rec.services_to_sync([web, other], old, same) == set()


def test_trigger_time_tracks_ready_transitions():
    """ComputeEndpointLastChangeTriggerTime: first sync -> the Service's creation; then the earliest Ready
    transition newer than seen at the previous sync; nothing new -> no annotation."""
    s = svc()
    pods = [pod("a", "198.18.0.1", since="2026-01-01T00:05:00Z")]
    t, st = rec.trigger_time(None, s, pods)
    assert t == "2026-01-01T00:00:00Z"
    assert rec.trigger_time(st, s, pods)[0] is None
    pods2 = [pod("a", "198.18.0.1", since="2026-01-01T00:07:00Z"), pod("b", "198.18.0.2", since="2026-01-01T00:06:00Z")]
    assert rec.trigger_time(st, s, pods2)[0] == "2026-01-01T00:06:00Z"


def test_ipv6_family_service_takes_only_ipv6_addresses():
    """getAddressTypesForService and getEndpointAddresses: one address type per family of the Service."""
    s = svc(ipFamilies=["IPv6"], clusterIP="fd00::1")
    p = pod("v6", "198.18.0.1")
    p["status"]["podIPs"] = [{"ip": "198.18.0.1"}, {"ip": "fd00::5"}]
    plans, _ = rec.reconcile(s, [p], [], lambda n: NODE)
    [pl] = plans
    assert pl.address_type == "IPv6" and pl.creates[0]["endpoints"][0]["addresses"] == ["fd00::5"]
