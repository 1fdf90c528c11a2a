#!/usr/bin/python3
"""Writes the hostile XML corpus next to this script (test/integration/test_70_hostile.py).

Every file is a template: ${HEADER} becomes a fresh, valid SOAP Header with a UsernameToken
(so that the hostile part is the only reason to refuse the request), ${MESSAGE} a marker the
test looks for upstream, ${PORT} a loopback listener the test opens and watches. Files over
the default 64 KiB body cap are xz-compressed (.xml.xz). The SOAP version follows the name:
"-soap12" files are SOAP 1.2 envelopes, all others SOAP 1.1. Run it again after a change and
commit its output; the tests never run it.
"""

import lzma
import os

HERE = os.path.dirname(os.path.abspath(__file__))
NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS12 = "http://www.w3.org/2003/05/soap-envelope"
DECL = '<?xml version="1.0" encoding="utf-8"?>\n'


def envelope(message="${MESSAGE}", extra="", soap12=False, header="${HEADER}"):
    """A SOAP Echo envelope; `extra` goes into the Echo element after the message."""
    return ('<soap:Envelope xmlns:soap="%s">%s<soap:Body><e:Echo xmlns:e="urn:example:echo">'
            "<e:message>%s</e:message>%s</e:Echo></soap:Body></soap:Envelope>\n"
            % (NS12 if soap12 else NS11, header, message, extra))


def write(name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = os.path.join(HERE, name)
    if name.endswith(".xz"):
        data = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    with open(path, "wb") as f:
        f.write(data)


def laughs(depth=9):
    ents = ['<!ENTITY lol "lol">']
    prev = "lol"
    for i in range(1, depth + 1):
        ents.append('<!ENTITY lol%d "%s">' % (i, ("&%s;" % prev) * 10))
        prev = "lol%d" % i
    return "\n".join(ents), "&%s;" % prev


def main():
    # XXE: local file, through a general and a parameter entity.
    write("xxe-file.xml", DECL + '<!DOCTYPE soap:Envelope [\n'
          '<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n' + envelope("${MESSAGE}&xxe;"))
    write("xxe-file-soap12.xml", DECL + '<!DOCTYPE soap:Envelope [\n'
          '<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
          + envelope("${MESSAGE}&xxe;", soap12=True))
    write("xxe-parameter-entity.xml", DECL + '<!DOCTYPE soap:Envelope [\n'
          '<!ENTITY % xxe SYSTEM "file:///etc/passwd">\n%xxe;\n]>\n' + envelope())
    # XXE over the network: entity, external DTD subset, parameter entity, stylesheet PI.
    write("xxe-network.xml", DECL + '<!DOCTYPE soap:Envelope [\n'
          '<!ENTITY xxe SYSTEM "http://127.0.0.1:${PORT}/entity">\n]>\n'
          + envelope("${MESSAGE}&xxe;"))
    write("xxe-network-dtd.xml", DECL + '<!DOCTYPE soap:Envelope SYSTEM '
          '"http://127.0.0.1:${PORT}/envelope.dtd">\n' + envelope())
    write("xxe-network-parameter-entity.xml", DECL + '<!DOCTYPE soap:Envelope [\n'
          '<!ENTITY % remote SYSTEM "http://127.0.0.1:${PORT}/remote.dtd">\n%remote;\n]>\n'
          + envelope())
    write("pi-stylesheet-network.xml", DECL + '<?xml-stylesheet type="text/xsl" '
          'href="http://127.0.0.1:${PORT}/style.xsl"?>\n' + envelope())
    # A processing instruction whose target the audit log quotes: non-ASCII and cut at 40 bytes.
    write("pi-non-ascii-target.xml", DECL + envelope(extra="<?a%s data?>" % ("\u00e9" * 30)))
    # Entity expansion bombs: 10^9 "lol"s, and a 40 000-character entity used 2 000 times.
    ents, ref = laughs()
    write("billion-laughs.xml", DECL + "<!DOCTYPE soap:Envelope [\n%s\n]>\n" % ents
          + envelope("${MESSAGE}" + ref))
    write("billion-laughs-soap12.xml", DECL + "<!DOCTYPE soap:Envelope [\n%s\n]>\n" % ents
          + envelope("${MESSAGE}" + ref, soap12=True))
    write("quadratic-blowup.xml", DECL + '<!DOCTYPE soap:Envelope [\n<!ENTITY a "%s">\n]>\n'
          % ("a" * 40000) + envelope("${MESSAGE}" + "&a;" * 2000))
    write("doctype-empty.xml", DECL + "<!DOCTYPE soap:Envelope []>\n" + envelope())
    write("undeclared-entity.xml", DECL + envelope("${MESSAGE}&xxe;"))
    # Structure: depth, attributes, attribute length, element count.
    write("deep-nesting-10000.xml.xz", DECL + envelope(extra="<d>" * 10000 + "</d>" * 10000))
    write("attributes-100000.xml.xz", DECL + envelope(
        extra="<many %s/>" % " ".join('a%d="1"' % i for i in range(100000))))
    write("attribute-1mib.xml.xz", DECL + envelope(extra='<big a="%s"/>' % ("A" * 1048576)))
    write("elements-60000.xml.xz", DECL + envelope(extra="<x/>" * 60000))
    # Encoding: invalid UTF-8 in the body and in the token, broken UTF-16, a refused charset.
    for name, junk in (("ff-byte", b"\xff"), ("overlong", b"\xc0\xaf"),
                       ("surrogate", b"\xed\xa0\x80"), ("above-10ffff", b"\xf4\x90\x80\x80"),
                       ("truncated-sequence", b"\xc3")):
        head, tail = (DECL + envelope()).encode("utf-8").split(b"${MESSAGE}")
        write("invalid-utf8-%s.xml" % name, head + b"${MESSAGE}" + junk + tail)
    write("invalid-utf8-in-username.xml", DECL.encode() + envelope(header=(
        '<soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>'
        "alice@@</wsse:Username><wsse:Password Type=\"http://docs.oasis-open.org/wss/2004/01/"
        'oasis-200401-wss-username-token-profile-1.0#PasswordText">x</wsse:Password>'
        "</wsse:UsernameToken></wsse:Security></soap:Header>")).encode().replace(
            b"@@", b"\xe9"))
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>\n'
             + envelope("${MESSAGE}@@")).encode("utf-16-le")
    write("invalid-utf16-unpaired-surrogate.xml",
          b"\xff\xfe" + utf16.replace("@@".encode("utf-16-le"), b"\x00\xd8A\x00"))
    write("encoding-iso-8859-1.xml", ('<?xml version="1.0" encoding="ISO-8859-1"?>\n'
                                      + envelope("${MESSAGE} caf\u00e9")).encode("latin-1"))
    # Truncated documents.
    full = DECL + envelope()
    write("truncated-after-declaration.xml", DECL)
    write("truncated-in-token.xml", DECL + envelope(header=(
        '<soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken>'
        "<wsse:Username>alice</wsse:Username><wsse:Passw")).split("<wsse:Passw")[0]
        + "<wsse:Passw")
    write("truncated-mid-tag.xml", full[:full.index("<soap:Body>") + len("<soap:Bo")])
    write("truncated-mid-attribute.xml", full[:full.index('"urn:example:echo"') + 8])
    write("truncated-no-envelope-end.xml", full[:full.index("</soap:Envelope>")])
    cut = (DECL + envelope("${MESSAGE} \u00e9t\u00e9")).encode("utf-8")
    write("truncated-mid-utf8-char.xml", cut[:cut.index(b"\xc3\xa9t") + 1])
    full12 = DECL + envelope(soap12=True)
    write("truncated-soap12.xml", full12[:full12.index("</e:Echo>")])


if __name__ == "__main__":
    main()
