"""Issue #12 item 10: a valid envelope between libxml2's 10 000 000-byte look-up limit and
limits.max_body_size passes the gateway (it was a Client fault, "Huge input lookup"), while the
hostile-input caps still hold. Through the real gateway, with max_body_size raised to 24 MiB
in this file's own gateway and a raw upstream here that answers with what it received.
"""

import hashlib
import re
import socket
import threading

import pytest

import wsg

BODY_CAP = 24 * 1024 * 1024
ECHO_NS = "urn:example:echo"


class RawUpstream:
    """Reads one HTTP/1.1 request per connection (Content-Length or chunked) and answers 200
    with a SOAP body naming the length and SHA-256 of the request body it got."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.bodies = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_body(f, headers):
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(f.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while f.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(f.read(size))
                f.readline()
        return f.read(int(headers.get("content-length", "0")))

    def _conn(self, conn):
        f = conn.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                headers = {}
                while True:
                    h = f.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = self._read_body(f, headers)
                self.bodies.append(body)
                answer = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                          '<soap:Body><e:EchoResponse xmlns:e="%s"><e:message>%d %s</e:message>'
                          '</e:EchoResponse></soap:Body></soap:Envelope>'
                          % (ECHO_NS, len(body), hashlib.sha256(body).hexdigest())).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(answer) + answer)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def big_gw(configured):
    up = RawUpstream()
    gw = wsg.Gateway(configured.dir, configured.db, up, name="wssgate-xml-cost",
                     limits={"max_body_size": str(BODY_CAP), "max_nodes": "100000"})
    gw.write_config()
    try:
        gw.start()
        gw.upstream = up
        yield gw
    finally:
        gw.stop()
        up.close()


def envelope_with(payload, soap12=False):
    """A valid signed-in request for alice whose Body also holds `payload` after the message."""
    m = wsg.marker()
    xml = wsg.build("alice", message=m, soap12=soap12)
    at = xml.index("</e:Echo>")
    return m, xml[:at] + payload + xml[at:]


def without_security(xml):
    """The bytes the upstream must get: the request minus its consumed Security header."""
    return re.sub(r"<wsse:Security\b.*?</wsse:Security>", "", xml, count=1, flags=re.S)


def forwarded(gw, xml, soap12=False):
    r = wsg.post(gw.url("/services/Echo"), xml, soap12=soap12, timeout=120)
    assert r.status_code == 200, (r.status_code, r.content[:600])
    want = without_security(xml).encode("utf-8")
    assert wsg.echoed(r) == "%d %s" % (len(want), hashlib.sha256(want).hexdigest())


# libxml2 builds no text node, comment or CDATA section of over 10 000 000 bytes without
# XML_PARSE_HUGE; the largest text node it takes:
TEXT_MAX = 10000000

PAYLOADS = {
    # 15 MB of text: the largest text node libxml2 builds and 5 MB more
    "large-text": lambda: "<e:big>%s</e:big><e:more>%s</e:more>" % ("x" * TEXT_MAX,
                                                                    "w" * (5 * 1000 * 1000)),
    # 60 000 small elements, 15 MB together
    "many-elements": lambda: "".join('<e:item n="%d">%s</e:item>' % (i, "y" * 230)
                                     for i in range(60000)),
    # just past the limit, in SOAP 1.2
    "just-past-limit": lambda: "<e:big>%s</e:big><e:s>%s</e:s>" % ("z" * (TEXT_MAX - 1000),
                                                                   "s" * 3000),
}


@pytest.mark.parametrize("shape", sorted(PAYLOADS))
def test_sec_large_envelope_under_max_body(big_gw, shape):
    soap12 = shape == "just-past-limit"
    _, xml = envelope_with(PAYLOADS[shape](), soap12=soap12)
    assert 10000000 < len(xml) < BODY_CAP
    forwarded(big_gw, xml, soap12=soap12)


def test_sec_large_envelope_caps_still_hold(big_gw):
    """Past 10 MB the caps still refuse with a Client fault: depth and element count after a
    large text node (libxml2 keeps the tree it had when it stops: never taken for a document),
    and a single text node or comment of over 10 MB (libxml2's limit without
    XML_PARSE_HUGE)."""
    before = len(big_gw.upstream.bodies)
    filler = "<e:big>%s</e:big>" % ("x" * (TEXT_MAX - 1000))
    cases = [
        filler + "<d>" * 120 + "</d>" * 120,
        filler + "<n/>" * 100001,
        filler + "<e:big>%s<d><d/></d></e:big>" % ("x" * (TEXT_MAX + 1)),
        "<!--%s-->" % ("c" * (TEXT_MAX + 1)),
    ]
    for payload in cases:
        _, xml = envelope_with(payload)
        assert len(xml) > 10000000
        r = wsg.post(big_gw.url("/services/Echo"), xml, timeout=120)
        wsg.assert_soap_fault(r, 500, "Client", "Sender")
    assert len(big_gw.upstream.bodies) == before
