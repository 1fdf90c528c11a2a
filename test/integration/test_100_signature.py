"""X.509 signatures (route `signature` block): messages signed by zeep's BinarySignature and
Signature (Debian python3-xmlsec) with and without a UsernameToken, through a gateway whose
routes verify them against a test PKI made here with the `openssl` command. Accepted with
the right key; refused with wrong, expired, revoked or untrusted keys, any modified signed
byte, RSA-SHA1 where not listed, every signature-wrapping (XSW) variant (never forwarded),
and a replayed signed message without nonce. The Security header never reaches the upstream."""

import copy
import datetime
import os
import re
import subprocess

import pytest
import xmlsec
from lxml import etree
from zeep import Client
from zeep.wsse import utils
from zeep.wsse.signature import BinarySignature, Signature
from zeep.wsse.username import UsernameToken

import wsg
import zeep_util

DS = "http://www.w3.org/2000/09/xmldsig#"
S11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {"ds": DS, "wsse": wsg.WSSE_NS, "wsu": wsg.WSU_NS, "s": S11,
      "s12": "http://www.w3.org/2003/05/soap-envelope"}

CA_CNF = """[ ca ]
default_ca = CA_default
[ CA_default ]
dir = %(dir)s
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_days = 30
policy = policy_any
unique_subject = no
x509_extensions = signer
[ policy_any ]
commonName = supplied
[ signer ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ encipher_only ]
basicConstraints = CA:FALSE
keyUsage = critical, keyEncipherment
subjectKeyIdentifier = hash
"""


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    os.makedirs(os.path.join(d, "newcerts"), exist_ok=True)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(d, "crlnumber"), "w") as f:
        f.write("01\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(CA_CNF % {"dir": d})
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "30", "-subj", "/CN=" + name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def issue(d, name, ec=False, expired=False, ext="signer"):
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if ec else [
        "-newkey", "rsa:2048"]
    openssl("req", "-new", *key, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=" + name, cwd=d)
    dates = ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] if expired else [
        "-days", "30"]
    openssl("ca", "-batch", "-config", "ca.cnf", "-in", name + ".csr", "-out", name + ".pem",
            "-notext", "-extensions", ext, *dates, cwd=d)
    return os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")


@pytest.fixture(scope="module")
def pki(workdir):
    d = os.path.join(workdir, "pki-sig")
    other = os.path.join(d, "other")
    os.makedirs(other, exist_ok=True)
    make_ca(d, "sig-test-ca")
    make_ca(other, "untrusted-ca")
    p = {
        "rsa": issue(d, "client-rsa"),
        "ec": issue(d, "client-ec", ec=True),
        "expired": issue(d, "client-expired", expired=True),
        "revoked": issue(d, "client-revoked"),
        "encipher": issue(d, "client-encipher", ext="encipher_only"),
        "untrusted": issue(other, "client-untrusted"),
    }
    openssl("ca", "-config", "ca.cnf", "-revoke", "client-revoked.pem", cwd=d)
    openssl("ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem", cwd=d)
    with open(os.path.join(d, "known.pem"), "w") as out:
        for k in ("rsa", "ec"):
            with open(p[k][1]) as f:
                out.write(f.read())
    p["dir"] = d
    return p


def sig_block(require=True, parts='"Body", "Timestamp"', algs='"rsa-sha256", "ecdsa-sha256"'):
    return (' signature = { require = %s; parts = ( %s ); trust = "pki-sig/ca.pem"; '
            'crl = "pki-sig/crl.pem"; certs = "pki-sig/known.pem"; algorithms = ( %s ); };'
            % ("true" if require else "false", parts, algs))


def no_roles(route):
    return route.replace('roles = ( "echo-users" );', "")


@pytest.fixture(scope="module")
def siggw(configured, pki):
    up = "http://127.0.0.1:%d" % configured.stub.port
    routes = [
        no_roles(wsg.route_config("signed", "/services/Signed", up + "/Echo",
                                  extra=sig_block())),
        no_roles(wsg.route_config("signed-sha1", "/services/SignedSha1", up + "/Echo",
                                  extra=sig_block(algs='"rsa-sha1", "rsa-sha256"'))),
        no_roles(wsg.route_config("signed-optional", "/services/SignedOptional",
                                  up + "/Echo", extra=sig_block(require=False))),
        no_roles(wsg.route_config("signed-ut", "/services/SignedUT", up + "/Echo",
                                  extra=sig_block(parts='"Body", "Timestamp", '
                                                        '"UsernameToken"'))),
        wsg.route_config("signed-roles", "/services/SignedRoles", up + "/Echo",
                         extra=sig_block()),
    ]
    gw = wsg.Gateway(configured.dir, configured.db, configured.stub, name="wssgate-sig",
                     config_kw={"extra_routes": routes})
    gw.write_config()
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def shared_pair(configured, pki):
    """Two gateways with the signature routes on the shared (MariaDB) replay store."""
    up = "http://127.0.0.1:%d" % configured.stub.port
    gws = []
    try:
        for name in ("gw100a", "gw100b"):
            route = no_roles(wsg.route_config("signed", "/services/Signed", up + "/Echo",
                                              extra=sig_block()))
            gw = wsg.Gateway(configured.dir, configured.db, configured.stub, name=name,
                             security={"replay_store": '"mariadb"'},
                             config_kw={"extra_routes": [route]})
            gw.write_config()
            gw.start()
            gws.append(gw)
        yield gws
    finally:
        for gw in gws:
            if gw.proc is not None and gw.proc.alive():
                gw.stop()


@pytest.fixture(scope="module")
def limited(configured, pki):
    """A signature route behind security.client_limit = 3 failures."""
    up = "http://127.0.0.1:%d" % configured.stub.port
    route = no_roles(wsg.route_config("signed", "/services/Signed", up + "/Echo",
                                      extra=sig_block()))
    gw = wsg.Gateway(configured.dir, configured.db, configured.stub, name="gw100-limit",
                     security={"client_limit": "{ max_failures = 3; window = 60; "
                                               "duration = 60; }"},
                     config_kw={"extra_routes": [route]})
    gw.write_config()
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


class TimestampOnly:
    """A wsu:Timestamp in the Security header, for signature-only messages."""

    def apply(self, envelope, headers):
        utils.get_security_header(envelope).append(zeep_util.timestamp_element())
        return envelope, headers

    def verify(self, envelope):
        return envelope


class Compose:
    """zeep applies a list of wsse plugins but then calls verify() on the list itself."""

    def __init__(self, plugins):
        self.plugins = plugins

    def apply(self, envelope, headers):
        for p in self.plugins:
            envelope, headers = p.apply(envelope, headers)
        return envelope, headers

    def verify(self, envelope):
        return envelope


class NoVerify:
    """The Echo stub does not sign its answers: checking them is not this test's concern."""

    def verify(self, envelope):
        return envelope


class BinarySig(NoVerify, BinarySignature):
    pass


class IssuerSerialSig(NoVerify, Signature):
    pass


SHA256 = (xmlsec.Transform.RSA_SHA256, xmlsec.Transform.SHA256)
ECDSA = (xmlsec.Transform.ECDSA_SHA256, xmlsec.Transform.SHA256)
SHA1 = (xmlsec.Transform.RSA_SHA1, xmlsec.Transform.SHA1)


def plugins(keypair, algs=SHA256, ut=False, timestamp=True, binary=True):
    out = []
    if ut:
        out.append(UsernameToken("alice", wsg.USERS["alice"][0], use_digest=True,
                                 timestamp_token=zeep_util.timestamp_element()))
    elif timestamp:
        out.append(TimestampOnly())
    cls = BinarySig if binary else IssuerSerialSig
    out.append(cls(keypair[0], keypair[1], signature_method=algs[0], digest_method=algs[1]))
    return Compose(out)


def signed_message(m, keypair, binding="soap11", **kw):
    """The bytes zeep sends for Echo(m), signed; and the lxml tree."""
    c = Client(wsg.WSDL, wsse=plugins(keypair, **kw))
    svc = c.create_service(zeep_util.BINDINGS[binding], "http://127.0.0.1/unused")
    env = c.create_message(svc, "Echo", message=m)
    return etree.tostring(env)


def send(gw, path, body, soap12=False):
    return wsg.post(gw.url(path), body, soap12=soap12)


def check_forwarded(stub, m, user):
    rec = stub.find(m)
    assert len(rec) == 1, "upstream saw %d requests with the marker" % len(rec)
    rec = rec[0]
    assert [wsg.header_text(v) for v in wsg.header_values(rec, "X-WSS-User")] == [user]
    root = etree.fromstring(rec["body"].encode("utf-8"))
    assert root.xpath("//wsse:Security", namespaces=NS) == [], "Security header forwarded"
    assert "Signature" not in rec["body"] and "BinarySecurityToken" not in rec["body"]
    return rec


def never_forwarded(stub, m):
    assert stub.find(m) == [], "a refused message reached the upstream"


def audit_lines(gw):
    return wsg.settled_text(gw.audit_log).splitlines()


# ---------------------------------------------------------------- accepted


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_zeep_binary_signature_call(siggw, stub, pki, key, binding):
    """A real zeep call, signed with a BST direct reference, signature only."""
    m = wsg.marker()
    transport = zeep_util.CapturingTransport()
    c = Client(wsg.WSDL, transport=transport,
               wsse=plugins(pki[key], algs=ECDSA if key == "ec" else SHA256))
    svc = c.create_service(zeep_util.BINDINGS[binding], siggw.url("/services/Signed"))
    assert svc.Echo(message=m) == m
    assert b"BinarySecurityToken" in transport.last_body
    check_forwarded(stub, m, "")
    fp = subprocess.run(["openssl", "x509", "-in", pki[key][1], "-noout", "-fingerprint",
                         "-sha256"], capture_output=True, text=True, check=True).stdout
    fp = fp.split("=", 1)[1].strip().replace(":", "").lower()
    assert any("event=signed" in ln and fp in ln for ln in audit_lines(siggw))


def test_zeep_signature_x509_certificate(siggw, stub, pki):
    """zeep's Signature: the certificate in the STR's X509Data (its IssuerSerial is empty)."""
    m = wsg.marker()
    body = signed_message(m, pki["rsa"], binary=False)
    assert b"X509Certificate" in body and b"BinarySecurityToken" not in body
    r = send(siggw, "/services/Signed", body)
    assert r.status_code == 200, r.content[:400]
    check_forwarded(stub, m, "")


def cert_facts(pem):
    """(issuer RFC 2253, decimal serial, SKI bytes, SHA-1 thumbprint bytes) of a PEM cert."""
    def x(*args):
        return subprocess.run(["openssl", "x509", "-in", pem, "-noout"] + list(args),
                              capture_output=True, text=True, check=True).stdout
    issuer = x("-issuer", "-nameopt", "RFC2253").split("=", 1)[1].strip()
    serial = int(x("-serial").split("=", 1)[1].strip(), 16)
    ski = x("-ext", "subjectKeyIdentifier").splitlines()[-1].strip().replace(":", "")
    thumb = x("-fingerprint", "-sha1").split("=", 1)[1].strip().replace(":", "")
    return issuer, str(serial), bytes.fromhex(ski), bytes.fromhex(thumb)


def rekey(body, pem, form):
    """The STR of a zeep Signature message rewritten to `form` for certificate `pem`
    (KeyInfo is not signed, so the signature stays valid)."""
    import base64
    tree = etree.fromstring(body)
    str_el = tree.find(".//ds:KeyInfo/wsse:SecurityTokenReference", NS)
    for child in list(str_el):
        str_el.remove(child)
    issuer, serial, ski, thumb = cert_facts(pem)
    if form == "issuer-serial":
        xd = etree.SubElement(str_el, "{%s}X509Data" % DS)
        iss = etree.SubElement(xd, "{%s}X509IssuerSerial" % DS)
        etree.SubElement(iss, "{%s}X509IssuerName" % DS).text = issuer
        etree.SubElement(iss, "{%s}X509SerialNumber" % DS).text = serial
    else:
        ki = etree.SubElement(str_el, "{%s}KeyIdentifier" % wsg.WSSE_NS)
        ki.set("EncodingType", "http://docs.oasis-open.org/wss/2004/01/"
               "oasis-200401-wss-soap-message-security-1.0#Base64Binary")
        if form == "ski":
            ki.set("ValueType", "http://docs.oasis-open.org/wss/2004/01/"
                   "oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier")
            ki.text = base64.b64encode(ski).decode()
        else:
            ki.set("ValueType", "http://docs.oasis-open.org/wss/"
                   "oasis-wss-soap-message-security-1.1#ThumbprintSHA1")
            ki.text = base64.b64encode(thumb).decode()
    return etree.tostring(tree)


@pytest.mark.parametrize("form", ["issuer-serial", "ski", "thumbprint"])
def test_key_identifiers_against_configured_certs(siggw, stub, pki, form):
    m = wsg.marker()
    body = rekey(signed_message(m, pki["rsa"], binary=False), pki["rsa"][1], form)
    assert b"X509Certificate" not in body
    r = send(siggw, "/services/Signed", body)
    assert r.status_code == 200, r.content[:400]
    check_forwarded(stub, m, "")


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_signature_with_username_token(siggw, stub, pki, binding):
    """Both present: both pass; the user is the UsernameToken's."""
    m = wsg.marker()
    body = signed_message(m, pki["rsa"], binding=binding, ut=True)
    r = send(siggw, "/services/SignedRoles", body, soap12=binding == "soap12")
    assert r.status_code == 200, r.content[:400]
    check_forwarded(stub, m, "alice")


def test_username_token_wrong_password_with_good_signature(siggw, stub, pki):
    m = wsg.marker()
    plug = plugins(pki["rsa"], ut=True)
    plug.plugins[0] = UsernameToken("alice", "not-her-password", use_digest=True,
                            timestamp_token=zeep_util.timestamp_element())
    c = Client(wsg.WSDL, wsse=plug)
    body = etree.tostring(c.create_message(c.service, "Echo", message=m))
    wsg.assert_wss_fault(send(siggw, "/services/SignedRoles", body), "FailedAuthentication")
    never_forwarded(stub, m)


def test_optional_signature_absent_then_bad(siggw, stub, pki):
    """require = false: a message without signature passes on its UsernameToken, a bad
    signature is refused all the same."""
    m = wsg.marker()
    body = wsg.build("alice", message=m)
    r = send(siggw, "/services/SignedOptional", body)
    assert r.status_code == 200, r.content[:400]
    m2 = wsg.marker()
    body = signed_message(m2, pki["rsa"], ut=True).replace(m2.encode(), m2.encode() + b"x")
    wsg.assert_wss_fault(send(siggw, "/services/SignedOptional", body), "FailedCheck")
    never_forwarded(stub, m2 + "x")


def test_concurrent_signed_messages(siggw, stub, pki):
    """Many signers' messages at once over the workers (the shared certificate cache): every
    good one passes, every altered one is refused."""
    import concurrent.futures
    jobs = []
    for i in range(40):
        m = wsg.marker()
        key = ("rsa", SHA256) if i % 2 else ("ec", ECDSA)
        body = signed_message(m, pki[key[0]], algs=key[1])
        if i % 5 == 0:
            body = body.replace(m.encode(), m.encode() + b"!")
        jobs.append((m, i % 5 != 0, body))
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        codes = list(ex.map(lambda j: send(siggw, "/services/Signed", j[2]).status_code, jobs))
    for (m, good, _), code in zip(jobs, codes):
        assert code == (200 if good else 500), (m, good, code)
        assert len(stub.find(m)) == (1 if good else 0)


# ---------------------------------------------------------------- refused: keys


@pytest.mark.parametrize("key,code", [
    ("expired", "InvalidSecurityToken"),
    ("revoked", "InvalidSecurityToken"),
    ("untrusted", "InvalidSecurityToken"),
    ("encipher", "InvalidSecurityToken"),
])
def test_bad_keys_refused(siggw, stub, pki, key, code):
    m = wsg.marker()
    body = signed_message(m, pki[key])
    wsg.assert_wss_fault(send(siggw, "/services/Signed", body), code)
    never_forwarded(stub, m)


def test_wrong_key_for_certificate(siggw, stub, pki):
    """Signed with one key, the BST carries another (trusted) certificate."""
    m = wsg.marker()
    body = signed_message(m, (pki["revoked"][0], pki["rsa"][1]))
    wsg.assert_wss_fault(send(siggw, "/services/Signed", body), "FailedCheck")
    never_forwarded(stub, m)


@pytest.mark.parametrize("form", ["issuer-serial", "ski", "thumbprint"])
def test_key_identifier_unknown_certificate(siggw, stub, pki, form):
    """A trusted signer that is not among the configured certs cannot be found."""
    m = wsg.marker()
    body = rekey(signed_message(m, pki["revoked"], binary=False), pki["revoked"][1], form)
    wsg.assert_wss_fault(send(siggw, "/services/Signed", body), "SecurityTokenUnavailable")
    never_forwarded(stub, m)


def test_rsa_sha1_only_where_listed(siggw, stub, pki):
    m = wsg.marker()
    body = signed_message(m, pki["rsa"], algs=SHA1)
    wsg.assert_wss_fault(send(siggw, "/services/Signed", body), "InvalidSecurity")
    never_forwarded(stub, m)
    r = send(siggw, "/services/SignedSha1", body)
    assert r.status_code == 200, r.content[:400]
    check_forwarded(stub, m, "")


# ---------------------------------------------------------------- refused: modified bytes


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_modified_body_text(siggw, stub, pki, binding):
    m = wsg.marker()
    body = signed_message(m, pki["rsa"], binding=binding).replace(m.encode(),
                                                                 m.encode() + b"!")
    soap12 = binding == "soap12"
    wsg.assert_wss_fault(send(siggw, "/services/Signed", body, soap12=soap12), "FailedCheck",
                         soap12=soap12)
    never_forwarded(stub, m + "!")


def test_modified_timestamp(siggw, stub, pki):
    m = wsg.marker()
    body = signed_message(m, pki["rsa"])
    body = re.sub(rb"(<wsu:Expires>\d{4})", lambda g: g.group(1)[:-1] + b"9", body, count=1)
    wsg.assert_wss_fault(send(siggw, "/services/Signed", body), "FailedCheck")
    never_forwarded(stub, m)


def test_modified_signature_value(siggw, stub, pki):
    m = wsg.marker()
    tree = etree.fromstring(signed_message(m, pki["rsa"]))
    sv = tree.find(".//ds:SignatureValue", NS)
    sv.text = ("B" if sv.text.strip()[0] != "B" else "C") + sv.text.strip()[1:]
    wsg.assert_wss_fault(send(siggw, "/services/Signed", etree.tostring(tree)), "FailedCheck")
    never_forwarded(stub, m)


def test_bad_signatures_count_against_the_address(limited, stub, pki):
    """Refused signatures count as failed authentications (security.client_limit): after
    three, even a good message from the address is refused before any verification."""
    for _ in range(3):
        m = wsg.marker()
        body = signed_message(m, pki["rsa"]).replace(m.encode(), m.encode() + b"!")
        wsg.assert_wss_fault(send(limited, "/services/Signed", body), "FailedCheck")
    m = wsg.marker()
    r = send(limited, "/services/Signed", signed_message(m, pki["rsa"]))
    wsg.assert_soap_fault(r, 429, "Server", "Receiver")
    assert r.headers.get("Retry-After")
    never_forwarded(stub, m)
    assert any("event=client_lockout" in ln
               for ln in wsg.settled_text(limited.audit_log).splitlines())


# ---------------------------------------------------------------- refused: policy


def test_signature_only_refused_without_signature_block(siggw, stub, pki):
    m = wsg.marker()
    body = signed_message(m, pki["rsa"])
    wsg.assert_wss_fault(send(siggw, "/services/Echo", body), "InvalidSecurity")
    never_forwarded(stub, m)


def test_signature_only_refused_where_roles_apply(siggw, stub, pki):
    m = wsg.marker()
    body = signed_message(m, pki["rsa"])
    wsg.assert_wss_fault(send(siggw, "/services/SignedRoles", body), "FailedAuthentication")
    never_forwarded(stub, m)


def test_required_part_missing(siggw, stub, pki):
    """Timestamp required but absent; UsernameToken required but not signed."""
    m = wsg.marker()
    body = signed_message(m, pki["rsa"], timestamp=False)
    wsg.assert_wss_fault(send(siggw, "/services/Signed", body), "InvalidSecurity")
    m2 = wsg.marker()
    body = signed_message(m2, pki["rsa"], ut=True)
    wsg.assert_wss_fault(send(siggw, "/services/SignedUT", body), "InvalidSecurity")
    never_forwarded(stub, m)
    never_forwarded(stub, m2)


def sign_with_username_token(m, keypair):
    """Body, Timestamp and UsernameToken signed with python3-xmlsec as zeep's Signature
    does it (zeep itself never signs the UsernameToken)."""
    from zeep.wsse import signature as zsig
    c = Client(wsg.WSDL, wsse=UsernameToken("alice", wsg.USERS["alice"][0], use_digest=True,
                                            timestamp_token=zeep_util.timestamp_element()))
    env = c.create_message(c.service, "Echo", message=m)
    with open(keypair[0], "rb") as k, open(keypair[1], "rb") as crt:
        key = zsig._make_sign_key(k.read(), crt.read(), None)
    sig = xmlsec.template.create(env, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256)
    key_info = xmlsec.template.ensure_key_info(sig)
    x509 = xmlsec.template.add_x509_data(key_info)
    xmlsec.template.x509_data_add_certificate(x509)
    sec = utils.get_security_header(env)
    sec.insert(0, sig)
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    for node in (env.find("s:Body", NS), sec.find("wsu:Timestamp", NS),
                 sec.find("wsse:UsernameToken", NS)):
        zsig._sign_node(ctx, sig, node, xmlsec.Transform.SHA256)
    ctx.sign(sig)
    etree.SubElement(key_info, "{%s}SecurityTokenReference" % wsg.WSSE_NS).append(x509)
    return etree.tostring(env)


def test_signed_username_token(siggw, stub, pki):
    """parts names UsernameToken: accepted when it is signed, refused when it is altered."""
    m = wsg.marker()
    body = sign_with_username_token(m, pki["rsa"])
    r = send(siggw, "/services/SignedUT", body)
    assert r.status_code == 200, r.content[:400]
    check_forwarded(stub, m, "alice")
    m2 = wsg.marker()
    body = sign_with_username_token(m2, pki["rsa"]).replace(
        b">alice<", b">bob<", 1)
    wsg.assert_wss_fault(send(siggw, "/services/SignedUT", body), "FailedCheck")
    never_forwarded(stub, m2)


def test_unsigned_message_refused_when_required(siggw, stub):
    m = wsg.marker()
    wsg.assert_wss_fault(send(siggw, "/services/Signed", wsg.build("alice", message=m)),
                         "InvalidSecurity")
    never_forwarded(stub, m)


def test_replayed_signed_message_without_nonce(siggw, stub, pki):
    m = wsg.marker()
    body = signed_message(m, pki["rsa"])
    assert b"Nonce" not in body
    assert send(siggw, "/services/Signed", body).status_code == 200
    wsg.assert_wss_fault(send(siggw, "/services/Signed", body), "InvalidSecurity")
    assert len(stub.find(m)) == 1
    assert any("nonce replayed" in ln for ln in audit_lines(siggw))


def test_replayed_signed_message_across_gateways(shared_pair, stub, pki):
    """The signature value goes into the shared replay store like a nonce."""
    m = wsg.marker()
    body = signed_message(m, pki["rsa"])
    a, b = shared_pair
    assert send(a, "/services/Signed", body).status_code == 200
    wsg.assert_wss_fault(send(b, "/services/Signed", body), "InvalidSecurity")
    assert len(stub.find(m)) == 1


P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_replay_with_malleated_ecdsa_signature(siggw, stub, pki):
    """(r, n - s) is a second valid ECDSA signature anyone can compute: sending it with the
    same message is still a replay. Also the SignatureValue re-encoded with line breaks."""
    import base64
    m = wsg.marker()
    body = signed_message(m, pki["ec"], algs=ECDSA)
    assert send(siggw, "/services/Signed", body).status_code == 200
    tree = etree.fromstring(body)
    sv = tree.find(".//ds:SignatureValue", NS)
    raw = base64.b64decode(sv.text)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    other = r + (P256_N - s).to_bytes(32, "big")
    assert other != raw
    sv.text = base64.b64encode(other).decode()
    wsg.assert_wss_fault(send(siggw, "/services/Signed", etree.tostring(tree)),
                         "InvalidSecurity")
    assert "nonce replayed" in audit_lines(siggw)[-1], "the malleated signature must verify"
    b64 = base64.b64encode(raw).decode()
    sv.text = "\n".join(b64[i:i + 20] for i in range(0, len(b64), 20))
    wsg.assert_wss_fault(send(siggw, "/services/Signed", etree.tostring(tree)),
                         "InvalidSecurity")
    assert "nonce replayed" in audit_lines(siggw)[-1]
    assert len(stub.find(m)) == 1


# ---------------------------------------------------------------- XSW variants


def _signed_tree(pki, m):
    return etree.fromstring(signed_message(m, pki["rsa"]))


def _body(tree):
    return tree.find("s:Body", NS)


def _security(tree):
    return tree.find("s:Header/wsse:Security", NS)


def _fake_body(tree, text):
    fake = etree.Element("{%s}Body" % S11)
    echo = copy.deepcopy(_body(tree)[0])
    for el in echo.iter():
        if el.text and el.text.startswith("m-"):
            el.text = text
    fake.append(echo)
    return fake


def xsw_body_in_header(tree, evil):
    """The signed Body moved into a new header block, a fake Body in its place."""
    body = _body(tree)
    wrapper = etree.SubElement(tree.find("s:Header", NS), "{urn:evil}Wrapper")
    tree.replace(body, _fake_body(tree, evil))
    wrapper.append(body)


def xsw_body_in_object(tree, evil):
    """The signed Body wrapped into ds:Object inside the Signature."""
    body = _body(tree)
    obj = etree.SubElement(tree.find(".//ds:Signature", NS), "{%s}Object" % DS)
    tree.replace(body, _fake_body(tree, evil))
    obj.append(body)


def xsw_duplicate_id(tree, evil):
    """A fake Body carrying the same wsu:Id as the signed one, the signed one moved."""
    body = _body(tree)
    fake = _fake_body(tree, evil)
    fake.set("{%s}Id" % wsg.WSU_NS, body.get("{%s}Id" % wsg.WSU_NS))
    wrapper = etree.SubElement(tree.find("s:Header", NS), "{urn:evil}Wrapper")
    tree.replace(body, fake)
    wrapper.append(body)


def xsw_duplicate_id_in_body(tree, evil):
    """The signed Body stays; a second element in the Body content repeats its Id."""
    body = _body(tree)
    dup = etree.SubElement(body, "{urn:evil}Dup")
    dup.set("{%s}Id" % wsg.WSU_NS, body.get("{%s}Id" % wsg.WSU_NS))
    body[0][0].text = evil


def xsw_timestamp_moved(tree, evil):
    """The signed Timestamp moved into another header, a fresh unsigned one in Security."""
    sec = _security(tree)
    ts = sec.find("wsu:Timestamp", NS)
    fresh = zeep_util.timestamp_element(ttl=86400)
    sec.replace(ts, fresh)
    wrapper = etree.SubElement(tree.find("s:Header", NS), "{urn:evil}Wrapper")
    wrapper.append(ts)


def xsw_other_namespace_body(tree, evil):
    """The signed element is a same-named Body in another namespace; a fake SOAP Body."""
    body = _body(tree)
    moved = etree.Element("{urn:evil}Body", nsmap={"s": "urn:evil"})
    moved.set("{%s}Id" % wsg.WSU_NS, body.get("{%s}Id" % wsg.WSU_NS))
    for child in body:
        moved.append(child)
    tree.replace(body, _fake_body_from(moved, evil))
    tree.find("s:Header", NS).append(moved)


def _fake_body_from(signed, text):
    fake = etree.Element("{%s}Body" % S11)
    echo = copy.deepcopy(signed[0])
    for el in echo.iter():
        if el.text and el.text.startswith("m-"):
            el.text = text
    fake.append(echo)
    return fake


XSW = [xsw_body_in_header, xsw_body_in_object, xsw_duplicate_id, xsw_duplicate_id_in_body,
       xsw_timestamp_moved, xsw_other_namespace_body]


@pytest.mark.parametrize("variant", XSW, ids=[f.__name__[4:] for f in XSW])
def test_xsw_refused_and_never_forwarded(siggw, stub, pki, variant):
    m, evil = wsg.marker(), wsg.marker()
    tree = _signed_tree(pki, m)
    variant(tree, evil)
    r = send(siggw, "/services/Signed", etree.tostring(tree))
    wsg.assert_wss_fault(r, "InvalidSecurity")
    assert b"Id" not in r.content and m.encode() not in r.content
    never_forwarded(stub, m)
    never_forwarded(stub, evil)


def test_xsw_redeclared_prefix(siggw, stub, pki):
    """The signed Body moved, as written, into a header wrapper that redeclares the SOAP
    prefix to another namespace: by prefix and local name it is still `soap-env:Body`.
    A fake Body without Id takes the Envelope's Body place."""
    m, evil = wsg.marker(), wsg.marker()
    text = signed_message(m, pki["rsa"]).decode()
    prefix = etree.fromstring(text.encode()).prefix
    mo = re.search(r"<(%s):Body\b.*?</\1:Body>" % re.escape(prefix), text, re.S)
    signed_body = mo.group(0)
    fake = re.sub(r'\s[\w-]+:Id="[^"]*"', "", signed_body).replace(m, evil)
    text = text[:mo.start()] + fake + text[mo.end():]
    head = "<%s:Header>" % prefix
    assert head in text
    wrapper = ('<x:Wrapper xmlns:x="urn:evil" xmlns:%s="urn:evil">%s</x:Wrapper>'
               % (prefix, signed_body))
    text = text.replace(head, head + wrapper, 1)
    r = send(siggw, "/services/Signed", text)
    wsg.assert_wss_fault(r, "InvalidSecurity")
    never_forwarded(stub, m)
    never_forwarded(stub, evil)
    assert "names no element at an expected position" in audit_lines(siggw)[-1]


def test_reference_outside_expected_positions(siggw, stub, pki):
    """A signature whose reference names an element inside the Body's content."""
    m = wsg.marker()
    tree = _signed_tree(pki, m)
    body = _body(tree)
    inner = body[0]
    inner.set("{%s}Id" % wsg.WSU_NS, "inner-1")
    ref = tree.find(".//ds:Reference", NS)
    ref.set("URI", "#inner-1")
    wsg.assert_wss_fault(send(siggw, "/services/Signed", etree.tostring(tree)),
                         "InvalidSecurity")
    never_forwarded(stub, m)


def test_external_and_xpointer_references(siggw, stub, pki):
    for uri in ("http://example.com/x", "", "#xpointer(/)", "#a'b"):
        m = wsg.marker()
        tree = _signed_tree(pki, m)
        tree.find(".//ds:Reference", NS).set("URI", uri)
        wsg.assert_wss_fault(send(siggw, "/services/Signed", etree.tostring(tree)),
                             "InvalidSecurity")
        never_forwarded(stub, m)


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_fault_leaks_no_detail(siggw, pki, binding):
    m = wsg.marker()
    soap12 = binding == "soap12"
    r = send(siggw, "/services/Signed", signed_message(m, pki["expired"], binding=binding),
             soap12=soap12)
    f = wsg.assert_wss_fault(r, "InvalidSecurityToken", soap12=soap12)
    assert "expired" not in r.text.lower() and "certificate" not in r.text.lower(), f
    assert any("certificate has expired" in ln for ln in audit_lines(siggw))
