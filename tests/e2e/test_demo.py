"""Issue 8 §6: scripts/demo.sh, run as the README says but without its set-up step (the test command built
everything already): it exits 0, ends with a tally that lost no vote, prints the shutdown timeline, and leaves no
process behind."""
import os
import re
import signal
import subprocess

import pytest

from e2elib import BUILD, REPO

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

    def run(timeout=180):
        env = dict(os.environ, MEDIVOTE_DEMO_SKIP_SETUP="1", MEDIVOTE_BUILD_DIR=BUILD, NO_COLOR="1",
                   TMPDIR=str(tmp_path))
        p = subprocess.Popen([DEMO], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
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
