#!/usr/bin/python3
"""Writes the hostile multipart/related corpus next to this script (test_88_mtom.py runs it).

Each .mime file is a template: its first line is the request's Content-Type, the rest its
body. ${ENVELOPE} becomes a fresh, valid SOAP envelope with a UsernameToken (SOAP 1.2 when
the name has "-soap12"), so that the framing is the only reason to refuse the request.
Run it again after a change and commit its output; the tests never run it.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
MTOM = ('multipart/related; type="application/xop+xml"; start="<root@h>"; '
        'start-info="text/xml"; boundary="%s"')
MTOM12 = ('multipart/related; type="application/xop+xml"; start="<root@h>"; '
          'start-info="application/soap+xml"; boundary="%s"')
SWA = 'multipart/related; type="text/xml"; start="<root@h>"; boundary="%s"'
XOP_ROOT = 'Content-Type: application/xop+xml; charset=UTF-8; type="%s"\r\nContent-ID: <root@h>\r\n'
SWA_ROOT = 'Content-Type: text/xml; charset=UTF-8\r\nContent-ID: <root@h>\r\n'
ATT = 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n'


def message(ctype, parts, b="MIMEb", close=True, preamble=""):
    """parts: (headers text, body text); the close delimiter unless `close` is False."""
    body = preamble
    for headers, content in parts:
        body += "--%s\r\n%s\r\n%s\r\n" % (b, headers, content)
    if close:
        body += "--%s--\r\n" % b
    return ctype.replace("%s", b) + "\n" + body


def root(soap12=False):
    return (XOP_ROOT % ("application/soap+xml" if soap12 else "text/xml"), "${ENVELOPE}")


def att(cid, data="\x00\x01binary\x02"):
    return (ATT + "Content-ID: <%s>\r\n" % cid, data)


CASES = {
    "missing-boundary.mime": message(MTOM, [root()]).replace('; boundary="MIMEb"', "", 1),
    "boundary-too-long.mime": message(MTOM, [root(), att("a@h")], b="B" * 71),
    "no-delimiter.mime": message(MTOM, [root()]).replace("--MIMEb", "--other"),
    "no-parts.mime": (MTOM % "MIMEb") + "\n--MIMEb--\r\n",
    "unterminated-part.mime": message(MTOM, [root(), att("a@h")], close=False),
    "unterminated-headers.mime": (MTOM % "MIMEb") + "\n--MIMEb\r\nContent-Type: text/xml\r\n",
    "duplicate-content-id.mime": message(MTOM, [root(), att("a@h"), att("a@h", "other")]),
    "duplicate-content-id-case.mime": message(MTOM, [root(), att("a@h"), att("A@H", "other")]),
    # An upstream that takes the first part for the root would read the decoy.
    "soap-part-before-root.mime": message(SWA, [
        (SWA_ROOT.replace("root@h", "decoy@h"), "${ENVELOPE}"), (SWA_ROOT, "${ENVELOPE}")]),
    "duplicate-root-content-id.mime": message(MTOM, [root(), att("root@h")]),
    "empty-content-id.mime": message(MTOM, [root(), (ATT + "Content-ID: <>\r\n", "x")]),
    "nested-multipart.mime": message(MTOM, [root(), (
        'Content-Type: multipart/related; boundary="inner"\r\nContent-ID: <n@h>\r\n',
        "--inner\r\nContent-Type: text/xml\r\n\r\n<x/>\r\n--inner--")]),
    "root-wrong-type.mime": message(SWA, [(
        "Content-Type: text/plain\r\nContent-ID: <root@h>\r\n", "${ENVELOPE}")]),
    "xop-root-not-xop.mime": message(MTOM, [(SWA_ROOT, "${ENVELOPE}")]),
    "xop-root-not-soap.mime": message(MTOM, [(
        'Content-Type: application/xop+xml; type="image/png"\r\nContent-ID: <root@h>\r\n',
        "${ENVELOPE}")]),
    "missing-start-part.mime": message(MTOM, [root()]).replace("<root@h>\r\n", "<other@h>\r\n"),
    "missing-start-part-soap12.mime": message(MTOM12, [root(True)]).replace(
        "<root@h>\r\n", "<other@h>\r\n"),
    "folded-header.mime": message(MTOM, [root(), (
        ATT + "Content-ID:\r\n <a@h>\r\n", "x")]),
    "bare-lf-header.mime": message(MTOM, [root(), (
        "Content-Type: application/octet-stream\nContent-ID: <a@h>\r\n", "x")]),
    "part-length-mismatch.mime": message(MTOM, [root(), (
        ATT + "Content-ID: <a@h>\r\nContent-Length: 100\r\n", "short")]),
    "boundary-inside-part.mime": message(MTOM, [root(), att("a@h", "x\r\n--MIMEbX\r\ny")]),
    "root-base64.mime": message(SWA, [(
        SWA_ROOT + "Content-Transfer-Encoding: base64\r\n", "${ENVELOPE}")]),
    "too-many-parts.mime": message(MTOM, [root()] + [att("a%d@h" % i) for i in range(8)]),
    "part-header-flood.mime": message(MTOM, [root(), (
        ATT + "Content-ID: <a@h>\r\nX-Flood: " + "f" * 2000 + "\r\n", "x")]),
    "root-doctype.mime": message(SWA, [(
        SWA_ROOT, '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${ENVELOPE}')]),
    "root-doctype-soap12.mime": message(MTOM12, [(
        XOP_ROOT % "application/soap+xml",
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${ENVELOPE}')]),
}


def main():
    for name, text in CASES.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(text.encode("latin-1"))


if __name__ == "__main__":
    main()
