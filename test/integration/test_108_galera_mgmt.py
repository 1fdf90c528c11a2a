"""Account changes on a Galera cluster (#18): three gateways with the management API on, each
on a different node of the private cluster (scripts/cluster), sharing one database, master key
and JWT secret. Changes made through one gateway's API or CLI reach the others within
userstore.cache_ttl; logout on one is honoured by all; and the admin rules (last admin, creator
only) hold when two admins act at the same moment on two nodes, where row locks are local to a
node and only a write both transactions share makes them conflict (the account guard row,
schema version 7). Losers get 409 or the rule's own refusal, never a 500, never half a change.
"""

import os
import secrets
import time

import pytest

import galera
import mgmt_util as mu
import wsg

DATABASE = "wssgate108"
DB_USER = "wsg108"
CACHE_TTL = 2
BOSS = ("boss108", "Boss108-Pw-01")
PW = "Galera-Pw-0108"
NEW_PW = "Galera-Pw-0109"
ROUNDS = int(os.environ.get("WSG_GALERA_ROUNDS", "20"))   # race rounds per test
CONFLICT = "A concurrent change conflicted; try again"
wsg.SENT_SECRETS.update([BOSS[1], PW, NEW_PW])


def uniq(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(3))


class NodeGateway(mu.MgmtGateway):
    """A management gateway on one cluster node, as the database user DB_USER."""

    def write_config(self):
        super().write_config()
        with open(self.config) as f:
            text = f.read()
        assert 'user = "wssgate";' in text
        with open(self.config, "w") as f:
            f.write(text.replace('user = "wssgate";', 'user = "%s";' % DB_USER))


def make_gateways(cluster, stub, tag, security=None):
    """Three gateways, gateway i on node i+1; the first one's keys are everybody's."""
    pw = secrets.token_urlsafe(18)
    node = cluster.nodes[0]
    node.sql("CREATE DATABASE IF NOT EXISTS `%(d)s`;\n"
             "CREATE USER IF NOT EXISTS '%(u)s'@'localhost';\n"
             "CREATE USER IF NOT EXISTS '%(u)s'@'127.0.0.1';\n"
             "ALTER USER '%(u)s'@'localhost' IDENTIFIED BY '%(p)s';\n"
             "ALTER USER '%(u)s'@'127.0.0.1' IDENTIFIED BY '%(p)s';\n"
             "GRANT ALL PRIVILEGES ON `%(d)s`.* TO '%(u)s'@'localhost';\n"
             "GRANT ALL PRIVILEGES ON `%(d)s`.* TO '%(u)s'@'127.0.0.1';\n"
             % {"d": DATABASE, "u": DB_USER, "p": pw})
    gws = []
    for i in range(3):
        gw = NodeGateway("%s-%d" % (tag, i + 1), cluster.nodes[i], stub, DATABASE,
                         cache_ttl=CACHE_TTL, security=security,
                         share_keys_with=gws[0] if gws else None)
        fd = os.open(os.path.join(gw.dir, "db.pass"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pw + "\n")
        gw.write_config()
        if not gws:
            gw.cli_ok("db", "init")     # the schema, and the keys the others copy
        gws.append(gw)
    return gws


@pytest.fixture(scope="module")
def gws(cluster, stub):
    gws = make_gateways(cluster, stub, "gw108")
    gws[0].cli_ok("role", "add", "echo-users")
    for gw in gws:
        gw.start()
    try:
        yield gws
    finally:
        problems = []
        for gw in gws:
            problems += mu.stop_checked(gw)
        assert problems == [], problems


@pytest.fixture(scope="module")
def boss(gws):
    """The first login (on node 1) bootstraps the admin."""
    return gws[0].login(*BOSS)


def sql_all(cluster, query):
    """query's answer on each node, after each applied everything committed before."""
    return [n.sql("SET SESSION wsrep_sync_wait = 1; " + query, DATABASE) for n in cluster.nodes]


def admins(cluster):
    """The admins, as every node sees them (asserted equal)."""
    seen = sql_all(cluster, "SELECT u.username FROM users u JOIN user_roles ur "
                   "ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id "
                   "WHERE r.name = 'admin' ORDER BY u.username")
    assert seen[0] == seen[1] == seen[2], seen
    return seen[0].split()


def add_user(gw, token, name, admin=False, roles=()):
    r = gw.request("POST", "/users", token=token,
                   body={"userId": name, "password": PW, "isAdmin": "true" if admin else "false"})
    assert r.status_code == 200, (r.status_code, r.content)
    if roles:
        r = gw.request("PUT", "/roles", token=token,
                       body={"userId": name, "addedRoles": list(roles), "removedRoles": []})
        assert r.status_code == 200, (r.status_code, r.content)


def soap(gw, user, password):
    return wsg.post(gw.url("/services/Echo"), wsg.build(user, password))


def eventually(what, pred, timeout=CACHE_TTL + 3):
    """pred() holds within timeout (cache_ttl and a margin)."""
    wsg.wait_for(what, pred, timeout, interval=0.2)


def passes(gw, user, password):
    return soap(gw, user, password).status_code == 200


def refused(gw, user, password):
    r = soap(gw, user, password)
    return r.status_code == 500 and wsg.wss_code(r) == "FailedAuthentication"


def assert_not_500(r):
    assert r.status_code in (200, 403, 409), (r.status_code, r.content)
    if r.status_code == 409:
        assert r.json() == {"Error": CONFLICT}, r.content


# ---------------------------------------------------------------- changes reach every gateway

def test_a_user_added_through_one_gateway_passes_on_all(gws, boss):
    name = uniq("u-add")
    add_user(gws[0], boss, name, roles=["echo-users"])
    for gw in gws:
        eventually("%s passes on %s" % (name, gw.name), lambda: passes(gw, name, PW))


def test_a_password_change_is_effective_everywhere(gws, boss):
    name = uniq("u-pw")
    add_user(gws[0], boss, name, roles=["echo-users"])
    for gw in gws:
        eventually("%s passes on %s" % (name, gw.name), lambda: passes(gw, name, PW))
    r = gws[1].request("PATCH", "/users/" + name, token=boss,
                       body={"newPassword": NEW_PW, "confirmPassword": NEW_PW})
    assert r.status_code == 200, (r.status_code, r.content)
    for gw in gws:
        eventually("old password refused on " + gw.name, lambda: refused(gw, name, PW))
        assert passes(gw, name, NEW_PW)


def test_a_deleted_user_stops_passing_everywhere(gws, boss):
    name = uniq("u-del")
    add_user(gws[0], boss, name, roles=["echo-users"])
    for gw in gws:
        eventually("%s passes on %s" % (name, gw.name), lambda: passes(gw, name, PW))
    r = gws[2].request("DELETE", "/users/" + name, token=boss)
    assert r.status_code == 200, (r.status_code, r.content)
    for gw in gws:
        eventually("%s refused on %s" % (name, gw.name), lambda: refused(gw, name, PW))


def test_role_changes_through_the_cli_reach_every_gateway(gws, boss):
    name = uniq("u-cli")
    gws[1].cli_ok("user", "add", name, stdin=PW + "\n")     # on node 2
    for gw in gws:
        assert refused(gw, name, PW)                        # no echo-users role yet
    gws[2].cli_ok("role", "grant", name, "echo-users")      # on node 3
    for gw in gws:
        eventually("%s passes on %s" % (name, gw.name), lambda: passes(gw, name, PW))
    r = gws[0].request("PUT", "/roles", token=boss,
                       body={"userId": name, "addedRoles": [], "removedRoles": ["echo-users"]})
    assert r.status_code == 200, (r.status_code, r.content)
    for gw in gws:
        eventually("%s refused on %s" % (name, gw.name), lambda: refused(gw, name, PW))


def test_logout_on_one_gateway_ends_the_token_on_all(gws, boss):
    name = uniq("u-out")
    add_user(gws[0], boss, name, admin=True)
    token = gws[1].login(name, PW)
    for gw in gws:
        assert gw.request("GET", "/users/" + name, token=token).status_code == 200
    assert gws[2].request("GET", "/logout", token=token).status_code == 200
    for gw in gws:
        r = gw.request("GET", "/users/" + name, token=token)
        assert r.status_code == 401, (gw.name, r.status_code, r.content)
    assert gws[0].request("DELETE", "/users/" + name, token=boss).status_code == 200


# ---------------------------------------------------------------- the admin rules under races

@pytest.fixture(scope="module")
def pair(gws, boss, cluster):
    """Two admins made by boss, boss no admin any more: they are the only two."""
    a1, a2 = uniq("a1"), uniq("a2")
    add_user(gws[0], boss, a1, admin=True)
    add_user(gws[0], boss, a2, admin=True)
    tok = {a1: gws[0].login(a1, PW), a2: gws[1].login(a2, PW)}
    r = gws[0].request("PUT", "/roles", token=boss,
                       body={"userId": BOSS[0], "addedRoles": [], "removedRoles": ["admin"]})
    assert r.status_code == 200, (r.status_code, r.content)
    assert admins(cluster) == sorted([a1, a2])
    return a1, a2, tok


def demote(gw, token, name):
    return gw.request("PUT", "/roles", token=token,
                      body={"userId": name, "addedRoles": [], "removedRoles": ["admin"]})


def settle():
    """Past every gateway's cache of who is an admin."""
    time.sleep(CACHE_TTL + 0.5)


def test_two_last_admins_demoting_themselves_at_once_leave_one(gws, cluster, pair):
    """Each of the two admins removes its own admin role through a gateway on another node, at
    the same moment: one wins, the other gets the last-admin refusal (403) or 409; never both."""
    a1, a2, tok = pair
    tally = {}
    for _ in range(ROUNDS):
        r1, r2 = galera.race(lambda: demote(gws[0], tok[a1], a1),
                             lambda: demote(gws[1], tok[a2], a2))
        for r in (r1, r2):
            assert_not_500(r)
        key = (r1.status_code, r2.status_code)
        tally[key] = tally.get(key, 0) + 1
        left = admins(cluster)
        assert len(left) == 1 and key in ((200, 403), (403, 200), (200, 409), (409, 200)), \
            (key, left, r1.content, r2.content)
        gone = a1 if r1.status_code == 200 else a2
        gws[2].cli_ok("role", "grant", gone, "admin")
        assert admins(cluster) == sorted([a1, a2])
        settle()
    print("self-demotion races (a1 on node 1, a2 on node 2):", tally)


def test_delete_and_self_demotion_at_once_never_leave_zero_admins(gws, cluster, pair):
    """a1 deletes a2 (which it created) through node 1 while also giving up its own admin role
    through node 2: never both, so an admin remains; the delete is whole or not at all."""
    a1, a2, tok = pair
    # a2 made by a1 now, so a1 may delete it.
    gws[2].cli_ok("user", "del", a2)
    add_user(gws[0], tok[a1], a2, admin=True)
    tally = {}
    for _ in range(ROUNDS):
        r1, r2 = galera.race(lambda: gws[0].request("DELETE", "/users/" + a2, token=tok[a1]),
                             lambda: demote(gws[1], tok[a1], a1))
        for r in (r1, r2):
            assert_not_500(r)
        key = (r1.status_code, r2.status_code)
        tally[key] = tally.get(key, 0) + 1
        left = admins(cluster)
        assert len(left) == 1 and 200 in key and key.count(200) == 1, (key, left, r1.content,
                                                                        r2.content)
        rows = sql_all(cluster, "SELECT COUNT(*) FROM users u LEFT JOIN user_roles ur "
                       "ON ur.user_id = u.id WHERE u.username = '%s'" % a2)
        assert rows[0] == rows[1] == rows[2], rows
        if r1.status_code == 200:
            assert left == [a1] and rows[0].strip() == "0", (left, rows)
            add_user(gws[0], tok[a1], a2, admin=True)
        else:
            assert left == [a2] and rows[0].strip() == "1", (left, rows)
            gws[2].cli_ok("role", "grant", a1, "admin")
        assert admins(cluster) == sorted([a1, a2])
        settle()
    print("delete / self-demotion races (node 1 / node 2):", tally)


def test_only_the_creator_removes_an_admin_under_races(gws, cluster, boss, pair):
    """x is an admin made by a1. At the same moment a1 deletes x through node 1 and a2 (not its
    creator) deletes or demotes x through node 2: a2 is always refused (403, or 404 once x is
    gone), and x is gone exactly when a1 was answered 200."""
    a1, a2, tok = pair
    tok[a2] = gws[1].login(a2, PW)     # a2 was deleted and made again above
    tally = {}
    for i in range(ROUNDS // 2):
        x = uniq("x")
        add_user(gws[0], tok[a1], x, admin=True)
        settle()
        other = (lambda: gws[1].request("DELETE", "/users/" + x, token=tok[a2])) if i % 2 else \
            (lambda: demote(gws[1], tok[a2], x))
        r1, r2 = galera.race(lambda: gws[0].request("DELETE", "/users/" + x, token=tok[a1]), other)
        assert_not_500(r1)
        # 404: a1's delete was first, so x was gone already
        assert r2.status_code in (403, 404), (r2.status_code, r2.content)
        key = (r1.status_code, r2.status_code)
        tally[key] = tally.get(key, 0) + 1
        left = admins(cluster)
        assert x not in left if r1.status_code == 200 else x in left, (key, left)
        if r1.status_code != 200:
            gws[2].cli_ok("user", "del", x)
    print("creator races:", tally)



# ---------------------------------------------------------------- a node outside the primary component

def test_management_writes_on_a_non_primary_node_answer_503(gws, cluster):
    """Node 3 cut off from the others (gmcast.isolate) leaves the primary component and refuses
    statements (MariaDB error 1047): writes through the gateway on it answer 503 with the
    store-unavailable text, never 500, and nothing is written; once the node is back they work.
    The admin acting is one of its own (made with the CLI): the races above leave boss none."""
    node = cluster.nodes[2]
    name = uniq("u-np")
    admin = uniq("np-admin")
    gws[0].cli_ok("user", "add", admin, "--admin", stdin=PW + "\n")
    boss = gws[2].login(admin, PW)
    node.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate = 1'")
    try:
        wsg.wait_for("node 3 non-Primary", lambda: node.status("wsrep_cluster_status") != "Primary",
                     30, interval=0.5)
        for method, path, body in (
                ("POST", "/users", {"userId": name, "password": PW, "isAdmin": "false"}),
                ("PUT", "/roles", {"userId": admin, "addedRoles": ["echo-users"],
                                   "removedRoles": []}),
                ("DELETE", "/users/" + name, None)):
            r = gws[2].request(method, path, token=boss, body=body)
            assert r.status_code == 503, (method, path, r.status_code, r.content)
            assert r.json() == {"Error": "The user store is unavailable: the database cannot be "
                                         "reached. Please try again later"}, r.content
    finally:
        node.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate = 0'")
    wsg.wait_for("node 3 back", lambda: node.status("wsrep_local_state_comment") == "Synced"
                 and node.status("wsrep_cluster_status") == "Primary", 60,
                 interval=0.5)
    assert name not in sql_all(cluster, "SELECT username FROM users")[0].split()

    last = []

    def added():
        r = gws[2].request("POST", "/users", token=boss, body={"userId": name, "password": PW})
        last[:] = [r.status_code, r.content[:300]]
        return r.status_code == 200
    try:
        eventually("a write through node 3 again", added, 15)
    except RuntimeError as e:
        raise AssertionError("%s; last answer %s; %s" % (e, last, cluster.status()))
