"""A minimal OpenAPI v2 document, in gnostic protobuf (what kubectl asks for) or JSON.

It lists, for every served resource, the PATCH operation of its item path with the `dryRun` and
`fieldValidation` query parameters and the x-kubernetes-group-version-kind extension: kubectl <= 1.26
checks exactly that before `--dry-run=server` / server-side field validation. It has no `definitions`:
kubectl then skips client-side schema validation and builds apply patches from its compiled-in scheme
(strategic merge for built-ins) or as JSON merge patches (custom resources), which is what the real
server's clients do for CRs."""
from aiohttp import web


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _query_param(name):
    qp = _field(2, "query") + _field(4, name) + _field(6, "string")   # in, name, type
    non_body = _field(3, qp)                                          # query_parameter_sub_schema
    param = _field(2, non_body)                                       # Parameter.non_body_parameter
    return _field(1, param)                                           # ParametersItem.parameter


def _gvk_ext(rt):
    yaml_text = f"group: \"{rt.group}\"\nkind: {rt.kind}\nversion: {rt.version}\n"
    return _field(1, "x-kubernetes-group-version-kind") + _field(2, _field(2, yaml_text))  # NamedAny{name, Any.yaml}


def _item_path(rt):
    base = f"/api/{rt.version}" if not rt.group else f"/apis/{rt.group}/{rt.version}"
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"{base}{ns}/{rt.plural}/{{name}}"


def document_proto(registry):
    paths = b""
    for rt in registry.types.values():
        op = _field(5, f"patch{rt.kind}")
        for p in ("dryRun", "fieldManager", "fieldValidation"):
            op += _field(8, _query_param(p))
        op += _field(13, _gvk_ext(rt))
        item = _field(8, op)                                          # PathItem.patch
        paths += _field(2, _field(1, _item_path(rt)) + _field(2, item))  # Paths.path: NamedPathItem
    info = _field(1, "Kubernetes") + _field(2, "v1.32.0")
    return _field(1, "2.0") + _field(2, info) + _field(8, paths)


def document_json(registry):
    paths = {}
    for rt in registry.types.values():
        paths[_item_path(rt)] = {"patch": {
            "operationId": f"patch{rt.kind}",
            "parameters": [{"name": p, "in": "query", "type": "string", "uniqueItems": True}
                           for p in ("dryRun", "fieldManager", "fieldValidation")],
            "x-kubernetes-group-version-kind": {"group": rt.group, "kind": rt.kind, "version": rt.version}}}
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths}


def respond(registry, accept):
    if "protobuf" in accept:
        # Go's mime parser rejects the `@` of the requested type, so answer a neutral binary type.
        return web.Response(body=document_proto(registry), headers={
            "Content-Type": "application/octet-stream", "Vary": "Accept", "Cache-Control": "no-cache, private"})
    return web.json_response(document_json(registry))
