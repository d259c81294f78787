"""The Dockerfile's contract, read without a Docker engine: builder stage on debian:bookworm running the project's
own scripts/setup.sh; a debian:bookworm-slim runtime stage with both binaries; numeric non-root user; exec-form
entrypoints (no shell needed at run time); OCI labels; a build context without build trees."""
import json
import os
import re
import sys

from packaging_lib import REPO

sys.path.insert(0, os.path.join(REPO, "scripts"))
import runtime_libs as rl  # noqa: E402

with open(os.path.join(REPO, "Dockerfile")) as f:
    TEXT = f.read()
STAGES = {s["name"]: s for s in rl.stages(TEXT)}
ORDER = [s["name"] for s in rl.stages(TEXT)]


def inherited(name, kw):
    """Instructions `kw` of stage `name` and of the stages it is built FROM, nearest last."""
    s = STAGES[name]
    own = [rest for k, rest in s["instructions"] if k == kw]
    return (inherited(s["base"], kw) if s["base"] in STAGES else []) + own


def labels(name):
    out = {}
    for rest in inherited(name, "LABEL"):
        for k, v in re.findall(r'(\S+?)="([^"]*)"', rest):
            out[k] = v
    return out


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(medivote-operator VERSION (\S+)", f.read()).group(1)


def test_the_build_stage_runs_the_projects_own_setup_on_bookworm():
    build = STAGES["build"]
    assert build["base"] == "debian:bookworm"
    runs = [rest for k, rest in build["instructions"] if k == "RUN"]
    assert "scripts/setup.sh" in runs, runs
    assert any("build/medivote-controller" in r and "build/medivote-agent" in r for r in runs)


def test_the_runtime_stage_is_slim_and_holds_both_binaries():
    rt = STAGES["runtime"]
    assert rt["base"] == "debian:bookworm-slim"
    copies = [rest for k, rest in rt["instructions"] if k == "COPY"]
    assert any(c.startswith("--from=build ") and "medivote-controller" in c and "medivote-agent" in c
               for c in copies), copies
    assert any("rm -rf /var/lib/apt/lists/*" in rest for k, rest in rt["instructions"] if k == "RUN")


def test_the_images_run_as_the_numeric_non_root_user_65532():
    for target in ("operator", "agent"):
        users = inherited(target, "USER")
        assert users and users[-1] == "65532:65532", (target, users)


def test_the_default_target_is_the_operator_and_entrypoints_need_no_shell():
    assert ORDER[-1] == "operator", "docker build without --target must give the operator image"
    want = {"operator": "/usr/local/bin/medivote-controller", "agent": "/usr/local/bin/medivote-agent"}
    for target, binary in want.items():
        entry = inherited(target, "ENTRYPOINT")
        assert entry, target
        assert json.loads(entry[-1]) == [binary], "exec form: no /bin/sh -c at run time"
        assert inherited(target, "CMD") == []
        assert inherited(target, "HEALTHCHECK") == [], "a HEALTHCHECK CMD would need a shell or curl"
        assert STAGES[target]["base"] == "runtime"


def test_oci_labels_name_each_image_and_its_version():
    version = project_version()
    assert re.search(rf"^ARG VERSION={re.escape(version)}$", TEXT, re.M), "ARG VERSION follows CMakeLists.txt"
    for target, title in (("operator", "medivote-operator"), ("agent", "medivote-agent")):
        lab = labels(target)
        assert lab["org.opencontainers.image.title"] == title
        for key in ("description", "version", "revision", "created", "vendor", "base.name"):
            assert lab.get("org.opencontainers.image." + key), (target, key, lab)
        assert lab["org.opencontainers.image.version"] == "${VERSION}"


def test_the_build_context_leaves_build_trees_and_vcs_data_out():
    with open(os.path.join(REPO, ".dockerignore")) as f:
        ignored = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    assert {".git", "build", "build-*"} <= ignored
