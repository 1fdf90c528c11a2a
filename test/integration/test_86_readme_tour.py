"""README.md's tour, run as written: its shell block goes to bash against a gateway of its own
with the demo's users (alice / alice-secret, admin / admin-secret), the demo's addresses
replaced by this gateway's. A README change that breaks a step fails here."""

import os
import re
import subprocess

import pytest

import mgmt_util as mu
import wsg

DATABASE = "wssgate_tour"
README = os.path.join(wsg.TOP_SRC, "README.md")


def tour_block():
    """The first ```sh block after the heading "## A tour"."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## A tour\n.*?^```sh\n(.*?)^```$", text, re.M | re.S)
    assert m, "README.md has no shell block under '## A tour'"
    return m.group(1)


@pytest.fixture(scope="module")
def tour_gw(mariadb, stub, configured):
    gw = mu.MgmtGateway("tour", mariadb, stub, DATABASE)
    mu.setup_database(mariadb, gw)
    gw.cli_ok("role", "add", "echo-users")
    gw.cli_ok("user", "add", "admin", "--admin", stdin="admin-secret\n")
    gw.cli_ok("user", "add", "alice", "--role", "echo-users", stdin="alice-secret\n")
    wsg.SENT_SECRETS.update(["admin-secret", "alice-secret", "bob-secret-1"])
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


def test_readme_tour(tour_gw, tmp_path):
    script = tour_block()
    for demo in ("127.0.0.1:8280", "127.0.0.1:9164", "/tmp/req.xml"):
        assert demo in script, demo
    script = (script.replace("127.0.0.1:8280", "127.0.0.1:%d" % tour_gw.port)
              .replace("127.0.0.1:9164", "127.0.0.1:%d" % tour_gw.mgmt_port)
              .replace("/tmp/req.xml", str(tmp_path / "req.xml")))
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=wsg.TOP_SRC,
                       capture_output=True, text=True, timeout=120,
                       env=wsg.clean_env({"PATH": "/usr/bin:/bin"}))
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    # 1: zeep's PasswordDigest request came back from the Echo service.
    assert "hello" in out.split("\n")[0], out
    # 2: the first copy passed, the second is a replay.
    answers = re.findall(r"<soap:Envelope\b.*?</soap:Envelope>", out, re.S)
    assert len(answers) == 2, out
    assert "EchoResponse" in answers[0] and "Fault" not in answers[0], out
    assert "<faultcode>wsse:InvalidSecurity</faultcode>" in answers[1], out
    # 3: bob was added with his role and passes the data plane at once.
    assert '{"userId":"bob","status":"Added"}' in out, out
    resp = wsg.post(tour_gw.url("/services/Echo"), wsg.build("bob", "bob-secret-1", message=wsg.marker()))
    assert resp.status_code == 200, resp.text


def test_tour_gateway_stops_cleanly(tour_gw):
    assert mu.stop_checked(tour_gw) == []
