"""Database faults (issue 7, item 1): a MariaDB of its own is killed with SIGKILL under load,
and stalled with SIGSTOP. The gateway must not crash; users verified before keep working from
the credential cache for at most userstore.cache_ttl; everybody else gets a Server / Receiver
fault within userstore.query_timeout (never FailedAuthentication, never a hang); management
writes get 503 with nothing half-written; and when the database is back, full service resumes
within 5 s without a restart.
"""

import concurrent.futures
import os
import signal
import threading
import time

import pytest

import mgmt_util as mu
import wsg

CACHE_TTL = 6       # userstore.cache_ttl of the gateway here
QUERY_TIMEOUT = 2   # userstore.query_timeout
# What "within query_timeout" may take on a loaded 2-core machine with ASan (or valgrind).
SLACK = 3 * wsg.TIME_SCALE
RESUME_WITHIN = 5 * wsg.TIME_SCALE  # seconds from the database answering again to full service
BOSS = ("boss92", "boss-Pw-0092")
PW = "Fault-Pw-0092"
UNAVAILABLE = ("The user store is unavailable: the database cannot be reached. "
               "Please try again later")
wsg.SENT_SECRETS.update([BOSS[1], PW])


class Faults:
    def __init__(self, db, gw, token):
        self.db, self.gw, self.token = db, gw, token


@pytest.fixture(scope="module")
def faults(workdir, stub):
    dbdir = os.path.join(workdir, "db92")
    os.makedirs(dbdir, mode=0o700, exist_ok=True)
    db = wsg.MariaDB(dbdir)
    gw = None
    try:
        db.start()
        gw = mu.MgmtGateway("gw92", db, stub, "wssgate", cache_ttl=CACHE_TTL, config_kw={
            "userstore": {"query_timeout": str(QUERY_TIMEOUT), "connect_timeout": "2",
                          "pool_size": "2"}})
        gw.write_config()
        wsg.setup_database(db, gw)
        gw.start()
        yield Faults(db, gw, gw.login(*BOSS))
    finally:
        if db.proc is not None and db.proc.alive():
            os.kill(db.proc.popen.pid, signal.SIGCONT)
        if gw is not None:
            gw.stop()
        db.stop()


def send(gw, user, password=None, digest=True, timeout=30):
    m = wsg.marker()
    t0 = time.monotonic()
    r = wsg.post(gw.url("/services/Echo"),
                 wsg.build(user, password, use_digest=digest, message=m), timeout=timeout)
    return r, time.monotonic() - t0, m


def assert_served(gw, user, digest=True):
    r, _, m = send(gw, user, digest=digest)
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])


def assert_store_fault(gw, user, password=None, digest=True):
    """A Server fault (never FailedAuthentication) within query_timeout (+ slack)."""
    r, took, _ = send(gw, user, password, digest=digest)
    wsg.assert_soap_fault(r, 500, "Server", "Receiver")
    assert took < QUERY_TIMEOUT + SLACK, "answered after %.1f s" % took
    return took


def add_user(f, name, expect):
    wsg.SENT_SECRETS.add(PW)
    r = f.gw.request("POST", "/users", token=f.token, timeout=60,
                     body={"userId": name, "password": PW, "isAdmin": "false",
                           "roles": ["echo-users"]})
    assert r.status_code == expect, (r.status_code, r.content)
    return r


def wait_served_again(f, user, digest=True):
    """Seconds from the database answering again until `user` (not cached) is served."""
    wsg.wait_for("mariadbd", f.db.ping, 60, f.db.proc, 0.1)
    t0 = time.monotonic()
    while True:
        r, _, m = send(f.gw, user, digest=digest)
        if r.status_code == 200:
            assert wsg.echoed(r) == m
            return time.monotonic() - t0
        wsg.assert_soap_fault(r, 500, "Server", "Receiver")
        assert time.monotonic() - t0 < 30 * wsg.TIME_SCALE, "not served again after 30 s"
        time.sleep(0.1)


def load(gw, stop, results):
    """Valid users, wrong passwords and never-seen names until `stop` is set."""
    n = 0
    while not stop.is_set():
        n += 1
        user, pw = [("alice", None), ("carol", None), ("alice", "wrong-Pw-0000"),
                    ("ghost-%d-%d" % (threading.get_ident(), n), "ghost-Pw-1")][n % 4]
        try:
            r, took, _ = send(gw, user, pw, digest=user != "carol", timeout=60)
            results.append((r.status_code, r.content, took))
        except Exception as e:  # a hang or a reset is a failure of the test
            results.append((None, repr(e).encode(), 0))


def check_load(results):
    assert results, "no load was sent"
    for status, body, took in results:
        assert status in (200, 500), (status, body[:300])
        if status == 500:
            assert b"Fault" in body, body[:300]
        assert took < QUERY_TIMEOUT + SLACK + 5 * wsg.TIME_SCALE, "a request took %.1f s" % took


def test_killed_database(faults):
    f = faults
    # alice (digest) and carol (PasswordText) are verified now: cached until now + cache_ttl.
    assert_served(f.gw, "alice")
    assert_served(f.gw, "carol", digest=False)
    cached_at = time.monotonic()
    stop, results = threading.Event(), []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for _ in range(4):
            pool.submit(load, f.gw, stop, results)
        wsg.wait_for("load under way", lambda: len(results) >= 4, 10)
        f.db.kill()
        try:
            # Within cache_ttl the verified users still pass.
            assert_served(f.gw, "alice")
            assert_served(f.gw, "carol", digest=False)
            assert time.monotonic() - cached_at < CACHE_TTL, "too slow to test the cache"
            # Anybody the gateway has to ask the store about: a Server fault, in time.
            assert_store_fault(f.gw, "bob")
            assert_store_fault(f.gw, "jörg")
            assert_store_fault(f.gw, "never-seen-" + wsg.marker(), "x-Pw-1")
            assert_store_fault(f.gw, "never-seen-" + wsg.marker(), "x-Pw-1", digest=False)
            # Management: 503 with the error body, reads and writes alike.
            mu_error(f.gw.request("GET", "/users", token=f.token, timeout=60))
            mu_error(add_user(f, "w92-dead", 503))
            # After cache_ttl the cached users need the store too.
            time.sleep(max(0, cached_at + CACHE_TTL + 1 - time.monotonic()))
            assert_store_fault(f.gw, "alice")
            assert_store_fault(f.gw, "carol", digest=False)
        finally:
            stop.set()
    check_load(results)
    assert f.gw.proc.alive(), f.gw.proc.stderr_text()[-3000:]
    f.db.run()
    took = wait_served_again(f, "alice")
    assert took < RESUME_WITHIN, "service resumed %.1f s after the database" % took
    assert_served(f.gw, "carol", digest=False)
    add_user(f, "w92-after", 200)
    assert f.db.sql("SELECT COUNT(*) FROM users WHERE username = 'w92-dead'", "wssgate").strip() \
        == "0"


def mu_error(r):
    assert r.status_code == 503, (r.status_code, r.content)
    assert r.headers.get("Content-Type") == "application/json", r.headers
    assert r.json() == {"Error": UNAVAILABLE}, r.content


def test_stalled_database(faults):
    f = faults
    assert_served(f.gw, "alice")
    cached_at = time.monotonic()
    pid = f.db.proc.popen.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        assert_served(f.gw, "alice")
        assert time.monotonic() - cached_at < CACHE_TTL, "too slow to test the cache"
        assert_store_fault(f.gw, "bob")
        assert_store_fault(f.gw, "never-seen-" + wsg.marker(), "x-Pw-1")
        # The management thread waits for the database at most its timeouts.
        t0 = time.monotonic()
        mu_error(add_user(f, "w92-stalled", 503))
        assert time.monotonic() - t0 < 30 * wsg.TIME_SCALE
        time.sleep(max(0, cached_at + CACHE_TTL + 1 - time.monotonic()))
        assert_store_fault(f.gw, "alice")
    finally:
        os.kill(pid, signal.SIGCONT)
    took = wait_served_again(f, "alice")
    assert took < RESUME_WITHIN, "service resumed %.1f s after the database" % took
    assert f.db.sql("SELECT COUNT(*) FROM users WHERE username = 'w92-stalled'",
                    "wssgate").strip() == "0"
    add_user(f, "w92-resumed", 200)


def test_management_writes_are_all_or_nothing(faults):
    """Users added with a role in one call while the database dies: afterwards each one exists
    with its role or not at all."""
    f = faults
    stop, answers = threading.Event(), []

    def writer():
        n = 0
        while not stop.is_set():
            n += 1
            name = "w92-tx-%d" % n
            try:
                r = f.gw.request("POST", "/users", token=f.token, timeout=60,
                                 body={"userId": name, "password": PW, "isAdmin": "false",
                                       "roles": ["echo-users"]})
                answers.append((name, r.status_code, r.content))
            except Exception as e:  # a hang or a reset is a failure of the test
                answers.append((name, None, repr(e)))
            if answers[-1][1] != 200:
                time.sleep(0.2)

    t = threading.Thread(target=writer)
    t.start()
    try:
        wsg.wait_for("a user added", lambda: any(s == 200 for _, s, _ in answers), 10)
        f.db.kill()
        wsg.wait_for("a refusal", lambda: any(s == 503 for _, s, _ in answers[:]), 30)
    finally:
        stop.set()
        t.join(120)
    assert not t.is_alive()
    f.db.run()
    wsg.wait_for("mariadbd", f.db.ping, 60, f.db.proc, 0.1)
    assert {s for _, s, _ in answers} <= {200, 503}, answers
    assert any(s == 200 for _, s, _ in answers) and any(s == 503 for _, s, _ in answers), answers
    rows = f.db.sql("SELECT u.username, COUNT(ur.role_id) FROM users u LEFT JOIN user_roles ur "
                    "ON ur.user_id = u.id WHERE u.username LIKE 'w92-tx-%' GROUP BY u.username",
                    "wssgate")
    stored = dict(line.split("\t") for line in rows.splitlines())
    assert all(n == "1" for n in stored.values()), stored
    for name, status, _ in answers:
        if status == 200:
            assert name in stored, name
    # The management API serves again too (its connection reopens).
    wait_served_again(f, "alice")
    add_user(f, "w92-tx-after", 200)


def test_clean_stop_without_sanitizer_reports(faults):
    problems = mu.stop_checked(faults.gw)
    assert problems == [], problems
