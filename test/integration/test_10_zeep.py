"""zeep (Debian python3-zeep) through the gateway: PasswordText and PasswordDigest, with and
without wsu:Timestamp, SOAP 1.1 and 1.2, Created with +00:00 and with Z. Each call must be
answered by the upstream, which must see X-WSS-User / X-WSS-Roles and (strip on) no Security."""

import pytest
from lxml import etree

import wsg
import zeep_util

TOKENS = [  # (id, use_digest, zulu_timestamp)
    ("text", False, None),
    ("digest-offset", True, False),
    ("digest-zulu", True, True),
]


def security_headers(body):
    root = etree.fromstring(body.encode("utf-8"))
    return root.xpath("//*[local-name()='Header']/*[local-name()='Security']")


def check_upstream_saw(stub, m, user, roles, path="/Echo", security=False):
    rec = stub.find(m)
    assert len(rec) == 1, "upstream saw %d requests with the marker" % len(rec)
    rec = rec[0]
    assert rec["path"] == path
    assert [wsg.header_text(v) for v in wsg.header_values(rec, "X-WSS-User")] == [user]
    assert [wsg.header_text(v) for v in wsg.header_values(rec, "X-WSS-Roles")] == [roles]
    sec = security_headers(rec["body"])
    if security:
        assert len(sec) == 1, "Security header not forwarded"
        assert etree.QName(sec[0]).namespace == wsg.WSSE_NS
    else:
        assert sec == [], "Security header reached the upstream"
        assert "UsernameToken" not in rec["body"]
    return rec


@pytest.mark.parametrize("timestamp", [False, True], ids=["no-ts", "ts"])
@pytest.mark.parametrize("binding", ["soap11", "soap12"])
@pytest.mark.parametrize("tid,use_digest,zulu", TOKENS, ids=[t[0] for t in TOKENS])
def test_zeep_echo(gateway, stub, tid, use_digest, zulu, binding, timestamp):
    m = wsg.marker()
    client, cap = zeep_util.client("alice", wsg.USERS["alice"][0], use_digest, timestamp, zulu)
    svc = zeep_util.service(client, binding, gateway.url("/services/Echo"))
    assert svc.Echo(message=m) == m
    if use_digest:
        created = etree.fromstring(cap.last_body).xpath(
            "//*[local-name()='UsernameToken']/*[local-name()='Created']")[0].text
        assert created.endswith("Z") if zulu else created.endswith("+00:00")
    check_upstream_saw(stub, m, "alice", "echo-users")


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_zeep_keep_security_header(gateway, stub, binding):
    m = wsg.marker()
    client, _ = zeep_util.client("alice", wsg.USERS["alice"][0], True)
    svc = zeep_util.service(client, binding, gateway.url("/services/EchoKeep"))
    assert svc.Echo(message=m) == m
    rec = check_upstream_saw(stub, m, "alice", "echo-users", path="/EchoKeep", security=True)
    assert "<wsse:Username>alice</wsse:Username>" in rec["body"]


@pytest.mark.parametrize("use_digest", [True, False], ids=["digest", "text"])
@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_zeep_non_ascii_user(gateway, stub, use_digest, binding):
    m = wsg.marker() + " grüße"
    client, _ = zeep_util.client("jörg", wsg.USERS["jörg"][0], use_digest, zulu=True)
    svc = zeep_util.service(client, binding, gateway.url("/services/Echo"))
    assert svc.Echo(message=m) == m
    check_upstream_saw(stub, m, "jörg", "echo-users")


def test_zeep_digest_only_route(gateway, stub):
    m = wsg.marker()
    client, _ = zeep_util.client("alice", wsg.USERS["alice"][0], True, zulu=True)
    svc = zeep_util.service(client, "soap11", gateway.url("/services/DigestOnly"))
    assert svc.Echo(message=m) == m
    check_upstream_saw(stub, m, "alice", "echo-users", path="/EchoDigest")


def test_zeep_timestamped_route(gateway, stub):
    m = wsg.marker()
    client, _ = zeep_util.client("alice", wsg.USERS["alice"][0], True, timestamp=True, zulu=True)
    svc = zeep_util.service(client, "soap12", gateway.url("/services/Timestamped"))
    assert svc.Echo(message=m) == m
    check_upstream_saw(stub, m, "alice", "echo-users", path="/EchoTs")


def test_zeep_request_replayed_is_rejected(gateway, stub):
    m = wsg.marker()
    client, cap = zeep_util.client("alice", wsg.USERS["alice"][0], True, zulu=True)
    svc = zeep_util.service(client, "soap11", gateway.url("/services/Echo"))
    assert svc.Echo(message=m) == m
    r = wsg.http_session().post(gateway.url("/services/Echo"), data=cap.last_body,
                                headers=cap.last_headers, timeout=30)
    wsg.assert_wss_fault(r, "InvalidSecurity")
    assert len(stub.find(m)) == 1, "the replayed request reached the upstream"
