"""Client abuse (issue 7, item 3): slow headers and slow bodies (slowloris) are cut by
limits.request_timeout although every byte restarts evhttp's own idle timeout; idle keep-alive
connections are closed; limits.max_connections caps the connections of all workers (over it a new
connection is accepted and closed at once); a thousand idle connections do not stop a new client
being served; pipelined requests are answered in order; a client that half-closes after its
request still gets the answer. bench/idle-connections runs the flood with 10 000 connections.
"""

import re
import resource
import select
import socket
import time

import pytest

import wsg

REQUEST_TIMEOUT = 3     # limits.request_timeout of the slowloris gateway
MAX_CONNECTIONS = 40    # limits.max_connections of the capped gateway
FLOOD = 1000            # idle connections in test_idle_flood


def _gateway(configured, stub, name, limits):
    slow = wsg.route_config("slow-ok", "/services/SlowOk",
                            "http://127.0.0.1:%d/Slow" % stub.port, timeout=10)
    g = wsg.Gateway(configured.dir, configured.db, stub, name=name, limits=limits,
                    config_kw={"extra_routes": [slow]})
    g.write_config()
    try:
        g.start()
        yield g
    finally:
        g.stop()


@pytest.fixture(scope="module")
def gw(configured, stub):
    """request_timeout 3 s, no connection cap."""
    yield from _gateway(configured, stub, "gw94", {
        "request_timeout": str(REQUEST_TIMEOUT), "max_connections": "0"})


@pytest.fixture(scope="module")
def capped(configured, stub):
    yield from _gateway(configured, stub, "gw94-capped", {
        "max_connections": str(MAX_CONNECTIONS), "request_timeout": "60"})


def request_bytes(marker, path="/services/Echo", extra=""):
    body = wsg.build("alice", message=marker).encode()
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\n%s"
            b"Content-Length: %d\r\n\r\n" % (path.encode(), extra.encode(), len(body)) + body)


def connect(gw):
    return socket.create_connection(("127.0.0.1", gw.port), timeout=10 * wsg.TIME_SCALE)


def closed(sock, wait=0.0):
    """True when the peer closed or reset the connection (within `wait` seconds)."""
    p = select.poll()   # select() cannot take descriptors over 1023
    p.register(sock, select.POLLIN)
    if not p.poll(wait * 1000):
        return False
    try:
        return sock.recv(65536, socket.MSG_PEEK) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def read_until(sock, pred, timeout=30):
    data, end = b"", time.monotonic() + timeout * wsg.TIME_SCALE
    sock.settimeout(1)
    while not pred(data) and time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def dribble(sock, data, every=0.5, limit=30):
    """Sends one byte every `every` seconds until the gateway cuts the connection; returns
    (seconds until cut, bytes sent)."""
    t0, limit = time.monotonic(), limit * wsg.TIME_SCALE
    for i, b in enumerate(data):
        if closed(sock, every):
            return time.monotonic() - t0, i
        try:
            sock.send(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - t0, i
        assert time.monotonic() - t0 < limit, "not cut after %d s" % limit
    raise AssertionError("the whole request went through")


def assert_echo(gw):
    m = wsg.marker()
    r = wsg.post(gw.url("/services/Echo"), wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])


@pytest.mark.parametrize("part", ["headers", "body"])
def test_slowloris_is_cut(gw, part):
    req = request_bytes(wsg.marker())
    head_end = req.index(b"\r\n\r\n") + 4
    with connect(gw) as s:
        if part == "body":
            s.sendall(req[:head_end])
            data = req[head_end:]
        else:
            data = req[:head_end]
        took, sent = dribble(s, data)
    # Every byte came well within evhttp's idle timeout; the total deadline cut it (so not
    # before it).
    assert REQUEST_TIMEOUT - 0.5 < took < REQUEST_TIMEOUT + 4 * wsg.TIME_SCALE, took
    assert sent >= 4, sent
    assert_echo(gw)


def test_idle_keepalive_is_closed(gw):
    with connect(gw) as s:
        s.sendall(request_bytes(wsg.marker()))
        assert b"200 OK" in read_until(s, lambda d: b"</soap:Envelope>" in d)
        t0 = time.monotonic()
        # Kept for the idle timeout (the point: not closed before it), then closed.
        assert not closed(s, REQUEST_TIMEOUT - 1)
        assert closed(s, 10 * wsg.TIME_SCALE)
        assert time.monotonic() - t0 < REQUEST_TIMEOUT + 4 * wsg.TIME_SCALE


def test_idle_flood(gw):
    """A thousand idle connections: a new client is served at once, and the deadline closes
    them all, so the descriptor count comes back."""
    pid = gw.proc.popen.pid
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, FLOOD + 1024), hard))
    assert_echo(gw)
    before = wsg.fd_count(pid)
    idle = []
    try:
        for _ in range(FLOOD):
            idle.append(socket.create_connection(("127.0.0.1", gw.port),
                                                 timeout=10 * wsg.TIME_SCALE))
        wsg.wait_for("idle connections accepted",
                     lambda: wsg.fd_count(pid) >= before + FLOOD - 10, 10)
        t0 = time.monotonic()
        assert_echo(gw)
        assert time.monotonic() - t0 < 5 * wsg.TIME_SCALE
        wsg.wait_for("idle connections closed", lambda: wsg.fd_count(pid) <= before + 2,
                     REQUEST_TIMEOUT + 15)
        assert all(closed(s, 0) for s in idle)
    finally:
        for s in idle:
            s.close()
    assert_echo(gw)


def test_pipelined_requests_answered_in_order(gw):
    marks = [wsg.marker() for _ in range(3)]
    with connect(gw) as s:
        s.sendall(b"".join(request_bytes(m) for m in marks))
        data = read_until(s, lambda d: d.count(b"</soap:Envelope>") == 3)
    assert data.count(b"HTTP/1.1 200 OK") == 3, data[:500]
    where = [data.index(m.encode()) for m in marks]
    assert where == sorted(where), where


def test_half_closed_client_gets_its_answer(gw):
    m = wsg.marker()
    with connect(gw) as s:
        s.sendall(request_bytes(m))
        s.shutdown(socket.SHUT_WR)
        data = read_until(s, lambda d: False, timeout=15)
    assert data.startswith(b"HTTP/1.1 200 OK"), data[:300]
    assert m.encode() in data


def test_half_closed_while_upstream_works(gw):
    """The client half-closes while the upstream still works on its request (1.5 s)."""
    m = wsg.marker()
    with connect(gw) as s:
        s.sendall(request_bytes(m, "/services/SlowOk?s=1.5"))
        s.shutdown(socket.SHUT_WR)
        data = read_until(s, lambda d: False, timeout=15)
    assert data.startswith(b"HTTP/1.1 200 OK"), data[:300]
    assert m.encode() in data


def test_max_connections(capped):
    held = []
    pid = capped.proc.popen.pid
    # The start-up probe's connection is closed and no longer counted.
    wsg.wait_for("start-up probe closed", lambda: wsg.served_connections(capped.port) == 0, 10)
    before = wsg.fd_count(pid)
    try:
        for _ in range(MAX_CONNECTIONS):
            held.append(connect(capped))
        # All taken by the gateway, none closed.
        wsg.wait_for("connections accepted",
                     lambda: wsg.fd_count(pid) >= before + MAX_CONNECTIONS, 10)
        assert not any(closed(s, 0) for s in held)
        # Over the cap: accepted and closed at once, without an answer.
        with connect(capped) as extra:
            assert closed(extra, 5 * wsg.TIME_SCALE)
        # Every worker counts against one cap: these all go the same way.
        for _ in range(6):
            with connect(capped) as extra:
                assert closed(extra, 5 * wsg.TIME_SCALE)
        for s in held[:5]:
            s.close()
        del held[:5]
        wsg.wait_for("closed connections released",
                     lambda: wsg.fd_count(pid) <= before + MAX_CONNECTIONS - 5, 10)
        assert_echo(capped)
        # The held connections are still served.
        held[0].sendall(request_bytes(wsg.marker()))
        assert b"200 OK" in read_until(held[0], lambda d: b"</soap:Envelope>" in d)
    finally:
        for s in held:
            s.close()
    text = capped.proc.stderr_text()
    assert re.search(r"warning limits\.max_connections = %d reached: new connections are "
                     r"closed at once \(\d+ so far\)" % MAX_CONNECTIONS, text), text[-2000:]
    assert re.search(r"info open file limit", text), text[-2000:]


def test_clean_stop(gw, capped):
    for g in (gw, capped):
        rc = g.proc.stop()
        assert rc == 0, g.proc.stderr_text()[-3000:]
        reports = [line for line in open(g.proc.err_path, encoding="utf-8", errors="replace")
                   if wsg.SANITIZER_RE.search(line)]
        assert reports == [], reports[:10]
