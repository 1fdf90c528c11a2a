"""Session fixtures: one work dir, one private MariaDB, one stub upstream, one gateway.

Each is started on first use and always stopped at session end (wsg.py adds atexit/SIGTERM
backstops). Gateway stderr, logs, config and CLI output stay in the work dir for debugging.
"""

import os

import pytest

import wsg


@pytest.fixture(scope="session")
def workdir():
    return wsg.fresh_workdir()


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
