"""The TokenRequest API of the API server simulator (sim/apiserver/tokenrequest.py), as kube-apiserver serves it:
POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token (authentication.k8s.io/v1 TokenRequest; TokenREST.Create,
ValidateTokenRequest, SetDefaults_TokenRequestSpec) and the validator of the tokens it issues
(pkg/serviceaccount/claims.go): who the token is, and when it stops working."""
import base64
import json
import time

from simlib import Rest


def token_path(ns, name):
    return f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token"


def service_account(rest, ns, name):
    return rest.ok(rest.post(f"/api/v1/namespaces/{ns}/serviceaccounts",
                             {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}))


def request(rest, ns, name, **spec):
    return rest.post(token_path(ns, name), {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                            "spec": spec})


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def who(sim, token, ns):
    """(status, user, groups) of a request made with the token, the user and groups as the audit log saw them."""
    marker = f"who-{time.monotonic_ns()}"
    r = Rest(sim.kubeconfig, token=token).get(f"/api/v1/namespaces/{ns}/configmaps", labelSelector=marker)
    items = sim.admin("GET", "requests").body["items"]
    seen = [i for i in items if marker in i["path"]]
    assert seen, "the request is in the audit log"
    return r.status, seen[-1]["user"], seen[-1]["groups"]


def test_kubectl_create_token_authenticates_as_the_service_account(sim, rest, kubectl, sim_ns):
    service_account(rest, sim_ns, "robot")
    token = kubectl("create", "token", "robot", "-n", sim_ns).stdout.strip()
    status, user, groups = who(sim, token, sim_ns)
    assert status == 200
    assert user == f"system:serviceaccount:{sim_ns}:robot"
    assert set(groups) == {"system:serviceaccounts", f"system:serviceaccounts:{sim_ns}", "system:authenticated"}


def test_defaults_and_the_answer_as_the_real_server_gives_them(sim, rest, sim_ns):
    sa = service_account(rest, sim_ns, "robot")
    before = time.time()
    r = request(rest, sim_ns, "robot")
    assert r.status == 201, r
    body = r.body
    assert (body["apiVersion"], body["kind"]) == ("authentication.k8s.io/v1", "TokenRequest")
    assert body["spec"]["expirationSeconds"] == 3600          # SetDefaults_TokenRequestSpec
    assert body["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]  # the API audience
    exp = time.mktime(time.strptime(body["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert before + 3600 - 2 <= exp <= time.time() + 3600 + 1
    c = claims(body["status"]["token"])                       # a JWT with the service account's claims
    assert c["sub"] == f"system:serviceaccount:{sim_ns}:robot"
    assert c["kubernetes.io"]["serviceaccount"] == {"name": "robot", "uid": sa["metadata"]["uid"]}
    assert c["exp"] - c["iat"] == 3600


def test_expiration_below_ten_minutes_is_invalid_and_ten_minutes_is_not(rest, sim_ns):
    service_account(rest, sim_ns, "robot")
    r = request(rest, sim_ns, "robot", expirationSeconds=599)
    assert r.status == 422, r
    assert r.body["reason"] == "Invalid"
    assert r.body["details"]["group"] == "authentication.k8s.io" and r.body["details"]["kind"] == "TokenRequest"
    assert r.body["message"] == ('TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: '
                                 'Invalid value: 599: may not specify a duration less than 10 minutes')
    assert request(rest, sim_ns, "robot", expirationSeconds=600).status == 201


def test_a_missing_service_account_is_404(rest, sim_ns):
    r = request(rest, sim_ns, "nobody")
    assert r.status == 404, r
    assert r.body["message"] == 'serviceaccounts "nobody" not found'
    assert r.body["details"] == {"name": "nobody", "kind": "serviceaccounts"}


def test_the_token_stops_working_when_the_service_account_goes_and_a_new_one_of_that_name_does_not_revive_it(
        sim, rest, sim_ns):
    service_account(rest, sim_ns, "robot")
    token = request(rest, sim_ns, "robot").body["status"]["token"]
    assert who(sim, token, sim_ns)[0] == 200
    rest.ok(rest.delete(f"/api/v1/namespaces/{sim_ns}/serviceaccounts/robot"))
    status, user, _ = who(sim, token, sim_ns)
    assert (status, user) == (401, "system:anonymous")
    service_account(rest, sim_ns, "robot")   # same name, new uid
    assert who(sim, token, sim_ns)[0] == 401


def test_a_token_for_another_audience_does_not_authenticate_to_the_api_server(sim, rest, sim_ns):
    service_account(rest, sim_ns, "robot")
    r = request(rest, sim_ns, "robot", audiences=["vault"])
    assert r.status == 201 and r.body["spec"]["audiences"] == ["vault"]
    assert who(sim, r.body["status"]["token"], sim_ns)[0] == 401


def test_only_create_is_served_and_discovery_names_the_kind(rest, sim_ns):
    service_account(rest, sim_ns, "robot")
    assert rest.get(token_path(sim_ns, "robot")).status == 405
    res = {r["name"]: r for r in rest.get("/api/v1").body["resources"]}
    sub = res["serviceaccounts/token"]
    assert (sub.get("group"), sub.get("version"), sub["kind"], sub["verbs"]) == \
        ("authentication.k8s.io", "v1", "TokenRequest", ["create"])


def test_a_token_bound_to_a_secret_with_kubectl_stops_working_when_the_secret_goes(sim, rest, kubectl, sim_ns):
    service_account(rest, sim_ns, "robot")
    secret = rest.ok(rest.post(f"/api/v1/namespaces/{sim_ns}/secrets",
                               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "anchor"}}))
    token = kubectl("create", "token", "robot", "-n", sim_ns, "--duration", "20m", "--bound-object-kind", "Secret",
                    "--bound-object-name", "anchor", "--bound-object-uid", secret["metadata"]["uid"]).stdout.strip()
    c = claims(token)
    assert c["exp"] - c["iat"] == 1200
    assert c["kubernetes.io"]["secret"] == {"name": "anchor", "uid": secret["metadata"]["uid"]}
    assert who(sim, token, sim_ns)[0] == 200
    rest.ok(rest.delete(f"/api/v1/namespaces/{sim_ns}/secrets/anchor"))
    assert who(sim, token, sim_ns)[0] == 401
    wrong = kubectl("create", "token", "robot", "-n", sim_ns, "--bound-object-kind", "Secret",
                    "--bound-object-name", "anchor", check=False)
    assert wrong.returncode != 0 and 'secrets "anchor" not found' in wrong.stderr
