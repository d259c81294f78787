"""Container restart back-off, as the kubelet's flowcontrol.Backoff does it.

Contract: for each container, the first restart after an exit is immediate;
while exits keep coming, restart k (k >= 2) waits base * 2^(k-2), capped at
`cap` (kubelet: base 10 s, cap 5 min). If an exit comes more than 2*cap after
the previous one (i.e. the container ran ~10 min), the sequence starts over.
"""


class Backoff:
    def __init__(self, base: float = 10.0, cap: float = 300.0):
        self.base = base
        self.cap = cap
        self._delay: float | None = None
        self._last_exit: float | None = None

    def next_delay(self, finished_at: float) -> float:
        """Delay before restarting a container that exited at finished_at."""
        expired = self._last_exit is None or finished_at - self._last_exit > 2 * self.cap
        if self._delay is None or expired:
            self._delay = self.base
            self._last_exit = finished_at
            return 0.0
        delay = self._delay
        self._delay = min(self._delay * 2, self.cap)
        self._last_exit = finished_at
        return delay


def go_duration(seconds: float) -> str:
    """Format like Go's time.Duration.String(): 10s, 1m20s, 5m0s, 200ms."""
    if seconds < 1:
        ms = round(seconds * 1000)
        return f"{ms}ms" if ms else "0s"
    total = round(seconds, 3)
    m, s = divmod(total, 60)
    h, m = divmod(int(m), 60)
    s_str = f"{s:g}s" if s != int(s) else f"{int(s)}s"
    if h:
        return f"{h}h{m}m{s_str}"
    if m:
        return f"{m}m{s_str}"
    return s_str
