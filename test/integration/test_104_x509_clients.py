"""Issue 17: signed and encrypted requests made by real clients, through the gateway.

Apache WSS4J 1.6 (Debian libwss4j-java, as SoapUI uses it) and node-soap's WSSecurityCert
produce the messages (test/integration/x509_clients.py, checked on their own by test_103);
test_100 covers zeep's signatures and the signature-wrapping variants, test_101 decryption.
The test PKI comes from test/interop-x509/make-pki: a CA with a CRL, a client (RSA and EC),
an expired, a revoked and an untrusted signer, and the gateway's encryption key.
"""

import os
import subprocess

import pytest

import wsg
import x509_clients as xc


@pytest.fixture(scope="module")
def pki(configured):
    p = xc.make_pki(os.path.join(configured.dir, "x509-clients"))
    # The signers IssuerSerial / SKI / thumbprint references are looked up in.
    with open(p.path("signers.pem"), "w") as out:
        for name in ("client", "client-ec", "expired", "revoked", "untrusted"):
            with open(p.cert(name)) as f:
                out.write(f.read())
    return p


@pytest.fixture(scope="module")
def gw(configured, pki):
    up = "http://127.0.0.1:%d" % configured.stub.port
    sig = ('\n    signature = { require = true; trust = "%s"; crl = "%s"; certs = "%s"; };'
           % (pki.ca, pki.crl, pki.path("signers.pem")))
    dec = '\n    decrypt = { key = "%s"; cert = "%s"; };' % (pki.gateway_key, pki.gateway_cert)
    no_roles = 'roles = ( "echo-users" );'
    routes = [
        # A signature alone names no user: such a route asks no role.
        wsg.route_config("x-sig", "/services/XSig", up + "/EchoXSig", extra=sig)
        .replace(no_roles, ""),
        wsg.route_config("x-sig-ut", "/services/XSigUt", up + "/EchoXSigUt",
                         extra=sig.replace("require = true;",
                                           'require = true; parts = ( "Body", "Timestamp", '
                                           '"UsernameToken" );')),
        wsg.route_config("x-sig-enc", "/services/XSigEnc", up + "/EchoXSigEnc",
                         extra=sig + dec).replace(no_roles, ""),
        # The signer's certificate names the user (roles echo-users apply).
        wsg.route_config("x-x509", "/services/X509", up + "/EchoX509",
                         extra=sig).replace('auth = "wsse"', 'auth = "x509"'),
        wsg.route_config("x-wsse-or-x509", "/services/WsseOrX509", up + "/EchoWsseOrX509",
                         extra=sig.replace("require = true;", "require = false;"))
        .replace('auth = "wsse"', 'auth = "wsse_or_x509"'),
    ]
    g = wsg.Gateway(configured.dir, configured.db, configured.stub, name="wssgate-x509c",
                    config_kw={"extra_routes": routes})
    g.write_config()
    # alice holds the RSA client's certificate, bob (no echo-users role) the EC client's.
    g.cli_ok("user", "cert", "add", "alice", pki.cert("client"))
    g.cli_ok("user", "cert", "add", "bob", pki.cert("client-ec"))
    g.start()
    yield g
    g.stop()


def send(gw, path, raw, soap12=False):
    wsg.remember_secrets(raw)
    return wsg.post(gw.url(path), raw, soap12=soap12,
                    headers={"SOAPAction": '""'} if not soap12 else None)


def accepted(stub, r, m):
    assert r.status_code == 200, r.content[:800]
    assert wsg.echoed(r) == m
    (rec,) = stub.find(m)
    assert "Security" not in rec["body"] and "EncryptedData" not in rec["body"]
    return rec


# ---------------------------------------------------------------- WSS4J 1.6

@pytest.mark.parametrize("key_id", ["bst", "issuer-serial", "ski", "thumbprint"])
@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_wss4j_timestamp_signature(gw, stub, pki, key_id, soap12):
    """Timestamp + Signature over Body and Timestamp, the signer named four ways."""
    m = wsg.marker()
    raw = xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m, soap12),
                   sig_key_id=key_id)
    accepted(stub, send(gw, "/services/XSig", raw, soap12), m)


def test_wss4j_ecdsa(gw, stub, pki):
    m = wsg.marker()
    raw = xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m),
                   signer="client-ec", sig_alg="ecdsa-sha256")
    accepted(stub, send(gw, "/services/XSig", raw), m)


def test_wss4j_username_token_and_signature(gw, stub, pki):
    """UsernameToken + Signature covering it: both must pass."""
    m = wsg.marker()
    opts = {"user": "alice", "password": wsg.USERS["alice"][0], "password_type": "digest",
            "sign_parts": "Body,Timestamp,UsernameToken"}
    raw = xc.wss4j(pki, ["UsernameToken", "Timestamp", "Signature"],
                   envelope=xc.echo_envelope(m), **opts)
    rec = accepted(stub, send(gw, "/services/XSigUt", raw), m)
    assert ["X-WSS-User", "alice"] in [list(h) for h in rec["headers"]]
    opts["password"] = "not-" + opts["password"]
    m = wsg.marker()
    raw = xc.wss4j(pki, ["UsernameToken", "Timestamp", "Signature"],
                   envelope=xc.echo_envelope(m), **opts)
    wsg.assert_wss_fault(send(gw, "/services/XSigUt", raw), "FailedAuthentication")
    assert stub.find(m) == []


@pytest.mark.parametrize("order", [["Timestamp", "Signature", "Encrypt"],
                                   ["Timestamp", "Encrypt", "Signature"]],
                         ids=["sign-then-encrypt", "encrypt-then-sign"])
@pytest.mark.parametrize("enc_alg", ["aes128-cbc", "aes256-gcm"])
def test_wss4j_signature_and_encryption(gw, stub, pki, order, enc_alg):
    """Both orders: the Security header is processed in document order, so the signature is
    checked over the plaintext (sign, then encrypt) or over the ciphertext (encrypt, then
    sign); the upstream gets the plaintext Body."""
    m = wsg.marker()
    raw = xc.wss4j(pki, order, envelope=xc.echo_envelope(m), enc_alg=enc_alg)
    assert m.encode() not in raw
    accepted(stub, send(gw, "/services/XSigEnc", raw), m)


@pytest.mark.parametrize("order", [["Timestamp", "Signature", "Encrypt"],
                                   ["Timestamp", "Encrypt", "Signature"]],
                         ids=["sign-then-encrypt", "encrypt-then-sign"])
def test_wss4j_signature_and_encryption_tampered(gw, stub, pki, order):
    """One ciphertext byte changed: refused (a decryption or a digest failure), never
    forwarded."""
    m = wsg.marker()
    raw = xc.wss4j(pki, order, envelope=xc.echo_envelope(m))
    doc = xc.parse(raw)
    cv = xc.body(doc).find(".//xenc:CipherValue", xc.NS)
    data = bytearray(__import__("base64").b64decode(cv.text))
    data[len(data) // 2] ^= 1
    cv.text = __import__("base64").b64encode(bytes(data)).decode()
    from lxml import etree
    r = send(gw, "/services/XSigEnc", etree.tostring(doc))
    wsg.assert_wss_fault(r, "FailedCheck")
    assert stub.find(m) == []


@pytest.mark.parametrize("signer,fault", [
    ("expired", "InvalidSecurityToken"),
    ("revoked", "InvalidSecurityToken"),
    ("untrusted", "InvalidSecurityToken"),
])
def test_wss4j_bad_signers_refused(gw, stub, pki, signer, fault):
    m = wsg.marker()
    raw = xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m),
                   signer=signer)
    r = send(gw, "/services/XSig", raw)
    assert r.status_code == 500, r.content[:400]
    assert b"wsse:" in r.content
    assert stub.find(m) == []


def test_wss4j_rsa_sha1_refused_unless_listed(gw, stub, pki):
    m = wsg.marker()
    raw = xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m),
                   sig_alg="rsa-sha1")
    r = send(gw, "/services/XSig", raw)
    assert r.status_code == 500 and stub.find(m) == []


def test_wss4j_modified_signed_byte_refused(gw, stub, pki):
    m = wsg.marker()
    raw = xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m))
    r = send(gw, "/services/XSig", raw.replace(m.encode(), m[:-1].encode() + b"X"))
    wsg.assert_wss_fault(r, "FailedCheck")
    assert stub.find(m) == [] and stub.find(m[:-1] + "X") == []


def test_wss4j_replay_refused(gw, stub, pki):
    m = wsg.marker()
    raw = xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m))
    accepted(stub, send(gw, "/services/XSig", raw), m)
    wsg.assert_wss_fault(send(gw, "/services/XSig", raw), "InvalidSecurity")
    assert len(stub.find(m)) == 1


# ---------------------------------------------------------------- node-soap

@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_node_soap_wssecuritycert(gw, stub, pki, soap12):
    """node-soap's WSSecurityCert: BST, RSA-SHA256, Timestamp and Body signed (plain Id
    attributes, the enveloped-signature transform before exclusive C14N)."""
    m = wsg.marker()
    raw = xc.node_signed(pki, soap12=soap12, message=m,
                         options={"signatureAlgorithm":
                                  "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"})
    accepted(stub, send(gw, "/services/XSig", raw, soap12), m)


# ---------------------------------------------------------------- certificates as users

def forwarded_user(rec):
    return dict((k.lower(), v) for k, v in rec["headers"]).get("x-wss-user")


@pytest.mark.parametrize("key_id", ["bst", "issuer-serial"])
def test_x509_route_user_from_certificate(gw, stub, pki, key_id):
    """auth = "x509": the signer's certificate is alice's (user cert add): forwarded as
    alice, with her roles; the audit log names the certificate's fingerprint."""
    m = wsg.marker()
    raw = xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m),
                   sig_key_id=key_id)
    rec = accepted(stub, send(gw, "/services/X509", raw), m)
    assert forwarded_user(rec) == "alice"
    wsg.wait_for("the audit line", lambda: "route=x-x509 user=alice event=signed" in
                 open(gw.audit_log, encoding="utf-8").read(), 10, gw.proc)


def test_x509_route_refuses_unmapped_and_roleless(gw, stub, pki):
    """A trusted signer mapped to a user without the route's role, then mapped to no user
    (its certificate removed, effective at once): the same FailedAuthentication, nothing
    forwarded."""
    def ec_signed():
        m = wsg.marker()
        return m, xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m),
                           signer="client-ec", sig_alg="ecdsa-sha256")
    m, raw = ec_signed()
    wsg.assert_wss_fault(send(gw, "/services/X509", raw), "FailedAuthentication")
    assert stub.find(m) == []
    fp = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                         pki.cert("client-ec")], capture_output=True, text=True,
                        check=True).stdout.strip().split("=", 1)[1]
    gw.cli_ok("user", "cert", "del", "bob", fp)
    try:
        m, raw = ec_signed()
        wsg.assert_wss_fault(send(gw, "/services/X509", raw), "FailedAuthentication")
        assert stub.find(m) == []
        wsg.wait_for("the audit line", lambda: "the signer's certificate is mapped to no "
                     "user" in open(gw.audit_log, encoding="utf-8").read(), 10, gw.proc)
    finally:
        gw.cli_ok("user", "cert", "add", "bob", pki.cert("client-ec"))


def test_x509_route_without_signature_refused(gw, stub):
    """A UsernameToken alone on an x509 route (its signature block requires one)."""
    m = wsg.marker()
    r = wsg.post(gw.url("/services/X509"), wsg.build("alice", message=m))
    wsg.assert_wss_fault(r, "InvalidSecurity")
    assert stub.find(m) == []


def test_x509_route_username_token_must_name_the_signer(gw, stub, pki):
    """Both a UsernameToken and a signature: both must pass, and name one user."""
    for user, ok in (("alice", True), ("bob", False)):
        m = wsg.marker()
        raw = xc.wss4j(pki, ["UsernameToken", "Timestamp", "Signature"],
                       envelope=xc.echo_envelope(m), user=user,
                       password=wsg.USERS[user][0], password_type="digest")
        r = send(gw, "/services/X509", raw)
        if ok:
            assert forwarded_user(accepted(stub, r, m)) == "alice"
        else:
            wsg.assert_wss_fault(r, "FailedAuthentication")
            assert stub.find(m) == []


def test_wsse_or_x509(gw, stub, pki):
    """A UsernameToken names the user; without one, the signer's certificate does."""
    m = wsg.marker()
    rec = accepted(stub, wsg.post(gw.url("/services/WsseOrX509"), wsg.build("alice", message=m)),
                   m)
    assert forwarded_user(rec) == "alice"
    m = wsg.marker()
    raw = xc.wss4j(pki, ["Timestamp", "Signature"], envelope=xc.echo_envelope(m))
    assert forwarded_user(accepted(stub, send(gw, "/services/WsseOrX509", raw), m)) == "alice"


def test_check_config_x509_needs_signature_block(gw, configured):
    route = wsg.route_config("nosig", "/services/NoSig", "http://127.0.0.1:1/E").replace(
        'auth = "wsse"', 'auth = "x509"')
    text = wsg.gateway_config(configured.port, configured.db, configured.stub.port,
                              configured.down_port, extra_routes=[route])
    path = os.path.join(configured.dir, "x509-nosig.conf")
    with open(path, "w") as f:
        f.write(text)
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 1 and "need the route's signature block" in r.err, r.err
