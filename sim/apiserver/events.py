"""events.k8s.io/v1 <-> core/v1 Event conversion: both APIs serve the same stored (core/v1) objects, as in
kube-apiserver (note<->message, regarding<->involvedObject, reportingController<->reportingComponent,
deprecatedSource/FirstTimestamp/LastTimestamp/Count <-> source/firstTimestamp/lastTimestamp/count)."""

_SAME = ("eventTime", "series", "action", "reason", "related", "type", "reportingInstance")


def to_core(o):
    """events.k8s.io/v1 Event -> stored core/v1 Event."""
    out = {"kind": "Event", "apiVersion": "v1", "metadata": o.get("metadata", {}),
           "involvedObject": o.get("regarding") or {}}
    for k in _SAME:
        if o.get(k) is not None:
            out[k] = o[k]
    if o.get("note") is not None:
        out["message"] = o["note"]
    out["source"] = o.get("deprecatedSource") or {}
    out["firstTimestamp"] = o.get("deprecatedFirstTimestamp")
    out["lastTimestamp"] = o.get("deprecatedLastTimestamp")
    if o.get("deprecatedCount"):
        out["count"] = o["deprecatedCount"]
    out["reportingComponent"] = o.get("reportingController") or ""
    out.setdefault("reportingInstance", "")
    return out


def from_core(o):
    """Stored core/v1 Event -> events.k8s.io/v1 Event."""
    out = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": o.get("metadata", {}),
           "eventTime": o.get("eventTime")}
    if o.get("series") is not None:
        out["series"] = o["series"]
    out["reportingController"] = o.get("reportingComponent") or ""
    out["reportingInstance"] = o.get("reportingInstance") or ""
    for k in ("action", "reason"):
        if o.get(k):
            out[k] = o[k]
    out["regarding"] = o.get("involvedObject") or {}
    if o.get("related") is not None:
        out["related"] = o["related"]
    if o.get("message") is not None:
        out["note"] = o["message"]
    if o.get("type"):
        out["type"] = o["type"]
    if o.get("source"):
        out["deprecatedSource"] = o["source"]
    for src, dst in (("firstTimestamp", "deprecatedFirstTimestamp"), ("lastTimestamp", "deprecatedLastTimestamp"),
                     ("count", "deprecatedCount")):
        if o.get(src):
            out[dst] = o[src]
    return out
