#include "lockout_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "err.h"
#include "mem.h"

/*
 * One statement counts and decides, so concurrent failures on any number
 * of gateways are each counted once (the row lock orders them on one
 * server; on Galera a concurrent write on another node fails certification
 * and applies nothing). last_result is assigned first, from the row as it
 * was: 1 counted, 2 this failure started the lock, 3 locked already (not
 * counted). MariaDB evaluates the UPDATE list left to right, each
 * assignment seeing the ones before, so the others follow last_result.
 * LAST_INSERT_ID(expr) hands the same code back in the OK packet (the
 * table has no AUTO_INCREMENT column, so nothing else sets it).
 */
static const char SQL_FAIL[] =
        "INSERT INTO lockouts (username, plane, window_start, failures, "
        "locked_until, last_result) VALUES (?, ?, CAST(? AS SIGNED), "
        "IF(CAST(? AS SIGNED) <= 1, 0, 1), "
        "IF(CAST(? AS SIGNED) <= 1, CAST(? AS SIGNED), 0), "
        "LAST_INSERT_ID(IF(CAST(? AS SIGNED) <= 1, 2, 1))) "
        "ON DUPLICATE KEY UPDATE "
        "last_result = LAST_INSERT_ID(IF(locked_until > "
        "VALUES(window_start), 3, IF(IF(window_start + CAST(? AS SIGNED) "
        "<= VALUES(window_start), 0, failures) + 1 >= CAST(? AS SIGNED), "
        "2, 1))), "
        "failures = IF(last_result = 3, failures, IF(last_result = 2, 0, "
        "IF(window_start + CAST(? AS SIGNED) <= VALUES(window_start), 0, "
        "failures) + 1)), "
        "window_start = IF(last_result = 2 OR (last_result = 1 AND "
        "window_start + CAST(? AS SIGNED) <= VALUES(window_start)), "
        "VALUES(window_start), window_start), "
        "locked_until = IF(last_result = 2, CAST(? AS SIGNED), "
        "locked_until)";
#define FAIL_PARAMS 12
/*
 * Attempts at a count that keeps losing conflicts. A lost one applied
 * nothing, so each further attempt still counts the failure once. On
 * Galera every failure of one user writes the same row from every node:
 * 10 simultaneous failures on three nodes lost some counts with one
 * immediate retry, and even with three (test_109), as each node's
 * attempt is aborted by the next write replicated from the others. So
 * attempt n waits n times 5 to 20 ms first, which spreads them out.
 */
#define FAIL_TRIES 6
#define BACKOFF_MS 5

/* Milliseconds to wait before attempt `tries` + 1: jitter from the clock
 * is enough to keep the nodes' attempts apart. */
static long
backoff_ms(int tries)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return tries * (BACKOFF_MS + ts.tv_nsec / 1000 % (BACKOFF_MS * 3));
}

static const char SQL_CHECK[] =
        "SELECT locked_until > CAST(? AS SIGNED) FROM lockouts "
        "WHERE username = ? AND plane = ?";
static const char SQL_WAS_LOCKED[] =
        "SELECT 1 FROM lockouts WHERE username = ? AND "
        "locked_until > CAST(? AS SIGNED) LIMIT 1";
static const char SQL_UNLOCK[] = "DELETE FROM lockouts WHERE username = ?";

int64_t
wsg_lockout_store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The plane column: 0 the data plane, 1 the management API. */
static const char *
plane_of(enum wsg_lockout_kind kind)
{
	return kind == WSG_LOCKOUT_MGMT_USER ? "1" : "0";
}

static size_t
name_len_of(const char *name, size_t len)
{
	/* Longer names are never counted: ask for an empty one instead,
	 * which no row has. */
	return name == NULL || len > WSG_LOCKOUT_MAX_KEY ? 0 : len;
}

/* The numbers a statement needs, as text. */
struct numbers {
	char now[24], win[24], max[24], until[24];
};

static void
check_params(struct wsg_db_param *prm, struct numbers *n,
             enum wsg_lockout_kind kind, const char *name, size_t len,
             int64_t now_ms)
{
	snprintf(n->now, sizeof(n->now), "%" PRId64, now_ms);
	prm[0] = (struct wsg_db_param){n->now, strlen(n->now)};
	prm[1] = (struct wsg_db_param){name != NULL ? name : "",
	                               name_len_of(name, len)};
	prm[2] = (struct wsg_db_param){plane_of(kind), 1};
}

/* WSG_ERR_INVAL when nothing is to be counted (policy off, name too long). */
static int
fail_params(struct wsg_db_param *prm, struct numbers *n,
            enum wsg_lockout_kind kind, const struct wsg_lockout_conf *p,
            const char *name, size_t len, int64_t now_ms)
{
	struct wsg_db_param now, win, max, until;

	if (p->max_failures == 0 || name == NULL || len == 0 ||
	    len > WSG_LOCKOUT_MAX_KEY)
		return WSG_ERR_INVAL;
	snprintf(n->now, sizeof(n->now), "%" PRId64, now_ms);
	snprintf(n->win, sizeof(n->win), "%" PRId64, p->window * 1000);
	snprintf(n->max, sizeof(n->max), "%u", p->max_failures);
	snprintf(n->until, sizeof(n->until), "%" PRId64,
	         now_ms + p->duration * 1000);
	now = (struct wsg_db_param){n->now, strlen(n->now)};
	win = (struct wsg_db_param){n->win, strlen(n->win)};
	max = (struct wsg_db_param){n->max, strlen(n->max)};
	until = (struct wsg_db_param){n->until, strlen(n->until)};
	prm[0] = (struct wsg_db_param){name, len};
	prm[1] = (struct wsg_db_param){plane_of(kind), 1};
	prm[2] = now;
	prm[3] = max;
	prm[4] = max;
	prm[5] = until;
	prm[6] = max;
	prm[7] = win;
	prm[8] = max;
	prm[9] = win;
	prm[10] = win;
	prm[11] = until;
	return WSG_OK;
}

static enum wsg_lockout_result
result_of(const struct wsg_db_result *res)
{
	switch (res->insert_id) {
	case 2: return WSG_LOCKOUT_STARTED;
	case 3: return WSG_LOCKOUT_LOCKED;
	default: return WSG_LOCKOUT_COUNTED;
	}
}

static int
locked_of(const struct wsg_db_result *res)
{
	return res->nrows > 0 && res->ncols > 0 && res->cells[0] != NULL &&
	       strcmp(res->cells[0], "1") == 0;
}

/* ---- asynchronous ---- */

struct check {
	wsg_lockout_store_check_cb done;
	void *arg;
};

static void
check_done_cb(int status, struct wsg_db_result *res, void *arg)
{
	struct check *c = arg;
	int locked = status == WSG_OK && locked_of(res);

	wsg_db_result_free(res);
	c->done(status, locked, c->arg);
	free(c);
}

int
wsg_lockout_store_check(struct wsg_db_pool *pool, enum wsg_lockout_kind kind,
                        const char *name, size_t len, int64_t now_ms,
                        wsg_lockout_store_check_cb done, void *arg)
{
	struct wsg_db_param prm[3];
	struct numbers n;
	struct check *c;
	int rc;

	if (pool == NULL || done == NULL)
		return WSG_ERR_INVAL;
	check_params(prm, &n, kind, name, len, now_ms);
	c = wsg_mem_calloc(1, sizeof(*c));
	c->done = done;
	c->arg = arg;
	rc = wsg_db_query(pool, SQL_CHECK, prm, 3, check_done_cb, c);
	if (rc != WSG_OK)
		free(c);
	return rc;
}

/* A failure being counted: the statement's parameters, kept for a retry. */
struct fail {
	struct wsg_db_pool *pool;
	struct event_base *base; /* the pool's: waits between attempts */
	struct wsg_metrics *m;
	struct numbers n;
	char *name;
	struct wsg_db_param prm[FAIL_PARAMS];
	int tries;
	wsg_lockout_store_fail_cb done;
	void *arg;
};

static void fail_done_cb(int status, struct wsg_db_result *res, void *arg);

static void
fail_finish(struct fail *f, int status, enum wsg_lockout_result r)
{
	f->done(status, r, f->arg);
	free(f->name);
	free(f);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fail *f = arg;
	int rc;

	(void)fd;
	(void)what;
	rc = wsg_db_query(f->pool, SQL_FAIL, f->prm, FAIL_PARAMS, fail_done_cb,
	                  f);
	if (rc != WSG_OK)
		fail_finish(f, rc, WSG_LOCKOUT_OFF);
}

static void
fail_done_cb(int status, struct wsg_db_result *res, void *arg)
{
	struct fail *f = arg;
	enum wsg_lockout_result r = WSG_LOCKOUT_OFF;
	struct timeval tv;
	long ms;

	if (status == WSG_OK)
		r = result_of(res);
	wsg_db_result_free(res);
	if (status == WSG_ERR_CONFLICT && f->tries < FAIL_TRIES) {
		wsg_metrics_inc(f->m != NULL ? &f->m->lockout_store_retries
		                             : NULL);
		ms = backoff_ms(f->tries++);
		tv.tv_sec = 0;
		tv.tv_usec = ms * 1000;
		if (event_base_once(f->base, -1, EV_TIMEOUT, retry_cb, f,
		                    &tv) == 0)
			return;
	}
	fail_finish(f, status, r);
}

int
wsg_lockout_store_fail(struct wsg_db_pool *pool, struct event_base *base,
                       enum wsg_lockout_kind kind,
                       const struct wsg_lockout_conf *p, const char *name,
                       size_t len, int64_t now_ms, struct wsg_metrics *m,
                       wsg_lockout_store_fail_cb done, void *arg)
{
	struct fail *f;
	int rc;

	if (pool == NULL || base == NULL || done == NULL || name == NULL ||
	    len > WSG_LOCKOUT_MAX_KEY)
		return WSG_ERR_INVAL;
	f = wsg_mem_calloc(1, sizeof(*f));
	/* The parameters point into `f`, which lives until the answer. */
	f->name = wsg_mem_alloc(len + 1);
	memcpy(f->name, name, len);
	f->name[len] = '\0';
	rc = fail_params(f->prm, &f->n, kind, p, f->name, len, now_ms);
	if (rc == WSG_OK) {
		f->pool = pool;
		f->base = base;
		f->tries = 1;
		f->m = m;
		f->done = done;
		f->arg = arg;
		rc = wsg_db_query(pool, SQL_FAIL, f->prm, FAIL_PARAMS,
		                  fail_done_cb, f);
	}
	if (rc != WSG_OK) {
		free(f->name);
		free(f);
	}
	return rc;
}

/* ---- blocking ---- */

int
wsg_lockout_store_check_conn(struct wsg_db_conn *c, enum wsg_lockout_kind kind,
                             const char *name, size_t len, int64_t now_ms,
                             int *locked, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param prm[3];
	struct numbers n;
	int rc;

	*locked = 0;
	check_params(prm, &n, kind, name, len, now_ms);
	rc = wsg_db_exec(c, SQL_CHECK, prm, 3, &res, err);
	if (rc == WSG_OK)
		*locked = locked_of(res);
	wsg_db_result_free(res);
	return rc;
}

int
wsg_lockout_store_fail_conn(struct wsg_db_conn *c, enum wsg_lockout_kind kind,
                            const struct wsg_lockout_conf *p, const char *name,
                            size_t len, int64_t now_ms, struct wsg_metrics *m,
                            enum wsg_lockout_result *res, struct wsg_error *err)
{
	struct wsg_db_param prm[FAIL_PARAMS];
	struct wsg_db_result *r = NULL;
	struct timespec wait;
	struct numbers n;
	int rc, tries;

	*res = WSG_LOCKOUT_OFF;
	rc = fail_params(prm, &n, kind, p, name, len, now_ms);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_db_exec(c, SQL_FAIL, prm, FAIL_PARAMS, &r, err);
	for (tries = 1; rc == WSG_ERR_CONFLICT && tries < FAIL_TRIES; tries++) {
		wsg_metrics_inc(m != NULL ? &m->lockout_store_retries : NULL);
		wsg_error_clear(err);
		wait.tv_sec = 0;
		wait.tv_nsec = backoff_ms(tries) * 1000000L;
		nanosleep(&wait, NULL);
		rc = wsg_db_exec(c, SQL_FAIL, prm, FAIL_PARAMS, &r, err);
	}
	if (rc == WSG_OK)
		*res = result_of(r);
	wsg_db_result_free(r);
	return rc;
}

int
wsg_lockout_store_unlock(struct wsg_db_conn *c, const char *name, size_t len,
                         int64_t now_ms, int *was_locked, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param prm[2];
	char now[24];
	int rc;

	if (was_locked != NULL)
		*was_locked = 0;
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	prm[0] = (struct wsg_db_param){name, name_len_of(name, len)};
	prm[1] = (struct wsg_db_param){now, strlen(now)};
	rc = wsg_db_exec(c, SQL_WAS_LOCKED, prm, 2, &res, err);
	if (rc == WSG_OK && was_locked != NULL)
		*was_locked = res->nrows > 0;
	wsg_db_result_free(res);
	if (rc != WSG_OK)
		return rc;
	return wsg_db_exec(c, SQL_UNLOCK, prm, 1, NULL, err);
}
