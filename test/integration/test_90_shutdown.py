"""Last: SIGTERM drains and exits 0, and no sanitizer report appeared in any gateway process
(the daemon's stderr, its logs, and every offline verb run by the suite)."""

import os
import signal

import wsg


def test_sigterm_exits_zero(gateway):
    assert gateway.proc.alive(), "gateway died during the run:\n" + gateway.proc.stderr_text()[-3000:]
    rc = gateway.proc.stop(signal.SIGTERM, timeout=30)
    assert rc == 0, "exit status %s; stderr tail:\n%s" % (rc, gateway.proc.stderr_text()[-3000:])


def test_no_sanitizer_reports(gateway):
    gateway.proc.stop(signal.SIGTERM, timeout=30)
    files = [gateway.proc.err_path, gateway.access_log, gateway.audit_log,
             os.path.join(wsg.WORK, "cli.stderr")]
    reports = []
    for path in files:
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if wsg.SANITIZER_RE.search(line):
                    reports.append("%s:%d: %s" % (os.path.basename(path), n, line.strip()))
    assert reports == [], "\n".join(reports[:20])
