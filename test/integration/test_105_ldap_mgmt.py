"""The management plane with an LDAP user store (issue 19): a gateway with
userstore.type = "ldap" and no MariaDB against a private slapd of its own (slapd_util), whose
directory holds more users than one page of the Simple Paged Results control and refuses
larger unpaged answers (size limit), so that the listings prove the paging. Login by bind
(admins from ldap.admin_group, one identical 401 for every failure), users and roles listed
and shown with MariaDB's JSON shapes, every change refused as read-only (405), non-admins
refused as with MariaDB, logout honoured (in memory here; in MariaDB when configured),
a directory that stops answering (503) and recovers, wssgatectl, and the offline CLI.
"""
import base64
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

import mgmt_util as mu
import slapd_util as su
import wsg

PAGED = ["pg-%03d" % i for i in range(130)]  # more than one page (WSG_LDAP_DIR_PAGE_SIZE)
PAGED_ROLE = "paged-role"
SIZE_LIMIT = 100  # the directory's limit for searches without paging
ADMIN, ADMIN_PW = "ada", su.USERS["ada"][0]
ALICE, ALICE_PW = "alice", su.USERS["alice"][0]
LISTED = sorted([n for n, (_, _, disabled) in su.USERS.items() if not disabled] + PAGED)
READ_ONLY = {"Error": "The user store is read-only"}
ROOT_DN, ROOT_PW = "cn=manager," + su.SUFFIX, "Manager-Pw-7e21"

wsg.SENT_SECRETS.update(p for p, _, _ in su.USERS.values())


class MgmtSlapd(su.Slapd):
    """The harness's directory plus PAGED (members of PAGED_ROLE), with a size limit that
    only paged searches may pass."""

    def setup(self):
        super().setup()
        entries = ["dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Paged\n"
                   "userPassword: %s\n" % (su.user_dn(n), n, n, su.slappasswd("Pg-Pw-" + n))
                   for n in PAGED[:1]]
        entries += ["dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Paged\n"
                    % (su.user_dn(n), n, n) for n in PAGED[1:]]
        entries.append("dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n%s"
                       % (PAGED_ROLE, su.GROUPS, PAGED_ROLE,
                          "".join("member: %s\n" % su.user_dn(n) for n in PAGED)))
        path = os.path.join(self.dir, "paged.ldif")
        with open(path, "w") as f:
            f.write("\n".join(entries))
        r = subprocess.run(["slapadd", "-q", "-f", self.conf, "-l", path],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        with open(self.conf, "a") as f:
            f.write("limits * size.soft=%d size.hard=%d size.prtotal=unlimited\n"
                    % (SIZE_LIMIT, SIZE_LIMIT))
            # A manager, so that a test can change the directory under a running gateway.
            f.write('rootdn "%s"\nrootpw %s\n' % (ROOT_DN, su.slappasswd(ROOT_PW)))

    def modify(self, ldif):
        r = subprocess.run(["ldapmodify", "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PW],
                           input=ldif, capture_output=True, text=True, env=wsg.clean_env())
        assert r.returncode == 0, r.stderr


def write_key(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(os.urandom(32).hex() + "\n")


class LdapMgmtGateway(su.LdapGateway):
    """An LDAP gateway with the management listener on (its own work folder)."""

    def __init__(self, name, slapd, stub, db=None, mgmt=None, security=None,
                 verify_queue=None, ldap_kw=None):
        workdir = os.path.join(wsg.WORK, name)
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        super().__init__(workdir, slapd, stub, name=name, db=db, security=security,
                         ldap_kw=ldap_kw)
        self.mgmt_port = wsg.free_port()
        self.mgmt_extra = dict(mgmt or {})
        self.verify_queue = verify_queue  # security.verify_queue's text, or None
        self.http = wsg.http_session()
        # userstore.master_key_file's default, which the daemon loads at start.
        os.makedirs(os.path.join(workdir, "var"), mode=0o700, exist_ok=True)
        for key in ("jwt.key", "master.key", "var/master.key"):
            if not os.path.exists(os.path.join(workdir, key)):
                write_key(os.path.join(workdir, key))

    def write_config(self):
        text = su.ldap_gateway_config(self, self.slapd, mariadb=self.mariadb, **self.ldap_kw)
        keys = {"address": '"127.0.0.1:%d"' % self.mgmt_port, "enabled": "true",
                "jwt_secret_file": '"jwt.key"', "token_ttl": "300"}
        keys.update(self.mgmt_extra)
        old = 'management = { enabled = false; jwt_secret_file = "jwt.key"; };'
        assert old in text
        text = text.replace(old, "management = { %s };"
                            % " ".join("%s = %s;" % kv for kv in keys.items()))
        if self.verify_queue is not None:
            assert "verify_threads = 2;" in text
            text = text.replace("verify_threads = 2;", "verify_threads = 2; verify_queue = %s;"
                                % self.verify_queue)
        with open(self.config, "w") as f:
            f.write(text)

    def start(self, env=None):
        self.proc = wsg.Proc(self.name, [wsg.WSSGATE, "--config", self.config], self.dir,
                             env=env)
        wsg.wait_for(self.name, lambda: wsg.port_open(self.port)
                     and wsg.port_open(self.mgmt_port), 60, self.proc)

    murl = mu.MgmtGateway.murl
    request = mu.MgmtGateway.request
    login = mu.MgmtGateway.login
    audit_lines = mu.MgmtGateway.audit_lines


@pytest.fixture(scope="module")
def directory(workdir):
    s = MgmtSlapd(workdir, name="slapd-mgmt")
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def gw(directory, stub, configured):
    g = LdapMgmtGateway("ldap-mgmt", directory, stub)
    g.write_config()
    try:
        g.start()
        yield g
    finally:
        g.stop()


@pytest.fixture(scope="module")
def admin_token(gw):
    return gw.login(ADMIN, ADMIN_PW)


@pytest.fixture(scope="module")
def alice_token(gw):
    return gw.login(ALICE, ALICE_PW)


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def names(r):
    assert r.status_code == 200, (r.status_code, r.content)
    body = r.json()
    assert body["count"] == len(body["list"])
    return [u["userId"] for u in body["list"]]


# ------------------------------------------------------------------ login


def test_admin_login_by_bind(gw, admin_token):
    c = claims(admin_token)
    assert c["sub"] == ADMIN and c["scope"] == "admin", c


def test_non_admin_login_by_bind(gw, alice_token):
    c = claims(alice_token)
    assert c["sub"] == ALICE and c["scope"] == "default", c
    # A user in no group may log in too (management.login_roles is empty).
    assert claims(gw.login("carol", su.USERS["carol"][0]))["scope"] == "default"


def test_login_names_compare_as_the_directory_does(gw):
    # uid matches without case: the token carries the directory's spelling.
    assert claims(gw.login("ALICE", ALICE_PW))["sub"] == ALICE
    assert claims(gw.login("jörg", su.USERS["jörg"][0]))["sub"] == "jörg"


def test_every_login_failure_is_the_same_401(gw):
    answers = [gw.login(*creds, expect=401) for creds in [
        (ALICE, "not-" + ALICE_PW),          # wrong password
        ("nobody", ALICE_PW),                 # unknown user
        ("dave", su.USERS["dave"][0]),       # disabled by ldap.user_filter
        ("o(x)*", ALICE_PW),                  # filter syntax in the name is only a name
        ("*", ALICE_PW),                      # a wildcard matches nobody
        (ADMIN, ""),                          # an empty password never binds (unauthenticated)
    ]]
    first = answers[0]
    for r in answers:
        assert r.status_code == 401 and r.content == b"", r.content
        assert sorted(k for k in r.headers if k != "Date") == \
            sorted(k for k in first.headers if k != "Date")
    audit = "\n".join(gw.audit_lines())
    assert "wrong password" in audit and "unknown user" in audit


def test_names_with_filter_syntax_log_in(gw):
    assert claims(gw.login("o(x)*", su.USERS["o(x)*"][0]))["sub"] == "o(x)*"


# ------------------------------------------------------------------ reads


def test_users_listed_over_several_pages(gw, directory, admin_token):
    # Without paging the directory refuses this many entries: the listing pages.
    r = subprocess.run(["ldapsearch", "-LLL", "-x", "-H", directory.uri, "-D", su.SERVICE_DN,
                        "-w", su.SERVICE_PASSWORD, "-b", su.PEOPLE, "(uid=*)", "uid"],
                       capture_output=True, text=True, env=wsg.clean_env())
    assert r.returncode == 4, (r.returncode, r.stderr)  # sizeLimitExceeded
    assert names(gw.request("GET", "/users", admin_token)) == LISTED


def test_users_pattern_search_key_and_role(gw, admin_token):
    def listed(**params):
        return names(gw.request("GET", "/users", admin_token, params=params))

    assert listed(pattern="pg-12*") == ["pg-%03d" % i for i in range(120, 130)]
    assert listed(pattern="a?a") == ["ada"]
    assert listed(pattern="?o?") == ["bob"]
    assert listed(pattern="o(x)*") == ["o(x)*"]
    assert listed(pattern="*ö*") == ["jörg"]
    assert listed(pattern="nobody*") == []
    assert listed(searchKey="lic") == ["alice"]
    assert listed(role="ops") == ["bob"]
    assert listed(role=su.ADMIN_GROUP) == ["ada"]
    assert listed(role="admin") == ["ada"]  # management.admin_role: admin_group's members
    assert listed(role="echo-users", pattern="a*") == ["ada", "alice"]
    assert listed(role=PAGED_ROLE) == PAGED
    assert listed(role="no-such-role") == []
    assert listed(role="empty-group") == []
    r = gw.request("GET", "/users", admin_token, params={"pattern": "x" * 1025})
    assert r.status_code == 400


def test_user_shown_with_roles_from_groups(gw, admin_token):
    r = gw.request("GET", "/users/bob", admin_token)
    assert r.status_code == 200
    assert r.json() == {"userId": "bob", "isAdmin": False, "roles": ["echo-users", "ops"],
                        "createdBy": None}
    # admin_group's members hold management.admin_role too, as on the data plane.
    assert gw.request("GET", "/users/ada", admin_token).json() == {
        "userId": "ada", "isAdmin": True, "roles": ["admin", "echo-users", su.ADMIN_GROUP],
        "createdBy": None}
    assert gw.request("GET", "/users/carol", admin_token).json()["roles"] == []
    for who in ("dave", "nobody", "*"):
        r = gw.request("GET", "/users/" + who, admin_token)
        assert r.status_code == 404
        assert r.json() == {"Error": "Requested resource not found. User: %s cannot be found."
                            % who}


def test_roles_listed_and_shown(gw, admin_token):
    r = gw.request("GET", "/roles", admin_token)
    assert r.status_code == 200
    roles = [x["role"] for x in r.json()["list"]]
    assert roles == sorted(su.GROUP_NAMES + [PAGED_ROLE])
    r = gw.request("GET", "/roles", admin_token, params={"searchKey": "admin"})
    assert [x["role"] for x in r.json()["list"]] == [su.ADMIN_GROUP]
    assert gw.request("GET", "/roles/ops", admin_token).json() == {"role": "ops",
                                                                   "users": ["bob"]}
    assert gw.request("GET", "/roles/admin", admin_token).json() == {"role": "admin",
                                                                     "users": ["ada"]}
    r = gw.request("GET", "/roles/nope", admin_token)
    assert r.status_code == 404


def test_userstore_says_read_only(gw, admin_token, alice_token):
    for token in (admin_token, alice_token):
        r = gw.request("GET", "/userstore", token)
        assert r.status_code == 200 and r.json() == {"type": "ldap", "readOnly": True}


def test_unlock_works_on_directory_users(gw, admin_token):
    r = gw.request("POST", "/users/alice/unlock", admin_token)
    assert r.status_code == 200 and r.json() == {"userId": "alice", "status": "Unlocked"}
    assert gw.request("POST", "/users/nobody/unlock", admin_token).status_code == 404


def test_certificates_none_for_directory_users(gw, admin_token):
    r = gw.request("GET", "/users/alice/certificates", admin_token)
    assert r.status_code == 200 and r.json() == {"count": 0, "list": []}


# ------------------------------------------------------------------ writes


WRITES = [
    ("POST", "/users", {"userId": "new", "password": "New-Pw-123456"}, "GET"),
    ("DELETE", "/users/alice", None, "GET"),
    ("PATCH", "/users/alice", {"newPassword": "N-Pw-99887766", "confirmPassword":
                               "N-Pw-99887766"}, "GET"),
    ("POST", "/users/alice/certificates", {"certificate": "x"}, "GET"),
    ("DELETE", "/users/alice/certificates/" + "ab" * 32, None, ""),
    ("POST", "/roles", {"role": "new-role"}, "GET"),
    ("PUT", "/roles", {"userId": "alice", "addedRoles": ["ops"]}, "GET"),
    ("DELETE", "/roles/ops", None, "GET"),
]


@pytest.mark.parametrize("method,path,body,allow", WRITES)
def test_every_change_is_refused_read_only(gw, admin_token, method, path, body, allow):
    r = gw.request(method, path, admin_token, body=body)
    assert r.status_code == 405, (r.status_code, r.content)
    assert r.json() == READ_ONLY
    assert r.headers["Allow"] == allow
    assert names(gw.request("GET", "/users", admin_token, params={"pattern": "alice"})) == \
        ["alice"]


def test_own_password_change_refused_read_only(gw, alice_token):
    r = gw.request("PATCH", "/users/alice", alice_token,
                   body={"oldPassword": ALICE_PW, "newPassword": "N-Pw-99887766",
                         "confirmPassword": "N-Pw-99887766"})
    assert r.status_code == 405 and r.json() == READ_ONLY
    gw.login(ALICE, ALICE_PW)  # unchanged


def test_non_admin_refused_as_with_mariadb(gw, alice_token):
    for method, path, body, _ in WRITES + [("GET", "/users", None, ""),
                                           ("GET", "/users/bob", None, ""),
                                           ("GET", "/roles", None, "")]:
        if method == "PATCH":
            continue  # a password change is not admin-only: read-only above
        r = gw.request(method, path, alice_token, body=body)
        assert r.status_code == 403 and r.content == b"", (method, path, r.status_code)
    # Monitoring stays open to any user.
    assert gw.request("GET", "/logs", alice_token).status_code == 200


# ------------------------------------------------------------------ tokens


def test_logout_is_honoured(gw):
    token = gw.login("bob", su.USERS["bob"][0])
    assert gw.request("GET", "/userstore", token).status_code == 200
    assert gw.request("GET", "/logout", token).status_code == 200
    assert gw.request("GET", "/userstore", token).status_code == 401
    assert gw.request("GET", "/logout", token).status_code == 401
    # Another token of the same user lives on.
    assert gw.request("GET", "/userstore", gw.login("bob", su.USERS["bob"][0])).status_code \
        == 200


def test_each_call_follows_the_directory(gw, directory):
    """Admin rights come from admin_group at every call, not from the token; an entry the
    filter no longer matches (disabled) ends its tokens at once."""
    erin = su.user_dn("erin")
    group = "cn=%s,%s" % (su.ADMIN_GROUP, su.GROUPS)
    token = gw.login("erin", su.USERS["erin"][0])
    assert claims(token)["scope"] == "default"
    assert gw.request("GET", "/users", token).status_code == 403
    directory.modify("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n" % (group, erin))
    try:
        assert names(gw.request("GET", "/users", token, params={"pattern": "erin"})) == ["erin"]
    finally:
        directory.modify("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n"
                         % (group, erin))
    assert gw.request("GET", "/users", token).status_code == 403
    directory.modify("dn: %s\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n"
                     % erin)
    try:
        assert gw.request("GET", "/userstore", token).status_code == 401
        gw.login("erin", su.USERS["erin"][0], expect=401)
    finally:
        directory.modify("dn: %s\nchangetype: modify\ndelete: employeeType\n" % erin)
    assert claims(gw.login("erin", su.USERS["erin"][0]))["sub"] == "erin"


def test_directory_down_is_503_and_recovers(gw, directory, admin_token):
    health = "http://127.0.0.1:%d/health" % gw.mgmt_port
    r = gw.http.get(health)
    assert r.status_code == 200 and r.json() == {"status": "ok"}, r.content
    directory.stop()
    try:
        r = gw.http.get(health)
        assert r.status_code == 503, r.content
        assert r.json() == {"status": "unavailable",
                            "reason": "the directory cannot be reached"}
        r = gw.request("GET", "/users", admin_token)
        assert r.status_code == 503, (r.status_code, r.content)
        assert "directory cannot be reached" in r.json()["Error"]
        r = gw.http.get(gw.murl("/login"), auth=(ALICE.encode(), ALICE_PW.encode()))
        assert r.status_code == 503
    finally:
        directory.run()
    assert names(gw.request("GET", "/users", admin_token, params={"pattern": "bob"})) == ["bob"]
    assert gw.http.get(health).status_code == 200


def test_lockout_by_the_directory_spelling_and_unlock(directory, stub, configured):
    """Wrong passwords lock the account whatever case the name is typed in (one entry, one
    key); the right password is then refused with the same 401 until an admin unlocks."""
    g = LdapMgmtGateway("ldap-mgmt-lock", directory, stub,
                        security={"lockout": "{ max_failures = 2; window = 60; "
                                             "duration = 600; }"})
    g.write_config()
    try:
        g.start()
        bob_pw = su.USERS["bob"][0]
        g.login("bob", "wrong-1", expect=401)
        g.login("BOB", "wrong-2", expect=401)
        locked = g.login("bob", bob_pw, expect=401)
        assert locked.content == b""
        assert "user locked" in "\n".join(g.audit_lines())
        admin = g.login(ADMIN, ADMIN_PW)
        r = g.request("POST", "/users/Bob/unlock", admin)
        assert r.status_code == 200 and r.json() == {"userId": "bob", "status": "Unlocked"}
        assert claims(g.login("bob", bob_pw))["sub"] == "bob"
    finally:
        g.stop()


def test_logins_in_progress_per_address_are_bounded(directory, stub, configured):
    """security.verify_queue.max_per_client bounds an address's LDAP logins in flight, as it
    bounds argon2 jobs with MariaDB: one address cannot hold every management worker."""
    g = LdapMgmtGateway("ldap-mgmt-flood", directory, stub,
                        verify_queue="{ max_queued = 100; max_per_client = 1; }")
    g.write_config()
    url = g.murl("/login")
    first = []
    try:
        g.start()
        directory.proc.popen.send_signal(signal.SIGSTOP)  # answers nothing until ldap.timeout
        try:
            t = threading.Thread(target=lambda: first.append(
                requests.get(url, auth=(b"bob", su.USERS["bob"][0].encode()), timeout=60)))
            t.start()
            time.sleep(0.5)
            r = requests.get(url, auth=(b"alice", ALICE_PW.encode()), timeout=60)
            assert r.status_code == 429, (r.status_code, r.content)
            assert r.headers["Retry-After"] == "1"
        finally:
            directory.proc.popen.send_signal(signal.SIGCONT)
            t.join()
        # Answered once the directory woke (or timed out).
        assert first[0].status_code in (200, 503), first[0].content
        assert claims(g.login(ALICE, ALICE_PW))["sub"] == ALICE  # the count went back down
    finally:
        g.stop()


@pytest.mark.parametrize("how", ["ldaps", "starttls", "wrong-ca"])
def test_management_over_tls(directory, stub, configured, how):
    """ldaps:// and StartTLS verified against ldap.ca_file; a directory whose certificate
    that CA did not sign is unreachable (503), never trusted."""
    kw = {"ca_file": '"%s"' % (directory.wrong_ca_file if how == "wrong-ca"
                               else directory.ca_file)}
    if how == "starttls":
        kw["starttls"] = "true"
    else:
        kw["uri"] = '"%s"' % directory.tls_uri
    g = LdapMgmtGateway("ldap-mgmt-" + how, directory, stub, ldap_kw=kw)
    g.write_config()
    try:
        g.start()
        health = g.http.get("http://127.0.0.1:%d/health" % g.mgmt_port)
        if how == "wrong-ca":
            assert health.status_code == 503
            r = g.http.get(g.murl("/login"), auth=(ADMIN.encode(), ADMIN_PW.encode()))
            assert r.status_code == 503, r.content
            return
        assert health.status_code == 200
        token = g.login(ADMIN, ADMIN_PW)
        assert names(g.request("GET", "/users", token, params={"pattern": "bob"})) == ["bob"]
        g.login(ALICE, "not-" + ALICE_PW, expect=401)
    finally:
        g.stop()


def test_logout_in_mariadb_when_configured(directory, stub, mariadb, configured):
    g = LdapMgmtGateway("ldap-mgmt-db", directory, stub, db=mariadb)
    g.database = "wssgate"
    mu.copy_db_pass(g)
    g.write_config()
    g.cli_ok("db", "init")
    try:
        g.start()
        token = g.login(ALICE, ALICE_PW)
        jti = claims(token)["jti"]
        assert g.request("GET", "/logout", token).status_code == 200
        assert g.request("GET", "/userstore", token).status_code == 401
        rows = mariadb.sql("SELECT COUNT(*) FROM wssgate.revoked_tokens WHERE jti = '%s';"
                           % jti)
        assert rows.split()[-1] == "1", rows
        # Revoked for every gateway and across restarts: the list is in MariaDB.
        g.stop()
        g.start()
        assert g.request("GET", "/userstore", token).status_code == 401
    finally:
        g.stop()


# ------------------------------------------------------------------ clients


def test_wssgatectl_reads_and_prints_read_only(gw):
    import test_85_ctl as ctl_test
    c = ctl_test.Ctl("ldap")
    c.ok("add", "env", "ldap", "http://127.0.0.1:%d" % gw.mgmt_port)
    c.ok("login", "ldap", "-u", ADMIN, "--password-stdin", stdin=ADMIN_PW + "\n")
    r = c.ok("get", "users", "bob", "-e", "ldap")
    assert r.out.startswith("Name - bob\nIs Admin - false\n") and "ops" in r.out, r.out
    assert "pg-129" in c.ok("get", "users", "-e", "ldap").out
    r = c.fails(1, "add", "user", "newbie", "-e", "ldap", "--password-stdin",
                stdin="Newbie-Pw-12345\n")
    assert "The user store is read-only (HTTP 405)" in r.err, r.err
    r = c.fails(1, "delete", "user", "alice", "-e", "ldap")
    assert "The user store is read-only (HTTP 405)" in r.err, r.err


def test_offline_cli_refuses_changes(gw):
    for args, stdin in ((["user", "add", "newbie"], "Newbie-Pw-12345\n"),
                        (["user", "del", "alice"], None), (["user", "passwd", "alice"], "x\n"),
                        (["role", "add", "r"], None), (["role", "grant", "alice", "ops"], None),
                        (["role", "revoke", "alice", "ops"], None)):
        r = gw.cli(*args, stdin=stdin)
        assert r.returncode == 1, (args, r.returncode, r.out, r.err)
        assert "the user store is read-only (userstore.type = \"ldap\")" in r.err, r.err
    r = gw.cli("user", "unlock", "alice")
    assert r.returncode == 1 and "management API" in r.err, r.err
    r = gw.cli("db", "init")
    assert r.returncode == 1 and "no MariaDB is configured" in r.err, r.err


def test_offline_cli_lists_directory_users(gw):
    r = gw.cli("user", "list")
    assert r.returncode == 0, r.err
    lines = r.out.splitlines()
    assert "ada\tadmin,echo-users,wssgate-admins\tadmin" in lines
    assert "bob\techo-users,ops\t-" in lines
    assert "carol\t\t-" in lines
    assert len(lines) == len(LISTED)


# ------------------------------------------------------------------ dashboard


E2E_SCRIPT = os.path.join(wsg.TOP_SRC, "test", "e2e", "dashboard_ldap.test.js")


def test_dashboard_shows_users_read_only(gw):
    """test/e2e/dashboard_ldap.test.js in headless Chromium (as test_85_dashboard runs its
    script): the users list without add, delete or certificate actions, no password page."""
    modules = wsg.node_modules(os.path.join("test", "e2e"))
    assert os.path.isdir(os.path.join(modules, "playwright-core")), \
        "playwright-core is not installed in %s: run `npm ci` in test/e2e" % modules
    out = os.path.join(wsg.TOP_BUILD, "test-output", "e2e-ldap")
    env = wsg.clean_env({
        "WSG_DASHBOARD_URL": "http://127.0.0.1:%d/dashboard/" % gw.mgmt_port,
        "WSG_E2E_OUT": out,
        "WSG_E2E_ADMIN": ADMIN, "WSG_E2E_ADMIN_PASSWORD": ADMIN_PW,
        "WSG_E2E_USER": ALICE, "WSG_E2E_USER_PASSWORD": ALICE_PW,
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        "NODE_PATH": modules,
    })
    r = subprocess.run(["node", "--test", "--test-reporter=tap", E2E_SCRIPT],
                       cwd=os.path.dirname(E2E_SCRIPT), capture_output=True, text=True,
                       timeout=600, env=env)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "dashboard_ldap.tap"), "w", encoding="utf-8") as f:
        f.write(r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert len(re.findall(r"^ok \d+ - ", r.stdout, re.M)) == 5, r.stdout
