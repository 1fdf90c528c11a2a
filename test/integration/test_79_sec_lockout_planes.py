"""Issue 13, items 2 and 3: the user lockout per plane, and self password changes counted.

- A wrong `oldPassword` in `PATCH /management/users/{self}` counts like a failed management
  login (user lockout and client address limit); while the user is locked even the right
  `oldPassword` gets the wrong-password answer, and a management login the locked answer.
- Failures on the data plane (WS-Security, HTTP Basic routes) never lock a management login,
  and failures on the management plane never lock the data plane.

Each test sends from its own loopback address (127.0.0.N), so per-address counts stay apart.
"""

import json
import re
import secrets
import time

import pytest

import mgmt_util as mu
import wsg

MAX_FAILURES = 3
CLIENT_MAX = 8
SECURITY = {
    "lockout": "{ max_failures = %d; window = 60; duration = 600; }" % MAX_FAILURES,
    "client_limit": "{ max_failures = %d; window = 60; duration = 600; }" % CLIENT_MAX,
}
ADMIN = ("planeboss", "Planeboss-Pw-01")
PW = "Planes-Pw-0042"
NEW_PW = "Planes-New-Pw-0043"
wsg.SENT_SECRETS.update([ADMIN[1], PW, NEW_PW])
OLD_WRONG = ("Failed to update user password. Please check ")


client = mu.client


PlanesGateway = mu.BasicRouteGateway


@pytest.fixture(scope="module")
def gw(mariadb, stub, configured):
    g = PlanesGateway("lockplanes", mariadb, stub, "wssgate_lockplanes", security=SECURITY)
    mu.setup_database(mariadb, g)
    g.cli_ok("role", "add", "echo-users")
    g.start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def admin(gw):
    """The first login bootstraps the admin (from 127.0.0.1)."""
    return gw.login(*ADMIN)


def new_user(g, prefix):
    name = "%s-%s" % (prefix, secrets.token_hex(3))
    g.cli_ok("user", "add", name, "--role", "echo-users", stdin=PW + "\n")
    return name


def send(g, sess, user, password):
    m = wsg.marker()
    xml = wsg.build(user, password, use_digest=True, message=m)
    return wsg.post(g.url("/services/Echo"), xml, session=sess), m


def basic_get(g, sess, user, password):
    wsg.SENT_SECRETS.add(password)
    return sess.get(g.url("/rest/Basic"), auth=(user.encode(), password.encode()), timeout=60)


def mgmt_login(g, sess, user, password):
    wsg.SENT_SECRETS.add(password)
    return sess.get(g.murl("/login"), auth=(user.encode(), password.encode()), timeout=60)


def token_of(r):
    assert r.status_code == 200, (r.status_code, r.content)
    return r.json()["AccessToken"]


def patch_pw(g, sess, user, token, old):
    wsg.SENT_SECRETS.add(old)
    body = {"oldPassword": old, "newPassword": NEW_PW, "confirmPassword": NEW_PW}
    return sess.patch(g.murl("/users/" + user), data=json.dumps(body).encode(),
                      headers={"Authorization": "Bearer " + token,
                               "Content-Type": "application/json"}, timeout=60)


def answer(r):
    return (r.status_code, r.headers.get("Content-Type"), r.headers.get("Retry-After"),
            r.content)


def test_sec_self_password_change_guessing_locked(gw, admin):
    """MAX_FAILURES wrong oldPassword lock the user and end the token used (likely stolen):
    the right one then gets the same answer as a wrong one (401) and the password stays; a
    management login gets the locked 401. The address limit counts them too: past CLIENT_MAX
    the address gets 429 everywhere."""
    s = client("127.0.0.40")
    user = new_user(gw, "selfpw")
    tok = token_of(mgmt_login(gw, s, user, PW))
    wrong = [patch_pw(gw, s, user, tok, "wrong-Old-%d" % i) for i in range(MAX_FAILURES)]
    for r in wrong:
        assert r.status_code == 400 and OLD_WRONG in r.json()["Error"], r.content
    right = patch_pw(gw, s, user, tok, PW)
    again = patch_pw(gw, s, user, tok, "wrong-Old-again")
    assert answer(right) == answer(again) == (401, None, None, b""), \
        (right.status_code, right.content, again.status_code, again.content)
    r = mgmt_login(gw, s, user, PW)
    assert (r.status_code, r.content) == (401, b""), r.content
    lines = [x for x in wsg.settled_text(gw.audit_log).splitlines() if "user=%s " % user in x]
    assert len([x for x in lines if "event=lockout " in x]) == 1, lines
    # Guessing with a token locked the user: that token (likely stolen) ended with it.
    assert len([x for x in lines if "event=tokens_revoked " in x]) == 1, lines
    r = s.get(gw.murl("/routes"), headers={"Authorization": "Bearer " + tok}, timeout=60)
    assert r.status_code == 401, (r.status_code, r.content)
    # The password did not change.
    r = lg_unlock(gw, admin, user)
    token_of(mgmt_login(gw, s, user, PW))

    # The address limit: CLIENT_MAX wrong old passwords from one address, spread over users
    # so that none of them is locked (which would end its token).
    a = client("127.0.0.41")
    users = [new_user(gw, "selfpw-c") for _ in range(4)]
    toks = [token_of(mgmt_login(gw, a, u, PW)) for u in users]
    for i in range(CLIENT_MAX):
        r = patch_pw(gw, a, users[i % 4], toks[i % 4], "wrong-Old-c%d" % i)
        assert r.status_code == 400, r.content
    r = patch_pw(gw, a, users[0], toks[0], PW)
    assert r.status_code == 429 and r.headers.get("Retry-After"), (r.status_code, r.content)
    assert mgmt_login(gw, a, users[0], PW).status_code == 429


def verifications(g):
    r = g.http.get("http://127.0.0.1:%d/metrics" % g.mgmt_port, timeout=60)
    assert r.status_code == 200
    m = re.search(r"^wssgate_password_verifications_total (\S+)$", r.text, re.M)
    return float(m.group(1))


def test_sec_self_password_change_verified_on_pool(gw, admin):
    """oldPassword is verified on the bounded argon2 pool (counted there), not on the
    management thread; a right one still changes the password."""
    s = client("127.0.0.45")
    user = new_user(gw, "poolpw")
    tok = token_of(mgmt_login(gw, s, user, PW))
    before = verifications(gw)
    assert patch_pw(gw, s, user, tok, "wrong-Old-p").status_code == 400
    r = patch_pw(gw, s, user, tok, PW)
    assert r.status_code == 200, r.content
    assert verifications(gw) - before == 2
    token_of(mgmt_login(gw, s, user, NEW_PW))


def lg_unlock(g, admin, user):
    r = g.request("POST", "/users/%s/unlock" % user, token=admin)
    assert r.status_code == 200, r.content
    return r


def test_sec_data_plane_cannot_lock_management(gw, admin):
    """Unauthenticated wrong digests for the admin on the data plane (as many as lock it there)
    leave the admin's management login alone."""
    s = client("127.0.0.42")
    for i in range(MAX_FAILURES + 2):
        wsg.assert_wss_fault(send(gw, s, ADMIN[0], "wrong-Pw-%d" % i)[0], "FailedAuthentication")
    r = mgmt_login(gw, s, ADMIN[0], ADMIN[1])
    assert r.status_code == 200, (r.status_code, r.content)
    # The data plane is locked for that name all the same (HTTP Basic included).
    s = client("127.0.0.44")
    user = new_user(gw, "dplock")
    for i in range(MAX_FAILURES):
        assert basic_get(gw, s, user, "wrong-Pw-b%d" % i).status_code == 401
    assert basic_get(gw, s, user, PW).status_code == 401
    wsg.assert_wss_fault(send(gw, s, user, PW)[0], "FailedAuthentication")
    token_of(mgmt_login(gw, s, user, PW))


def test_sec_management_cannot_lock_data_plane(gw, admin):
    """Wrong management logins (and wrong oldPassword) lock the management login only: the
    data plane still takes the right password."""
    s = client("127.0.0.43")
    user = new_user(gw, "mlock")
    tok = token_of(mgmt_login(gw, s, user, PW))
    for i in range(MAX_FAILURES + 1):
        assert mgmt_login(gw, s, user, "wrong-Pw-m%d" % i).status_code == 401
    assert mgmt_login(gw, s, user, PW).status_code == 401
    # Anyone may send wrong logins for a name: that lockout leaves its owner's tokens.
    r = s.get(gw.murl("/routes"), headers={"Authorization": "Bearer " + tok}, timeout=60)
    assert r.status_code == 200, (r.status_code, r.content)
    assert patch_pw(gw, s, user, tok, PW).status_code == 400
    r, m = send(gw, s, user, PW)
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])
    assert basic_get(gw, s, user, PW).status_code == 200
    # The unlock API ends the management lock too.
    lg_unlock(gw, admin, user)
    token_of(mgmt_login(gw, s, user, PW))


def test_sec_offline_unlock_verb(gw, admin, mariadb, stub):
    """`wssgate --config F user unlock NAME` ends the user's locks on both planes of every
    running gateway on the store (here two), audited there: the management login's lock at
    the next login, the data plane's when its credential cache next reads the user (`other`
    has cache_ttl 1; `gw` keeps 60 s); an unknown name is an error and changes nothing."""
    other = PlanesGateway("lockplanes2", mariadb, stub, "wssgate_lockplanes",
                          security=SECURITY, share_keys_with=gw, cache_ttl=1)
    mu.copy_db_pass(other)
    other.write_config()
    other.start()
    try:
        s = client("127.0.0.46")
        user = new_user(gw, "offunlock")
        for g in (gw, other):
            for i in range(MAX_FAILURES):
                wsg.assert_wss_fault(send(g, s, user, "wrong-Pw-o%d" % i)[0],
                                     "FailedAuthentication")
                assert mgmt_login(g, s, user, "wrong-Pw-om%d" % i).status_code == 401
            wsg.assert_wss_fault(send(g, s, user, PW)[0], "FailedAuthentication")
            assert mgmt_login(g, s, user, PW).status_code == 401

        r = gw.cli("user", "unlock", "nobody-%s" % secrets.token_hex(3))
        assert r.returncode == 1 and "no user" in r.err, (r.returncode, r.err)
        r = gw.cli("user", "unlock", user)
        assert r.returncode == 0, r.err
        assert "unlock of '%s' recorded" % user in r.out, r.out

        s = client("127.0.0.47")  # .46 has met the address limit by now
        for g in (gw, other):
            token_of(mgmt_login(g, s, user, PW))
        # Past other's cache_ttl (1 s) its data plane reads the stamp too. Tries are
        # a second apart from an address of their own: while the cache still held
        # the old row each one counted against the address limit.
        time.sleep(1.5)
        s = client("127.0.0.50")
        wsg.wait_for("%s unlocked on the data plane" % user,
                     lambda: send(other, s, user, PW)[0].status_code == 200,
                     10 * wsg.TIME_SCALE, None, 1.0)
        r, m = send(other, s, user, PW)
        assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])
        for g, n in ((gw, 1), (other, 2)):
            lines = [x for x in wsg.settled_text(g.audit_log).splitlines()
                     if "event=user_unlocked" in x and user in x]
            assert len(lines) == n and all("offline request" in x for x in lines), lines
        # A later lock stands: the stamp is older than it.
        s = client("127.0.0.48")
        for i in range(MAX_FAILURES):
            assert mgmt_login(other, s, user, "wrong-Pw-later%d" % i).status_code == 401
        assert mgmt_login(other, client("127.0.0.49"), user, PW).status_code == 401
    finally:
        problems = mu.stop_checked(other)
        assert problems == [], "\n".join(problems[:20])


def test_zz_clean_shutdown_without_sanitizer_reports(gw):
    problems = mu.stop_checked(gw)
    assert problems == [], "\n".join(problems[:20])
