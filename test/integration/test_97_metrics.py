"""Metrics and health (issue 7, item 9): GET /metrics on the management listener in the
Prometheus text exposition format 0.0.4, without a token, every line checked against the
format's rules; the values move as expected after valid requests, failures, replays, lockouts,
upstream errors and database trouble. GET /health answers 200 only while the database answers:
a MariaDB of its own is killed (503) and started again (200).
"""

import math
import os
import re
import signal
import time

import pytest

import mgmt_util as mu
import wsg

MAX_FAILURES = 2
SECURITY = {"lockout": "{ max_failures = %d; window = 60; duration = 60; }" % MAX_FAILURES}

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]Inf|NaN)"
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (%s)(?: -?[0-9]+)?$"
                       % (NAME, LABEL, LABEL, VALUE))
HELP_RE = re.compile(r"^# HELP (%s) (?:[^\\\n]|\\[\\n])*$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
LABEL_PAIR_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse(text):
    """{(name, frozenset(labels)): value}, after checking every line and family rule."""
    assert text.endswith("\n"), "the last line must end with a line feed"
    types, helps, samples, done_families = {}, set(), {}, set()
    current = None
    for line in text[:-1].split("\n"):
        assert line, "empty line"
        if line.startswith("#"):
            m = HELP_RE.match(line) or TYPE_RE.match(line)
            assert m, "bad comment line: %r" % line
            name = m.group(1)
            assert name not in done_families, "family %s split: %r" % (name, line)
            if line.startswith("# HELP"):
                assert name not in helps, "second HELP for " + name
                helps.add(name)
            else:
                assert name not in types, "second TYPE for " + name
                assert not any(k[0] == name or k[0].startswith(name + "_") for k in samples), \
                    "TYPE after samples of " + name
                types[name] = m.group(2)
            if current is not None and current != name:
                done_families.add(current)
            current = name
            continue
        m = SAMPLE_RE.match(line)
        assert m, "bad sample line: %r" % line
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                family = name[:-len(suffix)]
        assert family in types, "sample without TYPE: %r" % line
        assert family == current, "sample of %s outside its family: %r" % (family, line)
        pairs = LABEL_PAIR_RE.findall(labels)
        names = [k for k, _ in pairs]
        assert len(names) == len(set(names)), "duplicate label: %r" % line
        key = (name, frozenset((k, unescape(v)) for k, v in pairs))
        assert key not in samples, "duplicate series: %r" % line
        samples[key] = float(value)
    check_histograms(types, samples)
    return samples


def check_histograms(types, samples):
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == family + "_bucket":
                rest = frozenset(kv for kv in labels if kv[0] != "le")
                le = dict(labels)["le"]
                series.setdefault(rest, []).append((math.inf if le == "+Inf" else float(le), v))
        assert series, "histogram %s has no buckets" % family
        for rest, buckets in series.items():
            buckets.sort()
            assert buckets[-1][0] == math.inf, "no +Inf bucket in " + family
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), "buckets of %s not cumulative" % family
            assert samples[(family + "_count", rest)] == counts[-1]
            assert (family + "_sum", rest) in samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def env(workdir, stub):
    dbdir = os.path.join(workdir, "db97")
    os.makedirs(dbdir, mode=0o700, exist_ok=True)
    db = wsg.MariaDB(dbdir)
    gw = None
    try:
        db.start()
        gw = mu.MgmtGateway("gw97", db, stub, "wssgate", cache_ttl=60, security=SECURITY,
                            config_kw={"userstore": {"query_timeout": "2",
                                                     "connect_timeout": "2"}})
        gw.write_config()
        wsg.setup_database(db, gw)
        gw.start()
        yield gw
        problems = mu.stop_checked(gw)
        assert not problems, problems
    finally:
        if gw is not None and gw.proc.alive():
            gw.stop()
        db.stop()


def scrape(gw, token=None):
    headers = {"Authorization": "Bearer " + token} if token else None
    r = gw.http.get("http://127.0.0.1:%d/metrics" % gw.mgmt_port, headers=headers, timeout=60)
    assert r.status_code == 200, (r.status_code, r.content[:300])
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(r.text)


def health(gw):
    return gw.http.get("http://127.0.0.1:%d/health" % gw.mgmt_port, timeout=60)


def send(gw, user, password=None, path="/services/Echo", xml=None):
    xml = xml or wsg.build(user, password, message=wsg.marker())
    return wsg.post(gw.url(path), xml)


def test_format_and_families(env):
    s = scrape(env)
    names = {k[0] for k in s}
    for want in ("wssgate_requests_total", "wssgate_auth_duration_seconds_bucket",
                 "wssgate_credential_cache_hits_total", "wssgate_credential_cache_misses_total",
                 "wssgate_replay_cache_entries", "wssgate_replay_refused_total",
                 "wssgate_replay_store_conflicts_total",
                 "wssgate_lockouts_total", "wssgate_lockout_locked", "wssgate_db_connections",
                 "wssgate_db_queued_queries", "wssgate_db_errors_total",
                 "wssgate_upstream_duration_seconds_bucket", "wssgate_upstream_errors_total"):
        assert want in names, want
    # Every route of the config has its series, and unrouted requests have "-".
    assert ("wssgate_requests_total", frozenset({("route", "echo"), ("code", "2xx")})) in s
    assert ("wssgate_requests_total", frozenset({("route", "-"), ("code", "4xx")})) in s


def test_no_token_needed_and_get_only(env):
    r = env.http.post("http://127.0.0.1:%d/metrics" % env.mgmt_port, data=b"x", timeout=60)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    # The rest of the management API still wants a token.
    assert env.request("GET", "/users").status_code == 401


def test_valid_request_moves_counters(env):
    before = scrape(env)
    r = send(env, "alice")
    assert r.status_code == 200
    r = send(env, "alice")
    assert r.status_code == 200
    after = scrape(env)
    d = lambda name, **kw: value(after, name, **kw) - value(before, name, **kw)
    assert d("wssgate_requests_total", route="echo", code="2xx") == 2
    assert d("wssgate_auth_duration_seconds_count", result="ok") == 2
    assert d("wssgate_upstream_duration_seconds_count", result="ok") == 2
    # The first look-up may miss (or was cached by an earlier test); the second hits.
    assert d("wssgate_credential_cache_hits_total") + d("wssgate_credential_cache_misses_total") == 2
    assert d("wssgate_credential_cache_hits_total") >= 1
    assert value(after, "wssgate_replay_cache_entries") >= 2
    assert value(after, "wssgate_db_queries_total") >= 1


def test_failures_and_faults(env):
    before = scrape(env)
    r = send(env, "alice", "wrong-Pw-0097")
    wsg.assert_wss_fault(r, "FailedAuthentication")
    r = wsg.post(env.url("/services/Nowhere"), wsg.build("alice", message="x"))
    assert r.status_code == 404
    r = send(env, "alice", path="/services/Down")
    assert r.status_code == 502
    after = scrape(env)
    d = lambda name, **kw: value(after, name, **kw) - value(before, name, **kw)
    assert d("wssgate_faults_total", route="echo", fault="wsse:FailedAuthentication") == 1
    assert d("wssgate_requests_total", route="echo", code="5xx") == 1
    assert d("wssgate_auth_duration_seconds_count", result="failed") == 1
    assert d("wssgate_requests_total", route="-", code="4xx") == 1
    assert d("wssgate_requests_total", route="down", code="5xx") == 1
    assert d("wssgate_upstream_errors_total", result="error") == 1
    assert d("wssgate_upstream_duration_seconds_count", result="error") == 1


def test_replay_counted(env):
    before = scrape(env)
    xml = wsg.build("alice", message=wsg.marker())
    assert send(env, "alice", xml=xml).status_code == 200
    wsg.assert_wss_fault(send(env, "alice", xml=xml), "InvalidSecurity")
    after = scrape(env)
    d = lambda name, **kw: value(after, name, **kw) - value(before, name, **kw)
    assert d("wssgate_replay_refused_total", reason="replay") == 1
    assert d("wssgate_replay_refused_total", reason="full") == 0
    assert d("wssgate_faults_total", route="echo", fault="wsse:InvalidSecurity") == 1


def test_lockout_counted(env):
    # The kind="user" series tell which names exist: an admin's token shows them (the first
    # login on this store bootstraps the admin), an anonymous scrape does not (issue 12).
    wsg.SENT_SECRETS.add("Metrics-Admin-Pw-97")
    tok = env.login("metrics-admin", "Metrics-Admin-Pw-97")
    assert not [k for k in scrape(env) if ("kind", "user") in k[1]]
    before = scrape(env, tok)
    for _ in range(MAX_FAILURES):
        wsg.assert_wss_fault(send(env, "jörg", "wrong-Pw-0097"), "FailedAuthentication")
    # Locked: even the right password is refused, and counted as refused.
    wsg.assert_wss_fault(send(env, "jörg"), "FailedAuthentication")
    after = scrape(env, tok)
    d = lambda name, **kw: value(after, name, **kw) - value(before, name, **kw)
    assert d("wssgate_lockouts_total", kind="user") == 1
    assert d("wssgate_lockout_failures_total", kind="user") == MAX_FAILURES
    assert d("wssgate_lockout_refused_total", kind="user") >= 1
    assert value(after, "wssgate_lockout_locked", kind="user") >= 1


def test_health_follows_the_database(env):
    r = health(env)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["Content-Type"] == "application/json"
    before = scrape(env)
    env.db.kill()
    try:
        r = health(env)
        assert r.status_code == 503, (r.status_code, r.content)
        assert r.json() == {"status": "unavailable", "reason": "the database cannot be reached"}
        # A never-seen user needs the store: the pool's failure shows in the counters.
        r = send(env, "ghost97", "ghost-Pw-0097")
        wsg.assert_soap_fault(r, 500, "Server", "Receiver")
        after = scrape(env)
        errors = sum(value(after, "wssgate_db_errors_total", kind=k)
                     - value(before, "wssgate_db_errors_total", kind=k)
                     for k in ("error", "timeout", "connect"))
        assert errors >= 1
        assert value(after, "wssgate_auth_duration_seconds_count", result="error") > \
            value(before, "wssgate_auth_duration_seconds_count", result="error")
    finally:
        env.db.run()
    wsg.wait_for("/health 200", lambda: health(env).status_code == 200, 30 * wsg.TIME_SCALE)
    assert health(env).json() == {"status": "ok"}
