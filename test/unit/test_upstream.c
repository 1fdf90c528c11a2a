/*
 * The percent-encoding of X-WSS-User and X-WSS-Roles (issue 12, item 6),
 * and the HTTP/1.1 client (issue 14): exchanges against a scripted upstream
 * on loopback, driven by a real event loop. Each answer's outcome, and
 * whether the next exchange reused the connection, is checked. Host names
 * are looked up on the loop, from a DNS server on loopback (libevent's).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <strings.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "upstream.h"

static const struct {
	const char *in;
	int list;
	const char *out;
} cases[] = {
        {"alice", 0, "alice"},
        {"", 0, ""},
        {"", 1, ""},
        {"j\xc3\xbcrgen", 0, "j%C3%BCrgen"},
        {"a,b%c", 0, "a%2Cb%25c"},
        {"x y+z", 0, "x%20y+z"},
        {"tab\there", 0, "tab%09here"},
        {"cr\r\nlf", 0, "cr%0D%0Alf"},
        {"del\x7f", 0, "del%7F"},
        {"~!\"#$&'()*+-./:;<=>?@[\\]^_`{|}", 0,
         "~!\"#$&'()*+-./:;<=>?@[\\]^_`{|}"},
        {"echo-users,\xc3\xa9quipe%1", 1, "echo-users,%C3%A9quipe%251"},
        {"a b,c", 1, "a%20b,c"},
};

static void
test_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = wsg_upstream_encode_identity(cases[i].in,
		                                         cases[i].list);

		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

static int
unhex(char c)
{
	return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* Every byte but NUL round-trips; the output is visible ASCII only. */
static void
test_round_trip(void **state)
{
	char in[256], back[256], *got, *p;
	size_t i, n = 0;

	(void)state;
	for (i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = '\0';
	got = wsg_upstream_encode_identity(in, 0);
	for (p = got; *p != '\0'; p++) {
		assert_true(*p > 0x20 && *p < 0x7f && *p != ',');
		if (*p == '%') {
			back[n++] = (char)(unhex(p[1]) << 4 | unhex(p[2]));
			p += 2;
		} else {
			back[n++] = *p;
		}
	}
	back[n] = '\0';
	assert_string_equal(back, in);
	free(got);
}

/* ------------------------------------------------------------ the client */

/* What the scripted upstream answers each request with, in order; NULL:
 * nothing (the exchange times out). `close`: close after answering. */
struct step {
	const char *answer;
	int close;
};

struct upstream {
	struct event_base *base;
	int lfd;
	struct event *accept_ev;
	struct event *conn_ev;
	int cfd;
	unsigned accepts;
	char req[8192]; /* the request being read */
	size_t req_len;
	char last[8192]; /* the last whole request, NUL-terminated */
	const struct step *steps;
	size_t n_steps, next;
};

struct outcome {
	int calls;
	int status;
	int code;
	char body[256];
	char reason[200];
	int saw_link; /* a 1xx's header reached the answer */
};

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;
	const struct step *st;
	const char *end, *cl;
	ssize_t n =
	        read(fd, u->req + u->req_len, sizeof(u->req) - u->req_len - 1);
	size_t head, body = 0;

	if (n <= 0) {
		event_free(u->conn_ev);
		u->conn_ev = NULL;
		close(fd);
		return;
	}
	u->req_len += (size_t)n;
	u->req[u->req_len] = '\0';
	end = strstr(u->req, "\r\n\r\n");
	if (end == NULL)
		return;
	head = (size_t)(end + 4 - u->req);
	cl = strstr(u->req, "Content-Length: ");
	if (cl != NULL && cl < end)
		body = strtoul(cl + 16, NULL, 10);
	if (u->req_len < head + body)
		return;
	memcpy(u->last, u->req, u->req_len + 1);
	u->req_len = 0;
	assert_true(u->next < u->n_steps);
	st = &u->steps[u->next++];
	if (st->answer != NULL)
		assert_int_equal(write(fd, st->answer, strlen(st->answer)),
		                 (ssize_t)strlen(st->answer));
	if (st->close) {
		event_free(u->conn_ev);
		u->conn_ev = NULL;
		close(fd);
	}
}

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;
	int c = accept(fd, NULL, NULL);

	assert_true(c >= 0);
	u->accepts++;
	/* One connection at a time: the client has one exchange in flight. */
	if (u->conn_ev != NULL) {
		event_free(u->conn_ev);
		close(u->cfd);
	}
	u->cfd = c;
	u->req_len = 0;
	u->conn_ev = event_new(u->base, c, EV_READ | EV_PERSIST, conn_cb, u);
	event_add(u->conn_ev, NULL);
}

static unsigned
upstream_start(struct upstream *u, struct event_base *base)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1;

	memset(u, 0, sizeof(*u));
	u->base = base;
	u->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(u->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(u->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(u->lfd, 8), 0);
	getsockname(u->lfd, (struct sockaddr *)&sa, &len);
	u->accept_ev =
	        event_new(base, u->lfd, EV_READ | EV_PERSIST, accept_cb, u);
	event_add(u->accept_ev, NULL);
	return ntohs(sa.sin_port);
}

static void
upstream_stop(struct upstream *u)
{
	if (u->conn_ev != NULL) {
		event_free(u->conn_ev);
		close(u->cfd);
	}
	event_free(u->accept_ev);
	close(u->lfd);
}

static void
done_cb(int status, const struct wsg_upstream_answer *a, const char *reason,
        void *arg)
{
	struct outcome *o = arg;
	size_t i;

	o->calls++;
	o->status = status;
	if (a == NULL) {
		snprintf(o->reason, sizeof(o->reason), "%s", reason);
		return;
	}
	o->code = a->status;
	snprintf(o->body, sizeof(o->body), "%.*s", (int)a->body_len, a->body);
	for (i = 0; i < a->n_headers; i++)
		if (a->headers[i].name.len == 4 &&
		    memcmp(a->headers[i].name.p, "Link", 4) == 0)
			o->saw_link = 1;
}

struct client {
	struct event_base *base;
	struct wsg_upstream_pool *pool;
	struct wsg_route_conf route;
	char url[64];
	char *urls[1];
};

static void
client_init(struct client *c, struct event_base *base, unsigned port)
{
	memset(c, 0, sizeof(*c));
	c->base = base;
	c->pool = wsg_upstream_pool_new(base, NULL, NULL);
	snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%u/base", port);
	c->urls[0] = c->url;
	c->route.name = "t";
	c->route.upstreams = c->urls;
	c->route.n_upstreams = 1;
	c->route.timeout = 1;
	c->route.tls_verify = 1;
}

/* One exchange, run until its callback. */
static void
exchange(struct client *c, struct outcome *o)
{
	static const struct wsg_h1_header hdrs[] = {
	        {{"Connection", 10}, {"X-Hop", 5}},
	        {{"X-Hop", 5}, {"1", 1}},
	        {{"Expect", 6}, {"100-continue", 12}},
	        {{"X-WSS-User", 10}, {"mallory", 7}},
	        {{"Content-Type", 12}, {"text/xml", 8}},
	};
	/* Sent as one body of two slices (as the envelope minus a cut
	 * header block is). */
	static char part1[] = "<e", part2[] = "/>";
	const struct iovec body[] = {{part1, 2}, {part2, 2}};
	struct wsg_upstream_send s;

	memset(o, 0, sizeof(*o));
	memset(&s, 0, sizeof(s));
	s.route = &c->route;
	s.max_response_size = 1000;
	s.method = "POST";
	s.client_headers = hdrs;
	s.n_client_headers = sizeof(hdrs) / sizeof(hdrs[0]);
	s.uri_suffix = "/op?x=1";
	s.body = body;
	s.n_body = 2;
	s.user = "alice";
	s.roles = "r1,r2";
	assert_int_equal(wsg_upstream_forward(c->pool, &s, done_cb, o), WSG_OK);
	/* Never from inside the call. */
	assert_int_equal(o->calls, 0);
	while (o->calls == 0)
		event_base_loop(c->base, EVLOOP_ONCE);
	assert_int_equal(o->calls, 1);
}

/* A GET of `suffix` on the client's route, for user "a" with no roles. */
static void
get_request(struct wsg_upstream_send *s, struct client *c, const char *suffix,
            size_t max_response)
{
	memset(s, 0, sizeof(*s));
	s->route = &c->route;
	s->max_response_size = max_response;
	s->method = "GET";
	s->uri_suffix = suffix;
	s->user = "a";
	s->roles = "";
}

#define OK_2 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

/*
 * Each case: the answer under test, then a plain answer on the next
 * exchange; `reused`: whether that one came on the same connection.
 */
static const struct {
	const char *name;
	struct step first;
	int status; /* of the first exchange */
	int code;
	const char *body;
	int reused;
} exchanges[] = {
        {"content-length", {OK_2, 0}, WSG_OK, 200, "ok", 1},
        {"chunked",
         {"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
          "2\r\nab\r\n3;x=y\r\ncde\r\n0\r\nT: v\r\n\r\n",
          0},
         WSG_OK,
         201,
         "abcde",
         1},
        {"interim skipped",
         {"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
          "HTTP/1.1 100 Continue\r\n\r\n" OK_2,
          0},
         WSG_OK,
         200,
         "ok",
         1},
        {"204 no body",
         {"HTTP/1.1 204 No Content\r\n\r\n", 0},
         WSG_OK,
         204,
         "",
         1},
        {"http/1.0 keep-alive",
         {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
          "Content-Length: 2\r\n\r\nok",
          0},
         WSG_OK,
         200,
         "ok",
         1},
        {"http/1.0",
         {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0},
         WSG_OK,
         200,
         "ok",
         0},
        {"connection close",
         {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n"
          "ok",
          0},
         WSG_OK,
         200,
         "ok",
         0},
        {"close-delimited",
         {"HTTP/1.1 200 OK\r\n\r\nuntil the end", 1},
         WSG_OK,
         200,
         "until the end",
         0},
        {"bytes beyond the answer",
         {OK_2 "HTTP/1.1 200 OK\r\n", 0},
         WSG_OK,
         200,
         "ok",
         0},
        {"CL and TE",
         {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
          "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
          0},
         WSG_ERR_IO,
         0,
         NULL,
         0},
        {"garbage", {"this is not HTTP\r\n\r\n", 0}, WSG_ERR_IO, 0, NULL, 0},
        {"101",
         {"HTTP/1.1 101 Switching Protocols\r\n\r\n", 0},
         WSG_ERR_IO,
         0,
         NULL,
         0},
        {"17 interims",
         {"HTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\n"
          "HTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\n"
          "HTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\n"
          "HTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\n"
          "HTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\n"
          "HTTP/1.1 102 P\r\n\r\nHTTP/1.1 102 P\r\n\r\n" OK_2,
          0},
         WSG_ERR_IO,
         0,
         NULL,
         0},
        {"too large",
         {"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", 0},
         WSG_ERR_IO,
         0,
         NULL,
         0},
        {"truncated",
         {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", 1},
         WSG_ERR_IO,
         0,
         NULL,
         0},
        {"no answer", {NULL, 0}, WSG_ERR_TIMEOUT, 0, NULL, 0},
};

static void
test_exchanges(void **state)
{
	struct event_base *base = event_base_new();
	struct upstream u;
	struct outcome o;
	struct client c;
	struct step steps[2];
	size_t i;
	unsigned port;

	(void)state;
	for (i = 0; i < sizeof(exchanges) / sizeof(exchanges[0]); i++) {
		print_message("case %s\n", exchanges[i].name);
		port = upstream_start(&u, base);
		client_init(&c, base, port);
		steps[0] = exchanges[i].first;
		steps[1].answer = OK_2;
		steps[1].close = 0;
		u.steps = steps;
		u.n_steps = 2;
		exchange(&c, &o);
		assert_int_equal(o.status, exchanges[i].status);
		if (o.status == WSG_OK) {
			assert_int_equal(o.code, exchanges[i].code);
			assert_string_equal(o.body, exchanges[i].body);
			assert_false(o.saw_link);
		}
		/* What the upstream got: DESIGN 3.3's header rules. */
		assert_non_null(
		        strstr(u.last, "POST /base/op?x=1 HTTP/1.1\r\n"));
		assert_non_null(strstr(u.last, "Host: 127.0.0.1:"));
		assert_non_null(strstr(u.last, "X-WSS-User: alice\r\n"));
		assert_non_null(strstr(u.last, "X-WSS-Roles: r1,r2\r\n"));
		assert_non_null(strstr(u.last, "Content-Type: text/xml\r\n"));
		assert_non_null(
		        strstr(u.last, "Content-Length: 4\r\n\r\n<e/>"));
		assert_null(strstr(u.last, "mallory"));
		assert_null(strstr(u.last, "Expect"));
		assert_null(strstr(u.last, "X-Hop"));
		assert_null(strstr(u.last, "Connection"));
		exchange(&c, &o);
		assert_int_equal(o.status, WSG_OK);
		assert_string_equal(o.body, "ok");
		assert_int_equal(u.accepts, exchanges[i].reused ? 1 : 2);
		wsg_upstream_pool_free(c.pool);
		upstream_stop(&u);
	}
	event_base_free(base);
}

/* Every hop-by-hop name of RFC 9110 7.6.1 stays with the gateway, in any
 * case; end-to-end ones go on, also with a hop-by-hop name's length. */
static void
test_hop_by_hop(void **state)
{
	static const struct wsg_h1_header hdrs[] = {
	        {{"connection", 10}, {"x-listed", 8}},
	        {{"X-Listed", 8}, {"1", 1}},
	        {{"KEEP-ALIVE", 10}, {"timeout=5", 9}},
	        {{"Proxy-Authenticate", 18}, {"Basic", 5}},
	        {{"Proxy-Authorization", 19}, {"Basic eA==", 10}},
	        {{"Proxy-Connection", 16}, {"keep-alive", 10}},
	        {{"te", 2}, {"trailers", 8}},
	        {{"Trailer", 7}, {"X-T", 3}},
	        {{"Trailers", 8}, {"X-T", 3}},
	        {{"Transfer-Encoding", 17}, {"gzip", 4}},
	        {{"Upgrade", 7}, {"h2c", 3}},
	        {{"X-Seven", 7}, {"kept-7", 6}},
	        {{"X-Ten-Chars", 11}, {"kept-11", 7}},
	        {{"Accept-Encoding", 15}, {"kept-15", 7}},
	};
	static const char *const gone[] = {
	        "x-listed", "X-Listed", "KEEP-ALIVE",        "Proxy-",
	        "te:",      "Trailer",  "Transfer-Encoding", "Upgrade",
	};
	struct event_base *base = event_base_new();
	struct step steps[] = {{OK_2, 0}};
	struct wsg_upstream_send s;
	struct upstream u;
	struct outcome o;
	struct client c;
	size_t i;

	(void)state;
	client_init(&c, base, upstream_start(&u, base));
	u.steps = steps;
	u.n_steps = 1;
	memset(&o, 0, sizeof(o));
	get_request(&s, &c, "", 100);
	s.client_headers = hdrs;
	s.n_client_headers = sizeof(hdrs) / sizeof(hdrs[0]);
	assert_int_equal(wsg_upstream_forward(c.pool, &s, done_cb, &o), WSG_OK);
	while (o.calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(o.status, WSG_OK);
	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (strcasestr(u.last, gone[i]) != NULL)
			fail_msg("%s reached the upstream:\n%s", gone[i],
			         u.last);
	assert_non_null(strstr(u.last, "\r\nX-Seven: kept-7\r\n"));
	assert_non_null(strstr(u.last, "\r\nX-Ten-Chars: kept-11\r\n"));
	assert_non_null(strstr(u.last, "\r\nAccept-Encoding: kept-15\r\n"));
	wsg_upstream_pool_free(c.pool);
	upstream_stop(&u);
	event_base_free(base);
}

/* Nobody listens: the callback tells, not wsg_upstream_forward. */
static void
test_refused(void **state)
{
	struct event_base *base = event_base_new();
	struct upstream u;
	struct outcome o;
	struct client c;
	unsigned port;

	(void)state;
	port = upstream_start(&u, base);
	upstream_stop(&u);
	client_init(&c, base, port);
	exchange(&c, &o);
	assert_int_equal(o.status, WSG_ERR_IO);
	assert_string_equal(o.reason,
	                    "upstream refused or reset the connection");
	wsg_upstream_pool_free(c.pool);
	event_base_free(base);
}

/* Shutdown ends the exchange in flight at once and refuses new ones. */
static void
test_shutdown(void **state)
{
	struct event_base *base = event_base_new();
	struct wsg_upstream_send s;
	struct step never = {NULL, 0};
	struct upstream u;
	struct outcome o;
	struct client c;

	(void)state;
	client_init(&c, base, upstream_start(&u, base));
	/* The URL's query goes first, the client's after it. */
	strcat(c.url, "?k=v");
	u.steps = &never;
	u.n_steps = 1;
	memset(&o, 0, sizeof(o));
	get_request(&s, &c, "?q=1", 10);
	assert_int_equal(wsg_upstream_forward(c.pool, &s, done_cb, &o), WSG_OK);
	while (u.next == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_non_null(strstr(u.last, "GET /base?k=v&q=1 HTTP/1.1\r\n"));
	assert_null(strstr(u.last, "Content-Length"));
	wsg_upstream_pool_shutdown(c.pool, "stopping");
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.status, WSG_ERR_IO);
	assert_string_equal(o.reason, "stopping");
	assert_int_equal(wsg_upstream_forward(c.pool, &s, done_cb, &o),
	                 WSG_ERR_IO);
	wsg_upstream_pool_free(c.pool);
	upstream_stop(&u);
	event_base_free(base);
}

/*
 * A DNS server on loopback: "up.test" is 127.0.0.1, "two.test" is
 * 127.0.0.2 (where nobody listens) then 127.0.0.1, "slow.test" is never
 * answered (held until dns_stop), any other name does not exist.
 */
struct dns {
	struct evdns_server_port *port;
	evutil_socket_t fd;
	struct evdns_server_request *held[4];
	unsigned n_held, queries;
	char nameserver[32];
	char *list[1];
	struct wsg_resolver_conf conf;
};

static void
dns_cb(struct evdns_server_request *req, void *arg)
{
	struct dns *d = arg;
	struct in_addr lo = {htonl(INADDR_LOOPBACK)};
	struct in_addr two[2] = {{htonl(INADDR_LOOPBACK + 1)},
	                         {htonl(INADDR_LOOPBACK)}};
	const struct evdns_server_question *q;

	d->queries++;
	assert_int_equal(req->nquestions, 1);
	q = req->questions[0];
	/* The resolver mixes the case of names it asks for (0x20 bits). */
	if (strcasecmp(q->name, "slow.test") == 0 && d->n_held < 4) {
		d->held[d->n_held++] = req;
		return;
	}
	if (strcasecmp(q->name, "up.test") == 0 ||
	    strcasecmp(q->name, "two.test") == 0) {
		if (q->type == EVDNS_TYPE_A && q->name[0] == 'u')
			evdns_server_request_add_a_reply(req, q->name, 1, &lo,
			                                 60);
		else if (q->type == EVDNS_TYPE_A)
			evdns_server_request_add_a_reply(req, q->name, 2, two,
			                                 60);
		evdns_server_request_respond(req, 0);
		return;
	}
	evdns_server_request_respond(req, DNS_ERR_NOTEXIST);
}

static void
dns_start(struct dns *d, struct event_base *base)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(d, 0, sizeof(*d));
	d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(d->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(d->fd, (struct sockaddr *)&sa, &len);
	d->port = evdns_add_server_port_with_base(base, d->fd, 0, dns_cb, d);
	assert_non_null(d->port);
	snprintf(d->nameserver, sizeof(d->nameserver), "127.0.0.1:%u",
	         ntohs(sa.sin_port));
	d->list[0] = d->nameserver;
	d->conf.nameservers = d->list;
	d->conf.n_nameservers = 1;
}

static void
dns_stop(struct dns *d)
{
	unsigned i;

	for (i = 0; i < d->n_held; i++)
		evdns_server_request_drop(d->held[i]);
	evdns_close_server_port(d->port);
	close(d->fd);
}

/* A client whose pool asks `d`, for `host`. */
static void
client_named(struct client *c, struct event_base *base, struct dns *d,
             const char *host, unsigned port)
{
	client_init(c, base, port);
	wsg_upstream_pool_free(c->pool);
	c->pool = wsg_upstream_pool_new(base, NULL, &d->conf);
	snprintf(c->url, sizeof(c->url), "http://%s:%u/base", host, port);
}

/* A name is looked up, connected to, and sent as the Host header. */
static void
test_resolve(void **state)
{
	struct event_base *base = event_base_new();
	struct step steps[] = {{OK_2, 0}, {OK_2, 0}};
	struct upstream u;
	struct outcome o;
	struct client c;
	struct dns d;
	unsigned port;

	(void)state;
	dns_start(&d, base);
	port = upstream_start(&u, base);
	u.steps = steps;
	u.n_steps = 2;
	client_named(&c, base, &d, "up.test", port);
	exchange(&c, &o);
	assert_int_equal(o.status, WSG_OK);
	assert_string_equal(o.body, "ok");
	assert_non_null(strstr(u.last, "\r\nHost: up.test:"));
	assert_true(d.queries >= 1);
	/* The kept connection needs no lookup. */
	d.queries = 0;
	exchange(&c, &o);
	assert_int_equal(o.status, WSG_OK);
	assert_int_equal(u.accepts, 1);
	assert_int_equal(d.queries, 0);
	wsg_upstream_pool_free(c.pool);
	upstream_stop(&u);
	dns_stop(&d);
	event_base_free(base);
}

/* The first address refuses: the next one is tried. */
static void
test_resolve_next_address(void **state)
{
	struct event_base *base = event_base_new();
	struct step steps[] = {{OK_2, 0}};
	struct upstream u;
	struct outcome o;
	struct client c;
	struct dns d;

	(void)state;
	dns_start(&d, base);
	client_named(&c, base, &d, "two.test", upstream_start(&u, base));
	u.steps = steps;
	u.n_steps = 1;
	exchange(&c, &o);
	assert_int_equal(o.status, WSG_OK);
	assert_int_equal(u.accepts, 1);
	wsg_upstream_pool_free(c.pool);
	upstream_stop(&u);
	dns_stop(&d);
	event_base_free(base);
}

static void
test_resolve_unknown(void **state)
{
	struct event_base *base = event_base_new();
	struct outcome o;
	struct client c;
	struct dns d;

	(void)state;
	dns_start(&d, base);
	client_named(&c, base, &d, "nx.test", 9);
	exchange(&c, &o);
	assert_int_equal(o.status, WSG_ERR_IO);
	assert_non_null(
	        strstr(o.reason, "upstream host name did not resolve: "));
	wsg_upstream_pool_free(c.pool);
	dns_stop(&d);
	event_base_free(base);
}

/*
 * A DNS server that does not answer holds up only the exchanges that need
 * it: one to an IP address goes through meanwhile, on the same loop; the
 * waiting one ends at the route's timeout, its lookup cancelled. A pool
 * freed with a lookup under way leaves nothing behind (ASan's leak check).
 */
static void
test_resolve_slow(void **state)
{
	struct event_base *base = event_base_new();
	struct step steps[] = {{OK_2, 0}};
	struct upstream u;
	struct outcome slow, fast, last;
	struct client c, ip;
	struct wsg_upstream_send s;
	struct dns d;
	unsigned port;

	(void)state;
	dns_start(&d, base);
	port = upstream_start(&u, base);
	u.steps = steps;
	u.n_steps = 1;
	client_named(&c, base, &d, "slow.test", port);
	client_init(&ip, base, port);
	memset(&slow, 0, sizeof(slow));
	get_request(&s, &c, "", 100);
	assert_int_equal(wsg_upstream_forward(c.pool, &s, done_cb, &slow),
	                 WSG_OK);
	while (d.n_held == 0)
		event_base_loop(base, EVLOOP_ONCE);
	exchange(&ip, &fast);
	assert_int_equal(fast.status, WSG_OK);
	assert_int_equal(slow.calls, 0);
	while (slow.calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(slow.status, WSG_ERR_TIMEOUT);
	/* Another lookup, still unanswered when the pool goes. */
	memset(&last, 0, sizeof(last));
	assert_int_equal(wsg_upstream_forward(c.pool, &s, done_cb, &last),
	                 WSG_OK);
	while (d.n_held < 2)
		event_base_loop(base, EVLOOP_ONCE);
	wsg_upstream_pool_shutdown(c.pool, "stopping");
	assert_int_equal(last.calls, 1);
	wsg_upstream_pool_free(c.pool);
	wsg_upstream_pool_free(ip.pool);
	upstream_stop(&u);
	dns_stop(&d);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cases),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_exchanges),
	        cmocka_unit_test(test_hop_by_hop),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_shutdown),
	        cmocka_unit_test(test_resolve),
	        cmocka_unit_test(test_resolve_next_address),
	        cmocka_unit_test(test_resolve_unknown),
	        cmocka_unit_test(test_resolve_slow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
