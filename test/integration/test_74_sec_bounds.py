"""Bounds on shared resources (issue 12, items 12 and 13) against the real gateway.

12: the argon2 verification queue is bounded globally (security.verify_queue.max_queued, full:
HTTP 503 Server fault) and per client address (max_per_client in flight, beyond: 429), and the
queued jobs of an address that becomes locked by security.client_limit are dropped without
running argon2; a flood of wrong PasswordText requests from one address therefore runs argon2
a bounded number of times and does not delay other clients. Management logins verify on the
same pool, off the management thread, so a login flood does not stall the management API.
13: limits.max_connections has a finite default (10000 per process) and refused connections are
counted; the queue of requests waiting for a pooled database connection is bounded
(userstore.max_waiting), so with a stalled database the excess is refused at once with a
Server fault instead of waiting for query_timeout.

Each flood comes from its own loopback address (127.0.0.N), so the per-address counts of one
test never reach another.
"""

import base64
import concurrent.futures
import http.client
import os
import re
import signal
import socket
import threading
import time

import pytest

import mgmt_util as mu
import wsg

PW = "Bounds-Pw-0074"
OTHER_PW = "Bounds-Other-0074"
ADMIN = ("boss74", "Boss74-Pw-0074")
wsg.SENT_SECRETS.update([PW, OTHER_PW, ADMIN[1]])
CLIENT_MAX = 50          # the shipped security.client_limit.max_failures
PER_CLIENT = 8           # the shipped security.verify_queue.max_per_client
FLOOD = 300
DEFAULT_MAX_WAITING = 64  # the shipped userstore.max_waiting
SECURITY = {"client_limit": "{ max_failures = %d; window = 60; duration = 300; }" % CLIENT_MAX}


def post_from(addr, gw, body, timeout=120):
    """One POST of `body` to /services/Echo from local address `addr`: (status, bytes, secs)."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=timeout,
                                   source_address=(addr, 0))
    try:
        c.request("POST", "/services/Echo", body=body.encode("utf-8"),
                  headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
        r = c.getresponse()
        return r.status, r.read(), time.monotonic() - t0
    finally:
        c.close()


def get_from(addr, port, path, headers, timeout=120):
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                   source_address=(addr, 0))
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        return r.status, r.read(), time.monotonic() - t0
    finally:
        c.close()


def metric(gw, name, **labels):
    """The value of one sample of /metrics (None when absent)."""
    r = gw.http.get("http://127.0.0.1:%d/metrics" % gw.mgmt_port, timeout=60)
    assert r.status_code == 200
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in r.text.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name and (m.group(2) or "") == want:
            return float(m.group(3))
    return None


@pytest.fixture(scope="module")
def gw(mariadb, stub, configured):
    g = mu.MgmtGateway("gw74", mariadb, stub, "wssgate_bounds74", security=SECURITY)
    mu.setup_database(mariadb, g)
    g.cli_ok("role", "add", "echo-users")
    g.cli_ok("user", "add", "flood74", "--role", "echo-users", stdin=PW + "\n")
    g.cli_ok("user", "add", "other74", "--role", "echo-users", stdin=OTHER_PW + "\n")
    g.start()
    yield g
    problems = mu.stop_checked(g)
    assert not problems, problems


def test_sec_verify_queue_bounded(gw):
    """FLOOD concurrent wrong PasswordText requests from one address: argon2 runs at most
    client_limit.max_failures + max_per_client times, the flood ends quickly, every answer is
    FailedAuthentication or 429, and another address's right password passes meanwhile."""
    runs0 = metric(gw, "wssgate_password_verifications_total") or 0
    # Different wrong passwords: identical ones would join one argon2 run (test_77).
    bad = [wsg.build("flood74", "wrong-password-%d" % i, use_digest=False, message=wsg.marker())
           for i in range(FLOOD)]
    results, other = [], []

    def flood():
        with concurrent.futures.ThreadPoolExecutor(max_workers=FLOOD) as ex:
            results.extend(ex.map(lambda b: post_from("127.0.0.74", gw, b), bad))

    t0 = time.monotonic()
    th = threading.Thread(target=flood)
    th.start()
    wsg.wait_for("the flood queued at the verifiers",
                 lambda: (metric(gw, "wssgate_password_queue") or 0) > 0 or not th.is_alive(), 10)
    for _ in range(3):
        m = wsg.marker()
        good = wsg.build("other74", OTHER_PW, use_digest=False, message=m)
        other.append(post_from("127.0.0.75", gw, good))
        time.sleep(0.3)
    th.join()
    took = time.monotonic() - t0
    runs = (metric(gw, "wssgate_password_verifications_total") or 0) - runs0
    statuses = sorted({s for s, _b, _t in results})
    print("flood: %.1f s, %d argon2 runs, statuses %s, other %s"
          % (took, runs, statuses, [(s, round(t, 2)) for s, _b, t in other]))
    assert len(results) == FLOOD
    assert set(statuses) <= {429, 500, 503}, statuses
    assert 429 in statuses
    # Each FailedAuthentication is one argon2 run (wrong password); the rest were refused.
    failed = [b for s, b, _t in results if s == 500]
    assert all(b"FailedAuthentication" in b for b in failed)
    assert len(failed) <= CLIENT_MAX + PER_CLIENT, "%d of %d ran argon2" % (len(failed), FLOOD)
    assert took < 10 * wsg.TIME_SCALE, "the flood took %.1f s" % took
    for s, body, t in other:
        assert s == 200, (s, body[:300])
        assert t < 3 * wsg.TIME_SCALE, "another address waited %.1f s" % t
    assert len(failed) <= runs <= len(failed) + 2 * PER_CLIENT, runs
    assert metric(gw, "wssgate_password_queue_refused_total", reason="client") > 0


def test_sec_mgmt_login_flood(gw):
    """A flood of wrong management logins does not stall GET /management/users for an admin
    with a token from another address. The flood comes from 30 addresses, 10 logins each,
    so client_limit (50 per address) does not cut it short: before the fix all 300 ran
    argon2 on the management thread."""
    token = gw.login(*ADMIN)   # the first login bootstraps the admin
    auth = {"Authorization": "Bearer " + token}
    ok = get_from("127.0.0.1", gw.mgmt_port, "/management/users", auth)
    assert ok[0] == 200, ok
    basic = [{"Authorization": "Basic " + base64.b64encode(
        b"flood74:wrong-password-%d" % i).decode()} for i in range(FLOOD)]
    results, admin = [], []

    def flood():
        with concurrent.futures.ThreadPoolExecutor(max_workers=100) as ex:
            results.extend(ex.map(
                lambda ih: get_from("127.0.2.%d" % (10 + ih[0] % 30), gw.mgmt_port,
                                    "/management/login", ih[1]), enumerate(basic)))

    th = threading.Thread(target=flood)
    th.start()
    time.sleep(0.5)
    while th.is_alive() and len(admin) < 8:
        admin.append(get_from("127.0.0.1", gw.mgmt_port, "/management/users", auth))
        time.sleep(0.2)
    th.join()
    statuses = sorted({s for s, _b, _t in results})
    print("login flood: statuses %s, admin GETs %s"
          % (statuses, [(s, round(t, 2)) for s, _b, t in admin]))
    assert set(statuses) <= {401, 429, 503}, statuses
    assert admin, "the flood ended before any admin request was made"
    for s, body, t in admin:
        assert s == 200, (s, body[:300])
        assert t < 2 * wsg.TIME_SCALE, \
            "GET /management/users took %.1f s during a login flood" % t


class QueueGateway(mu.MgmtGateway):
    """A gateway with a tiny security.verify_queue (the harness has no key for it)."""

    def write_config(self):
        super().write_config()
        with open(self.config) as f:
            text = f.read()
        assert text.count("security = { ") == 1
        text = text.replace("security = { ", "security = { verify_queue = { max_queued = 2; "
                                             "max_per_client = 2; }; ")
        with open(self.config, "w") as f:
            f.write(text)


def test_sec_verify_queue_full_is_busy(gw, mariadb, stub):
    """Over max_queued (from many addresses) a request gets 503 with Retry-After and a
    Server fault, before anything about the user is known: the answer is the same bytes for
    an existing and an unknown name, and never FailedAuthentication."""
    q = QueueGateway("gw74q", mariadb, stub, "wssgate_bounds74", share_keys_with=gw)
    mu.copy_db_pass(q)
    q.write_config()
    q.start()
    try:
        jobs = []
        for i in range(40):
            name = "flood74" if i % 2 else "nobody74-%d" % i
            # An address each: max_per_client must not answer first (429).
            jobs.append(("127.0.1.%d" % (10 + i), name,
                         wsg.build(name, "wrong-password", use_digest=False)))

        def one(job):
            addr, name, body = job
            t0 = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", q.port, timeout=120,
                                           source_address=(addr, 0))
            c.request("POST", "/services/Echo", body=body.encode("utf-8"),
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
            r = c.getresponse()
            out = (name, r.status, r.getheader("Retry-After"), r.read(), time.monotonic() - t0)
            c.close()
            return out
        with concurrent.futures.ThreadPoolExecutor(max_workers=40) as ex:
            answers = list(ex.map(one, jobs))
        busy = [a for a in answers if a[1] == 503]
        print("busy: %d of %d" % (len(busy), len(answers)))
        assert busy, sorted({a[1] for a in answers})
        assert {a[1] for a in answers} <= {500, 503}
        for name, status, retry, body, _t in answers:
            if status == 500:
                assert b"FailedAuthentication" in body, body[:300]
            else:
                assert retry == "1" and b"FailedAuthentication" not in body, (retry, body)
                assert b"Server" in body and b"The server is busy" in body, body[:300]
        assert {a[3] for a in busy if a[0] == "flood74"} == \
            {a[3] for a in busy if a[0] != "flood74"}, "503 differs between names"
        assert metric(q, "wssgate_password_queue_refused_total", reason="full") >= len(busy)
    finally:
        problems = mu.stop_checked(q)
        assert not problems, problems


# ---------------------------------------------------------------- item 13

def test_sec_max_connections_default(gw, mariadb, stub):
    """A small limits.max_connections refuses (closes) the excess connection and counts it
    in /metrics; without the key the limit in force is the finite default, as shipped."""
    with open(os.path.join(wsg.TOP_SRC, "conf", "wssgate.conf")) as f:
        shipped = re.search(r"^\s*max_connections\s*=\s*(\d+);", f.read(), re.M)
    assert shipped and 0 < int(shipped.group(1)) <= 100000, shipped

    small = mu.MgmtGateway("gw74c", mariadb, stub, "wssgate_bounds74", share_keys_with=gw,
                           config_kw={"limits": {"max_connections": "3"}})
    mu.copy_db_pass(small)
    small.write_config()
    small.start()
    held = []
    pid = small.proc.popen.pid
    # The start-up probe's connection must be gone before the count starts.
    wsg.wait_for("start-up probe closed", lambda: wsg.served_connections(small.port) == 0, 10)
    before = wsg.fd_count(pid)
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", small.port), timeout=10)
            held.append(s)
        wsg.wait_for("connections accepted", lambda: wsg.fd_count(pid) >= before + 3, 10)
        extra = socket.create_connection(("127.0.0.1", small.port), timeout=10)
        try:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got = extra.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        extra.close()
        assert got == b"", "the connection over max_connections was served: %r" % got
        assert metric(small, "wssgate_connections_refused_total") >= 1
        assert metric(small, "wssgate_connections_limit") == 3
    finally:
        for s in held:
            s.close()
        small.stop()

    # The same gateway with no max_connections key at all: the default is in force.
    text = open(small.config).read()
    text, n = re.subn(r"max_connections = \d+;", "", text)
    assert n == 1
    with open(small.config, "w") as f:
        f.write(text)
    r = small.cli("--check-config")
    assert r.returncode == 0, r.err
    small.start()
    try:
        assert metric(small, "wssgate_connections_limit") == int(shipped.group(1))
    finally:
        problems = mu.stop_checked(small)
        assert not problems, problems


@pytest.fixture(scope="module")
def stalled(workdir, stub):
    """A gateway of one worker and one pooled connection on a MariaDB of its own, which the
    test stops with SIGSTOP; query_timeout is long so that waiting for it is visible."""
    dbdir = os.path.join(workdir, "db74")
    os.makedirs(dbdir, mode=0o700, exist_ok=True)
    db = wsg.MariaDB(dbdir)
    g = None
    try:
        db.start()
        g = mu.MgmtGateway("gw74d", db, stub, "wssgate", config_kw={
            "workers": 1,
            "userstore": {"query_timeout": "20", "connect_timeout": "5", "pool_size": "1"}})
        g.write_config()
        wsg.setup_database(db, g)
        g.start()
        yield db, g
    finally:
        if db.proc is not None and db.proc.alive():
            os.kill(db.proc.popen.pid, signal.SIGCONT)
        if g is not None:
            g.stop()
        db.stop()


def test_sec_db_wait_queue_bounded(stalled):
    """pool_size = 1 and a stalled database: of more cold-user requests than the default
    userstore.max_waiting, the excess gets a Server fault (503) at once, not after
    query_timeout (20 s here)."""
    db, g = stalled
    n = DEFAULT_MAX_WAITING + 30
    bodies = [wsg.build("cold74-%d" % i, "whatever", message=wsg.marker()) for i in range(n)]
    os.kill(db.proc.popen.pid, signal.SIGSTOP)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
            futs = [ex.submit(post_from, "127.0.0.77", g, b, 60) for b in bodies]
            # "At once": well before query_timeout (20 s), however slow the machine.
            deadline = time.monotonic() + min(4 * wsg.TIME_SCALE, 12)
            while time.monotonic() < deadline and \
                    sum(f.done() for f in futs) < n - DEFAULT_MAX_WAITING - 2:
                time.sleep(0.1)
            fast = [f.result() for f in futs if f.done()]
            os.kill(db.proc.popen.pid, signal.SIGCONT)
            rest = [f.result() for f in futs if f not in fast]
    finally:
        os.kill(db.proc.popen.pid, signal.SIGCONT)
    print("answered at once: %d of %d (%s)" % (len(fast), n, sorted({s for s, _b, _t in fast})))
    assert len(fast) >= n - DEFAULT_MAX_WAITING - 2, "only %d answered at once" % len(fast)
    for s, body, t in fast:
        assert s == 503 and b"Server" in body and b"FailedAuthentication" not in body, \
            (s, body[:300])
    for s, body, _t in rest:
        assert s in (500, 503) or b"FailedAuthentication" in body, (s, body[:300])
