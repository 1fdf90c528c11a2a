"""wssgatectl (ctl/wssgatectl, issue 4 item 5) driven end to end against the real gateway and
MariaDB: environments and their files, login with the password on stdin (the first login
bootstraps the admin), users as a table and as JSON, roles, a user added with a role passing the
data plane at once with zeep, role updates, an own password change, deletion failing the next
data-plane request at once, a second login after the server revoked the token, logout, exit
status 3 for an unreachable server, TLS with --insecure / --ca-file through a TLS terminator, and
the hidden password prompt on a real pseudo-terminal (the typed password must not be echoed).

Each wssgatectl run gets its own XDG_CONFIG_HOME and no controlling terminal (a new session), so
a prompt can never wait for a human; the pty tests give it one on purpose.
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import threading
import time

import pytest
import zeep.exceptions

import mgmt_util as mu
import pty_util
import wsg
import zeep_util

CTL = os.path.join(wsg.TOP_BUILD, "ctl", "wssgatectl")
ADMIN = ("ctl-admin", "Ctl-Admin-Pw-01")  # bootstrapped by the first login
USER = "ctl-alice"
USER_PW = "Alice-Pw-0042"
USER_PW2 = "Alice-Pw-0043"
ROLE = "echo-users"  # the data-plane route's role
wsg.SENT_SECRETS.update([ADMIN[1], USER_PW, USER_PW2])


class Ctl:
    """Runs wssgatectl with its own config folder; every run is logged to ctl.log."""

    def __init__(self, name):
        self.home = os.path.join(wsg.WORK, "ctl-" + name)
        shutil.rmtree(self.home, ignore_errors=True)
        os.makedirs(self.home, mode=0o700)
        self.dir = os.path.join(self.home, "wssgatectl")

    def env(self):
        return wsg.clean_env({"XDG_CONFIG_HOME": self.home, "HOME": self.home})

    def run(self, *args, stdin=None, timeout=60):
        r = subprocess.run([CTL] + list(args),
                           input=(stdin.encode("utf-8") if stdin is not None else None),
                           stdin=(subprocess.DEVNULL if stdin is None else None),
                           capture_output=True, timeout=timeout, env=self.env(),
                           start_new_session=True)
        r.out = r.stdout.decode("utf-8", errors="replace")
        r.err = r.stderr.decode("utf-8", errors="replace")
        with open(os.path.join(wsg.WORK, "ctl.log"), "a", encoding="utf-8") as f:
            f.write("$ wssgatectl %s -> %d\n%s%s" % (" ".join(args), r.returncode, r.out, r.err))
        assert not wsg.SANITIZER_RE.search(r.err), r.err
        return r

    def ok(self, *args, stdin=None):
        r = self.run(*args, stdin=stdin)
        assert r.returncode == 0, (args, r.returncode, r.out, r.err)
        return r

    def fails(self, status, *args, stdin=None):
        r = self.run(*args, stdin=stdin)
        assert r.returncode == status, (args, r.returncode, r.out, r.err)
        assert r.err.startswith("wssgatectl: "), r.err
        return r

    def creds(self):
        path = os.path.join(self.dir, "credentials.json")
        with open(path) as f:
            return json.load(f)["credentials"]


@pytest.fixture(scope="module")
def gw(mariadb, stub, configured):
    # The TLS terminator of test_tls_insecure_and_ca_file listens on another port.
    g = mu.MgmtGateway("ctl", mariadb, stub, "wssgate_ctl",
                       mgmt={"server_names": '( "127.0.0.1" )'})
    mu.setup_database(mariadb, g)
    g.start()
    yield g
    problems = mu.stop_checked(g)
    assert not problems, problems


def base_url(gw):
    return "http://127.0.0.1:%d" % gw.mgmt_port


@pytest.fixture(scope="module")
def admin(gw):
    """An environment `dev` logged in as the admin the first login bootstrapped."""
    c = Ctl("admin")
    c.ok("add", "env", "dev", base_url(gw))
    r = c.ok("login", "dev", "-u", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
    assert r.out == "Logged in to 'dev' as '%s'\n" % ADMIN[0]
    assert "stored unencrypted" in r.err and "--no-store-password" in r.err
    return c


def call_echo(gw, user, password, use_digest=True):
    """One zeep Echo through the data plane; returns the echoed text or the fault."""
    m = wsg.marker()
    client, _ = zeep_util.client(user, password, use_digest, zulu=True)
    svc = zeep_util.service(client, "soap11", gw.url("/services/Echo"))
    try:
        return svc.Echo(message=m) == m
    except zeep.exceptions.Fault as f:
        return f


def failed_auth(result):
    return isinstance(result, zeep.exceptions.Fault) and "FailedAuthentication" in str(
        result.code)


# ---------------------------------------------------------------- no server needed

COMMANDS = ["add env", "remove env", "get envs", "login", "logout", "get users", "add user",
            "delete user", "unlock user", "update user", "change password", "get roles",
            "add role", "delete role"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(command):
    c = Ctl("help")
    r = c.ok(*(command.split() + ["--help"]))
    assert r.out.startswith("Usage: wssgatectl " + command), r.out
    assert c.ok("help", *command.split()).out == r.out


def test_usage_errors_exit_2():
    c = Ctl("usage")
    r = c.ok("--help")
    assert "Exit status: 0 success, 1" in r.out and "add user ID -e NAME" in r.out
    assert c.run().returncode == 2
    for args, text in [
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["add"], "'add' is followed by one of: env, user, role"),
            (["get", "users"], "'get users' needs the environment: -e NAME"),
            (["add", "user", "-e", "dev"], "'add user' needs 1 argument"),
            (["login", "dev", "-p", "secret"], "passwords are never taken from the command line"),
            (["login", "dev", "--password-stdin"], "--password-stdin needs the user name"),
            (["get", "users", "-e", "dev", "--format", "yaml"], "--format is json or table"),
            (["get", "users", "bob", "-e", "dev", "-r", "x"], "cannot be combined"),
            (["update", "user", "bob", "-e", "dev"], "at least one --add-role or --remove-role"),
            (["delete", "user", "bob", "-e", "dev", "--admin"], "--admin does not apply"),
    ]:
        r = c.fails(2, *args)
        assert text in r.err, (args, r.err)
        assert "Try 'wssgatectl help" in r.err
    for args, text in [
            (["add", "env", "bad/name", "http://127.0.0.1:1"], "is not an environment name"),
            (["add", "env", "x", "ftp://127.0.0.1"], "the scheme must be http or https"),
            (["add", "env", "x", "http://u:p@127.0.0.1:1"], "no user name, password"),
            (["add", "env", "x", "127.0.0.1:9164"], "is not a URL such as"),
    ]:
        assert text in c.fails(2, *args).err, args
    assert c.ok("--version").out.startswith("wssgatectl ")


def test_env_files_and_permissions():
    c = Ctl("envs")
    assert c.ok("get", "envs").out == "No environments found\n"
    r = c.ok("add", "env", "dev", "http://127.0.0.1:9164/")
    assert r.out == "Successfully added environment 'dev'\n"
    assert stat.S_IMODE(os.stat(c.dir).st_mode) == 0o700
    path = os.path.join(c.dir, "environments.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.load(open(path)) == {"environments": {"dev": {"url": "http://127.0.0.1:9164"}}}
    c.ok("add", "env", "prod", "https://gw.example:9164")
    assert c.ok("get", "envs").out == ("NAME  URL\ndev   http://127.0.0.1:9164\n"
                                       "prod  https://gw.example:9164\n")
    assert json.loads(c.ok("get", "envs", "--format", "json").out)["prod"] == {
        "url": "https://gw.example:9164"}
    r = c.fails(1, "add", "env", "dev", "http://127.0.0.1:1")
    assert "already exists" in r.err
    r = c.fails(1, "get", "users", "-e", "nope")
    assert "unknown environment 'nope'; add it with: wssgatectl add env nope URL" in r.err
    r = c.fails(1, "get", "users", "-e", "dev")
    assert "not logged in to environment 'dev'; run: wssgatectl login dev" in r.err
    assert c.ok("remove", "env", "prod").out == "Removed environment 'prod'\n"
    # A file other users may read is refused, not used.
    os.chmod(path, 0o644)
    r = c.fails(1, "get", "envs")
    assert "may be used by other users; run: chmod 600" in r.err
    os.chmod(path, 0o600)
    c.ok("get", "envs")


def test_unreachable_server_exits_3():
    c = Ctl("unreachable")
    c.ok("add", "env", "nowhere", "http://127.0.0.1:%d" % wsg.free_port())
    r = c.fails(3, "login", "nowhere", "-u", "x", "--password-stdin", stdin="whatever-pw\n")
    assert "cannot connect to http://127.0.0.1:" in r.err
    assert not os.path.exists(os.path.join(c.dir, "credentials.json"))


def test_no_terminal_asks_for_password_stdin(gw):
    c = Ctl("notty")
    c.ok("add", "env", "dev", base_url(gw))
    r = c.fails(2, "login", "dev", "-u", ADMIN[0])
    assert "no terminal to prompt on" in r.err and "--password-stdin" in r.err


# ---------------------------------------------------------------- against the gateway

def test_login_bootstraps_admin_and_stores_credentials(gw, admin):
    creds = admin.creds()["dev"]
    assert creds["username"] == ADMIN[0] and creds["password"] == ADMIN[1]
    header, claims, _ = mu.jwt_parts(creds["accessToken"])
    assert header["alg"] == "HS256" and claims["sub"] == ADMIN[0] and claims["scope"] == "admin"
    path = os.path.join(admin.dir, "credentials.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert any("bootstrap_admin" in line and ADMIN[0] in line for line in gw.audit_lines())


def test_wrong_password_login_fails(gw):
    c = Ctl("wrongpw")
    c.ok("add", "env", "dev", base_url(gw))
    r = c.fails(1, "login", "dev", "-u", ADMIN[0], "--password-stdin", stdin="not-the-pw\n")
    assert "login to 'dev' failed: wrong user name or password (HTTP 401)" in r.err
    assert not os.path.exists(os.path.join(c.dir, "credentials.json"))


def test_get_users_table_and_json(admin):
    r = admin.ok("get", "users", "-e", "dev")
    lines = r.out.splitlines()
    assert lines[0] == "USER ID" and ADMIN[0] in lines[1:], r.out
    body = json.loads(admin.ok("get", "users", "-e", "dev", "--format", "json").out)
    assert body["count"] == len(body["list"]) and {"userId": ADMIN[0]} in body["list"]
    assert admin.ok("get", "users", "-e", "dev", "-p", "ctl-adm*").out == \
        "USER ID\n%s\n" % ADMIN[0]
    assert admin.ok("get", "users", "-e", "dev", "-p", "nobody-*").out == "No Users found\n"
    r = admin.ok("get", "users", ADMIN[0], "-e", "dev")
    assert r.out.startswith("Name - %s\nIs Admin - true\nRoles - " % ADMIN[0]), r.out
    one = json.loads(admin.ok("get", "users", ADMIN[0], "-e", "dev", "--format", "json").out)
    assert one["userId"] == ADMIN[0] and one["isAdmin"] is True
    r = admin.fails(1, "get", "users", "nobody", "-e", "dev")
    assert "Requested resource not found. User: nobody cannot be found. (HTTP 404)" in r.err


def test_roles_verbs(admin):
    r = admin.ok("add", "role", ROLE, "-e", "dev")
    assert r.out == "Adding new role [ %s ] status: Added\n" % ROLE
    admin.ok("add", "role", "ctl-temp", "-e", "dev")
    r = admin.ok("get", "roles", "-e", "dev")
    assert r.out.splitlines()[0] == "ROLE"
    assert ROLE in r.out.splitlines() and "ctl-temp" in r.out.splitlines()
    body = json.loads(admin.ok("get", "roles", "-e", "dev", "--format", "json").out)
    assert {"role": "ctl-temp"} in body["list"]
    r = admin.ok("get", "roles", "ctl-temp", "-e", "dev")
    assert r.out == "Role Name - ctl-temp\nUsers - \n"
    r = admin.fails(1, "add", "role", "ctl-temp", "-e", "dev")
    assert "already exists" in r.err and "(HTTP " in r.err
    assert admin.ok("delete", "role", "ctl-temp", "-e", "dev").out == \
        "Deleting role [ ctl-temp ] status: Deleted\n"
    assert "ctl-temp" not in admin.ok("get", "roles", "-e", "dev").out.splitlines()
    r = admin.fails(1, "delete", "role", "ctl-temp", "-e", "dev")
    assert "(HTTP 404)" in r.err


def test_add_user_with_role_passes_data_plane_at_once(gw, admin):
    assert failed_auth(call_echo(gw, USER, USER_PW))  # unknown yet (and now negatively cached)
    r = admin.ok("add", "user", USER, "-e", "dev", "--role", ROLE, "--password-stdin",
                 stdin=USER_PW + "\n")
    assert r.out == ("Adding new user [ %s ] status: Added\n"
                     "Granting roles to user [ %s ] status: Added/removed the roles\n"
                     % (USER, USER))
    assert call_echo(gw, USER, USER_PW) is True
    assert call_echo(gw, USER, USER_PW, use_digest=False) is True
    r = admin.ok("get", "users", USER, "-e", "dev")
    assert "Is Admin - false\n" in r.out and ROLE in r.out
    r = admin.fails(1, "add", "user", USER, "-e", "dev", "--password-stdin", stdin="Other-Pw-1\n")
    # WSO2's glued "Error processing the requestUser: ..." is read with a separator.
    assert ("Error processing the request: User: %s already exists. (HTTP 400)" % USER) in r.err, \
        r.err
    r = admin.fails(1, "add", "user", "ctl-short", "-e", "dev", "--password-stdin", stdin="x\n")
    assert "(HTTP 400)" in r.err  # the password policy's precise Error text


def test_update_user_roles(gw, admin):
    admin.ok("add", "role", "ctl-auditors", "-e", "dev")
    r = admin.ok("update", "user", USER, "-e", "dev", "--add-role", "ctl-auditors",
                 "--remove-role", ROLE)
    assert r.out == "Updating roles of user [ %s ] status: Added/removed the roles\n" % USER
    roles = json.loads(admin.ok("get", "users", USER, "-e", "dev", "--format", "json").out)["roles"]
    assert "ctl-auditors" in roles and ROLE not in roles
    assert failed_auth(call_echo(gw, USER, USER_PW))  # the route needs echo-users: at once
    assert admin.ok("get", "users", "-e", "dev", "-r", "ctl-auditors").out == \
        "USER ID\n%s\n" % USER
    admin.ok("update", "user", USER, "-e", "dev", "--add-role", ROLE)
    assert call_echo(gw, USER, USER_PW) is True


def test_non_admin_change_own_password(gw, admin):
    c = Ctl("alice")
    c.ok("add", "env", "dev", base_url(gw))
    c.ok("login", "dev", "-u", USER, "--password-stdin", stdin=USER_PW + "\n")
    r = c.fails(1, "get", "users", "-e", "dev")
    assert "permission denied (HTTP 403): user '%s' may not do this on 'dev'" % USER in r.err
    r = c.fails(1, "change", "password", "-e", "dev", "--password-stdin",
                stdin="Wrong-Old-Pw-9\n%s\n" % USER_PW2)
    assert "(HTTP " in r.err
    r = c.ok("change", "password", "-e", "dev", "--password-stdin",
             stdin="%s\n%s\n" % (USER_PW, USER_PW2))
    assert r.out == "Changing password of user [ %s ] status: User password updated " \
        "successfully.\n" % USER
    assert c.creds()["dev"]["password"] == USER_PW2
    assert call_echo(gw, USER, USER_PW2) is True
    assert failed_auth(call_echo(gw, USER, USER_PW))
    r = c.fails(2, "change", "password", "-e", "dev", "--password-stdin", stdin=USER_PW2 + "\n")
    assert "no new password on standard input" in r.err


def test_relogin_once_after_server_side_revocation(gw, admin):
    old = admin.creds()["dev"]["accessToken"]
    r = gw.request("GET", "/logout", token=old)  # revoked behind wssgatectl's back
    assert r.status_code == 200
    assert gw.request("GET", "/users", token=old).status_code == 401
    r = admin.ok("get", "users", "-e", "dev", "-v")
    assert "USER ID" in r.out
    assert "logging in to 'dev' again as '%s'" % ADMIN[0] in r.err
    assert re.findall(r"< (\d+)", r.err) == ["401", "200", "200"], r.err
    new = admin.creds()["dev"]["accessToken"]
    assert new != old and gw.request("GET", "/users", token=new).status_code == 200


def test_no_stored_password_means_no_relogin(gw, admin):
    c = Ctl("nostore")
    c.ok("add", "env", "dev", base_url(gw))
    r = c.ok("login", "dev", "-u", ADMIN[0], "--password-stdin", "--no-store-password",
             stdin=ADMIN[1] + "\n")
    assert "stored unencrypted" not in r.err
    creds = c.creds()["dev"]
    assert "password" not in creds and ADMIN[1] not in open(
        os.path.join(c.dir, "credentials.json")).read()
    assert gw.request("GET", "/logout", token=creds["accessToken"]).status_code == 200
    r = c.fails(1, "get", "users", "-e", "dev")
    assert "refused the session (HTTP 401)" in r.err and "wssgatectl login dev" in r.err


def test_stored_password_refused_after_change(gw, admin):
    c = Ctl("stale")
    c.ok("add", "env", "dev", base_url(gw))
    c.ok("login", "dev", "-u", USER, "--password-stdin", stdin=USER_PW2 + "\n")
    creds = c.creds()["dev"]
    assert gw.request("GET", "/logout", token=creds["accessToken"]).status_code == 200
    creds["password"] = "Not-The-Pw-77"
    path = os.path.join(c.dir, "credentials.json")
    with open(path, "w") as f:
        json.dump({"credentials": {"dev": creds}}, f)
    r = c.fails(1, "change", "password", "-e", "dev", "--password-stdin",
                stdin="%s\n%s\n" % (USER_PW2, USER_PW))
    assert "stored password of '%s' was refused; log in again" % USER in r.err


def test_delete_user_fails_next_data_plane_request(gw, admin):
    assert call_echo(gw, USER, USER_PW2) is True
    r = admin.ok("delete", "user", USER, "-e", "dev")
    assert r.out == "Deleting user [ %s ] status: Deleted\n" % USER
    assert failed_auth(call_echo(gw, USER, USER_PW2))
    r = admin.fails(1, "delete", "user", USER, "-e", "dev")
    assert "Requested resource not found. User: %s cannot be found." % USER in r.err
    r = admin.fails(1, "delete", "user", ADMIN[0], "-e", "dev")
    assert "(HTTP 4" in r.err  # nobody deletes themselves


def test_logout_then_calls_fail_clearly(gw, admin):
    token = admin.creds()["dev"]["accessToken"]
    assert admin.ok("logout", "dev").out == "Logged out from 'dev'\n"
    assert "dev" not in admin.creds()
    assert gw.request("GET", "/users", token=token).status_code == 401
    r = admin.fails(1, "get", "users", "-e", "dev")
    assert r.err == "wssgatectl: not logged in to environment 'dev'; run: wssgatectl login dev\n"
    assert admin.ok("logout", "dev").out == "Not logged in to 'dev'\n"
    # Logging out of a session the server already ended still forgets it.
    admin.ok("login", "dev", "-u", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
    assert gw.request("GET", "/logout", token=admin.creds()["dev"]["accessToken"]).status_code \
        == 200
    r = admin.ok("logout", "dev")
    assert r.out == "Logged out from 'dev' (the server had already ended the session)\n"


# ---------------------------------------------------------------- TLS

class TlsTerminator:
    """HTTPS on a loopback port, relayed as plain TCP to the gateway's management listener, so
    wssgatectl's TLS options meet a real certificate check in front of the real API."""

    def __init__(self, workdir, target_port):
        self.cert = os.path.join(workdir, "tls-cert.pem")
        key = os.path.join(workdir, "tls-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", self.cert], check=True, capture_output=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, key)
        self.target = target_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()  # the client refused our certificate
            return
        up = socket.create_connection(("127.0.0.1", self.target))
        try:
            while True:
                r, _, _ = select.select([tls, up], [], [], 30)
                if not r:
                    return
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is tls else tls).sendall(data)
        except (ssl.SSLError, OSError):
            return
        finally:
            up.close()
            tls.close()

    def close(self):
        self.stopping = True
        self.sock.close()


def test_tls_insecure_and_ca_file(gw):
    term = TlsTerminator(wsg.WORK, gw.mgmt_port)
    try:
        c = Ctl("tls")
        url = "https://127.0.0.1:%d" % term.port
        c.ok("add", "env", "tls", url)
        r = c.fails(3, "login", "tls", "-u", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
        assert "not trusted" in r.err and "--ca-file" in r.err and "--insecure" in r.err
        r = c.ok("login", "tls", "-k", "-u", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
        assert "warning: --insecure" in r.err and "not verified" in r.err
        r = c.ok("get", "users", "-e", "tls", "--ca-file", term.cert)
        assert "USER ID" in r.out and "warning" not in r.err
        c.ok("add", "env", "tls-ca", url, "--ca-file", term.cert)
        assert json.load(open(os.path.join(c.dir, "environments.json")))["environments"][
            "tls-ca"]["ca_file"] == os.path.realpath(term.cert)
        r = c.ok("login", "tls-ca", "-u", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
        assert "warning" not in r.err
        c.ok("logout", "tls-ca")
        c.ok("logout", "tls", "-k")
    finally:
        term.close()


# ---------------------------------------------------------------- the hidden prompt on a pty

def Pty(ctl, *args):
    """wssgatectl on a new pseudo-terminal (pty_util.Pty)."""
    return pty_util.Pty([CTL] + list(args), ctl.env())


@pytest.fixture
def pty_ctl(gw, admin):
    """A config folder with environment `dev`, not logged in; the route's role exists."""
    c = Ctl("pty")
    c.ok("add", "env", "dev", base_url(gw))
    c.ok("login", "dev", "-u", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
    assert c.run("add", "role", ROLE, "-e", "dev").returncode in (0, 1)
    c.ok("logout", "dev")
    return c


def test_password_prompt_hides_typed_password(pty_ctl):
    t = Pty(pty_ctl, "login", "dev")
    try:
        t.expect("Username: ")
        t.send(ADMIN[0] + "\n")
        t.expect("Password for %s on dev: " % ADMIN[0])
        assert not t.echo_on(), "echo is still on at the password prompt"
        t.send(ADMIN[1] + "\n")
        t.expect("Logged in to 'dev' as '%s'" % ADMIN[0])
        assert os.WEXITSTATUS(t.finish()) == 0, t.seen
        assert ADMIN[0].encode() in t.seen  # the user name is echoed ...
        assert ADMIN[1].encode() not in t.seen, t.seen  # ... the password is not
        assert t.echo_on(), "echo not restored"
    finally:
        t.close()
    assert pty_ctl.creds()["dev"]["username"] == ADMIN[0]


def test_add_user_prompts_twice_without_echo(gw, pty_ctl):
    pty_ctl.ok("login", "dev", "-u", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
    name, pw = "ctl-pty-user", "Pty-User-Pw-7"
    wsg.SENT_SECRETS.add(pw)
    t = Pty(pty_ctl, "add", "user", name, "-e", "dev", "--role", ROLE)
    try:
        t.expect("Password for the new user %s: " % name)
        t.send(pw + "\n")
        t.expect("Re-enter the password: ")
        t.send(pw + "x\n")
        t.expect("the passwords do not match")
        assert os.WEXITSTATUS(t.finish()) == 2
        assert pw.encode() not in t.seen, t.seen
    finally:
        t.close()
    t = Pty(pty_ctl, "add", "user", name, "-e", "dev", "--role", ROLE)
    try:
        t.expect("Password for the new user %s: " % name)
        t.send(pw + "\n")
        t.expect("Re-enter the password: ")
        t.send(pw + "\n")
        t.expect("Adding new user [ %s ] status: Added" % name)
        assert os.WEXITSTATUS(t.finish()) == 0, t.seen
        assert pw.encode() not in t.seen, t.seen
    finally:
        t.close()
    assert call_echo(gw, name, pw) is True
    pty_ctl.ok("delete", "user", name, "-e", "dev")


def test_ctrl_c_at_password_prompt_restores_echo(pty_ctl):
    t = Pty(pty_ctl, "login", "dev", "-u", ADMIN[0])
    try:
        t.expect("Password for %s on dev: " % ADMIN[0])
        assert not t.echo_on()
        t.send("half-typed")
        t.send("\x03")  # Ctrl-C: SIGINT from the terminal
        status = t.finish()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT, status
        assert t.echo_on(), "Ctrl-C left the terminal without echo"
        assert b"half-typed" not in t.seen
    finally:
        t.close()


class Tmux:
    """A private tmux server running an interactive bash (with job control) in one pane."""

    def __init__(self, ctl):
        assert shutil.which("tmux"), "tmux is not installed (scripts/lib.sh installs it)"
        self.sock = os.path.join(ctl.home, "tmux.sock")
        self.env = dict(ctl.env())
        self.env.pop("TMUX", None)
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50",
                  "bash --norc --noprofile -i")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), env=self.env, check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def keys(self, *keys, literal=False):
        self.tmux("send-keys", *(["-l"] if literal else []), *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-J", "-S", "-200")

    def wait(self, pred, what, timeout=30):
        deadline = time.monotonic() + timeout * wsg.TIME_SCALE
        while time.monotonic() < deadline:
            text = self.screen()
            if pred(text):
                return text
            time.sleep(0.2)
        raise AssertionError("no %s on the screen:\n%s" % (what, self.screen()))

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], env=self.env,
                       capture_output=True, timeout=30)


def test_ctrl_z_at_password_prompt_in_a_shell(pty_ctl):
    """Job control in a real shell: Ctrl-Z at the hidden prompt stops wssgatectl; after `fg`
    (bash then puts back the terminal state the job stopped with) the prompt is repeated and
    the input is hidden again."""
    t = Tmux(pty_ctl)
    try:
        prompt = "Password for %s on dev: " % ADMIN[0]
        t.wait(lambda s: s.rstrip().endswith(("$", "#")), "shell prompt")
        t.keys("%s login dev -u %s" % (CTL, ADMIN[0]), literal=True)
        t.keys("Enter")
        t.wait(lambda s: prompt in s, "password prompt")
        t.keys("C-z")
        t.wait(lambda s: "Stopped" in s, "job stopped")
        t.keys("fg", literal=True)
        t.keys("Enter")
        t.wait(lambda s: s.count(prompt) == 2, "the prompt again")
        t.keys(ADMIN[1], literal=True)
        t.keys("Enter")
        screen = t.wait(lambda s: "Logged in to 'dev'" in s, "login")
        assert ADMIN[1] not in screen, screen
        assert not wsg.SANITIZER_RE.search(screen), screen
    finally:
        t.close()
