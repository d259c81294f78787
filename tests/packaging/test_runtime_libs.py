"""The Dockerfile's runtime stage installs a Debian package for every shared library the built binaries load
(ldd -> dpkg -S -> the stage's apt-get install list; scripts/runtime_libs.py), and the checker catches a gap."""
import os
import subprocess
import sys

import pytest

from packaging_lib import BUILD, REPO

sys.path.insert(0, os.path.join(REPO, "scripts"))
import runtime_libs as rl  # noqa: E402

DOCKERFILE = os.path.join(REPO, "Dockerfile")
BINARIES = [os.path.join(BUILD, b) for b in rl.BINARIES]


def dockerfile():
    with open(DOCKERFILE) as f:
        return f.read()


@pytest.fixture(scope="module")
def required():
    for b in BINARIES:
        if not os.path.exists(b):
            pytest.fail(f"{b} is not built: run scripts/setup.sh")
    return rl.required_packages(BINARIES)


def test_every_library_of_both_binaries_comes_from_a_package_the_runtime_stage_installs(required):
    # The controller's libraries are all there: the check cannot pass on an empty ldd listing.
    for pkg in ("libcpprest2.10", "libssl3", "libyaml-cpp0.7", "libprometheus-cpp-core1.0", "libfmt9", "libc6",
                "libjemalloc2"):
        assert pkg in required, required
    assert rl.missing_packages(required, dockerfile()) == []


def test_the_runtime_stage_installs_nothing_the_binaries_do_not_need(required):
    installed = rl.apt_installed(rl.stage(dockerfile(), "runtime"))
    assert installed - set(required) == set(), "installed but not needed by ldd of the binaries"


def test_a_package_removed_from_the_runtime_stage_is_reported_missing(required):
    broken = "\n".join(line for line in dockerfile().splitlines() if line.strip() != "libfmt9 \\")
    assert broken != dockerfile()
    assert rl.missing_packages(required, broken) == ["libfmt9"]


def test_the_command_line_check_fails_on_a_dockerfile_missing_a_library(tmp_path):
    broken = tmp_path / "Dockerfile"
    broken.write_text(dockerfile().replace("libssl3 \\\n", ""))
    r = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "runtime_libs.py"), "--build-dir", BUILD,
                        "--dockerfile", str(broken)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r
    assert "does not install: libssl3" in r.stderr
    ok = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "runtime_libs.py"), "--build-dir", BUILD],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "libcpprest2.10: libcpprest.so.2.10" in ok.stdout


def test_ldd_output_is_parsed_and_a_library_not_found_is_an_error():
    text = ("\tlinux-vdso.so.1 (0x00007ffd)\n"
            "\tlibfmt.so.9 => /lib/x86_64-linux-gnu/libfmt.so.9 (0x00007f6c2a67c000)\n"
            "\t/lib64/ld-linux-x86-64.so.2 (0x00007f6c2a6b1000)\n")
    assert rl.parse_ldd(text) == [("libfmt.so.9", "/lib/x86_64-linux-gnu/libfmt.so.9"),
                                  ("ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2")]
    with pytest.raises(rl.RuntimeLibsError, match="libgone.so.1 not found"):
        rl.parse_ldd("\tlibgone.so.1 => not found\n")


def test_a_library_is_looked_up_under_usr_when_dpkg_records_it_there():
    asked = []

    def query(path):
        asked.append(path)
        return "libfmt9:amd64: /usr/lib/x86_64-linux-gnu/libfmt.so.9\n" if path.startswith("/usr/") else None
    assert rl.dpkg_owner("/lib/x86_64-linux-gnu/libfmt.so.9", query) == "libfmt9"
    assert asked[:2] == ["/lib/x86_64-linux-gnu/libfmt.so.9", "/usr/lib/x86_64-linux-gnu/libfmt.so.9"]
    with pytest.raises(rl.RuntimeLibsError, match="no Debian package owns"):
        rl.dpkg_owner("/opt/nowhere/libx.so", lambda p: None)


def test_apt_install_lines_are_read_across_continuations_comments_and_env_prefixes():
    text = """FROM debian:bookworm AS build
RUN apt-get install -y gcc
FROM debian:bookworm-slim AS runtime
# a comment
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      liba1 \\
      # inside the list
      libb2=1.0-1 \\
 && rm -rf /var/lib/apt/lists/*
RUN apt install libc3; echo done
FROM runtime AS final
RUN apt-get install -y libnotcounted
"""
    assert rl.apt_installed(rl.stage(text, "runtime")) == {"liba1", "libb2", "libc3"}
    assert rl.missing_packages({"liba1": [], "libc6": [], "libz": []}, text) == ["libz"]
