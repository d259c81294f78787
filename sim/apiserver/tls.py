"""Certificate authority, serving certificate, client certificates and kubeconfig files.

Contract: `write_credentials(state_dir, host, port, scheme)` creates (once per start) a CA, a server
certificate valid for 127.0.0.1, localhost and ::1, and three kubeconfigs:
`kubeconfig` (admin client certificate, O=system:masters), `operator.kubeconfig` (bearer token of
system:serviceaccount:medivote-system:medivote-operator) and `kubelet.kubeconfig` (client certificate
CN=system:node:sim-node-1, O=system:nodes). Returns the `Credentials` the server authenticates against."""
import base64
import datetime
import ipaddress
import os
import secrets

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

OPERATOR_USER = "system:serviceaccount:medivote-system:medivote-operator"
OPERATOR_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:medivote-system", "system:authenticated"]


class Credentials:
    def __init__(self):
        self.tokens = {}  # token -> (user, groups)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                           serialization.NoEncryption())


def _pem_cert(c):
    return c.public_bytes(serialization.Encoding.PEM)


def _name(cn, orgs=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _issue(subject, key, ca_cert, ca_key, *, server=False, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                               else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return b.sign(ca_key, hashes.SHA256())


def _make_ca():
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    subj = _name("medivote-sim-ca")
    cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _b64(b):
    return base64.b64encode(b).decode()


def _write(path, data, mode=0o600):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)


def _kubeconfig(server, ca_pem, user_name, user):
    cluster = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = _b64(ca_pem)
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "sim", "cluster": cluster}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": user_name}}],
        "current-context": "sim"}, sort_keys=False)


def write_credentials(state_dir, host, port, scheme):
    """Create all key material and kubeconfigs in state_dir; return (Credentials, ssl paths or None)."""
    os.makedirs(state_dir, exist_ok=True)
    creds = Credentials()
    ca_cert, ca_key = _make_ca()
    ca_pem = _pem_cert(ca_cert)
    _write(os.path.join(state_dir, "ca.crt"), ca_pem, 0o644)
    _write(os.path.join(state_dir, "ca.key"), _pem_key(ca_key))
    skey = _key()
    sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("::1"))]
    scert = _issue(_name("kube-apiserver"), skey, ca_cert, ca_key, server=True, sans=sans)
    _write(os.path.join(state_dir, "server.crt"), _pem_cert(scert) + ca_pem, 0o644)
    _write(os.path.join(state_dir, "server.key"), _pem_key(skey))

    def client(cn, orgs):
        k = _key()
        c = _issue(_name(cn, orgs), k, ca_cert, ca_key)
        return {"client-certificate-data": _b64(_pem_cert(c)), "client-key-data": _b64(_pem_key(k))}

    admin_token = secrets.token_hex(16)
    operator_token = secrets.token_hex(16)
    creds.tokens[admin_token] = ("kubernetes-admin", ["system:masters", "system:authenticated"])
    creds.tokens[operator_token] = (OPERATOR_USER, OPERATOR_GROUPS)
    _write(os.path.join(state_dir, "admin.token"), admin_token)
    _write(os.path.join(state_dir, "operator.token"), operator_token)

    server = f"{scheme}://{host}:{port}"
    ca = ca_pem if scheme == "https" else None
    if scheme == "https":
        admin_user = client("kubernetes-admin", ["system:masters"])
        kubelet_user = client("system:node:sim-node-1", ["system:nodes"])
    else:  # plain HTTP carries no client certificates: use tokens everywhere
        admin_user = {"token": admin_token}
        kubelet_token = secrets.token_hex(16)
        creds.tokens[kubelet_token] = ("system:node:sim-node-1", ["system:nodes", "system:authenticated"])
        kubelet_user = {"token": kubelet_token}
    _write(os.path.join(state_dir, "kubeconfig"), _kubeconfig(server, ca, "admin", admin_user))
    _write(os.path.join(state_dir, "operator.kubeconfig"),
           _kubeconfig(server, ca, "medivote-operator", {"token": operator_token}))
    _write(os.path.join(state_dir, "kubelet.kubeconfig"), _kubeconfig(server, ca, "kubelet", kubelet_user))
    paths = None
    if scheme == "https":
        paths = (os.path.join(state_dir, "server.crt"), os.path.join(state_dir, "server.key"),
                 os.path.join(state_dir, "ca.crt"))
    return creds, paths
