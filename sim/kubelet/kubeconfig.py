"""Kubeconfig loading: the current context's server, TLS trust and credentials.

Contract: load(path) returns a KubeConfig whose ssl_context() verifies the
server against the kubeconfig's CA only (certificate-authority[-data]), like
kubectl, unless insecure-skip-tls-verify is set; client certificate/key come
from *-data or files; auth_headers() gives a bearer token (token or tokenFile)
or basic auth. Relative file paths are resolved against the kubeconfig's folder.
"""
import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field

import yaml


class KubeConfigError(Exception):
    pass


@dataclass
class KubeConfig:
    server: str
    ca_pem: bytes | None = None
    insecure: bool = False
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    token: str | None = None
    basic: tuple[str, str] | None = None
    extra: dict = field(default_factory=dict)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx.check_hostname = True
            ctx.verify_mode = ssl.CERT_REQUIRED
            if self.ca_pem:
                ctx.load_verify_locations(cadata=self.ca_pem.decode())
            else:
                ctx.load_default_certs()
        if self.client_cert_pem and self.client_key_pem:
            # ssl only loads chains from files: write them to a private temp dir.
            with tempfile.TemporaryDirectory(prefix="kubelet-tls-") as d:
                cert = os.path.join(d, "cert.pem")
                key = os.path.join(d, "key.pem")
                for p, data in ((cert, self.client_cert_pem), (key, self.client_key_pem)):
                    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                ctx.load_cert_chain(cert, key)
        return ctx

    def auth_headers(self) -> dict:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.basic:
            raw = f"{self.basic[0]}:{self.basic[1]}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}


def _named(items, name, what):
    for it in items or []:
        if it.get("name") == name:
            return it.get(what) or {}
    raise KubeConfigError(f"kubeconfig: {what} {name!r} not found")


def _data_or_file(section: dict, key: str, base: str) -> bytes | None:
    if section.get(key + "-data"):
        return base64.b64decode(section[key + "-data"])
    if section.get(key):
        p = section[key]
        if not os.path.isabs(p):
            p = os.path.join(base, p)
        with open(p, "rb") as f:
            return f.read()
    return None


def load(path: str, context: str | None = None) -> KubeConfig:
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    base = os.path.dirname(os.path.abspath(path))
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        contexts = doc.get("contexts") or []
        if len(contexts) != 1:
            raise KubeConfigError("kubeconfig: no current-context")
        ctx_name = contexts[0]["name"]
    ctx = _named(doc.get("contexts"), ctx_name, "context")
    cluster = _named(doc.get("clusters"), ctx["cluster"], "cluster")
    user = _named(doc.get("users"), ctx["user"], "user") if ctx.get("user") else {}
    server = cluster.get("server")
    if not server:
        raise KubeConfigError("kubeconfig: cluster has no server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(user["tokenFile"]) as f:
            token = f.read().strip()
    basic = (user["username"], user.get("password", "")) if user.get("username") else None
    return KubeConfig(
        server=server.rstrip("/"),
        ca_pem=_data_or_file(cluster, "certificate-authority", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        client_cert_pem=_data_or_file(user, "client-certificate", base),
        client_key_pem=_data_or_file(user, "client-key", base),
        token=token,
        basic=basic,
    )
