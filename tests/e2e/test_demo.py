"""Issue 8 §6: scripts/demo.sh, run as the README says but without its set-up step (the test command built
everything already): it exits 0, ends with a tally that lost no vote, prints the shutdown timeline, and leaves no
process behind. Issue 12: `scripts/demo.sh --stack`, the six MediVote services with the same timeline, exits 0 only
when each of its checks passed (tests/e2e/samples_lib.py), with every check printed."""
import os
import re
import signal
import subprocess

import pytest

from e2elib import BUILD, REPO
from samples_lib import isolation_unavailable

pytestmark = pytest.mark.needs_sim_apiserver(
    reason="scripts/demo.sh starts its own simulated cluster; it does not use the existing one")

DEMO = os.path.join(REPO, "scripts", "demo.sh")
TALLY = re.compile(r"^\s*votes: acknowledged=(\d+) persisted=(\d+) lost=(\d+)\s*$", re.M)


def processes_under(path):
    """PIDs of live processes whose working directory or command line lies under `path`."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().split(")")[-1].split()[0]
        except OSError:
            continue
        if (cwd.startswith(path) or path in cmd) and state != "Z":
            pids.append(int(pid))
    return pids


@pytest.fixture
def demo(tmp_path):
    """Runs scripts/demo.sh (in its own session, with TMPDIR in tmp_path); the session is killed at teardown if it
    is still running."""
    procs = []

    def run(*args, timeout=180):
        env = dict(os.environ, MEDIVOTE_DEMO_SKIP_SETUP="1", MEDIVOTE_BUILD_DIR=BUILD, NO_COLOR="1",
                   TMPDIR=str(tmp_path))
        p = subprocess.Popen([DEMO, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             start_new_session=True)
        procs.append(p)
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out
    yield run
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_demo_loses_no_vote_and_leaves_no_process(demo, tmp_path):
    code, out = demo()
    print(out)
    assert code == 0, out[-4000:]
    tallies = TALLY.findall(out)
    assert len(tallies) == 1, out[-4000:]
    acknowledged, persisted, lost = map(int, tallies[0])
    assert lost == 0 and persisted == acknowledged and acknowledged > 1000, tallies[0]
    for step in ("Scale the vote service down", "Upgrade the vote service", "Delete both services"):
        assert step in out
    for stage in ("Draining", "Requested", "Accepted", "saved"):
        assert re.search(rf"vote-service-\d\s+{stage}\b", out), f"no {stage} row in the timeline"
    assert "demo: no process left behind" in out
    assert processes_under(str(tmp_path)) == []
    assert os.listdir(tmp_path) == [], "the demo removes its work dir"


STACK = ["frontend", "network-dashboard", "network-coordinator", "incentive-system", "blockchain-node", "backend"]


@pytest.mark.skipif(isolation_unavailable() is not None,
                    reason=f"the stack demo isolates pods in namespaces: {isolation_unavailable()}")
def test_stack_demo_checks_each_service_and_the_saved_files(demo, tmp_path):
    code, out = demo("--stack", timeout=300)
    print(out)
    assert code == 0, out[-4000:]
    for service in STACK:
        assert f"== Scale {service} to zero" in out
        assert re.search(rf"^\s*ok\s+{service}\s+\d+ shutdown", out, re.M), f"no passed check of {service}"
    assert re.search(r"^\s*checks: 6 of 6 services as their contract says\s*$", out, re.M), out[-3000:]
    # The timeline: the HTTP stage through the agent, the saves on the claims, the next pods loading them.
    for service, what in (("network-coordinator", "saved"), ("network-coordinator", "loaded"),
                          ("incentive-system", "saved"), ("incentive-system", "loaded"),
                          ("blockchain-node", "Accepted"), ("backend", "Terminating"), ("frontend", "SIGTERM")):
        assert re.search(rf"{service}-\d\s+{what}\b", out), f"no {what} row of {service} in the timeline"
    assert "demo: no process left behind" in out
    assert processes_under(str(tmp_path)) == []
    assert os.listdir(tmp_path) == [], "the demo removes its work dir"

