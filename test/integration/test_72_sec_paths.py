"""Issue 12, item 3: the route is matched on the normalised path and that same path is
forwarded (DESIGN 3.3).

A gateway with nested routes: /services (role echo-users, which alice has) and /services/Admin
(role admins, which she has not), and the same pair as Basic (REST) routes under /rest. Every
spelling of the Admin path that an upstream could read as Admin (percent-encoded unreserved
characters, repeated slashes, ;parameters, dot segments, encoded / and \\, absolute-form) must
either reach the Admin route's role check or be refused with 400; none may reach the upstream
through the shorter route. A request whose path normalises to a route is forwarded with the
normalised path. Request targets are sent as written (http.client), never cleaned by a client.
"""

import base64
import http.client
import re
import socket
import time

import pytest

import wsg

ALICE = wsg.USERS["alice"][0]


@pytest.fixture(scope="module")
def gw(configured, stub):
    up = "http://127.0.0.1:%d" % stub.port

    def admins(text):
        return text.replace('roles = ( "echo-users" )', 'roles = ( "admins" )')

    def basic(text):
        return text.replace('auth = "wsse"', 'auth = "basic"')

    routes = [
        wsg.route_config("svc", "/services", up + "/Echo"),
        admins(wsg.route_config("svc-admin", "/services/Admin", up + "/EchoAdmin")),
        basic(wsg.route_config("rest", "/rest", up + "/Rest")),
        basic(admins(wsg.route_config("rest-admin", "/rest/Admin", up + "/RestAdmin"))),
    ]
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw72",
                    config_kw={"extra_routes": routes})
    g.write_config()
    try:
        g.start()
        yield g
    finally:
        g.stop()


def send(gw, target, body=b"", method="POST", headers=None):
    """Sends target byte for byte as written (Latin-1); returns (status, type, body)."""
    head = ["%s %s HTTP/1.1" % (method, target), "Host: 127.0.0.1:%d" % gw.port,
            "Connection: close"]
    head += ["%s: %s" % kv for kv in (headers or {}).items()]
    if method == "POST":
        head.append("Content-Length: %d" % len(body))
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=30 * wsg.TIME_SCALE)
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        r = http.client.HTTPResponse(sock, method=method)
        r.begin()
        return r.status, r.getheader("Content-Type") or "", r.read()
    finally:
        sock.close()


def soap(gw, target, m, soap12=False):
    return send(gw, target, wsg.build("alice", message=m, soap12=soap12).encode("utf-8"),
                headers=wsg.wsse_request.headers_for(soap12))


class Resp:
    """Enough of a requests.Response for wsg's fault helpers."""

    def __init__(self, status, ctype, content):
        self.status_code, self.content = status, content
        self.headers = {"Content-Type": ctype}


# Spellings of /services/Admin that an upstream may serve as Admin, refused with 400.
REFUSED = [
    "/services/Admin;x=1",             # ;params: Tomcat, Jetty and Spring strip them
    "/services/Admin;",
    "/services;x/Admin",
    "/services/Admin%3bx=1",           # an encoded ';' that a decode-then-split upstream splits
    "/services/./Admin",
    "/services/%2e/Admin",
    "/services/%2E%2e/services/Admin",
    "/services/x/../Admin",
    "/services/x/%2e%2e/Admin",
    "/services/Admin/.",
    "/services/Admin%2Fx",             # an encoded '/' that a decoding upstream splits on
    "/services/%2fAdmin",
    "/services/Admin%5Cx",
    "/services\\Admin",
    "/services/Admin%00",
    "/services/Admin%2500",            # an encoded '%': double decoding gives %00 / %41
    "/services/%2541dmin",
    "/services/%4",                    # invalid percent-encoding
    "/services/%zzAdmin",
]

# Refused by the HTTP layer (src/h1.c, src/conn.c) before the gateway sees them (plain 400).
# Issue 14 made it strict: control and non-ASCII bytes, fragments, "*" but for OPTIONS, other
# schemes, and an absolute-form host that is not the Host header's never reach the routes.
REFUSED_BY_HTTP = [
    "127.0.0.1:1",                     # authority-form
    "/services/Adm\x7fin",
    "/services/Adm\xe9in",             # raw non-ASCII byte (http.client sends Latin-1)
    "/services/Admin#frag",
    "*",
    "ftp://127.0.0.1/services/Admin",
    "HTTP://elsewhere.example/services//Admin?x=1",  # Host: 127.0.0.1:port
]

# Spellings that normalise to /services/Admin, so the Admin route's roles decide (alice: no).
TO_ADMIN = [
    "/services/%41dmin",
    "/services/%41%64%6d%69%6E",
    "/services//Admin",
    "/services///Admin/",
    "//services/Admin",                # not an authority: origin-form starts with "/"
    "/services/Admin/",
    "http://127.0.0.1/services/%41dmin",  # absolute-form: only its path counts
    "HTTP://127.0.0.1:1/services//Admin?x=1",  # its host is the Host header's (ports aside)
]


def test_sec_path_normalisation_bypass(gw, stub):
    """Nothing reaches the upstream through /services that an upstream could read as Admin."""
    answers, leaked = {}, []
    for target in REFUSED + REFUSED_BY_HTTP + TO_ADMIN:
        m = wsg.marker()
        answers[target] = soap(gw, target, m)
        if answers[target][0] == 200 or stub.find(m):
            leaked.append((target, answers[target][0]))
    assert leaked == [], "reached the upstream through the shorter route: %r" % leaked
    for target, (status, ctype, body) in answers.items():
        if target in REFUSED_BY_HTTP:
            assert status == 400, (target, status, body[:300])
        elif target in REFUSED:
            assert status == 400, (target, status, body[:300])
            assert wsg.parse_fault(body) is not None, (target, body[:300])
            wsg.assert_soap_fault(Resp(status, ctype, body), 400, "Client", "Sender")
        else:
            wsg.assert_wss_fault(Resp(status, ctype, body), "FailedAuthentication")


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_sec_path_refusal_is_a_client_fault_in_the_request_version(gw, stub, soap12):
    m = wsg.marker()
    status, ctype, body = soap(gw, "/services/Admin;x=1", m, soap12=soap12)
    wsg.assert_soap_fault(Resp(status, ctype, body), 400, "Client", "Sender", soap12=soap12)
    assert ctype.startswith("application/soap+xml" if soap12 else "text/xml"), ctype
    assert stub.find(m) == []


def test_sec_path_normalised_path_is_forwarded(gw, stub):
    """The upstream receives exactly the normalised path; the query is passed as sent."""
    cases = [
        # target, route's upstream path + normalised rest
        ("/services/Ech%6F/op%3a1?q=%41;b", "/Echo/op%3A1?q=%41;b"),
        ("/services//Ech%6f//x%7E%2d", "/Echo/x~-"),
        ("/services/%41dmin-x", "/Echo/Admin-x"),
        ("/services/Admin%20x", "/Echo/Admin%20x"),
        ("http://127.0.0.1/services/%45cho", "/Echo"),
    ]
    for target, forwarded in cases:
        m = wsg.marker()
        status, _, body = soap(gw, target, m)
        assert status == 200, (target, status, body[:300])
        rec = stub.find(m)
        assert [r["path"] for r in rec] == [forwarded], (target, rec)


def basic_get(gw, target):
    cred = base64.b64encode(("alice:" + ALICE).encode("utf-8")).decode("ascii")
    return send(gw, target, method="GET", headers={"Authorization": "Basic " + cred})


def test_sec_path_basic_routes_are_normalised(gw, stub):
    for path, status in [("/rest/%41dmin", 401), ("/rest//Admin", 401), ("/rest/Admin;x", 400),
                         ("/rest/%2e/Admin", 400), ("/rest/Admin%2F", 400)]:
        m = wsg.marker()
        got, _, body = basic_get(gw, "%s?m=%s" % (path, m))
        assert got == status, (path, got, body[:300])
        assert [r for r in stub.requests() if m in r["path"]] == [], path
    m = wsg.marker()
    got, _, _ = basic_get(gw, "/rest//x%2d%41?m=" + m)
    assert [r["path"] for r in stub.requests() if m in r["path"]] == ["/Rest/x-A?m=" + m]


def test_sec_path_refusal_is_audited(gw, stub):
    m = wsg.marker()
    status, _, _ = soap(gw, "/services/Admin%2F" + m, m)
    assert status == 400
    deadline = time.monotonic() + 10 * wsg.TIME_SCALE
    while time.monotonic() < deadline:
        with open(gw.audit_log, encoding="utf-8", errors="replace") as f:
            lines = [ln for ln in f if re.search(r"bad_path", ln)]
        if any("encoded" in ln and "/" in ln for ln in lines):
            break
        time.sleep(0.1)
    assert any("encoded" in ln for ln in lines), lines
    assert m not in "".join(lines)  # the audit line names the reason, not the path


def test_sec_path_overlong_target_is_refused(gw, stub):
    """A request line over limits.max_header_size never reaches routing."""
    m = wsg.marker()
    try:
        status, _, _ = soap(gw, "/services/Echo/" + "a" * 70000, m)
    except (ConnectionError, http.client.HTTPException):
        status = None
    assert status in (None, 400, 413, 414, 431)
    assert stub.find(m) == []
    m = wsg.marker()
    status, _, _ = soap(gw, "/services/Echo/" + "a/" * 4000, m)
    assert status == 200 and len(stub.find(m)) == 1
