#include "replay_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "err.h"
#include "hex.h"
#include "mem.h"

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
static const char SQL_PURGE[] =
        "DELETE FROM replay_nonces WHERE expires_at <= ? LIMIT 1000";

struct pending {
	wsg_replay_store_cb done;
	void *arg;
};

static void
insert_done_cb(int status, struct wsg_db_result *res, void *arg)
{
	struct pending *p = arg;

	if (status == WSG_OK && res->affected_rows == 0)
		status = WSG_ERR_REPLAY;
	wsg_db_result_free(res);
	p->done(status, p->arg);
	free(p);
}

int
wsg_replay_store_insert(struct wsg_db_pool *pool, const unsigned char *key,
                        size_t len, int64_t expires_at, int64_t now,
                        wsg_replay_store_cb done, void *arg)
{
	char hex[SHA256_DIGEST_LENGTH * 2 + 1], exp[24], nowbuf[24];
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct wsg_db_param p[3];
	struct pending *pd;
	int rc;

	if (pool == NULL || key == NULL || len == 0 || done == NULL)
		return WSG_ERR_INVAL;
	SHA256(key, len, md);
	wsg_hex_encode(md, sizeof(md), hex);
	snprintf(exp, sizeof(exp), "%" PRId64, expires_at);
	snprintf(nowbuf, sizeof(nowbuf), "%" PRId64, now);
	p[0] = (struct wsg_db_param){hex, sizeof(hex) - 1};
	p[1] = (struct wsg_db_param){exp, strlen(exp)};
	p[2] = (struct wsg_db_param){nowbuf, strlen(nowbuf)};
	pd = wsg_mem_calloc(1, sizeof(*pd));
	pd->done = done;
	pd->arg = arg;
	rc = wsg_db_query(pool, SQL_INSERT, p, 3, insert_done_cb, pd);
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
