"""What the benchmarks share. Import it before anything of tests/e2e:

* on import: tests/e2e on sys.path, and MEDIVOTE_BUILD_DIR taken from a `--build-dir DIR` argument, since e2elib
  reads the build directory when it is first imported;
* `add_run_options(ap, keep=True, controller=True)`: the options every benchmark takes (--build-dir, and --keep DIR,
  --controller PATH where the benchmark offers them);
* `prepare_run(opts, prefix)`: applies --controller, makes the work directory (--keep's, or a fresh one named by
  `prefix`) and prints which controller runs where; returns the directory;
* `end_run(opts, workdir, *running)`: stops what runs (operators first) and removes the work directory unless kept.
"""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
for _i, _a in enumerate(sys.argv):
    if _a == "--build-dir" and _i + 1 < len(sys.argv):
        os.environ["MEDIVOTE_BUILD_DIR"] = os.path.abspath(sys.argv[_i + 1])


def add_run_options(ap, keep=True, controller=True):
    ap.add_argument("--build-dir", default=None, help="the build whose binaries run (default: build/)")
    if keep:
        ap.add_argument("--keep", default=None, help="keep the working directory (logs) here")
    if controller:
        ap.add_argument("--controller", default=None, help="another medivote-controller binary to measure")


def prepare_run(opts, prefix):
    import e2elib
    if getattr(opts, "controller", None):
        e2elib.CONTROLLER = os.path.abspath(opts.controller)
    workdir = getattr(opts, "keep", None) or tempfile.mkdtemp(prefix=prefix)
    os.makedirs(workdir, exist_ok=True)
    print(f"controller: {e2elib.CONTROLLER}; work dir {workdir}", flush=True)
    return workdir


def end_run(opts, workdir, *running):
    """The end of a run: stops what is running, in the order given (operators before their API server; None skipped),
    then removes the work directory unless --keep named it."""
    for thing in running:
        if thing is not None:
            thing.stop()
    remove_unless_kept(opts, workdir)


def remove_unless_kept(opts, workdir):
    """The end of a run: its work directory goes, unless --keep named it."""
    import shutil
    if not getattr(opts, "keep", None):
        shutil.rmtree(workdir, ignore_errors=True)


def cpu_seconds(pid):
    """User + system CPU time of the process so far (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_ready(proc, log_path, interval=0.05):
    """Returns once the operator `proc` (logging to `log_path`) answers /readyz 200; fails if it exits first."""
    import urllib.request
    from e2elib import log_records, poll

    def port():
        assert proc.poll() is None, open(log_path).read()[-3000:]
        for r in log_records(open(log_path).read()):
            if r.get("msg") == "serving health probes":
                return r["address"].rsplit(":", 1)[1]
        return None
    readyz = f"http://127.0.0.1:{poll(port, 60, 'the probe server', interval=min(interval, 0.05))}/readyz"

    def ready():
        assert proc.poll() is None, open(log_path).read()[-3000:]
        try:
            return urllib.request.urlopen(readyz, timeout=5).status == 200
        except OSError:
            return False
    poll(ready, 300, "/readyz", interval=interval)
