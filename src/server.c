#include "server.h"

#include <errno.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "err.h"
#include "ldapstore.h"
#include "mem.h"
#include "metrics.h"
#include "tls.h"
#include "upstream.h"
#include "wsdl_fetch.h"

#define LISTEN_BACKLOG 1024
/* Once drain_timeout has cut what was in flight, its answers get this long
 * to go out. */
#define CUT_GRACE_MS 1000
/* While argon2 jobs of cut requests finish (milliseconds each). */
#define CUT_POLL_MS 50
/* At most one "max_connections reached" line per this many seconds. */
#define REFUSAL_LOG_SECONDS 10

struct wsg_server {
	struct wsg_runtime *rt;
	struct wsg_worker *workers;
	unsigned n_workers;
	size_t n_listen;
	struct wsg_snapshot *snap;  /* the latest one handed to workers */
	unsigned connections;       /* atomic: data-plane connections open */
	unsigned long long refused; /* atomic: closed over max_connections */
	long long refusal_logged;   /* atomic: time of the last log line */
};

/* One listen entry's socket on one worker. */
struct wsg_listener {
	struct wsg_worker *w;
	size_t index;        /* its listen entry: TLS from w->snap */
	struct event *ev;    /* readable: connections to accept */
	struct event *pause; /* out of descriptors: accepting again */
};

/* -------- snapshots (worker.c counts their references) -------- */

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
	    (rc = wsg_tls_server_ctx_new(&cfg->management.tls, &snap->mgmt_tls,
	                                 err)) != WSG_OK) {
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

/* -------- connections -------- */

static void
note_refusal(struct wsg_server *s, unsigned max)
{
	unsigned long long n =
	        __atomic_add_fetch(&s->refused, 1, __ATOMIC_RELAXED);
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

/* Out of descriptors: the listener rests a moment instead of spinning. */
#define ACCEPT_PAUSE_MS 100
/* Connections taken per wake-up, so one listener cannot starve the rest. */
#define ACCEPT_BATCH 32

static void
pause_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_listener *l = arg;

	if (!l->w->draining)
		event_add(l->ev, NULL);
}

/* Every accepted connection passes here; over limits.max_connections
 * (every worker counts against one cap) it is closed at once. */
static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_listener *l = arg;
	struct wsg_worker *w = l->w;
	unsigned max = w->snap->cfg->limits.max_connections, n;
	struct timeval tv = {.tv_sec = 0, .tv_usec = ACCEPT_PAUSE_MS * 1000};
	evutil_socket_t c;
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				event_del(l->ev);
				evtimer_add(l->pause, &tv);
			}
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		n = __atomic_add_fetch(&w->server->connections, 1,
		                       __ATOMIC_RELAXED);
		if (max != 0 && n > max) {
			note_refusal(w->server, max);
			close(c);
			wsg_worker_conn_closed(w);
			continue;
		}
		wsg_conn_accept(w, c, w->snap->listen_tls[l->index]);
	}
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
	struct timeval tv = {.tv_sec = 0, .tv_usec = CUT_GRACE_MS * 1000};

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
		wsg_ldapstore_pool_shutdown(w->ldap);
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

static void
close_listeners(struct wsg_worker *w)
{
	size_t i;

	for (i = 0; i < w->n_listeners; i++) {
		struct wsg_listener *l = &w->listeners[i];

		close(event_get_fd(l->ev));
		event_free(l->ev);
		event_free(l->pause);
	}
	w->n_listeners = 0;
}

/* Runs on the worker's thread when the main thread asks it to stop. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_worker *w = arg;
	struct timeval tv = {.tv_sec = w->drain_seconds, .tv_usec = 0};

	close_listeners(w);
	w->draining = 1;
	/* Idle keep-alive connections go now; busy ones after their answer. */
	wsg_conn_close_idle(w);
	evtimer_add(w->drain_timer, &tv);
	wsg_worker_drain_check(w);
}

/* Runs on the worker's thread after wsg_server_reload(). */
static void
reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_worker *w = arg;
	struct wsg_snapshot *snap, *old;

	snap = __atomic_exchange_n(&w->pending, NULL, __ATOMIC_ACQ_REL);
	if (snap == NULL)
		return;
	/* Connections already open take the new limits from their next
	 * request on. */
	old = w->snap;
	w->snap = snap;
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
worker_cleanup(struct wsg_worker *w)
{
	close_listeners(w);
	if (w->base != NULL)
		wsg_conn_free_all(w);
	wsg_wsdl_cache_free(w->wsdl_cache);
	w->wsdl_cache = NULL;
	wsg_upstream_pool_free(w->upstream);
	w->upstream = NULL;
	wsg_db_pool_free(w->db);
	w->db = NULL;
	wsg_ldapstore_pool_free(w->ldap);
	w->ldap = NULL;
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
 * An epoll change list coalesces the event adds and deletes made within
 * one loop turn into one epoll_ctl (a connection's read and write
 * interest: one call). Its one caveat, dup()ed sockets sharing an epoll
 * registration, does not arise here.
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
            struct wsg_server *s, wsg_worker_handler_cb handle,
            struct wsg_error *err)
{
	const struct wsg_config *cfg = rt->cfg;
	size_t i;
	int rc;

	w->id = id;
	w->rt = rt;
	w->server = s;
	w->handle = handle;
	w->connections = &s->connections;
	w->snap = wsg_snapshot_ref(s->snap);
	LIST_INIT(&w->conns);
	w->base = base_new();
	if (w->base == NULL)
		return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                     "cannot create an event base");
	w->listeners = wsg_mem_calloc(cfg->n_listen, sizeof(*w->listeners));
	for (i = 0; i < cfg->n_listen; i++) {
		const struct wsg_listen_conf *lc = &cfg->listen[i];
		struct wsg_listener *l = &w->listeners[i];
		evutil_socket_t fd;

		rc = open_listener(lc->host, lc->port, &fd, err);
		if (rc != WSG_OK)
			return rc;
		l->w = w;
		l->index = i;
		l->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, accept_cb,
		                  l);
		l->pause = evtimer_new(w->base, pause_cb, l);
		if (l->ev == NULL || l->pause == NULL || event_add(l->ev, NULL))
			abort();
		w->n_listeners++;
	}
	w->db = wsg_db_pool_new(w->base, &rt->db_params,
	                        cfg->userstore.pool_size, &rt->db_stats);
	if (cfg->userstore.ldap)
		w->ldap = wsg_ldapstore_pool_new(
		        w->base, rt->ldap_openers, &cfg->ldap,
		        cfg->management.admin_role, rt->ldap_password,
		        cfg->userstore.max_waiting);
	w->upstream =
	        wsg_upstream_pool_new(w->base, rt->metrics, &cfg->resolver);
	w->wsdl_cache = wsg_wsdl_cache_new(w->upstream);
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
		worker_cleanup(&s->workers[i]);
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
                 wsg_worker_handler_cb handle, struct wsg_server **out,
                 struct wsg_error *err)
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
		rc = worker_init(&s->workers[i], i, rt, s, handle, err);
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
