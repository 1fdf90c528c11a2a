"""Issue 12, item 16: access and audit lines are written off the request path. A log that
cannot take them (a FIFO whose reader stalls, a full or slow disk) never stalls requests:
lines wait in per-worker buffers and a bounded queue for the one writer thread, and what does
not fit is dropped and counted (/metrics, a note on stderr) instead. Buffered lines are never
lost on a normal exit.
"""

import fcntl
import os
import re
import select
import signal
import threading
import time

import pytest
import requests

import wsg

F_SETPIPE_SZ = 1031
ACCESS_404_RE = re.compile(r"^\S+ access rid=[0-9a-f]{16} client=127\.0\.0\.1 route=- "
                           r"user=- status=404 fault=\S+ latency_ms=\d+\.\d{3}$")
DROPPED_RE = re.compile(r'^wssgate_log_dropped_lines_total\{log="(access|audit)"\} (\d+)$',
                        re.M)


class LogGateway(wsg.Gateway):
    """The session gateway's config with the management listener on (for /metrics) and its
    own log group (`log` is the group's text, without braces)."""

    def __init__(self, base, name, log):
        super().__init__(base.dir, base.db, base.stub, name=name)
        self.mgmt_port = wsg.free_port()
        self.log = log

    def write_config(self):
        text = wsg.gateway_config(self.port, self.db, self.stub.port, self.down_port)
        for old, new in (
                ('management = { enabled = false; jwt_secret_file = "jwt.key"; };',
                 'management = { enabled = true; address = "127.0.0.1:%d"; '
                 'jwt_secret_file = "jwt.key"; };' % self.mgmt_port),
                ('log = { access_log = "access.log"; audit_log = "audit.log"; flush = 0; };',
                 "log = { %s };" % self.log)):
            assert old in text, "wsg.gateway_config changed: %r not found" % old
            text = text.replace(old, new)
        with open(self.config, "w") as f:
            f.write(text)

    def metrics(self):
        r = requests.get("http://127.0.0.1:%d/metrics" % self.mgmt_port, timeout=10)
        assert r.status_code == 200, r.text
        return r.text


def send_404s(gw, n, per_request_timeout):
    """n GETs of a path no route has (an access line each, no database work), in 4 threads;
    returns (completed, errors, seconds)."""
    done, errors, lock = [0], [], threading.Lock()

    def run(count):
        s = requests.Session()
        for _ in range(count):
            try:
                r = s.get(gw.url("/nowhere-logs"), timeout=per_request_timeout)
                assert r.status_code == 404, r.status_code
                with lock:
                    done[0] += 1
            except Exception as e:  # a stalled worker: record it, go on
                with lock:
                    errors.append(repr(e))
                s = requests.Session()
    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(n // 4,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0], errors, time.monotonic() - t0


def read_fifo(fd, until, timeout):
    """Reads the FIFO's text until until(text) or timeout seconds without progress."""
    data = b""
    last = time.monotonic()
    while time.monotonic() - last < timeout:
        if until(data.decode("utf-8", "replace")):
            break
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if chunk:
            data += chunk
            last = time.monotonic()
    return data.decode("utf-8", "replace")


def test_sec_logs_off_hot_path(configured):
    """The access log is a FIFO whose reader never reads (pipe shrunk to 4 KiB, ~35 lines):
    200 requests must still all complete promptly; then the reader drains and every line
    either arrives intact or is counted as dropped in /metrics (with a note on stderr)."""
    fifo = os.path.join(configured.dir, "seclogs-access.fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo, 0o600)
    # Opened before the gateway, which opens its end for writing at start.
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    gw = LogGateway(configured, "seclogs", 'access_log = "%s"; audit_log = "seclogs-audit.log";'
                    % os.path.basename(fifo))
    gw.write_config()
    try:
        fcntl.fcntl(rfd, F_SETPIPE_SZ, 4096)
        gw.start()
        n = 200
        done, errors, took = send_404s(gw, n, per_request_timeout=3 * wsg.TIME_SCALE)
        assert done == n and not errors, (
            "%d of %d requests completed in %.1f s with the log's reader stalled; "
            "first errors: %s" % (done, n, took, errors[:3]))
        assert took < 20 * wsg.TIME_SCALE, "200 requests took %.1f s" % took
        assert gw.proc.alive()

        def complete(text, dropped):
            return sum(bool(ACCESS_404_RE.match(l)) for l in text.splitlines()) + dropped >= n
        dropped = sum(int(v) for k, v in DROPPED_RE.findall(gw.metrics()) if k == "access")
        text = read_fifo(rfd, lambda t: complete(t, dropped), 10 * wsg.TIME_SCALE)
        # Lines dropped while the reader stalled are counted once the writer sees it.
        dropped = sum(int(v) for k, v in DROPPED_RE.findall(gw.metrics()) if k == "access")
        text += read_fifo(rfd, lambda t: False, 1.5)
        lines = text.splitlines()
        got = [l for l in lines if ACCESS_404_RE.match(l)]
        torn = [l for l in lines if " access " in l and not re.match(
            r"^\S+ access rid=[0-9a-f]{16} client=\S+ route=\S+ user=\S+ status=\d+ "
            r"fault=\S+ latency_ms=\d+\.\d{3}$", l)]
        assert torn == [], "torn or mixed lines: %s" % torn[:3]
        assert got, "no line arrived once the reader drained the FIFO"
        assert len(got) <= n
        assert len(got) + dropped >= n, (
            "%d lines arrived and %d were counted as dropped, of %d" % (len(got), dropped, n))
        if dropped:
            assert re.search(r"warning log: \d+ access and \d+ audit lines dropped",
                             gw.proc.stderr_text()), gw.proc.stderr_text()[-2000:]
    finally:
        # Reading on while it stops: nothing is left waiting on a stalled reader.
        stopper = threading.Thread(target=gw.stop)
        stopper.start()
        read_fifo(rfd, lambda t: not stopper.is_alive(), 5)
        stopper.join()
        os.close(rfd)
    assert gw.proc.returncode == 0, gw.proc.stderr_text()[-3000:]


def test_sec_logs_flushed_on_exit(configured):
    """With a flush interval of an hour and a large buffer, the access lines of a few requests
    and the audit line of a failed login are in the files after SIGTERM."""
    gw = LogGateway(configured, "seclogs-exit",
                    'access_log = "seclogs-exit-access.log"; '
                    'audit_log = "seclogs-exit-audit.log"; buffer = 1048576; flush = 3600;')
    for path in (gw.access_log, gw.audit_log):
        if os.path.exists(path):
            os.unlink(path)
    gw.write_config()
    gw.start()
    try:
        for _ in range(20):
            assert wsg.post(gw.url("/nowhere-exit"), wsg.build("alice")).status_code == 404
        r = wsg.post(gw.url("/services/Echo"), wsg.build("alice", "wrong-Pw-exit-1"))
        assert r.status_code == 500
        # Audit lines are not held for the interval: they reach the file at once.
        deadline = time.monotonic() + 5 * wsg.TIME_SCALE
        while True:
            audit = open(gw.audit_log, encoding="utf-8").read() \
                if os.path.exists(gw.audit_log) else ""
            if "event=auth_failure" in audit or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert "event=auth_failure" in audit, "the audit line waited for the flush interval"
    finally:
        rc = gw.stop()
    assert rc == 0, gw.proc.stderr_text()[-3000:]
    lines = open(gw.access_log, encoding="utf-8").read().splitlines()
    assert sum(" status=404 " in l for l in lines) == 20, lines
    assert sum(" status=500 " in l for l in lines) == 1, lines


@pytest.mark.parametrize("key, value", [("buffer", "100"), ("buffer", "1073741824"),
                                        ("flush", "-1"), ("flush", "86401"),
                                        ("backlog", "1000")])
def test_sec_logs_config_range(configured, key, value):
    gw = LogGateway(configured, "seclogs-range",
                    'access_log = "seclogs-range.log"; %s = %s;' % (key, value))
    gw.write_config()
    r = gw.cli("--check-config")
    assert r.returncode == 1
    assert re.search(r"seclogs-range\.conf:\d+.*log\.%s" % key, r.out + r.err), r.out + r.err


def test_sec_logs_stderr_mode(configured):
    """Without log paths both logs go to stderr (the foreground default), through the same
    buffer and writer: after SIGTERM every access and audit line is there, byte-for-byte in
    the fixed format, none torn by the operational messages around them."""
    gw = LogGateway(configured, "seclogs-stderr", "ring_size = 10;")
    gw.write_config()
    gw.start()
    try:
        for _ in range(30):
            assert wsg.post(gw.url("/nowhere-stderr"), wsg.build("alice")).status_code == 404
        r = wsg.post(gw.url("/services/Echo"), wsg.build("alice", "wrong-Pw-stderr-1"))
        assert r.status_code == 500
    finally:
        rc = gw.stop()
    assert rc == 0, gw.proc.stderr_text()[-3000:]
    lines = gw.proc.stderr_text().splitlines()
    run = lines[max(i for i, l in enumerate(lines) if " info listening on " in l):]
    access = [l for l in run if " access " in l]
    assert sum(bool(ACCESS_404_RE.match(l)) for l in access) == 30, access
    audit = [l for l in run if " audit " in l]
    assert len(audit) == 1 and re.match(
        r'^\S+Z audit rid=[0-9a-f]{16} client=127\.0\.0\.1 route=echo user=alice '
        r'event=auth_failure reason="[^"]+"$', audit[0]), audit
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ ", l) for l in run), run
