#include "upstream.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "err.h"
#include "fmt.h"
#include "mem.h"
#include "tls.h"

/* An upstream's status line and headers beyond this are refused (502), so
 * a broken upstream cannot make the gateway buffer without end. */
#define MAX_RESPONSE_HEAD (256 * 1024)
#define MAX_RESPONSE_HEADERS 256 /* field lines in one answer head */
/* Interim (1xx) answers skipped before a final one; more fail the exchange. */
#define MAX_INTERIM 16
/* A connection's read buffer to begin with, and what it shrinks back to
 * when it goes back to the pool. */
#define READ_BUFFER 16384
/* Idle keep-alive connections per upstream per worker, and how long one
 * waits for its next exchange: upstreams close theirs too (often after
 * 5 to 75 s), and a close seen while idle costs nothing, one seen while
 * writing costs a 502. */
#define MAX_IDLE 64
#define IDLE_TIMEOUT 30

/*
 * One upstream origin as a route's URL and TLS context name it; its idle
 * keep-alive connections wait here. A retired target (after a reload) gets
 * no new exchanges and goes when its last one ends.
 */
struct target {
	LIST_ENTRY(target) link;
	char *url;      /* identifies the target, with `tls` */
	char *host;     /* for the resolver and TLS: no brackets */
	char *port;     /* decimal, for the resolver */
	char *hostport; /* the Host header */
	char *path;     /* base path, "" for none */
	char *query;    /* the URL's query, NULL for none */
	SSL_CTX *tls;   /* https: a reference to the route's context */
	int tls_verify;
	unsigned busy; /* exchanges in flight */
	unsigned n_idle;
	int retired;
	LIST_HEAD(, conn) idle;
};

enum conn_state {
	CONN_RESOLVING = 0, /* the host name is being looked up */
	CONN_CONNECTING,    /* waiting for connect() to complete */
	CONN_HANDSHAKE,     /* TLS handshake under way */
	CONN_OPEN,
};

/* Where an exchange stands; reading may start before writing is done,
 * as an upstream may answer early (then the connection is not reused). */
enum exchange_state {
	EX_WRITING = 0, /* the connection is made or being made */
	EX_HEAD,        /* written: waiting for the answer's head */
	EX_BODY,
	EX_DONE,
};

struct exchange;
struct lookup;

/*
 * One TCP connection to a target. Read interest is registered once, when
 * the connection is made, and stays while it lives (an idle connection
 * learns of its close at once); write interest only while a write is
 * blocked. The read buffer holds the answer in progress, parsed in place.
 */
struct conn {
	LIST_ENTRY(conn) link; /* the pool's busy list or the target's idle */
	struct wsg_upstream_pool *pool;
	struct target *target;
	evutil_socket_t fd; /* -1 while resolving */
	SSL *ssl;           /* https only */
	enum conn_state state;
	struct lookup *lookup; /* while resolving */
	int resolve_error;     /* EVUTIL_EAI_*: reported from wr */
	/* The name's addresses, until one takes the connection: the next
	 * is tried when one refuses ("localhost" may be ::1 first). */
	struct evutil_addrinfo *addrs, *addrs_next;
	int connect_errno;    /* connect() failed at once: reported from wr */
	int pooled;           /* on the target's idle list */
	int read_wants_write; /* SSL_read asked for a writable socket */
	struct event rd, wr, idle;
	struct exchange *ex; /* while busy */
	char *buf;
	size_t len, cap;
	struct wsg_h1_header headers[MAX_RESPONSE_HEADERS];
};

struct wsg_upstream_pool {
	struct event_base *base;
	/* Made at the first host name to look up; NULL while only IP
	 * addresses are used. */
	struct evdns_base *dns;
	const struct wsg_resolver_conf *resolver;
	unsigned lookups; /* whose callback has not run yet */
	unsigned rr;
	int closing;                 /* shut down: no new exchanges */
	struct wsg_metrics *metrics; /* NULL: none kept */
	LIST_HEAD(, target) targets;
	LIST_HEAD(, target) retired;
	LIST_HEAD(, conn) busy;
};

/*
 * A host name lookup for a connection. It outlives the connection when
 * that is freed first: evdns reports the cancel later, from the loop.
 */
struct lookup {
	struct conn *c; /* NULL: cancelled */
	struct wsg_upstream_pool *pool;
	struct evdns_getaddrinfo_request *req;
	int in_call; /* inside evdns_getaddrinfo(), which may answer at once */
	int answered;
};

/* One exchange in flight. */
struct exchange {
	struct conn *conn;
	enum exchange_state state;
	int written; /* the whole request is out */
	char *head;  /* the request head we send */
	/* Head, then the body's slices: what is left to write from iov_next. */
	struct iovec iov[1 + WSG_UPSTREAM_MAX_BODY_PARTS];
	size_t iov_next, iov_count;
	int head_request;    /* no body follows the answer's head */
	size_t max_response; /* body bytes */
	struct wsg_h1_parser parser;
	struct wsg_h1_response res; /* its slices point into conn->buf */
	struct wsg_h1_chunked chunked;
	size_t body_end;       /* decoded body ends at conn->buf + body_end */
	unsigned interims;     /* 1xx answers skipped */
	struct event deadline; /* the route's timeout for the whole answer */
	wsg_upstream_done_cb done;
	void *arg;
	struct wsg_metrics *metrics;
	struct timespec started; /* CLOCK_MONOTONIC, for the latency metric */
};

#define NAME(s)                                                                \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}
/* With lengths: every header of every exchange is checked against them. */
static const struct {
	const char *name;
	size_t len;
} hop_by_hop[] = {
        NAME("Connection"),
        NAME("Keep-Alive"),
        NAME("Proxy-Authenticate"),
        NAME("Proxy-Authorization"),
        NAME("Proxy-Connection"),
        NAME("TE"),
        NAME("Trailer"),
        NAME("Trailers"),
        NAME("Transfer-Encoding"),
        NAME("Upgrade"),
};
#undef NAME

static int
slice_is(struct wsg_h1_slice s, const char *name, size_t len)
{
	return s.len == len && strncasecmp(s.p, name, len) == 0;
}

/* `list` (a Connection value) names `name`, case-insensitively. */
static int
list_has(struct wsg_h1_slice list, struct wsg_h1_slice name)
{
	const char *p = list.p, *end = list.p + list.len, *tok;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		for (tok = p; p < end && *p != ' ' && *p != '\t' && *p != ',';
		     p++)
			;
		if (p > tok && slice_is(name, tok, (size_t)(p - tok)))
			return 1;
	}
	return 0;
}

/* Hop-by-hop per RFC 9110 7.6.1, including names listed in any
 * Connection field of `h` (NULL: `h` is known to have none). */
static int
is_hop_by_hop(struct wsg_h1_slice name, const struct wsg_h1_header *h, size_t n)
{
	/* Bit k: some name of the list is k bytes long. Checked for every
	 * header of every request and answer, most of which are none. */
	static const uint32_t lengths = 1u << 2 | 1u << 7 | 1u << 8 | 1u << 10 |
	                                1u << 16 | 1u << 17 | 1u << 18 |
	                                1u << 19;
	size_t i;

	if (name.len < 32 && (lengths >> name.len & 1u) != 0)
		for (i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
			if (slice_is(name, hop_by_hop[i].name,
			             hop_by_hop[i].len))
				return 1;
	if (h == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (slice_is(h[i].name, "Connection", 10) &&
		    list_has(h[i].value, name))
			return 1;
	return 0;
}

struct wsg_upstream_pool *
wsg_upstream_pool_new(struct event_base *base, struct wsg_metrics *metrics,
                      const struct wsg_resolver_conf *resolver)
{
	struct wsg_upstream_pool *p = wsg_mem_calloc(1, sizeof(*p));

	p->base = base;
	p->metrics = metrics;
	p->resolver = resolver;
	LIST_INIT(&p->targets);
	LIST_INIT(&p->retired);
	LIST_INIT(&p->busy);
	return p;
}

static void exchange_free(struct exchange *ex);

static void
conn_free(struct conn *c)
{
	LIST_REMOVE(c, link);
	if (c->pooled)
		c->target->n_idle--;
	if (c->lookup != NULL) {
		c->lookup->c = NULL;
		evdns_getaddrinfo_cancel(c->lookup->req);
	}
	if (c->addrs != NULL)
		evutil_freeaddrinfo(c->addrs);
	event_del(&c->rd);
	event_del(&c->wr);
	event_del(&c->idle);
	/* No close_notify: the connection may be broken, and a peer that
	 * needs one learns nothing from it that the FIN does not say. */
	SSL_free(c->ssl);
	if (c->fd >= 0)
		evutil_closesocket(c->fd);
	free(c->buf);
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
	free(t->port);
	free(t->hostport);
	free(t->path);
	free(t->query);
	free(t);
}

void
wsg_upstream_pool_free(struct wsg_upstream_pool *p)
{
	int i;

	if (p == NULL)
		return;
	while (!LIST_EMPTY(&p->busy)) {
		struct conn *c = LIST_FIRST(&p->busy);

		if (c->ex != NULL)
			exchange_free(c->ex);
		conn_free(c);
	}
	while (!LIST_EMPTY(&p->targets))
		target_free(LIST_FIRST(&p->targets));
	while (!LIST_EMPTY(&p->retired))
		target_free(LIST_FIRST(&p->retired));
	/* Cancelled lookups hear of it from deferred callbacks; run them, or
	 * what evdns holds for them would be left behind. */
	for (i = 0; p->lookups > 0 && i < 8; i++)
		event_base_loop(p->base, EVLOOP_NONBLOCK);
	if (p->dns != NULL)
		evdns_base_free(p->dns, 0);
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
	/* /etc/resolv.conf and /etc/hosts are read again at the next
	 * lookup, unless one is under way on this base. */
	if (p->dns != NULL && p->lookups == 0) {
		evdns_base_free(p->dns, 0);
		p->dns = NULL;
	}
}

/*
 * "http[s]://host[:port][/path]" as config.c checked it: host without
 * brackets, port (default by scheme), the Host header, the path and the
 * query.
 */
static void
target_parse(struct target *t, const char *url)
{
	const char *p = url + (t->tls != NULL ? 8 : 7), *end, *hend, *colon;
	size_t auth_len;

	end = p + strcspn(p, "/?");
	auth_len = (size_t)(end - p);
	if (*p == '[') {
		hend = memchr(p, ']', auth_len);
		t->host = wsg_mem_strndup(p + 1, (size_t)(hend - p - 1));
		colon = hend + 1 < end && hend[1] == ':' ? hend + 1 : NULL;
	} else {
		colon = memchr(p, ':', auth_len);
		t->host = wsg_mem_strndup(
		        p, (size_t)((colon != NULL ? colon : end) - p));
	}
	t->port = colon != NULL ? wsg_mem_strndup(colon + 1,
	                                          (size_t)(end - colon - 1))
	                        : wsg_mem_strdup(t->tls != NULL ? "443" : "80");
	/* The port only when it is not the scheme's (RFC 9110 7.2). */
	if (strcmp(t->port, t->tls != NULL ? "443" : "80") == 0)
		t->hostport = wsg_mem_strndup(
		        p, (size_t)((colon != NULL ? colon : end) - p));
	else
		t->hostport = wsg_mem_strndup(p, auth_len);
	t->path = wsg_mem_strndup(end, strcspn(end, "?"));
	if (end[strlen(t->path)] == '?')
		t->query = wsg_mem_strdup(end + strlen(t->path) + 1);
}

/* Parsed once per worker, URL and TLS context; config validated the URL. */
static struct target *
target_get(struct wsg_upstream_pool *p, const struct wsg_upstream_send *s,
           const char *url)
{
	const struct wsg_route_conf *rt = s->route;
	struct target *t;
	SSL_CTX *tls = NULL;

	/* Never fall back to plain text for an https URL. */
	if (strncasecmp(url, "https:", 6) == 0 &&
	    (tls = wsg_tls_clients_get(s->tls, rt)) == NULL)
		return NULL;
	LIST_FOREACH(t, &p->targets, link)
	if (t->tls == tls && strcmp(t->url, url) == 0 &&
	    t->tls_verify == rt->tls_verify)
		return t;
	t = wsg_mem_calloc(1, sizeof(*t));
	t->url = wsg_mem_strdup(url);
	/* Its own reference: a reload frees the contexts of the old config
	 * while this target may still serve an exchange. */
	if (tls != NULL) {
		SSL_CTX_up_ref(tls);
		t->tls = tls;
	}
	t->tls_verify = rt->tls_verify;
	target_parse(t, url);
	LIST_INIT(&t->idle);
	LIST_INSERT_HEAD(&p->targets, t, link);
	return t;
}

/* Outcome and latency of an exchange that ends with `status`. */
static void
record(const struct exchange *ex, int status)
{
	enum wsg_metrics_upstream k = status == WSG_OK ? WSG_METRICS_UPSTREAM_OK
	                              : status == WSG_ERR_TIMEOUT
	                                      ? WSG_METRICS_UPSTREAM_TIMEOUT
	                                      : WSG_METRICS_UPSTREAM_ERROR;

	if (ex->metrics != NULL)
		wsg_histogram_observe(&ex->metrics->upstream[k],
		                      wsg_metrics_elapsed_us(&ex->started));
}

static void
exchange_free(struct exchange *ex)
{
	event_del(&ex->deadline);
	free(ex->head);
	free(ex);
}

/* The exchange failed: its connection is closed and `done` told, last. */
static void
exchange_fail(struct exchange *ex, int status, const char *reason)
{
	struct conn *c = ex->conn;
	struct target *t = c->target;
	wsg_upstream_done_cb done = ex->done;
	void *arg = ex->arg;

	record(ex, status);
	c->ex = NULL;
	conn_free(c);
	exchange_free(ex);
	if (--t->busy == 0 && t->retired)
		target_free(t);
	done(status, NULL, reason, arg);
}

/* Why a read or write failed, for the audit log. */
static void
io_failure(struct exchange *ex, int err)
{
	char reason[160];

	if (err == ECONNREFUSED || err == ECONNRESET || err == EPIPE) {
		exchange_fail(ex, WSG_ERR_IO,
		              "upstream refused or reset the connection");
		return;
	}
	snprintf(reason, sizeof(reason), "upstream connection failed: %s",
	         strerror(err));
	exchange_fail(ex, WSG_ERR_IO, reason);
}

/* A failed SSL call: its reason from OpenSSL, the error queue left empty
 * for the next connection on this thread. */
static void
tls_failure(struct exchange *ex, int ssl_error)
{
	unsigned long e, last = 0;
	char why[200], reason[260];
	int err = errno;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (ssl_error == SSL_ERROR_SYSCALL && last == 0 && err != 0) {
		io_failure(ex, err);
		return;
	}
	if (ssl_error == SSL_ERROR_SYSCALL && last == 0) {
		exchange_fail(ex, WSG_ERR_IO, "upstream closed the connection");
		return;
	}
	wsg_tls_describe_failure(ex->conn->ssl, last, why, sizeof(why));
	snprintf(reason, sizeof(reason), "upstream %s",
	         why[0] != '\0' ? why : "TLS failure");
	exchange_fail(ex, WSG_ERR_IO, reason);
}

static void
resolve_failure(struct exchange *ex, int err)
{
	char reason[160];

	snprintf(reason, sizeof(reason),
	         "upstream host name did not resolve: %s",
	         evutil_gai_strerror(err));
	exchange_fail(ex, WSG_ERR_IO, reason);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	exchange_fail(arg, WSG_ERR_TIMEOUT, "upstream timed out");
}

void
wsg_upstream_pool_shutdown(struct wsg_upstream_pool *p, const char *reason)
{
	struct conn *c, *next;

	p->closing = 1;
	for (c = LIST_FIRST(&p->busy); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c->ex != NULL)
			exchange_fail(c->ex, WSG_ERR_IO, reason);
	}
}

static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

/*
 * The exchange is over with a whole answer: `done` sees it, then the
 * connection goes back to the target's idle list only if nothing of this
 * exchange can remain in it: the request was all written, the answer's
 * end came from its framing (never the close), neither side ends the
 * connection, and no byte beyond the answer arrived (RFC 9112 9.3).
 * Anything else could hand bytes of this exchange to the next user's.
 */
static void
exchange_finish(struct exchange *ex, int leftover)
{
	struct conn *c = ex->conn;
	struct target *t = c->target;
	struct wsg_upstream_pool *p = c->pool;
	struct wsg_upstream_answer a;
	struct timeval tv = {IDLE_TIMEOUT, 0};
	int reuse = ex->written && ex->res.keep_alive && !leftover &&
	            ex->res.body != WSG_H1_BODY_CLOSE &&
	            (c->ssl == NULL || SSL_pending(c->ssl) == 0);

	ex->state = EX_DONE;
	event_del(&ex->deadline);
	record(ex, WSG_OK);
	a.status = ex->res.status;
	a.reason = ex->res.reason;
	a.headers = ex->res.headers;
	a.n_headers = ex->res.n_headers;
	a.body = c->buf + ex->res.head_len;
	a.body_len = ex->body_end - ex->res.head_len;
	ex->done(WSG_OK, &a, NULL, ex->arg);
	c->ex = NULL;
	exchange_free(ex);
	t->busy--;
	if (!reuse || t->retired || p->closing || t->n_idle >= MAX_IDLE) {
		conn_free(c);
	} else {
		c->len = 0;
		if (c->cap > READ_BUFFER) {
			c->buf = wsg_mem_realloc(c->buf, READ_BUFFER);
			c->cap = READ_BUFFER;
		}
		event_del(&c->wr);
		LIST_REMOVE(c, link);
		LIST_INSERT_HEAD(&t->idle, c, link);
		c->pooled = 1;
		t->n_idle++;
		evtimer_add(&c->idle, &tv);
	}
	if (t->retired && t->busy == 0)
		target_free(t);
}

/* The buffer holds at least `want` bytes; slices of a parsed head follow
 * it when it moves. */
static void
buf_reserve(struct conn *c, size_t want)
{
	struct exchange *ex = c->ex;
	const char *old = c->buf;
	size_t i;

	if (want <= c->cap)
		return;
	c->buf = wsg_mem_realloc(c->buf, want);
	c->cap = want;
	if (ex->state != EX_BODY || c->buf == old)
		return;
#define REBASE(s) ((s).p = (s).p != NULL ? c->buf + ((s).p - old) : NULL)
	REBASE(ex->res.reason);
	for (i = 0; i < ex->res.n_headers; i++) {
		REBASE(c->headers[i].name);
		REBASE(c->headers[i].value);
	}
#undef REBASE
}

static const char *
head_problem(const struct wsg_h1_error *e)
{
	switch (e->problem) {
	case WSG_H1_LINE_TOO_LONG:
	case WSG_H1_HEAD_TOO_LARGE:
	case WSG_H1_TOO_MANY_HEADERS:
	case WSG_H1_BODY_TOO_LARGE: return "upstream response too large";
	case WSG_H1_SWITCHING: return "upstream sent an interim 101 response";
	default: return "upstream sent an invalid response";
	}
}

/*
 * The answer's head is complete in buf[0..len): skips interim answers,
 * sets up the body. Returns 1 when the exchange ended, 0 to read on.
 */
static int
got_head(struct exchange *ex)
{
	struct conn *c = ex->conn;
	struct wsg_h1_limits lim;
	size_t need;

	if (ex->res.interim) {
		/* libevent 2.1 took a 1xx other than 100 for the final answer;
		 * here each is dropped with its headers, a bounded number. */
		if (++ex->interims > MAX_INTERIM) {
			char reason[80];

			snprintf(reason, sizeof(reason),
			         "upstream sent more than %d interim responses",
			         MAX_INTERIM);
			exchange_fail(ex, WSG_ERR_IO, reason);
			return 1;
		}
		c->len -= ex->res.head_len;
		memmove(c->buf, c->buf + ex->res.head_len, c->len);
		lim = ex->parser.lim; /* init clears the parser first */
		wsg_h1_parser_init(&ex->parser, &lim);
		return 0;
	}
	ex->state = EX_BODY;
	ex->body_end = ex->res.head_len;
	switch (ex->res.body) {
	case WSG_H1_BODY_LENGTH:
		/* One byte more than the answer, to see any that follow it. */
		need = ex->res.head_len + (size_t)ex->res.content_length + 1;
		buf_reserve(c, need);
		break;
	case WSG_H1_BODY_CHUNKED:
		wsg_h1_chunked_init(&ex->chunked, ex->max_response);
		break;
	default: break;
	}
	return 0;
}

/*
 * Parses what buf[0..len) holds for the exchange. Returns 1 when the
 * exchange ended (and `c` may be gone), 0 to read on.
 */
static int
parse(struct exchange *ex)
{
	struct conn *c = ex->conn;
	struct wsg_h1_error err;
	size_t used, out, end;
	int rc;

	while (ex->state == EX_WRITING || ex->state == EX_HEAD) {
		rc = wsg_h1_parse_response(&ex->parser, c->buf, c->len,
		                           ex->head_request, c->headers,
		                           &ex->res, &err);
		if (rc == WSG_ERR_AGAIN)
			return 0;
		if (rc != WSG_OK) {
			exchange_fail(ex, WSG_ERR_IO, head_problem(&err));
			return 1;
		}
		if (got_head(ex))
			return 1;
	}
	switch (ex->res.body) {
	case WSG_H1_BODY_NONE:
		exchange_finish(ex, c->len > ex->res.head_len);
		return 1;
	case WSG_H1_BODY_LENGTH:
		end = ex->res.head_len + (size_t)ex->res.content_length;
		if (c->len < end)
			return 0;
		ex->body_end = end;
		exchange_finish(ex, c->len > end);
		return 1;
	case WSG_H1_BODY_CHUNKED:
		rc = wsg_h1_chunked_decode(&ex->chunked, c->buf + ex->body_end,
		                           c->len - ex->body_end, &used, &out,
		                           &err);
		if (rc == WSG_ERR_AGAIN) {
			ex->body_end += out;
			c->len = ex->body_end;
			return 0;
		}
		if (rc != WSG_OK) {
			exchange_fail(ex, WSG_ERR_IO,
			              rc == WSG_ERR_LIMIT
			                      ? "upstream response too large"
			                      : "upstream sent an invalid "
			                        "response");
			return 1;
		}
		end = ex->body_end + used;
		ex->body_end += out;
		exchange_finish(ex, c->len > end);
		return 1;
	default:
		/* Until the close: only the size is checked here. */
		if (c->len - ex->res.head_len > ex->max_response) {
			exchange_fail(ex, WSG_ERR_IO,
			              "upstream response too large");
			return 1;
		}
		ex->body_end = c->len;
		return 0;
	}
}

/* Room for the next read, within what the exchange may hold. */
static int
make_room(struct exchange *ex)
{
	struct conn *c = ex->conn;
	size_t max = ex->state == EX_BODY
	                     ? ex->res.head_len + ex->max_response + READ_BUFFER
	                     : MAX_RESPONSE_HEAD + 2 * WSG_H1_MAX_LINE;

	/* A Content-Length body got its room with the head. */
	if (c->cap - c->len >= READ_BUFFER / 4 ||
	    (ex->state == EX_BODY && ex->res.body == WSG_H1_BODY_LENGTH))
		return 0;
	if (c->cap >= max) {
		if (c->len < c->cap)
			return 0;
		exchange_fail(ex, WSG_ERR_IO, "upstream response too large");
		return 1;
	}
	buf_reserve(c, c->cap * 2 < max ? c->cap * 2 : max);
	return 0;
}

/*
 * Reads what the socket has and parses it. Returns 1 when the exchange
 * ended, 0 when it waits for more.
 */
static int
exchange_read(struct exchange *ex)
{
	struct conn *c = ex->conn;
	ssize_t n;
	size_t room;
	int e;

	for (;;) {
		if (make_room(ex))
			return 1;
		room = c->cap - c->len;
		if (c->ssl != NULL) {
			ERR_clear_error();
			n = SSL_read(c->ssl, c->buf + c->len,
			             room > INT_MAX ? INT_MAX : (int)room);
			if (n <= 0) {
				e = SSL_get_error(c->ssl, (int)n);
				if (e == SSL_ERROR_WANT_READ)
					return 0;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->read_wants_write = 1;
					event_add(&c->wr, NULL);
					return 0;
				}
				if (e != SSL_ERROR_ZERO_RETURN) {
					tls_failure(ex, e);
					return 1;
				}
				n = 0;
			}
		} else {
			n = read(c->fd, c->buf + c->len, room);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n < 0) {
				io_failure(ex, errno);
				return 1;
			}
		}
		if (n == 0) {
			if (ex->state == EX_BODY &&
			    ex->res.body == WSG_H1_BODY_CLOSE) {
				exchange_finish(ex, 0);
				return 1;
			}
			exchange_fail(ex, WSG_ERR_IO,
			              "upstream closed the connection");
			return 1;
		}
		c->len += (size_t)n;
		if (parse(ex))
			return 1;
		/* A short read emptied the socket (level-triggered: more
		 * wakes us); OpenSSL may still hold a decrypted record. */
		if ((size_t)n < room &&
		    (c->ssl == NULL || SSL_pending(c->ssl) == 0))
			return 0;
	}
}

/*
 * Writes what is left of the request, head and body in one writev (TLS:
 * one SSL_write each). Returns 1 when the exchange ended, 0 otherwise;
 * write interest is registered only when the socket took less than all.
 */
static int
exchange_write(struct exchange *ex)
{
	struct conn *c = ex->conn;
	struct iovec *v;
	ssize_t n;
	int e;

	for (;;) {
		while (ex->iov_next < ex->iov_count &&
		       ex->iov[ex->iov_next].iov_len == 0)
			ex->iov_next++;
		if (ex->iov_next == ex->iov_count)
			break;
		v = &ex->iov[ex->iov_next];
		if (c->ssl != NULL) {
			ERR_clear_error();
			n = SSL_write(c->ssl, v->iov_base,
			              v->iov_len > INT_MAX ? INT_MAX
			                                   : (int)v->iov_len);
			if (n <= 0) {
				e = SSL_get_error(c->ssl, (int)n);
				if (e == SSL_ERROR_WANT_WRITE)
					event_add(&c->wr, NULL);
				if (e == SSL_ERROR_WANT_WRITE ||
				    e == SSL_ERROR_WANT_READ)
					return 0;
				tls_failure(ex, e);
				return 1;
			}
		} else {
			n = writev(c->fd, v,
			           (int)(ex->iov_count - ex->iov_next));
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				event_add(&c->wr, NULL);
				return 0;
			}
			if (n < 0) {
				io_failure(ex, errno);
				return 1;
			}
		}
		while (n > 0 && ex->iov_next < ex->iov_count) {
			size_t k =
			        (size_t)n < v->iov_len ? (size_t)n : v->iov_len;

			v->iov_base = (char *)v->iov_base + k;
			v->iov_len -= k;
			n -= (ssize_t)k;
			if (v->iov_len == 0) {
				ex->iov_next++;
				v++;
			}
		}
	}
	ex->written = 1;
	if (ex->state == EX_WRITING)
		ex->state = EX_HEAD;
	return 0;
}

/*
 * Moves the connection's exchange as far as the socket allows; `readable`:
 * the socket has bytes (else reading waits for the read event, saving a
 * read that would find nothing).
 */
static void
conn_step(struct conn *c, int readable)
{
	struct exchange *ex = c->ex;
	int e;

	if (ex == NULL)
		return;

	if (c->state == CONN_HANDSHAKE) {
		ERR_clear_error();
		e = SSL_connect(c->ssl);
		if (e != 1) {
			e = SSL_get_error(c->ssl, e);
			if (e == SSL_ERROR_WANT_WRITE)
				event_add(&c->wr, NULL);
			else if (e != SSL_ERROR_WANT_READ)
				tls_failure(ex, e);
			return;
		}
		c->state = CONN_OPEN;
	}
	if (!ex->written && exchange_write(ex))
		return;
	if (readable || c->read_wants_write) {
		c->read_wants_write = 0;
		exchange_read(ex);
	}
}

static void conn_connect(struct conn *c, const struct sockaddr *sa,
                         socklen_t len);

/* Nothing was sent on the refused socket: the next address is as good. */
static void
conn_next_address(struct conn *c)
{
	struct evutil_addrinfo *ai = c->addrs_next;

	event_del(&c->rd);
	event_del(&c->wr);
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		evutil_closesocket(c->fd);
	c->fd = -1;
	c->connect_errno = 0;
	c->addrs_next = ai->ai_next;
	conn_connect(c, ai->ai_addr, (socklen_t)ai->ai_addrlen);
	if (c->connect_errno == 0)
		event_add(&c->wr, NULL);
	else
		event_active(&c->wr, EV_WRITE, 1);
}

/* The connect() result: a made connection reads from now on. */
static int
conn_connected(struct conn *c)
{
	int err = c->connect_errno;
	socklen_t len = sizeof(err);

	if (err == 0 &&
	    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0 && c->addrs_next != NULL) {
		conn_next_address(c);
		return -1;
	}
	if (err != 0) {
		io_failure(c->ex, err);
		return -1;
	}
	if (c->addrs != NULL) {
		evutil_freeaddrinfo(c->addrs);
		c->addrs = c->addrs_next = NULL;
	}
	c->state = c->ssl != NULL ? CONN_HANDSHAKE : CONN_OPEN;
	event_add(&c->rd, NULL);
	return 0;
}

static void
wr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_RESOLVING) {
		resolve_failure(c->ex, c->resolve_error);
		return;
	}
	if (c->state == CONN_CONNECTING && conn_connected(c) != 0)
		return;
	conn_step(c, 0);
}

static void
rd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char byte;
	ssize_t n;

	if (c->ex != NULL) {
		conn_step(c, 1);
		return;
	}
	/* Idle: a close, or bytes nobody asked for; either ends it. */
	if (c->ssl != NULL) {
		ERR_clear_error();
		n = SSL_read(c->ssl, &byte, 1);
		if (n <= 0 &&
		    SSL_get_error(c->ssl, (int)n) == SSL_ERROR_WANT_READ)
			return;
		ERR_clear_error();
	} else {
		n = read(c->fd, &byte, 1);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	conn_free(c);
}

/*
 * Opens the socket and starts connect(); any failure is kept in
 * `connect_errno` and reported through the exchange, from the loop.
 */
static void
conn_connect(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	struct wsg_upstream_pool *p = c->pool;
	int one = 1;

	c->state = CONN_CONNECTING;
	c->fd = socket(sa->sa_family,
	               SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->connect_errno = errno;
		return;
	}
	/* Head and body may go as two TLS records: no Nagle delay between. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	event_assign(&c->rd, p->base, c->fd, EV_READ | EV_PERSIST, rd_cb, c);
	event_assign(&c->wr, p->base, c->fd, EV_WRITE, wr_cb, c);
	if (c->target->tls != NULL) {
		c->ssl = wsg_tls_client_ssl_new(c->target->tls, c->target->host,
		                                c->target->tls_verify);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
			ERR_clear_error();
			c->connect_errno = ENOMEM;
			return;
		}
	}
	if (connect(c->fd, sa, len) != 0 && errno != EINPROGRESS)
		c->connect_errno = errno;
}

/* The resolver for this worker's loop: the configured name servers, or
 * the system's /etc/resolv.conf; /etc/hosts either way. */
static int
dns_new(struct wsg_upstream_pool *p)
{
	const struct wsg_resolver_conf *r = p->resolver;
	int own = r != NULL && r->n_nameservers > 0;
	size_t i;

	p->dns = evdns_base_new(
	        p->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE |
	                         (own ? 0 : EVDNS_BASE_INITIALIZE_NAMESERVERS));
	if (p->dns == NULL)
		return -1;
	if (own) {
		for (i = 0; i < r->n_nameservers; i++)
			if (evdns_base_nameserver_ip_add(
			            p->dns, r->nameservers[i]) != 0)
				goto fail;
		evdns_base_load_hosts(p->dns, "/etc/hosts");
	}
	return 0;
fail:
	evdns_base_free(p->dns, 0);
	p->dns = NULL;
	return -1;
}

/* Called once per lookup, also after a cancel (then `c` is NULL). */
static void
lookup_cb(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct lookup *l = arg;
	struct conn *c = l->c;

	l->pool->lookups--;
	if (c != NULL) {
		c->lookup = NULL;
		if (err != 0 || ai == NULL) {
			c->resolve_error = err != 0 ? err : EVUTIL_EAI_NONAME;
		} else {
			c->addrs = ai;
			c->addrs_next = ai->ai_next;
			ai = NULL;
			conn_connect(c, c->addrs->ai_addr,
			             (socklen_t)c->addrs->ai_addrlen);
		}
		/* An answer given inside evdns_getaddrinfo() is taken up
		 * by wsg_upstream_forward(); a later one here. */
		if (c->ex != NULL) {
			if (c->state == CONN_CONNECTING &&
			    c->connect_errno == 0)
				event_add(&c->wr, NULL);
			else
				event_active(&c->wr, EV_WRITE, 1);
		}
	}
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
	if (l->in_call)
		l->answered = 1;
	else
		free(l);
}

/* The host name looked up on the loop: a slow or dead DNS server delays
 * only the exchanges that need it. */
static void
conn_resolve(struct conn *c)
{
	struct wsg_upstream_pool *p = c->pool;
	struct evutil_addrinfo hints;
	struct lookup *l;

	c->state = CONN_RESOLVING;
	if (p->dns == NULL && dns_new(p) != 0) {
		c->resolve_error = EVUTIL_EAI_FAIL;
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	l = wsg_mem_calloc(1, sizeof(*l));
	l->c = c;
	l->pool = p;
	l->in_call = 1;
	c->lookup = l;
	p->lookups++;
	l->req = evdns_getaddrinfo(p->dns, c->target->host, c->target->port,
	                           &hints, lookup_cb, l);
	l->in_call = 0;
	if (l->answered)
		free(l);
}

/*
 * A new connection to `t`: connecting, or resolving its host name first.
 * Every failure is reported through the exchange, from the loop.
 */
static struct conn *
conn_new(struct wsg_upstream_pool *p, struct target *t)
{
	struct conn *c = wsg_mem_calloc(1, sizeof(*c));
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	uint16_t port = htons((uint16_t)atoi(t->port));

	c->pool = p;
	c->target = t;
	c->fd = -1;
	c->buf = wsg_mem_alloc(READ_BUFFER);
	c->cap = READ_BUFFER;
	event_assign(&c->rd, p->base, -1, EV_READ | EV_PERSIST, rd_cb, c);
	event_assign(&c->wr, p->base, -1, EV_WRITE, wr_cb, c);
	evtimer_assign(&c->idle, p->base, idle_cb, c);
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (evutil_inet_pton(AF_INET, t->host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = port;
		conn_connect(c, (struct sockaddr *)&sin, sizeof(sin));
	} else if (evutil_inet_pton(AF_INET6, t->host, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = port;
		conn_connect(c, (struct sockaddr *)&sin6, sizeof(sin6));
	} else {
		conn_resolve(c);
	}
	return c;
}

/*
 * A name an upstream may take for one of the gateway's identity headers:
 * "X-WSS-" in any case with '_' and '-' alike, as CGI, WSGI, Rack and
 * older gunicorn map both to HTTP_X_WSS_*.
 */
static int
is_identity(struct wsg_h1_slice name)
{
	static const char prefix[] = "x-wss-";
	size_t i;

	if (name.len < sizeof(prefix) - 1)
		return 0;
	for (i = 0; i < sizeof(prefix) - 1; i++)
		if ((name.p[i] == '_'
		             ? '-'
		             : tolower((unsigned char)name.p[i])) != prefix[i])
			return 0;
	return 1;
}

/* The request head: request line, the client's end-to-end headers as
 * DESIGN 3.3 filters them, then ours. */
static char *
build_head(const struct wsg_upstream_send *s, const struct target *t)
{
	const struct wsg_h1_header *h = s->client_headers, *conn_h;
	size_t i, n = s->n_client_headers, cap, len = 0, body_len = 0;
	char *user = wsg_upstream_encode_identity(s->user, 0);
	char *roles = wsg_upstream_encode_identity(s->roles, 1);
	const char *suffix = s->uri_suffix, *query;
	size_t plen;
	char *head, *o, *end;

	/* A base path "" with suffix "/x" is "/x"; "" with "" is "/". */
	if (t->path[0] == '\0' && suffix[0] == '/')
		suffix++;
	plen = strcspn(suffix, "?");
	query = suffix[plen] == '?' ? suffix + plen + 1 : NULL;
	cap = strlen(s->method) + strlen(t->path) + strlen(suffix) +
	      (t->query != NULL ? strlen(t->query) : 0) + strlen(t->hostport) +
	      strlen(user) + strlen(roles) + 160;
	for (i = 0; i < n; i++)
		cap += h[i].name.len + h[i].value.len + 4;
	head = wsg_mem_alloc(cap);
	end = head + cap - 1;
	o = wsg_fmt_str(head, end, s->method);
	o = wsg_fmt_mem(o, end, " ", 1);
	o = wsg_fmt_str(o, end, t->path[0] != '\0' ? t->path : "/");
	o = wsg_fmt_mem(o, end, suffix, plen);
	/* The URL's query first, then the client's. */
	if (t->query != NULL || query != NULL)
		o = wsg_fmt_mem(o, end, "?", 1);
	if (t->query != NULL)
		o = wsg_fmt_str(o, end, t->query);
	if (t->query != NULL && query != NULL)
		o = wsg_fmt_mem(o, end, "&", 1);
	if (query != NULL)
		o = wsg_fmt_str(o, end, query);
	o = wsg_fmt_str(o, end, " HTTP/1.1\r\n");
	len = (size_t)(o - head);
	for (i = 0; i < n && !slice_is(h[i].name, "Connection", 10); i++)
		;
	conn_h = i < n ? h : NULL;
	for (i = 0; i < n; i++) {
		struct wsg_h1_slice k = h[i].name;

		/* Expect: the gateway already holds the whole body, and a
		 * client waiting for 100 would let an early answer pool a
		 * connection the upstream still reads a body from. */
		if (is_hop_by_hop(k, conn_h, n) || slice_is(k, "Host", 4) ||
		    slice_is(k, "Content-Length", 14) ||
		    slice_is(k, "Expect", 6) || is_identity(k) ||
		    (!s->allow_underscores &&
		     memchr(k.p, '_', k.len) != NULL) ||
		    (s->strip_authorization &&
		     slice_is(k, "Authorization", 13)))
			continue;
		memcpy(head + len, k.p, k.len);
		len += k.len;
		memcpy(head + len, ": ", 2);
		len += 2;
		memcpy(head + len, h[i].value.p, h[i].value.len);
		len += h[i].value.len;
		memcpy(head + len, "\r\n", 2);
		len += 2;
	}
	o = wsg_fmt_str(head + len, end, "Host: ");
	o = wsg_fmt_str(o, end, t->hostport);
	o = wsg_fmt_str(o, end, "\r\nX-WSS-User: ");
	o = wsg_fmt_str(o, end, user);
	o = wsg_fmt_str(o, end, "\r\nX-WSS-Roles: ");
	o = wsg_fmt_str(o, end, roles);
	o = wsg_fmt_str(o, end, "\r\n");
	for (i = 0; i < s->n_body; i++)
		body_len += s->body[i].iov_len;
	/* As evhttp did: a length for every body, and for POST and PUT. */
	if (body_len > 0 || strcmp(s->method, "POST") == 0 ||
	    strcmp(s->method, "PUT") == 0) {
		o = wsg_fmt_str(o, end, "Content-Length: ");
		o = wsg_fmt_uint(o, end, body_len);
		o = wsg_fmt_str(o, end, "\r\n");
	}
	o = wsg_fmt_str(o, end, "\r\n");
	*o = '\0';
	free(user);
	free(roles);
	return head;
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
	struct timeval tv = {rt->timeout, 0};
	struct wsg_h1_limits lim;
	struct exchange *ex;
	struct target *t;
	struct conn *c;
	size_t i;

	if (s->n_body > WSG_UPSTREAM_MAX_BODY_PARTS)
		return WSG_ERR_INVAL;
	if (p->closing)
		return WSG_ERR_IO;
	t = target_get(p, s,
	               s->url != NULL
	                       ? s->url
	                       : rt->upstreams[p->rr++ % rt->n_upstreams]);
	if (t == NULL)
		return WSG_ERR_CONFIG;
	ex = wsg_mem_calloc(1, sizeof(*ex));
	ex->done = done;
	ex->arg = arg;
	ex->metrics = p->metrics;
	clock_gettime(CLOCK_MONOTONIC, &ex->started);
	if ((c = LIST_FIRST(&t->idle)) != NULL) {
		LIST_REMOVE(c, link);
		c->pooled = 0;
		t->n_idle--;
		event_del(&c->idle);
	} else {
		c = conn_new(p, t);
	}
	LIST_INSERT_HEAD(&p->busy, c, link);
	c->ex = ex;
	ex->conn = c;
	t->busy++;
	ex->head_request = strcmp(s->method, "HEAD") == 0;
	ex->max_response = s->max_response_size;
	lim.max_line = WSG_H1_MAX_LINE;
	lim.max_head = MAX_RESPONSE_HEAD;
	lim.max_headers = MAX_RESPONSE_HEADERS;
	lim.max_body = s->max_response_size;
	wsg_h1_parser_init(&ex->parser, &lim);
	ex->head = build_head(s, t);
	ex->iov[0].iov_base = ex->head;
	ex->iov[0].iov_len = strlen(ex->head);
	for (i = 0; i < s->n_body; i++)
		ex->iov[1 + i] = s->body[i];
	ex->iov_next = 0;
	ex->iov_count = 1 + s->n_body;
	evtimer_assign(&ex->deadline, p->base, deadline_cb, ex);
	evtimer_add(&ex->deadline, &tv);
	/* From the loop, so `done` never runs inside this call: a made
	 * connection writes at once in this loop turn, a new one when
	 * connect() completes (or failed at once), after its lookup. */
	if (c->state == CONN_CONNECTING && c->connect_errno == 0)
		event_add(&c->wr, NULL);
	else if (c->state != CONN_RESOLVING || c->resolve_error != 0)
		event_active(&c->wr, EV_WRITE, 1);
	return WSG_OK;
}

int
wsg_upstream_relayed_header(const struct wsg_upstream_answer *a, size_t i)
{
	struct wsg_h1_slice k = a->headers[i].name;

	return !is_hop_by_hop(k, a->headers, a->n_headers) &&
	       !slice_is(k, "Content-Length", 14);
}
