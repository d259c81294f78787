"""Fault injection and the request audit log (`/admin/...`, admin credentials only).

Endpoints (JSON bodies; see sim/README.md):
  POST   /admin/faults        {method, path, status, count, retryAfter?, message?}  fail the next `count`
                              requests whose method matches (`*` = any) and whose path+query matches the regex
  GET    /admin/faults        active fault rules;  DELETE /admin/faults  clear them
  POST   /admin/latency       {method, path, seconds, count?}  delay matching requests (count absent = forever)
  DELETE /admin/latency       clear latency rules
  POST   /admin/close-watches close every open watch (clean end of stream)
  POST   /admin/compact       drop all watch history: resuming older watches get ERROR 410, exact lists 410
  POST   /admin/etcd/snapshot remember the objects and the revision (etcdctl snapshot save)
  POST   /admin/etcd/restore  back to that snapshot as kube-apiserver restarted on the restored etcd: objects and
                              revision go back, watch history emptied, every open watch dropped (409 without one)
  POST   /admin/hang          {seconds}  hold every non-admin request unanswered for that long
  GET    /admin/requests      the audit log;  DELETE /admin/requests  clear it
"""
import asyncio
import re
import time

from aiohttp import web

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
           410: "Expired", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}
MESSAGES = {409: "Operation cannot be fulfilled: injected conflict", 429: "Too many requests, please try again later.",
            500: "Internal error occurred: injected fault", 503: "The server is currently unable to handle the request",
            504: "The server was unable to return a response in the time allotted, but may still be processing the "
                 "request"}


AUDIT_MAX = 100000


class Rule:
    def __init__(self, d):
        self.method = (d.get("method") or "*").upper()
        self.path = re.compile(d.get("path") or ".*")
        self.count = d.get("count")
        self.status = int(d.get("status", 500))
        self.retry_after = d.get("retryAfter")
        self.message = d.get("message")
        self.seconds = float(d.get("seconds", 0))
        self.raw = dict(d)

    def matches(self, method, path_qs):
        return (self.method in ("*", method)) and self.path.search(path_qs) is not None and \
            (self.count is None or self.count > 0)

    def take(self):
        if self.count is not None:
            self.count -= 1

    def as_dict(self):
        d = dict(self.raw)
        d["remaining"] = self.count
        return d


class Admin:
    def __init__(self, srv):
        self.srv = srv
        self.faults, self.latency = [], []
        self.hang_until = 0.0
        self.requests = []

    def record(self, entry):
        """Append to the audit log, keeping at most AUDIT_MAX entries (the oldest are dropped)."""
        self.requests.append(entry)
        if len(self.requests) > AUDIT_MAX:
            del self.requests[:len(self.requests) - AUDIT_MAX]

    def fault_for(self, method, path_qs):
        for r in self.faults:
            if r.matches(method, path_qs):
                r.take()
                return r
        return None

    def delay_for(self, method, path_qs):
        total = 0.0
        for r in self.latency:
            if r.matches(method, path_qs):
                r.take()
                total += r.seconds
        return total

    @staticmethod
    def fault_body(rule):
        code = rule.status
        msg = rule.message or MESSAGES.get(code, "injected fault")
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": msg,
                "reason": REASONS.get(code, "InternalError")}
        headers = {}
        details = {}
        if code in (429, 503, 504) or rule.retry_after is not None:
            ra = int(rule.retry_after if rule.retry_after is not None else 1)
            details["retryAfterSeconds"] = ra
            headers["Retry-After"] = str(ra)
        if code == 500:
            details["causes"] = [{"message": msg}]
        if details:
            body["details"] = details
        body["code"] = code
        return body, headers

    async def wait_hang(self):
        while time.monotonic() < self.hang_until:
            await asyncio.sleep(min(0.05, self.hang_until - time.monotonic()))

    async def handle(self, request):
        p, m = request.path, request.method
        body = {}
        if m in ("POST", "PUT"):
            raw = await request.read()
            if raw:
                import json
                body = json.loads(raw)
        if p == "/admin/faults":
            if m == "POST":
                self.faults.append(Rule(body))
                return web.json_response({"faults": [r.as_dict() for r in self.faults]}, status=201)
            if m == "DELETE":
                self.faults.clear()
            return web.json_response({"faults": [r.as_dict() for r in self.faults]})
        if p == "/admin/latency":
            if m == "POST":
                self.latency.append(Rule(body))
                return web.json_response({"latency": [r.as_dict() for r in self.latency]}, status=201)
            if m == "DELETE":
                self.latency.clear()
            return web.json_response({"latency": [r.as_dict() for r in self.latency]})
        if p == "/admin/close-watches" and m == "POST":
            n = self.srv.store.close_all_watches()
            return web.json_response({"closed": n})
        if p == "/admin/compact" and m == "POST":
            return web.json_response({"compactedResourceVersion": str(self.srv.store.compact())})
        if p == "/admin/etcd/snapshot" and m == "POST":
            return web.json_response({"resourceVersion": str(self.srv.store.snapshot())})
        if p == "/admin/etcd/restore" and m == "POST":
            restored = self.srv.store.restore()
            if restored is None:
                return web.json_response({"message": "no etcd snapshot: POST /admin/etcd/snapshot first"}, status=409)
            return web.json_response({"resourceVersion": str(restored[0]), "droppedWatches": restored[1]})
        if p == "/admin/hang" and m == "POST":
            secs = float(body.get("seconds", 0))
            self.hang_until = time.monotonic() + secs
            return web.json_response({"hangSeconds": secs})
        if p == "/admin/requests":
            if m == "DELETE":
                self.requests.clear()
                return web.json_response({"items": []})
            return web.json_response({"items": self.requests})
        if p == "/admin/state" and m == "GET":
            return web.json_response({"resourceVersion": str(self.srv.store.rv),
                                      "openWatches": len(self.srv.open_watches)})
        return web.json_response({"message": "unknown admin endpoint"}, status=404)
