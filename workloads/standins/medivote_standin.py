#!/usr/bin/env python3
"""Stand-in for one of the six real MediVote services, as the kubelet simulator runs it (issue 12 §2).

Each behaviour follows a line of the contract, ../../../shared/medivote-services.md ("contract" below), or the public
MediVote code it was read from (CoderJonah/MediVote-main: blockchain_node.py, network_coordinator.py,
network_dashboard.py, backend/main.py, frontend/serve.py, and node_incentive_system.py at commit 134c294). The
comment at each behaviour names its source; README.md has the same as a table.

    medivote_standin.py --service backend|blockchain-node|network-coordinator|incentive-system|frontend|
                                  network-dashboard
                        [--version TAG] [--port N] [--bind ADDR] [--record-dir DIR]
                        [--shutdown-delay S] [--exit-after-save S] [--save-chunks N] [--save-chunk-gap S]
                        [--allowlist A,B | --allowlist none] [--published-bug] [--accept-jwt TOKEN] [--root DIR]

Contract of this program:
- It listens on --bind (default 0.0.0.0: the services were run as pods "with only their listen address changed") and
  the service's port, and prints `listening on http://HOST:PORT` as its first stdout line.
- Paths are relative to the working directory, as in the real code (`./network_data`, `./incentive_data`).
- SIGTERM has the default disposition for every service but the backend (uvicorn handles it): the process dies by the
  signal (exit 143 as the kubelet reports it) and saves nothing. To record the signal first, SIGTERM is blocked in
  every thread and taken by one watcher thread (sigwaitinfo), which records it and raises it again unblocked.
- With --record-dir, every event is one JSON line appended (one write(2) each, so it survives the process dying by a
  signal) to <record-dir>/<HOSTNAME>.jsonl: {"t": wall clock, "event", "service", "pid", ...details}. Events:
  start, request, save, self-sigterm, signal, worker-exit and exit (backend). Without --record-dir nothing is
  recorded.
"""
import argparse
import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time

SERVICES = ("backend", "blockchain-node", "network-coordinator", "incentive-system", "frontend", "network-dashboard")

# Ports: contract table, column "port" (the dashboard's 8084 needs its config file, which the image ships).
PORTS = {"backend": 8001, "blockchain-node": 8546, "network-coordinator": 8083, "incentive-system": 8082,
         "frontend": 8080, "network-dashboard": 8084}

# Allowlists, compared as strings against the peer address as the real code does (`client_ip not in [...]`).
# blockchain_node.py shutdown_handler; contract: "127.0.0.1, localhost, ::1 (else 403 {"error":"Unauthorized"})".
NODE_ALLOWLIST = ("127.0.0.1", "localhost", "::1")
# network_coordinator.py _is_admin_client: admin_ips default; contract: "default 127.0.0.1 and localhost — not ::1".
COORDINATOR_ADMIN_IPS = ("127.0.0.1", "localhost")
# network_coordinator.py _is_trusted_client: trusted_ips, plus 192.168.* and 10.* (full status on GET /).
COORDINATOR_TRUSTED_IPS = ("127.0.0.1", "localhost")
# network_dashboard.py _shutdown_handler; contract: "loopback".
DASHBOARD_ALLOWLIST = ("127.0.0.1", "localhost", "::1")
# backend/main.py internal_shutdown; contract: "`/internal-shutdown`: 127.0.0.1, ::1".
BACKEND_INTERNAL_ALLOWLIST = ("127.0.0.1", "::1", "localhost")
# backend/main.py lifespan: initialize_rate_limiter(trusted_proxies=...), used by secure_rate_limiter._get_real_ip.
BACKEND_TRUSTED_PROXIES = ("127.0.0.1", "::1", "localhost")
# uvicorn 0.24 (backend/requirements.txt) runs with proxy_headers on and forwarded_allow_ips "127.0.0.1".
UVICORN_FORWARDED_ALLOW_IPS = ("127.0.0.1",)

# Delay from the call to the save (if any), else to the self-SIGTERM. Contract, "on shutdown" column and
# "Observed when the real services ran as pods".
SHUTDOWN_DELAYS = {
    "blockchain-node": 0.8,       # sleep(0.3), then _graceful_shutdown sleeps 0.5; "exit 143 at 0.8-0.9 s"
    "network-coordinator": 0.5,   # sleep(0.5), _save_nodes(), SIGTERM; "rewrites nodes.json 0.5 s after the call"
    "incentive-system": 0.5,      # node_incentive_system.py: sleep(0.5), _save_credentials(), SIGTERM
    "network-dashboard": 0.3,     # network_dashboard.py: sleep(0.3), SIGTERM; "exits after 0.3 s"
    "backend": 0.2,               # backend/main.py internal_shutdown: sleep(0.2); "SIGTERM to itself after 0.2-0.5 s"
}
BACKEND_SECURE_SHUTDOWN_DELAY = 0.5   # backend/main.py shutdown (the JWT one): sleep(0.5)

# Saved state, relative to the working directory as in the real code (config "storage.data_dir").
STATE_FILES = {"network-coordinator": os.path.join("network_data", "nodes.json"),
               "incentive-system": os.path.join("incentive_data", "node_credentials.json")}

# The frontend's own folder, as frontend/serve.py serves the folder it lives in.
FRONTEND_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frontend")

# aiohttp's answer when a handler raises (web_protocol.handle_error), what the published incentive system sends.
AIOHTTP_500 = "500 Internal Server Error\n\nServer got itself in trouble"


def utcnow_iso():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat()


# ---- allowlists (pure) ----------------------------------------------------------------------------------------------

def allowlist_admits(allowlist, client_ip):
    """True when the caller may shut the service down. None means "no allowlist" (the incentive system)."""
    return allowlist is None or client_ip in allowlist


def backend_client_ip(peer, forwarded_for):
    """The address the backend judges (contract: "it trusts `X-Forwarded-For` when the peer is loopback").
    1. uvicorn's ProxyHeadersMiddleware: a peer in forwarded_allow_ips has the client replaced by the rightmost
       X-Forwarded-For entry that is not itself trusted (None when all are).
    2. secure_rate_limiter._get_real_ip: a client in trusted_proxies with X-Forwarded-For is judged by the first
       entry when that is a valid IP address; otherwise the client stays as it is."""
    client = peer
    if forwarded_for is not None and peer in UVICORN_FORWARDED_ALLOW_IPS:
        hosts = [h.strip() for h in forwarded_for.split(",")]
        client = next((h for h in reversed(hosts) if h not in UVICORN_FORWARDED_ALLOW_IPS), None)
    if forwarded_for and client in BACKEND_TRUSTED_PROXIES:
        first = forwarded_for.split(",")[0].strip()
        try:
            ipaddress.ip_address(first)
            return first
        except ValueError:
            pass
    return client


# ---- records --------------------------------------------------------------------------------------------------------

class Recorder:
    """Appends one JSON line per event to <dir>/<HOSTNAME>.jsonl (HOSTNAME is the pod name, as the kubelet sets it).
    Each line is a single O_APPEND write, so the backend's two processes can share the file and nothing is lost when
    the process dies by a signal right after. With no dir, records nothing."""

    def __init__(self, record_dir, service):
        self.service = service
        self.path = None
        if record_dir:
            host = os.environ.get("HOSTNAME") or socket.gethostname()
            os.makedirs(record_dir, exist_ok=True)
            self.path = os.path.join(record_dir, f"{host}.jsonl")

    def write(self, event, **details):
        if not self.path:
            return
        line = {"t": time.time(), "event": event, "service": self.service, "pid": os.getpid()}
        line.update(details)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())
        finally:
            os.close(fd)


# ---- signals --------------------------------------------------------------------------------------------------------

TERMINATION_SIGNALS = {signal.SIGTERM}


def block_termination_signals():
    """Called first thing, before any thread exists: every later thread inherits the mask, so only the watcher
    (sigwaitinfo) ever takes SIGTERM."""
    signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATION_SIGNALS)


def die_by_signal(sig):
    """Unblocked in this thread and raised again with the default disposition (set in main()): the process dies by
    the signal, 128+N as the kubelet reports it."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    time.sleep(5)
    os._exit(128 + sig)   # not reached


def watch_signals(rec, on_signal=None):
    """Starts the watcher thread. Each SIGTERM is recorded with its sender (self: the service's own os.kill), then
    on_signal(sig) runs; the default is to die by it, as the real services install no handler."""
    def run():
        while True:
            info = signal.sigwaitinfo(TERMINATION_SIGNALS)
            rec.write("signal", signal=signal.Signals(info.si_signo).name, sender_pid=info.si_pid,
                      self_sent=info.si_pid == os.getpid())
            (on_signal or die_by_signal)(info.si_signo)
    threading.Thread(target=run, name="signals", daemon=True).start()


# ---- saved state ----------------------------------------------------------------------------------------------------

def load_state(path):
    """Reads the saved JSON list the way the real code does at start (a missing or unreadable file leaves the service
    with nothing loaded; the real code logs the error and runs on). Returns (entries by id, what to record)."""
    if not os.path.exists(path):
        return {}, {"path": path, "exists": False}
    with open(path, "rb") as f:
        raw = f.read()
    info = {"path": path, "exists": True, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    try:
        entries = {e["node_id"]: e for e in json.loads(raw)}
    except (ValueError, TypeError, KeyError) as e:
        info["error"] = f"{type(e).__name__}: {e}"
        return {}, info
    info["entries"] = sorted(entries)
    return entries, info


def write_truncate_then_chunks(path, data, chunks, gap):
    """open(path, "w") then write: the file is empty from the open until the first chunk lands, and partial between
    chunks (the real services use aiofiles.open(path, "w") + write; contract: "non-atomically (the file was seen
    empty for a moment)")."""
    step = -(-len(data) // max(1, chunks))
    with open(path, "w") as f:
        for i in range(0, len(data), step):
            if gap:
                time.sleep(gap)
            f.write(data[i:i + step])
            f.flush()


# ---- HTTP -----------------------------------------------------------------------------------------------------------

class Reply:
    def __init__(self, status, body=b"", content_type="application/json; charset=utf-8", headers=None, after=None):
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}
        self.after = after   # runs once the reply has been written (starts the shutdown timer)


def aiohttp_json(status, obj, after=None):
    return Reply(status, json.dumps(obj).encode(), "application/json; charset=utf-8", after=after)


def fastapi_json(status, obj, headers=None, after=None):
    return Reply(status, json.dumps(obj, separators=(",", ":")).encode(), "application/json", headers, after)


class RecordedRequests:
    """Mixin for a request handler: each answered request becomes a `request` record (method, path, peer, status).
    send_response() calls log_request() for every answer, send_error() included."""

    def log_request(self, code="-", size="-"):
        super().log_request(code, size)
        status = int(code) if isinstance(code, int) else code
        self.server.rec.write("request", method=self.command, path=self.path, peer=self.client_address[0],
                              status=status)


class StandinHandler(RecordedRequests, http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (aiohttp and uvicorn both keep connections alive). The service object answers."""
    protocol_version = "HTTP/1.1"

    def dispatch(self):
        t0 = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        reply = self.server.service.handle(self.command, self.path.split("?", 1)[0], self.headers,
                                           self.client_address[0], t0)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        self.wfile.flush()
        if reply.after:
            reply.after()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = dispatch

    def version_string(self):
        return self.server.service.server_header


class ThreadingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


def make_server(bind, port, service, rec, sock=None):
    """A threaded server on (bind, port), or on an already listening socket (the backend's worker)."""
    cls = ThreadingServer
    if ":" in bind:
        cls = type("ThreadingServer6", (ThreadingServer,), {"address_family": socket.AF_INET6})
    if sock is None:
        srv = cls((bind, port), StandinHandler)
    else:
        srv = cls((bind, port), StandinHandler, bind_and_activate=False)
        srv.socket.close()
        srv.socket = sock
        srv.server_address = sock.getsockname()
    srv.service, srv.rec = service, rec
    return srv


# ---- the services ---------------------------------------------------------------------------------------------------

class Service:
    """Routes of one service: {(METHOD, path): fn(headers, peer, t0) -> Reply}. Unknown paths get the framework's
    404, a known path with another method its 405. The shutdown handlers answer at once and start a timer."""
    server_header = "Python/3 aiohttp/3.9"
    allowlist = None

    def __init__(self, opts, rec):
        self.opts, self.rec = opts, rec
        if opts.allowlist is not None:   # tests only: replaces the service's allowlist
            self.allowlist = None if opts.allowlist == "none" else tuple(opts.allowlist.split(","))
        self.routes = {}

    def loaded(self):
        """What the service loaded at start (recorded in the start record)."""
        return None

    def handle(self, method, path, headers, peer, t0):
        fn = self.routes.get((method, path))
        if fn is None and method == "HEAD":
            fn = self.routes.get(("GET", path))
        if fn is not None:
            return fn(headers, peer, t0)
        if any(p == path for (_, p) in self.routes):
            return self.not_allowed(path)
        return self.not_found()

    def not_found(self):   # aiohttp web.HTTPNotFound
        return Reply(404, b"404: Not Found", "text/plain; charset=utf-8")

    def not_allowed(self, path):   # aiohttp web.HTTPMethodNotAllowed
        allow = ",".join(sorted(m for (m, p) in self.routes if p == path))
        return Reply(405, b"405: Method Not Allowed", "text/plain; charset=utf-8", {"Allow": allow})

    def schedule_shutdown(self, t0, delay, save=None):
        """Contract: "A background task then sleeps 0.3-0.8 s, maybe saves state, and the process sends itself
        SIGTERM". Every accepted call starts its own timer (the real handlers create one task per call)."""
        if self.opts.shutdown_delay is not None:
            delay = self.opts.shutdown_delay

        def run():
            time.sleep(max(0.0, t0 + delay - time.monotonic()))
            if save:
                save()
                time.sleep(self.opts.exit_after_save)
            self.rec.write("self-sigterm")
            os.kill(os.getpid(), signal.SIGTERM)
        return lambda: threading.Thread(target=run, name="shutdown", daemon=True).start()

    def refuse_unless_allowed(self, client_ip):
        """403 {"error":"Unauthorized"} for a caller outside the allowlist (blockchain_node.py, network_coordinator.py,
        network_dashboard.py shutdown handlers), else None."""
        if allowlist_admits(self.allowlist, client_ip):
            return None
        return aiohttp_json(403, {"error": "Unauthorized"})

    def accept_shutdown(self, peer, t0, message, save=None, **extra):
        """The aiohttp services' POST /shutdown: 403 outside the allowlist; else 200 {"message", "status":
        "shutting_down", ..., "timestamp"} at once (contract: "The reply is 200 with JSON at once: the shutdown is
        only scheduled") and the timer: the service's delay, the save if any, the self-SIGTERM."""
        refused = self.refuse_unless_allowed(peer)
        if refused:
            return refused
        return aiohttp_json(200, {"message": message, "status": "shutting_down", **extra, "timestamp": utcnow_iso()},
                            after=self.schedule_shutdown(t0, SHUTDOWN_DELAYS[self.opts.service], save))


class StatefulService(Service):
    """A service that loads a JSON list of entries at start and rewrites it on shutdown (truncate, then write)."""
    chunks, chunk_gap = 1, 0.0
    makes_data_dir_at_start = False   # else the save makes it

    def __init__(self, opts, rec):
        super().__init__(opts, rec)
        self.path = STATE_FILES[opts.service]
        if self.makes_data_dir_at_start:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.entries, self._loaded = load_state(self.path)
        if opts.save_chunks is not None:
            self.chunks = opts.save_chunks
        if opts.save_chunk_gap is not None:
            self.chunk_gap = opts.save_chunk_gap

    def loaded(self):
        return self._loaded

    def own_entry(self):
        """The entry this pod adds: the real file holds what the service learnt while running; the stand-in learns
        one entry named after its pod, so the next pod's start record shows whose file it found."""
        raise NotImplementedError

    def save(self):
        entry = self.own_entry()
        self.entries[entry["node_id"]] = entry
        data = json.dumps(list(self.entries.values()), indent=2)
        if not self.makes_data_dir_at_start:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        start = time.time()
        write_truncate_then_chunks(self.path, data, self.chunks, self.chunk_gap)
        self.rec.write("save", path=self.path, abspath=os.path.abspath(self.path), bytes=len(data.encode()),
                       sha256=hashlib.sha256(data.encode()).hexdigest(), start=start, end=time.time(),
                       entries=sorted(self.entries))


class BlockchainNode(Service):
    allowlist = NODE_ALLOWLIST

    def __init__(self, opts, rec):
        super().__init__(opts, rec)
        self.node_id = f"node_{hashlib.sha256(os.urandom(8)).hexdigest()[:16]}"
        self.started = utcnow_iso()
        os.makedirs("blockchain_data", exist_ok=True)   # blockchain_node.py initialize(): data_dir.mkdir(exist_ok=True)
        self.routes = {("GET", "/"): self.root, ("GET", "/favicon.ico"): lambda h, p, t: Reply(204),
                       ("GET", "/status"): self.status, ("GET", "/peers"): self.peers,
                       ("POST", "/shutdown"): self.shutdown}   # contract: "`GET /status` (no `/health`)"

    def node_status(self):
        return {"node_id": self.node_id, "version": self.opts.version, "network_id": "medivote_mainnet",
                "node_type": "full_node", "is_running": True, "last_sync": self.started, "peers_connected": 3,
                "blocks_processed": 0, "votes_processed": 0,
                "config": {"name": f"MediVote Node {self.node_id[:8]}", "port": 8545, "rpc_port": self.opts.port}}

    def root(self, headers, peer, t0):
        html = f"<!DOCTYPE html><html><body><h1>MediVote Blockchain Node</h1><p>{self.node_id}</p></body></html>"
        return Reply(200, html.encode(), "text/html; charset=utf-8")

    def status(self, headers, peer, t0):
        return aiohttp_json(200, self.node_status())

    def peers(self, headers, peer, t0):
        # blockchain_node.py _initialize_peer_discovery(): the config's bootstrap nodes, never contacted.
        return aiohttp_json(200, [{"peer_id": f"bootstrap_node{i}.medivote.net", "address": f"node{i}.medivote.net",
                                   "port": 8545, "is_active": True, "last_seen": self.started,
                                   "node_type": "full_node"} for i in (1, 2, 3)])

    def shutdown(self, headers, peer, t0):
        # blockchain_node.py shutdown_handler: 200 {"status":"shutting_down",...}; nothing is saved (contract: "It
        # writes nothing on shutdown (its stop routine only closes a blockchain client that is not configured)").
        return self.accept_shutdown(peer, t0, "Blockchain node shutdown initiated",
                                    warning="Shutting down this node will result in loss of credibility points and "
                                            "network participation rewards.")


class NetworkCoordinator(StatefulService):
    allowlist = COORDINATOR_ADMIN_IPS
    # contract: "non-atomically (the file was seen empty for a moment)": a few chunks with short gaps.
    chunks, chunk_gap = 3, 0.02
    makes_data_dir_at_start = True        # network_coordinator.py start(): data_dir.mkdir(exist_ok=True)
    RATE_LIMIT, RATE_WINDOW = 100, 60.0   # network_coordinator.py: max_requests_per_window, rate_limit_window

    def __init__(self, opts, rec):
        super().__init__(opts, rec)
        self.started = utcnow_iso()
        self.counts, self.window_start, self.lock = {}, time.time(), threading.Lock()
        self.routes = {("GET", "/"): self.status, ("GET", "/admin"): self.admin, ("POST", "/shutdown"): self.shutdown}

    def own_entry(self):
        return {"node_id": f"node_{os.environ.get('HOSTNAME') or socket.gethostname()}", "address": "localhost",
                "port": 8545, "rpc_port": 8546, "node_type": "full_node", "version": "1.0.0",
                "last_seen": utcnow_iso(), "is_active": True, "votes_processed": 0, "blocks_processed": 0}

    def network_status(self):
        return {"network_name": "MediVote Local Network", "network_id": "medivote_mainnet", "is_running": True,
                "start_time": self.started,
                "stats": {"total_nodes": len(self.entries), "active_nodes": len(self.entries)},
                "nodes": list(self.entries.values())}

    def within_rate_limit(self, client_ip):
        """network_coordinator.py _check_rate_limit: one fixed window for everyone, reset when it has passed; each IP
        may make RATE_LIMIT calls of GET / in it (contract: "rate-limited 100/min/IP -> 429")."""
        with self.lock:
            now = time.time()
            if now - self.window_start > self.RATE_WINDOW:
                self.counts.clear()
                self.window_start = now
            if self.counts.get(client_ip, 0) >= self.RATE_LIMIT:
                return False
            self.counts[client_ip] = self.counts.get(client_ip, 0) + 1
            return True

    def status(self, headers, peer, t0):
        if not self.within_rate_limit(peer):
            return aiohttp_json(429, {"error": "Rate limit exceeded"})
        data = self.network_status()
        if not (peer in COORDINATOR_TRUSTED_IPS or peer.startswith("192.168.") or peer.startswith("10.")):
            data = {"network_name": data["network_name"], "network_id": data["network_id"], "is_running": True,
                    "stats": data["stats"], "node_count": len(data["nodes"]),
                    "active_node_count": len(data["nodes"])}
        return aiohttp_json(200, data)

    def admin(self, headers, peer, t0):
        return self.refuse_unless_allowed(peer) or aiohttp_json(200, self.network_status())

    def shutdown(self, headers, peer, t0):
        # network_coordinator.py shutdown_handler: 200 at once; after 0.5 s _save_nodes(), then SIGTERM.
        return self.accept_shutdown(peer, t0, "Network coordinator graceful shutdown initiated", self.save)


class IncentiveSystem(StatefulService):
    allowlist = None   # contract: allowlist "none"
    # node_incentive_system.py _save_credentials(): data_dir.mkdir(exist_ok=True) before each save (the default)

    def __init__(self, opts, rec):
        super().__init__(opts, rec)
        self.routes = {("GET", "/"): self.status, ("GET", "/status"): self.status, ("GET", "/health"): self.health,
                       ("POST", "/shutdown"): self.shutdown}

    def own_entry(self):
        now = utcnow_iso()
        return {"node_id": f"node_{os.environ.get('HOSTNAME') or socket.gethostname()}", "public_key": "pk_standin",
                "node_address": "localhost", "node_port": 8546, "created_at": now, "last_verified": now,
                "ballot_count": 0, "total_uptime_hours": 0.0, "is_active": True, "reputation_score": 100.0}

    def handle(self, method, path, headers, peer, t0):
        if self.opts.published_bug:
            # contract: "Its last version (commit 134c294) answers 500 to every request on aiohttp 3.x: its CORS
            # middleware lacks the @web.middleware decorator." aiohttp then calls it as an old-style factory, gets a
            # Response back as the handler, and answers every request with its own 500.
            return Reply(500, AIOHTTP_500.encode(), "text/plain; charset=utf-8")
        return super().handle(method, path, headers, peer, t0)

    def status(self, headers, peer, t0):
        return aiohttp_json(200, {"status": "operational", "service": "MediVote Node Incentive System",
                                  "total_nodes": len(self.entries), "active_nodes": len(self.entries),
                                  "total_ballots_created": 0, "timestamp": utcnow_iso()})

    def health(self, headers, peer, t0):
        return aiohttp_json(200, {"status": "healthy", "service": "node_incentive_system", "timestamp": utcnow_iso()})

    def shutdown(self, headers, peer, t0):
        # node_incentive_system.py _shutdown_handler: no allowlist; 200 {"status":"shutting_down"} at once; after
        # 0.5 s _save_credentials() (aiofiles "w": truncate, then one write), then SIGTERM.
        return self.accept_shutdown(peer, t0, "Graceful shutdown initiated", self.save)


class NetworkDashboard(Service):
    allowlist = DASHBOARD_ALLOWLIST

    def __init__(self, opts, rec):
        super().__init__(opts, rec)
        self.routes = {("GET", "/"): self.index, ("POST", "/shutdown"): self.shutdown}   # contract: `GET /`

    def index(self, headers, peer, t0):
        html = "<!DOCTYPE html><html><head><title>MediVote Network Dashboard</title></head><body></body></html>"
        return Reply(200, html.encode(), "text/html; charset=utf-8")

    def shutdown(self, headers, peer, t0):
        # Contract: "`POST /shutdown` exists, but the strategy keeps it SIGTERM-only (tier simple)"; "exits after
        # 0.3 s; saves nothing". Every call is a request record, so a test can assert it was never called.
        return self.accept_shutdown(peer, t0, "Network dashboard graceful shutdown initiated")


class BackendWorker(Service):
    """The FastAPI app as uvicorn's worker process runs it."""
    server_header = "uvicorn"
    allowlist = BACKEND_INTERNAL_ALLOWLIST

    def __init__(self, opts, rec):
        super().__init__(opts, rec)
        self.routes = {("GET", "/health"): self.health, ("GET", "/status"): self.status,
                       ("GET", "/api/status"): self.status, ("POST", "/internal-shutdown"): self.internal_shutdown,
                       ("POST", "/shutdown"): self.secure_shutdown}   # contract: "`GET /health`, `/status`"

    def not_found(self):   # FastAPI/Starlette
        return fastapi_json(404, {"detail": "Not Found"})

    def not_allowed(self, path):
        return fastapi_json(405, {"detail": "Method Not Allowed"})

    def health(self, headers, peer, t0):
        return fastapi_json(200, {"status": "healthy", "service": "MediVote Secure Voting System",
                                  "version": self.opts.version})

    def status(self, headers, peer, t0):
        return fastapi_json(200, {"system": "MediVote Secure Voting System", "version": self.opts.version,
                                  "status": "operational"})

    def internal_shutdown(self, headers, peer, t0):
        # backend/main.py internal_shutdown: judged by get_client_ip (X-Forwarded-For trusted from loopback peers);
        # 403 {"detail": ...} from FastAPI's HTTPException; else 200 and SIGTERM to itself (the worker) after 0.2 s.
        client_ip = backend_client_ip(peer, headers.get("X-Forwarded-For"))
        if not allowlist_admits(self.allowlist, client_ip):
            return fastapi_json(403, {"detail": "Internal shutdown only allowed from localhost"})
        return fastapi_json(200, {"status": "success", "message": "Internal shutdown initiated",
                                  "timestamp": datetime.datetime.now().isoformat()},
                            after=self.schedule_shutdown(t0, SHUTDOWN_DELAYS["backend"]))

    def secure_shutdown(self, headers, peer, t0):
        # backend/main.py shutdown: Depends(require_shutdown) -> HTTPBearer() -> get_current_user. FastAPI 0.104.1
        # (backend/requirements.txt; its security utilities answered 403 until 0.122.0): no or non-Bearer
        # Authorization -> 403 "Not authenticated"; a Bearer token that does not verify -> 401 "Authentication
        # failed". The stand-in holds no signing key: only --accept-jwt passes.
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if not token.strip():
            return fastapi_json(403, {"detail": "Not authenticated"})
        if scheme.lower() != "bearer":
            return fastapi_json(403, {"detail": "Invalid authentication credentials"})
        if self.opts.accept_jwt is None or token.strip() != self.opts.accept_jwt:
            return fastapi_json(401, {"detail": "Authentication failed"}, {"WWW-Authenticate": "Bearer"})
        return fastapi_json(200, {"status": "success", "message": "Secure shutdown initiated",
                                  "timestamp": datetime.datetime.now().isoformat()},
                            after=self.schedule_shutdown(t0, BACKEND_SECURE_SHUTDOWN_DELAY))


SERVICE_CLASSES = {"blockchain-node": BlockchainNode, "network-coordinator": NetworkCoordinator,
                   "incentive-system": IncentiveSystem, "network-dashboard": NetworkDashboard}


# ---- running ----------------------------------------------------------------------------------------------------

def announce(rec, opts, port, **extra):
    print(f"listening on http://{opts.bind}:{port}", flush=True)
    rec.write("start", version=opts.version, port=port, bind=opts.bind, cwd=os.getcwd(), **extra)


def run_aiohttp_like(opts, rec):
    """blockchain node, network coordinator, incentive system, network dashboard: one aiohttp process."""
    service = SERVICE_CLASSES[opts.service](opts, rec)
    srv = make_server(opts.bind, opts.port, service, rec)
    watch_signals(rec)
    announce(rec, opts, srv.server_address[1], loaded=service.loaded())
    srv.serve_forever()


class FrontendHandler(RecordedRequests, http.server.SimpleHTTPRequestHandler):
    """frontend/serve.py CustomHTTPRequestHandler: python's http.server; GET /health answers JSON; there is no
    do_POST, so any POST answers 501 (contract: "none: any POST answers 501")."""

    def do_GET(self):
        if self.path == "/health":
            body = json.dumps({"status": "healthy", "service": "frontend",
                               "timestamp": str(os.path.getmtime("index.html") if os.path.exists("index.html")
                                                else 0)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


def run_frontend(opts, rec):
    """frontend/serve.py: changes to its own folder (the image ships it with index.html; without index.html it exits
    1), then socketserver.TCPServer (one request at a time) serves that folder; SIGTERM has the default disposition
    (contract: "SIGTERM, exit 143 within 10 ms")."""
    os.chdir(opts.root)
    if not os.path.exists("index.html"):
        print(f"Error: index.html not found in the frontend directory {os.getcwd()}", flush=True)
        sys.exit(1)
    cls = socketserver.TCPServer
    if ":" in opts.bind:
        cls = type("TCPServer6", (socketserver.TCPServer,), {"address_family": socket.AF_INET6})
    srv = cls((opts.bind, opts.port), FrontendHandler)
    srv.rec = rec
    watch_signals(rec)
    announce(rec, opts, srv.server_address[1], loaded=None)
    srv.serve_forever()


def run_backend(opts, rec):
    """backend/main.py: uvicorn.run("main:app", reload=True). The reloader (this process) binds the socket and runs
    the app in a worker process on it. Contract: "only the worker dies and the parent keeps the port open but hangs",
    "Under the operator it ends by `exit-timeout` then SIGTERM (exit 0)"."""
    family = socket.AF_INET6 if ":" in opts.bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((opts.bind, opts.port))
    sock.listen(2048)   # uvicorn's default backlog
    port = sock.getsockname()[1]
    worker = os.fork()   # before any thread exists in this process
    if worker == 0:
        try:
            run_backend_worker(opts, rec, sock, port)
        finally:
            os._exit(1)
    run_reload_parent(opts, rec, sock, port, worker)


def run_backend_worker(opts, rec, sock, port):
    """uvicorn's worker: serves the app; on SIGTERM (its own or the parent's) it shuts down and exits 0 (uvicorn
    installs SIGTERM/SIGINT handlers). Nothing outside the container sees this exit: only the parent's counts."""
    service = BackendWorker(opts, rec)
    srv = make_server(opts.bind, port, service, rec, sock=sock)

    def exit_gracefully(sig):
        rec.write("exit", role="worker", code=0)
        os._exit(0)
    watch_signals(rec, exit_gracefully)
    rec.write("start", version=opts.version, port=port, bind=opts.bind, cwd=os.getcwd(), role="worker",
              loaded=None)
    srv.serve_forever()


def run_reload_parent(opts, rec, sock, port, worker):
    """uvicorn's reloader (BaseReload.run): it waits for a file change or a signal and never restarts a worker that
    died by itself. It keeps the socket, so connections are accepted by the kernel and never answered. On SIGTERM
    it terminates the worker, waits for it, and exits 0."""
    worker_gone = threading.Event()

    def reap():
        _, status = os.waitpid(worker, 0)
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        rec.write("worker-exit", worker_pid=worker, code=os.WEXITSTATUS(status) if sig is None else 128 + sig,
                  signal=sig)
        worker_gone.set()

    def stop(sig):
        if not worker_gone.is_set():
            try:
                os.kill(worker, signal.SIGTERM)
            except ProcessLookupError:
                pass
        worker_gone.wait(10)
        sock.close()
        rec.write("exit", role="reload-parent", code=0)
        os._exit(0)

    threading.Thread(target=reap, name="reap", daemon=True).start()
    watch_signals(rec, stop)
    announce(rec, opts, port, role="reload-parent", worker_pid=worker, loaded=None)
    threading.Event().wait()


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--service", required=True, choices=SERVICES)
    p.add_argument("--version", default="1.0.0", help="the image tag, recorded and shown in status answers")
    p.add_argument("--port", type=int, help="default: the service's port (contract); 0 picks a free one")
    p.add_argument("--bind", default="0.0.0.0", help="listen address (default 0.0.0.0)")
    p.add_argument("--record-dir", help="append JSON-line records to DIR/$HOSTNAME.jsonl")
    p.add_argument("--shutdown-delay", type=float, help="seconds from an accepted call to the save or the "
                                                        "self-SIGTERM (default: the service's, from the contract)")
    p.add_argument("--exit-after-save", type=float, default=0.0,
                   help="seconds between the end of the save and the self-SIGTERM (default 0, as the real code)")
    p.add_argument("--save-chunks", type=int, help="the save writes the file in N pieces after truncating it")
    p.add_argument("--save-chunk-gap", type=float, help="seconds before each piece of the save")
    p.add_argument("--allowlist", help="tests only: replace the shutdown allowlist (comma list, or 'none')")
    p.add_argument("--published-bug", action="store_true",
                   help="incentive-system only: as published at commit 134c294, 500 to every request")
    p.add_argument("--accept-jwt", help="backend only: a bearer token that POST /shutdown accepts")
    p.add_argument("--root", default=FRONTEND_ROOT,
                   help="frontend only: the directory it serves (default: frontend/ next to this program)")
    opts = p.parse_args(argv)
    if opts.port is None:
        opts.port = PORTS[opts.service]
    if opts.published_bug and opts.service != "incentive-system":
        p.error("--published-bug is for --service incentive-system")
    return opts


def main(argv=None):
    for sig in TERMINATION_SIGNALS:   # whatever the parent left (an inherited SIG_IGN), the default disposition
        signal.signal(sig, signal.SIG_DFL)
    block_termination_signals()
    opts = parse(sys.argv[1:] if argv is None else argv)
    rec = Recorder(opts.record_dir, opts.service)
    if opts.service == "backend":
        run_backend(opts, rec)
    elif opts.service == "frontend":
        run_frontend(opts, rec)
    else:
        run_aiohttp_like(opts, rec)


if __name__ == "__main__":
    main()
