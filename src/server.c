#include "server.h"

#include <errno.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "request.h"
#include "tls.h"
#include "upstream.h"

#define LISTEN_BACKLOG 1024
/* Upstream answers larger than this are refused (502) rather than buffered. */
#define MAX_UPSTREAM_RESPONSE (64u * 1024 * 1024)

struct wsg_server {
	struct wsg_worker *workers;
	unsigned n_workers;
	SSL_CTX **listen_tls;    /* per listen entry; NULL for plain HTTP */
	size_t n_listen;
	struct wsg_tls_clients *upstream_tls;
};

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
stop_loop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_worker *w = arg;

	event_base_loopbreak(w->base);
}

/* Runs on the worker's thread when the main thread asks it to stop. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_worker *w = arg;
	size_t i;

	for (i = 0; i < w->n_bound; i++)
		evhttp_del_accept_socket(w->listen_http[i], w->bound[i]);
	w->n_bound = 0;
	w->draining = 1;
	if (w->inflight == 0) {
		event_base_loopbreak(w->base);
		return;
	}
	{
		struct timeval tv = { .tv_sec = w->drain_seconds, .tv_usec = 0 };

		evtimer_add(w->drain_timer, &tv);
	}
}

void
wsg_server_request_done(struct wsg_worker *w)
{
	w->inflight--;
	if (w->draining && w->inflight == 0)
		event_base_loopbreak(w->base);
}

static void *
worker_main(void *arg)
{
	struct wsg_worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

static void
worker_cleanup(struct wsg_worker *w, size_t n_listen)
{
	size_t i;

	wsg_upstream_pool_free(w->upstream);
	w->upstream = NULL;
	wsg_db_pool_free(w->db);
	w->db = NULL;
	for (i = 0; i < w->n_bound; i++)
		evhttp_del_accept_socket(w->listen_http[i], w->bound[i]);
	w->n_bound = 0;
	for (i = 0; w->listen_http != NULL && i < n_listen; i++)
		if (w->listen_http[i] != NULL && w->listen_http[i] != w->http)
			evhttp_free(w->listen_http[i]);
	if (w->http != NULL)
		evhttp_free(w->http);
	w->http = NULL;
	free(w->listen_http);
	w->listen_http = NULL;
	free(w->bound);
	w->bound = NULL;
	if (w->wake != NULL)
		event_free(w->wake);
	if (w->drain_timer != NULL)
		event_free(w->drain_timer);
	w->wake = w->drain_timer = NULL;
	if (w->base != NULL)
		event_base_free(w->base);
	w->base = NULL;
}

/* A data-plane evhttp on the worker's loop; every one behaves the same. */
static struct evhttp *
http_new(struct wsg_worker *w, const struct wsg_config *cfg)
{
	struct evhttp *http = evhttp_new(w->base);

	if (http == NULL)
		abort();
	evhttp_set_timeout(http, (int)cfg->limits.request_timeout);
	evhttp_set_max_headers_size(http,
				    (ev_ssize_t)cfg->limits.max_header_size);
	evhttp_set_max_body_size(http, (ev_ssize_t)cfg->limits.max_body_size);
	/* Every method reaches us, so the answer is a SOAP fault, not HTML. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
		EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
		EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH | EVHTTP_REQ_TRACE |
		EVHTTP_REQ_CONNECT);
	evhttp_set_gencb(http, wsg_request_handle_cb, w);
	return http;
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
	    const struct wsg_server *s, struct wsg_error *err)
{
	const struct wsg_config *cfg = rt->cfg;
	struct evhttp *http;
	size_t i;
	int rc;

	w->id = id;
	w->rt = rt;
	w->base = base_new();
	if (w->base == NULL)
		return wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
				     "cannot create an event base");
	w->http = http_new(w, cfg);
	w->listen_http = wsg_mem_calloc(cfg->n_listen,
					sizeof(*w->listen_http));
	w->bound = wsg_mem_calloc(cfg->n_listen, sizeof(*w->bound));
	for (i = 0; i < cfg->n_listen; i++) {
		const struct wsg_listen_conf *l = &cfg->listen[i];
		evutil_socket_t fd;

		if (s->listen_tls[i] != NULL) {
			http = http_new(w, cfg);
			evhttp_set_bevcb(http, wsg_tls_bevcb, s->listen_tls[i]);
		} else {
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
				cfg->userstore.pool_size);
	w->upstream = wsg_upstream_pool_new(w->base, MAX_UPSTREAM_RESPONSE,
					    s->upstream_tls);
	w->wake = event_new(w->base, -1, 0, wake_cb, w);
	w->drain_timer = evtimer_new(w->base, stop_loop_cb, w);
	return WSG_OK;
}

static void
server_free(struct wsg_server *s)
{
	size_t i;

	for (i = 0; i < s->n_workers; i++)
		worker_cleanup(&s->workers[i], s->n_listen);
	free(s->workers);
	for (i = 0; i < s->n_listen; i++)
		SSL_CTX_free(s->listen_tls[i]);
	free(s->listen_tls);
	wsg_tls_clients_free(s->upstream_tls);
	free(s);
}

/* Certificates and keys are read once, before any socket is opened. */
static int
tls_init(struct wsg_server *s, const struct wsg_config *cfg,
	 struct wsg_error *err)
{
	char why[sizeof(err->reason)];
	size_t i;
	int rc;

	s->n_listen = cfg->n_listen;
	s->listen_tls = wsg_mem_calloc(cfg->n_listen, sizeof(*s->listen_tls));
	for (i = 0; i < cfg->n_listen; i++) {
		if (!cfg->listen[i].has_tls)
			continue;
		rc = wsg_tls_server_ctx_new(&cfg->listen[i].tls,
					    &s->listen_tls[i], err);
		if (rc != WSG_OK) {
			snprintf(why, sizeof(why), "%s", err->reason);
			return wsg_error_set(err, rc, WSG_FAULT_NONE,
					     "listen %s: %s",
					     cfg->listen[i].address, why);
		}
	}
	return wsg_tls_clients_new(cfg, &s->upstream_tls, err);
}

int
wsg_server_start(struct wsg_runtime *rt, struct wsg_server **out,
		 struct wsg_error *err)
{
	struct wsg_server *s;
	unsigned i, started = 0;
	int rc = WSG_OK;

	*out = NULL;
	s = wsg_mem_calloc(1, sizeof(*s));
	rc = tls_init(s, rt->cfg, err);
	if (rc != WSG_OK)
		goto out;
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
