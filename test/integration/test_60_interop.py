"""Interoperability matrix against the real gateway: real clients, each building the
UsernameToken with its own WS-Security code (zeep, node-soap, suds), and requests in the exact
shape WSS4J/CXF and SoapUI emit (templates in test/data/interop/, filled here with a fresh
Nonce, Created and digest). Users and passwords beyond ASCII, including characters outside the
BMP (UTF-16 surrogate pairs); requests in UTF-8 and UTF-16 with the matching charset.

docs/interop.md's compatibility table names these tests. The zeep basics (text, digest, digest +
Timestamp, SOAP 1.1 and 1.2) are in test_10_zeep.py and the first node-soap cases in
test_20_node.py; this module adds what they do not cover.
"""

import base64
import datetime
import os
import re
import types
import uuid
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from suds import WebFault
from suds.client import Client as SudsClient
from suds.plugin import MessagePlugin
from suds.wsse import Security, Timestamp, UsernameToken

import wsg
import zeep_util

INTEROP_DIR = os.path.join(wsg.TOP_SRC, "test", "data", "interop")
ACTION = wsg.wsse_request.ACTION

# Name and password need 2-, 3- and 4-byte UTF-8, i.e. surrogate pairs in UTF-16.
WIDE_USER = "\u0141ukasz-\u65e5\u672c-\U0001d4b3"
WIDE_PASSWORD = "p\u00e4ssw\u00f6rd\u20ac-\u65e5\u672c\u8a9e-\U0001f511"

USERS = ["alice", "j\u00f6rg", WIDE_USER]
USER_IDS = ["ascii", "latin1", "wide"]


@pytest.fixture(scope="module")
def wide_user(gateway):
    wsg.SENT_SECRETS.add(WIDE_PASSWORD)
    gateway.cli_ok("user", "add", WIDE_USER, "--role", "echo-users", stdin=WIDE_PASSWORD + "\n")
    return WIDE_USER


def password_of(user):
    return WIDE_PASSWORD if user == WIDE_USER else wsg.USERS[user][0]


# ---------------------------------------------------------------- what the upstream saw

def raw_body(record):
    return base64.b64decode(record["body_b64"])


def forwarded(stub, m):
    """The upstream records whose body, in whatever encoding it was forwarded, holds m."""
    found = []
    for rec in stub.requests():
        raw = raw_body(rec)
        text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else \
            raw.decode("utf-8", errors="replace")
        if m in text:
            found.append(rec)
    return found


def check_forwarded(stub, m, user, path="/Echo", keep=False):
    """One upstream request with the marker, from `user`, a well-formed envelope whose bytes
    match the forwarded charset, and without the consumed Security header unless `keep`."""
    recs = forwarded(stub, m)
    assert len(recs) == 1, "upstream saw %d requests with the marker" % len(recs)
    rec = recs[0]
    assert rec["path"] == path
    assert [wsg.header_text(v) for v in wsg.header_values(rec, "X-WSS-User")] == [user]
    raw = raw_body(rec)
    ctype = ";".join(wsg.header_values(rec, "Content-Type"))
    charset = re.search(r"charset=\"?([\w-]+)", ctype, re.I)
    if charset and charset.group(1).upper().replace("_", "-") in ("UTF-16", "UTF16"):
        assert raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[:4] in (b"<\0?\0", b"\0<\0?"), \
            "forwarded as %s but the body is not UTF-16: %r" % (ctype, raw[:40])
    else:
        raw.decode("utf-8")
    root = etree.fromstring(raw)
    sec = root.xpath("//*[local-name()='Header']/*[local-name()='Security']")
    assert len(sec) == (1 if keep else 0), "Security headers forwarded: %d" % len(sec)
    msg = root.xpath("//*[local-name()='Body']//*[local-name()='message']")
    assert msg and msg[0].text.strip() == m
    return rec, root


# ---------------------------------------------------------------- WSS4J / SoapUI templates

TEMPLATES = sorted(f for f in os.listdir(INTEROP_DIR) if f.endswith(".xml"))
DECL16 = '<?xml version="1.0" encoding="UTF-16"?>\n'

# encoding id -> (encode(str) -> bytes, charset for Content-Type)
ENCODINGS = {
    "utf-8": (lambda x: x.encode("utf-8"), "UTF-8"),
    "utf-16": (lambda x: b"\xff\xfe" + (DECL16 + x).encode("utf-16-le"), "UTF-16"),
    "utf-8-bom-decl": (lambda x: b"\xef\xbb\xbf" + ('<?xml version="1.0" encoding="UTF-8"?>\n'
                                                    + x).encode("utf-8"), "UTF-8"),
    "utf-16le-bom-only": (lambda x: b"\xff\xfe" + x.encode("utf-16-le"), "UTF-16"),
    "utf-16be-decl": (lambda x: b"\xfe\xff" + (DECL16 + x).encode("utf-16-be"), "UTF-16"),
    "utf-16le-decl-no-bom": (lambda x: (DECL16 + x).encode("utf-16-le"), "UTF-16"),
}


def render(name, user, password, m, now=None):
    """The template filled the way its client fills it: fresh 16-byte nonce, Created in UTC
    with milliseconds and Z, Expires 300 s later, the client's style of wsu:Id."""
    with open(os.path.join(INTEROP_DIR, name), encoding="utf-8") as f:
        text = f.read()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    created = wsg.wsse_request.utc_stamp(now)
    nonce = os.urandom(16)
    if name.startswith("soapui-"):
        ids = ("TS-" + uuid.uuid4().hex.upper(), "UsernameToken-" + uuid.uuid4().hex.upper())
    else:
        ids = ("TS-" + str(uuid.uuid4()), "UsernameToken-" + str(uuid.uuid4()))
    values = {
        "USERNAME": escape(user),
        "PASSWORD": (wsg.wsse_request.digest(nonce, created, password)
                     if "#PasswordDigest" in text else escape(password)),
        "NONCE": base64.b64encode(nonce).decode("ascii"),
        "CREATED": created,
        "TS_CREATED": created,
        "TS_EXPIRES": wsg.wsse_request.utc_stamp(now + datetime.timedelta(seconds=300)),
        "TS_ID": ids[0],
        "UT_ID": ids[1],
        "MESSAGE": escape(m),
    }
    for k, v in values.items():
        text = text.replace("${%s}" % k, v)
    assert "${" not in text, "unfilled placeholder in %s" % name
    wsg.remember_secrets(text)
    return text


def send_template(gateway, name, user, encoding, path="/services/Echo"):
    m = wsg.marker() + " \u00fcber \u65e5\u672c \U0001f600"
    text = render(name, user, password_of(user), m)
    encode, charset = ENCODINGS[encoding]
    if "-soap12" in name:
        headers = {"Content-Type": 'application/soap+xml;charset=%s;action="%s"'
                   % (charset, ACTION)}
    else:
        headers = {"Content-Type": "text/xml;charset=%s" % charset, "SOAPAction": '"%s"' % ACTION}
    r = wsg.http_session().post(gateway.url(path), data=encode(text), headers=headers,
                                timeout=30)
    return r, m


def test_templates_present():
    assert len(TEMPLATES) == 6, TEMPLATES


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("user", USERS, ids=USER_IDS)
@pytest.mark.parametrize("name", TEMPLATES)
def test_wss4j_soapui_shape(gateway, stub, wide_user, name, user, encoding):
    r, m = send_template(gateway, name, user, encoding)
    assert r.status_code == 200, (r.status_code, r.content[:400])
    assert wsg.echoed(r) == m
    check_forwarded(stub, m, user)


@pytest.mark.parametrize("encoding", ["utf-8-bom-decl", "utf-16le-bom-only", "utf-16be-decl",
                                      "utf-16le-decl-no-bom"])
@pytest.mark.parametrize("name", ["wss4j-digest-timestamp-soap11.xml",
                                  "soapui-digest-timestamp-soap12.xml"])
def test_wss4j_soapui_shape_other_encodings(gateway, stub, wide_user, name, encoding):
    r, m = send_template(gateway, name, WIDE_USER, encoding)
    assert r.status_code == 200, (r.status_code, r.content[:400])
    assert wsg.echoed(r) == m
    check_forwarded(stub, m, WIDE_USER)


@pytest.mark.parametrize("name", [t for t in TEMPLATES if "timestamp" in t])
def test_wss4j_soapui_shape_on_timestamp_route(gateway, stub, name):
    r, m = send_template(gateway, name, "alice", "utf-8", path="/services/Timestamped")
    assert r.status_code == 200, (r.status_code, r.content[:400])
    check_forwarded(stub, m, "alice", path="/EchoTs")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("name", ["wss4j-digest-timestamp-soap11.xml",
                                  "wss4j-digest-timestamp-soap12.xml"])
def test_wss4j_shape_security_header_kept(gateway, stub, name, encoding):
    """strip_security_header = false: the header reaches the upstream as the client sent it."""
    r, m = send_template(gateway, name, "alice", encoding, path="/services/EchoKeep")
    assert r.status_code == 200, (r.status_code, r.content[:400])
    _, root = check_forwarded(stub, m, "alice", path="/EchoKeep", keep=True)
    sec = root.xpath("//*[local-name()='Header']/*[local-name()='Security']")[0]
    ns = etree.QName(root).namespace
    assert sec.get("{%s}mustUnderstand" % ns) == ("true" if "-soap12" in name else "1")
    ids = [e.get("{%s}Id" % wsg.WSU_NS) for e in sec]
    assert [i.split("-")[0] for i in ids] == ["TS", "UsernameToken"], ids


@pytest.mark.parametrize("name", [t for t in TEMPLATES if "-soap12" not in t])
def test_wss4j_soapui_shape_replayed(gateway, stub, name):
    """The same bytes twice: the nonce (text tokens from SoapUI carry one too) is a replay."""
    m = wsg.marker()
    body = render(name, "alice", password_of("alice"), m).encode("utf-8")
    headers = {"Content-Type": "text/xml;charset=UTF-8", "SOAPAction": '"%s"' % ACTION}
    first = wsg.http_session().post(gateway.url("/services/Echo"), data=body, headers=headers)
    assert first.status_code == 200, first.content[:300]
    second = wsg.http_session().post(gateway.url("/services/Echo"), data=body, headers=headers)
    wsg.assert_wss_fault(second, "InvalidSecurity")
    assert len(forwarded(stub, m)) == 1


@pytest.mark.parametrize("name", TEMPLATES)
def test_wss4j_soapui_shape_wrong_password(gateway, stub, name):
    m = wsg.marker()
    text = render(name, "alice", "not-alice-Pw", m)
    soap12 = "-soap12" in name
    r = wsg.post(gateway.url("/services/Echo"), text, soap12=soap12)
    wsg.assert_wss_fault(r, "FailedAuthentication", soap12)
    assert forwarded(stub, m) == []


# ---------------------------------------------------------------- zeep

@pytest.mark.parametrize("binding", ["soap11", "soap12"])
@pytest.mark.parametrize("use_digest,timestamp", [(True, True), (False, False), (False, True)],
                         ids=["digest-ts", "text", "text-ts"])
def test_zeep_wide_user(gateway, stub, wide_user, use_digest, timestamp, binding):
    m = wsg.marker() + " \U0001f600"
    client, _ = zeep_util.client(WIDE_USER, WIDE_PASSWORD, use_digest, timestamp=timestamp,
                                 zulu=True)
    svc = zeep_util.service(client, binding, gateway.url("/services/Echo"))
    assert svc.Echo(message=m) == m
    check_forwarded(stub, m, WIDE_USER)


# ---------------------------------------------------------------- node-soap

def node_call(gateway, user=None, soap12=False, path="/services/Echo", **kw):
    m = wsg.marker()
    user = user or "alice"
    args = {"wsdl": wsg.WSDL, "endpoint": gateway.url(path), "user": user,
            "password": password_of(user), "soap12": soap12, "message": m}
    args.update(kw)
    return wsg.node_client(args), m


# (id, passwordType, hasTimeStamp, hasNonce, soap12); test_20_node.py has the other six
NODE_CASES = [
    ("digest-ts-nononce-soap11", "PasswordDigest", True, False, False),
    ("digest-nots-nononce-soap11", "PasswordDigest", False, False, False),
    ("digest-nots-soap12", "PasswordDigest", False, True, True),
    ("digest-ts-nononce-soap12", "PasswordDigest", True, False, True),
    ("digest-nots-nononce-soap12", "PasswordDigest", False, False, True),
    ("text-ts-nononce-soap11", "PasswordText", True, False, False),
    ("text-nots-nonce-soap11", "PasswordText", False, True, False),
    ("text-ts-nonce-soap12", "PasswordText", True, True, True),
    ("text-nots-nonce-soap12", "PasswordText", False, True, True),
    ("text-nots-nononce-soap12", "PasswordText", False, False, True),
]


@pytest.mark.parametrize("cid,ptype,ts,nonce,soap12", NODE_CASES, ids=[c[0] for c in NODE_CASES])
def test_node_soap_matrix(gateway, stub, cid, ptype, ts, nonce, soap12):
    res, m = node_call(gateway, soap12=soap12, passwordType=ptype, hasTimeStamp=ts,
                       hasNonce=nonce)
    assert res["ok"], res
    assert res["result"] == {"message": m}
    req = res["lastRequest"]
    assert "#" + ptype in req
    assert ("<wsu:Timestamp" in req) == ts
    # node-soap sends a Nonce with every digest, whatever hasNonce says.
    assert ("<wsse:Nonce" in req) == (nonce or ptype == "PasswordDigest")
    check_forwarded(stub, m, "alice")


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
@pytest.mark.parametrize("ptype", ["PasswordDigest", "PasswordText"])
def test_node_soap_must_understand(gateway, stub, ptype, soap12):
    """node-soap writes mustUnderstand="1" in both versions (valid 1.1 and xs:boolean)."""
    res, m = node_call(gateway, soap12=soap12, passwordType=ptype, hasTimeStamp=True,
                       hasNonce=True, mustUnderstand=True)
    assert res["ok"], res
    assert 'soap:mustUnderstand="1"' in res["lastRequest"]
    check_forwarded(stub, m, "alice")


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_node_soap_text_without_created(gateway, stub, soap12):
    res, m = node_call(gateway, soap12=soap12, passwordType="PasswordText", hasTimeStamp=False,
                       hasNonce=False, hasTokenCreated=False)
    assert res["ok"], res
    assert "<wsu:Created" not in res["lastRequest"]
    check_forwarded(stub, m, "alice")


def test_node_soap_digest_without_created_is_refused(gateway, stub):
    """hasTokenCreated=false drops Created from a digest that was computed over it: the
    token cannot be verified, and a digest without Created is InvalidSecurityToken."""
    res, m = node_call(gateway, passwordType="PasswordDigest", hasTimeStamp=False,
                       hasNonce=True, hasTokenCreated=False)
    assert not res["ok"], res
    assert "<wsu:Created" not in res["lastRequest"]
    assert res["status"] == 500, res
    assert "InvalidSecurityToken" in str(res.get("fault")), res
    assert forwarded(stub, m) == []


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
@pytest.mark.parametrize("ptype", ["PasswordDigest", "PasswordText"])
def test_node_soap_wide_user(gateway, stub, wide_user, ptype, soap12):
    res, m = node_call(gateway, user=WIDE_USER, soap12=soap12, passwordType=ptype,
                       hasTimeStamp=True, hasNonce=True)
    assert res["ok"], res
    check_forwarded(stub, m, WIDE_USER)


# ---------------------------------------------------------------- suds

class SudsCapture(MessagePlugin):
    """Keeps the envelope suds sent and the reply it received, as bytes."""

    def __init__(self):
        self.sent = None
        self.reply = None

    def sending(self, context):
        self.sent = context.envelope
        wsg.remember_secrets(self.sent)

    def received(self, context):
        self.reply = context.reply


def suds_client(gateway, user, nonce=False, created=False, encoding=False, timestamp=None,
                path="/services/Echo"):
    """A suds client for the Echo WSDL's SOAP 1.1 port with suds.wsse's own UsernameToken
    (always PasswordText); returns (client, token, capture)."""
    cap = SudsCapture()
    client = SudsClient("file://" + wsg.WSDL, cache=None, plugins=[cap], timeout=30,
                        location=gateway.url(path), port="EchoSoap11Port")
    token = UsernameToken(user, password_of(user))
    if nonce:
        token.setnonce()
        token.setnonceencoding(encoding)
    if created:
        token.setcreated()
    security = Security()
    if timestamp is not None:
        security.tokens.append(timestamp)
    security.tokens.append(token)
    client.set_options(wsse=security)
    return client, token, cap


SUDS_CASES = [  # (id, nonce, created, EncodingType on the nonce)
    ("plain", False, False, False),
    ("created", False, True, False),
    ("nonce-created", True, True, False),
    ("nonce-encodingtype-created", True, True, True),
]


@pytest.mark.parametrize("user", USERS, ids=USER_IDS)
@pytest.mark.parametrize("cid,nonce,created,encoding", SUDS_CASES, ids=[c[0] for c in SUDS_CASES])
def test_suds(gateway, stub, wide_user, cid, nonce, created, encoding, user):
    m = wsg.marker() + " \u00e9t\u00e9"
    client, _, cap = suds_client(gateway, user, nonce, created, encoding)
    assert client.service.Echo(message=m) == m
    sent = cap.sent.decode("utf-8")
    assert "#PasswordText" in sent
    assert ("<wsse:Nonce" in sent) == nonce
    assert ("EncodingType=" in sent) == encoding
    check_forwarded(stub, m, user)


def suds_fault_code(cap):
    return wsg.wss_code(types.SimpleNamespace(content=cap.reply))


def test_suds_token_reused_is_a_replay(gateway, stub):
    """suds builds the token once: a second call carries the same Nonce. Calling setnonce()
    and setcreated() again before each call is what makes suds usable with a nonce."""
    client, token, cap = suds_client(gateway, "alice", nonce=True, created=True)
    m1, m2, m3 = wsg.marker(), wsg.marker(), wsg.marker()
    assert client.service.Echo(message=m1) == m1
    with pytest.raises(WebFault):
        client.service.Echo(message=m2)
    assert suds_fault_code(cap) == "InvalidSecurity"
    token.setnonce()
    token.setcreated()
    assert client.service.Echo(message=m3) == m3
    assert [len(forwarded(stub, x)) for x in (m1, m2, m3)] == [1, 0, 1]


def suds_timestamp(microsecond):
    ts = Timestamp(validity=300)
    ts.created = ts.created.replace(microsecond=microsecond)
    ts.expires = ts.created + datetime.timedelta(seconds=300)
    return ts


def test_suds_timestamp_whole_seconds(gateway, stub):
    m = wsg.marker()
    client, _, cap = suds_client(gateway, "alice", timestamp=suds_timestamp(0),
                                 path="/services/Timestamped")
    assert client.service.Echo(message=m) == m
    assert re.search(r"<wsu:Created>[^<.]+\+00:00</wsu:Created>", cap.sent.decode())
    check_forwarded(stub, m, "alice", path="/EchoTs")


def test_suds_timestamp_microseconds(gateway, stub):
    """suds writes microseconds and +00:00 into wsu:Timestamp: accepted by default, read at
    full precision (issue #16 item 5), also on a route that requires the Timestamp."""
    m = wsg.marker()
    client, _, cap = suds_client(gateway, "alice", created=True, timestamp=suds_timestamp(123456),
                                 path="/services/Timestamped")
    assert client.service.Echo(message=m) == m
    assert ".123456+00:00</wsu:Created><wsu:Expires>" in cap.sent.decode()
    check_forwarded(stub, m, "alice", path="/EchoTs")


@pytest.fixture(scope="module")
def strict_bsp_gateway(configured, stub):
    """security.strict_bsp = true, on the harness users (test_50's strict gateway is stopped
    by test_50 itself)."""
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw60-strict",
                    security={"strict_bsp": "true"})
    g.write_config()
    try:
        g.start()
        yield g
    finally:
        g.stop()


def test_suds_timestamp_microseconds_strict_bsp(strict_bsp_gateway, stub):
    """With security.strict_bsp = true the same Timestamp is refused, InvalidSecurity, as WSS4J
    does (BSP R3220 allows milliseconds at most, R3217 read as Z only)."""
    m = wsg.marker()
    client, _, cap = suds_client(strict_bsp_gateway, "alice", created=True,
                                 timestamp=suds_timestamp(123456))
    with pytest.raises(WebFault):
        client.service.Echo(message=m)
    assert ".123456+00:00</wsu:Created><wsu:Expires>" in cap.sent.decode()
    assert suds_fault_code(cap) == "InvalidSecurity"
    assert forwarded(stub, m) == []
    # Whole seconds with +00:00 too: strict reads R3217 as "Z".
    client, _, cap = suds_client(strict_bsp_gateway, "alice", created=True,
                                 timestamp=suds_timestamp(0))
    with pytest.raises(WebFault):
        client.service.Echo(message=m)
    assert suds_fault_code(cap) == "InvalidSecurity"


def test_suds_timestamp_microseconds_trailing_zeros(gateway, stub):
    """.123000: more than three fraction digits, but no finer than milliseconds; WSS4J only
    refuses a non-zero digit after the third (reference 3.5)."""
    m = wsg.marker()
    client, _, cap = suds_client(gateway, "alice", timestamp=suds_timestamp(123000))
    assert client.service.Echo(message=m) == m
    assert ".123000+00:00</wsu:Created>" in cap.sent.decode()
    check_forwarded(stub, m, "alice")


def test_suds_wrong_password(gateway, stub):
    m = wsg.marker()
    cap = SudsCapture()
    client = SudsClient("file://" + wsg.WSDL, cache=None, plugins=[cap], timeout=30,
                        location=gateway.url("/services/Echo"), port="EchoSoap11Port")
    security = Security()
    security.tokens.append(UsernameToken("alice", "not-alice-Pw"))
    client.set_options(wsse=security)
    with pytest.raises(WebFault):
        client.service.Echo(message=m)
    assert suds_fault_code(cap) == "FailedAuthentication"
    assert forwarded(stub, m) == []
