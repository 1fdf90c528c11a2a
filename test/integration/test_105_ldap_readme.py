"""README.md's LDAP worked example, run as written (issue 19): the ```ldif, config and ```sh
blocks of its "## LDAP user store" section. A README change that breaks the example fails here.

Substitutions, and only these:
- LDIF: each `userPassword: {SSHA}…` becomes the slappasswd hash of the password named by
  the `# slappasswd -s PASSWORD` comment above it; the LDIF is loaded with slapadd into a
  private slapd (slapd_util.Slapd) whose suffix is the LDIF's first entry.
- Config: the host:port of `ldap.uri` becomes the private slapd's (its ldaps:// or ldap://
  listener, after the URI's scheme) and that of the route's upstream URL the stub upstream's;
  the files it names (`ca_file`, `bind_password_file`) are written under those relative names
  next to the config (the slapd's CA; the LDIF password of `bind_dn`, mode 0600). The test
  adds `listen`, `management = { enabled = false; }` and `log`, which the README leaves to
  conf/wssgate.conf.
- Shell block: the same URI change; `LDAPTLS_CACERT=<ca_file>` gets the CA file's absolute
  path; `-D DN -W` (a password prompt) becomes `-D DN -w PASSWORD` with the LDIF password
  of DN; 127.0.0.1:8280 becomes the gateway's address. Each `#   TEXT` line after a command
  is output the README promises: every one must be in the block's output.
Then the README's statements are checked: the upstream's X-WSS-User / X-WSS-Roles, dave
(excluded by user_filter) and a PasswordDigest token get FailedAuthentication, and the
config's user_filter finds alice but not dave."""

import os
import re
import shlex
import subprocess

import pytest

import slapd_util
import wsg

README = os.path.join(wsg.TOP_SRC, "README.md")
PLACEHOLDER = "userPassword: {SSHA}…"
URI = re.compile(r"(ldaps?)://[^/\"\s]+/")


def section():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## LDAP user store\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, "README.md has no '## LDAP user store' section"
    return m.group(1)


def blocks(text):
    """{"ldif": text, "sh": text, "config": text}: the section's one ```ldif block, one ```sh
    block and one plain block that holds the ldap group."""
    found = re.findall(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)
    out = {}
    for info, body in found:
        kind = info or ("config" if "ldap = {" in body else None)
        assert kind not in out, "more than one %s block" % kind
        out[kind] = body
    for kind in ("ldif", "sh", "config"):
        assert kind in out, "no %s block under '## LDAP user store'" % kind
    return out


def hashed_ldif(ldif):
    """(LDIF with real hashes, {DN: password}) from the `# slappasswd -s PW` comments."""
    passwords = {}
    entries = []
    for entry in ldif.strip().split("\n\n"):
        dn = re.match(r"dn: (.*)", entry).group(1)
        m = re.search(r"^# slappasswd -s (\S+)\n%s$" % re.escape(PLACEHOLDER), entry, re.M)
        if m:
            passwords[dn] = m.group(1)
            entry = entry.replace(PLACEHOLDER, "userPassword: "
                                  + slapd_util.slappasswd(m.group(1)))
        assert "{SSHA}…" not in entry, "a {SSHA}… without its slappasswd comment: " + dn
        entries.append(entry)
    return "\n\n".join(entries) + "\n", passwords


def config_value(config, key):
    m = re.search(r"\b%s = \"([^\"]*)\"" % key, config)
    assert m, "config has no %s" % key
    return m.group(1)


def slapd_uri(slapd, uri_match):
    return slapd.tls_uri if uri_match.group(1) == "ldaps" else slapd.uri


class Example:
    """The README's example: its blocks, a slapd with its LDIF, a gateway with its config."""

    def __init__(self, workdir, stub):
        text = section()
        self.blocks = blocks(text)
        self.prose = text
        ldif, self.passwords = hashed_ldif(self.blocks["ldif"])
        wsg.SENT_SECRETS.update(self.passwords.values())
        config = self.blocks["config"]
        self.bind_dn = config_value(config, "bind_dn")
        assert self.bind_dn in self.passwords, "bind_dn %s is no LDIF entry with a password" \
            % self.bind_dn
        suffix = re.match(r"dn: (.*)", ldif).group(1)
        self.slapd = slapd_util.Slapd(workdir, name="slapd-readme", ldif_text=ldif,
                                      suffix=suffix,
                                      service=(self.bind_dn, self.passwords[self.bind_dn]))
        self.dir = os.path.join(workdir, "ldap-readme")
        os.makedirs(self.dir, exist_ok=True)
        self.port = wsg.free_port()
        self.config = os.path.join(self.dir, "wssgate.conf")
        self.ca_file = os.path.join(self.dir, config_value(config, "ca_file"))
        self.audit_log = os.path.join(self.dir, "audit.log")
        self.stub = stub
        self.proc = None
        self.config_text = config

    def write(self):
        with open(self.slapd.ca_file) as src, open(self.ca_file, "w") as dst:
            dst.write(src.read())
        slapd_util.write_password_file(self.dir, config_value(self.config_text,
                                                              "bind_password_file"),
                                       self.passwords[self.bind_dn])
        config = URI.sub(lambda m: slapd_uri(self.slapd, m), self.config_text, count=1)
        assert config != self.config_text, "ldap.uri not found"
        up = re.sub(r'(upstream = \( ")http://[^/"]+', r"\g<1>http://127.0.0.1:%d"
                    % self.stub.port, config)
        assert up != config, "the route's upstream not found"
        with open(self.config, "w") as f:
            f.write('listen = ( { address = "127.0.0.1:%d"; } );\n'
                    "management = { enabled = false; };\n"
                    'log = { access_log = "access.log"; audit_log = "audit.log"; flush = 0; };\n'
                    % self.port + up)

    def shell(self):
        script = self.blocks["sh"]
        script = URI.sub(lambda m: slapd_uri(self.slapd, m), script)
        name = os.path.basename(self.ca_file)
        assert "LDAPTLS_CACERT=%s " % name in script, script
        script = script.replace("LDAPTLS_CACERT=%s " % name, "LDAPTLS_CACERT=%s "
                                % shlex.quote(self.ca_file))

        def password(m):
            assert m.group(1) in self.passwords, "no LDIF password for " + m.group(1)
            return "-D %s -w %s" % (m.group(1), shlex.quote(self.passwords[m.group(1)]))
        script = re.sub(r"-D (\S+) -W\b", password, script)
        assert "127.0.0.1:8280" in script, script
        return script.replace("127.0.0.1:8280", "127.0.0.1:%d" % self.port)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


@pytest.fixture(scope="module")
def example(workdir, stub):
    ex = Example(workdir, stub)
    try:
        ex.slapd.start()
        ex.write()
        r = wsg.run_cli(["--config", ex.config, "--check-config"])
        assert r.returncode == 0, r.out + r.err
        ex.proc = wsg.Proc("wssgate-ldap-readme", [wsg.WSSGATE, "--config", ex.config], ex.dir)
        wsg.wait_for("wssgate", lambda: wsg.port_open(ex.port), 60, ex.proc)
        yield ex
    finally:
        if ex.proc is not None:
            ex.proc.stop(timeout=30)
        ex.slapd.stop()


def promised_headers(prose):
    """{"X-WSS-User": value, "X-WSS-Roles": value} as the README's prose states them."""
    out = {}
    for name in ("X-WSS-User", "X-WSS-Roles"):
        m = re.search(r"`%s: ([^`]+)`" % name, prose)
        assert m, "the README does not say what %s the upstream gets" % name
        out[name] = m.group(1)
    return out


def wss_headers(record):
    """The X-WSS-User / X-WSS-Roles a request recorded by the stub upstream carried."""
    return {name: ",".join(wsg.header_text(v) for v in wsg.header_values(record, name))
            for name in ("X-WSS-User", "X-WSS-Roles")}


def user_password(example, user):
    return example.passwords["uid=%s,%s" % (user, config_value(example.blocks["config"],
                                                                "user_base"))]


def test_shell_block_as_written(example, stub):
    before = len(stub.requests())
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", example.shell()], cwd=wsg.TOP_SRC,
                       capture_output=True, text=True, timeout=120,
                       env=wsg.clean_env({"PATH": "/usr/bin:/bin"}))
    assert r.returncode == 0, r.stdout + r.stderr
    shown = re.findall(r"^#   (.+)$", example.blocks["sh"], re.M)
    assert shown, "the shell block shows no output"
    for line in shown:
        assert line in r.stdout, (line, r.stdout)
    # The request went through to the upstream with the headers the README names.
    assert "HTTP 200 " in r.stdout, r.stdout
    recs = stub.requests()[before:]
    assert len(recs) == 1, recs
    assert wss_headers(recs[0]) == promised_headers(example.prose)


def test_group_search_finds_the_roles(example):
    """The README's group filter for alice finds the roles X-WSS-Roles names (less
    management.admin_role, which comes from admin_group, not from a group of that name)."""
    config = example.blocks["config"]
    dn = "uid=alice," + config_value(config, "user_base")
    filt = config_value(config, "group_filter").replace("%s", dn)
    found = re.findall(r"^cn: (.*)$", example.slapd.search(config_value(config, "group_base"),
                                                           filt, "cn"), re.M)
    roles = promised_headers(example.prose)["X-WSS-Roles"].split(",")
    assert sorted(found) == [r for r in roles if r != "admin"]
    assert config_value(config, "admin_group") in found


def test_user_filter_excludes_dave(example):
    config = example.blocks["config"]
    base, filt = config_value(config, "user_base"), config_value(config, "user_filter")
    found = example.slapd.search(base, filt.replace("%s", "alice"), "1.1")
    assert re.findall(r"^dn: (.*)$", found, re.M) == ["uid=alice," + base]
    assert example.slapd.search(base, filt.replace("%s", "dave"), "1.1").strip() == ""
    # dave exists and his password is right: only the filter keeps him out.
    assert example.slapd.whoami("uid=dave," + base, user_password(example, "dave"))


def test_alice_password_text_passes(example, stub):
    m = wsg.marker()
    resp = wsg.post(example.url("/services/Echo"),
                    wsg.build("alice", user_password(example, "alice"), use_digest=False,
                              message=m))
    assert resp.status_code == 200, resp.text
    assert wsg.echoed(resp) == m
    recs = stub.find(m)
    assert len(recs) == 1, recs
    assert wss_headers(recs[0]) == promised_headers(example.prose)


@pytest.mark.parametrize("user,digest,reason", [
    ("dave", False, "unknown user"),
    ("alice", True, "PasswordDigest cannot be verified against the LDAP user store")],
    ids=["disabled-dave", "alice-digest"])
def test_failed_authentication(example, stub, user, digest, reason):
    """Right passwords: dave is kept out by user_filter alone (the audit log says unknown
    user, as the README says), alice's digest by the store."""
    m = wsg.marker()
    resp = wsg.post(example.url("/services/Echo"),
                    wsg.build(user, user_password(example, user), use_digest=digest, message=m))
    wsg.assert_wss_fault(resp, "FailedAuthentication")
    assert stub.find(m) == []
    audit = wsg.settled_text(example.audit_log)
    assert 'user=%s event=auth_failure reason="%s"' % (user, reason) in audit, audit
