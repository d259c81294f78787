"""meta.k8s.io Table rendering (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).

Columns come from the CRD's additionalPrinterColumns, or from a built-in printer (`pod`), or default
to Name + Age. Rows carry a PartialObjectMetadata unless includeObject=None|Object."""
import datetime

NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although some resources "
             "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
             "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
             "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
            "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
            "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
            "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def _col(name, typ, desc, priority=0, fmt=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


def human_age(ts):
    if not ts:
        return "<unknown>"
    t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    if s < -1:
        return "<invalid>"
    s = max(s, 0)
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def _jsonpath(obj, path):
    cur = obj
    for p in path.strip().lstrip(".").split("."):
        if not p:
            continue
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def _pod_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    cs = st.get("containerStatuses") or []
    ready = sum(1 for c in cs if c.get("ready"))
    reason = st.get("reason") or st.get("phase") or ""
    restarts = sum(int(c.get("restartCount") or 0) for c in cs)
    for c in cs:
        stt = c.get("state") or {}
        if stt.get("waiting", {}).get("reason"):
            reason = stt["waiting"]["reason"]
        elif stt.get("terminated", {}).get("reason"):
            reason = stt["terminated"]["reason"]
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    return [f"{ready}/{len(spec.get('containers') or [])}", reason, str(restarts),
            human_age(o["metadata"].get("creationTimestamp")), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>",
            "<none>" if not gates else f"0/{len(gates)}"]


POD_COLUMNS = [
    _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", "string", "The aggregate status of the containers in this pod."),
    _col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the "
         "last container in this pod has restarted."),
    _col("Age", "string", AGE_DESC),
    _col("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not "
         "yet allocated.", 1),
    _col("Node", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
         "candidate for scheduling by the scheduler defined in schedulerName.", 1),
    _col("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, "
         "but it cannot be scheduled right away as preemption victims receive their graceful termination periods.", 1),
    _col("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.", 1),
]


def columns(rt):
    cols = [_col("Name", "string", NAME_DESC, fmt="name")]
    if rt.is_cr:
        ver = next(v for v in rt.crd["spec"]["versions"] if v["name"] == rt.version)
        apc = ver.get("additionalPrinterColumns")
        if apc is None:
            return cols + [_col("Age", "date", AGE_DESC)]
        for c in apc:
            cols.append(_col(c["name"], c["type"], c.get("description") or
                             f"Custom resource definition column (in JSONPath format): {c['jsonPath']}",
                             c.get("priority", 0), c.get("format", "")))
        return cols
    if rt.printer == "pod":
        return cols + POD_COLUMNS
    from .printers import NAME_LAST, PRINTERS
    if rt.group != "events.k8s.io" and rt.plural in PRINTERS:
        body = [_col(n, t, AGE_DESC if n == "Age" else n, prio) for n, t, prio, _fn in PRINTERS[rt.plural]]
        if rt.plural in NAME_LAST:
            return body + [_col("Name", "string", NAME_DESC, 1, fmt="name")]
        return cols + body
    return cols + [_col("Age", "string", AGE_DESC)]


def cells(rt, o):
    name = o["metadata"].get("name")
    if rt.is_cr:
        ver = next(v for v in rt.crd["spec"]["versions"] if v["name"] == rt.version)
        apc = ver.get("additionalPrinterColumns")
        if apc is None:
            return [name, human_age(o["metadata"].get("creationTimestamp"))]
        out = [name]
        for c in apc:
            v = _jsonpath(o, c["jsonPath"])
            if c["type"] == "date" and v is not None:
                v = human_age(v)
            out.append(v)
        return out
    if rt.printer == "pod":
        return [name] + _pod_cells(o)
    from .printers import NAME_LAST, PRINTERS
    if rt.group != "events.k8s.io" and rt.plural in PRINTERS:
        body = [fn(o) for _n, _t, _p, fn in PRINTERS[rt.plural]]
        return body + [name] if rt.plural in NAME_LAST else [name] + body
    return [name, human_age(o["metadata"].get("creationTimestamp"))]


def partial(o, api_version="meta.k8s.io/v1"):
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": o.get("metadata", {})}


def row(rt, o, include="Metadata", api_version="meta.k8s.io/v1"):
    if include == "None":
        obj = None
    elif include == "Object":
        obj = o
    else:
        obj = partial(o, api_version)
    return {"cells": cells(rt, o), "object": obj}


def table(rt, objs, list_meta, include="Metadata", api_version="meta.k8s.io/v1", with_columns=True):
    return {"kind": "Table", "apiVersion": api_version, "metadata": list_meta,
            "columnDefinitions": columns(rt) if with_columns else None,
            "rows": [row(rt, o, include, api_version) for o in objs]}
