#!/usr/bin/python3
"""The stack demo's body (run by `scripts/demo.sh --stack`, which sets up, builds and cleans up after it).

In the work dir given by --dir it starts the simulated cluster with pods isolated like real pods (each in its own
network and mount namespaces; root needed), the operator as deploy/08-deployment.yaml starts it, and installs the
stack chart (`helm install medivote charts/medivote`: the six MediVote presets of deploy/samples/ plus MediVote's stop
order, spec.shutdown.after). Their pods run the stand-ins of the real services (workloads/standins), which record
what happens to them. Then it scales each service to zero, in the order of MediVote's own service manager, brings
the six back (the two that save state load what they saved), and uninstalls the release: helm deletes the six
together and the operator shuts them down one service after the other, in MediVote's order. Every pod's timeline is
printed as it happens: the operator's shutdown stages (the pods' medivote.io/shutdown-* annotations), the calls the
service answered, its saves, its own SIGTERM or the kubelet's, the exit; then the uninstall's timeline across
services, each service's shutdown from its first stage to its exit.

It ends with a check of every shutdown against the services' contracts (tests/e2e/samples_lib.py, the checks of
tests/e2e/test_presets_e2e.py), of the stop order of the uninstall, and of the files saved on the claims (which the
uninstall keeps), and exits 0 only when each check passed (1 when one failed, 2 when the demo itself failed). It stops everything it started, also on SIGINT/SIGTERM. The operator's pid
is in DIR/operator.pid and the simulators' in DIR/sim for the shell's clean-up trap. The binaries come from
MEDIVOTE_BUILD_DIR (default build/).
"""
import json
import os
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "scripts"))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import demo  # noqa: E402
from demo import BOLD, DIM, GREEN, RED, RESET, YELLOW, Out, Timeline  # noqa: E402
from e2elib import poll  # noqa: E402
from samples_lib import (SAVES, Stack, StackCluster, check_history, check_saved_state,  # noqa: E402
                         check_shutdown, external_signals, is_shutdown_call, isolation_unavailable, sample_mvs,
                         start_operator, stop_order_spans, stop_order_wrong)

NS = "medivote-stack"
RELEASE = "medivote"
CHART = os.path.join(REPO, "charts", "medivote")
# MediVote's own stop_all order (shared/medivote-services.md): the services that depend on others go first. The
# incentive system, removed in later versions, is not in it: it goes after the coordinator. The stack chart's
# stopOrder.services.
ORDER = ["frontend", "network-dashboard", "network-coordinator", "incentive-system", "blockchain-node", "backend"]


class StackTimeline(Timeline):
    """demo.py's timeline of the pods, with the stand-ins' own records (workloads/standins/README.md) instead of the
    vote service's events.log: the calls they answered, their saves, what they loaded, the signals."""

    def __init__(self, rest, out, ns, records, presets):
        super().__init__(rest, out, pvc_dir=None, ns=ns)
        self.records, self.presets = records, presets
        self.offsets = {}

    def requested_detail(self, pod):
        service = pod["metadata"].get("labels", {}).get("medivote.io/service", "")
        ep = ((self.presets.get(service) or {}).get("spec", {}).get("shutdown") or {}).get("endpoint") or {}
        via = "through the agent (the pod's loopback)" if ep.get("reach") == "agent" else "to the pod IP"
        return f"{ep.get('method', 'POST')} {ep.get('path', '/shutdown')} {via}"

    def _claims(self):
        while not self.stop_ev.wait(0.1):
            if not os.path.isdir(self.records.dir):
                continue
            for fname in sorted(os.listdir(self.records.dir)):
                if fname.endswith(".jsonl"):
                    self._follow(os.path.join(self.records.dir, fname), fname[:-len(".jsonl")])

    def _follow(self, path, pod):
        with open(path) as f:
            f.seek(self.offsets.get(path, 0))
            data = f.read()
        complete = data[:data.rfind("\n") + 1]  # an unfinished last line waits for the next round
        self.offsets[path] = self.offsets.get(path, 0) + len(complete.encode())
        for line in complete.splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            self._record(pod, r)

    def _record(self, pod, r):
        at, ev = r.get("t"), r.get("event")
        loaded = r.get("loaded") or {}
        if ev == "start" and loaded.get("exists"):
            self.out.row(at, pod, "loaded", f"{loaded.get('path')} ({loaded.get('bytes')} bytes, sha256 "
                                            f"{str(loaded.get('sha256'))[:12]}) from its claim", GREEN)
        elif is_shutdown_call(r):
            ok = r.get("status") == 200
            self.out.row(at, pod, "called", f"{r.get('method')} {r.get('path')} from {r.get('peer')}: answered "
                                             f"{r.get('status')}", GREEN if ok else RED)
        elif ev == "save":
            self.out.row(at, pod, "saved", f"{r.get('path')} ({r.get('bytes')} bytes, sha256 "
                                           f"{str(r.get('sha256'))[:12]}) to its claim", GREEN)
        elif ev == "self-sigterm":
            self.out.row(at, pod, "self-SIGTERM", "the service ends itself, as it does after a shutdown call", DIM)
        elif external_signals([r]):
            self.out.row(at, pod, r.get("signal", "signal"), "received from the kubelet", YELLOW)


class StackDemo:
    def __init__(self, args):
        self.dir = os.path.abspath(args.dir)
        self.out = Out(pod_width=22)
        self.cluster = self.operator = self.stack = self.timeline = None
        self.helm_bin = None
        self.uninstalled = {}   # service -> [PodLife] of the pods the uninstall shut down
        self.claims_before = {}  # claim name -> uid, just before the uninstall

    def helm(self, *args):
        """helm (scripts/install-helm.sh) against the simulated cluster, with its cache and config in the work dir (the
        step that runs it shows the command)."""
        if self.helm_bin is None:
            r = subprocess.run([os.path.join(REPO, "scripts", "install-helm.sh")], capture_output=True, text=True,
                               timeout=300)
            if r.returncode != 0:
                raise RuntimeError(f"scripts/install-helm.sh failed: {r.stderr.strip()}")
            self.helm_bin = r.stdout.strip().splitlines()[-1]
        home = os.path.join(self.dir, "helm")
        env = dict(os.environ, HELM_CACHE_HOME=os.path.join(home, "cache"),
                   HELM_CONFIG_HOME=os.path.join(home, "config"), HELM_DATA_HOME=os.path.join(home, "data"))
        r = subprocess.run([self.helm_bin, *args, "--kubeconfig", self.cluster.sim.kubeconfig], capture_output=True,
                           text=True, env=env, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def claims(self):
        r = self.cluster.rest.get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims")
        return {c["metadata"]["name"]: c["metadata"]["uid"] for c in r.body["items"]}

    def kubectl(self, *args, input=None):
        self.out.info(f"{DIM}$ kubectl {' '.join(args)}{RESET}")
        r = self.cluster.kubectl(*args, input=input, check=False, timeout=90)
        if r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def wait_ready(self, service, timeout=90):
        n = self.stack.replicas(service)

        def ok():
            o = self.cluster.mvs(NS, service)
            st = (o or {}).get("status", {})
            return (st.get("readyReplicas") == n and st.get("observedGeneration") == o["metadata"].get("generation")
                    and len(self.stack.pods(service)) == n)
        poll(ok, timeout, f"{service} to have {n} ready replicas", interval=0.2)

    def run(self):
        reason = isolation_unavailable()
        if reason:
            raise RuntimeError(f"the stack demo isolates each pod like a real node does: {reason}")
        self.out.step("Start the simulated cluster: API server + kubelet, each pod in its own network and mount "
                      "namespaces", f"sim/simctl start --dir {self.dir}/sim --pod-isolation namespaces "
                      f"--kubelet-image-map <deploy/samples/sim-images.yaml + a record dir>")
        self.cluster = StackCluster(self.dir)
        self.out.step("Start the operator as deploy/08-deployment.yaml starts it")
        self.operator = start_operator(self.cluster)
        with open(os.path.join(self.dir, "operator.pid"), "w") as f:
            f.write(str(self.operator.proc.pid))
        self.out.info(f"operator pid {self.operator.proc.pid}, log {self.operator.log_path}")

        self.out.step("Install the stack chart: the six MediVote presets of deploy/samples/ and MediVote's stop order",
                      f"helm install {RELEASE} charts/medivote -n {NS}")
        self.stack = Stack(self.cluster, NS)
        self.stack.presets.update({service: sample_mvs(service) for service in ORDER})  # the chart's defaults
        self.timeline = StackTimeline(self.cluster.rest, self.out, NS, self.stack.records, self.stack.presets)
        self.timeline.start()
        self.helm("install", RELEASE, CHART, "-n", NS, "--wait=false")
        for service in ORDER:
            self.wait_ready(service)
        for service in ORDER:
            after = self.cluster.mvs(NS, service)["spec"]["shutdown"].get("after") or []
            self.out.info(f"{DIM}{service:<20} spec.shutdown.after: {', '.join(after) or '-'}{RESET}")
        for line in self.kubectl("get", "mvs", "-n", NS).splitlines():
            self.out.info(f"{DIM}{line}{RESET}")

        for service in ORDER:
            self.out.step(f"Scale {service} to zero", f"kubectl scale mvs/{service} --replicas=0 -n {NS}")
            self.cluster.kubectl("scale", f"mvs/{service}", "--replicas=0", "-n", NS)
            poll(lambda: not self.stack.pods(service), 90, f"every {service} pod to go", interval=0.2)

        savers = [s for s in ORDER if s in SAVES]
        self.out.step(f"Bring the six back: {' and '.join(savers)} load what they saved on their claims",
                      f"kubectl scale mvs/<service> --replicas=<as installed> -n {NS}   (x6)")
        for service in ORDER:
            self.cluster.kubectl("scale", f"mvs/{service}", f"--replicas={self.stack.replicas(service)}", "-n", NS)
        for service in ORDER:
            self.wait_ready(service)

        self.out.step("Uninstall the stack: helm deletes the six together, the operator stops them in MediVote's "
                      "order", f"helm uninstall {RELEASE} -n {NS}")
        running = {service: self.stack.uids(service) for service in ORDER}
        self.claims_before = self.claims()
        self.helm("uninstall", RELEASE, "-n", NS)
        poll(lambda: not self.cluster.pods(NS) and not self.cluster.get(
            f"/apis/medivote.io/v1alpha1/namespaces/{NS}/medivoteservices")["items"], 6 * 60, "every service to go",
            interval=0.2)
        time.sleep(0.7)  # the timeline holds rows for 0.6 s to print them in order: let it print the last ones
        self.uninstalled = {service: [life for life in self.stack.watch.lives(service=service)
                                      if life.uid in running[service]] for service in ORDER}
        return self.checks()

    def stop_order(self):
        """The uninstall's timeline across services, in MediVote's order: each service's shutdown from its first
        stage to its exit, and what went wrong with the order (empty: each service was down before the next
        began)."""
        spans = stop_order_spans(self.stack, self.uninstalled)
        wrong = stop_order_wrong(spans, ORDER)
        self.out.step("The uninstall across services: each service's shutdown, from its first stage to its exit")
        t0 = min((start for start, _ in spans.values()), default=0)
        end = max((e for _, e in spans.values()), default=t0)
        scale = 40 / max(end - t0, 0.001)
        previous = None
        for service in ORDER:
            if service not in spans:
                self.out.info(f"{RED}{service:<20} no shutdown seen{RESET}")
                continue
            start, stop = spans[service]
            bar = " " * int((start - t0) * scale) + "#" * max(1, int((stop - start) * scale))
            entries = [self.stack.watch.history_entry(service, life) or {} for life in self.uninstalled[service]]
            outcome = ", ".join(sorted({h.get("outcome") or "?" for h in entries}))
            gap = start - spans[previous][1] if previous in spans else None
            held = ("first" if gap is None else f"began {gap:5.2f} s after {previous} was done" if gap > 0 else
                    f"began {-gap:5.2f} s BEFORE {previous} was done")
            color = GREEN if gap is None or gap > 0 else RED
            self.out.info(f"{service:<20} {start - t0:+7.2f} s .. {stop - t0:+7.2f} s  {DIM}{bar:<41}{RESET} "
                          f"{color}{held}{RESET}  {DIM}({len(self.uninstalled[service])} pod(s), outcome "
                          f"{outcome}){RESET}")
            previous = service
        return wrong

    def checks(self):
        order_wrong = self.stop_order()
        self.out.step("Checks: each shutdown against the service's contract (shared/medivote-services.md), the stop "
                      "order of the uninstall, and the files saved on the claims")
        failed = 0
        for service in ORDER:
            lives = self.stack.watch.lives(service=service)
            deleted = {life.uid for life in lives if life.annotation("reason") == "Deletion"}
            wrong = []
            for life in lives:
                wrong += check_shutdown(self.stack, service, life)
                wrong += check_history(self.stack, service, life, final=life.uid in deleted)
            wrong += check_saved_state(self.stack, service)
            expected = {"backend": "called, then exit-timeout and SIGTERM (its reload parent keeps the port)",
                        "frontend": "never called, SIGTERM only", "network-dashboard": "never called, SIGTERM only"
                        }.get(service, "called, exited by itself before any SIGTERM (outcome http)")
            if service in SAVES:
                expected += f"; {SAVES[service][1]} saved and loaded by the next pod"
            mark = f"{GREEN}ok    {RESET}" if not wrong else f"{RED}FAILED{RESET}"
            self.out.info(f"{mark}  {service:<20} {len(lives)} shutdown(s): {expected}")
            for w in wrong:
                self.out.info(f"      {RED}{w[:300]}{RESET}")
            failed += bool(wrong)
        for service in [s for s in ORDER if s in SAVES]:
            template, name = SAVES[service]
            path = os.path.join(self.cluster.pvc_dir(NS, f"{template}-{service}-0"), name)
            size = os.path.getsize(path) if os.path.exists(path) else None
            self.out.info(f"{DIM}claim {template}-{service}-0: {name} "
                          f"{f'{size} bytes' if size is not None else 'MISSING'}{RESET}")
        kept = self.claims()
        if kept != self.claims_before or not kept:
            order_wrong.append(f"claims before the uninstall {sorted(self.claims_before)}, after {sorted(kept)}")
        else:
            self.out.info(f"{DIM}claims kept by helm uninstall: {', '.join(sorted(kept))}{RESET}")
        color = GREEN if not failed else RED
        self.out.info(f"{BOLD}{color}checks: {len(ORDER) - failed} of {len(ORDER)} services as their contract "
                      f"says{RESET}")
        for w in order_wrong:
            self.out.info(f"      {RED}{w[:300]}{RESET}")
        color = GREEN if not order_wrong else RED
        self.out.info(f"{BOLD}{color}stop order: {' -> '.join(ORDER)}: "
                      f"{'held, claims kept' if not order_wrong else 'FAILED'}{RESET}")
        self.out.info(f"{DIM}(total {time.time() - self.out.t0:.1f} s){RESET}")
        return 0 if not failed and not order_wrong else 1

    def cleanup(self):
        if self.timeline:
            self.timeline.stop()
        if self.stack:
            self.stack.stop()
        self.out.close()
        if self.operator:
            self.operator.stop()
        if self.cluster:
            self.cluster.stop()


if __name__ == "__main__":
    sys.exit(demo.main(StackDemo, __doc__))
