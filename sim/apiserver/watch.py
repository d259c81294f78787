"""Watch streaming (`?watch=true` and `/api/v1/watch/...`).

Wire contract (as the real server): HTTP 200, Content-Type application/json, chunked, each event its own
chunk of `{"type":...,"object":...}` + "\\n"; at timeoutSeconds the stream ends with the zero chunk and no final
event. A resourceVersion older than the resource's history window yields one ERROR event (410 Expired,
"too old resource version: X (Y)") and the end of the stream. Bookmarks only with allowWatchBookmarks=true,
every `bookmark_interval` seconds and about 2 s before the deadline. Table watches send columnDefinitions
in the first event only.

A resourceVersion beyond the store's revision (a client resuming after the server was restarted on a restored
etcd, /admin/etcd/restore) is accepted: 200, and nothing until the revision passes it; bookmarks are not sent
while their RV would be lower than the watch's. The real watch cache does the same: Cacher.Watch waits for
freshness (waitUntilWatchCacheFreshAndForceAllEvents) only for sendInitialEvents watch-lists, so a plain watch
from a future RV is registered at once, getAllEventsSinceLocked has no event newer than it, and
cacheWatcher.process sends only events (bookmarks included) whose RV is above the watch's. The observation in
issue 14 (kube-apiserver 1.32 on a restored etcd: 200, an empty stream, each watch ending quietly at its
timeout) agrees. A watch cut by a restart (Watcher.abort) ends without the zero chunk, as a dropped connection."""
import asyncio
import random
import time

from aiohttp import web

from . import codec, table
from .query import query_bool
from .store import Event, Watcher


INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _bookmark(rt, rv, initial_events_end=False):
    o = {"kind": rt.kind, "apiVersion": rt.api_version,
         "metadata": {"resourceVersion": str(rv), "creationTimestamp": None}}
    if rt.is_cr:
        o["metadata"] = {"resourceVersion": str(rv)}
    if rt.key == "/pods":
        o["spec"] = {"containers": None}
        o["status"] = {}
    if initial_events_end:
        o["metadata"]["annotations"] = {INITIAL_EVENTS_END: "true"}
    return o


def make_filter(match):
    """Map a store event to the (type, obj) a selector-filtered watch sees, or None."""
    def filt(ev):
        cur = match(ev.obj)
        prev = ev.prev is not None and match(ev.prev)
        if ev.type == "ADDED":
            return ("ADDED", ev.obj) if cur else None
        if ev.type == "DELETED":
            return ("DELETED", ev.obj) if prev else None
        if cur and prev:
            return ("MODIFIED", ev.obj)
        if cur:
            return ("ADDED", ev.obj)
        if prev:
            return ("DELETED", ev.obj)
        return None
    return filt


async def serve(request, srv, rt, ns, match, q, out_type, send_initial=False):
    """Serve one watch. `send_initial`: a streaming list (see the module doc); the caller has validated it and
    waited for the store to reach a future RV."""
    store = srv.store
    rv_s = q.get("resourceVersion", "")
    timeout = q.get("timeoutSeconds")
    timeout = float(timeout) if timeout not in (None, "") else 1800 * (1 + random.random())
    bookmarks = query_bool(q, "allowWatchBookmarks")
    include = q.get("includeObject") or "Metadata"
    tv = "meta.k8s.io/v1beta1" if out_type == "table-v1beta1" else "meta.k8s.io/v1"
    base_filt = make_filter(match)

    def filt(ev):
        if rt.from_storage:
            ev = Event(ev.rv, ev.type, rt.out(ev.obj), rt.out(ev.prev))
        return base_filt(ev)
    min_rv = int(rv_s) if rv_s not in ("", "0") else 0
    if send_initial:
        min_rv = store.rv  # the snapshot's RV: the watch goes on from it, nothing doubled or lost
    watcher = Watcher(rt.key, ns if rt.namespaced else None,
                      lambda ev: None if ev.rv <= min_rv else filt(ev))
    initial, error = [], None
    if rv_s in ("", "0") or send_initial:
        # All namespaces: ns is "" (a cluster-wide watch of a namespaced resource), which store.items reads as
        # the namespace "".
        for o in store.items(rt.key, (ns or None) if rt.namespaced else None):
            o = rt.out(o)
            if match(o):
                initial.append(("ADDED", o))
        if send_initial and bookmarks:
            initial.append(("BOOKMARK", _bookmark(rt, min_rv, initial_events_end=True)))
    else:
        rv = int(rv_s)
        start = store.window_start.get(rt.key, 0)
        if rv < start:
            oldest = start + 1
            error = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": f"too old resource version: {rv} ({oldest})", "reason": "Expired", "code": 410}
        else:
            for ev in store.events_since(rt.key, rv):
                if rt.namespaced and ns and (ev.obj["metadata"].get("namespace") or "") != ns:
                    continue
                out = filt(ev)
                if out:
                    initial.append(out)
    if error is None:
        store.add_watcher(watcher)
    srv.open_watches.add(watcher)
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                   "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    first_table = [True]

    def encode(type_, obj):
        if type_ in ("ERROR", "BOOKMARK"):
            body = obj
        elif out_type.startswith("table"):
            body = table.table(rt, [codec.render(rt, obj)], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                               include, tv, with_columns=first_table[0])
            first_table[0] = False
        else:
            body = codec.render(rt, obj)
        return (codec.dumps({"type": type_, "object": body}) + "\n").encode()

    try:
        await resp.prepare(request)
        if error is not None:
            await resp.write(encode("ERROR", error))
            await resp.write_eof()
            return resp
        for type_, obj in initial:
            await resp.write(encode(type_, obj))
        deadline = time.monotonic() + timeout
        pre_deadline_bm = bookmarks and timeout > 2.5
        next_bm = time.monotonic() + srv.cfg.bookmark_interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            wake = deadline
            if bookmarks:
                wake = min(wake, next_bm)
                if pre_deadline_bm:
                    wake = min(wake, deadline - 2)
            try:
                item = await asyncio.wait_for(watcher.queue.get(), timeout=max(0.0, wake - now))
            except asyncio.TimeoutError:
                now = time.monotonic()
                if bookmarks and (now >= next_bm or (pre_deadline_bm and now >= deadline - 2)):
                    if pre_deadline_bm and now >= deadline - 2:
                        pre_deadline_bm = False
                    next_bm = now + srv.cfg.bookmark_interval
                    # A bookmark below the watch's RV is never sent (future-RV watch, see above). One equal to it
                    # is sent, unlike the real cache; its bookmarks follow etcd's revision, which other writers
                    # (leases, events) keep moving in a real cluster, and an idle simulator has no such writers.
                    if store.rv >= min_rv:
                        await resp.write(encode("BOOKMARK", _bookmark(rt, store.rv)))
                continue
            if item is None:
                break
            await resp.write(encode(*item))
        if watcher.aborted:
            if request.transport is not None:
                request.transport.abort()  # a restart: the connection drops, no zero chunk
            return resp
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError, RuntimeError):
        pass
    finally:
        store.remove_watcher(watcher)
        srv.open_watches.discard(watcher)
    return resp
