"""Issue 12, the upstream exchange and the headers the upstream receives: request smuggling
through a forwarded Expect (item 1), an interim 1xx taken for the final answer (item 2), identity
headers spoofed with underscores (item 4), the client's Authorization on wsse routes (item 5) and
the encoding of X-WSS-User / X-WSS-Roles (item 6).

The upstream here is a raw socket server in this file (RawUpstream), not the stub: it has to
answer before reading a body, send 1xx answers, answer HTTP/1.0 or close-delimited, and log every
request line it parses on every connection, which http.server cannot.
"""

import os
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse

import pytest

import wsg

# The smuggled request: alice hides it in a comment of her second request's Body.
SMUGGLED = ("POST /raw/admin-op HTTP/1.1\r\nHost: upstream\r\nX-WSS-User: admin\r\n"
            "X-WSS-Roles: admins\r\nContent-Length: 0\r\n\r\n")
# Harness users with the route's role: alice (digest) and carol (PasswordText only).
CAROL_PW = wsg.USERS["carol"][0]
# Users of item 6: name -> password; the role below is granted to the first.
ODD_USERS = {"jürgen": "jürgen-Pw-4e1a", "a,b%c": "abc-Pw-77f0", "x y+z": "xyz-Pw-0b9d"}
ODD_ROLE = "équipe%1"


class RawUpstream:
    """An HTTP/1.1 upstream on a raw socket; every request it parses is logged with its
    connection number, headers and the raw bytes (head and body) it read."""

    def __init__(self, tls=None):
        self.tls = tls              # an ssl.SSLContext: https
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.log = []
        self.lock = threading.Lock()
        self.conns = 0
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopping = True
        self.sock.close()

    def clear(self):
        with self.lock:
            self.log.clear()

    def entries(self):
        with self.lock:
            return list(self.log)

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
                n = self.conns
            threading.Thread(target=self._serve, args=(c, n), daemon=True).start()

    def _serve(self, c, conn):
        buf = bytearray()

        def fill():
            data = c.recv(65536)
            if not data:
                raise EOFError
            buf.extend(data)

        def line():
            while b"\n" not in buf:
                fill()
            i = buf.index(b"\n")
            out = bytes(buf[:i + 1])
            del buf[:i + 1]
            return out

        def take(n):
            while len(buf) < n:
                fill()
            out = bytes(buf[:n])
            del buf[:n]
            return out

        try:
            c.settimeout(30)
            if self.tls is not None:
                c = self.tls.wrap_socket(c, server_side=True)
            while True:
                raw = line()
                reqline = raw.decode("latin-1").strip()
                parts = reqline.split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                    with self.lock:
                        self.log.append({"conn": conn, "line": reqline, "headers": [],
                                         "body": b"", "raw": raw})
                    return
                headers = []
                while True:
                    h = line()
                    raw += h
                    if h.strip() == b"":
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers.append((k, v.strip()))
                hd = {k.lower(): v for k, v in headers}
                length = int(hd.get("content-length", "0"))
                entry = {"conn": conn, "line": reqline, "headers": headers, "body": b"",
                         "raw": raw}
                with self.lock:
                    self.log.append(entry)
                path = urllib.parse.urlsplit(parts[1]).path
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(parts[1]).query)
                user = hd.get("x-wss-user", "")
                if path == "/raw/early":
                    # Answers at once (as Tomcat and nginx do for a 401 / 413), then still
                    # reads the announced body before the next request.
                    c.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n"
                              b"Content-Length: 12\r\n\r\nearly answer")
                    entry["body"] = take(length)
                    entry["raw"] += entry["body"]
                    continue
                if hd.get("expect", "").lower() == "100-continue":
                    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                entry["body"] = take(length)
                entry["raw"] += entry["body"]
                if path == "/raw/admin-op":
                    self._answer(c, "admin-op executed for X-WSS-User: " + user)
                elif path == "/raw/hints":
                    for code in query.get("code", ["103"])[0].split(","):
                        interim = {
                            "100": "100 Continue\r\n",
                            "101": "101 Switching Protocols\r\nConnection: Upgrade\r\n"
                                   "Upgrade: h2c\r\n",
                            "102": "102 Processing\r\n",
                            "103": "103 Early Hints\r\nLink: </s.css>; rel=preload\r\n"}[code]
                        c.sendall(("HTTP/1.1 " + interim + "\r\n").encode("latin-1"))
                        time.sleep(0.05)
                    time.sleep(0.3)
                    self._answer(c, "private answer for X-WSS-User: " + user)
                elif path == "/raw/http10":
                    # HTTP/1.0 without keep-alive: the connection is over after this answer,
                    # even though this server does not close it at once.
                    self._answer(c, "http10 answer", version="HTTP/1.0")
                elif path == "/raw/conn-close":
                    self._answer(c, "conn-close answer", extra="Connection: close\r\n")
                elif path == "/raw/closedelim":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n"
                              b"<r>close-delimited answer</r>")
                    c.shutdown(socket.SHUT_WR)
                else:
                    self._answer(c, "echo for X-WSS-User: " + user)
        except (EOFError, OSError, ValueError):
            pass
        finally:
            c.close()

    @staticmethod
    def _answer(c, text, version="HTTP/1.1", extra=""):
        body = ("<r>%s</r>" % text).encode("utf-8")
        c.sendall(("%s 200 OK\r\nContent-Type: text/xml\r\n%sContent-Length: %d\r\n\r\n"
                   % (version, extra, len(body))).encode("latin-1") + body)


def raw_route(name, path, port, extra=""):
    # strip_security_header = false: the Body bytes reach the upstream exactly as sent.
    return wsg.route_config(name, path, "http://127.0.0.1:%d/raw" % port, timeout=5,
                            extra=extra).replace("strip_security_header = true",
                                                 "strip_security_header = false")


@pytest.fixture(scope="module")
def raw():
    u = RawUpstream()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def raw_tls(workdir):
    """The same upstream over TLS, with a self-signed certificate for 127.0.0.1."""
    d = os.path.join(workdir, "t71-tls")
    os.makedirs(d, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", "up.key", "-out", "up.crt",
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], cwd=d, check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "up.crt"), os.path.join(d, "up.key"))
    u = RawUpstream(tls=ctx)
    u.ca_file = os.path.join(d, "up.crt")
    yield u
    u.stop()


def _gateway(configured, raw, name, routes, security=""):
    # One worker: one pool of upstream connections, so consecutive requests share them.
    g = wsg.Gateway(configured.dir, configured.db, configured.stub, name=name, cache_ttl=60,
                    config_kw={"workers": 1, "extra_routes": routes})
    g.write_config()
    if security:
        conf = open(g.config).read().replace("security = {", "security = { " + security, 1)
        with open(g.config, "w") as f:
            f.write(conf)
    try:
        g.start()
        yield g
    finally:
        g.stop()


@pytest.fixture(scope="module")
def gw(configured, raw, raw_tls):
    yield from _gateway(configured, raw, "gw71", [
        raw_route("raw", "/services/Raw", raw.port),
        raw_route("raw-tls", "/services/RawTls", raw_tls.port,
                  extra=' ca_file = "%s";' % raw_tls.ca_file).replace("http://", "https://"),
        raw_route("raw-either", "/services/RawEither", raw.port,
                  extra=' auth = "wsse_or_basic";').replace('auth = "wsse";', "")])


@pytest.fixture(scope="module")
def gw_allow(configured, raw):
    """underscores_in_headers = true, and a route with forward_authorization = true."""
    yield from _gateway(configured, raw, "gw71b", [
        raw_route("raw", "/services/Raw", raw.port),
        raw_route("raw-auth", "/services/RawAuth", raw.port,
                  extra=" forward_authorization = true;")],
        security="underscores_in_headers = true;")


def send(gw, path, user="alice", password=None, message=None, body=None, headers=None):
    if body is None:
        body = wsg.build(user, password=password, message=message or wsg.marker(),
                         use_digest=user != "carol")
    return wsg.post(gw.url(path), body, headers=headers, session=wsg.http_session())


def last(raw, path):
    found = [e for e in raw.entries() if e["line"].split(" ")[1:2] == [path]]
    assert found, "the upstream got no %s: %r" % (path, [e["line"] for e in raw.entries()])
    return found[-1]


def names(entry):
    return [k for k, _ in entry["headers"]]


def header(entry, name):
    return [v for k, v in entry["headers"] if k.lower() == name.lower()]


# ------------------------------------------------------------------ item 1

def smuggling_body(message):
    """alice's request B: a Body with a long comment, then SMUGGLED inside a second one."""
    xml = wsg.build("alice", message=message)
    return re.sub(r"(<soap:Body>)", lambda mo: mo.group(1) + "<!--" + "p" * 3000 + "-->"
                  + "<!--" + SMUGGLED + "-->", xml, count=1)


def test_sec_expect_smuggling(gw, raw):
    # Where SMUGGLED starts in B as the upstream receives it (head and body): B once alone.
    probe = send(gw, "/services/Raw/echo", body=smuggling_body(wsg.marker()))
    assert probe.status_code == 200, probe.text
    offset = last(raw, "/raw/echo")["raw"].index(b"POST /raw/admin-op")
    # Request A announces exactly that many bytes, with Expect: the upstream answers early.
    a = wsg.build("alice", message=wsg.marker()).encode("utf-8")
    assert len(a) < offset
    a += b" " * (offset - len(a))
    raw.clear()
    ra = send(gw, "/services/Raw/early", body=a, headers={"Expect": "100-continue"})
    assert ra.status_code == 401, ra.text
    rb = send(gw, "/services/Raw/echo", body=smuggling_body(wsg.marker()))
    lines = [e["line"] for e in raw.entries()]
    assert not any("/raw/admin-op" in x for x in lines), "smuggled request executed: %r" % lines
    assert "admin-op" not in rb.text
    assert rb.status_code == 200 and "echo for X-WSS-User: alice" in rb.text, rb.text


def test_sec_expect_never_forwarded(gw, raw):
    m = wsg.marker()
    r = send(gw, "/services/Raw/echo", message=m, headers={"Expect": "100-continue"})
    assert r.status_code == 200, r.text
    e = last(raw, "/raw/echo")
    assert m.encode() in e["body"]
    assert header(e, "Expect") == [], "the upstream received Expect: %r" % e["headers"]


@pytest.mark.parametrize("path", ["/raw/http10", "/raw/closedelim", "/raw/conn-close"])
def test_sec_unclean_exchange_not_reused(gw, raw, path):
    """An answer that ends its connection (HTTP/1.0 without keep-alive, close-delimited,
    Connection: close) leaves nothing to pool: the next request opens a new connection."""
    send(gw, "/services/Raw/echo")      # a pooled connection exists
    r1 = send(gw, "/services/Raw" + path[4:])
    assert r1.status_code == 200 and "answer" in r1.text, r1.text
    first = last(raw, path)["conn"]
    r2 = send(gw, "/services/Raw/echo")
    assert r2.status_code == 200 and "echo for X-WSS-User: alice" in r2.text, r2.text
    assert last(raw, "/raw/echo")["conn"] != first, "connection reused after " + path


# ------------------------------------------------------------------ item 2

@pytest.mark.parametrize("code", ["103", "102", "101", "100", "102,103,100", "102," * 16 + "103",
                                  "tls:102,103", "tls:101"])
def test_sec_interim_response_mixup(gw, raw, code):
    route = "/services/RawTls" if code.startswith("tls:") else "/services/Raw"
    code = code.replace("tls:", "")
    ra = send(gw, route + "/hints?code=" + code)
    # carol's request right after, on the connection alice's exchange used.
    rc = send(gw, route + "/echo", user="carol", password=CAROL_PW)
    assert "alice" not in rc.text, "carol got alice's answer: %r" % rc.text
    assert rc.status_code == 200 and "echo for X-WSS-User: carol" in rc.text, rc.text
    # alice gets her own final answer (the 1xx skipped, its headers too); a 101 (a protocol
    # switch nobody asked for) is the upstream-error fault. Never the 1xx as the answer.
    if code.endswith("101") or code.count(",") >= 16:
        wsg.assert_soap_fault(ra, 502, "Server", "Receiver")
    else:
        assert ra.status_code == 200, ra.text
        assert "private answer for X-WSS-User: alice" in ra.text
        assert "Link" not in ra.headers


# ------------------------------------------------------------------ item 4

SPOOFS = {"X_WSS_User": "admin", "X_WSS_Roles": "admins", "x-wss_user": "admin2",
          "X_wss-Roles": "admins2", "X_WSS_Anything": "1"}


def test_sec_identity_header_underscores(gw, raw):
    headers = dict(SPOOFS, **{"X-Custom_Thing": "under", "X-Plain": "kept"})
    r = send(gw, "/services/Raw/echo", headers=headers)
    assert r.status_code == 200, r.text
    e = last(raw, "/raw/echo")
    folded = [k.lower().replace("_", "-") for k in names(e)]
    assert [k for k in folded if k.startswith("x-wss-")] == ["x-wss-user", "x-wss-roles"], \
        "identity spoofs reached the upstream: %r" % e["headers"]
    assert header(e, "X-WSS-User") == ["alice"]
    assert header(e, "X-WSS-Roles") == ["echo-users"]
    assert not any("_" in k for k in names(e)), e["headers"]
    assert header(e, "X-Plain") == ["kept"]


def test_sec_identity_header_underscores_allowed(gw_allow, raw):
    headers = dict(SPOOFS, **{"X-Custom_Thing": "under"})
    r = send(gw_allow, "/services/Raw/echo", headers=headers)
    assert r.status_code == 200, r.text
    e = last(raw, "/raw/echo")
    folded = [k.lower().replace("_", "-") for k in names(e)]
    assert [k for k in folded if k.startswith("x-wss-")] == ["x-wss-user", "x-wss-roles"]
    assert header(e, "X-Custom_Thing") == ["under"]
    assert header(e, "X-WSS-User") == ["alice"]


def test_sec_underscores_config_check(configured, tmp_path):
    conf = open(configured.config).read()
    bad = conf.replace("security = {", "security = { underscores_in_headers = 3;", 1)
    path = tmp_path / "bad.conf"
    path.write_text(bad)
    r = configured.cli("--check-config", config=str(path))
    assert r.returncode != 0 and "underscores_in_headers" in r.err, r.err


# ------------------------------------------------------------------ item 5

BASIC = "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQ="    # admin:admin-password, never checked


def test_sec_authorization_forwarded(gw, raw):
    for path in ("/services/Raw/echo", "/services/RawEither/echo"):
        r = send(gw, path, headers={"Authorization": BASIC})
        assert r.status_code == 200, r.text
        e = last(raw, "/raw/echo")
        assert header(e, "Authorization") == [], \
            "%s: the upstream got the client's Authorization: %r" % (path, e["headers"])


def test_sec_authorization_forward_key(gw_allow, raw):
    r = send(gw_allow, "/services/RawAuth/echo", headers={"Authorization": BASIC})
    assert r.status_code == 200, r.text
    assert header(last(raw, "/raw/echo"), "Authorization") == [BASIC]


def test_sec_authorization_forward_key_basic_route(configured, tmp_path):
    conf = open(configured.config).read()
    route = wsg.route_config("b", "/services/B", "http://127.0.0.1:9/x",
                             extra=" forward_authorization = true;").replace(
        'auth = "wsse";', 'auth = "basic";')
    bad = conf.replace("routes = (\n", "routes = (\n" + route + ",\n", 1)
    path = tmp_path / "bad.conf"
    path.write_text(bad)
    r = configured.cli("--check-config", config=str(path))
    assert r.returncode != 0 and "forward_authorization" in r.err, r.err


# ------------------------------------------------------------------ item 6

def pct(s):
    return "".join(chr(b) if 0x21 <= b <= 0x7E and chr(b) not in "%," else "%%%02X" % b
                   for b in s.encode("utf-8"))


@pytest.fixture(scope="module")
def odd_users(configured):
    configured.cli_ok("role", "add", ODD_ROLE)
    for name, pw in ODD_USERS.items():
        configured.cli_ok("user", "add", name, "--role", "echo-users", stdin=pw + "\n")
    configured.cli_ok("role", "grant", "jürgen", ODD_ROLE)
    yield
    for name in ODD_USERS:
        configured.cli("user", "del", name)


def test_sec_identity_header_encoding(gw, raw, odd_users):
    assert pct("jürgen") == "j%C3%BCrgen" and pct("a,b%c") == "a%2Cb%25c"
    for name, pw in ODD_USERS.items():
        r = send(gw, "/services/Raw/echo", user=name, password=pw)
        assert r.status_code == 200, r.text
        e = last(raw, "/raw/echo")
        assert header(e, "X-WSS-User") == [pct(name)], (name, e["headers"])
        roles = header(e, "X-WSS-Roles")[0].split(",")
        want = ["echo-users"] + ([ODD_ROLE] if name == "jürgen" else [])
        assert sorted(roles) == sorted(pct(x) for x in want), (name, roles)
        assert sorted(urllib.parse.unquote(x) for x in roles) == sorted(want)
        assert urllib.parse.unquote(header(e, "X-WSS-User")[0]) == name
    # Plain ASCII names are unchanged.
    send(gw, "/services/Raw/echo")
    assert header(last(raw, "/raw/echo"), "X-WSS-User") == ["alice"]
