"""Probe workers: startup, readiness and liveness, with Kubernetes' timing.

Contract: ProbeWorker(kind, probe, ctx, on_change).run() waits
initialDelaySeconds, then probes every periodSeconds with timeoutSeconds. The
result becomes True after successThreshold consecutive successes and False
after failureThreshold consecutive failures; on_change(kind, result, message)
is called on every change of the result. Initial results: readiness False,
liveness True, startup False. Defaults: period 10 s, timeout 1 s, success 1,
failure 3. The worker runs until cancelled.
"""
import asyncio

from .handlers import HandlerContext, run_handler

INITIAL = {"readiness": False, "liveness": True, "startup": False}


class ProbeWorker:
    def __init__(self, kind: str, probe: dict, ctx: HandlerContext, on_change):
        self.kind = kind
        self.probe = probe
        self.ctx = ctx
        self.on_change = on_change
        self.result = INITIAL[kind]

    async def run(self):
        p = self.probe
        period = max(int(p.get("periodSeconds") or 10), 1)
        timeout = max(int(p.get("timeoutSeconds") or 1), 1)
        succ_thr = max(int(p.get("successThreshold") or 1), 1)
        fail_thr = max(int(p.get("failureThreshold") or 3), 1)
        await asyncio.sleep(int(p.get("initialDelaySeconds") or 0))
        successes = failures = 0
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            ok, msg = await run_handler(p, self.ctx, timeout)
            if ok:
                successes, failures = successes + 1, 0
                if not self.result and successes >= succ_thr:
                    self.result = True
                    await self.on_change(self.kind, True, msg)
            else:
                failures, successes = failures + 1, 0
                if self.result and failures >= fail_thr:
                    self.result = False
                    await self.on_change(self.kind, False, msg)
                elif self.kind == "startup" and failures >= fail_thr:
                    # A startup probe that keeps failing gets the container killed.
                    failures = 0
                    await self.on_change(self.kind, False, msg)
            await asyncio.sleep(max(0.0, period - (loop.time() - t0)))
