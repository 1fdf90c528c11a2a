"""scripts/cluster (#18): a private 3-node Galera cluster on 127.0.0.1 that replicates
synchronously, on which a gateway pointed at any node serves the users created through another."""

import os

import pytest

import galera
import wsg


@pytest.fixture(scope="module")
def gw_node2(cluster, stub):
    d = os.path.join(cluster.dir, "gw106")
    os.makedirs(d, exist_ok=True)
    gw = wsg.Gateway(d, cluster.nodes[1], stub, name="gw106")
    gw.write_config()
    galera.setup_database(cluster, gw)
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def test_three_synced_nodes_in_one_primary_component(cluster):
    lines = cluster.status().splitlines()
    assert len(lines) == 3, lines
    for line in lines:
        assert "Synced Primary size=3" in line, lines
        assert " 127.0.0.1:" in line


def test_a_write_on_one_node_is_read_on_the_others(cluster):
    cluster.nodes[0].sql("CREATE DATABASE IF NOT EXISTS t106; CREATE TABLE IF NOT EXISTS t106.x "
                         "(k INT PRIMARY KEY, v VARCHAR(20)); REPLACE INTO t106.x VALUES (1, 'one')")
    for node in cluster.nodes[1:]:
        # wsrep_sync_wait: the read waits until the node applied what was committed before it
        assert node.sql("SET SESSION wsrep_sync_wait = 1; SELECT v FROM t106.x WHERE k = 1").strip() == "one"


def test_gateway_on_another_node_serves_users_made_through_node_1(gw_node2):
    r = wsg.post(gw_node2.url("/services/Echo"), wsg.build("alice"))
    assert r.status_code == 200 and wsg.echoed(r) is not None, r.content[:300]
