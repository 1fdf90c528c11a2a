"""security.replay_store = "mariadb" on a Galera cluster (#18, "A nonce is accepted at most
once across the cluster"): three gateways, each on a different node, get 50 copies of one token
at once. On Galera two nodes can each insert the same nonce row locally; the loser's commit
fails certification (error 1213). Exactly one copy must pass and every other copy must get the
replay fault (wsse:InvalidSecurity), never a Server fault, and the audit log must call it a
replay, not an unavailable store (src/replay_store.c retries a conflict once, then refuses)."""

import collections
import hashlib
import os
import threading
import time

import pytest

import galera
import wsg

SHARED = {"replay_store": '"mariadb"'}
COPIES = 50
ROUNDS = 300
# 100 rounds of 50 copies take about 5 s under ASan on 2 shared cores.
LOOP_SECONDS = 150
CONFLICT_COUNTERS = ("wsrep_local_cert_failures", "wsrep_local_bf_aborts")
SUMMARY = os.path.join(wsg.WORK, "test_106_galera_replay.txt")


@pytest.fixture(scope="module")
def gws(cluster, stub):
    d = os.path.join(cluster.dir, "gw106r")
    os.makedirs(d, exist_ok=True)
    out = []
    try:
        for i, node in enumerate(cluster.nodes):
            gw = wsg.Gateway(d, node, stub, name="gw106r%d" % (i + 1), security=SHARED)
            gw.write_config()
            if i == 0:
                galera.setup_database(cluster, gw)
            out.append(gw)
        for gw in out:
            gw.start()
        yield out
    finally:
        for gw in out:
            if gw.proc is not None and gw.proc.alive():
                gw.stop()


def kind(r):
    if isinstance(r, Exception):
        return "error: %s" % type(r).__name__
    if r.status_code == 200 and wsg.echoed(r) is not None:
        return "accepted"
    f = wsg.parse_fault(r.content) if r.status_code == 500 else None
    if f is not None and f.code == (wsg.WSSE_NS, "InvalidSecurity"):
        return "replay fault"
    return "HTTP %d %s" % (r.status_code, f.code[1] if f is not None else r.content[:120])


def conflicts(cluster):
    return sum(int(n.status(v) or 0) for n in cluster.nodes for v in CONFLICT_COUNTERS)


class Sender:
    """COPIES threads with a kept-alive connection each, released together per round."""

    def __init__(self, gws):
        self.gws = gws
        self.local = threading.local()
        self.start = threading.Barrier(COPIES + 1)
        self.end = threading.Barrier(COPIES + 1)
        self.body = None
        self.results = [None] * COPIES
        self.stop = False
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(COPIES)]
        for t in self.threads:
            t.start()

    def run(self, i):
        session = wsg.http_session()
        gw = self.gws[i % len(self.gws)]
        while True:
            self.start.wait()
            if self.stop:
                return
            try:
                self.results[i] = wsg.post(gw.url("/services/Echo"), self.body, session=session)
            except Exception as e:  # counted as an unexpected kind
                self.results[i] = e
            self.end.wait()

    def round(self, body):
        self.body = body
        self.start.wait(timeout=60 * wsg.TIME_SCALE)
        self.end.wait(timeout=120 * wsg.TIME_SCALE)
        return list(self.results)

    def close(self):
        self.stop = True
        self.start.wait(timeout=60)
        for t in self.threads:
            t.join(timeout=10)


def test_concurrent_copies_on_three_nodes_pass_exactly_once(cluster, gws):
    sender = Sender(gws)
    try:
        # Warm-up: keep-alive connections to every gateway and alice in each credential cache.
        for gw in gws:
            assert kind(wsg.post(gw.url("/services/Echo"), wsg.build("alice"))) == "accepted"
        sender.round(wsg.build("alice"))
        c0 = conflicts(cluster)
        t0 = time.monotonic()
        kinds = collections.Counter()
        accepted_per_round = collections.Counter()
        bad_rounds = []
        rounds = 0
        while rounds < ROUNDS and time.monotonic() - t0 < LOOP_SECONDS * wsg.TIME_SCALE:
            results = [kind(r) for r in sender.round(wsg.build("alice", nonce=os.urandom(16)))]
            rounds += 1
            kinds.update(results)
            n = results.count("accepted")
            accepted_per_round[n] += 1
            if n != 1 or results.count("replay fault") != COPIES - 1:
                bad_rounds.append((rounds, collections.Counter(results)))
        seconds = time.monotonic() - t0
    finally:
        sender.close()
    cert = conflicts(cluster) - c0
    summary = ("%d rounds of %d copies over 3 gateways on 3 Galera nodes in %.1f s: rounds by "
               "copies accepted %s; answers %s; certification conflicts and brute-force aborts "
               "on the nodes (%s): %d" % (rounds, COPIES, seconds, dict(accepted_per_round),
                                          dict(kinds), " + ".join(CONFLICT_COUNTERS), cert))
    with open(SUMMARY, "w") as f:
        f.write(summary + "\n")
    assert rounds == ROUNDS, "only %d rounds within the time bound: %s" % (rounds, summary)
    assert not bad_rounds, "%s\nfirst bad rounds: %s" % (summary, bad_rounds[:5])


def row_key(nonce):
    return hashlib.sha256(nonce).hexdigest()


def lose_on_node2(cluster, gw, nonce, event, winner_sql):
    """Sends a token with `nonce` to gw (on node 2) while a trigger holds its INSERT's row on
    node 2 (after the row was written, before the commit); meanwhile node 1 commits
    winner_sql on the same row, so node 2's applier aborts the gateway's transaction (1213).
    Returns the gateway's answer and how many brute-force aborts node 2 counted."""
    n1, n2 = cluster.nodes[0], cluster.nodes[1]
    key = row_key(nonce)
    n1.sql("DROP TRIGGER IF EXISTS t106_hold;\nDELIMITER //\n"
           "CREATE TRIGGER t106_hold AFTER %s ON replay_nonces FOR EACH ROW "
           "IF NEW.nonce = '%s' AND @@wsrep_node_name = 'node2' THEN SET @held = SLEEP(10); "
           "END IF //\nDELIMITER ;\n" % (event, key), "wssgate")
    try:
        aborts = int(n2.status("wsrep_local_bf_aborts"))
        answer = []
        t = threading.Thread(target=lambda: answer.append(
            wsg.post(gw.url("/services/Echo"), wsg.build("alice", nonce=nonce))))
        t.start()
        deadline = time.monotonic() + 20 * wsg.TIME_SCALE
        while "User sleep" not in n2.sql("SELECT STATE FROM information_schema.PROCESSLIST"):
            assert time.monotonic() < deadline, "the gateway's insert never reached the trigger"
            time.sleep(0.05)
        n1.sql(winner_sql % key, "wssgate")
        t.join(timeout=60 * wsg.TIME_SCALE)
        return answer[0], int(n2.status("wsrep_local_bf_aborts")) - aborts
    finally:
        n1.sql("DROP TRIGGER IF EXISTS t106_hold", "wssgate")


def test_a_copy_that_loses_to_another_nodes_insert_is_a_replay(cluster, gws):
    r, aborts = lose_on_node2(cluster, gws[1], os.urandom(16), "INSERT",
                              "INSERT INTO replay_nonces VALUES ('%s', UNIX_TIMESTAMP() + 600)")
    assert aborts >= 1, "the gateway's transaction was not aborted: the test proves nothing"
    assert kind(r) == "replay fault", (r.status_code, r.content[:300])


def test_a_copy_that_loses_to_the_purge_of_its_expired_row_is_accepted(cluster, gws):
    # The winner deleted an expired row: nobody accepted the nonce, so the retry inserts it.
    nonce = os.urandom(16)
    cluster.nodes[0].sql("INSERT INTO replay_nonces VALUES ('%s', 1)" % row_key(nonce), "wssgate")
    r, aborts = lose_on_node2(cluster, gws[1], nonce, "UPDATE",
                              "DELETE FROM replay_nonces WHERE nonce = '%s'")
    assert aborts >= 1, "the gateway's transaction was not aborted: the test proves nothing"
    assert kind(r) == "accepted", (aborts, r.status_code, r.content[:300])
    r = wsg.post(gws[2].url("/services/Echo"), wsg.build("alice", nonce=nonce))
    assert kind(r) == "replay fault", "the retry's row is live on every node"


def test_audit_calls_a_refused_copy_a_replay_never_an_unavailable_store(gws):
    texts = [wsg.settled_text(gw.audit_log) for gw in gws]
    for gw, text in zip(gws, texts):
        assert "shared replay store unavailable" not in text, gw.name
    refused = sum(t.count("nonce replayed") for t in texts)
    # The loop refused 49 copies per round; every one of them is in an audit log as a replay.
    assert refused >= ROUNDS * (COPIES - 1), refused


def test_zz_gateways_stop_cleanly(gws):
    for gw in gws:
        rc = gw.stop()
        err = gw.proc.stderr_text()
        assert rc == 0, "%s exited %s:\n%s" % (gw.name, rc, err[-3000:])
        assert not wsg.SANITIZER_RE.search(err), err[-3000:]
