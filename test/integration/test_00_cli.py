"""Command line (DESIGN 3.1): --version, --help, --check-config, db init, user/role verbs,
and that user/role changes take effect on the data plane after cache_ttl (1 s here)."""

import os
import re
import shutil
import stat
import subprocess
import threading
import time

import pytest

import pty_util
import wsg

pytestmark = pytest.mark.usefixtures("wssgate_bin")


def run(*args, stdin=None):
    return wsg.run_cli(args, stdin=stdin)


def test_version(workdir):
    r = run("--version")
    assert r.returncode == 0, r.err
    assert re.search(r"wssgate\S*\s+\d+\.\d+\.\d+", r.out), r.out


def test_help(workdir):
    r = run("--help")
    assert r.returncode == 0, r.err
    for word in ("--config", "--check-config", "--version", "db init", "user add", "user del",
                 "user list", "user passwd", "role add", "role grant", "role revoke"):
        assert word in r.out, "--help does not mention %r:\n%s" % (word, r.out)


def test_check_config_accepts_example(workdir):
    conf = os.path.join(wsg.TOP_SRC, "conf", "wssgate.conf")
    r = run("--config", conf, "--check-config")
    assert r.returncode == 0, r.err


def test_check_config_accepts_test_config(configured):
    r = configured.cli("--check-config")
    assert r.returncode == 0, r.err


def broken_config(configured, name, transform):
    """Writes a copy of the test config changed by transform(lines) -> (lines, line number)."""
    lines = open(configured.config).read().splitlines()
    lines, lineno = transform(lines)
    path = os.path.join(configured.dir, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, lineno


def insert_after(prefix, text):
    def t(lines):
        i = next(i for i, l in enumerate(lines) if l.startswith(prefix))
        return lines[:i + 1] + [text] + lines[i + 1:], i + 2
    return t


@pytest.mark.parametrize("name,transform,key", [
    ("unknown-top.conf", insert_after("workers", "colour = \"blue\";"), "colour"),
    ("unknown-nested.conf", insert_after("userstore", "              flavour = 3;"), "flavour"),
    ("wrong-type.conf", lambda ls: ([l.replace("workers = 2;", "workers = \"two\";") for l in ls],
                                    next(i for i, l in enumerate(ls) if l.startswith("workers")) + 1),
     "workers"),
    ("bad-nameserver.conf",
     insert_after("workers", 'resolver = { nameservers = ( "dns.example.com" ); };'),
     "dns.example.com"),
], ids=["unknown-top-level-key", "unknown-nested-key", "wrong-type", "nameserver-not-an-ip"])
def test_check_config_rejects_bad_key(configured, name, transform, key):
    path, lineno = broken_config(configured, name, transform)
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 1, (r.returncode, r.err)
    assert re.search(r"%s:%d:" % (re.escape(name), lineno), r.err), \
        "no %s:%d: in %r" % (name, lineno, r.err)
    assert key in r.err, r.err


def test_check_config_rejects_syntax_error(configured):
    path, lineno = broken_config(configured, "syntax.conf",
                                 insert_after("workers", "pool_size = ;"))
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 1, (r.returncode, r.err)
    assert re.search(r"syntax\.conf:%d:" % lineno, r.err), r.err
    # file:line and libconfig's text, once ("syntax error: syntax error" before).
    assert r.err.count("syntax error") == 1, r.err


def test_db_init_idempotent_and_key_files(configured):
    for r in configured.db_init_runs:
        assert r.returncode == 0, r.err
    keys = {}
    for name in ("master.key", "jwt.key"):
        path = os.path.join(configured.dir, name)
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        assert st.st_size > 0
        keys[name] = open(path, "rb").read()
    r = configured.cli("db", "init")
    assert r.returncode == 0, r.err
    for name, content in keys.items():
        assert open(os.path.join(configured.dir, name), "rb").read() == content, \
            "db init overwrote " + name
    tables = configured.db.sql("SHOW TABLES", database="wssgate").split()
    for t in ("users", "roles", "user_roles"):
        assert t in tables, tables


def user_list(gw):
    r = gw.cli("user", "list")
    assert r.returncode == 0, r.err
    out = {}
    for line in r.out.splitlines():
        fields = line.split("\t")
        assert len(fields) == 3, "bad user list line %r" % line
        assert fields[2] in ("admin", "-"), line
        out[fields[0]] = (sorted(filter(None, fields[1].split(","))), fields[2])
    return out


def test_user_list(configured):
    users = user_list(configured)
    assert users["alice"] == (["echo-users"], "-")
    assert users["bob"] == ([], "-")
    assert users["carol"] == (["echo-users"], "-")
    assert users["jörg"] == (["echo-users"], "-")


def test_user_add_admin_flag(configured):
    configured.cli_ok("user", "add", "root-admin", "--admin", stdin="root-admin-Pw-55\n")
    wsg.SENT_SECRETS.add("root-admin-Pw-55")
    assert user_list(configured)["root-admin"][1] == "admin"


def test_user_add_duplicate_fails(configured):
    r = configured.cli("user", "add", "alice", "--role", "echo-users", stdin="another-Pw-x1\n")
    assert r.returncode != 0
    assert r.err.strip(), "no reason given"
    assert len(r.err.strip().splitlines()) == 1 or "AddressSanitizer" in r.err, r.err


def test_verbs_on_missing_user_fail(configured):
    assert configured.cli("user", "del", "nobody-here").returncode != 0
    assert configured.cli("role", "grant", "nobody-here", "echo-users").returncode != 0


def eventually(pred, timeout=6.0):
    """cache_ttl is 1 s: a change must be visible within a few seconds."""
    deadline = time.monotonic() + timeout * wsg.TIME_SCALE
    while True:
        if pred():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)


def call(gw, user, password, use_digest=True):
    m = wsg.marker()
    r = wsg.post(gw.url("/services/Echo"), wsg.build(user, password, use_digest=use_digest,
                                                     message=m))
    return r, m


def accepted(gw, user, password):
    r, m = call(gw, user, password)
    return r.status_code == 200 and wsg.echoed(r) == m


def rejected(gw, user, password):
    r, _ = call(gw, user, password)
    return r.status_code == 500 and wsg.wss_code(r) == "FailedAuthentication"


def test_user_passwd_takes_effect(gateway):
    old, new = "dave-Old-Pw-31", "dave-New-Pw-64"
    wsg.SENT_SECRETS.update([old, new])
    gateway.cli_ok("user", "add", "dave", "--role", "echo-users", stdin=old + "\n")
    assert eventually(lambda: accepted(gateway, "dave", old))
    gateway.cli_ok("user", "passwd", "dave", stdin=new + "\n")
    assert eventually(lambda: accepted(gateway, "dave", new)), "new password not accepted"
    assert eventually(lambda: rejected(gateway, "dave", old)), "old password still accepted"


def test_role_add_grant_revoke_take_effect(gateway, stub):
    pw = "erin-Pw-77aa"
    wsg.SENT_SECRETS.add(pw)
    gateway.cli_ok("role", "add", "auditors")
    gateway.cli_ok("user", "add", "erin", stdin=pw + "\n")
    assert rejected(gateway, "erin", pw)
    gateway.cli_ok("role", "grant", "erin", "echo-users")
    gateway.cli_ok("role", "grant", "erin", "auditors")
    assert user_list(gateway)["erin"][0] == ["auditors", "echo-users"]
    assert eventually(lambda: accepted(gateway, "erin", pw)), "grant not effective"
    r, m = call(gateway, "erin", pw)
    assert r.status_code == 200
    rec = stub.find(m)[0]
    assert [wsg.header_text(v) for v in wsg.header_values(rec, "X-WSS-Roles")] == \
        ["auditors,echo-users"]
    gateway.cli_ok("role", "revoke", "erin", "echo-users")
    assert user_list(gateway)["erin"][0] == ["auditors"]
    assert eventually(lambda: rejected(gateway, "erin", pw)), "revoke not effective"


def test_user_del_takes_effect(gateway):
    pw = "frank-Pw-0c0c"
    wsg.SENT_SECRETS.add(pw)
    gateway.cli_ok("user", "add", "frank", "--role", "echo-users", stdin=pw + "\n")
    assert eventually(lambda: accepted(gateway, "frank", pw))
    gateway.cli_ok("user", "del", "frank")
    assert "frank" not in user_list(gateway)
    assert eventually(lambda: rejected(gateway, "frank", pw)), "deleted user still accepted"


def test_cli_writes_queue_on_admin_role_row(configured):
    """Every CLI write takes the admin role's row first, as every management API write does,
    so the two queue instead of deadlocking on user and role rows locked in other orders."""
    pw = "gina-Pw-5e5e"
    wsg.SENT_SECRETS.add(pw)
    configured.cli_ok("user", "add", "gina", stdin=pw + "\n")
    if "admin" not in configured.db.sql("SELECT name FROM roles", "wssgate").split():
        configured.cli_ok("role", "add", "admin")
    db = configured.db
    holder = subprocess.Popen(
        ["mariadb", "--no-defaults", "--socket=" + db.socket, "-u", db.user, "--batch", "--unbuffered",
         "--skip-column-names", "wssgate"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=wsg.clean_env())
    try:
        holder.stdin.write("START TRANSACTION;\n"
                           "SELECT 'locked' FROM roles WHERE name = 'admin' FOR UPDATE;\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"
        results = {}
        worker = threading.Thread(target=lambda: results.setdefault(
            "r", configured.cli("role", "grant", "gina", "echo-users")))
        worker.start()
        # Under the harness's query_timeout (10 s), after which the CLI would give up.
        worker.join(min(1.5 * wsg.TIME_SCALE, 5))
        assert worker.is_alive(), "role grant did not wait for the admin role's row"
        assert "echo-users" not in user_list(configured)["gina"][0]
        holder.stdin.write("COMMIT;\n")
        holder.stdin.flush()
        worker.join(30 * wsg.TIME_SCALE)
        assert not worker.is_alive(), "role grant still waiting after the lock was released"
        assert results["r"].returncode == 0, results["r"].err
        assert user_list(configured)["gina"][0] == ["echo-users"]
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


# ---------------------------------------------------------------- where the data comes from

def data_paths(out):
    """--check-config's "wssgate: schema|dashboard PATH (ORIGIN)" lines as {what: (path, origin)}."""
    return {m.group(1): (m.group(2), m.group(3))
            for m in re.finditer(r"^wssgate: (schema|dashboard) (\S+) \(([^)]+)\)", out, re.M)}


def test_build_tree_binary_uses_source_tree_from_any_cwd(configured, tmp_path):
    """The uninstalled src/wssgate finds the source tree's schema and dashboard by its own
    location, whatever the working directory; a copy of it elsewhere (an installed binary) uses
    $(pkgdatadir) and never the tree it was built in."""
    src = os.path.realpath(wsg.TOP_SRC)
    for cwd in ("/", str(tmp_path)):
        r = subprocess.run([wsg.WSSGATE, "--config", configured.config, "--check-config"],
                           capture_output=True, text=True, cwd=cwd, env=wsg.clean_env())
        assert r.returncode == 0, r.stderr
        assert data_paths(r.stdout) == {
            "schema": (os.path.join(src, "schemas", "userstore.sql"), "build tree"),
            "dashboard": (os.path.join(src, "dashboard"), "build tree")}, r.stdout
    copy = tmp_path / "sbin" / "wssgate"
    copy.parent.mkdir()
    shutil.copy2(wsg.WSSGATE, copy)
    # Run from the source tree: a working directory holding schemas/ changes nothing.
    r = subprocess.run([str(copy), "--config", configured.config, "--check-config"],
                       capture_output=True, text=True, cwd=src, env=wsg.clean_env())
    assert r.returncode == 0, r.stderr
    datadir = os.environ["WSG_PKGDATADIR"]
    assert data_paths(r.stdout) == {
        "schema": (os.path.join(datadir, "userstore.sql"), "installed"),
        "dashboard": (os.path.join(datadir, "dashboard"), "installed")}, r.stdout


def test_config_keys_name_schema_and_dashboard(configured, tmp_path):
    """userstore.schema_file and management.dashboard_dir win over both defaults; a key naming
    nothing fails --check-config with file and key."""
    schema = tmp_path / "my.sql"
    shutil.copy(os.path.join(wsg.TOP_SRC, "schemas", "userstore.sql"), schema)
    text = open(configured.config).read()
    text = text.replace("userstore = {", 'userstore = { schema_file = "%s";' % schema, 1)
    text = text.replace("management = {", 'management = { dashboard_dir = "%s";' % tmp_path, 1)
    path = os.path.join(configured.dir, "keys.conf")  # beside db.pass and the keys
    with open(path, "w") as f:
        f.write(text)
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 0, r.err
    assert data_paths(r.out) == {"schema": (str(schema), "config"),
                             "dashboard": (str(tmp_path), "config")}, r.out
    r = configured.cli("db", "init", config=path)
    assert r.returncode == 0, r.err
    schema.unlink()
    r = configured.cli("db", "init", config=path)
    assert r.returncode == 1 and str(schema) in r.err, r.err
    r = configured.cli("--check-config", config=path)
    assert r.returncode == 1, r.out
    assert "keys.conf: userstore.schema_file: %s is not a readable file" % schema in r.err, r.err


# ---------------------------------------------------------------- passwords on a terminal

def cli_pty(configured, *args):
    return pty_util.Pty([wsg.WSSGATE, "--config", configured.config] + list(args),
                        wsg.clean_env(), cwd=wsg.WORK)


def test_user_add_and_passwd_prompt_on_a_terminal(gateway):
    """On a terminal, user add / user passwd prompt (twice, echo off) instead of waiting
    silently with the typed password on the screen."""
    name, pw, pw2 = "tty-user", "Tty-User-Pw-31", "Tty-User-Pw-32"
    wsg.SENT_SECRETS.update([pw, pw2])
    t = cli_pty(gateway, "user", "add", name, "--role", "echo-users")
    try:
        t.expect("New password for %s: " % name)
        assert not t.echo_on(), "echo is on at the password prompt"
        t.send(pw + "\n")
        t.expect("Re-enter the password: ")
        t.send(pw + "x\n")
        t.expect("the passwords do not match")
        assert os.WEXITSTATUS(t.finish()) == 1, t.seen
        assert t.echo_on(), "echo not restored"
        assert pw.encode() not in t.seen, t.seen
    finally:
        t.close()
    assert name not in user_list(gateway)
    t = cli_pty(gateway, "user", "add", name, "--role", "echo-users")
    try:
        t.expect("New password for %s: " % name)
        t.send(pw + "\n")
        t.expect("Re-enter the password: ")
        t.send(pw + "\n")
        t.expect("added user %s" % name)
        assert os.WEXITSTATUS(t.finish()) == 0, t.seen
        assert pw.encode() not in t.seen, t.seen
    finally:
        t.close()
    assert eventually(lambda: accepted(gateway, name, pw))
    t = cli_pty(gateway, "user", "passwd", name)
    try:
        t.expect("New password for %s: " % name)
        t.send(pw2 + "\n")
        t.expect("Re-enter the password: ")
        t.send(pw2 + "\n")
        t.expect("changed the password of %s" % name)
        assert os.WEXITSTATUS(t.finish()) == 0, t.seen
        assert pw2.encode() not in t.seen, t.seen
    finally:
        t.close()
    assert eventually(lambda: accepted(gateway, name, pw2))
    gateway.cli_ok("user", "del", name)


def test_password_from_a_pipe_is_one_line(configured):
    r = configured.cli("user", "add", "pipe-empty", stdin="\n")
    assert r.returncode == 1 and r.err == "wssgate: the password is empty\n", r.err
    r = configured.cli("user", "add", "pipe-none", stdin="")
    assert r.returncode == 1 and r.err == "wssgate: no password on standard input\n", r.err
    assert "pipe-empty" not in user_list(configured)


def test_every_change_says_what_it_did(configured):
    pw = "said-Pw-4711"
    wsg.SENT_SECRETS.add(pw)
    steps = [(("role", "add", "said-role"), "added role said-role\n"),
             (("user", "add", "said-user"), "added user said-user\n"),
             (("role", "grant", "said-user", "said-role"), "granted role said-role to said-user\n"),
             (("role", "revoke", "said-user", "said-role"),
              "revoked role said-role from said-user\n"),
             (("user", "passwd", "said-user"), "changed the password of said-user\n"),
             (("user", "del", "said-user"), "deleted user said-user\n")]
    for args, out in steps:
        r = configured.cli_ok(*args, stdin=pw + "\n")
        assert r.out == out, (args, r.out)


def test_max_connections_zero_does_not_warn(configured, mariadb, stub):
    """limits.max_connections = 0 (unlimited) is a documented choice: no warning at start."""
    g = wsg.Gateway(configured.dir, mariadb, stub, name="gw00-unlimited",
                    limits={"max_connections": "0"})
    g.write_config()
    g.start()
    try:
        text = g.proc.stderr_text()
    finally:
        g.stop()
    assert "open file limit" in text, text  # the start-up line it follows
    assert "max_connections" not in text, text
