"""List+watch of one collection, with relist on expiry (a small reflector).

Contract: `ListWatch(client, path, on_event).run()` loops forever:
1. LIST path; calls on_sync(items) with the full current set (a relist
   replaces what came before: objects missing from it were deleted).
2. WATCH from the list's resourceVersion with allowWatchBookmarks=true; calls
   on_event(type, obj) for ADDED/MODIFIED/DELETED, in order.
3. A stream that ends quietly (timeoutSeconds) resumes from the last seen
   resourceVersion (bookmarks advance it). An ERROR event (e.g. 410 Expired,
   delivered as a 200 stream event by the real server), an HTTP 410, or any
   transport failure goes back to step 1 after a short back-off.
Callbacks are awaited; they must not block for long.

Contract of LateDelivery(delay_s): later(callback) returns a callback that
queues the call; run() makes each queued call delay_s after it was queued, in
queue order (--watch-delay-ms: a loaded kubelet/apiserver). With delay 0 the
wrapped callback calls through at once.
"""
import asyncio
import json
import logging
import time

from .client import ApiError, KubeClient

log = logging.getLogger("kubelet.watch")

WATCH_TIMEOUT_S = 290


class ListWatch:
    def __init__(self, client: KubeClient, path: str, on_sync, on_event, params: dict | None = None):
        self.client = client
        self.path = path
        self.on_sync = on_sync
        self.on_event = on_event
        self.params = dict(params or {})
        self.synced = asyncio.Event()

    async def run(self):
        backoff = 0.2
        while True:
            try:
                rv = await self._list()
                backoff = 0.2
                while rv is not None:
                    rv = await self._watch(rv)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure means relist
                log.warning("list/watch %s failed: %s", self.path, e)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _list(self) -> str:
        doc = await self.client.get(self.path, self.params or None)
        await self.on_sync(doc.get("items") or [])
        self.synced.set()
        return doc["metadata"]["resourceVersion"]

    async def _watch(self, rv: str) -> str | None:
        """Watch from rv; return the RV to resume from, or None to relist."""
        params = dict(self.params)
        params.update(watch="true", resourceVersion=rv, allowWatchBookmarks="true",
                      timeoutSeconds=str(WATCH_TIMEOUT_S))
        async with self.client.stream(self.path, params, read_timeout=WATCH_TIMEOUT_S + 30) as resp:
            if resp.status == 410:
                return None
            if resp.status >= 300:
                body = await resp.text()
                raise ApiError(resp.status, "", body[:300])
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    typ, obj = ev.get("type"), ev.get("object") or {}
                    if typ == "ERROR":
                        log.info("watch %s: ERROR event %s; relisting", self.path, obj.get("message"))
                        return None
                    new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if new_rv:
                        rv = new_rv
                    if typ == "BOOKMARK":
                        continue
                    await self.on_event(typ, obj)
        return rv


class LateDelivery:
    def __init__(self, delay_s: float):
        self.delay = max(0.0, delay_s)
        self._queue: asyncio.Queue = asyncio.Queue()

    def later(self, callback):
        if self.delay <= 0:
            return callback

        async def queued(*args):
            self._queue.put_nowait((time.monotonic() + self.delay, callback, args))
        return queued

    async def run(self):
        while True:
            due, callback, args = await self._queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await callback(*args)
