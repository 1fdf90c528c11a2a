"""node-soap (npm `soap`, its WSSecurity) through the gateway. Needs `npm ci` in
test/integration/node (scripts/test runs it); without node_modules these tests fail."""

import pytest

import wsg


def call(gateway, path, soap12=False, **kw):
    m = wsg.marker()
    args = {"wsdl": wsg.WSDL, "endpoint": gateway.url(path), "user": "alice",
            "password": wsg.USERS["alice"][0], "passwordType": "PasswordDigest",
            "hasTimeStamp": True, "hasNonce": True, "soap12": soap12, "message": m}
    args.update(kw)
    return wsg.node_client(args), m


CASES = [  # (id, passwordType, hasTimeStamp, hasNonce, soap12)
    ("digest-ts-soap11", "PasswordDigest", True, True, False),
    ("digest-nots-soap11", "PasswordDigest", False, True, False),
    ("digest-ts-soap12", "PasswordDigest", True, True, True),
    ("text-ts-nonce-soap11", "PasswordText", True, True, False),
    ("text-nononce-soap11", "PasswordText", False, False, False),
    ("text-ts-soap12", "PasswordText", True, False, True),
]


@pytest.mark.parametrize("cid,ptype,ts,nonce,soap12", CASES, ids=[c[0] for c in CASES])
def test_node_soap_echo(gateway, stub, cid, ptype, ts, nonce, soap12):
    res, m = call(gateway, "/services/Echo", soap12=soap12, passwordType=ptype,
                  hasTimeStamp=ts, hasNonce=nonce)
    assert res["ok"], res
    assert res["result"] == {"message": m}
    assert "#" + ptype in res["lastRequest"]
    rec = stub.find(m)
    assert len(rec) == 1
    assert wsg.header_values(rec[0], "X-WSS-User") == ["alice"]
    assert wsg.header_values(rec[0], "X-WSS-Roles") == ["echo-users"]
    assert "UsernameToken" not in rec[0]["body"]


def test_node_soap_wrong_password_gets_fault(gateway):
    res, _ = call(gateway, "/services/Echo", password="not-the-password-9")
    assert not res["ok"]
    assert res["status"] == 500, res
    assert "FailedAuthentication" in str(res.get("fault")), res


def test_node_soap_request_replayed_is_rejected(gateway, stub):
    res, m = call(gateway, "/services/Echo")
    assert res["ok"], res
    r = wsg.post(gateway.url("/services/Echo"), res["lastRequest"])
    wsg.assert_wss_fault(r, "InvalidSecurity")
    assert len(stub.find(m)) == 1
