"""security.replay_store = "mariadb" (DESIGN 3.2 and "Scaling"): two gateways on one user store
share the replay_nonces table, so a nonce one of them accepted is refused by the other; the
check-and-insert is one statement, so concurrent copies pass once; an expired row is taken
over; a statement that loses a deadlock is retried; expired rows are swept; and when the table
cannot be used, tokens with a nonce are refused with a Server fault (fail closed) while tokens
without one keep working."""

import concurrent.futures
import hashlib
import os
import signal
import subprocess
import threading
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


def test_a_copy_that_loses_a_deadlock_is_retried_not_refused(pair):
    """An InnoDB deadlock (1213) is the one-server form of a Galera certification conflict:
    the gateway's take-over of an expired row deadlocks with a purge-like DELETE of that row,
    InnoDB rolls the gateway's statement back, and the retry inserts the nonce."""
    nonce = os.urandom(16)
    key = row_key(nonce)
    db = pair.db
    # The trigger makes the gateway's statement wait, holding the row, for a lock the holder
    # has; the holder then wants the row: a deadlock. The holder's 20 inserts make it the
    # heavier transaction, so InnoDB picks the gateway's as the victim.
    pair.sql("CREATE TABLE t91_lock (id INT PRIMARY KEY);\n"
             "INSERT INTO replay_nonces VALUES ('%s', 1);\nDELIMITER //\n"
             "CREATE TRIGGER t91_deadlock AFTER UPDATE ON replay_nonces FOR EACH ROW "
             "IF NEW.nonce = '%s' THEN SELECT id INTO @x FROM t91_lock WHERE id = 1 FOR UPDATE; "
             "END IF //\nDELIMITER ;\n" % (key, key))
    holder = subprocess.Popen(["mariadb", "--no-defaults", "--socket=" + db.socket, "-u", db.user,
                               "--batch", "--skip-column-names", "--unbuffered", "wssgate"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=wsg.clean_env())
    try:
        deadlocks = int(db.sql("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'").split()[1])
        holder.stdin.write("BEGIN;\nINSERT INTO t91_lock VALUES %s;\n"
                           "SELECT COUNT(*) FROM t91_lock FOR UPDATE;\n"
                           % ", ".join("(%d)" % i for i in range(1, 21)))
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "20"
        answer = []
        t = threading.Thread(target=lambda: answer.append(send(pair.a, token(nonce))))
        t.start()
        deadline = time.monotonic() + 20 * wsg.TIME_SCALE
        while "LOCK WAIT" not in db.sql("SELECT trx_state FROM information_schema.INNODB_TRX"):
            assert time.monotonic() < deadline, "the gateway's statement never waited"
            time.sleep(0.05)
        holder.stdin.write("DELETE FROM replay_nonces WHERE nonce = '%s';\nCOMMIT;\n"
                           "SELECT 'done';\n" % key)
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "done", holder.stderr.read()
        t.join(timeout=60 * wsg.TIME_SCALE)
        after = int(db.sql("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'").split()[1])
        kept = pair.sql("SELECT COUNT(*) FROM t91_lock").strip()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        pair.sql("DROP TRIGGER IF EXISTS t91_deadlock; DROP TABLE IF EXISTS t91_lock")
    assert after > deadlocks, "no deadlock: the test proves nothing"
    assert kept == "20", "the holder was the deadlock's victim: the test proves nothing"
    assert served(answer[0]), (answer[0].status_code, answer[0].content[:300])
    assert replayed(send(pair.b, token(nonce))), "the retry recorded the nonce"


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
