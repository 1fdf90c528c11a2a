#include "upstream.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "err.h"
#include "mem.h"
#include "tls.h"

/* An upstream's status line and headers beyond this are refused (502), so
 * a broken upstream cannot make the gateway buffer without end. */
#define MAX_RESPONSE_HEADERS (256 * 1024)
/* Interim (1xx) answers skipped before a final one; more fail the exchange. */
#define MAX_INTERIM 16

/*
 * One upstream origin as a route's URL and TLS context name it; its idle
 * keep-alive connections wait here. A retired target (after a reload) gets
 * no new exchanges and goes when its last one ends.
 */
struct target {
	LIST_ENTRY(target) link;
	char *url;               /* identifies the target, with `tls` */
	char *host;
	unsigned port;
	char *path;              /* base path, "" for none */
	SSL_CTX *tls;            /* https: a reference to the route's context */
	int tls_verify;
	unsigned busy;           /* exchanges in flight */
	int retired;
	LIST_HEAD(, pooled_conn) idle;
};

struct exchange;

struct pooled_conn {
	LIST_ENTRY(pooled_conn) link;
	struct evhttp_connection *evcon;
	struct exchange *ex;     /* while busy */
	int tls;
	/*
	 * A TLS connection that closed or failed is dropped, never reconnected:
	 * each TCP connection gets a fresh SSL object, so its handshake, SNI
	 * and certificate checks never depend on libevent reusing SSL state.
	 */
	int dead;
};

struct wsg_upstream_pool {
	struct event_base *base;
	unsigned rr;
	int closing;             /* shut down: no new exchanges */
	struct wsg_metrics *metrics; /* NULL: none kept */
	LIST_HEAD(, target) targets;
	LIST_HEAD(, target) retired;
	LIST_HEAD(, pooled_conn) busy;
};

/* One exchange in flight. */
struct exchange {
	struct target *target;
	struct pooled_conn *conn;
	struct event deadline;   /* the route's timeout for the whole answer */
	wsg_upstream_done_cb done;
	void *arg;
	int error_seen;
	enum evhttp_request_error error;
	int starting;            /* inside evhttp_make_request */
	int finished;
	int interim;             /* the 1xx status that ended the exchange */
	unsigned interims;       /* 1xx answers skipped */
	struct event resume;     /* reads on after a skipped 1xx */
	int drop;                /* finished: close the connection, not pool */
	enum evhttp_cmd_type method;
	struct wsg_metrics *metrics;
	struct timespec started; /* CLOCK_MONOTONIC, for the latency metric */
};

#define NAME(s) {s, sizeof(s) - 1}
/* With lengths: every header of every exchange is checked against them. */
static const struct {
	const char *name;
	size_t len;
} hop_by_hop[] = {
	NAME("Connection"), NAME("Keep-Alive"), NAME("Proxy-Authenticate"),
	NAME("Proxy-Authorization"), NAME("Proxy-Connection"), NAME("TE"),
	NAME("Trailer"), NAME("Trailers"), NAME("Transfer-Encoding"),
	NAME("Upgrade"),
};
#undef NAME

/* Hop-by-hop per RFC 9110 7.6.1, including names listed in Connection. */
static int
is_hop_by_hop(const char *name, const char *connection)
{
	size_t i, n = strlen(name);
	const char *p;

	for (i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
		if (n == hop_by_hop[i].len &&
		    strcasecmp(name, hop_by_hop[i].name) == 0)
			return 1;
	for (p = connection; p != NULL && *p != '\0';) {
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, ", \t");
		if (len == n && len > 0 && strncasecmp(p, name, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

struct wsg_upstream_pool *
wsg_upstream_pool_new(struct event_base *base, struct wsg_metrics *metrics)
{
	struct wsg_upstream_pool *p = wsg_mem_calloc(1, sizeof(*p));

	p->base = base;
	p->metrics = metrics;
	LIST_INIT(&p->targets);
	LIST_INIT(&p->retired);
	LIST_INIT(&p->busy);
	return p;
}

static void
conn_free(struct pooled_conn *c)
{
	LIST_REMOVE(c, link);
	evhttp_connection_free(c->evcon);
	free(c);
}

static void
target_free(struct target *t)
{
	while (LIST_FIRST(&t->idle) != NULL)
		conn_free(LIST_FIRST(&t->idle));
	LIST_REMOVE(t, link);
	SSL_CTX_free(t->tls);
	free(t->url);
	free(t->host);
	free(t->path);
	free(t);
}

void
wsg_upstream_pool_free(struct wsg_upstream_pool *p)
{
	if (p == NULL)
		return;
	while (!LIST_EMPTY(&p->busy))
		conn_free(LIST_FIRST(&p->busy));
	while (!LIST_EMPTY(&p->targets))
		target_free(LIST_FIRST(&p->targets));
	while (!LIST_EMPTY(&p->retired))
		target_free(LIST_FIRST(&p->retired));
	free(p);
}

void
wsg_upstream_pool_retire(struct wsg_upstream_pool *p)
{
	struct target *t;

	while ((t = LIST_FIRST(&p->targets)) != NULL) {
		if (t->busy == 0) {
			target_free(t);
			continue;
		}
		while (LIST_FIRST(&t->idle) != NULL)
			conn_free(LIST_FIRST(&t->idle));
		t->retired = 1;
		LIST_REMOVE(t, link);
		LIST_INSERT_HEAD(&p->retired, t, link);
	}
}

/* Parsed once per worker, URL and TLS context; config validated the URL. */
static struct target *
target_get(struct wsg_upstream_pool *p, const struct wsg_upstream_send *s,
	   const char *url)
{
	const struct wsg_route_conf *rt = s->route;
	struct evhttp_uri *uri;
	struct target *t;
	const char *host, *path;
	SSL_CTX *tls = NULL;
	int port;

	/* Never fall back to plain text for an https URL. */
	if (strncasecmp(url, "https:", 6) == 0 &&
	    (tls = wsg_tls_clients_get(s->tls, rt)) == NULL)
		return NULL;
	LIST_FOREACH(t, &p->targets, link)
		if (t->tls == tls && strcmp(t->url, url) == 0 &&
		    t->tls_verify == rt->tls_verify)
			return t;
	uri = evhttp_uri_parse(url);
	if (uri == NULL || (host = evhttp_uri_get_host(uri)) == NULL) {
		evhttp_uri_free(uri);
		return NULL;
	}
	t = wsg_mem_calloc(1, sizeof(*t));
	t->url = wsg_mem_strdup(url);
	t->host = wsg_mem_strdup(host);
	/* Its own reference: a reload frees the contexts of the old config
	 * while this target may still serve an exchange. */
	if (tls != NULL) {
		SSL_CTX_up_ref(tls);
		t->tls = tls;
	}
	t->tls_verify = rt->tls_verify;
	port = evhttp_uri_get_port(uri);
	t->port = port > 0 ? (unsigned)port : tls != NULL ? 443 : 80;
	path = evhttp_uri_get_path(uri);
	t->path = wsg_mem_strdup(path != NULL ? path : "");
	LIST_INIT(&t->idle);
	LIST_INSERT_HEAD(&p->targets, t, link);
	evhttp_uri_free(uri);
	return t;
}

static void
conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct pooled_conn *c = arg;

	if (c->tls)
		c->dead = 1;
}

static struct pooled_conn *
conn_new(struct wsg_upstream_pool *p, struct target *t)
{
	struct pooled_conn *c = wsg_mem_calloc(1, sizeof(*c));
	struct bufferevent *bev;

	if (t->tls == NULL) {
		c->evcon = evhttp_connection_base_new(p->base, NULL, t->host,
						      (unsigned short)t->port);
	} else {
		c->tls = 1;
		bev = wsg_tls_client_bev_new(p->base, t->tls, t->host,
					     t->tls_verify);
		if (bev != NULL)
			c->evcon = evhttp_connection_base_bufferevent_new(
				p->base, NULL, bev, t->host,
				(unsigned short)t->port);
		if (bev != NULL && c->evcon == NULL)
			bufferevent_free(bev);
	}
	if (c->evcon == NULL) {
		free(c);
		return NULL;
	}
	evhttp_connection_set_max_headers_size(c->evcon, MAX_RESPONSE_HEADERS);
	evhttp_connection_set_closecb(c->evcon, conn_close_cb, c);
	return c;
}

static struct pooled_conn *
conn_get(struct wsg_upstream_pool *p, struct target *t)
{
	struct pooled_conn *c;

	while ((c = LIST_FIRST(&t->idle)) != NULL && c->dead)
		conn_free(c);
	if (c != NULL)
		LIST_REMOVE(c, link);
	else if ((c = conn_new(p, t)) == NULL)
		return NULL;
	LIST_INSERT_HEAD(&p->busy, c, link);
	return c;
}

/* The exchange is over: its connection goes back to the target's idle
 * list, or is closed when `drop` or its target was retired. */
static void
exchange_release(struct exchange *ex, int drop)
{
	struct target *t = ex->target;
	struct pooled_conn *c = ex->conn;

	event_del(&ex->deadline);
	event_del(&ex->resume);
	c->ex = NULL;
	t->busy--;
	if (drop || t->retired) {
		conn_free(c);
	} else {
		LIST_REMOVE(c, link);
		LIST_INSERT_HEAD(&t->idle, c, link);
	}
	if (t->retired && t->busy == 0)
		target_free(t);
	free(ex);
}

/*
 * Ends an exchange that libevent still runs: freeing its connection frees
 * the request without calling back, so `done` runs exactly once, here.
 */
/* Outcome and latency of an exchange that ends with `status`. */
static void
record(const struct exchange *ex, int status)
{
	enum wsg_metrics_upstream k = status == WSG_OK
	                                      ? WSG_METRICS_UPSTREAM_OK
	                              : status == WSG_ERR_TIMEOUT
	                                      ? WSG_METRICS_UPSTREAM_TIMEOUT
	                                      : WSG_METRICS_UPSTREAM_ERROR;

	if (ex->metrics != NULL)
		wsg_histogram_observe(&ex->metrics->upstream[k],
		                      wsg_metrics_elapsed_us(&ex->started));
}

static void
exchange_cut(struct exchange *ex, int status, const char *reason)
{
	wsg_upstream_done_cb done = ex->done;
	void *arg = ex->arg;

	record(ex, status);
	exchange_release(ex, 1);
	done(status, NULL, reason, arg);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	exchange_cut(arg, WSG_ERR_TIMEOUT, "upstream timed out");
}

void
wsg_upstream_pool_shutdown(struct wsg_upstream_pool *p, const char *reason)
{
	struct pooled_conn *c, *next;

	p->closing = 1;
	for (c = LIST_FIRST(&p->busy); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c->ex != NULL)
			exchange_cut(c->ex, WSG_ERR_IO, reason);
	}
}

static void
error_cb(enum evhttp_request_error error, void *arg)
{
	struct exchange *ex = arg;

	ex->error_seen = 1;
	ex->error = error;
}

static const char *
error_text(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT: return "upstream timed out";
	case EVREQ_HTTP_EOF: return "upstream closed the connection";
	case EVREQ_HTTP_INVALID_HEADER: return "upstream sent an invalid response";
	case EVREQ_HTTP_BUFFER_ERROR: return "upstream connection failed";
	case EVREQ_HTTP_REQUEST_CANCEL: return "upstream exchange cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG: return "upstream response too large";
	}
	return "upstream exchange failed";
}

/*
 * libevent 2.1 takes a 1xx other than 100 for the final answer (pooling
 * the connection while the real one is still on its way to the next user)
 * and, after a 100, waits for the rest of a body it has already sent. So
 * every 1xx is made a 100 with its headers dropped, and the resume event
 * then tells libevent its (empty) output is written, so it reads the next
 * answer. 101 switches to a protocol the gateway never asked for: that,
 * or too many 1xx, fails the exchange (libevent closes the connection).
 */
static int
header_cb(struct evhttp_request *resp, void *arg)
{
	struct exchange *ex = arg;
	int code = evhttp_request_get_response_code(resp);

	if (code < 100 || code > 199)
		return 0;
	if (code == 101 || ++ex->interims > MAX_INTERIM) {
		ex->interim = code;
		return -1;
	}
	resp->response_code = 100;
	evhttp_clear_headers(evhttp_request_get_input_headers(resp));
	event_active(&ex->resume, EV_TIMEOUT, 1);
	return 0;
}

/* After a skipped 1xx: libevent is back in its writing state (no read
 * callback) with nothing left to write, and would wait forever for the
 * write callback that only written bytes raise. */
static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *ex = arg;
	struct bufferevent *bev =
	        evhttp_connection_get_bufferevent(ex->conn->evcon);
	bufferevent_data_cb readcb, writecb;

	bufferevent_getcb(bev, &readcb, &writecb, NULL, NULL);
	if (readcb == NULL && writecb != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_trigger(bev, EV_WRITE, 0);
}

/* `list` (a Connection value) holds `token`, case-insensitively. */
static int
has_token(const char *list, const char *token)
{
	size_t n = strlen(token), len;

	while (list != NULL && *list != '\0') {
		list += strspn(list, " \t,");
		len = strcspn(list, " \t,");
		if (len == n && strncasecmp(list, token, n) == 0)
			return 1;
		list += len;
	}
	return 0;
}

/*
 * Whether the connection may carry another exchange: the whole request
 * was written, the answer's end came from its framing (Content-Length or
 * chunked, never the close) and neither side ends the connection
 * (RFC 9112 9.3). Anything else could leave bytes of this exchange in the
 * stream for the next user's.
 */
static int
reusable(const struct exchange *ex, struct evhttp_request *resp)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(resp);
	struct bufferevent *bev =
	        evhttp_connection_get_bufferevent(ex->conn->evcon);
	const char *connection = evhttp_find_header(in, "Connection");
	const char *te = evhttp_find_header(in, "Transfer-Encoding");
	int code = evhttp_request_get_response_code(resp);

	if (evbuffer_get_length(evhttp_request_get_output_buffer(resp)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0 ||
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		return 0;
	if (has_token(connection, "close") ||
	    has_token(
	            evhttp_find_header(evhttp_request_get_output_headers(resp),
	                               "Connection"),
	            "close"))
		return 0;
	if (resp->major != 1 ||
	    (resp->minor == 0 && !has_token(connection, "keep-alive")))
		return 0;
	if (ex->method == EVHTTP_REQ_HEAD || code == 204 || code == 304)
		return 1;
	/* Both framings at once is how smuggling starts (RFC 9112 6.3). */
	if (te != NULL)
		return strcasecmp(te, "chunked") == 0 &&
		       evhttp_find_header(in, "Content-Length") == NULL;
	return evhttp_find_header(in, "Content-Length") != NULL;
}

static void
response_cb(struct evhttp_request *resp, void *arg)
{
	struct exchange *ex = arg;
	int failed = resp == NULL || evhttp_request_get_response_code(resp) == 0;
	int drop = 1;

	ex->finished = 1;
	event_del(&ex->deadline);
	if (failed) {
		int timeout = ex->error_seen && ex->error == EVREQ_HTTP_TIMEOUT;
		char tls_why[200], reason[300];

		tls_why[0] = '\0';
		if (ex->conn->tls) {
			ex->conn->dead = 1;
			wsg_tls_describe_failure(
				evhttp_connection_get_bufferevent(
					ex->conn->evcon),
				tls_why, sizeof(tls_why));
		}
		if (ex->interims > MAX_INTERIM)
			snprintf(reason, sizeof(reason),
			         "upstream sent more than %d interim responses",
			         MAX_INTERIM);
		else if (ex->interim != 0)
			snprintf(reason, sizeof(reason),
			         "upstream sent an interim %d response",
			         ex->interim);
		else if (tls_why[0] != '\0' && !timeout)
			snprintf(reason, sizeof(reason), "upstream %s",
				 tls_why);
		else
			snprintf(reason, sizeof(reason), "%s",
				 ex->error_seen
				 ? error_text(ex->error)
				 : "upstream refused or reset the connection");
		record(ex, timeout ? WSG_ERR_TIMEOUT : WSG_ERR_IO);
		ex->done(timeout ? WSG_ERR_TIMEOUT : WSG_ERR_IO, NULL, reason,
			 ex->arg);
	} else {
		drop = !reusable(ex, resp);
		record(ex, WSG_OK);
		ex->done(WSG_OK, resp, NULL, ex->arg);
	}
	ex->drop = drop;
	if (!ex->starting)
		exchange_release(ex, drop);
}

/*
 * A name an upstream may take for one of the gateway's identity headers:
 * "X-WSS-" in any case with '_' and '-' alike, as CGI, WSGI, Rack and
 * older gunicorn map both to HTTP_X_WSS_*.
 */
static int
is_identity(const char *name)
{
	static const char prefix[] = "x-wss-";
	size_t i;

	for (i = 0; i < sizeof(prefix) - 1; i++)
		if ((name[i] == '_' ? '-' : tolower((unsigned char)name[i])) !=
		    prefix[i])
			return 0;
	return 1;
}

static void
copy_request_headers(const struct wsg_upstream_send *s,
		     struct evkeyvalq *out)
{
	const char *connection = evhttp_find_header(s->client_headers,
						    "Connection");
	struct evkeyval *h;

	TAILQ_FOREACH(h, s->client_headers, next) {
		/* Expect: the gateway already holds the whole body, and a
		 * client waiting for 100 would let an early answer pool a
		 * connection the upstream still reads a body from. */
		if (is_hop_by_hop(h->key, connection) ||
		    strcasecmp(h->key, "Host") == 0 ||
		    strcasecmp(h->key, "Content-Length") == 0 ||
		    strcasecmp(h->key, "Expect") == 0 || is_identity(h->key) ||
		    (!s->allow_underscores && strchr(h->key, '_') != NULL) ||
		    (s->strip_authorization &&
		     strcasecmp(h->key, "Authorization") == 0))
			continue;
		evhttp_add_header(out, h->key, h->value);
	}
}

char *
wsg_upstream_encode_identity(const char *s, int list)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char *out, *o;

	out = o = wsg_mem_alloc(strlen(s) * 3 + 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p > 0x20 && *p < 0x7f && *p != '%' && *p != ',') ||
		    (list && *p == ',')) {
			*o++ = (char)*p;
			continue;
		}
		*o++ = '%';
		*o++ = hex[*p >> 4];
		*o++ = hex[*p & 0x0f];
	}
	*o = '\0';
	return out;
}

int
wsg_upstream_forward(struct wsg_upstream_pool *p,
		     const struct wsg_upstream_send *s,
		     wsg_upstream_done_cb done, void *arg)
{
	const struct wsg_route_conf *rt = s->route;
	struct evhttp_request *ureq;
	struct evkeyvalq *hdrs;
	struct exchange *ex;
	struct target *t;
	struct timeval tv;
	char hostport[300], *uri, *ident;
	int rc;

	if (p->closing)
		return WSG_ERR_IO;
	t = target_get(p, s, rt->upstreams[p->rr++ % rt->n_upstreams]);
	if (t == NULL)
		return WSG_ERR_CONFIG;
	ex = wsg_mem_calloc(1, sizeof(*ex));
	ex->target = t;
	ex->done = done;
	ex->arg = arg;
	ex->metrics = p->metrics;
	ex->method = s->method;
	clock_gettime(CLOCK_MONOTONIC, &ex->started);
	ex->conn = conn_get(p, t);
	if (ex->conn == NULL) {
		record(ex, WSG_ERR_IO);
		free(ex);
		return WSG_ERR_IO;
	}
	ex->conn->ex = ex;
	t->busy++;
	evtimer_assign(&ex->deadline, p->base, deadline_cb, ex);
	event_assign(&ex->resume, p->base, -1, 0, resume_cb, ex);
	evhttp_connection_set_timeout(ex->conn->evcon, (int)rt->timeout);
	evhttp_connection_set_max_body_size(ex->conn->evcon,
		(ev_ssize_t)s->max_response_size);
	ureq = evhttp_request_new(response_cb, ex);
	evhttp_request_set_error_cb(ureq, error_cb);
	evhttp_request_set_header_cb(ureq, header_cb);
	hdrs = evhttp_request_get_output_headers(ureq);
	copy_request_headers(s, hdrs);
	if (t->port == (t->tls != NULL ? 443u : 80u))
		snprintf(hostport, sizeof(hostport), "%s", t->host);
	else
		snprintf(hostport, sizeof(hostport), strchr(t->host, ':')
			 ? "[%s]:%u" : "%s:%u", t->host, t->port);
	evhttp_add_header(hdrs, "Host", hostport);
	ident = wsg_upstream_encode_identity(s->user, 0);
	evhttp_add_header(hdrs, "X-WSS-User", ident);
	free(ident);
	ident = wsg_upstream_encode_identity(s->roles, 1);
	evhttp_add_header(hdrs, "X-WSS-Roles", ident);
	free(ident);
	/* libevent adds Content-Length for POST and PUT only. */
	if (s->body_len > 0 || s->method == EVHTTP_REQ_POST ||
	    s->method == EVHTTP_REQ_PUT) {
		char clen[24];

		snprintf(clen, sizeof(clen), "%zu", s->body_len);
		evhttp_add_header(hdrs, "Content-Length", clen);
	}
	evbuffer_add(evhttp_request_get_output_buffer(ureq), s->body,
		     s->body_len);
	uri = wsg_mem_printf("%s%s", t->path[0] ? t->path : "/",
			     t->path[0] ? s->uri_suffix
					: s->uri_suffix + (s->uri_suffix[0] == '/'));
	ex->starting = 1;
	rc = evhttp_make_request(ex->conn->evcon, ureq, s->method, uri);
	ex->starting = 0;
	free(uri);
	if (ex->finished) {
		exchange_release(ex, ex->drop);
		return WSG_OK;
	}
	if (rc != 0) {
		/* libevent could not start connecting; the request is then
		 * neither queued nor freed. */
		evhttp_request_free(ureq);
		exchange_cut(ex, WSG_ERR_IO, "cannot start the upstream request");
		return WSG_OK;
	}
	/* evhttp's own timeout restarts with every byte; this one does not. */
	tv.tv_sec = rt->timeout;
	tv.tv_usec = 0;
	evtimer_add(&ex->deadline, &tv);
	return WSG_OK;
}

void
wsg_upstream_copy_response_headers(struct evhttp_request *resp,
				   struct evkeyvalq *out)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(resp);
	const char *connection = evhttp_find_header(in, "Connection");
	struct evkeyval *h;

	TAILQ_FOREACH(h, in, next) {
		if (is_hop_by_hop(h->key, connection) ||
		    strcasecmp(h->key, "Content-Length") == 0)
			continue;
		evhttp_add_header(out, h->key, h->value);
	}
}
