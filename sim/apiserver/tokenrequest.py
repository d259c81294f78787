"""The serviceaccounts/token subresource (TokenRequest, authentication.k8s.io/v1) and the tokens it issues.

Sources: pkg/registry/core/serviceaccount/storage/token.go (TokenREST.Create), pkg/apis/authentication/validation
(ValidateTokenRequest), pkg/apis/authentication/v1 defaults (SetDefaults_TokenRequestSpec) and
pkg/serviceaccount/claims.go + jwt.go (the validator of service account tokens). Contract of `TokenIssuer`:

* `create(ns, name, body)` -> the TokenRequest answered with 201: the ServiceAccount must exist (404
  `serviceaccounts "name" not found`); metadata.name/namespace, when given, must match the URL (422);
  spec.expirationSeconds defaults to 3600 and must be >= 600 and <= 2^32 (422, the real messages); spec.audiences
  defaults to the API server's audience; spec.boundObjectRef may name a Pod (running as that ServiceAccount, else
  400) or a Secret of the namespace (404 when missing; 409 when its uid differs). The answer echoes the request
  with the defaults and sets status.token and status.expirationTimestamp.
* `authenticate(token)` -> (user, groups) or None: `system:serviceaccount:<ns>:<name>` with groups
  system:serviceaccounts, system:serviceaccounts:<ns> and system:authenticated, while the token is not expired,
  names the API server's audience, its ServiceAccount exists with the uid it was issued for, and its bound object
  (if any) exists with the same uid; each with jwt.DefaultLeeway (60 s) past exp and past a deletionTimestamp, as
  the real validator allows.

Differences from the real server, none kinder: a token has the JWT shape with the real claims, but its signature is
random and it is checked by lookup in memory, so it stops working when the simulator restarts (a real token,
signed with a persistent key, survives a restart). The simulator has no RBAC: the token's user may do anything a
client certificate user may do (server.py).
"""
import base64
import datetime
import json
import secrets
import time
from types import SimpleNamespace

from .errors import ApiError, bad_request, invalid, invalid_value, not_found

AUDIENCE = "https://kubernetes.default.svc.cluster.local"   # kube-apiserver's --api-audiences default (the issuer)
ISSUER = AUDIENCE
DEFAULT_EXPIRATION = 3600        # SetDefaults_TokenRequestSpec
MIN_EXPIRATION = 600             # validation.MinTokenAgeSec ("10 minutes")
MAX_EXPIRATION = 1 << 32         # validation.MaxTokenAgeSec ("2^32 seconds")
LEEWAY = 60                      # jwt.DefaultLeeway: past exp, and past a deletionTimestamp, a token still works
TOKEN_REQUEST = SimpleNamespace(group="authentication.k8s.io", kind="TokenRequest", plural="tokenrequests")
SERVICE_ACCOUNTS = SimpleNamespace(group="", kind="ServiceAccount", plural="serviceaccounts")


def _b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _deleted_before(meta, t):
    """True when the object's deletionTimestamp lies before `t` (claims.go: invalidIfDeletedBefore)."""
    ts = meta.get("deletionTimestamp")
    if not ts:
        return False
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() < t


class TokenIssuer:
    def __init__(self, store, clock=time.time):
        self.store = store
        self.clock = clock
        self.tokens = {}   # token -> its claims

    # ---- POST .../serviceaccounts/<name>/token --------------------------------------------------------------
    def create(self, ns, name, body):
        if not isinstance(body, dict) or body.get("kind") not in (None, "TokenRequest"):
            raise bad_request("the object provided is unrecognized (must be of type TokenRequest)")
        meta = body.get("metadata") or {}
        spec = dict(body.get("spec") or {})
        causes = []
        if meta.get("name") and meta["name"] != name:
            causes.append(invalid_value("metadata.name", meta["name"],
                                        "must match the service account name if specified"))
        if meta.get("namespace") and meta["namespace"] != ns:
            causes.append(invalid_value("metadata.namespace", meta["namespace"],
                                        "must match the service account namespace if specified"))
        exp = spec.get("expirationSeconds")
        exp = DEFAULT_EXPIRATION if exp is None else exp
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise bad_request("spec.expirationSeconds: an integer is required")
        if exp < MIN_EXPIRATION:
            causes.append(invalid_value("spec.expirationSeconds", exp,
                                        "may not specify a duration less than 10 minutes"))
        if exp > MAX_EXPIRATION:
            causes.append(invalid_value("spec.expirationSeconds", exp,
                                        "may not specify a duration larger than 2^32 seconds"))
        if causes:
            raise invalid(TOKEN_REQUEST, name, causes)
        sa = self.store.get("/serviceaccounts", ns, name)
        if sa is None:
            raise not_found(SERVICE_ACCOUNTS, name)
        bound = self._bound_object(ns, name, spec.get("boundObjectRef"))
        spec["expirationSeconds"] = exp
        spec["audiences"] = list(spec.get("audiences") or [AUDIENCE])
        now = int(self.clock())
        claims = {"aud": spec["audiences"], "exp": now + exp, "iat": now, "iss": ISSUER,
                  "jti": secrets.token_hex(16),
                  "kubernetes.io": {"namespace": ns,
                                    "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]}},
                  "nbf": now, "sub": f"system:serviceaccount:{ns}:{name}"}
        if bound:
            claims["kubernetes.io"][bound["kind"].lower()] = {"name": bound["name"], "uid": bound["uid"]}
        header = {"alg": "RS256", "kid": "medivote-sim"}
        token = ".".join([_b64url(json.dumps(header, separators=(",", ":")).encode()),
                          _b64url(json.dumps(claims, separators=(",", ":")).encode()),
                          _b64url(secrets.token_bytes(64))])
        self.tokens[token] = claims
        out_meta = {k: v for k, v in meta.items() if k in ("name", "namespace")}
        out_meta["creationTimestamp"] = None
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": out_meta,
                "spec": spec, "status": {"token": token, "expirationTimestamp": _rfc3339(now + exp)}}

    def _bound_object(self, ns, sa_name, ref):
        if not ref:
            return None
        kind, api_version, name = ref.get("kind"), ref.get("apiVersion", ""), ref.get("name", "")
        if api_version != "v1" or kind not in ("Pod", "Secret"):
            group_version = api_version.rsplit("/", 1)
            gvk = f"{group_version[0] if len(group_version) == 2 else ''}/{group_version[-1]}, Kind={kind}"
            raise bad_request(f"cannot bind token to object of type {gvk}")
        key, rt = ("/pods", SimpleNamespace(group="", plural="pods")) if kind == "Pod" else \
            ("/secrets", SimpleNamespace(group="", plural="secrets"))
        obj = self.store.get(key, ns, name)
        if obj is None:
            raise not_found(rt, name)
        if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName", "default") != sa_name:
            raise bad_request(f'cannot bind token for serviceaccount "{sa_name}" to pod running with serviceaccount '
                              f'"{obj["spec"].get("serviceAccountName", "default")}"')
        uid = obj["metadata"]["uid"]
        if ref.get("uid") and ref["uid"] != uid:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind} "{name}": the UID in the bound '
                           f"object reference ({ref['uid']}) does not match the UID in record ({uid}). The object "
                           "might have been deleted and then recreated", {"name": name, "kind": kind})
        return {"kind": kind, "key": key, "name": name, "uid": uid}

    # ---- Authorization: Bearer <token> ----------------------------------------------------------------------
    def authenticate(self, token):
        claims = self.tokens.get(token)
        if claims is None:
            return None
        now = self.clock()
        if now > claims["exp"] + LEEWAY or now < claims["nbf"] - LEEWAY or AUDIENCE not in claims["aud"]:
            return None
        k8s = claims["kubernetes.io"]
        ns, sa_ref = k8s["namespace"], k8s["serviceaccount"]
        invalid_if_deleted_before = now - LEEWAY
        sa = self.store.get("/serviceaccounts", ns, sa_ref["name"])
        if sa is None or sa["metadata"]["uid"] != sa_ref["uid"] or \
                _deleted_before(sa["metadata"], invalid_if_deleted_before):
            return None
        for kind, key in (("pod", "/pods"), ("secret", "/secrets")):
            ref = k8s.get(kind)
            if ref:
                obj = self.store.get(key, ns, ref["name"])
                if obj is None or obj["metadata"]["uid"] != ref["uid"] or \
                        _deleted_before(obj["metadata"], invalid_if_deleted_before):
                    return None
        return claims["sub"], ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]

