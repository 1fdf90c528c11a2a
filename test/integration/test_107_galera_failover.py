"""userstore.hosts (#18): gateways on a Galera cluster use a node that is a Synced member of the
primary component, move to another when theirs dies or leaves it, and fail closed (Server fault,
management 503) while there is no primary component; nothing is lost once it is back.

Three gateways list the three nodes in three orders, so each starts on a different node. The
timings measured here (printed, see docs/cluster.md) depend on the cluster's evs.* timeouts
(scripts/cluster: suspect 3 s, inactive and install 6 s)."""

import os
import random
import re
import secrets
import signal
import threading
import time

import pytest
import requests

import galera
import wsg

DB = "wsg107"
NAMES = ("gw107a", "gw107b", "gw107c")
ORDERS = ((0, 1, 2), (1, 2, 0), (2, 0, 1))  # gateway i starts on node ORDERS[i][0] + 1
CACHE_TTL = 60
USER, PW = "alice", wsg.USERS["alice"][0]
CACHED_USER, CACHED_PW = "dora107", "dora107-Pw-4e1b9"  # looked up just before quorum loss
UNCACHED_USER, UNCACHED_PW = "erin107", "erin107-Pw-0c7d2"  # never looked up before it
ADMIN, ADMIN_PW = "admin107", "admin107-Pw-9a3f0"
TABLES = {
    "users": "SELECT username, password_hash, HEX(digest_secret), disabled FROM users",
    "roles": "SELECT name FROM roles",
    "user_roles": "SELECT u.username, r.name FROM user_roles ur JOIN users u ON u.id = ur.user_id "
                  "JOIN roles r ON r.id = ur.role_id",
    "replay_nonces": "SELECT HEX(nonce), expires_at FROM replay_nonces",
}
TIMINGS = {}


def report(key, value):
    TIMINGS[key] = value
    print("TIMING %s = %s" % (key, value))


def hosts_text(addresses):
    return "( %s )" % ", ".join('"%s"' % a for a in addresses)


def patch_config(gw, hosts, user=None, mgmt_port=None, socket=None):
    """gw's generated config with userstore.hosts (over host/port/socket, which stay), another
    database account and the management listener on."""
    with open(gw.config) as f:
        text = f.read()
    text = text.replace("userstore = { ", "userstore = { hosts = %s;\n              " % hosts, 1)
    text = re.sub(r"cache_ttl = \d+;", "cache_ttl = %d;" % CACHE_TTL, text)
    if user:
        text = text.replace('user = "wssgate";', 'user = "%s";' % user, 1)
    if socket:
        text = re.sub(r'socket = "[^"]*";', 'socket = "%s";' % socket, text, count=1)
    if mgmt_port:
        old = 'management = { enabled = false; jwt_secret_file = "jwt.key"; };'
        assert old in text
        text = text.replace(old, 'management = { enabled = true; address = "127.0.0.1:%d"; '
                                 'jwt_secret_file = "jwt.key"; bootstrap_admin = "off"; };'
                            % mgmt_port)
    with open(gw.config, "w") as f:
        f.write(text)


def outcome(r):
    """"ok", a WS-Security fault's code, "Server" (store unavailable) or "other:..."."""
    if r.status_code == 200 and wsg.echoed(r) is not None:
        return "ok"
    f = wsg.parse_fault(r.content)
    if f is None:
        return "other:%d" % r.status_code
    if f.code == (wsg.SOAP11_NS, "Server") and r.status_code == 500:
        return "Server"
    try:
        return wsg.wss_code(r)
    except AssertionError:
        return "other:%r" % (f,)


def send(session, gw, body):
    t0 = time.monotonic()
    try:
        r = session.post(gw.url("/services/Echo"), data=body.encode("utf-8"),
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
                         timeout=30)
        out = outcome(r)
    except requests.RequestException as e:
        out = "other:%s" % type(e).__name__
    return t0, time.monotonic(), out


def digest_token(user=USER, pw=PW):
    return wsg.build(user, pw, use_digest=True)


def text_token(user, pw, nonce=False):
    return wsg.build(user, pw, use_digest=False, nonce=os.urandom(16) if nonce else None)


def node_up(node):
    try:
        return node.status("wsrep_local_state_comment") == "Synced"
    except Exception:  # noqa: BLE001 - a killed node does not answer
        return False


def sigkill(cluster, *ns):
    """SIGKILL nodes ns at the same moment (scripts/cluster kill-node waits for each to exit);
    returns once they are gone."""
    env = {}
    with open(os.path.join(cluster.dir, "cluster.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v
    pids = []
    for n in ns:
        with open(env["NODE%d_PIDFILE" % n]) as f:
            pids.append(int(f.read().strip()))
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    for pid in pids:
        while time.monotonic() - t0 < 60:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def restore(cluster):
    """Every node back and Synced, for the modules that share the session's cluster."""
    down = [n.n for n in cluster.nodes if not node_up(n)]
    if down:
        cluster.start_nodes(*down)


@pytest.fixture(scope="module")
def gws(cluster, stub):
    d = os.path.join(cluster.dir, "gw107")
    os.makedirs(d, exist_ok=True)
    password = secrets.token_urlsafe(18)
    fd = os.open(os.path.join(d, "db.pass"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    stmts = "CREATE DATABASE IF NOT EXISTS %s;\n" % DB
    for host in ("localhost", "127.0.0.1"):
        stmts += ("CREATE USER IF NOT EXISTS '%(u)s'@'%(h)s' IDENTIFIED BY '%(p)s';\n"
                  "ALTER USER '%(u)s'@'%(h)s' IDENTIFIED BY '%(p)s';\n"
                  "GRANT ALL PRIVILEGES ON %(u)s.* TO '%(u)s'@'%(h)s';\n"
                  % {"u": DB, "h": host, "p": password})
    cluster.nodes[0].sql(stmts)
    gws = []
    for i, name in enumerate(NAMES):
        # host/port/socket name node 1 for all: only hosts puts them elsewhere
        gw = wsg.Gateway(d, cluster.nodes[0], stub, name=name, database=DB,
                         security={"replay_store": '"mariadb"'}, cache_ttl=CACHE_TTL)
        gw.mgmt_port = wsg.free_port() if i == 0 else None
        gw.write_config()
        patch_config(gw, hosts_text(cluster.nodes[k].address for k in ORDERS[i]), user=DB,
                     mgmt_port=gw.mgmt_port)
        gws.append(gw)
    first = gws[0]
    for _ in range(2):
        first.cli_ok("db", "init")
    first.cli("role", "add", "echo-users")  # fails harmlessly when it exists
    existing = first.cli_ok("user", "list").out
    for name, pw, flags in ((USER, PW, ["--role", "echo-users"]),
                            (CACHED_USER, CACHED_PW, ["--role", "echo-users"]),
                            (UNCACHED_USER, UNCACHED_PW, ["--role", "echo-users"]),
                            (ADMIN, ADMIN_PW, ["--admin"])):
        wsg.SENT_SECRETS.add(pw)
        if not re.search(r"(?m)^%s\b" % re.escape(name), existing):
            first.cli_ok("user", "add", name, *flags, stdin=pw + "\n")
    try:
        for gw in gws:
            gw.start()
        wsg.wait_for("management listener", lambda: wsg.port_open(first.mgmt_port), 60)
        yield gws
    finally:
        for gw in gws:
            gw.stop()
        restore(cluster)


def connections_per_node(cluster):
    """Open connections of the gateways' database account on each node."""
    counts = []
    for node in cluster.nodes:
        out = node.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '%s'" % DB)
        counts.append(int(out.strip()))
    return counts


def test_each_gateway_starts_on_the_first_node_of_its_list(cluster, gws):
    for gw in gws:
        r = wsg.post(gw.url("/services/Echo"), digest_token())
        assert outcome(r) == "ok", r.content[:300]
    # One gateway per node: every node has connections, though host/port/socket name node 1.
    counts = connections_per_node(cluster)
    assert all(c > 0 for c in counts), counts


class Load:
    """Threads sending fresh digest tokens to each gateway, and one replaying accepted ones."""

    def __init__(self, gws, per_gateway=2):
        self.gws = gws
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.results = []  # (gateway index, t0, t1, outcome)
        self.accepted = []  # bodies answered 200
        self.replays = []  # (t0, t1, outcome)
        self.threads = [threading.Thread(target=self.fresh, args=(i,), daemon=True)
                        for i in range(len(gws)) for _ in range(per_gateway)]
        self.threads.append(threading.Thread(target=self.replay, daemon=True))

    def fresh(self, i):
        s = wsg.http_session()
        while not self.stop.is_set():
            body = digest_token()
            t0, t1, out = send(s, self.gws[i], body)
            with self.lock:
                self.results.append((i, t0, t1, out))
                if out == "ok":
                    self.accepted.append(body)

    def replay(self):
        s = wsg.http_session()
        rnd = random.Random(107)
        while not self.stop.is_set():
            time.sleep(0.05)
            with self.lock:
                body = rnd.choice(self.accepted) if self.accepted else None
            if body is not None:
                t0, t1, out = send(s, rnd.choice(self.gws), body)
                with self.lock:
                    self.replays.append((t0, t1, out))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def test_sigkill_of_one_node_under_load(cluster, gws):
    """Node 2 (gw107b's first) is killed: gw107b moves on within 5 s, no token is refused as
    FailedAuthentication, and no accepted nonce passes again."""
    try:
        with Load(gws) as load:
            time.sleep(3)
            t_kill = time.monotonic()
            sigkill(cluster, 2)
            time.sleep(10)
        check_load(load, t_kill, "sigkill")
        report("sigkill_tokens_accepted", len(load.accepted))
        report("sigkill_replays_refused", len(load.replays))
        assert "MariaDB node %s " % cluster.nodes[1].address in gws[1].proc.stderr_text()
    finally:
        restore(cluster)


def check_load(load, t_event, label, grace=0):
    """No token refused as FailedAuthentication, each gateway serving every token sent 5 s after
    the event (plus `grace`: Galera's own detection time), every replay refused; the timings
    reported."""
    assert all(out in ("ok", "Server") for _, _, _, out in load.results), \
        [r for r in load.results if r[3] not in ("ok", "Server")][:5]
    for i, name in enumerate(NAMES):
        mine = [r for r in load.results if r[0] == i and r[2] >= t_event]
        failed = [r for r in mine if r[3] != "ok"]
        last_fail = max((r[2] for r in failed), default=t_event) - t_event
        report("%s_%s_last_failure_s" % (name, label), round(last_fail, 2))
        report("%s_%s_failures" % (name, label), len(failed))
        report("%s_%s_slowest_answer_s" % (name, label),
               round(max((r[2] - r[1] for r in mine), default=0), 2))
        assert last_fail < grace + 5, (name, last_fail, len(failed))
        late = [r for r in mine if r[1] >= t_event + grace + 5]
        assert late and all(r[3] == "ok" for r in late), (name, [r[3] for r in late])
    assert load.replays, "no replay was sent"
    assert all(out in ("InvalidSecurity", "Server") for _, _, out in load.replays), load.replays
    assert any(out == "InvalidSecurity" for _, _, out in load.replays)


def test_a_node_leaving_the_primary_component_under_load(cluster, gws):
    """Node 3 (gw107c's first) is cut off from the others (gmcast.isolate) but keeps running and
    answering 1047: gw107c moves on within 5 s of the node noticing; a refused write (1047 applied nothing) runs again
    on the next node."""
    node3 = cluster.nodes[2]
    try:
        with Load(gws) as load:
            time.sleep(3)
            t_cut = time.monotonic()
            node3.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'")
            non_primary = None
            # Load goes on until 7 s after Galera noticed (at least 10 s, at most 30 s).
            while time.monotonic() - t_cut < min(30, max(10, (non_primary or 30) + 7)):
                if non_primary is None and node3.status("wsrep_cluster_status") != "Primary":
                    non_primary = time.monotonic() - t_cut
                time.sleep(0.1)
        report("isolated_node3_non_primary_after_s", non_primary and round(non_primary, 2))
        # Until Galera has noticed, the node answers as before (docs/cluster.md): the 5 s start
        # when it reports non-Primary.
        assert non_primary is not None, "node 3 still Primary 10 s after its isolation"
        check_load(load, t_cut, "isolation", grace=non_primary)
        assert ("MariaDB node %s is not a Synced member of the primary component"
                % node3.address) in gws[2].proc.stderr_text()
    finally:
        node3.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'")
        wsg.wait_for("node 3 back in the cluster",
                     lambda: node_up(node3) and node3.status("wsrep_cluster_size") == "3", 120)


def test_quorum_loss_fails_closed_and_restart_brings_service_back(cluster, gws):
    first = gws[0]
    jwt = first_login(first)
    for gw in gws:
        assert outcome(wsg.post(gw.url("/services/Echo"),
                                text_token(CACHED_USER, CACHED_PW))) == "ok"
    # Nodes 2 and 3 die: node 1 is alone, outside any primary component once Galera notices.
    t_kill = time.monotonic()
    sigkill(cluster, 2, 3)
    t_killed = time.monotonic()
    non_primary_at = None
    seen = []  # (t0, t1, gateway, outcome)
    closed_since = None
    s = wsg.http_session()
    while time.monotonic() - t_kill < 60:
        if non_primary_at is None and cluster.nodes[0].status("wsrep_cluster_status") != "Primary":
            non_primary_at = time.monotonic() - t_kill
        outs = []
        for gw in gws:
            t0, t1, out = send(s, gw, digest_token())
            seen.append((t0, t1, gw.name, out))
            outs.append(out)
        if all(o == "Server" for o in outs):
            closed_since = closed_since or seen[-3][0]
            if time.monotonic() - closed_since > 3:
                break
        else:
            closed_since = None
        time.sleep(0.2)
    print("quorum loss answers", [(round(t0 - t_kill, 2), name, out) for t0, _, name, out in seen])
    assert all(out in ("ok", "Server") for *_, out in seen), seen
    assert closed_since is not None, "requests still served 60 s after quorum loss"
    last_ok = max((t1 for _, t1, _, out in seen if out == "ok"), default=t_kill) - t_kill
    report("quorum_loss_processes_gone_after_s", round(t_killed - t_kill, 2))
    report("quorum_loss_node1_non_primary_after_s", non_primary_at and round(non_primary_at, 2))
    report("quorum_loss_last_accepted_after_s", round(last_ok, 2))
    report("quorum_loss_all_fail_closed_after_s", round(closed_since - t_kill, 2))

    # The rule (docs/cluster.md): a user looked up within cache_ttl whose password was verified
    # keeps passing with a PasswordText token without a Nonce (no store needed); a token with a
    # Nonce needs the shared replay store, an uncached user needs the user store: Server fault.
    for gw in gws:
        assert outcome(wsg.post(gw.url("/services/Echo"),
                                text_token(CACHED_USER, CACHED_PW))) == "ok", gw.name
        assert outcome(wsg.post(gw.url("/services/Echo"),
                                text_token(CACHED_USER, CACHED_PW, nonce=True))) == "Server"
        assert outcome(wsg.post(gw.url("/services/Echo"),
                                digest_token(CACHED_USER, CACHED_PW))) == "Server"
        assert outcome(wsg.post(gw.url("/services/Echo"),
                                text_token(UNCACHED_USER, UNCACHED_PW))) == "Server"
    # Management writes: the store is unavailable, 503.
    r = wsg.http_session().post("http://127.0.0.1:%d/management/users" % first.mgmt_port,
                        json={"userId": "new107", "password": "new107-Pw-1", "isAdmin": "false"},
                        headers={"Authorization": "Bearer " + jwt}, timeout=60)
    report("quorum_loss_management_post_status", r.status_code)
    assert r.status_code == 503, (r.status_code, r.content[:300])

    # Back: both nodes rejoin together (pc.recovery), then every gateway serves within 10 s.
    t_start = time.monotonic()
    cluster.start_nodes(2, 3)
    t_synced = time.monotonic()
    pending = set(range(len(gws)))
    back = {}
    while pending and time.monotonic() - t_synced < 30:
        for i in sorted(pending):
            _, t1, out = send(s, gws[i], digest_token())
            if out == "ok":
                back[NAMES[i]] = round(t1 - t_synced, 2)
                pending.discard(i)
            else:
                assert out == "Server", out
        time.sleep(0.1)
    report("restart_nodes_until_synced_s", round(t_synced - t_start, 2))
    report("restart_service_back_after_synced_s", back)
    assert not pending and max(back.values()) < 10, back
    r = wsg.http_session().post("http://127.0.0.1:%d/management/users" % first.mgmt_port,
                        json={"userId": "new107", "password": "new107-Pw-1", "isAdmin": "false"},
                        headers={"Authorization": "Bearer " + jwt}, timeout=60)
    assert r.status_code in (200, 409), (r.status_code, r.content[:300])


def first_login(gw):
    r = wsg.http_session().get("http://127.0.0.1:%d/management/login" % gw.mgmt_port,
                    auth=(ADMIN, ADMIN_PW), timeout=60)
    assert r.status_code == 200, (r.status_code, r.content[:300])
    return r.json()["AccessToken"]


def test_nothing_lost_the_three_nodes_hold_the_same_rows(cluster, gws):
    restore(cluster)
    dumps = []
    for node in cluster.nodes:
        dump = {}
        for table, query in TABLES.items():
            # wsrep_sync_wait: the read waits until the node applied everything committed before
            dump[table] = sorted(node.sql("SET SESSION wsrep_sync_wait = 1; %s" % query,
                                          DB).splitlines())
        dumps.append(dump)
    assert dumps[0]["replay_nonces"] and dumps[0]["users"]
    report("rows_compared", {t: len(rows) for t, rows in dumps[0].items()})
    for other in dumps[1:]:
        for table in TABLES:
            assert other[table] == dumps[0][table], table


def test_one_plain_server_in_hosts(configured, stub):
    """hosts naming one plain MariaDB (no wsrep) works as host/port did; the socket key, which
    hosts overrides, names nothing."""
    gw = wsg.Gateway(configured.dir, configured.db, stub, name="gw107plain",
                     security={"replay_store": '"mariadb"'})
    gw.write_config()
    patch_config(gw, hosts_text(["127.0.0.1:%d" % configured.db.port]),
                 socket=os.path.join(configured.dir, "no-such.sock"))
    gw.start()
    try:
        body = digest_token()
        r = wsg.post(gw.url("/services/Echo"), body)
        assert outcome(r) == "ok", r.content[:300]
        wsg.assert_wss_fault(wsg.post(gw.url("/services/Echo"), body), "InvalidSecurity")
        r = gw.cli("user", "list")
        assert r.returncode == 0 and USER in r.out, r.err
    finally:
        gw.stop()


@pytest.mark.parametrize("entries,problem", [
    ('( "127.0.0.1:3307", "db2.example.com:3306", "[::1]:3309" )', None),
    ('( "127.0.0.1" )', 'userstore.hosts.[0]: "127.0.0.1": expected "host:port"'),
    ('( "127.0.0.1:3307", "::1:3306" )', "userstore.hosts.[1]: \"::1:3306\": an IPv6 host "
                                         "must be written in brackets"),
    ('( "[::1]:0" )', "the port must be a number from 1 to 65535"),
    ('( "[db]:3306" )', "the host in brackets is not an IPv6 address"),
    ('( "db_1:3306" )', "the host must be a host name or an IP address"),
    ("( )", "must list at least one"),
    ('"127.0.0.1:3307"', "expected a list of strings"),
    ('( 3307 )', "expected a string"),
])
def test_check_config_validates_hosts(configured, entries, problem):
    with open(configured.config) as f:
        text = f.read()
    text = text.replace("userstore = { ", "userstore = { hosts = %s;\n" % entries, 1)
    path = os.path.join(configured.dir, "gw107check.conf")
    with open(path, "w") as f:
        f.write(text)
    r = wsg.run_cli(["--config", path, "--check-config"])
    if problem is None:
        assert r.returncode == 0, r.err
    else:
        assert r.returncode == 1, r.err
        assert problem in r.err, r.err
        assert re.search(r"gw107check\.conf:\d+: userstore\.hosts", r.err), r.err
