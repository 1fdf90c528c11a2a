"""Request smuggling corpus (issue 14): CL.TE, TE.CL, TE.TE with obfuscated Transfer-Encoding
values, duplicate and malformed Content-Length, chunk-size tricks, obs-fold, bare LF and CR, NUL,
request-line tricks, Expect, and pipelining after an error.

Each ambiguous request carries, where a reader that frames it differently would find its end, a
second request that is complete, valid and authenticated (a fresh nonce, its own marker). The
gateway must refuse the first with the status below and close the connection, and the recording
stub upstream must never see either marker: no second request slipped through. Framings that are
unusual but unambiguous are accepted, and then the upstream sees exactly the requests sent, each
once, in order.
"""

import socket
import time

import pytest

import wsg


@pytest.fixture(scope="module")
def gw(configured, stub):
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw82",
                    limits={"request_timeout": "5"})
    g.write_config()
    try:
        g.start()
        yield g
    finally:
        g.stop()


def envelope(marker):
    return wsg.build("alice", message=marker).encode()


def request(marker, extra=b"", path=b"/services/Echo"):
    """A whole, valid request whose body names `marker`."""
    body = envelope(marker)
    return (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: text/xml; charset=utf-8\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def head(fields):
    return (b"POST /services/Echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: text/xml; charset=utf-8\r\n" + fields + b"\r\n")


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def read_answers(sock, timeout=10):
    """The answers on `sock` until it closes (or `timeout`): [(status, body)], closed."""
    data, end = b"", time.monotonic() + timeout
    sock.settimeout(0.5)
    closed = False
    while time.monotonic() < end:
        try:
            got = sock.recv(65536)
        except socket.timeout:
            if answers_in(data)[1] == b"" and data:
                break
            continue
        except ConnectionResetError:
            closed = True
            break
        if not got:
            closed = True
            break
        data += got
    answers, rest = answers_in(data)
    assert rest == b"", "a partial answer: %r" % rest[:200]
    return answers, closed


def answers_in(data):
    answers = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return answers, data
        lines = data[:end].split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if 100 <= status < 200:
            length = 0
        if len(data) < end + 4 + length:
            return answers, data
        answers.append((status, data[end + 4:end + 4 + length]))
        data = data[end + 4 + length:]
    return answers, b""


def send_raw(gw, raw, timeout=10):
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(raw)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return read_answers(s, timeout)


def assert_not_forwarded(stub, *markers):
    # Something forwarded would have reached the stub while the gateway answered; the grace
    # covers one that is still on its way.
    time.sleep(0.2 * wsg.TIME_SCALE)
    for m in markers:
        assert stub.find(m) == [], "the upstream received %s" % m


# name -> (the ambiguous request, given the smuggled one; the gateway's status)
def _cl_te(te, cl_first=True):
    def build(inner):
        body = b"0\r\n\r\n" + inner
        fields = [b"Content-Length: %d\r\n" % len(body), te]
        return head(b"".join(fields if cl_first else fields[::-1])) + body
    return build


def _te_only(te):
    """Transfer-Encoding alone: a reader that ignores it takes no body, and the chunked
    terminator's bytes start the next request, followed by the smuggled one."""
    def build(inner):
        return head(te) + chunk(inner) + b"0\r\n\r\n"
    return build


def _cl(values):
    def build(inner):
        return head(b"".join(b"Content-Length: %s\r\n" % v for v in values)) + inner
    return build


def _chunked(body_of):
    def build(inner):
        return head(b"Transfer-Encoding: chunked\r\n") + body_of(inner)
    return build


def _line(start):
    def build(inner):
        return start + b"\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(inner) + inner
    return build


REFUSED = {
    # CL.TE and TE.CL: both framings in one message (RFC 9112 6.3)
    "cl-te": (_cl_te(b"Transfer-Encoding: chunked\r\n"), 400),
    "te-cl": (_cl_te(b"Transfer-Encoding: chunked\r\n", cl_first=False), 400),
    "cl-te-case": (_cl_te(b"transfer-encoding: CHUNKED\r\n"), 400),
    "cl-te-tab": (_cl_te(b"Transfer-Encoding:\tchunked\r\n"), 400),
    "cl-te-identity": (_cl_te(b"Transfer-Encoding: identity\r\n"), 400),
    "cl-te-space-before-colon": (_cl_te(b"Transfer-Encoding : chunked\r\n"), 400),
    # TE.TE: obfuscated codings one reader may honour and another ignore
    "te-xchunked": (_te_only(b"Transfer-Encoding: xchunked\r\n"), 400),
    "te-chunked-x": (_te_only(b"Transfer-Encoding: chunked, x\r\n"), 400),
    "te-x-chunked": (_te_only(b"Transfer-Encoding: x, chunked\r\n"), 501),
    "te-twice": (_te_only(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n"), 400),
    "te-chunked-twice": (_te_only(b"Transfer-Encoding: chunked, chunked\r\n"), 400),
    "te-quoted": (_te_only(b'Transfer-Encoding: "chunked"\r\n'), 400),
    "te-empty-element": (_te_only(b"Transfer-Encoding: ,chunked\r\n"), 400),
    "te-vertical-tab": (_te_only(b"Transfer-Encoding:\x0bchunked\r\n"), 400),
    "te-nul": (_te_only(b"Transfer-Encoding: chunked\x00\r\n"), 400),
    "te-space-before-colon": (_te_only(b"Transfer-Encoding : chunked\r\n"), 400),
    "te-obs-fold": (_te_only(b"Transfer-Encoding:\r\n chunked\r\n"), 400),
    "te-bare-lf": (_te_only(b"X-A: 1\nTransfer-Encoding: chunked\r\n"), 400),
    "te-http10": (lambda inner: head(b"Transfer-Encoding: chunked\r\n").replace(
        b"HTTP/1.1", b"HTTP/1.0", 1) + chunk(inner) + b"0\r\n\r\n", 400),
    # Content-Length: duplicates, signs, spaces inside, other bases
    "cl-duplicate": (_cl([b"0", b"%d"]), 400),
    "cl-list-differs": (_cl([b"0, %d"]), 400),
    "cl-plus": (_cl([b"+%d"]), 400),
    "cl-minus": (_cl([b"-%d"]), 400),
    "cl-inner-space": (_cl([b"1 %d"]), 400),
    "cl-hex": (_cl([b"0x%x"]), 400),
    "cl-empty": (_cl([b""]), 400),
    "cl-overflow": (_cl([b"18446744073709551617"]), 400),
    # chunk sizes a lax reader takes differently
    "chunk-hex-prefix": (_chunked(lambda inner: b"0x%x\r\n" % len(inner) + inner +
                                  b"\r\n0\r\n\r\n"), 400),
    "chunk-minus": (_chunked(lambda inner: b"-1\r\n" + inner + b"\r\n0\r\n\r\n"), 400),
    "chunk-space-inside": (_chunked(lambda inner: b"1 0\r\n" + inner + b"\r\n0\r\n\r\n"), 400),
    "chunk-overflow": (_chunked(lambda inner: b"1" + b"0" * 16 + b"\r\n" + inner), 400),
    "chunk-no-crlf": (_chunked(lambda inner: b"1\r\nxy\r\n0\r\n\r\n" + inner), 400),
    "chunk-bare-lf": (_chunked(lambda inner: b"0\n\r\n" + inner), 400),
    "chunk-ext-long": (_chunked(lambda inner: b"0;" + b"e" * 300 + b"\r\n\r\n" + inner), 400),
    "trailer-content-length": (_chunked(lambda inner: b"0\r\nContent-Length: %d\r\n\r\n"
                                        % len(inner) + inner), 400),
    "trailer-obs-fold": (_chunked(lambda inner: b"0\r\nX: a\r\n b\r\n\r\n" + inner), 400),
    # field syntax
    "obs-fold": (lambda inner: head(b"X-A: a\r\n b\r\nContent-Length: %d\r\n" % len(inner)) +
                 inner, 400),
    "cl-obs-fold": (lambda inner: head(b"Content-Length:\r\n %d\r\n" % len(inner)) + inner, 400),
    "bare-cr": (lambda inner: head(b"X-A: a\rb\r\nContent-Length: %d\r\n" % len(inner)) +
                inner, 400),
    "bare-lf-head": (lambda inner: (b"POST /services/Echo HTTP/1.1\nHost: 127.0.0.1\n"
                                    b"Content-Length: %d\n\n" % len(inner)) + inner, 400),
    "nul-in-value": (lambda inner: head(b"X-A: a\x00b\r\nContent-Length: %d\r\n" % len(inner)) +
                     inner, 400),
    "nul-in-name": (lambda inner: head(b"X-\x00A: a\r\nContent-Length: %d\r\n" % len(inner)) +
                    inner, 400),
    "leading-whitespace": (lambda inner: (b"POST /services/Echo HTTP/1.1\r\n Host: x\r\n"
                                          b"Host: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                                          % len(inner)) + inner, 400),
    # a singleton the gateway and the upstream could read apart: SOAP by one,
    # multipart (with a root of the attacker's choosing) by the other
    "content-type-twice": (lambda inner: head(b"Content-Type: multipart/related; boundary=b\r\n"
                                              b"Content-Length: %d\r\n" % len(inner)) + inner,
                           400),
    # request-line tricks
    "line-double-space": (_line(b"POST  /services/Echo HTTP/1.1"), 400),
    "line-tab": (_line(b"POST\t/services/Echo HTTP/1.1"), 400),
    "line-trailing-space": (_line(b"POST /services/Echo HTTP/1.1 "), 400),
    "line-lowercase-version": (_line(b"POST /services/Echo http/1.1"), 400),
    "line-version-1.2": (_line(b"POST /services/Echo HTTP/1.2"), 505),
    "line-version-2": (_line(b"POST /services/Echo HTTP/2.0"), 505),
    "line-leading-crlf": (lambda inner: b"\r\n" + _line(b"POST /services/Echo HTTP/1.1")(inner),
                          400),
    "line-nul-target": (_line(b"POST /services/Echo\x00 HTTP/1.1"), 400),
    "line-absolute-other-host": (_line(b"POST http://elsewhere.example/services/Echo HTTP/1.1"),
                                 400),
    "line-connect": (_line(b"CONNECT 127.0.0.1:80 HTTP/1.1"), 501),
    # expectations the gateway cannot meet
    "expect-other": (lambda inner: head(b"Expect: 200-ok\r\nContent-Length: %d\r\n" %
                                        len(inner)) + inner, 417),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused(gw, stub, name):
    build, status = REFUSED[name]
    m = wsg.marker()
    inner = request(m)
    raw = build(inner)
    if b"%d" in raw or b"%x" in raw:    # the _cl cases: the length of what follows
        raw = raw.replace(b"%d", b"%d" % len(inner)).replace(b"%x", b"%x" % len(inner))
    answers, closed = send_raw(gw, raw)
    assert [a[0] for a in answers] == [status], (name, answers)
    assert closed, name
    assert_not_forwarded(stub, m)


def _pipelined(first):
    """`first` (a function of a marker) followed by a plain request."""
    def build(m1, m2):
        return first(m1) + request(m2)
    return build


def _chunked_request(body_of):
    def build(m):
        return head(b"Transfer-Encoding: chunked\r\n") + body_of(envelope(m))
    return build


ACCEPTED = {
    "cl-leading-zeros": _pipelined(lambda m: head(b"Content-Length: 000%d\r\n" %
                                                  len(envelope(m))) + envelope(m)),
    "cl-list-identical": _pipelined(lambda m: head(b"Content-Length: %d, %d\r\n" % (
        len(envelope(m)), len(envelope(m)))) + envelope(m)),
    "cl-ows": _pipelined(lambda m: head(b"Content-Length: \t%d \r\n" % len(envelope(m))) +
                         envelope(m)),
    "te-case": _pipelined(lambda m: head(b"transfer-encoding: Chunked\r\n") + chunk(envelope(m)) +
                          b"0\r\n\r\n"),
    "te-tab": _pipelined(lambda m: head(b"Transfer-Encoding:\tchunked\r\n") + chunk(envelope(m)) +
                         b"0\r\n\r\n"),
    "chunk-leading-zeros": _pipelined(_chunked_request(
        lambda body: b"000%x\r\n" % len(body) + body + b"\r\n0000\r\n\r\n")),
    "chunk-extension": _pipelined(_chunked_request(
        lambda body: b"%x;name=value\r\n" % len(body) + body + b"\r\n0;last\r\n\r\n")),
    "chunk-split": _pipelined(_chunked_request(
        lambda body: chunk(body[:10]) + chunk(body[10:]) + b"0\r\n\r\n")),
    "chunk-trailer": _pipelined(_chunked_request(
        lambda body: chunk(body) + b"0\r\nX-Trailer: t\r\n\r\n")),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_framings(gw, stub, name):
    m1, m2 = wsg.marker(), wsg.marker()
    answers, _ = send_raw(gw, ACCEPTED[name](m1, m2))
    assert [a[0] for a in answers] == [200, 200], (name, answers)
    assert m1.encode() in answers[0][1] and m2.encode() in answers[1][1], name
    assert len(stub.find(m1)) == 1 and len(stub.find(m2)) == 1, name
    # What the upstream got is framed by the gateway: a Content-Length, no chunked coding,
    # and the body as decoded.
    rec = stub.find(m1)[0]
    assert wsg.header_values(rec, "Transfer-Encoding") == [], rec["headers"]
    assert [int(v) for v in wsg.header_values(rec, "Content-Length")] == \
        [len(rec["body"].encode())], rec["headers"]


def test_pipelining_after_an_error(gw, stub):
    """A good request, a refused one, then one more: only the first reaches the upstream; the
    connection ends at the refusal, so the third is never read."""
    m1, m2, m3 = wsg.marker(), wsg.marker(), wsg.marker()
    bad = _cl_te(b"Transfer-Encoding: chunked\r\n")(request(m2))
    answers, closed = send_raw(gw, request(m1) + bad + request(m3))
    assert [a[0] for a in answers] == [200, 400], answers
    assert closed
    assert len(stub.find(m1)) == 1
    assert_not_forwarded(stub, m2, m3)


def test_pipelined_requests_each_reach_the_upstream_once(gw, stub):
    marks = [wsg.marker() for _ in range(4)]
    answers, _ = send_raw(gw, b"".join(request(m) for m in marks))
    assert [a[0] for a in answers] == [200] * 4, answers
    for m, (_, body) in zip(marks, answers):
        assert m.encode() in body
        assert len(stub.find(m)) == 1


def test_expect_continue(gw, stub):
    """100 Continue comes before the body is read, the final answer after it; the upstream never
    sees Expect."""
    m = wsg.marker()
    body = envelope(m)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(head(b"Expect: 100-continue\r\nContent-Length: %d\r\n" % len(body)))
        s.settimeout(5)
        first = s.recv(65536)
        assert first == b"HTTP/1.1 100 Continue\r\n\r\n", first
        s.sendall(body)
        s.shutdown(socket.SHUT_WR)
        answers, _ = read_answers(s)
    assert [a[0] for a in answers] == [200], answers
    rec = stub.find(m)
    assert len(rec) == 1 and wsg.header_values(rec[0], "Expect") == [], rec


def test_expect_continue_not_sent_for_a_refused_body(gw, stub):
    """A declared body over limits.max_body_size is refused at once: no 100 Continue."""
    m = wsg.marker()
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(head(b"Expect: 100-continue\r\nContent-Length: %d\r\n" % (1 << 40)))
        answers, closed = read_answers(s)
    assert [a[0] for a in answers] == [413], answers
    assert closed
    assert_not_forwarded(stub, m)


def test_refusals_are_logged(gw, stub):
    """A request the HTTP layer refuses gets an access line with its status and an audit line
    (`bad_request`) naming the cause, so an operator sees smuggling attempts."""
    def lines(path, start):
        return wsg.settled_text(path).splitlines()[start:]

    audit0 = len(wsg.settled_text(gw.audit_log).splitlines())
    access0 = len(wsg.settled_text(gw.access_log).splitlines())
    raw = head(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + b"0\r\n\r\n"
    answers, closed = send_raw(gw, raw)
    assert [a[0] for a in answers] == [400] and closed, answers
    audit = [x for x in lines(gw.audit_log, audit0) if "event=bad_request" in x]
    assert len(audit) == 1, audit
    assert 'reason="both Transfer-Encoding and Content-Length"' in audit[0], audit
    rid = audit[0].split("rid=")[1].split()[0]
    access = [x for x in lines(gw.access_log, access0) if "rid=%s " % rid in x]
    assert len(access) == 1 and "status=400" in access[0], access
