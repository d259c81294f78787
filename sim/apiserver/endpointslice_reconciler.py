"""What a Service's EndpointSlices should be: pure decisions of kube-controller-manager's EndpointSlice reconciler.

Sources (kubernetes/kubernetes, release 1.32): staging/src/k8s.io/endpointslice/reconciler.go (Reconcile,
reconcileByAddressType, reconcileByPortMapping, finalize's create->update folding, the placeholder slice),
utils.go (podToEndpoint, getEndpointPorts, FindPort, getAddressTypesForService, setEndpointSliceLabels,
newEndpointSlice, getSliceToFill), util/controller_utils.go (ShouldPodBeInEndpoints with includeTerminating=true,
podEndpointsChanged, determineNeededServiceUpdates), util/trigger_time_tracker.go.

Contracts:
* `reconcile(svc, pods, slices, node_of)` -> [Plan] (one per address type the Service has) and the slices of
  address types it no longer has. It reads nothing but its arguments; the controller performs the writes.
* Endpoints are keyed as the real EndpointSet keys them (addresses, hostname, targetRef namespace/name); an
  existing endpoint whose other fields (conditions, nodeName, zone, targetRef) differ makes its slice an update.
* Slices group endpoints by their resolved port list: a pod whose named targetPort does not resolve gets a port
  list without that port, hence a slice of its own. At most `max_per_slice` (100) endpoints per slice.
* Iteration is deterministic (pods by name, slices by name) where the real one uses map order.
"""
import datetime

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
MAX_ENDPOINTS_PER_SLICE = 100   # kube-controller-manager --max-endpoints-per-slice default
_RESERVED = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)


class Plan:
    """Writes for one address type, in the order finalize() makes them: creates, updates, deletes."""

    def __init__(self, address_type, creates, updates, deletes, errors):
        self.address_type = address_type
        self.creates, self.updates, self.deletes, self.errors = creates, updates, deletes, errors


# ---- pods ---------------------------------------------------------------------------------------------------
def pod_ready(pod):
    """IsPodReady: the Ready condition is True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _ready_transition(pod):
    c = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    return (c or {}).get("lastTransitionTime") or None


def pod_ips(pod):
    """status.podIPs; a status carrying only podIP counts as podIPs [podIP], as the v1 conversion makes it on the
    real server (Convert_v1_PodStatus_To_core_PodStatus)."""
    st = pod.get("status") or {}
    ips = [p.get("ip") for p in st.get("podIPs") or [] if p.get("ip")]
    return ips or ([st["podIP"]] if st.get("podIP") else [])


def should_be_in_endpoints(pod):
    """ShouldPodBeInEndpoints(pod, includeTerminating=true): not terminal (Succeeded/Failed) and has an IP."""
    st = pod.get("status") or {}
    return st.get("phase") not in ("Succeeded", "Failed") and bool(st.get("podIP") or st.get("podIPs"))


def selector_matches(selector, labels):
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def endpoints_changed(old, new):
    """podEndpointsChanged -> (pod changed for its endpoint, labels/hostname changed)."""
    om, nm = old["metadata"], new["metadata"]
    labels_changed = (om.get("labels") or {}) != (nm.get("labels") or {}) or any(
        (old.get("spec") or {}).get(f) != (new.get("spec") or {}).get(f) for f in ("hostname", "subdomain"))
    pod_changed = (om.get("deletionTimestamp") != nm.get("deletionTimestamp") or pod_ready(old) != pod_ready(new)
                   or pod_ips(old) != pod_ips(new))
    return pod_changed, labels_changed


def services_to_sync(services, old, new):
    """GetServicesToUpdateOnPodChange: names of the Services (of the pod's namespace) to sync after a pod event
    (old None: added; new None: deleted)."""
    def matching(pod):
        return {s["metadata"]["name"] for s in services
                if (s.get("spec") or {}).get("selector")
                and selector_matches(s["spec"]["selector"], pod["metadata"].get("labels"))}
    if old is None or new is None:
        return matching(new or old)
    pod_changed, labels_changed = endpoints_changed(old, new)
    if not labels_changed:
        return matching(new) if pod_changed else set()
    cur, prev = matching(new), matching(old)
    return cur | prev if pod_changed else cur ^ prev


# ---- endpoints ----------------------------------------------------------------------------------------------
def _is_v6(ip):
    return ":" in ip


def address_types(svc):
    """getAddressTypesForService: from spec.ipFamilies, else the ClusterIP's family, else both (headless)."""
    spec = svc.get("spec") or {}
    fams = spec.get("ipFamilies") or []
    out = [t for f, t in (("IPv4", "IPv4"), ("IPv6", "IPv6")) if f in fams]
    if out:
        return out
    ip = spec.get("clusterIP") or ""
    if ip and ip != "None":
        return ["IPv6" if _is_v6(ip) else "IPv4"]
    return ["IPv4", "IPv6"]


def find_port(pod, svc_port):
    """FindPort: a numeric targetPort as is; a named one from the containers' (and restartable init containers')
    ports of the same name and protocol; None when it does not resolve."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target   # a JSON string, even "8080", is a port name (intstr.String), as in FindPort
    proto = svc_port.get("protocol", "TCP")
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + [c for c in spec.get("initContainers") or []
                                                        if c.get("restartPolicy") == "Always"]
    for c in containers:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == proto:
                return p.get("containerPort")
    return None


def endpoint_ports(svc, pod):
    """getEndpointPorts: the Service's ports resolved against the pod; unresolvable ones are left out."""
    spec = svc.get("spec") or {}
    out = []
    for sp in spec.get("ports") or []:
        n = find_port(pod, sp)
        if n is None:
            continue
        p = {"name": sp.get("name") or "", "protocol": sp.get("protocol", "TCP"), "port": n}
        if sp.get("appProtocol") is not None:
            p["appProtocol"] = sp["appProtocol"]
        out.append(p)
    return out


def port_key(ports):
    """NewPortMapKey: the port list as an order-independent key."""
    return tuple(sorted(tuple(sorted(p.items())) for p in ports or []))


def pod_to_endpoint(pod, node, svc, address_type):
    """podToEndpoint: serving = Ready; terminating = deletionTimestamp set; ready = serving and not terminating
    (or publishNotReadyAddresses); targetRef to the pod; nodeName; zone from the node's topology label."""
    md, spec = pod["metadata"], pod.get("spec") or {}
    sspec = svc.get("spec") or {}
    serving = pod_ready(pod)
    terminating = bool(md.get("deletionTimestamp"))
    ready = bool(sspec.get("publishNotReadyAddresses")) or (serving and not terminating)
    addrs = [ip for ip in pod_ips(pod) if _is_v6(ip) == (address_type == "IPv6")]
    ep = {"addresses": addrs, "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"] and \
            md.get("namespace") == svc["metadata"].get("namespace"):
        ep["hostname"] = spec["hostname"]
    ep["targetRef"] = {"kind": "Pod", "namespace": md.get("namespace"), "name": md["name"], "uid": md.get("uid")}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get("topology.kubernetes.io/zone")
    if zone:
        ep["zone"] = zone
    return ep


def endpoint_key(ep):
    """The EndpointSet hash: addresses, hostname and the target's namespace/name."""
    ref = ep.get("targetRef") or {}
    return (tuple(sorted(ep.get("addresses") or [])), ep.get("hostname"), ref.get("namespace"), ref.get("name"))


def _same_beyond_key(a, b):
    """EndpointsEqualBeyondHash (targetRef compared without resourceVersion)."""
    def norm(ep):
        ref = {k: v for k, v in (ep.get("targetRef") or {}).items() if k != "resourceVersion"}
        return (ep.get("nodeName"), ep.get("zone"), ep.get("conditions") or {}, ref)
    return norm(a) == norm(b)


# ---- slices -------------------------------------------------------------------------------------------------
def slice_labels(existing, svc):
    """setEndpointSliceLabels -> (labels, changed): the Service's labels (reserved keys skipped), the headless
    label when the Service has no ClusterIP, the service-name and managed-by labels."""
    ep_labels = {k: v for k, v in ((existing or {}).get("metadata", {}).get("labels") or {}).items()
                 if k not in _RESERVED}
    svc_labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items() if k not in _RESERVED}
    changed = ep_labels != svc_labels
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    if not ip or ip == "None":
        svc_labels[LABEL_HEADLESS] = ""
    svc_labels[LABEL_SERVICE_NAME] = svc["metadata"]["name"]
    svc_labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return svc_labels, changed


def owned_by(slice_, svc):
    return any(o.get("uid") == svc["metadata"].get("uid") and o.get("kind") == "Service" and
               o.get("apiVersion") == "v1" for o in slice_["metadata"].get("ownerReferences") or [])


def new_slice(svc, ports, address_type):
    """newEndpointSlice: generateName `<service>-`, controller ownerReference to the Service, no endpoints yet."""
    md = svc["metadata"]
    labels, _ = slice_labels(None, svc)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{md['name']}-", "namespace": md.get("namespace"), "labels": labels,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": md["name"],
                                              "uid": md.get("uid"), "controller": True,
                                              "blockOwnerDeletion": True}]},
            "addressType": address_type, "endpoints": [], "ports": ports}


def _is_placeholder_of(s, placeholder):
    """placeholderSliceCompare: same namespace, labels, owners and address type, no endpoints and no ports."""
    return (s["metadata"].get("namespace") == placeholder["metadata"]["namespace"]
            and (s["metadata"].get("labels") or {}) == placeholder["metadata"]["labels"]
            and [{k: o.get(k) for k in ("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")}
                 for o in s["metadata"].get("ownerReferences") or []] == placeholder["metadata"]["ownerReferences"]
            and s.get("addressType") == placeholder["addressType"]
            and not s.get("endpoints") and not s.get("ports"))


def _copy(s):
    """A copy of a stored slice whose metadata and endpoint list may be replaced (nested values stay shared and
    are never mutated)."""
    out = dict(s)
    out["metadata"] = dict(s["metadata"])
    out["endpoints"] = list(s.get("endpoints") or [])
    return out


def _by_port_mapping(svc, existing, desired, ports, max_per_slice):
    """reconcileByPortMapping -> (creates, updates, deletes). `desired` ({key: endpoint}) is consumed."""
    by_name = {s["metadata"]["name"]: s for s in existing}
    unchanged, to_update, to_delete = [], [], []
    for s in existing:
        kept, updated = [], False
        for ep in s.get("endpoints") or []:
            got = desired.pop(endpoint_key(ep), None)
            if got is not None:
                kept.append(got)
                updated = updated or not _same_beyond_key(got, ep)
        labels, labels_changed = slice_labels(s, svc)
        name = s["metadata"]["name"]
        if updated or len(kept) != len(s.get("endpoints") or []):
            if not kept:
                to_delete.append(name)
                continue
            cur = _copy(s)
            cur["endpoints"], cur["metadata"]["labels"] = kept, labels
            by_name[name] = cur
            to_update.append(name)
        elif labels_changed:
            cur = _copy(s)
            cur["metadata"]["labels"] = labels
            by_name[name] = cur
            to_update.append(name)
        else:
            unchanged.append(name)
    pending = list(desired.values())
    if pending and to_update:
        for name in sorted(to_update, key=lambda n: -len(by_name[n]["endpoints"])):
            room = max_per_slice - len(by_name[name]["endpoints"])
            by_name[name]["endpoints"] += pending[:max(room, 0)]
            pending = pending[max(room, 0):]
    creates = []
    while pending:
        fill = None
        if len(pending) < max_per_slice and unchanged:
            fits = [n for n in unchanged if len(by_name[n].get("endpoints") or []) + len(pending) <= max_per_slice]
            if fits:   # getSliceToFill: the one closest to full
                name = max(fits, key=lambda n: len(by_name[n].get("endpoints") or []))
                fill = by_name[name] = _copy(by_name[name])
        if fill is None:
            fill = new_slice(svc, ports, None)
        room = max_per_slice - len(fill["endpoints"])
        fill["endpoints"] += pending[:room]
        pending = pending[room:]
        name = fill["metadata"].get("name")
        if name:
            to_update.append(name)
            unchanged.remove(name)
        else:
            creates.append(fill)
    return creates, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]


def _by_address_type(svc, pods, existing, address_type, node_of, max_per_slice, memo):
    md = svc["metadata"]
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    by_ports, deletes, errors = {}, [], []
    for s in existing:
        if owned_by(s, svc):
            by_ports.setdefault(port_key(s.get("ports")), []).append(s)
        else:
            deletes.append(s)
    desired, desired_ports = {}, {}
    seen = set()
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        if not should_be_in_endpoints(pod):
            continue
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = node_of(node_name)
        mkey = (pod["metadata"].get("uid"), address_type)
        stamp = (pod["metadata"].get("resourceVersion"), md.get("resourceVersion"),
                 (node or {}).get("metadata", {}).get("resourceVersion"))
        seen.add(mkey)
        hit = memo.get(mkey)
        if hit is None or hit[0] != stamp:
            ports = endpoint_ports(svc, pod)
            hit = memo[mkey] = (stamp, ports, port_key(ports), pod_to_endpoint(pod, node, svc, address_type))
        _stamp, ports, key, ep = hit
        desired.setdefault(key, {})
        desired_ports.setdefault(key, ports)
        if node is None and not publish:
            errors.append(f"skipping Pod {pod['metadata']['name']} for Service {md.get('namespace')}/{md['name']}: "
                          f"Node {node_name} Not Found")
            continue
        if ep["addresses"]:
            desired[key][endpoint_key(ep)] = ep
    for mkey in [k for k in memo if k[1] == address_type and k not in seen]:
        del memo[mkey]
    creates, updates = [], []
    for key, eps in desired.items():
        c, u, d = _by_port_mapping(svc, by_ports.get(key, []), eps, desired_ports[key], max_per_slice)
        creates += c
        updates += u
        deletes += d
    for key, slices in by_ports.items():
        if key not in desired:
            deletes += slices
    for s in creates:
        s["addressType"] = address_type
    if len(existing) == len(deletes) and not creates:
        placeholder = new_slice(svc, [], address_type)
        if len(deletes) == 1 and _is_placeholder_of(deletes[0], placeholder):
            deletes = []
        else:
            creates.append(placeholder)
    # finalize(): a slice about to be deleted is reused (same name) for a slice about to be created
    i = 0
    while i < len(deletes) and creates:
        d = deletes[i]
        if d.get("addressType") == creates[-1]["addressType"] and owned_by(d, svc):
            s = creates.pop()
            s["metadata"]["name"] = d["metadata"]["name"]
            updates.append(s)
            deletes.pop(i)
        else:
            i += 1
    return Plan(address_type, creates, updates, deletes, errors)


def reconcile(svc, pods, slices, node_of, max_per_slice=MAX_ENDPOINTS_PER_SLICE, memo=None):
    """Reconcile: -> ([Plan per address type], [slices of address types the Service no longer has]).
    `pods`: the pods matching the selector; `slices`: the Service's managed, non-deleting slices;
    `node_of(name)`: the Node or None. `memo` (optional, kept by the caller per Service between calls) holds each
    pod's endpoint and ports by the resourceVersions of pod, Service and Node, so an unchanged pod costs a lookup;
    the endpoints it returns are shared with later calls and must not be mutated."""
    memo = {} if memo is None else memo
    types = address_types(svc)
    stale = [s for s in slices if s.get("addressType") not in types]
    plans = [_by_address_type(svc, pods, [s for s in slices if s.get("addressType") == t], t, node_of,
                              max_per_slice, memo) for t in types]
    return plans, stale


# ---- trigger time -------------------------------------------------------------------------------------------
def _ts(s):
    return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S") if s else None


def trigger_time(state, svc, pods):
    """ComputeEndpointLastChangeTriggerTime -> (annotation value or None, new state). `state` is None for a
    Service not synced before (then: its creationTimestamp); otherwise the earliest Ready-condition transition
    (or Service creation) newer than at the previous sync, None when nothing changed."""
    pod_times = {p["metadata"]["name"]: _ready_transition(p) for p in pods if _ready_transition(p)}
    svc_time = svc["metadata"].get("creationTimestamp")
    new_state = (svc_time, pod_times)
    if state is None:
        return svc_time, new_state
    last_svc, last_pods = state
    changed = [t for n, t in pod_times.items() if last_pods.get(n) is None or _ts(t) > _ts(last_pods[n])]
    if svc_time and (last_svc is None or _ts(svc_time) > _ts(last_svc)):
        changed.append(svc_time)
    return (min(changed, key=_ts) if changed else None), new_state


def set_trigger_time(slice_, value):
    """addTriggerTimeAnnotation: set it, or remove it when there is no new trigger time."""
    ann = dict(slice_["metadata"].get("annotations") or {})
    if value:
        ann[TRIGGER_TIME] = value
    else:
        ann.pop(TRIGGER_TIME, None)
    if ann:
        slice_["metadata"]["annotations"] = ann
    else:
        slice_["metadata"].pop("annotations", None)
