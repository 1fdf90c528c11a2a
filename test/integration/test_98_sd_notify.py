"""Issue 15: Type=notify. With NOTIFY_SOCKET set, the gateway tells the service manager
READY=1 only once its listener accepts, RELOADING=1 (with MONOTONIC_USEC) then READY=1
around a SIGHUP (also a refused one), and STOPPING=1 when SIGTERM starts the drain; a
gateway that cannot bind never says READY=1. The test owns the datagram socket, as systemd
would. The running gateway also maps no memory writable and executable at once, which the
unit's MemoryDenyWriteExecute=yes would refuse.
"""

import os
import shutil
import signal
import socket
import tempfile
import time

import pytest

import wsg


class NotifySocket:
    """The AF_UNIX datagram socket a Type=notify service writes its state to."""

    def __init__(self):
        # sun_path holds 108 bytes: the work dir may be deeper than that.
        self.dir = tempfile.mkdtemp(prefix="wsg-notify-")
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def receive(self, timeout=20):
        """The next message as {field: value}, or None when none came in time."""
        self.sock.settimeout(timeout * wsg.TIME_SCALE)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        return dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def notify():
    n = NotifySocket()
    yield n
    n.close()


def start(configured, stub, notify, name, port=None):
    gw = wsg.Gateway(configured.dir, configured.db, stub, name=name)
    if port is not None:
        gw.port = port
    gw.write_config()
    gw.proc = wsg.Proc(gw.name, [wsg.WSSGATE, "--config", gw.config], gw.dir,
                       env={"NOTIFY_SOCKET": notify.path})
    return gw


def test_ready_after_listener_reload_and_stopping(configured, stub, notify):
    gw = start(configured, stub, notify, "gw98-notify")
    try:
        msg = notify.receive(60)
        assert msg is not None, gw.proc.stderr_text()[-2000:]
        # The first word is READY=1, and the listener takes connections at that moment.
        assert msg.get("READY") == "1", msg
        assert wsg.port_open(gw.port), "READY=1 before the listener accepts"
        assert "serving on 1 listener" in msg.get("STATUS", ""), msg
        # The unit's MemoryDenyWriteExecute=yes: no mapping is writable and executable.
        with open("/proc/%d/maps" % gw.proc.popen.pid) as f:
            wx = [line for line in f if "w" in line.split()[1] and "x" in line.split()[1]]
        assert wx == [], wx

        gw.proc.popen.send_signal(signal.SIGHUP)
        msg = notify.receive()
        assert msg is not None and msg.get("RELOADING") == "1", msg
        # CLOCK_MONOTONIC, as systemd compares it with the time it sent the signal.
        now_us = time.monotonic() * 1e6
        assert abs(int(msg["MONOTONIC_USEC"]) - now_us) < 60e6 * wsg.TIME_SCALE, msg
        msg = notify.receive()
        assert msg is not None and msg.get("READY") == "1", msg
        assert "reloaded" in msg.get("STATUS", ""), msg

        # A refused reload: the gateway keeps serving and says so.
        good = open(gw.config).read()
        with open(gw.config, "w") as f:
            f.write(good + "\nno_such_key = 1;\n")
        gw.proc.popen.send_signal(signal.SIGHUP)
        msg = notify.receive()
        assert msg is not None and msg.get("RELOADING") == "1", msg
        msg = notify.receive()
        assert msg is not None and msg.get("READY") == "1", msg
        assert "refused" in msg.get("STATUS", ""), msg
        assert wsg.port_open(gw.port)
        with open(gw.config, "w") as f:
            f.write(good)

        gw.proc.popen.send_signal(signal.SIGTERM)
        msg = notify.receive()
        assert msg is not None and msg.get("STOPPING") == "1", msg
        gw.proc.popen.wait(30 * wsg.TIME_SCALE)
        assert gw.proc.stop() == 0, gw.proc.stderr_text()[-2000:]
        assert notify.receive(0.5) is None
    finally:
        gw.stop()


def test_no_ready_when_the_listener_cannot_bind(configured, stub, notify):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        gw = start(configured, stub, notify, "gw98-taken", port=taken.getsockname()[1])
        try:
            gw.proc.popen.wait(60 * wsg.TIME_SCALE)
            assert gw.proc.stop() == 1
            assert "port %d: Address already in use" % gw.port in gw.proc.stderr_text()
            assert notify.receive(0.5) is None
        finally:
            gw.stop()
