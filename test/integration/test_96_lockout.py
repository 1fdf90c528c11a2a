"""Brute-force protection (issue 7, item 4) against the real gateway and MariaDB:
security.lockout locks a user after max_failures wrong passwords (data plane and HTTP Basic
together; management logins on a counter of their own) with answers byte-identical to any FailedAuthentication, the right
password included, until `duration` passes or an admin unlocks it through the management API;
security.client_limit refuses an address with too many failures (HTTP 429) before any password
or database work. Audit lines and the statement counts of MariaDB are checked too.

Each test sends from its own loopback address (127.0.0.0/8: the client socket is bound to
127.0.0.N), so the per-address counts of one test never reach another.
"""

import os
import re
import secrets
import shutil
import subprocess
import time

import pytest

import mgmt_util as mu
import wsg

MAX_FAILURES = 3
DURATION = 4            # seconds a user stays locked
CLIENT_MAX = 12
CLIENT_DURATION = 4     # seconds an address stays refused
SECURITY = {
    "lockout": "{ max_failures = %d; window = 60; duration = %d; }" % (MAX_FAILURES, DURATION),
    "client_limit": "{ max_failures = %d; window = 60; duration = %d; }"
                    % (CLIENT_MAX, CLIENT_DURATION),
}
ADMIN = ("lockboss", "Lockboss-Pw-01")
PW = "Locky-Pw-0042"
wsg.SENT_SECRETS.update([ADMIN[1], PW])
TRY_LATER = "Too many failed authentication attempts from this address; try again later"


client = mu.client


LockoutGateway = mu.BasicRouteGateway


@pytest.fixture(scope="module")
def lg(mariadb, stub, configured):
    gw = LockoutGateway("lockout", mariadb, stub, "wssgate_lockout", security=SECURITY)
    mu.setup_database(mariadb, gw)
    gw.cli_ok("role", "add", "echo-users")
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def admin(lg):
    """The first login bootstraps the admin (from 127.0.0.1, no failures there)."""
    return lg.login(*ADMIN)


def new_user(gw, prefix, roles=("echo-users",)):
    name = "%s-%s" % (prefix, secrets.token_hex(3))
    args = ["user", "add", name]
    for role in roles:
        args += ["--role", role]
    gw.cli_ok(*args, stdin=PW + "\n")
    return name


def send(gw, sess, user, password, digest=True, soap12=False):
    """A UsernameToken request; returns (response, marker)."""
    m = wsg.marker()
    xml = wsg.build(user, password, use_digest=digest, soap12=soap12, message=m)
    return wsg.post(gw.url("/services/Echo"), xml, soap12=soap12, session=sess), m


def basic_get(gw, sess, user, password):
    wsg.SENT_SECRETS.add(password)
    return sess.get(gw.url("/rest/Basic"), auth=(user.encode(), password.encode()), timeout=60)


def mgmt_login(gw, sess, user, password):
    wsg.SENT_SECRETS.add(password)
    return sess.get(gw.murl("/login"), auth=(user.encode(), password.encode()), timeout=60)


def answer(r):
    """What a client can compare: status, headers that matter, body bytes."""
    return (r.status_code, r.headers.get("Content-Type"), r.headers.get("WWW-Authenticate"),
            r.headers.get("Retry-After"), r.content)


def passed(r, m=None):
    assert r.status_code == 200, (r.status_code, r.content[:300])
    if m is not None:
        assert wsg.echoed(r) == m


def audit_for(gw, pattern):
    return [line for line in gw.audit_lines() if re.search(pattern, line)]


def stmt_executions(db):
    out = db.sql("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute';")
    return int(out.split()[1])


# ---------------------------------------------------------------- per user

@pytest.mark.parametrize("digest,soap12,addr", [
    (False, False, "127.0.0.10"), (True, False, "127.0.0.11"), (True, True, "127.0.0.12"),
], ids=["text-soap11", "digest-soap11", "digest-soap12"])
def test_user_locked_after_max_failures(lg, stub, mariadb, digest, soap12, addr):
    """max_failures wrong passwords lock the user: the right password then gets the answer of
    an unknown user, byte for byte, with the same store work, until `duration` has passed."""
    s = client(addr)
    user = new_user(lg, "locky")
    r, m = send(lg, s, user, PW, digest, soap12)
    passed(r, m)  # PasswordText: now in the verified-password cache too
    unknown, _ = send(lg, s, "nobody-" + secrets.token_hex(3), PW, digest, soap12)
    wsg.assert_wss_fault(unknown, "FailedAuthentication", soap12)
    markers = []
    for i in range(MAX_FAILURES):
        r, m = send(lg, s, user, "wrong-Pw-%d" % i, digest, soap12)
        assert answer(r) == answer(unknown)
        markers.append(m)
    started = time.monotonic()
    for password in (PW, "wrong-Pw-x", PW):
        before = stmt_executions(mariadb)
        r, m = send(lg, s, user, password, digest, soap12)
        assert answer(r) == answer(unknown), password == PW
        # The work of any failure: one user-store statement, never a cache shortcut.
        assert stmt_executions(mariadb) - before == 1
        markers.append(m)
    for m in markers:
        assert stub.find(m) == []
    lines = audit_for(lg, r"user=%s " % user)
    assert len([x for x in lines if "event=lockout " in x]) == 1, lines
    lockout = [x for x in lines if "event=lockout " in x][0]
    assert "client=%s" % addr in lockout
    assert "%d wrong passwords within 60s: user locked for %ds" % (MAX_FAILURES, DURATION) \
        in lockout
    refused = [x for x in lines if 'reason="user locked"' in x]
    assert len(refused) == 3 and all("event=auth_failure" in x for x in refused), lines
    wrong = "wrong password digest" if digest else "wrong password"
    assert len([x for x in lines if 'reason="%s"' % wrong in x]) == MAX_FAILURES, lines
    # The lock ends by itself.
    time.sleep(max(0, DURATION + 0.5 - (time.monotonic() - started)))
    r, m = send(lg, s, user, PW, digest, soap12)
    passed(r, m)


def test_locked_basic_answers_like_a_wrong_password(lg):
    """HTTP Basic routes count and refuse the same way, with the identical 401 and challenge."""
    s = client("127.0.0.13")
    user = new_user(lg, "basic")
    assert basic_get(lg, s, user, PW).status_code == 200
    unknown = basic_get(lg, s, "nobody-" + secrets.token_hex(3), PW)
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"]
    for i in range(MAX_FAILURES):
        assert answer(basic_get(lg, s, user, "wrong-Pw-%d" % i)) == answer(unknown)
    assert answer(basic_get(lg, s, user, PW)) == answer(unknown)
    assert len(audit_for(lg, r"user=%s .*event=lockout " % user)) == 1
    assert len(audit_for(lg, r'user=%s .*reason="user locked"' % user)) == 1


def test_other_failures_do_not_lock(lg, admin):
    """Only wrong passwords of an existing user count: a missing role (right password) or a
    user name that differs only in case never lock the user."""
    s = client("127.0.0.14")
    user = new_user(lg, "nolock")
    norole = new_user(lg, "norole", roles=())
    for _ in range(MAX_FAILURES + 1):
        r, _m = send(lg, s, norole, PW)
        wsg.assert_wss_fault(r, "FailedAuthentication")
        r, _m = send(lg, s, user.upper(), PW)
        wsg.assert_wss_fault(r, "FailedAuthentication")
    passed(send(lg, s, user, PW)[0])
    r = lg.request("PUT", "/roles", token=admin, body={
        "userId": norole, "addedRoles": ["echo-users"], "removedRoles": [], "domain": ""})
    assert r.status_code == 200, r.content
    passed(send(lg, s, norole, PW)[0])
    assert audit_for(lg, r"user=(%s|%s) .*event=lockout " % (user, norole)) == []


# ---------------------------------------------------------------- management API

def test_admin_unlocks_through_the_management_api(lg, admin):
    """POST /management/users/{id}/unlock: admin only, audit-logged with the acting admin, the
    user passes again at once."""
    s = client("127.0.0.20")
    user = new_user(lg, "unlockme")
    other = new_user(lg, "plain")
    for i in range(MAX_FAILURES):
        send(lg, s, user, "wrong-Pw-%d" % i)
    wsg.assert_wss_fault(send(lg, s, user, PW)[0], "FailedAuthentication")

    plain = lg.login(other, PW)
    r = lg.request("POST", "/users/%s/unlock" % user, token=plain)
    assert (r.status_code, r.content) == (403, b"")
    r = lg.request("POST", "/users/%s/unlock" % user)
    assert (r.status_code, r.content) == (401, b"")
    wsg.assert_wss_fault(send(lg, s, user, PW)[0], "FailedAuthentication")

    r = lg.request("POST", "/users/%s/unlock" % user, token=admin)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == {"userId": user, "status": "Unlocked"}
    r, m = send(lg, s, user, PW)
    passed(r, m)
    lines = audit_for(lg, r"route=management user=%s event=user_unlocked " % ADMIN[0])
    assert any("unlocked user '%s' (was locked)" % user in x for x in lines), lines

    # Not locked: still 200 (its failures are forgotten); unknown: MI's 404; other methods 404.
    r = lg.request("POST", "/users/%s/unlock" % other, token=admin)
    assert r.json() == {"userId": other, "status": "Unlocked"}
    assert any("unlocked user '%s' (was not locked" % other in x
               for x in audit_for(lg, "event=user_unlocked"))
    r = lg.request("POST", "/users/nobody-x/unlock", token=admin)
    assert r.status_code == 404
    assert r.json() == {"Error": "Requested resource not found. User: nobody-x cannot be found."}
    r = lg.request("GET", "/users/%s/unlock" % user, token=admin)
    assert (r.status_code, r.content) == (404, b"")
    r = lg.request("POST", "/users/%s/lock" % user, token=admin)
    assert (r.status_code, r.content) == (404, b"")


def ctl(home, *args, stdin=None):
    """ctl/wssgatectl with its own config folder and no terminal."""
    env = wsg.clean_env({"XDG_CONFIG_HOME": home, "HOME": home})
    r = subprocess.run([os.path.join(wsg.TOP_BUILD, "ctl", "wssgatectl")] + list(args),
                       input=stdin.encode() if stdin is not None else None,
                       stdin=subprocess.DEVNULL if stdin is None else None,
                       capture_output=True, timeout=60, env=env, start_new_session=True)
    r.out, r.err = r.stdout.decode(), r.stderr.decode()
    assert not wsg.SANITIZER_RE.search(r.err), r.err
    return r


def test_wssgatectl_unlock_user(lg, admin):
    """`wssgatectl unlock user ID -e NAME` makes the same call."""
    home = os.path.join(wsg.WORK, "ctl-lockout")
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(home, mode=0o700)
    assert ctl(home, "add", "env", "gw", "http://127.0.0.1:%d" % lg.mgmt_port).returncode == 0
    r = ctl(home, "login", "gw", "-u", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
    assert r.returncode == 0, r.err
    s = client("127.0.0.21")
    user = new_user(lg, "ctlunlock")
    for i in range(MAX_FAILURES):
        send(lg, s, user, "wrong-Pw-%d" % i)
    wsg.assert_wss_fault(send(lg, s, user, PW)[0], "FailedAuthentication")
    r = ctl(home, "unlock", "user", user, "-e", "gw")
    assert (r.returncode, r.out) == (0, "Unlocking user [ %s ] status: Unlocked\n" % user), r.err
    passed(send(lg, s, user, PW)[0])
    r = ctl(home, "unlock", "user", "nobody-x", "-e", "gw")
    assert r.returncode == 1 and "User: nobody-x cannot be found." in r.err, (r.out, r.err)


def test_management_login_failures_count(lg, admin):
    """Wrong management logins lock the management login (issue 13: its own counter, apart
    from the data plane's); a locked user's right management password gets the same empty 401
    as a wrong one."""
    s = client("127.0.0.30")
    user = new_user(lg, "mlogin")
    wrong = []
    for i in range(MAX_FAILURES):
        wrong.append(mgmt_login(lg, s, user, "wrong-Pw-%d" % i))
    locked = mgmt_login(lg, s, user, PW)
    for r in wrong + [locked]:
        assert (r.status_code, r.content, r.headers.get("Content-Type")) == (401, b"", None)
    lines = audit_for(lg, r"user=%s " % user)
    assert len([x for x in lines if "event=lockout " in x]) == 1, lines
    assert [x for x in lines if "route=management" in x and "event=login_failure" in x
            and 'reason="user locked"' in x], lines

    ok = lg.request("POST", "/users/%s/unlock" % user, token=admin)
    assert ok.status_code == 200
    r = mgmt_login(lg, s, user, PW)
    assert r.status_code == 200 and "AccessToken" in r.json()

    # Failures on the other plane do not add up: MAX_FAILURES - 1 of each still let both in.
    for i in range(MAX_FAILURES - 1):
        assert mgmt_login(lg, s, user, "wrong-Pw-m%d" % i).status_code == 401
        wsg.assert_wss_fault(send(lg, s, user, "wrong-Pw-d%d" % i)[0], "FailedAuthentication")
    passed(send(lg, s, user, PW)[0])
    assert mgmt_login(lg, s, user, PW).status_code == 200


# ---------------------------------------------------------------- per client address

def test_client_limit_refuses_before_any_work(lg, stub, mariadb):
    """CLIENT_MAX failures from one address, whatever the user names: every further request
    from it is 429 with a Server/Receiver fault and Retry-After, before any password or store
    work, on SOAP, Basic and management login alike; other addresses are served; it ends
    after `duration`."""
    s, other = client("127.0.0.50"), client("127.0.0.51")
    user = new_user(lg, "victim")
    for i in range(CLIENT_MAX):
        r, _m = send(lg, s, "rotating-%d-%s" % (i, secrets.token_hex(2)), PW)
        wsg.assert_wss_fault(r, "FailedAuthentication")
    started = time.monotonic()
    before = stmt_executions(mariadb)
    r, m = send(lg, s, user, PW)
    f = wsg.assert_soap_fault(r, 429, "Server", "Receiver")
    assert f.reason == TRY_LATER
    assert 1 <= int(r.headers["Retry-After"]) <= CLIENT_DURATION
    r12, m12 = send(lg, s, user, PW, soap12=True)
    f = wsg.assert_soap_fault(r12, 429, "Server", "Receiver", soap12=True)
    assert f.reason == TRY_LATER and r12.headers["Content-Type"].startswith(
        "application/soap+xml")
    b = basic_get(lg, s, user, PW)
    assert b.status_code == 429 and "WWW-Authenticate" not in b.headers
    assert b.json() == {"Error": "Too many failed authentication attempts; try again later"}
    assert 1 <= int(b.headers["Retry-After"]) <= CLIENT_DURATION
    ml = mgmt_login(lg, s, user, PW)
    assert ml.status_code == 429 and int(ml.headers["Retry-After"]) >= 1
    assert ml.json() == {"Error": "Too many failed login attempts from this address. "
                                  "Please try again later."}
    assert stmt_executions(mariadb) == before
    assert stub.find(m) == [] and stub.find(m12) == []
    r, m = send(lg, other, user, PW)
    passed(r, m)

    lines = audit_for(lg, "client=127.0.0.50 ")
    starts = [x for x in lines if "event=client_lockout" in x]
    assert len(starts) == 1, lines
    assert "%d failed authentications within 60s: address refused for %ds" % (
        CLIENT_MAX, CLIENT_DURATION) in starts[0]
    assert len([x for x in lines if 'reason="client address locked"' in x]) == 4, lines
    # The access log keeps the precise fault (access lines are buffered up to log.flush).
    want = r"client=127\.0\.0\.50 route=echo user=%s status=429 fault=soap:Server\.TryLater" % user
    deadline = time.monotonic() + 5 * wsg.TIME_SCALE
    while True:
        with open(lg.access_log) as f:
            text = f.read()
        if re.search(want, text) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert re.search(want, text)

    time.sleep(max(0, CLIENT_DURATION + 0.5 - (time.monotonic() - started)))
    r, m = send(lg, s, user, PW)
    passed(r, m)


def test_client_limit_counts_management_logins(lg, admin):
    """Failed management logins count against the address like data-plane failures (the admin
    exists, so none of the unknown names is a first login that would bootstrap one)."""
    s = client("127.0.0.60")
    for i in range(CLIENT_MAX):
        r = mgmt_login(lg, s, "nobody-%d" % i, "wrong-Pw-%d" % i)
        assert r.status_code == 401
    r, _m = send(lg, s, ADMIN[0], ADMIN[1])
    wsg.assert_soap_fault(r, 429, "Server", "Receiver")
    assert mgmt_login(lg, s, *ADMIN).status_code == 429
    assert len(audit_for(lg, r"client=127\.0\.0\.60 route=management .*event=client_lockout")) \
        == 1
    assert client("127.0.0.61").get(lg.murl("/login"), auth=ADMIN, timeout=60).status_code == 200


def test_zz_clean_shutdown_without_sanitizer_reports(lg):
    problems = mu.stop_checked(lg)
    assert problems == [], "\n".join(problems[:20])
    assert os.path.exists(lg.audit_log)
