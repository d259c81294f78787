"""Environment building and $(VAR) expansion, with Kubernetes' rules.

Contract:
- expand(s, env): "$(NAME)" becomes env[NAME] when NAME is defined and stays
  literally "$(NAME)" when it is not; "$$" becomes "$" (so "$$(NAME)" yields
  the literal "$(NAME)"); a "$" before anything else is kept.
- build_env(...) returns the container's environment as an ordered dict:
  envFrom sources first (prefix applied), then `env` entries in order, each
  value expanded against the variables defined before it. valueFrom supports
  fieldRef (metadata.name/namespace/uid, metadata.labels['k'],
  metadata.annotations['k'], spec.nodeName, spec.serviceAccountName,
  status.podIP, status.podIPs, status.hostIP, status.hostIPs), secretKeyRef and
  configMapKeyRef (`optional` honoured), resourceFieldRef (a fixed "0").
  A missing non-optional reference raises EnvError with the kubelet's message;
  the container then waits with reason CreateContainerConfigError.
"""
import base64


class EnvError(Exception):
    pass


def expand(s: str, env: dict) -> str:
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "$" and i + 1 < n:
            nxt = s[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                j = s.find(")", i + 2)
                if j != -1:
                    name = s[i + 2:j]
                    out.append(env[name] if name in env else "$(" + name + ")")
                    i = j + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def field_value(pod: dict, path: str, pod_ip: str, host_ip: str) -> str:
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": md.get("name", ""),
        "metadata.namespace": md.get("namespace", ""),
        "metadata.uid": md.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return simple[path]
    for prefix, key in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return (md.get(key) or {}).get(path[len(prefix) + 2:-2], "")
        if path == prefix:
            items = sorted((md.get(key) or {}).items())
            return "\n".join(f'{k}="{v}"' for k, v in items)
    raise EnvError(f"unsupported fieldPath: {path}")


def _lookup_key(kind: str, obj: dict | None, name: str, key: str, optional: bool):
    """Value of key in a Secret/ConfigMap or None when optional and missing."""
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind.lower()} "{name}" not found')
    if kind == "Secret":
        data = obj.get("data") or {}
        if key in data:
            return base64.b64decode(data[key]).decode(errors="replace")
        sdata = obj.get("stringData") or {}
        if key in sdata:
            return sdata[key]
    else:
        data = obj.get("data") or {}
        if key in data:
            return data[key]
        bdata = obj.get("binaryData") or {}
        if key in bdata:
            return base64.b64decode(bdata[key]).decode(errors="replace")
    if optional:
        return None
    ns = (obj.get("metadata") or {}).get("namespace", "")
    raise EnvError(f"couldn't find key {key} in {kind} {ns}/{name}")


async def build_env(pod: dict, container: dict, pod_ip: str, host_ip: str, fetch) -> dict:
    """fetch(kind, name) -> object or None (404); kind is "Secret" or "ConfigMap"."""
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = src.get(field)
            if not ref:
                continue
            obj = await fetch(kind, ref["name"])
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'{kind.lower()} "{ref["name"]}" not found')
            data = obj.get("data") or {}
            for k, v in data.items():
                env[prefix + k] = base64.b64decode(v).decode(errors="replace") if kind == "Secret" else v
    for e in container.get("env") or []:
        name = e["name"]
        if "value" in e or "valueFrom" not in e:
            env[name] = expand(e.get("value", ""), env)
            continue
        vf = e["valueFrom"]
        if "fieldRef" in vf:
            env[name] = field_value(pod, vf["fieldRef"]["fieldPath"], pod_ip, host_ip)
        elif "secretKeyRef" in vf or "configMapKeyRef" in vf:
            kind, ref = ("Secret", vf["secretKeyRef"]) if "secretKeyRef" in vf else ("ConfigMap", vf["configMapKeyRef"])
            obj = await fetch(kind, ref["name"])
            val = _lookup_key(kind, obj, ref["name"], ref["key"], bool(ref.get("optional")))
            if val is not None:
                env[name] = val
        elif "resourceFieldRef" in vf:
            env[name] = "0"
    return env
