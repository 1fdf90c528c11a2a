"""Access and audit logs: one access line per request with the fixed fields, one audit line
per authentication failure with a precise reason, and never a password, digest or nonce."""

import re
import time

import pytest

import wsg

ACCESS_RE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) access rid=(?P<rid>[0-9a-f]+) "
    r"client=(?P<client>\S+) route=(?P<route>\S+) user=(?P<user>\S+) status=(?P<status>\d{3}) "
    r"fault=(?P<fault>\S+) latency_ms=(?P<latency>\d+(?:\.\d+)?)$")
AUDIT_RE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) audit rid=(?P<rid>[0-9a-f]+) "
    r"client=(?P<client>\S+) route=(?P<route>\S+) user=(?P<user>\S+) "
    r"event=auth_failure reason=\"(?P<reason>[^\"]+)\"$")


def read_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def wait_lines(path, pred, timeout=5.0):
    deadline = time.monotonic() + timeout * wsg.TIME_SCALE
    while True:
        lines = read_lines(path)
        if pred(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


@pytest.fixture(scope="module")
def traffic(gateway):
    """A known set of requests, sent once for this module."""
    def go(path, body, **kw):
        return wsg.post(gateway.url(path), body, **kw)
    sent = {
        "ok": go("/services/Echo", wsg.build("alice")),
        "wrong": go("/services/Echo", wsg.build("alice", "wrong-Pw-log-1")),
        "unknown": go("/services/Echo", wsg.build("mallory-log", "mallory-Pw-9")),
        "norole": go("/services/Echo", wsg.build("bob")),
        "notfound": go("/nowhere", wsg.build("alice")),
    }
    # The lines reach the files from the log writer thread, a moment after the answers.
    wsg.settled_text(gateway.access_log)
    wsg.settled_text(gateway.audit_log)
    return sent


def access(gateway, n_min):
    return [l for l in wait_lines(gateway.access_log,
                                  lambda ls: sum(" access " in l for l in ls) >= n_min)
            if " access " in l]


def test_access_lines_have_fixed_fields(gateway, traffic):
    lines = access(gateway, len(traffic))
    assert lines, "no access lines in %s" % gateway.access_log
    bad = [l for l in lines if not ACCESS_RE.match(l)]
    assert bad == [], bad[:5]


def test_access_line_for_success_failure_and_404(gateway, traffic):
    recs = [ACCESS_RE.match(l).groupdict() for l in access(gateway, len(traffic))
            if ACCESS_RE.match(l)]

    def has(**want):
        return any(all(r[k] == v for k, v in want.items()) for r in recs)
    assert has(route="echo", user="alice", status="200", fault="-", client="127.0.0.1")
    assert has(route="echo", status="500", fault="wsse:FailedAuthentication")
    assert has(route="-", user="-", status="404")
    assert all(float(r["latency"]) >= 0 for r in recs)


def test_audit_lines_for_failures(gateway, traffic):
    lines = wait_lines(gateway.audit_log,
                       lambda ls: sum("event=auth_failure" in l for l in ls) >= 3)
    audits = [l for l in lines if "event=auth_failure" in l]
    bad = [l for l in audits if not AUDIT_RE.match(l)]
    assert bad == [], bad[:5]
    recs = [AUDIT_RE.match(l).groupdict() for l in audits]
    by_user = {}
    for r in recs:
        by_user.setdefault(r["user"], []).append(r)
    for user in ("alice", "mallory-log", "bob"):
        assert user in by_user, "no audit line for %s: %s" % (user, audits)
    reasons = {by_user[u][-1]["reason"] for u in ("alice", "mallory-log", "bob")}
    assert len(reasons) == 3, "audit reasons are not precise: %s" % reasons
    access_rids = {ACCESS_RE.match(l).group("rid") for l in access(gateway, len(traffic))
                   if ACCESS_RE.match(l)}
    for r in recs:
        assert r["rid"] in access_rids, "audit rid %s has no access line" % r["rid"]


def test_logs_hold_no_secrets(gateway, traffic):
    texts = {p: "\n".join(read_lines(p)) for p in
             (gateway.access_log, gateway.audit_log, gateway.proc.err_path)}
    secrets = {s for s in wsg.SENT_SECRETS if len(s) >= 6}
    assert len(secrets) > 10, "the harness recorded too few secrets to check"
    for path, text in texts.items():
        leaked = sorted(s for s in secrets if s in text)
        assert leaked == [], "%s contains secrets: %s" % (path, leaked[:5])
