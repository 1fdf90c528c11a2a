#include "replay_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "err.h"
#include "hex.h"
#include "mem.h"
#include "metrics.h"

/*
 * The row key is the hex SHA-256 of the decoded nonce: fixed length for any
 * nonce up to WSG_WSSE_MAX_NONCE bytes, and plain ASCII, so no character set
 * conversion can touch it on the way to the server.
 *
 * One statement decides: MariaDB reports 1 affected row for an insert, 2 when
 * an expired row was taken over, and 0 when the live row was left as it was
 * (a replay). The connection is opened without CLIENT_FOUND_ROWS.
 */
static const char SQL_INSERT[] =
        "INSERT INTO replay_nonces (nonce, expires_at) VALUES (?, ?) "
        "ON DUPLICATE KEY UPDATE expires_at = "
        "IF(expires_at <= ?, VALUES(expires_at), expires_at)";
/* The retry after a conflict: on Galera it first waits until this node has
 * applied what the cluster committed before it (a no-op without wsrep). */
static const char SQL_INSERT_SYNCED[] =
        "SET STATEMENT wsrep_sync_wait = 7 FOR "
        "INSERT INTO replay_nonces (nonce, expires_at) VALUES (?, ?) "
        "ON DUPLICATE KEY UPDATE expires_at = "
        "IF(expires_at <= ?, VALUES(expires_at), expires_at)";
static const char SQL_PURGE[] =
        "DELETE FROM replay_nonces WHERE expires_at <= ? LIMIT 1000";

/*
 * A concurrent transaction on the same row won (error 1213, WSG_ERR_CONFLICT):
 * on Galera a write to the row certified before ours in the cluster's total
 * order, on one server an InnoDB deadlock. The winner was another copy's
 * insert or take-over (this copy is a replay) or the purge DELETE of the
 * expired row (this copy may be legitimate). So the statement runs once more
 * as a new transaction, after a causality wait (wsrep_sync_wait), so that it
 * sees the winner's commit: a live row is a replay, a deleted one is
 * inserted. It accepts only what a first attempt would: a write to the row
 * commits only if it saw every earlier committed write to it (certification
 * in total order, the applier aborting a local holder of the row's lock).
 * Without the wait, the retry could run before the node applied the winner
 * and fail certification against it again (seen in test_106_galera_replay).
 * A second conflict means yet another write won: refused as a replay (fail
 * closed), never reported as an outage.
 */
#define CONFLICT_TRIES 2

struct pending {
	struct wsg_db_pool *pool;
	char hex[SHA256_DIGEST_LENGTH * 2 + 1], exp[24], now[24];
	int tries;
	uint64_t *conflicts;
	wsg_replay_store_cb done;
	void *arg;
};

static void insert_done_cb(int status, struct wsg_db_result *res, void *arg);

static int
run_insert(struct pending *pd)
{
	struct wsg_db_param p[3];

	p[0] = (struct wsg_db_param){pd->hex, strlen(pd->hex)};
	p[1] = (struct wsg_db_param){pd->exp, strlen(pd->exp)};
	p[2] = (struct wsg_db_param){pd->now, strlen(pd->now)};
	pd->tries++;
	return wsg_db_query(pd->pool,
	                    pd->tries == 1 ? SQL_INSERT : SQL_INSERT_SYNCED, p,
	                    3, insert_done_cb, pd);
}

static void
insert_done_cb(int status, struct wsg_db_result *res, void *arg)
{
	struct pending *p = arg;

	if (status == WSG_OK && res->affected_rows == 0)
		status = WSG_ERR_REPLAY;
	wsg_db_result_free(res);
	if (status == WSG_ERR_CONFLICT) {
		wsg_metrics_inc(p->conflicts);
		if (p->tries < CONFLICT_TRIES) {
			status = run_insert(p);
			if (status == WSG_OK)
				return;
		} else {
			status = WSG_ERR_REPLAY;
		}
	}
	p->done(status, p->arg);
	free(p);
}

int
wsg_replay_store_insert(struct wsg_db_pool *pool, const unsigned char *key,
                        size_t len, int64_t expires_at, int64_t now,
                        uint64_t *conflicts, wsg_replay_store_cb done,
                        void *arg)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct pending *pd;
	int rc;

	if (pool == NULL || key == NULL || len == 0 || done == NULL)
		return WSG_ERR_INVAL;
	pd = wsg_mem_calloc(1, sizeof(*pd));
	SHA256(key, len, md);
	wsg_hex_encode(md, sizeof(md), pd->hex);
	snprintf(pd->exp, sizeof(pd->exp), "%" PRId64, expires_at);
	snprintf(pd->now, sizeof(pd->now), "%" PRId64, now);
	pd->pool = pool;
	pd->conflicts = conflicts;
	pd->done = done;
	pd->arg = arg;
	rc = run_insert(pd);
	if (rc != WSG_OK)
		free(pd);
	return rc;
}

static void
purge_done_cb(int status, struct wsg_db_result *res, void *arg)
{
	(void)status;
	(void)arg;
	wsg_db_result_free(res);
}

int
wsg_replay_store_purge(struct wsg_db_pool *pool, int64_t now)
{
	char nowbuf[24];
	struct wsg_db_param p;

	snprintf(nowbuf, sizeof(nowbuf), "%" PRId64, now);
	p = (struct wsg_db_param){nowbuf, strlen(nowbuf)};
	return wsg_db_query(pool, SQL_PURGE, &p, 1, purge_done_cb, NULL);
}
