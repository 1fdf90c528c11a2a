"""Issue 13, item "bootstrap": a web page in the operator's browser must not create the first
admin. No CORS by default, `*` refused by --check-config while bootstrap_admin is on, the
management listener answers only to a Host naming it (421 otherwise), the bootstrap refuses
browser-made requests (Origin, cross-site Sec-Fetch-Site) and happens only while no admin has
ever existed in the store.

The drive-by itself: a page from another loopback origin in headless Chromium tried the
first login and read the admin's token before the fix.
"""

import http.server
import json
import os
import re
import secrets
import socket
import subprocess
import threading

import pytest

import mgmt_util as mu
import wsg

PW = "Boot-Pw-12345"
wsg.SENT_SECRETS.add(PW)


def admins(db, database):
    return db.sql("SELECT u.username FROM users u JOIN user_roles ur ON ur.user_id = u.id "
                  "JOIN roles r ON r.id = ur.role_id WHERE r.name = 'admin'", database).split()


@pytest.fixture(scope="module")
def gw(mariadb, stub, configured):
    g = mu.MgmtGateway("secboot", mariadb, stub, "wssgate_secboot",
                       mgmt={"server_names": '( "gw.example", "alias.example:8443" )'})
    mu.setup_database(mariadb, g)
    g.start()
    yield g
    problems = mu.stop_checked(g)
    assert not problems, problems


def fresh_store(db, g):
    db.sql("DROP DATABASE IF EXISTS `%s`;" % g.database)
    mu.setup_database(db, g)


def raw_request(port, text):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(text.encode("latin-1"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and b"Content-Length: " in data:
                head, _, body = data.partition(b"\r\n\r\n")
                n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                if len(body) >= n:
                    break
    return data


def test_sec_bootstrap_cors_default(gw):
    for path in ("conf/wssgate.conf", "scripts/demo", "scripts/lib.sh"):
        text = open(os.path.join(wsg.TOP_SRC, path)).read()
        assert not re.search(r'cors_origins\s*=\s*\(\s*"\*"', text), path
    r = gw.request("OPTIONS", "/login", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers


def test_sec_bootstrap_cors_star_refused_by_check_config(gw):
    text = open(gw.config).read()
    for mode, ok in (('"loopback"', False), ('"any"', False), ('"off"', True)):
        path = os.path.join(gw.dir, "star-%s.conf" % mode.strip('"'))
        with open(path, "w") as f:
            f.write(text.replace("management = { ",
                                 'management = { cors_origins = ( "*" ); bootstrap_admin = %s; '
                                 % mode))
        r = gw.cli("--check-config", config=path)
        if ok:
            assert r.returncode == 0, r.err
        else:
            assert r.returncode == 1, (mode, r.returncode, r.err)
            assert "cors_origins" in r.err and os.path.basename(path) in r.err, r.err


def test_sec_bootstrap_host_check(gw):
    port = gw.mgmt_port
    for host in ("evil.example", "evil.example:%d" % port, "127.0.0.2:%d" % port,
                 "127.0.0.1:%d" % (port + 1), "127.0.0.1", "gw.example.evil",
                 "alias.example:8444", "alias.example"):
        for path in ("/login", "/users", ""):
            r = gw.request("GET", path, headers={"Host": host})
            assert r.status_code == 421, (host, path, r.status_code, r.content)
            assert r.headers.get("Content-Type") == "application/json", r.headers
            assert list(r.json()) == ["Error"], r.content
        r = gw.http.get("http://127.0.0.1:%d/health" % port, headers={"Host": host}, timeout=60)
        assert r.status_code == 421, (host, r.status_code)
    for host in ("127.0.0.1:%d" % port, "localhost:%d" % port, "LOCALHOST:%d" % port,
                 "gw.example", "gw.example:%d" % port, "GW.example:1234", "alias.example:8443"):
        r = gw.request("GET", "/users", headers={"Host": host})
        assert r.status_code == 401, (host, r.status_code, r.content)
        r = gw.http.get("http://127.0.0.1:%d/health" % port, headers={"Host": host}, timeout=60)
        assert r.status_code == 200, (host, r.status_code)
    data = raw_request(port, "GET /management/users HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 "), data[:200]


def test_sec_bootstrap_refuses_origin(mariadb, gw):
    fresh_store(mariadb, gw)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Origin": "http://127.0.0.1:%d" % gw.mgmt_port},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        name = "drive-%s" % secrets.token_hex(3)
        r = gw.request("GET", "/login", auth=(name, PW), headers=headers)
        assert r.status_code == 401, (headers, r.status_code, r.content)
        assert admins(mariadb, gw.database) == [], headers
        assert mariadb.sql("SELECT COUNT(*) FROM users", gw.database).strip() == "0"
    lines = [l for l in gw.audit_lines() if "event=bootstrap_refused" in l]
    assert any("Origin" in l for l in lines), lines
    assert any("Sec-Fetch-Site" in l for l in lines), lines
    # What a person types (curl, wssgatectl, the address bar) still bootstraps.
    r = gw.request("GET", "/login", auth=("first", PW), headers={"Sec-Fetch-Site": "none"})
    assert r.status_code == 200, (r.status_code, r.content)
    assert admins(mariadb, gw.database) == ["first"]


def test_sec_bootstrap_only_once(mariadb, gw):
    fresh_store(mariadb, gw)
    gw.login("boss0", PW)
    assert admins(mariadb, gw.database) == ["boss0"]
    gw.cli_ok("user", "del", "boss0")
    assert admins(mariadb, gw.database) == []
    r = gw.request("GET", "/login", auth=("boss1", PW))
    assert r.status_code == 401, (r.status_code, r.content)
    assert mariadb.sql("SELECT COUNT(*) FROM users", gw.database).strip() == "0"
    # The offline CLI recovers.
    gw.cli_ok("user", "add", "boss2", "--admin", stdin=PW + "\n")
    gw.login("boss2", PW)
    # A store whose admin came from the CLI (or that had one before the upgrade) is closed too.
    fresh_store(mariadb, gw)
    gw.cli_ok("user", "add", "cliadmin", "--admin", stdin=PW + "\n")
    gw.cli_ok("user", "del", "cliadmin")
    r = gw.request("GET", "/login", auth=("boss3", PW))
    assert r.status_code == 401, (r.status_code, r.content)
    # A store upgraded from version 2 that has an admin: `db init` closes it.
    fresh_store(mariadb, gw)
    gw.cli_ok("user", "add", "old", "--admin", stdin=PW + "\n")
    mariadb.sql("DROP TABLE bootstrap; DELETE FROM schema_version WHERE version = 3;",
                gw.database)
    gw.cli_ok("db", "init")
    gw.cli_ok("user", "del", "old")
    r = gw.request("GET", "/login", auth=("boss4", PW))
    assert r.status_code == 401, (r.status_code, r.content)


DRIVE_BY_JS = r"""
const { chromium } = require('playwright-core');
(async () => {
	const browser = await chromium.launch({
		executablePath: '/usr/bin/chromium', headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--disable-component-update', '--disable-sync', '--no-first-run'],
	});
	let out;
	try {
		const page = await browser.newPage();
		await page.goto(process.env.WSG_PAGE);
		out = await page.evaluate(async (target) => {
			try {
				const r = await fetch(target, { headers: { Authorization: 'Basic ' +
					btoa('webpage:' + 'Drive-By-Pw-1') } });
				return { status: r.status, body: await r.text() };
			} catch (e) {
				return { error: String(e) };
			}
		}, process.env.WSG_TARGET);
	} finally {
		await browser.close();
	}
	console.log(JSON.stringify(out));
})();
"""


def test_sec_bootstrap_browser_drive_by(mariadb, gw):
    """A page from another loopback origin, open in headless Chromium, tries the bootstrap."""
    modules = wsg.node_modules(os.path.join("test", "e2e"))
    if not os.path.isdir(os.path.join(modules, "playwright-core")) or \
            not os.access("/usr/bin/chromium", os.X_OK):
        pytest.skip("needs /usr/bin/chromium and `npm ci` in test/e2e")
    fresh_store(mariadb, gw)
    wsg.SENT_SECRETS.add("Drive-By-Pw-1")

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>cat pictures</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    script = os.path.join(gw.dir, "drive_by.js")
    with open(script, "w") as f:
        f.write(DRIVE_BY_JS)
    try:
        env = wsg.clean_env({"NODE_PATH": modules,
                             "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
                             "WSG_PAGE": "http://127.0.0.2:%d/" % srv.server_address[1],
                             "WSG_TARGET": gw.murl("/login")})
        r = subprocess.run(["node", script], capture_output=True, text=True, timeout=300,
                           env=env)
    finally:
        srv.shutdown()
    assert r.returncode == 0, (r.stdout, r.stderr)
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert "AccessToken" not in seen.get("body", ""), seen
    assert admins(mariadb, gw.database) == [], seen
    assert mariadb.sql("SELECT COUNT(*) FROM users", gw.database).strip() == "0"
