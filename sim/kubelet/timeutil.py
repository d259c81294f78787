"""Kubernetes time formats.

Contract:
- rfc3339(t): metav1.Time, second precision, UTC, e.g. 2026-11-25T20:09:29Z.
- micro_time(t): metav1.MicroTime, exactly 6 fractional digits, UTC
  (the API server rejects any other precision with 400/422).
- parse(s): accepts both forms (and offsets); returns a POSIX timestamp.
"""
import datetime as _dt
import time as _time


def now() -> float:
    return _time.time()


def rfc3339(t: float | None = None) -> str:
    if t is None:
        t = now()
    return _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(t: float | None = None) -> str:
    if t is None:
        t = now()
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(s: str) -> float:
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    return _dt.datetime.fromisoformat(s).timestamp()
