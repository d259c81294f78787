#!/usr/bin/env bash
# Measures the in-pod agent's footprint (issue 8: RSS <= 2 MB, start-up < 50 ms) and prints the figures:
#   - start-up: from exec to the listening socket accepting a connection (median and worst of N runs);
#   - memory after start and after serving requests (preStop hooks, healthz, refused and forwarded calls): VmRSS, and from smaps_rollup the part that is the agent's own
#     (Private) and its proportional share of shared pages (Pss);
#   - for reference, the same for an empty dynamically linked C++ program (the floor that libc + libstdc++ set).
# Usage: bench/agent_footprint.sh [BUILD_DIR] (default: build; the agent must be built there).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
agent="$build/medivote-agent"
[ -x "$agent" ] || { echo "agent_footprint.sh: $agent not built (cmake --build $build --target medivote-agent)"; exit 1; }
runs=${AGENT_FOOTPRINT_RUNS:-20}
requests=${AGENT_FOOTPRINT_REQUESTS:-300}

exec /usr/bin/python3 - "$agent" "$runs" "$requests" <<'PY'
import http.server, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

agent, runs, requests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tmp = tempfile.mkdtemp(prefix="agent-footprint-")
token_file = os.path.join(tmp, "token")
with open(token_file, "w") as f:
    f.write("bench-token\n")

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k = line.split(":")[0]
            if k in ("Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty"):
                out[k] = int(line.split()[1])
    out["Private"] = out.pop("Private_Clean", 0) + out.pop("Private_Dirty", 0)
    out["Shared"] = out.pop("Shared_Clean", 0) + out.pop("Shared_Dirty", 0)
    return out

def fmt(m):
    return (f"VmRSS {m['VmRSS']} kB (peak {m['VmHWM']} kB), Private {m['Private']} kB, "
            f"Shared {m['Shared']} kB, Pss {m['Pss']} kB")

class Service(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = b'{"status":"success"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

def start_agent(port, target_port, *extra):
    t0 = time.monotonic()
    p = subprocess.Popen([agent, "--listen", f"127.0.0.1:{port}", "--token-file", token_file,
                          "--target-port", str(target_port), "--target", "loopback-ipv4", *extra],
                         stderr=subprocess.DEVNULL)
    deadline = t0 + 5
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.05):
                return p, (time.monotonic() - t0) * 1000
        except OSError:
            time.sleep(0.0002)
    p.kill()
    raise SystemExit("agent did not start listening within 5 s")

def request(port, method, path, token=None):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 0\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        return int(data.split(b" ", 2)[1])

service = http.server.HTTPServer(("127.0.0.1", 0), Service)
threading.Thread(target=service.serve_forever, daemon=True).start()
procs = []
try:
    startups = []
    for _ in range(runs):
        p, ms = start_agent(free_port(), service.server_address[1])
        startups.append(ms)
        p.send_signal(signal.SIGTERM)
        p.wait(5)
    print(f"agent binary: {agent} ({os.path.getsize(agent) // 1024} KiB)")
    print(f"start-up (exec -> accepting), {runs} runs: median {statistics.median(startups):.1f} ms, "
          f"max {max(startups):.1f} ms")

    port = free_port()
    # A short hold: the first /prestop witnesses termination (so that POST /shutdown is forwarded) and every later
    # one is answered at once, its hold bound being past.
    p, _ = start_agent(port, service.server_address[1], "--prestop-hold-seconds", "0.05")
    procs.append(p)
    time.sleep(0.2)
    print(f"memory after start:     {fmt(memory(p.pid))}")
    statuses = {}
    for i in range(requests):
        kind = i % 4
        code = (request(port, "GET", "/prestop") if kind == 0 else
                request(port, "GET", "/healthz") if kind == 1 else
                request(port, "POST", "/shutdown", "wrong") if kind == 2 else
                request(port, "POST", "/shutdown", "bench-token"))
        statuses[code] = statuses.get(code, 0) + 1
    print(f"memory after {requests} requests ({', '.join(f'{n}x {c}' for c, n in sorted(statuses.items()))}): "
          f"{fmt(memory(p.pid))}")
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    rc = p.wait(5)
    print(f"SIGTERM -> exit {rc} in {(time.monotonic() - t0) * 1000:.1f} ms")

    cxx = shutil.which("g++")
    if cxx:
        src, exe = os.path.join(tmp, "empty.cpp"), os.path.join(tmp, "empty")
        with open(src, "w") as f:
            f.write("#include <unistd.h>\n#include <string>\nint main(){std::string s(\"x\");pause();return s.size();}\n")
        subprocess.run([cxx, "-O2", "-Wl,--no-as-needed", src, "-o", exe, "-lstdc++"], check=True)
        e = subprocess.Popen([exe])
        procs.append(e)
        time.sleep(0.2)
        print(f"reference, an empty dynamic C++ program: {fmt(memory(e.pid))}")
        e.kill()
        e.wait()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    service.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
PY
