#!/usr/bin/python3
"""zeep_sign: an Echo request signed by zeep's own WS-Security code (zeep.wsse.signature, on
python3-xmlsec), built with Client.create_message and never sent, so tests can check or tamper
with it before posting it themselves.

    zeep_sign.py --key client-key.pem --cert client.pem [--binary] [--timestamp]
                 [--user U --password P [--digest]] [--soap12] [--sig-alg rsa-sha256]
                 [--digest-alg sha256] [--message TEXT] WSDL

prints the envelope (UTF-8, as zeep's transport would send it). `--binary` picks
BinarySignature (a BinarySecurityToken and a direct reference), otherwise Signature (the
certificate and its issuer/serial in ds:X509Data inside the SecurityTokenReference).
zeep signs the Body and, when the Security header has one, the Timestamp.
"""

import argparse
import datetime
import sys

import xmlsec
from lxml import etree
from zeep import Client
from zeep.wsse import signature, utils
from zeep.wsse.username import UsernameToken

BINDINGS = {False: "{urn:example:echo}EchoSoap11Binding",
            True: "{urn:example:echo}EchoSoap12Binding"}
SIG_ALGS = {"rsa-sha256": xmlsec.Transform.RSA_SHA256, "rsa-sha1": xmlsec.Transform.RSA_SHA1,
            "ecdsa-sha256": xmlsec.Transform.ECDSA_SHA256}
DIGEST_ALGS = {"sha256": xmlsec.Transform.SHA256, "sha1": xmlsec.Transform.SHA1}


def _stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class Timestamp:
    """A wsu:Timestamp alone in the Security header: zeep has it only inside its
    UsernameToken plugin, and a signed message without a UsernameToken needs one."""

    def __init__(self, ttl):
        self.ttl = ttl

    def apply(self, envelope, headers):
        now = datetime.datetime.now(datetime.timezone.utc)
        ts = utils.WSU.Timestamp()
        ts.append(utils.WSU.Created(_stamp(now)))
        ts.append(utils.WSU.Expires(_stamp(now + datetime.timedelta(seconds=self.ttl))))
        utils.get_security_header(envelope).append(ts)
        return envelope, headers

    def verify(self, envelope):
        return envelope


def signed_echo(wsdl, key, cert, binary=True, timestamp=False, ttl=300, user=None,
                password=None, use_digest=False, soap12=False, sig_alg="rsa-sha256",
                digest_alg="sha256", message="hello from zeep", address="http://127.0.0.1/"):
    """The signed Echo envelope as bytes. key/cert are PEM file names."""
    plugins = []
    if user is not None:
        plugins.append(UsernameToken(user, password, use_digest=use_digest))
    if timestamp:
        plugins.append(Timestamp(ttl))
    kind = signature.BinarySignature if binary else signature.Signature
    plugins.append(kind(key, cert, signature_method=SIG_ALGS[sig_alg],
                        digest_method=DIGEST_ALGS[digest_alg]))
    client = Client(wsdl, wsse=plugins)
    service = client.create_service(BINDINGS[soap12], address)
    envelope = client.create_message(service, "Echo", message=message)
    return etree.tostring(envelope, encoding="utf-8", xml_declaration=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("wsdl")
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--binary", action="store_true")
    p.add_argument("--timestamp", action="store_true")
    p.add_argument("--ttl", type=int, default=300)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--digest", action="store_true", help="PasswordDigest (default text)")
    p.add_argument("--soap12", action="store_true")
    p.add_argument("--sig-alg", choices=sorted(SIG_ALGS), default="rsa-sha256")
    p.add_argument("--digest-alg", choices=sorted(DIGEST_ALGS), default="sha256")
    p.add_argument("--message", default="hello from zeep")
    a = p.parse_args()
    sys.stdout.buffer.write(signed_echo(
        a.wsdl, a.key, a.cert, binary=a.binary, timestamp=a.timestamp, ttl=a.ttl, user=a.user,
        password=a.password, use_digest=a.digest, soap12=a.soap12, sig_alg=a.sig_alg,
        digest_alg=a.digest_alg, message=a.message))


if __name__ == "__main__":
    main()
