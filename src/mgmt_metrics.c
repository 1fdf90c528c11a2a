#include "mgmt_metrics.h"

#include <stdlib.h>

#include "err.h"
#include "fault.h"
#include "lockout.h"
#include "log.h"
#include "metrics.h"
#include "password.h"
#include "replay.h"
#include "stats.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const char *const status_class[WSG_STATS_CLASSES] = {
        "other", "1xx", "2xx", "3xx", "4xx", "5xx",
};

static const char *const auth_result[WSG_METRICS_AUTH__COUNT] = {
        [WSG_METRICS_AUTH_OK] = "ok",
        [WSG_METRICS_AUTH_FAILED] = "failed",
        [WSG_METRICS_AUTH_ERROR] = "error",
};

static const char *const upstream_result[WSG_METRICS_UPSTREAM__COUNT] = {
        [WSG_METRICS_UPSTREAM_OK] = "ok",
        [WSG_METRICS_UPSTREAM_TIMEOUT] = "timeout",
        [WSG_METRICS_UPSTREAM_ERROR] = "error",
};

static const char *const lockout_kind[WSG_LOCKOUT__KINDS] = {
        [WSG_LOCKOUT_USER] = "user",
        [WSG_LOCKOUT_CLIENT] = "client",
        [WSG_LOCKOUT_MGMT_USER] = "management_user",
};

static uint64_t
load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static uint64_t
load_gauge(const int64_t *v)
{
	int64_t n = __atomic_load_n(v, __ATOMIC_RELAXED);

	return n > 0 ? (uint64_t)n : 0;
}

/* One family of a single sample without labels. */
static void
put_single(struct wsg_metrics_text *t, const char *name, const char *type,
           const char *help, uint64_t value)
{
	wsg_metrics_family(t, name, type, help);
	wsg_metrics_sample(t, name, NULL, value);
}

/* One sample with the single label key="value". */
static void
put_labelled(struct wsg_metrics_text *t, const char *name, const char *key,
             const char *value, uint64_t n)
{
	const char *labels[3] = {key, value, NULL};

	wsg_metrics_sample(t, name, labels, n);
}

/*
 * The counts of route i and its label: the routes the gateway started with
 * (stats.h), then "-" for the requests no route matched (i == n_routes).
 */
static const char *
read_route(const struct wsg_runtime *rt, size_t i, struct wsg_stats_counts *c)
{
	const struct wsg_config *cfg = rt->cfg;

	if (i < cfg->n_routes) {
		wsg_stats_read(rt->stats, i, c);
		return cfg->routes[i].name;
	}
	wsg_stats_read(rt->stats, WSG_STATS_NO_ROUTE, c);
	return "-";
}

/* Requests by route and status class, faults by route and code. */
static void
put_requests(struct wsg_metrics_text *t, const struct wsg_runtime *rt)
{
	struct wsg_stats_counts c;
	const char *labels[5] = {"route", NULL, NULL, NULL, NULL};
	size_t i, k;
	int f;

	wsg_metrics_family(t, "wssgate_requests_total", "counter",
	                   "Data-plane requests answered, by route (\"-\": no "
	                   "route matched) and HTTP status class.");
	for (i = 0; i <= rt->cfg->n_routes; i++) {
		labels[1] = read_route(rt, i, &c);
		labels[2] = "code";
		for (k = 1; k < WSG_STATS_CLASSES; k++) {
			labels[3] = status_class[k];
			wsg_metrics_sample(t, "wssgate_requests_total", labels,
			                   c.by_class[k]);
		}
		if (c.by_class[0] > 0) {
			labels[3] = status_class[0];
			wsg_metrics_sample(t, "wssgate_requests_total", labels,
			                   c.by_class[0]);
		}
	}
	wsg_metrics_family(t, "wssgate_faults_total", "counter",
	                   "Requests answered with a gateway fault, by route "
	                   "and fault code.");
	for (i = 0; i <= rt->cfg->n_routes; i++) {
		labels[1] = read_route(rt, i, &c);
		labels[2] = "fault";
		for (f = WSG_FAULT_NONE + 1; f < WSG_FAULT__COUNT; f++) {
			if (c.by_fault[f] == 0)
				continue;
			labels[3] = wsg_fault_name(f);
			wsg_metrics_sample(t, "wssgate_faults_total", labels,
			                   c.by_fault[f]);
		}
	}
}

static void
put_histograms(struct wsg_metrics_text *t, const char *name, const char *help,
               const char *label, const char *const *values,
               const struct wsg_histogram *h, size_t n)
{
	struct wsg_histogram copy;
	const char *labels[3] = {label, NULL, NULL};
	size_t i;

	wsg_metrics_family(t, name, "histogram", help);
	for (i = 0; i < n; i++) {
		wsg_histogram_read(&h[i], &copy);
		labels[1] = values[i];
		wsg_metrics_histogram(t, name, labels, &copy);
	}
}

static void
put_auth(struct wsg_metrics_text *t, struct wsg_runtime *rt)
{
	struct wsg_metrics *m = rt->metrics;

	put_histograms(t, "wssgate_auth_duration_seconds",
	               "Time from the start of authentication to its outcome "
	               "(ok, failed: refused credentials, error: store or "
	               "cache trouble).",
	               "result", auth_result, m->auth, WSG_METRICS_AUTH__COUNT);
	put_single(t, "wssgate_credential_cache_hits_total", "counter",
	           "User look-ups answered by the credential cache.",
	           load(&m->credcache_hits));
	put_single(t, "wssgate_credential_cache_misses_total", "counter",
	           "User look-ups the credential cache could not answer.",
	           load(&m->credcache_misses));
	put_single(t, "wssgate_replay_cache_entries", "gauge",
	           "Nonces held by the replay cache (live or not yet "
	           "reclaimed).",
	           wsg_replay_count(rt->replay));
	wsg_metrics_family(t, "wssgate_replay_refused_total", "counter",
	                   "Tokens refused by the replay cache (replay: nonce "
	                   "seen before, full: no room for a live nonce).");
	put_labelled(t, "wssgate_replay_refused_total", "reason", "replay",
	             load(&m->replay_refused));
	put_labelled(t, "wssgate_replay_refused_total", "reason", "full",
	             load(&m->replay_full));
	put_single(t, "wssgate_replay_store_conflicts_total", "counter",
	           "Inserts into the shared replay store that lost to a "
	           "concurrent write of the same nonce (Galera certification "
	           "or deadlock; retried once, then a replay).",
	           load(&m->replay_conflicts));
	wsg_metrics_family(t, "wssgate_lockout_store_total", "counter",
	                   "Shared lockout store (security.lockout.store = "
	                   "\"mariadb\"): counts run again after a conflict "
	                   "(retried), counted in this process because the "
	                   "store could not (local), lock checks the store "
	                   "could not answer (unread).");
	put_labelled(t, "wssgate_lockout_store_total", "event", "retried",
	             load(&m->lockout_store_retries));
	put_labelled(t, "wssgate_lockout_store_total", "event", "local",
	             load(&m->lockout_store_local));
	put_labelled(t, "wssgate_lockout_store_total", "event", "unread",
	             load(&m->lockout_store_unread));
}

static void
put_lockout(struct wsg_metrics_text *t, struct wsg_runtime *rt, int users)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	        {"wssgate_lockout_failures_total", "counter",
	         "Authentication failures counted towards a lock."},
	        {"wssgate_lockouts_total", "counter", "Locks started."},
	        {"wssgate_lockout_refused_total", "counter",
	         "Attempts refused because of a lock."},
	        {"wssgate_lockout_unlocks_total", "counter",
	         "Locks ended early through the management API."},
	        {"wssgate_lockout_evictions_total", "counter",
	         "Remembered keys dropped to make room."},
	        {"wssgate_lockout_entries", "gauge", "Keys remembered now."},
	        {"wssgate_lockout_locked", "gauge", "Keys locked now."},
	};
	struct wsg_lockout_stats st;
	size_t i, k;

	wsg_lockout_stats(rt->lockout, wsg_lockout_now_ms(), &st);
	for (i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		wsg_metrics_family(t, fam[i].name, fam[i].type, fam[i].help);
		for (k = 0; k < WSG_LOCKOUT__KINDS; k++) {
			const struct wsg_lockout_kind_stats *s = &st.kind[k];

			if (k != WSG_LOCKOUT_CLIENT && !users)
				continue;
			const uint64_t v[] = {
			        s->failures,         s->lockouts,
			        s->refused,          s->unlocks,
			        s->evictions,        (uint64_t)s->entries,
			        (uint64_t)s->locked,
			};

			put_labelled(t, fam[i].name, "kind", lockout_kind[k],
			             v[i]);
		}
	}
}

static void
put_db(struct wsg_metrics_text *t, struct wsg_runtime *rt)
{
	struct wsg_db_stats *s = &rt->db_stats;

	wsg_metrics_family(t, "wssgate_db_connections", "gauge",
	                   "Data-plane database connections (summed over the "
	                   "workers' pools): open, and busy running a query.");
	put_labelled(t, "wssgate_db_connections", "state", "open",
	             load_gauge(&s->open));
	put_labelled(t, "wssgate_db_connections", "state", "busy",
	             load_gauge(&s->busy));
	put_single(t, "wssgate_db_queued_queries", "gauge",
	           "Queries waiting for a database connection.",
	           load_gauge(&s->queued));
	put_single(t, "wssgate_db_queries_total", "counter",
	           "Data-plane database queries completed.", load(&s->queries));
	wsg_metrics_family(t, "wssgate_db_errors_total", "counter",
	                   "Database failures: queries failed (error) or "
	                   "timed out (timeout), connection attempts failed "
	                   "(connect).");
	put_labelled(t, "wssgate_db_errors_total", "kind", "error",
	             load(&s->errors));
	put_labelled(t, "wssgate_db_errors_total", "kind", "timeout",
	             load(&s->timeouts));
	put_labelled(t, "wssgate_db_errors_total", "kind", "connect",
	             load(&s->connect_failures));
	put_single(t, "wssgate_db_refused_total", "counter",
	           "Queries refused at once because userstore.max_waiting "
	           "queries were waiting for a connection already.",
	           load(&s->refused));
}

static void
put_password(struct wsg_metrics_text *t, struct wsg_runtime *rt)
{
	struct wsg_password_pool_stats st;
	const char *name = "wssgate_password_queue_refused_total";

	wsg_password_pool_stats(rt->pwpool, &st);
	put_single(t, "wssgate_password_verifications_total", "counter",
	           "argon2id verifications run (PasswordText, HTTP Basic, "
	           "management logins).",
	           st.runs);
	put_single(t, "wssgate_password_coalesced_total", "counter",
	           "Verifications that joined an identical one queued or "
	           "running (same address, user, hash and password) instead "
	           "of running argon2id again.",
	           st.coalesced);
	put_single(t, "wssgate_password_queue", "gauge",
	           "argon2id verifications queued or running now.", st.queued);
	wsg_metrics_family(t, name, "counter",
	                   "Verifications not run: the queue was full (full), "
	                   "the address had max_per_client in progress "
	                   "(client), the address was locked while the job "
	                   "waited (locked).");
	put_labelled(t, name, "reason", "full", st.refused_full);
	put_labelled(t, name, "reason", "client", st.refused_client);
	put_labelled(t, name, "reason", "locked", st.dropped);
}

static void
put_connections(struct wsg_metrics_text *t, struct wsg_runtime *rt)
{
	put_single(t, "wssgate_connections_limit", "gauge",
	           "limits.max_connections in force (0: unlimited).",
	           load(&rt->metrics->connections_limit));
	put_single(t, "wssgate_connections_refused_total", "counter",
	           "Data-plane connections closed at once over "
	           "limits.max_connections.",
	           load(&rt->metrics->connections_refused));
}

static void
put_upstream(struct wsg_metrics_text *t, struct wsg_runtime *rt)
{
	struct wsg_histogram h;
	size_t k;

	put_histograms(t, "wssgate_upstream_duration_seconds",
	               "Upstream exchanges by outcome (ok: an HTTP answer, "
	               "timeout, error: refused, reset, malformed, too large) "
	               "and their duration.",
	               "result", upstream_result, rt->metrics->upstream,
	               WSG_METRICS_UPSTREAM__COUNT);
	wsg_metrics_family(t, "wssgate_upstream_errors_total", "counter",
	                   "Upstream exchanges that brought no answer.");
	for (k = WSG_METRICS_UPSTREAM_OK + 1; k < WSG_METRICS_UPSTREAM__COUNT;
	     k++) {
		wsg_histogram_read(&rt->metrics->upstream[k], &h);
		put_labelled(t, "wssgate_upstream_errors_total", "result",
		             upstream_result[k], h.count);
	}
}

/* Log lines dropped because the log could not keep up (log.backlog). */
static void
put_log(struct wsg_metrics_text *t, const struct wsg_runtime *rt)
{
	uint64_t access, audit;

	wsg_log_dropped(rt->log, &access, &audit);
	wsg_metrics_family(t, "wssgate_log_dropped_lines_total", "counter",
	                   "Log lines dropped because the log could not keep "
	                   "up or a write failed.");
	put_labelled(t, "wssgate_log_dropped_lines_total", "log", "access",
	             access);
	put_labelled(t, "wssgate_log_dropped_lines_total", "log", "audit",
	             audit);
}

void
wsg_mgmt_metrics(struct wsg_mgmt_req *r)
{
	struct wsg_runtime *rt = r->m->rt;
	struct wsg_metrics_text t = {NULL, 0, 0};

	put_requests(&t, rt);
	put_auth(&t, rt);
	put_lockout(&t, rt, r->admin);
	put_db(&t, rt);
	put_password(&t, rt);
	put_connections(&t, rt);
	put_upstream(&t, rt);
	put_log(&t, rt);
	wsg_mgmt_reply_text(r, 200, CONTENT_TYPE, t.buf, t.len);
}
