"""A private OpenLDAP slapd for the LDAP user store tests (issue 19).

Everything lives in one folder of the work dir: a CA and a server certificate made with the
`openssl` command at test time (never committed keys), a slapd.conf without cn=config
(core, cosine and inetorgperson schemas, back_mdb, its own database folder), an LDIF loaded
with slapadd, and slapd in the foreground (-d stats) on ldap://127.0.0.1:PORT/ (StartTLS
possible) and ldaps://127.0.0.1:TLS_PORT/, so it is stopped, killed and restarted by PID.
The system's slapd (/etc/ldap, /var/lib/ldap) is never touched. The session's directory is
conftest.py's `slapd` fixture; tests that stop or change one start their own Slapd.

The directory (SUFFIX):
  cn=gateway           the service account (SERVICE_PASSWORD)
  ou=people            USERS: name -> (password, groups, disabled)
  ou=groups            groupOfNames entries; wssgate-admins is the admin group
"""

import base64
import os
import re
import signal
import subprocess

import wsg

SUFFIX = "dc=example,dc=org"
PEOPLE = "ou=people," + SUFFIX
GROUPS = "ou=groups," + SUFFIX
SERVICE_DN = "cn=gateway," + SUFFIX
SERVICE_PASSWORD = "gateway-Svc-7f3a"
ADMIN_GROUP = "wssgate-admins"

# name -> (password, groups, disabled). A disabled account has employeeType=disabled, which
# USER_FILTER excludes; "o(x)*" checks that the name is escaped (a wildcard or a parenthesis
# in a name must match only itself).
USERS = {
    "alice": ("alice-Pw-1c9e2", ["echo-users"], False),
    "bob": ("bob-Pw-5a7d0", ["echo-users", "ops"], False),        # two groups, two roles
    "carol": ("carol-Pw-93b1f", [], False),                        # in no group: no role
    "dave": ("dave-Pw-0e44c", ["echo-users"], True),               # disabled by the filter
    "ada": ("ada-Pw-2b8f6", [ADMIN_GROUP, "echo-users"], False),   # management admin
    "erin": ("erin-Pw-6d2a1", ["echo-users"], False),              # kept for lockout tests
    "o(x)*": ("ox-Pw-44f0a", ["echo-users"], False),
    "jörg": ("pässwörd€", ["echo-users"], False),
}
GROUP_NAMES = ["echo-users", "ops", ADMIN_GROUP, "empty-group"]

USER_FILTER = "(&(objectClass=inetOrgPerson)(uid=%s)(!(employeeType=disabled)))"
GROUP_FILTER = "(&(objectClass=groupOfNames)(member=%s))"

SCHEMAS = ("core", "cosine", "inetorgperson")


def user_dn(name):
    return "uid=%s,%s" % (name, PEOPLE)


def slappasswd(password):
    r = subprocess.run(["slappasswd", "-h", "{SSHA}", "-s", password], capture_output=True,
                       text=True, check=True)
    return r.stdout.strip()


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr))


def make_ca(folder, name):
    """CA key and self-signed certificate folder/name.key, .pem (EC P-256: quick to make)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
            "-subj", "/CN=wssgate test %s" % name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    return os.path.join(folder, name + ".pem")


def make_server_cert(folder, ca, name="server"):
    """A server key and certificate for 127.0.0.1 / localhost signed by CA `ca`."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    with open(os.path.join(folder, name + ".ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext",
            cwd=folder)
    return os.path.join(folder, name + ".pem"), os.path.join(folder, name + ".key")


def ldif(users=None):
    """The directory's LDIF text."""
    users = USERS if users is None else users
    out = ["dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n"
           % SUFFIX,
           "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
           "cn: gateway\nuserPassword: %s\n" % (SERVICE_DN, slappasswd(SERVICE_PASSWORD)),
           "dn: %s\nobjectClass: organizationalUnit\nou: people\n" % PEOPLE,
           "dn: %s\nobjectClass: organizationalUnit\nou: groups\n" % GROUPS]
    for name, (password, _, disabled) in users.items():
        entry = ("dn:: %s\nobjectClass: inetOrgPerson\nuid:: %s\ncn:: %s\nsn: Test\n"
                 "userPassword: %s\n" % (_b64(user_dn(name)), _b64(name), _b64(name),
                                         slappasswd(password)))
        if disabled:
            entry += "employeeType: disabled\n"
        out.append(entry)
    for group in GROUP_NAMES:
        members = [user_dn(n) for n, (_, groups, _) in users.items() if group in groups]
        # groupOfNames needs a member: an empty group names the service account.
        members = members or [SERVICE_DN]
        out.append("dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n" % (group, GROUPS, group)
                   + "".join("member:: %s\n" % _b64(m) for m in members))
    return "\n".join(out)


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class Slapd:
    """One private slapd. start() makes the PKI, config and database the first time: the
    directory of ldif(), or ldif_text under `suffix` whose service account (readiness
    checks, search()) is service = (DN, password)."""

    def __init__(self, workdir, name="slapd", ldif_text=None, suffix=SUFFIX,
                 service=(SERVICE_DN, SERVICE_PASSWORD)):
        self.name = name
        self.ldif_text = ldif_text
        self.suffix = suffix
        self.service_dn, self.service_password = service
        self.dir = os.path.join(workdir, name)
        self.port = wsg.free_port()
        self.tls_port = wsg.free_port()
        self.proc = None
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self.wrong_ca_file = os.path.join(self.dir, "wrong-ca.pem")
        self.conf = os.path.join(self.dir, "slapd.conf")

    @property
    def uri(self):
        return "ldap://127.0.0.1:%d/" % self.port

    @property
    def tls_uri(self):
        return "ldaps://127.0.0.1:%d/" % self.tls_port

    def setup(self):
        os.makedirs(os.path.join(self.dir, "db"), mode=0o700)
        make_ca(self.dir, "ca")
        make_ca(self.dir, "wrong-ca")
        cert, key = make_server_cert(self.dir, "ca")
        with open(self.conf, "w") as f:
            f.write("".join("include /etc/ldap/schema/%s.schema\n" % s for s in SCHEMAS))
            f.write("pidfile %(d)s/slapd.pid\nargsfile %(d)s/slapd.args\n"
                    "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                    "TLSCACertificateFile %(d)s/ca.pem\nTLSCertificateFile %(cert)s\n"
                    "TLSCertificateKeyFile %(key)s\n"
                    "database mdb\nmaxsize 16777216\nsuffix \"%(suffix)s\"\n"
                    "directory %(d)s/db\n"
                    # Passwords are only for binding; the rest is readable, also
                    # anonymously (a gateway without bind_dn).
                    "access to attrs=userPassword by self auth by anonymous auth by * none\n"
                    "access to * by * read\n"
                    % {"d": self.dir, "cert": cert, "key": key, "suffix": self.suffix})
        path = os.path.join(self.dir, "base.ldif")
        with open(path, "w", encoding="utf-8") as f:
            f.write(ldif() if self.ldif_text is None else self.ldif_text)
        r = subprocess.run(["slapadd", "-q", "-f", self.conf, "-l", path], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise RuntimeError("slapadd failed: %s" % r.stderr)

    def start(self):
        if not os.path.isdir(self.dir):
            self.setup()
        self.run()

    def run(self):
        """Starts slapd on the existing database (again, after stop() or kill())."""
        # -d stays in the foreground; "stats" logs each operation to stderr, so tests
        # can count the searches and binds a request cost.
        self.proc = wsg.Proc(self.name, [
            "/usr/sbin/slapd", "-f", self.conf, "-d", "stats",
            "-h", "%s %s" % (self.uri, self.tls_uri)], self.dir)
        wait = lambda: self.whoami(self.service_dn, self.service_password)  # noqa: E731
        wsg.wait_for("slapd", wait, 30, self.proc, 0.1)

    def log_size(self):
        return os.path.getsize(self.proc.err_path)

    def operations_since(self, offset):
        """(searches, binds) slapd logged after byte `offset` of its stderr."""
        with open(self.proc.err_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
        return (len(re.findall(r" SRCH base=", text)),
                len(re.findall(r' BIND dn="[^"]*" method=', text)))

    def whoami(self, dn, password, uri=None):
        r = subprocess.run(["ldapwhoami", "-x", "-H", uri or self.uri, "-D", dn, "-w", password],
                           capture_output=True, text=True, env=wsg.clean_env())
        return r.returncode == 0

    def search(self, base, filt, *attrs):
        r = subprocess.run(["ldapsearch", "-LLL", "-x", "-H", self.uri, "-D", self.service_dn,
                            "-w", self.service_password, "-b", base, filt] + list(attrs),
                           capture_output=True, text=True, env=wsg.clean_env())
        if r.returncode != 0:
            raise RuntimeError("ldapsearch failed: %s" % r.stderr)
        return r.stdout

    def stop(self):
        if self.proc is not None:
            self.proc.stop()

    def kill(self):
        if self.proc is not None:
            self.proc.stop(signal.SIGKILL)

    def _state(self):
        with open("/proc/%d/stat" % self.proc.popen.pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def pause(self):
        """SIGSTOP: connections are accepted (the kernel's backlog), nothing is answered.
        Returns once the process is stopped (kill() does not wait for it)."""
        os.kill(self.proc.popen.pid, signal.SIGSTOP)
        wsg.wait_for("slapd stopped", lambda: self._state() == "T", 10, interval=0.02)

    def resume(self):
        os.kill(self.proc.popen.pid, signal.SIGCONT)

    def restart(self):
        self.stop()
        self.run()


def write_password_file(folder, name, password):
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return path


def ldap_settings(slapd, **overrides):
    """The ldap group's {key: libconfig value text} for `slapd` (overrides replace keys; a
    value None drops the key)."""
    settings = {
        "uri": '"%s"' % slapd.uri,
        "bind_dn": '"%s"' % SERVICE_DN,
        "bind_password_file": '"%s"' % write_password_file(
            os.path.dirname(slapd.dir), slapd.name + ".pass", SERVICE_PASSWORD),
        "user_base": '"%s"' % PEOPLE,
        "user_filter": '"%s"' % USER_FILTER,
        "group_base": '"%s"' % GROUPS,
        "group_filter": '"%s"' % GROUP_FILTER,
        "role_attribute": '"cn"',
        "admin_group": '"%s"' % ADMIN_GROUP,
        "timeout": "2",
        "pool_size": "2",
    }
    settings.update(overrides)
    return {k: v for k, v in settings.items() if v is not None}


def ldap_config_text(settings):
    return "ldap = { %s };\n" % " ".join("%s = %s;" % kv for kv in settings.items())


def ldap_gateway_config(gw, slapd, mariadb=False, **overrides):
    """Gateway `gw`'s config text with userstore.type = "ldap": the standard routes of
    wsg.gateway_config, the userstore keys only the replay store and revocation need
    (mariadb=True keeps host/socket, else nothing of MariaDB), and the ldap group."""
    text = wsg.gateway_config(gw.port, gw.db, gw.stub.port, gw.down_port, security=gw.security,
                              limits=gw.limits, cache_ttl=gw.cache_ttl,
                              logs=(os.path.basename(gw.access_log),
                                    os.path.basename(gw.audit_log)), **gw.config_kw)
    start = text.index("userstore = {")
    end = text.index("};", start) + 2
    if mariadb:
        store = text[start:end].replace("userstore = {", 'userstore = { type = "ldap";', 1)
    else:
        store = 'userstore = { type = "ldap"; cache_ttl = %d; };' % gw.cache_ttl
    return text[:start] + store + "\n" + ldap_config_text(ldap_settings(slapd, **overrides)) \
        + text[end:]


class LdapGateway(wsg.Gateway):
    """A gateway whose user store is `slapd` (ldap_gateway_config's keywords in ldap_kw)."""

    def __init__(self, workdir, slapd, stub, name="wssgate-ldap", db=None, ldap_kw=None,
                 **kw):
        super().__init__(workdir, db or _NoDB(), stub, name=name, **kw)
        self.slapd = slapd
        self.ldap_kw = dict(ldap_kw or {})
        self.mariadb = db is not None

    def write_config(self):
        with open(self.config, "w") as f:
            f.write(ldap_gateway_config(self, self.slapd, mariadb=self.mariadb, **self.ldap_kw))


class _NoDB:
    """Stands in for wsg.MariaDB where gateway_config wants a port and socket it then drops."""
    port = 3306
    socket = "/nonexistent/mysql.sock"
