"""Built-in defaulting and validation (the subset of kube-apiserver's strategies the simulator needs).

`default_on_create(rt, obj, store)` fills server defaults; `validate(rt, obj, old)` returns Causes (422);
`check_microtime(rt, obj)` raises the 400 decode error for MicroTime fields without 6 fractional digits."""
import base64
import datetime
import functools
import ipaddress
import random
import re

from .errors import ApiError, Cause, forbidden, gojson, invalid_value, not_supported, required

DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SUB_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
           "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
             "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")

# resource key -> dotted paths of MicroTime fields
MICROTIME_FIELDS = {
    "coordination.k8s.io/leases": ["spec.acquireTime", "spec.renewTime"],
    "events.k8s.io/events": ["eventTime", "series.lastObservedTime"],
    "/events": ["eventTime", "series.lastObservedTime"],
}


def _get(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def _set(obj, path, v):
    parts = path.split(".")
    cur = obj
    for p in parts[:-1]:
        cur = cur[p]
    cur[parts[-1]] = v


def microtime_error(rt, obj):
    """Return (message) for the first bad MicroTime field, normalising valid offsets to UTC in place."""
    for path in MICROTIME_FIELDS.get(rt.ident, []):
        v = _get(obj, path)
        if v is None:
            continue
        if not isinstance(v, str) or not MICRO.match(v):
            m = re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", v if isinstance(v, str) else "")
            rest = v[m.end():] if m else v
            return (f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: parsing time {v!r} as '
                    f'"2006-01-02T15:04:05.000000Z07:00": cannot parse "{rest}" as ".000000"').replace("'", '"')
        if not v.endswith("Z"):
            t = datetime.datetime.strptime(v[:-6] + v[-6:].replace(":", ""), "%Y-%m-%dT%H:%M:%S.%f%z")
            _set(obj, path, t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return None


def check_microtime(rt, obj):
    msg = microtime_error(rt, obj)
    if msg:
        raise ApiError(400, "BadRequest", msg)


def _image_policy(image):
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    if ":" not in tail or tail.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _default_containers(cs):
    for c in cs or []:
        c.setdefault("resources", {})
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("imagePullPolicy", _image_policy(c.get("image", "")))
        for p in c.get("ports") or []:
            p.setdefault("protocol", "TCP")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            pr = c.get(probe)
            if isinstance(pr, dict):
                for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                             ("failureThreshold", 3)):
                    pr.setdefault(k, v)
                if isinstance(pr.get("httpGet"), dict):
                    pr["httpGet"].setdefault("path", "/")
                    pr["httpGet"].setdefault("scheme", "HTTP")


def normalize(rt, obj):
    """Conversions the real API server makes on every write: a Secret's stringData is merged into data (base64),
    over keys of the same name, and is never stored; EndpointSlice ports get their v1 defaults (name "", protocol
    TCP: SetDefaults_EndpointPort in pkg/apis/discovery/v1/defaults.go) and, as their `endpoints` and `ports` have
    no omitempty, an empty or missing list reads back as null (etcd's protobuf keeps no empty list)."""
    if rt.ident == "discovery.k8s.io/endpointslices":
        obj["endpoints"] = obj.get("endpoints") or None
        obj["ports"] = obj.get("ports") or None
        for p in obj.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("name", "")
                p.setdefault("protocol", "TCP")
    if rt.ident == "/secrets" and isinstance(obj.get("stringData"), dict):
        data = obj.get("data") or {}
        for k, v in obj.pop("stringData").items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data


def default_on_create(rt, obj, store):
    key = rt.ident
    if key == "/pods":
        spec = obj.setdefault("spec", {})
        _default_containers(spec.get("containers"))
        _default_containers(spec.get("initContainers"))
        for k, v in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                     ("dnsPolicy", "ClusterFirst"), ("securityContext", {}), ("schedulerName", "default-scheduler"),
                     ("enableServiceLinks", True), ("preemptionPolicy", "PreemptLowerPriority"), ("priority", 0)):
            spec.setdefault(k, v)
        spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        tol = spec.setdefault("tolerations", [])
        for t in ("not-ready", "unreachable"):
            k = f"node.kubernetes.io/{t}"
            if not any(x.get("key") == k for x in tol):
                tol.append({"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
        st = obj.setdefault("status", {})
        st.setdefault("phase", "Pending")
        st.setdefault("qosClass", "BestEffort")
    elif key == "/services":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec.get("clusterIP") != "None" and spec["type"] != "ExternalName":
            ip = spec.get("clusterIP") or f"10.96.{random.randint(0, 255)}.{random.randint(1, 254)}"
            spec["clusterIP"] = ip
            spec.setdefault("clusterIPs", [ip])
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        obj.setdefault("status", {"loadBalancer": {}})
    elif key == "/namespaces":
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    elif key == "/secrets":
        obj.setdefault("type", "Opaque")
    elif key == "policy/poddisruptionbudgets":
        obj.setdefault("status", {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                                  "expectedPods": 0})
    elif key == "/events":
        obj.setdefault("reportingComponent", "")
        obj.setdefault("reportingInstance", "")
        obj.setdefault("source", {})
    elif key == "/nodes":
        obj.setdefault("spec", {})
        obj.setdefault("status", {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": {
            "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
            "containerRuntimeVersion": "", "kubeletVersion": "", "kubeProxyVersion": "", "operatingSystem": "",
            "architecture": ""}})


_POD_ALLOWED = ("`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                "(allow it to be set to 1 if it was previously negative)")


def _pod_spec_causes(new, old):
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    for f in ("containers", "initContainers"):
        if len(ns.get(f) or []) != len(os_.get(f) or []):
            return [forbidden(f"spec.{f}", "pod updates may not add or remove containers")]

    def strip(spec):
        s = dict(spec)
        for f in ("containers", "initContainers"):
            s[f] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get(f) or []]
        for f in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
            s.pop(f, None)
        return s
    if strip(ns) != strip(os_):
        return [forbidden("spec", f"pod updates may not change fields other than {_POD_ALLOWED}")]
    return []


def _event_causes(rt, obj):
    c = []
    ns = obj["metadata"].get("namespace") or ""
    if rt.group == "events.k8s.io":
        if not obj.get("eventTime"):
            c.append(required("eventTime"))
        if obj.get("type") not in ("Normal", "Warning"):
            c.append(invalid_value("type", "", f"has invalid value: {obj.get('type') or ''}"))
        for f in ("reportingController", "reportingInstance", "action", "reason"):
            if obj.get("eventTime") and not obj.get(f):
                c.append(required(f))
        if (obj.get("regarding") or {}).get("namespace", "") != ns and ns:
            c.append(invalid_value("involvedObject.namespace", (obj.get("regarding") or {}).get("namespace", ""),
                                   "does not match event.namespace"))
        if len(obj.get("note") or "") > 1024:
            c.append(invalid_value("message", "", "can have at most 1024 characters"))
    else:
        inv = obj.get("involvedObject") or {}
        if ns and inv.get("namespace", "") != ns:
            c.append(invalid_value("involvedObject.namespace", inv.get("namespace", ""),
                                   "does not match event.namespace"))
        if obj.get("eventTime"):
            for f in ("action", "reportingComponent", "reportingInstance"):
                if not obj.get(f):
                    c.append(required("reportingController" if f == "reportingComponent" else f))
        if len(obj.get("message") or "") > 4096:
            c.append(invalid_value("message", "", "can have at most 4096 characters"))
    return c


def validate(rt, obj, old=None):
    """Causes for a built-in object (create when old is None, otherwise update)."""
    c = []
    md = obj.get("metadata") or {}
    name = md.get("name") or ""
    if old is None and name and not DNS1123_SUB.match(name) and rt.ident not in ("/events", "events.k8s.io/events"):
        c.append(invalid_value("metadata.name", name, SUB_MSG))
    if old is not None and old["metadata"].get("deletionTimestamp"):
        added = [f for f in md.get("finalizers") or [] if f not in (old["metadata"].get("finalizers") or [])]
        if added:
            msg = ("no new finalizers can be added if the object is being deleted, found new finalizers "
                   "[]string{" + ", ".join(f'"{f}"' for f in added) + "}")
            c += [forbidden("metadata.finalizers", msg), forbidden("metadata.finalizers", msg)]
    k = rt.ident
    if k == "/pods":
        if old is None and not (obj.get("spec") or {}).get("containers"):
            c.append(required("spec.containers"))
        for i, ct in enumerate((obj.get("spec") or {}).get("containers") or []):
            if not ct.get("name"):
                c.append(required(f"spec.containers[{i}].name"))
            if old is None and not ct.get("image"):
                c.append(required(f"spec.containers[{i}].image"))
        if old is not None:
            c += _pod_spec_causes(obj, old)
    elif k in ("/events", "events.k8s.io/events"):
        c += _event_causes(rt, obj)
        if old is not None and rt.group == "events.k8s.io" and obj.get("note") != old.get("note"):
            c.append(invalid_value("message", obj.get("note"), "field is immutable"))
    elif k == "coordination.k8s.io/leases":
        d = (obj.get("spec") or {}).get("leaseDurationSeconds")
        if d is not None and d <= 0:
            c.append(invalid_value("spec.leaseDurationSeconds", d, "must be greater than 0"))
        t = (obj.get("spec") or {}).get("leaseTransitions")
        if t is not None and t < 0:
            c.append(invalid_value("spec.leaseTransitions", t, "must be greater than or equal to 0"))
    elif k == "apiextensions.k8s.io/customresourcedefinitions":
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        if name != f"{names.get('plural')}.{spec.get('group')}":
            c.append(invalid_value("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"))
        if not spec.get("versions"):
            c.append(required("spec.versions", "must have exactly one version marked as storage version"))
        if not names.get("kind"):
            c.append(required("spec.names.kind"))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            c.append(invalid_value("spec.scope", spec.get("scope", ""), "should be either Cluster or Namespaced"))
    elif k == "policy/poddisruptionbudgets":
        spec = obj.get("spec") or {}
        if "minAvailable" in spec and "maxUnavailable" in spec:
            c.append(invalid_value("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    elif k == "discovery.k8s.io/endpointslices":
        c += _endpointslice_causes(obj, old)
    return c


# ---- the scale subresource's paths on every write of a custom resource -----------------------------------------
_GO_TYPE = {str: "string", float: "float64", bool: "bool", dict: "map[string]interface {}", list: "[]interface {}"}
INT32_MAX = 2**31 - 1


def _replicas_causes(obj, path):
    """customResourceValidator.validateScale{Spec,Status} (apiextensions-apiserver pkg/registry/customresource/
    validator.go): unstructured.NestedInt64 at the CRD's path (absent is 0), then a non-negative int32; the field path
    keeps its leading dot ('.spec.replicas'), as the 422 in cr-semantics.json shows next to the schema's cause."""
    v = _get(obj, path.lstrip("."))
    if v is None:
        return []
    if isinstance(v, bool) or not isinstance(v, int):
        return [invalid_value(path, 0, f"{path} accessor error: {v if not isinstance(v, bool) else str(v).lower()} "
                                       f"is of the type {_GO_TYPE.get(type(v), type(v).__name__)}, expected int64")]
    if v < 0:
        return [invalid_value(path, v, "should be a non-negative integer")]
    if v > INT32_MAX:
        return [invalid_value(path, v, f"should be less than or equal to {INT32_MAX}")]
    return []


def scale_causes(rt, obj, spec=True):
    """Causes from a CRD's scale subresource paths: spec replicas (not on /status writes, as ValidateStatusUpdate
    skips it), status replicas, and the label selector, which must be a string (unstructured.NestedString)."""
    sc = rt.scale
    if not sc:
        return []
    c = _replicas_causes(obj, sc["specReplicasPath"]) if spec else []
    c += _replicas_causes(obj, sc.get("statusReplicasPath") or ".status.replicas")
    sel_path = sc.get("labelSelectorPath")
    sel = _get(obj, sel_path.lstrip(".")) if sel_path else None
    if sel is not None and not isinstance(sel, str):
        c.append(invalid_value(sel_path, "", f"{sel_path} accessor error: {sel} is of the type "
                                             f"{_GO_TYPE.get(type(sel), type(sel).__name__)}, expected string"))
    return c

# ---- discovery.k8s.io/v1 EndpointSlice (pkg/apis/discovery/validation/validation.go, kube 1.32) ------------------
_SLICE_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
_SLICE_PROTOCOLS = ("SCTP", "TCP", "UDP")
_SLICE_MAX_ENDPOINTS, _SLICE_MAX_ADDRESSES, _SLICE_MAX_PORTS = 1000, 100, 20000


def _too_many(field, n, limit):
    return Cause(field, "FieldValueTooMany", f"Too many: {n}: must have at most {limit} items")


_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_LINK_LOCAL_MULTICAST_V4 = ipaddress.ip_network("224.0.0.0/24")


def parse_ip_sloppy(s):
    """netutils.ParseIPSloppy: an IPv4 or IPv6 address (IPv4 octets may carry leading zeros), or None."""
    if not isinstance(s, str) or "%" in s:
        return None
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", s):
        octets = [int(x) for x in s.split(".")]
        return ipaddress.IPv4Address(".".join(map(str, octets))) if max(octets) <= 255 else None
    try:
        return ipaddress.IPv6Address(s) if ":" in s else None
    except ValueError:
        return None


def _as_v4(ip):
    """Go's ip.To4(): IPv4 addresses and IPv4-mapped IPv6 addresses are IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def endpoint_ip_errors(address, ip=None):
    """ValidateEndpointIP (pkg/apis/core/validation): the messages for an endpoint address that no Service may
    route to: unparsable, unspecified, loopback, link-local unicast, link-local multicast (Go's net.IP predicates).
    `ip`: the address already parsed by parse_ip_sloppy."""
    ip = ip or parse_ip_sloppy(address)
    if ip is None:
        return ["must be a valid IP address"]
    ip = _as_v4(ip)
    out = []
    if ip.is_unspecified:
        out.append(f"may not be unspecified ({address})")
    if ip.is_loopback:
        out.append("may not be in the loopback range (127.0.0.0/8, ::1/128)")
    if any(ip in n for n in _LINK_LOCAL):
        out.append("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    if ip in _LINK_LOCAL_MULTICAST_V4 or (ip.version == 6 and ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 0x02):
        out.append("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
    return out


def _fqdn_causes(field, name):
    """IsFullyQualifiedDomainName (apimachinery/pkg/util/validation)."""
    if not name:
        return [required(field)]
    name = name[:-1] if name.endswith(".") else name
    if not DNS1123_SUB.match(name) or len(name) > 253:
        return [invalid_value(field, name, SUB_MSG)]
    if len(name.split(".")) < 2:
        return [invalid_value(field, name, "should be a domain with at least two segments separated by dots")]
    for label in name.split("."):
        if not DNS1123_LABEL.match(label) or len(label) > 63:
            return [invalid_value(field, label, LABEL_MSG)]
    return []


@functools.lru_cache(maxsize=4096)
def _ip_address_messages(address, address_type):
    """IsValidIPv4Address/IsValidIPv6Address then ValidateEndpointIP (cached: slices repeat their addresses)."""
    ip = parse_ip_sloppy(address)
    out = []
    if ip is None or (_as_v4(ip).version == 4) != (address_type == "IPv4"):
        out.append(f"must be a valid {address_type} address")
    return tuple(out + endpoint_ip_errors(address, ip))


def _slice_address_causes(field, address, address_type):
    if address_type == "FQDN":
        return _fqdn_causes(field, address)
    if not isinstance(address, str):
        return [invalid_value(field, address, "must be a valid IP address")]
    return [invalid_value(field, address, m) for m in _ip_address_messages(address, address_type)]


def _endpointslice_causes(obj, old):
    c = []
    at = obj.get("addressType")
    if not at:
        c.append(required("addressType"))
    elif at not in _SLICE_ADDRESS_TYPES:
        c.append(not_supported("addressType", at, _SLICE_ADDRESS_TYPES))
    eps = obj.get("endpoints") or []
    if len(eps) > _SLICE_MAX_ENDPOINTS:
        c.append(_too_many("endpoints", len(eps), _SLICE_MAX_ENDPOINTS))
        eps = []
    for i, ep in enumerate(eps):
        path = f"endpoints[{i}]"
        addrs = ep.get("addresses") or []
        if not addrs:
            c.append(required(f"{path}.addresses", "must contain at least 1 address"))
        elif len(addrs) > _SLICE_MAX_ADDRESSES:
            c.append(_too_many(f"{path}.addresses", len(addrs), _SLICE_MAX_ADDRESSES))
        if at in _SLICE_ADDRESS_TYPES:
            for j, a in enumerate(addrs):
                c += _slice_address_causes(f"{path}.addresses[{j}]", a, at)
        node = ep.get("nodeName")
        if node is not None and not DNS1123_SUB.match(node):
            c.append(invalid_value(f"{path}.nodeName", node, SUB_MSG))
        host = ep.get("hostname")
        if host is not None and not DNS1123_LABEL.match(host):
            c.append(invalid_value(f"{path}.hostname", host, LABEL_MSG))
    ports = obj.get("ports") or []
    if len(ports) > _SLICE_MAX_PORTS:
        return c + [_too_many("ports", len(ports), _SLICE_MAX_PORTS)]
    names = set()
    for i, p in enumerate(ports):
        path = f"ports[{i}]"
        name = p.get("name") or ""
        if name and not DNS1123_LABEL.match(name):
            c.append(invalid_value(f"{path}.name", name, LABEL_MSG))
        if name in names:
            c.append(Cause(f"{path}.name", "FieldValueDuplicate", f"Duplicate value: {gojson(name)}"))
        names.add(name)
        if p.get("protocol") not in _SLICE_PROTOCOLS:
            c.append(not_supported(f"{path}.protocol", p.get("protocol"), _SLICE_PROTOCOLS))
    if old is not None and old.get("addressType") != at:
        c.append(invalid_value("addressType", at, "field is immutable"))
    return c
