"""Issue 16, item 3: roles per SOAP operation, operations_only, and the SOAPAction check.

Routes of one gateway (gw89), all to the stub upstream, which echoes any /Echo* call:

  /services/Records      wsdl = test/data/records.wsdl (ReadRecord, WriteRecord; SOAP 1.1 and
                         1.2 bindings with soapActions), route roles ( "records-admin" ),
                         {urn:example:echo}ReadRecord for records-read or records-write,
                         WriteRecord (a local-name entry) for records-write only
  /services/RecordsOnly  no WSDL, operations_only = true, only ReadRecord listed, with its
                         soap_action
  /services/EchoLocal    no WSDL, no soap_action: "Echo" (local name) for records-write only

zeep and node-soap build their clients from the gateway's ?wsdl of /services/Records. The user
"reader" holds records-read, "writer" records-write; alice (echo-users) holds neither.
"""

import os
import re
import socket

import pytest
import zeep.exceptions
from zeep import Client
from zeep.wsse.username import UsernameToken

import wsg
import zeep_util

RECORDS_WSDL = os.path.join(wsg.TOP_SRC, "test", "data", "records.wsdl")
ECHO_NS = "urn:example:echo"
READ_ACTION = "urn:example:echo/ReadRecord"
WRITE_ACTION = "urn:example:echo/WriteRecord"
USERS = {"reader": ("reader-Pw-4b1e0", "records-read"),
         "writer": ("writer-Pw-93d7a", "records-write")}
PORTS = {False: "RecordsSoap11Port", True: "RecordsSoap12Port"}
SOAPS = [False, True]
SOAP_IDS = ["soap11", "soap12"]


@pytest.fixture(scope="module")
def gw(configured, stub):
    up = "http://127.0.0.1:%d" % stub.port
    g = wsg.Gateway(configured.dir, configured.db, stub, name="gw89")

    def route(name, path, upstream, roles, extra):
        return wsg.route_config(name, path, upstream, extra=extra).replace(
            'roles = ( "echo-users" )', "roles = ( %s )" % roles)

    g.config_kw["extra_routes"] = [
        route("records", "/services/Records", up + "/EchoRecords", '"records-admin"',
              ' wsdl = "%s";\n    operations = ( { name = "{%s}ReadRecord";'
              ' roles = ( "records-read", "records-write" ); },\n'
              '      { name = "WriteRecord"; roles = ( "records-write" ); } );'
              % (RECORDS_WSDL, ECHO_NS)),
        route("records-only", "/services/RecordsOnly", up + "/EchoRecordsOnly", '"echo-users"',
              ' operations_only = true;\n    operations = ( { name = "ReadRecord";'
              ' roles = ( "records-read" ); soap_action = "%s"; } );' % READ_ACTION),
        route("echo-local", "/services/EchoLocal", up + "/EchoLocal", '"echo-users"',
              ' operations = ( { name = "Echo"; roles = ( "records-write" ); } );'),
    ]
    g.write_config()
    for role in ("records-read", "records-write", "records-admin"):
        g.cli_ok("role", "add", role)
    for name, (pw, role) in USERS.items():
        wsg.SENT_SECRETS.add(pw)
        g.cli_ok("user", "add", name, "--role", role, stdin=pw + "\n")
    try:
        g.start()
        yield g
    finally:
        g.stop()


def password(user):
    return USERS[user][0] if user in USERS else wsg.USERS[user][0]


def zeep_service(gw, user, soap12):
    client = Client(gw.url("/services/Records?wsdl"), transport=zeep_util.CapturingTransport(),
                    wsse=UsernameToken(user, password(user), use_digest=True))
    return client.bind("RecordsService", PORTS[soap12])


def forwarded_as(stub, m, user, path):
    recs = stub.find(m)
    assert len(recs) == 1, "upstream saw %d requests with the marker" % len(recs)
    assert recs[0]["path"] == path
    assert [wsg.header_text(v) for v in wsg.header_values(recs[0], "X-WSS-User")] == [user]


def audit_has(gw, text):
    return text in wsg.settled_text(gw.audit_log)


def envelope(user, operation, m, soap12=False, pw=None):
    """A digest-token envelope whose Body's first child is {urn:example:echo}operation."""
    xml = wsg.build(user, pw if pw is not None else password(user), soap12=soap12, message=m)
    return xml.replace("e:Echo", "e:" + operation)


def send(gw, path, xml, soap12=False, action=None):
    """POSTs xml with `action` as the SOAPAction header (1.1) or action parameter (1.2);
    None: none at all."""
    if soap12:
        ctype = "application/soap+xml; charset=utf-8"
        if action is not None:
            ctype += '; action="%s"' % action
        headers = {"Content-Type": ctype}
    else:
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if action is not None:
            headers["SOAPAction"] = '"%s"' % action
    return wsg.http_session().post(gw.url(path), data=xml.encode("utf-8"), headers=headers,
                                   timeout=30 * wsg.TIME_SCALE)


# ---------------------------------------------------------------- real clients

@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
def test_zeep_reader_reads_but_cannot_write(gw, stub, soap12):
    svc = zeep_service(gw, "reader", soap12)
    m = wsg.marker()
    assert svc.ReadRecord(message=m) == m
    forwarded_as(stub, m, "reader", "/EchoRecords")
    m = wsg.marker()
    with pytest.raises(zeep.exceptions.Fault) as e:
        svc.WriteRecord(message=m)
    codes = [str(e.value.code)] + [q.localname for q in e.value.subcodes or []]
    assert any(c.endswith("FailedAuthentication") for c in codes), codes
    assert stub.find(m) == []
    assert audit_has(gw, "operation {%s}WriteRecord: user holds none of its roles" % ECHO_NS)


@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
def test_zeep_writer_does_both(gw, stub, soap12):
    svc = zeep_service(gw, "writer", soap12)
    for op in (svc.ReadRecord, svc.WriteRecord):
        m = wsg.marker()
        assert op(message=m) == m
        forwarded_as(stub, m, "writer", "/EchoRecords")


@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
def test_node_soap_by_operation(gw, stub, soap12):
    def call(user, operation):
        m = wsg.marker()
        res = wsg.node_client({
            "wsdl": gw.url("/services/Records?wsdl"), "endpoint": gw.url("/services/Records"),
            "service": "RecordsService", "ports": [PORTS[False], PORTS[True]],
            "operation": operation, "user": user, "password": password(user),
            "passwordType": "PasswordDigest", "hasTimeStamp": True, "hasNonce": True,
            "soap12": soap12, "message": m})
        return res, m

    res, m = call("reader", "ReadRecord")
    assert res["ok"], res
    assert res["result"] == {"message": m}
    forwarded_as(stub, m, "reader", "/EchoRecords")
    res, m = call("reader", "WriteRecord")
    assert not res["ok"], res
    assert res["status"] == (400 if soap12 else 500), res
    assert "FailedAuthentication" in str(res.get("fault")), res
    assert stub.find(m) == []
    res, m = call("writer", "WriteRecord")
    assert res["ok"], res
    assert res["result"] == {"message": m}
    forwarded_as(stub, m, "writer", "/EchoRecords")


# ---------------------------------------------------------------- no oracle

@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
def test_refused_operation_answers_as_missing_role(gw, stub, soap12):
    """A refused operation, a user without any of the route's roles, a wrong password: the
    same bytes. The audit log tells them apart and names the operation."""
    answers = []
    for user, op, pw in (("reader", "WriteRecord", None), ("alice", "Unlisted", None),
                         ("reader", "ReadRecord", "not-the-password-1")):
        m = wsg.marker()
        action = WRITE_ACTION if op == "WriteRecord" else None
        r = send(gw, "/services/Records", envelope(user, op, m, soap12, pw), soap12, action)
        wsg.assert_wss_fault(r, "FailedAuthentication", soap12)
        assert stub.find(m) == []
        answers.append((r.status_code, r.headers.get("Content-Type"), r.content))
    assert answers[0] == answers[1] == answers[2]
    assert audit_has(gw, "operation {%s}Unlisted: user holds none of the route's roles"
                     % ECHO_NS)


# ---------------------------------------------------------------- SOAPAction

def assert_action_refused(r, soap12=False):
    """A plain Client / Sender fault (no WS-Security subcode): the request was refused for
    its action, not for its credentials."""
    f = wsg.assert_soap_fault(r, 400 if soap12 else 500, "Client", "Sender", soap12)
    assert f.subcode is None, f
    return f


@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
@pytest.mark.parametrize("user", ["reader", "writer"])
def test_soapaction_naming_read_with_write_body_refused(gw, stub, soap12, user):
    """The read operation's action on the write operation's Body: a Client / Sender fault
    before any credential work, whoever asks (the writer may write, but not this way)."""
    m = wsg.marker()
    r = send(gw, "/services/Records", envelope(user, "WriteRecord", m, soap12), soap12,
             READ_ACTION)
    assert_action_refused(r, soap12)
    assert stub.find(m) == []
    # The log writes a quote as \x22.
    assert audit_has(gw, "SOAPAction \\x22%s\\x22 names another operation than the Body's "
                     "{%s}WriteRecord" % (READ_ACTION, ECHO_NS))


@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
def test_soapaction_that_matches_or_is_empty_passes(gw, stub, soap12):
    for action in (READ_ACTION, "", None):
        m = wsg.marker()
        r = send(gw, "/services/Records", envelope("reader", "ReadRecord", m, soap12), soap12,
                 action)
        assert r.status_code == 200, (action, r.status_code, r.content[:500])
        forwarded_as(stub, m, "reader", "/EchoRecords")


@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
def test_soapaction_unknown_refused(gw, stub, soap12):
    """An action the WSDL does not declare could be dispatched by the upstream to an operation
    the gateway cannot authorize: refused."""
    m = wsg.marker()
    r = send(gw, "/services/Records", envelope("writer", "WriteRecord", m, soap12), soap12,
             "urn:example:echo/DeleteEverything")
    assert_action_refused(r, soap12)
    assert stub.find(m) == []


def test_soapaction_twice_refused(gw, stub):
    """Two SOAPAction headers: the gateway would read one, the upstream maybe the other."""
    m = wsg.marker()
    xml = envelope("reader", "WriteRecord", m)
    raw = ("POST /services/Records HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Content-Type: text/xml; charset=utf-8\r\nSOAPAction: \"%s\"\r\n"
           "SOAPAction: \"%s\"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
           % (WRITE_ACTION, READ_ACTION, len(xml.encode("utf-8")), xml))
    with socket.create_connection(("127.0.0.1", gw.port), timeout=30) as s:
        s.sendall(raw.encode("utf-8"))
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert re.match(rb"HTTP/1\.1 500 ", answer), answer[:200]
    assert b"Client" in answer
    assert stub.find(m) == []


def test_soap_action_entry_without_wsdl(gw, stub):
    """soap_action entries alone turn the check on (/services/RecordsOnly has no WSDL)."""
    m = wsg.marker()
    r = send(gw, "/services/RecordsOnly", envelope("reader", "WriteRecord", m), False,
             READ_ACTION)
    assert_action_refused(r)
    assert stub.find(m) == []


# ---------------------------------------------------------------- operations_only, local names

@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
def test_operations_only(gw, stub, soap12):
    m = wsg.marker()
    r = send(gw, "/services/RecordsOnly", envelope("reader", "ReadRecord", m, soap12), soap12,
             READ_ACTION)
    assert r.status_code == 200, r.content[:500]
    forwarded_as(stub, m, "reader", "/EchoRecordsOnly")
    # alice holds the route's roles, but Echo is not listed.
    m = wsg.marker()
    r = send(gw, "/services/RecordsOnly", envelope("alice", "Echo", m, soap12), soap12)
    wsg.assert_wss_fault(r, "FailedAuthentication", soap12)
    assert stub.find(m) == []
    assert audit_has(gw, "operation {%s}Echo is not listed (operations_only)" % ECHO_NS)


@pytest.mark.parametrize("soap12", SOAPS, ids=SOAP_IDS)
def test_local_name_entry(gw, stub, soap12):
    """"Echo" matches the Body's Echo in any namespace; no WSDL and no soap_action, so the
    default SOAPAction of the harness is not checked."""
    m = wsg.marker()
    r = wsg.post(gw.url("/services/EchoLocal"), wsg.build("alice", message=m, soap12=soap12),
                 soap12)
    wsg.assert_wss_fault(r, "FailedAuthentication", soap12)
    assert stub.find(m) == []
    m = wsg.marker()
    r = wsg.post(gw.url("/services/EchoLocal"), envelope("writer", "Echo", m, soap12), soap12)
    assert r.status_code == 200, r.content[:500]
    forwarded_as(stub, m, "writer", "/EchoLocal")
    m = wsg.marker()
    xml = envelope("alice", "Echo", m, soap12).replace('xmlns:e="%s"' % ECHO_NS,
                                                         'xmlns:e="urn:other"')
    r = wsg.post(gw.url("/services/EchoLocal"), xml, soap12)
    wsg.assert_wss_fault(r, "FailedAuthentication", soap12)
    assert stub.find(m) == []


# ---------------------------------------------------------------- actions in MTOM media types

def mtom(xml, info_action=None, root_action=None):
    """A SOAP 1.2 MTOM message around `xml`: (Content-Type, body), with the action on
    start-info and/or inside the root part's type parameter."""
    b = "mtom89-" + wsg.marker()
    info = "application/soap+xml" + ('; action=\\"%s\\"' % info_action if info_action else "")
    inner = "application/soap+xml" + ('; action=\\"%s\\"' % root_action if root_action else "")
    ctype = ('multipart/related; type="application/xop+xml"; start="<root@t89>"; '
             'start-info="%s"; boundary=%s' % (info, b))
    body = ("--%s\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"%s\"\r\n"
            "Content-ID: <root@t89>\r\n\r\n%s\r\n--%s\r\nContent-Type: application/octet-stream"
            "\r\nContent-ID: <a@t89>\r\n\r\n\x00\x01bin\r\n--%s--\r\n"
            % (b, inner, xml, b, b)).encode("utf-8")
    return ctype, body


def post_mtom(gw, ctype, body):
    wsg.remember_secrets(body)
    return wsg.http_session().post(gw.url("/services/Records"), data=body,
                                   headers={"Content-Type": ctype},
                                   timeout=30 * wsg.TIME_SCALE)


def test_mtom_action_on_start_info_checked(gw, stub):
    """An MTOM message names its SOAP 1.2 action on start-info (and on the root part's type):
    checked like the action parameter of a single-part request."""
    m = wsg.marker()
    r = post_mtom(gw, *mtom(envelope("writer", "WriteRecord", m, True), WRITE_ACTION,
                            WRITE_ACTION))
    assert r.status_code == 200, r.content[:500]
    assert stub.find(m) != []
    m = wsg.marker()
    r = post_mtom(gw, *mtom(envelope("writer", "WriteRecord", m, True), READ_ACTION))
    assert_action_refused(r, True)
    m2 = wsg.marker()
    r = post_mtom(gw, *mtom(envelope("writer", "WriteRecord", m2, True), None, READ_ACTION))
    assert_action_refused(r, True)
    assert stub.find(m) == [] and stub.find(m2) == []


def test_mtom_actions_that_differ_refused(gw, stub):
    """start-info and the root part name different actions: an upstream could read either."""
    m = wsg.marker()
    r = post_mtom(gw, *mtom(envelope("writer", "ReadRecord", m, True), READ_ACTION,
                            WRITE_ACTION))
    f = wsg.assert_soap_fault(r, 400, "Client", "Sender", soap12=True)
    assert stub.find(m) == [], f


def test_soap12_soapaction_header_must_agree_with_action_parameter(gw, stub):
    """Some stacks dispatch SOAP 1.2 on a SOAPAction header too: it may not name another
    action than the Content-Type's."""
    m = wsg.marker()
    xml = envelope("reader", "ReadRecord", m, True).encode("utf-8")
    wsg.remember_secrets(xml)
    r = wsg.http_session().post(
        gw.url("/services/Records"), data=xml, timeout=30 * wsg.TIME_SCALE,
        headers={"Content-Type": 'application/soap+xml; charset=utf-8; action="%s"' % READ_ACTION,
                 "SOAPAction": '"%s"' % WRITE_ACTION})
    assert_action_refused(r, True)
    assert stub.find(m) == []
    m = wsg.marker()
    xml = envelope("reader", "ReadRecord", m, True).encode("utf-8")
    r = wsg.http_session().post(
        gw.url("/services/Records"), data=xml, timeout=30 * wsg.TIME_SCALE,
        headers={"Content-Type": 'application/soap+xml; charset=utf-8; action="%s"' % READ_ACTION,
                 "SOAPAction": '"%s"' % READ_ACTION})
    assert r.status_code == 200, r.content[:300]


@pytest.mark.parametrize("name,ok", [
    ("{%s}ReadRecords" % ECHO_NS, False),   # misspelt
    ("{urn:other}ReadRecord", False),       # another namespace
    ("Readrecord", False),                  # case
    ("{%s}ReadRecord" % ECHO_NS, True),
    ("WriteRecord", True),
])
def test_check_config_operation_must_be_in_the_wsdl(configured, name, ok):
    """With a local WSDL, an operations entry naming no operation of it is a --check-config
    error: a typo would leave that operation to the route's roles."""
    route = wsg.route_config("r", "/services/R", "http://127.0.0.1:1/E",
                             extra=' wsdl = "%s"; operations = ( { name = "%s";'
                                   ' roles = ( "records-write" ); } );' % (RECORDS_WSDL, name))
    text = wsg.gateway_config(configured.port, configured.db, configured.stub.port,
                              configured.down_port, extra_routes=[route])
    path = os.path.join(configured.dir, "gw89-ops-check.conf")
    with open(path, "w") as f:
        f.write(text)
    r = configured.cli("--check-config", config=path)
    if ok:
        assert r.returncode == 0, r.err
    else:
        assert r.returncode == 1, r.err
        assert re.search(r"routes\.\[\d+\]\.operations\.\[0\]\.name: .* is no operation of the "
                         r"route's wsdl", r.err), r.err
