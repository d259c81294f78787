"""RBAC checked, not guessed: the operator runs through representative scenarios against the API server simulator,
which records every request (GET /admin/requests). The (verb, apiGroup, resource, subresource) set of the
operator's user must be allowed by the roles of deploy/ (with their namespaces and resourceNames), and the roles
may grant nothing outside that set except the documented EXCEPTIONS.

Scenarios, with the Deployment's own arguments (leader election in medivote-system, agent image), two replicas:
apply a critical service with a token Secret and claims, a critical service reached through the agent sidecar, one
reached through the agent with no Secret of the user's (the operator creates and owns its token Secret) and a simple
one; scale down (tiered shutdown: annotate, call, delete), rolling upgrade, `kubectl delete pod`, a missing
token Secret, deletion of the MediVoteServices (finalizers), and a leader handing over its lease on SIGTERM.
The namespace-scoped variant (deploy/namespaced/) runs the same operations with --watch-namespace.
"""
import base64

import pytest

from packaging_lib import (DEPLOY, DEPLOY_NAMESPACED, OPERATOR_NAMESPACE, OPERATOR_USER, allowed, find,
                           granted_permissions, grants_for, load_docs, local_args, mvs, permission, poll, wait_ready)

SERVICES_NAMESPACE = "medivote"
LEASE = ("4s", "3s", "500ms")

# Permissions granted although the scenarios may not exercise them, each with the reason it must stay.
EXCEPTIONS = {
    ("patch", "", "events", ""):
        "the event recorder patches an Event it already created when the same event repeats (count, lastTimestamp);"
        " whether a repeat happens within a scenario depends on timing",
}


def token_secret(name, token):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {"token": base64.b64encode(token.encode()).decode()}}


def critical(name, ns, replicas, image="medivote/scripted:1", endpoint=None, args=()):
    # Valid for both reaches: the preStop sleep covers the exit timeout (direct), the grace period the agent's hold
    # of requestTimeoutSeconds + exitTimeoutSeconds (agent, whose calls take requestTimeoutSeconds 3).
    sd = {"preStopSleepSeconds": 3, "terminationGracePeriodSeconds": 8, "exitTimeoutSeconds": 3,
          "refusalTimeoutSeconds": 5, "forceDeleteAfterSeconds": 20, "maxConcurrent": 2}
    ep = {"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 1}
    ep.update(endpoint or {})
    return mvs(name, ns, image, replicas=replicas, tier="critical", endpoint=ep, shutdown=sd, args=list(args))


def operator_requests(cluster):
    return [r for r in cluster.audit() if r["user"] == OPERATOR_USER]


def run_scenarios(cluster, operators, folder, ns):
    """Drives the operator(s) through the scenarios in namespace `ns`; returns the operator's audit records."""
    cluster.ensure_namespace(OPERATOR_NAMESPACE)
    cluster.ensure_namespace(ns)
    cluster.clear_audit()
    a = operators(*local_args(folder, LEASE))
    a.wait_leading()
    b = operators(*local_args(folder, LEASE))

    cluster.rest.ok(cluster.rest.post(f"/api/v1/namespaces/{ns}/secrets", token_secret("vote-token", "s3cret")))
    cluster.apply(critical("vote", ns, 3, args=["--token", "s3cret"],
                           endpoint={"tokenSecretRef": {"name": "vote-token"}}))
    cluster.apply(critical("agented", ns, 1, args=["--token", "s3cret"],
                           endpoint={"reach": "agent", "agentTarget": "pod-ip", "port": 8080,
                                     "requestTimeoutSeconds": 3, "tokenSecretRef": {"name": "vote-token"}}))
    # reach agent and no Secret of the user's: the operator creates its own (create, then get on later resyncs).
    cluster.apply(critical("agentauto", ns, 1, endpoint={"reach": "agent", "agentTarget": "pod-ip", "port": 8080,
                                                         "requestTimeoutSeconds": 3}))
    cluster.apply(mvs("plain", ns, "medivote/workload:1", replicas=1, tier="simple", claims=False))
    cluster.apply(critical("nosecret", ns, 1, endpoint={"tokenSecretRef": {"name": "absent"}}))
    for name, n in (("vote", 3), ("agented", 1), ("agentauto", 1), ("plain", 1), ("nosecret", 1)):
        wait_ready(cluster, ns, name, n, timeout=60)
    own = cluster.get(f"/api/v1/namespaces/{ns}/secrets/agentauto-agent-token")
    assert own and own["metadata"]["ownerReferences"][0]["kind"] == "MediVoteService"

    cluster.kubectl("scale", "mvs/vote", "--replicas=2", "-n", ns)
    poll(lambda: sorted(cluster.pods(ns, "vote")) == ["vote-0", "vote-1"], 40, "vote-2 to go")
    # Rolling upgrade that also adds a port (the Service is patched to follow).
    cluster.kubectl("patch", "mvs/vote", "-n", ns, "--type=merge", "-p",
                    '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"medivote/scripted:2",'
                    '"args":["--token","s3cret"],"ports":[{"name":"http","containerPort":8080},'
                    '{"name":"extra","containerPort":8081}]}]}}}}')
    poll(lambda: all(p["spec"]["containers"][0]["image"] == "medivote/scripted:2"
                     for p in cluster.pods(ns, "vote").values()) and len(cluster.pods(ns, "vote")) == 2,
         60, "the upgrade to finish")
    poll(lambda: len((cluster.get(f"/api/v1/namespaces/{ns}/services/vote") or {}).get("spec", {})
                     .get("ports", [])) == 2, 30, "the Service to get the new port")
    cluster.kubectl("delete", "pod", "plain-0", "-n", ns, "--wait=false")
    wait_ready(cluster, ns, "plain", 1, timeout=60)
    # Someone else's pod holds the name of the next ordinal: the operator reads it and leaves it alone.
    cluster.rest.ok(cluster.rest.post(f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain-1"},
        "spec": {"containers": [{"name": "app", "image": "medivote/workload:1"}]}}))
    cluster.kubectl("scale", "mvs/plain", "--replicas=2", "-n", ns)
    poll(lambda: any(r["verb"] == "get" and r["resource"] == "pods" and r["name"] == "plain-1"
                     for r in operator_requests(cluster)), 30, "the operator to read the foreign pod")
    assert "medivote.io/service" not in cluster.pods(ns)["plain-1"]["metadata"].get("labels", {})
    cluster.rest.delete(f"/api/v1/namespaces/{ns}/pods/plain-1", {"gracePeriodSeconds": 0})

    # The leader goes (SIGTERM: it releases its lease); the standby takes over and finishes the deletions.
    assert a.stop() == 0
    b.wait_leading(timeout=15)
    for name in ("vote", "agented", "agentauto", "plain", "nosecret"):
        cluster.kubectl("delete", "mvs", name, "-n", ns, "--wait=false")
    poll(lambda: not cluster.pods(ns) and not cluster.get(
        f"/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices")["items"], 90, "every service to be deleted")
    assert b.stop() == 0
    records = operator_requests(cluster)
    cluster.rest.delete(f"/api/v1/namespaces/{ns}")
    poll(lambda: cluster.rest.get(f"/api/v1/namespaces/{ns}").status == 404, 30, f"namespace {ns} to go")
    return records


def denied_requests(records, grants):
    return sorted({(permission(r), r["namespace"], r["name"], r["path"]) for r in records
                   if r["resource"] and not allowed(grants, r)})


def unused_permissions(records, grants):
    return granted_permissions(grants) - {permission(r) for r in records} - set(EXCEPTIONS)

AUDIT_LOG = pytest.mark.needs_sim_apiserver(reason="reads the operator's requests from the simulator's audit log "
                                                   "(/admin/requests)")


def check_allowed(records, grants):
    denied = denied_requests(records, grants)
    assert not denied, "requests the roles would deny:\n" + "\n".join(map(str, denied))


@AUDIT_LOG
def test_the_cluster_wide_roles_allow_exactly_what_the_operator_does(cluster, operators):
    records = run_scenarios(cluster, operators, DEPLOY, SERVICES_NAMESPACE)
    assert len(records) > 50, "the audit log holds the operator's requests"
    nonresource = sorted({(r["verb"], r["path"]) for r in records if not r["resource"]})
    assert nonresource == [], "non-resource requests need nonResourceURLs rules"

    grants = grants_for(load_docs(DEPLOY))
    check_allowed(records, grants)
    used = {permission(r) for r in records}
    # Leases stay in the operator's namespace; the ClusterRole has none.
    assert {r["namespace"] for r in records if r["resource"] == "leases"} == {OPERATOR_NAMESPACE}
    cluster_role = find(load_docs(DEPLOY), "ClusterRole", "medivote-operator")
    assert not [rule for rule in cluster_role["rules"] if "leases" in rule["resources"]]
    # Secrets: get and create only; read only the token Secrets named by the services and the operator's own, and
    # create only its own.
    assert {permission(r) for r in records if r["resource"] == "secrets"} == {("get", "", "secrets", ""),
                                                                              ("create", "", "secrets", "")}
    assert {r["name"] for r in records if r["resource"] == "secrets" and r["verb"] == "get"} <= {
        "vote-token", "absent", "agentauto-agent-token"}
    assert {r["name"] for r in records if r["resource"] == "secrets" and r["verb"] == "get"} >= {"vote-token", "absent"}
    # One create (a POST to the collection, so the audit record has no name): the operator's own Secret, once.
    assert len([r for r in records if r["resource"] == "secrets" and r["verb"] == "create"]) == 1

    print("\nthe operator's requests (verb, apiGroup, resource, subresource: count):")
    for p in sorted(used):
        print("  ", p, sum(1 for r in records if permission(r) == p))
    assert set(EXCEPTIONS) <= granted_permissions(grants), "an exception for a permission no longer granted"
    unused = unused_permissions(records, grants)
    assert not unused, f"granted but never used (remove them or document an exception): {sorted(unused)}"
    assert not [p for p in granted_permissions(grants) if "*" in p], "no wildcards"


@AUDIT_LOG
def test_the_namespaced_roles_allow_what_the_operator_does_with_watch_namespace(cluster, operators):
    ns = find(load_docs(DEPLOY_NAMESPACED), "Role", "medivote-operator")["metadata"]["namespace"]
    assert "--watch-namespace=" + ns in local_args(DEPLOY_NAMESPACED)
    records = run_scenarios(cluster, operators, DEPLOY_NAMESPACED, ns)
    assert {r["namespace"] for r in records} <= {ns, OPERATOR_NAMESPACE}, "no cluster-wide request"
    check_allowed(records, grants_for(load_docs(DEPLOY_NAMESPACED)))


def test_the_evaluator_denies_what_the_rules_do_not_grant():
    grants = grants_for(load_docs(DEPLOY))
    req = {"verb": "get", "apiGroup": "", "resource": "secrets", "subresource": "", "namespace": "x", "name": "t"}
    assert allowed(grants, req)
    assert not allowed(grants, dict(req, verb="list", name=""))
    assert not allowed(grants, dict(req, resource="configmaps"))
    lease = {"verb": "update", "apiGroup": "coordination.k8s.io", "resource": "leases", "subresource": "",
             "namespace": OPERATOR_NAMESPACE, "name": "medivote-operator-leader"}
    assert allowed(grants, lease)
    assert not allowed(grants, dict(lease, name="another-lease"))
    assert not allowed(grants, dict(lease, namespace="medivote"))
    assert allowed(grants, dict(lease, verb="create", name="medivote-operator-leader"))
    status = {"verb": "update", "apiGroup": "medivote.io", "resource": "medivoteservices", "subresource": "status",
              "namespace": "a", "name": "b"}
    assert allowed(grants, status)
    assert not allowed(grants, dict(status, subresource="scale"))
    namespaced = grants_for(load_docs(DEPLOY_NAMESPACED))
    assert allowed(namespaced, dict(req, namespace="medivote"))
    assert not allowed(namespaced, dict(req, namespace="elsewhere"))


def test_the_check_reports_a_missing_and_an_extra_permission():
    def record(verb, resource, ns="medivote", name="", group="", sub=""):
        return {"verb": verb, "apiGroup": group, "resource": resource, "subresource": sub, "namespace": ns,
                "name": name, "path": f"/{resource}"}
    docs = load_docs(DEPLOY)
    grants = grants_for(docs)
    # Every granted permission used once: nothing unused, nothing denied.
    records = [record(v, r, name="x", group=g, sub=sub, ns=OPERATOR_NAMESPACE if r == "leases" else "medivote")
               for v, g, r, sub in granted_permissions(grants)]
    for rec in records:
        if rec["resource"] == "leases":
            rec["name"] = "medivote-operator-leader"
    assert denied_requests(records, grants) == []
    assert unused_permissions(records, grants) == set()
    # The operator starts listing Secrets: denied.
    assert [d[0] for d in denied_requests(records + [record("list", "secrets")], grants)] == [
        ("list", "", "secrets", "")]
    # A role grants more than the operator uses: reported.
    role = find(docs, "ClusterRole", "medivote-operator")
    role["rules"].append({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]})
    assert unused_permissions(records, grants_for(docs)) == {("get", "", "configmaps", "")}
