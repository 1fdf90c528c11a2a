"""Hostile input: the XML corpus of test/data/hostile/ (see generate.py there) and hostile HTTP
bodies. Each must be refused with a SOAP Client/Sender fault or a 4xx, reach nothing upstream,
fetch nothing over the network, keep the gateway's memory bounded, and leave the gateway
serving valid requests. Sanitizer reports are caught by test_90 (session gateway) and by the
last test here (the second gateway).

Two gateways: the session's (limits.max_body_size = 64 KiB, so the large files stop at the
body cap with 413) and a second one started here with the shipped default cap of 10 MiB, so
that the same large files reach the parser's own caps (depth, attributes per element,
attribute length, element count).
"""

import lzma
import os
import re
import select
import signal
import socket
import threading
import time

import pytest

import wsg

CORPUS_DIR = os.path.join(wsg.TOP_SRC, "test", "data", "hostile")
BIG_CAP = 10 * 1024 * 1024
MIB = 1024 * 1024

PARSE = "parse"  # refused by the parser on both gateways
LARGE = "large"  # over 64 KiB: 413 at the session gateway, the parser's cap at the 10 MiB one

# file -> (kind, regex the audit reason must match when the parser refused it)
CORPUS = {
    "xxe-file.xml": (PARSE, "DOCTYPE|DTD"),
    "xxe-file-soap12.xml": (PARSE, "DOCTYPE|DTD"),
    "xxe-parameter-entity.xml": (PARSE, "DOCTYPE|DTD"),
    "xxe-network.xml": (PARSE, "DOCTYPE|DTD"),
    "xxe-network-dtd.xml": (PARSE, "DOCTYPE|DTD"),
    "xxe-network-parameter-entity.xml": (PARSE, "DOCTYPE|DTD"),
    "pi-stylesheet-network.xml": (PARSE, "processing instruction"),
    "pi-non-ascii-target.xml": (PARSE, "processing instruction"),
    "billion-laughs.xml": (PARSE, "DOCTYPE|DTD"),
    "billion-laughs-soap12.xml": (PARSE, "DOCTYPE|DTD"),
    "quadratic-blowup.xml": (PARSE, "DOCTYPE|DTD"),
    "doctype-empty.xml": (PARSE, "DOCTYPE|DTD"),
    "undeclared-entity.xml": (PARSE, "entity"),
    "deep-nesting-10000.xml.xz": (LARGE, "depth|nesting"),
    "attributes-100000.xml.xz": (LARGE, "max_attributes|attributes"),
    "attribute-1mib.xml.xz": (LARGE, "max_attribute_len|attribute.*(bytes|long)"),
    "elements-60000.xml.xz": (LARGE, "max_nodes|element count|elements"),
    "invalid-utf8-ff-byte.xml": (PARSE, "UTF-8"),
    "invalid-utf8-overlong.xml": (PARSE, "UTF-8"),
    "invalid-utf8-surrogate.xml": (PARSE, "UTF-8|out of allowed range"),
    "invalid-utf8-above-10ffff.xml": (PARSE, "UTF-8|out of allowed range"),
    "invalid-utf8-truncated-sequence.xml": (PARSE, "UTF-8"),
    "invalid-utf8-in-username.xml": (PARSE, "UTF-8"),
    "invalid-utf16-unpaired-surrogate.xml": (PARSE, "surrogate"),
    "encoding-iso-8859-1.xml": (PARSE, "ISO-8859-1"),
    "truncated-after-declaration.xml": (PARSE, "malformed|well-formed"),
    "truncated-in-token.xml": (PARSE, "malformed|well-formed"),
    "truncated-mid-tag.xml": (PARSE, "malformed|well-formed"),
    "truncated-mid-attribute.xml": (PARSE, "malformed|well-formed"),
    "truncated-no-envelope-end.xml": (PARSE, "malformed|well-formed"),
    "truncated-mid-utf8-char.xml": (PARSE, "malformed|well-formed"),
    "truncated-soap12.xml": (PARSE, "malformed|well-formed"),
}


# ---------------------------------------------------------------- the second gateway

class BigGateway(wsg.Gateway):
    """The session gateway's config with the default 10 MiB body cap, own port and logs."""

    def __init__(self, base):
        super().__init__(base.dir, base.db, base.stub)
        self.config = os.path.join(self.dir, "wssgate-big.conf")
        self.access_log = os.path.join(self.dir, "access-big.log")
        self.audit_log = os.path.join(self.dir, "audit-big.log")

    def write_config(self):
        text = wsg.gateway_config(self.port, self.db, self.stub.port, self.down_port)
        for old, new in (("max_body_size = 65536", "max_body_size = %d" % BIG_CAP),
                         ('"access.log"', '"access-big.log"'),
                         ('"audit.log"', '"audit-big.log"')):
            assert old in text, "wsg.gateway_config changed: %r not found" % old
            text = text.replace(old, new)
        with open(self.config, "w") as f:
            f.write(text)

    def start(self):
        self.proc = wsg.Proc("wssgate-big", [wsg.WSSGATE, "--config", self.config], self.dir)
        wsg.wait_for("wssgate-big", lambda: wsg.port_open(self.port), 60, self.proc)


@pytest.fixture(scope="module")
def big_gateway(gateway):
    gw = BigGateway(gateway)
    gw.write_config()
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


@pytest.fixture(params=["session", "big"], ids=["cap64k", "cap10m"])
def gw(request, gateway):
    return gateway if request.param == "session" else request.getfixturevalue("big_gateway")


# ---------------------------------------------------------------- raw HTTP

class Reply:
    """What came back on a raw connection; quacks like requests.Response for wsg's asserts."""

    def __init__(self, status, headers, content, sent, error):
        self.status_code, self.headers, self.content = status, headers, content
        self.sent, self.error = sent, error

    def __repr__(self):
        return "Reply(%s, sent=%d, error=%r, %r)" % (self.status_code, self.sent, self.error,
                                                     self.content[:200])


def _parse_reply(data):
    """(status, headers, body, complete) of a raw HTTP/1.1 response; status None if none."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, b"", False
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip()] = v.strip()
    length = next((int(v) for k, v in headers.items() if k.lower() == "content-length"), None)
    complete = length is not None and len(body) >= length
    return (int(m.group(1)) if m else None), headers, body[:length], complete


def exchange(port, path, ctype, body=b"", chunks=None, length=None, extra=(), timeout=60):
    """POSTs body (or the byte chunks of an iterable, chunked unless `length` is given) on a
    raw socket. Stops sending as soon as the gateway answers or closes, so a refused upload is
    never pushed to the end; a reset while sending or reading is recorded, not raised."""
    head = ["POST %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "Connection: close"]
    if ctype is not None:
        head.append("Content-Type: " + ctype)
    if chunks is None:
        head.append("Content-Length: %d" % len(body))
        chunks = [body] if body else []
    elif length is not None:
        head.append("Content-Length: %d" % length)
    else:
        head.append("Transfer-Encoding: chunked")
        chunks = _chunked(chunks)
    head.extend(extra)
    sent, error, data = 0, None, b""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            for c in chunks:
                if select.select([s], [], [], 0)[0]:
                    break
                s.sendall(c)
                sent += len(c)
        except OSError as e:
            error = e
        try:
            while not _parse_reply(data)[3]:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        except OSError as e:
            error = error or e
    finally:
        s.close()
    status, headers, content, _ = _parse_reply(data)
    return Reply(status, headers, content, sent, error)


def _chunked(chunks):
    for c in chunks:
        yield b"%x\r\n%s\r\n" % (len(c), c)
    yield b"0\r\n\r\n"


# ---------------------------------------------------------------- helpers

def load(name):
    with open(os.path.join(CORPUS_DIR, name), "rb") as f:
        data = f.read()
    return lzma.decompress(data) if name.endswith(".xz") else data


def fresh_header(soap12, m):
    """The <soap:Header> of a fresh, valid request for alice (one use: its nonce is new)."""
    body = wsg.build("alice", soap12=soap12, message=m)
    return re.search(r"<soap:Header>.*</soap:Header>", body, re.S).group(0)


def fill(data, values):
    """Replaces ${KEY} in a template of bytes, in the template's own encoding (UTF-16 by BOM)."""
    codec = "utf-8"
    if data[:2] == b"\xff\xfe":
        codec = "utf-16-le"
    elif data[:2] == b"\xfe\xff":
        codec = "utf-16-be"
    for k, v in values.items():
        data = data.replace(("${%s}" % k).encode(codec), str(v).encode(codec))
    assert "${".encode(codec) not in data, "unfilled placeholder"
    return data


def media(soap12):
    return wsg.wsse_request.headers_for(soap12)["Content-Type"]


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def reset_peak_rss(pid):
    # Writing 5 resets VmHWM to the current RSS (Linux >= 4.0).
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def new_lines(path, offset):
    """The lines past `offset` (a size from log_size) once the log has settled."""
    return wsg.settled_text(path).encode("utf-8", errors="replace")[offset:].decode(
        "utf-8", errors="replace").splitlines()


def log_size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def assert_still_serving(gw, stub):
    m = wsg.marker()
    r = wsg.post(gw.url("/services/Echo"), wsg.build("alice", message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m, (r.status_code, r.content[:300])
    assert len(stub.find(m)) == 1
    assert gw.proc.alive()


def assert_refused(r, soap12, statuses=()):
    """A SOAP Client/Sender fault in the request's version, or one of `statuses`
    (413: also accepted as a closed connection without an answer)."""
    if r.status_code in statuses or (413 in statuses and r.status_code is None):
        return
    assert r.status_code is not None, "no answer: %r" % (r,)
    if soap12:
        wsg.assert_soap_fault(r, 400, "Client", "Sender", soap12=True)
    else:
        wsg.assert_soap_fault(r, 500, "Client", "Sender")


class Listener:
    """A loopback TCP listener that records every connection made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.contacts = []
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.closed:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            self.contacts.append(addr)
            conn.close()

    def close(self):
        self.closed = True
        self.sock.close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.close()


# ---------------------------------------------------------------- the corpus

def test_corpus_table_lists_every_file():
    files = sorted(f for f in os.listdir(CORPUS_DIR) if f.endswith((".xml", ".xml.xz")))
    assert files == sorted(CORPUS), "test/data/hostile and CORPUS differ"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_corpus(gw, gateway, stub, listener, name):
    kind, reason = CORPUS[name]
    soap12 = "-soap12" in name
    m = wsg.marker()
    data = fill(load(name), {"HEADER": fresh_header(soap12, m), "MESSAGE": m,
                             "PORT": listener.port})
    wsg.remember_secrets(data)
    before = len(stub.requests())
    audit_at = log_size(gw.audit_log)
    r = exchange(gw.port, "/services/Echo", media(soap12), data)
    too_large = kind == LARGE and gw is gateway
    assert_refused(r, soap12, statuses=(413,) if too_large else ())
    assert b"root:" not in r.content
    if not too_large:
        audit = [l for l in new_lines(gw.audit_log, audit_at) if "event=bad_request" in l]
        assert audit, "no bad_request audit line for %s" % name
        assert re.search(reason, audit[-1], re.I), audit[-1]
    assert len(stub.requests()) == before, "something reached the upstream"
    assert listener.contacts == [], "the gateway fetched %r" % listener.contacts
    assert_still_serving(gw, stub)


def test_logs_stay_printable_after_the_corpus(gateway, big_gateway):
    """Access and audit lines escape request-supplied bytes (docs/operations.md: \\xHH outside ASCII)."""
    bad = []
    for path in (gateway.access_log, gateway.audit_log, big_gateway.access_log,
                 big_gateway.audit_log):
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                if any(b < 0x20 or b > 0x7e for b in line.rstrip(b"\n")):
                    bad.append("%s:%d: %r" % (os.path.basename(path), n, line[:200]))
    assert bad == [], "\n".join(bad[:10])


# ---------------------------------------------------------------- bodies, media types

@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_empty_body(gateway, stub, soap12):
    before = len(stub.requests())
    r = exchange(gateway.port, "/services/Echo", media(soap12), b"")
    assert_refused(r, soap12, statuses=(400, 411))
    assert len(stub.requests()) == before
    assert_still_serving(gateway, stub)


def test_post_without_length_or_body(gateway, stub):
    """Neither Content-Length nor Transfer-Encoding: an HTTP/1.1 request without a body."""
    before = len(stub.requests())
    s = socket.create_connection(("127.0.0.1", gateway.port), timeout=30)
    try:
        s.sendall(("POST /services/Echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                   "Content-Type: %s\r\n\r\n" % media(False)).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    status, headers, content, _ = _parse_reply(data)
    r = Reply(status, headers, content, 0, None)
    assert_refused(r, False, statuses=(400, 411))
    assert len(stub.requests()) == before
    assert_still_serving(gateway, stub)


# multipart/related is MTOM/SwA, checked by test_88_mtom.py (an envelope labelled so: a
# multipart fault, its nonce not consumed).
@pytest.mark.parametrize("ctype", [
    "text/plain", "text/plain; charset=utf-8", "application/json", "application/xml",
    "application/x-www-form-urlencoded", "", None],
    ids=["text-plain", "text-plain-charset", "json", "application-xml", "form", "empty",
         "missing"])
def test_wrong_content_type_is_415(gateway, stub, ctype):
    """A request that would otherwise pass (fresh, valid token) is refused on its media type,
    and its nonce is not consumed: the same bytes with the right type are then accepted."""
    m = wsg.marker()
    body = wsg.build("alice", message=m).encode("utf-8")
    r = exchange(gateway.port, "/services/Echo", ctype, body,
                 extra=('SOAPAction: "%s"' % wsg.wsse_request.ACTION,))
    assert r.status_code == 415, r
    f = wsg.parse_fault(r.content)
    assert f is not None and f.code == (wsg.SOAP11_NS, "Client"), r
    assert stub.find(m) == []
    ok = wsg.post(gateway.url("/services/Echo"), body)
    assert ok.status_code == 200 and wsg.echoed(ok) == m
    assert len(stub.find(m)) == 1


# ---------------------------------------------------------------- 200 MiB bodies

HUGE = 200 * MIB
CHUNK = 64 * 1024


def huge_body():
    """200 MiB of one envelope, produced lazily: never held in memory by the test."""
    head = (wsg.build("alice", message="x")[:-len("</e:message></e:Echo></soap:Body>"
                                                   "</soap:Envelope>\n")]).encode()
    yield head
    left = HUGE - len(head)
    filler = b"A" * CHUNK
    while left > 0:
        n = min(left, CHUNK)
        yield filler[:n]
        left -= n


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_200mib_body_refused_with_bounded_memory(gw, stub, framing):
    pid = gw.proc.popen.pid
    before = len(stub.requests())
    reset_peak_rss(pid)
    rss0 = rss_kib(pid)
    t0 = time.monotonic()
    r = exchange(gw.port, "/services/Echo", media(False), chunks=huge_body(),
                 length=HUGE if framing == "content-length" else None, timeout=120)
    elapsed = time.monotonic() - t0
    peak = rss_kib(pid, "VmHWM")
    print("%s to %s: %s after %d bytes sent in %.1fs; RSS %d KiB -> peak %d KiB"
          % (framing, os.path.basename(gw.config), r.status_code, r.sent, elapsed, rss0, peak))
    assert r.status_code in (413, None), r
    # The cap (64 KiB or 10 MiB) may be buffered, perhaps twice; 200 MiB must not be.
    cap = 65536 if "big" not in gw.config else BIG_CAP
    assert (peak - rss0) * 1024 < 4 * cap + 32 * MIB, (rss0, peak)
    assert len(stub.requests()) == before
    assert_still_serving(gw, stub)


# ---------------------------------------------------------------- the second gateway ends clean

def test_big_gateway_exits_clean(big_gateway):
    assert big_gateway.proc.alive(), big_gateway.proc.stderr_text()[-3000:]
    rc = big_gateway.proc.stop(signal.SIGTERM, timeout=30)
    text = big_gateway.proc.stderr_text()
    reports = [l for l in text.splitlines() if wsg.SANITIZER_RE.search(l)]
    assert reports == [], "\n".join(reports[:20])
    assert rc == 0, "exit status %s; stderr tail:\n%s" % (rc, text[-3000:])
