"""Patch application: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

The strategic merge patch covers what `kubectl apply` sends for built-in kinds: lists merged by their
patchMergeKey (containers/env/ports/volumes...), `$setElementOrder/<list>`, `$patch: delete|replace|merge`,
`$deleteFromPrimitiveList/<list>` and `$retainKeys`. Errors raise ApiError with the real messages."""
import copy
import json

from .errors import ApiError, bad_request

# (parent field, list field) -> merge key; ("*", list) applies under any parent.
MERGE_KEYS = {
    ("*", "containers"): "name", ("*", "initContainers"): "name", ("*", "ephemeralContainers"): "name",
    ("*", "env"): "name", ("*", "volumeMounts"): "mountPath", ("*", "volumeDevices"): "devicePath",
    ("*", "volumes"): "name", ("*", "imagePullSecrets"): "name", ("*", "conditions"): "type",
    ("*", "ownerReferences"): "uid", ("*", "hostAliases"): "ip", ("*", "topologySpreadConstraints"): "topologyKey",
    ("*", "resourceClaims"): "name", ("*", "containerStatuses"): None, ("*", "podIPs"): "ip",
    ("containers", "ports"): "containerPort", ("initContainers", "ports"): "containerPort",
    ("spec", "ports"): "port", ("*", "ports"): "port",
}
# Primitive lists with merge semantics (set union) rather than replacement.
SET_LISTS = {"finalizers"}


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def _walk(doc, path):
    if path == "":
        return None, None
    if not path.startswith("/"):
        raise _jp_error(f'add operation does not apply: doc is missing path: "{path}": missing value')
    parts = [_unescape(p) for p in path[1:].split("/")]
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise _jp_error(f'doc is missing path: "{path}": missing value')
    return cur, parts[-1]


def _jp_error(msg):
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})


def _get(parent, key, path):
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent[int(key)]
    raise _jp_error(f'doc is missing path: "{path}"')


def _remove(parent, key, path):
    if isinstance(parent, dict) and key in parent:
        return parent.pop(key)
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent.pop(int(key))
    raise _jp_error(f'doc is missing path: "{path}"')


def _add(parent, key, value, path):
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-":
            parent.append(value)
        elif key.isdigit() and int(key) <= len(parent):
            parent.insert(int(key), value)
        else:
            raise _jp_error(f'index out of range: "{path}"')
    else:
        raise _jp_error(f'doc is missing path: "{path}"')


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("error decoding patch: json: cannot unmarshal object into Go value of type "
                          "[]handlers.jsonPatchOp")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _jp_error("missing value")
        parent, key = _walk(doc, path)
        if kind == "add":
            _add(parent, key, copy.deepcopy(op["value"]), path)
        elif kind == "remove":
            _remove(parent, key, path)
        elif kind == "replace":
            _get(parent, key, path)
            if isinstance(parent, list):
                parent[int(key)] = copy.deepcopy(op["value"])
            else:
                parent[key] = copy.deepcopy(op["value"])
        elif kind == "test":
            if _get(parent, key, path) != op["value"]:
                raise _jp_error("testing value failed")
        elif kind in ("move", "copy"):
            fp, fk = _walk(doc, op.get("from", ""))
            val = _remove(fp, fk, op["from"]) if kind == "move" else copy.deepcopy(_get(fp, fk, op["from"]))
            parent, key = _walk(doc, path)
            _add(parent, key, val, path)
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return doc


def _merge_key(parent, field):
    if (parent, field) in MERGE_KEYS:
        return MERGE_KEYS[(parent, field)]
    return MERGE_KEYS.get(("*", field))


def strategic_merge(target, patch, parent="", field=""):
    """Apply a strategic merge patch `patch` onto `target` (a dict); returns a new dict."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            out[name] = [x for x in out.get(name) or [] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list):
            out[k] = _merge_list(out.get(k), v, field or parent, k)
        elif isinstance(v, dict):
            merged = strategic_merge(out.get(k), v, field, k)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = v
    for name, order in orders.items():
        out[name] = _apply_order(out.get(name) or [], order, _merge_key(field, name))
    if retain is not None:
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(cur, patch, parent, field):
    key = _merge_key(parent, field)
    cur = cur if isinstance(cur, list) else []
    if field in SET_LISTS:
        out = list(cur)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    if not key or not all(isinstance(x, dict) for x in patch):
        if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
            return [x for x in patch if not (isinstance(x, dict) and "$patch" in x)]
        return copy.deepcopy(patch)
    if any(x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if "$patch" not in x]
    out = [copy.deepcopy(x) for x in cur]
    for item in patch:
        kv = item.get(key)
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == kv), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge({}, item, parent, field))
        else:
            out[idx] = strategic_merge(out[idx], item, field, field)
    return out


def _apply_order(items, order, key):
    if not key:
        return items
    pos = {}
    for i, o in enumerate(order):
        pos[o.get(key) if isinstance(o, dict) else o] = i
    ordered = sorted([x for x in items if x.get(key) in pos], key=lambda x: pos[x.get(key)])
    rest = [x for x in items if x.get(key) not in pos]
    return ordered + rest


def decode_json(raw):
    try:
        return json.loads(raw)
    except ValueError as e:
        raise bad_request(f"error decoding patch: {e}")
