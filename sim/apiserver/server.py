"""Assembly of the simulator: configuration, authentication, routing, discovery/OpenAPI, audit, faults.

Authentication: a client certificate signed by the sim CA (CN = user, O = groups) or a bearer token
from the state dir. In plain-HTTP mode, requests without credentials are `system:unsecured` (system:masters). /healthz, /livez, /readyz, /version and discovery of OpenAPI are public. There is no
RBAC: every authenticated user may do everything except /admin, which needs the group system:masters.
Every answered non-admin request is appended to the audit log (see admin.py)."""
import asyncio
import datetime
import json
import logging
import os
import socket
import ssl

from aiohttp import web

from . import discovery, openapi_v2, requestinfo
from .admin import Admin
from .controllers import Controllers
from .core import Api
from .crd import CrdSync
from .errors import ApiError, page_not_found
from .handlers import Handlers
from .resources import Registry
from .store import Store
from .tls import write_credentials
from .tokenrequest import TokenIssuer

log = logging.getLogger("sim.apiserver")
PUBLIC = ("/healthz", "/livez", "/readyz", "/version")
VERSION = {"major": "1", "minor": "32", "emulationMajor": "1", "emulationMinor": "32", "minCompatibilityMajor": "1",
           "minCompatibilityMinor": "31", "gitVersion": "v1.32.0-sim", "gitCommit": "medivote-sim",
           "gitTreeState": "clean", "buildDate": "2026-11-25T00:00:00Z", "goVersion": "go1.23.5",
           "compiler": "gc", "platform": "linux/amd64"}


class Config:
    def __init__(self, state_dir, host="127.0.0.1", port=0, http=False, bookmark_interval=60.0, history=1000,
                 watch_list=False):
        self.state_dir, self.host, self.port, self.http = state_dir, host, port, http
        self.bookmark_interval, self.history, self.watch_list = bookmark_interval, history, watch_list


class Server:
    def __init__(self, cfg):
        self.cfg = cfg
        self.registry = Registry()
        self.store = Store(cfg.history)
        for rt in self.registry.types.values():
            self.store.ensure(rt.key)
        self.api = Api(self.registry, self.store)
        self.crds = CrdSync(self.registry, self.store)
        self.handlers = Handlers(self)
        self.tokens = TokenIssuer(self.store)
        self.admin = Admin(self)
        self.open_watches = set()
        self.creds = None
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.api.create(self.registry.get("", "v1", "namespaces"), "", {"metadata": {"name": ns}})
        self.api.create(self.registry.get("", "v1", "serviceaccounts"), "default",
                        {"metadata": {"name": "default"}})

    # ---- authentication ----------------------------------------------------------------------
    def authenticate(self, request):
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            if tok in self.creds.tokens:
                return self.creds.tokens[tok]
            return self.tokens.authenticate(tok)  # a TokenRequest token, or None
        cert = request.transport.get_extra_info("peercert") if request.transport else None
        if cert:
            cn, orgs = None, []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                return cn, orgs + ["system:authenticated"]
        if self.cfg.http:
            # Like the historical insecure port: plain HTTP without credentials is fully privileged
            # (client-go does not send bearer tokens over plain HTTP).
            return "system:unsecured", ["system:masters", "system:authenticated"]
        return None

    # ---- entry point -------------------------------------------------------------------------
    async def entry(self, request):
        path = request.path
        if path.startswith("/admin/"):
            user = self.authenticate(request)
            if user is None or "system:masters" not in user[1]:
                return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                          "message": "admin credentials required", "reason": "Forbidden",
                                          "code": 403}, status=403)
            return await self.admin.handle(request)
        await self.admin.wait_hang()
        user = self.authenticate(request)
        ri = requestinfo.parse(request.method, path, request.query, self.registry)
        name, groups = user if user else ("system:anonymous", ["system:unauthenticated"])
        entry = {"time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                 "user": name, "groups": list(groups), "code": 200, "method": request.method,
                 "path": request.path_qs,
                 # audit.k8s.io/v1 Event.userAgent: the client's User-Agent header as sent.
                 "userAgent": request.headers.get("User-Agent", "")}
        entry.update(ri.as_dict())
        if not ri.is_resource:
            entry["verb"] = request.method.lower()
        if ri.verb == "watch" and user is not None:
            self.admin.record(entry)  # visible while the watch is open; code set when it ends
        code = 500
        try:
            if user is None and path not in PUBLIC:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            path_qs = request.path_qs
            delay = self.admin.delay_for(request.method, path_qs)
            if delay:
                await asyncio.sleep(delay)
            rule = self.admin.fault_for(request.method, path_qs)
            if rule is not None:
                body, headers = Admin.fault_body(rule)
                resp = web.Response(status=body["code"], body=json.dumps(body).encode(),
                                    headers={"Content-Type": "application/json", **headers})
            else:
                resp = await self.route(request, ri)
            code = resp.status
            return resp
        except ApiError as e:
            code = e.code
            if e.plain:
                return web.Response(status=e.code, text=e.plain, headers={"X-Content-Type-Options": "nosniff"})
            return web.Response(status=e.code, body=json.dumps(e.body, separators=(",", ":")).encode(),
                                headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private",
                                         **e.headers})
        except (asyncio.CancelledError, ConnectionResetError):
            code = 499
            raise
        except Exception as e:  # a bug: answer like the real server's panic handler
            log.exception("internal error")
            code = 500
            body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": f"Internal error occurred: {e!r}", "reason": "InternalError", "code": 500}
            return web.Response(status=500, body=json.dumps(body).encode(),
                                headers={"Content-Type": "application/json"})
        finally:
            entry["code"] = code
            if not (ri.verb == "watch" and user is not None):
                self.admin.record(entry)

    async def route(self, request, ri):
        path = request.path.rstrip("/") or "/"
        if request.method == "GET":
            if path in ("/healthz", "/livez", "/readyz"):
                return web.Response(text="ok", headers={"X-Content-Type-Options": "nosniff"})
            if path == "/version":
                return web.json_response(VERSION)
            if path in ("/api", "/apis"):
                return self.discovery_root(request, path == "/api")
            if path.startswith("/openapi/"):
                return self.openapi(request, path)
        if ri.is_resource:
            return await self.handlers.handle(request, ri)
        if request.method == "GET":
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "api" and parts[1] == "v1":
                return web.json_response(discovery.resource_list(self.registry, "", "v1"))
            if len(parts) == 3 and parts[0] == "apis" and self.registry.in_gv(parts[1], parts[2]):
                return web.json_response(discovery.resource_list(self.registry, parts[1], parts[2]))
            if len(parts) == 2 and parts[0] == "apis" and parts[1] in self.registry.groups():
                return web.json_response(discovery.api_group(parts[1], self.registry.groups()[parts[1]]))
        raise page_not_found()

    def discovery_root(self, request, legacy):
        ctype = discovery.wants_aggregated(request.headers.get("Accept"))
        if ctype is None:
            body = discovery.api_versions() if legacy else discovery.api_group_list(self.registry)
            return web.json_response(body)
        data = json.dumps(discovery.aggregated(self.registry, legacy, ctype), separators=(",", ":")).encode()
        tag = discovery.etag(data)
        headers = {"Cache-Control": "public", "Vary": "Accept", "Etag": tag}
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=data, headers={"Content-Type": ctype, **headers})

    def _openapi_docs(self):
        docs = {}
        docs["api/v1"] = json.dumps(discovery.openapi_gv(self.registry, "", "v1")).encode()
        for g, versions in self.registry.groups().items():
            for v in versions:
                docs[f"apis/{g}/{v}"] = json.dumps(discovery.openapi_gv(self.registry, g, v)).encode()
        return docs

    def openapi(self, request, path):
        if path == "/openapi/v2":
            return openapi_v2.respond(self.registry, request.headers.get("Accept", ""))
        if path == "/openapi/v3":
            body = json.dumps(discovery.openapi_index(self.registry, self._openapi_docs())).encode()
            return web.Response(body=body, headers={"Content-Type": "text/plain; charset=utf-8",
                                                    "Cache-Control": "no-cache, private"})
        if path.startswith("/openapi/v3/"):
            docs = self._openapi_docs()
            key = path[len("/openapi/v3/"):]
            if key not in docs:
                raise page_not_found()
            data = docs[key]
            headers = {"Content-Type": "application/json", "Vary": "Accept", "Etag": discovery.etag(data)}
            headers["Cache-Control"] = "public, immutable" if request.query.get("hash") else "no-cache, private"
            return web.Response(body=data, headers=headers)
        raise page_not_found()

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.cfg.host, self.cfg.port))
        sock.listen(128)
        port = sock.getsockname()[1]
        scheme = "http" if self.cfg.http else "https"
        self.creds, paths = write_credentials(self.cfg.state_dir, self.cfg.host, port, scheme)
        ssl_ctx = None
        if paths:
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.load_cert_chain(paths[0], paths[1])
            ssl_ctx.load_verify_locations(paths[2])
            ssl_ctx.verify_mode = ssl.CERT_OPTIONAL
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.entry)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.SockSite(self.runner, sock, ssl_context=ssl_ctx, shutdown_timeout=0.5)
        await site.start()
        with open(os.path.join(self.cfg.state_dir, "ca.crt")) as f:
            self.controllers = Controllers(self.api, self.registry, self.store, root_ca=f.read())
        self.controllers.start()
        with open(os.path.join(self.cfg.state_dir, "port"), "w") as f:
            f.write(str(port))
        with open(os.path.join(self.cfg.state_dir, "server-url"), "w") as f:
            f.write(f"{scheme}://{self.cfg.host}:{port}")
        log.info("serving on %s://%s:%d", scheme, self.cfg.host, port)
        return port

    async def stop(self):
        self.store.close_all_watches()
        await self.runner.cleanup()
