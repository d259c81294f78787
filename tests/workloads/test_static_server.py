"""medivote-static-server, the reference simple workload (issue 8 §2): serves a directory, GET /health, no state,
exits 0 promptly on SIGTERM."""
import signal
import socket
import time

from workload_fixtures import workloads  # noqa: F401  (workloads is a fixture)


def site(tmp_path):
    root = tmp_path / "www"
    (root / "css").mkdir(parents=True)
    (root / "index.html").write_text("<h1>MediVote</h1>")
    (root / "css" / "app.css").write_text("body{}")
    (root / "space name.txt").write_text("spaced")
    (tmp_path / "secret.txt").write_text("outside the root")
    return root


def test_serves_files_and_health(workloads, tmp_path):
    srv = workloads.static_server("--root", str(site(tmp_path)))
    http = srv.http()
    r = http.get("/css/app.css")
    assert r.status == 200 and r.raw == b"body{}" and r.headers["Content-Type"].startswith("text/css")
    r = http.get("/")
    assert r.status == 200 and r.raw == b"<h1>MediVote</h1>" and r.headers["Content-Type"].startswith("text/html")
    assert http.get("/space%20name.txt").raw == b"spaced"
    h = http.get("/health")
    assert h.status == 200 and h.json == {"status": "ok"}
    assert http.get("/missing.html").status == 404
    head = http.request("HEAD", "/index.html")
    assert head.status == 200 and head.raw == b"" and head.headers["Content-Length"] == str(len("<h1>MediVote</h1>"))
    # Like the real frontend (Python's http.server), any POST answers 501.
    assert http.post("/shutdown").status == 501


def test_paths_cannot_leave_the_root(workloads, tmp_path):
    srv = workloads.static_server("--root", str(site(tmp_path)))

    def raw_get(path):
        with socket.create_connection((srv.host, srv.port), timeout=5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return data
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/css/../../secret.txt", "/%2E%2E%2Fsecret.txt"):
        reply = raw_get(path)
        assert b"outside the root" not in reply, path
        assert reply.startswith(b"HTTP/1.1 404") or reply.startswith(b"HTTP/1.1 400"), (path, reply[:40])
    assert raw_get("/%zz").startswith(b"HTTP/1.1 400")


def test_root_from_env_and_listen_on_pod_ip(workloads, tmp_path):
    srv = workloads.static_server(listen=":0", env={"STATIC_ROOT": str(site(tmp_path)), "POD_IP": "127.0.0.4"})
    assert srv.host == "127.0.0.4"
    assert srv.http().get("/index.html").status == 200


def test_exits_0_promptly_on_sigterm_even_with_an_idle_keep_alive_connection(workloads, tmp_path):
    srv = workloads.static_server("--root", str(site(tmp_path)))
    http = srv.http()
    conn = http.connection()
    try:
        assert http.get("/health", conn=conn).status == 200  # the connection stays open, idle
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.wait_exit(5) == 0
        assert time.monotonic() - t0 < 1.5
    finally:
        conn.close()
    assert "SIGTERM, exiting" in srv.output()
    # The port is closed.
    try:
        socket.create_connection((srv.host, srv.port), timeout=1).close()
        closed = False
    except OSError:
        closed = True
    assert closed


def test_sigint_also_stops_it(workloads, tmp_path):
    srv = workloads.static_server("--root", str(site(tmp_path)))
    srv.signal(signal.SIGINT)
    assert srv.wait_exit(5) == 0
