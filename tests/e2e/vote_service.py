"""The reference vote service (build/workloads/medivote-vote-service) as a MediVoteService, for the suites that
count votes and time shutdowns (test_zero_votes_lost.py, test_shutdown_timing.py) and the scale-to-zero benchmark.

Contract of `vote_service(name, ns, replicas, reach=..., ...)`, for a kubelet that isolates pods
(`--pod-isolation namespaces`: each pod has its own loopback, and volumes are at their mountPaths, so the agent reads
its token file):
* The service listens on every address of its pod (`--listen 0.0.0.0:8080`): votes come to the pod IP, the agent
  comes over the pod's loopback. Its data dir is the claim mounted at /data.
* reach "agent" (the default, issue 13): the operator deletes the pod first and calls POST /shutdown through the
  medivote-agent sidecar, which forwards it on the pod's loopback only once the kubelet's preStop hook has arrived.
  The service itself has no token and takes POST /shutdown from loopback only (`--allow 127.0.0.0/8`), like the
  real services; the agent presents the token of the Secret `<name>-agent-token` (create_token).
* reach "direct": the operator calls http://<podIP>:8080/shutdown itself with the bearer token of the Secret
  `<name>-token`, which the service reads from SHUTDOWN_TOKEN; the pod has a preStop `sleep`.
* tier "simple": no endpoint, SIGTERM only.
* The service exits the instant it has saved (`--exit-delay-ms 0`) and does not save on SIGTERM
  (`--no-save-on-sigterm`): only the HTTP stage can save a vote. `args` come after these (a later flag wins).
* Readiness: GET /healthz every second (it answers 503 once the service is shutting down).
"""
import base64

from e2elib import mvs

IMAGE = "medivote/vote-service:1"
TOKEN = "e2e-vote-service-token"
SERVICE_ARGS = ["--listen", "0.0.0.0:8080", "--data-dir", "/data", "--exit-delay-ms", "0", "--no-save-on-sigterm"]
LOOPBACK_ONLY = ["--allow", "127.0.0.0/8"]  # reach agent: the agent calls over the pod's loopback

# reach agent: the hold bound (preStopSleepSeconds) covers one call and the exit after it (validation), and here
# also a service busy for 3 s and an operator restarted mid-shutdown.
AGENT_SHUTDOWN = {"preStopSleepSeconds": 10, "terminationGracePeriodSeconds": 14, "exitTimeoutSeconds": 3,
                  "refusalTimeoutSeconds": 20, "forceDeleteAfterSeconds": 60, "maxConcurrent": 2}
AGENT_REQUEST_TIMEOUT = 3
# reach direct: SIGTERM comes when the preStop sleep ends, so the exit timeout is at most the sleep (validation).
DIRECT_SHUTDOWN = {"preStopSleepSeconds": 2, "terminationGracePeriodSeconds": 10, "exitTimeoutSeconds": 2,
                   "refusalTimeoutSeconds": 20, "forceDeleteAfterSeconds": 60, "maxConcurrent": 2}
SIMPLE_SHUTDOWN = {"terminationGracePeriodSeconds": 5, "maxConcurrent": 2}


def token_secret(name, reach):
    return f"{name}-agent-token" if reach == "agent" else f"{name}-token"


def create_token(cluster, ns, name, reach="agent"):
    cluster.rest.ok(cluster.rest.post(f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": token_secret(name, reach)},
        "data": {"token": base64.b64encode(TOKEN.encode()).decode()}}))


def vote_service(name, ns, replicas=3, reach="agent", tier="critical", image=IMAGE, args=(), endpoint=None,
                 **shutdown):
    """The manifest; `shutdown` overrides fields of spec.shutdown, `endpoint` fields of its endpoint."""
    env = []
    if tier != "critical":
        ep, sd = None, dict(SIMPLE_SHUTDOWN, **shutdown)
    elif reach == "agent":
        ep = {"port": "http", "path": "/shutdown", "method": "POST", "reach": "agent", "agentTarget": "loopback-ipv4",
              "tokenSecretRef": {"name": token_secret(name, reach), "key": "token"},
              "requestTimeoutSeconds": AGENT_REQUEST_TIMEOUT}
        sd = dict(AGENT_SHUTDOWN, **shutdown)
        args = [*LOOPBACK_ONLY, *args]
    else:
        ep = {"port": "http", "path": "/shutdown", "method": "POST", "reach": "direct",
              "tokenSecretRef": {"name": token_secret(name, reach), "key": "token"}, "requestTimeoutSeconds": 2}
        sd = dict(DIRECT_SHUTDOWN, **shutdown)
        env = [{"name": "SHUTDOWN_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": token_secret(name, reach), "key": "token"}}}]
    if ep and endpoint:
        ep.update(endpoint)
    obj = mvs(name, ns, image, replicas=replicas, tier=tier, endpoint=ep, shutdown=sd, env=env,
              args=[*SERVICE_ARGS, *args])
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1}
    return obj


def claim_events(path):
    """[(unix ms, event, {key: value})] of a vote service's events.log (across its pods), in order."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                words = line.split()
                if len(words) >= 2:
                    out.append((int(words[0]), words[1], dict(w.split("=", 1) for w in words[2:] if "=" in w)))
    except FileNotFoundError:
        pass
    return out
