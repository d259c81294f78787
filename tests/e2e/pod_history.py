"""What happened to every pod of a namespace, as the API server told it: a watch recorder for the timing suites
(test_shutdown_timing.py, test_zero_votes_lost.py) and the scale-to-zero benchmark.

Contract of `PodHistory(rest, ns)` (a context manager; `start()`/`stop()` otherwise):
* It lists then watches the namespace's pods (e2elib.follow) in a thread, and keeps, per pod uid, every state seen:
  `Seen(t, type, restarts, stage, baseline, ready, deleting)` where `t` is the wall-clock time the event arrived,
  `restarts` the restartCount of the service container (`container`, default "app"), `stage` the annotation
  medivote.io/shutdown-stage, `baseline` medivote.io/shutdown-restart-baseline (the operator's count at its first
  call), `ready` the Ready condition and `deleting` whether a deletionTimestamp is set. A DELETED event is kept as
  the last state (type "DELETED").
* `restarts_after_shutdown_start()`: for every pod whose shutdown began (the first state with a shutdown-stage
  annotation), the states seen later whose restartCount is higher than at that moment, or higher than the
  operator's own baseline: a container restarted after its shutdown began. Empty when there is none.
* `seen(uid)`: the states seen of that pod, in order.
* `restarted(uid)`: the highest restartCount seen for that pod (0: never restarted).
* `seen_from(uid)`, `ready_at(uid)`, `gone_at(uid)`, `uids(name)`: when the pod was first seen / first seen Ready /
  DELETED (None: not yet), the uids of a name in the order first seen.
All times are time.time() at arrival: comparable with the vote service's events.log (unix ms).
"""
import collections
import threading
import time

from e2elib import follow

STAGE = "medivote.io/shutdown-stage"
BASELINE = "medivote.io/shutdown-restart-baseline"

Seen = collections.namedtuple("Seen", "t type restarts stage baseline ready deleting")


def service_restarts(pod, container):
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            return int(cs.get("restartCount") or 0)
    return 0


def is_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


class PodHistory:
    def __init__(self, rest, ns, container="app"):
        self.rest, self.ns, self.container = rest, ns, container
        self.states = collections.OrderedDict()  # uid -> [Seen]
        self.names = {}  # uid -> pod name
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._streams = []
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=follow, name=f"pods-{self.ns}", daemon=True,
                                        args=(self.rest, f"/api/v1/namespaces/{self.ns}/pods", self._handle,
                                              self._stop, self._streams))
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        for s in self._streams:
            s.close()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the pod watcher did not stop"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _handle(self, type_, pod):
        meta = pod.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        baseline = annotations.get(BASELINE)
        seen = Seen(time.time(), type_, service_restarts(pod, self.container), annotations.get(STAGE),
                    int(baseline) if baseline not in (None, "") else None, is_ready(pod),
                    bool(meta.get("deletionTimestamp")))
        with self._lock:
            self.states.setdefault(meta["uid"], []).append(seen)
            self.names[meta["uid"]] = meta["name"]

    # -- questions ---------------------------------------------------------------------------------------------------
    def seen(self, uid):
        with self._lock:
            return list(self.states.get(uid, []))

    def uids(self, name=None):
        with self._lock:
            return [u for u in self.states if name is None or self.names[u] == name]

    def name(self, uid):
        return self.names[uid]

    def seen_from(self, uid):
        return self.seen(uid)[0].t

    def ready_at(self, uid):
        return next((s.t for s in self.seen(uid) if s.ready), None)

    def gone_at(self, uid):
        return next((s.t for s in self.seen(uid) if s.type == "DELETED"), None)

    def restarted(self, uid):
        return max((s.restarts for s in self.seen(uid)), default=0)

    def shutdown_began(self, uid):
        return next((s for s in self.seen(uid) if s.stage), None)

    def restarts_after_shutdown_start(self):
        bad = []
        for uid in self.uids():
            states = self.seen(uid)
            begun = next((i for i, s in enumerate(states) if s.stage), None)
            if begun is None:
                continue
            at_start = states[begun].restarts
            for s in states[begun:]:
                if s.restarts > at_start or (s.baseline is not None and s.restarts > s.baseline):
                    bad.append((self.names[uid], uid, at_start, s))
        return bad
