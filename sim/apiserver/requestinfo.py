"""Parse a request path into the RBAC-style request attributes (verb, group, resource, name...)."""
from urllib.parse import unquote

from .query import query_bool


class RequestInfo:
    def __init__(self):
        self.is_resource = False
        self.verb = ""
        self.group = ""
        self.version = ""
        self.resource = ""
        self.subresource = ""
        self.namespace = ""
        self.name = ""
        self.legacy_watch = False

    def as_dict(self):
        return {"verb": self.verb, "apiGroup": self.group, "resource": self.resource,
                "subresource": self.subresource, "namespace": self.namespace, "name": self.name}


def parse(method, path, query, registry):
    ri = RequestInfo()
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    ri.verb = method.lower()
    if not parts or parts[0] not in ("api", "apis"):
        return ri
    if parts[0] == "api":
        if len(parts) < 2:
            return ri
        ri.group, ri.version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return ri
        ri.group, ri.version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return ri
    ri.is_resource = True
    if rest[0] == "watch":
        ri.legacy_watch = True
        rest = rest[1:]
    if len(rest) >= 3 and rest[0] == "namespaces" and registry.get(ri.group, ri.version, rest[2]) is not None \
            and registry.get(ri.group, ri.version, rest[2]).namespaced:
        ri.namespace, rest = rest[1], rest[2:]
    elif len(rest) >= 3 and rest[0] == "namespaces" and ri.group == "" and rest[2] not in ("status", "finalize"):
        ri.namespace, rest = rest[1], rest[2:]
    ri.resource = rest[0]
    if len(rest) > 1:
        ri.name = rest[1]
    if len(rest) > 2:
        ri.subresource = "/".join(rest[2:])
    if ri.resource == "namespaces" and not ri.namespace and ri.name:
        ri.namespace = ri.name
    m = method.upper()
    if ri.legacy_watch or (m == "GET" and query_bool(query, "watch")):
        ri.verb = "watch"
    elif m == "GET":
        ri.verb = "get" if ri.name else "list"
    elif m == "POST":
        ri.verb = "create"
    elif m == "PUT":
        ri.verb = "update"
    elif m == "PATCH":
        ri.verb = "patch"
    elif m == "DELETE":
        ri.verb = "delete" if ri.name else "deletecollection"
    return ri
