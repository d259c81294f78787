"""Streaming lists (`sendInitialEvents=true`, KEP-3157) with the simulator's `--watch-list` switch: served as a
1.32 server on etcd >= 3.4.31 serves them (the cacher's initial events, then the BOOKMARK annotated
`k8s.io/initial-events-end`, then the ordinary watch). Without the switch: the captured server's one ERROR 500 event
(see also test_fidelity.py)."""
import pytest
from simlib import Sim, poll

INITIAL_END = "k8s.io/initial-events-end"
STREAM = {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan", "allowWatchBookmarks": "true"}


@pytest.fixture(scope="module")
def wl(tmp_path_factory):
    s = Sim(tmp_path_factory.mktemp("simwl"), "--watch-list", "--bookmark-interval", "60")
    try:
        yield s
    finally:
        s.stop()


def _ns(rest, name):
    """A new namespace, once the simulator's root-CA publisher has put kube-root-ca.crt in it (asynchronously, as
    kube-controller-manager's does): the tests count it among the namespace's ConfigMaps, so it must not appear
    mid-test (CI once saw it missing from the initial events under load)."""
    rest.ok(rest.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    poll(lambda: rest.get(f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt").status == 200, 10,
         f"kube-root-ca.crt in {name}")
    return name


def _cm(rest, ns, name, labels=None):
    r = rest.post(f"/api/v1/namespaces/{ns}/configmaps",
                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
                   "data": {"k": name}})
    rest.ok(r)
    return r.body


def _initial(w):
    """The events up to and including the end bookmark: (ADDED events, bookmark)."""
    added = []
    while True:
        ev = w.next()
        assert ev is not None, "stream ended before the initial-events-end bookmark"
        if ev["type"] == "BOOKMARK":
            return added, ev
        assert ev["type"] == "ADDED", ev
        added.append(ev)


def test_initial_events_then_end_bookmark_then_watch(wl):
    rest = wl.rest
    ns = _ns(rest, "wl-basic")
    names = {f"cm-{i}" for i in range(5)}
    for n in sorted(names):
        _cm(rest, ns, n)
    listed = rest.get(f"/api/v1/namespaces/{ns}/configmaps").body
    list_rv = int(listed["metadata"]["resourceVersion"])
    names |= {o["metadata"]["name"] for o in listed["items"]}  # kube-root-ca.crt too
    w = rest.watch(f"/api/v1/namespaces/{ns}/configmaps", **STREAM)
    try:
        assert w.status == 200
        added, bm = _initial(w)
        assert sorted(e["object"]["metadata"]["name"] for e in added) == sorted(names)
        assert bm["object"]["kind"] == "ConfigMap" and bm["object"]["apiVersion"] == "v1"
        md = bm["object"]["metadata"]
        assert md["annotations"] == {INITIAL_END: "true"}
        assert int(md["resourceVersion"]) >= list_rv
        assert "data" not in bm["object"] and "name" not in md
        # Later changes arrive as ordinary events, none of the initial ones again.
        created = _cm(rest, ns, "later")
        ev = w.next()
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "later"
        assert int(ev["object"]["metadata"]["resourceVersion"]) > int(md["resourceVersion"])
        rest.ok(rest.delete(f"/api/v1/namespaces/{ns}/configmaps/cm-0"))
        ev = w.next()
        assert (ev["type"], ev["object"]["metadata"]["name"]) == ("DELETED", "cm-0")
        assert created["metadata"]["name"] == "later"
    finally:
        w.close()


def test_resource_version_zero_and_given_rv_serve_the_current_state(wl):
    rest = wl.rest
    ns = _ns(rest, "wl-rv")
    first = _cm(rest, ns, "a")
    _cm(rest, ns, "b")
    for rv in ("0", first["metadata"]["resourceVersion"]):
        w = rest.watch(f"/api/v1/namespaces/{ns}/configmaps", resourceVersion=rv, **STREAM)
        try:
            added, bm = _initial(w)
            # NotOlderThan an old RV: the state now (both objects), not the history after that RV.
            assert sorted(e["object"]["metadata"]["name"] for e in added) == ["a", "b", "kube-root-ca.crt"], rv
            assert bm["object"]["metadata"]["annotations"] == {INITIAL_END: "true"}
        finally:
            w.close()


def test_label_selector_filters_initial_events(wl):
    rest = wl.rest
    ns = _ns(rest, "wl-sel")
    _cm(rest, ns, "blue-1", {"color": "blue"})
    _cm(rest, ns, "red-1", {"color": "red"})
    _cm(rest, ns, "blue-2", {"color": "blue"})
    w = rest.watch(f"/api/v1/namespaces/{ns}/configmaps", labelSelector="color=blue", **STREAM)
    try:
        added, bm = _initial(w)
        assert sorted(e["object"]["metadata"]["name"] for e in added) == ["blue-1", "blue-2"]
        _cm(rest, ns, "red-2", {"color": "red"})
        _cm(rest, ns, "blue-3", {"color": "blue"})
        ev = w.next()
        assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "blue-3")
    finally:
        w.close()


def test_pods_across_namespaces(wl):
    """A cluster-scoped streaming list of pods (the operator's informer): the end bookmark has the pod bookmark's
    shape plus the annotation."""
    rest = wl.rest
    ns = _ns(rest, "wl-pods")
    for n in ("p1", "p2"):
        rest.ok(rest.post(f"/api/v1/namespaces/{ns}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": n},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    w = rest.watch("/api/v1/pods", **STREAM)
    try:
        added, bm = _initial(w)
        assert {"p1", "p2"} <= {e["object"]["metadata"]["name"] for e in added if
                               e["object"]["metadata"]["namespace"] == ns}
        assert bm["object"]["kind"] == "Pod"
        assert bm["object"]["metadata"]["annotations"] == {INITIAL_END: "true"}
    finally:
        w.close()


def test_validation_still_422(wl):
    r = wl.rest.request("GET", "/api/v1/configmaps?watch=1&sendInitialEvents=true")
    assert r.status == 422
    assert "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan" in r.body["message"]


def test_without_the_switch_one_error_500(rest, sim_ns):
    """The default simulator (session fixture, no --watch-list): the captured server's answer, unchanged."""
    w = rest.watch(f"/api/v1/namespaces/{sim_ns}/configmaps", **STREAM)
    try:
        assert w.status == 200
        ev = w.next()
        assert ev["type"] == "ERROR" and ev["object"]["code"] == 500
        assert "RequestWatchProgress is disabled" in ev["object"]["message"]
        assert w.next() is None
    finally:
        w.close()


def test_cluster_wide_watch_without_rv_starts_with_every_object(wl):
    """A plain watch of pods in all namespaces with no RV: synthetic ADDED events for the existing pods (it once sent
    none: the empty namespace of an all-namespaces request was read as the namespace "")."""
    rest = wl.rest
    ns = _ns(rest, "wl-plain")
    rest.ok(rest.post(f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    w = rest.watch("/api/v1/pods", timeoutSeconds="5")
    try:
        ev = w.until(lambda e: e["object"]["metadata"].get("namespace") == ns)
        assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "p")
    finally:
        w.close()
