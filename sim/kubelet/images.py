"""Image map: container image name -> local command, like an image's ENTRYPOINT/CMD.

File format (YAML):
    images:                       # the top-level "images" key is optional
      medivote/http-server:latest:
        entrypoint: [/usr/bin/python3, ./http_server.py]   # like ENTRYPOINT
        cmd: [--port, "8080"]                               # like CMD
        workingDir: /app            # optional, like WORKDIR (inside the rootfs)
        env: {KEY: value}           # optional, like ENV
        user: "65532"               # optional, like USER ("uid", "uid:gid" or a name of the host's
                                    # /etc/passwd); used in --pod-isolation namespaces mode only

Contract:
- The file is re-read when its mtime changes (a broken edit keeps the last good map).
- lookup(image) tries the exact name, then the name with ":latest" added or
  removed, then with a "docker.io/" / "docker.io/library/" prefix stripped.
  None means "not pullable" (the caller reports ErrImagePull).
- Words of entrypoint/cmd that start with "./" or "../" are resolved against
  the map file's folder (so the map can sit next to its scripts).
- argv(image_spec, command, args) applies Kubernetes' rule: `command` replaces
  ENTRYPOINT and drops CMD; `args` replaces CMD.
- image_id(image) is a stable "sha256:<hex>" digest of the mapping.
"""
import hashlib
import json
import os
from dataclasses import dataclass, field

import yaml


@dataclass
class ImageSpec:
    name: str
    entrypoint: list = field(default_factory=list)
    cmd: list = field(default_factory=list)
    working_dir: str | None = None
    env: dict = field(default_factory=dict)
    user: str | None = None

    def digest(self) -> str:
        raw = json.dumps([self.name, self.entrypoint, self.cmd, self.working_dir, self.env], sort_keys=True)
        return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def argv(spec: ImageSpec, command: list | None, args: list | None) -> list:
    if command:
        return list(command) + list(args or [])
    return list(spec.entrypoint) + list(args if args else spec.cmd)


class ImageMap:
    def __init__(self, path: str | None):
        self.path = path
        self._images: dict[str, ImageSpec] = {}
        self._mtime = None
        if path:
            self.reload()

    def reload(self):
        self._mtime = os.stat(self.path).st_mtime
        with open(self.path) as f:
            doc = yaml.safe_load(f) or {}
        entries = doc.get("images", doc) if isinstance(doc, dict) else {}
        base = os.path.dirname(os.path.abspath(self.path))
        images = {}
        for name, e in entries.items():
            e = e or {}
            images[name] = ImageSpec(
                name=name,
                entrypoint=[_resolve(base, w) for w in _words(e.get("entrypoint"))],
                cmd=[_resolve(base, w) for w in _words(e.get("cmd"))],
                working_dir=e.get("workingDir"),
                env={str(k): str(v) for k, v in (e.get("env") or {}).items()},
                user=None if e.get("user") is None else str(e["user"]),
            )
        self._images = images

    def lookup(self, image: str) -> ImageSpec | None:
        if self.path:
            try:
                if os.stat(self.path).st_mtime != self._mtime:
                    self.reload()
            except (OSError, ValueError, AttributeError, yaml.YAMLError):
                pass   # keep the last good map
        for cand in _candidates(image):
            if cand in self._images:
                return self._images[cand]
        return None


def _words(v) -> list:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


def _resolve(base: str, word: str) -> str:
    if word.startswith("./") or word.startswith("../"):
        return os.path.normpath(os.path.join(base, word))
    return word


def _candidates(image: str):
    names = [image]
    for prefix in ("docker.io/library/", "docker.io/"):
        if image.startswith(prefix):
            names.append(image[len(prefix):])
    out = []
    for n in names:
        out.append(n)
        last = n.rsplit("/", 1)[-1]
        if "@" in last:
            continue
        if ":" in last:
            if n.endswith(":latest"):
                out.append(n[: -len(":latest")])
        else:
            out.append(n + ":latest")
    return out
