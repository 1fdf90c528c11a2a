"""Decryption of WS-Security encrypted messages (docs/encryption.md).

A test PKI is made with the openssl command: a CA, the gateway's RSA key (0600) and
certificate, and another key + certificate. Messages are encrypted by real code: python3-xmlsec
(the xmlsec1 library) encrypts the Body content or the UsernameToken with a fresh AES key, and
the `cryptography` package wraps that key with RSA-OAEP (SHA-1 or SHA-256) or RSA-1.5 for the
gateway's certificate, as WSS4J lays out an xenc:EncryptedKey in the Security header. Accepted
messages reach the stub upstream as plaintext (the Body equal after C14N) with no Security
header; every decryption failure answers the one identical wsse:FailedCheck fault.
"""

import base64
import hashlib
import os
import subprocess

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

import wsg
import x509_clients as xc

XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
DS = "http://www.w3.org/2000/09/xmldsig#"
WSSE = wsg.WSSE_NS
WSU = wsg.WSU_NS
X509_PROFILE = ("http://docs.oasis-open.org/wss/2004/01/"
                "oasis-200401-wss-x509-token-profile-1.0")
THUMBPRINT = ("http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1"
              "#ThumbprintSHA1")
B64 = ("http://docs.oasis-open.org/wss/2004/01/"
       "oasis-200401-wss-soap-message-security-1.0#Base64Binary")
CONTENT = {"aes128-cbc": (xmlsec.constants.TransformAes128Cbc, 16),
           "aes256-cbc": (xmlsec.constants.TransformAes256Cbc, 32),
           "aes128-gcm": (xmlsec.constants.TransformAes128Gcm, 16),
           "aes256-gcm": (xmlsec.constants.TransformAes256Gcm, 32)}
DECRYPT = '\n    decrypt = { key = "xenc/gateway-key.pem"; cert = "xenc/gateway-cert.pem"; };'


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(configured):
    d = os.path.join(configured.dir, "xenc")
    os.makedirs(d, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem",
            "-out", "ca-cert.pem", "-days", "2", "-subj", "/O=wssgate tests/CN=xenc test CA",
            cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "gateway-key.pem",
            "-out", "gateway.csr", "-subj", "/CN=gateway", cwd=d)
    openssl("x509", "-req", "-in", "gateway.csr", "-CA", "ca-cert.pem", "-CAkey",
            "ca-key.pem", "-set_serial", "4660", "-days", "2", "-out", "gateway-cert.pem",
            cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-key.pem",
            "-out", "other-cert.pem", "-days", "2", "-subj", "/CN=other", cwd=d)
    for k in ("gateway-key.pem", "other-key.pem", "ca-key.pem"):
        os.chmod(os.path.join(d, k), 0o600)

    def cert(name):
        with open(os.path.join(d, name), "rb") as f:
            return x509.load_pem_x509_certificate(f.read())
    return {"dir": d, "gateway": cert("gateway-cert.pem"), "other": cert("other-cert.pem")}


@pytest.fixture(scope="module")
def ipki(configured):
    """The interop producers' PKI (test/interop-x509/make-pki): WSS4J encrypts for its
    gateway certificate."""
    return xc.make_pki(os.path.join(configured.dir, "x509-interop"))


@pytest.fixture(scope="module")
def gw(configured, pki, ipki):
    up = "http://127.0.0.1:%d" % configured.stub.port
    extra = [wsg.route_config("xenc", "/services/Xenc", up + "/EchoXenc", extra=DECRYPT),
             # The operation and its SOAPAction are read from the decrypted Body.
             wsg.route_config("xenc-ops", "/services/XencOps", up + "/EchoXencOps",
                              extra=DECRYPT + '\n    wsdl = "%s"; operations = ( { name = '
                              '"{urn:example:echo}Echo"; roles = ( "records-admin" ); } );'
                              % wsg.WSDL),
             wsg.route_config("xenc-wss4j", "/services/XencWss4j", up + "/EchoXencWss4j",
                              extra='\n    decrypt = { key = "%s"; cert = "%s"; };'
                              % (ipki.gateway_key, ipki.gateway_cert)),
             wsg.route_config("xenc-keep", "/services/XencKeep", up + "/EchoXencKeep",
                              extra=DECRYPT).replace("strip_security_header = true",
                                                     "strip_security_header = false"),
             wsg.route_config("xenc-req", "/services/XencReq", up + "/EchoXencReq",
                              extra=DECRYPT.replace("};", "require = true; };"))]
    g = wsg.Gateway(configured.dir, configured.db, configured.stub, name="wssgate-xenc",
                    config_kw={"extra_routes": extra})
    g.write_config()
    g.start()
    yield g
    g.stop()


# ---------------------------------------------------------------- message building

def ski_of(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def key_info(sec, cert, ident):
    """The EncryptedKey's ds:KeyInfo naming `cert` in the form `ident`."""
    ki = etree.Element("{%s}KeyInfo" % DS)
    st = etree.SubElement(ki, "{%s}SecurityTokenReference" % WSSE)
    der = cert.public_bytes(Encoding.DER)
    if ident == "issuer-serial":
        xd = etree.SubElement(st, "{%s}X509Data" % DS)
        iss = etree.SubElement(xd, "{%s}X509IssuerSerial" % DS)
        etree.SubElement(iss, "{%s}X509IssuerName" % DS).text = cert.issuer.rfc4514_string()
        etree.SubElement(iss, "{%s}X509SerialNumber" % DS).text = str(cert.serial_number)
    elif ident == "issuer-serial-dotnet":
        xd = etree.SubElement(st, "{%s}X509Data" % DS)
        iss = etree.SubElement(xd, "{%s}X509IssuerSerial" % DS)
        etree.SubElement(iss, "{%s}X509IssuerName" % DS).text = \
            cert.issuer.rfc4514_string().replace(",", ", ")
        etree.SubElement(iss, "{%s}X509SerialNumber" % DS).text = str(cert.serial_number)
    elif ident in ("ski", "thumbprint"):
        kid = etree.SubElement(st, "{%s}KeyIdentifier" % WSSE, EncodingType=B64,
                               ValueType=(X509_PROFILE + "#X509SubjectKeyIdentifier"
                                          if ident == "ski" else THUMBPRINT))
        value = ski_of(cert) if ident == "ski" else hashlib.sha1(der).digest()
        kid.text = base64.b64encode(value).decode()
    else:  # a direct reference to a BinarySecurityToken of the same header
        bst = etree.Element("{%s}BinarySecurityToken" % WSSE, EncodingType=B64,
                            ValueType=X509_PROFILE + "#X509v3")
        bst.set("{%s}Id" % WSU, "X509-1")
        bst.text = base64.b64encode(der).decode()
        sec.insert(0, bst)
        etree.SubElement(st, "{%s}Reference" % WSSE, URI="#X509-1",
                         ValueType=X509_PROFILE + "#X509v3")
    return ki


def wrap(cert, key, transport):
    pub = cert.public_key()
    if transport == "rsa-1_5":
        return pub.encrypt(key, padding.PKCS1v15())
    md = hashes.SHA256() if transport.endswith("sha256") else hashes.SHA1()
    mgf = hashes.SHA256() if transport == "xenc11-mgf256-sha256" else hashes.SHA1()
    return pub.encrypt(key, padding.OAEP(mgf=padding.MGF1(mgf), algorithm=md, label=None))


def encryption_method(transport):
    em = etree.Element("{%s}EncryptionMethod" % XENC)
    if transport == "rsa-1_5":
        em.set("Algorithm", XENC + "rsa-1_5")
    elif transport.startswith("xenc11"):
        em.set("Algorithm", XENC11 + "rsa-oaep")
        etree.SubElement(em, "{%s}DigestMethod" % DS, Algorithm=XENC + "sha256")
        etree.SubElement(em, "{%s}MGF" % XENC11, Algorithm=XENC11 + "mgf1sha256")
    else:
        em.set("Algorithm", XENC + "rsa-oaep-mgf1p")
        etree.SubElement(em, "{%s}DigestMethod" % DS,
                         Algorithm=XENC + "sha256" if transport.endswith("sha256")
                         else DS + "sha1")
    return em


def encrypt_node(doc, node, alg, session, element, ed_id):
    """python3-xmlsec: `node` (Element) or its content (Content) into an EncryptedData."""
    transform, _ = CONTENT[alg]
    ed = xmlsec.template.encrypted_data_create(
        doc, transform, type=(xmlsec.constants.TypeEncElement if element
                              else xmlsec.constants.TypeEncContent), ns="xenc", id=ed_id)
    xmlsec.template.encrypted_data_ensure_cipher_value(ed)
    ki = xmlsec.template.encrypted_data_ensure_key_info(ed)
    st = etree.SubElement(ki, "{%s}SecurityTokenReference" % WSSE)
    etree.SubElement(st, "{%s}Reference" % WSSE, URI="#EK-1")
    ctx = xmlsec.EncryptionContext()
    ctx.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataAes, session)
    return ctx.encrypt_xml(ed, node)


def encrypt(xml, pki, alg="aes256-gcm", transport="oaep-sha1", ident="issuer-serial",
            for_cert="gateway", wrap_cert=None, encrypt_ut=False, body=True):
    """The envelope `xml` (str) with its Body content (and the UsernameToken) encrypted."""
    doc = etree.fromstring(xml.encode("utf-8"))
    ns = etree.QName(doc).namespace
    sec = doc.find("{%s}Header/{%s}Security" % (ns, WSSE))
    session = os.urandom(CONTENT[alg][1])
    refs = []
    if encrypt_ut:
        ut = sec.find("{%s}UsernameToken" % WSSE)
        encrypt_node(doc, ut, alg, session, True, "ED-UT")
        refs.append("ED-UT")
    if body:
        encrypt_node(doc, doc.find("{%s}Body" % ns), alg, session, False, "ED-Body")
        refs.append("ED-Body")
    ek = etree.Element("{%s}EncryptedKey" % XENC, Id="EK-1")
    ek.append(encryption_method(transport))
    ek.append(key_info(sec, pki[for_cert], ident))
    cd = etree.SubElement(ek, "{%s}CipherData" % XENC)
    etree.SubElement(cd, "{%s}CipherValue" % XENC).text = base64.b64encode(
        wrap(pki[wrap_cert or for_cert], session, transport)).decode()
    rl = etree.SubElement(ek, "{%s}ReferenceList" % XENC)
    for r in refs:
        etree.SubElement(rl, "{%s}DataReference" % XENC, URI="#" + r)
    # WSS4J's order: the EncryptedKey before the blocks it opens.
    bst = sec.find("{%s}BinarySecurityToken" % WSSE)
    sec.insert(1 if bst is not None else 0, ek)
    return etree.tostring(doc, xml_declaration=True, encoding="utf-8")


def tamper(raw, ed_id, how):
    """The CipherValue of EncryptedData `ed_id` with a byte flipped, or truncated."""
    doc = etree.fromstring(raw)
    cv = doc.xpath("//*[@Id=$i]/*[local-name()='CipherData']/*[local-name()='CipherValue']",
                   i=ed_id)[0]
    data = bytearray(base64.b64decode(cv.text))
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    elif how == "flip-last":
        data[-1] ^= 0x01
    else:
        data = data[:len(data) - 16]
    cv.text = base64.b64encode(bytes(data)).decode()
    return etree.tostring(doc, xml_declaration=True, encoding="utf-8")


def plain_body(xml):
    doc = etree.fromstring(xml if isinstance(xml, bytes) else xml.encode("utf-8"))
    ns = etree.QName(doc).namespace
    return etree.tostring(doc.find("{%s}Body" % ns), method="c14n")


def forwarded(stub, m):
    rec = stub.find(m)
    assert len(rec) == 1, rec
    return rec[0]["body"]


def post(gw, path, raw, soap12=False):
    return wsg.post(gw.url(path), raw, soap12=soap12)


# ---------------------------------------------------------------- accepted

ACCEPTED = [
    ("aes128-cbc", "oaep-sha1", "issuer-serial"),
    ("aes256-cbc", "oaep-sha256", "ski"),
    ("aes128-gcm", "oaep-sha1", "thumbprint"),
    ("aes256-gcm", "oaep-sha256", "bst"),
    ("aes256-gcm", "xenc11-mgf256-sha256", "issuer-serial-dotnet"),
]


@pytest.mark.parametrize("alg,transport,ident", ACCEPTED,
                         ids=["-".join(a) for a in ACCEPTED])
def test_encrypted_body_reaches_upstream_in_plaintext(gw, stub, pki, alg, transport, ident):
    m = wsg.marker()
    xml = wsg.build("alice", message=m)
    raw = encrypt(xml, pki, alg=alg, transport=transport, ident=ident)
    assert m.encode() not in raw
    r = post(gw, "/services/Xenc", raw)
    assert r.status_code == 200, r.content[:600]
    assert wsg.echoed(r) == m
    body = forwarded(stub, m)
    assert "Security" not in body and "EncryptedKey" not in body
    assert "EncryptedData" not in body
    assert plain_body(body.encode()) == plain_body(xml)


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_encrypted_username_token_and_body(gw, stub, pki, soap12):
    m = wsg.marker()
    xml = wsg.build("alice", message=m, soap12=soap12)
    raw = encrypt(xml, pki, alg="aes128-cbc", ident="bst", encrypt_ut=True)
    assert b"Username>" not in raw
    r = post(gw, "/services/Xenc", raw, soap12=soap12)
    assert r.status_code == 200, r.content[:600]
    assert wsg.echoed(r) == m
    assert plain_body(forwarded(stub, m).encode()) == plain_body(xml)


def test_encrypted_username_token_only(gw, stub, pki):
    m = wsg.marker()
    xml = wsg.build("alice", message=m)
    raw = encrypt(xml, pki, alg="aes256-gcm", encrypt_ut=True, body=False)
    r = post(gw, "/services/Xenc", raw)
    assert r.status_code == 200, r.content[:600]
    assert "UsernameToken" not in forwarded(stub, m)


def test_namespace_declared_on_envelope_survives(gw, stub, pki):
    """The Body content uses a prefix declared only on the Envelope: the ciphertext's
    plaintext has no declaration, decryption resolves it in place, the relay keeps it."""
    m = wsg.marker()
    xml = wsg.build("alice", message=m).replace(
        '<soap:Envelope ', '<soap:Envelope xmlns:e="urn:example:echo" ').replace(
        '<e:Echo xmlns:e="urn:example:echo">', "<e:Echo>")
    raw = encrypt(xml, pki)
    r = post(gw, "/services/Xenc", raw)
    assert r.status_code == 200, r.content[:600]
    body = forwarded(stub, m).encode()
    doc = etree.fromstring(body)
    echo = doc.xpath("//*[local-name()='Echo']")[0]
    assert etree.QName(echo).namespace == "urn:example:echo"
    assert plain_body(body) == plain_body(xml)


def test_keep_security_header_serialises_without_ciphertext(gw, stub, pki):
    """strip_security_header = false: the decrypted tree is still what is forwarded."""
    m = wsg.marker()
    raw = encrypt(wsg.build("alice", message=m), pki, encrypt_ut=True)
    r = post(gw, "/services/XencKeep", raw)
    assert r.status_code == 200, r.content[:600]
    body = forwarded(stub, m)
    assert "EncryptedData" not in body and "UsernameToken" in body


def test_plain_message_on_decrypt_route(gw, stub):
    m = wsg.marker()
    r = post(gw, "/services/Xenc", wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m


def test_require_refuses_plain_body(gw, stub, pki):
    m = wsg.marker()
    r = post(gw, "/services/XencReq", wsg.build("alice", message=m))
    wsg.assert_wss_fault(r, "InvalidSecurity")
    m2 = wsg.marker()
    r = post(gw, "/services/XencReq", encrypt(wsg.build("alice", message=m2), pki))
    assert r.status_code == 200 and wsg.echoed(r) == m2
    assert stub.find(m) == []


def test_encrypted_body_without_decrypt_is_refused(gw, stub, pki):
    m = wsg.marker()
    r = post(gw, "/services/Echo", encrypt(wsg.build("alice", message=m), pki))
    wsg.assert_wss_fault(r, "InvalidSecurity")


def test_replayed_encrypted_message(gw, stub, pki):
    m = wsg.marker()
    raw = encrypt(wsg.build("alice", message=m), pki)
    assert post(gw, "/services/Xenc", raw).status_code == 200
    wsg.assert_wss_fault(post(gw, "/services/Xenc", raw), "InvalidSecurity")
    assert len(stub.find(m)) == 1


# ---------------------------------------------------------------- refused

def refusals(pki):
    def build(**kw):
        return encrypt(wsg.build("alice", message=wsg.marker()), pki, **kw)
    return {
        "rsa-1_5": build(transport="rsa-1_5"),
        "other-cert": build(for_cert="other"),
        "wrapped-for-other-key": build(wrap_cert="other"),
        "cbc-flipped": tamper(build(alg="aes128-cbc"), "ED-Body", "flip"),
        "cbc-flipped-last": tamper(build(alg="aes256-cbc"), "ED-Body", "flip-last"),
        "gcm-flipped": tamper(build(alg="aes256-gcm"), "ED-Body", "flip"),
        "gcm-tag-flipped": tamper(build(alg="aes128-gcm"), "ED-Body", "flip-last"),
        "cbc-truncated": tamper(build(alg="aes128-cbc"), "ED-Body", "truncate"),
        "gcm-truncated": tamper(build(alg="aes256-gcm"), "ED-Body", "truncate"),
        "ut-flipped": tamper(build(alg="aes128-cbc", encrypt_ut=True), "ED-UT", "flip"),
    }


def test_every_decryption_failure_answers_the_same_fault(gw, stub, pki):
    answers = {}
    for name, raw in refusals(pki).items():
        r = post(gw, "/services/Xenc", raw)
        wsg.assert_wss_fault(r, "FailedCheck")
        answers[name] = (r.status_code, r.headers.get("Content-Type"), r.content)
    assert len(set(answers.values())) == 1, answers
    with open(gw.audit_log, encoding="utf-8") as f:
        audit = f.read()
    assert "RSA-1.5" in audit and "event=auth_failure reason=\"decryption failed" in audit


def test_check_config_refuses_readable_key(gw, pki):
    key = os.path.join(pki["dir"], "gateway-key.pem")
    os.chmod(key, 0o644)
    try:
        r = gw.cli("--check-config")
    finally:
        os.chmod(key, 0o600)
    assert r.returncode == 1, r.out + r.err
    assert "gateway-key.pem" in r.err and "decrypt" in r.err, r.err
    assert gw.cli("--check-config").returncode == 0


def test_check_config_refuses_mismatched_cert(gw, pki, configured):
    conf = os.path.join(configured.dir, "xenc-mismatch.conf")
    with open(gw.config, encoding="utf-8") as f:
        text = f.read()
    with open(conf, "w", encoding="utf-8") as f:
        f.write(text.replace('cert = "xenc/gateway-cert.pem"', 'cert = "xenc/other-cert.pem"'))
    r = gw.cli("--check-config", config=conf)
    assert r.returncode == 1 and "is not the certificate of key" in r.err, r.err


# ---------------------------------------------------------------- Apache WSS4J 1.6 (a real client)

WSS4J = [  # (encrypted parts, content algorithm, OAEP digest, key identifier)
    ("Body", "aes128-cbc", "sha1", None),
    ("Body", "aes256-cbc", "sha256", "ski"),
    ("Body", "aes128-gcm", "sha1", "issuer-serial"),
    ("Body,UsernameToken", "aes256-gcm", "sha256", None),
]


@pytest.mark.parametrize("parts,enc_alg,oaep,key_id", WSS4J,
                         ids=["-".join(str(x) for x in w) for w in WSS4J])
@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_wss4j_encrypted_request(gw, stub, ipki, parts, enc_alg, oaep, key_id, soap12):
    """WSS4J 1.6 (as SoapUI uses it) adds a digest UsernameToken and a Timestamp and encrypts
    for the gateway: decrypted, checked and forwarded as plaintext."""
    m = wsg.marker()
    opts = {"user": "alice", "password": wsg.USERS["alice"][0], "password_type": "digest",
            "enc_alg": enc_alg, "oaep_digest": oaep, "encrypt_parts": parts}
    if key_id:
        opts["enc_key_id"] = key_id
    raw = xc.wss4j(ipki, ["UsernameToken", "Timestamp", "Encrypt"],
                   envelope=xc.echo_envelope(m, soap12=soap12), **opts)
    assert m.encode() not in raw
    r = post(gw, "/services/XencWss4j", raw, soap12=soap12)
    assert r.status_code == 200, r.content[:600]
    assert wsg.echoed(r) == m
    body = forwarded(stub, m)
    assert "EncryptedData" not in body and "Security" not in body


def test_wss4j_rsa15_refused(gw, stub, ipki):
    m = wsg.marker()
    raw = xc.wss4j(ipki, ["UsernameToken", "Timestamp", "Encrypt"],
                   envelope=xc.echo_envelope(m), user="alice",
                   password=wsg.USERS["alice"][0], key_transport="rsa-1_5")
    r = post(gw, "/services/XencWss4j", raw)
    wsg.assert_wss_fault(r, "FailedCheck")
    assert stub.find(m) == []


def test_operation_and_action_read_after_decryption(gw, stub, pki):
    """An encrypted Body's operation is the decrypted one: its roles apply (alice lacks the
    Echo entry's role) and a SOAPAction naming it is consistent. Read from the ciphertext,
    the operation was {xenc}EncryptedData: unlisted, so alice passed on the route's roles,
    and the Echo action was refused as naming another operation."""
    m = wsg.marker()
    raw = encrypt(wsg.build("alice", message=m), pki)
    r = wsg.post(gw.url("/services/XencOps"), raw,
                 headers={"SOAPAction": '"urn:example:echo/Echo"'})
    wsg.assert_wss_fault(r, "FailedAuthentication")
    assert stub.find(m) == []
    with open(gw.audit_log, encoding="utf-8") as f:
        assert "operation {urn:example:echo}Echo: user holds none of its roles" in f.read()


@pytest.fixture(scope="module")
def limited(configured, pki):
    """A decrypt route behind security.client_limit = 3 failures."""
    up = "http://127.0.0.1:%d" % configured.stub.port
    route = wsg.route_config("xenc-limit", "/services/XencLimit", up + "/Echo", extra=DECRYPT)
    g = wsg.Gateway(configured.dir, configured.db, configured.stub, name="wssgate-xenc-limit",
                    security={"client_limit": "{ max_failures = 3; window = 60; "
                                              "duration = 60; }"},
                    config_kw={"extra_routes": [route]})
    g.write_config()
    g.start()
    yield g
    g.stop()


def test_decryption_failures_count_against_the_address(limited, stub, pki):
    """Refused ciphertexts are failed authentications (security.client_limit): after three,
    even a good message from the address is refused before any RSA work (429)."""
    for _ in range(3):
        raw = tamper(encrypt(wsg.build("alice", message=wsg.marker()), pki, alg="aes128-cbc"),
                     "ED-Body", "flip")
        wsg.assert_wss_fault(post(limited, "/services/XencLimit", raw), "FailedCheck")
    m = wsg.marker()
    r = post(limited, "/services/XencLimit", encrypt(wsg.build("alice", message=m), pki))
    wsg.assert_soap_fault(r, 429, "Server", "Receiver")
    assert stub.find(m) == []
