#include "unlock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lockout.h"
#include "log.h"
#include "mem.h"

#define POLL_MS 1000

static const char SQL_USER_EXISTS[] = "SELECT 1 FROM users WHERE username = ?";
static const char SQL_REQUEST[] =
        "INSERT INTO unlock_requests (username, requested_at) "
        "VALUES (?, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS INTEGER)) "
        "ON DUPLICATE KEY UPDATE requested_at = VALUES(requested_at)";
/* A request is applied within a poll or two; a day is plenty. */
static const char SQL_FORGET[] =
        "DELETE FROM unlock_requests WHERE requested_at < "
        "CAST((UNIX_TIMESTAMP(NOW(6)) - 86400) * 1000000 AS INTEGER)";
static const char SQL_START[] =
        "SELECT COALESCE(MAX(requested_at), 0) FROM unlock_requests";
/* At most 1000 per poll; the rest come with the next one. */
static const char SQL_SINCE[] =
        "SELECT username, requested_at FROM unlock_requests "
        "WHERE requested_at > ? ORDER BY requested_at LIMIT 1000";

int
wsg_unlock_request(struct wsg_db_conn *c, const char *user,
                   struct wsg_error *err)
{
	struct wsg_db_param p = {user, strlen(user)};
	struct wsg_db_result *res = NULL;
	int rc;

	rc = wsg_db_exec(c, SQL_USER_EXISTS, &p, 1, &res, err);
	if (rc == WSG_OK && res->nrows == 0)
		rc = wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_NONE,
		                   "no user '%s'", user);
	wsg_db_result_free(res);
	if (rc == WSG_OK)
		rc = wsg_db_exec(c, SQL_REQUEST, &p, 1, NULL, err);
	if (rc == WSG_OK)
		rc = wsg_db_exec(c, SQL_FORGET, NULL, 0, NULL, err);
	return rc;
}

struct wsg_unlock_watch {
	struct wsg_runtime *rt;
	struct wsg_db_pool *pool;
	struct event *timer;
	int started;        /* `after` holds the newest request seen */
	char after[24];     /* microseconds, as the store has them */
	int in_flight;
	int failing;        /* warned about the current failure */
	int stopping;       /* the pool fails what is in flight */
};

static void
failed(struct wsg_unlock_watch *w, int status)
{
	if (w->failing)
		return;
	w->failing = 1;
	wsg_log_msg("warning",
	            "offline unlocks (wssgate user unlock) not applied: %s "
	            "(schema older than version 5? run wssgate db init)",
	            status == WSG_ERR_TIMEOUT ? "reading unlock_requests "
	                                        "timed out"
	                                      : "cannot read unlock_requests");
}

static void
apply(struct wsg_unlock_watch *w, const char *user, size_t len)
{
	int64_t now = wsg_lockout_now_ms();
	int was;

	was = wsg_lockout_unlock(w->rt->lockout, WSG_LOCKOUT_USER, user, len,
	                         now) |
	      wsg_lockout_unlock(w->rt->lockout, WSG_LOCKOUT_MGMT_USER, user,
	                         len, now);
	wsg_log_audit(w->rt->log, 0, NULL, NULL, user, "user_unlocked",
	              was ? "offline request (wssgate user unlock): was locked"
	                  : "offline request (wssgate user unlock): was not "
	                    "locked; its failures are forgotten");
}

static void
polled(int status, struct wsg_db_result *res, void *arg)
{
	struct wsg_unlock_watch *w = arg;
	size_t i;

	w->in_flight = 0;
	if (w->stopping)
		goto out;
	if (status != WSG_OK) {
		failed(w, status);
		goto out;
	}
	w->failing = 0;
	if (!w->started) {
		if (res->nrows == 1 && res->cells[0] != NULL)
			snprintf(w->after, sizeof(w->after), "%s",
			         res->cells[0]);
		w->started = 1;
		goto out;
	}
	for (i = 0; i < res->nrows; i++) {
		const char *user = res->cells[i * 2], *at = res->cells[i * 2 + 1];

		if (user == NULL || at == NULL)
			continue;
		apply(w, user, res->lens[i * 2]);
		snprintf(w->after, sizeof(w->after), "%s", at);
	}
out:
	wsg_db_result_free(res);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_unlock_watch *w = arg;
	struct wsg_db_param p = {w->after, strlen(w->after)};

	(void)fd;
	(void)what;
	if (w->in_flight)
		return;
	if (wsg_db_query(w->pool, w->started ? SQL_SINCE : SQL_START, &p,
	                 w->started ? 1 : 0, polled, w) == WSG_OK)
		w->in_flight = 1;
}

struct wsg_unlock_watch *
wsg_unlock_watch_start(struct event_base *base, struct wsg_runtime *rt)
{
	struct wsg_unlock_watch *w = wsg_mem_calloc(1, sizeof(*w));
	struct timeval tv = {POLL_MS / 1000, (POLL_MS % 1000) * 1000};

	w->rt = rt;
	snprintf(w->after, sizeof(w->after), "0");
	w->pool = wsg_db_pool_new(base, &rt->db_params, 1, NULL);
	w->timer = event_new(base, -1, EV_PERSIST, tick, w);
	event_add(w->timer, &tv);
	tick(-1, 0, w);
	return w;
}

void
wsg_unlock_watch_free(struct wsg_unlock_watch *w)
{
	if (w == NULL)
		return;
	if (w->timer != NULL)
		event_free(w->timer);
	/* A poll in flight is failed back to polled() here. */
	w->stopping = 1;
	wsg_db_pool_free(w->pool);
	free(w);
}
