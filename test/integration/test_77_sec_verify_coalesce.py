"""Single-flight argon2 verification (issue 12, follow-up to item 12) against the real gateway.

Legitimate traffic from one address (an app server, a reverse proxy, a load test) whose users'
credentials are not cached yet sends many concurrent PasswordText requests for the same few
users with the same right password. An identical verification (same address, user, stored hash
and password) already queued or running is joined instead of queued again, so such a burst
passes within the default security.verify_queue (max_per_client = 8) and runs argon2 about once
per user; a flood of different wrong passwords from one address stays bounded as before.
"""

import concurrent.futures
import http.client
import re

import pytest

import mgmt_util as mu
import wsg

USERS = {"alice77": "Coalesce-Pw-0077a", "bob77": "Coalesce-Pw-0077b",
         "carol77": "Coalesce-Pw-0077c"}
wsg.SENT_SECRETS.update(USERS.values())
BURST = 60
FLOOD = 300
CLIENT_MAX = 50          # security.client_limit.max_failures set below
PER_CLIENT = 8           # the shipped security.verify_queue.max_per_client
SECURITY = {"client_limit": "{ max_failures = %d; window = 60; duration = 300; }" % CLIENT_MAX}


def post_from(addr, gw, body, timeout=120):
    """One POST of `body` to /services/Echo from local address `addr`: (status, bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=timeout,
                                   source_address=(addr, 0))
    try:
        c.request("POST", "/services/Echo", body=body.encode("utf-8"),
                  headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def metric(gw, name):
    """The value of an unlabelled sample of /metrics (None when absent)."""
    r = gw.http.get("http://127.0.0.1:%d/metrics" % gw.mgmt_port, timeout=60)
    assert r.status_code == 200
    for line in r.text.splitlines():
        m = re.match(r"^(\w+) (\S+)$", line)
        if m and m.group(1) == name:
            return float(m.group(2))
    return None


@pytest.fixture(scope="module")
def gw(mariadb, stub, configured):
    g = mu.MgmtGateway("gw77", mariadb, stub, "wssgate_coalesce77", security=SECURITY)
    mu.setup_database(mariadb, g)
    g.cli_ok("role", "add", "echo-users")
    for name, pw in USERS.items():
        g.cli_ok("user", "add", name, "--role", "echo-users", stdin=pw + "\n")
    g.start()
    yield g
    problems = mu.stop_checked(g)
    assert not problems, problems


def burst(addr, gw, bodies):
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(bodies)) as ex:
        return list(ex.map(lambda b: post_from(addr, gw, b), bodies))


def test_sec_verify_queue_legit_burst(gw):
    """BURST concurrent right-password PasswordText requests from one address for three
    uncached users all pass (none 429 / 503) with the default verify_queue, and argon2 runs
    about once per user, not BURST times."""
    runs0 = metric(gw, "wssgate_password_verifications_total") or 0
    names = sorted(USERS)
    bodies = [wsg.build(names[i % len(names)], USERS[names[i % len(names)]],
                        use_digest=False, message=wsg.marker()) for i in range(BURST)]
    results = burst("127.0.0.77", gw, bodies)
    runs = (metric(gw, "wssgate_password_verifications_total") or 0) - runs0
    statuses = [s for s, _b in results]
    print("burst: statuses %s, %d argon2 runs, %s joined"
          % (sorted(set(statuses)), runs, metric(gw, "wssgate_password_coalesced_total")))
    bad = [(s, b[:200]) for s, b in results if s != 200]
    assert not bad, "%d of %d refused, e.g. %s" % (len(bad), BURST, bad[:2])
    assert len(USERS) <= runs <= 2 * len(USERS), runs


def test_sec_verify_queue_wrong_flood_still_bounded(gw):
    """FLOOD concurrent PasswordText requests with different wrong passwords from one address
    cannot be joined: argon2 runs at most client_limit.max_failures + max_per_client times and
    every answer is FailedAuthentication or 429, as in test_74."""
    runs0 = metric(gw, "wssgate_password_verifications_total") or 0
    bodies = [wsg.build("alice77", "wrong-%d" % i, use_digest=False) for i in range(FLOOD)]
    results = burst("127.0.0.78", gw, bodies)
    runs = (metric(gw, "wssgate_password_verifications_total") or 0) - runs0
    statuses = sorted({s for s, _b in results})
    failed = [b for s, b in results if s == 500]
    print("flood: statuses %s, %d argon2 runs, %d failed" % (statuses, runs, len(failed)))
    assert set(statuses) <= {429, 500, 503}, statuses
    assert 429 in statuses
    assert all(b"FailedAuthentication" in b for b in failed)
    assert len(failed) <= CLIENT_MAX + PER_CLIENT, "%d of %d ran argon2" % (len(failed), FLOOD)
    assert runs <= len(failed) + 2 * PER_CLIENT, runs


def test_sec_verify_queue_same_wrong_flood(gw):
    """FLOOD concurrent requests with the SAME wrong password from one address: joined
    verifications run argon2 only a few times, each request still counts its own failure (the
    address gets locked: 429 appears) and no answer is 200."""
    runs0 = metric(gw, "wssgate_password_verifications_total") or 0
    bodies = [wsg.build("bob77", "same-wrong", use_digest=False) for _i in range(FLOOD)]
    results = burst("127.0.0.79", gw, bodies)
    runs = (metric(gw, "wssgate_password_verifications_total") or 0) - runs0
    statuses = sorted({s for s, _b in results})
    print("same-wrong flood: statuses %s, %d argon2 runs" % (statuses, runs))
    assert set(statuses) <= {429, 500}, statuses
    assert 429 in statuses
    assert all(b"FailedAuthentication" in b for s, b in results if s == 500)
    assert runs <= CLIENT_MAX + PER_CLIENT, runs
