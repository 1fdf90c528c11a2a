"""Certificates as users (issue 17): the user_certs table (schema version 6), the offline CLI
`user cert add|del|list`, the management API's /users/{id}/certificates resource, and `db init`
upgrading a version-5 store. Certificates are made at test time with the `openssl` command: a
CA, clients signed by it, an expired client (`openssl ca` with explicit dates), never a
committed key.
"""

import json
import os
import secrets
import subprocess
import urllib.parse

import pytest

import mgmt_util as mu
import wsg

BOSS = ("cert-boss", "Cert-Boss-Pw-01")  # bootstrapped by the first login
PW = "Cert-User-Pw-42"
wsg.SENT_SECRETS.update([BOSS[1], PW])

NOT_FOUND_USER = "Requested resource not found. User: %s cannot be found."
NOT_FOUND_CERT = "Requested resource not found. Certificate: %s cannot be found."

CA_CNF = """\
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = %(dir)s
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
organizationName = optional
"""


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                       env=wsg.clean_env())
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


class Pki:
    """A CA in `dir` and certificates it signs: issue(name) -> path of the PEM."""

    def __init__(self, dir):
        self.dir = dir
        os.makedirs(dir, mode=0o700, exist_ok=True)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "30", "-subj", "/O=Example Test/CN=Test CA", cwd=dir)
        with open(os.path.join(dir, "ca.cnf"), "w") as f:
            f.write(CA_CNF % {"dir": dir})
        open(os.path.join(dir, "index.txt"), "w").close()
        with open(os.path.join(dir, "serial"), "w") as f:
            f.write("1000\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, cn=None, start=None, end=None):
        """A client certificate (key in name.key); `start`/`end` (YYYYMMDDHHMMSSZ) set its
        dates, else 10 days from now."""
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/O=Example Test/CN=%s" % (cn or name), cwd=self.dir)
        dates = (["-startdate", start, "-enddate", end] if start else ["-days", "10"])
        openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                "-in", name + ".csr", "-out", name + ".pem", "-notext", *dates, cwd=self.dir)
        return self.path(name + ".pem")

    def fingerprint(self, pem):
        out = openssl("x509", "-in", pem, "-noout", "-fingerprint", "-sha256", cwd=self.dir)
        colons = out.strip().split("=", 1)[1]
        return colons, colons.replace(":", "").lower()

    def names(self, pem):
        """(subject, issuer) as RFC 2253 strings."""
        out = openssl("x509", "-in", pem, "-noout", "-subject", "-issuer", "-nameopt",
                      "RFC2253", cwd=self.dir)
        lines = dict(l.split("=", 1) for l in out.strip().splitlines())
        return lines["subject"], lines["issuer"]

    def concat(self, name, *parts):
        with open(self.path(name), "w") as f:
            for p in parts:
                with open(p) as g:
                    f.write(g.read())
        return self.path(name)


def uniq(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


def quote(name):
    return urllib.parse.quote(name, safe="").replace(".", "%2E")


def read(path):
    with open(path) as f:
        return f.read()


@pytest.fixture(scope="module")
def gw(mariadb, stub, configured):
    g = mu.MgmtGateway("certs", mariadb, stub, "wssgate_certs")
    mu.setup_database(mariadb, g)
    g.start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def pki(gw):
    return Pki(os.path.join(gw.dir, "pki"))


@pytest.fixture(scope="module")
def boss(gw):
    return gw.login(*BOSS)


def add_user(gw, name, *flags):
    gw.cli_ok("user", "add", name, *flags, stdin=PW + "\n")


def cert_rows(gw, user):
    return gw.db.sql("SELECT c.fingerprint FROM user_certs c JOIN users u ON u.id = c.user_id "
                     "WHERE u.username = '%s' ORDER BY c.id" % user, gw.database).split()


def cli_fails(gw, *args, contains):
    r = gw.cli(*args)
    assert r.returncode == 1, (r.returncode, r.out, r.err)
    assert contains in r.err, r.err
    assert r.err.count("\n") == 1, r.err
    return r.err


# ---------------------------------------------------------------- CLI

def test_cli_add_list_del(gw, pki):
    user = uniq("alice")
    add_user(gw, user)
    pem = pki.issue(user)
    colons, fp = pki.fingerprint(pem)
    subject, issuer = pki.names(pem)
    r = gw.cli_ok("user", "cert", "add", user, pem)
    assert r.out == "added certificate %s to user %s\n" % (fp, user), r.out
    assert cert_rows(gw, user) == [fp]
    r = gw.cli_ok("user", "cert", "list", user)
    fields = r.out.rstrip("\n").split("\t")
    assert fields[:3] == [fp, subject, issuer], fields
    assert "CN=%s" % user in subject and issuer == "CN=Test CA,O=Example Test", (subject, issuer)
    assert len(fields) == 4 and fields[3].endswith("Z") and fields[3][:2] == "20", fields
    # A second certificate; del takes the fingerprint as openssl prints it too.
    pem2 = pki.issue(user + "-2", cn=user)
    fp2 = pki.fingerprint(pem2)[1]
    gw.cli_ok("user", "cert", "add", user, pem2)
    assert [l.split("\t")[0] for l in gw.cli_ok("user", "cert", "list", user).out.splitlines()] \
        == [fp, fp2]
    r = gw.cli_ok("user", "cert", "del", user, colons)
    assert r.out == "deleted certificate %s of user %s\n" % (fp, user), r.out
    r = gw.cli_ok("user", "cert", "del", user, fp2.upper())
    assert gw.cli_ok("user", "cert", "list", user).out == ""
    assert cert_rows(gw, user) == []
    cli_fails(gw, "user", "cert", "del", user, fp, contains="holds no certificate %s" % fp)


def test_cli_one_certificate_one_user(gw, pki):
    alice, bob = uniq("alice"), uniq("bob")
    add_user(gw, alice)
    add_user(gw, bob)
    pem = pki.issue(alice)
    fp = pki.fingerprint(pem)[1]
    gw.cli_ok("user", "cert", "add", alice, pem)
    # The same certificate again, in another file with text around it: the same fingerprint.
    other = pki.path(alice + "-copy.pem")
    with open(other, "w") as f:
        f.write("Bag Attributes\n" + read(pem) + "\ntrailing words\n")
    cli_fails(gw, "user", "cert", "add", alice, other,
              contains="certificate %s is already mapped to user '%s'" % (fp, alice))
    cli_fails(gw, "user", "cert", "add", bob, pem,
              contains="certificate %s is already mapped to user '%s'" % (fp, alice))
    assert cert_rows(gw, bob) == [] and cert_rows(gw, alice) == [fp]
    # Deleting the user removes its certificates: the certificate is free again.
    gw.cli_ok("user", "del", alice)
    assert gw.db.sql("SELECT COUNT(*) FROM user_certs WHERE fingerprint = '%s'" % fp,
                     gw.database).strip() == "0"
    gw.cli_ok("user", "cert", "add", bob, pem)
    assert cert_rows(gw, bob) == [fp]


def test_cli_refusals(gw, pki):
    user = uniq("carol")
    add_user(gw, user)
    pem = pki.issue(user)
    key = pki.path(user + ".key")
    cli_fails(gw, "user", "cert", "add", user, pki.concat(user + "-with-key.pem", pem, key),
              contains="private key")
    cli_fails(gw, "user", "cert", "add", user, key, contains="private key")
    expired = pki.issue(user + "-old", start="20200101000000Z", end="20200201000000Z")
    cli_fails(gw, "user", "cert", "add", user, expired,
              contains="the certificate expired on 2020-02-01T00:00:00Z")
    two = pki.concat(user + "-two.pem", pem, pki.path("ca.pem"))
    cli_fails(gw, "user", "cert", "add", user, two, contains="more than one certificate")
    junk = pki.path("junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    cli_fails(gw, "user", "cert", "add", user, junk, contains="no PEM CERTIFICATE block")
    broken = pki.path("broken.pem")
    with open(broken, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    cli_fails(gw, "user", "cert", "add", user, broken, contains="not an X.509 certificate")
    csr = pki.path(user + ".csr")
    cli_fails(gw, "user", "cert", "add", user, csr, contains="unexpected PEM block")
    cli_fails(gw, "user", "cert", "add", user, pki.path("missing.pem"), contains="missing.pem")
    cli_fails(gw, "user", "cert", "add", "nobody-" + user, pem, contains="no user 'nobody-")
    cli_fails(gw, "user", "cert", "list", "nobody-" + user, contains="no user 'nobody-")
    cli_fails(gw, "user", "cert", "del", user, "abc", contains="64 hexadecimal digits")
    cli_fails(gw, "user", "cert", "frob", user, contains="usage: user cert")
    assert cert_rows(gw, user) == []


# ---------------------------------------------------------------- management API

def error(r, status, text=None, contains=None):
    assert r.status_code == status, (r.status_code, r.content)
    body = r.json()
    assert list(body) == ["Error"], body
    if text is not None:
        assert body["Error"] == text, body
    if contains is not None:
        assert contains in body["Error"], body
    return body["Error"]


def empty(r, status):
    assert r.status_code == status, (r.status_code, r.content)
    assert r.content == b"", r.content


def test_api_add_list_delete(gw, pki, boss):
    user = uniq("dave")
    add_user(gw, user)
    path = "/users/%s/certificates" % quote(user)
    r = gw.request("GET", path, token=boss)
    assert r.status_code == 200 and r.json() == {"count": 0, "list": []}, r.content
    pem = pki.issue(user)
    colons, fp = pki.fingerprint(pem)
    subject, issuer = pki.names(pem)
    r = gw.request("POST", path, token=boss, body={"certificate": read(pem)})
    assert r.status_code == 200, r.content
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"userId": user, "fingerprint": fp, "status": "Added"}
    r = gw.request("GET", path, token=boss)
    body = r.json()
    assert body["count"] == 1 and len(body["list"]) == 1, body
    item = body["list"][0]
    assert sorted(item) == sorted(["fingerprint", "subject", "issuer", "serialNumber",
                                   "notAfter", "createdAt", "createdBy"]), item
    serial = openssl("x509", "-in", pem, "-noout", "-serial", cwd=pki.dir).strip().split("=")[1]
    assert (item["fingerprint"], item["subject"], item["issuer"], item["serialNumber"],
            item["createdBy"]) == (fp, subject, issuer, serial, BOSS[0]), item
    assert item["notAfter"].endswith("Z") and item["createdAt"].endswith("Z"), item
    # The CLI sees the same, and the audit log names the fingerprint.
    assert gw.cli_ok("user", "cert", "list", user).out.split("\t")[0] == fp
    assert any("event=cert_added" in l and fp in l for l in gw.audit_lines())
    # Duplicate (same user, other user) refused; the holder is named to the admin.
    error(gw.request("POST", path, token=boss, body={"certificate": read(pem)}), 400,
          "Error processing the request. Certificate: %s is already mapped to user %s."
          % (fp, user))
    other = uniq("erin")
    add_user(gw, other)
    error(gw.request("POST", "/users/%s/certificates" % quote(other), token=boss,
                     body={"certificate": read(pem)}), 400, contains="already mapped")
    # Delete, with the colon form; again is 404.
    r = gw.request("DELETE", path + "/" + colons, token=boss)
    assert r.status_code == 200 and r.json() == {"userId": user, "fingerprint": fp,
                                                 "status": "Deleted"}, r.content
    assert any("event=cert_deleted" in l and fp in l for l in gw.audit_lines())
    error(gw.request("DELETE", path + "/" + fp, token=boss), 404, NOT_FOUND_CERT % fp)
    assert gw.request("GET", path, token=boss).json() == {"count": 0, "list": []}


def test_api_bad_input(gw, pki, boss):
    user = uniq("frank")
    add_user(gw, user)
    path = "/users/%s/certificates" % quote(user)
    pem = pki.issue(user)
    fp = pki.fingerprint(pem)[1]
    key = read(pki.path(user + ".key"))
    expired = read(pki.issue(user + "-old", start="20200101000000Z", end="20200201000000Z"))
    for body, text in (
            ({}, "Missing the field 'certificate'"),
            ({"certificate": 42}, "must be a string"),
            ({"certificate": "garbage"}, "no PEM CERTIFICATE block"),
            ({"certificate": read(pem) + key}, "private key"),
            ({"certificate": expired}, "expired on 2020-02-01T00:00:00Z"),
            ({"certificate": read(pem) + read(pki.path("ca.pem"))}, "more than one"),
            ({"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
             "not an X.509 certificate")):
        msg = error(gw.request("POST", path, token=boss, body=body), 400, contains=text)
        assert msg.startswith("Error processing the request. "), msg
        assert "BEGIN" not in msg, msg
    r = gw.request("POST", path, token=boss, raw=b"{not json",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.content
    error(gw.request("DELETE", path + "/xyz", token=boss), 400, contains="64 hexadecimal")
    # Unknown users.
    ghost = uniq("ghost")
    gpath = "/users/%s/certificates" % ghost
    error(gw.request("GET", gpath, token=boss), 404, NOT_FOUND_USER % ghost)
    error(gw.request("POST", gpath, token=boss, body={"certificate": read(pem)}), 404,
          NOT_FOUND_USER % ghost)
    error(gw.request("DELETE", gpath + "/" + fp, token=boss), 404, NOT_FOUND_USER % ghost)
    error(gw.request("GET", "/users/%s/certificates" % quote("a\u0085b"), token=boss), 404)
    assert cert_rows(gw, user) == []


def test_api_non_admin_and_other_admins(gw, pki, boss):
    plain, admin2 = uniq("gina"), uniq("hank")
    add_user(gw, plain)
    r = gw.request("POST", "/users", token=boss,
                   body={"userId": admin2, "password": PW, "isAdmin": "true"})
    assert r.status_code == 200, r.content
    tok_plain = gw.login(plain, PW)
    tok_admin2 = gw.login(admin2, PW)
    pem = pki.issue(plain)
    fp = pki.fingerprint(pem)[1]
    # A non-admin reads and changes nothing, its own certificates included, and learns
    # nothing about who exists: the same empty 403 for a real and an unknown user.
    for who in (plain, BOSS[0], uniq("ghost")):
        p = "/users/%s/certificates" % quote(who)
        empty(gw.request("GET", p, token=tok_plain), 403)
        empty(gw.request("POST", p, token=tok_plain, body={"certificate": read(pem)}), 403)
        empty(gw.request("DELETE", p + "/" + fp, token=tok_plain), 403)
    empty(gw.request("GET", "/users/%s/certificates" % plain), 401)
    assert cert_rows(gw, plain) == []
    # An admin changes non-admins' certificates and its own, not another admin's.
    r = gw.request("POST", "/users/%s/certificates" % plain, token=tok_admin2,
                   body={"certificate": read(pem)})
    assert r.status_code == 200, r.content
    pem_boss = pki.issue(uniq("boss-cert"))
    error(gw.request("POST", "/users/%s/certificates" % BOSS[0], token=tok_admin2,
                     body={"certificate": read(pem_boss)}), 403,
          contains="only change the certificates of non-admin users and its own")
    r = gw.request("POST", "/users/%s/certificates" % BOSS[0], token=boss,
                   body={"certificate": read(pem_boss)})
    assert r.status_code == 200, r.content
    fp_boss = pki.fingerprint(pem_boss)[1]
    error(gw.request("DELETE", "/users/%s/certificates/%s" % (BOSS[0], fp_boss),
                     token=tok_admin2), 403)
    # Reading another admin's list is fine: admins read every user.
    assert gw.request("GET", "/users/%s/certificates" % BOSS[0],
                      token=tok_admin2).json()["count"] == 1
    assert any("event=mgmt_denied" in l and "certificates of admin" in l
               for l in gw.audit_lines())
    # The offline CLI is bound by no rule.
    gw.cli_ok("user", "cert", "del", BOSS[0], fp_boss)


# ---------------------------------------------------------------- db init

def schema_before(version):
    path = os.path.join(wsg.TOP_SRC, "schemas", "userstore.sql")
    return read(path).split("-- Version %d:" % version)[0]


def test_db_init_upgrades_a_version_5_store(mariadb, stub, configured, pki):
    v5 = schema_before(6)
    assert "user_certs" not in v5 and "VALUES (5)" in v5
    g = mu.MgmtGateway("certs-v5", mariadb, stub, "wssgate_certs_v5")
    mu.copy_db_pass(g)
    mariadb.sql("DROP DATABASE IF EXISTS wssgate_certs_v5;\n"
                "CREATE DATABASE wssgate_certs_v5;\n"
                "GRANT ALL PRIVILEGES ON wssgate_certs_v5.* TO 'wssgate'@'localhost';\n"
                "GRANT ALL PRIVILEGES ON wssgate_certs_v5.* TO 'wssgate'@'127.0.0.1';\n")
    mariadb.sql(v5, database="wssgate_certs_v5")
    mariadb.sql("INSERT INTO users (username, password_hash) VALUES ('old-user', 'h')",
                database="wssgate_certs_v5")
    g.write_config()
    pem = pki.issue(uniq("old"))
    r = g.cli("user", "cert", "add", "old-user", pem)
    # Refused with a reason: the table, or (schema 7) the account guard row.
    assert r.returncode == 1 and ("user_certs" in r.err or "db init" in r.err), r.err
    g.cli_ok("db", "init")
    versions = mariadb.sql("SELECT version FROM schema_version ORDER BY version",
                           database="wssgate_certs_v5").split()
    assert versions[:6] == ["1", "2", "3", "4", "5", "6"], versions
    g.cli_ok("user", "cert", "add", "old-user", pem)
    g.cli_ok("db", "init")  # idempotent, the mapping kept
    assert g.cli_ok("user", "cert", "list", "old-user").out.split("\t")[0] == \
        pki.fingerprint(pem)[1]


# ---------------------------------------------------------------- wssgatectl

CTL = os.path.join(wsg.TOP_BUILD, "ctl", "wssgatectl")


def ctl(home, *args, expect=0, stdin=None):
    r = subprocess.run([CTL] + list(args), input=stdin.encode() if stdin else None,
                       stdin=None if stdin else subprocess.DEVNULL, capture_output=True,
                       timeout=60, start_new_session=True,
                       env=wsg.clean_env({"XDG_CONFIG_HOME": home, "HOME": home}))
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == expect, (args, r.returncode, out, err)
    assert not wsg.SANITIZER_RE.search(err), err
    return out, err


def test_ctl_cert_verbs(gw, pki, boss):
    home = os.path.join(gw.dir, "ctl-home")
    os.makedirs(home, mode=0o700, exist_ok=True)
    ctl(home, "add", "env", "certs", "http://127.0.0.1:%d" % gw.mgmt_port)
    ctl(home, "login", "certs", "-u", BOSS[0], "--password-stdin", "--no-store-password",
        stdin=BOSS[1] + "\n")
    user = uniq("ivy")
    add_user(gw, user)
    pem = pki.issue(user)
    colons, fp = pki.fingerprint(pem)
    subject = pki.names(pem)[0]
    out, _ = ctl(home, "get", "certs", user, "-e", "certs")
    assert out == "No certificates found\n", out
    out, _ = ctl(home, "add", "cert", user, pem, "-e", "certs")
    assert "status: Added" in out and fp in out, out
    out, _ = ctl(home, "get", "certs", user, "-e", "certs")
    lines = out.splitlines()
    assert lines[0].split("\t") == ["FINGERPRINT", "NOT AFTER", "SUBJECT", "ISSUER"], lines
    assert lines[1].split("\t")[0] == fp and lines[1].split("\t")[2] == subject, lines
    out, _ = ctl(home, "get", "certs", user, "-e", "certs", "--format", "json")
    assert json.loads(out)["list"][0]["fingerprint"] == fp
    _, err = ctl(home, "add", "cert", user, pem, "-e", "certs", expect=1)
    assert "already mapped" in err, err
    _, err = ctl(home, "add", "cert", user, pki.path(user + ".key"), "-e", "certs", expect=1)
    assert "private key" in err, err
    out, _ = ctl(home, "delete", "cert", user, colons, "-e", "certs")
    assert "status: Deleted" in out, out
    _, err = ctl(home, "delete", "cert", user, fp, "-e", "certs", expect=1)
    assert "cannot be found" in err, err
    assert cert_rows(gw, user) == []
