"""Probe and lifecycle-hook handlers: exec, httpGet, tcpSocket, sleep.

Contract: run_handler(handler, ctx, timeout, lifecycle=False) returns (ok, message).
- httpGet: host defaults to the pod IP, port may be a number or a named
  containerPort of the handler's own container, path (a query included) and
  httpHeaders as given. A probe succeeds on 200 <= status < 400 (redirects are
  not followed), User-Agent kube-probe/1.32. A lifecycle hook (lifecycle=True)
  succeeds on any HTTP reply: only a transport error fails it, and its
  User-Agent is kube-lifecycle/1.32 (pkg/kubelet/lifecycle/handlers.go
  runHTTPHandler + pkg/probe/http NewRequestForHTTPGetAction: the status code
  is never looked at).
- tcpSocket: success when a TCP connection opens.
- exec: runs the command with the container's env and cwd; success is exit 0;
  a timeout is a failure.
- sleep (hooks only): sleeps `seconds`, capped by `timeout`; always ok. It does
  not end when the container exits (runSleepHandler returns only when its time
  is up); the caller bounds it by the grace period.
- grpc and unknown handlers fail with a message.
"""
import asyncio
import ssl
from dataclasses import dataclass

import aiohttp

from .runtime import run_exec


@dataclass
class HandlerContext:
    pod_ip: str
    env: dict
    cwd: str
    ports: list          # the container's `ports` list


def resolve_port(port, ports: list) -> int:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in ports or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"unknown port {port!r}")


_NO_VERIFY = ssl.create_default_context()
_NO_VERIFY.check_hostname = False
_NO_VERIFY.verify_mode = ssl.CERT_NONE


async def run_handler(handler: dict, ctx: HandlerContext, timeout: float,
                      lifecycle: bool = False) -> tuple[bool, str]:
    try:
        if "exec" in handler:
            code, out = await run_exec(list(handler["exec"].get("command") or []), ctx.env, ctx.cwd, timeout)
            return code == 0, out.decode(errors="replace")[-1024:]
        if "httpGet" in handler:
            h = handler["httpGet"]
            scheme = (h.get("scheme") or "HTTP").lower()
            host = h.get("host") or ctx.pod_ip
            port = resolve_port(h.get("port"), ctx.ports)
            path = h.get("path") or "/"
            if not path.startswith("/"):
                path = "/" + path
            headers = {"User-Agent": "kube-lifecycle/1.32" if lifecycle else "kube-probe/1.32", "Accept": "*/*"}
            for hh in h.get("httpHeaders") or []:
                headers[hh["name"]] = hh["value"]
            url = f"{scheme}://{host}:{port}{path}"
            to = aiohttp.ClientTimeout(total=timeout)
            async with aiohttp.ClientSession(timeout=to) as s:
                async with s.get(url, headers=headers, allow_redirects=False,
                                 ssl=_NO_VERIFY if scheme == "https" else None) as r:
                    await r.read()
                    if lifecycle or 200 <= r.status < 400:
                        return True, f"HTTP {r.status}"
                    return False, f"HTTP probe failed with statuscode: {r.status}"
        if "tcpSocket" in handler:
            t = handler["tcpSocket"]
            host = t.get("host") or ctx.pod_ip
            port = resolve_port(t.get("port"), ctx.ports)
            _r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            w.close()
            return True, "connected"
        if "sleep" in handler:
            await asyncio.sleep(min(float(handler["sleep"].get("seconds", 0)), max(timeout, 0)))
            return True, "slept"
        return False, f"unsupported handler {sorted(handler)}"
    except asyncio.TimeoutError:
        return False, "timeout"
    except (OSError, aiohttp.ClientError, ValueError) as e:
        return False, str(e) or type(e).__name__
