"""Request body decoding and response encoding.

* Bodies: JSON, or YAML with Content-Type application/yaml. Bad JSON -> 400 with the real message shape.
* Objects: custom resources are serialised with sorted keys; built-ins follow Go struct order
  (kind, apiVersion, metadata{name, generateName, namespace, uid, resourceVersion, ...}, spec, status).
* Built-in list items omit kind/apiVersion; custom resource list items keep them.
"""
import json

import yaml

from .errors import ApiError, bad_request

META_ORDER = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
              "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
              "ownerReferences", "finalizers", "managedFields"]

TABLE_ACCEPT = "as=Table"
PARTIAL_ACCEPT = "as=PartialObjectMetadata"


def decode_body(rt, raw, content_type):
    ct = (content_type or "application/json").split(";")[0].strip().lower()
    if not raw:
        raise bad_request(f"the object provided is unrecognized (must be of type {rt.kind if rt else ''}): "
                          "couldn't get version/kind; json parse error: unexpected end of JSON input")
    if ct in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise bad_request(f"error converting YAML to JSON: {e}")
    if ct == "application/vnd.kubernetes.protobuf":
        from .protobuf import decode
        try:
            return decode(raw)
        except ApiError:
            raise
        except Exception as e:
            raise bad_request(f"unable to decode protobuf body: {e}")
    if ct not in ("application/json", "*/*", ""):
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                       "media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
    try:
        return json.loads(raw)
    except ValueError as e:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        raise bad_request(f"the object provided is unrecognized (must be of type {rt.kind if rt else ''}): couldn't "
                          f"get version/kind; json parse error: {e} ({text[:64]})")


def _ordered_meta(md):
    out = {k: md[k] for k in META_ORDER if k in md}
    out.update({k: v for k, v in md.items() if k not in out})
    return out


def render(rt, obj, in_list=False):
    """An object as the server would send it (dict with the right key order)."""
    if obj is None:
        return None
    if rt is not None and rt.is_cr:
        return json.loads(json.dumps(obj, sort_keys=True))
    out = {}
    if not in_list:
        out["kind"] = obj.get("kind")
        out["apiVersion"] = obj.get("apiVersion")
    out["metadata"] = _ordered_meta(obj.get("metadata") or {})
    for k, v in obj.items():
        if k not in ("kind", "apiVersion", "metadata", "status"):
            out[k] = v
    if "status" in obj:
        out["status"] = obj["status"]
    return out


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def output_type(accept):
    """'table', 'table-v1beta1', 'partial', 'partial-list', 'yaml', 'protobuf' or 'json'."""
    a = (accept or "").replace(" ", "")
    first = a.split(",")
    for part in first:
        if TABLE_ACCEPT in part and "g=meta.k8s.io" in part:
            return "table-v1beta1" if "v=v1beta1" in part else "table"
        if "as=PartialObjectMetadataList" in part:
            return "partial-list"
        if PARTIAL_ACCEPT in part:
            return "partial"
        if part.startswith("application/yaml"):
            return "yaml"
        if part.startswith("application/json") or part.startswith("*/*") or part == "":
            return "json"
        if part.startswith("application/vnd.kubernetes.protobuf"):
            continue
    if any(p.startswith("application/vnd.kubernetes.protobuf") for p in first):
        return "protobuf"
    return "json"
