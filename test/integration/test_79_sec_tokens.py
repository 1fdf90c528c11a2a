"""Issue 13, management tokens: a password change (self PATCH, admin reset, CLI `user passwd`)
ends every token of that user issued before it, on every gateway (item 5);
management.login_roles (item 6); management.metrics_auth (item 9).
"""

import os
import secrets
import shutil
import subprocess

import pytest

import mgmt_util as mu
import wsg

BOSS = ("boss", "boss-Pw-0001")
PW = "Secret-Pw-42"
wsg.SENT_SECRETS.update([BOSS[1], PW])


def uniq(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


def add_user(gw, token, name, admin=False):
    r = gw.request("POST", "/users", token=token,
                   body={"userId": name, "password": PW, "isAdmin": "true" if admin else "false",
                         "domain": ""})
    assert r.status_code == 200, (r.status_code, r.content)


def patch(gw, token, user, new, old=None):
    body = {"newPassword": new, "confirmPassword": new}
    if old is not None:
        body["oldPassword"] = old
    wsg.SENT_SECRETS.update([new, old or ""])
    return gw.request("PATCH", "/users/" + user, token=token, body=body)


def status(gw, token, user):
    """200 while `token` is accepted (GET /routes is open to any user), 401 once refused."""
    del user
    return gw.request("GET", "/routes", token=token).status_code


@pytest.fixture(scope="module")
def gw(mariadb, stub, configured):
    g = mu.MgmtGateway("sectokens", mariadb, stub, "wssgate_sectokens")
    mu.setup_database(mariadb, g)
    g.start()
    yield g
    problems = mu.stop_checked(g)
    assert not problems, problems


@pytest.fixture(scope="module")
def boss(gw):
    return gw.login(*BOSS)


@pytest.fixture(scope="module")
def gw2(mariadb, stub, configured):
    """login_roles = ("ops") and metrics_auth = "token"."""
    g = mu.MgmtGateway("sectokens2", mariadb, stub, "wssgate_sectokens2",
                       mgmt={"login_roles": '( "ops" )', "metrics_auth": '"token"'})
    mu.setup_database(mariadb, g)
    g.cli_ok("role", "add", "ops")
    g.start()
    yield g
    problems = mu.stop_checked(g)
    assert not problems, problems


@pytest.fixture(scope="module")
def boss2(gw2):
    return gw2.login(*BOSS)


# ---------------------------------------------------------------- item 5

def test_sec_password_change_revokes_tokens(gw, boss):
    # Admin reset through the API: the user's earlier token is refused at once.
    name = uniq("reset")
    add_user(gw, boss, name)
    old = gw.login(name, PW)
    assert status(gw, old, name) == 200
    r = patch(gw, boss, name, "Reset-Pw-0001")
    assert r.status_code == 200, (r.status_code, r.content)
    assert status(gw, old, name) == 401, "token issued before an admin reset still valid"
    # A login right after the change (same second) gets a token that works.
    fresh = gw.login(name, "Reset-Pw-0001")
    assert status(gw, fresh, name) == 200
    assert status(gw, boss, "boss") == 200  # the admin's own token is untouched

    # Own change: the other session and the caller's own token end; a new login works.
    name = uniq("self")
    add_user(gw, boss, name)
    other = gw.login(name, PW)
    mine = gw.login(name, PW)
    r = patch(gw, mine, name, "Self-Pw-0001", old=PW)
    assert r.status_code == 200, (r.status_code, r.content)
    assert status(gw, other, name) == 401, "other session still valid after own change"
    assert status(gw, mine, name) == 401, "caller's token still valid after own change"
    assert status(gw, gw.login(name, "Self-Pw-0001"), name) == 200

    # Offline CLI `user passwd`: the running gateway refuses the earlier token.
    name = uniq("cli")
    add_user(gw, boss, name)
    old = gw.login(name, PW)
    assert status(gw, old, name) == 200
    wsg.SENT_SECRETS.add("Cli-Pw-0001")
    gw.cli_ok("user", "passwd", name, stdin="Cli-Pw-0001\n")
    assert status(gw, old, name) == 401, "token still valid after CLI user passwd"
    assert status(gw, gw.login(name, "Cli-Pw-0001"), name) == 200
    assert any("issued before" in line for line in gw.audit_lines())


# ---------------------------------------------------------------- item 6

def same_401(a, b):
    """Status, body and headers alike but for Date (and the request id, if any)."""
    def shape(r):
        return (r.status_code, r.content,
                sorted((k.lower(), v) for k, v in r.headers.items()
                       if k.lower() not in ("date", "x-request-id")))
    assert shape(a) == shape(b), (shape(a), shape(b))


def test_sec_login_roles(gw2, boss2):
    plain, ops = uniq("plain"), uniq("ops")
    add_user(gw2, boss2, plain)
    add_user(gw2, boss2, ops)
    gw2.cli_ok("role", "grant", ops, "ops")
    right = gw2.login(plain, PW, expect=401)
    assert right.status_code == 401, "a user without a login role logged in"
    wrong = gw2.login(plain, "Wrong-Pw-0001", expect=401)
    same_401(right, wrong)
    unknown = gw2.login(uniq("ghost"), PW, expect=401)
    same_401(right, unknown)
    assert status(gw2, gw2.login(ops, PW), ops) == 200      # holds a login role
    assert status(gw2, boss2, "boss") == 200                 # the admin role always may
    # A login role taken away ends the sessions it allowed.
    tok = gw2.login(ops, PW)
    gw2.cli_ok("role", "revoke", ops, "ops")
    assert status(gw2, tok, ops) == 401
    assert any("no role in management.login_roles" in line for line in gw2.audit_lines())
    # wssgatectl says so when it is refused.
    shutil.rmtree(os.path.join(wsg.WORK, "ctl79-roles"), ignore_errors=True)
    r = ctl(["add", "env", "dev", "http://127.0.0.1:%d" % gw2.mgmt_port], "roles")
    assert r.returncode == 0, r.err
    r = ctl(["login", "dev", "-u", plain, "--password-stdin"], "roles", stdin=PW + "\n")
    assert r.returncode == 1 and "may not log in (management.login_roles)" in r.err, r.err


def test_sec_login_roles_config(configured):
    text = open(configured.config).read()
    for value in ('"ops"', "( 1 )"):
        path = os.path.join(configured.dir, "login-roles-bad.conf")
        with open(path, "w") as f:
            f.write(text.replace("management = {", "management = { login_roles = %s;" % value, 1))
        r = configured.cli("--check-config", config=path)
        assert r.returncode == 1 and "login_roles" in r.err, (value, r.returncode, r.err)


# ---------------------------------------------------------------- item 9

def root(g, path):
    """/metrics and /health sit beside /management, not under it."""
    return "http://127.0.0.1:%d%s" % (g.mgmt_port, path)


def test_sec_metrics_auth(gw, gw2, boss2):
    # Default "none": a scraper needs no token; /health never does.
    assert gw.http.get(root(gw, "/metrics"), timeout=60).status_code == 200
    r = gw2.http.get(root(gw2, "/metrics"), timeout=60)
    assert r.status_code == 401, ("metrics_auth = token served /metrics without a token",
                                  r.status_code)
    r = gw2.http.get(root(gw2, "/metrics"), headers={"Authorization": "Bearer not-a-token"},
                     timeout=60)
    assert r.status_code == 401
    r = gw2.http.get(root(gw2, "/metrics"), headers={"Authorization": "Bearer " + boss2},
                     timeout=60)
    assert r.status_code == 200 and "wssgate_" in r.text
    assert gw2.http.get(root(gw2, "/health"), timeout=60).status_code == 200
    path = os.path.join(gw2.dir, "metrics-bad.conf")
    with open(path, "w") as f:
        f.write(open(gw2.config).read().replace('metrics_auth = "token"', 'metrics_auth = "basic"'))
    r = gw2.cli("--check-config", config=path)
    assert r.returncode == 1 and "metrics_auth" in r.err, (r.returncode, r.err)


# ---------------------------------------------------------------- item 10

CTL = os.path.join(wsg.TOP_BUILD, "ctl", "wssgatectl")


def ctl(args, name, stdin=None):
    """wssgatectl with its own config folder (kept between calls of one `name`)."""
    home = os.path.join(wsg.WORK, "ctl79-" + name)
    os.makedirs(home, mode=0o700, exist_ok=True)
    r = subprocess.run([CTL] + args, capture_output=True, timeout=60,
                       env=wsg.clean_env({"XDG_CONFIG_HOME": home, "HOME": home}),
                       input=stdin.encode() if stdin is not None else None,
                       stdin=subprocess.DEVNULL if stdin is None else None,
                       start_new_session=True)
    r.err = r.stderr.decode("utf-8", errors="replace")
    return r


def test_sec_ctl_loopback_parse():
    """`add env` warns about plain HTTP unless the host is a loopback address or localhost."""
    shutil.rmtree(os.path.join(wsg.WORK, "ctl79-loopback"), ignore_errors=True)
    cases = {"http://127.example.com:9164": True, "http://127.0.0.1.nip.io:1": True,
             "http://localhost.example.com:1": True, "http://10.0.0.1:1": True,
             "http://[::2]:1": True,
             "http://127.0.0.1:9164": False, "http://127.1.2.3:1": False,
             "http://localhost:1": False, "http://[::1]:1": False,
             "https://127.example.com:1": False}
    for i, (url, warned) in enumerate(cases.items()):
        r = ctl(["add", "env", "e%d" % i, url], "loopback")
        assert r.returncode == 0, (url, r.returncode, r.err)
        assert ("is plain HTTP and not on this machine" in r.err) == warned, (url, r.err)
