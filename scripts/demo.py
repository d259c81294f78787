#!/usr/bin/python3
"""The demo's body (run by scripts/demo.sh, which sets up, builds and cleans up after it).

In the work dir given by --dir it starts the simulated cluster (API server + kubelet simulators) and the operator,
applies the reference services of deploy/samples/ (the critical vote service, 3 replicas, and the simple static
server), sends votes, then scales the vote service down, upgrades it and deletes it, printing each pod's shutdown
stages as they happen. It ends with the line

    votes: acknowledged=N persisted=N lost=N

and exits 0 only when lost is 0 (1 when votes were lost, 2 when the demo itself failed). It stops everything it
started, also on SIGINT/SIGTERM. The operator's pid is in DIR/operator.pid and the simulators' in DIR/sim for the
shell's clean-up trap.
"""
import argparse
import base64
import copy
import datetime
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "sim"))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from e2elib import Followers  # noqa: E402
from simlib import Rest, poll  # noqa: E402
from votes_load import VoteLoad, claims_votes, tally  # noqa: E402

NS = "medivote-demo"
VOTE, STATIC = "vote-service", "static-server"
UPGRADE_IMAGE = "medivote/vote-service:0.2.0"
AGENT_IMAGE = "medivote/agent:demo"


def namespaces_available():
    """Whether the kubelet simulator can give each pod its own network and mount namespaces here (sim/kubelet)."""
    sys.path.insert(0, REPO)
    from sim.kubelet import isolation  # noqa: E402
    return isolation.namespaces_unavailable() is None
RATE = 300

# Shutdown annotations (src/shutdown/state.h): which time each stage is stamped with.
STAGE_TIMES = [("Draining", "medivote.io/shutdown-started-at"), ("Requested", "medivote.io/shutdown-requested-at"),
               ("Accepted", "medivote.io/shutdown-accepted-at"),
               ("Terminating", "medivote.io/shutdown-terminating-at"), ("Forced", "medivote.io/shutdown-forced-at")]

BOLD, DIM, GREEN, RED, CYAN, YELLOW, RESET = "\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[36m", "\033[33m", \
    "\033[0m"
if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
    BOLD = DIM = GREEN = RED = CYAN = YELLOW = RESET = ""


def parse_time(s):
    """Seconds since the epoch of an RFC 3339 time as the operator and the API server write them."""
    if not s:
        return None
    s = s.replace("Z", "+00:00")
    try:
        return datetime.datetime.fromisoformat(s).timestamp()
    except ValueError:
        return None


class Out:
    """Serialised, aligned printing. Timeline rows are held for HOLD seconds and printed in the order of their own
    times (the pod watch and the claims' logs report the same moment from different sources), relative to the
    current step's start. A step header first flushes every held row."""

    HOLD = 0.6

    def __init__(self, pod_width=16):
        self.pod_width = pod_width
        self.lock = threading.Lock()
        self.t0 = time.time()
        self.step_t0 = self.t0
        self.held = []  # (event time, arrival, seq, text)
        self.seq = 0
        self.stop_ev = threading.Event()
        self.flusher = threading.Thread(target=self._flush_loop, daemon=True)
        self.flusher.start()

    def _flush(self, everything):
        now = time.time()
        due = sorted(r for r in self.held if everything or r[1] <= now - self.HOLD)
        if due:
            self.held = [r for r in self.held if r not in due]
            keep_back = min((r[0] for r in self.held), default=None)
            for r in due:
                if keep_back is not None and r[0] > keep_back and not everything:
                    self.held.append(r)  # an earlier row is still held: keep the order
                    continue
                print(r[3])
            sys.stdout.flush()

    def _flush_loop(self):
        while not self.stop_ev.wait(0.1):
            with self.lock:
                self._flush(False)

    def close(self):
        self.stop_ev.set()
        self.flusher.join(timeout=2)
        with self.lock:
            self._flush(True)

    def step(self, title, command=None):
        with self.lock:
            self._flush(True)
            self.step_t0 = time.time()
            print(f"\n{BOLD}{CYAN}== {title}{RESET}  {DIM}[{self.step_t0 - self.t0:5.1f} s into the demo]{RESET}")
            if command:
                print(f"   {DIM}$ {command}{RESET}")
            sys.stdout.flush()

    def info(self, text):
        with self.lock:
            self._flush(True)
            print(f"   {text}")
            sys.stdout.flush()

    def row(self, at, pod, what, detail="", color=""):
        now = time.time()
        at = at if at is not None else now
        with self.lock:
            self.seq += 1
            text = f"   {at - self.step_t0:+7.2f} s  {pod:<{self.pod_width}} {color}{what:<12}{RESET} {detail}".rstrip()
            self.held.append((at, now, self.seq, text))


class Timeline:
    """Follows the pods of the namespace with a watch and the vote services' events.log on their claims, and
    prints each new fact once: pod created/ready, each shutdown stage (from the medivote.io/shutdown-* annotations,
    with the operator's time), deletion, container exit, save, pod gone."""

    def __init__(self, rest, out, pvc_dir, ns=NS):
        self.rest, self.out, self.pvc_dir, self.ns = rest, out, pvc_dir, ns
        self.seen = set()
        self.log_lines = {}
        self.followers = Followers(rest, {f"/api/v1/namespaces/{ns}/pods": self._pod})
        self.stop_ev = self.followers.stop_ev
        self.claims = threading.Thread(target=self._claims, daemon=True)

    def start(self):
        self.followers.start()
        self.claims.start()

    def stop(self):
        self.followers.stop()
        self.claims.join(timeout=5)

    def _once(self, key, *row):
        if key not in self.seen:
            self.seen.add(key)
            self.out.row(*row)

    def requested_detail(self, pod):
        """The Requested row's text: what the operator calls."""
        return "POST /shutdown to the pod"

    def _pod(self, type_, pod):
        meta, status = pod["metadata"], pod.get("status", {})
        name, uid = meta["name"], meta["uid"]
        ann = meta.get("annotations") or {}
        image = pod["spec"]["containers"][0]["image"]
        self._once((uid, "created"), None, name, "created", f"{DIM}{image}{RESET}")
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
        if ready and not meta.get("deletionTimestamp"):
            self._once((uid, "ready"), None, name, "ready", f"{DIM}{status.get('podIP', '')}{RESET}", GREEN)
        reason = ann.get("medivote.io/shutdown-reason", "")
        for stage, key in STAGE_TIMES:
            if ann.get(key):
                simple = ann.get("medivote.io/tier") == "simple"
                detail = {"Draining": f"{reason}: taken out of the Service (label medivote.io/serving removed)"
                                      + (", tier simple: no HTTP stage" if simple else ""),
                          "Requested": self.requested_detail(pod),
                          "Accepted": f"answer {ann.get('medivote.io/shutdown-last-answer', '2xx')} after "
                                      f"{ann.get('medivote.io/shutdown-attempts', '1')} call(s)",
                          "Terminating": f"SIGTERM by the kubelet "
                                         f"({ann.get('medivote.io/shutdown-escalation') or reason})",
                          "Forced": "deleted with grace 0"}[stage]
                self._once((uid, stage), parse_time(ann[key]), name, stage, detail,
                           YELLOW if stage in ("Terminating", "Forced") else CYAN)
        last = ann.get("medivote.io/shutdown-last-answer", "")
        if ann.get("medivote.io/shutdown-stage") == "Requested" and last and not last.startswith("2"):
            self._once((uid, "answer", ann.get("medivote.io/shutdown-attempts")), None, name, "refused",
                       f"answer {last}, retried", YELLOW)
        if meta.get("deletionTimestamp"):
            self._once((uid, "deleting"), None, name, "deleting",
                       f"deletionTimestamp set, grace {meta.get('deletionGracePeriodSeconds')} s")
        for cs in status.get("containerStatuses", []):
            term = (cs.get("state") or {}).get("terminated")
            if term:
                sig = f", signal {term['signal']}" if term.get("signal") else ""
                self._once((uid, "exited", cs["name"]), None, name, "exited",
                           f"{cs['name']}: exit code {term.get('exitCode')}{sig}",
                           GREEN if term.get("exitCode") == 0 else RED)
        if type_ == "DELETED":
            self._once((uid, "gone"), None, name, "gone", "pod object removed", DIM)

    def _claims(self):
        """The vote services' own events.log: saves (and SIGTERMs) as the service saw them."""
        while not self.stop_ev.wait(0.1):
            if not os.path.isdir(self.pvc_dir):
                continue
            for claim in sorted(os.listdir(self.pvc_dir)):
                path = os.path.join(self.pvc_dir, claim, "events.log")
                if not os.path.exists(path):
                    continue
                with open(path) as f:
                    complete = f.read().split("\n")[:-1]  # the last piece is an unfinished line (or empty)
                done = self.log_lines.get(path, 0)
                self.log_lines[path] = len(complete)
                pod = claim[len("data-"):]
                for line in complete[done:]:
                    w = line.split()
                    if len(w) < 2:
                        continue
                    at, ev = int(w[0]) / 1000.0, w[1]
                    kv = dict(x.split("=", 1) for x in w[2:] if "=" in x)
                    if ev == "saved":
                        self.out.row(at, pod, "saved", f"{kv.get('votes')} votes to its claim "
                                                       f"({kv.get('ms')} ms, atomic rename)", GREEN)
                    elif ev == "start" and int(kv.get("loaded", "0")):
                        self.out.row(at, pod, "loaded", f"{kv.get('loaded')} votes from its claim", DIM)
                    elif ev in ("sigterm", "save-skipped", "save-failed"):
                        self.out.row(at, pod, ev, "", RED if ev != "sigterm" else YELLOW)


class Demo:
    def __init__(self, args):
        self.dir = os.path.abspath(args.dir)
        self.build = os.path.abspath(args.build)
        self.simdir = os.path.join(self.dir, "sim")
        self.kubeconfig = os.path.join(self.simdir, "kubeconfig")
        self.out = Out()
        self.operator = None
        self.sim_started = False
        self.load = None
        self.timeline = None
        self.kubelet = None

    # -- helpers ---------------------------------------------------------------------------------------------------
    def kubectl(self, *args, input=None, show=True):
        if show:
            self.out.info(f"{DIM}$ kubectl {' '.join(args)}{RESET}")
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=os.path.join(self.simdir, "kubecache"))
        r = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, env=env, timeout=90)
        if r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def mvs(self, name):
        r = self.rest.get(f"/apis/medivote.io/v1alpha1/namespaces/{NS}/medivoteservices/{name}")
        return r.body if r.status == 200 else None

    def pods(self, name):
        r = self.rest.get(f"/api/v1/namespaces/{NS}/pods", labelSelector=f"medivote.io/service={name}")
        return {p["metadata"]["name"]: p for p in r.body["items"]}

    def wait_ready(self, name, n, timeout=60):
        def ok():
            o = self.mvs(name)
            st = (o or {}).get("status", {})
            return (st.get("readyReplicas") == n and st.get("replicas") == n and st.get("updatedReplicas") == n
                    and st.get("observedGeneration") == o["metadata"].get("generation")
                    and len(self.pods(name)) == n)
        poll(ok, timeout, f"{name} to have {n} ready replicas", interval=0.1)

    def vote_rate(self, seconds=2.0):
        before, t = self.load.acked_count(), time.monotonic()
        time.sleep(seconds)
        n = self.load.acked_count()
        self.out.info(f"{DIM}votes: {n} acknowledged so far, {(n - before) / (time.monotonic() - t):.0f}/s over "
                      f"{len(self.load.targets)} serving pod(s){RESET}")

    def image_map(self):
        path = os.path.join(self.dir, "images.yaml")
        vote = {"entrypoint": [os.path.join(self.build, "workloads", "medivote-vote-service")], "cmd": []}
        static = {"entrypoint": [os.path.join(self.build, "workloads", "medivote-static-server")],
                  "cmd": ["--root", "."]}
        # The vote service is reached through the agent sidecar (deploy/samples/vote-service.yaml), run as the image's
        # user (Dockerfile: USER 65532).
        agent = {"entrypoint": [os.path.join(self.build, "medivote-agent")], "cmd": [], "user": "65532"}
        with open(path, "w") as f:
            yaml.safe_dump({"images": {"medivote/vote-service:0.1.0": vote, UPGRADE_IMAGE: vote,
                                       "medivote/static-server:0.1.0": static, AGENT_IMAGE: agent}}, f)
        return path

    def samples(self):
        """The reference services of deploy/samples, in the demo namespace, with a fresh random token."""
        docs = []
        for fname in ("vote-service.yaml", "static-server.yaml"):
            with open(os.path.join(REPO, "deploy", "samples", fname)) as f:
                for d in yaml.safe_load_all(f):
                    if not d:
                        continue
                    d = copy.deepcopy(d)
                    d["metadata"]["namespace"] = NS
                    if d["kind"] == "Secret":
                        # As data: the API server simulator stores stringData as is instead of merging it into
                        # data as kube-apiserver does.
                        d.pop("stringData", None)
                        d["data"] = {"token": base64.b64encode(secrets.token_urlsafe(32).encode()).decode()}
                    docs.append(d)
        return yaml.safe_dump_all(docs)

    def start_kubelet(self, cidr):
        """The kubelet simulator as `simctl start --kubelet-image-map` runs it, but with its own pod CIDR: pods bind
        $POD_IP:8080, and another simulated cluster on this machine (a test session, another demo) hands out
        addresses from the default 127.77.0.0/16. Its pid goes where `simctl stop` finds it."""
        os.makedirs(os.path.join(self.simdir, "kubelet"), exist_ok=True)
        with open(os.path.join(self.simdir, "kubelet.log"), "w") as log:
            p = subprocess.Popen(["/usr/bin/python3", "-m", "sim.kubelet", "--kubeconfig",
                                  os.path.join(self.simdir, "kubelet.kubeconfig"), "--node-name", "sim-node-1",
                                  "--state-dir", os.path.join(self.simdir, "kubelet"), "--image-map", self.image_map(),
                                  *(["--pod-cidr", cidr] if cidr else ["--pod-isolation", "namespaces"])],
                                 cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        with open(os.path.join(self.simdir, "kubelet.pid"), "w") as f:
            f.write(str(p.pid))
        self.kubelet = p

    # -- the story -------------------------------------------------------------------------------------------------
    def run(self):
        for tool in ("kubectl",):
            if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode != 0:
                raise RuntimeError(f"{tool} is not on PATH (scripts/setup.sh installs it)")
        for binary in ("medivote-controller", "medivote-agent", "workloads/medivote-vote-service",
                       "workloads/medivote-static-server"):
            if not os.path.exists(os.path.join(self.build, binary)):
                raise RuntimeError(f"{self.build}/{binary} is missing: run scripts/setup.sh")

        # Pods isolated like real pods where the machine allows it (root): the agent's token is then mounted at its
        # real path and the vote service's allowlist sees the agent as the pod itself. Else loopback, on a CIDR of
        # the demo's own.
        cidr = None if namespaces_available() else f"127.{random.choice([x for x in range(100, 250) if x != 77])}.0.0/16"
        kubelet_flags = f"--pod-cidr {cidr}" if cidr else "--pod-isolation namespaces"
        self.out.step("Start the simulated cluster: API server + kubelet (pods are local processes)",
                      f"sim/simctl start --dir {self.simdir}; python3 -m sim.kubelet {kubelet_flags} ...")
        r = subprocess.run([os.path.join(REPO, "sim", "simctl"), "start", "--dir", self.simdir], capture_output=True,
                           text=True, timeout=60, cwd=REPO)
        self.sim_started = True
        if r.returncode != 0:
            raise RuntimeError(f"simctl start failed: {r.stderr.strip()}")
        self.start_kubelet(cidr)
        self.rest = Rest(self.kubeconfig)
        self.kubectl("apply", "-f", os.path.join(REPO, "crds", "medivote.io_medivoteservices.yaml"))
        poll(lambda: self.rest.get("/apis/medivote.io/v1alpha1/medivoteservices").status == 200, 20,
             "the CRD to be served")

        self.out.step("Start the operator", "build/medivote-controller --kubeconfig sim/operator.kubeconfig")
        log_path = os.path.join(self.dir, "operator.log")
        self.operator_log = open(log_path, "w")
        self.operator = subprocess.Popen(
            [os.path.join(self.build, "medivote-controller"), "--kubeconfig",
             os.path.join(self.simdir, "operator.kubeconfig"), f"--agent-image={AGENT_IMAGE}",
             "--metrics-bind-address=127.0.0.1:0",
             "--health-probe-bind-address=127.0.0.1:0"], stdout=self.operator_log, stderr=subprocess.STDOUT)
        with open(os.path.join(self.dir, "operator.pid"), "w") as f:
            f.write(str(self.operator.pid))

        def leading():
            assert self.operator.poll() is None, "the operator exited: see " + log_path
            with open(log_path) as f:
                return "phase=leading" in f.read()
        poll(leading, 20, "the operator to start")
        self.out.info(f"operator pid {self.operator.pid}, log {log_path}")

        self.out.step("Apply the reference services (deploy/samples): vote-service (critical, 3 replicas) and "
                      "static-server (simple)", "kubectl apply -f deploy/samples/vote-service.yaml "
                      "-f deploy/samples/static-server.yaml")
        self.kubectl("create", "namespace", NS, show=False)
        self.timeline = Timeline(self.rest, self.out, os.path.join(self.simdir, "kubelet", "pvc", NS))
        self.timeline.start()
        self.kubectl("apply", "-n", NS, "-f", "-", input=self.samples(), show=False)
        self.wait_ready(VOTE, 3)
        self.wait_ready(STATIC, 2)
        for line in self.kubectl("get", "mvs", "-n", NS, show=False).splitlines():
            self.out.info(f"{DIM}{line}{RESET}")

        self.out.step(f"Send votes: about {RATE}/s straight to the serving pods' IPs (a 503 or a refused connection "
                      "is retried on another pod; only a 2xx counts)")
        self.load = VoteLoad(self.rest, NS, VOTE, rate=RATE).start()
        self.vote_rate(2.0)

        self.out.step("Scale the vote service down 3 -> 2", f"kubectl scale mvs/{VOTE} --replicas=2 -n {NS}")
        self.kubectl("scale", f"mvs/{VOTE}", "--replicas=2", "-n", NS, show=False)
        poll(lambda: sorted(self.pods(VOTE)) == [f"{VOTE}-0", f"{VOTE}-1"], 60, f"{VOTE}-2 to go", interval=0.1)
        self.wait_ready(VOTE, 2)
        self.vote_rate(2.0)

        self.out.step(f"Upgrade the vote service: image {UPGRADE_IMAGE} (a rolling upgrade, one pod at a time)",
                      f"kubectl patch mvs/{VOTE} --type json -p '[{{\"op\": \"replace\", "
                      f"\"path\": \"/spec/template/spec/containers/0/image\", \"value\": \"{UPGRADE_IMAGE}\"}}]'")
        self.kubectl("patch", f"mvs/{VOTE}", "-n", NS, "--type", "json", "-p",
                     json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                                  "value": UPGRADE_IMAGE}]), show=False)
        self.wait_ready(VOTE, 2, timeout=90)
        poll(lambda: all(p["spec"]["containers"][0]["image"] == UPGRADE_IMAGE for p in self.pods(VOTE).values()),
             20, "every pod upgraded")
        self.vote_rate(2.0)

        self.out.step("Delete both services (vote-service: HTTP shutdown first; static-server: SIGTERM)",
                      f"kubectl delete mvs {VOTE} {STATIC} -n {NS}")
        self.kubectl("delete", "mvs", VOTE, STATIC, "-n", NS, "--timeout=90s", show=False)
        poll(lambda: not self.pods(VOTE) and not self.pods(STATIC), 30, "every pod to go")
        self.load.stop()
        time.sleep(0.3)  # let the timeline print the last facts it already has
        return self.summary()

    def summary(self):
        saved_per_claim = claims_votes(os.path.join(self.simdir, "kubelet", "pvc", NS))
        saved = set().union(*saved_per_claim.values()) if saved_per_claim else set()
        t = tally(self.load.acknowledged, saved)
        self.out.step("Tally: every acknowledged vote must be in the votes.json of a claim")
        self.out.info(f"{'claim':<24}{'votes saved':>12}")
        for claim, ids in saved_per_claim.items():
            self.out.info(f"{claim:<24}{len(ids):>12}")
        self.out.info(f"{DIM}requests sent {self.load.sent}, answered other than 2xx and retried "
                      f"{self.load.retries}{RESET}")
        color = GREEN if t.lost == 0 else RED
        self.out.info(f"{BOLD}{color}{t.line()}{RESET}")
        self.out.info(f"{DIM}(total {time.time() - self.out.t0:.1f} s){RESET}")
        return 0 if t.lost == 0 and t.acknowledged > 0 else 1

    def cleanup(self):
        if self.load:
            try:
                self.load.stop()
            except AssertionError:
                pass
        if self.timeline:
            self.timeline.stop()
        self.out.close()
        if self.operator and self.operator.poll() is None:
            self.operator.send_signal(signal.SIGTERM)
            try:
                self.operator.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.operator.kill()
                self.operator.wait()
        if self.kubelet and self.kubelet.poll() is None:
            # Stopped (and reaped) here first: `simctl stop` would take an unreaped child for a live process.
            self.kubelet.send_signal(signal.SIGTERM)  # it SIGKILLs every container it started, then exits
            try:
                self.kubelet.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.kubelet.pid, signal.SIGKILL)
                self.kubelet.wait()
        if self.sim_started:
            subprocess.run([os.path.join(REPO, "sim", "simctl"), "stop", "--dir", self.simdir],
                           capture_output=True, timeout=60)


def main(demo_class=None, doc=__doc__):
    """Runs a demo (`demo_class(args)` with run() -> exit status and cleanup(); Demo by default) in the work dir of
    --dir: 130 when interrupted (SIGINT, SIGTERM), 2 when the demo itself failed; cleanup() always runs."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="work dir (simulator state, logs)")
    ap.add_argument("--build", default=os.environ.get("MEDIVOTE_BUILD_DIR", os.path.join(REPO, "build")))
    args = ap.parse_args()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    demo = (demo_class or Demo)(args)
    code = 2
    try:
        code = demo.run()
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=sys.stderr)
        code = 130
    except (RuntimeError, AssertionError, OSError, subprocess.SubprocessError) as e:
        print(f"\n{RED}demo failed: {e}{RESET}", file=sys.stderr)
        code = 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        demo.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
