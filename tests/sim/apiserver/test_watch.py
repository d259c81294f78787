"""Watch semantics: resume after compaction (ERROR 410 event, then relist), bookmarks, timeoutSeconds with the
zero chunk on the wire, legacy watch path, selector transitions, DELETED carrying the last state, Table
watches, close-all-watches."""
import json
import socket
import time

from simlib import poll


def cm(name, labels=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": {"k": "v"}}


def root_ca_published(rest, ns):
    """Wait for the root-ca-cert-publisher's kube-root-ca.crt, which every namespace gets (as on a real cluster)."""
    poll(lambda: rest.get(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt").status == 200, 5,
         "kube-root-ca.crt")


def test_watch_resumed_after_compaction_gets_410_then_relist_works(rest, sim, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/configmaps"
    root_ca_published(rest, sim_ns)
    rest.ok(rest.post(base, cm("a")))
    rv = rest.get(base).body["metadata"]["resourceVersion"]
    rest.ok(rest.post(base, cm("b")))
    # before compaction, resuming replays the missed event
    w = rest.watch(base, resourceVersion=rv)
    ev = w.next()
    assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "b"
    w.close()
    sim.admin("POST", "compact")
    w = rest.watch(base, resourceVersion=rv)
    assert w.status == 200
    ev = w.next()
    assert ev["type"] == "ERROR"
    st = ev["object"]
    assert st["kind"] == "Status" and st["code"] == 410 and st["reason"] == "Expired"
    assert st["message"].startswith(f"too old resource version: {rv} (")
    assert w.next() is None, "the stream must end after the ERROR event"
    # an exact / paged list at the old RV is a real HTTP 410
    r = rest.get(base, resourceVersion=rv, limit="1")
    assert r.status == 410 and r.body["message"] == "The resourceVersion for the provided list is too old."
    # relist, then watch from the list's RV
    lst = rest.get(base).body
    assert sorted(i["metadata"]["name"] for i in lst["items"]) == ["a", "b", "kube-root-ca.crt"]
    w = rest.watch(base, resourceVersion=lst["metadata"]["resourceVersion"])
    rest.ok(rest.post(base, cm("c")))
    ev = w.next()
    assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "c"
    w.close()


def test_history_overflow_expires_old_versions(start_sim):
    s = start_sim("--history", "5", "--bookmark-interval", "1")
    rest = s.rest
    rest.ok(rest.post("/api/v1/namespaces", {"metadata": {"name": "h"}}))
    base = "/api/v1/namespaces/h/configmaps"
    first = rest.post(base, cm("x0")).body["metadata"]["resourceVersion"]
    for i in range(1, 10):
        rest.ok(rest.post(base, cm(f"x{i}")))
    w = rest.watch(base, resourceVersion=first)
    ev = w.next()
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410
    w.close()


def test_bookmarks_only_when_asked_and_timeout_ends_stream(rest, sim, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/pods"
    w = rest.watch(base, allowWatchBookmarks="true", timeoutSeconds="3")
    t0 = time.monotonic()
    ev = w.next(5)
    assert ev["type"] == "BOOKMARK"
    o = ev["object"]
    assert o["kind"] == "Pod" and o["apiVersion"] == "v1" and int(o["metadata"]["resourceVersion"]) > 0
    assert o["spec"] == {"containers": None}
    while w.next(5) is not None:
        pass
    assert 2.5 < time.monotonic() - t0 < 5.0
    w = rest.watch(base, timeoutSeconds="2")
    t0 = time.monotonic()
    assert w.next(5) is None, "no bookmark without allowWatchBookmarks"
    assert 1.5 < time.monotonic() - t0 < 4.0


def test_watch_wire_format_one_chunk_per_event_and_zero_chunk(rest, sim, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/configmaps"
    root_ca_published(rest, sim_ns)
    rest.ok(rest.post(base, cm("one")))
    rest.ok(rest.post(base, cm("two")))
    raw = socket.create_connection((rest.host, rest.port), timeout=10)
    s = rest.ctx.wrap_socket(raw, server_hostname=rest.host)
    s.sendall(f"GET {base}?watch=true&timeoutSeconds=1 HTTP/1.1\r\nHost: {rest.host}\r\n"
              f"Accept: application/json\r\n\r\n".encode())
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, body = data.split(b"\r\n\r\n", 1)
    assert b"HTTP/1.1 200" in head and b"Transfer-Encoding: chunked" in head
    assert b"Content-Type: application/json" in head
    chunks = []
    while body:
        size_line, rest_ = body.split(b"\r\n", 1)
        n = int(size_line, 16)
        chunks.append(rest_[:n])
        body = rest_[n + 2:]
        if n == 0:
            break
    assert chunks[-1] == b""
    events = [json.loads(c) for c in chunks[:-1]]
    assert all(c.endswith(b"\n") for c in chunks[:-1])
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "kube-root-ca.crt"), ("ADDED", "one"), ("ADDED", "two")]


def test_legacy_watch_path_and_selector_transitions(rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/configmaps"
    w = rest.watch(f"/api/v1/watch/namespaces/{sim_ns}/configmaps", labelSelector="tier=front")
    rest.ok(rest.post(base, cm("s1", {"tier": "back"})))
    rest.ok(rest.patch(base + "/s1", {"metadata": {"labels": {"tier": "front"}}}))
    ev = w.next()
    assert (ev["type"], ev["object"]["metadata"]["labels"]) == ("ADDED", {"tier": "front"})
    rest.ok(rest.patch(base + "/s1", {"data": {"k": "2"}}))
    assert w.next()["type"] == "MODIFIED"
    rest.ok(rest.patch(base + "/s1", {"metadata": {"labels": {"tier": "back"}}}))
    ev = w.next()
    assert ev["type"] == "DELETED" and ev["object"]["metadata"]["labels"] == {"tier": "back"}
    w.close()


def test_deleted_event_carries_last_state_with_deletion_rv(rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/configmaps"
    root_ca_published(rest, sim_ns)
    obj = rest.post(base, dict(cm("f"), metadata={"name": "f", "finalizers": ["x.io/keep"]})).body
    w = rest.watch(base, resourceVersion=obj["metadata"]["resourceVersion"])
    deleting = rest.delete(base + "/f").body
    assert deleting["metadata"]["deletionTimestamp"] and deleting["metadata"]["finalizers"] == ["x.io/keep"]
    ev = w.next()
    assert ev["type"] == "MODIFIED"
    final = rest.patch(base + "/f", [{"op": "remove", "path": "/metadata/finalizers"}], "json")
    assert final.status == 200 and "finalizers" not in final.body["metadata"]
    ev = w.next()
    assert ev["type"] == "DELETED"
    assert ev["object"]["metadata"]["finalizers"] == ["x.io/keep"]
    assert int(ev["object"]["metadata"]["resourceVersion"]) > int(deleting["metadata"]["resourceVersion"])
    assert rest.get(base + "/f").status == 404
    w.close()


def test_table_watch_has_column_definitions_only_first(rest, sim_ns):
    base = f"/api/v1/namespaces/{sim_ns}/pods"
    pod = {"metadata": {"name": "t1"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    rest.ok(rest.post(base, pod))
    from urllib.parse import urlencode
    c = rest.conn()
    c.request("GET", base + "?" + urlencode({"watch": "true", "timeoutSeconds": "2"}),
              headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    r = c.getresponse()
    rest.ok(rest.patch(base + "/t1", {"metadata": {"labels": {"x": "y"}}}))
    evs = [json.loads(line) for line in r.read().splitlines()]
    c.close()
    assert [e["type"] for e in evs] == ["ADDED", "MODIFIED"]
    assert evs[0]["object"]["kind"] == "Table"
    assert [d["name"] for d in evs[0]["object"]["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts",
                                                                             "Age"]
    assert evs[1]["object"]["columnDefinitions"] is None
    assert evs[1]["object"]["rows"][0]["cells"][0] == "t1"


def test_admin_close_watches_ends_streams(rest, sim, sim_ns):
    root_ca_published(rest, sim_ns)
    w = rest.watch(f"/api/v1/namespaces/{sim_ns}/configmaps")
    assert w.next()["object"]["metadata"]["name"] == "kube-root-ca.crt"   # the synthetic ADDED of the list
    poll(lambda: sim.admin("GET", "state").body["openWatches"] >= 1, 5, "watch registered")
    n = sim.admin("POST", "close-watches").body["closed"]
    assert n >= 1
    assert w.next(5) is None
