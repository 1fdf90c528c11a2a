"""Shared harness for the wssgate integration tests.

Starts real processes on loopback (a private MariaDB, the stub upstream, the gateway) inside
one work directory under $WSG_TOP_BUILDDIR/test-output/integration/, and stops every one of
them however the run ends (fixture teardown, atexit, SIGTERM, and PR_SET_PDEATHSIG so that
children die with a killed pytest). Nothing here touches the system MariaDB or /etc/mysql.
"""

import atexit
import base64
import ctypes
import datetime
import importlib.machinery
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

import requests
from lxml import etree

TOP_SRC = os.path.abspath(os.environ.get("WSG_TOP_SRCDIR")
                          or os.path.join(os.path.dirname(__file__), "..", ".."))
TOP_BUILD = os.path.abspath(os.environ.get("WSG_TOP_BUILDDIR") or TOP_SRC)
WSSGATE = os.path.join(TOP_BUILD, "src", "wssgate")
WORK = os.path.join(TOP_BUILD, "test-output", "integration")
WSDL = os.path.join(TOP_SRC, "test", "data", "echo.wsdl")
STUB = os.path.join(TOP_SRC, "test", "upstream", "stub_upstream.py")
NODE_DIR = os.path.join(TOP_SRC, "test", "integration", "node")


def node_modules(subdir):
    """The node_modules of `npm ci` in <tree>/<subdir> (test/integration/node, test/e2e): the
    source tree's, or those of WSG_NODE_MODULES_FROM (a checkout where scripts/test ran npm ci)
    when the source tree is read-only, as in `make distcheck`. Node finds them via NODE_PATH."""
    return os.path.join(os.environ.get("WSG_NODE_MODULES_FROM") or TOP_SRC, subdir,
                        "node_modules")
PYTHON = "/usr/bin/python3"

# WSG_VALGRIND=1 runs every gateway process under valgrind (see valgrind_argv()); tests scale
# their waits and timeouts by TIME_SCALE (WSG_TIME_SCALE, default 10 under valgrind, else 1).
VALGRIND = os.environ.get("WSG_VALGRIND") == "1"
TIME_SCALE = float(os.environ.get("WSG_TIME_SCALE") or (10 if VALGRIND else 1))
VALGRIND_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "valgrind.supp")
# Each gateway process writes <work dir>/valgrind/<name>.<pid>.log; check_valgrind_logs()
# (called by conftest.py at session end) fails the session on any error or leak reported.
VALGRIND_ERROR_RE = re.compile(r"ERROR SUMMARY: [1-9]")
# libmariadb's non-blocking calls run on their own small stacks, unannounced to valgrind
# (Debian builds it without valgrind client requests). Any stack-pointer move over 64 KiB
# is taken as a switch of stacks; with the 2 MiB default, moves between a worker's stack
# and a connection's context stack were taken as huge frames and poisoned heap blocks
# between them (false reports all over the process). Same as VALGRIND_FLAGS in Makefile.am.
VALGRIND_STACKFRAME = "--max-stackframe=65536"


def valgrind_argv(argv, name):
    """argv of a gateway process, wrapped in valgrind when WSG_VALGRIND=1."""
    if not VALGRIND or argv[0] != WSSGATE:
        return argv
    logdir = os.path.join(WORK, "valgrind")
    os.makedirs(logdir, exist_ok=True)
    return ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect", "--error-exitcode=97",
            "--suppressions=" + os.path.abspath(VALGRIND_SUPP), "--num-callers=30",
            VALGRIND_STACKFRAME,
            "--log-file=" + os.path.join(logdir, "%s.%%p.log" % re.sub(r"[^\w.-]", "_", name))
            ] + list(argv)


def check_valgrind_logs():
    """The valgrind logs that report errors or leaks (empty without WSG_VALGRIND)."""
    logdir = os.path.join(WORK, "valgrind")
    bad = []
    if VALGRIND and os.path.isdir(logdir):
        for entry in sorted(os.listdir(logdir)):
            with open(os.path.join(logdir, entry), encoding="utf-8", errors="replace") as f:
                if VALGRIND_ERROR_RE.search(f.read()):
                    bad.append(os.path.join(logdir, entry))
    return bad

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

# Sanitizer settings for every gateway process (daemon and offline verbs).
ASAN_OPTIONS = ("detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:"
                "check_initialization_order=1:strict_init_order=1:print_summary=1")
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1"
SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer")

# Users created by the harness: name -> (password, roles, extra user-add flags).
USERS = {
    "alice": ("alice-Pw-7fd1c", ["echo-users"], []),
    "bob": ("bob-Pw-21a9e", [], []),
    "carol": ("carol-Pw-93c4b", ["echo-users"], ["--no-digest"]),
    "jörg": ("pässwörd€", ["echo-users"], []),
}

# Every password, digest and nonce a test sends; the log tests check none of them leaks.
SENT_SECRETS = set(p for p, _, _ in USERS.values())


def _load_wsse_request():
    path = os.path.join(TOP_SRC, "tools", "wsse-request")
    loader = importlib.machinery.SourceFileLoader("wsse_request", path)
    spec = importlib.util.spec_from_loader("wsse_request", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


wsse_request = _load_wsse_request()


# ---------------------------------------------------------------- processes

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_started = []


def _child_setup():
    os.setsid()
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port):
    """Free on the IPv4 and the IPv6 wildcard (a listener on "::" takes both)."""
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            with socket.socket(family) as s:
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, port))
        except OSError:
            return False
    return True


def free_port():
    """A port below the kernel's ephemeral range, free on every address: no outgoing
    connection can be given it between this check and the bind of the process it is for
    (a port the kernel picked for us could be, and a wildcard listener then fails)."""
    low = _ephemeral_low()
    for _ in range(500):
        port = secrets.randbelow(max(low - 10000, 1)) + 10000
        if port < low and _bindable(port):
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["ASAN_OPTIONS"] = ASAN_OPTIONS + (":" + os.environ["ASAN_OPTIONS"]
                                          if os.environ.get("ASAN_OPTIONS") else "")
    env["UBSAN_OPTIONS"] = UBSAN_OPTIONS
    env.update(extra or {})
    return env


class Proc:
    """A started child with its stdout/stderr in files of the work dir."""

    def __init__(self, name, argv, cwd, stdout=None, env=None):
        self.name = name
        self.argv = argv
        self.err_path = os.path.join(cwd, name + ".stderr")
        self.out_path = stdout or os.path.join(cwd, name + ".stdout")
        self._err = open(self.err_path, "ab")
        self._out = open(self.out_path, "ab")
        self.popen = subprocess.Popen(valgrind_argv(argv, name), cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._out,
                                      stderr=self._err, env=clean_env(env),
                                      preexec_fn=_child_setup)
        self.returncode = None
        with open(os.path.join(cwd, name + ".pid"), "w") as f:
            f.write("%d\n" % self.popen.pid)
        _started.append(self)

    def alive(self):
        return self.popen.poll() is None

    def stderr_text(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals the process, waits, escalates to SIGKILL; returns its exit status."""
        timeout *= TIME_SCALE
        if self.returncode is not None:
            return self.returncode
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.returncode = self.popen.returncode
        self._err.close()
        self._out.close()
        return self.returncode


def stop_all():
    for p in reversed(_started):
        try:
            p.stop()
        except Exception:  # cleanup must go on for the others
            pass


atexit.register(stop_all)


def _sigterm(signum, frame):
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _sigterm)


def kill_leftovers(workdir):
    """Stops processes a killed earlier run left behind (only ours: pid file + cmdline check)."""
    if not os.path.isdir(workdir):
        return
    for entry in os.listdir(workdir):
        if not entry.endswith(".pid"):
            continue
        try:
            pid = int(open(os.path.join(workdir, entry)).read().split()[0])
            cmdline = open("/proc/%d/cmdline" % pid, "rb").read().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if workdir in cmdline or STUB in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def fresh_workdir():
    kill_leftovers(WORK)
    # The private MariaDB may have its socket under /tmp (see MariaDB.__init__).
    link = os.path.join(WORK, "sockdir")
    if os.path.islink(link):
        shutil.rmtree(os.path.realpath(link), ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK, mode=0o700)
    return WORK


def wait_for(what, pred, timeout, proc=None, interval=0.1):
    timeout *= TIME_SCALE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        if proc is not None and not proc.alive():
            raise RuntimeError("%s exited with %s while starting; stderr:\n%s"
                               % (proc.name, proc.popen.returncode, proc.stderr_text()[-4000:]))
        time.sleep(interval)
    raise RuntimeError("%s not ready after %ss" % (what, timeout))


# ---------------------------------------------------------------- MariaDB

class MariaDB:
    """A private mariadbd: own datadir, socket, port and pid file (DESIGN 5)."""

    def __init__(self, workdir):
        self.dir = workdir
        self.datadir = os.path.join(workdir, "mysql-data")
        sockdir = workdir
        # sun_path holds 108 bytes; a deep build dir gets a short socket dir under /tmp.
        if len(os.path.join(workdir, "mysql.sock")) > 100:
            sockdir = tempfile.mkdtemp(prefix="wsg-sock-")
            os.symlink(sockdir, os.path.join(workdir, "sockdir"))
        self.tmp_sockdir = sockdir if sockdir != workdir else None
        self.socket = os.path.join(sockdir, "mysql.sock")
        self.port = free_port()
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.proc = None

    def start(self):
        self.install()
        self.run()

    def install(self):
        log = os.path.join(self.dir, "mariadb-install.log")
        with open(log, "wb") as f:
            os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
            r = subprocess.run(["mariadb-install-db", "--no-defaults", "--user=" + self.user,
                                "--datadir=" + self.datadir, "--tmpdir=" + os.path.join(self.dir, "tmp"),
                                "--auth-root-authentication-method=socket", "--skip-test-db"],
                               stdout=f, stderr=subprocess.STDOUT, env=clean_env())
        if r.returncode != 0:
            raise RuntimeError("mariadb-install-db failed (%d), see %s" % (r.returncode, log))

    def run(self):
        """Starts mariadbd on the installed datadir (again, after kill())."""
        self.proc = Proc("mariadbd", [
            "mariadbd", "--no-defaults", "--user=" + self.user, "--datadir=" + self.datadir,
            "--tmpdir=" + os.path.join(self.dir, "tmp"), "--socket=" + self.socket, "--port=%d" % self.port, "--bind-address=127.0.0.1",
            "--skip-log-bin", "--pid-file=" + os.path.join(self.dir, "mysql.pid"),
            "--log-error=" + os.path.join(self.dir, "mariadb.err"),
            "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
            "--max-connections=200"], self.dir)
        wait_for("mariadbd", self.ping, 60, self.proc, 0.3)

    def ping(self):
        return subprocess.run(["mariadb-admin", "--no-defaults", "--socket=" + self.socket,
                               "-u", self.user, "ping"], capture_output=True,
                              env=clean_env()).returncode == 0

    def sql(self, statements, database=None):
        argv = ["mariadb", "--no-defaults", "--socket=" + self.socket, "-u", self.user,
                "--batch", "--skip-column-names"]
        if database:
            argv.append(database)
        r = subprocess.run(argv, input=statements, capture_output=True, text=True, env=clean_env())
        if r.returncode != 0:
            raise RuntimeError("SQL failed: %s\n%s" % (statements, r.stderr))
        return r.stdout

    def kill(self):
        """SIGKILL, as in a crash: no shutdown, InnoDB recovers at the next run()."""
        self.proc.stop(signal.SIGKILL)

    def stop(self):
        if self.proc is None or not self.proc.alive():
            return
        subprocess.run(["mariadb-admin", "--no-defaults", "--socket=" + self.socket,
                        "-u", self.user, "shutdown"], capture_output=True, env=clean_env())
        self.proc.stop(timeout=30)
        if self.tmp_sockdir:
            shutil.rmtree(self.tmp_sockdir, ignore_errors=True)


# ---------------------------------------------------------------- stub upstream

class Stub:
    def __init__(self, workdir):
        self.dir = workdir
        self.proc = None
        self.port = None
        self.http = http_session()

    def start(self):
        out = os.path.join(self.dir, "stub.stdout")
        self.proc = Proc("stub", [PYTHON, STUB, "--host", "127.0.0.1", "--port", "0"],
                         self.dir, stdout=out)

        def bound():
            m = re.search(r"listening on [\d.]+:(\d+)", open(out).read())
            if m:
                self.port = int(m.group(1))
            return m is not None
        wait_for("stub upstream", bound, 20, self.proc)
        wait_for("stub upstream", lambda: port_open(self.port), 20, self.proc)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def requests(self):
        r = self.http.get(self.url("/_requests"), timeout=10)
        r.raise_for_status()
        return r.json()

    def find(self, marker):
        """The recorded requests whose body contains marker."""
        return [r for r in self.requests() if marker in r["body"]]

    def stop(self):
        if self.proc:
            self.proc.stop()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def served_connections(port):
    """TCP connections the kernel holds on the gateway's side of `port` (not the listener):
    one the gateway has closed is gone from here, one it has not is still counted."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] != "0A":  # LISTEN
                    n += 1
    return n


def header_values(record, name):
    return [v for k, v in record["headers"] if k.lower() == name.lower()]


def settled_text(path, quiet=0.15, timeout=3.0):
    """The text of a log file once it has stopped growing for `quiet` seconds: the gateway
    hands lines to its log writer thread without waiting for it (src/log.c), so a line may
    reach the file a moment after the answer that it records."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    last = None
    while True:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        if text == last or time.monotonic() > deadline:
            return text
        last = text
        time.sleep(quiet)


def header_text(value):
    """The text of an X-WSS-User / X-WSS-Roles value: percent-encoded UTF-8 (docs/security.md,
    "Identity headers"), so only visible ASCII may arrive."""
    assert re.fullmatch(r"[\x21-\x7e]*", value), "not percent-encoded: %r" % value
    return urllib.parse.unquote(value, errors="strict")


# ---------------------------------------------------------------- gateway

ROUTE_NAMES = {"/services/Echo": "echo", "/services/EchoKeep": "echo-keep",
               "/services/DigestOnly": "digest-only", "/services/TextOnly": "text-only",
               "/services/Timestamped": "timestamped", "/services/Down": "down",
               "/services/Slow": "slow", "/services/Fault": "fault"}

# The security and limits groups of every generated config; a gateway may override keys.
# Brute-force protection is off: the tests send many failures from 127.0.0.1 on purpose;
# test_96_lockout.py turns it on with small limits.
SECURITY_DEFAULTS = [
    ("created_ttl", "300"), ("future_ttl", "60"), ("timestamp_ttl", "300"),
    ("nonce_cache_max", "100000"), ("replay_store", '"memory"'), ("strict_bsp", "false"),
    ("opaque_faults", "false"), ("verify_threads", "2"),
    ("lockout", "{ max_failures = 0; }"), ("client_limit", "{ max_failures = 0; }"),
]
LIMITS_DEFAULTS = [
    ("max_body_size", "65536"), ("max_header_size", "16384"), ("max_depth", "100"),
    ("max_attributes", "500"), ("max_attribute_len", "65536"), ("max_nodes", "50000"),
    ("request_timeout", "30"), ("max_connections", "1000"), ("response_timeout", "60"),
    ("max_response_size", "67108864"), ("drain_timeout", "10"),
    ("max_parts", "100"), ("max_part_size", "10485760"), ("max_part_header_size", "8192"),
]


def _settings(defaults, overrides, indent):
    overrides = dict(overrides or {})
    items = ["%s = %s;" % (k, overrides.pop(k, v)) for k, v in defaults]
    if overrides:
        raise ValueError("unknown config keys: %s" % sorted(overrides))
    return ("\n" + " " * indent).join(items)


USERSTORE_DEFAULTS = [("pool_size", "4"), ("connect_timeout", "5"), ("query_timeout", "10"),
                      ("max_waiting", "64")]


def route_config(name, path, upstream, timeout=10, extra=""):
    """One route's text, as gateway_config writes them (extra_routes takes these)."""
    return ('  { name = "%s"; path = "%s"; upstream = ( "%s" );\n'
            '    password_types = ( "PasswordDigest", "PasswordText" ); roles = ( "echo-users" );\n'
            '    require_timestamp = false; strip_security_header = true; timeout = %d;\n'
            '    auth = "wsse"; require_tls = false;%s }' % (name, path, upstream, timeout, extra))


def gateway_config(port, db, stub_port, down_port, database="wssgate", security=None,
                   limits=None, logs=("access.log", "audit.log"), cache_ttl=1, userstore=None,
                   workers=2, extra_routes=()):
    """The config text; security / limits / userstore are {key: libconfig value text}
    overrides; extra_routes are route_config() texts added to the standard routes."""
    up = "http://127.0.0.1:%d" % stub_port

    def route(name, path, upstream, extra=""):
        return route_config(name, path, upstream, extra=extra)

    routes = [
        route("echo", "/services/Echo", up + "/Echo"),
        route("echo-keep", "/services/EchoKeep", up + "/EchoKeep").replace(
            "strip_security_header = true", "strip_security_header = false"),
        route("digest-only", "/services/DigestOnly", up + "/EchoDigest").replace(
            '"PasswordDigest", "PasswordText"', '"PasswordDigest"'),
        route("text-only", "/services/TextOnly", up + "/EchoText").replace(
            '"PasswordDigest", "PasswordText"', '"PasswordText"'),
        route("timestamped", "/services/Timestamped", up + "/EchoTs").replace(
            "require_timestamp = false", "require_timestamp = true"),
        route("down", "/services/Down", "http://127.0.0.1:%d/Echo" % down_port),
        route("slow", "/services/Slow", up + "/Slow?s=5").replace("timeout = 10", "timeout = 1"),
        route("fault", "/services/Fault", up + "/Fault"),
    ] + list(extra_routes)
    return """# Generated by test/integration/wsg.py for one test session.
listen = ( { address = "127.0.0.1:%(port)d"; } );
management = { enabled = false; jwt_secret_file = "jwt.key"; };
workers = %(workers)d;
userstore = { host = "localhost"; port = %(dbport)d; socket = "%(socket)s";
              user = "wssgate"; password_file = "db.pass"; database = "%(database)s";
              cache_ttl = %(cache_ttl)d; master_key_file = "master.key";
              %(userstore)s };
security = { %(security)s };
limits = { %(limits)s };
# flush = 0: lines are handed to the log writer after each loop pass, as tests read them.
log = { access_log = "%(access)s"; audit_log = "%(audit)s"; flush = 0; };
routes = (
%(routes)s
);
""" % {"port": port, "dbport": db.port, "socket": db.socket, "database": database,
       "security": _settings(SECURITY_DEFAULTS, security, 13),
       "limits": _settings(LIMITS_DEFAULTS, limits, 11),
       "access": logs[0], "audit": logs[1], "routes": ",\n".join(routes),
       "cache_ttl": cache_ttl, "workers": workers,
       "userstore": _settings(USERSTORE_DEFAULTS, userstore, 14)}


def run_cli(args, stdin=None, timeout=120):
    """Runs src/wssgate args in the work dir; r.out / r.err are text. Stderr goes to cli.stderr."""
    argv = [WSSGATE] + list(args)
    timeout *= TIME_SCALE
    r = subprocess.run(valgrind_argv(argv, "cli"), input=(stdin.encode("utf-8") if stdin is not None else None),
                       stdin=(subprocess.DEVNULL if stdin is None else None),
                       capture_output=True, timeout=timeout, env=clean_env(), cwd=WORK)
    r.out = r.stdout.decode("utf-8", errors="replace")
    r.err = r.stderr.decode("utf-8", errors="replace")
    with open(os.path.join(WORK, "cli.stderr"), "a", encoding="utf-8") as f:
        f.write("$ wssgate %s -> %d\n%s" % (" ".join(argv[1:]), r.returncode, r.err))
    return r


class Gateway:
    """One gateway process. The session's main one is "wssgate" on the database "wssgate";
    others (name, database, security / limits overrides) have their own config and logs."""

    def __init__(self, workdir, db, stub, name="wssgate", database="wssgate", security=None,
                 limits=None, cache_ttl=1, config_kw=None):
        self.dir = workdir
        self.config_kw = dict(config_kw or {})  # more gateway_config() arguments
        self.db = db
        self.stub = stub
        self.name = name
        self.database = database
        self.security = security
        self.limits = limits
        self.cache_ttl = cache_ttl
        self.port = free_port()
        self.down_port = free_port()
        self.config = os.path.join(workdir, name + ".conf")
        logs = ("access.log", "audit.log") if name == "wssgate" else (
            name + "-access.log", name + "-audit.log")
        self.access_log = os.path.join(workdir, logs[0])
        self.audit_log = os.path.join(workdir, logs[1])
        self.proc = None

    def write_config(self):
        with open(self.config, "w") as f:
            f.write(gateway_config(self.port, self.db, self.stub.port, self.down_port,
                                   database=self.database, security=self.security,
                                   limits=self.limits, cache_ttl=self.cache_ttl,
                                   logs=(os.path.basename(self.access_log),
                                         os.path.basename(self.audit_log)),
                                   **self.config_kw))

    def cli(self, *args, stdin=None, config=None, timeout=120):
        """Runs src/wssgate --config CONFIG args (config=False: no --config)."""
        pre = [] if config is False else ["--config", config or self.config]
        return run_cli(pre + list(args), stdin=stdin, timeout=timeout)

    def cli_ok(self, *args, stdin=None):
        r = self.cli(*args, stdin=stdin)
        if r.returncode != 0:
            raise RuntimeError("wssgate %s failed (%d): %s%s"
                               % (" ".join(args), r.returncode, r.out, r.err))
        return r

    def start(self, env=None):
        """env: more environment for the process (replacing a harness value)."""
        self.proc = Proc(self.name, [WSSGATE, "--config", self.config], self.dir, env=env)
        wait_for("wssgate", lambda: port_open(self.port), 60, self.proc)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        return self.proc.stop(timeout=30) if self.proc else None


def setup_database(db, gw):
    """Database, db user with a random password (0600 db.pass), schema (db init twice), users."""
    password = secrets.token_urlsafe(18)
    fd = os.open(os.path.join(gw.dir, "db.pass"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    db.sql("CREATE DATABASE IF NOT EXISTS wssgate;\n"
           "CREATE USER IF NOT EXISTS 'wssgate'@'localhost' IDENTIFIED BY '%s';\n"
           "CREATE USER IF NOT EXISTS 'wssgate'@'127.0.0.1' IDENTIFIED BY '%s';\n"
           "GRANT ALL PRIVILEGES ON wssgate.* TO 'wssgate'@'localhost';\n"
           "GRANT ALL PRIVILEGES ON wssgate.* TO 'wssgate'@'127.0.0.1';\n" % (password, password))
    gw.db_init_runs = [gw.cli("db", "init"), gw.cli("db", "init")]
    for r in gw.db_init_runs:
        if r.returncode != 0:
            raise RuntimeError("wssgate db init failed (%d): %s" % (r.returncode, r.err))
    gw.cli_ok("role", "add", "echo-users")
    for name, (pw, roles, flags) in USERS.items():
        args = ["user", "add", name] + flags
        for role in roles:
            args += ["--role", role]
        gw.cli_ok(*args, stdin=pw + "\n")


# ---------------------------------------------------------------- conformance user store

# The users of reference/wss-conformance.md §7 (same names and passwords), in a database of
# their own ("wssgate_ref") so they do not clash with the users above. name -> (password,
# roles, state): "disabled" is set with SQL after creation, "empty" gets the argon2id hash of
# the empty password (the CLI refuses to store one) and no digest secret.
REF_DATABASE = "wssgate_ref"
REF_USERS = {
    "alice": ("secret", ["echo-users"], None),          # E3, D1/D2/D10, D5 negative
    "bob": ("secret", ["echo-users"], None),            # E4, second user of #41
    "michael": ("geheim", ["echo-users"], None),        # E1, E2
    "jörg": ("pässwörd€", ["echo-users"], None),        # D4, D9/E5
    "山田": ("日本語パスワード", ["echo-users"], None),    # D8
    "dora": ("Pa$$w0rd<&>\"'", ["echo-users"], None),   # D7
    "nora": ("nora-Pw-51d2c", [], None),                # correct password, no role (#17)
    "dave": ("dave-Pw-8e1f0", ["echo-users"], "disabled"),  # #18
    "emma": ("emma-Pw-unused", ["echo-users"], "empty"),    # #20
}


def argon2id_hash(password):
    """argon2id PHC string with the gateway's parameters, through libargon2 (ctypes)."""
    lib = ctypes.CDLL("libargon2.so.1")
    pw = password.encode("utf-8")
    salt = secrets.token_bytes(16)
    lib.argon2_encodedlen.restype = ctypes.c_size_t
    n = lib.argon2_encodedlen(2, 19456, 1, 16, 32, 2)  # Argon2_id = 2
    buf = ctypes.create_string_buffer(n)
    rc = lib.argon2id_hash_encoded(ctypes.c_uint32(2), ctypes.c_uint32(19456), ctypes.c_uint32(1),
                                   pw, ctypes.c_size_t(len(pw)), salt, ctypes.c_size_t(16),
                                   ctypes.c_size_t(32), buf, ctypes.c_size_t(n))
    if rc != 0:
        raise RuntimeError("argon2id_hash_encoded failed: %d" % rc)
    return buf.value.decode("ascii")


def setup_ref_database(db, gw):
    """Creates REF_DATABASE through gw (whose config names it) and its users. Needs
    setup_database() first: it reuses the database account, db.pass and the master key."""
    db.sql("CREATE DATABASE IF NOT EXISTS %s;\n"
           "GRANT ALL PRIVILEGES ON %s.* TO 'wssgate'@'localhost';\n"
           "GRANT ALL PRIVILEGES ON %s.* TO 'wssgate'@'127.0.0.1';\n"
           % (REF_DATABASE, REF_DATABASE, REF_DATABASE))
    gw.cli_ok("db", "init")
    gw.cli_ok("role", "add", "echo-users")
    for name, (pw, roles, state) in REF_USERS.items():
        args = ["user", "add", name]
        for role in roles:
            args += ["--role", role]
        gw.cli_ok(*args, stdin=pw + "\n")
        if state == "disabled":
            db.sql("UPDATE users SET disabled = 1 WHERE username = '%s';" % name, REF_DATABASE)
        elif state == "empty":
            db.sql("UPDATE users SET password_hash = '%s', digest_secret = NULL "
                   "WHERE username = '%s';" % (argon2id_hash(""), name), REF_DATABASE)


# ---------------------------------------------------------------- requests and faults

def http_session():
    s = requests.Session()
    s.trust_env = False
    return s


def remember_secrets(xml):
    """Adds the Password and Nonce texts of a request to SENT_SECRETS."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8", errors="replace")
    for tag in ("Password", "Nonce"):
        for m in re.finditer(r"<(?:\w+:)?%s\b[^>]*>([^<]+)<" % tag, xml):
            SENT_SECRETS.add(m.group(1).strip())
            if tag == "Nonce":
                try:
                    SENT_SECRETS.add(base64.b64decode(m.group(1).strip()).hex())
                except ValueError:
                    pass


def post(url, body, soap12=False, headers=None, timeout=30, session=None):
    """POSTs a SOAP request (str/bytes); returns the requests.Response."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    remember_secrets(data)
    h = wsse_request.headers_for(soap12)
    h.update(headers or {})
    return (session or http_session()).post(url, data=data, headers=h,
                                            timeout=timeout * TIME_SCALE)


def build(user, password=None, **kw):
    """wsse-request's envelope; password defaults to the harness user's."""
    if password is None:
        password = USERS[user][0]
    xml = wsse_request.build_request(user, password, **kw)
    remember_secrets(xml)
    return xml


def marker():
    return "m-" + secrets.token_hex(8)


def echoed(resp):
    """The message text of an EchoResponse, or None."""
    root = etree.fromstring(resp.content)
    found = root.xpath("//*[local-name()='EchoResponse']/*[local-name()='message']")
    return found[0].text if found else None


class Fault:
    def __init__(self, version, code, subcode, reason):
        self.version, self.code, self.subcode, self.reason = version, code, subcode, reason

    def __repr__(self):
        return "Fault(%s, %s, %s, %r)" % (self.version, self.code, self.subcode, self.reason)


def _qname(el):
    text = (el.text or "").strip()
    prefix, _, local = text.rpartition(":")
    return (el.nsmap.get(prefix or None), local)


def parse_fault(content):
    """Returns a Fault with code/subcode as (namespace, local) tuples, or None if not a fault."""
    root = etree.fromstring(content)
    ns = etree.QName(root).namespace
    f = root.find("{%s}Body/{%s}Fault" % (ns, ns))
    if f is None:
        return None
    if ns == SOAP11_NS:
        return Fault("1.1", _qname(f.find("faultcode")), None, f.findtext("faultstring"))
    code = f.find("{%s}Code/{%s}Value" % (ns, ns))
    sub = f.find("{%s}Code/{%s}Subcode/{%s}Value" % (ns, ns, ns))
    return Fault("1.2", _qname(code), _qname(sub) if sub is not None else None,
                 f.findtext("{%s}Reason/{%s}Text" % (ns, ns)))


def wss_code(resp):
    """The WS-Security fault code's local name of a fault response (1.1 faultcode, 1.2 Subcode)."""
    f = parse_fault(resp.content)
    assert f is not None, "not a SOAP fault: %d %r" % (resp.status_code, resp.content[:500])
    qn = f.code if f.version == "1.1" else f.subcode
    assert qn is not None and qn[0] in (WSSE_NS, WSU_NS), "not a WSS fault code: %r" % (f,)
    return qn[1]


def assert_wss_fault(resp, local, soap12=False):
    """resp is a WS-Security fault `local` in the given SOAP version with the right status."""
    f = parse_fault(resp.content)
    assert f is not None, "expected a fault, got %d %r" % (resp.status_code, resp.content[:500])
    ctype = resp.headers.get("Content-Type", "")
    if soap12:
        assert f.version == "1.2", f
        assert resp.status_code == 400, (resp.status_code, f)
        assert f.code == (SOAP12_NS, "Sender"), f
        assert ctype.startswith("application/soap+xml"), ctype
    else:
        assert f.version == "1.1", f
        assert resp.status_code == 500, (resp.status_code, f)
        assert ctype.startswith("text/xml"), ctype
    assert wss_code(resp) == local, f
    return f


def assert_soap_fault(resp, status, code11, code12, soap12=False):
    """A plain SOAP fault (Client/Server, Sender/Receiver) with the given HTTP status."""
    f = parse_fault(resp.content)
    assert f is not None, "expected a fault, got %d %r" % (resp.status_code, resp.content[:500])
    assert resp.status_code == status, (resp.status_code, f)
    if soap12:
        assert f.version == "1.2" and f.code == (SOAP12_NS, code12), f
    else:
        assert f.version == "1.1" and f.code == (SOAP11_NS, code11), f
    return f


def utc_ago(seconds):
    return wsse_request.utc_stamp(datetime.datetime.now(datetime.timezone.utc)
                                  - datetime.timedelta(seconds=seconds))


def node_client(args):
    """Runs test/integration/node/client.js with JSON args; returns its JSON result."""
    modules = node_modules(os.path.join("test", "integration", "node"))
    if not os.path.isdir(os.path.join(modules, "soap")):
        raise AssertionError("node-soap is not installed in %s: run `npm ci` in "
                             "test/integration/node (scripts/test does this)" % modules)
    r = subprocess.run(["node", os.path.join(NODE_DIR, "client.js"), json.dumps(args)],
                       capture_output=True, text=True, timeout=60,
                       env=clean_env({"NODE_PATH": modules}), cwd=NODE_DIR)
    assert r.stdout.strip(), "node client printed nothing (rc %d): %s" % (r.returncode, r.stderr)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    if res.get("lastRequest"):
        remember_secrets(res["lastRequest"])
    return res
