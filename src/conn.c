#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event_struct.h>
#include <limits.h>
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
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fmt.h"
#include "http_status.h"
#include "log.h"
#include "mem.h"
#include "stats.h"

/* A connection's first read buffer; a request that needs more gets it. */
#define READ_BUFFER 8192
/* Room past a declared body, so a pipelined request is read with it. */
#define READ_AHEAD 4096
/* After an answer that closes the connection, what the client still sends
 * is read and dropped this long, so our close does not reset the answer
 * away (RFC 9112 9.6). */
#define LINGER_SECONDS 2

enum conn_state {
	CONN_HANDSHAKE = 0, /* TLS handshake */
	CONN_READING,       /* idle, or a request's head or body */
	CONN_HANDLING,      /* request.c has the request */
	CONN_WRITING,       /* the answer's rest waits for the socket */
	CONN_LINGER,        /* answered, closing: reading what still comes */
};

struct wsg_conn {
	LIST_ENTRY(wsg_conn) link; /* the worker's connections */
	struct wsg_worker *w;
	evutil_socket_t fd;
	SSL *ssl; /* TLS listeners only */
	enum conn_state state;
	struct event rd, wr, timer;
	unsigned readable : 1;    /* an edge was seen and not read dry */
	unsigned busy : 1;        /* a request is handled or answered */
	unsigned head_done : 1;   /* req.h is parsed */
	unsigned close_after : 1; /* no request after this answer */
	unsigned head_request : 1;
	char *buf; /* the request being read; NULL while idle */
	size_t len, cap;
	size_t body_end; /* the decoded body ends here */
	size_t msg_end;  /* the request ends here; a pipelined one follows */
	struct wsg_h1_parser parser;
	struct wsg_h1_header *headers; /* with `buf`: parser.lim.max_headers */
	struct wsg_h1_chunked chunked;
	struct wsg_conn_request req;
	char *hdrs; /* header lines added to the answer */
	size_t hdrs_len, hdrs_cap;
	char *out; /* what the socket did not take of the answer */
	size_t out_len, out_off;
	char client[INET6_ADDRSTRLEN];
};

static void conn_run(struct wsg_conn *c);

/* -------- lifetime -------- */

static void
set_busy(struct wsg_conn *c, int busy)
{
	if (c->busy == (unsigned)busy)
		return;
	c->busy = busy != 0;
	if (busy)
		c->w->busy_conns++;
	else
		c->w->busy_conns--;
}

static void
conn_free(struct wsg_conn *c)
{
	struct wsg_worker *w = c->w;

	LIST_REMOVE(c, link);
	set_busy(c, 0);
	event_del(&c->rd);
	event_del(&c->wr);
	event_del(&c->timer);
	/* No close_notify: either the client left or it is being cut. */
	SSL_free(c->ssl);
	ERR_clear_error();
	close(c->fd);
	free(c->buf);
	free(c->headers);
	free(c->hdrs);
	free(c->out);
	free(c);
	wsg_worker_conn_closed(w);
}

/*
 * A deadline passed or the client misbehaved: a reset, not a close, as the
 * kernel would otherwise go on feeding a slow reader whatever the socket
 * buffer holds. A draining worker closes politely.
 */
static void
conn_abort(struct wsg_conn *c)
{
	struct linger abort_close = {.l_onoff = 1, .l_linger = 0};

	if (!c->w->draining)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_close,
		           sizeof(abort_close));
	conn_free(c);
}

static void
arm(struct wsg_conn *c, int64_t seconds)
{
	struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};

	evtimer_add(&c->timer, &tv);
}

/* Runs the connection from its loop, outside the caller's stack. */
static void
schedule(struct wsg_conn *c)
{
	event_active(&c->rd, EV_TIMEOUT, 1);
}

static const struct wsg_limits_conf *
limits(const struct wsg_conn *c)
{
	return &c->w->snap->cfg->limits;
}

/* -------- socket I/O -------- */

/* Bytes read (> 0), 0 at the end of the stream, -1 for none now, -2 when
 * the connection failed. */
static ssize_t
recv_some(struct wsg_conn *c, char *p, size_t n)
{
	ssize_t got;
	int e;

	if (c->ssl == NULL) {
		do
			got = read(c->fd, p, n);
		while (got < 0 && errno == EINTR);
		if (got < 0 && errno == EAGAIN) {
			c->readable = 0;
			return -1;
		}
		return got < 0 ? -2 : got;
	}
	ERR_clear_error();
	got = SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (got > 0)
		return got;
	e = SSL_get_error(c->ssl, (int)got);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ) {
		c->readable = 0;
		return -1;
	}
	if (e == SSL_ERROR_WANT_WRITE)
		return -1;
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -2;
}

/* Bytes written (>= 0), -1 when the socket takes none now, -2 when the
 * connection failed. TLS writes the first slice only. */
static ssize_t
send_some(struct wsg_conn *c, const struct iovec *iov, int cnt)
{
	ssize_t n;
	int e;

	if (c->ssl == NULL) {
		do
			n = writev(c->fd, iov, cnt);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return errno == EAGAIN ? -1 : -2;
		return n;
	}
	ERR_clear_error();
	n = SSL_write(c->ssl, iov[0].iov_base,
	              iov[0].iov_len > INT_MAX ? INT_MAX : (int)iov[0].iov_len);
	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, (int)n);
	ERR_clear_error();
	return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? -1 : -2;
}

/* -------- answers -------- */

static void
hdrs_append(struct wsg_conn *c, const char *p, size_t n)
{
	if (c->hdrs_len + n > c->hdrs_cap) {
		c->hdrs_cap = (c->hdrs_len + n) * 2;
		c->hdrs = wsg_mem_realloc(c->hdrs, c->hdrs_cap);
	}
	memcpy(c->hdrs + c->hdrs_len, p, n);
	c->hdrs_len += n;
}

void
wsg_conn_add_header_slice(struct wsg_conn *c, struct wsg_h1_slice name,
                          struct wsg_h1_slice value)
{
	hdrs_append(c, name.p, name.len);
	hdrs_append(c, ": ", 2);
	hdrs_append(c, value.p, value.len);
	hdrs_append(c, "\r\n", 2);
}

void
wsg_conn_add_header(struct wsg_conn *c, const char *name, const char *value)
{
	struct wsg_h1_slice k = {name, strlen(name)};
	struct wsg_h1_slice v = {value, strlen(value)};

	wsg_conn_add_header_slice(c, k, v);
}

/* RFC 9110 6.6.1 wants it; formatted once a second per thread. */
static const char *
http_date(void)
{
	static __thread time_t last;
	static __thread char text[40];
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		gmtime_r(&now, &tm);
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return text;
}

/* A new request starts, under the limits in force now. */
static void
request_start(struct wsg_conn *c)
{
	struct wsg_h1_limits lim;

	wsg_h1_request_limits(limits(c), &lim);
	wsg_h1_parser_init(&c->parser, &lim);
	c->head_done = 0;
	c->state = CONN_READING;
	arm(c, limits(c)->request_timeout);
}

/* The answer is out: the next request, or a lingering close. */
static void
answered(struct wsg_conn *c)
{
	struct wsg_worker *w = c->w;

	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	set_busy(c, 0);
	if (c->close_after || w->draining) {
		/* TLS says the stream ends here, then TCP does. */
		if (c->ssl != NULL) {
			SSL_shutdown(c->ssl);
			ERR_clear_error();
		}
		shutdown(c->fd, SHUT_WR);
		c->state = CONN_LINGER;
		arm(c, LINGER_SECONDS);
	} else {
		/* What follows the request is the next one's start. */
		c->len -= c->msg_end;
		memmove(c->buf, c->buf + c->msg_end, c->len);
		if (c->len == 0) {
			/* Idle connections hold no buffers. */
			free(c->buf);
			c->buf = NULL;
			c->cap = 0;
			free(c->headers);
			c->headers = NULL;
		}
		request_start(c);
	}
	schedule(c);
	wsg_worker_drain_check(w);
}

/* Writes what the socket takes of out[out_off..out_len). */
static void
flush(struct wsg_conn *c)
{
	struct iovec v;
	ssize_t n;

	while (c->out_off < c->out_len) {
		v.iov_base = c->out + c->out_off;
		v.iov_len = c->out_len - c->out_off;
		n = send_some(c, &v, 1);
		if (n == -1)
			return;
		if (n < 0) {
			conn_free(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	answered(c);
}

void
wsg_conn_reply(struct wsg_conn *c, int status, const char *reason,
               size_t reason_len, const char *body, size_t body_len)
{
	static const char date[] = "\r\nDate: ";
	char line[32], tail[80], *o;
	struct iovec v[8];
	size_t total = 0, k, line_len, skip;
	int no_body = status == 204 || status == 304 || status < 200;
	int cnt = 0, i;
	ssize_t n = 0;

	if (reason == NULL) {
		reason = wsg_http_status_phrase(status);
		reason_len = strlen(reason);
	}
	if (c->w->draining)
		c->close_after = 1;
	o = wsg_fmt_str(line, line + sizeof(line), "HTTP/1.1 ");
	o = wsg_fmt_uint(o, line + sizeof(line), (unsigned)status);
	o = wsg_fmt_mem(o, line + sizeof(line), " ", 1);
	line_len = (size_t)(o - line);
	o = tail;
	if (!no_body) {
		o = wsg_fmt_str(o, tail + sizeof(tail), "Content-Length: ");
		o = wsg_fmt_uint(o, tail + sizeof(tail), body_len);
		o = wsg_fmt_str(o, tail + sizeof(tail), "\r\n");
	}
	/* HTTP/1.0 keep-alive is opt-in, so it is confirmed. */
	o = wsg_fmt_str(o, tail + sizeof(tail),
	                c->close_after        ? "Connection: close\r\n\r\n"
	                : c->req.h.minor == 0 ? "Connection: keep-alive\r\n\r\n"
	                                      : "\r\n");
	k = (size_t)(o - tail);
#define ADD(p, len)                                                            \
	do {                                                                   \
		v[cnt].iov_base = (void *)(uintptr_t)(p);                      \
		v[cnt].iov_len = (len);                                        \
		total += v[cnt++].iov_len;                                     \
	} while (0)
	ADD(line, line_len);
	ADD(reason, reason_len);
	ADD(date, sizeof(date) - 1);
	ADD(http_date(), strlen(http_date()));
	ADD("\r\n", 2);
	ADD(c->hdrs, c->hdrs_len);
	ADD(tail, k);
	if (!no_body && !c->head_request)
		ADD(body, body_len);
#undef ADD
	c->state = CONN_WRITING;
	/* TLS: one record for the whole answer when it fits, from `out`. */
	if (c->ssl == NULL)
		n = send_some(c, v, cnt);
	if (n == -2) {
		/* The client is gone; the loop ends the connection. */
		n = (ssize_t)total;
		c->close_after = 1;
	}
	if (n < 0)
		n = 0;
	if ((size_t)n < total) {
		/* The rest, copied: the caller's body goes with it. */
		c->out = wsg_mem_alloc(total - (size_t)n);
		for (i = 0; i < cnt; i++) {
			skip = (size_t)n < v[i].iov_len ? (size_t)n
			                                : v[i].iov_len;
			if (v[i].iov_len > skip)
				memcpy(c->out + c->out_len,
				       (const char *)v[i].iov_base + skip,
				       v[i].iov_len - skip);
			c->out_len += v[i].iov_len - skip;
			n -= (ssize_t)skip;
		}
		arm(c, limits(c)->response_timeout);
	}
	c->hdrs_len = 0;
	/* From the loop: the caller still holds its request. */
	schedule(c);
}

/* -------- requests -------- */

/* An answer of our own to a request the HTTP layer refused; the
 * connection closes after it. Logged like any request (an access line and,
 * as a request that may aim at another parser, an audit line with the
 * cause), without a route. */
static void
refuse(struct wsg_conn *c, int status, const char *reason)
{
	struct wsg_worker *w = c->w;
	struct wsg_log_access a;
	char body[80];

	memset(&a, 0, sizeof(a));
	a.rid = ((uint64_t)w->id << 48) | ++w->next_rid;
	a.client = c->client;
	a.status = status;
	wsg_log_audit(w->rt->log, a.rid, c->client, NULL, NULL, "bad_request",
	              reason);
	wsg_log_access(w->rt->log, &a);
	wsg_stats_record(w->rt->stats, NULL, status, WSG_FAULT_NONE);

	c->state = CONN_HANDLING;
	set_busy(c, 1);
	event_del(&c->timer);
	c->close_after = 1;
	c->head_request = 0;
	c->hdrs_len = 0;
	snprintf(body, sizeof(body), "%d %s\n", status,
	         wsg_http_status_phrase(status));
	wsg_conn_add_header(c, "Content-Type", "text/plain; charset=utf-8");
	wsg_conn_reply(c, status, NULL, 0, body, strlen(body));
}

/* host[:port] without the port, and an IPv6 literal's brackets kept. */
static struct wsg_h1_slice
host_part(struct wsg_h1_slice s)
{
	const char *end = s.p + s.len, *p = s.p;

	if (s.len > 0 && *p == '[') {
		while (p < end && *p != ']')
			p++;
		if (p < end)
			s.len = (size_t)(p + 1 - s.p);
		return s;
	}
	while (p < end && *p != ':')
		p++;
	s.len = (size_t)(p - s.p);
	return s;
}

/*
 * What the parser leaves to us. An absolute-form target names the host
 * itself (RFC 9112 3.2.2): one that is not the Host header's would be
 * routed one way by an intermediary and another way here. Expectations
 * other than 100-continue cannot be met (RFC 9110 10.1.1).
 */
static int
check_head(struct wsg_conn *c)
{
	const struct wsg_h1_request *h = &c->req.h;
	struct wsg_h1_slice a, b;

	if (h->expect == WSG_H1_EXPECT_OTHER) {
		refuse(c, 417, "an expectation other than 100-continue");
		return 1;
	}
	if (h->form == WSG_H1_FORM_ABSOLUTE) {
		a = host_part(h->authority);
		b = host_part(h->host);
		if (!h->has_host || a.len != b.len ||
		    strncasecmp(a.p, b.p, a.len) != 0) {
			refuse(c, 400,
			       "an absolute-form target names another host "
			       "than Host");
			return 1;
		}
	}
	return 0;
}

/* "100 Continue" before the body, when the client waits for it. A socket
 * that cannot take 25 bytes at a request's start has a client that does
 * not read: it is cut. */
static int
send_continue(struct wsg_conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct iovec v = {(void *)(uintptr_t)cont, sizeof(cont) - 1};

	if (send_some(c, &v, 1) == (ssize_t)v.iov_len)
		return 0;
	conn_abort(c);
	return 1;
}

/* Hands the whole request to request.c. */
static void
dispatch(struct wsg_conn *c)
{
	struct wsg_h1_request *h = &c->req.h;
	size_t i;

	/* Every slice is followed by a byte of the head that is no longer
	 * needed: SP, ':', CR or OWS. */
	((char *)h->method.p)[h->method.len] = '\0';
	((char *)h->target.p)[h->target.len] = '\0';
	for (i = 0; i < h->n_headers; i++) {
		((char *)h->headers[i].name.p)[h->headers[i].name.len] = '\0';
		((char *)h->headers[i].value.p)[h->headers[i].value.len] = '\0';
	}
	c->req.body = c->buf + h->head_len;
	c->req.body_len = c->body_end - h->head_len;
	c->req.client = c->client;
	c->req.tls = c->ssl != NULL;
	c->close_after = !h->keep_alive;
	c->head_request =
	        h->method.len == 4 && memcmp(h->method.p, "HEAD", 4) == 0;
	c->hdrs_len = 0;
	c->state = CONN_HANDLING;
	set_busy(c, 1);
	event_del(&c->timer);
	c->w->handle(c->w, c, &c->req);
}

/*
 * Parses what the buffer holds. Returns 0 when more is needed, 1 when the
 * request went on (dispatched or refused) or the connection ended.
 */
static int
parse_buffered(struct wsg_conn *c)
{
	struct wsg_h1_request *h = &c->req.h;
	struct wsg_h1_error err;
	size_t used, out, end;
	int rc;

	if (!c->head_done) {
		if (c->len == 0)
			return 0;
		rc = wsg_h1_parse_request(&c->parser, c->buf, c->len,
		                          c->headers, h, &err);
		if (rc == WSG_ERR_AGAIN)
			return 0;
		if (rc != WSG_OK) {
			refuse(c, err.status, err.reason);
			return 1;
		}
		c->head_done = 1;
		if (check_head(c))
			return 1;
		c->body_end = h->head_len;
		if (h->body == WSG_H1_BODY_CHUNKED)
			wsg_h1_chunked_init(&c->chunked,
			                    c->parser.lim.max_body);
		if (h->expect == WSG_H1_EXPECT_CONTINUE &&
		    c->len == h->head_len &&
		    (h->body == WSG_H1_BODY_CHUNKED ||
		     (h->body == WSG_H1_BODY_LENGTH &&
		      h->content_length > 0)) &&
		    send_continue(c))
			return 1;
	}
	switch (h->body) {
	case WSG_H1_BODY_LENGTH:
		end = h->head_len + (size_t)h->content_length;
		if (c->len < end)
			return 0;
		c->body_end = c->msg_end = end;
		break;
	case WSG_H1_BODY_CHUNKED:
		rc = wsg_h1_chunked_decode(&c->chunked, c->buf + c->body_end,
		                           c->len - c->body_end, &used, &out,
		                           &err);
		if (rc == WSG_ERR_AGAIN) {
			c->body_end += out;
			c->len = c->body_end;
			return 0;
		}
		if (rc != WSG_OK) {
			refuse(c, err.status, err.reason);
			return 1;
		}
		c->msg_end = c->body_end + used;
		c->body_end += out;
		break;
	default: c->body_end = c->msg_end = h->head_len; break;
	}
	dispatch(c);
	return 1;
}

/* The buffer moved: the parsed head's slices follow it. */
static void
rebase(struct wsg_conn *c, const char *old)
{
	struct wsg_h1_request *h = &c->req.h;
	size_t i;

#define REBASE(s) ((s).p = (s).p != NULL ? c->buf + ((s).p - old) : NULL)
	REBASE(h->method);
	REBASE(h->target);
	REBASE(h->authority);
	REBASE(h->host);
	for (i = 0; i < h->n_headers; i++) {
		REBASE(h->headers[i].name);
		REBASE(h->headers[i].value);
	}
#undef REBASE
}

/* Room for the next read, within what the request may take: its head
 * under the limits, a declared body whole at once. */
static size_t
make_room(struct wsg_conn *c)
{
	const struct wsg_h1_request *h = &c->req.h;
	const struct wsg_h1_limits *lim = &c->parser.lim;
	size_t want = 0, max;

	if (c->buf == NULL) {
		c->cap = READ_BUFFER;
		c->buf = wsg_mem_alloc(c->cap);
	}
	/* The parser fills the entries it reports: nothing to clear. */
	if (c->headers == NULL)
		c->headers =
		        wsg_mem_alloc(lim->max_headers * sizeof(*c->headers));
	if (c->head_done && h->body == WSG_H1_BODY_LENGTH)
		want = h->head_len + (size_t)h->content_length + READ_AHEAD;
	else if (c->cap - c->len < READ_BUFFER / 4) {
		max = c->head_done ? h->head_len + lim->max_body + READ_BUFFER
		                   : lim->max_line + lim->max_head + 4;
		want = c->cap * 2 < max ? c->cap * 2 : max;
	}
	if (want > c->cap) {
		const char *old = c->buf;

		c->buf = wsg_mem_realloc(c->buf, want);
		c->cap = want;
		if (c->head_done && c->buf != old)
			rebase(c, old);
	}
	return c->cap - c->len;
}

/* Reads and parses until a request is whole or the socket is dry. */
static void
read_request(struct wsg_conn *c)
{
	size_t room;
	ssize_t n;

	for (;;) {
		if (parse_buffered(c))
			return;
		if (!c->readable &&
		    (c->ssl == NULL || !SSL_has_pending(c->ssl)))
			return;
		room = make_room(c);
		if (room == 0) {
			/* The limits passed without the parser's verdict. */
			refuse(c, 431, "request head beyond the limits");
			return;
		}
		n = recv_some(c, c->buf + c->len, room);
		if (n == -1)
			return;
		if (n <= 0) {
			/* The client left, between requests or within one:
			 * nothing to answer. */
			conn_free(c);
			return;
		}
		c->len += (size_t)n;
		/* A short read emptied the socket; the next edge says more. */
		if (c->ssl == NULL && (size_t)n < room)
			c->readable = 0;
	}
}

/* Reads and drops what a closing client still sends, until it is done. */
static void
linger_read(struct wsg_conn *c)
{
	char sink[4096];
	ssize_t n;

	while ((n = recv_some(c, sink, sizeof(sink))) > 0)
		;
	if (n != -1)
		conn_free(c);
}

static void
handshake(struct wsg_conn *c)
{
	int rc, e;

	ERR_clear_error();
	rc = SSL_do_handshake(c->ssl);
	if (rc != 1) {
		e = SSL_get_error(c->ssl, rc);
		ERR_clear_error();
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			conn_free(c);
		return;
	}
	c->state = CONN_READING;
	/* The request may have come with the handshake's last flight. */
	c->readable = 1;
	read_request(c);
}

static void
conn_run(struct wsg_conn *c)
{
	switch (c->state) {
	case CONN_HANDSHAKE: handshake(c); break;
	case CONN_READING: read_request(c); break;
	case CONN_WRITING: flush(c); break;
	case CONN_LINGER: linger_read(c); break;
	case CONN_HANDLING: break;
	}
}

static void
rd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_conn *c = arg;

	if (what & EV_READ)
		c->readable = 1;
	conn_run(c);
}

static void
wr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_conn *c = arg;

	/* Edges come with every wake-up of the socket: only a blocked
	 * write, a handshake or a TLS read may wait for them. */
	if (c->state == CONN_WRITING || c->state == CONN_HANDSHAKE ||
	    (c->state == CONN_READING && c->ssl != NULL))
		conn_run(c);
}

/* The request, or the answer, did not get through in time (slowloris,
 * idle keep-alive, a slow reader); or a lingering close is over. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_conn *c = arg;

	if (c->state == CONN_LINGER)
		conn_free(c);
	else
		conn_abort(c);
}

/* -------- the worker's side -------- */

void
wsg_conn_accept(struct wsg_worker *w, evutil_socket_t fd, SSL_CTX *tls)
{
	struct wsg_conn *c = wsg_mem_calloc(1, sizeof(*c));
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	int one = 1;

	c->w = w;
	c->fd = fd;
	snprintf(c->client, sizeof(c->client), "-");
	if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0) {
		if (sa.ss_family == AF_INET)
			inet_ntop(AF_INET,
			          &((struct sockaddr_in *)&sa)->sin_addr,
			          c->client, sizeof(c->client));
		else if (sa.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
			          &((struct sockaddr_in6 *)&sa)->sin6_addr,
			          c->client, sizeof(c->client));
	}
	/* An answer is one write: nothing to gain from Nagle's delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls != NULL) {
		c->ssl = SSL_new(tls);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1)
			abort();
		SSL_set_accept_state(c->ssl);
		SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
		SSL_set_mode(c->ssl,
		             SSL_MODE_ENABLE_PARTIAL_WRITE |
		                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	LIST_INSERT_HEAD(&w->conns, c, link);
	/* Interest in both directions, registered once, edge-triggered. */
	event_assign(&c->rd, w->base, fd, EV_READ | EV_PERSIST | EV_ET, rd_cb,
	             c);
	event_assign(&c->wr, w->base, fd, EV_WRITE | EV_PERSIST | EV_ET, wr_cb,
	             c);
	evtimer_assign(&c->timer, w->base, timer_cb, c);
	event_add(&c->rd, NULL);
	event_add(&c->wr, NULL);
	request_start(c);
	if (tls != NULL)
		c->state = CONN_HANDSHAKE;
}

const char *
wsg_conn_header(const struct wsg_conn_request *req, const char *name)
{
	const struct wsg_h1_header *h =
	        wsg_h1_find(req->h.headers, req->h.n_headers, name);

	return h != NULL ? h->value.p : NULL;
}

void
wsg_conn_close_idle(struct wsg_worker *w)
{
	struct wsg_conn *c, *next;

	for (c = LIST_FIRST(&w->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (!c->busy)
			conn_free(c);
	}
}

void
wsg_conn_free_all(struct wsg_worker *w)
{
	while (!LIST_EMPTY(&w->conns))
		conn_free(LIST_FIRST(&w->conns));
}
