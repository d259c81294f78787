"""The chart's monitoring (issue 18 item 2): the PrometheusRule and the Grafana dashboard ConfigMap are off by
default, rendered when enabled (and metrics.enabled), and carry exactly the chart's files: the PrometheusRule's
groups are rules/medivote-operator.rules.yaml (the file promtool tests) with the runbook links moved to
metrics.prometheusRule.runbookBaseUrl; the ConfigMap's JSON is dashboards/medivote-operator.json. The schema refuses
bad values. Every dashboard query parses (promtool, Prometheus' own parser) and covers what the issue asks for;
tests/e2e/test_prometheus_scrape.py checks the names it reads against a real scrape and runs the queries on a real
Prometheus."""
import json
import os
import sys

import pytest
import yaml

from packaging_lib import CHART

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "monitoring"))
from monitoring_lib import (DASHBOARD, PROMTOOL, RULES, RUNBOOK_BASE, check_queries_parse, dashboard,  # noqa: E402
                            dashboard_queries, metric_names, rule_groups)

ENABLED = ["--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.grafanaDashboard.enabled=true"]


def render(helm_run, *args):
    out = helm_run("template", "medivote-operator", CHART, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def monitoring(docs):
    rules = [d for d in docs if d["kind"] == "PrometheusRule"]
    dashboards = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "medivote-operator-dashboard"]
    return rules, dashboards


def test_both_are_off_by_default(helm_run):
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)["metrics"]
    assert values["prometheusRule"]["enabled"] is False and values["grafanaDashboard"]["enabled"] is False
    assert monitoring(render(helm_run)) == ([], [])


def test_enabled_they_carry_the_charts_files(helm_run):
    rules, dashboards = monitoring(render(helm_run, *ENABLED))
    assert len(rules) == 1 and len(dashboards) == 1
    rule = rules[0]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "medivote-system"
    assert rule["spec"]["groups"] == rule_groups(RULES)  # the shipped rules are the tested rules
    cm = dashboards[0]
    assert cm["metadata"]["namespace"] == "medivote-system"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["labels"]["app.kubernetes.io/name"] == "medivote-operator"
    assert list(cm["data"]) == ["medivote-operator.json"]
    assert json.loads(cm["data"]["medivote-operator.json"]) == dashboard()


def test_values_move_the_runbook_links_labels_and_namespace(helm_run):
    rules, dashboards = monitoring(render(
        helm_run, *ENABLED, "--set", "metrics.prometheusRule.runbookBaseUrl=https://docs.example.org/ops/runbooks",
        "--set", "metrics.prometheusRule.labels.release=kube-prometheus-stack",
        "--set", "metrics.grafanaDashboard.namespace=monitoring",
        "--set", "metrics.grafanaDashboard.labels.team=medivote"))
    links = [r["annotations"]["runbook_url"] for g in rules[0]["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert len(links) == 7
    assert all(u.startswith("https://docs.example.org/ops/runbooks#medivote") for u in links), links
    assert RUNBOOK_BASE not in json.dumps(rules[0])
    want = json.loads(json.dumps(rule_groups(RULES)).replace(RUNBOOK_BASE, "https://docs.example.org/ops/runbooks"))
    assert rules[0]["spec"]["groups"] == want
    assert rules[0]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert dashboards[0]["metadata"]["namespace"] == "monitoring"
    assert dashboards[0]["metadata"]["labels"]["team"] == "medivote"
    assert dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_nothing_without_metrics(helm_run):
    assert monitoring(render(helm_run, *ENABLED, "--set", "metrics.enabled=false")) == ([], [])


def test_lint_is_clean_with_both_enabled(helm_run):
    r = helm_run("lint", "--strict", CHART, *ENABLED)
    assert "0 chart(s) failed" in r.stdout


def test_the_schema_refuses_bad_monitoring_values(helm_run):
    for bad in (["--set", "metrics.prometheusRule.runbookBaseUrl=runbooks.md"],
                ["--set", "metrics.prometheusRule.enabled=yes"],
                ["--set", "metrics.grafanaDashboard.labels.grafana_dashboard=1"],  # a number, not a string
                ["--set", "metrics.grafanaDashboard.namespace=Not_A_Namespace"],
                ["--set", "metrics.grafanaDashboard.folder=x"]):
        r = helm_run("template", "medivote-operator", CHART, *ENABLED, *bad, check=False)
        assert r.returncode != 0, bad
        assert "values don't meet the specifications of the schema" in r.stderr, (bad, r.stderr)


# ---- the dashboard --------------------------------------------------------------------------------------------

def test_the_dashboard_is_grafana_json_on_a_datasource_variable():
    d = dashboard()
    assert d["uid"] == "medivote-operator" and d["title"]
    assert [v["name"] for v in d["templating"]["list"] if v["type"] == "datasource"] == ["datasource"]
    panels = [p for p in d["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in d["panels"]}) == len(d["panels"])
    for p in panels:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"] and p["description"], p["title"]
        assert all(t["datasource"] == p["datasource"] and t["expr"].strip() for t in p["targets"]), p["title"]


@pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK), reason=f"{PROMTOOL} absent (Debian package prometheus)")
def test_every_dashboard_query_parses(tmp_path):
    queries = [(f"{title}/{ref}", expr) for title, ref, expr in dashboard_queries()]
    r = check_queries_parse(queries, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(queries)} rules found" in r.stdout


@pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK), reason=f"{PROMTOOL} absent (Debian package prometheus)")
def test_the_parse_check_catches_a_broken_query(tmp_path):
    r = check_queries_parse([("ok", "sum(up)"), ("broken", "sum by (tier (rate(medivote_shutdown_total[5m]))")],
                            tmp_path)
    assert r.returncode != 0
    assert "parse error" in r.stdout + r.stderr


def test_the_dashboard_shows_what_the_issue_asks_for():
    read = {}
    for title, _, expr in dashboard_queries():
        for name in metric_names(expr):
            read.setdefault(name, []).append(title)
    # shutdowns by tier and outcome, stage durations, escalations, in progress, reconcile errors, queue depth, leader
    for name in ("medivote_shutdown_total", "medivote_shutdown_stage_duration_seconds_bucket",
                 "medivote_shutdowns_in_progress", "controller_runtime_reconcile_errors_total", "workqueue_depth",
                 "leader_election_master_status"):
        assert name in read, name
    exprs = " ".join(e for _, _, e in dashboard_queries())
    assert "sum by (tier, outcome) (increase(medivote_shutdown_total" in exprs
    assert 'outcome=~"sigterm|sigkill"' in exprs and 'outcome="forced"' in exprs
    with open(DASHBOARD) as f:
        assert "$__rate_interval" in f.read()
