"""Management API (issue 4) against the real gateway and MariaDB: every endpoint with WSO2 MI's
field names, status codes and bodies (reference wso2-mi-management-api.md section 1), the
authorization matrix, admin bootstrap, tokens (expiry, revocation across restarts and instances,
tampering, alg=none, wrong key), CORS, hostile input, and the issue's "done when": a user added
through the API passes the data plane at once with zeep, and fails at once when deleted.

The gateways here have their own databases in the session's MariaDB (the store starts with no
admin, so the first login bootstraps one) and a 60 s credential cache, so a data-plane change
seen at once proves the management API invalidated the cache.
"""

import base64
import concurrent.futures
import json
import secrets
import socket
import time
import urllib.parse

import pytest
import zeep.exceptions

import mgmt_util as mu
import wsg
import zeep_util

BOSS = ("boss", "boss-Pw-0001")  # the bootstrap admin (created_by NULL)
PW = "Secret-Pw-42"              # password of users the tests add
wsg.SENT_SECRETS.update([BOSS[1], PW])

NOT_FOUND_USER = "Requested resource not found. User: %s cannot be found."
NOT_FOUND_ROLE = "Requested resource not found. Role: %s cannot be found."


def basic(text):
    """An Authorization header value with standard Base64, as HTTP Basic uses."""
    return "Basic " + base64.b64encode(text.encode("utf-8")).decode("ascii")


def quote(name):
    """A path segment; dots too, or the client would resolve ".."."""
    return urllib.parse.quote(name, safe="").replace(".", "%2E")


def uniq(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


def empty(r, status):
    """MI's handler answers: the status, no body, no Content-Type."""
    assert r.status_code == status, (r.status_code, r.content)
    assert r.content == b"", r.content
    assert "Content-Type" not in r.headers, r.headers


def error(r, status, text=None, contains=None):
    """{"Error": text} with the status; returns the text."""
    assert r.status_code == status, (r.status_code, r.content)
    assert r.headers.get("Content-Type") == "application/json", r.headers
    body = r.json()
    assert list(body) == ["Error"] and isinstance(body["Error"], str), body
    if text is not None:
        assert body["Error"] == text, body
    if contains is not None:
        assert contains in body["Error"], body
    return body["Error"]


def ok(r, expect=None):
    assert r.status_code == 200, (r.status_code, r.content)
    assert r.headers.get("Content-Type") == "application/json", r.headers
    body = r.json()
    if expect is not None:
        assert body == expect, body
    return body


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def mg(mariadb, stub, configured):
    gw = mu.MgmtGateway("mgmt", mariadb, stub, "wssgate_mgmt")
    mu.setup_database(mariadb, gw)
    gw.cli_ok("role", "add", "echo-users")
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def mg_b(mg, mariadb, stub):
    """A second gateway on the same database and keys: a 3 s token_ttl, one allowed origin."""
    gw = mu.MgmtGateway("mgmt-b", mariadb, stub, "wssgate_mgmt", share_keys_with=mg,
                        mgmt={"token_ttl": "3", "cors_origins": '( "https://console.example" )'})
    mu.setup_database(mariadb, gw, fresh=False)
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def boss(mg):
    """The first login on an empty store creates the admin (bootstrap, loopback)."""
    return mg.login(*BOSS)


def add_user(mg, token, name, password=PW, admin=False, expect=200, **extra):
    body = {"userId": name, "password": password, "isAdmin": "true" if admin else "false",
            "domain": ""}
    body.update(extra)
    wsg.SENT_SECRETS.add(password)
    r = mg.request("POST", "/users", token=token, body=body)
    assert r.status_code == expect, (r.status_code, r.content)
    return r


class Actors:
    """boss (bootstrap admin), a1 and a2 (admins made by boss), a3 (admin made by a1),
    n1 (non-admin made by boss); `tok` maps each name to a fresh token."""

    def __init__(self, mg, boss_token):
        self.boss, self.a1, self.a2, self.a3, self.n1 = (
            BOSS[0], uniq("a1"), uniq("a2"), uniq("a3"), uniq("n1"))
        add_user(mg, boss_token, self.a1, admin=True)
        add_user(mg, boss_token, self.a2, admin=True)
        add_user(mg, boss_token, self.n1)
        self.tok = {self.boss: boss_token, self.a1: mg.login(self.a1, PW),
                    self.a2: mg.login(self.a2, PW), self.n1: mg.login(self.n1, PW)}
        add_user(mg, self.tok[self.a1], self.a3, admin=True)
        self.tok[self.a3] = mg.login(self.a3, PW)


@pytest.fixture(scope="module")
def actors(mg, boss):
    return Actors(mg, boss)


# ---------------------------------------------------------------- status, login, bootstrap

def test_status_needs_no_authentication(mg):
    r = mg.request("GET", "")
    assert ok(r) == {"wssgate": r.json()["wssgate"], "ManagementApi": "Active"}
    ok(mg.request("GET", "/"))


def test_bootstrap_creates_the_first_admin(mg, boss):
    header, claims, sig = mu.jwt_parts(boss)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["sub"] == BOSS[0] and claims["scope"] == "admin"
    assert claims["iss"] == "wssgate" and len(claims["jti"]) == 32
    assert claims["exp"] - claims["iat"] == 3600
    ok(mg.request("GET", "/users/" + BOSS[0], token=boss),
       {"userId": BOSS[0], "isAdmin": True, "roles": ["admin"], "createdBy": None})
    events = [l for l in mg.audit_lines() if "event=bootstrap_admin" in l]
    assert len(events) == 1 and "user=boss" in events[0], events
    # The store holds an admin now: another unknown name is just an unknown user.
    empty(mg.request("GET", "/login", auth=("second-" + secrets.token_hex(3), PW)), 401)
    # The bootstrap admin logs in like anyone else afterwards, digest-capable.
    mg.login(*BOSS)
    assert mg.db.sql("SELECT digest_secret IS NOT NULL, created_by IS NULL FROM users "
                     "WHERE username = 'boss'", mg.database).split() == ["1", "1"]


def test_login_failures_are_empty_401(mg, boss):
    r = mg.request("GET", "/login")
    empty(r, 401)
    assert r.headers.get("WWW_Authenticate") == 'Basic realm="wssgate"'
    empty(mg.request("GET", "/login", auth=(BOSS[0], "wrong-password")), 401)
    empty(mg.request("GET", "/login", auth=("nobody-here", "whatever-pw")), 401)
    for header in ("Basic", "Basic !!!!", basic("no-colon"), basic(":" + PW), basic("boss:"),
                   basic("boss:" + BOSS[1]).replace("Basic", "basic"), "Bearer " + boss,
                   basic("bo\0ss:" + BOSS[1]), basic("boss:" + BOSS[1])[:-2]):
        r = mg.request("GET", "/login", headers={"Authorization": header})
        empty(r, 401)
        assert "WWW_Authenticate" not in r.headers
    # Only GET logs in; other methods on /login are unknown resources.
    empty(mg.request("POST", "/login", auth=BOSS), 404)


def test_login_splits_at_the_first_colon(mg, boss):
    name = uniq("colon")
    add_user(mg, boss, name, password="pa:ss:word-1")
    assert mu.jwt_parts(mg.login(name, "pa:ss:word-1"))[1]["sub"] == name


def test_login_scope_default_for_non_admins(mg, actors):
    assert mu.jwt_parts(actors.tok[actors.n1])[1]["scope"] == "default"
    assert mu.jwt_parts(actors.tok[actors.a1])[1]["scope"] == "admin"


def test_logout(mg, boss):
    tok = mg.login(*BOSS)
    ok(mg.request("GET", "/users", token=tok))
    r = mg.request("GET", "/logout", token=tok)
    assert r.status_code == 200 and r.content == b"", (r.status_code, r.content)
    empty(mg.request("GET", "/users", token=tok), 401)
    empty(mg.request("GET", "/logout", token=tok), 401)
    # Only the presented token is revoked.
    ok(mg.request("GET", "/users", token=boss))
    assert any("event=mgmt_logout" in l and "user=boss" in l for l in mg.audit_lines())


# ---------------------------------------------------------------- users

def test_users_list_and_filters(mg, boss):
    tag = secrets.token_hex(3)
    names = ["lst%s-alpha" % tag, "lst%s-Alpine" % tag, "lst%s-beta" % tag,
             "lst%s_x" % tag, "lst%s%%y" % tag]
    for n in names:
        add_user(mg, boss, n)
    ok(mg.request("PUT", "/roles", token=boss,
                  body={"userId": names[2], "addedRoles": ["echo-users"], "removedRoles": []}))

    def listed(**params):
        body = ok(mg.request("GET", "/users", token=boss, params=params))
        assert set(body) == {"count", "list"} and body["count"] == len(body["list"]), body
        assert all(list(e) == ["userId"] for e in body["list"]), body
        return [e["userId"] for e in body["list"]]

    everyone = listed()
    assert set(names) <= set(everyone) and BOSS[0] in everyone
    assert everyone == sorted(everyone)
    assert listed(pattern="lst%s-*" % tag) == sorted(names[:3])
    assert listed(pattern="lst%s-al*" % tag) == [names[0]]          # case-sensitive glob
    assert listed(pattern="lst%s-?eta" % tag) == [names[2]]
    assert listed(pattern="lst%s_?" % tag) == [names[3]]             # '_' is literal
    assert listed(pattern="lst%s%%?" % tag) == [names[4]]            # '%' is literal
    assert listed(pattern="*%s-alp*" % tag) == [names[0]]
    assert listed(pattern="nothing-matches-this-*") == []
    assert listed(pattern="lst%s*" % tag, role="echo-users") == [names[2]]
    assert listed(role="no-such-role") == []
    assert listed(pattern="lst%s*" % tag, searchKey="ALP") == sorted(names[:2])
    assert listed(searchKey="  %s-BETA " % tag) == [names[2]]
    assert listed(pattern="", role="") == everyone
    error(mg.request("GET", "/users", token=boss, params={"pattern": "x" * 1025}), 400,
          contains="at most 1024 bytes")


def test_user_show(mg, boss):
    name = uniq("show")
    add_user(mg, boss, name, roles=["echo-users"])
    ok(mg.request("GET", "/users/" + name, token=boss),
       {"userId": name, "isAdmin": False, "roles": ["echo-users"], "createdBy": BOSS[0]})
    ok(mg.request("GET", "/users/" + name, token=boss, params={"domain": "PRIMARY"}))
    error(mg.request("GET", "/users/nobody-" + name, token=boss), 404,
          NOT_FOUND_USER % ("nobody-" + name))
    error(mg.request("GET", "/users/" + name, token=boss, params={"domain": "LDAP"}), 400,
          "Error processing the request. Could not find a user-store for the given domain LDAP")
    # Names compare exactly: no case folding, no trailing-space padding.
    error(mg.request("GET", "/users/" + name.upper(), token=boss), 404)
    error(mg.request("GET", "/users/" + name + "%20", token=boss), 404)


def test_user_show_percent_encoded_utf8(mg, boss):
    name = "jürgen-" + secrets.token_hex(3)
    add_user(mg, boss, name)
    r = mg.request("GET", "/users/" + name.replace("ü", "%C3%BC"), token=boss)
    assert ok(r)["userId"] == name
    # HTTP Basic carries the UTF-8 bytes of the name.
    assert mu.jwt_parts(mg.login(name, PW))[1]["sub"] == name


@pytest.mark.parametrize("is_admin,expect", [
    (True, True), (False, False), ("true", True), ("false", False), ("TRUE", True), (None, False),
])
def test_add_user_is_admin_forms(mg, boss, is_admin, expect):
    name = uniq("add")
    body = {"userId": name, "password": PW}
    if is_admin is not None:
        body["isAdmin"] = is_admin
    ok(mg.request("POST", "/users", token=boss, body=body), {"userId": name, "status": "Added"})
    assert ok(mg.request("GET", "/users/" + name, token=boss))["isAdmin"] is expect
    assert mg.db.sql("SELECT created_by FROM users WHERE username = '%s'" % name,
                     mg.database).strip() == BOSS[0]


def test_add_user_domain(mg, boss):
    for domain in ("", "PRIMARY", "primary"):
        name = uniq("dom")
        ok(mg.request("POST", "/users", token=boss,
                      body={"userId": name, "password": PW, "domain": domain}))
    error(mg.request("POST", "/users", token=boss,
                     body={"userId": uniq("dom"), "password": PW, "domain": "WSO2.COM"}), 400,
          "Error processing the requestCould not find a user-store for the given domain WSO2.COM")


def test_add_user_errors(mg, boss):
    name = uniq("dup")
    add_user(mg, boss, name)
    E = "Error processing the request"
    cases = [
        ({"userId": name, "password": PW}, E + "User: %s already exists." % name),
        ({"userId": "x"}, E + "Missing one or more of the fields, 'userId', 'password' in the "
                              "payload."),
        ({"password": PW}, E + "Missing one or more of the fields, 'userId', 'password' in the "
                               "payload."),
        ({"userId": 5, "password": PW}, E + "The field 'userId' must be a string"),
        ({"userId": "x", "password": ["a"]}, E + "The field 'password' must be a string"),
        ({"userId": uniq("t"), "password": PW, "isAdmin": "yes"},
         E + "The field 'isAdmin' must be true or false"),
        ({"userId": uniq("t"), "password": PW, "isAdmin": 1},
         E + "The field 'isAdmin' must be true or false"),
        ({"userId": uniq("t"), "password": PW, "digestCapable": "no"},
         E + "The field 'digestCapable' must be true or false"),
        ({"userId": uniq("t"), "password": PW, "domain": 3}, E + "The field 'domain' must be a string"),
        ({"userId": "", "password": PW}, E + "Invalid username: it must be 1 to 255 bytes long"),
        ({"userId": "a" * 256, "password": PW},
         E + "Invalid username: it must be 1 to 255 bytes long"),
        ({"userId": "tab\there", "password": PW}, E + "Invalid username: it contains a control "
                                                      "character"),
        ({"userId": "nl\nhere", "password": PW}, E + "Invalid username: it contains a control "
                                                     "character"),
        ({"userId": "c1\u0085x", "password": PW}, E + "Invalid username: it contains a control "
                                                      "character"),
        ({"userId": "co:lon", "password": PW}, E + "Invalid username: it contains ':'"),
        ({"userId": uniq("t"), "password": "short1"},
         E + "Invalid password: it must be at least 8 characters long"),
        ({"userId": uniq("t"), "password": "ünïcödé"},       # 7 characters, 11 bytes
         E + "Invalid password: it must be at least 8 characters long"),
        ({"userId": uniq("t"), "password": "long-enough\x01"},
         E + "Invalid password: it contains a control character"),
        ({"userId": uniq("t"), "password": "p" * 513},
         E + "Invalid password: it must be at most 512 bytes long"),
        ({"userId": uniq("t"), "password": "\U0001F600" * 128 + "p"},
         E + "Invalid password: it must be at most 512 bytes long"),
        ({"userId": uniq("t"), "password": PW, "roles": "echo-users"},
         E + "The field 'roles' must be an array of at most 64 role names"),
        ({"userId": uniq("t"), "password": PW, "roles": ["a,b"]},
         E + "Invalid role name in 'roles': it must not contain ','"),
    ]
    for body, text in cases:
        error(mg.request("POST", "/users", token=boss, body=body), 400, text)
    error(mg.request("POST", "/users", token=boss,
                     body={"userId": uniq("t"), "password": PW, "roles": ["no-such-role"]}), 404,
          NOT_FOUND_ROLE % "no-such-role")
    # 255 bytes (multi-byte characters counted as bytes) is still fine, and so is a
    # 512-byte password, digest-capable (its sealed copy is the longest the store takes).
    ok(mg.request("POST", "/users", token=boss, body={"userId": "é" * 127 + "x", "password": PW}))
    longest = uniq("longpw")
    ok(mg.request("POST", "/users", token=boss,
                  body={"userId": longest, "password": "\U0001F600" * 128}))
    mg.login(longest, "\U0001F600" * 128)
    # Nothing above created a user.
    for body, _ in cases[1:]:
        if isinstance(body.get("userId"), str) and body["userId"].startswith("t-"):
            error(mg.request("GET", "/users/" + body["userId"], token=boss), 404)


@pytest.mark.parametrize("raw,text", [
    (b"", "JSON payload is missing"),
    (b"{", None),
    (b"{\"userId\": \"a\",}", None),
    (b"[1, 2]", "The JSON payload must be an object"),
    (b"\"text\"", "The JSON payload must be an object"),
    (b"null", "The JSON payload must be an object"),
    (b"{\"userId\": \"a\", \"userId\": \"b\", \"password\": \"x\"}", None),
    (b"{\"userId\": \"a\\u0000b\", \"password\": \"Secret-Pw-42\"}", None),
    (b"\xff\xfe{}", None),
    # jansson's message quotes the bad bytes ("near '...'"): found by fuzz_mgmt_json.
    (b"{\"j\\u\xd8\xb9\"}", None),
    (b"[" * 5000 + b"]" * 5000, None),
], ids=["empty", "truncated", "trailing-comma", "array", "string", "null", "duplicate-key",
        "nul-escape", "bad-utf8", "bad-utf8-quoted", "deep-nesting"])
def test_bad_json_bodies(mg, boss, raw, text):
    for method, path in (("POST", "/users"), ("POST", "/roles"), ("PUT", "/roles")):
        r = mg.request(method, path, token=boss, raw=raw,
                       headers={"Content-Type": "application/json"})
        msg = error(r, 400, text)
        if text is None:
            assert msg.startswith("Malformed JSON payload: "), msg
    r = mg.request("PATCH", "/users/" + BOSS[0], token=boss, raw=raw)
    error(r, 400)


def test_error_texts_cut_inside_a_character(mg, boss):
    """An error text that quotes input is cut at 1023 bytes; a character cut in two becomes
    '?', so the answer is still {"Error": ...} (found with fuzz_mgmt_json's seeds)."""
    r = mg.request("POST", "/roles", token=boss, body={"role": "r", "domain": "\u20ac" * 400})
    msg = error(r, 400)
    assert msg.startswith("Error processing the request. Could not find a user-store for the "
                          "given domain \u20ac") and msg.endswith("?"), msg
    assert len(msg.encode("utf-8")) == 1023


def test_oversized_bodies(mg, boss):
    big = json.dumps({"userId": uniq("big"), "password": PW, "pad": "x" * 70000}).encode()
    error(mg.request("POST", "/users", token=boss, raw=big), 400,
          "The JSON payload is larger than 65536 bytes")
    # Beyond what the HTTP layer reads at all, it refuses before the body arrives.
    huge = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    r = mg.request("POST", "/users", token=boss, raw=huge)
    assert r.status_code == 413, r.status_code
    ok(mg.request("GET", "/users", token=boss))


def test_delete_user(mg, boss):
    name = uniq("del")
    add_user(mg, boss, name)
    ok(mg.request("DELETE", "/users/" + name, token=boss), {"userId": name, "status": "Deleted"})
    error(mg.request("DELETE", "/users/" + name, token=boss), 404, NOT_FOUND_USER % name)
    error(mg.request("GET", "/users/" + name, token=boss), 404)
    line = [l for l in mg.audit_lines() if "event=user_deleted" in l and name in l]
    assert len(line) == 1 and "user=boss" in line[0], line


def test_delete_self(mg, actors):
    for who in (actors.boss, actors.a1):
        error(mg.request("DELETE", "/users/" + who, token=actors.tok[who]), 400,
              "Error processing the request. Attempt to delete the logged in user. Operation not "
              "allowed. Please login from another user.")
        ok(mg.request("GET", "/users/" + who, token=actors.tok[who]))
    empty(mg.request("DELETE", "/users/" + actors.n1, token=actors.tok[actors.n1]), 403)


def test_delete_admins_only_by_their_creator(mg, actors):
    tok = actors.tok
    # a3 was created by a1: boss and a2 may not delete it, a1 may.
    for who in (actors.boss, actors.a2):
        error(mg.request("DELETE", "/users/" + actors.a3, token=tok[who]), 403,
              "Only the admin who created the admin user %s can delete it." % actors.a3)
    # The bootstrap admin has no creator: only the command line deletes it.
    error(mg.request("DELETE", "/users/" + actors.boss, token=tok[actors.a1]), 403,
          "The admin user %s was not created through the management API; only the wssgate "
          "command line can delete it." % actors.boss)
    # A CLI-made admin likewise.
    cli_admin = uniq("cliadm")
    mg.cli_ok("user", "add", cli_admin, "--admin", stdin=PW + "\n")
    error(mg.request("DELETE", "/users/" + cli_admin, token=tok[actors.boss]), 403,
          contains="only the wssgate command line can delete it")
    # A non-admin can be deleted by any admin, not only its creator.
    victim = uniq("victim")
    add_user(mg, tok[actors.a2], victim)
    ok(mg.request("DELETE", "/users/" + victim, token=tok[actors.a3]))
    assert any("event=mgmt_denied" in l and "user=" + actors.a2 in l for l in mg.audit_lines())
    # The creator may; afterwards a3's token is useless.
    a3_tok = tok[actors.a3]
    ok(mg.request("DELETE", "/users/" + actors.a3, token=tok[actors.a1]),
       {"userId": actors.a3, "status": "Deleted"})
    empty(mg.request("GET", "/users", token=a3_tok), 401)


def test_recreated_user_does_not_inherit_tokens(mg, boss):
    name = uniq("again")
    add_user(mg, boss, name)
    old = mg.login(name, PW)
    ok(mg.request("DELETE", "/users/" + name, token=boss))
    add_user(mg, boss, name)
    empty(mg.request("GET", "/logout", token=old), 401)
    new = mg.login(name, PW)
    r = mg.request("GET", "/logout", token=new)
    assert r.status_code == 200


# ---------------------------------------------------------------- password changes

def patch(mg, token, user, new, confirm=None, old=None, **extra):
    body = {"newPassword": new, "confirmPassword": new if confirm is None else confirm}
    if old is not None:
        body["oldPassword"] = old
    body.update(extra)
    wsg.SENT_SECRETS.update([new, old or ""])
    return mg.request("PATCH", "/users/" + user, token=token, body=body)


def test_change_own_password(mg, boss):
    name = uniq("pw")
    add_user(mg, boss, name)
    tok = mg.login(name, PW)
    R = "Please try again. "
    error(patch(mg, tok, name, "New-Pw-0001"), 400,
          R + "The current password (oldPassword) is missing in the payload.")
    error(patch(mg, tok, name, "New-Pw-0001", old="not-the-password"), 400,
          R + "Failed to update user password. Please check the current password entered and "
              "retry.")
    error(patch(mg, tok, name, "New-Pw-0001", confirm="New-Pw-0002", old=PW), 400,
          R + "New password and re-typed password does not match.")
    error(mg.request("PATCH", "/users/" + name, token=tok, body={"newPassword": "New-Pw-0001"}),
          400, R + "New password or re-typed password is missing in the payload.")
    error(mg.request("PATCH", "/users/" + name, token=tok,
                     body={"newPassword": 1, "confirmPassword": 1}), 400,
          R + "The fields 'newPassword' and 'confirmPassword' must be strings")
    error(patch(mg, tok, name, "short", old=PW), 400,
          R + "Invalid password: it must be at least 8 characters long")
    ok(patch(mg, tok, name, "New-Pw-0001", old=PW),
       {"userId": name, "status": "User password updated successfully."})
    empty(mg.request("GET", "/login", auth=(name, PW)), 401)
    mg.login(name, "New-Pw-0001")
    assert any("event=password_changed" in l and "user=" + name in l for l in mg.audit_lines())


def test_password_change_rules(mg, actors):
    tok = actors.tok
    R = "Please try again. "
    target = uniq("pwt")
    add_user(mg, tok[actors.boss], target)
    # A non-admin may not touch anybody else, existing or not, and learns nothing.
    for other in (target, actors.a1, "no-such-user-here"):
        error(patch(mg, tok[actors.n1], other, "New-Pw-0002"), 403,
              R + "Only your own credentials can be updated by a user.")
    # An admin resets a non-admin without the old password, whoever created it.
    ok(patch(mg, tok[actors.a2], target, "New-Pw-0003"))
    mg.login(target, "New-Pw-0003")
    # ... but not another admin, not even one it created.
    for who, other in ((actors.a1, actors.a2), (actors.boss, actors.a1)):
        error(patch(mg, tok[who], other, "New-Pw-0004"), 403,
              R + "An admin can only update the credentials of non-admin users and its own.")
    error(patch(mg, tok[actors.a1], "no-such-" + target, "New-Pw-0005"), 404,
          NOT_FOUND_USER % ("no-such-" + target))
    # An admin's own password needs the old one, as anyone's.
    error(patch(mg, tok[actors.a2], actors.a2, "New-Pw-0006"), 400)


# ---------------------------------------------------------------- roles

def test_roles_resource(mg, boss):
    role = uniq("role")
    ok(mg.request("POST", "/roles", token=boss, body={"role": role, "domain": ""}),
       {"role": role, "status": "Added"})
    body = ok(mg.request("GET", "/roles", token=boss))
    assert body["count"] == len(body["list"]) and {"role": role} in body["list"]
    assert {"role": "admin"} in body["list"] and {"role": "echo-users"} in body["list"]
    assert all(list(e) == ["role"] for e in body["list"])
    found = ok(mg.request("GET", "/roles", token=boss, params={"searchKey": role.upper()}))
    assert found == {"count": 1, "list": [{"role": role}]}
    assert ok(mg.request("GET", "/roles", token=boss, params={"searchKey": "  "}))["count"] == \
        body["count"]
    ok(mg.request("GET", "/roles/" + role, token=boss), {"role": role, "users": []})
    u1, u2 = uniq("r1"), uniq("r2")
    add_user(mg, boss, u1)
    add_user(mg, boss, u2, roles=[role])
    ok(mg.request("PUT", "/roles", token=boss,
                  body={"userId": u1, "domain": "", "addedRoles": [role, "echo-users"],
                        "removedRoles": []}),
       {"userId": u1, "status": "Added/removed the roles"})
    ok(mg.request("GET", "/roles/" + role, token=boss), {"role": role, "users": sorted([u1, u2])})
    ok(mg.request("GET", "/users/" + u1, token=boss),
       {"userId": u1, "isAdmin": False, "roles": sorted(["echo-users", role]),
        "createdBy": BOSS[0]})
    # Adding twice and removing what is not held are no-ops.
    ok(mg.request("PUT", "/roles", token=boss, body={"userId": u1, "addedRoles": [role]}))
    ok(mg.request("PUT", "/roles", token=boss,
                  body={"userId": u2, "removedRoles": ["echo-users"]}))
    ok(mg.request("PUT", "/roles", token=boss,
                  body={"userId": u1, "addedRoles": [], "removedRoles": ["echo-users"]}))
    ok(mg.request("GET", "/users/" + u1, token=boss), {"userId": u1, "isAdmin": False,
                                                      "roles": [role], "createdBy": BOSS[0]})
    ok(mg.request("DELETE", "/roles/" + role, token=boss), {"role": role, "status": "Deleted"})
    error(mg.request("GET", "/roles/" + role, token=boss), 404, NOT_FOUND_ROLE % role)
    error(mg.request("DELETE", "/roles/" + role, token=boss), 404, NOT_FOUND_ROLE % role)
    ok(mg.request("GET", "/users/" + u1, token=boss), {"userId": u1, "isAdmin": False, "roles": [],
                                                      "createdBy": BOSS[0]})
    events = " ".join(l for l in mg.audit_lines() if role in l)
    for event in ("role_added", "roles_changed", "role_deleted"):
        assert "event=" + event in events, event


def test_roles_errors(mg, boss):
    E = "Error processing the request. "
    role = uniq("rerr")
    ok(mg.request("POST", "/roles", token=boss, body={"role": role}))
    error(mg.request("POST", "/roles", token=boss, body={"role": role}), 400,
          E + "The role : %s already exists" % role)
    error(mg.request("POST", "/roles", token=boss, body={"domain": ""}), 400,
          E + "Missing role name in the payload")
    error(mg.request("POST", "/roles", token=boss, body={"role": ["x"]}), 400,
          E + "The field 'role' must be a string")
    error(mg.request("POST", "/roles", token=boss, body={"role": "a,b"}), 400,
          E + "Invalid role name: it must not contain ','")
    error(mg.request("POST", "/roles", token=boss, body={"role": "x\x7fy"}), 400,
          E + "Invalid role name: it contains a control character")
    error(mg.request("POST", "/roles", token=boss, body={"role": "r", "domain": "SEC"}), 400,
          E + "Could not find a user-store for the given domain SEC")
    error(mg.request("DELETE", "/roles/admin", token=boss), 400, E + "Cannot remove the admin role")
    user = uniq("ru")
    add_user(mg, boss, user)
    fields = E + ("Missing one or more of the fields, 'userId', 'addedRoles', 'removedRoles' in "
                  "the payload.")
    error(mg.request("PUT", "/roles", token=boss, body={"userId": user}), 400, fields)
    error(mg.request("PUT", "/roles", token=boss, body={"addedRoles": [role]}), 400, fields)
    error(mg.request("PUT", "/roles", token=boss, body={"userId": user, "addedRoles": role}), 400,
          E + "The field 'addedRoles' must be an array of at most 64 role names")
    error(mg.request("PUT", "/roles", token=boss, body={"userId": user, "removedRoles": [1]}), 400,
          E + "The field 'removedRoles' must hold role names (strings)")
    error(mg.request("PUT", "/roles", token=boss,
                     body={"userId": user, "addedRoles": [role], "removedRoles": [role]}), 400,
          E + "The role %s is in both 'addedRoles' and 'removedRoles'" % role)
    error(mg.request("PUT", "/roles", token=boss, body={"userId": "nobody-" + user,
                                                        "addedRoles": [role]}), 404,
          NOT_FOUND_USER % ("nobody-" + user))
    error(mg.request("PUT", "/roles", token=boss, body={"userId": user,
                                                        "addedRoles": [role, "no-such-role"]}),
          404, NOT_FOUND_ROLE % "no-such-role")
    # One transaction: the role before the missing one was not granted either.
    ok(mg.request("GET", "/users/" + user, token=boss), {"userId": user, "isAdmin": False,
                                                        "roles": [], "createdBy": BOSS[0]})


def test_admin_role_removal_rules(mg, actors):
    tok = actors.tok
    adm = uniq("demote")
    add_user(mg, tok[actors.a1], adm, admin=True)
    adm_tok = mg.login(adm, PW)
    body = {"userId": adm, "addedRoles": [], "removedRoles": ["admin"]}
    # Only its creator (a1) may take the admin role away.
    error(mg.request("PUT", "/roles", token=tok[actors.a2], body=body), 403,
          "Only the admin who created the admin user %s can remove its admin role." % adm)
    error(mg.request("PUT", "/roles", token=tok[actors.a1],
                     body={"userId": actors.boss, "removedRoles": ["admin"]}), 403)
    ok(mg.request("PUT", "/roles", token=tok[actors.a1], body=body))
    ok(mg.request("GET", "/users/" + adm, token=tok[actors.a1]),
       {"userId": adm, "isAdmin": False, "roles": [], "createdBy": actors.a1})
    # The demoted user's token (scope admin when issued) no longer opens admin resources.
    assert mu.jwt_parts(adm_tok)[1]["scope"] == "admin"
    empty(mg.request("GET", "/users", token=adm_tok), 403)
    # Promote again; an admin may give up its own admin role while others remain.
    ok(mg.request("PUT", "/roles", token=tok[actors.a2],
                  body={"userId": adm, "addedRoles": ["admin"]}))
    adm_tok = mg.login(adm, PW)
    ok(mg.request("PUT", "/roles", token=adm_tok, body=body))
    empty(mg.request("GET", "/roles", token=adm_tok), 403)


# ---------------------------------------------------------------- authorization matrix

ADMIN_ENDPOINTS = [
    ("GET", "/users", None),
    ("POST", "/users", {"userId": "matrix-never", "password": PW}),
    ("GET", "/users/%(n1)s", None),
    ("DELETE", "/users/%(a2)s", None),
    ("GET", "/roles", None),
    ("POST", "/roles", {"role": "matrix-never"}),
    ("PUT", "/roles", {"userId": "%(n1)s", "addedRoles": ["admin"]}),
    ("GET", "/roles/admin", None),
    ("DELETE", "/roles/echo-users", None),
    ("PUT", "/users", None),          # no such resource: still 403 for non-admins first
    ("GET", "/users/%(n1)s/extra", None),
]


def fill(value, actors):
    names = {"n1": actors.n1, "a1": actors.a1, "a2": actors.a2}
    if isinstance(value, str):
        return value % names
    if isinstance(value, dict):
        return {k: fill(v, actors) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, actors) for v in value]
    return value


@pytest.mark.parametrize("method,path,body", ADMIN_ENDPOINTS,
                         ids=["%s %s" % (m, p) for m, p, _ in ADMIN_ENDPOINTS])
def test_non_admin_gets_empty_403(mg, actors, method, path, body):
    r = mg.request(method, fill(path, actors), token=actors.tok[actors.n1], body=fill(body, actors))
    empty(r, 403)
    # The non-admin's own record shows nothing changed.
    error(mg.request("GET", "/users/matrix-never", token=actors.tok[actors.boss]), 404)
    assert ok(mg.request("GET", "/users/" + actors.a2, token=actors.tok[actors.boss]))["isAdmin"]
    assert not ok(mg.request("GET", "/users/" + actors.n1,
                             token=actors.tok[actors.boss]))["isAdmin"]


@pytest.mark.parametrize("method,path", [
    ("GET", "/users"), ("POST", "/users"), ("GET", "/users/boss"), ("DELETE", "/users/boss"),
    ("PATCH", "/users/boss"), ("GET", "/roles"), ("POST", "/roles"), ("PUT", "/roles"),
    ("GET", "/roles/admin"), ("DELETE", "/roles/admin"), ("GET", "/logout"), ("GET", "/nothing"),
    ("PUT", "/users"), ("POST", ""), ("HEAD", "/users"), ("TRACE", "/users"),
])
def test_no_token_gets_empty_401(mg, method, path):
    empty(mg.request(method, path), 401)
    empty(mg.request(method, path, headers={"Authorization": "Bearer"}), 401)
    empty(mg.request(method, path, headers={"Authorization": basic("boss:" + BOSS[1])}), 401)


def test_unknown_resources_are_empty_404(mg, actors):
    for tok in (actors.tok[actors.boss], actors.tok[actors.n1]):
        for method, path in (("GET", "/nothing"), ("POST", ""), ("DELETE", "/logout"),
                             ("GET", "/logout/x"), ("HEAD", "/logout")):
            empty(mg.request(method, path, token=tok), 404)
    empty(mg.request("PUT", "/users", token=actors.tok[actors.boss]), 404)
    empty(mg.request("PATCH", "/users", token=actors.tok[actors.boss]), 404)
    empty(mg.request("GET", "/roles/a/b", token=actors.tok[actors.boss]), 404)
    empty(mg.request("GET", "/a/b/c/d/e", token=actors.tok[actors.boss]), 404)
    r = mg.http.get("http://127.0.0.1:%d/elsewhere" % mg.mgmt_port, timeout=30)
    empty(r, 404)
    r = mg.http.get("http://127.0.0.1:%d/managementx" % mg.mgmt_port, timeout=30)
    empty(r, 404)


def test_non_admin_allowed_calls(mg, actors):
    tok = actors.tok[actors.n1]
    ok(mg.request("GET", ""))
    mg.login(actors.n1, PW)
    error(patch(mg, tok, actors.n1, "Wrong-Old-1", old="wrong-old"), 400)
    r = mg.request("GET", "/logout", token=mg.login(actors.n1, PW))
    assert r.status_code == 200


def test_encoded_nul_in_uri(mg, boss):
    for path in ("/users/bo%00ss", "/users?pattern=a%00", "/users/%C3", "/users?role=%C3%28",
                 "/roles/%ED%A0%80"):
        error(mg.request("GET", path, token=boss), 400,
              "The request URI holds an encoded NUL byte or invalid UTF-8")
    empty(mg.request("GET", "/users/bo%00ss"), 401)


# ---------------------------------------------------------------- tokens

def claims_like(token, **changes):
    claims = mu.jwt_parts(token)[1]
    claims.update(changes)
    return claims


def test_forged_and_tampered_tokens(mg, actors):
    key = mu.read_key(mg)
    n1_tok = actors.tok[actors.n1]
    hdr = {"alg": "HS256", "typ": "JWT"}
    now = int(time.time())
    good = mu.make_jwt(hdr, claims_like(n1_tok, jti=secrets.token_hex(16)), key)
    ok(mg.request("GET", "/users", token=mu.make_jwt(
        hdr, claims_like(actors.tok[actors.boss], jti=secrets.token_hex(16)), key)))
    r = mg.request("GET", "/logout", token=good)      # a hand-made token with the key works
    assert r.status_code == 200
    boss_claims = mu.jwt_parts(actors.tok[actors.boss])[1]
    h, p, s = n1_tok.split(".")
    attacks = {
        "payload of another user": h + "." + mu.b64url(json.dumps(boss_claims)) + "." + s,
        "scope raised": h + "." + mu.b64url(json.dumps(claims_like(n1_tok, scope="admin"))) +
        "." + s,
        "signature flipped": h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:],
        "signature dropped": h + "." + p + ".",
        "two parts": h + "." + p,
        "alg none": mu.make_jwt({"alg": "none", "typ": "JWT"}, claims_like(n1_tok), sig=""),
        "alg none boss": mu.make_jwt({"alg": "none"}, boss_claims, sig=""),
        "wrong key": mu.make_jwt(hdr, boss_claims, b"k" * 32),
        "HS512": mu.make_jwt({"alg": "HS512", "typ": "JWT"}, boss_claims, key, alg="HS512"),
        "HS384": mu.make_jwt({"alg": "HS384", "typ": "JWT"}, boss_claims, key, alg="HS384"),
        "expired": mu.make_jwt(hdr, claims_like(n1_tok, iat=now - 100, exp=now - 1), key),
        "no jti": mu.make_jwt(hdr, {k: v for k, v in boss_claims.items() if k != "jti"}, key),
        "no exp": mu.make_jwt(hdr, {k: v for k, v in boss_claims.items() if k != "exp"}, key),
        "uid of another account": mu.make_jwt(hdr, claims_like(n1_tok, uid=1), key),
        "unknown user": mu.make_jwt(hdr, claims_like(n1_tok, sub="ghost-user"), key),
        "too long lifetime": mu.make_jwt(hdr, claims_like(n1_tok, exp=now + 90000), key),
        "garbage": "not-a-token",
        "huge": "a" * 5000 + "." + "b" * 10 + "." + "c" * 43,
    }
    for name, token in attacks.items():
        r = mg.request("GET", "/roles", token=token)
        assert r.status_code == 401 and r.content == b"", (name, r.status_code, r.content)
    empty(mg.request("GET", "/roles", headers={"Authorization": "bearer " + n1_tok}), 401)
    failures = [l for l in mg.audit_lines() if "event=mgmt_auth_failure" in l]
    assert any("signature" in l for l in failures)
    assert any("expired" in l for l in failures)
    assert not any(s in l for l in failures), "a signature reached the audit log"


def test_token_expiry(mg, mg_b, boss):
    """mg_b issues 3 s tokens; after exp they are refused by both gateways."""
    tok = mg_b.login(*BOSS)
    claims = mu.jwt_parts(tok)[1]
    assert claims["exp"] - claims["iat"] == 3
    while time.time() < claims["exp"] + 1:
        time.sleep(0.5)
    empty(mg_b.request("GET", "/users", token=tok), 401)
    empty(mg.request("GET", "/users", token=tok), 401)
    assert any("event=mgmt_auth_failure" in l and "expired" in l for l in mg_b.audit_lines())


def test_tokens_and_logout_across_instances(mg, mg_b, boss):
    tok = mg.login(*BOSS)
    ok(mg_b.request("GET", "/users", token=tok))      # same key, same store
    r = mg_b.request("GET", "/logout", token=tok)
    assert r.status_code == 200
    empty(mg.request("GET", "/users", token=tok), 401)
    # A user added through one gateway logs in on the other at once.
    name = uniq("xi")
    add_user(mg_b, boss, name)
    mg.login(name, PW)


def test_revocation_survives_restart(mg, boss):
    kept = mg.login(*BOSS)
    gone = mg.login(*BOSS)
    assert mg.request("GET", "/logout", token=gone).status_code == 200
    mg.restart()
    empty(mg.request("GET", "/users", token=gone), 401)
    ok(mg.request("GET", "/users", token=kept))
    ok(mg.request("GET", "/users", token=boss))
    rows = mg.db.sql("SELECT COUNT(*) FROM revoked_tokens WHERE jti = '%s'"
                     % mu.jwt_parts(gone)[1]["jti"], mg.database)
    assert rows.strip() == "1"


# ---------------------------------------------------------------- CORS

def test_cors_preflight_before_authentication(mg, mg_b):
    for path in ("/users", "/login", "/roles/x", ""):
        r = mg_b.request("OPTIONS", path, headers={
            "Origin": "https://console.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert r.status_code == 200 and r.content == b"", (path, r.status_code, r.content)
        assert r.headers["Access-Control-Allow-Origin"] == "https://console.example"
        assert r.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, DELETE,OPTIONS, PATCH"
        assert r.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    # The headers are on ordinary answers too, failures included.
    for r in (mg_b.request("GET", "/users", headers={"Origin": "https://console.example"}),
              mg_b.request("GET", "", headers={"Origin": "https://console.example"})):
        assert r.headers["Access-Control-Allow-Origin"] == "https://console.example"
    # Without cors_origins (the default) there is no CORS at all.
    r = mg.request("OPTIONS", "/users", headers={"Origin": "http://dashboard.example"})
    assert not [h for h in r.headers if h.lower().startswith("access-control-")], r.headers


def test_cors_configured_origins(mg_b):
    r = mg_b.request("OPTIONS", "/users", headers={"Origin": "https://console.example"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://console.example"
    assert r.headers["Vary"] == "Origin"
    r = mg_b.request("OPTIONS", "/users", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    r = mg_b.request("GET", "/users", headers={"Origin": "https://evil.example"})
    empty(r, 401)
    assert "Access-Control-Allow-Origin" not in r.headers


# ---------------------------------------------------------------- data plane ("done when")

def echo(mg, user, password, digest):
    c, _ = zeep_util.client(user, password, use_digest=digest)
    svc = zeep_util.service(c, "soap11", mg.url("/services/Echo"))
    m = wsg.marker()
    return svc.Echo(message=m) == m


def refused(mg, user, password, digest):
    try:
        echo(mg, user, password, digest)
    except zeep.exceptions.Fault as f:
        assert "FailedAuthentication" in str(f.code), f.code
        return True
    return False


def test_done_when_added_user_passes_at_once_and_deleted_fails_at_once(mg, boss):
    """The apictl flow: POST /users then PUT /roles; the 60 s cache must not hide either."""
    name = uniq("zeep")
    # Unknown now (and remembered as unknown by the data plane's cache).
    assert refused(mg, name, PW, digest=True)
    ok(mg.request("POST", "/users", token=boss,
                  body={"userId": name, "password": PW, "isAdmin": "false", "domain": ""}),
       {"userId": name, "status": "Added"})
    # Authenticated but without the route's role.
    assert refused(mg, name, PW, digest=True)
    ok(mg.request("PUT", "/roles", token=boss, body={"userId": name, "domain": "",
                                                     "addedRoles": ["echo-users"],
                                                     "removedRoles": []}))
    assert echo(mg, name, PW, digest=True)
    assert echo(mg, name, PW, digest=False)
    ok(mg.request("DELETE", "/users/" + name, token=boss), {"userId": name, "status": "Deleted"})
    assert refused(mg, name, PW, digest=True)
    assert refused(mg, name, PW, digest=False)


def test_data_plane_sees_role_and_password_changes_at_once(mg, boss):
    name = uniq("dp")
    assert refused(mg, name, PW, digest=False)     # now cached as an unknown name
    add_user(mg, boss, name, roles=["echo-users"])
    assert echo(mg, name, PW, digest=True)
    ok(mg.request("PUT", "/roles", token=boss, body={"userId": name,
                                                     "removedRoles": ["echo-users"]}))
    assert refused(mg, name, PW, digest=True)
    ok(mg.request("PUT", "/roles", token=boss, body={"userId": name, "addedRoles": ["echo-users"]}))
    assert echo(mg, name, PW, digest=False)
    ok(patch(mg, boss, name, "Changed-Pw-77"))
    assert refused(mg, name, PW, digest=False)
    assert echo(mg, name, "Changed-Pw-77", digest=True)   # still digest-capable


def test_digest_capable_extension(mg, boss):
    name = uniq("textonly")
    add_user(mg, boss, name, roles=["echo-users"], digestCapable=False)
    assert echo(mg, name, PW, digest=False)
    assert refused(mg, name, PW, digest=True)
    assert mg.db.sql("SELECT digest_secret IS NULL FROM users WHERE username = '%s'" % name,
                     mg.database).strip() == "1"
    # A password change keeps the user text-only unless asked otherwise.
    ok(patch(mg, boss, name, "Changed-Pw-88"))
    assert refused(mg, name, "Changed-Pw-88", digest=True)
    ok(patch(mg, boss, name, "Changed-Pw-99", digestCapable=True))
    assert echo(mg, name, "Changed-Pw-99", digest=True)


# ---------------------------------------------------------------- robustness

def test_hostile_inputs_never_500(mg, boss):
    """Odd but well-formed JSON of every type into every field of every writing endpoint."""
    values = [None, True, 0, -1, 1.5, "", " ", "x" * 300, [], {}, ["a"], {"a": 1},
              "\u202e", "😀" * 70, "a/b", "..", "%2e%2e"]
    fields = {"POST /users": ["userId", "password", "isAdmin", "domain", "roles", "digestCapable"],
              "POST /roles": ["role", "domain"],
              "PUT /roles": ["userId", "addedRoles", "removedRoles", "domain"],
              "PATCH /users/boss": ["newPassword", "confirmPassword", "oldPassword"]}
    base = {"POST /users": {"userId": "fz", "password": PW},
            "POST /roles": {"role": "fz"},
            "PUT /roles": {"userId": "fz", "addedRoles": ["fz"]},
            "PATCH /users/boss": {"newPassword": "x", "confirmPassword": "y"}}
    seen = set()
    for ep, names in fields.items():
        method, path = ep.split(" ")
        for field in names:
            for v in values:
                body = dict(base[ep])
                body[field] = v
                r = mg.request(method, path, token=boss, body=body)
                assert r.status_code in (200, 400, 403, 404), (ep, field, v, r.status_code,
                                                               r.content)
                if r.status_code != 200:
                    error(r, r.status_code)
                seen.add(r.status_code)
                # Clean up what a valid combination created.
                if r.status_code == 200 and method == "POST" and path == "/users":
                    ok(mg.request("DELETE", "/users/" + quote(body["userId"]), token=boss))
                if r.status_code == 200 and method == "POST" and path == "/roles":
                    ok(mg.request("DELETE", "/roles/" + quote(body["role"]), token=boss))
    assert 400 in seen
    ok(mg.request("GET", "/users", token=boss))


def test_odd_paths_and_queries(mg, boss):
    for path in ("/users?pattern", "/users?pattern=%", "/users?=x", "/users?&&", "/users?pattern=%zz",
                 "/users?role=%C3", "//users", "/users//", "/roles/%2F", "/users/..%2F",
                 "/users/%25"):
        r = mg.http.get(mg.murl(path), headers={"Authorization": "Bearer " + boss}, timeout=30)
        assert r.status_code in (200, 400, 404), (path, r.status_code, r.content)


def test_concurrent_changes_stay_consistent(mg, boss):
    """Parallel adds of one name: exactly one wins, the rest get MI's duplicate error."""
    name = uniq("race")

    def add(_):
        return mg.request("POST", "/users", token=boss, body={"userId": name, "password": PW})
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(add, range(8)))
    assert sorted(r.status_code for r in results) == [200] + [400] * 7
    for r in results:
        if r.status_code == 400:
            error(r, 400, "Error processing the requestUser: %s already exists." % name)


def test_audit_log_names_the_actor_for_every_change(mg, actors):
    lines = mg.audit_lines()
    for event in ("bootstrap_admin", "user_added", "user_deleted", "password_changed",
                  "roles_changed", "role_added", "role_deleted", "mgmt_login", "mgmt_denied"):
        found = [l for l in lines if "event=" + event in l]
        assert found, event
        assert all("route=management" in l and " user=-" not in l for l in found), found[:3]
    text = "\n".join(lines)
    for secret in (PW, BOSS[1], "New-Pw-0001", "Changed-Pw-77"):
        assert secret not in text


def test_reconnects_after_the_database_drops_the_connection(mg, boss):
    ok(mg.request("GET", "/users", token=boss))
    ids = mg.db.sql("SELECT id FROM information_schema.PROCESSLIST WHERE user = 'wssgate' "
                    "AND db = '%s'" % mg.database).split()
    assert ids, "the gateway holds no database connection"
    mg.db.sql("".join("KILL CONNECTION %s;" % i for i in ids))
    ok(mg.request("GET", "/users", token=boss))
    name = uniq("after-kill")
    add_user(mg, boss, name)
    ok(mg.request("DELETE", "/users/" + name, token=boss))


def test_database_unreachable_is_a_json_503(mariadb, stub, configured, mg):
    gw = mu.MgmtGateway("mgmt-nodb", mariadb, stub, "wssgate_mgmt", share_keys_with=mg,
                        db_socket="/nonexistent/mysql.sock")
    mu.copy_db_pass(gw)
    gw.write_config()
    gw.start()
    try:
        ok(gw.request("GET", ""))
        text = ("The user store is unavailable: the database cannot be reached. "
                "Please try again later")
        error(gw.request("GET", "/login", auth=BOSS), 503, text)
        boss = mg.login(*BOSS)
        error(gw.request("GET", "/users", token=boss), 503, text)
        empty(gw.request("GET", "/users", token="forged.token.here"), 401)
        problems = mu.stop_checked(gw)
        assert problems == [], problems
    finally:
        gw.stop()


# ---------------------------------------------------------------- bootstrap

def boot_reset(db, database):
    db.sql("DELETE FROM user_roles; DELETE FROM users; DELETE FROM roles; "
           "DELETE FROM revoked_tokens; DELETE FROM bootstrap;", database)


@pytest.fixture(scope="module")
def boot(mariadb, stub, configured):
    """Two gateways on one empty store (shared keys), for the bootstrap race."""
    a = mu.MgmtGateway("boot-a", mariadb, stub, "wssgate_boot")
    mu.setup_database(mariadb, a)
    b = mu.MgmtGateway("boot-b", mariadb, stub, "wssgate_boot", share_keys_with=a)
    mu.setup_database(mariadb, b, fresh=False)
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


@pytest.mark.parametrize("round_", range(3))
def test_bootstrap_race_makes_exactly_one_admin(mariadb, boot, round_):
    a, b = boot
    boot_reset(mariadb, "wssgate_boot")
    names = ["racer%d-%s" % (i, secrets.token_hex(2)) for i in range(12)]
    pw = "Racer-Pw-1234"
    wsg.SENT_SECRETS.add(pw)

    def attempt(i):
        gw = (a, b)[i % 2]
        return gw.http.get(gw.murl("/login"), auth=(names[i], pw), timeout=120)
    with concurrent.futures.ThreadPoolExecutor(len(names)) as ex:
        results = list(ex.map(attempt, range(len(names))))
    codes = [r.status_code for r in results]
    assert codes.count(200) == 1 and codes.count(401) == len(names) - 1, codes
    winner = names[codes.index(200)]
    admins = mariadb.sql("SELECT u.username FROM users u JOIN user_roles ur ON ur.user_id = u.id "
                         "JOIN roles r ON r.id = ur.role_id WHERE r.name = 'admin'",
                         "wssgate_boot").split()
    assert admins == [winner]
    assert mariadb.sql("SELECT COUNT(*) FROM users", "wssgate_boot").strip() == "1"
    lines = [l for gw in (a, b) for l in gw.audit_lines()
             if "event=bootstrap_admin" in l and winner in l]
    assert len(lines) == 1, lines
    # The losers' names are unknown users now.
    loser = names[codes.index(401)]
    empty(a.request("GET", "/login", auth=(loser, pw)), 401)


def test_bootstrap_validates_input(mariadb, boot):
    a, _ = boot
    boot_reset(mariadb, "wssgate_boot")
    error(a.request("GET", "/login", auth=("shorty", "short")), 400,
          "Invalid password: it must be at least 8 characters long")
    error(a.request("GET", "/login", headers={
        "Authorization": basic("bad\tname:Long-enough-1")}), 400,
        "Invalid username: it contains a control character")
    assert mariadb.sql("SELECT COUNT(*) FROM users", "wssgate_boot").strip() == "0"
    # A store with users but no admin: existing users log in as themselves, not promoted.
    a.cli_ok("user", "add", "plain", stdin="Plain-Pw-123\n")
    wsg.SENT_SECRETS.add("Plain-Pw-123")
    tok = a.login("plain", "Plain-Pw-123")
    assert mu.jwt_parts(tok)[1]["scope"] == "default"
    empty(a.request("GET", "/users", token=tok), 403)
    empty(a.request("GET", "/login", auth=("plain", "wrong-password")), 401)


def test_last_admin_cannot_lose_admin_role(mariadb, boot):
    a, _ = boot
    boot_reset(mariadb, "wssgate_boot")
    tok = a.login("only-admin", "Only-Admin-Pw-1")
    wsg.SENT_SECRETS.add("Only-Admin-Pw-1")
    error(a.request("PUT", "/roles", token=tok,
                    body={"userId": "only-admin", "removedRoles": ["admin"]}), 403,
          "The admin role cannot be removed from the last admin user.")
    error(a.request("DELETE", "/users/only-admin", token=tok), 400,
          contains="Attempt to delete the logged in user")
    ok(a.request("GET", "/users/only-admin", token=tok),
       {"userId": "only-admin", "isAdmin": True, "roles": ["admin"], "createdBy": None})


def test_role_deletion_reaches_the_data_plane_at_once(mariadb, boot):
    a, _ = boot
    boot_reset(mariadb, "wssgate_boot")
    tok = a.login("role-admin", "Role-Admin-Pw-1")
    wsg.SENT_SECRETS.add("Role-Admin-Pw-1")
    ok(a.request("POST", "/roles", token=tok, body={"role": "echo-users"}))
    add_user(a, tok, "holder", roles=["echo-users"])
    assert echo(a, "holder", PW, digest=True)
    ok(a.request("DELETE", "/roles/echo-users", token=tok))
    assert refused(a, "holder", PW, digest=True)


def non_loopback_addresses():
    found = []
    for family, probe in ((socket.AF_INET, ("10.255.255.255", 1)),
                          (socket.AF_INET6, ("fd00::ffff", 1))):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect(probe)
                addr = s.getsockname()[0]
                if not addr.startswith("127.") and addr != "::1":
                    found.append(addr)
        except OSError:
            pass
    return found


@pytest.mark.parametrize("mode", ["loopback", "off", "any"])
def test_bootstrap_modes(mariadb, stub, configured, mode):
    gw = mu.MgmtGateway("boot-" + mode, mariadb, stub, "wssgate_boot_" + mode, mgmt_host="::",
                        mgmt={"bootstrap_admin": '"%s"' % mode})
    mu.setup_database(mariadb, gw)
    gw.start()
    try:
        pw = "Mode-Pw-12345"
        wsg.SENT_SECRETS.add(pw)
        remote = non_loopback_addresses()
        assert remote, "no non-loopback address to test from"

        def login_from(host, user):
            url = "http://%s:%d/management/login" % (
                "[%s]" % host if ":" in host else host, gw.mgmt_port)
            return gw.http.get(url, auth=(user, pw), timeout=60)
        for i, host in enumerate(remote):
            r = login_from(host, "remote%d" % i)
            if mode == "any":
                assert r.status_code == 200, (host, r.status_code)
                break
            empty(r, 401)
        if mode != "any":
            r = login_from("127.0.0.1" if mode == "loopback" else "::1", "local")
            if mode == "off":
                empty(r, 401)
                assert mariadb.sql("SELECT COUNT(*) FROM users", gw.database).strip() == "0"
            else:
                assert r.status_code == 200
                # ::1 and 127.0.0.1 (IPv4-mapped on this dual-stack socket) count as loopback.
                assert mariadb.sql("SELECT username FROM users", gw.database).split() == ["local"]
        problems = mu.stop_checked(gw)
        assert problems == [], problems
    finally:
        gw.stop()


# ---------------------------------------------------------------- last: clean shutdown

def test_zz_clean_shutdown_without_sanitizer_reports(mg, mg_b, boot):
    problems = []
    for gw in (mg, mg_b) + tuple(boot):
        problems += mu.stop_checked(gw)
    assert problems == [], "\n".join(problems[:20])
