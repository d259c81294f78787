"""The MediVote stack of deploy/samples/, run as shipped on a simulated cluster whose pods are isolated like real
pods: helpers of tests/e2e/test_presets_e2e.py and of the stack demo (scripts/demo_stack.py, `scripts/demo.sh --stack`).

* `isolation_unavailable()`: why per-pod network/mount namespaces cannot run here (None when they can).
* `write_stack_image_map(path, record_dir)`: deploy/samples/sim-images.yaml as an image map of its own: paths made
  absolute (the build's binaries taken from MEDIVOTE_BUILD_DIR), each stand-in told to record into `record_dir`, the
  next tag of an image shipped with one tag, and the incentive system as published (`PUBLISHED_BUG_IMAGE`).
* `StackCluster(d)`: e2elib's cluster with `--pod-isolation namespaces` and that map.
* `start_operator(cluster)`: the operator with the arguments deploy/08-deployment.yaml gives it.
* `ShutdownWatch(rest, ns)`: a watch that records, while a scenario runs, every pod's medivote.io/shutdown-*
  annotations and container ends, and every MediVoteService's status.shutdowns and Degraded conditions (the last
  state of an object can be gone by the time a test looks: a deleted pod, a deleted resource).
* `Records(record_dir)`: the stand-ins' JSONL records (workloads/standins/medivote_standin.py), per pod name.
* `Stack(cluster, ns)`: a namespace with presets applied unchanged, its watch, `records_of(pod life)`.
* `check_shutdown`, `check_history`, `check_saved_state`: one shutdown (its annotations and the stand-in's records),
  its entry in status.shutdowns, and the saved files, against the services' contracts
  (/work/shared/medivote-services.md); each returns the list of what is wrong.
* `shutdown_span`, `stop_order_spans`, `stop_order_wrong`: when each service's shutdown began and ended, and whether
  services going down together followed a stop order (issue 17).
"""
import copy
import functools
import glob
import hashlib
import ipaddress
import json
import os
import sys
import threading
import time

import yaml

from e2elib import BUILD, REPO, Cluster, Followers, Operator, local_args, poll

SAMPLES = os.path.join(REPO, "deploy", "samples")
SAMPLE_IMAGE_MAP = os.path.join(SAMPLES, "sim-images.yaml")
STANDIN = "medivote_standin.py"
PUBLISHED_BUG_IMAGE = "medivote/incentive-system:1.0.0-published-bug"
OPERATOR_NAMESPACE = "medivote-system"
SHUTDOWN_ANNOTATION = "medivote.io/shutdown-"


def sample_files():
    """Every manifest of deploy/samples/ (the image map is not one)."""
    return sorted(p for p in glob.glob(os.path.join(SAMPLES, "*.yaml")) if p != SAMPLE_IMAGE_MAP)


def sample_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def sample_mvs(name):
    """The MediVoteService of deploy/samples/<name>.yaml, as an object (for a test that changes one field)."""
    return copy.deepcopy(next(d for d in sample_docs(os.path.join(SAMPLES, f"{name}.yaml"))
                              if d["kind"] == "MediVoteService"))


@functools.lru_cache(maxsize=None)
def isolation_unavailable():
    """Why the kubelet simulator cannot give each pod its own network and mount namespaces here (its own probe:
    root, `ip netns`, mount namespaces, overlayfs), or None."""
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    from sim.kubelet.isolation import namespaces_unavailable
    return namespaces_unavailable()


def upgraded(image):
    """The image with its tag's last number one higher (1.0.0 -> 1.0.1): the scenario's rolling upgrade."""
    repo, tag = image.rsplit(":", 1)
    parts = tag.split(".")
    return f"{repo}:{'.'.join(parts[:-1] + [str(int(parts[-1]) + 1)])}"


def _absolute(word, build):
    """A word of the sample image map as the kubelet would resolve it next to deploy/samples/, with the project's
    build/ replaced by `build` (MEDIVOTE_BUILD_DIR)."""
    if not (word.startswith("./") or word.startswith("../")):
        return word
    path = os.path.normpath(os.path.join(SAMPLES, word))
    default_build = os.path.join(REPO, "build")
    if path == default_build or path.startswith(default_build + os.sep):
        path = os.path.join(build, os.path.relpath(path, default_build))
    return path


def write_stack_image_map(path, record_dir, build=BUILD):
    """deploy/samples/sim-images.yaml, each entry as shipped except: absolute paths; every stand-in records into
    `record_dir` (`--record-dir`, added to the entrypoint so that a pod's `args` cannot drop it); the next tag of an
    image shipped with one tag; and PUBLISHED_BUG_IMAGE: the incentive system as published (500 to every
    request)."""
    with open(SAMPLE_IMAGE_MAP) as f:
        images = (yaml.safe_load(f) or {}).get("images", {})
    out = {}
    for name, entry in images.items():
        e = dict(entry or {})
        e["entrypoint"] = [_absolute(w, build) for w in e.get("entrypoint") or []]
        e["cmd"] = [_absolute(w, build) for w in e.get("cmd") or []]
        if any(w.endswith(STANDIN) for w in e["entrypoint"] + e["cmd"]):
            e["entrypoint"] += ["--record-dir", str(record_dir)]
        out[name] = e
    # The rolling upgrade of the scenario bumps the tag (upgraded()); an image shipped with one tag only (the
    # reference services) gets its next tag as the same program.
    repos = [n.rsplit(":", 1)[0] for n in out]
    for name in list(out):
        if repos.count(name.rsplit(":", 1)[0]) == 1:
            out[upgraded(name)] = out[name]
    incentive = out.get("medivote/incentive-system:1.0.0")
    if incentive:
        out[PUBLISHED_BUG_IMAGE] = dict(incentive, cmd=incentive["cmd"] + ["--published-bug"])
    os.makedirs(record_dir, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        yaml.safe_dump({"images": out}, f)
    os.replace(path + ".tmp", path)
    return out


class StackCluster(Cluster):
    """e2elib's cluster whose kubelet isolates each pod (`--pod-isolation namespaces`) and runs the images of
    deploy/samples/sim-images.yaml, the stand-ins recording into `record_dir`."""

    def __init__(self, d, record_dir=None):
        self.record_dir = str(record_dir or os.path.join(str(d), "records"))
        super().__init__(d, "--pod-isolation", "namespaces",
                         write_images=lambda p: write_stack_image_map(p, self.record_dir))
        self.ensure_namespace(OPERATOR_NAMESPACE)


def start_operator(cluster):
    """medivote-controller as deploy/08-deployment.yaml starts it (its args, leader election in medivote-system,
    the agent image), with the simulator's kubeconfig; leading when this returns."""
    op = Operator(cluster, *local_args())
    op.wait_leading(timeout=40)
    return op


def parse_time(s):
    """Seconds since the epoch of an RFC 3339 time as the operator and the API server write them, or None."""
    import datetime
    if not s:
        return None
    try:
        return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class PodLife:
    """One pod (one uid) as the watch saw it: when it was first and last seen, the union of the shutdown
    annotations it carried (each key's last value), and how its containers ended."""

    def __init__(self, pod, seen_at):
        meta = pod["metadata"]
        self.name, self.uid, self.namespace = meta["name"], meta["uid"], meta["namespace"]
        self.service = (meta.get("labels") or {}).get("medivote.io/service", "")
        self.image = pod["spec"]["containers"][0]["image"]
        self.first_seen = self.last_seen = seen_at
        self.annotations = {}
        self.stages = []           # the medivote.io/shutdown-stage values, in the order they were seen
        self.terminated = {}       # container name -> the terminated state last reported
        self.restarts = 0          # the highest restartCount of its first (the service's) container
        self.ready_at = None
        self.deletion_at = None    # when the watch first saw a deletionTimestamp
        self.gone_at = None        # the DELETED event

    def update(self, pod, seen_at, deleted=False):
        self.last_seen = seen_at
        meta, status = pod["metadata"], pod.get("status") or {}
        for k, v in (meta.get("annotations") or {}).items():
            if k.startswith(SHUTDOWN_ANNOTATION):
                self.annotations[k] = v
        stage = (meta.get("annotations") or {}).get(SHUTDOWN_ANNOTATION + "stage")
        if stage and (not self.stages or self.stages[-1] != stage):
            self.stages.append(stage)
        if meta.get("deletionTimestamp") and self.deletion_at is None:
            self.deletion_at = seen_at
        if self.ready_at is None and any(c.get("type") == "Ready" and c.get("status") == "True"
                                         for c in status.get("conditions", [])):
            self.ready_at = seen_at
        for cs in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
            if cs["name"] == pod["spec"]["containers"][0]["name"]:
                self.restarts = max(self.restarts, cs.get("restartCount", 0))
            term = (cs.get("state") or {}).get("terminated")
            if term:
                self.terminated[cs["name"]] = term
        if deleted:
            self.gone_at = seen_at

    def annotation(self, key):
        return self.annotations.get(SHUTDOWN_ANNOTATION + key, "")

    def at(self, key):
        """The time of a stage annotation (started, requested, accepted, terminating, forced), or None."""
        return parse_time(self.annotation(key + "-at"))

    def __repr__(self):
        return (f"<pod {self.name} uid={self.uid[:8]} restarts={self.restarts} stages={self.stages} "
                f"annotations={ {k[len(SHUTDOWN_ANNOTATION):]: v for k, v in self.annotations.items()} } "
                f"terminated={ {k: (v.get('exitCode'), v.get('signal')) for k, v in self.terminated.items()} }>")


class ShutdownWatch:
    """Watches the pods and the MediVoteServices of one namespace from a thread and keeps what a shutdown leaves:
    `pods[uid]` (PodLife) and, per MediVoteService, every status.shutdowns entry ever shown (keyed by pod and start
    time, last version kept) and every Degraded condition. A broken watch is listed again (nothing is missed: the
    pods' annotations only grow during a shutdown, and a relist sees the current state)."""

    def __init__(self, rest, ns):
        self.rest, self.ns = rest, ns
        self.lock = threading.Lock()
        self.pods = {}
        self.history = {}       # mvs name -> {(pod, first stage time): entry}
        self.degraded = {}      # mvs name -> [Degraded condition, each distinct one once]
        self.followers = Followers(rest, {f"/api/v1/namespaces/{ns}/pods": self._pod,
                                          f"/apis/medivote.io/v1alpha1/namespaces/{ns}/medivoteservices": self._mvs})

    def start(self):
        self.followers.start()
        return self

    def stop(self):
        self.followers.stop()

    def _pod(self, type_, pod):
        now = time.time()
        with self.lock:
            life = self.pods.get(pod["metadata"]["uid"])
            if life is None:
                life = self.pods[pod["metadata"]["uid"]] = PodLife(pod, now)
            life.update(pod, now, deleted=type_ == "DELETED")

    def _mvs(self, type_, obj):
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        with self.lock:
            hist = self.history.setdefault(name, {})
            for h in status.get("shutdowns") or []:
                stages = h.get("stages") or []
                key = (h.get("pod"), stages[0].get("time") if stages else None)
                old = hist.get(key)
                if old is None or (h.get("outcome") or not old.get("outcome")):
                    hist[key] = h
            for c in status.get("conditions") or []:
                if c.get("type") == "Degraded" and c.get("status") == "True":
                    seen = self.degraded.setdefault(name, [])
                    if not any(s.get("reason") == c.get("reason") and s.get("message") == c.get("message")
                               for s in seen):
                        seen.append(dict(c))

    # -- queries -------------------------------------------------------------------------------------------------
    def lives(self, service=None, name=None):
        """PodLife of every pod seen (of one MediVoteService, or with one name), oldest first."""
        with self.lock:
            out = [p for p in self.pods.values() if (service is None or p.service == service)
                   and (name is None or p.name == name)]
        return sorted(out, key=lambda p: p.first_seen)

    def history_entry(self, service, life):
        """The status.shutdowns entry of this pod's shutdown: same pod name, first stage at the time of its first
        stage annotation (started-at; terminating-at for a simple pod), within a second and a half. None when the
        history never showed it."""
        times = [t for t in (life.at(k) for k in ("started", "requested", "accepted", "terminating", "forced")) if t]
        # A pod the operator never annotated (deleted by someone else, gone at once): from when it was deleted.
        started = min(times) if times else life.deletion_at
        entries = self.history_entries(service)
        best = None
        for h in entries:
            stages = h.get("stages") or []
            if h.get("pod") != life.name or not stages:
                continue
            t = parse_time(stages[0].get("time"))
            if started is not None and t is not None and -1.5 <= t - started <= (1.5 if times else 10):
                if best is None or (h.get("outcome") and not best.get("outcome")):
                    best = h
        return best

    def history_entries(self, service):
        """Every status.shutdowns entry the resource ever showed (the last version of each)."""
        with self.lock:
            return list(self.history.get(service, {}).values())

    def degraded_conditions(self, service):
        with self.lock:
            return list(self.degraded.get(service, []))


class Records:
    """The stand-ins' records: `<record_dir>/<pod name>.jsonl`, one JSON object a line with `t` (wall clock) and
    `event` (start, request, save, self-sigterm, signal, ...). A pod name's file holds every incarnation of that
    name: a `start` record opens one."""

    def __init__(self, record_dir):
        self.dir = record_dir

    def of(self, pod):
        path = os.path.join(self.dir, f"{pod}.jsonl")
        out = []
        if not os.path.exists(path):
            return out
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by the signal that ended the process
        return out


def is_shutdown_call(record):
    return record.get("event") == "request" and "shutdown" in (record.get("path") or "")


def wait_history(watch, service, life, timeout=20):
    """The status.shutdowns entry of `life`'s shutdown once it has an outcome (it is written just after the pod
    vanished)."""
    return poll(lambda: (lambda h: h if h and h.get("outcome") else None)(watch.history_entry(service, life)),
                timeout, f"the outcome of {life.name}'s shutdown in {service}'s status.shutdowns")


# --- The presets in one namespace, and what each service's shutdowns must show -------------------------------------

POD_NETWORK = ipaddress.ip_network("198.18.0.0/15")  # the kubelet's pod IPs with namespaces (sim/kubelet/README.md)
# shared/medivote-services.md, per service:
STANDINS = {"backend", "blockchain-node", "network-coordinator", "incentive-system", "frontend", "network-dashboard"}
SIGTERM_ONLY = {"frontend", "network-dashboard", "static-server"}       # tier simple: never called
SAVES = {"network-coordinator": ("network-data", "nodes.json"),         # claim template, the file it saves there
         "incentive-system": ("incentive-data", "node_credentials.json")}


class Stack:
    """A namespace of `cluster` with presets of deploy/samples/ applied as shipped (`apply`), a ShutdownWatch on
    it, and the stand-ins' records."""

    def __init__(self, cluster, ns):
        self.cluster, self.ns = cluster, ns
        cluster.ensure_namespace(ns)
        self.watch = ShutdownWatch(cluster.rest, ns).start()
        self.records = Records(cluster.record_dir)
        self.presets = {}  # MediVoteService name -> its manifest as shipped

    def apply(self, path):
        """`kubectl apply -n NS -f path`, the file unchanged."""
        self.cluster.kubectl("apply", "-n", self.ns, "-f", path)
        for d in sample_docs(path):
            if d["kind"] == "MediVoteService":
                self.presets[d["metadata"]["name"]] = d

    def pods(self, service):
        return self.cluster.pods(self.ns, service)

    def records_of(self, life):
        """The stand-in's records of one pod (one uid). Its name's file holds every pod of that name: the records
        are grouped by process (pid), and a group belongs to the pod of that name seen last before the group's first
        record (a second of slack for a watch that lags; pods of one name live one after the other)."""
        lives = self.watch.lives(name=life.name)
        groups = {}
        for r in self.records.of(life.name):
            groups.setdefault(r.get("pid"), []).append(r)
        out = []
        for recs in groups.values():
            owner = None
            for candidate in lives:
                if candidate.first_seen - 1.0 <= recs[0].get("t", 0):
                    owner = candidate
            if owner is life:
                out += recs
        return sorted(out, key=lambda r: r.get("t", 0))

    def uids(self, service):
        return {p["metadata"]["uid"] for p in self.pods(service).values()}

    def replicas(self, service):
        return self.presets[service]["spec"].get("replicas", 1)

    def reach(self, service):
        """The preset's spec.shutdown.endpoint.reach: "agent" (the agent's forward comes from the pod's own
        loopback) or "direct" (the operator's calls come from the host, through the bridge)."""
        return ((self.presets[service]["spec"].get("shutdown") or {}).get("endpoint") or {}).get("reach", "direct")

    def image(self, service):
        return self.presets[service]["spec"]["template"]["spec"]["containers"][0]["image"]

    def stop(self):
        self.watch.stop()


def external_signals(records):
    """Signals a stand-in received from outside (the kubelet's SIGTERM); its own SIGTERM after a shutdown call is
    recorded as self-sigterm and is not one of them."""
    return [r for r in records if r.get("event") == "signal" and not r.get("self_sent")]


def check_shutdown(stack, service, life, external=False):
    """One pod's shutdown against its service's contract, from its shutdown annotations and the stand-in's records:
    the list of what is wrong (empty: as expected). `external`: the pod was deleted by someone else (`kubectl delete
    pod`); a simple pod then goes by the kubelet's SIGTERM alone, often before the operator could annotate it."""
    wrong = []
    what = f"{service}: {life!r}"
    records = stack.records_of(life) if service in STANDINS else []
    calls = [r for r in records if is_shutdown_call(r)]
    signals = external_signals(records)

    if service in SIGTERM_ONLY:
        if life.at("requested") or life.at("accepted"):
            wrong.append(f"a simple pod got the HTTP stage: {what}")
        if not life.at("terminating") and not (external and not life.annotations):
            wrong.append(f"no Terminating stage: {what}")
        if calls:
            wrong.append(f"the shutdown endpoint was called: {calls}")
        if service in STANDINS and not signals:
            wrong.append(f"no SIGTERM recorded by the stand-in: {records}")
        return wrong

    if not (life.at("requested") and life.at("accepted")):
        wrong.append(f"not called and accepted: {what}")
    if service in STANDINS:
        accepted = [r for r in calls if r.get("status") == 200]
        if not accepted:
            wrong.append(f"no shutdown call answered 200 in the stand-in's records: {records}")
        elif signals and min(r["t"] for r in signals) < min(r["t"] for r in accepted):
            wrong.append(f"SIGTERM before the HTTP call: {records}")
        through_agent = stack.reach(service) == "agent"
        for r in calls:
            peer = r.get("peer") or ""
            loopback = peer.startswith("127.") or peer in ("::1", "::ffff:127.0.0.1")
            if through_agent and not loopback:
                wrong.append(f"a call through the agent came from {peer}, not the pod's loopback: {r}")
            if not through_agent and loopback:
                wrong.append(f"a direct call came from the pod's own loopback ({peer}): pods are not isolated: {r}")

    if service == "backend":
        # Only the reload worker dies; the parent keeps the port until SIGTERM.
        if life.annotation("escalation") != "exit-timeout" or not life.at("terminating"):
            wrong.append(f"expected the exit-timeout escalation and SIGTERM: {what}")
        elif life.at("accepted") and life.at("terminating") < life.at("accepted"):
            wrong.append(f"escalated before the call was accepted: {what}")
        if not signals:
            wrong.append(f"the reload parent got no SIGTERM: {records}")
        return wrong

    if life.at("terminating") or life.annotation("escalation"):
        wrong.append(f"escalated to SIGTERM: {what}")
    if service in SAVES:
        name = SAVES[service][1]
        if not [r for r in records if r.get("event") == "save" and name in (r.get("path") or "")]:
            wrong.append(f"no save of {name} recorded: {records}")
    return wrong


def expected_outcome(service):
    """The outcome status.shutdowns must give each shutdown of the service."""
    return "sigterm" if service in SIGTERM_ONLY or service == "backend" else "http"


def check_history(stack, service, life, final=False):
    """The resource's status.shutdowns has an entry for this pod's shutdown, with the service's outcome: the list of
    what is wrong. `final`: the resource was being deleted, so its last entries may have vanished with it; they are
    checked when they were shown."""
    entry = stack.watch.history_entry(service, life)
    if not final:
        try:
            entry = wait_history(stack.watch, service, life)
        except AssertionError as e:
            shown = [(h.get("pod"), ((h.get("stages") or [{}])[0]).get("time"), h.get("outcome"))
                     for h in stack.watch.history_entries(service) if h.get("pod") == life.name]
            return [f"{e}; its entries ever shown: {shown}: {service}: {life!r}"]
    outcome = (entry or {}).get("outcome")
    if outcome is None or outcome == expected_outcome(service):
        return []
    return [f"outcome {outcome!r}, expected {expected_outcome(service)}: {service}: {life!r}"]


def check_saved_state(stack, service, saves=None):
    """Each pod of the service after the first loaded exactly the file the pod before it saved on the claim (its start
    record's sha256 is the last save's: the replacement took the same ordinal, hence the same claim), and the file
    left on that claim is the last one saved. For services of one replica; `saves`: (claim template, file), by
    default SAVES[service]. The list of what is wrong."""
    wrong = []
    saves = saves or SAVES.get(service)
    if not saves:
        return wrong
    template, name = saves
    last_saved, saver = None, None
    for life in stack.watch.lives(service=service):
        records = stack.records_of(life)
        starts = [r for r in records if r.get("event") == "start"]
        loaded = (starts[0].get("loaded") or {}) if starts else {}
        if last_saved is not None and loaded.get("sha256") != last_saved:
            wrong.append(f"{life.name} (uid {life.uid[:8]}) did not load the {name} that {saver} saved "
                         f"(sha256 {last_saved[:12]}): {starts}")
        saves = [r for r in records if r.get("event") == "save" and name in (r.get("path") or "")]
        if saves:
            last_saved, saver = saves[-1].get("sha256"), life.name
    if saver is None:
        return wrong + [f"no {name} was ever saved"]
    claim = stack.cluster.pvc_dir(stack.ns, f"{template}-{saver}")
    try:
        with open(os.path.join(claim, name), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != last_saved:
                wrong.append(f"{name} on the claim ({claim}) is not the last one saved")
    except OSError as e:
        wrong.append(f"{name} on the claim ({claim}): {e}")
    return wrong


# --- The stop order across services (issue 17: charts/medivote, tests/e2e/test_stack_helm.py, the stack demo) -------

def shutdown_span(stack, life):
    """(start, end) of one pod's shutdown, in wall-clock seconds. start: its first stage annotation, or the first
    shutdown call or outside signal the stand-in recorded, whichever came first; end: the stand-in's last record (its
    last act before it exited), or the pod's removal when nothing was recorded. None for what was never seen."""
    records = stack.records_of(life) if life.service in STANDINS else []
    times = [life.at(k) for k in ("started", "requested", "accepted", "terminating", "forced")]
    times += [r["t"] for r in records if is_shutdown_call(r)] + [r["t"] for r in external_signals(records)]
    times = [t for t in times if t]
    return (min(times) if times else None,
            max(r["t"] for r in records) if records else life.gone_at)


def stop_order_spans(stack, lives):
    """{service: (start of its first pod's shutdown, end of its last pod's)} of {service: [PodLife]}; a service
    without pods, or with a span never seen, is left out (stop_order_wrong names it)."""
    out = {}
    for service, ls in lives.items():
        spans = [shutdown_span(stack, life) for life in ls]
        if spans and all(start is not None and end is not None for start, end in spans):
            out[service] = (min(start for start, _ in spans), max(end for _, end in spans))
    return out


def stop_order_wrong(spans, order):
    """What breaks the stop order `order` (first stopped first) in the spans of stop_order_spans: a service missing,
    or one whose shutdown began before the one before it was done. Empty when the order held."""
    wrong = [f"no shutdown seen of {service}" for service in order if service not in spans]
    present = [s for s in order if s in spans]
    for earlier, later in zip(present, present[1:]):
        if spans[later][0] <= spans[earlier][1]:
            wrong.append(f"{later} began its shutdown {spans[earlier][1] - spans[later][0]:.3f} s before {earlier} "
                         f"was done")
    return wrong
