"""charts/medivote-operator: helm lint clean; every value documented and used; default render == deploy/ (and the
namespaced values == deploy/namespaced/); CRD copies in sync; the switches of values.yaml do what they say; the
Deployment's contract (replicas, leader election, probes, ports, security, grace period) and flags the binary
accepts."""
import os
import re
import subprocess

import pytest
import yaml

from packaging_lib import CHART, CONTROLLER, DEPLOY, DEPLOY_NAMESPACED, REPO, container_args, deployment, find

VALUES = os.path.join(CHART, "values.yaml")


def render(helm_run, *args):
    out = helm_run("template", "medivote-operator", CHART, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def kinds(docs):
    return sorted(f"{d['kind']}/{d['metadata'].get('namespace', '')}/{d['metadata']['name']}" for d in docs)


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)(s|m)", text)
    assert m, text
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


# ---- values.yaml -----------------------------------------------------------------------------------------------

def value_keys():
    """[(dotted key, line number, documented)] of values.yaml: documented = a comment line right above the key."""
    with open(VALUES) as f:
        lines = f.read().splitlines()
    out, stack = [], []
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z][A-Za-z0-9]*):", line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(2)))
        key = ".".join(k for _, k in stack)
        out.append((key, i + 1, i > 0 and lines[i - 1].strip().startswith("#")))
    return out


def template_value_refs():
    refs = set()
    for root, _, files in os.walk(os.path.join(CHART, "templates")):
        for name in files:
            with open(os.path.join(root, name)) as f:
                refs |= set(re.findall(r"\.Values((?:\.[A-Za-z0-9]+)+)", f.read()))
    return {r.lstrip(".") for r in refs}


def test_every_value_has_a_comment_right_above_it():
    keys = value_keys()
    assert len(keys) > 30
    assert [k for k, line, documented in keys if not documented] == []


def test_the_documentation_check_catches_an_undocumented_value(tmp_path, monkeypatch):
    with open(VALUES) as f:
        text = f.read()
    undocumented = tmp_path / "values.yaml"
    undocumented.write_text(text.replace("# Pods of the operator. Two, with leader election: one leads, the other "
                                         "takes over when the leader goes.\n", ""))
    monkeypatch.setattr(__import__(__name__), "VALUES", str(undocumented))
    assert [k for k, _, documented in value_keys() if not documented] == ["replicaCount"]


def test_templates_use_only_values_that_exist_and_every_leaf_value_is_used():
    keys = {k for k, _, _ in value_keys()}
    refs = template_value_refs()
    assert refs - keys == set(), "templates read values that values.yaml does not define"
    with open(VALUES) as f:
        values = yaml.safe_load(f)

    def leaves(prefix, v):
        if isinstance(v, dict) and v and prefix != "resources":  # resources is passed whole (toYaml)
            for k, sub in v.items():
                yield from leaves(f"{prefix}.{k}" if prefix else k, sub)
        else:
            yield prefix
    unused = [leaf for leaf in leaves("", values) if not any(r == leaf or leaf.startswith(r + ".") for r in refs)]
    assert unused == [], "values no template reads"


def test_the_versions_agree_cmake_chart_images():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        version = re.search(r"project\(medivote-operator VERSION (\S+)", f.read()).group(1)
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    with open(VALUES) as f:
        values = yaml.safe_load(f)
    assert chart["appVersion"] == version
    assert values["image"]["tag"] == version
    assert values["agent"]["image"].endswith(":" + version)


# ---- helm ------------------------------------------------------------------------------------------------------

def test_helm_lint_is_clean(helm_run):
    r = helm_run("lint", "--strict", CHART)
    assert "0 chart(s) failed" in r.stdout
    r = helm_run("lint", "--strict", CHART, "-f", os.path.join(CHART, "ci", "namespaced-values.yaml"))
    assert "0 chart(s) failed" in r.stdout


def test_default_values_render_exactly_deploy(helm):
    env = dict(os.environ, PATH=os.path.dirname(helm) + os.pathsep + os.environ["PATH"])
    r = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "scripts", "render-deploy.py"), "--check"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_drift_check_fails_when_deploy_is_edited_by_hand(helm, tmp_path):
    # A copy of the tree's chart, scripts and deploy/, with one hand edit in deploy/.
    import shutil
    for d in ("charts", "scripts", "crds", "deploy"):
        shutil.copytree(os.path.join(REPO, d), tmp_path / d)
    path = tmp_path / "deploy" / "08-deployment.yaml"
    path.write_text(path.read_text().replace("replicas: 2", "replicas: 3"))
    env = dict(os.environ, PATH=os.path.dirname(helm) + os.pathsep + os.environ["PATH"])
    r = subprocess.run(["/usr/bin/python3", str(tmp_path / "scripts" / "render-deploy.py"), "--check"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "deploy/08-deployment.yaml: differs from the chart's rendering" in r.stdout


def test_every_crd_copy_equals_crds():
    def body(path):
        with open(path) as f:
            return "".join(line for line in f if not line.startswith("# Generated by") and
                           not line.startswith("# Do not edit"))
    for name in os.listdir(os.path.join(REPO, "crds")):
        want = body(os.path.join(REPO, "crds", name))
        assert body(os.path.join(CHART, "crds", name)) == want
        assert body(os.path.join(DEPLOY, "00-crd-" + name)) == want
        assert body(os.path.join(DEPLOY_NAMESPACED, "00-crd-" + name)) == want


def test_default_render_has_every_object_of_the_issue(helm_run):
    docs = render(helm_run)
    assert kinds(docs) == [
        "ClusterRole//medivote-operator",
        "ClusterRoleBinding//medivote-operator",
        "Deployment/medivote-system/medivote-operator",
        "Namespace//medivote",
        "Namespace//medivote-system",
        "NetworkPolicy/medivote/medivote-agent-port",
        "PodDisruptionBudget/medivote-system/medivote-operator",
        "Role/medivote-system/medivote-operator-leader-election",
        "RoleBinding/medivote-system/medivote-operator-leader-election",
        "Service/medivote-system/medivote-operator-metrics",
        "ServiceAccount/medivote-system/medivote-operator",
    ]


def test_switches_turn_their_objects_and_flags_off_and_on(helm_run):
    docs = render(helm_run, "--set", "metrics.enabled=false", "--set", "networkPolicy.enabled=false",
                  "--set", "podDisruptionBudget.enabled=false", "--set", "leaderElection.enabled=false",
                  "--set", "replicaCount=1", "--set", "namespace.create=false", "--set", "createServiceNamespaces=false")
    assert kinds(docs) == ["ClusterRole//medivote-operator", "ClusterRoleBinding//medivote-operator",
                           "Deployment/medivote-system/medivote-operator",
                           "ServiceAccount/medivote-system/medivote-operator"]
    args = find(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--metrics-bind-address=0" in args
    assert not [a for a in args if a.startswith("--leader-elect")]

    docs = render(helm_run, "--set", "metrics.serviceMonitor.enabled=true", "--set",
                  "serviceNamespaces={shop,clinic}", "--set", "networkPolicy.allowOtherPorts=false",
                  "--set", "agent.port=9950")
    sm = find(docs, "ServiceMonitor", "medivote-operator")
    svc = find(docs, "Service", "medivote-operator-metrics")
    assert all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
    policies = find(docs, "NetworkPolicy")
    assert sorted(p["metadata"]["namespace"] for p in policies) == ["clinic", "shop"]
    assert policies[0]["spec"]["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "medivote-system"}},
                  "podSelector": {"matchLabels": {"app.kubernetes.io/name": "medivote-operator",
                                                  "app.kubernetes.io/component": "controller"}}}],
        "ports": [{"protocol": "TCP", "port": 9950}]}]


def test_watch_namespace_gives_a_role_in_that_namespace_and_no_cluster_role(helm_run):
    docs = render(helm_run, "--set", "watchNamespace=clinic")
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    role = find(docs, "Role", "medivote-operator")
    binding = find(docs, "RoleBinding", "medivote-operator")
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "clinic"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "medivote-operator",
                                    "namespace": "medivote-system"}]
    args = find(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--watch-namespace=clinic" in args


# ---- the Deployment of deploy/ ---------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", [DEPLOY, DEPLOY_NAMESPACED])
def test_the_deployment_meets_the_issue(folder):
    d = deployment(folder)
    pod = d["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c["args"]
    assert d["spec"]["replicas"] == 2 and "--leader-elect" in args
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert "--health-probe-bind-address=:8081" in args and "--metrics-bind-address=:8080" in args
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    graceful = [a for a in args if a.startswith("--graceful-shutdown-timeout=")]
    assert graceful, "the graceful-shutdown timeout is explicit, so the grace period can be compared with it"
    assert pod["terminationGracePeriodSeconds"] > duration_seconds(graceful[0].split("=", 1)[1])
    assert pod["serviceAccountName"] == "medivote-operator"


@pytest.mark.parametrize("folder", [DEPLOY, DEPLOY_NAMESPACED])
def test_the_binary_accepts_every_flag_of_the_deployment(folder):
    # Flags are parsed before --help is honoured: an unknown flag or a bad value exits 2.
    r = subprocess.run([CONTROLLER, *container_args(folder), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    bad = subprocess.run([CONTROLLER, *container_args(folder), "--no-such-flag", "--help"], capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode == 2


def test_the_metrics_service_and_pdb_select_the_operator_pods():
    from packaging_lib import load_docs
    docs = load_docs(DEPLOY)
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    svc = find(docs, "Service", "medivote-operator-metrics")
    assert all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]
    pdb = find(docs, "PodDisruptionBudget", "medivote-operator")
    assert all(pod_labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items())
    assert pod_labels.get("app.kubernetes.io/managed-by") != "medivote-operator", \
        "the operator's own pods must not look like pods it manages"


def test_the_network_policy_admits_only_the_operator_to_the_agent_port():
    from packaging_lib import load_docs
    docs = load_docs(DEPLOY)
    pol = find(docs, "NetworkPolicy", "medivote-agent-port")
    assert pol["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/managed-by": "medivote-operator"}}
    assert pol["spec"]["policyTypes"] == ["Ingress"]
    agent_rule, others = pol["spec"]["ingress"]
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    peer = agent_rule["from"][0]
    assert all(pod_labels.get(k) == v for k, v in peer["podSelector"]["matchLabels"].items())
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "medivote-system"}
    assert agent_rule["ports"] == [{"protocol": "TCP", "port": 9901}]
    assert "--agent-port=9901" in container_args()
    # No other rule opens the agent port: the TCP ranges stop on either side of it.
    assert "from" not in others
    for p in others["ports"]:
        if p["protocol"] == "TCP":
            assert not p["port"] <= 9901 <= p["endPort"], p
    tcp = sorted((p["port"], p["endPort"]) for p in others["ports"] if p["protocol"] == "TCP")
    assert tcp == [(1, 9900), (9902, 65535)]


def test_the_values_schema_describes_every_value_and_refuses_typos(helm_run):
    import json
    with open(os.path.join(CHART, "values.schema.json")) as f:
        schema = json.load(f)
    defs = schema["definitions"]

    def node(path):
        s = schema
        for part in path.split("."):
            s = s["properties"][part]
            s = defs[s["$ref"].rsplit("/", 1)[1]] if "$ref" in s else s
        return s
    for key, _, _ in value_keys():
        node(key)  # KeyError: a value the schema does not describe
    for args, message in ((("--set", "replicaCount=two"), "replicaCount: Invalid type"),
                          (("--set", "replicas=3"), "Additional property replicas is not allowed"),
                          (("--set", "logFormat=text"), "logFormat"),
                          (("--set", "leaderElection.leaseDuration=15"), "leaseDuration")):
        r = helm_run("template", "medivote-operator", CHART, *args, check=False)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
