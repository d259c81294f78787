"""medivote-vote-service, the reference critical workload (issue 8 §1), run as a real process on 127.0.0.1.

Invariant under test throughout: every vote acknowledged with 2xx is in votes.json after a graceful shutdown
(HTTP, or SIGTERM with the best-effort save), and a hard kill loses what was not saved."""
import json
import os
import signal
import socket
import threading
import time

import pytest

from workload_fixtures import poll, workloads  # noqa: F401  (workloads is a fixture)

TOKEN = "s3cret-token"


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def cast(svc, n, prefix="v"):
    ids = [f"{prefix}{i}" for i in range(n)]
    for vid in ids:
        r = svc.vote(vid, choice="c" + vid)
        assert r.status == 201, r
    return ids


def test_acked_votes_are_persisted_on_http_shutdown(workloads):
    svc = workloads.vote_service()
    ids = cast(svc, 50)
    assert svc.http().get("/votes/count").json == {"count": 50}
    assert svc.state() == "running"

    r = svc.http().post("/shutdown")
    assert r.status == 202, r
    assert r.json["status"] == "shutdown_initiated"
    assert svc.wait_exit(10) == 0
    assert svc.saved() == {vid: "c" + vid for vid in ids}
    names = svc.event_names()
    assert names == ["start", "shutdown-requested", "drained", "saving", "saved", "exit"], names
    events = svc.events()
    assert events[4][2]["votes"] == "50"
    assert events[5][2]["code"] == "0"
    times = [e[0] for e in events]
    assert times == sorted(times)


def test_exit_waits_for_exit_delay_and_get_shutdown_reports_progress(workloads):
    svc = workloads.vote_service("--save-delay-ms", "700", "--exit-delay-ms", "1800")
    cast(svc, 3)
    http = svc.http()
    assert http.get("/shutdown").json == {"state": "running", "trigger": "none", "votes": 3, "in_flight": 0}
    assert http.get("/healthz").status == 200
    t0 = time.monotonic()
    assert http.post("/shutdown").status == 202
    seen = set()

    def progressed():
        r = http.get("/shutdown")
        seen.add(r.json["state"])
        return r.json["state"] == "done"
    poll(progressed, 5, "state done")
    assert "saving" in seen
    assert http.get("/shutdown").json["trigger"] == "http"
    h = http.get("/healthz")
    assert h.status == 503 and h.json["status"] == "shutting_down"
    assert svc.wait_exit(5) == 0
    assert time.monotonic() - t0 >= 1.7, "exited before --exit-delay-ms"
    assert len(svc.saved()) == 3


def test_votes_get_503_once_shutting_down(workloads):
    svc = workloads.vote_service("--exit-delay-ms", "2000")
    cast(svc, 2)
    assert svc.http().post("/shutdown").status == 202
    r = svc.vote("late")
    assert r.status == 503, r
    assert r.headers["Connection"] == "close"
    assert svc.wait_exit(5) == 0
    assert set(svc.saved()) == {"v0", "v1"}


def test_wrong_or_missing_token_gets_401(workloads, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    svc = workloads.vote_service("--token-file", str(token_file))
    http = svc.http()
    r = http.post("/shutdown")
    assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert http.post("/shutdown", headers=auth("wrong")).status == 401
    assert http.post("/shutdown", headers=auth(TOKEN + "x")).status == 401
    assert http.post("/shutdown", headers={"Authorization": TOKEN}).status == 401
    assert http.post("/admin/busy?seconds=5").status == 401
    assert svc.state() == "running" and "shutdown-requested" not in svc.event_names()
    assert http.post("/shutdown", headers=auth()).status == 202
    assert svc.wait_exit(5) == 0


def test_token_from_env(workloads):
    svc = workloads.vote_service(env={"SHUTDOWN_TOKEN": TOKEN})
    assert svc.http().post("/shutdown", headers=auth("nope")).status == 401
    assert svc.http().post("/shutdown", headers={"Authorization": f"bearer {TOKEN}"}).status == 202
    assert svc.wait_exit(5) == 0


def test_peer_outside_allowlist_gets_403(workloads):
    svc = workloads.vote_service("--allow", "10.0.0.0/8, 127.0.0.2/32", env={"SHUTDOWN_TOKEN": TOKEN})
    from_1 = svc.http(source="127.0.0.1")
    from_2 = svc.http(source="127.0.0.2")
    r = from_1.post("/shutdown", headers=auth())
    assert r.status == 403 and "127.0.0.1" in r.json["error"], r
    # The token is checked first: a bad token is 401 whatever the peer.
    assert from_1.post("/shutdown", headers=auth("bad")).status == 401
    # The allowlist only guards /shutdown: votes from anywhere are taken.
    assert from_1.post("/votes", {"id": "a", "choice": "x"}).status == 201
    assert svc.state() == "running"
    assert from_2.post("/shutdown", headers=auth()).status == 202
    assert svc.wait_exit(5) == 0
    assert svc.saved() == {"a": "x"}


def test_rate_limit_gets_429_with_retry_after(workloads):
    # Busy keeps the service running, so every call reaches the limiter.
    svc = workloads.vote_service("--rate-limit", "1/s", "--busy-on-start-seconds", "30")
    http = svc.http()
    assert http.post("/shutdown").status == 409
    r = http.post("/shutdown")
    assert r.status == 429, r
    assert int(r.headers["Retry-After"]) >= 1
    # A token comes back after a second.
    assert poll(lambda: http.post("/shutdown").status == 409, 3, "a token to refill")


def test_busy_gets_409_with_retry_after_until_the_window_ends(workloads):
    svc = workloads.vote_service("--busy-on-start-seconds", "2")
    http = svc.http()
    t0 = time.monotonic()
    r = http.post("/shutdown")
    assert r.status == 409, r
    assert r.headers["Retry-After"] in ("1", "2")
    assert r.json["retry_after_seconds"] == int(r.headers["Retry-After"])
    assert svc.state() == "running"
    assert poll(lambda: http.post("/shutdown").status == 202, 5, "shutdown accepted after the busy window")
    assert time.monotonic() - t0 >= 1.5
    assert svc.wait_exit(5) == 0
    names = svc.event_names()
    assert "shutdown-refused" in names and names.index("shutdown-refused") < names.index("shutdown-requested")


def test_admin_busy_and_busy_on_shutdown(workloads, tmp_path):
    svc = workloads.vote_service()
    http = svc.http()
    assert http.post("/admin/busy?seconds=30").status == 200
    r = http.post("/shutdown")
    assert r.status == 409 and int(r.headers["Retry-After"]) >= 29
    assert http.post("/admin/busy?seconds=-1").status == 400
    assert http.post("/admin/busy").status == 400
    assert http.get("/admin/busy").status == 405

    other = workloads.vote_service("--busy-on-shutdown-seconds", "1", data_dir=tmp_path / "other")
    h2 = other.http()
    r = h2.post("/shutdown")
    assert r.status == 409 and r.headers["Retry-After"] == "1"
    assert poll(lambda: h2.post("/shutdown").status == 202, 4, "accepted once the window passed")
    assert other.wait_exit(5) == 0


def test_second_post_while_shutting_down_is_idempotent(workloads):
    svc = workloads.vote_service("--exit-delay-ms", "1500")
    cast(svc, 5)
    http = svc.http()
    first = http.post("/shutdown")
    second = http.post("/shutdown")
    assert first.status == second.status == 202
    assert second.json["status"] == "shutdown_initiated"
    assert svc.wait_exit(5) == 0
    events = svc.events()
    requested = [e for e in events if e[1] == "shutdown-requested"]
    assert [e[2] for e in requested] == [{}, {"repeat": "true"}]
    assert [e[1] for e in events].count("saved") == 1
    assert len(svc.saved()) == 5


def test_votes_in_flight_finish_and_are_saved(workloads):
    svc = workloads.vote_service("--vote-delay-ms", "1000")
    http = svc.http()
    result = {}
    t = threading.Thread(target=lambda: result.update(r=svc.vote("slow")))
    t.start()
    try:
        poll(lambda: http.get("/shutdown").json["in_flight"] == 1, 5, "the vote to be in flight")
        assert http.post("/shutdown").status == 202
        assert svc.vote("after").status == 503
    finally:
        t.join(10)
    assert result["r"].status == 201, result
    assert svc.wait_exit(5) == 0
    assert svc.saved() == {"slow": "yes"}
    drained = [e for e in svc.events() if e[1] == "drained"][0]
    assert drained[2] == {"in_flight": "1"}


def test_every_acked_vote_survives_a_shutdown_under_load(workloads):
    svc = workloads.vote_service("--exit-delay-ms", "300", "--vote-delay-ms", "5")
    acked, refused, errors = set(), [0], [0]
    lock = threading.Lock()
    stop = threading.Event()

    def sender(k):
        http = svc.http()
        conn = http.connection()
        i = 0
        while not stop.is_set():
            vid = f"w{k}-{i}"
            i += 1
            try:
                r = http.post("/votes", {"id": vid, "choice": "x"}, conn=conn)
            except (OSError, ConnectionError, Exception):
                errors[0] += 1
                conn.close()
                conn = http.connection()
                if not svc.alive():
                    return
                continue
            with lock:
                if r.status in (200, 201):
                    acked.add(vid)
                elif r.status == 503:
                    refused[0] += 1
            if r.status == 503:
                conn.close()
                conn = http.connection()
        conn.close()

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    try:
        poll(lambda: len(acked) >= 300, 15, "300 acknowledged votes")
        assert svc.http().post("/shutdown").status == 202
        assert svc.wait_exit(10) == 0
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    saved = svc.saved()
    lost = acked - set(saved)
    assert not lost, f"{len(lost)} acknowledged votes lost: {sorted(lost)[:10]}"
    assert refused[0] > 0 or errors[0] > 0, "no vote was refused while shutting down"


def test_sigterm_does_a_best_effort_save(workloads):
    svc = workloads.vote_service("--exit-delay-ms", "30000")
    ids = cast(svc, 20)
    t0 = time.monotonic()
    svc.signal(signal.SIGTERM)
    assert svc.wait_exit(5) == 0
    assert time.monotonic() - t0 < 3, "SIGTERM without HTTP shutdown must not wait for --exit-delay-ms"
    assert set(svc.saved()) == set(ids)
    names = svc.event_names()
    assert names == ["start", "sigterm", "drained", "saving", "saved", "exit"], names


def test_no_save_on_sigterm_loses_the_votes(workloads):
    svc = workloads.vote_service("--no-save-on-sigterm")
    cast(svc, 10)
    svc.signal(signal.SIGTERM)
    assert svc.wait_exit(5) == 0
    assert svc.saved() is None
    names = svc.event_names()
    assert names == ["start", "sigterm", "save-skipped", "exit"], names
    assert svc.events()[2][2] == {"votes": "10"}


def test_sigkill_loses_unsaved_votes_and_restart_loads_saved_ones(workloads, tmp_path):
    data = tmp_path / "claim"
    first = workloads.vote_service(data_dir=data)
    cast(first, 10, prefix="a")
    assert first.http().post("/shutdown").status == 202
    assert first.wait_exit(5) == 0

    second = workloads.vote_service(data_dir=data)
    assert second.http().get("/votes/count").json == {"count": 10}
    assert sorted(second.http().get("/votes").json["ids"]) == sorted(f"a{i}" for i in range(10))
    assert second.events()[-1][1] == "start" and second.events()[-1][2]["loaded"] == "10"
    cast(second, 5, prefix="b")
    assert second.http().get("/votes/count").json == {"count": 15}
    second.signal(signal.SIGKILL)
    assert second.wait_exit(5) == -signal.SIGKILL
    saved = second.saved()
    assert len(saved) == 10 and not any(k.startswith("b") for k in saved), "a hard kill must lose unsaved votes"

    third = workloads.vote_service(data_dir=data)
    assert third.http().get("/votes/count").json == {"count": 10}
    third.signal(signal.SIGTERM)
    assert third.wait_exit(5) == 0
    names = third.event_names()
    # first run, second run (killed: no exit), third run
    assert names.count("start") == 3 and names.count("exit") == 2


def test_sigterm_after_http_shutdown_is_recorded_after_it_and_cuts_the_exit_delay(workloads):
    svc = workloads.vote_service("--exit-delay-ms", "30000")
    cast(svc, 3)
    assert svc.http().post("/shutdown").status == 202
    poll(lambda: svc.state() == "done", 5, "saved")
    t0 = time.monotonic()
    svc.signal(signal.SIGTERM)
    assert svc.wait_exit(5) == 0
    assert time.monotonic() - t0 < 3
    names = svc.event_names()
    assert names == ["start", "shutdown-requested", "drained", "saving", "saved", "sigterm", "exit"], names
    ev = {e[1]: e[0] for e in svc.events()}
    assert ev["shutdown-requested"] <= ev["saved"] <= ev["sigterm"] <= ev["exit"]


def test_unreadable_state_refuses_to_start_and_keeps_the_file(workloads, tmp_path):
    data = tmp_path / "bad"
    data.mkdir()
    (data / "votes.json").write_text("{not json")
    (data / "votes.json.tmp.123").write_text("partial")
    svc = workloads.vote_service(data_dir=data, wait=False)
    assert svc.wait_exit(5) == 1
    assert (data / "votes.json").read_text() == "{not json"
    assert not (data / "votes.json.tmp.123").exists(), "a leftover temp file of a torn save is removed"
    assert svc.event_names() == ["start-failed"]


def test_votes_validation_duplicates_and_conflicts(workloads):
    svc = workloads.vote_service()
    http = svc.http()
    assert http.post("/votes", "not json").status == 400
    assert http.post("/votes", {"id": 1, "choice": "x"}).status == 400
    assert http.post("/votes", {"id": "", "choice": "x"}).status == 400
    assert http.post("/votes", {"id": "x" * 300, "choice": "x"}).status == 400
    assert http.post("/votes", {"id": "a", "choice": "x"}).status == 201
    dup = http.post("/votes", {"id": "a", "choice": "x"})
    assert dup.status == 200 and dup.json["status"] == "duplicate"
    assert http.post("/votes", {"id": "a", "choice": "y"}).status == 409
    assert http.get("/votes/count").json == {"count": 1}
    assert http.get("/nope").status == 404
    r = http.request("DELETE", "/votes")
    assert r.status == 405 and "POST" in r.headers["Allow"]
    # A chunked body is accepted.
    c = http.connection()
    try:
        c.putrequest("POST", "/votes")
        c.putheader("Transfer-Encoding", "chunked")
        c.putheader("Content-Type", "application/json")
        c.endheaders()
        body = json.dumps({"id": "chunked", "choice": "z"}).encode()
        c.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        assert c.getresponse().status == 201
    finally:
        c.close()


def test_keep_alive_connection_serves_many_requests(workloads):
    svc = workloads.vote_service()
    http = svc.http()
    conn = http.connection()
    try:
        for i in range(20):
            assert http.post("/votes", {"id": f"k{i}", "choice": "x"}, conn=conn).status == 201
        assert http.get("/votes/count", conn=conn).json == {"count": 20}
    finally:
        conn.close()


def test_malformed_requests_are_refused(workloads):
    svc = workloads.vote_service()

    def raw(data):
        with socket.create_connection((svc.host, svc.port), timeout=5) as s:
            s.sendall(data)
            return s.recv(4096).split(b"\r\n", 1)[0]
    assert raw(b"GARBAGE\r\n\r\n") == b"HTTP/1.1 400 Bad Request"
    assert raw(b"GET /healthz HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505")
    assert raw(b"POST /votes HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n") \
        .startswith(b"HTTP/1.1 400")
    assert raw(b"POST /votes HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").startswith(b"HTTP/1.1 413")
    assert raw(b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431")
    assert svc.http().get("/healthz").status == 200


def test_listens_on_ipv6_loopback(workloads, tmp_path):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    svc = workloads.vote_service("--allow", "::1/128", listen="[::1]:0")
    assert svc.host == "::1"
    assert svc.http().post("/votes", {"id": "six", "choice": "x"}).status == 201
    assert svc.http().post("/shutdown").status == 202
    assert svc.wait_exit(5) == 0
    assert svc.saved() == {"six": "x"}


def test_listen_defaults_to_pod_ip(workloads, tmp_path):
    svc = workloads.vote_service(listen=":0", env={"POD_IP": "127.0.0.3"})
    assert svc.host == "127.0.0.3"
    assert svc.http().get("/healthz").status == 200


@pytest.mark.parametrize("args", [["--listen", "nohost:1"], ["--allow", "10.0.0.0/33"], ["--rate-limit", "x/s"],
                                  ["--exit-delay-ms", "-5"], ["--bogus"], ["--token-file", "/nonexistent/t"]])
def test_bad_flags_exit_2(workloads, args):
    svc = workloads.vote_service(*args, wait=False)
    assert svc.wait_exit(5) == 2
    assert not os.path.exists(os.path.join(svc.data_dir, "events.log"))


def test_expect_100_continue_gets_an_interim_answer(workloads):
    svc = workloads.vote_service()
    body = json.dumps({"id": "cont", "choice": "x"}).encode()
    with socket.create_connection((svc.host, svc.port), timeout=5) as s:
        s.sendall(b"POST /votes HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        assert s.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(body)
        assert s.recv(4096).startswith(b"HTTP/1.1 201 Created")
    assert svc.http().get("/votes").json["ids"] == ["cont"]
