#include "server.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "metrics.h"
#include "request.h"
#include "tls.h"
#include "upstream.h"

#define LISTEN_BACKLOG 1024
/* Once drain_timeout has cut what was in flight, its answers get this long
 * to go out. */
#define CUT_GRACE_MS 1000
/* While argon2 jobs of cut requests finish (milliseconds each). */
#define CUT_POLL_MS 50
/* At most one "max_connections reached" line per this many seconds. */
#define REFUSAL_LOG_SECONDS 10
#define CONN_BUCKETS_MIN 64

struct wsg_server {
	struct wsg_runtime *rt;
	struct wsg_worker *workers;
	unsigned n_workers;
	size_t n_listen;
	struct wsg_snapshot *snap;    /* the latest one handed to workers */
	unsigned connections;         /* atomic: data-plane connections open */
	unsigned long long refused;   /* atomic: closed over max_connections */
	long long refusal_logged;     /* atomic: time of the last log line */
};

/* The bevcb argument of one listen entry on one worker. */
struct wsg_listener {
	struct wsg_worker *w;
	size_t index;            /* its listen entry: TLS from w->snap */
};

/*
 * One client connection. evhttp owns it and tells nobody when it accepts
 * one: the bevcb sees the connection first (as the bufferevent it makes),
 * and the evhttp_connection is known once evhttp has set it up (`bind`).
 * From then on evhttp's close callback ends it.
 */
struct wsg_conn {
	struct wsg_worker *w;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* NULL until bound */
	struct wsg_conn *hnext;          /* bucket chain, once bound */
	LIST_ENTRY(wsg_conn) link;       /* every connection of the worker */
	struct event ev;                 /* the bind, then the deadline */
	int busy;                        /* a request is handled or answered */
	int refused;                     /* over limits.max_connections */
};

/* A worker's connections; bound ones are found by their evcon. */
struct wsg_conn_table {
	LIST_HEAD(, wsg_conn) all;
	struct wsg_conn **buckets;
	size_t nbuckets;                 /* a power of two */
	size_t nbound;
};

/* -------- snapshots -------- */

/* Certificates and keys are read again at each reload, from the paths the
 * gateway started with (changing those needs a restart). */
static int
listen_tls_new(const struct wsg_config *cfg, struct wsg_snapshot *snap,
	       struct wsg_error *err)
{
	char why[sizeof(err->reason)];
	size_t i;
	int rc;

	snap->n_listen = cfg->n_listen;
	snap->listen_tls = wsg_mem_calloc(cfg->n_listen > 0 ? cfg->n_listen : 1,
					  sizeof(*snap->listen_tls));
	for (i = 0; i < cfg->n_listen; i++) {
		if (!cfg->listen[i].has_tls)
			continue;
		rc = wsg_tls_server_ctx_new(&cfg->listen[i].tls,
					    &snap->listen_tls[i], err);
		if (rc != WSG_OK) {
			snprintf(why, sizeof(why), "%s", err->reason);
			return wsg_error_set(err, rc, WSG_FAULT_NONE,
					     "listen %s: %s",
					     cfg->listen[i].address, why);
		}
	}
	if (cfg->management.enabled && cfg->management.has_tls &&
	    (rc = wsg_tls_server_ctx_new(&cfg->management.tls,
					 &snap->mgmt_tls, err)) != WSG_OK) {
		snprintf(why, sizeof(why), "%s", err->reason);
		return wsg_error_set(err, rc, WSG_FAULT_NONE,
				     "management.tls: %s", why);
	}
	return WSG_OK;
}

int
wsg_snapshot_new(const struct wsg_runtime *rt, struct wsg_config *cfg,
		 struct wsg_snapshot **out, struct wsg_error *err)
{
	struct wsg_snapshot *snap = wsg_mem_calloc(1, sizeof(*snap));
	int rc;

	*out = NULL;
	snap->cfg = wsg_config_ref(cfg);
	__atomic_store_n(&snap->refs, 1, __ATOMIC_RELEASE);
	rc = listen_tls_new(rt->cfg, snap, err);
	if (rc == WSG_OK)
		rc = wsg_tls_clients_new(cfg, &snap->upstream_tls, err);
	if (rc != WSG_OK) {
		wsg_snapshot_unref(snap);
		return rc;
	}
	*out = snap;
	return WSG_OK;
}

struct wsg_snapshot *
wsg_snapshot_ref(struct wsg_snapshot *snap)
{
	__atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
	return snap;
}

void
wsg_snapshot_unref(struct wsg_snapshot *snap)
{
	size_t i;

	if (snap == NULL ||
	    __atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	wsg_tls_clients_free(snap->upstream_tls);
	/* Open connections hold their own reference on their SSL_CTX. */
	for (i = 0; i < snap->n_listen; i++)
		SSL_CTX_free(snap->listen_tls[i]);
	free(snap->listen_tls);
	SSL_CTX_free(snap->mgmt_tls);
	wsg_config_unref(snap->cfg);
	free(snap);
}

/* -------- the connection table -------- */

static size_t
conn_bucket(const struct wsg_conn_table *t,
	    const struct evhttp_connection *evcon)
{
	uint64_t h = (uint64_t)(uintptr_t)evcon * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> 32) & (t->nbuckets - 1);
}

static struct wsg_conn_table *
conn_table_new(void)
{
	struct wsg_conn_table *t = wsg_mem_calloc(1, sizeof(*t));

	LIST_INIT(&t->all);
	t->nbuckets = CONN_BUCKETS_MIN;
	t->buckets = wsg_mem_calloc(t->nbuckets, sizeof(*t->buckets));
	return t;
}

static void
conn_table_insert(struct wsg_conn_table *t, struct wsg_conn *c)
{
	struct wsg_conn **old = t->buckets, *e, *next;
	size_t i, n = t->nbuckets, b;

	if (t->nbound >= t->nbuckets) {
		t->nbuckets *= 2;
		t->buckets = wsg_mem_calloc(t->nbuckets, sizeof(*t->buckets));
		for (i = 0; i < n; i++)
			for (e = old[i]; e != NULL; e = next) {
				next = e->hnext;
				b = conn_bucket(t, e->evcon);
				e->hnext = t->buckets[b];
				t->buckets[b] = e;
			}
		free(old);
	}
	b = conn_bucket(t, c->evcon);
	c->hnext = t->buckets[b];
	t->buckets[b] = c;
	t->nbound++;
}

static struct wsg_conn *
conn_find(const struct wsg_worker *w, const struct evhttp_connection *evcon)
{
	struct wsg_conn *c;

	if (evcon == NULL)
		return NULL;
	for (c = w->conns->buckets[conn_bucket(w->conns, evcon)]; c != NULL;
	     c = c->hnext)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

static void
conn_table_remove(struct wsg_conn_table *t, struct wsg_conn *c)
{
	struct wsg_conn **p = &t->buckets[conn_bucket(t, c->evcon)];

	while (*p != c)
		p = &(*p)->hnext;
	*p = c->hnext;
	t->nbound--;
}

/* -------- connections -------- */

static void
drain_check(struct wsg_worker *w)
{
	if (w->draining && w->inflight == 0 && w->busy_conns == 0)
		event_base_loopbreak(w->base);
}

static void
conn_set_busy(struct wsg_conn *c, int busy)
{
	if (c->busy == busy)
		return;
	c->busy = busy;
	if (busy)
		c->w->busy_conns++;
	else
		c->w->busy_conns--;
}

static void
conn_free(struct wsg_conn *c)
{
	struct wsg_worker *w = c->w;

	event_del(&c->ev);
	if (c->evcon != NULL)
		conn_table_remove(w->conns, c);
	LIST_REMOVE(c, link);
	conn_set_busy(c, 0);
	__atomic_sub_fetch(&w->server->connections, 1, __ATOMIC_RELAXED);
	free(c);
	drain_check(w);
}

/* evhttp is freeing the connection: the client left, a timeout or error
 * ended it, or we closed it. */
static void
conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	conn_free(arg);
}

static void
conn_arm(struct wsg_conn *c, int64_t seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	evtimer_add(&c->ev, &tv);
}

/*
 * The request or answer did not get through in time: evhttp's own timeout
 * restarts with every byte, so a client dribbling a byte now and then
 * (slowloris) or reading one now and then is cut here. With a reset, not a
 * close: the kernel would otherwise go on feeding a slow reader whatever
 * the socket buffer still holds.
 */
static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_conn *c = arg;
	struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
	evutil_socket_t sock = bufferevent_getfd(c->bev);

	if (sock >= 0 && !c->w->draining)
		setsockopt(sock, SOL_SOCKET, SO_LINGER, &abort_close,
			   sizeof(abort_close));
	evhttp_connection_free(c->evcon);
}

static void
note_refusal(struct wsg_server *s, unsigned max)
{
	unsigned long long n = __atomic_add_fetch(&s->refused, 1,
						  __ATOMIC_RELAXED);
	struct wsg_metrics *m = s->rt->metrics;

	wsg_metrics_inc(m != NULL ? &m->connections_refused : NULL);
	long long now = (long long)time(NULL);
	long long last = __atomic_load_n(&s->refusal_logged, __ATOMIC_RELAXED);

	if (now - last >= REFUSAL_LOG_SECONDS &&
	    __atomic_compare_exchange_n(&s->refusal_logged, &last, now, 0,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		wsg_log_msg("warning",
			    "limits.max_connections = %u reached: new "
			    "connections are closed at once (%llu so far)",
			    max, n);
}

/*
 * Runs right after evhttp took the connection (event_active from the bevcb,
 * so before any of its I/O): evhttp's read callback argument is the
 * evhttp_connection, the one handle for closing it and for its close
 * callback.
 */
static void
conn_bind_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_conn *c = arg;
	struct wsg_worker *w = c->w;
	const struct wsg_limits_conf *lim = &w->snap->cfg->limits;
	void *evcon = NULL;

	bufferevent_getcb(c->bev, NULL, NULL, NULL, &evcon);
	if (evcon == NULL) {
		/* evhttp gave up on the connection (out of memory). */
		conn_free(c);
		return;
	}
	c->evcon = evcon;
	conn_table_insert(w->conns, c);
	evhttp_connection_set_closecb(c->evcon, conn_closed_cb, c);
	event_assign(&c->ev, w->base, -1, 0, conn_deadline_cb, c);
	if (c->refused)
		note_refusal(w->server, lim->max_connections);
	if (c->refused || w->draining) {
		evhttp_connection_free(c->evcon);
		return;
	}
	conn_arm(c, lim->request_timeout);
}

/* evhttp_set_bevcb: every accepted connection passes here first. */
static struct bufferevent *
conn_bevcb(struct event_base *base, void *arg)
{
	struct wsg_listener *l = arg;
	struct wsg_worker *w = l->w;
	unsigned max = w->snap->cfg->limits.max_connections, n;
	SSL_CTX *tls = w->snap->listen_tls[l->index];
	struct bufferevent *bev;
	struct wsg_conn *c;

	if (tls != NULL)
		bev = wsg_tls_bevcb(base, tls);
	else
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	/* A NULL would make evhttp build a bufferevent we never see. */
	if (bev == NULL)
		abort();
	c = wsg_mem_calloc(1, sizeof(*c));
	c->w = w;
	c->bev = bev;
	n = __atomic_add_fetch(&w->server->connections, 1, __ATOMIC_RELAXED);
	c->refused = max != 0 && n > max;
	LIST_INSERT_HEAD(&w->conns->all, c, link);
	event_assign(&c->ev, w->base, -1, 0, conn_bind_cb, c);
	event_active(&c->ev, EV_TIMEOUT, 1);
	return bev;
}

/* The answer is written; evhttp reads the next request right after. */
static void
answer_sent_cb(struct evhttp_request *req, void *arg)
{
	struct wsg_conn *c = arg;
	struct wsg_worker *w = c->w;

	conn_set_busy(c, 0);
	/* A draining worker closes it from the loop: evhttp still uses the
	 * connection when this returns. */
	conn_arm(c, w->draining ? 0 : w->snap->cfg->limits.request_timeout);
	drain_check(w);
}

/* evhttp's gencb: a whole request has arrived. */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct wsg_worker *w = arg;
	struct wsg_conn *c = conn_find(w, evhttp_request_get_connection(req));

	if (c != NULL) {
		event_del(&c->ev);
		conn_set_busy(c, 1);
		evhttp_request_set_on_complete_cb(req, answer_sent_cb, c);
	}
	/* The client learns not to send another request here. */
	if (w->draining)
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Connection", "close");
	wsg_request_handle_cb(req, w);
}

void
wsg_server_request_done(struct wsg_worker *w, struct evhttp_connection *evcon)
{
	struct wsg_conn *c = conn_find(w, evcon);

	w->inflight--;
	if (c != NULL)
		conn_arm(c, w->snap->cfg->limits.response_timeout);
	drain_check(w);
}

/* -------- listeners -------- */

/* One socket per worker and address: the kernel spreads connections. */
static int
open_listener(const char *host, uint16_t port, evutil_socket_t *out,
	      struct wsg_error *err)
{
	struct addrinfo hints, *ai = NULL;
	char portstr[8];
	evutil_socket_t fd = -1;
	int one = 1, rc;

	*out = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
				   "cannot resolve listen address %s: %s", host,
				   gai_strerror(rc));
		goto out;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0 ||
	    evutil_make_socket_nonblocking(fd) < 0) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
				   "cannot listen on %s port %u: %s", host,
				   port, strerror(errno));
		goto out;
	}
	*out = fd;
	fd = -1;
	rc = WSG_OK;
out:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	return rc;
}

static void
http_apply_limits(struct evhttp *http, const struct wsg_limits_conf *lim)
{
	evhttp_set_timeout(http, (int)lim->request_timeout);
	evhttp_set_max_headers_size(http, (ev_ssize_t)lim->max_header_size);
	evhttp_set_max_body_size(http, (ev_ssize_t)lim->max_body_size);
}

/* A data-plane evhttp on the worker's loop; every one behaves the same. */
static struct evhttp *
http_new(struct wsg_worker *w, struct wsg_listener *l)
{
	struct evhttp *http = evhttp_new(w->base);

	if (http == NULL)
		abort();
	http_apply_limits(http, &w->snap->cfg->limits);
	/* Every method reaches us, so the answer is a SOAP fault, not HTML. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
		EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
		EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH | EVHTTP_REQ_TRACE |
		EVHTTP_REQ_CONNECT);
	evhttp_set_gencb(http, request_cb, w);
	evhttp_set_bevcb(http, conn_bevcb, l);
	return http;
}

/* -------- worker events -------- */

/*
 * drain_timeout passed: upstream exchanges and database queries still
 * running fail now, so every request in flight is answered (502 / 500),
 * and those answers get CUT_GRACE_MS to go out.
 */
static void
drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_worker *w = arg;
	struct timeval tv = { .tv_sec = 0, .tv_usec = CUT_GRACE_MS * 1000 };

	if (!w->cutting) {
		w->cutting = 1;
		if (w->inflight > 0)
			wsg_log_msg("warning",
				    "worker %u: %u requests still in flight "
				    "after drain_timeout; cutting them",
				    w->id, w->inflight);
		wsg_upstream_pool_shutdown(w->upstream,
					   "the gateway is stopping");
		wsg_db_pool_shutdown(w->db);
		evtimer_add(w->drain_timer, &tv);
		return;
	}
	/* Only password checks of cut requests can be left; they end soon
	 * and must not outlive the loop that takes their results. */
	if (w->inflight > 0) {
		tv.tv_usec = CUT_POLL_MS * 1000;
		evtimer_add(w->drain_timer, &tv);
		return;
	}
	event_base_loopbreak(w->base);
}

/* Runs on the worker's thread when the main thread asks it to stop. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_worker *w = arg;
	struct wsg_conn *c, *next;
	struct timeval tv = { .tv_sec = w->drain_seconds, .tv_usec = 0 };
	size_t i;

	for (i = 0; i < w->n_bound; i++)
		evhttp_del_accept_socket(w->listen_http[i], w->bound[i]);
	w->n_bound = 0;
	w->draining = 1;
	/* Idle keep-alive connections go now; busy ones after their answer.
	 * Closing one frees only that one. */
	for (c = LIST_FIRST(&w->conns->all); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c->evcon != NULL && !c->busy)
			evhttp_connection_free(c->evcon);
	}
	evtimer_add(w->drain_timer, &tv);
	drain_check(w);
}

/* Runs on the worker's thread after wsg_server_reload(). */
static void
reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_worker *w = arg;
	struct wsg_snapshot *snap, *old;
	const struct wsg_limits_conf *lim;
	struct wsg_conn *c;
	size_t i;

	snap = __atomic_exchange_n(&w->pending, NULL, __ATOMIC_ACQ_REL);
	if (snap == NULL)
		return;
	old = w->snap;
	w->snap = snap;
	lim = &snap->cfg->limits;
	if (w->http != NULL)
		http_apply_limits(w->http, lim);
	for (i = 0; i < w->server->n_listen; i++)
		if (w->listen_http[i] != w->http)
			http_apply_limits(w->listen_http[i], lim);
	/* Connections already open take the new limits from their next
	 * request on (evhttp copies them when it accepts). */
	LIST_FOREACH(c, &w->conns->all, link) {
		if (c->evcon == NULL)
			continue;
		evhttp_connection_set_timeout(c->evcon,
					      (int)lim->request_timeout);
		evhttp_connection_set_max_headers_size(
			c->evcon, (ev_ssize_t)lim->max_header_size);
		evhttp_connection_set_max_body_size(
			c->evcon, (ev_ssize_t)lim->max_body_size);
	}
	wsg_upstream_pool_retire(w->upstream);
	wsg_snapshot_unref(old);
	wsg_log_flush(w->rt->log);
}

/* Log lines are buffered per worker and flushed by its loop; what is left
 * when the loop ends is handed to the log's writer before the thread ends. */
static void *
worker_main(void *arg)
{
	struct wsg_worker *w = arg;
	struct wsg_log_buf *logbuf = wsg_log_attach(w->rt->log, w->base);

	event_base_dispatch(w->base);
	wsg_log_detach(logbuf);
	return NULL;
}

static void
worker_cleanup(struct wsg_worker *w, size_t n_listen)
{
	struct wsg_conn *c;
	size_t i;

	wsg_upstream_pool_free(w->upstream);
	w->upstream = NULL;
	wsg_db_pool_free(w->db);
	w->db = NULL;
	for (i = 0; i < w->n_bound; i++)
		evhttp_del_accept_socket(w->listen_http[i], w->bound[i]);
	w->n_bound = 0;
	/* Freeing an evhttp closes its connections (their close callbacks
	 * free ours). */
	for (i = 0; w->listen_http != NULL && i < n_listen; i++)
		if (w->listen_http[i] != NULL && w->listen_http[i] != w->http)
			evhttp_free(w->listen_http[i]);
	if (w->http != NULL)
		evhttp_free(w->http);
	w->http = NULL;
	/* Left: connections evhttp took but we had not bound yet. */
	while (w->conns != NULL && (c = LIST_FIRST(&w->conns->all)) != NULL) {
		event_del(&c->ev);
		LIST_REMOVE(c, link);
		__atomic_sub_fetch(&w->server->connections, 1,
				   __ATOMIC_RELAXED);
		free(c);
	}
	if (w->conns != NULL)
		free(w->conns->buckets);
	free(w->conns);
	w->conns = NULL;
	free(w->listen_http);
	w->listen_http = NULL;
	free(w->bound);
	w->bound = NULL;
	free(w->listeners);
	w->listeners = NULL;
	if (w->wake != NULL)
		event_free(w->wake);
	if (w->reload != NULL)
		event_free(w->reload);
	if (w->drain_timer != NULL)
		event_free(w->drain_timer);
	w->wake = w->reload = w->drain_timer = NULL;
	if (w->base != NULL)
		event_base_free(w->base);
	w->base = NULL;
	wsg_snapshot_unref(w->snap);
	w->snap = NULL;
	wsg_snapshot_unref(w->pending);
	w->pending = NULL;
}

/*
 * An epoll change list coalesces the event adds and deletes that evhttp
 * makes within one loop turn into one epoll_ctl: 10 calls per proxied
 * request become 6 (bench/README.md). Its one caveat, dup()ed sockets
 * sharing an epoll registration, does not arise here.
 */
static struct event_base *
base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

static int
worker_init(struct wsg_worker *w, unsigned id, struct wsg_runtime *rt,
	    struct wsg_server *s, struct wsg_error *err)
{
	const struct wsg_config *cfg = rt->cfg;
	struct evhttp *http;
	size_t i;
	int rc;

	w->id = id;
	w->rt = rt;
	w->server = s;
	w->snap = wsg_snapshot_ref(s->snap);
	w->conns = conn_table_new();
	w->base = base_new();
	if (w->base == NULL)
		return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
				     "cannot create an event base");
	w->listen_http = wsg_mem_calloc(cfg->n_listen,
					sizeof(*w->listen_http));
	w->bound = wsg_mem_calloc(cfg->n_listen, sizeof(*w->bound));
	w->listeners = wsg_mem_calloc(cfg->n_listen, sizeof(*w->listeners));
	for (i = 0; i < cfg->n_listen; i++) {
		const struct wsg_listen_conf *l = &cfg->listen[i];
		evutil_socket_t fd;

		w->listeners[i].w = w;
		w->listeners[i].index = i;
		if (l->has_tls) {
			http = http_new(w, &w->listeners[i]);
		} else {
			/* Plain entries share one evhttp and bevcb argument. */
			if (w->http == NULL)
				w->http = http_new(w, &w->listeners[i]);
			http = w->http;
		}
		w->listen_http[i] = http;
		rc = open_listener(l->host, l->port, &fd, err);
		if (rc != WSG_OK)
			return rc;
		w->bound[w->n_bound] = evhttp_accept_socket_with_handle(http,
									 fd);
		if (w->bound[w->n_bound] == NULL) {
			close(fd);
			return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
					     "cannot accept on %s", l->address);
		}
		w->n_bound++;
	}
	w->db = wsg_db_pool_new(w->base, &rt->db_params,
				cfg->userstore.pool_size, &rt->db_stats);
	w->upstream = wsg_upstream_pool_new(w->base, rt->metrics);
	w->wake = event_new(w->base, -1, 0, wake_cb, w);
	w->reload = event_new(w->base, -1, 0, reload_cb, w);
	w->drain_timer = evtimer_new(w->base, drain_timer_cb, w);
	return WSG_OK;
}

static void
server_free(struct wsg_server *s)
{
	size_t i;

	for (i = 0; i < s->n_workers; i++)
		worker_cleanup(&s->workers[i], s->n_listen);
	free(s->workers);
	wsg_snapshot_unref(s->snap);
	free(s);
}

/* limits.max_connections in force, for /metrics. */
static void
publish_limit(struct wsg_server *s, const struct wsg_config *cfg)
{
	if (s->rt->metrics != NULL)
		__atomic_store_n(&s->rt->metrics->connections_limit,
				 (uint64_t)cfg->limits.max_connections,
				 __ATOMIC_RELAXED);
}

int
wsg_server_start(struct wsg_runtime *rt, struct wsg_snapshot *snap,
		 struct wsg_server **out, struct wsg_error *err)
{
	struct wsg_server *s;
	unsigned i, started = 0;
	int rc = WSG_OK;

	*out = NULL;
	s = wsg_mem_calloc(1, sizeof(*s));
	s->rt = rt;
	publish_limit(s, rt->cfg);
	s->n_listen = rt->cfg->n_listen;
	s->snap = wsg_snapshot_ref(snap);
	s->n_workers = rt->cfg->workers;
	s->workers = wsg_mem_calloc(s->n_workers, sizeof(*s->workers));
	for (i = 0; i < s->n_workers; i++) {
		rc = worker_init(&s->workers[i], i, rt, s, err);
		if (rc != WSG_OK)
			goto out;
	}
	for (i = 0; i < s->n_workers; i++) {
		if (pthread_create(&s->workers[i].thread, NULL, worker_main,
				   &s->workers[i]) != 0) {
			rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
					   "cannot start worker thread %u", i);
			goto out;
		}
		started++;
	}
	*out = s;
	s = NULL;
out:
	if (s != NULL) {
		for (i = 0; i < started; i++) {
			event_active(s->workers[i].wake, EV_READ, 0);
			pthread_join(s->workers[i].thread, NULL);
		}
		server_free(s);
	}
	return rc;
}

void
wsg_server_reload(struct wsg_server *s, struct wsg_snapshot *snap)
{
	struct wsg_snapshot *old;
	unsigned i;

	for (i = 0; i < s->n_workers; i++) {
		struct wsg_worker *w = &s->workers[i];

		old = __atomic_exchange_n(&w->pending, wsg_snapshot_ref(snap),
					  __ATOMIC_ACQ_REL);
		wsg_snapshot_unref(old);
		event_active(w->reload, EV_READ, 0);
	}
	wsg_snapshot_unref(s->snap);
	s->snap = wsg_snapshot_ref(snap);
	publish_limit(s, snap->cfg);
}

void
wsg_server_stop(struct wsg_server *s, int drain_seconds)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_workers; i++) {
		struct wsg_worker *w = &s->workers[i];

		w->drain_seconds = drain_seconds;
		event_active(w->wake, EV_READ, 0);
	}
	for (i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i].thread, NULL);
	server_free(s);
}
