"""Issue 16, item 1 (the rest): wsdl = "upstream", wsdl_auth, public_url_from_host, HEAD, and
node-soap and suds as clients built from the gateway's ?wsdl URL only.

A private stub upstream (test/upstream/stub_upstream.py --wsdl-dir) publishes its own WSDL at
/Echo?wsdl, whose types come through a two-level xsd:import chain at /wsdl-files/..., one import
written as an absolute URL, one relative. The gateway fetches it on its worker's loop, rewrites
it like a local WSDL, keeps it for wsdl_ttl seconds, fetches again after SIGHUP, and serves the
last copy with a warning while the upstream is down. Imports outside the upstream's origin and
hostile documents (DOCTYPE, entity expansion, too deep, too large, and every file of the
request corpus test/data/hostile/, as the WSDL and as an imported schema) are refused: logged,
never served.
"""

import lzma
import os
import re
import shutil
import signal
import time

import pytest
import requests
from lxml import etree
from suds.client import Client as SudsClient
from suds.wsse import Security, UsernameToken as SudsToken
from zeep import Client
from zeep.wsse.username import UsernameToken

import wsg
import zeep_util
from test_70_hostile import CORPUS, CORPUS_DIR, LARGE

ECHO_WSDL = os.path.join(wsg.TOP_SRC, "test", "data", "echo.wsdl")
CHAIN = os.path.join(wsg.TOP_SRC, "test", "data", "wsdl-chain")
NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/",
      "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
      "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
      "xsd": "http://www.w3.org/2001/XMLSchema"}
ALLOWED = "soap.example.com"
ALLOWED_PORT = "soap.example.com:8443"


class WsdlStub(wsg.Stub):
    """A stub upstream of its own (stopped by one test) publishing the WSDL files of `wsdl_dir`."""

    def __init__(self, workdir, wsdl_dir):
        super().__init__(workdir)
        self.wsdl_dir = wsdl_dir

    def start(self):
        out = os.path.join(self.dir, "stub87.stdout")
        self.proc = wsg.Proc("stub87", [wsg.PYTHON, wsg.STUB, "--host", "127.0.0.1", "--port",
                                        "0", "--wsdl-dir", self.wsdl_dir], self.dir, stdout=out)

        def bound():
            m = re.search(r"listening on [\d.]+:(\d+)", open(out).read())
            if m:
                self.port = int(m.group(1))
            return m is not None
        wsg.wait_for("stub87", bound, 20, self.proc)
        wsg.wait_for("stub87", lambda: wsg.port_open(self.port), 20, self.proc)

    def gets(self, path):
        return [r for r in self.requests() if r["method"] == "GET" and r["path"] == path]


def write(d, name, text):
    path = os.path.join(d, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def chain_wsdl(service="EchoService"):
    """The chain WSDL as the upstream publishes it: its first import an absolute URL."""
    with open(os.path.join(CHAIN, "echo.wsdl")) as f:
        text = f.read()
    return text.replace('schemaLocation="xsd/echo.xsd"',
                        'schemaLocation="@ORIGIN@/wsdl-files/xsd/echo.xsd"').replace(
        'name="EchoService"', 'name="%s"' % service)


def small_wsdl(extra="", service="S"):
    return ('<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">%s'
            '<wsdl:service name="%s"/></wsdl:definitions>' % (extra, service))


def xsd_import(loc):
    return ('<wsdl:types><xsd:schema targetNamespace="urn:w"><xsd:import namespace="urn:x" '
            'schemaLocation="%s"/></xsd:schema></wsdl:types>' % loc)


HOSTILE = {
    # name: (file text, words of the logged reason)
    "Doctype": ('<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + small_wsdl("&e;"),
                "DOCTYPE"),
    "Laughs": ('<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
               '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>' + small_wsdl("<x>&c;</x>"),
               "DOCTYPE"),
    "Deep": (small_wsdl("<wsdl:documentation>" + "<a>" * 150 + "</a>" * 150 +
                        "</wsdl:documentation>"), "max_depth"),
    "Huge": (small_wsdl("<wsdl:documentation>" + "x" * 70000 + "</wsdl:documentation>"),
             "too large"),
    # The hostile part in an imported schema, fetched by the second round.
    "DeepImport": (small_wsdl(xsd_import("/wsdl-files/deep.xsd")), "max_depth"),
}


@pytest.fixture(scope="module")
def up(configured, stub):
    d = os.path.join(configured.dir, "stub87-wsdl")
    shutil.rmtree(d, ignore_errors=True)
    write(d, "Echo.wsdl", chain_wsdl())
    os.makedirs(os.path.join(d, "xsd"))
    shutil.copy(os.path.join(CHAIN, "xsd", "echo.xsd"), os.path.join(d, "xsd", "echo.xsd"))
    shutil.copy(os.path.join(CHAIN, "xsd", "text.xsd"), os.path.join(d, "xsd", "text.xsd"))
    write(d, "Ttl.wsdl", small_wsdl(service="TtlV1"))
    write(d, "Never.wsdl", small_wsdl(service="Never"))
    write(d, "deep.xsd", '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema">' +
          "<xsd:annotation>" * 150 + "</xsd:annotation>" * 150 + "</xsd:schema>")
    for name, (text, _) in HOSTILE.items():
        write(d, name + ".wsdl", text)
    # The request corpus of test_70_hostile as upstream documents: each as the WSDL itself
    # (/H<i>?wsdl) and as a schema it imports (/I<i>?wsdl).
    os.makedirs(os.path.join(d, "hostile"))
    for i, name in enumerate(sorted(CORPUS)):
        opener = lzma.open if name.endswith(".xz") else open
        with opener(os.path.join(CORPUS_DIR, name), "rb") as f, \
                open(os.path.join(d, "H%d.wsdl" % i), "wb") as o:
            data = f.read()
            o.write(data)
        with open(os.path.join(d, "hostile", name), "wb") as o:
            o.write(data)
        write(d, "I%d.wsdl" % i, small_wsdl(xsd_import("/wsdl-files/hostile/" + name)))
    s = WsdlStub(configured.dir, d)
    s.start()
    s.dir_path = d
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def gw(configured, up):
    upo = "http://127.0.0.1:%d" % up.port
    g = wsg.Gateway(configured.dir, configured.db, configured.stub, name="gw87u",
                    config_kw={"workers": 1})
    # Off-origin: the same host on another port is another origin.
    write(up.dir_path, "Off.wsdl", small_wsdl(xsd_import("http://127.0.0.1:%d/x.xsd"
                                                         % g.down_port)))

    def r(name, path, upath, extra):
        return wsg.route_config(name, path, upo + upath, extra=extra)
    routes = [
        r("wup", "/services/WUp", "/Echo",
          ' wsdl = "upstream"; public_url_from_host = true;'
          ' public_url_hosts = ( "%s" );' % ALLOWED_PORT),
        r("wttl", "/services/WTtl", "/Ttl", ' wsdl = "upstream"; wsdl_ttl = 2;'),
        r("wnever", "/services/WNever", "/Never", ' wsdl = "upstream";'),
        r("woff", "/services/WOff", "/Off", ' wsdl = "upstream";'),
        wsg.route_config("wdown", "/services/WDown", "http://127.0.0.1:%d/Echo" % g.down_port,
                         extra=' wsdl = "upstream";'),
        wsg.route_config("wlocal", "/services/WLocal",
                         "http://127.0.0.1:%d/Echo" % configured.stub.port,
                         extra=' wsdl = "%s";' % ECHO_WSDL),
        wsg.route_config("wbasic", "/services/WBasic",
                         "http://127.0.0.1:%d/Echo" % configured.stub.port,
                         extra=' wsdl = "%s"; wsdl_auth = "basic";' % ECHO_WSDL),
        r("wrole", "/services/WRole", "/Echo", ' wsdl = "upstream"; wsdl_auth = "route";'),
        r("wval", "/services/WVal", "/Echo", ' wsdl = "upstream"; validate = "wsdl";'),
        wsg.route_config("wvaldown", "/services/WValDown",
                         "http://127.0.0.1:%d/Echo" % g.down_port,
                         extra=' wsdl = "upstream"; validate = "wsdl";'),
        # Reading the WSDL is no operation: the route's roles, not operations_only.
        wsg.route_config("wropsonly", "/services/WRoleOps",
                         "http://127.0.0.1:%d/Echo" % configured.stub.port,
                         extra=' wsdl = "%s"; wsdl_auth = "route"; operations_only = true;'
                               ' operations = ( { name = "Echo"; roles = ( "admins" ); } );'
                               % ECHO_WSDL),
        wsg.route_config("whost", "/services/WHost",
                         "http://127.0.0.1:%d/Echo" % configured.stub.port,
                         extra=' wsdl = "%s"; public_url = "https://gw.example.org/svc/Echo";'
                               ' public_url_from_host = true;'
                               ' public_url_hosts = ( "%s", "%s" );'
                               % (ECHO_WSDL, ALLOWED, ALLOWED_PORT)),
    ] + [r("w" + n.lower(), "/services/W" + n, "/" + n, ' wsdl = "upstream";') for n in HOSTILE] + [
        r("%s%d" % (k.lower(), i), "/services/%s%d" % (k, i), "/%s%d" % (k, i),
          ' wsdl = "upstream";') for i in range(len(CORPUS)) for k in "HI"]
    g.config_kw["extra_routes"] = routes
    g.write_config()
    try:
        g.start()
        yield g
    finally:
        g.stop()


def get(url, **kw):
    kw.setdefault("timeout", 30 * wsg.TIME_SCALE)
    return wsg.http_session().get(url, **kw)


def locations(content):
    root = etree.fromstring(content)
    return root.xpath("//soap:address/@location | //soap12:address/@location", namespaces=NS)


def wait_log(g, text, count=1, timeout=10):
    wsg.wait_for(text, lambda: g.proc.stderr_text().count(text) >= count, timeout, g.proc)


def sighup(g):
    what = "configuration reloaded from"
    n = g.proc.stderr_text().count(what)
    g.proc.popen.send_signal(signal.SIGHUP)
    wait_log(g, what, n + 1, 20)
    time.sleep(0.3 * wsg.TIME_SCALE)


# ---------------------------------------------------------------- wsdl = "upstream"

@pytest.mark.parametrize("port", ["EchoSoap11Port", "EchoSoap12Port"])
def test_zeep_from_upstream_wsdl(gw, up, port):
    client = Client(gw.url("/services/WUp?wsdl"), transport=zeep_util.CapturingTransport(),
                    wsse=UsernameToken("alice", wsg.USERS["alice"][0], use_digest=True))
    m = wsg.marker()
    assert client.bind("EchoService", port).Echo(message=m) == m
    rec = up.find(m)
    assert len(rec) == 1 and rec[0]["path"] == "/Echo"
    assert "UsernameToken" not in rec[0]["body"]


def test_soapaction_checked_against_upstream_wsdl(gw, up):
    """The actions the fetched WSDL declares are checked as a local WSDL's are: one that names
    another or no operation is refused and never forwarded; the declared one passes."""
    for action, status in (('"urn:example:echo/Nope"', 500), ('"urn:example:echo/Echo"', 200)):
        m = wsg.marker()
        r = wsg.post(gw.url("/services/WUp"), wsg.build("alice", message=m),
                     headers={"SOAPAction": action})
        assert r.status_code == status, (action, r.status_code, r.text[:300])
        seen = [q for q in up.requests() if m in q["body"]]
        if status == 500:
            assert b"Client" in r.content and seen == []
        else:
            assert len(seen) == 1


def test_request_without_upstream_wsdl_fails_closed(gw):
    """No WSDL was ever fetched: the action cannot be checked, so nothing is forwarded."""
    r = wsg.post(gw.url("/services/WDown"), wsg.build("alice", message=wsg.marker()),
                 headers={"SOAPAction": '"urn:example:echo/Echo"'})
    assert r.status_code == 502 and b"Server" in r.content


def test_upstream_documents_rewritten_and_cached(gw, up):
    w = get(gw.url("/services/WUp?wsdl"))
    assert w.status_code == 200 and w.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert locations(w.content) == [gw.url("/services/WUp")] * 2
    assert b"@ORIGIN@" not in w.content and str(up.port).encode() not in w.content
    root = etree.fromstring(w.content)
    assert root.xpath("//xsd:import/@schemaLocation", namespaces=NS) == [
        gw.url("/services/WUp?xsd=1")]
    x1 = get(gw.url("/services/WUp?xsd=1"))
    assert etree.fromstring(x1.content).xpath("//xsd:import/@schemaLocation", namespaces=NS) == [
        gw.url("/services/WUp?xsd=2")]
    x2 = get(gw.url("/services/WUp?xsd=2"))
    assert etree.fromstring(x2.content).xpath("//xsd:simpleType/@name", namespaces=NS) == ["Text"]
    assert get(gw.url("/services/WUp?xsd=3")).status_code == 404
    # The relative import was resolved against the importing schema's URL; one worker
    # fetched each document once, and serves its copy from memory since.
    for path in ("/Echo?wsdl", "/wsdl-files/xsd/echo.xsd", "/wsdl-files/xsd/text.xsd"):
        assert len(up.gets(path)) == 1, path
    assert up.gets("/Echo?wsdl")[0]["headers"]
    assert not [h for h in up.gets("/Echo?wsdl")[0]["headers"] if h[0].lower() == "authorization"]


def test_validate_against_upstream_wsdl(gw, up):
    """(After the test above, which counts the upstream's GETs.) validate = "wsdl" compiles the schemas of each fetched copy (through its two-level
    import chain) and checks Bodies with them, as with a local WSDL."""
    m = wsg.marker()
    r = wsg.post(gw.url("/services/WVal"), wsg.build("alice", message=m))
    assert r.status_code == 200, r.text[:300]
    bad = wsg.marker()
    xml = wsg.build("alice", message=bad).replace("</e:Echo>", "<e:bogus/></e:Echo>")
    r = wsg.post(gw.url("/services/WVal"), xml)
    assert r.status_code == 500 and b"Schema validation failed" in r.content, r.text[:300]
    assert [q for q in up.requests() if bad in q["body"]] == []
    assert [q for q in up.requests() if m in q["body"]] != []


def test_validate_without_upstream_wsdl_fails_closed(gw):
    r = wsg.post(gw.url("/services/WValDown"), wsg.build("alice", message=wsg.marker()))
    assert r.status_code == 502 and b"Server" in r.content


def test_off_origin_import_refused(gw):
    r = get(gw.url("/services/WOff?wsdl"))
    assert r.status_code == 502
    assert b"definitions" not in r.content
    wait_log(gw, "route woff: cannot fetch its WSDL")
    log = gw.proc.stderr_text()
    assert "lies outside the upstream's origin" in log
    assert "127.0.0.1:%d/x.xsd" % gw.down_port in log


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_upstream_documents_refused(gw, name):
    t0 = time.monotonic()
    r = get(gw.url("/services/W%s?wsdl" % name))
    assert r.status_code == 502, r.text[:200]
    assert b"aaaaaaaaaa" not in r.content and b"root:" not in r.content
    assert time.monotonic() - t0 < 10 * wsg.TIME_SCALE
    wait_log(gw, "route w%s: cannot fetch its WSDL" % name.lower())
    line = [x for x in gw.proc.stderr_text().splitlines()
            if "route w%s: cannot fetch" % name.lower() in x][-1]
    assert HOSTILE[name][1] in line, line
    assert gw.proc.alive()


@pytest.mark.parametrize("how", ["wsdl", "import"])
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_corpus_as_upstream_documents(gw, name, how):
    i = sorted(CORPUS).index(name)
    route = ("h%d" if how == "wsdl" else "i%d") % i
    r = get(gw.url("/services/%s%d?wsdl" % (route[0].upper(), i)))
    assert r.status_code == 502, (name, r.status_code, r.text[:200])
    assert b"root:" not in r.content
    wait_log(gw, "route %s: cannot fetch its WSDL" % route)
    line = [x for x in gw.proc.stderr_text().splitlines()
            if "route %s: cannot fetch" % route in x][-1]
    kind, reason = CORPUS[name]
    assert re.search(reason if kind != LARGE else "too large", line, re.I), line
    if how == "import":
        assert "/wsdl-files/hostile/" + name in line, line
    assert gw.proc.alive()


def test_wsdl_ttl_refresh(gw, up):
    assert 'name="TtlV1"' in get(gw.url("/services/WTtl?wsdl")).text
    n = len(up.gets("/Ttl?wsdl"))
    write(up.dir_path, "Ttl.wsdl", small_wsdl(service="TtlV2"))
    # Within wsdl_ttl the copy is served without asking the upstream.
    assert 'name="TtlV1"' in get(gw.url("/services/WTtl?wsdl")).text
    assert len(up.gets("/Ttl?wsdl")) == n
    time.sleep(2.5)
    assert 'name="TtlV2"' in get(gw.url("/services/WTtl?wsdl")).text
    assert len(up.gets("/Ttl?wsdl")) == n + 1


def test_sighup_refresh(gw, up):
    assert 'name="EchoService"' in get(gw.url("/services/WUp?wsdl")).text
    write(up.dir_path, "Echo.wsdl", chain_wsdl("EchoServiceV2"))
    try:
        assert 'name="EchoService"' in get(gw.url("/services/WUp?wsdl")).text
        sighup(gw)
        assert 'name="EchoServiceV2"' in get(gw.url("/services/WUp?wsdl")).text
    finally:
        write(up.dir_path, "Echo.wsdl", chain_wsdl())
        sighup(gw)
    assert 'name="EchoService"' in get(gw.url("/services/WUp?wsdl")).text


def test_upstream_never_reached(gw):
    r = get(gw.url("/services/WDown?wsdl"))
    assert r.status_code == 502
    wait_log(gw, "route wdown: cannot fetch its WSDL")
    assert "nothing to serve yet" in gw.proc.stderr_text()


# ---------------------------------------------------------------- HEAD

@pytest.mark.parametrize("path", ["/services/WLocal?wsdl", "/services/WUp?wsdl",
                                  "/services/WUp?xsd=2"])
def test_head(gw, path):
    g = get(gw.url(path))
    h = wsg.http_session().head(gw.url(path), timeout=30)
    assert h.status_code == 200 and h.content == b""
    assert h.headers["Content-Type"] == g.headers["Content-Type"]
    assert h.headers["Content-Length"] == g.headers["Content-Length"] == str(len(g.content))
    assert wsg.http_session().head(gw.url("/services/WUp?xsd=9"), timeout=30).status_code == 404


# ---------------------------------------------------------------- wsdl_auth

AUTH_CASES = [  # (path, credentials, status)
    ("/services/WBasic", None, 401),
    ("/services/WBasic", ("alice", "wrong-password-1"), 401),
    ("/services/WBasic", ("nobody-87", "x"), 401),
    ("/services/WBasic", ("alice", wsg.USERS["alice"][0]), 200),
    ("/services/WBasic", ("bob", wsg.USERS["bob"][0]), 200),  # any user: no role needed
    ("/services/WRole", None, 401),
    ("/services/WRole", ("bob", wsg.USERS["bob"][0]), 401),  # lacks echo-users
    ("/services/WRole", ("alice", wsg.USERS["alice"][0]), 200),
    ("/services/WLocal", None, 200),  # wsdl_auth = "none"
    ("/services/WRoleOps", ("alice", wsg.USERS["alice"][0]), 200),
    ("/services/WRoleOps", ("bob", wsg.USERS["bob"][0]), 401),
]


@pytest.mark.parametrize("path,cred,status", AUTH_CASES)
def test_wsdl_auth(gw, path, cred, status):
    for q in ("?wsdl", "?xsd=1" if path == "/services/WRole" else "?WSDL"):
        r = get(gw.url(path + q), auth=cred)
        assert r.status_code == status, (path, q, cred, r.status_code, r.text[:200])
        if status == 401:
            assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
            assert b"definitions" not in r.content and b"schema" not in r.content
        else:
            assert r.headers["Content-Type"] == "text/xml; charset=utf-8"


def test_wsdl_auth_head(gw):
    h = wsg.http_session().head(gw.url("/services/WBasic?wsdl"), timeout=30)
    assert h.status_code == 401 and h.headers["WWW-Authenticate"].startswith("Basic")


def test_wsdl_auth_does_not_open_the_service(gw, stub):
    # Basic credentials read the WSDL; the wsse route still wants a UsernameToken.
    r = wsg.post(gw.url("/services/WBasic"), wsg.build("alice", message=wsg.marker()))
    assert r.status_code == 200
    r = requests.post(gw.url("/services/WBasic"), data="<x/>",
                      auth=("alice", wsg.USERS["alice"][0]),
                      headers={"Content-Type": "text/xml"}, timeout=30)
    assert r.status_code != 200


# ---------------------------------------------------------------- public_url_from_host

HOST_CASES = [  # (Host header, address written)
    (ALLOWED, "https://soap.example.com/svc/Echo"),
    ("SOAP.Example.COM", "https://soap.example.com/svc/Echo"),
    (ALLOWED_PORT, "https://soap.example.com:8443/svc/Echo"),
    ("evil.example.net", "https://gw.example.org/svc/Echo"),
    ("soap.example.com:9999", "https://gw.example.org/svc/Echo"),
    ("soap.example.com.evil.example.net", "https://gw.example.org/svc/Echo"),
    (None, "https://gw.example.org/svc/Echo"),
]


@pytest.mark.parametrize("host,want", HOST_CASES)
def test_public_url_from_host(gw, host, want):
    headers = {"Host": host} if host else {}
    r = get(gw.url("/services/WHost?wsdl"), headers=headers)
    assert r.status_code == 200
    assert locations(r.content) == [want] * 2
    if host and "evil" in host:
        assert b"evil" not in r.content


def test_public_url_from_host_upstream(gw):
    r = get(gw.url("/services/WUp?wsdl"), headers={"Host": ALLOWED_PORT})
    port = str(gw.port)
    assert locations(r.content) == ["http://%s/services/WUp" % ALLOWED_PORT] * 2
    assert port not in r.text
    x1 = get(gw.url("/services/WUp?xsd=1"), headers={"Host": ALLOWED_PORT})
    assert "http://%s/services/WUp?xsd=2" % ALLOWED_PORT in x1.text
    r = get(gw.url("/services/WUp?wsdl"), headers={"Host": "evil.example.net"})
    assert locations(r.content) == [gw.url("/services/WUp")] * 2


# ---------------------------------------------------------------- node-soap and suds

@pytest.mark.parametrize("path", ["/services/WLocal", "/services/WUp"])
@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_node_soap_from_gateway_wsdl(gw, stub, up, path, soap12):
    m = wsg.marker()
    res = wsg.node_client({"wsdl": gw.url(path + "?wsdl"), "user": "alice",
                           "password": wsg.USERS["alice"][0], "passwordType": "PasswordDigest",
                           "hasTimeStamp": False, "hasNonce": True, "soap12": soap12,
                           "message": m})
    assert res["ok"], res
    assert res["result"] == {"message": m}
    assert "#PasswordDigest" in res["lastRequest"]
    rec = (up if path == "/services/WUp" else stub).find(m)
    assert len(rec) == 1
    assert wsg.header_values(rec[0], "X-WSS-User") == ["alice"]


@pytest.mark.parametrize("path", ["/services/WLocal", "/services/WUp"])
def test_suds_from_gateway_wsdl(gw, stub, up, path):
    # suds has no PasswordDigest of its own: a PasswordText token with a nonce.
    client = SudsClient(gw.url(path + "?wsdl"), cache=None, port="EchoSoap11Port")
    sec = Security()
    tok = SudsToken("alice", wsg.USERS["alice"][0])
    tok.setnonce()
    tok.setcreated()
    sec.tokens.append(tok)
    client.set_options(wsse=sec)
    assert client.wsdl.services[0].ports[0].location == gw.url(path)
    m = wsg.marker()
    assert client.service.Echo(message=m) == m
    rec = (up if path == "/services/WUp" else stub).find(m)
    assert len(rec) == 1
    assert wsg.header_values(rec[0], "X-WSS-User") == ["alice"]
    assert "UsernameToken" not in rec[0]["body"]


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("extra,key,needle", [
    (' wsdl = "upstream"; wsdl_ttl = 0;', "wsdl_ttl", "out of range"),
    (' wsdl = "%s"; wsdl_ttl = 60;' % ECHO_WSDL, "wsdl_ttl", 'wsdl = "upstream"'),
    (' wsdl_auth = "basic";', "wsdl_auth", "a route with wsdl"),
    (' wsdl = "upstream"; wsdl_auth = "digest";', "wsdl_auth", "not one of"),
    (' wsdl = "upstream"; public_url_from_host = true;', "public_url_from_host",
     "needs public_url_hosts"),
    (' wsdl = "upstream"; public_url_hosts = ( "a.example.com" );', "public_url_hosts",
     "public_url_from_host = true"),
    (' wsdl = "upstream"; public_url_from_host = true; public_url_hosts = ( "a.example/x" );',
     r"public_url_hosts\.\[0\]", "not host or host:port"),
    (' wsdl = "upstream"; public_url_from_host = true; public_url_hosts = ( "u@a.example" );',
     r"public_url_hosts\.\[0\]", "host"),
    (' wsdl = "upstream"; public_url_from_host = true; public_url_hosts = ( "a:99999" );',
     r"public_url_hosts\.\[0\]", "port 1..65535"),
], ids=["ttl-range", "ttl-local", "auth-nowsdl", "auth-choice", "fromhost-nohosts",
        "hosts-nofromhost", "host-slash", "host-userinfo", "host-port"])
def test_check_config_refuses(configured, extra, key, needle):
    text = wsg.gateway_config(configured.port, configured.db, configured.stub.port,
                              configured.down_port, extra_routes=[
                                  wsg.route_config("bad", "/services/Bad", "http://127.0.0.1:1/E",
                                                   extra=extra)])
    path = os.path.join(configured.dir, "gw87u-bad.conf")
    with open(path, "w") as f:
        f.write(text)
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 1, (r.returncode, r.err)
    assert re.search(r"gw87u-bad\.conf:\d+: routes\.\[8\]\.%s" % key, r.err), r.err
    assert needle in r.err, r.err


def test_check_config_accepts(gw):
    r = gw.cli("--check-config")
    assert r.returncode == 0, r.err


# ---------------------------------------------------------------- upstream down (last: stops it)

def test_upstream_down_after_first_fetch_serves_stale(gw, up):
    first = get(gw.url("/services/WTtl?wsdl"))
    assert first.status_code == 200
    up.stop()
    time.sleep(2.5)  # past wsdl_ttl
    for _ in range(2):
        r = get(gw.url("/services/WTtl?wsdl"))
        assert r.status_code == 200 and r.content == first.content
    wait_log(gw, "route wttl: cannot fetch its WSDL from the upstream")
    line = [x for x in gw.proc.stderr_text().splitlines()
            if "route wttl: cannot fetch" in x][-1]
    assert "warning" in line and "serving the copy fetched" in line, line
    # A route whose WSDL was never fetched has nothing to serve.
    r = get(gw.url("/services/WNever?wsdl"))
    assert r.status_code == 502
    assert b"definitions" not in r.content
