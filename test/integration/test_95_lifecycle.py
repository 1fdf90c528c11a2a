"""Lifecycle (issue 7, item 5): SIGTERM drains in-flight requests (bounded by
limits.drain_timeout) and exits 0; SIGHUP reloads the config without dropping in-flight or
keep-alive connections, names the changed keys that need a restart, and refuses an invalid file
with a line naming file:line while the old config keeps serving; a restart keeps every user and
every revoked token.
"""

import concurrent.futures
import os
import re
import signal
import socket
import threading
import time

import pytest

import mgmt_util as mu
import wsg

BOSS = ("boss95", "boss-Pw-0095")
PW = "Life-Pw-0095"
wsg.SENT_SECRETS.update([BOSS[1], PW])


def slow_route(stub):
    return wsg.route_config("slow-ok", "/services/SlowOk", "http://127.0.0.1:%d/Slow" % stub.port,
                            timeout=60)


def start_gateway(configured, stub, name, limits=None, extra_routes=()):
    g = wsg.Gateway(configured.dir, configured.db, stub, name=name, limits=limits,
                    config_kw={"extra_routes": [slow_route(stub)] + list(extra_routes)})
    g.write_config()
    g.start()
    return g


def send(gw, path="/services/Echo", session=None, timeout=60, message=None):
    m = message or wsg.marker()
    r = wsg.post(gw.url(path), wsg.build("alice", message=m), session=session, timeout=timeout)
    return r, m


def assert_echo(gw, path="/services/Echo", session=None):
    r, m = send(gw, path, session)
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])


def exit_status(gw, timeout=30):
    """Waits for the signalled gateway to exit by itself."""
    gw.proc.popen.wait(timeout * wsg.TIME_SCALE)
    return gw.proc.stop()


def send_slow(pool, stub, gw, seconds):
    """Starts a request the upstream answers after `seconds`; returns once the upstream
    has it (the gateway is working on it)."""
    m = wsg.marker()
    slow = pool.submit(send, gw, "/services/SlowOk?s=%d" % seconds, message=m)
    wsg.wait_for("the slow request at the upstream", lambda: stub.find(m), 10)
    return slow


def no_sanitizer_reports(gw):
    return [line for line in open(gw.proc.err_path, encoding="utf-8", errors="replace")
            if wsg.SANITIZER_RE.search(line)]


def keepalive_socket(gw):
    """A raw connection that has been answered once and is kept open."""
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    keepalive_request(s)
    return s


def keepalive_request(s, path="/services/Echo"):
    m = wsg.marker()
    body = wsg.build("alice", message=m).encode()
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\n"
              b"Content-Length: %d\r\n\r\n" % (path.encode(), len(body)) + body)
    data = b""
    s.settimeout(30)
    while b"</soap:Envelope>" not in data:
        chunk = s.recv(65536)
        assert chunk, "connection closed; got %r" % data[:300]
        data += chunk
    return data, m


# ---------------------------------------------------------------- SIGTERM

def test_sigterm_drains_in_flight_requests(configured, stub):
    gw = start_gateway(configured, stub, "gw95-drain")
    idle = keepalive_socket(gw)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = send_slow(pool, stub, gw, 2)
        t0 = time.monotonic()
        gw.proc.popen.send_signal(signal.SIGTERM)
        # An idle keep-alive connection is closed at once, and nothing new is accepted.
        idle.settimeout(5 * wsg.TIME_SCALE)
        assert idle.recv(100) == b""
        idle.close()
        wsg.wait_for("listener closed", lambda: not wsg.port_open(gw.port), 5)
        r, m = slow.result(30 * wsg.TIME_SCALE)
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])
    rc = exit_status(gw)
    assert rc == 0, gw.proc.stderr_text()[-3000:]
    assert time.monotonic() - t0 < 10 * wsg.TIME_SCALE
    assert no_sanitizer_reports(gw) == []


def test_sigterm_drain_is_bounded(configured, stub):
    """A request still running after drain_timeout is answered with a fault, then the gateway
    exits 0."""
    gw = start_gateway(configured, stub, "gw95-cut", limits={"drain_timeout": "1"})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = send_slow(pool, stub, gw, 30)
        t0 = time.monotonic()
        gw.proc.popen.send_signal(signal.SIGTERM)
        r, _ = slow.result(30 * wsg.TIME_SCALE)
    wsg.assert_soap_fault(r, 502, "Server", "Receiver")
    # drain_timeout (1 s) and the time to answer and stop.
    assert time.monotonic() - t0 < 1 + 7 * wsg.TIME_SCALE
    rc = exit_status(gw)
    assert rc == 0, gw.proc.stderr_text()[-3000:]
    assert "requests still in flight after drain_timeout; cutting them" in gw.proc.stderr_text()
    assert no_sanitizer_reports(gw) == []


# ---------------------------------------------------------------- SIGHUP

def reloads(gw):
    return gw.proc.stderr_text().count("info configuration reloaded from")


def sighup(gw, expect_reload=True):
    before = reloads(gw)
    refused = gw.proc.stderr_text().count("reload refused: the running configuration stays")
    gw.proc.popen.send_signal(signal.SIGHUP)
    if expect_reload:
        wsg.wait_for("reload", lambda: reloads(gw) > before, 20, gw.proc)
    else:
        wsg.wait_for("refusal", lambda: gw.proc.stderr_text().count(
            "reload refused: the running configuration stays") > refused, 20, gw.proc)
    # The workers pick the new snapshot up from their loops, with nothing outside to show
    # it (the log line above is the main thread's): give them a moment.
    time.sleep(0.3 * wsg.TIME_SCALE)


@pytest.fixture(scope="module")
def hup(configured, stub):
    gw = start_gateway(configured, stub, "gw95-hup")
    yield gw
    gw.stop()


def test_reload_keeps_connections_and_swaps_routes(hup, stub):
    gw = hup
    original = open(gw.config).read()
    assert send(gw, "/services/Added")[0].status_code == 404
    keep = keepalive_socket(gw)
    session = wsg.http_session()
    assert_echo(gw, session=session)
    stop, answers = threading.Event(), []

    def steady():
        while not stop.is_set():
            r, m = send(gw, session=session)
            answers.append(r.status_code == 200 and wsg.echoed(r) == m)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = send_slow(pool, stub, gw, 2)
        load = pool.submit(steady)
        wsg.wait_for("steady load", lambda: answers, 10)
        added = wsg.route_config("added", "/services/Added",
                                 "http://127.0.0.1:%d/Echo" % stub.port)
        text = original.replace('  { name = "echo-keep"', added + ",\n  { name = \"echo-keep\"")
        # Dropped: the EchoKeep route; needs a restart: the workers and the port.
        text = re.sub(r'\{ name = "echo-keep";[^}]*\},\n', "", text)
        text = text.replace("workers = 2;", "workers = 3;").replace(
            "127.0.0.1:%d" % gw.port, "127.0.0.1:%d" % wsg.free_port(), 1)
        text = text.replace("max_body_size = 65536;", "max_body_size = 2048;")
        with open(gw.config, "w") as f:
            f.write(text)
        for _ in range(3):
            sighup(gw)
        r, m = slow.result(30)
        stop.set()
        load.result(30)
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])
    assert answers and all(answers), answers.count(False)
    # The keep-alive connection from before the reload is still served.
    data, m = keepalive_request(keep)
    assert data.startswith(b"HTTP/1.1 200 OK") and m.encode() in data, data[:300]
    keep.close()
    assert_echo(gw, "/services/Added")
    assert send(gw, "/services/EchoKeep")[0].status_code == 404
    # New limits: a request body over 2048 bytes is refused now.
    r, _ = send(gw, message="x" * 3000)
    assert r.status_code == 413, r.status_code
    err = gw.proc.stderr_text()
    assert "warning reload: changed but only applied at a restart, so the running values " \
           "stay: listen, workers" in err, err[-2000:]
    # Still on the old port, still the old workers.
    assert wsg.port_open(gw.port)
    with open(gw.config, "w") as f:
        f.write(original)
    sighup(gw)
    assert_echo(gw, "/services/EchoKeep")
    assert send(gw, "/services/Added")[0].status_code == 404


def test_invalid_config_is_refused(hup):
    gw = hup
    original = open(gw.config).read()
    lines = original.splitlines(True)
    lines.insert(1, "unknown_key = 1;\n")
    try:
        with open(gw.config, "w") as f:
            f.write("".join(lines))
        sighup(gw, expect_reload=False)
        err = gw.proc.stderr_text()
        assert "error reload refused: %s:2: unknown_key: unknown key" \
            % os.path.realpath(gw.config) in err, err[-2000:]
        assert_echo(gw)
        # Valid syntax, but an https route whose CA file cannot be read.
        with open(gw.config, "w") as f:
            f.write(original.replace('upstream = ( "http://127.0.0.1:%d/Echo" );' % gw.stub.port,
                                     'upstream = ( "https://127.0.0.1:1/Echo" ); '
                                     'ca_file = "no-such-ca.pem";', 1))
        sighup(gw, expect_reload=False)
        assert "error reload refused: route echo:" in gw.proc.stderr_text()
        assert_echo(gw)
        # An @include of a folder: libconfig 1.5 would end the process reading it.
        with open(gw.config, "w") as f:
            f.write("".join(lines[:1] + ['@include ""\n'] + lines[2:]))
        sighup(gw, expect_reload=False)
        err = gw.proc.stderr_text()
        assert "error reload refused: %s:2: @include \"\": not a regular file" \
            % os.path.realpath(gw.config) in err, err[-2000:]
        assert gw.proc.alive()
        assert_echo(gw)
    finally:
        with open(gw.config, "w") as f:
            f.write(original)
    sighup(gw)
    assert_echo(gw)


def test_reload_stops_cleanly(hup):
    rc = hup.proc.stop()
    assert rc == 0, hup.proc.stderr_text()[-3000:]
    assert no_sanitizer_reports(hup) == []


# ---------------------------------------------------------------- restart

def test_restart_keeps_users_and_revocations(mariadb, stub, configured):
    gw = mu.MgmtGateway("gw95-restart", mariadb, stub, "wssgate_95")
    mu.setup_database(mariadb, gw)
    gw.cli_ok("role", "add", "echo-users")
    gw.start()
    try:
        kept = gw.login(*BOSS)
        revoked = gw.login(*BOSS)
        assert gw.request("GET", "/logout", token=revoked).status_code == 200
        for name in ("u95-kept", "u95-gone"):
            r = gw.request("POST", "/users", token=kept, body={
                "userId": name, "password": PW, "isAdmin": "false", "roles": ["echo-users"]})
            assert r.status_code == 200, r.content
        assert gw.request("DELETE", "/users/u95-gone", token=kept).status_code == 200
        gw.restart()
        m = wsg.marker()
        r = wsg.post(gw.url("/services/Echo"), wsg.build("u95-kept", PW, message=m))
        assert r.status_code == 200 and wsg.echoed(r) == m, r.content[:300]
        r = wsg.post(gw.url("/services/Echo"), wsg.build("u95-gone", PW))
        wsg.assert_wss_fault(r, "FailedAuthentication")
        assert gw.request("GET", "/users/u95-kept", token=kept).status_code == 200
        r = gw.request("GET", "/users", token=revoked)
        assert r.status_code == 401 and r.content == b"", r.content
        problems = mu.stop_checked(gw)
        assert problems == [], problems
    finally:
        gw.stop()
