"""discovery.k8s.io/v1 EndpointSlices in the API server simulator: the resource with its validation, and the
EndpointSlice controller as kube-controller-manager runs it.

Sources: pkg/controller/endpointslice/endpointslice_controller.go (syncService, the FailedToUpdateEndpointSlices
Event, back-off), staging/src/k8s.io/endpointslice (reconciler.go, utils.go podToEndpoint, util/controller_utils.go
ShouldPodBeInEndpoints), pkg/apis/discovery/validation (ValidateEndpointSlice, ValidateEndpointIP), the reference
note ../shared/k8s-reference/edge-cases-2026-12.md ("EndpointSlices refuse loopback pod IPs").
Pods are created directly and their status set through pods/status, as the kubelet would."""
from simlib import poll

NODE, ZONE = "es-node-a", "zone-a"
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"


def ts(minute):
    return f"2026-01-01T00:{minute:02d}:00Z"


def node(rest):
    r = rest.post("/api/v1/nodes", {"metadata": {"name": NODE, "labels": {"topology.kubernetes.io/zone": ZONE}}})
    assert r.status in (201, 409), r


def service(rest, ns, name, selector=None, **spec):
    body = {"metadata": {"name": name},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}], **spec}}
    if selector is not None:
        body["spec"]["selector"] = selector
    return rest.ok(rest.post(f"/api/v1/namespaces/{ns}/services", body))


def pod(rest, ns, name, ip, labels=None, ready=True, phase="Running", named_port=True, node_name=NODE, since=0):
    ports = [{"name": "http", "containerPort": 8080}] if named_port else []
    base = f"/api/v1/namespaces/{ns}/pods"
    rest.ok(rest.post(base, {"metadata": {"name": name, "labels": labels if labels is not None else {"app": "web"}},
                             "spec": {"nodeName": node_name,
                                      "containers": [{"name": "c", "image": "i", "ports": ports}]}}))
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                              "lastTransitionTime": ts(since)}]}
    if ip:
        status.update(podIP=ip, podIPs=[{"ip": ip}])
    return rest.ok(rest.patch(f"{base}/{name}/status", {"status": status}))


def set_ready(rest, ns, name, ready, since):
    rest.ok(rest.patch(f"/api/v1/namespaces/{ns}/pods/{name}/status", {"status": {"conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ts(since)}]}}))


def slices(rest, ns, svc):
    return rest.ok(rest.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                            labelSelector=f"{SERVICE_NAME}={svc}"))["items"]


def endpoints(rest, ns, svc):
    """pod name -> endpoint, over all the Service's slices (each pod at most once)."""
    out = {}
    for s in slices(rest, ns, svc):
        for ep in s.get("endpoints") or []:
            name = ep["targetRef"]["name"]
            assert name not in out, f"{name} in two slices"
            out[name] = ep
    return out


def wait_endpoints(rest, ns, svc, pred, what):
    return poll(lambda: (lambda e: e if pred(e) else None)(endpoints(rest, ns, svc)), 10, what)


def conditions(ep):
    c = ep["conditions"]
    return c["ready"], c["serving"], c["terminating"]


def test_slice_holds_the_selected_pods_as_the_real_controller_writes_it(rest, sim_ns):
    """podToEndpoint/newEndpointSlice: one IPv4 slice named <service>-xxxxx, owned by the Service, labelled
    service-name/managed-by; named targetPort resolved per pod; terminal, IP-less and unselected pods left out;
    the first sync of a new Service stamps its creationTimestamp as last-change-trigger-time."""
    node(rest)
    p1 = pod(rest, sim_ns, "p1", "198.18.0.11")
    pod(rest, sim_ns, "p2", "198.18.0.12", ready=False)
    pod(rest, sim_ns, "done", "198.18.0.13", phase="Succeeded", ready=False)
    pod(rest, sim_ns, "no-ip", None)
    pod(rest, sim_ns, "other", "198.18.0.14", labels={"app": "other"})
    svc = service(rest, sim_ns, "web", {"app": "web"})
    eps = wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"p1", "p2"}, "p1 and p2 in the slice")
    [s] = slices(rest, sim_ns, "web")
    md = s["metadata"]
    assert md["generateName"] == "web-" and md["name"].startswith("web-") and len(md["name"]) == 9
    assert md["labels"] == {SERVICE_NAME: "web", MANAGED_BY: "endpointslice-controller.k8s.io"}
    assert md["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                      "uid": svc["metadata"]["uid"], "controller": True,
                                      "blockOwnerDeletion": True}]
    assert md["annotations"] == {TRIGGER: svc["metadata"]["creationTimestamp"]}
    assert md["generation"] >= 1
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]
    assert eps["p1"] == {"addresses": ["198.18.0.11"],
                         "conditions": {"ready": True, "serving": True, "terminating": False},
                         "targetRef": {"kind": "Pod", "namespace": sim_ns, "name": "p1",
                                       "uid": p1["metadata"]["uid"]},
                         "nodeName": NODE, "zone": ZONE}
    assert conditions(eps["p2"]) == (False, False, False)


def test_readiness_and_graceful_deletion_show_in_conditions_and_watch(rest, sim_ns):
    """ready = Ready and not terminating; serving = Ready regardless of terminating; terminating = deletionTimestamp
    (podToEndpoint, includeTerminating=true); every change is a write that watches see (MODIFIED)."""
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    pod(rest, sim_ns, "a", "198.18.0.21")
    pod(rest, sim_ns, "b", "198.18.0.22")
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"a", "b"}, "a and b")
    rv = rest.get(f"/apis/discovery.k8s.io/v1/namespaces/{sim_ns}/endpointslices").body["metadata"]["resourceVersion"]
    w = rest.watch(f"/apis/discovery.k8s.io/v1/namespaces/{sim_ns}/endpointslices", resourceVersion=rv)
    try:
        set_ready(rest, sim_ns, "a", False, since=5)
        ev = w.until(lambda e: e["type"] == "MODIFIED" and any(
            x["targetRef"]["name"] == "a" and not x["conditions"]["serving"] for x in e["object"]["endpoints"]))
        assert ev["object"]["metadata"]["annotations"][TRIGGER] == ts(5), "the Ready transition triggered it"
        assert conditions(endpoints(rest, sim_ns, "web")["a"]) == (False, False, False)
        set_ready(rest, sim_ns, "a", True, since=6)
        wait_endpoints(rest, sim_ns, "web", lambda e: conditions(e["a"]) == (True, True, False), "a ready again")
        r = rest.delete(f"/api/v1/namespaces/{sim_ns}/pods/a", {"gracePeriodSeconds": 30})
        assert r.status == 200 and r.body["metadata"]["deletionTimestamp"]
        ev = w.until(lambda e: e["type"] == "MODIFIED" and any(
            x["targetRef"]["name"] == "a" and x["conditions"]["terminating"] for x in e["object"]["endpoints"]))
        a = next(x for x in ev["object"]["endpoints"] if x["targetRef"]["name"] == "a")
        assert conditions(a) == (False, True, True), "terminating and still serving"
        rest.ok(rest.delete(f"/api/v1/namespaces/{sim_ns}/pods/a", {"gracePeriodSeconds": 0}))
        w.until(lambda e: e["type"] == "MODIFIED" and
                [x["targetRef"]["name"] for x in e["object"]["endpoints"]] == ["b"])
    finally:
        w.close()


def test_pod_whose_labels_no_longer_match_leaves_the_slice(rest, sim_ns):
    """GetServicesToUpdateOnPodChange: a label change syncs the Services the pod matched before."""
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    pod(rest, sim_ns, "stay", "198.18.0.31")
    pod(rest, sim_ns, "go", "198.18.0.32")
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"stay", "go"}, "both")
    rest.ok(rest.patch(f"/api/v1/namespaces/{sim_ns}/pods/go", {"metadata": {"labels": {"app": None}}}))
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"stay"}, "go removed")


def test_pod_without_the_named_port_gets_a_slice_of_its_own(rest, sim_ns):
    """getEndpointPorts leaves out a port FindPort cannot resolve; slices group endpoints by their port list."""
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    pod(rest, sim_ns, "named", "198.18.0.41")
    pod(rest, sim_ns, "unnamed", "198.18.0.42", named_port=False)
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"named", "unnamed"}, "both")
    by_pod = {ep["targetRef"]["name"]: s["ports"] for s in slices(rest, sim_ns, "web") for ep in s["endpoints"]}
    assert by_pod == {"named": [{"name": "http", "protocol": "TCP", "port": 8080}], "unnamed": None}


def test_more_than_100_endpoints_are_split_across_slices(rest, sim_ns):
    """maxEndpointsPerSlice 100 (kube-controller-manager default): 150 pods -> 100 + 50."""
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    for i in range(150):
        pod(rest, sim_ns, f"p{i}", f"198.18.1.{i + 1}")
    wait_endpoints(rest, sim_ns, "web", lambda e: len(e) == 150, "150 endpoints")
    assert sorted(len(s["endpoints"]) for s in slices(rest, sim_ns, "web")) == [50, 100]


def test_loopback_pod_ip_is_refused_with_a_warning_event_and_retried(rest, sim_ns):
    """A real cluster refuses a slice with a 127.x address (ValidateEndpointIP); the controller records Warning
    FailedToUpdateEndpointSlices on the Service and retries with back-off (1 s, 2 s, ...). Once the pod is gone the
    sync succeeds (an empty placeholder slice)."""
    node(rest)
    pod(rest, sim_ns, "lo", "127.205.0.3")
    svc = service(rest, sim_ns, "web", {"app": "web"})
    evs = f"/api/v1/namespaces/{sim_ns}/events"

    def failed():
        items = rest.get(evs, fieldSelector="reason=FailedToUpdateEndpointSlices").body["items"]
        return items[0] if items else None
    ev = poll(failed, 10, "FailedToUpdateEndpointSlices event")
    name = ev["message"].split('EndpointSlice.discovery.k8s.io "')[1].split('"')[0]
    assert name.startswith("web-")
    assert ev["message"] == (
        f"Error updating Endpoint Slices for Service {sim_ns}/web: failed to create EndpointSlice for Service "
        f'{sim_ns}/web: EndpointSlice.discovery.k8s.io "{name}" is invalid: endpoints[0].addresses[0]: Invalid '
        'value: "127.205.0.3": may not be in the loopback range (127.0.0.0/8, ::1/128)')
    assert ev["type"] == "Warning" and ev["source"] == {"component": "endpoint-slice-controller"}
    assert ev["involvedObject"]["kind"] == "Service" and ev["involvedObject"]["uid"] == svc["metadata"]["uid"]
    assert slices(rest, sim_ns, "web") == []
    # the retry creates under a new generated name, so its Event has another message: a second Event
    poll(lambda: len(rest.get(evs, fieldSelector="reason=FailedToUpdateEndpointSlices").body["items"]) >= 2, 10,
         "a retry after back-off")
    rest.ok(rest.delete(f"/api/v1/namespaces/{sim_ns}/pods/lo", {"gracePeriodSeconds": 0}))
    poll(lambda: [s["endpoints"] for s in slices(rest, sim_ns, "web")] == [None], 10, "placeholder slice")


def test_pod_on_a_missing_node_is_skipped_with_an_event(rest, sim_ns):
    """reconcileByAddressType: a pod whose Node does not exist is left out and the sync fails (retried)."""
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    pod(rest, sim_ns, "here", "198.18.0.51")
    pod(rest, sim_ns, "lost", "198.18.0.52", node_name="es-no-such-node")
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"here"}, "only the pod on a known node")
    ev = poll(lambda: rest.get(f"/api/v1/namespaces/{sim_ns}/events",
                               fieldSelector="reason=FailedToUpdateEndpointSlices").body["items"], 10, "event")[0]
    assert ev["message"] == (f"Error updating Endpoint Slices for Service {sim_ns}/web: skipping Pod lost for "
                             f"Service {sim_ns}/web: Node es-no-such-node Not Found")


def test_service_deleted_its_slices_are_garbage_collected(rest, sim_ns):
    """The slices' controller ownerReference makes the garbage collector delete them with the Service."""
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    pod(rest, sim_ns, "p", "198.18.0.61")
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"p"}, "p")
    rest.ok(rest.delete(f"/api/v1/namespaces/{sim_ns}/services/web"))
    poll(lambda: slices(rest, sim_ns, "web") == [], 10, "slices collected")


def test_services_without_selector_or_external_name_get_no_slices(rest, sim_ns):
    """syncService returns early for ExternalName and selector-less Services; a Service created after them (synced
    after them) is the witness that they were processed."""
    node(rest)
    pod(rest, sim_ns, "p", "198.18.0.71")
    service(rest, sim_ns, "a-none")
    service(rest, sim_ns, "a-ext", {"app": "web"}, type="ExternalName", externalName="db.example.com")
    service(rest, sim_ns, "z-witness", {"app": "web"})
    wait_endpoints(rest, sim_ns, "z-witness", lambda e: set(e) == {"p"}, "witness slice")
    assert slices(rest, sim_ns, "a-none") == [] and slices(rest, sim_ns, "a-ext") == []


def test_validation_refuses_what_the_real_server_refuses(rest, sim_ns):
    """ValidateEndpointSlice: addressType required/supported, addresses valid for their type and routable (not
    loopback, link-local, unspecified), at most 1000 endpoints, ports unique with a known protocol; addressType
    immutable."""
    base = f"/apis/discovery.k8s.io/v1/namespaces/{sim_ns}/endpointslices"

    def create(name, **fields):
        return rest.post(base, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                "metadata": {"name": name}, **fields})
    r = create("bad", addressType="IPv4", endpoints=[{"addresses": ["127.0.0.1"]}, {"addresses": ["::1"]},
                                                     {"addresses": ["169.254.1.1"]}, {"addresses": []}],
               ports=[{"name": "x", "port": 1}, {"name": "x", "port": 2, "protocol": "HTTP"}])
    assert r.status == 422 and r.body["reason"] == "Invalid"
    assert r.body["message"] == (
        'EndpointSlice.discovery.k8s.io "bad" is invalid: [endpoints[0].addresses[0]: Invalid value: "127.0.0.1": '
        'may not be in the loopback range (127.0.0.0/8, ::1/128), endpoints[1].addresses[0]: Invalid value: '
        '"::1": must be a valid IPv4 address, endpoints[1].addresses[0]: Invalid value: "::1": may not be in the '
        'loopback range (127.0.0.0/8, ::1/128), endpoints[2].addresses[0]: Invalid value: "169.254.1.1": may not '
        'be in the link-local range (169.254.0.0/16, fe80::/10), endpoints[3].addresses: Required value: must '
        'contain at least 1 address, ports[1].name: Duplicate value: "x", ports[1].protocol: Unsupported value: '
        '"HTTP": supported values: "SCTP", "TCP", "UDP"]')
    r = create("none")
    assert r.status == 422 and r.body["message"] == \
        'EndpointSlice.discovery.k8s.io "none" is invalid: addressType: Required value'
    r = create("many", addressType="IPv4", endpoints=[{"addresses": ["198.18.0.1"]}] * 1001)
    assert r.status == 422 and r.body["message"].endswith("endpoints: Too many: 1001: must have at most 1000 items")
    ok = rest.ok(create("good", addressType="IPv4", endpoints=[{"addresses": ["198.18.0.1"]}], ports=[{"port": 80}]))
    assert ok["ports"] == [{"name": "", "protocol": "TCP", "port": 80}] and ok["metadata"]["generation"] == 1
    ok["addressType"] = "IPv6"
    ok["endpoints"] = [{"addresses": ["fd00::1"]}]
    r = rest.put(base + "/good", ok)
    assert r.status == 422 and 'addressType: Invalid value: "IPv6": field is immutable' in r.body["message"]


def test_discovery_and_kubectl_get(rest, kubectl, sim_ns):
    """The group in discovery (legacy list) and the columns of `kubectl get endpointslices` (printEndpointSlice:
    NAME ADDRESSTYPE PORTS ENDPOINTS AGE)."""
    res = rest.ok(rest.get("/apis/discovery.k8s.io/v1"))["resources"]
    es = next(r for r in res if r["name"] == "endpointslices")
    assert es["namespaced"] and es["kind"] == "EndpointSlice" and "watch" in es["verbs"]
    agg = rest.ok(rest.request("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}))
    [group] = [g for g in agg["items"] if g["metadata"]["name"] == "discovery.k8s.io"]
    [res] = [r for v in group["versions"] if v["version"] == "v1" for r in v["resources"]
             if r["resource"] == "endpointslices"]
    assert res["scope"] == "Namespaced" and res["responseKind"]["kind"] == "EndpointSlice"
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    for i in range(4):
        pod(rest, sim_ns, f"k{i}", f"198.18.2.{i + 1}")
    wait_endpoints(rest, sim_ns, "web", lambda e: len(e) == 4, "4 endpoints")
    lines = kubectl("get", "endpointslices", "-n", sim_ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    cells = lines[1].split()
    assert cells[1:4] + cells[4:7] == ["IPv4", "8080", "198.18.2.1,198.18.2.2,198.18.2.3", "+", "1", "more..."]


def test_a_managed_slice_changed_by_a_client_is_put_back(rest, sim_ns):
    """onEndpointSliceDelete/onEndpointSliceUpdate: a change to a managed slice not made by the controller queues
    its Service (after endpointSliceChangeMinSyncDelay, 1 s); the sync writes the slices back."""
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    pod(rest, sim_ns, "p", "198.18.0.81")
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"p"}, "p")
    [s] = slices(rest, sim_ns, "web")
    base = f"/apis/discovery.k8s.io/v1/namespaces/{sim_ns}/endpointslices"
    rest.ok(rest.patch(f"{base}/{s['metadata']['name']}", {"endpoints": None}))
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"p"}, "endpoint written back")
    rest.ok(rest.delete(f"{base}/{s['metadata']['name']}"))
    again = poll(lambda: slices(rest, sim_ns, "web"), 10, "a slice again")
    assert again[0]["metadata"]["name"] != s["metadata"]["name"]
    assert [e["targetRef"]["name"] for e in again[0]["endpoints"]] == ["p"]


def test_service_selector_change_moves_the_endpoints(rest, sim_ns):
    """onServiceUpdate queues the Service: a new selector selects other pods."""
    node(rest)
    service(rest, sim_ns, "web", {"app": "web"})
    pod(rest, sim_ns, "w", "198.18.0.91")
    pod(rest, sim_ns, "o", "198.18.0.92", labels={"app": "other"})
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"w"}, "w")
    rest.ok(rest.patch(f"/api/v1/namespaces/{sim_ns}/services/web", {"spec": {"selector": {"app": "other"}}}))
    wait_endpoints(rest, sim_ns, "web", lambda e: set(e) == {"o"}, "o instead of w")
