"""Pod volumes as local directories, and a per-container rootfs that mounts them.

Contract:
- setup_pod_volumes(...) materialises every volume of the pod under
  Layout.volume_dir (persistentVolumeClaim: Layout.pvc_dir, created once and
  never removed by the kubelet). secret/configMap/downwardAPI/projected files
  are written once at pod start (items, keys, mode/defaultMode honoured) and
  made read-only; they are not refreshed later. A projected serviceAccountToken
  source gets a JWT-shaped but unsigned token (service_account_token: the
  kubelet simulator does not call TokenRequest). hostPath maps to the host path.
  A missing non-optional Secret/ConfigMap raises VolumeError (the pod waits in
  ContainerCreating and is retried).
- setup_rootfs(...) builds the container's rootfs: each volumeMount's
  mountPath becomes a symlink (subPath honoured) to its volume directory.
  A process sees mountPath P at "$SIM_ROOTFS/P", and, because its cwd is the
  rootfs (or rootfs+workingDir), at the relative path "P without its leading /".
- remove_pod_dir(...) deletes everything of the pod except PVC data and logs.
- set_volume_ownership(pod, volume_dirs) (namespace isolation mode only, where containers run as other users):
  emptyDir and claim directories get mode 0777 (emptyDir: pkg/volume/emptydir setupDir chmods 0777; a claim of
  the local-path provisioner is created `mkdir -m 0777`). With the pod's securityContext.fsGroup, every volume but
  hostPath then gets what pkg/volume/volume_linux.go SetVolumeOwnership does: each file and dir (symlinks skipped)
  chowned to group fsGroup (owner unchanged, so root), mode |= 0440 for read-only volumes (secret, configMap,
  downwardAPI, projected) or 0660 for writable ones, and dirs also |= setgid + 0110. Without fsGroup the files keep
  their defaultMode/items[].mode and owner root: a 0400 Secret is unreadable to a non-root user.
"""
import base64
import json
import os
import shutil
import stat
import time

from .expand import field_value
from .layout import Layout


class VolumeError(Exception):
    pass


def _write_files(base: str, files: dict[str, tuple[bytes, int]]):
    os.makedirs(base, exist_ok=True)
    for rel, (data, mode) in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.chmod(path, 0o600)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode & 0o777)


def _kv_files(kind, obj, name, items, default_mode, optional):
    if obj is None:
        if optional:
            return {}
        raise VolumeError(f'{kind.lower()} "{name}" not found')
    data = {}
    for k, v in (obj.get("data") or {}).items():
        data[k] = base64.b64decode(v) if kind == "Secret" else v.encode()
    for k, v in (obj.get("binaryData") or {}).items():
        data[k] = base64.b64decode(v)
    files = {}
    if items:
        for it in items:
            if it["key"] not in data:
                if optional:
                    continue
                raise VolumeError(f"configmap references non-existent config key: {it['key']}"
                                  if kind == "ConfigMap" else f"references non-existent secret key: {it['key']}")
            files[it["path"]] = (data[it["key"]], it.get("mode", default_mode))
    else:
        for k, v in data.items():
            files[k] = (v, default_mode)
    return files


def _downward_files(pod, items, default_mode, pod_ip, host_ip):
    files = {}
    for it in items or []:
        if "fieldRef" in it:
            val = field_value(pod, it["fieldRef"]["fieldPath"], pod_ip, host_ip)
        else:
            val = "0"
        files[it["path"]] = (val.encode(), it.get("mode", default_mode))
    return files


async def setup_pod_volumes(layout: Layout, pod: dict, pod_ip: str, host_ip: str, fetch) -> dict[str, str]:
    """Returns volume name -> host directory (or file, for hostPath files)."""
    md = pod["metadata"]
    uid, ns = md["uid"], md["namespace"]
    dirs = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol["name"]
        vdir = layout.volume_dir(uid, name)
        if "persistentVolumeClaim" in vol:
            vdir = layout.pvc_dir(ns, vol["persistentVolumeClaim"]["claimName"])
            os.makedirs(vdir, exist_ok=True)
        elif "hostPath" in vol:
            vdir = vol["hostPath"]["path"]
        elif "emptyDir" in vol:
            os.makedirs(vdir, exist_ok=True)
        elif "secret" in vol or "configMap" in vol:
            kind, src = ("Secret", vol["secret"]) if "secret" in vol else ("ConfigMap", vol["configMap"])
            ref = src.get("secretName") if kind == "Secret" else src.get("name")
            obj = await fetch(kind, ref)
            files = _kv_files(kind, obj, ref, src.get("items"), src.get("defaultMode", 0o644), bool(src.get("optional")))
            _write_files(vdir, files)
            _read_only(vdir)
        elif "downwardAPI" in vol:
            src = vol["downwardAPI"]
            _write_files(vdir, _downward_files(pod, src.get("items"), src.get("defaultMode", 0o644), pod_ip, host_ip))
            _read_only(vdir)
        elif "projected" in vol:
            src = vol["projected"]
            mode = src.get("defaultMode", 0o644)
            files = {}
            for s in src.get("sources") or []:
                if "secret" in s or "configMap" in s:
                    kind, ss = ("Secret", s["secret"]) if "secret" in s else ("ConfigMap", s["configMap"])
                    obj = await fetch(kind, ss["name"])
                    files.update(_kv_files(kind, obj, ss["name"], ss.get("items"), mode, bool(ss.get("optional"))))
                elif "downwardAPI" in s:
                    files.update(_downward_files(pod, s["downwardAPI"].get("items"), mode, pod_ip, host_ip))
                elif "serviceAccountToken" in s:
                    sat = s["serviceAccountToken"]
                    files[sat.get("path", "token")] = (service_account_token(pod, sat).encode(), mode)
            _write_files(vdir, files)
            _read_only(vdir)
        else:
            os.makedirs(vdir, exist_ok=True)
        dirs[name] = vdir
    return dirs


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def service_account_token(pod: dict, projection: dict, now=None) -> str:
    """The token file of a projected serviceAccountToken source.

    The real kubelet asks the API server for a bound token (TokenRequest on serviceaccounts/<sa>/token, audience
    and expirationSeconds from the projection, bound to the pod). The kubelet simulator does not, so this writes a
    JWT of the same shape with the claims a bound token carries (iss, sub,
    aud, exp/iat/nbf, kubernetes.io namespace/pod/serviceaccount) and an `alg: none` header with an empty
    signature. Readers of the file see a well-formed token; no API server accepts it as a credential."""
    md, spec = pod["metadata"], pod.get("spec") or {}
    iat = int(time.time() if now is None else now)
    sa = spec.get("serviceAccountName") or "default"
    issuer = "https://kubernetes.default.svc.cluster.local"
    claims = {"aud": [projection["audience"]] if projection.get("audience") else [issuer],
              "exp": iat + int(projection.get("expirationSeconds", 3600)), "iat": iat, "nbf": iat, "iss": issuer,
              "kubernetes.io": {"namespace": md.get("namespace"), "pod": {"name": md.get("name"), "uid": md.get("uid")},
                                "serviceaccount": {"name": sa}},
              "sub": f"system:serviceaccount:{md.get('namespace')}:{sa}"}
    header = {"alg": "none", "typ": "JWT"}
    return ".".join((_b64url(json.dumps(header, separators=(",", ":")).encode()),
                     _b64url(json.dumps(claims, separators=(",", ":")).encode()), ""))


def _read_only(d: str):
    for root, subdirs, _files in os.walk(d):
        for s in subdirs:
            os.chmod(os.path.join(root, s), 0o555)
    os.chmod(d, 0o555)


def mount_sources(container: dict, volume_dirs: dict[str, str]):
    """(volumeMount, host path it shows) for each mount whose volume is set up; subPath appended (and created)."""
    for m in container.get("volumeMounts") or []:
        source = volume_dirs.get(m["name"])
        if source is None:
            continue
        if m.get("subPath"):
            source = os.path.join(source, m["subPath"])
            if not os.path.exists(source):
                os.makedirs(source, exist_ok=True)
        yield m, source


def setup_rootfs(layout: Layout, uid: str, container: dict, volume_dirs: dict[str, str]) -> str:
    root = layout.rootfs(uid, container["name"])
    os.makedirs(root, exist_ok=True)
    for m, target in mount_sources(container, volume_dirs):
        link = os.path.join(root, m["mountPath"].lstrip("/"))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.islink(link) or os.path.isfile(link):
            os.unlink(link)
        elif os.path.isdir(link):
            shutil.rmtree(link)
        os.symlink(target, link)
    return root


def remove_pod_dir(layout: Layout, uid: str):
    d = layout.pod_dir(uid)
    if not os.path.exists(d):
        return

    def _onerror(func, path, _exc):
        os.chmod(os.path.dirname(path), stat.S_IRWXU)
        os.chmod(path, stat.S_IRWXU) if os.path.isdir(path) else None
        func(path)

    for root, subdirs, _ in os.walk(d):
        for s in subdirs:
            p = os.path.join(root, s)
            if not os.path.islink(p):
                os.chmod(p, stat.S_IRWXU)
    shutil.rmtree(d, onerror=_onerror)


# Volume types the kubelet always mounts read-only (pkg/volume/secret, configmap, downwardapi, projected:
# GetAttributes().ReadOnly = true).
READ_ONLY_KINDS = ("secret", "configMap", "downwardAPI", "projected")

_RO_MASK, _RW_MASK, _EXEC_MASK = 0o440, 0o660, 0o110   # pkg/volume/volume_linux.go roMask, rwMask, execMask


def _ownership(path: str, fs_group: int, read_only: bool):
    mask = _RO_MASK if read_only else _RW_MASK
    for root, subdirs, files in os.walk(path):
        for name in [None] + subdirs + files:
            p = root if name is None else os.path.join(root, name)
            if os.path.islink(p) or (name is not None and name in subdirs):
                continue   # symlinks skipped; subdirs are visited as roots
            st = os.lstat(p)
            os.chown(p, -1, fs_group)
            extra = mask | (stat.S_ISGID | _EXEC_MASK if stat.S_ISDIR(st.st_mode) else 0)
            os.chmod(p, stat.S_IMODE(st.st_mode) | extra)


def set_volume_ownership(pod: dict, volume_dirs: dict[str, str]):
    spec = pod.get("spec") or {}
    fs_group = (spec.get("securityContext") or {}).get("fsGroup")
    for vol in spec.get("volumes") or []:
        path = volume_dirs.get(vol["name"])
        if path is None or "hostPath" in vol:
            continue
        read_only = any(k in vol for k in READ_ONLY_KINDS)
        if not read_only:
            os.chmod(path, 0o777)
        if fs_group is not None:
            _ownership(path, int(fs_group), read_only)
