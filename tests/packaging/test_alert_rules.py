"""The chart's alert rules (charts/medivote-operator/rules/medivote-operator.rules.yaml, issue 18 item 2) with
Debian's promtool: `promtool check rules` is clean, and `promtool test rules` runs the unit tests of
tests/packaging/data/monitoring/, where each alert fires in its case and stays silent in the others. A rule
weakened on purpose fails those tests (they can fail). Every alert has a runbook_url into a section of
docs/runbooks.md, and reads only metrics the operator exports or the file records."""
import os
import re
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "monitoring"))
from monitoring_lib import (PROMTOOL, RULE_TESTS, RULES, RUNBOOK_BASE, alerts, anchor, metric_names,  # noqa: E402
                            recorded, runbook_anchors)

pytestmark = pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK),
                                reason=f"{PROMTOOL} absent (Debian package prometheus, scripts/debian-packages.txt)")

# The alerts issue 18 asks for, by what they watch.
ISSUE_ALERTS = {"MediVoteShutdownEscalatedToSigterm", "MediVoteShutdownForced", "MediVoteShutdownPastBound",
                "MediVoteShutdownStuck", "MediVoteOperatorReconcileErrors", "MediVoteOperatorNoLeader",
                "MediVoteOperatorDown"}

# The metric families the operator registers (src/shutdown/metrics.cpp, src/runtime/metrics/); the end-to-end test
# tests/e2e/test_prometheus_scrape.py checks the same names against a real scrape.
SOURCES = [os.path.join("src", "shutdown", "metrics.cpp")] + [
    os.path.join("src", "runtime", "metrics", f) for f in ("controller_metrics.cpp", "leader_election_metrics.cpp",
                                                           "workqueue_metrics.cpp", "rest_client_metrics.cpp")]


def promtool(*args, cwd=None):
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def registered_families():
    from monitoring_lib import REPO
    names = set()
    for path in SOURCES:
        with open(os.path.join(REPO, path)) as f:
            names |= set(re.findall(r'\.Name\("([a-z_:]+)"\)', f.read()))
    return names


def test_promtool_check_rules_is_clean():
    r = promtool("check", "rules", RULES)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(alerts()) + len(recorded())} rules found" in r.stdout


def test_every_alert_fires_and_stays_silent_in_the_unit_tests():
    r = promtool("test", "rules", os.path.basename(RULE_TESTS), cwd=os.path.dirname(RULE_TESTS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
    with open(RULE_TESTS) as f:
        cases = [c for t in yaml.safe_load(f)["tests"] for c in t["alert_rule_test"]]
    firing = {c["alertname"] for c in cases if c.get("exp_alerts")}
    silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert firing == set(alerts()) == ISSUE_ALERTS
    assert silent == set(alerts())


# (alert, text of the rule file, weaker text): each weakening makes the unit tests of that alert fail.
WEAKENED = [
    ("MediVoteShutdownEscalatedToSigterm", 'outcome=~"sigterm|sigkill"', 'outcome=~"sigterm"'),
    ("MediVoteShutdownStuck", "for: 15m", "for: 10m"),
    ("MediVoteOperatorNoLeader", "leader_election_master_status) < 1", "leader_election_master_status) < 0"),
]


def test_a_weakened_rule_fails_the_unit_tests(tmp_path):
    with open(RULES) as f:
        text = f.read()
    with open(RULE_TESTS) as f:
        tests = yaml.safe_load(f)
    tests["rule_files"] = ["rules.yaml"]
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(tests))
    for alert, strong, weak in WEAKENED:
        assert text.count(strong) == 1, strong
        (tmp_path / "rules.yaml").write_text(text.replace(strong, weak))
        r = promtool("test", "rules", "t.yaml", cwd=tmp_path)
        assert r.returncode != 0, r.stdout
        failed = set(re.findall(r"alertname: (\w+),", r.stdout + r.stderr))
        assert failed == {alert}, (alert, r.stdout + r.stderr)


def test_every_alert_has_a_summary_a_severity_and_a_runbook_section():
    anchors = runbook_anchors()
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert rule["annotations"]["runbook_url"] == f"{RUNBOOK_BASE}#{anchor(name)}", name
        assert anchor(name) in anchors, f"docs/runbooks.md has no section {name}"


def test_the_rules_read_only_metrics_the_operator_registers_or_the_file_records():
    families = registered_families()
    assert {"medivote_shutdown_total", "leader_election_master_status", "workqueue_depth"} <= families
    exported = families | {f + s for f in families for s in ("_bucket", "_sum", "_count")}
    records = recorded()
    read = set()
    for expr in [r["expr"] for r in alerts().values()] + list(records.values()):
        read |= metric_names(expr)
    assert read - exported - set(records) == set()
    assert {"medivote_shutdown_total", "medivote_shutdowns_in_progress", "controller_runtime_reconcile_errors_total",
            "leader_election_master_status"} <= read


def test_metric_names_finds_metrics_not_functions_labels_or_durations():
    expr = ('histogram_quantile(0.95, sum by (le, tier) (rate(a_bucket{stage="total", x=~"b|c"}[5m]))) / '
            'ignoring (le) b_total offset 15m unless on (namespace) c:recorded:rate5m > bool 0')
    assert metric_names(expr) == {"a_bucket", "b_total", "c:recorded:rate5m"}


def test_promtool_is_on_the_debian_package_list():
    from monitoring_lib import REPO
    with open(os.path.join(REPO, "scripts", "debian-packages.txt")) as f:
        assert "prometheus" in [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
