"""Table printers for built-in kinds (the columns `kubectl get` shows against the real server).

`PRINTERS[name]` is a list of (column name, type, priority, cell function(obj)). Pods have their own
printer in table.py; kinds without a printer get Name + Age. Kinds in NAME_LAST show the name as a
priority-1 column at the end instead of first (core Events)."""
from .endpointslice_printer import COLUMNS as ENDPOINTSLICE_COLUMNS
from .table import human_age


def _age(o):
    return human_age(o["metadata"].get("creationTimestamp"))


def _svc_ports(o):
    ports = (o.get("spec") or {}).get("ports") or []
    out = []
    for p in ports:
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _svc_external(o):
    spec = o.get("spec") or {}
    ips = spec.get("externalIPs") or []
    ing = [i.get("ip") or i.get("hostname") for i in ((o.get("status") or {}).get("loadBalancer") or {})
           .get("ingress") or []]
    if spec.get("type") == "LoadBalancer" and not (ips or ing):
        return "<pending>"
    return ",".join(ips + ing) or "<none>"


def _node_status(o):
    conds = (o.get("status") or {}).get("conditions") or []
    ready = next((c for c in conds if c.get("type") == "Ready"), None)
    s = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    if (o.get("spec") or {}).get("unschedulable"):
        s += ",SchedulingDisabled"
    return s


def _node_roles(o):
    roles = [k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
             if k.startswith("node-role.kubernetes.io/")]
    return ",".join(sorted(roles)) or "<none>"


def _event_object(o):
    inv = o.get("involvedObject") or {}
    return f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}"


def _event_last_seen(o):
    ts = o.get("lastTimestamp") or (o.get("series") or {}).get("lastObservedTime") or o.get("eventTime") or \
        o["metadata"].get("creationTimestamp")
    return human_age(ts[:19] + "Z") if ts else "<unknown>"


def _pdb(field):
    return lambda o: str((o.get("spec") or {}).get(field)) if (o.get("spec") or {}).get(field) is not None else "N/A"


NAME_LAST = {"events"}

PRINTERS = {
    "namespaces": [("Status", "string", 0, lambda o: (o.get("status") or {}).get("phase", "")),
                   ("Age", "string", 0, _age)],
    "nodes": [("Status", "string", 0, _node_status), ("Roles", "string", 0, _node_roles), ("Age", "string", 0, _age),
              ("Version", "string", 0, lambda o: ((o.get("status") or {}).get("nodeInfo") or {})
               .get("kubeletVersion", ""))],
    "services": [("Type", "string", 0, lambda o: (o.get("spec") or {}).get("type", "")),
                 ("Cluster-IP", "string", 0, lambda o: (o.get("spec") or {}).get("clusterIP") or "<none>"),
                 ("External-IP", "string", 0, _svc_external), ("Port(s)", "string", 0, _svc_ports),
                 ("Age", "string", 0, _age),
                 ("Selector", "string", 1, lambda o: ",".join(f"{k}={v}" for k, v in sorted(
                     ((o.get("spec") or {}).get("selector") or {}).items())) or "<none>")],
    "configmaps": [("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
                   ("Age", "string", 0, _age)],
    "secrets": [("Type", "string", 0, lambda o: o.get("type", "")),
                ("Data", "integer", 0, lambda o: len(o.get("data") or {})), ("Age", "string", 0, _age)],
    "serviceaccounts": [("Secrets", "integer", 0, lambda o: len(o.get("secrets") or [])),
                        ("Age", "string", 0, _age)],
    "endpoints": [("Endpoints", "string", 0, lambda o: ",".join(
        f"{a.get('ip')}:{p.get('port')}" for ss in o.get("subsets") or [] for a in ss.get("addresses") or []
        for p in ss.get("ports") or [{}]) or "<none>"), ("Age", "string", 0, _age)],
    "events": [("Last Seen", "string", 0, _event_last_seen), ("Type", "string", 0, lambda o: o.get("type", "")),
               ("Reason", "string", 0, lambda o: o.get("reason", "")), ("Object", "string", 0, _event_object),
               ("Message", "string", 0, lambda o: o.get("message", ""))],
    "poddisruptionbudgets": [("Min Available", "string", 0, _pdb("minAvailable")),
                             ("Max Unavailable", "string", 0, _pdb("maxUnavailable")),
                             ("Allowed Disruptions", "integer", 0,
                              lambda o: (o.get("status") or {}).get("disruptionsAllowed", 0)),
                             ("Age", "string", 0, _age)],
    "leases": [("Holder", "string", 0, lambda o: (o.get("spec") or {}).get("holderIdentity") or ""),
               ("Age", "string", 0, _age)],
    "persistentvolumeclaims": [("Status", "string", 0, lambda o: (o.get("status") or {}).get("phase", "")),
                               ("Volume", "string", 0, lambda o: (o.get("spec") or {}).get("volumeName", "")),
                               ("Age", "string", 0, _age)],
    "customresourcedefinitions": [("Created At", "date", 0, lambda o: o["metadata"].get("creationTimestamp"))],
    "endpointslices": ENDPOINTSLICE_COLUMNS,
}
