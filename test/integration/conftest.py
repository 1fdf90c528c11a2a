"""Session fixtures: one work dir, one private MariaDB, one stub upstream, one gateway.

Each is started on first use and always stopped at session end (wsg.py adds atexit/SIGTERM
backstops). Gateway stderr, logs, config and CLI output stay in the work dir for debugging.
"""

import os

import pytest

import slapd_util
import wsg


@pytest.fixture(scope="session")
def workdir():
    return wsg.fresh_workdir()


@pytest.fixture(scope="session", autouse=True)
def valgrind_clean():
    """Under WSG_VALGRIND=1: no gateway process may have reported an error or a leak."""
    yield
    wsg.stop_all()
    bad = wsg.check_valgrind_logs()
    assert not bad, "valgrind reported errors, see " + ", ".join(bad)


@pytest.fixture(scope="session")
def wssgate_bin():
    assert os.access(wsg.WSSGATE, os.X_OK), "%s is not built" % wsg.WSSGATE
    return wsg.WSSGATE


@pytest.fixture(scope="session")
def mariadb(workdir):
    db = wsg.MariaDB(workdir)
    try:
        db.start()
        yield db
    finally:
        db.stop()


@pytest.fixture(scope="session")
def stub(workdir):
    s = wsg.Stub(workdir)
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def configured(workdir, wssgate_bin, mariadb, stub):
    """Config written, schema initialised (twice), harness users created; daemon not started."""
    gw = wsg.Gateway(workdir, mariadb, stub)
    gw.write_config()
    wsg.setup_database(mariadb, gw)
    return gw


@pytest.fixture(scope="session")
def gateway(configured):
    try:
        configured.start()
        yield configured
    finally:
        configured.stop()


@pytest.fixture
def http():
    return wsg.http_session()


@pytest.fixture(scope="session")
def slapd(workdir):
    """A private slapd with the directory of slapd_util.py (LDAP user store tests)."""
    s = slapd_util.Slapd(workdir)
    try:
        s.start()
        yield s
    finally:
        s.stop()


# ---------------------------------------------------------------- conformance gateways
#
# Extra gateways for test_50_conformance.py, started on first use and stopped at session
# end (test_50 stops them itself to check their stderr). All use the users of
# reference/wss-conformance.md §7 in the database wsg.REF_DATABASE.

REF_LIMITS = {"max_body_size": "262144"}  # room for a 64 KiB + 1 attribute (#53)


def _extra_gateway(configured, name, security=None):
    gw = wsg.Gateway(configured.dir, configured.db, configured.stub, name=name,
                     database=wsg.REF_DATABASE, security=security, limits=REF_LIMITS)
    gw.write_config()
    return gw


@pytest.fixture(scope="session")
def ref_store(configured):
    """The conformance users' database, created through a config that names it."""
    gw = _extra_gateway(configured, "wssgate-ref")
    wsg.setup_ref_database(configured.db, gw)
    return gw


def _run(gw):
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="session")
def ref_gateway(ref_store):
    """Default policy (strict_bsp = false), the reference users."""
    yield from _run(ref_store)


@pytest.fixture(scope="session")
def strict_gateway(ref_store):
    """security.strict_bsp = true."""
    yield from _run(_extra_gateway(ref_store, "wssgate-strict", {"strict_bsp": "true"}))


@pytest.fixture(scope="session")
def opaque_gateway(ref_store):
    """security.opaque_faults = true (CXF's SecurityError for every security fault)."""
    yield from _run(_extra_gateway(ref_store, "wssgate-opaque", {"opaque_faults": "true"}))


@pytest.fixture(scope="session")
def short_gateway(ref_store):
    """Short freshness windows and the smallest replay cache, so the replay-window (#40) and
    cache-bound (#42) cases run in seconds: created_ttl 10 s, future_ttl 5 s, 1000 nonces."""
    yield from _run(_extra_gateway(ref_store, "wssgate-short", {
        "created_ttl": "10", "future_ttl": "5", "timestamp_ttl": "10",
        "nonce_cache_max": "1000"}))


# ---------------------------------------------------------------- Galera cluster (#18)

@pytest.fixture(scope="session")
def cluster(workdir, wssgate_bin):
    """A private 3-node Galera cluster (scripts/cluster), removed at session end."""
    import galera
    c = galera.Cluster(workdir)
    try:
        c.start()
        yield c
    finally:
        c.remove()
