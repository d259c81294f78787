"""Fixtures for the reference workloads' suite: the real binaries, run from the build dir on 127.0.0.1 with
ephemeral ports and temp data dirs.

Test modules import them by name (`from workload_fixtures import ...`); this is not a conftest.py, so that
tests/sim's `from conftest import ...` always finds tests/sim/conftest.py.

- `BUILD_DIR`: env MEDIVOTE_BUILD_DIR, default <repo>/build; the binaries are BUILD_DIR/workloads/<name>.
  A missing binary fails the test (it is never skipped).
- `workloads`: factory fixture; `workloads.vote_service(*args, data_dir=None, env=None)` and
  `workloads.static_server(*args, env=None)` start a process and wait for its "listening on http://H:P" line.
  Every process is SIGKILLed (if still alive) and reaped at test end; teardown fails if one survives.
Helpers: `poll(fn, timeout, what)` returns fn()'s first truthy value or fails; `Http` is a tiny client that can
bind its source address (for allowlist tests) and keep a connection alive.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "sim"))
from simlib import poll  # noqa: E402,F401  (re-exported for the suite)
BUILD_DIR = os.path.abspath(os.environ.get("MEDIVOTE_BUILD_DIR") or os.path.join(REPO, "build"))


def binary(name):
    path = os.path.join(BUILD_DIR, "workloads", name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not built (set MEDIVOTE_BUILD_DIR or build the '{name}' target)")
    return path


class Reply:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<{self.status} {self.raw[:200]!r}>"


class Http:
    """HTTP/1.1 to host:port. `source` binds the client's address (e.g. 127.0.0.2). One connection per request
    unless used through `session()`."""

    def __init__(self, host, port, source=None, timeout=10):
        self.host, self.port, self.source, self.timeout = host, port, source, timeout

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                          source_address=(self.source, 0) if self.source else None)

    def request(self, method, path, body=None, headers=None, conn=None):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c = conn or self.connection()
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Reply(r.status, r.headers, r.read())
        finally:
            if conn is None:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)


class Proc:
    """A started workload: its process, log file and (once listening) address."""

    def __init__(self, argv, env, log_path, cwd=None):
        self.argv, self.log_path = argv, log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True)
        self.host = self.port = None

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_listening(self, timeout=10):
        def listening():
            if self.p.poll() is not None:
                raise AssertionError(f"{self.argv[0]} exited {self.p.returncode} before listening:\n{self.output()}")
            m = re.search(r"listening on http://(\[[^\]]+\]|[^:\s]+):(\d+)", self.output())
            return m
        m = poll(listening, timeout, f"{os.path.basename(self.argv[0])} to listen")
        self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
        return self

    def http(self, source=None):
        return Http(self.host, self.port, source=source)

    def signal(self, signo):
        self.p.send_signal(signo)

    def wait_exit(self, timeout=10):
        """The exit status once the process ended (negative: killed by that signal)."""
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.argv[0]} still running after {timeout}s:\n{self.output()}") from None

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.p.wait(10)
        self.log.close()


class VoteService(Proc):
    def __init__(self, argv, env, log_path, data_dir):
        super().__init__(argv, env, log_path)
        self.data_dir = data_dir

    def events(self):
        """events.log as [(unix_ms, event, {key: value})]."""
        path = os.path.join(self.data_dir, "events.log")
        if not os.path.exists(path):
            return []
        out = []
        for line in open(path).read().splitlines():
            parts = line.split()
            out.append((int(parts[0]), parts[1], dict(p.split("=", 1) for p in parts[2:])))
        return out

    def event_names(self):
        return [e[1] for e in self.events()]

    def saved(self):
        """The votes of votes.json ({id: choice}), or None when there is no file."""
        path = os.path.join(self.data_dir, "votes.json")
        if not os.path.exists(path):
            return None
        doc = json.load(open(path))
        assert doc["format"] == "medivote-vote-service/v1" and doc["count"] == len(doc["votes"])
        return doc["votes"]

    def vote(self, vid, choice="yes", conn=None):
        return self.http().post("/votes", {"id": vid, "choice": choice}, conn=conn)

    def state(self):
        return self.http().get("/shutdown").json["state"]


class Workloads:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.started = []

    def _env(self, env):
        e = {k: v for k, v in os.environ.items() if k not in ("POD_IP", "SHUTDOWN_TOKEN", "DATA_DIR", "STATIC_ROOT")}
        e.update(env or {})
        return e

    def vote_service(self, *args, data_dir=None, env=None, listen="127.0.0.1:0", wait=True):
        data_dir = str(data_dir or self.tmp / "data")
        argv = [binary("medivote-vote-service"), "--listen", listen, "--data-dir", data_dir, *args]
        p = VoteService(argv, self._env(env), str(self.tmp / f"vote-service-{len(self.started)}.log"), data_dir)
        self.started.append(p)
        return p.wait_listening() if wait else p

    def static_server(self, *args, env=None, listen="127.0.0.1:0", wait=True):
        argv = [binary("medivote-static-server"), "--listen", listen, *args]
        p = Proc(argv, self._env(env), str(self.tmp / f"static-server-{len(self.started)}.log"))
        self.started.append(p)
        return p.wait_listening() if wait else p

    def stop_all(self):
        for p in self.started:
            p.stop()
        survivors = [p.p.pid for p in self.started if p.p.poll() is None]
        assert not survivors, f"workload processes survived: {survivors}"


@pytest.fixture
def workloads(tmp_path):
    w = Workloads(tmp_path)
    try:
        yield w
    finally:
        w.stop_all()
