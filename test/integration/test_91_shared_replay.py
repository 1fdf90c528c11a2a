"""security.replay_store = "mariadb" (DESIGN 3.2 and "Scaling"): two gateways on one user store
share the replay_nonces table, so a nonce one of them accepted is refused by the other; the
check-and-insert is one statement, so concurrent copies pass once; an expired row is taken
over; expired rows are swept; and when the table cannot be used, tokens with a nonce are
refused with a Server fault (fail closed) while tokens without one keep working."""

import concurrent.futures
import hashlib
import os
import signal
import time

import pytest

import wsg

SHARED = {"replay_store": '"mariadb"'}
PURGE_EVERY = 256   # WSG_REPLAY_STORE_PURGE_EVERY in src/replay_store.h


class Pair:
    def __init__(self, db, a, b):
        self.db, self.a, self.b = db, a, b

    def sql(self, statements):
        return self.db.sql(statements, "wssgate")


@pytest.fixture(scope="module")
def pair(configured):
    gws = []
    try:
        for name in ("gw91a", "gw91b"):
            gw = wsg.Gateway(configured.dir, configured.db, configured.stub, name=name,
                             security=SHARED)
            gw.write_config()
            gw.start()
            gws.append(gw)
        yield Pair(configured.db, *gws)
    finally:
        for gw in gws:
            if gw.proc is not None and gw.proc.alive():
                gw.stop()


def send(gw, body):
    return wsg.post(gw.url("/services/Echo"), body)


def token(nonce=None, message=None):
    return wsg.build("alice", nonce=nonce or os.urandom(16), message=message or wsg.marker())


def served(r):
    return r.status_code == 200 and wsg.echoed(r) is not None


def replayed(r):
    return r.status_code == 500 and wsg.wss_code(r) == "InvalidSecurity"


def row_key(nonce):
    return hashlib.sha256(nonce).hexdigest()


def test_nonce_accepted_by_one_gateway_is_refused_by_the_other(pair):
    for first, second in ((pair.a, pair.b), (pair.b, pair.a)):
        body = token()
        r = send(first, body)
        assert served(r), (r.status_code, r.content[:300])
        r = send(second, body)
        assert replayed(r), (r.status_code, r.content[:300])
        r = send(first, body)
        assert replayed(r), "the gateway that accepted it must refuse it too"


def test_a_row_is_written_per_accepted_nonce(pair):
    nonce = os.urandom(16)
    assert served(send(pair.a, token(nonce)))
    out = pair.sql("SELECT expires_at - UNIX_TIMESTAMP() FROM replay_nonces WHERE nonce = '%s'"
                   % row_key(nonce)).split()
    assert len(out) == 1, out
    # max(now, Created) + created_ttl (300) + future_ttl (60) of the harness config
    assert 300 <= int(out[0]) <= 361, out


def test_concurrent_copies_pass_once(pair):
    for _ in range(3):
        body = token()
        gws = [pair.a, pair.b] * 4
        with concurrent.futures.ThreadPoolExecutor(len(gws)) as ex:
            results = list(ex.map(lambda gw: send(gw, body), gws))
        assert sum(served(r) for r in results) == 1, [r.status_code for r in results]
        assert all(served(r) or replayed(r) for r in results), [r.status_code for r in results]


def test_expired_row_is_taken_over_live_row_refuses(pair):
    old, live = os.urandom(16), os.urandom(16)
    pair.sql("INSERT INTO replay_nonces (nonce, expires_at) VALUES ('%s', 1), "
             "('%s', UNIX_TIMESTAMP() + 3600)" % (row_key(old), row_key(live)))
    r = send(pair.b, token(old))
    assert served(r), "a row past its expiry must not refuse the nonce: %r" % r.content[:300]
    left = int(pair.sql("SELECT expires_at - UNIX_TIMESTAMP() FROM replay_nonces "
                        "WHERE nonce = '%s'" % row_key(old)).strip())
    assert left > 250, "the taken-over row keeps the new expiry"
    r = send(pair.b, token(live))
    assert replayed(r), (r.status_code, r.content[:300])


def test_expired_rows_are_swept(pair):
    pair.sql("INSERT INTO replay_nonces (nonce, expires_at) VALUES %s"
             % ", ".join("('%s', %d)" % (os.urandom(32).hex(), i + 1) for i in range(200)))
    # Each worker sweeps every PURGE_EVERY of its inserts; the harness runs 2 workers.
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: send(pair.a, token()), range(2 * PURGE_EVERY + 8)))
    assert all(served(r) for r in results), {r.status_code for r in results}
    deadline = time.monotonic() + 10 * wsg.TIME_SCALE
    while True:
        expired = int(pair.sql("SELECT COUNT(*) FROM replay_nonces "
                               "WHERE expires_at <= UNIX_TIMESTAMP()").strip())
        if expired == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert expired == 0, "%d expired rows left" % expired


def test_unusable_store_fails_closed(pair):
    assert served(send(pair.a, token()))   # alice is in the credential cache now
    pair.sql("RENAME TABLE replay_nonces TO replay_nonces_away")
    try:
        body = token()
        r = send(pair.a, body)
        wsg.assert_soap_fault(r, 500, "Server", "Receiver")
        assert b"alice-Pw" not in r.content
        # No nonce, nothing to share: a PasswordText token without one still passes.
        m = wsg.marker()
        r = send(pair.a, wsg.build("alice", use_digest=False, message=m))
        assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])
    finally:
        pair.sql("RENAME TABLE replay_nonces_away TO replay_nonces")
    deadline = time.monotonic() + 10 * wsg.TIME_SCALE
    while not served(send(pair.a, token())):
        assert time.monotonic() < deadline, "service did not resume with the table back"
        time.sleep(0.3)
    audit = wsg.settled_text(pair.a.audit_log)
    assert "shared replay store unavailable" in audit


def test_zz_clean_stop_without_sanitizer_reports(pair):
    for gw in (pair.a, pair.b):
        rc = gw.proc.stop(signal.SIGTERM, timeout=30)
        err = gw.proc.stderr_text()
        assert rc == 0, "%s exited %s:\n%s" % (gw.name, rc, err[-3000:])
        assert not wsg.SANITIZER_RE.search(err), err[-3000:]
