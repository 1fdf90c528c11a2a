#!/usr/bin/python3
"""Stub upstream SOAP service for the wssgate demo and integration tests.

A threaded HTTP/1.1 keep-alive server (Python standard library only):

  POST /Echo...          EchoResponse echoing the request's <message>, in the request's
                         SOAP version (1.1 text/xml, 1.2 application/soap+xml)
  POST /Fault            a SOAP Server/Receiver fault of its own, HTTP 500
  POST /Slow?s=N         sleeps N seconds (float), then echoes
  POST /Status/NNN       answers status NNN with a small text body
  POST /Big?kb=N         an EchoResponse whose message is N KiB of text
  POST /EchoMtom         an EchoResponse as MTOM (multipart/related): the root part, then the
                         request's attachments as sent; X-Stub-Body-SHA256 is the body's hash

A multipart/related request (MTOM, SwA) is answered from its root part (the `start` part,
else the first), on every path.

Misbehaving answers, for the gateway's upstream-fault tests:

  POST /Garbage          bytes that are not HTTP, then a close
  POST /Close            a close without any answer
  POST /Reset            a 200 with Content-Length 1 MiB, 1 KiB of it, then a TCP reset
  POST /Dribble?s=N      a 200 whose body comes one byte every 0.5 s for N seconds
  POST /Huge?mb=N[&length=1]
                         N MiB of body, without a length (until the close) or with
                         Content-Length; stops when the reader goes away
  POST /HeaderFlood      a status line, then one header line that never ends
  GET  /_requests        JSON list of every recorded request
  DELETE /_requests      clears the record
  GET  /_health          200 "ok"

With --wsdl-dir DIR (a WSDL published by the upstream itself, for wsdl = "upstream"):

  GET|HEAD /.../NAME?wsdl     DIR/NAME.wsdl
  GET|HEAD /wsdl-files/FILE   DIR/FILE (no "..")
                              "@ORIGIN@" in either becomes http://HOST:PORT of the stub;
                              a missing file is a 404. Read at each request: tests change them.

Every request except the /_ control paths is recorded before it is answered: method,
path, headers (list of [name, value] pairs in arrival order), body (UTF-8 text), body_b64
(the exact bytes, Base64: UTF-16 bodies do not survive the text form) and conn (a number per
TCP connection, so tests can see keep-alive reuse).

With --tls-cert/--tls-key (PEM) it speaks HTTPS only; the SNI name a client sent is
recorded as "sni" (null without SNI).
"""

import argparse
import base64
import email.parser
import email.policy
import hashlib
import signal
import itertools
import socket
import struct
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
ECHO_NS = "urn:example:echo"
CT = {SOAP11_NS: "text/xml; charset=utf-8", SOAP12_NS: "application/soap+xml; charset=utf-8"}


class Record:
    """Thread-safe request log."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, item):
        with self.lock:
            self.items.append(item)

    def snapshot(self):
        with self.lock:
            return list(self.items)

    def clear(self):
        with self.lock:
            self.items.clear()


def envelope(ns, body_xml):
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<soap:Envelope xmlns:soap="%s"><soap:Body>%s</soap:Body></soap:Envelope>'
            % (ns, body_xml)).encode("utf-8")


def fault(ns, client_side, text):
    """A SOAP fault in version ns; client_side picks Client/Sender over Server/Receiver."""
    text = escape(text)
    if ns == SOAP12_NS:
        code = "soap:Sender" if client_side else "soap:Receiver"
        return envelope(ns, '<soap:Fault><soap:Code><soap:Value>%s</soap:Value></soap:Code>'
                        '<soap:Reason><soap:Text xml:lang="en">%s</soap:Text></soap:Reason>'
                        '<soap:Detail><stub xmlns="urn:example:stub">stub-upstream</stub></soap:Detail>'
                        '</soap:Fault>' % (code, text))
    code = "soap:Client" if client_side else "soap:Server"
    return envelope(ns, '<soap:Fault><faultcode>%s</faultcode><faultstring>%s</faultstring>'
                    '<detail><stub xmlns="urn:example:stub">stub-upstream</stub></detail>'
                    '</soap:Fault>' % (code, text))


def parse_envelope(body):
    """Returns (soap namespace, message text or None); raises ValueError if not SOAP."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise ValueError("not well-formed XML: %s" % e)
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if ns not in (SOAP11_NS, SOAP12_NS) or not root.tag.endswith("}Envelope"):
        raise ValueError("not a SOAP envelope")
    sbody = root.find("{%s}Body" % ns)
    if sbody is None:
        raise ValueError("no SOAP Body")
    for el in sbody.iter():
        if el.tag == "message" or el.tag.endswith("}message"):
            return ns, el.text or ""
    return ns, None


MTOM_REPLY_BOUNDARY = "stub-mtom-reply"


def split_multipart(ctype, body):
    """(root part's bytes, [(Content-ID, bytes) of the other parts]) of a multipart/related
    body, parsed with the email package; raises ValueError if it is not one."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ValueError("not a multipart body")
    parts = list(msg.iter_parts())
    start = msg.get_param("start")
    root = next((p for p in parts if start and p["Content-ID"] == start), parts[0])
    rest = [(p["Content-ID"], p.get_payload(decode=True)) for p in parts if p is not root]
    return root.get_payload(decode=True), rest


def mtom_reply(ns, envelope_bytes, attachments):
    """An MTOM answer: the envelope as the XOP root, then each attachment byte for byte."""
    b = MTOM_REPLY_BOUNDARY.encode()
    inner = b"text/xml" if ns == SOAP11_NS else b"application/soap+xml"
    out = (b"--" + b + b"\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"" + inner
           + b"\"\r\nContent-ID: <reply-root@stub>\r\n\r\n" + envelope_bytes)
    for cid, data in attachments:
        out += (b"\r\n--" + b + b"\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: binary\r\nContent-ID: " + (cid or "").encode()
                + b"\r\n\r\n" + data)
    return out + b"\r\n--" + b + b"--\r\n", (
        'multipart/related; type="application/xop+xml"; start="<reply-root@stub>"; '
        'start-info="%s"; boundary="%s"' % (inner.decode(), MTOM_REPLY_BOUNDARY))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stub-upstream/1"
    conn_ids = itertools.count(1)

    def setup(self):
        super().setup()
        self.conn = next(Handler.conn_ids)
        self.sni = getattr(self.connection, "wsg_sni", None)

    def log_message(self, fmt, *args):
        sys.stderr.write("stub %s conn=%d %s\n" % (self.address_string(), self.conn, fmt % args))

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, ctype, body, extra=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def control(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_health":
            self.reply(200, "text/plain", b"ok\n")
        elif url.path == "/_requests" and self.command == "GET":
            self.reply(200, "application/json",
                       json.dumps(self.server.record.snapshot(), ensure_ascii=False).encode("utf-8"))
        elif url.path == "/_requests" and self.command == "DELETE":
            self.server.record.clear()
            self.reply(200, "application/json", b"[]")
        else:
            self.reply(404, "text/plain", b"unknown control path\n")

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith("/_"):
            self.control()
            return
        self.server.record.add({
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", errors="replace"),
            "body_b64": base64.b64encode(body).decode("ascii"),
            "conn": self.conn,
            "sni": self.sni,
            "time": time.time(),
        })
        url = urllib.parse.urlsplit(self.path)
        if self.server.wsdl_dir and self.command in ("GET", "HEAD") and self.wsdl_file(url):
            return
        if self.misbehave(url):
            return
        if url.path.startswith("/Status/"):
            try:
                status = int(url.path[len("/Status/"):])
            except ValueError:
                status = 400
            self.reply(status, "text/plain; charset=utf-8", ("stub status %d\n" % status).encode())
            return
        if self.command != "POST":
            self.reply(405, "text/plain", b"POST only\n", {"Allow": "POST"})
            return
        attachments = None
        try:
            ctype = self.headers.get("Content-Type", "")
            if ctype.lower().startswith("multipart/related"):
                body, attachments = split_multipart(ctype, body)
            ns, message = parse_envelope(body)
        except ValueError as e:
            self.reply(500, CT[SOAP11_NS], fault(SOAP11_NS, True, str(e)))
            return
        if url.path == "/Fault":
            self.reply(500, CT[ns], fault(ns, False, "stub upstream fault"), {"X-Stub": "fault"})
            return
        if url.path == "/Slow":
            qs = urllib.parse.parse_qs(url.query)
            time.sleep(float(qs.get("s", ["1"])[0]))
        elif url.path == "/Big":
            qs = urllib.parse.parse_qs(url.query)
            message = "x" * (int(qs.get("kb", ["1"])[0]) * 1024)
        elif not url.path.startswith("/Echo"):
            self.reply(404, "text/plain", b"no such service\n")
            return
        if message is None:
            self.reply(500, CT[ns], fault(ns, True, "no message element in the request"))
            return
        if url.path == "/EchoMtom":
            data, ctype = mtom_reply(ns, envelope(
                ns, '<tns:EchoResponse xmlns:tns="%s"><tns:message>%s</tns:message>'
                '</tns:EchoResponse>' % (ECHO_NS, escape(message))), attachments or [])
            self.reply(200, ctype, data, {"X-Stub-Body-SHA256": hashlib.sha256(data).hexdigest()})
            return
        self.reply(200, CT[ns], envelope(
            ns, '<tns:EchoResponse xmlns:tns="%s"><tns:message>%s</tns:message></tns:EchoResponse>'
            % (ECHO_NS, escape(message))))

    def wsdl_file(self, url):
        """--wsdl-dir: True when url named a WSDL or one of its files (answered)."""
        if url.query.lower() == "wsdl":
            name = url.path.rsplit("/", 1)[-1] + ".wsdl"
        elif url.path.startswith("/wsdl-files/"):
            name = url.path[len("/wsdl-files/"):]
        else:
            return False
        path = os.path.join(self.server.wsdl_dir, name)
        if ".." in name.split("/") or not os.path.isfile(path):
            self.reply(404, "text/plain", b"no such WSDL file\n")
            return True
        with open(path, "rb") as f:
            data = f.read()
        origin = "http://%s:%d" % self.server.server_address[:2]
        self.reply(200, "text/xml; charset=utf-8", data.replace(b"@ORIGIN@", origin.encode()))
        return True

    def raw(self, data):
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def reset(self):
        """Closes with a TCP RST (SO_LINGER 0) instead of a FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.wfile.close()
        self.connection.close()
        self.close_connection = True

    def misbehave(self, url):
        """The misbehaving answers; True when the path was one of them."""
        qs = urllib.parse.parse_qs(url.query)
        if url.path == "/Garbage":
            self.raw(b"this is not HTTP at all\r\n\r\n")
        elif url.path == "/Close":
            self.close_connection = True
        elif url.path == "/Reset":
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                     b"Content-Length: 1048576\r\n\r\n" + b"<" * 1024)
            self.reset()
        elif url.path == "/Dribble":
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                     b"Content-Length: 1000\r\n\r\n")
            end = time.monotonic() + float(qs.get("s", ["10"])[0])
            try:
                while time.monotonic() < end:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.5)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif url.path == "/Huge":
            size = int(qs.get("mb", ["1024"])[0]) << 20
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
            if qs.get("length", ["0"])[0] == "1":
                head += b"Content-Length: %d\r\n" % size
            else:
                head += b"Connection: close\r\n"
            chunk = b" " * 65536
            try:
                self.wfile.write(head + b"\r\n")
                while size > 0:
                    self.wfile.write(chunk[:size])
                    size -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif url.path == "/HeaderFlood":
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Flood: ")
                for _ in range(64):  # 4 MiB, never a line end
                    self.wfile.write(b"a" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        else:
            return False
        return True

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 refuses bursts of new connections
    tls = None
    wsdl_dir = None

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls is not None:
            # The handshake runs in the handler's thread, not the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request.settimeout(10)
                request.do_handshake()
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                sys.stderr.write("stub TLS handshake with %s failed: %s\n" % (client_address[0], e))
                return
        super().finish_request(request, client_address)


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def remember_sni(sock, name, context):
        sock.wsg_sni = name
    ctx.sni_callback = remember_sni
    return ctx


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description="Stub upstream SOAP Echo service.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    ap.add_argument("--tls-cert", help="PEM certificate (chain): serve HTTPS")
    ap.add_argument("--tls-key", help="PEM private key for --tls-cert")
    ap.add_argument("--wsdl-dir", help="serve GET NAME?wsdl and /wsdl-files/ from here")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    srv = Server((args.host, args.port), Handler)
    srv.record = Record()
    srv.wsdl_dir = args.wsdl_dir
    if args.tls_cert:
        srv.tls = tls_context(args.tls_cert, args.tls_key)
    signal.signal(signal.SIGTERM, on_sigterm)
    # The first stdout line tells a harness which port was bound (useful with --port 0).
    print("listening on %s:%d" % srv.server_address[:2], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
