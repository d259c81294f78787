"""charts/medivote, the MediVote stack as one release (issue 17 item 2): helm lint clean; every value documented,
described by the schema and used; the default render is the six presets of deploy/samples/ plus the stop order
(spec.shutdown.after) and helm's labels; the values change what they say; the schema refuses bad values with a
clear message."""
import json
import os
import re

import yaml

from packaging_lib import REPO

STACK_CHART = os.path.join(REPO, "charts", "medivote")
STACK_VALUES = os.path.join(STACK_CHART, "values.yaml")
SAMPLES = os.path.join(REPO, "deploy", "samples")
# MediVote's stop_all order (shared/medivote-services.md), the incentive system after the coordinator.
ORDER = ["frontend", "network-dashboard", "network-coordinator", "incentive-system", "blockchain-node", "backend"]
HELM_LABELS = {"app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"}


def render(helm_run, *args, release="stack", namespace="medivote"):
    out = helm_run("template", release, STACK_CHART, "-n", namespace, *args).stdout
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(out) if d}


def preset(name):
    with open(os.path.join(SAMPLES, f"{name}.yaml")) as f:
        return next(d for d in yaml.safe_load_all(f) if d and d["kind"] == "MediVoteService")


# A service's values passed to the MediVoteService whole (their fields are the pod spec's and the CRD's, documented
# there): values.yaml documents the key, not each field inside.
WHOLE = {"ports", "readinessProbe", "claims", "shutdown"}


def stack_value_keys():
    """[(dotted key, line number, documented)] of the chart's values.yaml, from yaml's node tree (keys may hold '-',
    like the services' names; nothing inside a WHOLE value or a list): documented = a comment line right above the
    key."""
    with open(STACK_VALUES) as f:
        text = f.read()
    lines = text.splitlines()
    out = []

    def walk(node, prefix):
        for key, value in node.value:
            dotted = f"{prefix}.{key.value}" if prefix else key.value
            line = key.start_mark.line
            out.append((dotted, line + 1, line > 0 and lines[line - 1].strip().startswith("#")))
            if isinstance(value, yaml.MappingNode) and key.value not in WHOLE:
                walk(value, dotted)
    walk(yaml.compose(text), "")
    return out


def without_order(mvs):
    """The MediVoteService without what the chart adds to a preset: helm's labels, the namespace of the release and
    the stop order."""
    d = json.loads(json.dumps(mvs))
    meta = d["metadata"]
    meta.pop("namespace", None)
    meta["labels"] = {k: v for k, v in meta.get("labels", {}).items() if k not in HELM_LABELS}
    shutdown = d["spec"].get("shutdown", {})
    shutdown.pop("after", None)
    shutdown.pop("dependencyTimeoutSeconds", None)
    return d


# ---- values.yaml and the schema ---------------------------------------------------------------------------------

def test_every_value_has_a_comment_right_above_it():
    keys = stack_value_keys()
    assert len(keys) > 60
    assert [k for k, _, documented in keys if not documented] == []


def test_the_schema_describes_every_value():
    with open(os.path.join(STACK_CHART, "values.schema.json")) as f:
        schema = json.load(f)

    def described(s):
        """The property names the schema describes, as a tree ({name: subtree}), with its $refs followed."""
        if "$ref" in s:
            return described(schema["definitions"][s["$ref"].rsplit("/", 1)[1]])
        return {name: described(sub) for name, sub in s.get("properties", {}).items()}
    tree = described(schema)
    missing = []
    for key, line, _ in stack_value_keys():
        t = tree
        for part in key.split("."):
            t = t.get(part) if t is not None else None
        if t is None:
            missing.append((key, line))
    assert missing == [], "values the schema does not describe"


def test_every_value_changes_the_render(helm_run, tmp_path):
    """Each service's values reach its MediVoteService: a changed value shows up where it should."""
    claims = tmp_path / "claims.yaml"  # --set of one list item would replace the whole list
    claims.write_text(yaml.safe_dump({"services": {"network-coordinator": {"claims": [
        {"name": "network-data", "mountPath": "/data", "storage": "2Gi", "storageClassName": "fast"}]}}}))
    docs = render(helm_run, "-f", str(claims), "--set", "services.frontend.replicas=3", "--set", "services.backend.tier=simple",
                  "--set", "services.backend.image.repository=registry.local/mv/backend",
                  "--set", "services.backend.image.tag=2.0.0", "--set", "services.frontend.workingDir=/srv",
                  "--set", "services.frontend.ports[0].containerPort=9090",
                  "--set", "services.frontend.readinessProbe.periodSeconds=7",
                  "--set", "services.blockchain-node.shutdown.exitTimeoutSeconds=9",
                  "--set", "stopOrder.dependencyTimeoutSeconds=30")
    fe = docs["frontend"]["spec"]
    assert fe["replicas"] == 3
    c = fe["template"]["spec"]["containers"][0]
    assert c["workingDir"] == "/srv" and c["ports"][0]["containerPort"] == 9090
    assert c["readinessProbe"]["periodSeconds"] == 7
    be = docs["backend"]["spec"]
    assert be["tier"] == "simple"
    assert be["template"]["spec"]["containers"][0]["image"] == "registry.local/mv/backend:2.0.0"
    nc = docs["network-coordinator"]["spec"]
    assert nc["volumeClaimTemplates"] == [{"metadata": {"name": "network-data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "fast", "resources": {"requests": {"storage": "2Gi"}}}}]
    assert nc["template"]["spec"]["containers"][0]["volumeMounts"] == [{"name": "network-data", "mountPath": "/data"}]
    assert docs["blockchain-node"]["spec"]["shutdown"]["exitTimeoutSeconds"] == 9
    assert {n: d["spec"]["shutdown"].get("dependencyTimeoutSeconds") for n, d in docs.items()} == {
        "frontend": None, "network-dashboard": 30, "network-coordinator": 30, "incentive-system": 30,
        "blockchain-node": 30, "backend": 30}


# Bad values and the message helm must give for each (the path of the bad value).
REFUSED = [
    (("--set", "services.frontend.replicas=two"), "services.frontend.replicas: Invalid type"),
    (("--set", "services.frontend.replicaz=2"), "Additional property replicaz is not allowed"),
    (("--set", "services.backend.tier=important"), "services.backend.tier must be one of the following"),
    (("--set", "services.vote-service.enabled=true"), "Additional property vote-service is not allowed"),
    (("--set", "stopOrder.services={frontend,nginx}"), "stopOrder.services.1 must be one of the following"),
    (("--set", "stopOrder.services={frontend,frontend}"), "stopOrder.services: array items[0,1] must be unique"),
    (("--set", "stopOrder.dependencyTimeoutSeconds=0"), "stopOrder.dependencyTimeoutSeconds"),
    (("--set", "services.backend.shutdown.after={frontend}"), "Additional property after is not allowed"),
    (("--set", "services.backend.shutdown.endpoint.reach=sidecar"), "services.backend.shutdown.endpoint.reach"),
    (("--set", "services.backend.image.tag=1.0.0 beta"), "services.backend.image.tag"),
    (("--set-json", 'services.network-coordinator.claims=[{"name": "network-data", "mountPath": "/d", '
                    '"storage": "lots"}]'), "services.network-coordinator.claims.0.storage"),
    (("--set", "services.frontend.ports[0].containerPort=70000"), "services.frontend.ports.0.containerPort"),
]


def test_the_schema_refuses_bad_values_clearly(helm_run):
    for args, message in REFUSED:
        r = helm_run("template", "stack", STACK_CHART, *args, check=False)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)


def test_templates_use_only_values_that_exist_and_every_value_is_used():
    keys = {k for k, _, _ in stack_value_keys()}
    text = ""
    for name in sorted(os.listdir(os.path.join(STACK_CHART, "templates"))):
        with open(os.path.join(STACK_CHART, "templates", name)) as f:
            text += f.read()
    refs = set(re.findall(r"\.Values((?:\.[A-Za-z0-9]+)+)", text))
    assert {r.lstrip(".") for r in refs} - keys == set(), "templates read values that values.yaml does not define"
    # A service's values are read as $svc.<key> (the range over .Values.services).
    svc_refs = set(re.findall(r"\$svc((?:\.[A-Za-z0-9]+)+)", text))
    service_keys = {k.split(".", 2)[2] for k in keys if k.startswith("services.") and k.count(".") >= 2}
    assert {r.lstrip(".") for r in svc_refs} - service_keys == set()
    leaves = {k for k in service_keys if not any(o.startswith(k + ".") for o in service_keys)}
    unused = [k for k in leaves if not any(r.lstrip(".") == k or k.startswith(r.lstrip(".") + ".")
                                                 for r in svc_refs)]
    assert unused == [], "values no template reads"
    assert {"stopOrder.services", "stopOrder.dependencyTimeoutSeconds"} <= {r.lstrip(".") for r in refs}


# ---- helm -------------------------------------------------------------------------------------------------------

def test_helm_lint_is_clean(helm_run):
    r = helm_run("lint", "--strict", STACK_CHART)
    assert "0 chart(s) failed" in r.stdout
    r = helm_run("lint", "--strict", STACK_CHART, "--set", "services.incentive-system.enabled=false")
    assert "0 chart(s) failed" in r.stdout


def test_the_defaults_are_the_presets_plus_the_stop_order(helm_run):
    docs = render(helm_run)
    assert sorted(docs) == sorted(ORDER)
    for name, d in docs.items():
        assert d["kind"] == "MediVoteService" and d["apiVersion"] == "medivote.io/v1alpha1"
        assert d["metadata"]["namespace"] == "medivote"
        assert without_order(d) == preset(name), name
        labels = d["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "stack" and labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "medivote-0.1.0"
        # The pod template keeps the preset's labels only: a new release name or chart version rolls no pod.
        assert d["spec"]["template"]["metadata"]["labels"] == preset(name)["spec"]["template"]["metadata"]["labels"]


def test_the_stop_order_is_medivotes():
    """The after lists: each service waits for every service MediVote stops before it."""
    with open(STACK_VALUES) as f:
        assert yaml.safe_load(f)["stopOrder"]["services"] == ORDER


def test_each_service_waits_for_those_before_it(helm_run):
    docs = render(helm_run)
    for i, name in enumerate(ORDER):
        shutdown = docs[name]["spec"]["shutdown"]
        assert shutdown.get("after", []) == ORDER[:i], name
        assert shutdown.get("dependencyTimeoutSeconds") == (120 if i else None), name
    # A disabled service is not rendered and nobody waits for it; a service left out of the order waits for none.
    docs = render(helm_run, "--set", "services.incentive-system.enabled=false",
                  "--set", "stopOrder.services={frontend,network-coordinator,incentive-system,backend}")
    assert sorted(docs) == sorted(set(ORDER) - {"incentive-system"})
    assert {n: d["spec"]["shutdown"].get("after") for n, d in docs.items()} == {
        "frontend": None, "network-dashboard": None, "network-coordinator": ["frontend"],
        "blockchain-node": None, "backend": ["frontend", "network-coordinator"]}


def test_the_claims_are_the_operators_not_helms(helm_run):
    """helm uninstall keeps the claims because helm never owns them: the chart renders volumeClaimTemplates and the
    operator creates the claims (unowned, like a StatefulSet's). No PersistentVolumeClaim in the release."""
    out = helm_run("template", "stack", STACK_CHART).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(out) if d}
    assert kinds == {"MediVoteService"}
    claims = {n: [t["metadata"]["name"] for t in d["spec"].get("volumeClaimTemplates", [])]
              for n, d in render(helm_run).items()}
    assert claims == {"backend": [], "blockchain-node": ["blockchain-data"], "frontend": [],
                      "incentive-system": ["incentive-data"], "network-coordinator": ["network-data"],
                      "network-dashboard": []}


def test_the_readme_documents_every_top_level_and_service_value():
    with open(os.path.join(STACK_CHART, "README.md")) as f:
        readme = f.read()
    service_keys = {k.split(".", 2)[2].split(".")[0] for k, _, _ in stack_value_keys()
                    if k.startswith("services.") and k.count(".") >= 2}
    for key in ["stopOrder.services", "stopOrder.dependencyTimeoutSeconds", *sorted(service_keys)]:
        assert f"`{key}`" in readme, key
