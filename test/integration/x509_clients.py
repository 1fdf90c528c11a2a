"""Signed and encrypted requests from real WS-Security stacks, and an independent check of them.

Producers (the code under test/interop-x509/; each returns the envelope as bytes, never sent):
  wss4j(pki, actions, ...)   Apache WSS4J 1.6 (Debian libwss4j-java), the stack SoapUI runs
  zeep_signed(pki, ...)      zeep's wsse.signature (Signature / BinarySignature, python3-xmlsec)
  node_signed(pki, ...)      node-soap's WSSecurityCert (sign only: node-soap cannot encrypt)
make_pki(dir) makes the test PKI (test/interop-x509/make-pki) and returns a Pki.

Checks, independent of the gateway, with the xmlsec1 command-line tool:
  key_reference(doc)         which SecurityTokenReference form the signature uses
  signer_cert(doc, pki)      the certificate that reference names
  xmlsec1_verify(xml, pki)   verifies the signature, the signer's chain against ca.pem and,
                             with crl=True, the CRL
  xmlsec1_decrypt(xml, pki)  decrypts every EncryptedData with the gateway's key
xmlsec1 resolves neither wsse:SecurityTokenReference nor an EncryptedData's reference to an
EncryptedKey in the Security header, so both helpers first move the resolved key material to
where XML-DSig / XML-Enc put it (ds:X509Data; the EncryptedKey inside the EncryptedData's
KeyInfo). Neither KeyInfo is covered by the signature, so the signed bytes stay as produced.
"""

import base64
import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

import wsg

INTEROP_DIR = os.path.join(wsg.TOP_SRC, "test", "interop-x509")
JARS = ["wss4j", "xmlsec", "commons-logging", "commons-codec", "slf4j-api", "slf4j-nop"]
CLASSPATH = ":".join("/usr/share/java/%s.jar" % j for j in JARS)
P12_PASSWORD = "changeit"

NS = {
    "s11": "http://schemas.xmlsoap.org/soap/envelope/",
    "s12": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": wsg.WSSE_NS,
    "wsu": wsg.WSU_NS,
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "ec": "http://www.w3.org/2001/10/xml-exc-c14n#",
}
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
SKI_TYPE = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
            "#X509SubjectKeyIdentifier")
THUMBPRINT_TYPE = ("http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1"
                   "#ThumbprintSHA1")

# The elements whose Id attribute (wsu:Id or a plain Id: xmlsec1's --id-attr matches the local
# name) a signature or an EncryptedKey may point at.
ID_ELEMENTS = [NS["s11"] + ":Body", NS["s12"] + ":Body", NS["wsu"] + ":Timestamp",
               NS["wsse"] + ":UsernameToken", NS["wsse"] + ":BinarySecurityToken",
               NS["xenc"] + ":EncryptedData"]


class Pki:
    """File names of the test PKI in `dir` (see make-pki): pki.cert("client"),
    pki.key("client"), pki.p12("client"), pki.ca, pki.crl, pki.gateway_key, ..."""

    def __init__(self, dir):
        self.dir = dir
        self.ca = self.path("ca.pem")
        self.crl = self.path("crl.pem")
        self.untrusted_ca = self.path("untrusted-ca.pem")
        self.gateway_cert = self.cert("gateway")
        self.gateway_key = self.key("gateway")

    def path(self, name):
        return os.path.join(self.dir, name)

    def cert(self, name):
        return self.path(name + ".pem")

    def key(self, name):
        return self.path(name + "-key.pem")

    def p12(self, name):
        return self.path(name + ".p12")

    def load(self, name):
        with open(self.cert(name), "rb") as f:
            return x509.load_pem_x509_certificate(f.read())


def make_pki(dir):
    """Runs make-pki into dir (once: an existing PKI there is reused) and returns its Pki."""
    if not os.path.exists(os.path.join(dir, "gateway.pem")):
        subprocess.run([os.path.join(INTEROP_DIR, "make-pki"), dir], check=True,
                       capture_output=True, timeout=120)
    return Pki(dir)


def run(argv, stdin=None, env=None, timeout=120):
    """argv's stdout; a failure raises with its stderr in the message."""
    r = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (os.path.basename(argv[0]), r.returncode,
                                                    r.stderr.decode(errors="replace")))
    return r.stdout


# ---------------------------------------------------------------- producers

def echo_envelope(message="hello from wss4j", soap12=False):
    """A plain Echo request (echo.wsdl's document/literal body), the producers' input."""
    env = NS["s12"] if soap12 else NS["s11"]
    return ('<soapenv:Envelope xmlns:soapenv="%s" xmlns:ech="urn:example:echo">'
            '<soapenv:Header/><soapenv:Body><ech:Echo><ech:message>%s</ech:message></ech:Echo>'
            '</soapenv:Body></soapenv:Envelope>' % (env, message)).encode()


_compiled = {}


def wss4j_classes(workdir):
    """Compiles Wss4jSign.java against Debian's jars into workdir/wss4j-classes (once per
    process) and returns that directory."""
    out = os.path.join(workdir, "wss4j-classes")
    if out not in _compiled:
        os.makedirs(out, exist_ok=True)
        run(["javac", "-Xlint:all,-path", "-Werror", "-d", out, "-cp", CLASSPATH,
             os.path.join(INTEROP_DIR, "Wss4jSign.java")])
        _compiled[out] = True
    return out


def wss4j(pki, actions, envelope=None, signer="client", **opts):
    """Runs Wss4jSign with --actions ",".join(actions) on envelope (default echo_envelope())
    signing with pki's `signer` keystore; opts are its other flags with _ for -
    (sig_alg="rsa-sha1", sig_key_id="ski", encrypt_cert=..., enc_alg="aes256-gcm", ...).
    Encrypt defaults to the gateway's certificate. Returns the secured envelope."""
    argv = ["java", "-cp", wss4j_classes(pki.dir) + ":" + CLASSPATH, "Wss4jSign",
            "--actions", ",".join(actions)]
    if "Signature" in actions:
        argv += ["--keystore", pki.p12(signer), "--alias", signer, "--storepass", P12_PASSWORD]
    if "Encrypt" in actions:
        opts.setdefault("encrypt_cert", pki.gateway_cert)
    for k, v in opts.items():
        argv += ["--" + k.replace("_", "-"), str(v)]
    return run(argv, stdin=envelope if envelope is not None else echo_envelope())


def zeep_signed(pki, signer="client", **kw):
    """zeep's signed Echo request (zeep_sign.signed_echo: binary=True for BinarySignature,
    timestamp, user/password/use_digest, soap12, sig_alg, digest_alg, message)."""
    if INTEROP_DIR not in sys.path:
        sys.path.insert(0, INTEROP_DIR)
    import zeep_sign
    return zeep_sign.signed_echo(wsg.WSDL, pki.key(signer), pki.cert(signer), **kw)


def node_signed(pki, signer="client", soap12=False, message="hello from node-soap",
                options=None):
    """node-soap's WSSecurityCert-signed Echo request; options are WSSecurityCert's
    (hasTimeStamp, signatureAlgorithm, digestAlgorithm, signerOptions: {idMode}, ...)."""
    args = {"wsdl": wsg.WSDL, "key": pki.key(signer), "cert": pki.cert(signer),
            "soap12": soap12, "message": message, "options": options or {}}
    modules = wsg.node_modules(os.path.join("test", "integration", "node"))
    env = wsg.clean_env({"NODE_PATH": modules, "NODE_OPTIONS": "--no-deprecation"})
    return run(["node", os.path.join(INTEROP_DIR, "node_sign.js"), json.dumps(args)], env=env)


# ---------------------------------------------------------------- structure

def parse(xml):
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))


def envelope_ns(doc):
    return etree.QName(doc).namespace


def body(doc):
    return doc.find("{%s}Body" % envelope_ns(doc))


def security(doc):
    """The (single) wsse:Security header block."""
    found = doc.findall("{%s}Header/{%s}Security" % (envelope_ns(doc), NS["wsse"]))
    assert len(found) == 1, "%d Security headers" % len(found)
    return found[0]


def local_names(el):
    return [etree.QName(c).localname for c in el if isinstance(c.tag, str)]


def element_id(el):
    """The element's wsu:Id, else its plain Id."""
    return el.get("{%s}Id" % NS["wsu"]) or el.get("Id")


def by_id(doc, ref):
    """The elements whose wsu:Id or Id is ref ("#x" or "x")."""
    ref = ref[1:] if ref.startswith("#") else ref
    return [el for el in doc.iter() if isinstance(el.tag, str) and element_id(el) == ref]


def signature(doc):
    sigs = security(doc).findall("ds:Signature", NS)
    assert len(sigs) == 1, "%d signatures" % len(sigs)
    return sigs[0]


def signed_elements(doc):
    """The local names of the elements the signature's references point at, in order."""
    out = []
    for ref in signature(doc).findall("ds:SignedInfo/ds:Reference", NS):
        targets = by_id(doc, ref.get("URI"))
        assert len(targets) == 1, "%s resolves to %d elements" % (ref.get("URI"), len(targets))
        out.append(etree.QName(targets[0]).localname)
    return out


def algorithms(doc):
    """{"c14n", "signature", "digests", "transforms"} of the signature."""
    si = signature(doc).find("ds:SignedInfo", NS)
    return {
        "c14n": si.find("ds:CanonicalizationMethod", NS).get("Algorithm"),
        "signature": si.find("ds:SignatureMethod", NS).get("Algorithm"),
        "digests": sorted({d.get("Algorithm") for d in si.findall(".//ds:DigestMethod", NS)}),
        "transforms": sorted({t.get("Algorithm") for t in si.findall(".//ds:Transform", NS)}),
    }


def key_reference(doc):
    """The signature's KeyInfo form: "bst" (wsse:Reference to a BinarySecurityToken),
    "issuer-serial", "ski", "thumbprint", "x509" (KeyIdentifier with the certificate) or
    "x509data" (the certificate in X509Data inside the STR, as zeep's Signature)."""
    str_ = signature(doc).find("ds:KeyInfo/wsse:SecurityTokenReference", NS)
    assert str_ is not None, "no SecurityTokenReference in KeyInfo"
    if str_.find("wsse:Reference", NS) is not None:
        return "bst"
    kid = str_.find("wsse:KeyIdentifier", NS)
    if kid is not None:
        return {SKI_TYPE: "ski", THUMBPRINT_TYPE: "thumbprint", X509V3: "x509"}[
            kid.get("ValueType")]
    if str_.find("ds:X509Data/ds:X509Certificate", NS) is not None:
        return "x509data"
    if str_.find("ds:X509Data/ds:X509IssuerSerial", NS) is not None:
        return "issuer-serial"
    raise AssertionError("unknown SecurityTokenReference: %s" % etree.tostring(str_))


def _dn_parts(text):
    return sorted(p.strip() for p in text.replace(", ", ",").split(","))


def _ski(cert):
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def _match_str(doc, str_, cert):
    """Whether the SecurityTokenReference str_ names cert."""
    ref = str_.find("wsse:Reference", NS)
    if ref is not None:
        bsts = by_id(doc, ref.get("URI"))
        return len(bsts) == 1 and base64.b64decode(bsts[0].text) == _der(cert)
    kid = str_.find("wsse:KeyIdentifier", NS)
    if kid is not None:
        value = base64.b64decode(kid.text)
        return {SKI_TYPE: _ski(cert), THUMBPRINT_TYPE: hashlib.sha1(_der(cert)).digest(),
                X509V3: _der(cert)}[kid.get("ValueType")] == value
    der = str_.findtext("ds:X509Data/ds:X509Certificate", namespaces=NS)
    if der is not None:
        return base64.b64decode(der) == _der(cert)
    serial = str_.find("ds:X509Data/ds:X509IssuerSerial", NS)
    return (int(serial.findtext("ds:X509SerialNumber", namespaces=NS)) == cert.serial_number
            and _dn_parts(serial.findtext("ds:X509IssuerName", namespaces=NS)) ==
            _dn_parts(cert.issuer.rfc4514_string()))


CERT_NAMES = ["client", "client-ec", "expired", "revoked", "untrusted", "gateway"]


def _resolve(doc, str_, pki):
    names = [n for n in CERT_NAMES if _match_str(doc, str_, pki.load(n))]
    assert len(names) == 1, "the reference names %s" % names
    return names[0]


def signer_cert(doc, pki):
    """The name (make-pki's) of the certificate the signature's KeyInfo references."""
    return _resolve(doc, signature(doc).find("ds:KeyInfo/wsse:SecurityTokenReference", NS), pki)


def recipient_certs(doc, pki):
    """The names of the certificates each EncryptedKey of the Security header is for."""
    return [_resolve(doc, ek.find("ds:KeyInfo/wsse:SecurityTokenReference", NS), pki)
            for ek in security(doc).findall("xenc:EncryptedKey", NS)]


# ---------------------------------------------------------------- xmlsec1

def _xmlsec1(args, xml):
    """xmlsec1 args on a temporary copy of xml; returns (ok, stdout bytes, stderr text)."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(xml)
        f.flush()
        argv = ["xmlsec1"] + args
        for name in ID_ELEMENTS:
            argv += ["--id-attr:Id", name]
        r = subprocess.run(argv + [f.name], capture_output=True, timeout=60)
    return r.returncode == 0, r.stdout, r.stderr.decode(errors="replace")


def xmlsec1_verify(xml, pki, trusted=None, crl=False):
    """Verifies the signature with xmlsec1: the signer's certificate (resolved from the STR
    by signer_cert) goes into ds:X509Data, with the CRL when crl is true, and xmlsec1 checks the
    signature, the digest of each same-document reference and the chain against `trusted`
    (default ca.pem). Returns (ok, xmlsec1's report)."""
    doc = parse(xml)
    with open(pki.cert(signer_cert(doc, pki)), "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    key_info = signature(doc).find("ds:KeyInfo", NS)
    for child in list(key_info):
        key_info.remove(child)
    data = etree.SubElement(key_info, "{%s}X509Data" % NS["ds"])
    etree.SubElement(data, "{%s}X509Certificate" % NS["ds"]).text = \
        base64.b64encode(_der(cert)).decode()
    if crl:
        with open(pki.crl, "rb") as f:
            der = x509.load_pem_x509_crl(f.read()).public_bytes(serialization.Encoding.DER)
        etree.SubElement(data, "{%s}X509CRL" % NS["ds"]).text = base64.b64encode(der).decode()
    ok, _, err = _xmlsec1(["--verify", "--enabled-reference-uris", "same-doc",
                           "--enabled-key-data", "x509", "--trusted-pem", trusted or pki.ca],
                          etree.tostring(doc.getroottree()))
    return ok, err


OAEP_DIGESTS = {"http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1,
                "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256}


def oaep_digest(ek):
    """The EncryptedKey's OAEP digest URI (SHA-1 when EncryptionMethod names none)."""
    dm = ek.find("xenc:EncryptionMethod/ds:DigestMethod", NS)
    return dm.get("Algorithm") if dm is not None else "http://www.w3.org/2000/09/xmldsig#sha1"


def unwrap_session_key(ek, key_file):
    """The EncryptedKey's session key, unwrapped with `cryptography`: rsa-oaep-mgf1p is
    MGF1 with SHA-1 and the DigestMethod's hash for the label (XML-Enc 1.0 §5.4.2)."""
    method = ek.find("xenc:EncryptionMethod", NS).get("Algorithm")
    assert method == NS["xenc"] + "rsa-oaep-mgf1p", method
    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    wrapped = base64.b64decode(ek.findtext("xenc:CipherData/xenc:CipherValue", namespaces=NS))
    return key.decrypt(wrapped, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                             algorithm=OAEP_DIGESTS[oaep_digest(ek)](),
                                             label=None))


def xmlsec1_decrypt(xml, pki, key=None, unwrap_in_python=False):
    """Decrypts each EncryptedData that an EncryptedKey of the Security header lists, with
    xmlsec1 and the gateway's private key (or `key`). The EncryptedKey is copied into the
    EncryptedData's KeyInfo (its own KeyInfo, a wsse reference to the gateway's certificate,
    dropped: xmlsec1 takes the one private key it was given). xmlsec1 1.2.37 knows OAEP with
    SHA-1 only: with unwrap_in_python, unwrap_session_key() opens the EncryptedKey and xmlsec1
    decrypts the data with that AES key. Returns the decrypted envelope; raises if xmlsec1
    fails."""
    doc = parse(xml)
    key = key or pki.gateway_key
    for ek in security(doc).findall("xenc:EncryptedKey", NS):
        for dref in ek.findall("xenc:ReferenceList/xenc:DataReference", NS):
            ed_id = dref.get("URI")[1:]
            (ed,) = by_id(doc, ed_id)
            key_info = ed.find("ds:KeyInfo", NS)
            for child in list(key_info):
                key_info.remove(child)
            with tempfile.NamedTemporaryFile(suffix=".key") as aes:
                if unwrap_in_python:
                    aes.write(unwrap_session_key(ek, key))
                    aes.flush()
                    args = ["--aeskey", aes.name]
                else:
                    inner = copy.deepcopy(ek)
                    inner.remove(inner.find("ds:KeyInfo", NS))
                    inner.remove(inner.find("xenc:ReferenceList", NS))
                    key_info.append(inner)
                    args = ["--privkey-pem", key]
                ok, out, err = _xmlsec1(["--decrypt"] + args + ["--node-id", ed_id],
                                        etree.tostring(doc.getroottree()))
            if not ok:
                raise RuntimeError("xmlsec1 --decrypt failed: " + err)
            doc = parse(out)
    return etree.tostring(doc.getroottree(), xml_declaration=True, encoding="utf-8")
