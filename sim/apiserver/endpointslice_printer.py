"""`kubectl get endpointslices` columns, as kube-apiserver's printEndpointSlice (pkg/printers/internalversion):
AddressType, Ports (port numbers, `*` for a port without number), Endpoints (addresses of all endpoints), Age;
lists show at most 3 entries then ` + N more...`, an empty list shows `<unset>` (listWithMoreString)."""
from .table import human_age


def _list_with_more(items, limit=3):
    shown = ",".join(items[:limit])
    if len(items) > limit:
        return f"{shown} + {len(items) - limit} more..."
    return shown or "<unset>"


def _ports(o):
    return _list_with_more([str(p["port"]) if p.get("port") is not None else p.get("name", "*")
                            for p in o.get("ports") or []])


def _endpoints(o):
    return _list_with_more([a for ep in o.get("endpoints") or [] for a in ep.get("addresses") or []])


COLUMNS = [("AddressType", "string", 0, lambda o: o.get("addressType", "")),
           ("Ports", "string", 0, _ports), ("Endpoints", "string", 0, _endpoints),
           ("Age", "string", 0, lambda o: human_age(o["metadata"].get("creationTimestamp")))]
