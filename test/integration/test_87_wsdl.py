"""Issue 16, item 1 (local WSDL files): GET <route path>?wsdl publishes the route's WSDL with
its addresses and imports pointing at the gateway.

zeep builds its client from the gateway's ?wsdl URL only (no local WSDL) and calls the service
through the gateway with a UsernameToken: once for test/data/echo.wsdl on a route with the
default public URL (from the listener), once for test/data/wsdl-chain/echo.wsdl, whose types come
through a two-level xsd:import chain, on a route with public_url set. ?wsdl needs no credentials;
every other GET keeps today's answer; --check-config refuses bad wsdl / public_url values.
"""

import os
import re
import signal
import time

import pytest
import requests
from lxml import etree
from zeep import Client
from zeep.wsse.username import UsernameToken

import wsg
import zeep_util

ECHO_WSDL = os.path.join(wsg.TOP_SRC, "test", "data", "echo.wsdl")
CHAIN_WSDL = os.path.join(wsg.TOP_SRC, "test", "data", "wsdl-chain", "echo.wsdl")
WSDL_NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/",
           "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
           "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
           "xsd": "http://www.w3.org/2001/XMLSchema"}


@pytest.fixture(scope="module")
def gw(configured, stub):
    up = "http://127.0.0.1:%d" % stub.port
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw87")
    # A public URL the gateway answers at, so that zeep's calls come back to it.
    g.chain_url = "http://localhost:%d/services/WChain" % g.port
    g.config_kw["extra_routes"] = [
        wsg.route_config("wecho", "/services/WEcho", up + "/Echo",
                         extra=' wsdl = "%s";' % ECHO_WSDL),
        wsg.route_config("wchain", "/services/WChain", up + "/Echo",
                         extra=' wsdl = "%s"; public_url = "%s";' % (CHAIN_WSDL, g.chain_url)),
    ]
    g.write_config()
    try:
        g.start()
        yield g
    finally:
        g.stop()


def get(url):
    return wsg.http_session().get(url, timeout=30 * wsg.TIME_SCALE)


def check_upstream_saw(stub, m):
    rec = stub.find(m)
    assert len(rec) == 1, "upstream saw %d requests with the marker" % len(rec)
    assert [wsg.header_text(v) for v in wsg.header_values(rec[0], "X-WSS-User")] == ["alice"]
    assert "UsernameToken" not in rec[0]["body"]


def zeep_client(url, use_digest=True):
    transport = zeep_util.CapturingTransport()
    token = UsernameToken("alice", wsg.USERS["alice"][0], use_digest=use_digest)
    return Client(url, transport=transport, wsse=token)


@pytest.mark.parametrize("port", ["EchoSoap11Port", "EchoSoap12Port"])
def test_zeep_from_gateway_wsdl_default_public_url(gw, stub, port):
    client = zeep_client(gw.url("/services/WEcho?wsdl"))
    svc = client.bind("EchoService", port)
    m = wsg.marker()
    assert svc.Echo(message=m) == m
    check_upstream_saw(stub, m)


@pytest.mark.parametrize("port", ["EchoSoap11Port", "EchoSoap12Port"])
def test_zeep_from_gateway_wsdl_import_chain(gw, stub, port):
    # .NET-style ?WSDL; the schemas come from ?xsd=1 and ?xsd=2 of the gateway.
    client = zeep_client(gw.chain_url + "?WSDL", use_digest=(port == "EchoSoap11Port"))
    svc = client.bind("EchoService", port)
    m = wsg.marker()
    assert svc.Echo(message=m) == m
    check_upstream_saw(stub, m)


def test_wsdl_rewritten_without_credentials(gw):
    r = get(gw.url("/services/WEcho?wsdl"))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = etree.fromstring(r.content)
    locs = root.xpath("//soap:address/@location | //soap12:address/@location",
                      namespaces=WSDL_NS)
    # The default: listen.[0] and the route's path, whatever Host the client sent.
    assert locs == [gw.url("/services/WEcho")] * 2
    assert b"8280" not in r.content


def test_import_chain_documents(gw):
    w = etree.fromstring(get(gw.chain_url + "?wsdl").content)
    assert w.xpath("//xsd:import/@schemaLocation", namespaces=WSDL_NS) == [
        gw.chain_url + "?xsd=1"]
    x1 = get(gw.url("/services/WChain?xsd=1"))
    assert x1.status_code == 200 and x1.headers["Content-Type"] == "text/xml; charset=utf-8"
    x1 = etree.fromstring(x1.content)
    assert x1.xpath("//xsd:import/@schemaLocation", namespaces=WSDL_NS) == [
        gw.chain_url + "?xsd=2"]
    assert x1.xpath("//xsd:element/@name", namespaces=WSDL_NS)[0] == "Echo"
    x2 = etree.fromstring(get(gw.url("/services/WChain?xsd=2")).content)
    assert x2.xpath("//xsd:simpleType/@name", namespaces=WSDL_NS) == ["Text"]


@pytest.mark.parametrize("target,status", [
    ("/services/WChain?xsd=3", 404),
    ("/services/WChain?wsdl=1", 404),  # a schema is no WSDL
    ("/services/WEcho?xsd=1", 404),
    ("/services/WEcho?xsd=..%2f..%2fetc%2fpasswd", 404),
    # Anything else keeps today's answer: a wsse route takes only POST.
    ("/services/WEcho", 405),
    ("/services/WEcho?wsdlx", 405),
    ("/services/WEcho/sub?wsdl", 405),
    ("/services/Echo?wsdl", 405),  # a route without a WSDL
])
def test_other_gets(gw, target, status):
    r = get(gw.url(target))
    assert r.status_code == status, (target, r.status_code, r.text[:200])
    assert b"definitions" not in r.content


def test_soap_post_with_wsdl_query_still_authenticated(gw, stub):
    m = wsg.marker()
    r = wsg.post(gw.url("/services/WEcho?wsdl"), wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m
    r = wsg.post(gw.url("/services/WEcho?wsdl"), wsg.build("alice", "wrong", message=m))
    assert r.status_code == 500 and b"FailedAuthentication" in r.content


@pytest.mark.parametrize("extra,needle", [
    (' wsdl = "nosuch.wsdl";', "nosuch.wsdl"),
    (' wsdl = "%s"; public_url = "ftp://x.example.com/E";' % ECHO_WSDL, "public_url"),
    (' wsdl = "%s"; public_url = "https://x.example.com/E?a=b";' % ECHO_WSDL, "no query"),
    (' wsdl = "remote.wsdl";', "absolute URL"),
    (' wsdl = "doctype.wsdl";', "DOCTYPE"),
], ids=["missing", "scheme", "query", "remote-import", "doctype"])
def test_check_config_refuses(configured, extra, needle):
    d = configured.dir
    with open(os.path.join(d, "remote.wsdl"), "w") as f:
        f.write('<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
                'targetNamespace="urn:t"><wsdl:import namespace="urn:u" '
                'location="http://upstream.example.com/svc?wsdl"/></wsdl:definitions>')
    with open(os.path.join(d, "doctype.wsdl"), "w") as f:
        f.write('<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                '<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">&e;'
                '</wsdl:definitions>')
    text = wsg.gateway_config(configured.port, configured.db, configured.stub.port,
                              configured.down_port, extra_routes=[
                                  wsg.route_config("bad", "/services/Bad", "http://127.0.0.1:1/E",
                                                   extra=extra)])
    path = os.path.join(d, "gw87-bad.conf")
    with open(path, "w") as f:
        f.write(text)
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 1, (r.returncode, r.err)
    assert re.search(r"gw87-bad\.conf:\d+: routes\.\[8\]\.(wsdl|public_url)", r.err), r.err
    assert needle in r.err, r.err


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "[::]"])
def test_default_public_url_needs_a_callable_listener(configured, wildcard):
    """A first listener on every address gives no URL a client could call: the WSDL route then
    needs public_url (and is accepted with one)."""
    route = wsg.route_config("w", "/services/W", "http://127.0.0.1:1/E",
                             extra=' wsdl = "%s";' % ECHO_WSDL)
    text = wsg.gateway_config(configured.port, configured.db, configured.stub.port,
                              configured.down_port, extra_routes=[route])
    text = text.replace('address = "127.0.0.1:%d"' % configured.port,
                        'address = "%s:%d"' % (wildcard, configured.port), 1)
    assert wildcard in text
    path = os.path.join(configured.dir, "gw87-wild.conf")
    with open(path, "w") as f:
        f.write(text)
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 1 and "needs public_url" in r.err, r.err
    with open(path, "w") as f:
        f.write(text.replace(' wsdl = "%s";' % ECHO_WSDL, ' wsdl = "%s"; public_url = '
                             '"https://soap.example.com/services/W";' % ECHO_WSDL))
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 0, r.err


def test_check_config_accepts(gw):
    r = gw.cli("--check-config")
    assert r.returncode == 0, r.err


def test_reload_reads_the_wsdl_again(configured, stub):
    """A relative wsdl path (config folder), read at start and again on SIGHUP; a broken file
    refuses the reload and the documents loaded before are still served."""
    d = os.path.join(configured.dir, "gw87r")
    os.makedirs(d, exist_ok=True)
    with open(ECHO_WSDL) as f:
        orig = f.read()
    path = os.path.join(d, "echo.wsdl")
    with open(path, "w") as f:
        f.write(orig)
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw87r")
    g.config_kw["extra_routes"] = [
        wsg.route_config("wr", "/services/WR", "http://127.0.0.1:%d/Echo" % stub.port,
                         extra=' wsdl = "gw87r/echo.wsdl";')]
    g.write_config()
    g.start()
    try:
        def served():
            r = get(g.url("/services/WR?wsdl"))
            assert r.status_code == 200
            return r.text

        def sighup(what):
            n = g.proc.stderr_text().count(what)
            g.proc.popen.send_signal(signal.SIGHUP)
            wsg.wait_for(what, lambda: g.proc.stderr_text().count(what) > n, 20, g.proc)
            time.sleep(0.3 * wsg.TIME_SCALE)

        assert 'name="EchoService"' in served()
        with open(path, "w") as f:
            f.write(orig.replace('name="EchoService"', 'name="EchoServiceV2"'))
        sighup("configuration reloaded from")
        assert 'name="EchoServiceV2"' in served()
        with open(path, "w") as f:
            f.write(orig[:200])
        sighup("reload refused: the running configuration stays")
        assert "echo.wsdl" in g.proc.stderr_text()
        assert 'name="EchoServiceV2"' in served()
    finally:
        g.stop()
