"""Issue 18 item 1 end to end, the stage and outcome test_kubectl_plugin.py leaves out: Forced. A pod that outlived
its grace period by forceDeleteAfterSeconds, as on a lost node where nobody runs its termination, is deleted by the
operator with grace 0. The node is made lost by the kubelet simulator's own switch (SIGUSR1 until SIGUSR2,
sim/kubelet/README.md "Lost node"): the API server keeps the deleted pod Terminating. A finalizer of the test's keeps
the pod in the API after the operator's grace-0 delete (as any pod finalizer does on a real server), so `status` can
be read while the pod is in stage Forced; once it is removed the pod goes and `history` records `forced`.

Works in both modes: the kubelet simulator is this suite's own process in existing-cluster mode too, and nothing here
reads /admin."""
import contextlib
import json
import os
import signal

from e2elib import poll, wait_ready
from test_kubectl_plugin import built, history, plugin, pod_status, recorded  # noqa: F401 (built: autouse fixture)
from test_tiered_shutdown import critical, wait_gone

HOLD = "medivote.test/hold"
# Small timeouts. Reach direct: the pod is deleted (grace 3 s) when its service accepts, handed to SIGTERM at the exit
# timeout (at most the preStop sleep), and forced grace + forceDeleteAfter seconds after the delete.
SHORT = {"exitTimeoutSeconds": 2, "terminationGracePeriodSeconds": 3, "forceDeleteAfterSeconds": 2,
         "preStopSleepSeconds": 2}


def kubelet_pid(cluster):
    with open(os.path.join(cluster.sim.dir, "kubelet.pid")) as f:
        pid = int(f.read())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"sim.kubelet" in f.read(), f"pid {pid} is not the kubelet simulator"
    return pid


def kubelet_log(cluster):
    with open(os.path.join(cluster.sim.dir, "kubelet.log"), errors="replace") as f:
        return f.read()


@contextlib.contextmanager
def lost_node(cluster):
    """The kubelet simulator acts lost for the length of the block (no status, no kill, no delete; its processes keep
    running), and is back afterwards whatever happens: the cluster is shared by the session's tests."""
    pid = kubelet_pid(cluster)
    lost_before = kubelet_log(cluster).count("is now LOST")
    back_before = kubelet_log(cluster).count("is back")
    os.kill(pid, signal.SIGUSR1)
    try:
        poll(lambda: kubelet_log(cluster).count("is now LOST") > lost_before, 10, "the kubelet to act lost")
        yield
    finally:
        os.kill(pid, signal.SIGUSR2)
        poll(lambda: kubelet_log(cluster).count("is back") > back_before, 10, "the kubelet to be back")


def set_finalizers(cluster, ns, pod, finalizers):
    patch = json.dumps({"metadata": {"finalizers": finalizers}})
    return cluster.kubectl("patch", "pod", pod, "-n", ns, "--type=merge", "-p", patch, check=False)


def test_status_shows_a_pod_of_a_lost_node_forced_and_history_records_forced(cluster, ns, operator):
    operator()
    cluster.apply(critical("vote", ns, 1, mode="never-exit", **SHORT))
    wait_ready(cluster, ns, "vote", 1)
    assert set_finalizers(cluster, ns, "vote-0", [HOLD]).returncode == 0
    try:
        with lost_node(cluster):
            cluster.kubectl("scale", "mvs/vote", "--replicas=0", "-n", ns)
            seen = {}

            def forced():
                p = pod_status(cluster, ns, "vote", "vote-0")
                assert p is not None, "vote-0 went while its finalizer holds it"
                seen[p["stage"]] = p
                return p if p["stage"] == "Forced" else None
            # Accepted and deleted, never exits, and nobody runs its termination.
            p = poll(forced, 40, "vote-0 in stage Forced", interval=0.05)

            terminating = seen.get("Terminating")
            assert terminating is not None, sorted(seen)
            assert terminating["deleting"] and terminating["escalation"] == "exit-timeout"
            assert terminating["next"]["stage"] == "Forced"
            assert [e["reason"] for e in terminating["next"]["events"]] == ["ForceDeleted"]
            assert 0 <= terminating["next"]["inSeconds"] <= (SHORT["terminationGracePeriodSeconds"] +
                                                             SHORT["forceDeleteAfterSeconds"])

            # Forced: the stage machine has deleted it with grace 0 and repeats that while the pod is still there.
            assert (p["reason"], p["escalation"], p["deleting"]) == ("ScaleDown", "exit-timeout", True)
            assert p["secondsInStage"] >= 0
            assert (p["next"]["step"], p["next"]["stage"], p["next"]["inSeconds"]) == ("ForceDeletePod", "Forced", 0)
            table = plugin(cluster, "status", "vote", "-n", ns)
            assert table.returncode == 0, table.stderr
            row = next(line for line in table.stdout.splitlines() if line.strip().startswith("vote-0"))
            assert "Forced" in row and "force delete (grace 0)" in row and "now" in row, row

            pod = cluster.pods(ns, "vote")["vote-0"]
            assert pod["metadata"]["deletionGracePeriodSeconds"] == 0  # the operator's grace-0 delete
            assert pod["metadata"]["annotations"].get("medivote.io/shutdown-forced-at")
            assert set_finalizers(cluster, ns, "vote-0", []).returncode == 0
            wait_gone(cluster, ns, "vote-0", timeout=20)
    finally:
        set_finalizers(cluster, ns, "vote-0", [])  # whatever happened, do not leave the namespace stuck

    entry = history(cluster, ns, "vote", "vote-0")
    assert entry["outcome"] == "forced"
    stages = [s["stage"] for s in entry["stages"]]
    assert stages == [s["stage"] for s in recorded(cluster, ns, "vote", "vote-0")["stages"]]
    assert stages[-3:] == ["Terminating", "Forced", "Completed"], stages
    assert entry["durationSeconds"] == entry["stages"][-1]["offsetSeconds"] > 0
    row = next(line for line in plugin(cluster, "history", "vote", "-n", ns).stdout.splitlines()
               if line.startswith("vote-0"))
    assert "forced" in row and "ScaleDown" in row, row

    forced = [e for e in cluster.events(ns) if e["reason"] == "ForceDeleted"]
    assert forced, [e["reason"] for e in cluster.events(ns)]
    assert forced[0]["type"] == "Warning" and "vote-0" in forced[0]["message"], forced[0]
