#include "mgmt_health.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "log.h"
#include "mem.h"
#include "mgmt_ldap.h"

static const char SQL_PING[] = "SELECT 1";

/* A /health waiting for the probe in flight. */
struct waiter {
	struct wsg_mgmt_req *r;
	struct waiter *next;
};

struct wsg_mgmt_health {
	struct wsg_db_pool *pool; /* one non-blocking connection */
	struct event *deadline;   /* WAIT_MS after the probe started */
	int in_flight;            /* a SELECT 1 is queued or running */
	int overdue;              /* ... and it is past the deadline */
	struct waiter *waiters;
	/* userstore.type "ldap": the probe runs as a job of the request that
	 * started it, on a management worker, which sets these. */
	int probe_ok;
	const char *probe_down; /* what failed: "directory" or "database" */
	const char *store;      /* what a late probe waits on, for its 503 */
};

static void
answer(struct wsg_mgmt_req *r, int ok, const char *down)
{
	char reason[64];

	snprintf(reason, sizeof(reason), "the %s cannot be reached", down);
	if (ok)
		wsg_mgmt_reply(r, 200, json_pack("{s:s}", "status", "ok"));
	else
		wsg_mgmt_reply(r, 503,
		               json_pack("{s:s, s:s}", "status", "unavailable",
		                         "reason", reason));
}

static void
answer_waiters(struct wsg_mgmt_health *h, int ok, const char *down)
{
	struct waiter *w;

	while ((w = h->waiters) != NULL) {
		h->waiters = w->next;
		answer(w->r, ok, down);
		wsg_mgmt_finish_route(w->r, "health");
		free(w);
	}
}

static void
probe_done(int status, struct wsg_db_result *res, void *arg)
{
	struct wsg_mgmt_health *h = arg;

	wsg_db_result_free(res);
	h->in_flight = 0;
	h->overdue = 0;
	event_del(h->deadline);
	if (status != WSG_OK)
		wsg_log_msg("warning", "health: database unreachable: %s",
		            status == WSG_ERR_TIMEOUT ? "SELECT 1 timed out"
		                                      : "SELECT 1 failed");
	answer_waiters(h, status == WSG_OK, "database");
}

/* The probe is late: the database is stalled or far too slow to count as
 * ready; it may still complete (or time out) later. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_mgmt_health *h = arg;

	(void)fd;
	(void)what;
	h->overdue = 1;
	wsg_log_msg("warning",
	            "health: user store unreachable: no answer to the "
	            "probe within %d ms",
	            WSG_MGMT_HEALTH_WAIT_MS);
	answer_waiters(h, 0, h->store);
}

struct wsg_mgmt_health *
wsg_mgmt_health_new(struct wsg_mgmt *m)
{
	struct wsg_mgmt_health *h = wsg_mem_calloc(1, sizeof(*h));
	struct wsg_db_params prm = m->rt->db_params;

	/* A stalled probe ends soon, so the next /health starts a new one. */
	prm.query_timeout = 1;
	prm.connect_timeout = 1;
	prm.max_waiting = 1;
	h->pool = wsg_db_pool_new(m->base, &prm, 1, NULL);
	h->deadline = evtimer_new(m->base, deadline_cb, h);
	h->store = m->cfg->userstore.ldap ? "directory" : "database";
	return h;
}

void
wsg_mgmt_health_free(struct wsg_mgmt_health *h)
{
	if (h == NULL)
		return;
	wsg_db_pool_free(h->pool);
	if (h->deadline != NULL)
		event_free(h->deadline);
	free(h);
}

/* On a worker: the directory (and MariaDB when the gateway has it). */
static void
ldap_probe_job(struct wsg_mgmt_req *r, void *arg)
{
	struct wsg_mgmt_health *h = arg;

	h->probe_down = wsg_mgmt_ldap_probe(r);
	h->probe_ok = h->probe_down == NULL;
}

/* Back on the management thread: the request that carried the probe and
 * those that joined it get its result. */
static void
ldap_probe_done(struct wsg_mgmt_req *r, void *arg)
{
	struct wsg_mgmt_health *h = arg;

	h->in_flight = 0;
	h->overdue = 0;
	event_del(h->deadline);
	answer_waiters(h, h->probe_ok, h->probe_down);
	answer(r, h->probe_ok, h->probe_down);
	wsg_mgmt_finish_route(r, "health");
}

/*
 * With an LDAP store the probe is a directory connection (service bind),
 * which libldap opens blocking: it runs as a job of the first /health on a
 * management worker. That request waits for it (ldap.timeout bounds it);
 * those that join get the answer or, after WSG_MGMT_HEALTH_WAIT_MS,
 * unavailable.
 */
static void
ldap_health(struct wsg_mgmt_health *h, struct wsg_mgmt_req *r)
{
	struct timeval tv = {0, WSG_MGMT_HEALTH_WAIT_MS * 1000};
	struct wsg_mgmt_req *d;
	struct waiter *w;

	if (h->in_flight) {
		w = wsg_mem_alloc(sizeof(*w));
		w->r = wsg_mgmt_defer(r);
		w->next = h->waiters;
		h->waiters = w;
		return;
	}
	d = wsg_mgmt_defer(r);
	if (wsg_mgmt_work_submit(d->m->work, d, ldap_probe_job, ldap_probe_done,
	                         h) != WSG_OK) {
		wsg_mgmt_reply_busy(d);
		wsg_mgmt_finish_route(d, "health");
		return;
	}
	h->in_flight = 1;
	evtimer_add(h->deadline, &tv);
}

void
wsg_mgmt_health(struct wsg_mgmt_req *r)
{
	struct wsg_mgmt_health *h = r->m->health;
	struct timeval tv = {0, WSG_MGMT_HEALTH_WAIT_MS * 1000};
	struct waiter *w;

	if (h->overdue) {
		answer(r, 0, h->store);
		return;
	}
	if (r->m->cfg->userstore.ldap) {
		ldap_health(h, r);
		return;
	}
	if (!h->in_flight) {
		if (wsg_db_query(h->pool, SQL_PING, NULL, 0, probe_done, h) !=
		    WSG_OK) {
			answer(r, 0, "database");
			return;
		}
		h->in_flight = 1;
		evtimer_add(h->deadline, &tv);
	}
	w = wsg_mem_alloc(sizeof(*w));
	w->r = wsg_mgmt_defer(r);
	w->next = h->waiters;
	h->waiters = w;
}
