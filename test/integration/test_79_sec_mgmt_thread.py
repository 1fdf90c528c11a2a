"""The management thread (issue 13, item 8): GET /health never waits on the database. A
background probe on the management thread's loop runs SELECT 1 through a non-blocking
connection; /health answers from its last result, so with a stalled MariaDB (SIGSTOP) it
answers at once, first 200 and within a few seconds 503 unavailable, and 200 again after
SIGCONT. A login flood of unknown names from many addresses beside /health polls leaves
/health fast (argon2 runs on the password pool), and so does one while the database is
stalled: a login's lookup of the name goes through a non-blocking pool, never a blocking
connection of the management thread. Every other request that uses the database (token
checks, users, roles, logout, the first admin's transaction) runs on the management
listener's own pool of workers (management.workers), each with its own connection: a write
waiting on a row lock, or reads against a stalled database, leave /health, the API's status
and logins answered, and a full queue (userstore.max_waiting) is answered 503 at once.

The gateway runs on a MariaDB of its own, with a long query_timeout so that a wait on the
stalled database would be visible.
"""

import base64
import concurrent.futures
import http.client
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

import mgmt_util as mu
import wsg

ADMIN = ("boss79", "Boss79-Pw-0079")
wsg.SENT_SECRETS.update([ADMIN[1]])
FLOOD = 400
ADDRESSES = 60
BOUND = 1.0 * wsg.TIME_SCALE  # seconds one /health may take with a stalled database
# seconds, p99 of /health beside the login flood: 0.5 s wanted, room for an ASan build on
# a shared machine (measured figures: bench/mgmt-health, bench/README.md)
P99_BOUND = 1.0 * wsg.TIME_SCALE


def get_from(addr, port, path, headers, timeout):
    """One GET from local address `addr`: (status, body, secs); status None on a timeout."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                   source_address=(addr, 0))
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        return r.status, r.read(), time.monotonic() - t0
    except OSError as e:
        return None, str(e).encode(), time.monotonic() - t0
    finally:
        c.close()


@pytest.fixture(scope="module")
def own(workdir, stub):
    dbdir = os.path.join(workdir, "db79")
    os.makedirs(dbdir, mode=0o700, exist_ok=True)
    db = wsg.MariaDB(dbdir)
    g = None
    try:
        db.start()
        g = mu.MgmtGateway("gw79", db, stub, "wssgate", config_kw={
            "userstore": {"query_timeout": "20", "connect_timeout": "5"}})
        g.write_config()
        wsg.setup_database(db, g)
        g.start()
        yield db, g
    finally:
        if db.proc is not None and db.proc.alive():
            os.kill(db.proc.popen.pid, signal.SIGCONT)
        if g is not None:
            problems = mu.stop_checked(g)
            assert not problems, problems
        db.stop()


def health(g, timeout=BOUND * 3):
    return get_from("127.0.0.1", g.mgmt_port, "/health", {}, timeout)


def test_sec_health_with_stalled_database(own):
    db, g = own
    wsg.wait_for("/health 200", lambda: health(g)[0] == 200, 30 * wsg.TIME_SCALE)
    seen = []
    os.kill(db.proc.popen.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            s, body, t = health(g)
            seen.append((s, round(t, 2)))
            assert s is not None and t < BOUND, \
                "/health took %.1f s with a stalled database (%s)" % (t, body[:200])
            if s == 503:
                assert body == b'{"status":"unavailable",' \
                    b'"reason":"the database cannot be reached"}' or \
                    b'"unavailable"' in body, body
                break
            assert s == 200, (s, body)
            time.sleep(0.2)
        print("while stalled: %s" % seen)
        assert seen[-1][0] == 503, "never reported unavailable: %s" % seen
    finally:
        os.kill(db.proc.popen.pid, signal.SIGCONT)
    wsg.wait_for("/health 200 again", lambda: health(g)[0] == 200, 30 * wsg.TIME_SCALE)


def test_sec_health_beside_login_flood(own):
    _db, g = own
    wsg.wait_for("/health 200", lambda: health(g)[0] == 200, 30 * wsg.TIME_SCALE)
    g.login(*ADMIN)   # the first login bootstraps the admin; the flood's are all wrong
    basic = [{"Authorization": "Basic " + base64.b64encode(
        b"ghost79-%d:wrong-password-%d" % (i, i)).decode()} for i in range(FLOOD)]
    results, times = [], []

    def flood():
        with concurrent.futures.ThreadPoolExecutor(max_workers=100) as ex:
            results.extend(ex.map(
                lambda ih: get_from("127.0.3.%d" % (10 + ih[0] % ADDRESSES),
                                    g.mgmt_port, "/management/login", ih[1], 120),
                enumerate(basic)))

    th = threading.Thread(target=flood)
    th.start()
    time.sleep(0.3)
    while th.is_alive():
        s, body, t = health(g, timeout=10)
        assert s == 200, (s, body)
        times.append(t)
        time.sleep(0.05)
    th.join()
    statuses = sorted({s for s, _b, _t in results})
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0
    print("login flood: statuses %s; /health n=%d p50 %.3f s p99 %.3f s max %.3f s"
          % (statuses, len(times), times[len(times) // 2] if times else 0, p99,
             times[-1] if times else 0))
    assert set(statuses) <= {401, 429, 503}, statuses
    assert len(times) >= 5, "the flood ended before /health was polled"
    assert p99 < P99_BOUND, "/health p99 %.3f s beside a login flood" % p99


def test_sec_login_flood_with_stalled_database(own):
    """Logins while the database is stalled wait in the non-blocking pool (or are refused
    when userstore.max_waiting wait already); /health meanwhile answers within BOUND."""
    db, g = own
    wsg.wait_for("/health 200", lambda: health(g)[0] == 200, 30 * wsg.TIME_SCALE)
    basic = [{"Authorization": "Basic " + base64.b64encode(
        b"stall79-%d:wrong-password-%d" % (i, i)).decode()} for i in range(40)]
    seen = []
    os.kill(db.proc.popen.pid, signal.SIGSTOP)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=40) as ex:
            futs = [ex.submit(get_from, "127.0.4.%d" % (10 + i % 20), g.mgmt_port,
                              "/management/login", h, 60) for i, h in enumerate(basic)]
            time.sleep(0.5 * wsg.TIME_SCALE)  # the logins reach the gateway
            for _ in range(5):
                s, body, t = health(g)
                seen.append((s, round(t, 2)))
                time.sleep(0.2)
            os.kill(db.proc.popen.pid, signal.SIGCONT)
            statuses = sorted({f.result()[0] for f in futs})
    finally:
        os.kill(db.proc.popen.pid, signal.SIGCONT)
    print("logins %s; /health while stalled %s" % (statuses, seen))
    for s, t in seen:
        assert s is not None and t < BOUND, "/health took %.1f s (%s)" % (t, seen)
    assert set(statuses) <= {401, 429, 503}, statuses
    wsg.wait_for("/health 200 again", lambda: health(g)[0] == 200, 30 * wsg.TIME_SCALE)


def admin_token(g):
    """The admin's token; the first login of the module creates the admin."""
    return g.login(*ADMIN)


def hold_admin_role_row(db):
    """A session of its own that holds the admin role's row lock (every management write
    takes it first); COMMIT on its stdin releases it."""
    holder = subprocess.Popen(
        ["mariadb", "--no-defaults", "--socket=" + db.socket, "-u", db.user, "--batch",
         "--unbuffered", "--skip-column-names", "wssgate"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=wsg.clean_env())
    holder.stdin.write("START TRANSACTION;\n"
                       "SELECT 'locked' FROM roles WHERE name = 'admin' FOR UPDATE;\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "locked"
    return holder


def lock_waits(db):
    """Transactions waiting for a row lock now (what a sleep would only hope for)."""
    return int(db.sql("SELECT COUNT(*) FROM information_schema.INNODB_LOCK_WAITS;").strip())


def release(holder):
    if holder.poll() is None:
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
    holder.wait(timeout=30)


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def test_sec_write_waiting_on_a_lock_leaves_api_served(own):
    """A user add waits for the admin role's row on a worker; meanwhile /health, GET
    /management, a login and an authenticated read (on the other worker) answer at once."""
    db, g = own
    tok = admin_token(g)
    pw = "Carl79-Pw-0079"
    wsg.SENT_SECRETS.add(pw)
    results = {}
    holder = hold_admin_role_row(db)
    try:
        th = threading.Thread(target=lambda: results.setdefault("add", g.request(
            "POST", "/users", token=tok, body={"userId": "carl79", "password": pw})))
        th.start()
        wsg.wait_for("the user add waiting for the admin role's row",
                     lambda: lock_waits(db) > 0, 10)
        assert th.is_alive(), "the user add did not wait for the admin role's row"
        for path in ("/health", "/management"):
            s, body, t = get_from("127.0.0.1", g.mgmt_port, path, {}, BOUND * 3)
            assert s == 200 and t < BOUND, \
                "%s during a lock wait: %s in %.2f s (%s)" % (path, s, t, body[:200])
        tok2, t = timed(lambda: admin_token(g))
        assert t < BOUND * 2, "login during a lock wait took %.2f s" % t
        r, t = timed(lambda: g.request("GET", "/users", token=tok2, timeout=BOUND * 3))
        assert r.status_code == 200 and t < BOUND, \
            "GET /users during a lock wait: %s in %.2f s" % (r.status_code, t)
        assert th.is_alive(), "the lock wait ended early"
    finally:
        release(holder)
    th.join(30 * wsg.TIME_SCALE)
    assert not th.is_alive()
    assert results["add"].status_code == 200, (results["add"].status_code,
                                               results["add"].content)
    assert results["add"].json() == {"userId": "carl79", "status": "Added"}


def test_sec_reads_with_stalled_database_leave_api_served(own):
    """Authenticated requests against a stalled database wait on the workers, not on the
    management thread: /health and GET /management answer meanwhile, and the requests
    complete once the database is back."""
    db, g = own
    tok = admin_token(g)
    wsg.wait_for("/health 200", lambda: health(g)[0] == 200, 30 * wsg.TIME_SCALE)
    seen = []
    os.kill(db.proc.popen.pid, signal.SIGSTOP)
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
            futs = [ex.submit(g.request, "GET", path, tok)
                    for path in ("/users", "/roles", "/users/" + ADMIN[0], "/routes")]
            time.sleep(0.5 * wsg.TIME_SCALE)  # the reads reach the gateway
            for path in ("/health", "/management", "/health"):
                s, body, t = get_from("127.0.0.1", g.mgmt_port, path, {}, BOUND * 3)
                seen.append((path, s, round(t, 2)))
                time.sleep(0.2)
            assert not any(f.done() for f in futs[:2]), "answered with a stalled database"
            os.kill(db.proc.popen.pid, signal.SIGCONT)
            statuses = [f.result().status_code for f in futs]
    finally:
        os.kill(db.proc.popen.pid, signal.SIGCONT)
    print("while stalled: %s; requests %s" % (seen, statuses))
    for path, s, t in seen:
        assert s is not None and t < BOUND, "%s took %.2f s (%s)" % (path, t, seen)
    assert statuses == [200, 200, 200, 200], statuses


def test_sec_mgmt_workers_queue_bounded(own, stub):
    """One worker, one waiting place: with the worker held by a lock wait and one request
    waiting, further requests get 503 with Retry-After at once, audited as mgmt_busy; the
    accepted ones complete after the lock is released."""
    db, g = own
    admin_token(g)
    g2 = mu.MgmtGateway("gw79q", db, stub, "wssgate", mgmt={"workers": "1"},
                        share_keys_with=g,
                        config_kw={"userstore": {"query_timeout": "20", "max_waiting": "1"}})
    shutil.copyfile(os.path.join(g.dir, "db.pass"), os.path.join(g2.dir, "db.pass"))
    os.chmod(os.path.join(g2.dir, "db.pass"), 0o600)
    g2.write_config()
    g2.start()
    holder = None
    try:
        tok = g2.login(*ADMIN)
        pws = ["Queue79-Pw-%04d" % i for i in range(4)]
        wsg.SENT_SECRETS.update(pws)

        def add(i):
            return timed(lambda: g2.request("POST", "/users", token=tok,
                                            body={"userId": "queue79-%d" % i,
                                                  "password": pws[i]}))

        holder = hold_admin_role_row(db)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
            first = ex.submit(add, 0)
            wsg.wait_for("the first add waiting for the admin role's row",
                         lambda: lock_waits(db) > 0, 10)
            second = ex.submit(add, 1)
            # The second waits in the management queue, which shows nowhere outside.
            time.sleep(0.5 * wsg.TIME_SCALE)
            rest = [ex.submit(add, i) for i in (2, 3)]
            refused = [f.result(timeout=BOUND * 10) for f in rest]
            s, body, t = health(g2)
            assert s == 200 and t < BOUND, (s, t, body[:200])
            assert not first.done() and not second.done()
            release(holder)
            holder = None
            accepted = [first.result(), second.result()]
        for r, t in refused:
            assert r.status_code == 503 and t < BOUND, (r.status_code, t, r.content)
            assert r.headers.get("Retry-After") == "1", r.headers
            assert r.json() == {"Error": "The server is busy. Please try again later."}
        for r, _t in accepted:
            assert r.status_code == 200, (r.status_code, r.content)
        audit = "\n".join(g2.audit_lines())
        assert audit.count("mgmt_busy") >= 2, audit[-2000:]
    finally:
        if holder is not None:
            release(holder)
        problems = mu.stop_checked(g2)
        assert not problems, problems
