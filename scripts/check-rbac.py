#!/usr/bin/python3
"""RBAC over a whole suite: runs a pytest suite (default: the end-to-end suite, tests/e2e) with the audit plugin,
collects every request the operator's user made on every simulator, and checks them against the roles of deploy/
(or deploy/namespaced/ with --namespaced), the way tests/packaging/test_rbac.py checks its own scenarios.

    scripts/check-rbac.py [--namespaced] [--build-dir build] [-- PYTEST ARGS]   (default: tests/e2e -q)

Prints the (verb, apiGroup, resource, subresource) set with counts. Exit status: 1 when a request would be denied
or a granted permission was never used (test_rbac.EXCEPTIONS excepted), else pytest's own status. Note that suites
which run the operator with --watch-namespace or --leader-election-namespace other than the Deployment's exercise
requests the Deployment never makes: read the denials with that in mind (tests/e2e/test_runtime.py elects its
leaders in `default`, outside the Role of medivote-system; the other e2e tests elect theirs in medivote-system, as
the Deployment does).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "tests", "packaging"), os.path.join(REPO, "tests", "e2e"),
                os.path.join(REPO, "tests", "sim")]


def main(argv):
    if "--" in argv:
        own, pytest_args = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    else:
        own, pytest_args = argv, []
    ap = argparse.ArgumentParser()
    ap.add_argument("--namespaced", action="store_true")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    a = ap.parse_args(own)
    from packaging_lib import (DEPLOY, DEPLOY_NAMESPACED, allowed, granted_permissions, grants_for, load_docs,
                               permission)
    from test_rbac import EXCEPTIONS

    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as out:
        env = dict(os.environ, MEDIVOTE_AUDIT_OUT=out.name, MEDIVOTE_BUILD_DIR=os.path.abspath(a.build_dir),
                   PYTHONPATH=os.pathsep.join(sys.path[:3] + [os.environ.get("PYTHONPATH", "")]))
        rc = subprocess.call(["/usr/bin/python3", "-m", "pytest", "-p", "audit_plugin",
                              *(pytest_args or ["tests/e2e", "-q"])], cwd=REPO, env=env)
        records = [json.loads(line) for line in out if line.strip()]

    grants = grants_for(load_docs(DEPLOY_NAMESPACED if a.namespaced else DEPLOY))
    used = {}
    for r in records:
        used[permission(r)] = used.get(permission(r), 0) + 1
    print(f"\n{len(records)} requests of the operator:")
    for p, n in sorted(used.items()):
        print(f"  {p}: {n}")
    denied = sorted({(permission(r), r["namespace"]) for r in records if r["resource"] and not allowed(grants, r)})
    unused = sorted(granted_permissions(grants) - set(used) - set(EXCEPTIONS))
    for d in denied:
        print(f"DENIED by the roles: {d}")
    for u in unused:
        print(f"granted but never used: {u}")
    return 1 if denied or unused or not records else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
