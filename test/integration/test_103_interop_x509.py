"""The X.509 interop producers (x509_clients.py, test/interop-x509/) make what they claim,
checked without the gateway: the structure with lxml, the signatures and the decryption with
the xmlsec1 command-line tool, the certificates with openssl.

Each combination of issue #17's interop list is produced by the real stack (WSS4J 1.6 from
Debian, zeep's wsse.signature, node-soap's WSSecurityCert); the gateway's signature and
decryption tests send these same messages. docs/interop.md lists them.
"""

import base64
import os
import re
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree
from zeep import Client
from zeep.wsse.signature import BinarySignature

import wsg
import x509_clients as xc
from x509_clients import NS

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
OAEP = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
RSA15 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
ENC_ALGS = {"aes128-cbc": "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "aes256-cbc": "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            "aes128-gcm": "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            "aes256-gcm": "http://www.w3.org/2009/xmlenc11#aes256-gcm"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return xc.make_pki(str(tmp_path_factory.mktemp("pki")))


def message_of(xml):
    """The Echo message text of a (plaintext) envelope."""
    return xc.body(xc.parse(xml)).findtext(".//{urn:example:echo}message")


def tamper_message(xml):
    """The envelope with one character of the signed Echo message changed."""
    out, n = re.subn(rb"(<(?:\w+:)?message>)(.)", lambda m: m.group(1) + bytes(
        [m.group(2)[0] ^ 0x20]), xml, count=1)
    assert n == 1
    return out


def tamper_timestamp(xml):
    """The envelope with the Timestamp's Expires moved a year on."""
    out, n = re.subn(rb"(<(?:\w+:)?Expires>)(\d{4})", lambda m: m.group(1) + b"%d" % (
        int(m.group(2)) + 1), xml, count=1)
    assert n == 1
    return out


def check_signed(xml, pki, signer, parts, key_ref, sig_alg=RSA_SHA256, digest=SHA256):
    """The one signature: signs `parts` (local names, in order) with sig_alg/digest under
    exclusive C14N, names `signer`'s certificate the `key_ref` way, verifies with xmlsec1,
    and stops verifying when one signed byte of the message changes."""
    doc = xc.parse(xml)
    assert xc.signed_elements(doc) == parts
    algs = xc.algorithms(doc)
    assert algs["c14n"] == EXC_C14N
    assert algs["signature"] == sig_alg
    assert algs["digests"] == [digest]
    assert EXC_C14N in algs["transforms"]
    assert xc.key_reference(doc) == key_ref
    assert xc.signer_cert(doc, pki) == signer
    # Same-document #id references only (BSP), each to an element with that Id.
    for ref in xc.signature(doc).findall("ds:SignedInfo/ds:Reference", NS):
        assert re.fullmatch(r"#[\w.-]+", ref.get("URI"))
    ok, report = xc.xmlsec1_verify(xml, pki)
    assert ok, report
    assert "SignedInfo References (ok/all): %d/%d" % (len(parts), len(parts)) in report
    ok, report = xc.xmlsec1_verify(tamper_message(xml), pki)
    assert not ok
    if "Timestamp" in parts:
        assert not xc.xmlsec1_verify(tamper_timestamp(xml), pki)[0]
    return doc


# ---------------------------------------------------------------- the test PKI

def openssl_verify(pki, name, *extra):
    r = subprocess.run(["openssl", "verify", "-CAfile", pki.ca, *extra, pki.cert(name)],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def test_pki_chain_states(pki):
    """Good clients and the gateway verify against ca.pem; the expired, revoked (with the CRL)
    and untrusted ones fail, each for its own reason."""
    for name in ("client", "client-ec", "gateway", "revoked"):
        ok, out = openssl_verify(pki, name)
        assert ok, out
    ok, out = openssl_verify(pki, "client", "-crl_check", "-CRLfile", pki.crl)
    assert ok, out
    ok, out = openssl_verify(pki, "expired")
    assert not ok and "certificate has expired" in out
    ok, out = openssl_verify(pki, "revoked", "-crl_check", "-CRLfile", pki.crl)
    assert not ok and "certificate revoked" in out
    ok, out = openssl_verify(pki, "untrusted")
    assert not ok and "unable to get local issuer certificate" in out
    r = subprocess.run(["openssl", "verify", "-CAfile", pki.untrusted_ca,
                        pki.cert("untrusted")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_pki_keys_and_uses(pki):
    """Private keys are 0600 (the gateway refuses others); fixed serials; the clients can
    sign (with an SKI, for the KeyIdentifier form), the gateway can be encrypted to."""
    for name in ("ca", "client", "client-ec", "expired", "revoked", "untrusted", "gateway"):
        assert stat.S_IMODE(os.stat(pki.key(name)).st_mode) == 0o600, name
    serials = {"client": 0x1001, "client-ec": 0x1002, "expired": 0x1003, "revoked": 0x1004,
               "gateway": 0x1005, "untrusted": 0x2001}
    for name, serial in serials.items():
        cert = pki.load(name)
        assert cert.serial_number == serial
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if name == "gateway":
            assert usage.key_encipherment
        else:
            assert usage.digital_signature and not usage.key_encipherment
        assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert isinstance(pki.load("client").public_key(), rsa.RSAPublicKey)
    assert isinstance(pki.load("client-ec").public_key(), ec.EllipticCurvePublicKey)
    assert pki.load("client-ec").public_key().curve.name == "secp256r1"
    # The keystores WSS4J's Merlin opens: the key and certificate under the name as alias.
    for name in ("client", "client-ec", "expired", "revoked", "untrusted"):
        with open(pki.p12(name), "rb") as f:
            p12 = pkcs12.load_pkcs12(f.read(), xc.P12_PASSWORD.encode())
        assert p12.cert.certificate == pki.load(name)
        assert p12.cert.friendly_name == name.encode()
        assert p12.key.public_key().public_numbers() == \
            pki.load(name).public_key().public_numbers()


# ---------------------------------------------------------------- WSS4J 1.6: signatures

WSS4J_SIGNED = [
    # id, actions, options, Security children, signed parts, key reference
    ("ts-sig-bst", ["Timestamp", "Signature"], {},
     ["BinarySecurityToken", "Signature", "Timestamp"], ["Body", "Timestamp"], "bst"),
    ("sig-issuer-serial", ["Signature"], {"sig_key_id": "issuer-serial"},
     ["Signature"], ["Body"], "issuer-serial"),
    ("sig-ski", ["Signature"], {"sig_key_id": "ski"}, ["Signature"], ["Body"], "ski"),
    ("ts-sig-ski", ["Timestamp", "Signature"], {"sig_key_id": "ski"},
     ["Signature", "Timestamp"], ["Body", "Timestamp"], "ski"),
    ("sig-thumbprint", ["Signature"], {"sig_key_id": "thumbprint"},
     ["Signature"], ["Body"], "thumbprint"),
    ("ut-sig", ["UsernameToken", "Signature"],
     {"user": "alice", "password": "alice-secret", "sign_parts": "Body,UsernameToken"},
     ["BinarySecurityToken", "Signature", "UsernameToken"], ["Body", "UsernameToken"], "bst"),
    ("ut-ts-sig", ["UsernameToken", "Timestamp", "Signature"],
     {"user": "alice", "password": "alice-secret", "password_type": "text",
      "sign_parts": "Body,Timestamp,UsernameToken"},
     ["BinarySecurityToken", "Signature", "Timestamp", "UsernameToken"],
     ["Body", "Timestamp", "UsernameToken"], "bst"),
]


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
@pytest.mark.parametrize("case", WSS4J_SIGNED, ids=[c[0] for c in WSS4J_SIGNED])
def test_wss4j_signed(pki, case, soap12):
    _, actions, opts, children, parts, key_ref = case
    xml = xc.wss4j(pki, actions, envelope=xc.echo_envelope(soap12=soap12), **opts)
    doc = check_signed(xml, pki, "client", parts, key_ref)
    sec = xc.security(doc)
    assert xc.local_names(sec) == children
    assert sec.get("{%s}mustUnderstand" % xc.envelope_ns(doc)) == ("true" if soap12 else "1")
    assert xc.envelope_ns(doc) == NS["s12" if soap12 else "s11"]
    if key_ref == "bst":
        bst = sec.find("wsse:BinarySecurityToken", NS)
        assert bst.get("ValueType") == xc.X509V3
        assert bst.get("EncodingType").endswith("#Base64Binary")
    if "UsernameToken" in children:
        ut = sec.find("wsse:UsernameToken", NS)
        assert ut.findtext("wsse:Username", namespaces=NS) == "alice"
        assert ut.find("wsse:Nonce", NS) is not None and ut.find("wsu:Created", NS) is not None
        ptype = ut.find("wsse:Password", NS).get("Type")
        assert ptype.endswith("#PasswordText" if "password_type" in opts else "#PasswordDigest")
    # WSS4J puts wsu:Id on the Body and the Timestamp.
    assert xc.body(doc).get("{%s}Id" % NS["wsu"])


@pytest.mark.parametrize("signer,sig_alg,digest,uri,digest_uri", [
    ("client-ec", "ecdsa-sha256", None, ECDSA_SHA256, SHA256),
    ("client", "rsa-sha1", None, RSA_SHA1, SHA1),
    ("client", "rsa-sha1", "sha256", RSA_SHA1, SHA256),
], ids=["ecdsa-sha256", "rsa-sha1", "rsa-sha1-digest-sha256"])
def test_wss4j_algorithms(pki, signer, sig_alg, digest, uri, digest_uri):
    """ECDSA with the EC client; RSA-SHA1 (for the gateway's refusal test) with either digest."""
    opts = {"sig_alg": sig_alg}
    if digest:
        opts["digest"] = digest
    xml = xc.wss4j(pki, ["Timestamp", "Signature"], signer=signer, **opts)
    check_signed(xml, pki, signer, ["Body", "Timestamp"], "bst", sig_alg=uri, digest=digest_uri)


@pytest.mark.parametrize("signer,reason", [
    ("expired", "certificate has expired"),
    ("untrusted", "unable to get local issuer certificate"),
])
def test_wss4j_bad_signers_fail_the_chain(pki, signer, reason):
    """WSS4J signs with any key it holds; the signature is sound but the chain check fails
    (what the gateway must refuse)."""
    xml = xc.wss4j(pki, ["Timestamp", "Signature"], signer=signer)
    doc = xc.parse(xml)
    assert xc.signer_cert(doc, pki) == signer
    ok, report = xc.xmlsec1_verify(xml, pki)
    assert not ok and reason in report, report
    # With its own CA trusted, the untrusted client's message verifies: only trust is missing.
    if signer == "untrusted":
        ok, report = xc.xmlsec1_verify(xml, pki, trusted=pki.untrusted_ca)
        assert ok, report


def test_wss4j_revoked_signer_fails_with_crl(pki):
    xml = xc.wss4j(pki, ["Timestamp", "Signature"], signer="revoked")
    ok, report = xc.xmlsec1_verify(xml, pki)
    assert ok, report
    ok, report = xc.xmlsec1_verify(xml, pki, crl=True)
    assert not ok and "certificate is revoked" in report, report
    ok, report = xc.xmlsec1_verify(xc.wss4j(pki, ["Signature"]), pki, crl=True)
    assert ok, report


def test_wss4j_usage_errors(pki):
    """Bad options are refused (status 2) before any output."""
    for argv in (["--actions", "Bogus"], [], ["--actions", "Signature", "--sig-alg", "md5"]):
        r = subprocess.run(["java", "-cp", xc.wss4j_classes(pki.dir) + ":" + xc.CLASSPATH,
                            "Wss4jSign"] + argv, input=xc.echo_envelope(),
                           capture_output=True)
        assert r.returncode == 2 and r.stdout == b"" and b"Wss4jSign:" in r.stderr, argv


# ---------------------------------------------------------------- WSS4J 1.6: encryption

def check_encrypted(xml, pki, enc_alg, oaep_digest, n_data=1, key_transport=OAEP):
    """One EncryptedKey for the gateway's certificate, RSA-OAEP with the given digest,
    listing n_data EncryptedData (the Body's content first), each enc_alg; no plaintext."""
    doc = xc.parse(xml)
    sec = xc.security(doc)
    (ek,) = sec.findall("xenc:EncryptedKey", NS)
    assert ek.find("xenc:EncryptionMethod", NS).get("Algorithm") == key_transport
    if key_transport == OAEP:
        assert xc.oaep_digest(ek) == oaep_digest
    assert xc.recipient_certs(doc, pki) == ["gateway"]
    refs = [r.get("URI") for r in ek.findall("xenc:ReferenceList/xenc:DataReference", NS)]
    assert len(refs) == n_data
    eds = [x for r in refs for x in xc.by_id(doc, r)]
    assert len(eds) == n_data
    body = xc.body(doc)
    (body_ed,) = list(body)
    assert body_ed in eds and body_ed.get("Type").endswith("#Content")
    for ed in eds:
        assert etree.QName(ed).localname == "EncryptedData"
        assert ed.find("xenc:EncryptionMethod", NS).get("Algorithm") == enc_alg
    assert b"hello from wss4j" not in xml
    return doc


@pytest.mark.parametrize("oaep", ["sha1", "sha256"])
@pytest.mark.parametrize("enc_alg", sorted(ENC_ALGS))
def test_wss4j_sign_then_encrypt(pki, enc_alg, oaep):
    """Timestamp + Signature, then the Body's content encrypted for the gateway: decrypted,
    the signature over the plaintext Body and the Timestamp verifies."""
    xml = xc.wss4j(pki, ["Timestamp", "Signature", "Encrypt"], enc_alg=enc_alg,
                   oaep_digest=oaep)
    doc = check_encrypted(xml, pki, ENC_ALGS[enc_alg], SHA1 if oaep == "sha1" else SHA256)
    assert xc.local_names(xc.security(doc)) == [
        "EncryptedKey", "BinarySecurityToken", "Signature", "Timestamp"]
    plain = xc.xmlsec1_decrypt(xml, pki, unwrap_in_python=(oaep == "sha256"))
    assert message_of(plain) == "hello from wss4j"
    check_signed(plain, pki, "client", ["Body", "Timestamp"], "bst")
    # A changed ciphertext byte: GCM refuses to decrypt; CBC gives garbage that either does
    # not parse or no longer matches the signature.
    bad = tamper_cipher(xml, xc.body(doc).find("xenc:EncryptedData", NS))
    try:
        plain = xc.xmlsec1_decrypt(bad, pki, unwrap_in_python=(oaep == "sha256"))
    except RuntimeError:
        plain = None
    if "gcm" in enc_alg:
        assert plain is None
    else:
        assert plain is None or not xc.xmlsec1_verify(plain, pki)[0]


def tamper_cipher(xml, ed):
    """The envelope with one byte of ed's CipherValue changed (byte 15: the CBC IV's last,
    inside the GCM ciphertext)."""
    text = ed.findtext("xenc:CipherData/xenc:CipherValue", namespaces=NS)
    raw = bytearray(base64.b64decode(text))
    raw[15] ^= 0x01
    out = xml.replace(text.encode(), base64.b64encode(bytes(raw)))
    assert out != xml
    return out


@pytest.mark.parametrize("enc_alg", ["aes128-cbc", "aes256-gcm"])
def test_wss4j_encrypt_then_sign(pki, enc_alg):
    """Encrypt, then sign: the signature covers the Body with its EncryptedData (verified
    before decryption), decryption then gives the plaintext."""
    xml = xc.wss4j(pki, ["Timestamp", "Encrypt", "Signature"], enc_alg=enc_alg)
    doc = check_encrypted(xml, pki, ENC_ALGS[enc_alg], SHA1)
    assert xc.local_names(xc.security(doc)) == [
        "BinarySecurityToken", "Signature", "EncryptedKey", "Timestamp"]
    ok, report = xc.xmlsec1_verify(xml, pki)
    assert ok, report
    assert not xc.xmlsec1_verify(
        tamper_cipher(xml, xc.body(doc).find("xenc:EncryptedData", NS)), pki)[0]
    plain = xc.xmlsec1_decrypt(xml, pki)
    assert message_of(plain) == "hello from wss4j"


def test_wss4j_encrypted_username_token(pki):
    """UsernameToken + Timestamp + Signature over all three, then the Body's content and the
    whole UsernameToken encrypted: two EncryptedData, one in the header."""
    xml = xc.wss4j(pki, ["UsernameToken", "Timestamp", "Signature", "Encrypt"],
                   user="alice", password="alice-secret", password_type="text",
                   sign_parts="Body,Timestamp,UsernameToken", encrypt_parts="Body,UsernameToken")
    assert b"alice-secret" not in xml and b"alice" not in xml
    doc = check_encrypted(xml, pki, ENC_ALGS["aes128-cbc"], SHA1, n_data=2)
    header_ed = xc.security(doc).find("xenc:EncryptedData", NS)
    assert header_ed.get("Type").endswith("#Element")
    plain = xc.xmlsec1_decrypt(xml, pki)
    pdoc = check_signed(plain, pki, "client", ["Body", "Timestamp", "UsernameToken"], "bst")
    ut = xc.security(pdoc).find("wsse:UsernameToken", NS)
    assert ut.findtext("wsse:Password", namespaces=NS) == "alice-secret"


@pytest.mark.parametrize("enc_key_id", ["ski", "bst", "thumbprint", "x509"])
def test_wss4j_encryption_key_identifiers(pki, enc_key_id):
    """The gateway's certificate named by SKI, a BST of its own, thumbprint or the
    certificate in a KeyIdentifier instead of the default IssuerSerial."""
    xml = xc.wss4j(pki, ["Encrypt"], enc_key_id=enc_key_id)
    doc = check_encrypted(xml, pki, ENC_ALGS["aes128-cbc"], SHA1)
    str_ = xc.security(doc).find("xenc:EncryptedKey/ds:KeyInfo/wsse:SecurityTokenReference", NS)
    if enc_key_id == "bst":
        assert str_.find("wsse:Reference", NS) is not None
        assert xc.security(doc).find("wsse:BinarySecurityToken", NS) is not None
    else:
        assert str_.find("wsse:KeyIdentifier", NS) is not None
    assert message_of(xc.xmlsec1_decrypt(xml, pki)) == "hello from wss4j"


def test_wss4j_oaep_sha256_is_beyond_xmlsec1(pki):
    """xmlsec1 1.2.37 unwraps rsa-oaep-mgf1p with the SHA-1 digest only: WSS4J's OAEP with
    SHA-256 (MGF1-SHA1) needs its own unwrap (the gateway's decryption must do the same
    with OpenSSL). Pinned so that the day xmlsec1 can, this test says so."""
    xml = xc.wss4j(pki, ["Encrypt"], oaep_digest="sha256")
    with pytest.raises(RuntimeError, match="is not supported for rsa/oaep"):
        xc.xmlsec1_decrypt(xml, pki)
    assert message_of(xc.xmlsec1_decrypt(xml, pki, unwrap_in_python=True)) == \
        "hello from wss4j"


def test_wss4j_rsa15_key_transport(pki):
    """RSA-1.5 key transport (for the gateway's Bleichenbacher refusal): a well-formed
    message that xmlsec1 decrypts, so a refusal is policy, not a broken message."""
    xml = xc.wss4j(pki, ["Encrypt"], key_transport="rsa-1_5")
    check_encrypted(xml, pki, ENC_ALGS["aes128-cbc"], None, key_transport=RSA15)
    assert message_of(xc.xmlsec1_decrypt(xml, pki)) == "hello from wss4j"


def test_wss4j_wrong_recipient_key_fails(pki):
    xml = xc.wss4j(pki, ["Encrypt"])
    with pytest.raises(RuntimeError, match="xmlsec1 --decrypt failed"):
        xc.xmlsec1_decrypt(xml, pki, key=pki.key("client"))


# ---------------------------------------------------------------- zeep

@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
@pytest.mark.parametrize("binary,timestamp,user", [
    (True, True, False), (True, False, False), (False, True, False), (False, False, False),
    (True, True, True), (False, False, True),
], ids=["binary-ts", "binary", "x509-ts", "x509", "binary-ts-ut", "x509-ut"])
def test_zeep_signed(pki, binary, timestamp, user, soap12):
    """zeep's BinarySignature (BST + direct reference) and Signature (the certificate and
    issuer/serial in X509Data in the STR); the Body and, when present, the Timestamp signed;
    a UsernameToken beside them stays unsigned (zeep does not sign it)."""
    kw = {"user": "alice", "password": "alice-secret"} if user else {}
    xml = xc.zeep_signed(pki, binary=binary, timestamp=timestamp, soap12=soap12, **kw)
    parts = ["Body", "Timestamp"] if timestamp else ["Body"]
    doc = check_signed(xml, pki, "client", parts, "bst" if binary else "x509data")
    children = xc.local_names(xc.security(doc))
    assert children[0] == "Signature"
    assert ("BinarySecurityToken" in children) == binary
    assert ("UsernameToken" in children) == user
    assert ("Timestamp" in children) == timestamp
    if not binary:
        str_ = xc.signature(doc).find("ds:KeyInfo/wsse:SecurityTokenReference", NS)
        assert str_.find("ds:X509Data/ds:X509IssuerSerial", NS) is not None
    # zeep puts wsu:Id on the Body (and a wsu:Id under an ns1 prefix on its BST).
    assert xc.body(doc).get("{%s}Id" % NS["wsu"])
    assert message_of(xml) == "hello from zeep"


@pytest.mark.parametrize("signer,sig_alg,digest,uri,digest_uri", [
    ("client", "rsa-sha1", "sha1", RSA_SHA1, SHA1),
    ("client-ec", "ecdsa-sha256", "sha256", ECDSA_SHA256, SHA256),
], ids=["rsa-sha1", "ecdsa-sha256"])
def test_zeep_algorithms(pki, signer, sig_alg, digest, uri, digest_uri):
    """RSA-SHA1 is zeep's default when no method is given; ECDSA with the EC client."""
    xml = xc.zeep_signed(pki, signer=signer, binary=True, timestamp=True, sig_alg=sig_alg,
                         digest_alg=digest)
    check_signed(xml, pki, signer, ["Body", "Timestamp"], "bst", sig_alg=uri,
                 digest=digest_uri)


def test_zeep_default_method_is_rsa_sha1(pki):
    """Without signature_method zeep signs RSA-SHA1 / SHA-1: what a zeep user who sets
    nothing sends (and a gateway that refuses RSA-SHA1 refuses)."""
    client = Client(wsg.WSDL, wsse=BinarySignature(pki.key("client"), pki.cert("client")))
    service = client.create_service("{urn:example:echo}EchoSoap11Binding", "http://127.0.0.1/")
    xml = etree.tostring(client.create_message(service, "Echo", message="hello from zeep"))
    check_signed(xml, pki, "client", ["Body"], "bst", sig_alg=RSA_SHA1, digest=SHA1)


# ---------------------------------------------------------------- node-soap

@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
@pytest.mark.parametrize("options,parts,wsu_ids", [
    ({}, ["Body", "Timestamp"], False),
    ({"hasTimeStamp": False}, ["Body"], False),
    ({"signerOptions": {"idMode": "wssecurity"}}, ["Body", "Timestamp"], True),
], ids=["default", "no-ts", "wsu-ids"])
def test_node_signed(pki, options, parts, wsu_ids, soap12):
    """node-soap's WSSecurityCert: BST + direct reference, RSA-SHA256 / SHA-256, the
    enveloped-signature transform before exclusive C14N, the Signature last in the header.
    Its Ids are plain Id attributes unless idMode is "wssecurity"."""
    xml = xc.node_signed(pki, soap12=soap12, options=options)
    doc = check_signed(xml, pki, "client", parts, "bst")
    assert xc.algorithms(doc)["transforms"] == sorted([ENVELOPED, EXC_C14N])
    children = xc.local_names(xc.security(doc))
    assert children == ["BinarySecurityToken"] + (
        ["Timestamp"] if "Timestamp" in parts else []) + ["Signature"]
    assert xc.envelope_ns(doc) == NS["s12" if soap12 else "s11"]
    b = xc.body(doc)
    if wsu_ids:
        assert b.get("{%s}Id" % NS["wsu"]) and b.get("Id") is None
    else:
        assert b.get("Id") and b.get("{%s}Id" % NS["wsu"]) is None
    assert message_of(xml) == "hello from node-soap"


def test_node_signed_rsa_sha1(pki):
    xml = xc.node_signed(pki, options={"signatureAlgorithm": RSA_SHA1, "digestAlgorithm": SHA1})
    check_signed(xml, pki, "client", ["Body", "Timestamp"], "bst", sig_alg=RSA_SHA1,
                 digest=SHA1)


def test_node_signed_with_bad_signers(pki):
    """The expired and the untrusted client's keys sign as well; the chain check fails."""
    for signer in ("expired", "untrusted"):
        xml = xc.node_signed(pki, signer=signer)
        assert xc.signer_cert(xc.parse(xml), pki) == signer
        assert not xc.xmlsec1_verify(xml, pki)[0]
