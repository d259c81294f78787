#!/usr/bin/python3
"""Measures medivote-controller's footprint while a test suite drives it, to size the Deployment's resources.

    scripts/measure-operator.py [--build-dir build] [--interval 0.2] -- PYTEST ARGS (default: tests/e2e -q)

Runs `/usr/bin/python3 -m pytest ARGS` with MEDIVOTE_BUILD_DIR set, and meanwhile samples every process whose
executable is BUILD/medivote-controller from /proc: VmRSS and VmHWM (peak RSS) from /proc/PID/status, CPU time
(utime + stime) from /proc/PID/stat. Reports, over all operator processes seen:
  - peak RSS (the largest VmHWM) and the RSS distribution of the samples (median, p95);
  - CPU: each process's average (CPU time / lifetime) and the highest rate over one sampling window of ~1 s.
Exit status: pytest's.
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")


def operator_pids(exe):
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/exe") == exe:
                    out.append(int(pid))
            except OSError:
                pass
    return out


def sample(pid):
    """(rss kB, hwm kB, cpu seconds) or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return None
    if "VmRSS" not in status:
        return None  # a zombie
    cpu = (int(fields[11]) + int(fields[12])) / HZ
    return int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0]), cpu


class Sampler(threading.Thread):
    def __init__(self, exe, interval):
        super().__init__(daemon=True)
        self.exe, self.interval = exe, interval
        self.stop_event = threading.Event()
        self.rss, self.hwm = [], 0
        self.procs = {}  # pid -> {first, last, cpu0, cpu, window: [(t, cpu)]}
        self.peak_rate = 0.0

    def run(self):
        while not self.stop_event.is_set():
            now = time.monotonic()
            for pid in operator_pids(self.exe):
                s = sample(pid)
                if not s:
                    continue
                rss, hwm, cpu = s
                self.rss.append(rss)
                self.hwm = max(self.hwm, hwm)
                p = self.procs.setdefault(pid, {"first": now, "cpu0": cpu, "window": []})
                p["last"], p["cpu"] = now, cpu
                p["window"].append((now, cpu))
                while len(p["window"]) > 1 and now - p["window"][0][0] > 1.0:
                    t0, c0 = p["window"].pop(0)
                    self.peak_rate = max(self.peak_rate, (cpu - c0) / (now - t0))
            self.stop_event.wait(self.interval)

    def report(self):
        lines = [f"operator processes sampled: {len(self.procs)}, samples: {len(self.rss)}"]
        if self.rss:
            q = sorted(self.rss)
            lines.append(f"RSS: peak (VmHWM) {self.hwm / 1024:.1f} MiB, median {statistics.median(q) / 1024:.1f} MiB, "
                         f"p95 {q[int(0.95 * (len(q) - 1))] / 1024:.1f} MiB")
            averages = [(p["cpu"] - p["cpu0"]) / (p["last"] - p["first"]) for p in self.procs.values()
                        if p.get("last", 0) - p["first"] > 1]
            if averages:
                lines.append(f"CPU: average per process {statistics.mean(averages):.3f} cores (max "
                             f"{max(averages):.3f}), highest 1 s window {self.peak_rate:.3f} cores")
        return "\n".join(lines)


def main(argv):
    if "--" in argv:
        own, pytest_args = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    else:
        own, pytest_args = argv, []
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(repo, "build"))
    ap.add_argument("--interval", type=float, default=0.2)
    a = ap.parse_args(own)
    build = os.path.abspath(a.build_dir)
    exe = os.path.realpath(os.path.join(build, "medivote-controller"))
    sampler = Sampler(exe, a.interval)
    sampler.start()
    env = dict(os.environ, MEDIVOTE_BUILD_DIR=build)
    rc = subprocess.call(["/usr/bin/python3", "-m", "pytest", *(pytest_args or ["tests/e2e", "-q"])], cwd=repo,
                         env=env)
    sampler.stop_event.set()
    sampler.join()
    print(sampler.report())
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
