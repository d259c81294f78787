"""Helpers of the monitoring tests (issue 18 item 2): the chart's rule file and dashboard, the PromQL they hold and
the metric names it reads, and the names a scrape of the operator's /metrics exports.

Used by tests/packaging/test_alert_rules.py, tests/packaging/test_chart_monitoring.py and
tests/e2e/test_prometheus_scrape.py (they put this folder on sys.path)."""
import json
import os
import re
import subprocess

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
CHART = os.path.join(REPO, "charts", "medivote-operator")
RULES = os.path.join(CHART, "rules", "medivote-operator.rules.yaml")
DASHBOARD = os.path.join(CHART, "dashboards", "medivote-operator.json")
RULE_TESTS = os.path.join(HERE, "medivote-operator.rules.test.yaml")
RUNBOOKS = os.path.join(REPO, "docs", "runbooks.md")
PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
# The runbook base URL written in the rule file; the chart replaces it with metrics.prometheusRule.runbookBaseUrl.
RUNBOOK_BASE = "https://github.com/medivote/medivote-operator/blob/main/docs/runbooks.md"
# What Grafana puts in place of its range variables before a query reaches Prometheus.
GRAFANA_RANGES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def rule_groups(path=RULES):
    with open(path) as f:
        return yaml.safe_load(f)["groups"]


def alerts(path=RULES):
    """{alert name: rule} of the rule file."""
    return {r["alert"]: r for g in rule_groups(path) for r in g["rules"] if "alert" in r}


def recorded(path=RULES):
    """{recorded metric name: expression}."""
    return {r["record"]: r["expr"] for g in rule_groups(path) for r in g["rules"] if "record" in r}


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def dashboard_queries():
    """[(panel title, refId, PromQL as Prometheus receives it)] of every panel target, rows' nested panels too."""
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                expr = t["expr"]
                for var, value in GRAFANA_RANGES.items():
                    expr = expr.replace(var, value)
                out.append((p["title"], t["refId"], expr))
    walk(dashboard()["panels"])
    return out


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
             "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression reads: identifiers that are not functions, keywords, label names (in
    matchers and in by/without/on/ignoring/group_* lists), durations or strings."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'", '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*", s):
        if s[m.end():].lstrip().startswith("(") or m.group(0).lower() in _KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def exported_names(metrics_text):
    """The metric names of a /metrics page (text format 0.0.4): every sample's name, and for each family declared
    by a TYPE line its name (and _bucket/_sum/_count for a histogram or summary)."""
    names = set()
    for line in metrics_text.splitlines():
        m = re.match(r"# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) in ("histogram", "summary"):
                names |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def check_queries_parse(queries, tmp_path):
    """Runs `promtool check rules` on a rule file that records each of `queries` ([(label, expr)]): promtool parses
    every expression with Prometheus' own parser. Returns the CompletedProcess."""
    rules = [{"record": f"dashboard:query:{i}", "expr": expr} for i, (_, expr) in enumerate(queries)]
    path = os.path.join(str(tmp_path), "queries.rules.yaml")
    with open(path, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    return subprocess.run([PROMTOOL, "check", "rules", path], capture_output=True, text=True, timeout=60)


def anchor(heading):
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors():
    with open(RUNBOOKS) as f:
        return {anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", f.read(), re.M)}
