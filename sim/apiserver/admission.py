"""Admission plugins of kube-apiserver 1.32 that change or refuse objects on create, as the real default plugin
chain runs them (after NamespaceLifecycle, before validation and storage).

* ServiceAccount (plugin/pkg/admission/serviceaccount/admission.go), pods only:
  - `spec.serviceAccountName` defaults to `default`;
  - the named ServiceAccount must exist, else 403 Forbidden `pods "<name>" is forbidden: error looking up service
    account <ns>/<sa>: serviceaccount "<sa>" not found` (NewForbidden names the object by name, else generateName).
    The real plugin looks the account up in its cache, then live: once for a named account, up to 10 times
    (100-200 ms apart) for `default`, because the serviceaccount controller creates that one shortly after the
    namespace. `await_service_account` is that retry; `admit_pod` is the decision once it is over.
  - unless `automountServiceAccountToken: false` (the pod's wins over the ServiceAccount's), a projected volume
    `kube-api-access-<5 random chars>` (TokenVolumeSource: serviceAccountToken path `token` expirationSeconds 3607,
    configMap `kube-root-ca.crt` key `ca.crt`, downwardAPI `namespace` from metadata.namespace; defaultMode 420) is
    added and mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every init container and
    container that does not already mount something there (mountServiceAccountToken). A pod that already has a
    `kube-api-access-*` volume keeps it and only gains the mounts.
* StorageObjectInUseProtection (plugin/pkg/admission/storage/storageobjectinuseprotection/admission.go):
  every PersistentVolumeClaim is created with the finalizer `kubernetes.io/pvc-protection`; the
  pvc-protection controller (controllers.py) removes it once no pod uses the claim.
"""
import asyncio
import random

from .errors import ApiError

DEFAULT_SA = "default"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
_RAND_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # k8s.io/apimachinery/pkg/util/rand.String


def _sa_name(pod):
    return ((pod.get("spec") or {}).get("serviceAccountName") or (pod.get("spec") or {}).get("serviceAccount")
            or DEFAULT_SA)


async def await_service_account(store, ns, pod):
    """The plugin's live lookup retry for the `default` ServiceAccount (10 attempts, 100-200 ms apart)."""
    if not isinstance(pod, dict) or _sa_name(pod) != DEFAULT_SA:
        return
    interval = random.uniform(0.1, 0.2)
    for attempt in range(10):
        if store.get("/serviceaccounts", ns, DEFAULT_SA) is not None:
            return
        if attempt < 9:
            await asyncio.sleep(interval)


def token_volume_source():
    """TokenVolumeSource() of the ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount)."""
    return {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
        "defaultMode": 420}


def _forbidden(pod, ns, sa):
    md = pod.get("metadata") or {}
    name = md.get("name") or md.get("generateName") or "Unknown"
    return ApiError(403, "Forbidden", f'pods "{name}" is forbidden: error looking up service account {ns}/{sa}: '
                    f'serviceaccount "{sa}" not found', {"name": name, "kind": "pods"})


def admit_pod(store, ns, pod):
    """ServiceAccount admission on a pod create (mutates `pod`; raises the 403 when its account is missing)."""
    spec = pod.setdefault("spec", {})
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SA
    sa_name = spec["serviceAccountName"]
    sa = store.get("/serviceaccounts", ns, sa_name)
    if sa is None:
        raise _forbidden(pod, ns, sa_name)
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = sa.get("automountServiceAccountToken")
    if automount is False:
        return
    _mount_token(spec)


def _mount_token(spec):
    volumes = spec.get("volumes") or []
    existing = next((v["name"] for v in volumes if str(v.get("name", "")).startswith(TOKEN_VOLUME_PREFIX)), None)
    vol_name = existing or TOKEN_VOLUME_PREFIX + "".join(random.choice(_RAND_ALPHABET) for _ in range(5))
    needs_volume = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            mounts = c.get("volumeMounts") or []
            if any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = mounts + [{"name": vol_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}]
            needs_volume = True
    if needs_volume and existing is None:
        spec["volumes"] = volumes + [{"name": vol_name, "projected": token_volume_source()}]


def admit_pvc(pvc):
    """StorageObjectInUseProtection: the pvc-protection finalizer on every new claim."""
    md = pvc.setdefault("metadata", {})
    fins = md.get("finalizers") or []
    if PVC_PROTECTION_FINALIZER not in fins:
        md["finalizers"] = fins + [PVC_PROTECTION_FINALIZER]


def admit_create(store, rt, ns, obj):
    """Run the mutating/validating admission plugins that apply to a create of `obj` in `ns`."""
    if rt.key == "/pods":
        admit_pod(store, ns, obj)
    elif rt.key == "/persistentvolumeclaims":
        admit_pvc(obj)
