"""Issue 18 item 2 end to end: a real Prometheus (Debian's package, /usr/bin/prometheus, a child process on
127.0.0.1 with its own config and storage) scrapes the operator every second while critical pods shut down, one by
its HTTP stage and one escalated to SIGTERM (its endpoint answers 400), and evaluates the chart's rule file
(charts/medivote-operator/rules/medivote-operator.rules.yaml) itself. Then:

* every rule evaluates without error, and the escalation alert fires for the escalated pod only;
* each alert's expression, sent to /api/v1/query, is valid; the escalation's returns the escalated series, the
  others (nothing forced, none past its bound or stuck, a leader, an operator scraped) return nothing;
* every metric the dashboard and the rules read is on the operator's real /metrics page, and every dashboard
  query, as Grafana sends it, is valid on the real Prometheus; the outcomes panel shows both shutdowns;
* the scrapes saw the shutdowns in progress (Prometheus watched during the shutdown, not only after)."""
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
import yaml

from e2elib import REPO, log_records, mvs, poll, wait_ready

sys.path.insert(0, os.path.join(REPO, "tests", "packaging", "data", "monitoring"))
from monitoring_lib import (PROMETHEUS, RULES, alerts, dashboard_queries, exported_names,  # noqa: E402
                            metric_names, recorded)

pytestmark = pytest.mark.skipif(not os.access(PROMETHEUS, os.X_OK),
                                reason=f"{PROMETHEUS} absent (Debian package prometheus, scripts/debian-packages.txt)")

SHUTDOWN = {"preStopSleepSeconds": 5, "terminationGracePeriodSeconds": 8, "exitTimeoutSeconds": 3,
            "refusalTimeoutSeconds": 10, "forceDeleteAfterSeconds": 30, "maxConcurrent": 1}
# The labels a ServiceMonitor scrape gives the operator's series (the rules group by namespace).
TARGET_LABELS = {"namespace": "medivote-system"}


def critical(name, ns, mode):
    return mvs(name, ns, "medivote/scripted:1", replicas=1, tier="critical", shutdown=SHUTDOWN,
               endpoint={"port": "http", "path": "/shutdown", "requestTimeoutSeconds": 1}, args=["--mode", mode])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """/usr/bin/prometheus scraping `target` every second and evaluating `rule_file` every second."""

    def __init__(self, d, target, rule_file):
        self.port = free_port()
        config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                  "rule_files": [rule_file],
                  "scrape_configs": [{"job_name": "medivote-operator",
                                      "static_configs": [{"targets": [target], "labels": TARGET_LABELS}]}]}
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            yaml.safe_dump(config, f)
        self.log_path = os.path.join(d, "prometheus.log")
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={d}/prometheus.yml", f"--storage.tsdb.path={d}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=self.logf, stderr=subprocess.STDOUT)
        poll(lambda: self.proc.poll() is not None or self.ready(), 30, "Prometheus to be ready")
        assert self.proc.poll() is None, "prometheus exited:\n" + self.log()

    def log(self):
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def ready(self):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2).status == 200
        except OSError:
            return False

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            body = urllib.request.urlopen(url, timeout=10).read()
        except urllib.error.HTTPError as e:  # 400/422: a query Prometheus refuses, with its reason
            body = e.read()
        return json.loads(body)

    def query(self, expr):
        """The result of an instant query; fails the test on an invalid expression."""
        r = self.api("query", query=expr)
        assert r["status"] == "success", (expr, r)
        assert r["data"]["resultType"] in ("vector", "scalar"), (expr, r)
        return r["data"]["result"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


@pytest.fixture
def prometheus(cluster):
    started = []

    def start(target):
        p = Prometheus(os.path.join(cluster.dir, f"prometheus-{len(started)}"), target, RULES)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()


def metrics_address(op):
    served = poll(lambda: [r for r in log_records(op.log()) if r.get("msg") == "serving metrics"], 20,
                  "the metrics server")[0]
    return "127.0.0.1:" + served["address"].rsplit(":", 1)[1]


def outcome(cluster, ns, name, pod):
    def get():
        shutdowns = cluster.mvs(ns, name).get("status", {}).get("shutdowns", [])
        return next((h.get("outcome") for h in shutdowns if h["pod"] == pod), None)
    return poll(get, 60, f"the outcome of {pod}")


def series(result, *keys):
    return sorted(tuple(r["metric"].get(k, "") for k in keys) for r in result)


def test_a_real_prometheus_scrapes_the_operator_during_shutdowns_and_evaluates_the_alerts(cluster, ns, operator,
                                                                                            prometheus):
    op = operator(leader_elect=True)
    target = metrics_address(op)
    prom = prometheus(target)
    poll(lambda: prom.query('up{job="medivote-operator"} == 1'), 30, "Prometheus to scrape the operator")

    cluster.apply(critical("saved", ns, "accept"))
    cluster.apply(critical("refused", ns, "status:400"))
    wait_ready(cluster, ns, "saved", 1)
    wait_ready(cluster, ns, "refused", 1)
    cluster.kubectl("scale", "mvs/saved", "mvs/refused", "--replicas=0", "-n", ns)
    assert outcome(cluster, ns, "saved", "saved-0") == "http"
    assert outcome(cluster, ns, "refused", "refused-0") == "sigterm"
    poll(lambda: not cluster.pods(ns), 60, "both pods to be gone")

    # Scraped: both outcomes, counted by the operator and stored by Prometheus.
    got = poll(lambda: (lambda r: r if len(r) == 2 else None)(
        prom.query('medivote_shutdown_total{job="medivote-operator", tier="critical"}')), 30,
        "both shutdowns in Prometheus")
    assert series(got, "outcome", "namespace") == [("http", "medivote-system"), ("sigterm", "medivote-system")]
    # ... and seen while they ran: the shutdowns were in progress in at least one scrape.
    assert prom.query("max_over_time(medivote_shutdowns_in_progress[10m]) >= 1"), prom.log()

    # The rule file, evaluated by Prometheus itself: every rule healthy; the escalation alert fires for the
    # escalated outcome only.
    def escalation_firing():
        active = [a for a in prom.api("alerts")["data"]["alerts"] if a["state"] == "firing"]
        return active if any(a["labels"]["alertname"] == "MediVoteShutdownEscalatedToSigterm" for a in active) else None
    firing = poll(escalation_firing, 30, "MediVoteShutdownEscalatedToSigterm to fire")
    assert [(a["labels"]["alertname"], a["labels"].get("outcome"), a["labels"].get("tier")) for a in firing] == \
        [("MediVoteShutdownEscalatedToSigterm", "sigterm", "critical")]
    assert firing[0]["annotations"]["runbook_url"].endswith("/docs/runbooks.md#medivoteshutdownescalatedtosigterm")
    rules = [r for g in prom.api("rules")["data"]["groups"] for r in g["rules"]]
    assert sorted(r["name"] for r in rules) == sorted(list(alerts()) + list(recorded()))
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []

    # Each alert's expression on its own through /api/v1/query: valid, with the series the situation calls for.
    results = {name: prom.query(rule["expr"]) for name, rule in alerts().items()}
    assert series(results["MediVoteShutdownEscalatedToSigterm"], "namespace", "tier", "outcome") == \
        [("medivote-system", "critical", "sigterm")]
    for silent in ("MediVoteShutdownForced", "MediVoteShutdownPastBound", "MediVoteShutdownStuck",
                   "MediVoteOperatorNoLeader", "MediVoteOperatorDown"):
        assert results[silent] == [], (silent, results[silent])
    # The leader alert's input is there, so its silence means something: this replica leads.
    assert series(prom.query("leader_election_master_status"), "name") == [("medivote-operator-leader",)]

    # The dashboard and the rules read only metrics of the operator's real /metrics page.
    text = urllib.request.urlopen(f"http://{target}/metrics", timeout=5).read().decode()
    exported = exported_names(text)
    read = {name: title for title, _, expr in dashboard_queries() for name in metric_names(expr)}
    assert sorted(set(read) - exported) == []
    rule_reads = set().union(*(metric_names(e) for e in [r["expr"] for r in alerts().values()] +
                               list(recorded().values())))
    assert sorted(rule_reads - exported - set(recorded())) == []
    # Every dashboard query as Grafana sends it is valid on the real Prometheus; the outcome panel shows both.
    for title, ref, expr in dashboard_queries():
        prom.query(expr)
    by_outcome = next(e for t, _, e in dashboard_queries() if t == "Finished shutdowns since the operators started")
    assert series(prom.query(by_outcome), "tier", "outcome") == [("critical", "http"), ("critical", "sigterm")]
