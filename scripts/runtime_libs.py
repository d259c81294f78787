#!/usr/bin/python3
"""Which Debian packages the built binaries need at run time, and whether the Dockerfile's runtime stage installs
them.

    scripts/runtime_libs.py [--build-dir build] [--dockerfile Dockerfile] [--stage runtime]
        prints one package per line (what the runtime stage must install), then checks the Dockerfile:
        exit 0 when it installs every one, 1 (naming the missing packages) otherwise.

How a library becomes a package: `ldd BINARY` lists every shared library the dynamic loader resolves (transitive
ones included); `dpkg -S PATH` names the package that owns it. On a merged-/usr system ldd reports /lib/... while
dpkg may record /usr/lib/... (or the reverse), and a soname is often a symlink, so each library is looked up as
reported, with /usr added or removed, and as its resolved real path. A library ldd cannot find ("not found") or
that no package owns is an error: the image could not provide it either.

BASE_PACKAGES are provided by the runtime stage's base image (debian:bookworm-slim) and need no install line:
only libc6 (the C library, loader, libm, libpthread), which every Debian image has.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

BINARIES = ("medivote-controller", "medivote-agent")
BASE_PACKAGES = frozenset({"libc6"})


class RuntimeLibsError(Exception):
    """A library that cannot be resolved to a Debian package."""


def ldd(binary):
    """[(soname, path)] of the shared libraries `ldd` lists for `binary` (vdso excluded)."""
    r = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeLibsError(f"ldd {binary} failed: {r.stdout.strip()}")
    return parse_ldd(r.stdout, binary)


def parse_ldd(text, binary="binary"):
    libs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("linux-vdso") or line.startswith("linux-gate"):
            continue
        if "=> not found" in line:
            raise RuntimeLibsError(f"{binary}: {line.split()[0]} not found by the dynamic loader")
        m = re.match(r"^(\S+) => (\S+) \(0x[0-9a-f]+\)$", line)
        if m:
            libs.append((m.group(1), m.group(2)))
            continue
        m = re.match(r"^(/\S+) \(0x[0-9a-f]+\)$", line)  # the loader itself
        if m:
            libs.append((os.path.basename(m.group(1)), m.group(1)))
            continue
        if "statically linked" in line:
            continue
        raise RuntimeLibsError(f"{binary}: unexpected ldd line: {line!r}")
    return libs


def candidate_paths(path):
    out = [path]
    if path.startswith("/usr/"):
        out.append(path[len("/usr"):])
    else:
        out.append("/usr" + path)
    real = os.path.realpath(path)
    if real not in out:
        out += [real, real[len("/usr"):] if real.startswith("/usr/") else "/usr" + real]
    return out


def dpkg_owner(path, query):
    """The package (without :arch) that owns `path`. `query(path)` returns dpkg -S output for that path, or None."""
    for p in candidate_paths(path):
        out = query(p)
        if out:
            # "libfmt9:amd64: /usr/lib/x86_64-linux-gnu/libfmt.so.9" (also "a, b: path" for shared paths)
            owners = out.splitlines()[0].rsplit(": ", 1)[0]
            return owners.split(",")[0].strip().split(":")[0]
    raise RuntimeLibsError(f"no Debian package owns {path}")


def dpkg_search(paths):
    """{path: "pkg:arch: path"} for the paths dpkg knows, in one `dpkg -S` run (it is slow to start)."""
    r = subprocess.run(["dpkg", "-S", *paths], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    found = {}
    for line in r.stdout.splitlines():
        owner, sep, path = line.rpartition(": ")
        if sep and path in paths:
            found[path] = line
    return found


def required_packages(binaries, lister=ldd):
    """{package: sorted [sonames]} the binaries need at run time."""
    libs = [lib for b in binaries for lib in lister(b)]
    known = dpkg_search(sorted({c for _, path in libs for c in candidate_paths(path)}))
    need = {}
    for soname, path in libs:
        need.setdefault(dpkg_owner(path, known.get), set()).add(soname)
    return {p: sorted(s) for p, s in sorted(need.items())}


# ---- the Dockerfile --------------------------------------------------------------------------------------------

def instructions(text):
    """[(KEYWORD, arguments)] with line continuations joined and comments dropped."""
    out = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment line inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        kw, _, rest = current.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
        current = ""
    if current.strip():
        kw, _, rest = current.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
    return out


def stages(text):
    """[{name, base, instructions}] in order; name is the AS alias (or the index as a string)."""
    out = []
    for kw, rest in instructions(text):
        if kw == "FROM":
            words = [w for w in rest.split() if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(out))
            out.append({"name": name, "base": words[0], "instructions": []})
        elif out:
            out[-1]["instructions"].append((kw, rest))
    return out


def stage(text, name):
    for s in stages(text):
        if s["name"] == name:
            return s
    raise RuntimeLibsError(f"the Dockerfile has no stage named {name!r}")


def apt_installed(stage_):
    """Packages named by `apt-get install` (or `apt install`) in the stage's RUN instructions."""
    pkgs = set()
    for kw, rest in stage_["instructions"]:
        if kw != "RUN":
            continue
        for command in re.split(r"&&|\|\||;|\|", rest):
            words = shlex.split(command)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value prefixes (DEBIAN_FRONTEND=noninteractive)
            if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words[1:]:
                after = words[words.index("install") + 1:]
                pkgs.update(w.split("=")[0] for w in after if not w.startswith("-"))
    return pkgs


def missing_packages(required, dockerfile_text, stage_name="runtime"):
    """Required packages the stage does not install (base-image packages excepted), sorted."""
    have = apt_installed(stage(dockerfile_text, stage_name)) | BASE_PACKAGES
    return sorted(set(required) - have)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--build-dir", default=os.path.join(repo, "build"))
    ap.add_argument("--dockerfile", default=os.path.join(repo, "Dockerfile"))
    ap.add_argument("--stage", default="runtime")
    a = ap.parse_args(argv)
    try:
        required = required_packages([os.path.join(a.build_dir, b) for b in BINARIES])
        for p, sonames in required.items():
            note = " (base image)" if p in BASE_PACKAGES else ""
            print(f"{p}{note}: {' '.join(sonames)}")
        with open(a.dockerfile) as f:
            missing = missing_packages(required, f.read(), a.stage)
    except RuntimeLibsError as e:
        print(f"runtime_libs: {e}", file=sys.stderr)
        return 2
    if missing:
        print(f"the Dockerfile's {a.stage} stage does not install: {' '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
