"""Data-plane failures and edge behaviour: identical FailedAuthentication bodies, password
type and Timestamp policy, freshness, replay, hostile XML, upstream errors, HTTP errors."""

import concurrent.futures
import time

import pytest

import wsg

SOAP = [False, True]
SOAP_IDS = ["soap11", "soap12"]
ALICE = wsg.USERS["alice"][0]


def send(gw, path, body, soap12=False, **kw):
    return wsg.post(gw.url(path), body, soap12=soap12, **kw)


# ---------------------------------------------------------------- authentication failures

@pytest.mark.parametrize("use_digest", [True, False], ids=["digest", "text"])
@pytest.mark.parametrize("soap12", SOAP, ids=SOAP_IDS)
def test_failed_authentication_is_identical(gateway, stub, soap12, use_digest):
    m = wsg.marker()
    kw = dict(soap12=soap12, use_digest=use_digest, message=m)
    answers = {
        "wrong-password": send(gateway, "/services/Echo",
                               wsg.build("alice", "wrong-Pw-1234", **kw), soap12),
        "unknown-user": send(gateway, "/services/Echo",
                             wsg.build("mallory", "mallory-Pw-4321", **kw), soap12),
        "no-role": send(gateway, "/services/Echo", wsg.build("bob", **kw), soap12),
    }
    for name, r in answers.items():
        f = wsg.assert_wss_fault(r, "FailedAuthentication", soap12)
        assert f.reason, name
    bodies = {name: r.content for name, r in answers.items()}
    assert len(set(bodies.values())) == 1, bodies
    assert len({r.status_code for r in answers.values()}) == 1
    assert len({r.headers.get("Content-Type") for r in answers.values()}) == 1
    assert stub.find(m) == []


def test_text_password_on_digest_only_route(gateway, stub):
    m = wsg.marker()
    r = send(gateway, "/services/DigestOnly", wsg.build("alice", use_digest=False, message=m))
    wsg.assert_wss_fault(r, "FailedAuthentication")
    r = send(gateway, "/services/DigestOnly", wsg.build("alice", use_digest=True, message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m


def test_no_digest_user_only_text(gateway, stub):
    m = wsg.marker()
    r = send(gateway, "/services/Echo", wsg.build("carol", use_digest=True, message=m))
    wsg.assert_wss_fault(r, "FailedAuthentication")
    r = send(gateway, "/services/Echo", wsg.build("carol", use_digest=False, message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m
    assert len(stub.find(m)) == 1


@pytest.mark.parametrize("soap12", SOAP, ids=SOAP_IDS)
def test_timestamp_required(gateway, stub, soap12):
    m = wsg.marker()
    r = send(gateway, "/services/Timestamped",
             wsg.build("alice", soap12=soap12, timestamp=False, message=m), soap12)
    wsg.assert_wss_fault(r, "InvalidSecurity", soap12)
    r = send(gateway, "/services/Timestamped",
             wsg.build("alice", soap12=soap12, timestamp=True, message=m), soap12)
    assert r.status_code == 200 and wsg.echoed(r) == m


@pytest.mark.parametrize("age", [400, -120], ids=["stale", "future"])
def test_created_out_of_window_is_message_expired(gateway, stub, age):
    m = wsg.marker()
    r = send(gateway, "/services/Echo", wsg.build("alice", created=wsg.utc_ago(age), message=m))
    wsg.assert_wss_fault(r, "MessageExpired")
    assert stub.find(m) == []


def test_created_inside_window_accepted(gateway):
    m = wsg.marker()
    r = send(gateway, "/services/Echo", wsg.build("alice", created=wsg.utc_ago(240), message=m))
    assert r.status_code == 200 and wsg.echoed(r) == m


# ---------------------------------------------------------------- replay

@pytest.mark.parametrize("soap12", SOAP, ids=SOAP_IDS)
def test_replayed_digest_request(gateway, stub, soap12):
    m = wsg.marker()
    body = wsg.build("alice", soap12=soap12, message=m)
    first = send(gateway, "/services/Echo", body, soap12)
    assert first.status_code == 200 and wsg.echoed(first) == m
    second = send(gateway, "/services/Echo", body, soap12)
    wsg.assert_wss_fault(second, "InvalidSecurity", soap12)
    assert len(stub.find(m)) == 1


def test_concurrent_copies_of_one_token_pass_once(gateway, stub):
    m = wsg.marker()
    body = wsg.build("alice", message=m)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        answers = list(ex.map(lambda _: send(gateway, "/services/Echo", body), range(8)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(200) == 1, statuses
    for r in answers:
        if r.status_code != 200:
            wsg.assert_wss_fault(r, "InvalidSecurity")
    assert len(stub.find(m)) == 1


def test_concurrent_distinct_requests_all_pass(gateway, stub):
    marks = [wsg.marker() for _ in range(24)]
    users = ["alice", "jörg"]

    def one(i):
        return send(gateway, "/services/Echo",
                    wsg.build(users[i % 2], use_digest=bool(i % 3), message=marks[i]))
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        answers = list(ex.map(one, range(len(marks))))
    for i, r in enumerate(answers):
        assert r.status_code == 200, (i, r.status_code, r.content[:300])
        assert wsg.echoed(r) == marks[i]


# ---------------------------------------------------------------- hostile XML

DOCTYPE = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE soap:Envelope [ <!ENTITY boom "%s"> <!ENTITY ext SYSTEM "file:///etc/passwd"> ]>
"""


def hostile(kind, soap12, m):
    body = wsg.build("alice", soap12=soap12, message=m)
    if kind == "doctype-entity":
        return body.replace('<?xml version="1.0" encoding="utf-8"?>\n', DOCTYPE % m).replace(
            "<e:message>%s</e:message>" % m, "<e:message>&boom;&ext;</e:message>")
    if kind == "processing-instruction":
        return body.replace("<soap:Body>", "<soap:Body><?evil %s?>" % m)
    raise ValueError(kind)


@pytest.mark.parametrize("soap12", SOAP, ids=SOAP_IDS)
@pytest.mark.parametrize("kind", ["doctype-entity", "processing-instruction"])
def test_hostile_xml_rejected_not_forwarded(gateway, stub, kind, soap12):
    m = wsg.marker()
    before = len(stub.requests())
    r = send(gateway, "/services/Echo", hostile(kind, soap12, m), soap12)
    if soap12:
        wsg.assert_soap_fault(r, 400, "Client", "Sender", soap12=True)
    else:
        wsg.assert_soap_fault(r, 500, "Client", "Sender")
    assert b"root:" not in r.content
    assert stub.find(m) == []
    assert len(stub.requests()) == before, "something reached the upstream"


# ---------------------------------------------------------------- upstream errors

@pytest.mark.parametrize("soap12", SOAP, ids=SOAP_IDS)
def test_upstream_down_is_502_fault(gateway, soap12):
    r = send(gateway, "/services/Down", wsg.build("alice", soap12=soap12), soap12)
    wsg.assert_soap_fault(r, 502, "Server", "Receiver", soap12)


@pytest.mark.parametrize("soap12", SOAP, ids=SOAP_IDS)
def test_upstream_timeout_is_504_fault(gateway, soap12):
    start = time.monotonic()
    r = send(gateway, "/services/Slow", wsg.build("alice", soap12=soap12), soap12)
    elapsed = time.monotonic() - start
    wsg.assert_soap_fault(r, 504, "Server", "Receiver", soap12)
    assert elapsed < 1 + 2 * wsg.TIME_SCALE, "504 took %.2fs for a 1 s route timeout" % elapsed


@pytest.mark.parametrize("soap12", SOAP, ids=SOAP_IDS)
def test_upstream_fault_relayed_unchanged(gateway, stub, soap12):
    direct = wsg.post(stub.url("/Fault"), wsg.wsse_request.build_request("x", "y", soap12=soap12),
                      soap12)
    r = send(gateway, "/services/Fault", wsg.build("alice", soap12=soap12), soap12)
    assert r.status_code == direct.status_code == 500
    assert r.headers["Content-Type"] == direct.headers["Content-Type"]
    assert r.content == direct.content


def test_upstream_connections_are_reused(gateway, stub):
    marks = [wsg.marker() for _ in range(10)]
    s = wsg.http_session()
    for m in marks:
        r = send(gateway, "/services/Echo", wsg.build("alice", message=m), session=s)
        assert r.status_code == 200
    conns = {stub.find(m)[0]["conn"] for m in marks}
    assert len(conns) < len(marks), "every forwarded request opened a new upstream connection"


# ---------------------------------------------------------------- HTTP level

def test_body_over_limit_is_413(gateway, stub):
    m = wsg.marker()
    body = wsg.build("alice", message=m + "x" * 70000)
    try:
        r = send(gateway, "/services/Echo", body)
    except wsg.requests.ConnectionError as e:
        pytest.fail("connection dropped instead of a 413 answer: %s" % e)
    assert r.status_code == 413
    assert stub.find(m) == []


def test_get_is_405(gateway, http):
    r = http.get(gateway.url("/services/Echo"), timeout=10)
    assert r.status_code == 405


def test_unknown_path_is_404(gateway, stub):
    m = wsg.marker()
    r = send(gateway, "/nowhere/Echo", wsg.build("alice", message=m))
    assert r.status_code == 404
    assert stub.find(m) == []


def test_client_identity_headers_are_overwritten(gateway, stub):
    m = wsg.marker()
    r = send(gateway, "/services/Echo", wsg.build("alice", message=m),
             headers={"X-WSS-User": "mallory", "X-WSS-Roles": "admin,echo-users"})
    assert r.status_code == 200
    rec = stub.find(m)[0]
    assert wsg.header_values(rec, "X-WSS-User") == ["alice"]
    assert wsg.header_values(rec, "X-WSS-Roles") == ["echo-users"]


def test_hop_by_hop_headers_stay_on_the_client_hop(gateway, stub):
    """RFC 9110 7.6.1: the standard hop-by-hop names and those listed in Connection are not
    forwarded, whatever their case; end-to-end headers are."""
    m = wsg.marker()
    r = send(gateway, "/services/Echo", wsg.build("alice", message=m),
             headers={"Connection": "keep-alive, X-Drop-Me", "keep-alive": "timeout=5",
                      "Proxy-Connection": "keep-alive", "TE": "trailers", "Trailer": "X-T",
                      "Proxy-Authorization": "Basic eDp5", "x-drop-me": "1",
                      "X-Keep-Me": "2", "X-Trailers-Not": "3"})
    assert r.status_code == 200
    rec = stub.find(m)[0]
    for name in ("Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Proxy-Authorization",
                 "X-Drop-Me"):
        assert wsg.header_values(rec, name) == [], name
    assert wsg.header_values(rec, "X-Keep-Me") == ["2"]
    assert wsg.header_values(rec, "X-Trailers-Not") == ["3"]


# ---------------------------------------------------------------- exact matching, envelope

@pytest.mark.parametrize("user", ["Alice", "alice ", " alice"],
                         ids=["case", "trailing-space", "leading-space"])
def test_username_compared_exactly(gateway, stub, user):
    m = wsg.marker()
    r = send(gateway, "/services/Echo", wsg.build(user, ALICE, message=m))
    wsg.assert_wss_fault(r, "FailedAuthentication")
    assert stub.find(m) == []


@pytest.mark.parametrize("use_digest", [True, False], ids=["digest", "text"])
def test_password_not_trimmed(gateway, stub, use_digest):
    m = wsg.marker()
    r = send(gateway, "/services/Echo",
             wsg.build("alice", ALICE + " ", use_digest=use_digest, message=m))
    wsg.assert_wss_fault(r, "FailedAuthentication")
    assert stub.find(m) == []


@pytest.mark.parametrize("soap12", SOAP, ids=SOAP_IDS)
def test_no_security_header_is_invalid_security(gateway, stub, soap12):
    m = wsg.marker()
    ns = wsg.SOAP12_NS if soap12 else wsg.SOAP11_NS
    body = ('<soap:Envelope xmlns:soap="%s"><soap:Body><e:Echo xmlns:e="urn:example:echo">'
            "<e:message>%s</e:message></e:Echo></soap:Body></soap:Envelope>" % (ns, m))
    r = send(gateway, "/services/Echo", body, soap12)
    wsg.assert_wss_fault(r, "InvalidSecurity", soap12)
    assert stub.find(m) == []


def test_unknown_envelope_namespace_is_version_mismatch(gateway, stub):
    m = wsg.marker()
    body = wsg.build("alice", message=m).replace(wsg.SOAP11_NS, "urn:not-a-soap-envelope")
    r = send(gateway, "/services/Echo", body)
    f = wsg.parse_fault(r.content)
    assert f is not None, (r.status_code, r.content[:300])
    assert f.code in ((wsg.SOAP11_NS, "VersionMismatch"), (wsg.SOAP12_NS, "VersionMismatch")), f
    assert r.status_code == 500
    assert stub.find(m) == []
