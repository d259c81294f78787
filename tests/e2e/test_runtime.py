"""The controller runtime (issue 5) against the API server simulator: informer caches converge under fault injection,
and leader election between two real medivote-controller processes (one leader, takeover after SIGKILL and
after SIGTERM, giving up when renewals fail).

Informers are observed through tests/tools/medivote-informer-probe (one runtime::informer::Informer that dumps its
cache and the view built from its event handlers on request); the server's side through the REST API and the
simulator's audit log. Each test owns its API server (no kubelet), so that faults and compactions disturb no other
suite. Nothing waits a fixed time: every wait polls a condition with a deadline.
"""
import os
import re
import signal
import time

import pytest

from e2elib import (CONTROLLER, INFORMER_PROBE, OPERATOR_USER, InformerProbe, Operator, OperatorAs,
                    log_records, log_time, own_api_server, poll)

pytestmark = pytest.mark.needs_sim_apiserver(
    reason="each test starts an API server simulator of its own and injects faults, compactions and closed "
           "watches through its /admin endpoints, and reads its audit log")

CM_LABEL = "probe=yes"


@pytest.fixture
def apiserver(tmp_path):
    with own_api_server(tmp_path / "runtime", CONTROLLER, INFORMER_PROBE) as s:
        yield s


@pytest.fixture
def probes(apiserver, tmp_path):
    started = []

    def start(resource, *args, kubeconfig=None):
        p = InformerProbe(kubeconfig or os.path.join(apiserver.sim.dir, "operator.kubeconfig"), resource, *args,
                          log_path=str(tmp_path / f"probe-{len(started) + 1}.log"))
        started.append(p)
        return p
    yield start
    for p in started:
        assert p.stop() == 0, p.log()[-2000:]


@pytest.fixture
def operators(apiserver):
    started = []

    def start(*extra, admin=False):
        if admin:
            op = OperatorAs(apiserver, os.path.join(apiserver.sim.dir, "kubeconfig"), *extra)
        else:
            op = Operator(apiserver, *extra)
        started.append(op)
        return op
    yield start
    for op in started:
        op.kill(signal.SIGKILL)


# --- helpers ------------------------------------------------------------------------------------------------------

def namespace(apiserver, name):
    """A new namespace, once its kube-root-ca.crt is there (every namespace has it, as on a real cluster: the
    namespace-wide probes below see it from their first list on)."""
    apiserver.rest.ok(apiserver.rest.post("/api/v1/namespaces",
                                          {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    poll(lambda: apiserver.rest.get(cm_path(name, "kube-root-ca.crt")).status == 200, 5, "kube-root-ca.crt")
    return name


def cm_path(ns, name=None):
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def create_cm(apiserver, ns, name, labels=None, data=None):
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"probe": "yes"} if labels is None else labels},
            "data": data or {"v": "0"}}
    return apiserver.rest.ok(apiserver.rest.post(cm_path(ns), body), 201)["metadata"]["resourceVersion"]


def update_cm(apiserver, ns, name, value):
    r = apiserver.rest.patch(cm_path(ns, name), {"data": {"v": str(value)}})
    return apiserver.rest.ok(r)["metadata"]["resourceVersion"]


def relabel_cm(apiserver, ns, name, value):
    apiserver.rest.ok(apiserver.rest.patch(cm_path(ns, name), {"metadata": {"labels": {"probe": value}}}))


def delete_cm(apiserver, ns, name):
    apiserver.rest.ok(apiserver.rest.delete(cm_path(ns, name)))


def server_state(apiserver, ns=None, selector=CM_LABEL):
    """{namespace/name: resourceVersion} of the ConfigMaps the server lists (all namespaces when ns is None)."""
    path = cm_path(ns) if ns else "/api/v1/configmaps"
    items = apiserver.rest.ok(apiserver.rest.get(path, **({"labelSelector": selector} if selector else {})))["items"]
    return {f'{i["metadata"]["namespace"]}/{i["metadata"]["name"]}': i["metadata"]["resourceVersion"] for i in items}


def converged(probe, apiserver, ns=None, timeout=20):
    """Polls until the probe's cache and its handler view both equal the server's state; returns the last dump.
    The informer must also report itself synced and watching, and no handler contract may have been broken.
    A probe of one namespace sees all of its ConfigMaps (kube-root-ca.crt too); the cluster-wide one, the labelled."""
    last = {}

    def check():
        want = server_state(apiserver, ns, selector=None if ns else CM_LABEL)
        d = probe.dump()
        last.update(d, want=want)
        return d if (d["info"].get("synced") == "true" and d["info"].get("state") == "Watching"
                     and d["cache"] == want and d["seen"] == want) else None
    try:
        d = poll(check, timeout, "the informer cache to equal the server's state", interval=0.2)
    except AssertionError:
        want, cache = last.get("want", {}), last.get("cache", {})
        missing = sorted(set(want) - set(cache))[:10]
        extra = sorted(set(cache) - set(want))[:10]
        stale = sorted(k for k in set(want) & set(cache) if want[k] != cache[k])[:10]
        raise AssertionError(f"informer did not converge: info={last.get('info')} missing={missing} extra={extra} "
                             f"stale={stale} anomalies={last.get('anomalies')}\n{probe.log()[-3000:]}")
    assert d["anomalies"] == [], d["anomalies"]
    return d


def probe_requests(apiserver, verb):
    """The operator user's ConfigMap requests of one verb ("list" or "watch"), in arrival order. The reflector's
    history probe (a limit=1 list while a watch is quiet, reflector.h) is no list of the informer's and is left out."""
    return [i for i in apiserver.audit(OPERATOR_USER, "configmaps") if i["verb"] == verb
            and not (verb == "list" and query_param(i["path"], "limit") == "1")]


def audit_time(item):
    """An audit item's arrival time, in seconds since the epoch."""
    import datetime
    return datetime.datetime.strptime(item["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def query_param(path, name):
    m = re.search(rf"[?&]{name}=([^&]*)", path)
    return m.group(1) if m else None


# --- informers ----------------------------------------------------------------------------------------------------

def test_informer_lists_in_pages_then_follows_adds_updates_deletes_and_selector_changes(apiserver, probes):
    a, b = namespace(apiserver, "probe-a"), namespace(apiserver, "probe-b")
    for i in range(30):
        create_cm(apiserver, a if i % 2 else b, f"cm-{i}")
    for i in range(5):  # not selected
        create_cm(apiserver, a, f"other-{i}", labels={"probe": "no"})

    # Paged as every relist is (the first list of the operator's informers is resourceVersion=0, answered whole:
    # test_informer_lists_first_from_the_watch_cache_whole_whatever_the_page_size).
    probe = probes("configmaps", "--label-selector", CM_LABEL, "--page-size", "7", "--first-list", "consistent")
    d = converged(probe, apiserver)
    assert len(d["cache"]) == 30
    lists = probe_requests(apiserver, "list")
    assert [query_param(i["path"], "limit") for i in lists] == ["7"] * 5, "30 objects in pages of 7: 5 requests"
    assert [query_param(i["path"], "continue") is not None for i in lists] == [False] + [True] * 4
    assert all(i["code"] == 200 for i in lists)

    for i in range(0, 10):
        update_cm(apiserver, a if i % 2 else b, f"cm-{i}", i + 1)
    for i in range(10, 15):
        delete_cm(apiserver, a if i % 2 else b, f"cm-{i}")
    for i in range(15, 18):  # stop matching the selector: the informer sees them deleted
        relabel_cm(apiserver, a if i % 2 else b, f"cm-{i}", "no")
    for i in range(3):  # start matching: added
        relabel_cm(apiserver, a, f"other-{i}", "yes")
    for i in range(30, 35):
        create_cm(apiserver, a, f"cm-{i}")
    d = converged(probe, apiserver)
    assert len(d["cache"]) == 30 - 5 - 3 + 3 + 5
    info = d["info"]
    assert int(info["deletes"]) == 8 and int(info["adds"]) == 30 + 3 + 5 and int(info["updates"]) == 10, info
    assert len(probe_requests(apiserver, "list")) == 5, "no relist while the watch was healthy"


def test_informer_resumes_after_dropped_watches_and_watch_timeouts_without_relisting(apiserver, probes):
    ns = namespace(apiserver, "probe-drop")
    for i in range(10):
        create_cm(apiserver, ns, f"cm-{i}")
    # Watches that the client asks to end after 2 to 3 s, and the server closing the watch after every round.
    probe = probes("configmaps", "--namespace", ns, "--min-watch-timeout", "2")
    converged(probe, apiserver, ns)
    watches_before = len(probe_requests(apiserver, "watch"))
    for round_ in range(5):
        poll(lambda: apiserver.admin("GET", "state")["openWatches"] >= 1, 10, "the probe's watch")
        update_cm(apiserver, ns, f"cm-{round_}", f"r{round_}")
        create_cm(apiserver, ns, f"new-{round_}")
        delete_cm(apiserver, ns, f"cm-{round_ + 5}")
        converged(probe, apiserver, ns)
        apiserver.admin("POST", "close-watches")
    update_cm(apiserver, ns, "cm-0", "last")
    d = converged(probe, apiserver, ns)
    lists = probe_requests(apiserver, "list")
    assert len(lists) == 1, f"a dropped watch must resume from its resourceVersion, not relist: {lists}"
    watches = probe_requests(apiserver, "watch")[watches_before:]
    assert len(watches) >= 5, watches
    rvs = [int(query_param(w["path"], "resourceVersion")) for w in watches]
    assert rvs == sorted(rvs) and len(set(rvs)) >= 5, f"each watch resumes from the last resourceVersion seen: {rvs}"
    assert all(int(query_param(w["path"], "timeoutSeconds")) in (2, 3) for w in watches)
    assert "watch ended, resuming from the last resourceVersion" in probe.log()
    assert "relisting" not in probe.log()
    assert int(d["info"]["deletes"]) == 5 and int(d["info"]["updates"]) == 6, d["info"]


def test_informer_backs_off_on_list_500s_then_syncs(apiserver, probes):
    ns = namespace(apiserver, "probe-list500")
    for i in range(12):
        create_cm(apiserver, ns, f"cm-{i}")
    # The probe's lists (they page, so they carry limit=), not its watches nor this test's own lists.
    list_path = rf"^/api/v1/namespaces/{ns}/configmaps\?(?!.*watch=).*limit="
    apiserver.admin("POST", "faults", {"method": "GET", "path": list_path, "status": 500, "count": 2})
    try:
        probe = probes("configmaps", "--namespace", ns)
        converged(probe, apiserver, ns)
    finally:
        apiserver.admin("DELETE", "faults")
    lists = probe_requests(apiserver, "list")
    assert [i["code"] for i in lists] == [500, 500, 200], lists
    gaps = [audit_time(lists[k + 1]) - audit_time(lists[k]) for k in range(2)]
    # client-go's reflector back-off: 800 ms, then doubled.
    assert gaps[0] >= 0.75 and gaps[1] >= 1.5, gaps
    assert gaps[0] < 5 and gaps[1] < 8, gaps
    assert probe.log().count("reflector backing off") == 2


def test_informer_resumes_after_watch_500s_and_replays_what_it_missed(apiserver, probes):
    ns = namespace(apiserver, "probe-watch500")
    for i in range(10):
        create_cm(apiserver, ns, f"cm-{i}")
    probe = probes("configmaps", "--namespace", ns)
    converged(probe, apiserver, ns)
    last_seen = int(probe.dump()["info"]["rv"])
    apiserver.admin("POST", "faults", {"method": "GET", "path": rf"/namespaces/{ns}/configmaps\?.*watch=true",
                                       "status": 500, "count": 2})
    try:
        assert apiserver.admin("POST", "close-watches")["closed"] >= 1
        # Changes made while the watch is failing: the resumed watch must replay them from the server's history.
        first_missed = update_cm(apiserver, ns, "cm-0", "missed")
        delete_cm(apiserver, ns, "cm-1")
        create_cm(apiserver, ns, "cm-new")
        d = converged(probe, apiserver, ns)
    finally:
        apiserver.admin("DELETE", "faults")
    assert len(probe_requests(apiserver, "list")) == 1, "a 500 on watch must not relist"
    watches = probe_requests(apiserver, "watch")
    failed = [w for w in watches if w["code"] == 500]
    assert len(failed) == 2, watches
    resumed = watches[-1]
    rv = int(query_param(resumed["path"], "resourceVersion"))
    assert last_seen <= rv < int(first_missed), f"resumed from {rv}: it should be from before the outage"
    assert d["cache"]["%s/cm-0" % ns] == first_missed and f"{ns}/cm-1" not in d["cache"]


def test_informer_relists_after_compaction_and_notices_deletions(apiserver, probes):
    ns = namespace(apiserver, "probe-compact")
    for i in range(20):
        create_cm(apiserver, ns, f"cm-{i}")
    probe = probes("configmaps", "--namespace", ns)
    converged(probe, apiserver, ns)
    deletes_before = int(probe.dump()["info"]["deletes"])
    # Keep the informer from watching (every watch fails) while objects change, then compact the history: the
    # watch that finally succeeds resumes from a resourceVersion the server no longer has (410 Gone).
    apiserver.admin("POST", "faults", {"method": "GET", "path": rf"/namespaces/{ns}/configmaps\?.*watch=true",
                                       "status": 500})
    try:
        apiserver.admin("POST", "close-watches")
        poll(lambda: any(w["code"] == 500 for w in probe_requests(apiserver, "watch")), 10, "a failed watch")
        for i in range(0, 8):
            delete_cm(apiserver, ns, f"cm-{i}")
        for i in range(8, 12):
            update_cm(apiserver, ns, f"cm-{i}", "changed")
        for i in range(5):
            create_cm(apiserver, ns, f"added-{i}")
        apiserver.admin("POST", "compact")
    finally:
        apiserver.admin("DELETE", "faults")
    d = converged(probe, apiserver, ns)
    assert len(probe_requests(apiserver, "list")) == 2, "the 410 must lead to exactly one relist"
    assert "resourceVersion too old, relisting" in probe.log()
    info = d["info"]
    # The relist replaced the cache: its differences reached the handlers as deletes, updates and adds.
    assert int(info["deletes"]) - deletes_before == 8, info
    assert len(d["cache"]) == 17 + 1   # and kube-root-ca.crt


def test_informer_lists_first_from_the_watch_cache_whole_whatever_the_page_size(apiserver, probes):
    """The operator's informers list first as client-go does: resourceVersion=0 (limit still sent), which the API
    server answers from its watch cache, whole (../shared/k8s-reference/edge-cases-2026-12.md): one request."""
    ns = namespace(apiserver, "probe-rv0")
    for i in range(20):
        create_cm(apiserver, ns, f"cm-{i}")
    probe = probes("configmaps", "--namespace", ns, "--page-size", "7")
    d = converged(probe, apiserver, ns)
    assert len(d["cache"]) == 20 + 1  # and kube-root-ca.crt
    lists = probe_requests(apiserver, "list")
    assert [(query_param(i["path"], "resourceVersion"), query_param(i["path"], "limit"), i["code"]) for i in lists] \
        == [("0", "7", 200)], lists


def test_informer_relists_when_the_continue_token_expires_mid_list(apiserver, probes):
    ns = namespace(apiserver, "probe-continue")
    for i in range(25):
        create_cm(apiserver, ns, f"cm-{i}")
    # Hold the second page's request long enough to compact the history while it waits.
    apiserver.admin("POST", "latency", {"method": "GET", "path": rf"/namespaces/{ns}/configmaps\?.*continue=",
                                        "seconds": 2.0, "count": 1})
    try:
        probe = probes("configmaps", "--namespace", ns, "--page-size", "10", "--first-list", "consistent")
        poll(lambda: [i for i in probe_requests(apiserver, "list") if i["code"] == 200], 10, "the first page")
        # A write, then the compaction: the first page's snapshot is now older than the history kept.
        delete_cm(apiserver, ns, "cm-0")
        apiserver.admin("POST", "compact")
        d = converged(probe, apiserver, ns)
    finally:
        apiserver.admin("DELETE", "latency")
    codes = [(query_param(i["path"], "continue") is not None, i["code"]) for i in probe_requests(apiserver, "list")]
    assert codes[:2] == [(False, 200), (True, 410)], codes
    assert codes[2:] == [(False, 200), (True, 200), (True, 200)], codes
    assert "continue token expired, relisting" in probe.log()
    assert len(d["cache"]) == 24 + 1 and int(d["info"]["adds"]) == 24 + 1 and int(d["info"]["deletes"]) == 0, \
        f"the abandoned list never reached the cache: {d['info']}"


# --- leader election ----------------------------------------------------------------------------------------------

LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 4.0, 3.0, 0.5
JITTER = 1.2  # client-go's JitterFactor: a candidate waits retryPeriod * [1, 1 + JITTER) between attempts


def leader_flags(lease_id, lease=LEASE_DURATION, renew=RENEW_DEADLINE, retry=RETRY_PERIOD):
    return ["--leader-elect", "--leader-election-namespace=default", f"--leader-election-id={lease_id}",
            f"--leader-elect-lease-duration={int(lease * 1000)}ms",
            f"--leader-elect-renew-deadline={int(renew * 1000)}ms",
            f"--leader-elect-retry-period={int(retry * 1000)}ms"]


def records(op, msg):
    return [r for r in log_records(op.log()) if r.get("msg") == msg]


def identity(op):
    recs = poll(lambda: records(op, "leader election enabled"), 20, "the operator to start")
    return recs[0]["identity"]


def won(op):
    return records(op, "leader election won")


def lease(apiserver, name):
    return apiserver.rest.ok(apiserver.rest.get(f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{name}"))


def lease_reads(apiserver, user, name, since=0.0):
    return [i for i in apiserver.audit(user, "leases") if i["verb"] == "get" and i["name"] == name
            and audit_time(i) >= since]


def metric(op, name):
    """The value of a metric without labels other than `name=...`, read from the operator's /metrics."""
    import urllib.request
    rec = poll(lambda: records(op, "serving metrics"), 20, "the metrics server")[0]
    port = rec["address"].rsplit(":", 1)[1]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    m = re.search(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.M)
    assert m, f"{name} not on /metrics"
    return float(m.group(1))


def start_pair(operators, apiserver, lease_id, **timing):
    """Two replicas with one Lease: `a` as the operator's service account, `b` as admin (told apart in the audit
    log). Returns (a, b) once `a` leads and `b` has read the Lease held by `a` at least twice."""
    a = operators(*leader_flags(lease_id, **timing))
    poll(lambda: won(a) or a.proc.poll() is not None, 20, "the first replica to lead")
    assert a.proc.poll() is None, a.log()[-3000:]
    b = operators(*leader_flags(lease_id, **timing), admin=True)
    poll(lambda: len(lease_reads(apiserver, "kubernetes-admin", lease_id)) >= 2, 20,
         "the second replica to observe the Lease")
    assert not won(b), "the second replica must not lead while the first renews"
    return a, b


def test_two_managers_elect_exactly_one_leader(apiserver, operators):
    lease_id = "le-one-leader"
    a = operators(*leader_flags(lease_id))
    b = operators(*leader_flags(lease_id), admin=True)
    users = {id(a): OPERATOR_USER, id(b): "kubernetes-admin"}
    poll(lambda: won(a) or won(b), 30, "a replica to lead")
    leader, follower = (a, b) if won(a) else (b, a)
    t_won = log_time(won(leader)[0])
    # Let the follower keep campaigning for longer than a lease duration (observed through its own Lease reads): an
    # unrenewed lease would have been taken over by then.
    poll(lambda: (lambda r: len(r) >= 3 and audit_time(r[-1]) - audit_time(r[0]) > LEASE_DURATION + RETRY_PERIOD)(
        lease_reads(apiserver, users[id(follower)], lease_id, since=t_won)), 20,
        "the follower to campaign for more than a lease duration")
    assert len(won(leader)) == 1 and won(follower) == [], "exactly one replica won"
    assert "phase=leading" in leader.log() and "phase=leading" not in follower.log()
    assert "phase=campaigning" in follower.log()
    spec = lease(apiserver, lease_id)["spec"]
    assert spec["holderIdentity"] == identity(leader) != identity(follower)
    assert spec["leaseDurationSeconds"] == int(LEASE_DURATION)
    writes = [i for i in apiserver.audit(users[id(follower)], "leases")
              if i["verb"] in ("create", "update", "patch") and i["code"] < 300]
    assert writes == [], f"the follower never wrote the Lease successfully: {writes}"
    assert metric(leader, "leader_election_master_status") == 1.0
    assert metric(follower, "leader_election_master_status") == 0.0
    assert leader.proc.poll() is None and follower.proc.poll() is None


def test_after_the_leader_is_killed_the_other_leads_within_the_lease_duration(apiserver, operators):
    lease_id = "le-sigkill"
    a, b = start_pair(operators, apiserver, lease_id)
    transitions = lease(apiserver, lease_id)["spec"].get("leaseTransitions", 0)
    t_kill = time.time()
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=10)
    poll(lambda: won(b), 20, "the surviving replica to lead")
    took = log_time(won(b)[0]) - t_kill
    print(f"\nSIGKILL: the other replica led after {took:.2f} s (lease {LEASE_DURATION} s, "
          f"retry {RETRY_PERIOD} s)")
    # The survivor counts the lease from when it saw the last renewal (client-go's local observation), so it cannot
    # lead before the lease duration minus the renew interval has passed since the kill...
    assert took >= LEASE_DURATION - RETRY_PERIOD - 0.2, f"took over after {took:.2f} s: before the lease expired"
    # ...and leads within the lease duration plus its polling: it sees the last renewal at most one attempt after it,
    # and acquires at the first attempt after that observation plus the lease duration (0.3 s of slack for a busy
    # machine; the attempt interval is retryPeriod * (1 + JITTER) at most).
    bound = LEASE_DURATION + 2 * RETRY_PERIOD * (1 + JITTER) + 0.3
    assert took <= bound, f"took over after {took:.2f} s, more than {bound:.2f} s"
    spec = lease(apiserver, lease_id)["spec"]
    assert spec["holderIdentity"] == identity(b)
    assert spec["leaseTransitions"] == transitions + 1


def test_after_the_leader_exits_cleanly_the_other_leads_within_seconds(apiserver, operators):
    lease_id = "le-sigterm"
    # A long lease: without the release on exit, the other replica could not lead before about 11.5 s.
    lease_s = 12.0
    a, b = start_pair(operators, apiserver, lease_id, lease=lease_s, renew=8.0)
    t_term = time.time()
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(timeout=20) == 0, a.log()[-3000:]
    assert records(a, "lease released"), "the leader gives the lease up on a clean exit"
    poll(lambda: won(b), 10, "the surviving replica to lead")
    took = log_time(won(b)[0]) - t_term
    print(f"\nSIGTERM: the other replica led after {took:.2f} s (lease {lease_s} s, retry {RETRY_PERIOD} s)")
    released = log_time(records(a, "lease released")[0])
    assert released - t_term < 2.0, "the lease is released at once on SIGTERM"
    assert took <= (released - t_term) + RETRY_PERIOD * (1 + JITTER) + 0.5, \
        f"took {took:.2f} s: the survivor leads at its first attempt after the release"
    assert lease(apiserver, lease_id)["spec"]["holderIdentity"] == identity(b)


def test_the_operator_runs_on_jemalloc_whose_thread_takes_no_signal_and_exits_cleanly_on_sigterm(apiserver,
                                                                                                  operators):
    """The operator's allocator (src/runtime/memory/allocator.h) is jemalloc, named in the start-up line. Its
    background thread starts before main() blocks the termination signals, so it must block every signal itself:
    otherwise the kernel may hand it a SIGTERM, whose default action ends the process without the graceful stop."""
    op = operators()
    start = poll(lambda: records(op, "starting medivote-controller"), 20, "the operator to start")[0]
    assert start.get("allocator", "").startswith("jemalloc "), start
    poll(lambda: "jemalloc_bg_thd" in thread_names(op.proc.pid).values(), 20, "jemalloc's background thread")
    for tid, name in thread_names(op.proc.pid).items():
        if name == "jemalloc_bg_thd":
            blocked = int(proc_task_status(op.proc.pid, tid)["SigBlk"], 16)
            for sig in (signal.SIGTERM, signal.SIGINT):
                assert blocked & (1 << (sig - 1)), f"jemalloc's thread {tid} can take signal {sig}: {blocked:x}"
    op.proc.send_signal(signal.SIGTERM)
    assert op.proc.wait(timeout=20) == 0, op.log()[-3000:]
    assert records(op, "medivote-controller stopped"), op.log()[-3000:]


def thread_names(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                out[tid] = f.read().strip()
        except FileNotFoundError:
            pass  # the thread ended meanwhile
    return out


def proc_task_status(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_a_leader_that_cannot_renew_stops_acting_within_the_renew_deadline(apiserver, operators):
    lease_id = "le-renew"
    a = operators(*leader_flags(lease_id))
    poll(lambda: won(a) or a.proc.poll() is not None, 20, "the replica to lead")
    assert a.proc.poll() is None, a.log()[-3000:]
    t_fault = time.time()
    apiserver.admin("POST", "faults", {"method": "PUT", "path": rf"/leases/{lease_id}(\?|$)", "status": 500})
    try:
        code = a.proc.wait(timeout=RENEW_DEADLINE + RETRY_PERIOD + 10)
    finally:
        apiserver.admin("DELETE", "faults")
    assert code != 0, "losing the lease is not a clean exit"
    lost = records(a, "leader election lost: could not renew the lease within the renew deadline")
    assert lost, a.log()[-3000:]
    took = log_time(lost[0]) - t_fault
    print(f"\nrenewals failing: leadership given up after {took:.2f} s (renew deadline {RENEW_DEADLINE} s)")
    # The renewal round that began before the fault keeps trying until the renew deadline, not longer.
    assert RENEW_DEADLINE - 0.2 <= took <= RETRY_PERIOD + RENEW_DEADLINE + 0.5, took
    assert records(a, "leader election lost: stopping at once")
    assert not records(a, "lease released"), "a replica that lost the lease must not write it again"

