"""TLS and HTTP Basic: an HTTPS listener (TLS 1.2+ only, modern ciphers), https upstreams with
certificate and host name checks (ca_file, the system store, tls_verify = false), require_tls for
PasswordText and Basic, and routes with auth = "basic" / "wsse_or_basic".

Certificates are made at test time with `openssl`: a test CA, a server certificate for
127.0.0.1/localhost, one for another host name, a self-signed one and a second, unrelated CA.
This module runs its own gateway (own config, ports and logs) and TLS stub upstreams next to the
session's MariaDB, plain stub and users.
"""

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest
import requests
from requests.auth import HTTPBasicAuth
from zeep import Client
from zeep.transports import Transport

import wsg
import zeep_util

ALICE = wsg.USERS["alice"][0]
DISABLED = ("dora", "dora-Pw-5e0c1")  # created here, then disabled in the store
ROLES = "echo-users"


# ---------------------------------------------------------------- certificates

def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                       env=wsg.clean_env())
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr))


def make_pki(d):
    """ca, other-ca (unrelated), server (127.0.0.1 + localhost), wronghost, selfsigned."""
    os.makedirs(d, exist_ok=True)

    def key(name):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", name + ".key", cwd=d)
        os.chmod(os.path.join(d, name + ".key"), 0o600)

    def ca(name, cn):
        key(name)
        openssl("req", "-x509", "-new", "-key", name + ".key", "-out", name + ".crt", "-days", "2",
                "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def leaf(name, san, issuer):
        key(name)
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % san)
        if issuer is None:
            openssl("req", "-x509", "-new", "-key", name + ".key", "-out", name + ".crt",
                    "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san,
                    "-addext", "extendedKeyUsage=serverAuth", cwd=d)
            return
        openssl("req", "-new", "-key", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=" + name, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", issuer + ".crt",
                "-CAkey", issuer + ".key", "-CAcreateserial", "-out", name + ".crt",
                "-days", "2", "-extfile", ext, cwd=d)

    ca("ca", "wssgate test CA")
    ca("other-ca", "unrelated test CA")
    leaf("server", "IP:127.0.0.1,DNS:localhost", "ca")
    leaf("wronghost", "DNS:wrong.example", "ca")
    leaf("selfsigned", "IP:127.0.0.1,DNS:localhost", None)
    return {n: os.path.join(d, n) for n in ("ca", "other-ca", "server", "wronghost", "selfsigned")}


# ---------------------------------------------------------------- processes

class TlsStub:
    """The stub upstream behind TLS with one of the test certificates."""

    def __init__(self, workdir, name, cert, ca):
        self.dir, self.name, self.cert, self.ca = workdir, name, cert, ca
        self.port = wsg.free_port()
        self.proc = None

    def start(self):
        out = os.path.join(self.dir, self.name + ".stdout")
        self.proc = wsg.Proc(self.name, [wsg.PYTHON, wsg.STUB, "--host", "127.0.0.1", "--port",
                                         str(self.port), "--tls-cert", self.cert + ".crt",
                                         "--tls-key", self.cert + ".key"], self.dir, stdout=out)
        wsg.wait_for(self.name, lambda: wsg.port_open(self.port), 30, self.proc)

    def stop(self):
        if self.proc:
            self.proc.stop()

    def restart(self):
        self.stop()
        self.proc = None
        self.start()

    def requests(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(b"GET /_requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        return json.loads(body.decode("utf-8"))

    def find(self, marker):
        return [r for r in self.requests() if marker in r["body"]]


def route(name, path, upstream, extra=""):
    return ('  { name = "%s"; path = "%s"; upstream = ( "%s" ); roles = ( "%s" );\n'
            '    timeout = 10;%s }' % (name, path, upstream, ROLES, extra))


class TlsGateway:
    def __init__(self, workdir, db, stub, stubs, pki):
        self.dir = workdir
        self.db, self.stub, self.stubs, self.pki = db, stub, stubs, pki
        self.port = wsg.free_port()
        self.tls_port = wsg.free_port()
        self.config = os.path.join(workdir, "wssgate-tls.conf")
        self.access_log = os.path.join(workdir, "tls-access.log")
        self.audit_log = os.path.join(workdir, "tls-audit.log")
        self.proc = None

    def config_text(self, listen=None, routes=None, upstream_tls=""):
        up = "http://127.0.0.1:%d" % self.stub.port
        good, wrong, selfsigned = (self.stubs[n].port for n in ("good", "wronghost", "selfsigned"))
        ca, other = self.pki["ca"] + ".crt", self.pki["other-ca"] + ".crt"
        if listen is None:
            listen = ('{ address = "127.0.0.1:%d"; },\n'
                      '           { address = "127.0.0.1:%d"; tls = { cert = "%s"; key = "%s"; }; }'
                      % (self.port, self.tls_port, self.pki["server"] + ".crt",
                         self.pki["server"] + ".key"))
        if routes is None:
            routes = [
                route("echo", "/services/Echo", up + "/Echo"),
                route("tls-ip", "/tls/Echo", "https://127.0.0.1:%d/Echo" % good,
                      ' ca_file = "%s";' % ca),
                route("tls-name", "/tls/EchoName", "https://localhost:%d/Echo" % good,
                      ' ca_file = "%s";' % ca),
                route("tls-wrong-ca", "/tls/WrongCa", "https://127.0.0.1:%d/Echo" % good,
                      ' ca_file = "%s";' % other),
                route("tls-wrong-ip", "/tls/WrongIp", "https://127.0.0.1:%d/Echo" % wrong,
                      ' ca_file = "%s";' % ca),
                route("tls-wrong-name", "/tls/WrongName", "https://localhost:%d/Echo" % wrong,
                      ' ca_file = "%s";' % ca),
                # No ca_file: the system's trust store.
                route("tls-self-signed", "/tls/SelfSigned",
                      "https://127.0.0.1:%d/Echo" % selfsigned),
                route("tls-noverify", "/tls/NoVerify", "https://127.0.0.1:%d/Echo" % selfsigned,
                      " tls_verify = false;"),
                route("require-tls", "/services/RequireTls", up + "/EchoRequireTls",
                      " require_tls = true;"),
                route("basic-rest", "/rest/Basic", up + "/Status/200", ' auth = "basic";'),
                route("basic-soap", "/services/BasicEcho", up + "/EchoBasic",
                      ' auth = "basic"; password_types = ( "PasswordDigest" );'),
                route("basic-tls", "/rest/BasicTls", up + "/Status/200",
                      ' auth = "basic"; require_tls = true;'),
                route("either", "/services/Either", up + "/EchoEither",
                      ' auth = "wsse_or_basic";'),
            ]
        return """# Generated by test_55_tls_basic.py.
listen = ( %(listen)s );
management = { enabled = false; };
workers = 2;
userstore = { socket = "%(socket)s"; user = "wssgate"; password_file = "%(dir)s/db.pass";
              database = "wssgate"; pool_size = 2; cache_ttl = 1;
              master_key_file = "%(dir)s/master.key"; query_timeout = 10; };
security = { nonce_cache_max = 100000; verify_threads = 2;
             lockout = { max_failures = 0; }; client_limit = { max_failures = 0; }; };
limits = { max_body_size = 65536; request_timeout = 30; };
log = { access_log = "%(access)s"; audit_log = "%(audit)s"; flush = 0; };
upstream_tls = { %(upstream_tls)s };
routes = (
%(routes)s
);
""" % {"listen": listen, "socket": self.db.socket, "dir": self.dir, "access": self.access_log,
       "audit": self.audit_log, "upstream_tls": upstream_tls, "routes": ",\n".join(routes)}

    def start(self):
        with open(self.config, "w") as f:
            f.write(self.config_text())
        self.proc = wsg.Proc("wssgate-tls", [wsg.WSSGATE, "--config", self.config], self.dir)
        wsg.wait_for("wssgate-tls", lambda: wsg.port_open(self.port) and
                     wsg.port_open(self.tls_port), 60, self.proc)

    def stop(self):
        return self.proc.stop(timeout=30) if self.proc else None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def surl(self, path, host="127.0.0.1"):
        return "https://%s:%d%s" % (host, self.tls_port, path)

    def audit_lines(self, marker_rid=None):
        return wsg.settled_text(self.audit_log).splitlines()


@pytest.fixture(scope="module")
def pki(workdir):
    return make_pki(os.path.join(workdir, "tls55"))


@pytest.fixture(scope="module")
def tls_stubs(workdir, pki):
    stubs = {name: TlsStub(workdir, "stub-tls-" + name, pki[cert], pki["ca"] + ".crt")
             for name, cert in (("good", "server"), ("wronghost", "wronghost"),
                                ("selfsigned", "selfsigned"))}
    try:
        for s in stubs.values():
            s.start()
        yield stubs
    finally:
        for s in stubs.values():
            s.stop()


@pytest.fixture(scope="module")
def tgw(configured, stub, tls_stubs, pki):
    """The TLS gateway; needs the session's users (configured) plus a disabled one."""
    configured.cli_ok("user", "add", DISABLED[0], "--role", ROLES, stdin=DISABLED[1] + "\n")
    configured.db.sql("UPDATE users SET disabled = 1 WHERE username = '%s'" % DISABLED[0],
                      database="wssgate")
    wsg.SENT_SECRETS.add(DISABLED[1])
    gw = TlsGateway(wsg.WORK, configured.db, stub, tls_stubs, pki)
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def https(pki):
    s = wsg.http_session()
    s.verify = pki["ca"] + ".crt"
    return s


def basic(user, password):
    """An Authorization value with UTF-8 credentials (requests would use Latin-1)."""
    raw = ("%s:%s" % (user, password)).encode("utf-8")
    value = "Basic " + base64.b64encode(raw).decode("ascii")
    wsg.SENT_SECRETS.add(value.split()[1])
    return value


def soap_post(url, xml, session=None, soap12=False, headers=None):
    return wsg.post(url, xml, soap12=soap12, headers=headers, session=session)


# ---------------------------------------------------------------- HTTPS listener

@pytest.mark.parametrize("use_digest", [False, True], ids=["text", "digest"])
@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_https_listener_with_zeep(tgw, stub, pki, binding, use_digest):
    m = wsg.marker()
    c, transport = zeep_util.client("alice", ALICE, use_digest)
    transport.session.verify = pki["ca"] + ".crt"
    svc = zeep_util.service(c, binding, tgw.surl("/services/Echo", host="localhost"))
    assert svc.Echo(message=m) == m
    rec = stub.find(m)
    assert len(rec) == 1
    assert wsg.header_values(rec[0], "X-WSS-User") == ["alice"]


def test_https_listener_negotiates_modern_tls(tgw, pki):
    ctx = ssl.create_default_context(cafile=pki["ca"] + ".crt")
    with socket.create_connection(("127.0.0.1", tgw.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() == "TLSv1.3"
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", tgw.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            name, version, _ = s.cipher()
            assert version == "TLSv1.2"
            assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name


def old_tls_context(version):
    """A client that offers only `version` (OpenSSL needs security level 0 for it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


def handshake_error(tgw, ctx):
    """None if the handshake succeeds, else the SSLError text."""
    with socket.create_connection(("127.0.0.1", tgw.tls_port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw) as s:
                s.version()
            return None
        except ssl.SSLError as e:
            return str(e)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1],
                         ids=["tls1.0", "tls1.1"])
def test_old_tls_versions_refused(tgw, version):
    # The same client set-up with TLS 1.2 connects, so the refusal is the server's.
    assert handshake_error(tgw, old_tls_context(ssl.TLSVersion.TLSv1_2)) is None
    why = handshake_error(tgw, old_tls_context(version))
    assert why is not None and "PROTOCOL_VERSION" in why.upper(), why


def test_old_tls_refused_by_openssl_s_client(tgw):
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tgw.tls_port,
                        "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], input="",
                       capture_output=True, text=True, timeout=30, env=wsg.clean_env())
    assert r.returncode != 0
    assert "alert protocol version" in r.stdout + r.stderr, r.stdout + r.stderr


def test_weak_ciphers_refused(tgw):
    ctx = old_tls_context(ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:AES128-SHA:AES128-GCM-SHA256")
    why = handshake_error(tgw, ctx)
    assert why is not None and "HANDSHAKE_FAILURE" in why.upper(), why


def test_plain_http_to_tls_port_fails_cleanly(tgw, https):
    with pytest.raises(requests.exceptions.ConnectionError):
        wsg.http_session().post("http://127.0.0.1:%d/services/Echo" % tgw.tls_port,
                                data=b"<x/>", headers={"Content-Type": "text/xml"}, timeout=10)
    with socket.create_connection(("127.0.0.1", tgw.tls_port), timeout=10) as s:
        s.sendall(b"POST /services/Echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    assert not data.startswith(b"HTTP/"), data[:200]
    # Still serving, over both ports.
    m = wsg.marker()
    r = soap_post(tgw.surl("/services/Echo"), wsg.build("alice", message=m), session=https)
    assert r.status_code == 200 and wsg.echoed(r) == m
    r = soap_post(tgw.url("/services/Echo"), wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m


# ---------------------------------------------------------------- https upstreams

def test_https_upstream_verified_by_ip(tgw, tls_stubs):
    m = wsg.marker()
    r = soap_post(tgw.url("/tls/Echo"), wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m
    rec = tls_stubs["good"].find(m)
    assert len(rec) == 1
    assert wsg.header_values(rec[0], "X-WSS-User") == ["alice"]
    # RFC 6066: no SNI for an address literal.
    assert rec[0]["sni"] is None
    assert wsg.header_values(rec[0], "Host") == ["127.0.0.1:%d" % tls_stubs["good"].port]


def test_https_upstream_verified_by_name_with_sni(tgw, tls_stubs):
    m = wsg.marker()
    r = soap_post(tgw.url("/tls/EchoName"), wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m
    rec = tls_stubs["good"].find(m)
    assert len(rec) == 1 and rec[0]["sni"] == "localhost"


def test_https_upstream_keeps_connections_and_survives_their_close(tgw, tls_stubs):
    marks = [wsg.marker() for _ in range(3)]
    for m in marks[:2]:
        r = soap_post(tgw.url("/tls/Echo"), wsg.build("alice", message=m))
        assert r.status_code == 200 and wsg.echoed(r) == m
    conns = {tls_stubs["good"].find(m)[0]["conn"] for m in marks[:2]}
    # Two workers may each hold a connection; no new connection per request.
    assert len(conns) <= 2
    # The upstream restarts: pooled TLS connections are gone and must not be reused.
    tls_stubs["good"].restart()
    deadline = time.monotonic() + 30 * wsg.TIME_SCALE
    statuses = []
    for _ in range(4):
        m = wsg.marker()
        r = soap_post(tgw.url("/tls/Echo"), wsg.build("alice", message=m))
        statuses.append(r.status_code)
        if time.monotonic() > deadline:
            break
    # A request racing the close may see 502 (as for plain HTTP); then it recovers.
    assert statuses[-1] == 200 and statuses.count(200) >= 2, statuses
    r = soap_post(tgw.url("/tls/Echo"), wsg.build("alice", message=marks[2]))
    assert r.status_code == 200 and wsg.echoed(r) == marks[2]
    assert len(tls_stubs["good"].find(marks[2])) == 1


def audit_reason(tgw, route):
    lines = [l for l in tgw.audit_lines() if "route=%s " % route in l]
    assert lines, "no audit line for route %s" % route
    return lines[-1]


@pytest.mark.parametrize("path,route,reason", [
    ("/tls/WrongCa", "tls-wrong-ca", "unable to get local issuer certificate"),
    ("/tls/WrongIp", "tls-wrong-ip", "IP address mismatch"),
    ("/tls/WrongName", "tls-wrong-name", "hostname mismatch"),
    ("/tls/SelfSigned", "tls-self-signed", "self-signed certificate"),
], ids=["wrong-ca", "wrong-ip", "wrong-name", "self-signed-vs-system-store"])
def test_https_upstream_refused(tgw, tls_stubs, path, route, reason):
    m = wsg.marker()
    r = soap_post(tgw.url(path), wsg.build("alice", message=m))
    wsg.assert_soap_fault(r, 502, "Server", "Receiver")
    for s in tls_stubs.values():
        assert s.find(m) == []
    line = audit_reason(tgw, route)
    assert "event=upstream_error" in line and reason in line, line


def test_https_upstream_without_verification(tgw, tls_stubs):
    m = wsg.marker()
    r = soap_post(tgw.url("/tls/NoVerify"), wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m
    assert len(tls_stubs["selfsigned"].find(m)) == 1
    err = tgw.proc.stderr_text()
    assert re.search(r"warning.*route tls-noverify: tls_verify = false", err), err[-2000:]
    assert "route tls-ip: tls_verify" not in err


# ---------------------------------------------------------------- require_tls

@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_require_tls_refuses_text_over_http(tgw, stub, soap12):
    m = wsg.marker()
    good = soap_post(tgw.url("/services/RequireTls"),
                     wsg.build("alice", use_digest=False, soap12=soap12, message=m), soap12=soap12)
    wsg.assert_wss_fault(good, "InvalidSecurity", soap12)
    bad = soap_post(tgw.url("/services/RequireTls"),
                    wsg.build("alice", "wrong-Pw-77", use_digest=False, soap12=soap12, message=m),
                    soap12=soap12)
    # Refused before any password work: right and wrong passwords look the same.
    assert bad.status_code == good.status_code and bad.content == good.content
    assert stub.find(m) == []
    assert "PasswordText over plain HTTP" in audit_reason(tgw, "require-tls")


def test_require_tls_allows_digest_over_http(tgw, stub):
    m = wsg.marker()
    r = soap_post(tgw.url("/services/RequireTls"), wsg.build("alice", use_digest=True, message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m


@pytest.mark.parametrize("use_digest", [False, True], ids=["text", "digest"])
def test_require_tls_allows_both_over_https(tgw, stub, https, use_digest):
    m = wsg.marker()
    r = soap_post(tgw.surl("/services/RequireTls"),
                  wsg.build("alice", use_digest=use_digest, message=m), session=https)
    assert r.status_code == 200 and wsg.echoed(r) == m
    assert len(stub.find(m)) == 1


# ---------------------------------------------------------------- HTTP Basic

def stub_record(stub, m):
    rec = [r for r in stub.requests() if m in r["path"] or m in r["body"]]
    assert len(rec) == 1, rec
    return rec[0]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_basic_rest_forwards_any_method(tgw, stub, method):
    m = wsg.marker()
    body = json.dumps({"m": m}).encode() if method in ("POST", "PUT", "PATCH") else None
    r = wsg.http_session().request(
        method, tgw.url("/rest/Basic?m=%s" % m), data=body,
        headers={"Authorization": basic("alice", ALICE), "Content-Type": "application/json",
                 "X-WSS-User": "mallory"}, timeout=30)
    assert r.status_code == 200, (r.status_code, r.content)
    rec = stub_record(stub, m)
    assert rec["method"] == method
    assert rec["path"] == "/Status/200?m=%s" % m
    assert wsg.header_values(rec, "X-WSS-User") == ["alice"]
    assert wsg.header_values(rec, "X-WSS-Roles") == [ROLES]
    assert wsg.header_values(rec, "Authorization") == []
    if body is not None:
        assert rec["body"] == body.decode()


def test_basic_utf8_and_no_digest_users(tgw, stub):
    for user in ("jörg", "carol"):
        m = wsg.marker()
        r = wsg.http_session().get(tgw.url("/rest/Basic?m=" + m), timeout=30,
                                   headers={"Authorization": basic(user, wsg.USERS[user][0])})
        assert r.status_code == 200, (user, r.status_code, r.content)
        rec = stub_record(stub, m)
        assert [wsg.header_text(v) for v in wsg.header_values(rec, "X-WSS-User")] == [user]


def assert_basic_401(r, soap=None):
    assert r.status_code == 401, (r.status_code, r.content)
    assert r.headers.get("WWW-Authenticate", "").startswith('Basic realm="wssgate"'), r.headers
    if soap is None:
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json() == {"Error": "Authentication failed"}
    else:
        f = wsg.parse_fault(r.content)
        assert f is not None and f.version == soap, r.content
        assert wsg.wss_code(r) == "FailedAuthentication"


def test_basic_failures_are_identical_401(tgw, stub):
    m = wsg.marker()
    cases = {
        "wrong-password": basic("alice", "wrong-Pw-0000"),
        "unknown-user": basic("mallory", "mallory-Pw-1"),
        "no-role": basic("bob", wsg.USERS["bob"][0]),
        "disabled": basic(*DISABLED),
        "empty-password": basic("alice", ""),
        "other-scheme": "Bearer abc.def.ghi",
        "malformed": "Basic not*base64",
        "no-colon": "Basic " + base64.b64encode(b"alice").decode(),
    }
    answers = {}
    for name, value in cases.items():
        r = wsg.http_session().get(tgw.url("/rest/Basic?m=" + m), timeout=30,
                                   headers={"Authorization": value})
        assert_basic_401(r)
        answers[name] = r.content
    r = wsg.http_session().get(tgw.url("/rest/Basic?m=" + m), timeout=30)
    assert_basic_401(r)
    answers["missing"] = r.content
    assert len(set(answers.values())) == 1, answers
    assert [x for x in stub.requests() if m in x["path"]] == []
    reasons = "\n".join(tgw.audit_lines())
    for reason in ("wrong password", "unknown user", "none of the route's roles",
                   "user is disabled", "no HTTP Basic credentials",
                   "malformed HTTP Basic credentials"):
        assert reason in reasons, reason


def test_basic_soap_upstream_with_zeep(tgw, stub):
    m = wsg.marker()
    session = wsg.http_session()
    session.auth = HTTPBasicAuth("alice", ALICE)
    c = Client(wsg.WSDL, transport=Transport(session=session, timeout=30))
    svc = zeep_util.service(c, "soap11", tgw.url("/services/BasicEcho"))
    # password_types = PasswordDigest only: it governs UsernameTokens, not Basic.
    assert svc.Echo(message=m) == m
    rec = stub.find(m)
    assert len(rec) == 1
    assert wsg.header_values(rec[0], "X-WSS-User") == ["alice"]
    assert wsg.header_values(rec[0], "Authorization") == []


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_basic_soap_failure_is_a_soap_fault(tgw, stub, soap12):
    m = wsg.marker()
    xml = ('<s:Envelope xmlns:s="%s"><s:Body><e:Echo xmlns:e="urn:example:echo">'
           "<message>%s</message></e:Echo></s:Body></s:Envelope>"
           % (wsg.SOAP12_NS if soap12 else wsg.SOAP11_NS, m))
    r = soap_post(tgw.url("/services/BasicEcho"), xml, soap12=soap12,
                  headers={"Authorization": basic("alice", "wrong-Pw-9")})
    assert_basic_401(r, soap="1.2" if soap12 else "1.1")
    assert stub.find(m) == []


def test_basic_require_tls(tgw, stub, https):
    m = wsg.marker()
    r = wsg.http_session().get(tgw.url("/rest/BasicTls?m=" + m), timeout=30,
                               headers={"Authorization": basic("alice", ALICE)})
    # Refused, and no challenge that would invite a password over plain HTTP.
    assert r.status_code == 403, (r.status_code, r.content)
    assert "WWW-Authenticate" not in r.headers
    assert r.json() == {"Error": "Credentials must be sent over HTTPS"}
    r = wsg.http_session().get(tgw.url("/rest/BasicTls?m=" + m), timeout=30)
    assert r.status_code == 403 and "WWW-Authenticate" not in r.headers
    assert [x for x in stub.requests() if m in x["path"]] == []
    r = https.get(tgw.surl("/rest/BasicTls?m=" + m), timeout=30,
                  headers={"Authorization": basic("alice", ALICE)})
    assert r.status_code == 200
    assert wsg.header_values(stub_record(stub, m), "X-WSS-User") == ["alice"]
    r = https.get(tgw.surl("/rest/BasicTls?m=x"), timeout=30)
    assert_basic_401(r)


def raw_exchange(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


@pytest.mark.parametrize("auth", [True, False], ids=["ok", "401"])
def test_basic_head_has_no_body(tgw, stub, auth):
    m = wsg.marker()
    extra = ("Authorization: %s\r\n" % basic("alice", ALICE)) if auth else ""
    data = raw_exchange(tgw.port, ("HEAD /rest/Basic?m=%s HTTP/1.1\r\nHost: x\r\n%s"
                                   "Connection: close\r\n\r\n" % (m, extra)).encode())
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep and rest == b"", data
    assert head.startswith(b"HTTP/1.1 %d" % (200 if auth else 401)), head


def test_basic_trace_and_connect_are_not_forwarded(tgw, stub):
    r = wsg.http_session().request("TRACE", tgw.url("/rest/Basic"), timeout=30,
                                   headers={"Authorization": basic("alice", ALICE)})
    assert r.status_code == 405 and "TRACE" not in r.headers.get("Allow", "TRACE")


# ---------------------------------------------------------------- wsse_or_basic

def test_either_with_security_header_is_wsse(tgw, stub):
    m = wsg.marker()
    r = soap_post(tgw.url("/services/Either"), wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m
    rec = stub.find(m)
    assert len(rec) == 1 and wsg.header_values(rec[0], "X-WSS-User") == ["alice"]
    assert "UsernameToken" not in rec[0]["body"]
    # A Security header decides, even when Basic credentials would pass.
    m = wsg.marker()
    r = soap_post(tgw.url("/services/Either"), wsg.build("alice", "wrong-Pw-31", message=m),
                  headers={"Authorization": basic("alice", ALICE)})
    wsg.assert_wss_fault(r, "FailedAuthentication")
    assert "WWW-Authenticate" not in r.headers
    assert stub.find(m) == []


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_either_without_security_header_is_basic(tgw, stub, soap12):
    m = wsg.marker()
    xml = ('<s:Envelope xmlns:s="%s"><s:Body><e:Echo xmlns:e="urn:example:echo">'
           "<message>%s</message></e:Echo></s:Body></s:Envelope>"
           % (wsg.SOAP12_NS if soap12 else wsg.SOAP11_NS, m))
    r = soap_post(tgw.url("/services/Either"), xml, soap12=soap12,
                  headers={"Authorization": basic("alice", ALICE)})
    assert r.status_code == 200 and wsg.echoed(r) == m
    rec = stub.find(m)
    assert len(rec) == 1
    assert wsg.header_values(rec[0], "X-WSS-User") == ["alice"]
    assert wsg.header_values(rec[0], "Authorization") == []
    r = soap_post(tgw.url("/services/Either"), xml, soap12=soap12)
    assert_basic_401(r, soap="1.2" if soap12 else "1.1")


def test_either_rest_is_basic(tgw, stub):
    r = wsg.http_session().get(tgw.url("/services/Either"), timeout=30,
                               headers={"Authorization": basic("alice", ALICE)})
    # The stub's Echo service answers GET with 405; what matters is who it saw.
    assert r.status_code == 405
    rec = [x for x in stub.requests() if x["method"] == "GET" and x["path"] == "/EchoEither"]
    assert rec and wsg.header_values(rec[-1], "X-WSS-User") == ["alice"]
    r = wsg.http_session().get(tgw.url("/services/Either"), timeout=30)
    assert_basic_401(r)


# ---------------------------------------------------------------- start-up errors and the end

@pytest.mark.parametrize("case", ["missing-cert", "key-mismatch", "missing-ca", "bad-global-ca"])
def test_tls_start_errors_name_the_file(tgw, pki, case):
    d = os.path.dirname(pki["ca"])
    bad = os.path.join(d, "not-a-ca.pem")
    with open(bad, "w") as f:
        f.write("not a certificate\n")
    listen, upstream_tls = None, ""
    routes = [route("echo", "/services/Echo", "http://127.0.0.1:1/Echo")]
    if case == "missing-cert":
        want = os.path.join(d, "nope.crt")
        listen = ('{ address = "127.0.0.1:%d"; tls = { cert = "%s"; key = "%s"; }; }'
                  % (wsg.free_port(), want, pki["server"] + ".key"))
    elif case == "key-mismatch":
        want = pki["wronghost"] + ".key"
        listen = ('{ address = "127.0.0.1:%d"; tls = { cert = "%s"; key = "%s"; }; }'
                  % (wsg.free_port(), pki["server"] + ".crt", want))
    elif case == "missing-ca":
        want = os.path.join(d, "nope-ca.pem")
        routes.append(route("up", "/up", "https://127.0.0.1:1/", ' ca_file = "%s";' % want))
    else:
        # Routes inherit upstream_tls.ca_file.
        want = bad
        upstream_tls = 'ca_file = "%s";' % bad
        routes.append(route("up", "/up", "https://127.0.0.1:1/"))
    if listen is None:
        listen = '{ address = "127.0.0.1:%d"; }' % wsg.free_port()
    path = os.path.join(d, "bad-%s.conf" % case)
    with open(path, "w") as f:
        f.write(tgw.config_text(listen=listen, routes=routes, upstream_tls=upstream_tls))
    r = wsg.run_cli(["--config", path], timeout=60)
    assert r.returncode == 1, (r.returncode, r.err)
    assert want in r.err, r.err
    if case in ("missing-ca", "bad-global-ca"):
        assert "route up: ca_file " + want in r.err, r.err
    assert not wsg.SANITIZER_RE.search(r.err), r.err


def test_logs_hold_no_credentials(tgw):
    text = ""
    for path in (tgw.access_log, tgw.audit_log):
        text += wsg.settled_text(path)
    assert "event=auth_failure" in text
    leaked = [s for s in wsg.SENT_SECRETS if len(s) >= 6 and s in text]
    assert leaked == []


def test_tls_gateway_stops_cleanly(tgw):
    assert tgw.proc.alive(), tgw.proc.stderr_text()[-3000:]
    rc = tgw.proc.stop(signal.SIGTERM, timeout=30)
    err = tgw.proc.stderr_text()
    assert rc == 0, err[-3000:]
    assert not wsg.SANITIZER_RE.search(err), err[-5000:]
