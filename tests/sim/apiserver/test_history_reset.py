"""An API server restarted on a restored etcd (/admin/etcd/snapshot, /admin/etcd/restore): objects and revision go
back, open watches are dropped, the watch history starts over; a client still holding a resourceVersion from the
lost future gets what kube-apiserver 1.32 answered in issue 14: a watch 200 and silent (no bookmarks either, as
the watch cache's cacheWatcher.process sends nothing at or below the watch's RV), a list at that revision or with a
continue token from before 500 `etcdserver: mvcc: required revision is a future revision` (etcd's error, passed
through by storage.InterpretListError, made a reasonless 500 by ErrorToAPIStatus), and a limit=1 consistent list
the restored revision."""
import http.client
import time

import pytest

from simlib import poll

FUTURE = "etcdserver: mvcc: required revision is a future revision"


def cm(name, v="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": v}}


@pytest.fixture
def restored(start_sim):
    """A server with a snapshot at rv S, then writes up to rv W (> S), then restored to S."""
    s = start_sim("--bookmark-interval", "1")
    rest = s.rest
    rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": "h"}}))
    # The controllers give every namespace kube-root-ca.crt and the default ServiceAccount: let them be in the
    # snapshot, or they would be created again after the restore and move the revision past S.
    for path in ("configmaps/kube-root-ca.crt", "serviceaccounts/default"):
        poll(lambda: rest.get(f"/api/v1/namespaces/h/{path}").status == 200, 5, path)
    base = "/api/v1/namespaces/h/configmaps"
    rest.ok(rest.post(base, cm("kept")))
    snap = s.admin("POST", "etcd/snapshot")
    assert snap.status == 200, snap
    S = int(snap.body["resourceVersion"])
    rest.ok(rest.post(base, cm("lost")))
    rest.ok(rest.put(base + "/kept", cm("kept", "2")))
    for i in range(3):
        rest.ok(rest.post(base, cm(f"extra{i}")))
    page = rest.ok(rest.get(base, limit="1"))  # a continue token from the lost future
    W = int(page["metadata"]["resourceVersion"])
    assert W > S
    # A watch open across the restore, read raw: a restart cuts it (no terminating zero chunk).
    c = rest.conn(timeout=30)
    c.request("GET", base + f"?watch=true&resourceVersion={W}&timeoutSeconds=60", headers=rest.headers)
    open_watch = c.getresponse()
    assert open_watch.status == 200
    poll(lambda: s.admin("GET", "state").body["openWatches"] >= 1, 5, "the watch to be open")
    r = s.admin("POST", "etcd/restore")
    assert r.status == 200, r
    return {"sim": s, "rest": rest, "base": base, "S": S, "W": W, "continue": page["metadata"]["continue"],
            "restore": r.body, "open_watch": open_watch}


def test_restore_without_a_snapshot_is_refused(start_sim):
    s = start_sim()
    r = s.admin("POST", "etcd/restore")
    assert r.status == 409 and "snapshot" in r.body["message"]


def test_restore_brings_objects_and_revision_back_and_cuts_open_watches(restored):
    rest, base, S = restored["rest"], restored["base"], restored["S"]
    assert restored["restore"] == {"resourceVersion": str(S), "droppedWatches": 1}
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        restored["open_watch"].read()  # cut, as a restart cuts it: not a clean end of stream
    lst = rest.ok(rest.get(base))
    assert lst["metadata"]["resourceVersion"] == str(S)
    mine = {i["metadata"]["name"]: i["data"].get("v") for i in lst["items"]
            if i["metadata"]["name"] != "kube-root-ca.crt"}  # the real server's per-namespace CA ConfigMap
    assert mine == {"kept": "1"}
    assert rest.get(base + "/lost").status == 404
    again = rest.ok(rest.post(base, cm("lost")))  # the name is free again; the revision continues from S
    assert int(again["metadata"]["resourceVersion"]) == S + 1


def test_watch_beyond_the_revision_is_200_and_silent_until_the_revision_passes_it(restored):
    rest, base, S, W = restored["rest"], restored["base"], restored["S"], restored["W"]
    w = rest.watch(base, resourceVersion=str(W), allowWatchBookmarks="true", timeoutSeconds="4")
    assert w.status == 200
    t0 = time.monotonic()
    rest.ok(rest.post(base, cm("after")))  # rv S+1, below W: not for this watch
    assert w.next(8) is None, "no event and no bookmark below the watch's resourceVersion"
    assert 3.5 < time.monotonic() - t0 < 7
    # The same watch from the restored revision gets its bookmarks (bookmark interval 1 s).
    current = rest.ok(rest.get(base))["metadata"]["resourceVersion"]
    w = rest.watch(base, resourceVersion=current, allowWatchBookmarks="true", timeoutSeconds="4")
    assert w.next(5)["type"] == "BOOKMARK"
    w.close()
    # Once the revision passes W, the future watch sees the events beyond it, and only those.
    w = rest.watch(base, resourceVersion=str(W), allowWatchBookmarks="true", timeoutSeconds="30")
    i = 0
    while int(rest.ok(rest.get(base))["metadata"]["resourceVersion"]) <= W:
        rest.ok(rest.put(base + "/kept", cm("kept", f"n{i}")))
        i += 1
    ev = w.next(5)
    assert int(ev["object"]["metadata"]["resourceVersion"]) > W
    w.close()


def test_lists_beyond_the_revision_answer_as_etcd_does(restored):
    rest, base, S, W = restored["rest"], restored["base"], restored["S"], restored["W"]
    # The probe: a limit=1 consistent read tells the current (restored) revision.
    probe = rest.ok(rest.get(base, limit="1"))
    assert probe["metadata"]["resourceVersion"] == str(S)
    for q in ({"resourceVersion": str(W), "limit": "1"},
              {"resourceVersion": str(W), "resourceVersionMatch": "Exact"},
              {"continue": restored["continue"], "limit": "1"}):
        r = rest.get(base, **q)
        assert r.status == 500, (q, r)
        assert r.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": FUTURE, "code": 500}, q
    # NotOlderThan with a limit: read at the current revision, then refused at once.
    t0 = time.monotonic()
    r = rest.get(base, resourceVersion=str(W), resourceVersionMatch="NotOlderThan", limit="1")
    assert r.status == 504 and r.body["reason"] == "Timeout", r
    assert r.body["message"] == f"Timeout: Too large resource version: {W}, current: {S}"
    assert r.body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert time.monotonic() - t0 < 2


def test_watch_from_before_the_restored_revision_is_too_old(restored):
    rest, base, S = restored["rest"], restored["base"], restored["S"]
    w = rest.watch(base, resourceVersion=str(S - 1))
    ev = w.next()
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410
