"""Upstream faults (issue 7, item 2): refused, closed without an answer, reset mid-response,
stalled, dribbling, garbage instead of HTTP, an endless header, a 1 GiB answer (with and without
Content-Length), and a client that reads the answer too slowly. Each is a 502 / 504 SOAP fault or
a clean close, leaks no descriptor and keeps memory bounded; the gateway serves normally after.

The misbehaving answers come from the stub upstream (test/upstream/stub_upstream.py: /Garbage,
/Close, /Reset, /Dribble, /Huge, /HeaderFlood, /Big). bench/upstream-faults runs the same faults
10 000 times and prints the descriptor count and memory before and after.
"""

import os
import socket
import time

import pytest

import wsg

MAX_RESPONSE = 16 << 20     # limits.max_response_size here
RESPONSE_TIMEOUT = 3        # limits.response_timeout
ROUTE_TIMEOUT = 2           # timeout of the stalling routes

# route name, request path below /services/ (the query goes on to the upstream), stub path,
# expected status
FAULTS = [
    ("refused", "Down", None, 502),
    ("garbage", "Garbage", "/Garbage", 502),
    ("close", "Close", "/Close", 502),
    ("reset", "Reset", "/Reset", 502),
    ("header-flood", "HeaderFlood", "/HeaderFlood", 502),
    ("huge-length", "Huge?mb=1024&length=1", "/Huge", 502),
    ("huge", "Huge?mb=1024", "/Huge", 502),
    ("stall", "Stall?s=30", "/Slow", 504),
    ("dribble", "Dribble?s=30", "/Dribble", 504),
]


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


@pytest.fixture(scope="module")
def gw(configured, stub):
    up = "http://127.0.0.1:%d" % stub.port
    routes = [wsg.route_config(name, "/services/" + path.split("?")[0], up + target,
                               timeout=ROUTE_TIMEOUT if status == 504 else 10)
              for name, path, target, status in FAULTS if target not in (None, "/Huge")]
    routes.append(wsg.route_config("huge", "/services/Huge", up + "/Huge"))
    routes.append(wsg.route_config("big", "/services/Big", up + "/Big"))
    # A host name, looked up on the worker's loop (/etc/hosts here).
    routes.append(wsg.route_config("by-name", "/services/ByName",
                                   "http://localhost:%d/Echo" % stub.port))
    # cache_ttl 60: alice comes from the cache, so no database connection opens meanwhile.
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw93", cache_ttl=60, limits={
        "max_response_size": str(MAX_RESPONSE), "response_timeout": str(RESPONSE_TIMEOUT),
        "request_timeout": "10"}, config_kw={"extra_routes": routes})
    g.write_config()
    try:
        # ASan keeps 256 MiB of freed memory by default, which would hide what the
        # memory test looks for.
        g.start(env={"ASAN_OPTIONS": wsg.ASAN_OPTIONS + ":quarantine_size_mb=8"})
        yield g
    finally:
        g.stop()


def send(gw, path, soap12=False, timeout=60):
    m = wsg.marker()
    t0 = time.monotonic()
    r = wsg.post(gw.url(path), wsg.build("alice", soap12=soap12, message=m), soap12=soap12,
                 timeout=timeout)
    return r, time.monotonic() - t0, m


def assert_echo(gw):
    r, _, m = send(gw, "/services/Echo")
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
@pytest.mark.parametrize("name,path,target,status", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_answers(gw, name, path, target, status, soap12):
    r, took, _ = send(gw, "/services/" + path, soap12)
    wsg.assert_soap_fault(r, status, "Server", "Receiver", soap12)
    if status == 504:
        # The route's timeout bounds the whole exchange, also one that trickles bytes; and
        # it is that timeout (never an earlier one) that ends it.
        assert ROUTE_TIMEOUT - 0.5 < took < ROUTE_TIMEOUT + 5 * wsg.TIME_SCALE, took
    else:
        assert took < 15 * wsg.TIME_SCALE, took
    assert_echo(gw)


def test_upstream_by_host_name(gw):
    """An upstream named by host name: looked up without blocking the loop (test_upstream
    covers a slow and a failing DNS server), then kept alive like any other."""
    for soap12 in (False, True):
        r, _, m = send(gw, "/services/ByName", soap12)
        assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])
    assert_echo(gw)


def test_faults_are_logged(gw):
    text = wsg.settled_text(gw.audit_log)
    for why in ("upstream refused or reset the connection", "upstream timed out",
                "upstream response too large", "upstream sent an invalid response"):
        assert "event=upstream_error reason=\"%s\"" % why in text, why


def test_huge_answers_keep_memory_bounded(gw):
    """1 GiB answers are refused at max_response_size, never buffered whole."""
    pid = gw.proc.popen.pid
    assert_echo(gw)
    before = proc_status(pid, "VmHWM")
    for query in ("", "&length=1") * 3:
        r, _, _ = send(gw, "/services/Huge?mb=1024" + query)
        wsg.assert_soap_fault(r, 502, "Server", "Receiver")
    peak = proc_status(pid, "VmHWM")
    # At most one capped answer is held at a time (plus the allocator's slack).
    assert peak - before < 3 * MAX_RESPONSE + (32 << 20), (before, peak)


def test_descriptors_stable_after_failures(gw):
    pid = gw.proc.popen.pid
    paths = [f[1] for f in FAULTS if f[3] == 502 and not f[1].startswith("Huge")] + \
        ["Huge?mb=1024&length=1"]
    for path in paths:          # warm-up: every pooled connection exists
        send(gw, "/services/" + path)
    assert_echo(gw)
    before = fd_count(pid)
    for i in range(40):
        r, _, _ = send(gw, "/services/" + paths[i % len(paths)], soap12=i % 2 == 1)
        assert r.status_code == 502, r.content[:300]
    assert_echo(gw)
    assert fd_count(pid) <= before + 2, (before, fd_count(pid))


def test_slow_reader_is_cut(gw):
    """A client that takes the answer slower than response_timeout allows is disconnected,
    although it reads now and then (evhttp's own timeout restarts with every byte)."""
    body = wsg.build("alice", message=wsg.marker()).encode()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", gw.port))
    s.sendall(b"POST /services/Big?kb=8192 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    got, t0, closed_after = 0, time.monotonic(), None
    s.settimeout(1)
    while time.monotonic() - t0 < 30 * wsg.TIME_SCALE:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            data = b""
        if not data:
            closed_after = time.monotonic() - t0
            break
        got += len(data)
        time.sleep(0.2)
    s.close()
    assert closed_after is not None, "still open after %d s" % (30 * wsg.TIME_SCALE)
    assert got < 8 << 20, got
    # Cut by response_timeout, not before it.
    assert RESPONSE_TIMEOUT - 1 < closed_after < RESPONSE_TIMEOUT + 6 * wsg.TIME_SCALE, \
        closed_after
    assert_echo(gw)


def test_clean_stop(gw):
    rc = gw.proc.stop()
    assert rc == 0, gw.proc.stderr_text()[-3000:]
    reports = [line for path in (gw.proc.err_path, gw.audit_log, gw.access_log)
               for line in open(path, encoding="utf-8", errors="replace")
               if wsg.SANITIZER_RE.search(line)]
    assert reports == [], reports[:10]
