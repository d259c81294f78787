"""What one container sees in namespace isolation mode: its mounts and its user (pure functions of the pod spec).

Contract:
- container_mounts(pod, container, volume_dirs) -> [{"source", "target", "readonly"}]: one entry per volumeMount
  whose volume was set up; source is the volume's host directory (subPath appended), target the mountPath (a
  relative mountPath means the same path from "/", as the loopback mode's rootfs does). Secret, configMap,
  downwardAPI and projected volumes are always read-only (volumes.READ_ONLY_KINDS), others when the mount says
  readOnly.
- identity(pod, container, image_user) -> (uid, gid, groups), the way the kubelet and containerd decide it:
  uid: securityContext.runAsUser of the container, else of the pod, else the image's USER, else 0;
  gid: runAsGroup (container, else pod), else the image's USER group ("uid:gid"), else the user's primary group
  in the host's /etc/passwd (a name is looked up there too), else 0;
  groups: gid, then the pod's fsGroup, then supplementalGroups (pkg/kubelet/kuberuntime/security_context.go
  determineEffectiveSecurityContext + containerd's WithUser/WithAdditionalGIDs).
"""
import pwd

from .volumes import READ_ONLY_KINDS, mount_sources


def container_mounts(pod: dict, container: dict, volume_dirs: dict[str, str]) -> list[dict]:
    kinds = {v["name"]: next((k for k in READ_ONLY_KINDS if k in v), None)
             for v in (pod.get("spec") or {}).get("volumes") or []}
    out = []
    for m, src in mount_sources(container, volume_dirs):
        target = "/" + m["mountPath"].lstrip("/")
        out.append({"source": src, "target": target,
                    "readonly": bool(m.get("readOnly")) or kinds.get(m["name"]) is not None})
    return out


def _image_user(image_user: str | None) -> tuple[int | None, int | None]:
    if not image_user:
        return None, None
    user, _, group = str(image_user).partition(":")
    try:
        uid = int(user)
        gid = None
    except ValueError:
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            raise ValueError(f'unable to find user {user}: no matching entries in passwd file') from None
        uid, gid = pw.pw_uid, pw.pw_gid
    if group:
        gid = int(group)
    return uid, gid


def identity(pod: dict, container: dict, image_user: str | None) -> tuple[int, int, list[int]]:
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    img_uid, img_gid = _image_user(image_user)
    uid = csc.get("runAsUser", psc.get("runAsUser", img_uid))
    uid = 0 if uid is None else int(uid)
    gid = csc.get("runAsGroup", psc.get("runAsGroup"))
    if gid is None and img_gid is not None and uid == img_uid:
        gid = img_gid
    if gid is None:
        try:
            gid = pwd.getpwuid(uid).pw_gid
        except KeyError:
            gid = 0
    groups = [int(gid)]
    for g in ([psc["fsGroup"]] if psc.get("fsGroup") is not None else []) + list(psc.get("supplementalGroups") or []):
        if int(g) not in groups:
            groups.append(int(g))
    return uid, int(gid), groups
