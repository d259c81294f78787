"""The generic object store: one global resourceVersion, per-resource event history, watchers.

Contracts:
* Every committed write increments the global resourceVersion by one; the stored object carries it.
* Stored objects are never mutated in place: a write stores a new dict, so snapshots can share them.
* Each resource keeps a bounded history of (rv, type, object, previous object). A watch or an exact
  list may start from any RV >= `window_start[resource]`; older ones are "too old" (410 Expired).
* `compact()` drops all history: every RV before the current one becomes too old.
* `snapshot()` / `restore()` model an etcd snapshot and a kube-apiserver restarted on the restored etcd
  (`etcdctl snapshot save` / `etcdutl snapshot restore`): objects and the revision counter go back to the
  snapshot, the watch history is emptied (the restarted server's watch cache starts from its list), and every open
  watch is dropped as a server restart drops its connections (no clean end of stream).
* Listeners (controllers) are called synchronously after each commit and must not write from the callback.
"""
import asyncio
import collections
import copy
import datetime
import uuid


def _order(k):
    """Sort key of (namespace, name): the etcd key order `namespace/name` (just `name` when cluster-scoped)."""
    return f"{k[0]}/{k[1]}" if k[0] else k[1]


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Event:
    __slots__ = ("rv", "type", "obj", "prev")

    def __init__(self, rv, type_, obj, prev):
        self.rv, self.type, self.obj, self.prev = rv, type_, obj, prev


class Watcher:
    """A queue of events for one open watch; `filter(event)` returns the event to send or None."""

    def __init__(self, rtkey, ns, filt):
        self.rtkey, self.ns, self.filter = rtkey, ns, filt
        self.queue = asyncio.Queue()
        self.closed = False
        self.aborted = False

    def abort(self):
        """The server went away (restart): the stream is cut, not ended cleanly."""
        self.aborted = True
        self.close()

    def offer(self, ev):
        if self.ns and (ev.obj.get("metadata", {}).get("namespace") or "") != self.ns:
            return
        out = self.filter(ev)
        if out is not None:
            self.queue.put_nowait(out)

    def close(self):
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class Store:
    def __init__(self, history_size=1000):
        self.rv = 1
        self.history_size = history_size
        self.objects = {}        # rtkey -> {(ns, name): obj}
        self.history = {}        # rtkey -> deque[Event]
        self.window_start = {}   # rtkey -> oldest RV a watch may start from
        self.compact_rv = 0      # lists needing an exact older RV than this get 410
        self.watchers = {}       # rtkey -> set[Watcher]
        self.uids = {}           # uid -> (rtkey, ns, name)
        self.listeners = []
        self.etcd_snapshot = None  # (rv, {rtkey: {(ns, name): obj}}) taken by snapshot()

    # ---- resource lifecycle -------------------------------------------------------------
    def ensure(self, rtkey):
        if rtkey not in self.objects:
            self.objects[rtkey] = {}
            self.history[rtkey] = collections.deque()
            self.window_start[rtkey] = self.rv
            self.watchers[rtkey] = set()

    def drop(self, rtkey):
        """Forget a resource (CRD deleted): close its watches."""
        for w in list(self.watchers.get(rtkey, ())):
            w.close()
        for (ns, name), o in self.objects.get(rtkey, {}).items():
            self.uids.pop(o["metadata"].get("uid"), None)
        for d in (self.objects, self.history, self.window_start, self.watchers):
            d.pop(rtkey, None)

    # ---- reads ---------------------------------------------------------------------------
    def get(self, rtkey, ns, name):
        o = self.objects.get(rtkey, {}).get((ns or "", name))
        return copy.deepcopy(o) if o is not None else None

    def items(self, rtkey, ns=None):
        """Current objects (shared, do not mutate) in etcd key order (`namespace/name`)."""
        objs = self.objects.get(rtkey, {})
        keys = sorted((k for k in objs if ns is None or k[0] == ns), key=_order)
        return [objs[k] for k in keys]

    def by_uid(self, uid):
        return self.uids.get(uid)

    def state_at(self, rtkey, rv):
        """Objects of a resource as they were at `rv` (sorted), or None when history no longer covers it."""
        if rv < self.compact_rv or rv < self.window_start.get(rtkey, 0):
            return None
        cur = dict(self.objects.get(rtkey, {}))
        for ev in reversed(self.history.get(rtkey, ())):
            if ev.rv <= rv:
                break
            md = ev.obj["metadata"]
            k = (md.get("namespace") or "", md["name"])
            if ev.type == "ADDED":
                cur.pop(k, None)
            else:
                cur[k] = ev.prev
        return [cur[k] for k in sorted(cur, key=_order)]

    # ---- writes --------------------------------------------------------------------------
    def _commit(self, rtkey, type_, obj, prev):
        ev = Event(self.rv, type_, obj, prev)
        hist = self.history[rtkey]
        hist.append(ev)
        while len(hist) > self.history_size:
            old = hist.popleft()
            self.window_start[rtkey] = old.rv
        for w in list(self.watchers[rtkey]):
            w.offer(ev)
        for cb in self.listeners:
            cb(rtkey, ev)

    def next_rv(self):
        self.rv += 1
        return self.rv

    def create(self, rtkey, obj):
        """Store a new object (metadata.name/namespace set by the caller); returns the stored copy."""
        self.ensure(rtkey)
        md = obj["metadata"]
        md.setdefault("uid", str(uuid.uuid4()))
        md["resourceVersion"] = str(self.next_rv())
        k = (md.get("namespace") or "", md["name"])
        self.objects[rtkey][k] = obj
        self.uids[md["uid"]] = (rtkey, k[0], k[1])
        self._commit(rtkey, "ADDED", obj, None)
        return copy.deepcopy(obj)

    def update(self, rtkey, obj):
        md = obj["metadata"]
        k = (md.get("namespace") or "", md["name"])
        prev = self.objects[rtkey][k]
        md["resourceVersion"] = str(self.next_rv())
        self.objects[rtkey][k] = obj
        self._commit(rtkey, "MODIFIED", obj, prev)
        return copy.deepcopy(obj)

    def remove(self, rtkey, ns, name):
        """Delete; the DELETED event carries the last stored state with the deletion RV."""
        k = (ns or "", name)
        prev = self.objects[rtkey].pop(k)
        obj = copy.deepcopy(prev)
        obj["metadata"]["resourceVersion"] = str(self.next_rv())
        self.uids.pop(obj["metadata"].get("uid"), None)
        self._commit(rtkey, "DELETED", obj, prev)
        return copy.deepcopy(obj)

    # ---- watches -------------------------------------------------------------------------
    def add_watcher(self, w):
        self.ensure(w.rtkey)
        self.watchers[w.rtkey].add(w)

    def remove_watcher(self, w):
        self.watchers.get(w.rtkey, set()).discard(w)

    def events_since(self, rtkey, rv):
        return [ev for ev in self.history.get(rtkey, ()) if ev.rv > rv]

    def close_all_watches(self):
        n = 0
        for ws in self.watchers.values():
            for w in list(ws):
                w.close()
                n += 1
        return n

    def compact(self):
        self.compact_rv = self.rv
        for k in self.history:
            self.history[k].clear()
            self.window_start[k] = self.rv
        return self.rv

    # ---- etcd snapshot / restore ----------------------------------------------------------
    def snapshot(self):
        """Remember every object and the revision (stored objects are never mutated in place: shared)."""
        self.etcd_snapshot = (self.rv, {k: dict(v) for k, v in self.objects.items()})
        return self.rv

    def restore(self):
        """Go back to the snapshot as a server restarted on the restored etcd: returns (rv, watches dropped), or
        None without a snapshot. Resources registered since (a CRD created later) stay known, empty. The listeners
        are not told: a restored etcd has no events for what changed; the controllers' periodic passes see the
        restored state as the real controllers' relists do."""
        if self.etcd_snapshot is None:
            return None
        rv, objects = self.etcd_snapshot
        dropped = 0
        for ws in self.watchers.values():
            for w in list(ws):
                w.abort()
                dropped += 1
        self.rv = rv
        self.objects = {k: dict(objects.get(k, {})) for k in self.objects}
        for k, v in objects.items():
            self.objects.setdefault(k, dict(v))
        self.uids = {o["metadata"]["uid"]: (k, ns, name)
                     for k, objs in self.objects.items() for (ns, name), o in objs.items()
                     if o["metadata"].get("uid")}
        # The restarted server's watch cache starts at its list's revision: any older RV is too old.
        self.compact_rv = rv
        for k in self.objects:
            self.history.setdefault(k, collections.deque()).clear()
            self.watchers.setdefault(k, set())
            self.window_start[k] = rv
        return rv, dropped
