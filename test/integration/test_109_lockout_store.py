"""security.lockout.store = "mariadb" (#18, point 4): users' failures are counted in the user
store's lockouts table (schema version 8), so wrong passwords on any gateway of the database
lock the user on all of them, on the data plane and, apart, on the management API. The answers
stay byte-identical to any FailedAuthentication (locked, wrong, unknown), the lock ends by
itself after `duration`, `wssgate user unlock` and the management API's unlock end it
everywhere, and a store that cannot be read or written leaves each gateway its own lock (never
a Server fault for a password). "memory" keeps the lock per gateway.

First on the session's single MariaDB with two gateways; then on the private Galera cluster
(scripts/cluster) with three gateways on three nodes, wrong passwords sent at the same moment
to all three: no failure is lost or counted twice, though two nodes write one row at once.
"""

import os
import re
import secrets
import time

import pytest

import galera
import mgmt_util as mu
import wsg

DATABASE = "wssgate109"
MAX = 4
DURATION = 5
PW = "Lockstore-Pw-0109"
ADMIN = ("boss109", "Boss109-Pw-01")
wsg.SENT_SECRETS.update([PW, ADMIN[1]])


def security(store, max_failures=MAX, duration=DURATION):
    # client_limit off: every request here comes from 127.0.0.1.
    return {"lockout": '{ max_failures = %d; window = 60; duration = %d; store = "%s"; }'
                       % (max_failures, duration, store),
            "client_limit": "{ max_failures = 0; }"}


def uniq(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(3))


def pair_of(mariadb, stub, tag, store, keys_from=None):
    """Two management gateways on DATABASE, sharing keys; A created the schema, unless the
    keys come from a gateway of it (`keys_from`)."""
    a = mu.MgmtGateway(tag + "a", mariadb, stub, DATABASE, security=security(store),
                       share_keys_with=keys_from)
    if keys_from is None:
        mu.setup_database(mariadb, a)
        a.cli_ok("role", "add", "echo-users")
    else:
        mu.copy_db_pass(a)
        a.write_config()
    b = mu.MgmtGateway(tag + "b", mariadb, stub, DATABASE, security=security(store),
                       share_keys_with=a)
    mu.copy_db_pass(b)
    b.write_config()
    return [a, b]


def started(gws):
    for gw in gws:
        gw.start()
    return gws


def stopped(gws):
    problems = []
    for gw in gws:
        problems += mu.stop_checked(gw)
    assert problems == [], problems


@pytest.fixture(scope="module")
def shared(mariadb, stub, configured):
    gws = pair_of(mariadb, stub, "gw109", "mariadb")
    try:
        yield started(gws)
    finally:
        stopped(gws)


@pytest.fixture(scope="module")
def admin(shared):
    """The first login bootstraps the admin."""
    return shared[0].login(*ADMIN)


@pytest.fixture(scope="module")
def memory(mariadb, stub, shared):
    gws = pair_of(mariadb, stub, "gw109m", "memory", keys_from=shared[0])
    try:
        yield started(gws)
    finally:
        stopped(gws)


def new_user(gw):
    name = uniq("lk")
    gw.cli_ok("user", "add", name, "--role", "echo-users", stdin=PW + "\n")
    return name


def send(gw, user, password):
    m = wsg.marker()
    return wsg.post(gw.url("/services/Echo"), wsg.build(user, password, message=m)), m


def answer(r):
    """What a client can compare: status, headers that matter, body bytes."""
    return (r.status_code, r.headers.get("Content-Type"), r.headers.get("WWW-Authenticate"),
            r.headers.get("Retry-After"), r.content)


def passed(r):
    assert r.status_code == 200 and wsg.echoed(r) is not None, (r.status_code, r.content[:300])


def unknown_answer(gw):
    return answer(send(gw, uniq("nobody"), PW)[0])


def row(sql, user, plane=0):
    """(failures, locked now, last_result) of user's row, or None."""
    out = sql("SELECT failures, locked_until > UNIX_TIMESTAMP(NOW(3)) * 1000, last_result "
              "FROM lockouts WHERE username = '%s' AND plane = %d" % (user, plane)).split()
    return tuple(int(x) for x in out) if out else None


def db_sql(mariadb):
    return lambda q: mariadb.sql(q, DATABASE)


def wait_row(sql, user, want, plane=0, timeout=10):
    """The counts are written after the answers: wait until the row is `want`."""
    wsg.wait_for("lockouts row of %s = %s" % (user, want),
                 lambda: row(sql, user, plane) == want, timeout, interval=0.05)


def audits(gws, user, event):
    return [line for gw in gws for line in gw.audit_lines()
            if "user=%s " % user in line and "event=%s " % event in line]


def mgmt_login(gw, user, password):
    wsg.SENT_SECRETS.add(password)
    return gw.http.get(gw.murl("/login"), auth=(user.encode(), password.encode()), timeout=60)


def stmt_executions(mariadb):
    return int(mariadb.sql("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute';").split()[1])


# ---------------------------------------------------------------- one MariaDB, two gateways

def test_failures_on_two_gateways_lock_the_user_on_both(shared, mariadb, stub):
    a, b = shared
    sql = db_sql(mariadb)
    user = new_user(a)
    for gw in shared:
        passed(send(gw, user, PW)[0])
    unknown = {gw.name: unknown_answer(gw) for gw in shared}
    markers = []
    for i in range(MAX):
        gw = shared[i % 2]
        r, m = send(gw, user, "wrong-Pw-%d" % i)
        assert answer(r) == unknown[gw.name]
        markers.append(m)
        if i < MAX - 1:
            wait_row(sql, user, (i + 1, 0, 1))
    wait_row(sql, user, (0, 1, 2))
    locked_at = time.monotonic()
    for gw in shared:
        for password in (PW, "wrong-Pw-x"):
            r, m = send(gw, user, password)
            assert answer(r) == unknown[gw.name], (gw.name, password == PW)
            markers.append(m)
    for m in markers:
        assert stub.find(m) == []
    time.sleep(0.5)
    # One lock, audited once (by the gateway whose failure started it); no guess while
    # locked was counted.
    assert len(audits(shared, user, "lockout")) == 1
    assert "%d wrong passwords within 60s: user locked for %ds" % (MAX, DURATION) \
        in audits(shared, user, "lockout")[0]
    assert row(sql, user) == (0, 1, 2)
    assert len([x for x in audits(shared, user, "auth_failure")
                if 'reason="user locked"' in x]) == 4
    # The lock ends by itself, everywhere.
    time.sleep(max(0, DURATION + 0.3 - (time.monotonic() - locked_at)))
    for gw in shared:
        passed(send(gw, user, PW)[0])


def test_locked_and_unknown_cost_the_same_statements(shared, mariadb):
    """The lock is read for every name: a locked user's attempt and an unknown name's do the
    same database work (the read, then the padding look-up), and neither is counted."""
    a, _b = shared
    sql = db_sql(mariadb)
    user = new_user(a)
    passed(send(a, user, PW)[0])
    for i in range(MAX):
        send(a, user, "wrong-Pw-%d" % i)
    wait_row(sql, user, (0, 1, 2))
    nobody = uniq("nobody")
    send(a, nobody, PW)       # remembered as unknown by the credential cache
    costs = {}
    for name in (user, nobody):
        before = stmt_executions(mariadb)
        r, _m = send(a, name, PW)
        wsg.assert_wss_fault(r, "FailedAuthentication")
        time.sleep(0.3)
        costs[name] = stmt_executions(mariadb) - before
    assert costs[user] == costs[nobody] == 2, costs
    assert row(sql, user) == (0, 1, 2)


def test_user_unlock_command_ends_the_lock_everywhere(shared, mariadb):
    a, b = shared
    sql = db_sql(mariadb)
    user = new_user(a)
    for i in range(MAX):
        send(shared[i % 2], user, "wrong-Pw-%d" % i)
    wait_row(sql, user, (0, 1, 2))
    wsg.assert_wss_fault(send(b, user, PW)[0], "FailedAuthentication")
    a.cli_ok("user", "unlock", user)
    assert row(sql, user) is None
    for gw in shared:
        passed(send(gw, user, PW)[0])


def test_management_api_unlock_ends_the_lock_everywhere(shared, mariadb, admin):
    a, b = shared
    sql = db_sql(mariadb)
    user = new_user(a)
    for i in range(MAX):
        send(a, user, "wrong-Pw-%d" % i)
    wait_row(sql, user, (0, 1, 2))
    r = b.request("POST", "/users/%s/unlock" % user, token=admin)
    assert r.status_code == 200, r.content
    assert row(sql, user) is None
    assert any("unlocked user '%s' (was locked)" % user in x
               for x in audits([b], ADMIN[0], "user_unlocked"))
    for gw in shared:
        passed(send(gw, user, PW)[0])


def test_management_logins_are_counted_across_gateways(shared, mariadb, admin):
    """The management plane's own rows (plane 1): wrong logins on A and B lock the user's
    logins on both, with the 401 of an unknown name; the data plane is not locked."""
    a, b = shared
    sql = db_sql(mariadb)
    user = new_user(a)
    unknown = {gw.name: answer(mgmt_login(gw, uniq("nobody"), PW)) for gw in shared}
    for i in range(MAX):
        gw = shared[i % 2]
        assert answer(mgmt_login(gw, user, "wrong-Pw-%d" % i)) == unknown[gw.name]
    wait_row(sql, user, (0, 1, 2), plane=1)
    for gw in shared:
        assert answer(mgmt_login(gw, user, PW)) == unknown[gw.name]
    assert row(sql, user, plane=0) is None
    passed(send(b, user, PW)[0])
    assert len(audits(shared, user, "lockout")) == 1


def test_memory_store_keeps_the_lock_per_gateway(memory, mariadb):
    """The same failures with store = "memory": half on each gateway lock neither; all on A
    lock A only; the shared table is not touched."""
    a, b = memory
    sql = db_sql(mariadb)
    user = new_user(a)
    for i in range(MAX):
        send(memory[i % 2], user, "wrong-Pw-%d" % i)
    for gw in memory:
        passed(send(gw, user, PW)[0])
    for i in range(MAX):
        send(a, user, "wrong-Pw-%d" % i)
    wsg.assert_wss_fault(send(a, user, PW)[0], "FailedAuthentication")
    passed(send(b, user, PW)[0])
    assert row(sql, user) is None


def test_store_that_cannot_be_used_leaves_each_gateway_its_own_lock(shared, mariadb):
    """Without the table, wrong passwords are still FailedAuthentication and counted by the
    gateway that saw them (audit: lockout_store_error), the right one still passes there; the
    lock then holds on that gateway only. Never a Server fault."""
    a, b = shared
    user = new_user(a)
    passed(send(a, user, PW)[0])
    mariadb.sql("RENAME TABLE lockouts TO lockouts_away", DATABASE)
    try:
        r, _m = send(a, user, "wrong-Pw-0")
        wsg.assert_wss_fault(r, "FailedAuthentication")
        passed(send(a, user, PW)[0])
        for i in range(1, MAX):
            wsg.assert_wss_fault(send(a, user, "wrong-Pw-%d" % i)[0], "FailedAuthentication")
        wsg.wait_for("the local lock", lambda: audits([a], user, "lockout"), 10)
        wsg.assert_wss_fault(send(a, user, PW)[0], "FailedAuthentication")
        passed(send(b, user, PW)[0])
    finally:
        mariadb.sql("RENAME TABLE lockouts_away TO lockouts", DATABASE)
    errors = audits([a], user, "lockout_store_error")
    assert any("lockout store unreadable" in x for x in errors), errors
    assert len([x for x in errors if "could not count a wrong password" in x]) == MAX, errors
    text = a.http.get("http://127.0.0.1:%d/metrics" % a.mgmt_port, timeout=60).text
    local = re.search(r'wssgate_lockout_store_total\{event="local"\} (\d+)', text)
    assert local is not None and int(local.group(1)) >= MAX, text
    # Back to normal: the store counts again.
    user2 = new_user(a)
    send(b, user2, "wrong-Pw-0")
    wait_row(db_sql(mariadb), user2, (1, 0, 1))


# ---------------------------------------------------------------- Galera: three nodes

DB_USER = "wsg109"
GALERA_MAX = 10
GALERA_ROUNDS = int(os.environ.get("WSG_GALERA_ROUNDS", "5"))


class NodeGateway(mu.MgmtGateway):
    """A management gateway on one cluster node, as the database user DB_USER."""

    def write_config(self):
        super().write_config()
        with open(self.config) as f:
            text = f.read()
        assert 'user = "wssgate";' in text
        with open(self.config, "w") as f:
            f.write(text.replace('user = "wssgate";', 'user = "%s";' % DB_USER))


@pytest.fixture(scope="module")
def trio(cluster, stub):
    """Three gateways, gateway i on node i+1, sharing node 1's schema and the first's keys."""
    pw = secrets.token_urlsafe(18)
    cluster.nodes[0].sql(
        "CREATE DATABASE IF NOT EXISTS `%(d)s`;\n"
        "CREATE USER IF NOT EXISTS '%(u)s'@'localhost';\n"
        "CREATE USER IF NOT EXISTS '%(u)s'@'127.0.0.1';\n"
        "ALTER USER '%(u)s'@'localhost' IDENTIFIED BY '%(p)s';\n"
        "ALTER USER '%(u)s'@'127.0.0.1' IDENTIFIED BY '%(p)s';\n"
        "GRANT ALL PRIVILEGES ON `%(d)s`.* TO '%(u)s'@'localhost';\n"
        "GRANT ALL PRIVILEGES ON `%(d)s`.* TO '%(u)s'@'127.0.0.1';\n"
        % {"d": DATABASE, "u": DB_USER, "p": pw})
    gws = []
    for i in range(3):
        gw = NodeGateway("gw109g-%d" % (i + 1), cluster.nodes[i], stub, DATABASE,
                         security=security("mariadb", GALERA_MAX, 60),
                         share_keys_with=gws[0] if gws else None)
        fd = os.open(os.path.join(gw.dir, "db.pass"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pw + "\n")
        gw.write_config()
        if not gws:
            gw.cli_ok("db", "init")
            gw.cli_ok("role", "add", "echo-users")
        gws.append(gw)
    try:
        yield started(gws)
    finally:
        stopped(gws)


def galera_rows(cluster, user):
    """The row as each node sees it, after each applied everything committed before."""
    out = []
    for node in cluster.nodes:
        def sql(q, node=node):
            return node.sql("SET SESSION wsrep_sync_wait = 1; " + q, DATABASE)
        out.append(row(sql, user))
    return out


def metric(gw, event):
    text = gw.http.get("http://127.0.0.1:%d/metrics" % gw.mgmt_port, timeout=60).text
    m = re.search(r'wssgate_lockout_store_total\{event="%s"\} (\d+)' % event, text)
    assert m is not None, text
    return int(m.group(1))


def concurrent_guesses(trio, user, n):
    calls = [lambda gw=trio[i % 3], i=i: send(gw, user, "wrong-Pw-%d" % i)[0] for i in range(n)]
    for r in galera.race(*calls):
        wsg.assert_wss_fault(r, "FailedAuthentication")


def test_galera_concurrent_failures_on_three_nodes_lock_everywhere(trio, cluster):
    """max_failures wrong passwords sent at once, spread over three gateways on three nodes,
    lock the user on all three: none was lost (each node writes the one row; conflicts are
    retried, and no count fell back to a single gateway). One fewer locks nobody: none was
    counted twice."""
    for rnd in range(GALERA_ROUNDS):
        user = new_user(trio[0])
        wsg.wait_for("user on all nodes", lambda: all(
            send(gw, user, PW)[0].status_code == 200 for gw in trio), 10)
        concurrent_guesses(trio, user, GALERA_MAX - 1)
        wsg.wait_for("9 failures on every node",
                     lambda: galera_rows(cluster, user) == [(GALERA_MAX - 1, 0, 1)] * 3, 10,
                     interval=0.1)
        for gw in trio:
            passed(send(gw, user, PW)[0])
        user = new_user(trio[0])
        wsg.wait_for("user on all nodes", lambda: all(
            send(gw, user, PW)[0].status_code == 200 for gw in trio), 10)
        concurrent_guesses(trio, user, GALERA_MAX)
        wsg.wait_for("locked on every node",
                     lambda: galera_rows(cluster, user) == [(0, 1, 2)] * 3, 10, interval=0.1)
        for gw in trio:
            wsg.assert_wss_fault(send(gw, user, PW)[0], "FailedAuthentication")
        assert len(audits(trio, user, "lockout")) == 1
    assert sum(metric(gw, "local") for gw in trio) == 0
    print("lockout store: %d conflicts retried over %d rounds"
          % (sum(metric(gw, "retried") for gw in trio), GALERA_ROUNDS))


def test_galera_unlock_on_one_node_ends_the_lock_on_all(trio, cluster):
    user = new_user(trio[0])
    wsg.wait_for("user on all nodes", lambda: all(
        send(gw, user, PW)[0].status_code == 200 for gw in trio), 10)
    concurrent_guesses(trio, user, GALERA_MAX)
    wsg.wait_for("locked on every node",
                 lambda: galera_rows(cluster, user) == [(0, 1, 2)] * 3, 10, interval=0.1)
    trio[2].cli_ok("user", "unlock", user)
    assert galera_rows(cluster, user) == [None] * 3
    for gw in trio:
        passed(send(gw, user, PW)[0])
