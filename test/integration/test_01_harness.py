"""The test tools themselves, without the gateway: tools/wsse-request against the reference
digest vectors, the stub upstream, and zeep / node-soap talking to the stub directly (which
proves the clients, the WSDL and the stub agree before the gateway sits between them)."""

import base64
import os
import subprocess

import pytest

import wsg
import zeep_util

NONCE_00_0F = "AAECAwQFBgcICQoLDA0ODw=="

# reference/wss-conformance.md 7.1: (nonce, Created, password, digest)
VECTORS = [
    ("D1", "AAAAAAAAAAAAAAAAAAAAAA==", "2024-01-01T00:00:00Z", "secret",
     "FG9NQMhTD6Gkwl7sK53oKNX7SQM="),
    ("D2", NONCE_00_0F, "2024-01-01T00:00:00.000Z", "secret", "//ibx1D1VtrRLBI5fd/nFoXLzBc="),
    ("D3", NONCE_00_0F, "2024-01-01T00:00:00+00:00", "secret", "1yB1OIU8p7FQY94dLrqeXDLVpLQ="),
    ("D4", NONCE_00_0F, "2024-01-01T00:00:00Z", "pässwörd€", "GPFAjwDyb5SQp5Em0ga/KNxG/hU="),
    ("D5", NONCE_00_0F, "2024-01-01T00:00:00Z", " secret ", "P3nZrTCxsZHG9MOoWpW/9XwoFU4="),
    ("D6", NONCE_00_0F, "2024-01-01T00:00:00Z", "", "lOOq7i4tMaGxd2DRjwi36e0J4T8="),
    ("D7", "/+7dzLuqmYh3ZlVEMyIRAA==", "2024-06-30T23:59:59.999Z", "Pa$$w0rd<&>\"'",
     "foYndMwa2Z+sxAg6czANXDdagrs="),
    ("D8", NONCE_00_0F, "2024-01-01T00:00:00Z", "日本語パスワード", "lYhigfEySDpw5Bc+KUXAEDiVOI0="),
    ("D9", NONCE_00_0F, "2024-01-01T00:00:00.000Z", "pässwörd€", "nD33cPzbuk0qtiK9etheHCn6W4c="),
    ("D10", NONCE_00_0F, "2024-01-01T00:00:00Z", "secret", "vhkNh82r7E2rA9qMKzvKdpwqvjc="),
]


@pytest.mark.parametrize("vid,nonce,created,password,expected", VECTORS, ids=[v[0] for v in VECTORS])
def test_wsse_request_digest_vectors(vid, nonce, created, password, expected):
    assert wsg.wsse_request.digest(base64.b64decode(nonce), created, password) == expected


def test_wsse_request_cli_prints_d10_token():
    r = subprocess.run([os.path.join(wsg.TOP_SRC, "tools", "wsse-request"), "--digest",
                        "--user", "alice", "--password", "secret", "--nonce", NONCE_00_0F,
                        "--created", "2024-01-01T00:00:00Z"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert "#PasswordDigest\">vhkNh82r7E2rA9qMKzvKdpwqvjc=</wsse:Password>" in r.stdout
    assert ">%s</wsse:Nonce>" % NONCE_00_0F in r.stdout
    assert "<wsu:Created>2024-01-01T00:00:00Z</wsu:Created>" in r.stdout


def test_wsse_request_fresh_nonce_and_zulu_created():
    a = wsg.wsse_request.build_request("u", "p")
    b = wsg.wsse_request.build_request("u", "p")
    na = a.split("</wsse:Nonce>")[0].rsplit(">", 1)[1]
    nb = b.split("</wsse:Nonce>")[0].rsplit(">", 1)[1]
    assert na != nb and len(base64.b64decode(na)) == 16
    created = a.split("</wsu:Created>")[0].rsplit(">", 1)[1]
    assert created.endswith("Z") and created[:4].isdigit()


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_stub_echoes_in_request_version(stub, soap12):
    m = wsg.marker()
    r = wsg.post(stub.url("/Echo"), wsg.wsse_request.build_request("u", "p", soap12=soap12,
                                                                    message=m), soap12=soap12)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/soap+xml" if soap12 else "text/xml")
    assert wsg.echoed(r) == m
    rec = stub.find(m)
    assert len(rec) == 1 and rec[0]["path"] == "/Echo" and rec[0]["method"] == "POST"


def test_stub_fault_status_and_slow(stub):
    r = wsg.post(stub.url("/Fault"), wsg.wsse_request.build_request("u", "p"))
    assert r.status_code == 500 and wsg.parse_fault(r.content).code == (wsg.SOAP11_NS, "Server")
    r = wsg.post(stub.url("/Status/503"), "x")
    assert r.status_code == 503
    m = wsg.marker()
    r = wsg.post(stub.url("/Slow?s=0.2"), wsg.wsse_request.build_request("u", "p", message=m))
    assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.2 and wsg.echoed(r) == m


@pytest.mark.parametrize("binding", ["soap11", "soap12"])
def test_zeep_against_stub(stub, binding):
    m = wsg.marker() + " ü"
    client, cap = zeep_util.client("alice", "pw", use_digest=True, timestamp=True)
    svc = zeep_util.service(client, binding, stub.url("/Echo"))
    assert svc.Echo(message=m) == m
    assert b"UsernameToken" in cap.last_body


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_node_soap_against_stub(stub, soap12):
    m = wsg.marker()
    res = wsg.node_client({"wsdl": wsg.WSDL, "endpoint": stub.url("/Echo"), "user": "alice",
                           "password": "pw", "passwordType": "PasswordDigest",
                           "hasTimeStamp": True, "soap12": soap12, "message": m})
    assert res["ok"], res
    assert res["result"] == {"message": m}
    assert "PasswordDigest" in res["lastRequest"]


def lib_sh(script, env=None):
    """Runs bash with scripts/lib.sh sourced, then `script`."""
    return subprocess.run(["bash", "-c", '. "$WSG_TOP/scripts/lib.sh" && ' + script],
                          capture_output=True, text=True, timeout=60,
                          env=wsg.clean_env(dict({"WSG_TOP": wsg.TOP_SRC}, **(env or {}))))


def test_demo_build_output_goes_to_its_log(tmp_path):
    """scripts/demo's stages (run_logged with WSG_BUILD_LOG): the terminal gets no command
    output; a failure shows the log's tail and names the log, which holds everything."""
    log = str(tmp_path / "build.log")
    r = lib_sh("run_logged seq 1 500", {"WSG_BUILD_LOG": log})
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)
    r = lib_sh("run_logged sh -c 'seq 1000 1100; echo broken >&2; exit 3'",
               {"WSG_BUILD_LOG": log})
    assert r.returncode == 3, r
    assert r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert lines[-2] == "broken" and "1100" in lines and "1000" not in lines, lines
    assert lines[-1] == "==> failed (3): sh -c seq 1000 1100; echo broken >&2; exit 3 " \
        "(full log: %s)" % log, lines[-1]
    text = open(log).read().split()
    assert "1" in text and "500" in text and "1000" in text and "broken" in text
    # Without WSG_BUILD_LOG (scripts/test) the output stays on the terminal.
    r = lib_sh("run_logged seq 1 3")
    assert r.stdout == "1\n2\n3\n", r.stdout
