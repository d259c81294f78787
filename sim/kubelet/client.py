"""Minimal Kubernetes REST client over aiohttp.

Contract:
- Every method takes an API path (e.g. "/api/v1/namespaces/ns/pods/p") and
  returns the decoded JSON body of a 2xx answer.
- A non-2xx answer raises ApiError carrying the HTTP code and the Status
  body's reason/message (reason "" when the body is not a Status).
- Transport failures raise aiohttp.ClientError / asyncio.TimeoutError as is.
- watch() is in watch.py; it uses stream().
"""
import asyncio
import json
from urllib.parse import urlencode

import aiohttp

from .kubeconfig import KubeConfig

USER_AGENT = "kubelet-sim/1.0 (linux/amd64) medivote"


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, body=None):
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.body = body


class KubeClient:
    def __init__(self, config: KubeConfig, request_timeout: float = 15.0):
        self.config = config
        self._ssl = config.ssl_context()
        self._timeout = request_timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self):
        await self.open()
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def open(self):
        if self._session is None:
            conn = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False, limit=32)
            headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
            headers.update(self.config.auth_headers())
            self._session = aiohttp.ClientSession(connector=conn, headers=headers)

    async def close(self):
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str, params: dict | None = None) -> str:
        u = self.config.server + path
        if params:
            u += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        return u

    async def request(self, method: str, path: str, params=None, body=None,
                      content_type: str = "application/json"):
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        async with self._session.request(method, self.url(path, params), data=data,
                                         headers=headers, timeout=timeout) as resp:
            raw = await resp.read()
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = raw.decode(errors="replace")
            if resp.status >= 300:
                if isinstance(doc, dict) and doc.get("kind") == "Status":
                    raise ApiError(resp.status, doc.get("reason", ""), doc.get("message", ""), doc)
                raise ApiError(resp.status, "", str(doc)[:500], doc)
            return doc

    async def get(self, path, params=None):
        return await self.request("GET", path, params)

    async def create(self, path, body, params=None):
        return await self.request("POST", path, params, body)

    async def replace(self, path, body, params=None):
        return await self.request("PUT", path, params, body)

    async def merge_patch(self, path, body, params=None):
        return await self.request("PATCH", path, params, body, "application/merge-patch+json")

    async def delete(self, path, options: dict | None = None, params=None):
        body = None
        if options is not None:
            body = {"kind": "DeleteOptions", "apiVersion": "v1", **options}
        return await self.request("DELETE", path, params, body)

    def stream(self, path: str, params: dict, read_timeout: float):
        """An aiohttp response context for a streaming GET (the caller reads the body)."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout, sock_read=read_timeout)
        return self._session.get(self.url(path, params), timeout=timeout)


def pod_path(namespace: str, name: str, sub: str | None = None) -> str:
    p = f"/api/v1/namespaces/{namespace}/pods/{name}"
    return p + "/" + sub if sub else p


async def sleep_or(event: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; return True early if `event` gets set."""
    try:
        await asyncio.wait_for(event.wait(), timeout=max(0.0, seconds))
        return True
    except asyncio.TimeoutError:
        return False
