"""The LDAP user store (issue 19): a private slapd (slapd_util.py) and gateways with
userstore.type = "ldap" and no MariaDB at all. PasswordText through zeep and node-soap,
HTTP Basic, PasswordDigest refused, every "who are you" failure byte-identical, roles from
groups, ldaps:// and StartTLS against the generated CA (a wrong CA fails closed), a directory
that goes away under load and comes back, and --check-config's LDAP rules."""

import os
import re
import threading
import time

import pytest

import slapd_util
import wsg
import zeep_util
from slapd_util import USERS


def basic_route(stub):
    return wsg.route_config("basic", "/services/Basic", stub.url("/EchoBasic")).replace(
        'auth = "wsse"', 'auth = "basic"')


def ldap_gateway(workdir, slapd, stub, name, security=None, **ldap_kw):
    gw = slapd_util.LdapGateway(workdir, slapd, stub, name=name, security=security,
                                ldap_kw=ldap_kw,
                                config_kw={"extra_routes": [basic_route(stub)]})
    gw.write_config()
    return gw


@pytest.fixture(scope="module")
def lgw(workdir, slapd, stub):
    gw = ldap_gateway(workdir, slapd, stub, "ldap-plain")
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


def text_call(gw, user, password, path="/services/Echo", soap12=False, m=None):
    body = wsg.build(user, password, use_digest=False, message=m or wsg.marker(),
                     soap12=soap12)
    return wsg.post(gw.url(path), body, soap12=soap12)


def upstream_headers(stub, m):
    rec = stub.find(m)
    assert len(rec) == 1, rec
    return ([wsg.header_text(v) for v in wsg.header_values(rec[0], "X-WSS-User")],
            [wsg.header_text(v) for v in wsg.header_values(rec[0], "X-WSS-Roles")])


def audit_lines(gw, text):
    return [x for x in wsg.settled_text(gw.audit_log).splitlines() if text in x]


# ---------------------------------------------------------------- clients

@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_zeep_password_text(lgw, stub, binding):
    m = wsg.marker()
    client, _ = zeep_util.client("alice", USERS["alice"][0], use_digest=False)
    svc = zeep_util.service(client, binding, lgw.url("/services/Echo"))
    assert svc.Echo(message=m) == m
    assert upstream_headers(stub, m) == (["alice"], ["echo-users"])


def test_node_soap_password_text(lgw, stub):
    m = wsg.marker()
    res = wsg.node_client({"wsdl": wsg.WSDL, "endpoint": lgw.url("/services/Echo"),
                           "user": "bob", "password": USERS["bob"][0],
                           "passwordType": "PasswordText", "hasTimeStamp": True,
                           "hasNonce": True, "soap12": False, "message": m})
    assert res["ok"], res
    assert res["result"] == {"message": m}
    # bob is in two groups: both roles, sorted.
    assert upstream_headers(stub, m) == (["bob"], ["echo-users,ops"])


def test_node_soap_digest_refused(lgw):
    res = wsg.node_client({"wsdl": wsg.WSDL, "endpoint": lgw.url("/services/Echo"),
                           "user": "alice", "password": USERS["alice"][0],
                           "passwordType": "PasswordDigest", "hasTimeStamp": True,
                           "hasNonce": True, "soap12": False, "message": wsg.marker()})
    assert not res["ok"]
    assert "FailedAuthentication" in str(res.get("fault")), res


def test_digest_refused_with_reason_in_audit(lgw):
    r = wsg.post(lgw.url("/services/Echo"), wsg.build("alice", USERS["alice"][0], use_digest=True))
    wsg.assert_wss_fault(r, "FailedAuthentication")
    assert audit_lines(lgw, "PasswordDigest cannot be verified against the LDAP user store")


def test_escaped_name_and_utf8(lgw, stub):
    for user in ("o(x)*", "jörg"):
        m = wsg.marker()
        r = text_call(lgw, user, USERS[user][0], m=m)
        assert r.status_code == 200, (user, r.content[:300])
        assert upstream_headers(stub, m) == ([user], ["echo-users"])
    # A wildcard or a parenthesis in a name matches only itself.
    for user in ("o*", "*", "o(x)\\2a"):
        wsg.assert_wss_fault(text_call(lgw, user, USERS["o(x)*"][0]), "FailedAuthentication")


def test_admin_group_gives_admin_role(lgw, stub):
    m = wsg.marker()
    assert text_call(lgw, "ada", USERS["ada"][0], m=m).status_code == 200
    assert upstream_headers(stub, m) == (["ada"], ["admin,echo-users,wssgate-admins"])


ENVELOPE = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            '<soap:Body><e:Echo xmlns:e="urn:example:echo"><message>%s</message></e:Echo>'
            '</soap:Body></soap:Envelope>')


def basic_post(gw, http, user, password, m=None):
    return http.post(gw.url("/services/Basic"), data=(ENVELOPE % (m or wsg.marker())).encode(),
                     auth=(user, password), timeout=30,
                     headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def test_basic_route(lgw, stub, http):
    m = wsg.marker()
    r = basic_post(lgw, http, "bob", USERS["bob"][0], m)
    assert r.status_code == 200, r.content[:300]
    assert upstream_headers(stub, m) == (["bob"], ["echo-users,ops"])
    assert basic_post(lgw, http, "bob", "wrong-Pw-1").status_code == 401
    assert basic_post(lgw, http, "nobody-here", "wrong-Pw-1").status_code == 401
    # An empty password would be an unauthenticated bind, which "succeeds".
    assert basic_post(lgw, http, "bob", "").status_code == 401


# ---------------------------------------------------------------- identical failures

FAILURES = [  # (id, user, password, audit reason)
    ("wrong-password", "alice", "not-alice-Pw-0", "wrong password"),
    ("unknown-user", "nobody-here", "whatever-Pw-1", "unknown user"),
    ("filtered-disabled", "dave", USERS["dave"][0], "unknown user"),
    ("no-role", "carol", USERS["carol"][0], "user holds none of the route's roles"),
    ("empty-password", "alice", "", "empty password"),
]


def fault_bytes(resp):
    """The answer with the request-specific parts left out."""
    return resp.status_code, resp.headers.get("Content-Type"), resp.content


def test_failures_are_identical(lgw):
    answers = {}
    for fid, user, password, why in FAILURES:
        r = text_call(lgw, user, password)
        wsg.assert_wss_fault(r, "FailedAuthentication")
        answers[fid] = fault_bytes(r)
        assert audit_lines(lgw, why), (fid, why)
    assert len(set(answers.values())) == 1, answers


def test_failures_cost_the_same_directory_work(workdir, slapd, stub):
    """Every failure, and a success, costs one user search, one group search and one bind
    (counted in slapd's log): nothing in the directory's work tells them apart. One worker,
    one connection of each kind, nothing cached."""
    gw = ldap_gateway(workdir, slapd, stub, "ldap-cost", pool_size="1")
    gw.cache_ttl = 0
    gw.config_kw["workers"] = 1
    gw.write_config()
    try:
        gw.start()
        for _ in range(2):  # opens both connections (their service bind is not counted)
            text_call(gw, "alice", USERS["alice"][0])
        time.sleep(0.3)
        cases = [("ok", "alice", USERS["alice"][0])] + [f[:3] for f in FAILURES]
        for fid, user, password in cases:
            before = slapd.log_size()
            text_call(gw, user, password)
            time.sleep(0.3)
            assert slapd.operations_since(before) == (2, 1), fid
    finally:
        gw.stop()


def test_locked_user_gets_the_same_fault(workdir, slapd, stub):
    gw = ldap_gateway(workdir, slapd, stub, "ldap-lockout", security={
        "lockout": "{ max_failures = 3; window = 60; duration = 60; }"})
    try:
        gw.start()
        wrong = text_call(gw, "erin", "wrong-Pw-x")
        for _ in range(2):
            text_call(gw, "erin", "wrong-Pw-x")
        locked = text_call(gw, "erin", USERS["erin"][0])
        unknown = text_call(gw, "nobody-here", "whatever-Pw-1")
        wsg.assert_wss_fault(locked, "FailedAuthentication")
        assert fault_bytes(locked) == fault_bytes(wrong) == fault_bytes(unknown)
        assert audit_lines(gw, "event=lockout ")
        assert audit_lines(gw, "user locked")
        # Others are not affected.
        assert text_call(gw, "alice", USERS["alice"][0]).status_code == 200
    finally:
        gw.stop()


def test_every_spelling_of_a_name_is_one_account(workdir, slapd, stub):
    """The directory matches "ERIN", "Erin" and " erin " to erin's entry (uid compares without
    case or insignificant spaces): their wrong guesses count against one lockout, or each
    spelling would get max_failures guesses of its own; and the upstream is told the
    directory's name, not the client's spelling."""
    gw = ldap_gateway(workdir, slapd, stub, "ldap-spellings", security={
        "lockout": "{ max_failures = 3; window = 60; duration = 60; }"})
    try:
        gw.start()
        m = wsg.marker()
        assert text_call(gw, "ALICE", USERS["alice"][0], m=m).status_code == 200
        assert upstream_headers(stub, m)[0] == ["alice"]
        for spelling in ("ERIN", "Erin", " erin "):
            wsg.assert_wss_fault(text_call(gw, spelling, "wrong-Pw-x"), "FailedAuthentication")
        for spelling in ("erin", "eRIN"):
            wsg.assert_wss_fault(text_call(gw, spelling, USERS["erin"][0]),
                                 "FailedAuthentication")
        assert len(audit_lines(gw, "event=lockout ")) == 1
    finally:
        gw.stop()


# ---------------------------------------------------------------- TLS

def test_ldaps_with_ca(workdir, slapd, stub):
    gw = ldap_gateway(workdir, slapd, stub, "ldap-ldaps", uri='"%s"' % slapd.tls_uri,
                      ca_file='"%s"' % slapd.ca_file)
    try:
        gw.start()
        m = wsg.marker()
        assert text_call(gw, "bob", USERS["bob"][0], m=m).status_code == 200
        assert upstream_headers(stub, m) == (["bob"], ["echo-users,ops"])
    finally:
        gw.stop()


def test_anonymous_searches(workdir, slapd, stub):
    gw = ldap_gateway(workdir, slapd, stub, "ldap-anonymous", bind_dn=None,
                      bind_password_file=None)
    try:
        gw.start()
        m = wsg.marker()
        assert text_call(gw, "bob", USERS["bob"][0], m=m).status_code == 200
        assert upstream_headers(stub, m) == (["bob"], ["echo-users,ops"])
        wsg.assert_wss_fault(text_call(gw, "bob", "wrong-Pw-3"), "FailedAuthentication")
    finally:
        gw.stop()


def test_starttls_with_ca(workdir, slapd, stub):
    gw = ldap_gateway(workdir, slapd, stub, "ldap-starttls", starttls="true",
                      ca_file='"%s"' % slapd.ca_file)
    try:
        gw.start()
        assert text_call(gw, "alice", USERS["alice"][0]).status_code == 200
    finally:
        gw.stop()


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_wrong_ca_fails_closed(workdir, slapd, stub, mode):
    kw = {"uri": '"%s"' % slapd.tls_uri} if mode == "ldaps" else {"starttls": "true"}
    gw = ldap_gateway(workdir, slapd, stub, "ldap-wrongca-" + mode,
                      ca_file='"%s"' % slapd.wrong_ca_file, **kw)
    try:
        gw.start()
        r = text_call(gw, "alice", USERS["alice"][0])
        wsg.assert_soap_fault(r, 500, "Server", "Receiver")
        assert audit_lines(gw, "event=auth_error")
    finally:
        gw.stop()


# ---------------------------------------------------------------- directory down

def test_directory_down_under_load_then_recovers(workdir, stub):
    own = slapd_util.Slapd(workdir, name="slapd-flaky")
    own.start()
    gw = ldap_gateway(workdir, own, stub, "ldap-flaky")
    statuses, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            r = text_call(gw, "alice", USERS["alice"][0])
            statuses.append((time.monotonic(), r.status_code, r.content))

    try:
        gw.start()
        assert text_call(gw, "alice", USERS["alice"][0]).status_code == 200
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        own.stop()
        # The credential cache may answer for a while (cache_ttl 1 s): then faults.
        time.sleep(2.5)
        down_from = time.monotonic() - 1.0
        own.run()
        back = time.monotonic()
        time.sleep(4)
        stop.set()
        for t in threads:
            t.join(30)
        down = [s for s in statuses if down_from <= s[0] < back]
        assert down and all(s[1] == 500 for s in down), [s[:2] for s in down][:20]
        for s in down:
            assert b"Server" in s[2] and b"FailedAuthentication" not in s[2], s[2][:300]
        late = [s for s in statuses if s[0] >= back + 3]
        assert late and all(s[1] == 200 for s in late), [s[:2] for s in late][:20]
        assert gw.proc.alive()
    finally:
        stop.set()
        gw.stop()
        own.stop()


def test_directory_hung_times_out_then_recovers(workdir, stub):
    """A directory that accepts but never answers (SIGSTOP): each request ends with a Server
    fault after about ldap.timeout (2 s), and after SIGCONT requests pass again."""
    own = slapd_util.Slapd(workdir, name="slapd-hung")
    own.start()
    gw = ldap_gateway(workdir, own, stub, "ldap-hung")
    gw.cache_ttl = 0
    gw.write_config()
    try:
        gw.start()
        assert text_call(gw, "alice", USERS["alice"][0]).status_code == 200
        own.pause()
        try:
            for _ in range(2):
                t0 = time.monotonic()
                r = text_call(gw, "alice", USERS["alice"][0])
                took = time.monotonic() - t0
                wsg.assert_soap_fault(r, 500, "Server", "Receiver")
                assert took < 2 + 3 * wsg.TIME_SCALE, took
        finally:
            own.resume()
        deadline = time.monotonic() + 10 * wsg.TIME_SCALE
        while text_call(gw, "alice", USERS["alice"][0]).status_code != 200:
            assert time.monotonic() < deadline, "no recovery after SIGCONT"
            time.sleep(0.2)
        assert audit_lines(gw, "LDAP user store unavailable") or audit_lines(
            gw, "cannot query the user store")
    finally:
        gw.stop()
        own.stop()


def test_sigterm_while_opens_hang_exits_zero(workdir, stub):
    """SIGTERM while the opener threads are stuck in binds to a directory that never answers
    (more opens asked than threads, so some wait in the queue): the requests get their Server
    fault, the workers' pools go, the openers are joined, and the gateway exits 0 within the
    drain plus one ldap.timeout, with no sanitizer report."""
    own = slapd_util.Slapd(workdir, name="slapd-stop")
    own.start()
    gw = ldap_gateway(workdir, own, stub, "ldap-stop")
    gw.cache_ttl = 0
    gw.write_config()
    results = []

    def call(user):
        results.append(text_call(gw, user, USERS[user][0]).status_code)

    try:
        gw.start()
        own.pause()
        threads = [threading.Thread(target=call, args=(u,)) for u in list(USERS) * 2]
        for t in threads:
            t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        rc = gw.proc.stop(timeout=30)
        took = time.monotonic() - t0
        for t in threads:
            t.join(30)
        err = gw.proc.stderr_text()
        assert rc == 0, "exit status %s:\n%s" % (rc, err[-3000:])
        assert not wsg.SANITIZER_RE.search(err), err[-5000:]
        assert took < 2 * 2 + 3 * wsg.TIME_SCALE, took
        assert results and all(s == 500 for s in results), results
    finally:
        own.resume()
        gw.stop()
        own.stop()


# ---------------------------------------------------------------- --check-config

def check_config(gw, text):
    path = os.path.join(gw.dir, "ldap-check.conf")
    with open(path, "w") as f:
        f.write(text)
    return wsg.run_cli(["--config", path, "--check-config"])


@pytest.mark.parametrize("overrides,error", [
    ({"uri": '"http://127.0.0.1/"'}, "is no LDAP URL"),
    ({"uri": '"ldap://192.0.2.10/"'}, "would send passwords in clear text"),
    ({"user_filter": '"(uid=%s)(cn=%s)"'}, "user_filter"),
    ({"user_filter": '"(uid=x)"'}, "must contain %s exactly once"),
    ({"group_filter": '"(member=%d)"'}, "group_filter"),
    ({"bind_password_file": '"/nonexistent/ldap.pass"'}, "cannot read"),
    ({"bind_password_file": None}, "needs bind_password_file"),
    ({"starttls": "true", "uri": '"ldaps://127.0.0.1/"'}, "applies only to an ldap:// uri"),
])
def test_check_config_errors(workdir, slapd, stub, overrides, error):
    gw = slapd_util.LdapGateway(workdir, slapd, stub, name="ldap-check")
    text = slapd_util.ldap_gateway_config(gw, slapd, **overrides)
    r = check_config(gw, text)
    assert r.returncode == 1, r.err
    assert error in r.err, r.err
    assert re.search(r"ldap-check\.conf:\d+: ldap\.", r.err), r.err


def test_check_config_plaintext_allowed_explicitly(workdir, slapd, stub):
    gw = slapd_util.LdapGateway(workdir, slapd, stub, name="ldap-check")
    text = slapd_util.ldap_gateway_config(gw, slapd, uri='"ldap://192.0.2.10/"',
                                          allow_plaintext_passwords="true")
    r = check_config(gw, text)
    assert r.returncode == 0, r.err


def test_check_config_ldap_group_required(workdir, slapd, stub):
    gw = slapd_util.LdapGateway(workdir, slapd, stub, name="ldap-check")
    text = slapd_util.ldap_gateway_config(gw, slapd)
    without = re.sub(r"^ldap = \{.*\};$", "", text, flags=re.M)
    r = check_config(gw, without)
    assert r.returncode == 1 and 'userstore.type = "ldap" needs the ldap group' in r.err, r.err
    shared = text.replace('replay_store = "memory"', 'replay_store = "mariadb"')
    r = check_config(gw, shared)
    assert r.returncode == 1 and "needs userstore.host or userstore.socket" in r.err, r.err
