"""The projected `kube-api-access-*` volume that ServiceAccount admission adds to every pod, as the kubelet simulator
materializes it (sim/kubelet/volumes.py): `token` (a JWT-shaped, unsigned token: the simulator does not call
TokenRequest), `ca.crt` from the ConfigMap kube-root-ca.crt, `namespace` from the downward API, read-only at
/var/run/secrets/kubernetes.io/serviceaccount in every container."""
import base64
import json

from kubelet_fixtures import api, apiserver, kubeconfig, kubelet, ns  # noqa: F401 - pytest fixtures
from kubelet_testlib import pod_body, poll

TOKEN_DIR = "var/run/secrets/kubernetes.io/serviceaccount"   # relative: a container's cwd is its rootfs


def _finished(api, ns, name):
    def check():
        p = api.get(f"/api/v1/namespaces/{ns}/pods/{name}")
        return p if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed") else None
    return poll(check, timeout=30, what=f"pod {ns}/{name} finished")


def _reader(out, name="c"):
    script = ("import json,os; d=%r; "
              "json.dump({f: open(os.path.join(d, f)).read() for f in sorted(os.listdir(d))} "
              "if os.path.isdir(d) else None, open(os.environ['OUT'], 'w'))" % TOKEN_DIR)
    return {"name": name, "image": "python:3", "command": ["/usr/bin/python3", "-c", script],
            "env": [{"name": "OUT", "value": str(out)}]}


def test_pod_reads_token_ca_and_namespace(api, kubelet, ns, apiserver, tmp_path):
    out, init_out = tmp_path / "files.json", tmp_path / "init.json"
    api.create(f"/api/v1/namespaces/{ns}/pods",
               pod_body("sa", [_reader(out)], initContainers=[_reader(init_out, "init")], restartPolicy="Never"))
    p = _finished(api, ns, "sa")
    assert p["status"]["phase"] == "Succeeded", p["status"]
    files = json.loads(out.read_text())
    assert set(files) == {"token", "ca.crt", "namespace"}
    assert files["namespace"] == ns
    assert files["ca.crt"] == (apiserver / "ca.crt").read_text()
    header, claims, signature = files["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert claims["sub"] == f"system:serviceaccount:{ns}:default"
    assert claims["kubernetes.io"]["pod"] == {"name": "sa", "uid": p["metadata"]["uid"]}
    assert claims["exp"] - claims["iat"] == 3607
    assert json.loads(init_out.read_text()) == files   # init containers get the mount too


def test_no_token_volume_when_automount_is_off(api, kubelet, ns, tmp_path):
    out = tmp_path / "files.json"
    api.create(f"/api/v1/namespaces/{ns}/pods",
               pod_body("quiet", [_reader(out)], restartPolicy="Never", automountServiceAccountToken=False))
    p = _finished(api, ns, "quiet")
    assert p["status"]["phase"] == "Succeeded", p["status"]
    assert json.loads(out.read_text()) is None
