"""Helpers of the packaging suites: the deploy/ manifests as objects, the operator's Deployment arguments adapted to
a local process, an RBAC evaluator for Roles and ClusterRoles, and the simulated cluster of tests/e2e/e2elib.py.

RBAC evaluation follows the Kubernetes authorizer for resource requests: a request (verb, apiGroup, resource,
subresource, namespace, name) is allowed when a rule bound to the user matches its apiGroup, `resource` or
`resource/subresource`, verb and, when the rule lists resourceNames, its name (a create or a collection request
has no name and so never matches a rule with resourceNames). A ClusterRoleBinding's rules hold in every namespace;
a RoleBinding's only in its own.
"""
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from e2elib import (BUILD, CONTROLLER, DEPLOY, REPO, Operator, container_args, deployment,  # noqa: E402,F401
                    deployment_agent_image, find, first, load_docs, local_args, mvs, poll, processes_matching,
                    read_events, running_cluster, unique_name, wait_ready)
import e2elib  # noqa: E402
from e2elib import existing_cluster  # noqa: E402,F401
from existing_cluster import object_path  # noqa: E402,F401

DEPLOY_NAMESPACED = os.path.join(DEPLOY, "namespaced")
CHART = os.path.join(REPO, "charts", "medivote-operator")
OPERATOR_NAMESPACE = "medivote-system"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:medivote-operator"
AGENT = os.path.join(BUILD, "medivote-agent")


class Cluster(e2elib.Cluster):
    """e2elib's cluster, whose kubelet also runs the agent image that deploy/ names (medivote/agent:<version>).
    The kubelet simulator re-reads its image map when the file changes, so the image is added after the start."""

    def __init__(self, d):
        super().__init__(d, *e2elib.NO_RESTART_RACE)
        with open(self.image_map) as f:
            images = yaml.safe_load(f)
        images["images"][deployment_agent_image()] = {"entrypoint": [AGENT], "cmd": []}
        with open(self.image_map + ".tmp", "w") as f:
            yaml.safe_dump(images, f)
        os.replace(self.image_map + ".tmp", self.image_map)

    def audit(self):
        return self.sim.admin("GET", "requests").body["items"]

    def clear_audit(self):
        assert self.sim.admin("DELETE", "requests").status == 200


# ---- RBAC ------------------------------------------------------------------------------------------------------

def grants_for(docs, namespace=OPERATOR_NAMESPACE, name="medivote-operator"):
    """[(scope, rule)] bound to the ServiceAccount: scope None for cluster-wide, else the RoleBinding's namespace."""
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("Role", "ClusterRole")}
    out = []
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == name and s.get("namespace") == namespace
                   for s in b.get("subjects", [])):
            continue
        ref = b["roleRef"]
        scope = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
        role_ns = scope if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], role_ns, ref["name"]))
        assert role, f"{b['kind']} {b['metadata']['name']} refers to a missing {ref['kind']} {ref['name']}"
        out += [(scope, r) for r in role.get("rules", [])]
    return out


def _matches(rule, req):
    if not ({"*", req["apiGroup"]} & set(rule.get("apiGroups", []))):
        return False
    res = req["resource"] + ("/" + req["subresource"] if req.get("subresource") else "")
    if not ({"*", res} & set(rule.get("resources", []))):
        return False
    if not ({"*", req["verb"]} & set(rule.get("verbs", []))):
        return False
    names = rule.get("resourceNames")
    if names:
        return bool(req.get("name")) and req["verb"] != "create" and req["name"] in names
    return True


def allowed(grants, req):
    """The grants (scope, rule) that allow the request; empty when none does."""
    return [(scope, rule) for scope, rule in grants
            if (scope is None or scope == req.get("namespace")) and _matches(rule, req)]


def permission(req):
    """(verb, apiGroup, resource, subresource) of an audit record."""
    return (req["verb"], req["apiGroup"], req["resource"], req.get("subresource") or "")


def granted_permissions(grants):
    """{(verb, apiGroup, resource, subresource)} that the rules grant (no wildcards expected: they would be reported
    as such)."""
    out = set()
    for _scope, rule in grants:
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                res, _, sub = r.partition("/")
                for v in rule.get("verbs", []):
                    out.add((v, g, res, sub))
    return out
