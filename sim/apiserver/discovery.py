"""Discovery documents (legacy and aggregated apidiscovery.k8s.io/v2[beta1]) and OpenAPI v2/v3.

The OpenAPI v3 documents carry, per resource, PATCH operations tagged with
x-kubernetes-group-version-kind and the `fieldValidation` parameter (kubectl's server-side validation
check), PATCH request bodies *without* strategic-merge (so kubectl computes SMP for built-ins from its
compiled-in scheme and merge patches for CRs), and the CRD schemas (for `kubectl explain`).
`/openapi/v2` is served by openapi_v2.py."""
import hashlib
import json

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2B1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept):
    """Return the aggregated content type the Accept header prefers first, or None."""
    for part in (accept or "").split(","):
        p = part.replace(" ", "")
        if "g=apidiscovery.k8s.io" in p and "as=APIGroupDiscoveryList" in p:
            return AGG_V2 if "v=v2;" in p + ";" and "v=v2beta1" not in p else AGG_V2B1
        if p.startswith("application/json") or p.startswith("*/*"):
            return None
    return None


def _kind_ref(rt, sub=None):
    if sub == "scale":
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    if sub == "eviction":
        return {"group": "policy", "version": "v1", "kind": "Eviction"}
    if sub == "binding":
        return {"group": "", "version": "", "kind": "Binding"}
    if sub == "token":
        return {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}
    if rt.is_cr:
        return {"group": rt.group, "version": rt.version, "kind": rt.kind}
    return {"group": "", "version": "", "kind": rt.kind}


_SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
              "eviction": ["create"], "binding": ["create"], "finalize": ["update"],
              "token": ["create"]}


def agg_resource(rt):
    r = {"resource": rt.plural, "responseKind": _kind_ref(rt),
         "scope": "Namespaced" if rt.namespaced else "Cluster", "singularResource": rt.singular,
         "verbs": rt.verbs}
    if rt.short:
        r["shortNames"] = rt.short
    if rt.categories:
        r["categories"] = rt.categories
    subs = [{"subresource": s, "responseKind": _kind_ref(rt, s), "verbs": _SUB_VERBS[s]}
            for s in rt.subresources()]
    if subs:
        r["subresources"] = subs
    return r


def aggregated(registry, legacy, ctype):
    items = []
    if legacy:
        items.append({"metadata": {"creationTimestamp": None}, "versions": [
            {"version": "v1", "resources": [agg_resource(rt) for rt in sorted(registry.in_gv("", "v1"),
                                                                              key=lambda r: r.plural)],
             "freshness": "Current"}]})
    else:
        for g, versions in registry.groups().items():
            items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": [
                {"version": v, "resources": [agg_resource(rt) for rt in sorted(registry.in_gv(g, v),
                                                                              key=lambda r: r.plural)],
                 "freshness": "Current"} for v in versions]})
    api_version = "apidiscovery.k8s.io/v2" if "v=v2;" in ctype + ";" else "apidiscovery.k8s.io/v2beta1"
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}


def etag(body_bytes):
    return '"' + hashlib.sha512(body_bytes).hexdigest().upper() + '"'


def api_versions():
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}


def api_group(g, versions):
    gvs = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(registry):
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{k: v for k, v in api_group(g, vs).items() if k not in ("kind", "apiVersion")}
                       for g, vs in registry.groups().items()]}


def resource_list(registry, group, version):
    res = []
    for rt in sorted(registry.in_gv(group, version), key=lambda r: r.plural):
        r = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
             "verbs": rt.verbs}
        if rt.short:
            r["shortNames"] = rt.short
        if rt.categories:
            r["categories"] = rt.categories
        res.append(r)
        for s in rt.subresources():
            k = _kind_ref(rt, s)
            e = {"name": f"{rt.plural}/{s}", "singularName": "", "namespaced": rt.namespaced,
                 "kind": k["kind"], "verbs": _SUB_VERBS[s]}
            if k["group"] and k["group"] != group:
                # A subresource whose kind lives in another group names it (discovery-legacy.json:
                # medivoteservices/scale -> autoscaling/v1 Scale, pods/eviction -> policy/v1 Eviction); the CRD
                # handler publishes it for CR scale subresources too (apiextensions-apiserver
                # customresource_discovery_controller.go), which HPA's scale client relies on. A CR's own
                # medivoteservices/status names neither (the same controller; discovery-legacy.json).
                e.update(group=k["group"], version=k["version"])
            res.append(e)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}


# ---- OpenAPI v3 -------------------------------------------------------------------------------------
_PARAM = lambda n: {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _schema_name(rt):
    parts = rt.group.split(".")[::-1] if rt.group else ["io", "k8s", "api", "core"]
    return ".".join(parts + [rt.version, rt.kind])


def _gvk(rt):
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def openapi_gv(registry, group, version):
    paths, schemas = {}, {}
    for rt in registry.in_gv(group, version):
        base = ("/api/" + version) if not group else f"/apis/{group}/{version}"
        coll = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
        sname = _schema_name(rt)
        ref = {"$ref": f"#/components/schemas/{sname}"}
        body = {"content": {t: {"schema": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
                            for t in ("application/json-patch+json", "application/merge-patch+json",
                                      "application/apply-patch+yaml")}, "required": True}
        write_params = [_PARAM(n) for n in ("dryRun", "fieldManager", "fieldValidation")]
        gvk = _gvk(rt)
        paths[coll] = {
            "get": {"operationId": f"list{rt.kind}", "x-kubernetes-action": "list",
                    "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}},
            "post": {"operationId": f"create{rt.kind}", "x-kubernetes-action": "post", "parameters": write_params,
                     "requestBody": {"content": {"application/json": {"schema": ref}}, "required": True},
                     "x-kubernetes-group-version-kind": gvk, "responses": {"201": {"description": "Created"}}}}
        paths[coll + "/{name}"] = {
            "get": {"operationId": f"read{rt.kind}", "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}},
            "put": {"operationId": f"replace{rt.kind}", "x-kubernetes-action": "put", "parameters": write_params,
                    "requestBody": {"content": {"application/json": {"schema": ref}}, "required": True},
                    "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}},
            "patch": {"operationId": f"patch{rt.kind}", "x-kubernetes-action": "patch",
                      "parameters": write_params + [_PARAM("force")], "requestBody": body,
                      "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}},
            "delete": {"operationId": f"delete{rt.kind}", "x-kubernetes-action": "delete",
                       "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}}}
        if rt.is_cr:
            ver = next(v for v in rt.crd["spec"]["versions"] if v["name"] == rt.version)
            sch = json.loads(json.dumps((ver.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"}))
            props = sch.setdefault("properties", {})
            props.setdefault("apiVersion", {"type": "string", "description": "APIVersion defines the versioned "
                                            "schema of this representation of an object."})
            props.setdefault("kind", {"type": "string", "description": "Kind is a string value representing the "
                                      "REST resource this object represents."})
            props["metadata"] = {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1."
                                            "ObjectMeta"}], "description": "Standard object's metadata."}
            sch["x-kubernetes-group-version-kind"] = [gvk]
            schemas[sname] = sch
        else:
            schemas[sname] = {"type": "object", "x-kubernetes-group-version-kind": [gvk],
                              "x-kubernetes-preserve-unknown-fields": True,
                              "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                             "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s."
                                                                     "apimachinery.pkg.apis.meta.v1.ObjectMeta"}]}}}
    schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"] = {
        "description": "ObjectMeta is metadata that all persisted resources must have.", "type": "object",
        "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                       "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                       "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}
    schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Patch"] = {"type": "object"}
    title = "Kubernetes CRD Swagger" if any(rt.is_cr for rt in registry.in_gv(group, version)) else "Kubernetes"
    return {"openapi": "3.0.0", "info": {"title": title, "version": "v0.1.0"}, "paths": paths,
            "components": {"schemas": schemas}}


def openapi_index(registry, docs):
    """docs: {"api/v1": bytes, ...} -> the /openapi/v3 index with hashed serverRelativeURLs."""
    return {"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash={hashlib.sha512(b).hexdigest().upper()}"}
                      for p, b in sorted(docs.items())}}

