"""A program on a new pseudo-terminal as its controlling terminal, for the tests of hidden
password prompts (test_00_cli.py, test_85_ctl.py)."""

import os
import pty
import select
import signal
import termios
import time

import wsg

# A runner started with these ignored (a non-interactive shell that backgrounds it, `trap ''
# INT`) passes that on through fork and exec; the program must get the terminal's signals.
RESET_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM)


class Pty:
    """argv on a new pseudo-terminal; everything it writes to the terminal (prompts and echo)
    is collected in `seen`."""

    def __init__(self, argv, env, cwd=None):
        self.seen = b""
        pid, fd = pty.fork()
        if pid == 0:
            try:
                for sig in RESET_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                if cwd is not None:
                    os.chdir(cwd)
                os.execve(argv[0], list(argv), env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd

    def expect(self, text, timeout=30):
        deadline = time.monotonic() + timeout * wsg.TIME_SCALE
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, "no %r on the terminal; saw %r" % (text, self.seen)
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                assert data, "terminal closed before %r; saw %r" % (text, self.seen)
                self.seen += data

    def send(self, text):
        os.write(self.fd, text.encode())

    def echo_on(self):
        """The terminal's ECHO flag as the child left it (tcgetattr on the master)."""
        return bool(termios.tcgetattr(self.fd)[3] & termios.ECHO)

    def finish(self, timeout=60):
        """Reads until the child closes the terminal; returns its wait status."""
        deadline = time.monotonic() + timeout * wsg.TIME_SCALE
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.fd], [], [], 0.5)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    break
                self.seen += data
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                break
        else:
            os.kill(self.pid, signal.SIGKILL)
            raise AssertionError("%s did not finish; saw %r" % (self.pid, self.seen))
        if not hasattr(self, "status"):
            _, self.status = os.waitpid(self.pid, 0)
        return self.status

    def close(self):
        os.close(self.fd)
