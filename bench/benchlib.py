"""What the benchmarks share. Import it before anything of tests/e2e:

* on import: tests/e2e on sys.path, and MEDIVOTE_BUILD_DIR taken from a `--build-dir DIR` argument, since e2elib
  reads the build directory when it is first imported;
* `add_run_options(ap, keep=True, controller=True)`: the options every benchmark takes (--build-dir, and --keep DIR,
  --controller PATH where the benchmark offers them);
* `prepare_run(opts, prefix)`: applies --controller, makes the work directory (--keep's, or a fresh one named by
  `prefix`) and prints which controller runs where; returns the directory.
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
