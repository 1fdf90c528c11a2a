"""Helpers for the management API tests: gateways with the management listener on, each with
its own work folder and database in the session's private MariaDB, a small HTTP client that
keeps MI's wire details visible (status, exact body bytes, headers), and HS256 tokens made by
hand (stdlib only) to attack the token checks.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal

import requests
import requests.adapters

import wsg

MGMT_ROLE = "admin"


class MgmtGateway(wsg.Gateway):
    """A gateway whose management API is on, using database `database`.

    `mgmt` is a dict of extra management keys (libconfig text values), e.g.
    {"token_ttl": "3", "bootstrap_admin": '"off"'}; `security` likewise overrides keys of the
    security group. `cache_ttl` is long by default so a test that sees a change on the data
    plane at once proves the cache was invalidated.
    """

    def __init__(self, name, db, stub, database, mgmt=None, cache_ttl=60, mgmt_host="127.0.0.1",
                 share_keys_with=None, db_socket=None, security=None, config_kw=None):
        workdir = os.path.join(wsg.WORK, name)
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        super().__init__(workdir, db, stub, security=security, config_kw=config_kw)
        self.name = name
        self.database = database
        self.mgmt_host = mgmt_host
        self.mgmt_port = wsg.free_port()
        self.mgmt_extra = dict(mgmt or {})
        self.cache_ttl = cache_ttl
        self.db_socket = db_socket
        self.http = wsg.http_session()
        if share_keys_with is not None:
            for key in ("master.key", "jwt.key"):
                dst = os.path.join(workdir, key)
                shutil.copyfile(os.path.join(share_keys_with.dir, key), dst)
                os.chmod(dst, 0o600)

    def write_config(self):
        text = wsg.gateway_config(self.port, self.db, self.stub.port, self.down_port,
                                  security=self.security, **self.config_kw)
        host = "[%s]" % self.mgmt_host if ":" in self.mgmt_host else self.mgmt_host
        keys = {"address": '"%s:%d"' % (host, self.mgmt_port), "enabled": "true",
                "jwt_secret_file": '"jwt.key"'}
        keys.update(self.mgmt_extra)
        mgmt = "management = { %s };" % " ".join("%s = %s;" % kv for kv in keys.items())
        old = 'management = { enabled = false; jwt_secret_file = "jwt.key"; };'
        assert old in text
        text = text.replace(old, mgmt)
        text = text.replace('database = "wssgate";', 'database = "%s";' % self.database)
        text = re.sub(r"cache_ttl = \d+;", "cache_ttl = %d;" % self.cache_ttl, text)
        if self.db_socket is not None:
            text = text.replace('socket = "%s";' % self.db.socket, 'socket = "%s";' % self.db_socket)
        with open(self.config, "w") as f:
            f.write(text)

    def start(self, env=None):
        self.proc = wsg.Proc("wssgate-" + self.name, [wsg.WSSGATE, "--config", self.config],
                             self.dir, env=env)
        wsg.wait_for("wssgate " + self.name,
                     lambda: wsg.port_open(self.port) and wsg.port_open(self.mgmt_port), 60,
                     self.proc)

    def restart(self):
        rc = self.stop()
        assert rc == 0, "exit status %s:\n%s" % (rc, self.proc.stderr_text()[-3000:])
        self.start()

    def murl(self, path=""):
        return "http://127.0.0.1:%d/management%s" % (self.mgmt_port, path)

    def sanitizer_reports(self):
        reports = []
        for path in (self.proc.err_path, self.access_log, self.audit_log):
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    reports += [line.strip() for line in f if wsg.SANITIZER_RE.search(line)]
        return reports

    def audit_lines(self):
        return wsg.settled_text(self.audit_log).splitlines()

    # ---- HTTP

    def request(self, method, path, token=None, auth=None, body=None, raw=None, headers=None,
                params=None, timeout=60):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None:
            raw = json.dumps(body).encode("utf-8")
            h.setdefault("Content-Type", "application/json")
        return self.http.request(method, self.murl(path), data=raw, headers=h, auth=auth,
                                 params=params, timeout=timeout)

    def login(self, user, password, expect=200):
        wsg.SENT_SECRETS.add(password)
        # UTF-8 bytes: requests would encode str credentials as Latin-1.
        r = self.http.get(self.murl("/login"), auth=(user.encode(), password.encode()),
                          timeout=60)
        assert r.status_code == expect, (r.status_code, r.content)
        if expect != 200:
            return r
        assert r.headers["Content-Type"] == "application/json"
        body = r.json()
        assert list(body) == ["AccessToken"] and isinstance(body["AccessToken"], str), body
        return body["AccessToken"]


def copy_db_pass(gw):
    """The harness's database password file (0600) into gw's folder."""
    dst = os.path.join(gw.dir, "db.pass")
    shutil.copyfile(os.path.join(wsg.WORK, "db.pass"), dst)
    os.chmod(dst, 0o600)


def setup_database(db, gw, fresh=True):
    """(Re)creates gw.database for the harness's db user and runs `wssgate db init` on it."""
    copy_db_pass(gw)
    stmts = ""
    if fresh:
        stmts += "DROP DATABASE IF EXISTS `%s`;\n" % gw.database
    stmts += ("CREATE DATABASE IF NOT EXISTS `%(d)s`;\n"
              "GRANT ALL PRIVILEGES ON `%(d)s`.* TO 'wssgate'@'localhost';\n"
              "GRANT ALL PRIVILEGES ON `%(d)s`.* TO 'wssgate'@'127.0.0.1';\n" % {"d": gw.database})
    db.sql(stmts)
    gw.write_config()
    gw.cli_ok("db", "init")


def stop_checked(gw):
    """Stops with SIGTERM; returns a list of problems (exit status, sanitizer reports)."""
    problems = []
    if gw.proc is not None:
        rc = gw.proc.stop(signal.SIGTERM, timeout=30)
        if rc != 0:
            problems.append("%s exited %s:\n%s" % (gw.name, rc, gw.proc.stderr_text()[-3000:]))
        problems += gw.sanitizer_reports()
    return problems


# ---------------------------------------------------------------- tokens by hand

def b64url(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s


def read_key(gw):
    with open(os.path.join(gw.dir, "jwt.key")) as f:
        return bytes.fromhex(f.read().strip())


def make_jwt(header, claims, key=None, alg="HS256", sig=None):
    """A compact JWS; signed with HMAC-SHA(256|384|512) under key unless sig is given."""
    signing_input = b64url(json.dumps(header, separators=(",", ":"))) + "." + \
        b64url(json.dumps(claims, separators=(",", ":")))
    if sig is None:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                  "HS512": hashlib.sha512}[alg]
        sig = b64url(hmac.new(key, signing_input.encode("ascii"), digest).digest())
    return signing_input + "." + sig


class SourceAdapter(requests.adapters.HTTPAdapter):
    """Connections from a given local address, so the gateway sees that client address."""

    def __init__(self, source):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kw)


def client(addr):
    """A requests session whose connections come from local address `addr` (http and
    https; certificates not checked, for the tests' self-signed listeners)."""
    s = wsg.http_session()
    s.mount("http://", SourceAdapter(addr))
    s.mount("https://", SourceAdapter(addr))
    s.verify = False
    return s


class BasicRouteGateway(MgmtGateway):
    """A management-enabled gateway with an HTTP Basic route at /rest/Basic as well."""

    def write_config(self):
        super().write_config()
        with open(self.config) as f:
            text = f.read()
        route = ('  { name = "basic"; path = "/rest/Basic"; upstream = ( "%s" );\n'
                 '    roles = ( "echo-users" ); auth = "basic"; }'
                 % self.stub.url("/Status/200"))
        assert text.endswith("\n);\n")
        with open(self.config, "w") as f:
            f.write(text[:-len("\n);\n")] + ",\n" + route + "\n);\n")
