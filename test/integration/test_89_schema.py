"""Issue 16, item 4: validate = "wsdl" checks each Body child against the schemas of the route's
WSDL, after authentication and before the request is forwarded.

Valid requests come from zeep clients built from the gateway's ?wsdl only and from hand-built
SOAP 1.1 and 1.2 envelopes; invalid ones (missing element, wrong type, extra element, unknown
element) from a zeep client built from a looser local copy of the WSDL (test/data/schema/
orders-loose.wsdl) and from hand-built envelopes. The upstream gets valid requests byte for byte
and never an invalid one; the client gets a Client / Sender fault naming the element; the audit
log names the refusal. A SIGHUP with a changed schema takes effect, one with a schema that does
not compile is refused, and --check-config refuses such WSDLs and validate without a wsdl.
"""

import base64
import os
import re
import signal
import time

import pytest
from zeep import Client
from zeep.exceptions import Fault as ZeepFault
from zeep.wsse.username import UsernameToken

import wsg
import zeep_util

DATA = os.path.join(wsg.TOP_SRC, "test", "data")
ORDERS = os.path.join(DATA, "schema", "orders.wsdl")
LOOSE = os.path.join(DATA, "schema", "orders-loose.wsdl")
CHAIN = os.path.join(DATA, "wsdl-chain", "echo.wsdl")
ECHO_DATA = os.path.join(DATA, "schema", "echo-data.wsdl")
ORDERS_NS = "urn:example:orders"
TYPES_NS = "urn:example:orders:types"
BINDINGS = {"soap11": "{urn:example:orders}OrdersSoap11Binding",
            "soap12": "{urn:example:orders}OrdersSoap12Binding"}
PORTS = {"soap11": "OrdersSoap11Port", "soap12": "OrdersSoap12Port"}


def validating(name, path, upstream, wsdl, extra=""):
    return wsg.route_config(name, path, upstream,
                            extra=' wsdl = "%s"; validate = "wsdl";%s' % (wsdl, extra))


@pytest.fixture(scope="module")
def gw(configured, stub):
    up = "http://127.0.0.1:%d" % stub.port
    # Bodies of 100 kB for the import chain's length cap.
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw89s",
                    limits={"max_body_size": "1048576"})
    # A public URL the gateway answers at, so that zeep's calls come back to it.
    g.orders_url = "http://localhost:%d/services/VOrders" % g.port
    g.config_kw["extra_routes"] = [
        validating("vorders", "/services/VOrders", up + "/Echo", ORDERS,
                   ' public_url = "%s";' % g.orders_url),
        validating("vkeep", "/services/VKeep", up + "/EchoKeep", ORDERS).replace(
            "strip_security_header = true", "strip_security_header = false"),
        validating("vchain", "/services/VChain", up + "/Echo", CHAIN),
        validating("vdata", "/services/VData", up + "/Echo", ECHO_DATA),
        wsg.route_config("oorders", "/services/OOrders", up + "/Echo",
                         extra=' wsdl = "%s"; validate = "off";' % ORDERS),
        validating("vboth", "/services/VBoth", up + "/Echo", ORDERS).replace(
            'auth = "wsse"', 'auth = "wsse_or_basic"'),
    ]
    g.write_config()
    try:
        g.start()
        yield g
    finally:
        g.stop()


def item(sku="ABC-1", quantity="5"):
    return ("<o:item><t:sku>%s</t:sku><t:quantity>%s</t:quantity></o:item>" % (sku, quantity))


def order(m, inner=None, attrs=""):
    return ('<o:PlaceOrder%s><o:message>%s</o:message>%s</o:PlaceOrder>'
            % (attrs, m, item() if inner is None else inner))


def envelope(body, soap12=False, user="alice", password=None):
    """A wsse-request envelope whose Body is `body`; prefixes o and t are declared on the
    Envelope, as many clients do, so the validator must see them in scope."""
    xml = wsg.build(user, password, soap12=soap12)
    xml = xml.replace("<soap:Envelope ", '<soap:Envelope xmlns:o="%s" xmlns:t="%s" '
                      % (ORDERS_NS, TYPES_NS), 1)
    xml, n = re.subn(r"<soap:Body>.*</soap:Body>", lambda _: "<soap:Body>%s</soap:Body>" % body,
                     xml, flags=re.S)
    assert n == 1
    return xml


def token(use_digest=True):
    return UsernameToken("alice", wsg.USERS["alice"][0], use_digest=use_digest)


def post(url, body, soap12=False, **kw):
    """wsg.post with an empty action: the Bodies carry Orders operations, and a route with a
    WSDL refuses an action the WSDL does not declare (docs/soap-operations.md)."""
    h = ({"Content-Type": "application/soap+xml; charset=utf-8"} if soap12
         else {"SOAPAction": '""'})
    return wsg.post(url, body, soap12=soap12, headers=h, **kw)


def unseen(stub, m):
    assert stub.find(m) == [], "the upstream got a refused request"


def schema_fault(resp, soap12, needle):
    f = wsg.assert_soap_fault(resp, 400 if soap12 else 500, "Client", "Sender", soap12=soap12)
    assert f.reason.startswith("Schema validation failed: "), f
    assert needle in f.reason, f
    # Nothing of the gateway's own or the schema files' making.
    for bad in ("urn:wssgate", "xsd=", "wsdl", ".xsd", "line"):
        assert bad not in f.reason, f
    return f


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_zeep_from_gateway_wsdl_valid(gw, stub, binding):
    transport = zeep_util.CapturingTransport()
    client = Client(gw.orders_url + "?wsdl", transport=transport,
                    wsse=token(use_digest=(binding == "soap11")))
    svc = client.bind("OrdersService", PORTS[binding])
    m = wsg.marker()
    assert svc.PlaceOrder(message=m, item=[{"sku": "ABC-1", "quantity": 5},
                                           {"sku": "XYZ-42", "quantity": 1000}],
                          priority="high") == m
    assert len(stub.find(m)) == 1
    m = wsg.marker()
    assert svc.GetOrder(message=m, id=7) == m
    assert len(stub.find(m)) == 1


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
@pytest.mark.parametrize("case,kwargs,needle", [
    ("missing", {}, "element '{urn:example:orders}PlaceOrder': a required child element "
                    "is missing"),
    ("wrong-type", {"item": [{"sku": "ABC-1", "quantity": "many"}]},
     "element '{urn:example:orders:types}quantity': the value is not valid for its type"),
    ("out-of-range", {"item": [{"sku": "ABC-1", "quantity": "1001"}]},
     "'{urn:example:orders:types}quantity': the value is out of range"),
    ("extra", {"item": [{"sku": "ABC-1", "quantity": "1"}], "coupon": "FREE"},
     "element '{urn:example:orders}coupon': this element is not expected here"),
])
def test_zeep_invalid_refused(gw, stub, binding, case, kwargs, needle):
    """zeep from the looser local WSDL, pointed at the gateway: it sends what the gateway's
    own WSDL forbids."""
    client = Client(LOOSE, transport=zeep_util.CapturingTransport(),
                    wsse=token(use_digest=(binding == "soap12")))
    svc = client.create_service(BINDINGS[binding], gw.url("/services/VOrders"))
    m = wsg.marker()
    with pytest.raises(ZeepFault) as e:
        svc.PlaceOrder(message=m, **kwargs)
    assert e.value.message.startswith("Schema validation failed: "), e.value.message
    assert needle in e.value.message, e.value.message
    unseen(stub, m)


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_hand_built_valid(gw, stub, soap12):
    m = wsg.marker()
    body = (order(m, item() + item("QQQ-7", "1000") + "<o:priority>low</o:priority>",
                  attrs=' version="3"')
            + '<GetOrder xmlns="urn:example:orders"><message>x</message><id>1</id></GetOrder>')
    r = post(gw.url("/services/VOrders"), envelope(body, soap12), soap12=soap12)
    assert r.status_code == 200, r.text
    assert wsg.echoed(r) == m


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
@pytest.mark.parametrize("case,body,needle", [
    ("missing", '<o:PlaceOrder><o:message>%s</o:message></o:PlaceOrder>',
     "'{urn:example:orders}PlaceOrder': a required child element is missing"),
    ("wrong-type", '<o:GetOrder><o:message>%s</o:message><o:id>seven</o:id></o:GetOrder>',
     "element '{urn:example:orders}id': the value is not valid for its type"),
    ("extra", '<o:GetOrder><o:message>%s</o:message><o:id>7</o:id><o:id>8</o:id></o:GetOrder>',
     "element '{urn:example:orders}id': this element is not expected here"),
    ("pattern", order("%s", item("abc")),
     "'{urn:example:orders:types}sku': the value does not match the allowed pattern"),
    ("enumeration", order("%s", item() + "<o:priority>urgent</o:priority>"),
     "'{urn:example:orders}priority': the value is not one of the allowed values"),
    ("attribute", order("%s", attrs=' version="v3"'),
     "attribute 'version' of element '{urn:example:orders}PlaceOrder': the value is not valid"),
    ("undeclared", '<o:Cancel><o:message>%s</o:message></o:Cancel>',
     "element '{urn:example:orders}Cancel': no such element is declared"),
    ("second-child", '<o:GetOrder><o:message>%s</o:message><o:id>1</o:id></o:GetOrder>'
                     '<o:Cancel/>',
     "element '{urn:example:orders}Cancel'"),
    ("character-data", 'loose text <o:GetOrder><o:message>%s</o:message><o:id>1</o:id>'
                       '</o:GetOrder>',
     "the Body holds character data"),
])
def test_hand_built_invalid(gw, stub, soap12, case, body, needle):
    m = wsg.marker()
    r = post(gw.url("/services/VOrders"), envelope(body % m, soap12), soap12=soap12)
    schema_fault(r, soap12, needle)
    unseen(stub, m)


@pytest.mark.parametrize("attr", ["schemaLocation", "noNamespaceSchemaLocation"])
def test_request_schema_location_never_followed(gw, stub, attr):
    """xsi:schemaLocation in a request names a schema the gateway must not fetch: the Body is
    validated against the WSDL's schemas only (this one would allow anything)."""
    evil = stub.url("/Echo/evil.xsd")
    value = ("%s %s" % (ORDERS_NS, evil)) if attr == "schemaLocation" else evil
    m = wsg.marker()
    body = ('<o:GetOrder xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:%s="%s">'
            '<o:message>%s</o:message><o:id>not-a-number</o:id></o:GetOrder>' % (attr, value, m))
    r = post(gw.url("/services/VOrders"), envelope(body))
    schema_fault(r, False, "element '{urn:example:orders}id': the value is not valid")
    assert [x for x in stub.requests() if "evil" in x["path"]] == []
    unseen(stub, m)


def test_forwarded_byte_identical(gw, stub):
    """A valid request reaches the upstream as sent: whole on a route that keeps the Security
    header, without exactly the Security header's bytes on one that strips it."""
    m = wsg.marker()
    sent = envelope(order(m, item() + "<o:priority>high</o:priority>") + "\n  <!-- c -->\n",
                    soap12=True).replace("<o:PlaceOrder>", '<o:PlaceOrder  version = "1" >')
    r = post(gw.url("/services/VKeep"), sent, soap12=True)
    assert r.status_code == 200, r.text
    rec = stub.find(m)
    assert len(rec) == 1
    assert base64.b64decode(rec[0]["body_b64"]) == sent.encode("utf-8")

    m = wsg.marker()
    sent = envelope(order(m), soap12=False)
    r = post(gw.url("/services/VOrders"), sent)
    assert r.status_code == 200, r.text
    rec = stub.find(m)
    assert len(rec) == 1
    security = re.search(r"<wsse:Security .*?</wsse:Security>", sent, flags=re.S).group(0)
    assert base64.b64decode(rec[0]["body_b64"]) == sent.replace(security, "").encode("utf-8")


def test_validate_off_forwards_invalid(gw, stub):
    m = wsg.marker()
    r = post(gw.url("/services/OOrders"),
                 envelope('<o:GetOrder><o:message>%s</o:message><o:id>x</o:id></o:GetOrder>' % m))
    assert r.status_code == 200 and wsg.echoed(r) == m
    assert len(stub.find(m)) == 1


def test_unauthenticated_client_gets_no_schema_answer(gw, stub):
    """Authentication comes first: a wrong password on an invalid Body is FailedAuthentication,
    so the schema answers are no oracle for clients without credentials."""
    m = wsg.marker()
    r = post(gw.url("/services/VOrders"),
                 envelope('<o:Cancel><o:message>%s</o:message></o:Cancel>' % m,
                          password="wrong-Pw-89"))
    wsg.assert_wss_fault(r, "FailedAuthentication")
    assert "Schema" not in r.text
    r = post(gw.url("/services/VOrders"),
                 envelope('<o:Cancel><o:message>%s</o:message></o:Cancel>' % m, user="bob"))
    wsg.assert_wss_fault(r, "FailedAuthentication")
    unseen(stub, m)


def test_audit_line_for_refused(gw):
    m = wsg.marker()
    r = post(gw.url("/services/VOrders"),
                 envelope('<o:GetOrder><o:message>%s</o:message></o:GetOrder>' % m))
    schema_fault(r, False, "'{urn:example:orders}GetOrder': a required child element")
    want = re.compile(r" audit rid=[0-9a-f]+ client=\S+ route=vorders user=alice "
                      r"event=schema_invalid reason=\"Schema validation failed: element "
                      r"'\{urn:example:orders\}GetOrder': a required child element is missing\"$")
    deadline = time.monotonic() + 10 * wsg.TIME_SCALE
    while True:
        text = wsg.settled_text(gw.audit_log)
        if any(want.search(l) for l in text.splitlines()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any(want.search(l) for l in text.splitlines()), text[-2000:]


def test_import_chain(gw, stub):
    """The types two xsd:imports down (?xsd=1 imports ?xsd=2) are validated too; zeep builds
    from that route's ?wsdl."""
    client = Client(gw.url("/services/VChain?wsdl"), transport=zeep_util.CapturingTransport(),
                    wsse=token())
    svc = client.create_service("{urn:example:echo}EchoSoap11Binding",
                                gw.url("/services/VChain"))
    m = wsg.marker()
    assert svc.Echo(message=m) == m
    big = "x" * 100001
    r = post(gw.url("/services/VChain"), wsg.build("alice", message=big))
    schema_fault(r, False, "element '{urn:example:echo}message': the value has a length")
    r = post(gw.url("/services/VChain"), wsg.build("alice", message=big[1:]))
    assert r.status_code == 200 and wsg.echoed(r) == big[1:]


def test_wsse_or_basic_takes_only_soap_posts(gw, stub):
    """On a validating wsse_or_basic route a POST that is not SOAP would skip the schema: 415."""
    r = wsg.http_session().post(gw.url("/services/VBoth"), data=b'{"a": 1}',
                                headers={"Content-Type": "application/json"},
                                auth=("alice", wsg.USERS["alice"][0]),
                                timeout=30 * wsg.TIME_SCALE)
    assert r.status_code == 415, (r.status_code, r.text)
    m = wsg.marker()
    r = post(gw.url("/services/VBoth"),
                 envelope('<o:GetOrder><o:message>%s</o:message><o:id>z</o:id></o:GetOrder>' % m))
    schema_fault(r, False, "'{urn:example:orders}id'")
    unseen(stub, m)


def test_reload_takes_a_changed_schema(configured, stub):
    d = os.path.join(configured.dir, "gw89r")
    os.makedirs(d, exist_ok=True)
    with open(ORDERS) as f:
        orig = f.read()
    path = os.path.join(d, "orders.wsdl")
    with open(path, "w") as f:
        f.write(orig)
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw89r")
    g.config_kw["extra_routes"] = [
        validating("vr", "/services/VR", "http://127.0.0.1:%d/Echo" % stub.port,
                   "gw89r/orders.wsdl")]
    g.write_config()
    g.start()
    try:
        def send(quantity):
            m = wsg.marker()
            return post(g.url("/services/VR"), envelope(order(m, item("ABC-1", quantity))))

        def sighup(what):
            n = g.proc.stderr_text().count(what)
            g.proc.popen.send_signal(signal.SIGHUP)
            wsg.wait_for(what, lambda: g.proc.stderr_text().count(what) > n, 20, g.proc)
            time.sleep(0.3 * wsg.TIME_SCALE)

        assert send("50").status_code == 200
        with open(path, "w") as f:
            f.write(orig.replace('<xsd:maxInclusive value="1000"/>',
                                 '<xsd:maxInclusive value="10"/>'))
        sighup("configuration reloaded from")
        schema_fault(send("50"), False, "quantity': the value is out of range")
        assert send("10").status_code == 200
        with open(path, "w") as f:
            f.write(orig.replace('type="t:Priority"', 'type="t:NoSuchType"'))
        sighup("reload refused: the running configuration stays")
        assert "does not compile" in g.proc.stderr_text()
        assert "NoSuchType" in g.proc.stderr_text()
        # The schema loaded before is still the one in force.
        schema_fault(send("50"), False, "out of range")
        assert send("10").status_code == 200
    finally:
        g.stop()


BROKEN = ('<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
          'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:b" targetNamespace="urn:b">'
          '<wsdl:types><xsd:schema targetNamespace="urn:b"><xsd:element name="E" '
          'type="tns:Undefined"/></xsd:schema></wsdl:types></wsdl:definitions>')
RPC = ('<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
       'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" targetNamespace="urn:r">'
       '<wsdl:binding name="B" type="x"><soap:binding style="rpc"/></wsdl:binding>'
       '</wsdl:definitions>')


@pytest.mark.parametrize("extra,needle", [
    (' validate = "wsdl";', "needs the route's wsdl key"),
    (' wsdl = "broken.wsdl"; validate = "wsdl";', "the schema does not compile"),
    (' wsdl = "rpc.wsdl"; validate = "wsdl";', 'style "rpc" cannot be validated'),
    (' wsdl = "%s"; validate = "xsd";' % ORDERS, '"off"'),
    (' wsdl = "%s"; validate = "wsdl"; auth = "basic";' % ORDERS, "needs a SOAP route"),
], ids=["no-wsdl", "broken", "rpc", "bad-value", "basic"])
def test_check_config_refuses(configured, extra, needle):
    d = configured.dir
    for name, text in (("broken.wsdl", BROKEN), ("rpc.wsdl", RPC)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    route = wsg.route_config("bad", "/services/Bad", "http://127.0.0.1:1/E", extra=extra)
    if 'auth = "basic"' in extra:
        route = route.replace(' auth = "wsse";', "")
    text = wsg.gateway_config(configured.port, configured.db, configured.stub.port,
                              configured.down_port, extra_routes=[route])
    path = os.path.join(d, "gw89s-bad.conf")
    with open(path, "w") as f:
        f.write(text)
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 1, (r.returncode, r.err)
    assert re.search(r"gw89s-bad\.conf:\d+: routes\.\[8\]\.validate", r.err), r.err
    assert needle in r.err, r.err


def test_check_config_accepts(gw):
    r = gw.cli("--check-config")
    assert r.returncode == 0, r.err


# ---------------------------------------------------------------- MTOM

def mtom(gw, m, data, href=None, soap12=False):
    """An MTOM request whose e:data is an xop:Include of an attachment holding `data`."""
    b = "mtom89s-" + wsg.marker()
    env = wsg.build("alice", soap12=soap12, message=m).replace(
        "</e:Echo>", '<e:data><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" '
                     'href="%s"/></e:data></e:Echo>' % (href or "cid:data%40t89"))
    soap_type = "application/soap+xml" if soap12 else "text/xml"
    ctype = ('multipart/related; type="application/xop+xml"; start="<root@t89>"; '
             'start-info="%s"; boundary=%s' % (soap_type, b))
    body = (("--%s\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"%s\"\r\n"
             "Content-ID: <root@t89>\r\n\r\n%s\r\n--%s\r\n"
             "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
             "Content-ID: <data@t89>\r\n\r\n" % (b, soap_type, env, b)).encode()
            + data + ("\r\n--%s--\r\n" % b).encode())
    wsg.remember_secrets(body)
    h = {"Content-Type": ctype}
    if not soap12:
        h["SOAPAction"] = '""'
    return wsg.http_session().post(gw.url("/services/VData"), data=body, headers=h,
                                   timeout=30 * wsg.TIME_SCALE)


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_mtom_validated_as_the_message_it_stands_for(gw, stub, soap12):
    """The xop:Include counts as the base64 of its attachment: 16 octets pass the schema's
    maxLength, 17 do not; the message goes upstream as sent, attachment byte for byte."""
    m = wsg.marker()
    data = bytes(range(250, 256)) + b"\r\n--x\x00" + b"0123"
    assert len(data) == 16
    r = mtom(gw, m, data, soap12=soap12)
    assert r.status_code == 200, r.text[:500]
    rec = stub.find(m)
    assert len(rec) == 1 and data in base64.b64decode(rec[0]["body_b64"])
    assert b"xop:Include" in base64.b64decode(rec[0]["body_b64"])
    m = wsg.marker()
    r = mtom(gw, m, data + b"!", soap12=soap12)
    schema_fault(r, soap12, "element '{urn:example:echo}data'")
    unseen(stub, m)


def test_mtom_include_naming_no_part_refused(gw, stub):
    for href in ("cid:nobody%40t89", "http://example.org/x"):
        m = wsg.marker()
        r = mtom(gw, m, b"abc", href=href)
        f = wsg.assert_soap_fault(r, 500, "Client", "Sender")
        assert "xop:Include" in f.reason, f
        unseen(stub, m)
