"""MTOM/XOP and SOAP with Attachments through the gateway (docs/mtom.md).

Clients: node-soap with forceMTOM (SOAP 1.1 and 1.2), MTOM built with Python's email package
(SOAP 1.2), hand-built SwA (SOAP 1.1). The stub upstream records each request's exact bytes:
every attachment must arrive byte for byte, the boundary unchanged, and only the root part's
Security header gone. Answers in multipart form come back unchanged. The hostile corpus of
test/data/hostile/multipart/ and the limits keys are checked on a gateway of this module
(limits.max_parts = 4, max_part_size = 32768, max_part_header_size = 1024).
"""

import base64
import email.generator
import email.message
import email.policy
import hashlib
import io
import os
import re
import uuid

import pytest

import wsg

CORPUS_DIR = os.path.join(wsg.TOP_SRC, "test", "data", "hostile", "multipart")
MULTIPART_FAULT = "The multipart/related request is malformed or over a limit"
SECURITY_RE = re.compile(rb"<wsse:Security\b.*?</wsse:Security>", re.S)
# Every byte value, CRLFs and dashes: what a careless relay would damage.
BINARY = bytes(range(256)) + b"\r\n--\r\n\r\n" + bytes(range(255, -1, -1)) + b"\r"
LIMITS = {"max_parts": "4", "max_part_size": "32768", "max_part_header_size": "1024"}


@pytest.fixture(scope="module")
def gw(configured):
    up = "http://127.0.0.1:%d" % configured.stub.port
    extra = [wsg.route_config("mtom", "/services/Mtom", up + "/EchoMtom"),
             wsg.route_config("mtom-basic", "/services/MtomBasic", up + "/EchoBasic").replace(
                 'auth = "wsse"', 'auth = "basic"')]
    g = wsg.Gateway(configured.dir, configured.db, configured.stub, name="wssgate-mtom",
                    limits=LIMITS, config_kw={"extra_routes": extra})
    g.write_config()
    g.start()
    yield g
    g.stop()


# ---------------------------------------------------------------- helpers

def boundary_of(ctype):
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    assert m, ctype
    return m.group(1).encode()


def split_parts(body, boundary):
    """[(headers bytes, content bytes)] of a multipart body whose parts hold no delimiter."""
    delim = b"\r\n--" + boundary
    assert body.startswith(b"--" + boundary + b"\r\n"), body[:100]
    chunks = (b"\r\n" + body).split(delim)[1:]
    assert chunks[-1].startswith(b"--"), chunks[-1][:20]
    out = []
    for c in chunks[:-1]:
        head, _, content = c[2:].partition(b"\r\n\r\n")
        out.append((head, content))
    return out


def recorded(stub, m):
    rec = stub.find(m)
    assert len(rec) == 1, rec
    return rec[0], base64.b64decode(rec[0]["body_b64"])


def ctype_of(rec):
    return wsg.header_values(rec, "Content-Type")[0]


def post_mime(url, ctype, body, timeout=30):
    wsg.remember_secrets(body)
    return wsg.http_session().post(url, data=body, headers={"Content-Type": ctype},
                                   timeout=timeout * wsg.TIME_SCALE)


def email_mtom(envelope, attachments, soap12=True):
    """An MTOM message built with the email package: (Content-Type, body bytes). Its
    generator writes line ends in binary parts as CRLF: compare with the body it made."""
    soap_type = "application/soap+xml" if soap12 else "text/xml"
    msg = email.message.EmailMessage(policy=email.policy.HTTP)
    msg["Content-Type"] = "multipart/related"
    msg.set_param("type", "application/xop+xml")
    msg.set_param("start", "<root@py>")
    msg.set_param("start-info", soap_type + '; action="urn:example:echo/Echo"')
    msg.set_boundary("py-" + uuid.uuid4().hex)
    root = email.message.EmailMessage(policy=email.policy.HTTP)
    root.set_content(envelope.encode("utf-8"), "application", "xop+xml", cte="binary",
                     params={"charset": "UTF-8", "type": soap_type})
    root["Content-ID"] = "<root@py>"
    del root["MIME-Version"]
    msg.attach(root)
    for cid, data in attachments:
        part = email.message.EmailMessage(policy=email.policy.HTTP)
        part.set_content(data, "application", "octet-stream", cte="binary")
        part["Content-ID"] = "<%s>" % cid
        del part["MIME-Version"]
        msg.attach(part)
    out = io.BytesIO()
    email.generator.BytesGenerator(out, policy=email.policy.HTTP).flatten(msg)
    head, _, body = out.getvalue().partition(b"\r\n\r\n")
    return str(msg["Content-Type"]), body


def xop_envelope(m, soap12, cid="att@py"):
    env = wsg.build("alice", soap12=soap12, message=m)
    include = ('<e:data><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" '
               'href="cid:%s"/></e:data>' % cid)
    return env.replace("</e:Echo>", include + "</e:Echo>")


def swa(m, root_length=False):
    """A SOAP 1.1 SwA message (root text/xml, a PNG-typed attachment): (ctype, body, env)."""
    env = wsg.build("alice", message=m).encode("utf-8")
    b = b"swa-" + uuid.uuid4().hex.encode()
    head = b"Content-Type: text/xml; charset=UTF-8\r\nContent-ID: <root@swa>\r\n"
    if root_length:
        head += b"Content-Length: %d\r\n" % len(env)
    body = (b"--" + b + b"\r\n" + head + b"\r\n" + env + b"\r\n--" + b + b"\r\n"
            b"Content-Type: image/png\r\nContent-ID: <logo@swa>\r\n"
            b"Content-Length: %d\r\n\r\n" % len(BINARY) + BINARY + b"\r\n--" + b + b"--\r\n")
    return ('multipart/related; type="text/xml"; start="<root@swa>"; boundary=' + b.decode(),
            body, env)


def assert_multipart_fault(r, soap12=False):
    f = wsg.assert_soap_fault(r, 400 if soap12 else 500, "Client", "Sender", soap12=soap12)
    assert f.reason == MULTIPART_FAULT, f
    return f


# ---------------------------------------------------------------- real clients

@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_node_soap_mtom_attachment_arrives_byte_identical(gw, stub, soap12):
    m = wsg.marker()
    res = wsg.node_client({
        "wsdl": wsg.WSDL, "endpoint": gw.url("/services/Echo"), "user": "alice",
        "password": wsg.USERS["alice"][0], "passwordType": "PasswordDigest",
        "hasTimeStamp": True, "hasNonce": True, "soap12": soap12, "message": m,
        "forceMTOM": True,
        "attachments": [{"mimetype": "application/octet-stream", "contentId": "bin@node",
                         "name": "data.bin",
                         "bodyB64": base64.b64encode(BINARY).decode()}]})
    assert res["ok"], res
    assert res["result"] == {"message": m}
    rec, body = recorded(stub, m)
    sent_ctype = res["lastRequestHeaders"]["Content-Type"]
    assert sent_ctype.startswith("multipart/related")
    assert ctype_of(rec) == sent_ctype  # boundary and every parameter unchanged
    parts = split_parts(body, boundary_of(sent_ctype))
    assert len(parts) == 2
    # The root: node-soap's envelope minus exactly its Security header.
    sent_root = res["lastRequest"].encode("utf-8")
    assert b"<wsse:UsernameToken" in sent_root
    assert parts[0][1] == SECURITY_RE.sub(b"", sent_root, count=1)
    assert parts[1][1] == BINARY
    assert b"Content-ID: <bin@node>" in parts[1][0]
    assert wsg.header_values(rec, "X-WSS-User") == ["alice"]
    assert int(wsg.header_values(rec, "Content-Length")[0]) == len(body)


def test_node_soap_mtom_answer_relayed(gw, stub):
    """node-soap reads the stub's MTOM answer through the gateway, attachment included."""
    m = wsg.marker()
    res = wsg.node_client({
        "wsdl": wsg.WSDL, "endpoint": gw.url("/services/Mtom"), "user": "alice",
        "password": wsg.USERS["alice"][0], "passwordType": "PasswordText",
        "hasTimeStamp": False, "hasNonce": True, "message": m, "forceMTOM": True,
        "attachments": [{"mimetype": "application/octet-stream", "contentId": "back@node",
                         "name": "b.bin", "bodyB64": base64.b64encode(BINARY).decode()}]})
    assert res["ok"], res
    assert res["result"] == {"message": m}
    got = [a for a in res.get("attachments") or [] if a["contentId"] == "<back@node>"]
    assert len(got) == 1, res.get("attachments")
    assert base64.b64decode(got[0]["bodyB64"]) == BINARY


def test_email_mtom_soap12(gw, stub):
    m = wsg.marker()
    big = os.urandom(20000)
    ctype, body = email_mtom(xop_envelope(m, True), [("att@py", BINARY), ("big@py", big)])
    r = post_mime(gw.url("/services/Echo"), ctype, body)
    assert r.status_code == 200, r.content[:500]
    assert r.headers["Content-Type"].startswith("application/soap+xml")
    assert wsg.echoed(r) == m
    rec, got = recorded(stub, m)
    assert ctype_of(rec) == ctype
    sec = SECURITY_RE.search(body)
    assert sec is not None
    # Everything but the Security header, byte for byte, boundary included.
    assert got == body[:sec.start()] + body[sec.end():]
    parts = split_parts(got, boundary_of(ctype))
    assert parts[1:] == split_parts(body, boundary_of(ctype))[1:]
    assert parts[2][1] == big.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(
        b"\n", b"\r\n")
    assert b"<xop:Include" in parts[0][1] and b"UsernameToken" not in parts[0][1]


def test_swa_soap11_root_length_rewritten(gw, stub):
    """SwA with a Content-Length on each part: the root's follows the cut envelope, the
    attachment's stays as sent."""
    m = wsg.marker()
    ctype, body, env = swa(m, root_length=True)
    r = post_mime(gw.url("/services/Echo"), ctype, body)
    assert r.status_code == 200, r.content[:500]
    assert wsg.echoed(r) == m
    rec, got = recorded(stub, m)
    assert ctype_of(rec) == ctype
    parts = split_parts(got, boundary_of(ctype))
    cut = SECURITY_RE.sub(b"", env, count=1)
    assert parts[0][1] == cut
    assert b"Content-Length: %d\r\n" % len(cut) in parts[0][0] + b"\r\n"
    assert parts[1] == (b"Content-Type: image/png\r\nContent-ID: <logo@swa>\r\n"
                        b"Content-Length: %d" % len(BINARY), BINARY)


def test_kept_security_header_forwards_the_message_as_sent(gw, stub):
    """strip_security_header = false: nothing to cut, the whole message goes on unchanged."""
    m = wsg.marker()
    ctype, body, _ = swa(m)
    r = post_mime(gw.url("/services/EchoKeep"), ctype, body)
    assert r.status_code == 200, r.content[:500]
    rec, got = recorded(stub, m)
    assert got == body


def test_basic_route_forwards_the_message_as_sent(gw, stub):
    """HTTP Basic: the envelope is not the gateway's business, the body goes on unchanged."""
    m = wsg.marker()
    ctype, body, _ = swa(m)
    r = wsg.http_session().post(gw.url("/services/MtomBasic"), data=body,
                                headers={"Content-Type": ctype},
                                auth=("alice", wsg.USERS["alice"][0]), timeout=30)
    assert r.status_code == 200, r.content[:500]
    rec, got = recorded(stub, m)
    assert got == body
    assert wsg.header_values(rec, "X-WSS-User") == ["alice"]


def test_multipart_answer_relayed_unchanged(gw, stub):
    m = wsg.marker()
    ctype, body = email_mtom(xop_envelope(m, False), [("att@py", BINARY)], soap12=False)
    r = post_mime(gw.url("/services/Mtom"), ctype, body)
    assert r.status_code == 200, r.content[:500]
    assert r.headers["Content-Type"] == (
        'multipart/related; type="application/xop+xml"; start="<reply-root@stub>"; '
        'start-info="text/xml"; boundary="stub-mtom-reply"')
    assert hashlib.sha256(r.content).hexdigest() == r.headers["X-Stub-Body-SHA256"]
    parts = split_parts(r.content, b"stub-mtom-reply")
    assert m.encode() in parts[0][1]
    assert parts[1][1] == split_parts(body, boundary_of(ctype))[1][1]


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_mtom_replay_refused(gw, stub, soap12):
    m = wsg.marker()
    ctype, body = email_mtom(xop_envelope(m, soap12), [("att@py", BINARY)], soap12=soap12)
    r = post_mime(gw.url("/services/Echo"), ctype, body)
    assert r.status_code == 200, r.content[:500]
    again = post_mime(gw.url("/services/Echo"), ctype, body)
    wsg.assert_wss_fault(again, "InvalidSecurity", soap12=soap12)
    assert len(stub.find(m)) == 1


def test_wrong_password_in_mtom_refused(gw, stub):
    m = wsg.marker()
    env = wsg.build("alice", password="not-the-password-9", soap12=True, message=m)
    ctype, body = email_mtom(env, [("att@py", BINARY)])
    r = post_mime(gw.url("/services/Echo"), ctype, body)
    wsg.assert_wss_fault(r, "FailedAuthentication", soap12=True)
    assert stub.find(m) == []


@pytest.mark.parametrize("ctype", [
    'multipart/related; type="application/xop+xml"',
    'multipart/related; type="text/xml"; boundary=b'], ids=["no-boundary", "no-delimiter"])
def test_single_part_envelope_labelled_multipart(gw, stub, ctype):
    """A plain envelope sent as multipart/related is a multipart fault, and its nonce is not
    consumed: the same bytes as text/xml are then accepted."""
    m = wsg.marker()
    body = wsg.build("alice", message=m).encode("utf-8")
    assert_multipart_fault(post_mime(gw.url("/services/Echo"), ctype, body))
    assert stub.find(m) == []
    ok = wsg.post(gw.url("/services/Echo"), body)
    assert ok.status_code == 200 and wsg.echoed(ok) == m


# ---------------------------------------------------------------- limits

def mtom_with(m, attachments):
    return email_mtom(xop_envelope(m, False), attachments, soap12=False)


@pytest.mark.parametrize("n,ok", [(3, True), (4, False)], ids=["4-parts", "5-parts"])
def test_max_parts(gw, stub, n, ok):
    m = wsg.marker()
    ctype, body = mtom_with(m, [("a%d@py" % i, b"x") for i in range(n)])
    r = post_mime(gw.url("/services/Echo"), ctype, body)
    if ok:
        assert r.status_code == 200, r.content[:500]
    else:
        assert_multipart_fault(r)
        assert stub.find(m) == []


@pytest.mark.parametrize("size,ok", [(32768, True), (32769, False)], ids=["at", "over"])
def test_max_part_size(gw, stub, size, ok):
    m = wsg.marker()
    ctype, body = mtom_with(m, [("big@py", b"y" * size)])
    r = post_mime(gw.url("/services/Echo"), ctype, body)
    if ok:
        assert r.status_code == 200, r.content[:500]
        assert split_parts(recorded(stub, m)[1], boundary_of(ctype))[1][1] == b"y" * size
    else:
        assert_multipart_fault(r)
        assert stub.find(m) == []


@pytest.mark.parametrize("pad,ok", [(900, True), (1100, False)], ids=["under", "over"])
def test_max_part_header_size(gw, stub, pad, ok):
    m = wsg.marker()
    ctype, body = mtom_with(m, [("h@py", b"z")])
    body = body.replace(b"Content-ID: <h@py>\r\n",
                        b"Content-ID: <h@py>\r\nX-Pad: " + b"p" * pad + b"\r\n")
    r = post_mime(gw.url("/services/Echo"), ctype, body)
    if ok:
        assert r.status_code == 200, r.content[:500]
    else:
        assert_multipart_fault(r)
        assert stub.find(m) == []


# ---------------------------------------------------------------- hostile corpus

# file -> regex the audit reason must match; root-doctype* are refused by the envelope
# parser (a Client fault like any single-part DOCTYPE), all others by the multipart checks.
CORPUS = {
    "missing-boundary.mime": "boundary",
    "boundary-too-long.mime": "boundary",
    "no-delimiter.mime": "no boundary delimiter",
    "no-parts.mime": "no parts",
    "unterminated-part.mime": "unterminated part",
    "unterminated-headers.mime": "unterminated part headers",
    "duplicate-content-id.mime": "duplicate Content-ID",
    "duplicate-content-id-case.mime": "duplicate Content-ID",
    "soap-part-before-root.mime": "a SOAP part comes before the root part",
    "duplicate-root-content-id.mime": "duplicate Content-ID",
    "empty-content-id.mime": "empty Content-ID",
    "nested-multipart.mime": "nested multipart",
    "root-wrong-type.mime": "not the message's type",
    "xop-root-not-xop.mime": "not the message's type",
    "xop-root-not-soap.mime": "not a SOAP envelope",
    "missing-start-part.mime": "start parameter",
    "missing-start-part-soap12.mime": "start parameter",
    "folded-header.mime": "folded",
    "bare-lf-header.mime": "bare LF",
    "part-length-mismatch.mime": "Content-Length does not match",
    "boundary-inside-part.mime": "boundary inside a part",
    "root-base64.mime": "transfer-encoded",
    "too-many-parts.mime": "max_parts",
    "part-header-flood.mime": "part headers too large",
    "root-doctype.mime": "DOCTYPE|DTD",
    "root-doctype-soap12.mime": "DOCTYPE|DTD",
}


def test_corpus_table_lists_every_file():
    files = sorted(f for f in os.listdir(CORPUS_DIR) if f.endswith(".mime"))
    assert files == sorted(CORPUS), "test/data/hostile/multipart and CORPUS differ"


def audit_tail(gw, offset):
    return wsg.settled_text(gw.audit_log)[offset:].splitlines()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_multipart(gw, stub, name):
    soap12 = "-soap12" in name
    m = wsg.marker()
    with open(os.path.join(CORPUS_DIR, name), "rb") as f:
        ctype, _, body = f.read().partition(b"\n")
    env = wsg.build("alice", soap12=soap12, message=m).encode("utf-8")
    body = body.replace(b"${ENVELOPE}", env)
    before = len(stub.requests())
    at = len(wsg.settled_text(gw.audit_log))
    r = post_mime(gw.url("/services/Echo"), ctype.decode("latin-1"), body)
    if name.startswith("root-doctype"):
        wsg.assert_soap_fault(r, 400 if soap12 else 500, "Client", "Sender", soap12=soap12)
    else:
        assert_multipart_fault(r, soap12=soap12)
    audit = [l for l in audit_tail(gw, at) if "event=bad_request" in l]
    assert audit and re.search(CORPUS[name], audit[-1], re.I), audit
    assert len(stub.requests()) == before, "something reached the upstream"
    ok = post_mime(gw.url("/services/Echo"), *swa(wsg.marker())[:2])
    assert ok.status_code == 200 and gw.proc.alive()
