"""Issue 14: differential test of the HTTP/1.1 parser (src/h1.c) against h11 (python3-h11).

Every entry of the fuzz corpora test/fuzz/corpus/h1_request/ and h1_response/ goes through
test/h1_dump (our parser) and through h11. Where h11 refuses a message, ours must refuse it too
(or, for a response, find it truncated where h11 only complains at the end of the stream).
Where both accept, they must read the same message: method, target and version (or status,
reason and version), the same field lines, and the same decoded body. Where we refuse and h11
accepts, our problem must be one of STRICTER, each a deliberate choice written down there.
"""

import json
import os
import subprocess

import h11
import pytest

import wsg

H1_DUMP = os.path.join(wsg.TOP_BUILD, "test", "h1_dump")
CORPUS = os.path.join(wsg.TOP_SRC, "test", "fuzz", "corpus")

# Our refusals of what h11 accepts, by our reason text (src/h1.c), each a deliberate choice.
STRICTER = {
    "too many header fields": "h11 has no count limit, we stop at 100",
    "LF without CR": "RFC 9112 2.2 lets a recipient accept bare LF line ends (h11 does, also "
                     "inside chunked framing); we refuse them, as a front proxy that splits "
                     "lines on CRLF only would read another message",
    "malformed chunk size": "same for a bare LF after a chunk size",
    "obsolete line folding": "RFC 9112 5.2 lets a server unfold (h11 does) or refuse with 400; "
                             "we refuse, as other readers may not unfold",
    "malformed trailer field": "the same for folded trailer lines",
    "malformed Transfer-Encoding": "a folded Transfer-Encoding value is refused as folding",
    "control character in a field value": "h11 only refuses NUL and line ends; RFC 9110 5.5 "
                                          "field values hold no CTL",
    "both Transfer-Encoding and Content-Length": "RFC 9112 6.3 lets a server use chunked and "
                                                  "drop Content-Length (h11 does); we refuse "
                                                  "the CL.TE / TE.CL pair outright",
    "Transfer-Encoding in HTTP/1.0": "RFC 9112 6.1: the framing is faulty; h11 uses chunked",
    "Content-Length too large": "h11 has unbounded integers; we refuse values that overflow "
                                "64 bits",
    "chunk size too long": "we refuse chunk sizes over 16 hex digits, h11 over 20",
    "malformed status line": "status codes 600..999: h11 takes any 3 digits",
    "invalid request-target": "h11 takes any visible ASCII; we refuse a fragment ('#'), "
                              "authority-form, other schemes and absolute-form userinfo",
    "CONNECT is not supported": "we tunnel nothing (501)",
    "HTTP version not supported": "h11 takes any 1.x (RFC 9110 2.5 allows it), we 1.0 and 1.1",
    "unsolicited 101 Switching Protocols": "h11 reports a protocol switch, we a broken upstream",
    "invalid Host value": "h11 does not check its syntax, we refuse bytes outside "
                          "uri-host[:port]",
    "invalid Connection value": "Connection elements must be tokens",
    "body too large": "body over the configured limit (413)",
    "malformed chunk extension": "h11 takes anything after ';' up to CRLF (NUL and other "
                                 "CTLs too) and OWS before CRLF alone; we take SP/HTAB only "
                                 "before a ';' and no CTL",
    "chunk extensions too long": "h11 has no cap, ours is 256 bytes per message",
    "trailer section too large": "h11 bounds it only by its 16 KiB event size, we by 4 KiB",
    "several Content-Type fields": "a singleton field (RFC 9110 8.3): the gateway would parse "
                                   "the body by one (SOAP or multipart and its boundary), an "
                                   "upstream maybe by the other",
}


def corpus(name):
    folder = os.path.join(CORPUS, name)
    return sorted(f for f in os.listdir(folder) if not f.startswith("."))


def ours(data, response=False):
    assert os.access(H1_DUMP, os.X_OK), "%s is not built" % H1_DUMP
    argv = [H1_DUMP] + (["--response"] if response else [])
    r = subprocess.run(argv, input=data, capture_output=True, timeout=30, check=True)
    return json.loads(r.stdout.decode("ascii"))


def latin1(text):
    return text.encode("latin-1")


def plain_fields(pairs):
    """Field lines but the two framing ones, which h11 rewrites (one Content-Length,
    Transfer-Encoding lower-cased)."""
    return [(n.lower(), v) for n, v in pairs
            if n.lower() not in (b"content-length", b"transfer-encoding")]


def framing_fields(pairs):
    """The framing the field lines declare: the Content-Length values and whether
    Transfer-Encoding is there."""
    lengths = set()
    te = False
    for n, v in pairs:
        if n.lower() == b"content-length":
            lengths |= {x.strip() for x in v.split(b",")}
        elif n.lower() == b"transfer-encoding":
            te = True
    return lengths, te


def h11_events(conn, data, eof):
    """Feeds data (and the end of the stream if eof) and collects h11's events up to the
    end of the first message: ("accept", events), ("incomplete", events) or ("reject", text)."""
    events = []
    if data:  # h11 takes b"" for the end of the stream
        conn.receive_data(data)
    if eof:
        conn.receive_data(b"")
    try:
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA or ev is h11.PAUSED:
                return "incomplete", events
            events.append(ev)
            if isinstance(ev, (h11.EndOfMessage, h11.ConnectionClosed)):
                return "accept", events
    except h11.RemoteProtocolError as e:
        return "reject", str(e)


def h11_request(data):
    return h11_events(h11.Connection(h11.SERVER), data, eof=False)


def h11_response(data):
    """The answer to a HEAD (first byte odd) or POST; the end of the stream is fed only
    when h11 waits for more after the whole input, as a close-delimited body needs it."""
    head, data = data[0] & 1, data[1:]

    def client():
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method="HEAD" if head else "POST", target="/",
                              headers=[("Host", "gw"), ("Content-Length", "0")]))
        conn.send(h11.EndOfMessage())
        return conn

    verdict, events = h11_events(client(), data, eof=False)
    if verdict != "incomplete":
        return verdict, events
    verdict, events = h11_events(client(), data, eof=True)
    # An error raised only by the end of the stream is a truncated message, not a bad one.
    return ("incomplete", events) if verdict == "reject" else (verdict, events)


def check(name, mine, verdict, theirs):
    """h11 refuses: so do we. h11 waits for more: we wait or refuse already (we read a start
    line before the head ends), never take a shorter message. h11 accepts: so do we, unless
    the refusal is one of STRICTER."""
    if verdict == "reject":
        assert mine["verdict"] == "reject", "%s: h11 refuses (%s), we %s" % (name, theirs, mine)
    elif verdict == "incomplete":
        assert mine["verdict"] != "accept", "%s: h11 waits for more, we %s" % (name, mine)
    elif mine["verdict"] == "reject":
        assert mine["reason"] in STRICTER, \
            "%s: we refuse (%s) what h11 accepts; a deliberate difference goes into STRICTER" \
            % (name, mine["reason"])
    else:
        assert mine["verdict"] == "accept", "%s: h11 accepts, we %s" % (name, mine)


def test_corpora_hold_both_verdicts():
    """The comparison means something only with messages both sides accept and refuse."""
    seen = {}
    for name in corpus("h1_request"):
        with open(os.path.join(CORPUS, "h1_request", name), "rb") as f:
            seen.setdefault(ours(f.read())["verdict"], []).append(name)
    assert len(seen.get("accept", [])) >= 10 and len(seen.get("reject", [])) >= 40, seen


@pytest.mark.parametrize("name", corpus("h1_request"))
def test_request(name):
    with open(os.path.join(CORPUS, "h1_request", name), "rb") as f:
        data = f.read()
    mine = ours(data)
    verdict, theirs = h11_request(data)
    check(name, mine, verdict, theirs)
    if verdict != "accept" or mine["verdict"] != "accept":
        return
    req = theirs[0]
    assert isinstance(req, h11.Request)
    assert latin1(mine["method"]) == req.method
    assert latin1(mine["target"]) == req.target
    assert latin1(mine["version"]) == req.http_version
    pairs = [(latin1(n), latin1(v)) for n, v in mine["headers"]]
    assert plain_fields(pairs) == plain_fields(req.headers.raw_items())
    assert framing_fields(pairs) == framing_fields(req.headers.raw_items())
    body = b"".join(bytes(ev.data) for ev in theirs if isinstance(ev, h11.Data))
    assert latin1(mine["body"]) == body


@pytest.mark.parametrize("name", corpus("h1_response"))
def test_response(name):
    with open(os.path.join(CORPUS, "h1_response", name), "rb") as f:
        data = f.read()
    mine = ours(data, response=True)
    verdict, theirs = h11_response(data)
    check(name, mine, verdict, theirs)
    if verdict != "accept" or mine["verdict"] != "accept":
        return
    res = [ev for ev in theirs if isinstance(ev, h11.Response)][0]
    assert mine["status"] == res.status_code
    assert latin1(mine["reason"]) == res.reason
    assert latin1(mine["version"]) == res.http_version
    pairs = [(latin1(n), latin1(v)) for n, v in mine["headers"]]
    assert plain_fields(pairs) == plain_fields(res.headers.raw_items())
    assert framing_fields(pairs) == framing_fields(res.headers.raw_items())
    body = b"".join(bytes(ev.data) for ev in theirs if isinstance(ev, h11.Data))
    assert latin1(mine["body"]) == body
