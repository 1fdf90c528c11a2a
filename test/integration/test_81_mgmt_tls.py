"""The management listener over HTTPS (management.tls), with a certificate made at test time."""

import os

import pytest
import requests

import mgmt_util as mu
import wsg
from test_55_tls_basic import make_pki

BOSS = ("tls-boss", "tls-boss-Pw-41c2")


@pytest.fixture(scope="module")
def tls_mg(mariadb, stub, configured):
    pki = make_pki(os.path.join(wsg.WORK, "mgmt-pki"))
    gw = mu.MgmtGateway("mgmt-tls", mariadb, stub, "wssgate_mgmt_tls",
                        mgmt={"tls": '{ cert = "%s.crt"; key = "%s.key"; }' % (pki["server"],
                                                                             pki["server"])})
    mu.setup_database(mariadb, gw)
    gw.start()
    yield gw, pki
    problems = mu.stop_checked(gw)
    assert problems == [], problems


def test_management_over_https_verified_against_the_ca(tls_mg):
    gw, pki = tls_mg
    wsg.SENT_SECRETS.add(BOSS[1])
    base = "https://127.0.0.1:%d/management" % gw.mgmt_port
    r = requests.get(base + "/login", auth=BOSS, verify=pki["ca"] + ".crt", timeout=60)
    assert r.status_code == 200, (r.status_code, r.content)
    token = r.json()["AccessToken"]
    r = requests.get(base + "/users", headers={"Authorization": "Bearer " + token},
                     verify=pki["ca"] + ".crt", timeout=60)
    assert r.status_code == 200 and r.json()["count"] == 1, r.content


def test_management_https_refuses_plain_http_and_unknown_ca(tls_mg):
    gw, pki = tls_mg
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("http://127.0.0.1:%d/management" % gw.mgmt_port, timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get("https://127.0.0.1:%d/management" % gw.mgmt_port,
                     verify=pki["other-ca"] + ".crt", timeout=10)
