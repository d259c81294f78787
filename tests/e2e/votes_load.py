"""A vote load generator and the tally of what was acknowledged against what was saved, shared by the zero-votes-lost
suite (test_zero_votes_lost.py) and the demo (scripts/demo.py).

Contract of `VoteLoad`:
* It learns the pods to send to from the API server (a list every `refresh` seconds): a pod is a target when it
  has a podIP, no deletionTimestamp, the label `medivote.io/serving=true` and condition Ready=True. There is no
  kube-proxy, so votes go straight to `http://<podIP>:<port>/votes`, spread round-robin over the targets.
* Votes are paced at `rate` per second in total over `threads` sender threads, each vote with a unique id.
* A vote is acknowledged only by a 2xx answer, and only then is its id recorded in `acknowledged`. Any other answer
  (a 503 of a draining pod, a refused or reset connection, a timeout) sends the same vote to another target after a
  short pause; a vote never acknowledged is simply not counted (it may or may not have been stored).
* `stop()` ends the senders and the pod watcher and returns once their threads are gone.

`tally(acknowledged, saved)` compares the acknowledged ids with the union of the saved states.
"""
import http.client
import itertools
import json
import os
import threading
import time

SERVING_LABEL = "medivote.io/serving"
SERVICE_LABEL = "medivote.io/service"


def serving_ips(pods):
    """The podIPs of the pods that are Ready, serving and not being deleted."""
    ips = []
    for p in pods:
        meta, status = p.get("metadata", {}), p.get("status", {})
        if meta.get("deletionTimestamp") or (meta.get("labels") or {}).get(SERVING_LABEL) != "true":
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
        if ready and status.get("podIP"):
            ips.append(status["podIP"])
    return sorted(ips)


class VoteLoad:
    def __init__(self, rest, ns, service, rate=300, threads=2, port=8080, refresh=0.1, prefix=None,
                 request_timeout=2.0):
        self.rest, self.ns, self.service = rest, ns, service
        self.rate, self.nthreads, self.port, self.refresh = rate, threads, port, refresh
        self.prefix = prefix or f"{service}-{os.getpid()}-{int(time.time() * 1000) % 100000000}"
        self.request_timeout = request_timeout
        self.acknowledged = set()
        self.acked_by = {}  # pod IP -> number of votes it acknowledged
        self.sent = 0  # requests sent, retries included
        self.retries = 0  # answers other than 2xx (503, refused, reset, timeout)
        self.abandoned = 0  # votes still unacknowledged when stopped
        self.targets = []
        self.errors = []  # first few API errors of the pod watcher
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._targets_seen = threading.Event()
        self._threads = []

    # -- life cycle ------------------------------------------------------------------------------------------------
    def start(self, wait_targets=10.0):
        """Starts the watcher and the senders; returns once at least one target is known (or raises)."""
        self._threads = [threading.Thread(target=self._watch_pods, name="votes-pods", daemon=True)]
        self._threads += [threading.Thread(target=self._send_loop, args=(i,), name=f"votes-{i}", daemon=True)
                          for i in range(self.nthreads)]
        for t in self._threads:
            t.start()
        if not self._targets_seen.wait(wait_targets):
            self.stop()
            raise AssertionError(f"no serving pod of {self.ns}/{self.service} within {wait_targets}s: {self.errors}")
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"load threads did not stop: {alive}"
        return self

    def acked_count(self):
        with self._lock:
            return len(self.acknowledged)

    def wait_acked(self, more, timeout=20.0):
        """Waits until `more` further votes were acknowledged (relative to the call)."""
        goal = self.acked_count() + more
        deadline = time.monotonic() + timeout
        while self.acked_count() < goal:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.acked_count()} of {goal} votes acknowledged in {timeout}s")
            time.sleep(0.02)

    # -- pods ------------------------------------------------------------------------------------------------------
    def _watch_pods(self):
        path = f"/api/v1/namespaces/{self.ns}/pods"
        while not self._stop.is_set():
            try:
                r = self.rest.request("GET", path, query={"labelSelector": f"{SERVICE_LABEL}={self.service}"},
                                      timeout=5)
                if r.status == 200:
                    ips = serving_ips(r.body.get("items", []))
                    with self._lock:
                        self.targets = ips
                    if ips:
                        self._targets_seen.set()
                elif len(self.errors) < 5:
                    self.errors.append(f"list pods: {r.status}")
            except (OSError, http.client.HTTPException) as e:
                if len(self.errors) < 5:
                    self.errors.append(f"list pods: {e}")
            self._stop.wait(self.refresh)

    # -- votes -----------------------------------------------------------------------------------------------------
    def _send_loop(self, index):
        conns = {}
        period = self.nthreads / float(self.rate)
        next_at = time.monotonic()
        rr = index
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if next_at > now:
                    self._stop.wait(next_at - now)
                    continue
                next_at = max(next_at + period, now - 1.0)  # catch up at most one second of lag
                vote_id = f"{self.prefix}-{next(self._ids)}"
                body = json.dumps({"id": vote_id, "choice": ("yes", "no")[hash(vote_id) & 1]})
                avoid = set()
                while not self._stop.is_set():
                    with self._lock:
                        targets = [ip for ip in self.targets if ip not in avoid] or list(self.targets)
                    if not targets:
                        self._stop.wait(0.05)
                        continue
                    rr += 1
                    ip = targets[rr % len(targets)]
                    if self._post(conns, ip, body):
                        with self._lock:
                            self.acknowledged.add(vote_id)
                            self.acked_by[ip] = self.acked_by.get(ip, 0) + 1
                        break
                    avoid.add(ip)
                    self._stop.wait(0.01)
                else:
                    with self._lock:
                        self.abandoned += 1
        finally:
            for c in conns.values():
                c.close()

    def _post(self, conns, ip, body):
        """True only on a 2xx answer; any failure closes the connection to that pod."""
        c = conns.get(ip)
        if c is None:
            c = conns[ip] = http.client.HTTPConnection(ip, self.port, timeout=self.request_timeout)
        with self._lock:
            self.sent += 1
        try:
            c.request("POST", "/votes", body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if 200 <= r.status < 300:
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
                    del conns[ip]
                return True
        except (OSError, http.client.HTTPException):
            pass
        c.close()
        del conns[ip]
        with self._lock:
            self.retries += 1
        return False


# -- what was saved ------------------------------------------------------------------------------------------------
def saved_votes(path):
    """The vote ids of one votes.json (format medivote-vote-service/v1); empty when the file does not exist."""
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        doc = json.load(f)
    assert doc.get("format") == "medivote-vote-service/v1", path
    return set(doc.get("votes", {}))


def claims_votes(pvc_ns_dir, claim_prefix="data-"):
    """{claim name: set of saved vote ids} for every claim directory of a namespace (kubelet simulator layout)."""
    out = {}
    if os.path.isdir(pvc_ns_dir):
        for claim in sorted(os.listdir(pvc_ns_dir)):
            if claim.startswith(claim_prefix):
                out[claim] = saved_votes(os.path.join(pvc_ns_dir, claim, "votes.json"))
    return out


def live_votes(ip, port=8080, timeout=5.0):
    """The vote ids held in memory by a running vote service (GET /votes)."""
    c = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        c.request("GET", "/votes")
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, f"GET http://{ip}:{port}/votes: {r.status}"
        return set(json.loads(body)["ids"])
    finally:
        c.close()


class Tally:
    def __init__(self, acknowledged, saved):
        self.acknowledged = len(acknowledged)
        self.missing = set(acknowledged) - set(saved)
        self.lost = len(self.missing)
        self.persisted = self.acknowledged - self.lost

    def line(self):
        return f"votes: acknowledged={self.acknowledged} persisted={self.persisted} lost={self.lost}"


def tally(acknowledged, saved):
    """Tally of the acknowledged ids against `saved`, the union of the saved states."""
    return Tally(acknowledged, saved)
