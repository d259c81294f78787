"""HTTP handlers for the resource API: get, list (+paging, selectors, RV semantics), watch, create, update,
patch, delete, deletecollection and the status/scale/eviction/binding subresources."""
import asyncio
import base64
import copy
import json

import yaml
from aiohttp import web

from . import admission, codec, eviction, patch as patchlib, table, watch
from .core import uid_precondition_failed
from .errors import ApiError, bad_request, conflict, not_found, page_not_found, qualified
from .errors import forbidden as forbidden_cause, not_supported as not_supported_cause
from .query import query_bool
from .selectors import parse_fields, parse_labels
from .store import now_rfc3339

PATCH_TYPES = {"application/json-patch+json": "json", "application/merge-patch+json": "merge",
               "application/strategic-merge-patch+json": "strategic", "application/apply-patch+yaml": "apply",
               "application/apply-patch+cbor": "apply"}
CR_PATCH_415 = ("the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


def _json_response(body, code=200, headers=None, ctype="application/json"):
    h = {"Content-Type": ctype, "Cache-Control": "no-cache, private"}
    h.update(headers or {})
    return web.Response(status=code, body=codec.dumps(body).encode(), headers=h)


def respond_obj(request, rt, obj, code=200, warnings=(), list_meta=None):
    out = codec.output_type(request.headers.get("Accept"))
    headers = {}
    if obj.get("kind") == "Status":
        return _json_response(obj, code, headers)
    if out == "protobuf":
        raise ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json, "
                       "application/yaml, application/vnd.kubernetes.protobuf")
    if out.startswith("table"):
        tv = "meta.k8s.io/v1beta1" if out == "table-v1beta1" else "meta.k8s.io/v1"
        meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
        body = table.table(rt, [obj], meta, request.query.get("includeObject") or "Metadata", tv)
        return _json_response(body, code, headers)
    if out == "partial":
        return _json_response(table.partial(obj), code, headers)
    rendered = codec.render(rt, obj)
    if out == "yaml":
        return web.Response(status=code, body=yaml.safe_dump(rendered, sort_keys=False).encode(),
                            headers={"Content-Type": "application/yaml", **headers})
    return _json_response(rendered, code, headers)


def _warn_headers(resp, warnings):
    for w in warnings:
        resp.headers.add("Warning", '299 - "' + w.replace('"', '\\"') + '"')


def _dry_run(q):
    vals = q.getall("dryRun", [])
    if not vals:
        return False
    for v in vals:
        if v != "All":
            raise ApiError(422, "Invalid", f'dryRun: Unsupported value: "{v}": supported values: '
                           '"All"', {"causes": [{"reason": "FieldValueNotSupported",
                                                 "message": f'Unsupported value: "{v}": supported values: "All"',
                                                 "field": "dryRun"}]})
    return True


def _encode_continue(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(tok):
    try:
        raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
        d = json.loads(raw)
        return int(d["rv"]), d["start"]
    except Exception:
        raise bad_request("invalid continue token: continue key is not valid: invalid character '\\u0081' "
                          "looking for beginning of value")


def _obj_key(o):
    md = o["metadata"]
    return (md.get("namespace") + "/" if md.get("namespace") else "") + md["name"]


def _watch_list_requested(q):
    """ListOptions validation of a watch (apimachinery internalversion/validation validateWatchOptions, WatchList
    enabled as in 1.32): `sendInitialEvents` (a bool read by Convert_Slice_string_To_bool) needs
    resourceVersionMatch=NotOlderThan, and resourceVersionMatch needs sendInitialEvents; 422 otherwise.
    Returns whether a streaming list (sendInitialEvents true) was asked for."""
    send = query_bool(q, "sendInitialEvents") if "sendInitialEvents" in q else None
    match = q.get("resourceVersionMatch", "")
    causes = []
    if send is not None and match != "NotOlderThan":
        causes.append(forbidden_cause("resourceVersionMatch",
                                      "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
    if match:
        if send is None:
            causes.append(forbidden_cause("resourceVersionMatch",
                                          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                                          "provided"))
        if match != "NotOlderThan":
            causes.append(not_supported_cause("resourceVersionMatch", match, ["NotOlderThan"]))
    if causes:
        texts = [c.text() for c in causes]
        raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: ' +
                       (texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"),
                       {"group": "meta.k8s.io", "kind": "ListOptions", "causes": [
                           {"reason": c.reason, "message": c.message, "field": c.field} for c in causes]})
    return bool(send)


async def _watch_list_unavailable(request):
    """A streaming list as the captured 1.32 server on etcd 3.4.23 answers it (edge-cases-2026-12.md, "Streaming
    lists"): 200, one ERROR event (500 InternalError, RequestWatchProgress disabled), end of stream. Clients fall
    back to a list, as they must against such a server."""
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                   "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": "a watch stream was requested by the client but the required storage feature "
                         "RequestWatchProgress is disabled", "reason": "InternalError", "code": 500}
    await resp.write(json.dumps({"type": "ERROR", "object": status}, separators=(",", ":")).encode() + b"\n")
    await resp.write_eof()
    return resp


class Handlers:
    def __init__(self, srv):
        self.srv = srv
        self.api, self.store, self.registry = srv.api, srv.store, srv.registry

    # ---- dispatch --------------------------------------------------------------------------
    async def handle(self, request, ri):
        rt = self.registry.get(ri.group, ri.version, ri.resource)
        if rt is None:
            raise page_not_found()
        if rt.namespaced and not ri.namespace and ri.name and ri.verb not in ("list", "watch"):
            raise page_not_found()
        if not rt.namespaced and ri.namespace and ri.resource != "namespaces":
            raise page_not_found()
        ns = ri.namespace if rt.namespaced else ""
        sub = ri.subresource
        q = request.query
        m = request.method
        if sub and sub not in rt.subresources():
            raise not_found(rt, ri.name)
        if sub == "eviction":
            if m != "POST":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                               "resource", {})
            body = codec.decode_body(rt, await request.read(), request.headers.get("Content-Type"))
            return _json_response(eviction.evict(self.api, self.registry, ns, ri.name, body, _dry_run(q)), 201)
        if sub == "binding" and m == "POST":
            return await self.binding(request, rt, ns, ri.name)
        if sub == "token":  # serviceaccounts/token: create only (tokenrequest.py)
            if m != "POST":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                               "resource", {})
            return _json_response(self.srv.tokens.create(ns, ri.name, await self._body(request, rt)), 201)
        if rt.is_cr and sub in ("status", "scale"):
            return await self._cr_subresource(request, rt, ns, ri, sub)
        if ri.verb == "watch":
            return await self.watch(request, rt, ns, ri)
        if m == "GET":
            if ri.name:
                return self.get(request, rt, ns, ri.name, sub)
            return await self.list(request, rt, ns)
        if m == "POST":
            return await self.create(request, rt, ns, ri.name)
        if m == "PUT":
            if not ri.name:
                raise bad_request("name must be provided")
            return await self.update(request, rt, ns, ri.name, sub)
        if m == "PATCH":
            if not ri.name:
                raise bad_request("name must be provided")
            return await self.patch(request, rt, ns, ri.name, sub)
        if m == "DELETE":
            if not ri.name:
                return await self.delete_collection(request, rt, ns)
            return await self.delete(request, rt, ns, ri.name)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                       {})

    async def _cr_subresource(self, request, rt, ns, ri, sub):
        """crdHandler.serveStatus/serveScale (apiextensions-apiserver pkg/apiserver/customresource_handler.go)
        serve get, update and patch; any other verb is 405 NewMethodNotSupported (a DELETE of .../NAME/scale does
        not delete NAME). RequestInfoFactory turns a GET into list/watch only without a name, so a GET of
        .../NAME/scale?watch=1 is a get; the /watch/ path prefix is the watch verb, refused likewise."""
        verb = None if ri.legacy_watch else {"GET": "get", "PUT": "update", "PATCH": "patch"}.get(request.method)
        if verb is None:
            raise ApiError(405, "MethodNotAllowed", f'{ri.verb} is not supported on resources of kind '
                           f'"{qualified(rt)}"', {"group": rt.group, "kind": rt.plural})
        if verb == "get":
            return self.get(request, rt, ns, ri.name, sub)
        if verb == "update":
            return await self.update(request, rt, ns, ri.name, sub)
        return await self.patch(request, rt, ns, ri.name, sub)

    # ---- reads -----------------------------------------------------------------------------
    def get(self, request, rt, ns, name, sub):
        obj = rt.out(self.store.get(rt.key, ns, name))
        if obj is None:
            raise not_found(rt, name)
        if sub == "scale":
            return self._scale_response(request, rt, obj)
        return respond_obj(request, rt, obj)

    def _selectors(self, rt, q):
        lab = parse_labels(q.get("labelSelector", ""))
        fld = parse_fields(q.get("fieldSelector", ""), rt)
        return lambda o: lab(o["metadata"].get("labels")) and fld(o)

    def _parse_rv(self, q):
        rv_s = q.get("resourceVersion")
        match = q.get("resourceVersionMatch")
        if match and not rv_s:
            raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                           "resourceVersionMatch is forbidden unless resourceVersion is provided",
                           {"group": "meta.k8s.io", "kind": "ListOptions", "causes": [
                               {"reason": "FieldValueForbidden", "message": "Forbidden: resourceVersionMatch is "
                                "forbidden unless resourceVersion is provided", "field": "resourceVersionMatch"}]})
        if match == "Exact" and rv_s == "0":
            raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                           'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                           {"group": "meta.k8s.io", "kind": "ListOptions", "causes": [
                               {"reason": "FieldValueForbidden", "message": 'Forbidden: resourceVersionMatch "exact" '
                                'is forbidden for resourceVersion "0"', "field": "resourceVersionMatch"}]})
        if rv_s:
            try:
                rv = int(rv_s)
                if rv < 0:
                    raise ValueError
            except ValueError:
                raise ApiError(500, "", f'resourceVersion: Invalid value: "{rv_s}": strconv.ParseUint: parsing '
                               f'"{rv_s}": invalid syntax')
            return rv, match
        return None, match

    def _future_revision(self, rv):
        """A read at a revision etcd has not reached (a continue token or an exact / paged-legacy list from before
        the server was restarted on a restored etcd): etcd's `mvcc: required revision is a future revision`, which
        kube-apiserver neither interprets (storage.InterpretListError passes a non-StorageError through) nor
        wraps: ErrorToAPIStatus makes it a 500 with no reason and etcd's message."""
        if rv > self.store.rv:
            err = ApiError(500, "", "etcdserver: mvcc: required revision is a future revision")
            del err.body["reason"]  # metav1.StatusReasonUnknown is "", omitted (omitempty)
            raise err

    def _too_large(self, rv):
        """A NotOlderThan list with a limit is read from etcd at its current revision, then checked
        (etcd3 store's validateMinimumResourceVersion): at once 504 Too large resource version, no Retry-After."""
        if rv > self.store.rv:
            raise ApiError(504, "Timeout", f"Timeout: Too large resource version: {rv}, current: {self.store.rv}",
                           {"causes": [{"reason": "ResourceVersionTooLarge",
                                        "message": "Too large resource version"}]})

    async def _wait_rv(self, rv):
        loop = asyncio.get_event_loop()
        end = loop.time() + 3.0
        while self.store.rv < rv:
            if loop.time() >= end:
                raise ApiError(504, "Timeout", f"Timeout: Too large resource version: {rv}, current: {self.store.rv}",
                               {"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}], "retryAfterSeconds": 1},
                               headers={"Retry-After": "1"})
            await asyncio.sleep(0.05)

    async def list(self, request, rt, ns):
        q = request.query
        match_fn = self._selectors(rt, q)
        rv, rv_match = self._parse_rv(q)
        cont = q.get("continue")
        limit = int(q.get("limit") or 0)
        if cont and rv is not None:
            raise bad_request("specifying resource version is not allowed when using continue")
        scope_ns = ns if rt.namespaced and ns else None
        start = ""
        if cont:
            snap_rv, start = _decode_continue(cont)
            self._future_revision(snap_rv)
            if snap_rv == -1:
                objs, snap_rv = self.store.items(rt.key, scope_ns), self.store.rv
            else:
                objs = self.store.state_at(rt.key, snap_rv)
                if objs is None:
                    tok = _encode_continue(-1, start)
                    raise ApiError(410, "Expired", "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without the continue parameter, or "
                                   "use the continue token in this response to retrieve the remainder of the results. "
                                   "Continuing with the provided token results in an inconsistent list - objects that "
                                   "were created, modified, or deleted between the time the first chunk was returned "
                                   "and now may show up in the list.", metadata={"continue": tok})
        elif rv is None:
            objs, snap_rv = self.store.items(rt.key, scope_ns), self.store.rv
        elif rv == 0:
            # Served by the watch cache, which ignores limit: everything, no continue token
            # (../shared/k8s-reference/edge-cases-2026-12.md, "GET pods?resourceVersion=0&limit=2"). A real watch
            # cache may also lag etcd a little; this one answers the current state (kinder: not modelled).
            objs, snap_rv, limit = self.store.items(rt.key, scope_ns), self.store.rv, 0
        elif rv_match == "Exact" or (limit and rv_match != "NotOlderThan"):
            # Served by etcd at that revision (shouldDelegateList; etcd3 GetList's withRev).
            self._future_revision(rv)
            objs = self.store.state_at(rt.key, rv)
            if objs is None:
                raise ApiError(410, "Expired", "The resourceVersion for the provided list is too old.")
            snap_rv = rv
        else:
            if limit:
                self._too_large(rv)
            await self._wait_rv(rv)  # the watch cache's waitUntilFreshAndBlock: 3 s, then 504
            objs, snap_rv = self.store.items(rt.key, scope_ns), self.store.rv
        if scope_ns is not None:
            objs = [o for o in objs if (o["metadata"].get("namespace") or "") == scope_ns]
        if rt.from_storage:
            objs = [rt.out(o) for o in objs]
        objs = [o for o in objs if match_fn(o)]
        if start:
            objs = [o for o in objs if _obj_key(o) >= start]
        meta = {"resourceVersion": str(snap_rv)}
        if limit and len(objs) > limit:
            page = objs[:limit]
            meta["continue"] = _encode_continue(snap_rv, _obj_key(page[-1]) + "\u0000")
            meta["remainingItemCount"] = len(objs) - limit
            objs = page
        elif rt.list_continue:
            meta["continue"] = ""
        out = codec.output_type(request.headers.get("Accept"))
        if out.startswith("table"):
            tv = "meta.k8s.io/v1beta1" if out == "table-v1beta1" else "meta.k8s.io/v1"
            rendered = [codec.render(rt, o) for o in objs]
            return _json_response(table.table(rt, rendered, meta, q.get("includeObject") or "Metadata", tv))
        if out in ("partial-list", "partial"):
            return _json_response({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                   "metadata": meta, "items": [table.partial(o) for o in objs]})
        if out == "protobuf":
            raise ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json, "
                           "application/yaml, application/vnd.kubernetes.protobuf")
        body = {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta,
                "items": [codec.render(rt, o, in_list=not rt.is_cr) for o in objs]}
        if rt.is_cr:
            body = {"apiVersion": rt.api_version, "items": body["items"], "kind": rt.list_kind, "metadata": meta}
        if out == "yaml":
            return web.Response(body=yaml.safe_dump(body, sort_keys=False).encode(),
                                headers={"Content-Type": "application/yaml"})
        return _json_response(body)

    async def watch(self, request, rt, ns, ri):
        send_initial = _watch_list_requested(request.query)
        if send_initial and not self.srv.cfg.watch_list:
            return await _watch_list_unavailable(request)
        q = dict(request.query)
        if ri.name:
            q["fieldSelector"] = ",".join(x for x in (q.get("fieldSelector"), f"metadata.name={ri.name}") if x)
        from multidict import MultiDict
        mq = MultiDict(q)
        match_fn = self._selectors(rt, mq)
        rv_s = q.get("resourceVersion", "")
        if rv_s not in ("", "0"):
            rv, _ = self._parse_rv(MultiDict({"resourceVersion": rv_s}))
            if send_initial:
                await self._wait_rv(rv)  # cacher.Watch: waitUntilFreshAndBlock before the initial events
        out = codec.output_type(request.headers.get("Accept"))
        return await watch.serve(request, self.srv, rt, ns if rt.namespaced else None, match_fn, q, out,
                                 send_initial=send_initial)

    # ---- writes ----------------------------------------------------------------------------
    async def _body(self, request, rt):
        return codec.decode_body(rt, await request.read(), request.headers.get("Content-Type"))

    def _write_response(self, request, rt, res):
        resp = respond_obj(request, rt, res.body, res.code)
        _warn_headers(resp, res.warnings)
        return resp

    async def create(self, request, rt, ns, name):
        q = request.query
        dry = _dry_run(q)
        obj = await self._body(request, rt)
        if isinstance(obj, dict) and name and not (obj.get("metadata") or {}).get("name"):
            obj.setdefault("metadata", {})["name"] = name
        if rt.key == "/pods":
            await admission.await_service_account(self.store, ns, obj)
        res = self.api.create(rt, ns, obj, dry_run=dry, field_validation=q.get("fieldValidation"))
        return self._write_response(request, rt, res)

    async def update(self, request, rt, ns, name, sub):
        q = request.query
        dry = _dry_run(q)
        obj = await self._body(request, rt)
        if sub == "scale":
            self._scale_uid_precondition(rt, ns, name, obj)
            return self._scale_write(request, rt, ns, name, obj, dry, put=True)
        res = self.api.update(rt, ns, name, obj, sub=sub, dry_run=dry, field_validation=q.get("fieldValidation"))
        return self._write_response(request, rt, res)

    async def patch(self, request, rt, ns, name, sub):
        q = request.query
        dry = _dry_run(q)
        ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        ptype = PATCH_TYPES.get(ctype)
        if ptype is None:
            raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        if ptype == "strategic" and rt.is_cr:
            raise ApiError(415, "UnsupportedMediaType", CR_PATCH_415)
        raw = await request.read()
        if ptype == "apply":
            if sub == "scale":
                return self._apply_scale(request, rt, ns, name, raw, dry)
            return self._apply(request, rt, ns, name, raw, dry)
        current = rt.out(self.store.get(rt.key, ns, name))
        if current is None:
            raise not_found(rt, name)
        p = patchlib.decode_json(raw)
        if sub == "scale":
            base = self._scale_of(rt, current)
        else:
            base = current
        if ptype == "json":
            new = patchlib.json_patch(base, p)
        elif ptype == "merge":
            if not isinstance(p, dict):
                raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
            new = patchlib.merge_patch(base, p)
        else:
            if not isinstance(p, dict):
                raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
            new = patchlib.strategic_merge(base, p)
        if sub == "scale":
            return self._scale_write(request, rt, ns, name, new, dry)
        if not isinstance(new, dict):
            raise bad_request("the patched object is not an object")
        res = self.api.update(rt, ns, name, new, sub=sub, dry_run=dry, field_validation=q.get("fieldValidation"),
                              require_rv=False, from_patch=True)
        return self._write_response(request, rt, res)

    def _apply(self, request, rt, ns, name, raw, dry):
        """Server-side apply, simplified: the applied configuration is merged onto the live object
        (created when missing). Field ownership and conflicts are not tracked."""
        q = request.query
        cfg = self._apply_config(q, raw, name)
        current = rt.out(self.store.get(rt.key, ns, name))
        if current is None:
            sent_uid = (cfg.get("metadata") or {}).get("uid")
            if sent_uid:  # endpoints/handlers/patch.go applyPatch: an apply that names a uid cannot create
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(rt)} "{name}": uid '
                               f"mismatch: the provided object specified uid {sent_uid}, and no existing object was "
                               "found", {"name": name, **({"group": rt.group} if rt.group else {}), "kind": rt.plural})
            cfg.setdefault("metadata", {})["name"] = name
            res = self.api.create(rt, ns, cfg, dry_run=dry, field_validation=q.get("fieldValidation"))
        else:
            new = patchlib.strategic_merge(current, cfg) if not rt.is_cr else patchlib.merge_patch(current, cfg)
            new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            res = self.api.update(rt, ns, name, new, dry_run=dry, field_validation=q.get("fieldValidation"),
                                  require_rv=False, from_patch=True)
        return self._write_response(request, rt, res)

    @staticmethod
    def _apply_config(q, raw, name):
        """The applied configuration of a server-side apply, after the checks every apply gets."""
        if not q.get("fieldManager"):
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                           "required for apply patch", {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                               {"reason": "FieldValueRequired", "message": "Required value: is required for apply "
                                "patch", "field": "fieldManager"}]})
        try:
            cfg = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise bad_request(f"error decoding YAML: {e}")
        if not isinstance(cfg, dict) or not cfg.get("kind") or not cfg.get("apiVersion"):
            raise bad_request("invalid object type: /, Kind=")
        if (cfg.get("metadata") or {}).get("name") not in (None, name):
            raise bad_request(f"the name of the object ({cfg['metadata']['name']}) does not match the name on the "
                              f"URL ({name})")
        return cfg

    def _apply_scale(self, request, rt, ns, name, raw, dry):
        """Server-side apply of an autoscaling/v1 Scale to .../NAME/scale (crdHandler.serveScale accepts
        apply-patch; ScaleREST maps the Scale's spec.replicas to specReplicasPath), simplified as _apply: the
        configuration is merged onto the current Scale. It never lands on the custom resource itself."""
        cfg = self._apply_config(request.query, raw, name)
        current = rt.out(self.store.get(rt.key, ns, name))
        if current is None:
            raise not_found(rt, name)
        return self._scale_write(request, rt, ns, name, patchlib.merge_patch(self._scale_of(rt, current), cfg), dry)

    async def _delete_opts(self, request):
        raw = await request.read()
        if not raw:
            return {}
        ct = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        if ct == "application/vnd.kubernetes.protobuf":
            from .protobuf import decode
            return decode(raw)
        try:
            return json.loads(raw) or {}
        except ValueError as e:
            raise bad_request(f"couldn't get version/kind; json parse error: {e}")

    async def delete(self, request, rt, ns, name):
        q = request.query
        dry = _dry_run(q)
        opts = await self._delete_opts(request)
        if "gracePeriodSeconds" in q:
            opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        if "orphanDependents" in q:
            opts["orphanDependents"] = query_bool(q, "orphanDependents")
        if "dryRun" in (opts or {}):
            dry = dry or opts.get("dryRun") == ["All"]
        res = self.api.delete(rt, ns, name, opts, dry_run=dry)
        return self._write_response(request, rt, res)

    async def delete_collection(self, request, rt, ns):
        q = request.query
        dry = _dry_run(q)
        match_fn = self._selectors(rt, q)
        opts = await self._delete_opts(request)
        if "gracePeriodSeconds" in q:
            opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        if "propagationPolicy" in q:
            opts["propagationPolicy"] = q["propagationPolicy"]
        items = []
        for o in list(self.store.items(rt.key, ns if rt.namespaced and ns else None)):
            if not match_fn(o):
                continue
            try:
                res = self.api.delete(rt, o["metadata"].get("namespace", ""), o["metadata"]["name"], opts,
                                      dry_run=dry)
            except ApiError:
                continue
            items.append(codec.render(rt, res.body if res.body.get("kind") != "Status" else o, in_list=True))
        return _json_response({"kind": rt.list_kind, "apiVersion": rt.api_version,
                               "metadata": {"resourceVersion": str(self.store.rv)}, "items": items})

    async def binding(self, request, rt, ns, name):
        body = await self._body(request, rt)
        target = (body.get("target") or {}).get("name")
        pod = self.store.get("/pods", ns, name)
        if pod is None:
            raise not_found(rt, name)
        if pod.get("spec", {}).get("nodeName"):
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is '
                           f"already assigned to node \"{pod['spec']['nodeName']}\"",
                           {"name": name, "kind": "pods/binding"})
        pod["spec"]["nodeName"] = target
        conds = [c for c in pod.setdefault("status", {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": now_rfc3339()})
        pod["status"]["conditions"] = conds
        self.api.put_internal(rt, pod)
        return _json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                               "code": 201}, 201)

    # ---- scale subresource -------------------------------------------------------------------
    @staticmethod
    def _path_get(obj, path):
        cur = obj
        for p in path.strip(".").split("."):
            if not isinstance(cur, dict):
                return None
            cur = cur.get(p)
        return cur

    def _scale_of(self, rt, obj):
        sc = rt.scale
        md = obj["metadata"]
        spec_r = self._path_get(obj, sc["specReplicasPath"]) or 0
        status = {"replicas": self._path_get(obj, sc.get("statusReplicasPath", ".status.replicas")) or 0}
        if sc.get("labelSelectorPath"):
            sel = self._path_get(obj, sc["labelSelectorPath"])
            if sel:
                status["selector"] = sel
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md.get("namespace"), "uid": md["uid"],
                             "resourceVersion": md["resourceVersion"], "creationTimestamp": md["creationTimestamp"]},
                "spec": {"replicas": spec_r}, "status": status}

    def _scale_response(self, request, rt, obj, code=200):
        sc = self._scale_of(rt, obj)
        out = codec.output_type(request.headers.get("Accept"))
        if out.startswith("table"):
            cols = [table._col("Name", "string", table.NAME_DESC, fmt="name"),
                    table._col("Desired", "integer", "Number of desired replicas"),
                    table._col("Available", "integer", "Number of actual replicas"),
                    table._col("Age", "date", table.AGE_DESC)]
            row = {"cells": [sc["metadata"]["name"], sc["spec"]["replicas"], sc["status"]["replicas"],
                             table.human_age(sc["metadata"]["creationTimestamp"])], "object": table.partial(sc)}
            return _json_response({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                                   "metadata": {"resourceVersion": sc["metadata"]["resourceVersion"]},
                                   "columnDefinitions": cols, "rows": [row]}, code)
        return _json_response(sc, code)

    def _scale_uid_precondition(self, rt, ns, name, scale):
        """A PUT of /scale carries the Scale's uid as a precondition on the object (rest.DefaultUpdatedObjectInfo)."""
        cur = self.store.get(rt.key, ns, name)
        sent = ((scale or {}).get("metadata") or {}).get("uid") if isinstance(scale, dict) else None
        if cur is not None and sent and sent != cur["metadata"]["uid"]:
            raise uid_precondition_failed(rt, ns, name, sent, cur["metadata"]["uid"])

    @staticmethod
    def _scale_decode_error(scale, replicas, put):
        """spec.replicas that does not decode into the typed Scale's int32: a PUT body fails in UpdateResource's
        decode (transformDecodeError: 400), a patched Scale in the patcher's DecodeInto (patch.go: 422 on the field
        `patch`). The text is encoding/json's UnmarshalTypeError."""
        if isinstance(replicas, bool):
            what = "bool"
        elif isinstance(replicas, (int, float)):
            what = f"number {replicas}"
        else:
            what = {str: "string", dict: "object", list: "array"}.get(type(replicas), "value")
        err = f"json: cannot unmarshal {what} into Go struct field ScaleSpec.spec.replicas of type int32"
        if put:
            return bad_request(f'Scale in version "v1" cannot be handled as a Scale: {err}')
        value = json.dumps(json.dumps(scale, separators=(",", ":")))
        return ApiError(422, "Invalid", f' "" is invalid: patch: Invalid value: {value}: {err}', {"causes": [
            {"reason": "FieldValueInvalid", "message": f"Invalid value: {value}: {err}", "field": "patch"}]})

    def _scale_write(self, request, rt, ns, name, scale, dry, put=False):
        """ScaleREST.Update (apiextensions-apiserver pkg/registry/customresource/etcd.go): the Scale's
        spec.replicas (absent or null decodes to 0) goes to specReplicasPath, its resourceVersion (when set) is a
        precondition, and the custom resource is then validated as any update of it (a negative count is the
        MediVoteService's 422: the schema's minimum and validateScaleSpec, cr-semantics.json)."""
        cur = self.store.get(rt.key, ns, name)
        if cur is None:
            raise not_found(rt, name)
        if not isinstance(scale, dict):
            raise bad_request("the object provided is unrecognized")
        md = scale.get("metadata") or {}
        if md.get("name") and md["name"] != name:  # handlers checkName, on an update and on a patched object
            raise bad_request(f"the name of the object ({md['name']}) does not match the name on the URL ({name})")
        if md.get("namespace") and md["namespace"] != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        replicas = (scale.get("spec") or {}).get("replicas")
        if replicas is None:
            replicas = 0
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not -2**31 <= replicas < 2**31:
            raise self._scale_decode_error(scale, replicas, put)
        rv = md.get("resourceVersion")
        if rv and rv != cur["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        new = copy.deepcopy(cur)
        parts = rt.scale["specReplicasPath"].strip(".").split(".")
        tgt = new
        for p in parts[:-1]:
            tgt = tgt.setdefault(p, {})
        tgt[parts[-1]] = replicas
        res = self.api.update(rt, ns, name, new, dry_run=dry, require_rv=False)
        return self._scale_response(request, rt, res.body)
