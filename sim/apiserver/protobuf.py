"""Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) for the kinds
kubectl's typed clients send (`kubectl create namespace|configmap|secret|serviceaccount|token`, `kubectl drain`'s
Eviction) and the HPA's Scale. Bodies are `k8s\\0` + runtime.Unknown{typeMeta, raw}; `raw` is decoded with the
field tables below into the JSON form. Responses are always JSON (kubectl and client-go also accept it)."""
import base64

from .errors import ApiError

S, I, B, BYTES = "s", "i", "b", "bytes"
OWNER = {1: ("kind", S), 3: ("name", S), 4: ("uid", S), 5: ("apiVersion", S), 6: ("controller", B),
         7: ("blockOwnerDeletion", B)}
META = {1: ("name", S), 2: ("generateName", S), 3: ("namespace", S), 5: ("uid", S), 6: ("resourceVersion", S),
        7: ("generation", I), 11: ("labels", ("map", S)), 12: ("annotations", ("map", S)),
        13: ("ownerReferences", ("list", OWNER)), 14: ("finalizers", ("list", S))}
PRECOND = {1: ("uid", S), 2: ("resourceVersion", S)}
DELETE_OPTS = {1: ("gracePeriodSeconds", I), 2: ("preconditions", PRECOND), 3: ("orphanDependents", B),
               4: ("propagationPolicy", S), 5: ("dryRun", ("list", S))}
REF = {1: ("name", S)}
KINDS = {
    "Namespace": {1: ("metadata", META), 2: ("spec", {1: ("finalizers", ("list", S))})},
    "ConfigMap": {1: ("metadata", META), 2: ("data", ("map", S)), 3: ("binaryData", ("map", BYTES)),
                  4: ("immutable", B)},
    "Secret": {1: ("metadata", META), 2: ("data", ("map", BYTES)), 3: ("type", S), 4: ("stringData", ("map", S)),
               5: ("immutable", B)},
    "ServiceAccount": {1: ("metadata", META), 3: ("imagePullSecrets", ("list", REF)),
                       4: ("automountServiceAccountToken", B)},
    "Eviction": {1: ("metadata", META), 2: ("deleteOptions", DELETE_OPTS)},
    # `kubectl create token` (k8s.io/api/authentication/v1 generated.proto; tokenrequest.py)
    "TokenRequest": {1: ("metadata", META), 2: ("spec", {
        1: ("audiences", ("list", S)), 4: ("expirationSeconds", I),
        3: ("boundObjectRef", {1: ("kind", S), 2: ("apiVersion", S), 3: ("name", S), 4: ("uid", S)})})},
    "DeleteOptions": DELETE_OPTS,
    # the HPA's scale client (kube-controller-manager speaks protobuf) PUTs autoscaling/v1 Scale (generated.proto)
    "Scale": {1: ("metadata", META), 2: ("spec", {1: ("replicas", I)}),
              3: ("status", {1: ("replicas", I), 2: ("selector", S)})},
}


def _varint(b, i):
    shift = result = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, i
        shift += 7


def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type")
        yield num, v


def _scalar(t, v):
    if t == S:
        return v.decode()
    if t == BYTES:
        return base64.b64encode(v).decode()
    if t == B:
        return bool(v)
    if t == I:
        return v - (1 << 64) if v >= 1 << 63 else v
    raise ValueError(t)


def _decode(b, table):
    out = {}
    for num, v in _fields(b):
        if num not in table:
            continue
        name, t = table[num]
        if isinstance(t, dict):
            out[name] = _decode(v, t)
        elif isinstance(t, tuple) and t[0] == "map":
            kv = dict(_fields(v))
            out.setdefault(name, {})[kv.get(1, b"").decode()] = _scalar(t[1], kv.get(2, b""))
        elif isinstance(t, tuple) and t[0] == "list":
            out.setdefault(name, []).append(_decode(v, t[1]) if isinstance(t[1], dict) else _scalar(t[1], v))
        else:
            out[name] = _scalar(t, v)
    return out


def decode(raw):
    if not raw.startswith(b"k8s\x00"):
        raise ApiError(400, "BadRequest", "provided object is not a protobuf envelope")
    unknown = dict(_fields(raw[4:]))
    tm = dict(_fields(unknown.get(1, b"")))
    api_version, kind = tm.get(1, b"").decode(), tm.get(2, b"").decode()
    if kind not in KINDS:
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                       "media types include: application/json, application/yaml")
    obj = _decode(unknown.get(2, b""), KINDS[kind])
    obj["kind"], obj["apiVersion"] = kind, api_version
    return obj
