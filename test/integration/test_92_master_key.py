"""Stored secrets against the master key (issue 15): a user row written once with known
answers - the digest secret sealed outside the gateway (the vector of test_password.c's
test_seal_known_answer) and an argon2id hash made by the reference `argon2` CLI - authenticates
through a gateway holding that master key; a gateway whose master key cannot open the secret
answers the digest request exactly as it answers an unknown user (FailedAuthentication, no sign
that the user exists), logs why for the operator, keeps serving PasswordText, and never crashes.
"""

import os
import secrets
import subprocess

import pytest

import wsg

DATABASE = "wssgate_kat"
KEY_HEX = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
USER = "jörg"
PW = "pässwörd€"
# "pässwörd€" for "jörg" sealed under KEY_HEX: version 0x01, IV "kat-iv-00001", AES-256-GCM
# ciphertext and tag (Python cryptography's AESGCM, AAD 0x01 || username).
SEALED_HEX = ("016b61742d69762d3030303031ec8bd5f82e3e9d034ba2f54eb9b3931a19b9c1301aeeb9c6a623"
              "130a18")
wsg.SENT_SECRETS.add(PW)


def write_key(path, hex_text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(hex_text + "\n")


def argon2_cli(password):
    """argon2id PHC string of the reference CLI, with the gateway's parameters."""
    r = subprocess.run(["argon2", secrets.token_hex(8), "-id", "-t", "2", "-k", "19456",
                        "-p", "1", "-l", "32", "-e"], input=password.encode("utf-8"),
                       capture_output=True, timeout=60 * wsg.TIME_SCALE, check=True)
    return r.stdout.decode("ascii").strip()


def keyed_gateway(workdir, mariadb, stub, name, key_file):
    gw = wsg.Gateway(workdir, mariadb, stub, name=name, database=DATABASE)
    gw.write_config()
    with open(gw.config) as f:
        text = f.read()
    assert 'master_key_file = "master.key"' in text
    with open(gw.config, "w") as f:
        f.write(text.replace('master_key_file = "master.key"',
                             'master_key_file = "%s"' % key_file))
    return gw


@pytest.fixture(scope="module")
def keyed(workdir, mariadb, stub, configured):
    """(right, wrong): gateways on one store whose row for USER holds the known answers; the
    first has the master key the secret was sealed with, the second another one."""
    write_key(os.path.join(workdir, "kat.key"), KEY_HEX)
    write_key(os.path.join(workdir, "wrong.key"), secrets.token_hex(32))
    mariadb.sql("CREATE DATABASE IF NOT EXISTS %s;\n"
                "GRANT ALL PRIVILEGES ON %s.* TO 'wssgate'@'localhost';\n"
                "GRANT ALL PRIVILEGES ON %s.* TO 'wssgate'@'127.0.0.1';\n"
                % (DATABASE, DATABASE, DATABASE))
    right = keyed_gateway(workdir, mariadb, stub, "gw_kat", "kat.key")
    wrong = keyed_gateway(workdir, mariadb, stub, "gw_wrongkey", "wrong.key")
    right.cli_ok("db", "init")
    right.cli_ok("role", "add", "echo-users")
    right.cli_ok("user", "add", USER, "--role", "echo-users", stdin="not-the-kat-pw\n")
    mariadb.sql("UPDATE users SET password_hash = '%s', digest_secret = UNHEX('%s') "
                "WHERE username = '%s';" % (argon2_cli(PW), SEALED_HEX, USER), DATABASE)
    try:
        right.start()
        wrong.start()
        yield right, wrong
    finally:
        right.stop()
        wrong.stop()


def send(gw, user, password, digest):
    m = wsg.marker()
    return wsg.post(gw.url("/services/Echo"), wsg.build(user, password, use_digest=digest,
                                                         message=m)), m


def test_known_answer_row_authenticates(keyed):
    right, _ = keyed
    for digest in (True, False):
        r, m = send(right, USER, PW, digest)
        assert r.status_code == 200 and wsg.echoed(r) == m, (digest, r.status_code,
                                                             r.content[:300])


def test_master_key_that_cannot_open_the_secret(keyed):
    _, wrong = keyed
    r, _ = send(wrong, USER, PW, True)
    wsg.assert_wss_fault(r, "FailedAuthentication")
    unknown, _ = send(wrong, "nobody-92", PW, True)
    wsg.assert_wss_fault(unknown, "FailedAuthentication")
    # Nothing tells a client that the user exists.
    assert (r.status_code, r.headers.get("Content-Type"), r.content) == (
        unknown.status_code, unknown.headers.get("Content-Type"), unknown.content)
    lines = [ln for ln in wsg.settled_text(wrong.audit_log).splitlines() if "store_error" in ln]
    assert lines and "does not open with the master key" in lines[0], lines
    # The log escapes bytes outside printable ASCII.
    assert "user=j\\xc3\\xb6rg " in lines[0], lines
    # The refusal's own reason says so too, not that the user has no digest secret.
    failed = [ln for ln in wsg.settled_text(wrong.audit_log).splitlines()
              if "store_error" not in ln and "user=j\\xc3\\xb6rg " in ln]
    assert failed and all("does not open with the master key" in ln for ln in failed), failed
    assert PW not in wsg.settled_text(wrong.audit_log)
    # PasswordText needs no master key: the same user still gets in that way.
    r, m = send(wrong, USER, PW, False)
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])
    assert wrong.proc.alive()
