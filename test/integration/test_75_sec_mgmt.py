"""Issue 12, user store and management plane: names an upstream would read as someone else
(item 6), what /management/logs, /routes and /metrics tell a non-admin or an anonymous caller
(item 14), and the creator rule bound to the creator's account id rather than its name
(item 15), including the upgrade of a store written by the version-1 schema.
"""

import json
import os
import secrets
import time

import pytest

import mgmt_util as mu
import wsg

BOSS = ("boss", "boss-Pw-0001")
PW = "Secret-Pw-42"
wsg.SENT_SECRETS.update([BOSS[1], PW])

# Names that HTTP whitespace trimming (or an eye) reads as "admin", and a DEL.
BAD_NAMES = ["admin ", " admin", "\u00a0admin", "admin\u3000", "a\x7fb", "\ufeffadmin",
             "admin\u2009", "admin\u0085"]
BAD_ROLES = ["ops ", " ops", "ops\u00a0", "a,b", "\u3000ops"]


def uniq(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


def error_400(r):
    assert r.status_code == 400, (r.status_code, r.content)
    assert r.headers.get("Content-Type") == "application/json", r.headers
    body = r.json()
    assert list(body) == ["Error"] and isinstance(body["Error"], str), body
    return body["Error"]


def add_user(gw, token, name, admin=False, expect=200):
    r = gw.request("POST", "/users", token=token,
                   body={"userId": name, "password": PW, "isAdmin": "true" if admin else "false",
                         "domain": ""})
    assert r.status_code == expect, (r.status_code, r.content)
    return r


@pytest.fixture(scope="module")
def gw(mariadb, stub, configured):
    g = mu.MgmtGateway("secmgmt", mariadb, stub, "wssgate_secmgmt")
    mu.setup_database(mariadb, g)
    g.cli_ok("role", "add", "echo-users")
    g.start()
    # The first login on an empty store would create the admin: not with a padded name.
    g.bootstrap_probe = g.http.get(g.murl("/login"), auth=("boss\u00a0".encode(),
                                                           BOSS[1].encode()), timeout=60)
    if g.bootstrap_probe.status_code == 200:
        g.cli_ok("user", "del", "boss\u00a0")  # unchanged code: let the other tests go on
    yield g
    problems = mu.stop_checked(g)
    assert not problems, problems


@pytest.fixture(scope="module")
def boss(gw):
    return gw.login(*BOSS)


# ---------------------------------------------------------------- item 6

def test_sec_username_whitespace(gw, boss):
    reason = error_400(gw.bootstrap_probe)
    assert "whitespace" in reason or "space" in reason, reason
    for name in BAD_NAMES:
        r = gw.request("POST", "/users", token=boss,
                       body={"userId": name, "password": PW, "isAdmin": "false", "domain": ""})
        text = error_400(r)
        assert text.startswith("Error processing the requestInvalid username: "), (name, text)
        cli = gw.cli("user", "add", name, stdin=PW + "\n")
        assert cli.returncode != 0, (name, cli.out, cli.err)
        assert cli.err.count("\n") == 1 and "username" in cli.err, (name, cli.err)
    for role in BAD_ROLES:
        r = gw.request("POST", "/roles", token=boss, body={"role": role, "domain": ""})
        assert "Invalid role name" in error_400(r), role
        cli = gw.cli("role", "add", role)
        assert cli.returncode != 0 and cli.err.count("\n") == 1, (role, cli.err)
        cli = gw.cli("user", "add", uniq("u"), "--role", role, stdin=PW + "\n")
        assert cli.returncode != 0 and "role name" in cli.err, (role, cli.err)
    listed = json.loads(gw.request("GET", "/users", token=boss).content)["list"]
    assert not [u for u in listed if u["userId"].strip() != u["userId"] or "\x7f" in u["userId"]]
    # Spaces inside a name and non-ASCII letters stay allowed.
    ok = "Zo\u00eb van Dijk-" + secrets.token_hex(2)
    add_user(gw, boss, ok)
    gw.cli_ok("user", "add", "J\u00fcrgen " + secrets.token_hex(2), stdin=PW + "\n")


# ---------------------------------------------------------------- item 14

def wait_logs(gw, token, params, pred, timeout=10.0):
    deadline = time.monotonic() + timeout * wsg.TIME_SCALE
    while True:
        r = gw.request("GET", "/logs", token=token, params=params)
        assert r.status_code == 200, (r.status_code, r.content)
        body = r.json()
        if pred(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_sec_logs_user_enumeration(gw, boss):
    viewer, victim, ghost = uniq("viewer"), uniq("victim"), uniq("ghost")
    add_user(gw, boss, viewer)
    add_user(gw, boss, victim)
    for name in (viewer, victim):
        r = gw.request("PUT", "/roles", token=boss,
                       body={"userId": name, "addedRoles": ["echo-users"], "removedRoles": []})
        assert r.status_code == 200, r.content
    url = gw.url("/services/Echo")
    wsg.SENT_SECRETS.add("Wrong-guess-1")
    assert wsg.post(url, wsg.build(viewer, PW, message=wsg.marker())).status_code == 200
    for user in (victim, ghost):
        bad = wsg.post(url, wsg.build(user, "Wrong-guess-1", message=wsg.marker()))
        assert wsg.wss_code(bad) == "FailedAuthentication"
    tok = gw.login(viewer, PW)

    # The admin sees everything, reasons included.
    full = wait_logs(gw, boss, {"user": ghost},
                     lambda b: any(x["kind"] == "audit" for x in b["list"]))
    assert any(x["kind"] == "audit" and x["reason"] == "unknown user" for x in full["list"]), full
    full = wait_logs(gw, boss, {"user": victim},
                     lambda b: any(x["kind"] == "audit" for x in b["list"]))
    assert any(x["kind"] == "audit" and "wrong password" in x["reason"] for x in full["list"])

    # A non-admin sees only its own lines: no other name, no other user's reason.
    mine = wait_logs(gw, tok, {}, lambda b: b["count"] > 0)
    text = json.dumps(mine)
    assert ghost not in text and victim not in text and BOSS[0] not in text, text[:2000]
    assert mine["count"] > 0 and all(x["user"] == viewer for x in mine["list"]), mine
    for params in ({"user": ghost}, {"user": victim}, {"fault": "wsse:FailedAuthentication"},
                   {"kind": "audit"}, {"route": "echo", "user": victim}):
        body = gw.request("GET", "/logs", token=tok, params=params).json()
        assert all(x["user"] == viewer for x in body["list"]), (params, body)
        text = json.dumps(body)
        assert ghost not in text and victim not in text, (params, text[:2000])
        assert "unknown user" not in text and "wrong password" not in text, (params, text[:2000])


def test_sec_routes_hide_upstreams_from_non_admins(gw, boss):
    viewer = uniq("rviewer")
    add_user(gw, boss, viewer)
    tok = gw.login(viewer, PW)
    admin_view = gw.request("GET", "/routes", token=boss).json()
    assert all(x["upstreams"] for x in admin_view["list"])
    user_view = gw.request("GET", "/routes", token=tok).json()
    assert user_view["count"] == admin_view["count"]
    for x in user_view["list"]:
        assert "upstreams" not in x, x
        assert x["path"] and x["name"], x
    assert "127.0.0.1:%d" % gw.stub.port not in json.dumps(user_view)
    assert gw.request("GET", "/routes").status_code == 401


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    key = "%s{%s}" % (name, want) if want else name
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return None


def test_sec_metrics_hide_user_lockouts(gw, boss):
    """The user-kind lockout series move only for names that exist: an anonymous scraper would
    learn which names do. They are given to admins (Bearer token) only."""
    victim = uniq("mvictim")
    add_user(gw, boss, victim)
    url = gw.url("/services/Echo")
    bad = wsg.post(url, wsg.build(victim, "Wrong-guess-1", message=wsg.marker()))
    assert wsg.wss_code(bad) == "FailedAuthentication"
    base = "http://127.0.0.1:%d" % gw.mgmt_port
    anon = gw.http.get(base + "/metrics", timeout=30)
    assert anon.status_code == 200
    assert 'kind="user"' not in anon.text, [l for l in anon.text.splitlines() if 'kind="user"' in l]
    assert metric(anon.text, "wssgate_lockout_failures_total", kind="client") is not None
    full = gw.http.get(base + "/metrics", headers={"Authorization": "Bearer " + boss}, timeout=30)
    assert full.status_code == 200
    assert metric(full.text, "wssgate_lockout_failures_total", kind="user") is not None
    viewer = uniq("mviewer")
    add_user(gw, boss, viewer)
    tok = gw.login(viewer, PW)
    mine = gw.http.get(base + "/metrics", headers={"Authorization": "Bearer " + tok}, timeout=30)
    assert mine.status_code == 200 and 'kind="user"' not in mine.text
    assert gw.http.get(base + "/metrics", headers={"Authorization": "Bearer x.y.z"},
                       timeout=30).status_code == 401
    health = gw.http.get(base + "/health", timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "ok"}


# ---------------------------------------------------------------- item 15

def test_sec_creator_rule_by_id(gw, boss):
    a, x = uniq("ca"), uniq("cx")
    add_user(gw, boss, a, admin=True)
    tok_a = gw.login(a, PW)
    add_user(gw, tok_a, x, admin=True)
    gw.cli_ok("user", "del", a)
    add_user(gw, boss, a, admin=True)      # a new account with the old name
    tok_new_a = gw.login(a, PW)
    r = gw.request("DELETE", "/users/" + x, token=tok_new_a)
    assert r.status_code == 403, (r.status_code, r.content)
    assert "created" in r.json()["Error"], r.content
    r = gw.request("PUT", "/roles", token=tok_new_a,
                   body={"userId": x, "addedRoles": [], "removedRoles": ["admin"]})
    assert r.status_code == 403, (r.status_code, r.content)
    # The new account keeps the rule for the admins it creates itself.
    y = uniq("cy")
    add_user(gw, tok_new_a, y, admin=True)
    r = gw.request("DELETE", "/users/" + y, token=tok_new_a)
    assert r.status_code == 200, r.content
    # X's creator is gone: only the offline CLI deletes it.
    r = gw.request("DELETE", "/users/" + x, token=boss)
    assert r.status_code == 403, r.content
    gw.cli_ok("user", "del", x)


def v1_schema():
    """The schema file up to its version-2 block: what a version-1 `db init` made."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas",
                        "userstore.sql")
    with open(path, encoding="utf-8") as f:
        return f.read().split("-- Version 2:")[0]


def test_sec_creator_legacy_upgrade(mariadb, stub, configured):
    """A version-1 store (creator by name only) upgraded by `db init`: a creator that still
    exists and is older than the user it made is resolved to its id; a missing creator, or
    an account with that name made later, is not (such admins: offline CLI only)."""
    v1 = v1_schema()
    assert "CREATE TABLE IF NOT EXISTS users" in v1 and "created_by_id" not in v1
    g = mu.MgmtGateway("secmgmt-legacy", mariadb, stub, "wssgate_secmgmt_legacy")
    mu.copy_db_pass(g)
    mariadb.sql("DROP DATABASE IF EXISTS wssgate_secmgmt_legacy;\n"
                "CREATE DATABASE wssgate_secmgmt_legacy;\n"
                "GRANT ALL PRIVILEGES ON wssgate_secmgmt_legacy.* TO 'wssgate'@'localhost';\n"
                "GRANT ALL PRIVILEGES ON wssgate_secmgmt_legacy.* TO 'wssgate'@'127.0.0.1';\n")
    mariadb.sql(v1, database="wssgate_secmgmt_legacy")
    mariadb.sql("""
        INSERT INTO users (username, password_hash, created_by, created_at) VALUES
          ('p', 'h', NULL, '2020-01-01 00:00:00'),
          ('q', 'h', 'p', '2020-01-02 00:00:00'),
          ('r', 'h', 'ghost', '2020-01-03 00:00:00'),
          ('s', 'h', 't', '2020-01-04 00:00:00'),
          ('t', 'h', NULL, '2020-01-05 00:00:00');
    """, database="wssgate_secmgmt_legacy")
    g.write_config()

    def created_by_ids():
        out = mariadb.sql("SELECT u.username, IFNULL(c.username, '-') FROM users u "
                          "LEFT JOIN users c ON c.id = u.created_by_id ORDER BY u.username",
                          database="wssgate_secmgmt_legacy")
        return dict(line.split("\t") for line in out.splitlines())

    g.cli_ok("db", "init")
    want = {"p": "-", "q": "p", "r": "-", "s": "-", "t": "-"}
    assert created_by_ids() == want
    versions = mariadb.sql("SELECT version FROM schema_version ORDER BY version",
                           database="wssgate_secmgmt_legacy").split()
    assert versions[:2] == ["1", "2"], versions
    # Idempotent, and a later account named like a missing creator gains nothing.
    mariadb.sql("INSERT INTO users (username, password_hash) VALUES ('ghost', 'h')",
                database="wssgate_secmgmt_legacy")
    g.cli_ok("db", "init")
    assert created_by_ids() == dict(want, ghost="-")
