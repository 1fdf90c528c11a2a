"""Issue 13, items 4 and 7: SIGHUP reaches the management plane (security.lockout,
security.client_limit), restart-only keys are named in the reload warning, and TLS
hardening: no session tickets, private keys must be 0600-ish and owned by the daemon's user or
root, and certificates are read again on SIGHUP (data-plane and management listeners).

Each test sends from its own loopback address, so per-address counts never reach another test.
"""

import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import time

import pytest

import mgmt_util as mu
import wsg
from test_55_tls_basic import make_pki

ADMIN = ("reloadboss", "Reloadboss-Pw-01")
PW = "Reloady-Pw-0042"
wsg.SENT_SECRETS.update([ADMIN[1], PW])


def limit(n):
    return "{ max_failures = %d; window = 60; duration = 60; }" % n


client = mu.client


class ReloadGateway(mu.MgmtGateway):
    """Management over TLS, a data-plane TLS listener, both on cert.pem / key.pem in its dir."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.tls_port = wsg.free_port()
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        self.mgmt_extra["tls"] = '{ cert = "%s"; key = "%s"; }' % (self.cert, self.key)

    def write_config(self):
        super().write_config()
        with open(self.config) as f:
            text = f.read()
        old = 'listen = ( { address = "127.0.0.1:%d"; } );' % self.port
        assert old in text
        text = text.replace(old, 'listen = ( { address = "127.0.0.1:%d"; }, { address = '
                            '"127.0.0.1:%d"; tls = { cert = "%s"; key = "%s"; }; } );'
                            % (self.port, self.tls_port, self.cert, self.key))
        with open(self.config, "w") as f:
            f.write(text)

    def murl(self, path=""):
        return "https://127.0.0.1:%d/management%s" % (self.mgmt_port, path)

    def install_pair(self, src):
        shutil.copyfile(src + ".crt", self.cert)
        shutil.copyfile(src + ".key", self.key)
        os.chmod(self.key, 0o600)


def reloads(gw):
    return gw.proc.stderr_text().count("info configuration reloaded from")


def sighup(gw, expect_reload=True):
    before = reloads(gw)
    refused = gw.proc.stderr_text().count("reload refused: the running configuration stays")
    gw.proc.popen.send_signal(signal.SIGHUP)
    if expect_reload:
        wsg.wait_for("reload", lambda: reloads(gw) > before, 20, gw.proc)
    else:
        wsg.wait_for("refusal", lambda: gw.proc.stderr_text().count(
            "reload refused: the running configuration stays") > refused, 20, gw.proc)
    # The workers pick the new snapshot up from their loops; nothing outside shows it.
    time.sleep(0.3 * wsg.TIME_SCALE)


def reconfigure(gw, **security):
    gw.security.update(security)
    gw.write_config()
    sighup(gw)


@pytest.fixture(scope="module")
def pkis():
    return (make_pki(os.path.join(wsg.WORK, "pki79a")), make_pki(os.path.join(wsg.WORK, "pki79b")))


@pytest.fixture(scope="module")
def rg(mariadb, stub, configured, pkis):
    gw = ReloadGateway("reload79", mariadb, stub, "wssgate_reload79",
                       security={"lockout": limit(3), "client_limit": limit(3)})
    gw.http.verify = False
    gw.install_pair(pkis[0]["server"])
    mu.setup_database(mariadb, gw)
    gw.cli_ok("role", "add", "echo-users")
    gw.start()
    wsg.wait_for("tls", lambda: wsg.port_open(gw.tls_port) and wsg.port_open(gw.mgmt_port),
                 30, gw.proc)
    gw.login(*ADMIN)
    yield gw
    problems = mu.stop_checked(gw)
    assert problems == [], problems


def new_user(gw, prefix):
    name = "%s-%s" % (prefix, secrets.token_hex(3))
    gw.cli_ok("user", "add", name, "--role", "echo-users", stdin=PW + "\n")
    return name


def mgmt_login(gw, sess, user, password):
    wsg.SENT_SECRETS.add(password)
    return sess.get(gw.murl("/login"), auth=(user.encode(), password.encode()), timeout=60)


def send(gw, sess, user, password):
    xml = wsg.build(user, password, use_digest=True, message=wsg.marker())
    return wsg.post(gw.url("/services/Echo"), xml, session=sess)


def test_sec_reload_reaches_management(rg):
    """client_limit.max_failures 3 -> 0 and SIGHUP: neither plane limits any more."""
    s = client("127.0.0.71")
    for i in range(3):
        assert mgmt_login(rg, s, "nobody-79", "wrong-%d" % i).status_code == 401
    assert mgmt_login(rg, s, "nobody-79", "wrong-x").status_code == 429
    reconfigure(rg, client_limit="{ max_failures = 0; }")
    assert "warning reload" not in rg.proc.stderr_text()
    s = client("127.0.0.72")
    got = [mgmt_login(rg, s, "nobody-79", "wrong-%d" % i).status_code for i in range(5)]
    assert got == [401] * 5, got
    got = [send(rg, s, "nobody-79", "wrong-%d" % i).status_code for i in range(5)]
    assert 429 not in got, got


def test_sec_reload_lockout_and_client_limit_both_planes(rg):
    """Tightened lockout (1) and client_limit (2) reach management logins and the data plane."""
    reconfigure(rg, lockout=limit(1), client_limit=limit(2))
    u1, u2 = new_user(rg, "rl-m"), new_user(rg, "rl-d")
    s = client("127.0.0.73")
    assert mgmt_login(rg, s, u1, "wrong-1").status_code == 401
    assert mgmt_login(rg, s, u1, PW).status_code == 401     # locked after one failure
    s = client("127.0.0.74")
    wsg.assert_wss_fault(send(rg, s, u2, "wrong-1"), "FailedAuthentication")
    wsg.assert_wss_fault(send(rg, s, u2, PW), "FailedAuthentication")
    s = client("127.0.0.75")
    got = [mgmt_login(rg, s, "nobody-79", "wrong-%d" % i).status_code for i in range(3)]
    assert got == [401, 401, 429], got
    s = client("127.0.0.76")
    got = [send(rg, s, "nobody-79", "wrong-%d" % i).status_code for i in range(3)]
    assert got[2] == 429, got
    # Loosened again, so the other tests' logins work.
    reconfigure(rg, lockout=limit(3), client_limit="{ max_failures = 0; }")


def test_sec_reload_restart_keys_named(rg):
    """Restart-only changes (management.token_ttl, log.ring_size) are named in the warning."""
    rg.mgmt_extra["token_ttl"] = "1234"
    rg.write_config()
    with open(rg.config) as f:
        text = f.read()
    assert "flush = 0;" in text
    with open(rg.config, "w") as f:
        f.write(text.replace("flush = 0;", "flush = 0; ring_size = 77;"))
    try:
        sighup(rg)
        text = rg.proc.stderr_text()
        warn = [x for x in text.splitlines()
                if "warning reload: changed but only applied at a restart" in x]
        assert warn and "management.token_ttl" in warn[-1] and "log.ring_size" in warn[-1], warn
    finally:
        rg.mgmt_extra.pop("token_ttl")
        rg.write_config()
        sighup(rg)


# ---------------------------------------------------------------- TLS

def peer_cert(port, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


def fingerprint(path):
    der = ssl.PEM_cert_to_DER_cert(open(path).read())
    return hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sec_tls_session_tickets(rg, version):
    """No session tickets are issued (TLS 1.2 and 1.3): nothing a stolen, never-rotated
    process-lifetime ticket key could decrypt."""
    for port in (rg.tls_port, rg.mgmt_port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ctx.maximum_version = version
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while s.recv(65536):   # TLS 1.3 tickets come after the handshake
                    pass
                sess = s.session
        assert sess is None or not sess.has_ticket, (port, version, sess.ticket_lifetime_hint)


def test_sec_tls_cert_reload(rg, pkis):
    """A new cert+key pair and SIGHUP: new connections see it on both listeners; a broken pair
    keeps the old one and logs an error."""
    first = fingerprint(pkis[0]["server"] + ".crt")
    second = fingerprint(pkis[1]["server"] + ".crt")
    assert peer_cert(rg.tls_port) == first and peer_cert(rg.mgmt_port) == first
    rg.install_pair(pkis[1]["server"])
    sighup(rg)
    assert peer_cert(rg.tls_port) == second and peer_cert(rg.mgmt_port) == second
    # A key that does not match the certificate: refused, the running pair stays.
    shutil.copyfile(pkis[0]["server"] + ".crt", rg.cert)
    sighup(rg, expect_reload=False)
    assert re.search(r"error reload refused: listen 127\.0\.0\.1:%d: tls\.key %s: "
                     % (rg.tls_port, re.escape(rg.key)), rg.proc.stderr_text())
    assert peer_cert(rg.tls_port) == second and peer_cert(rg.mgmt_port) == second
    rg.install_pair(pkis[0]["server"])
    sighup(rg)
    assert peer_cert(rg.tls_port) == first and peer_cert(rg.mgmt_port) == first
    s = client("127.0.0.78")
    assert mgmt_login(rg, s, ADMIN[0], ADMIN[1]).status_code == 200


def test_sec_tls_key_permissions(rg, pkis):
    """A group/other-readable TLS key, or one owned by another user, is refused by
    --check-config and at start, with a clear message."""
    key = rg.key
    try:
        os.chmod(key, 0o644)
        r = rg.cli("--check-config")
        assert r.returncode == 1, (r.out, r.err)
        assert "%s" % key in r.err and "group or others" in r.err, r.err
        sighup(rg, expect_reload=False)
        assert re.search(r"error reload refused: .*%s.*group or others" % re.escape(key),
                         rg.proc.stderr_text())
        os.chmod(key, 0o600)
        os.chown(key, 65534, 65534)
        r = rg.cli("--check-config")
        assert r.returncode == 1, (r.out, r.err)
        assert key in r.err and "owned by uid 65534" in r.err, r.err
        # At start (the TLS contexts are made before any port is bound).
        r = rg.cli(timeout=30)
        assert r.returncode != 0 and "owned by uid 65534" in r.err, r.err
    finally:
        os.chown(key, os.geteuid(), os.getegid())
        os.chmod(key, 0o600)
    r = rg.cli("--check-config")
    assert r.returncode == 0, r.err
