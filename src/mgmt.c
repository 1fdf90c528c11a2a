#include "mgmt.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "keyfile.h"
#include "log.h"
#include "mem.h"
#include "mgmt_health.h"
#include "mgmt_http.h"
#include "mgmt_ldap.h"
#include "mgmt_login.h"
#include "mgmt_metrics.h"
#include "mgmt_monitor.h"
#include "mgmt_roles.h"
#include "mgmt_users.h"
#include "mgmt_certs.h"
#include "mgmt_work.h"
#include "paths.h"
#include "tls.h"
#include "static.h"
#include "utf8.h"

/* Bodies up to this are read (and refused above WSG_MGMT_MAX_JSON with a
 * JSON 400); larger ones are cut off by evhttp with 413. */
#define HTTP_MAX_BODY (1024 * 1024)
#define STOP_GRACE_MS 200
#define RID_PREFIX (0xffffULL << 48)
#define DASHBOARD "/dashboard"
/* Connections for the logins' lookups: a flood queues (within
 * userstore.max_waiting) rather than opening more. */
#define MGMT_POOL_SIZE 2
/* Tokens revoked in memory (no MariaDB), not expired yet. */
#define MAX_REVOKED 100000

/* MI's values (RESTConstants.REST_ALL_SUPPORTED_METHODS + ",OPTIONS, PATCH"
 * and the default management_api.cors.allowed_headers). */
#define CORS_METHODS "GET, POST, PUT, DELETE,OPTIONS, PATCH"
#define CORS_HEADERS "Authorization, Content-Type"

enum access {
	ACCESS_PUBLIC, /* GET /management */
	ACCESS_BASIC,  /* login: its own Basic check */
	ACCESS_TOKEN,  /* any authenticated user */
};

struct route {
	enum evhttp_cmd_type method;
	const char *resource; /* first segment; NULL for /management itself */
	size_t nseg;          /* 1: the collection, 2: /{id}, 3: /{id}/action */
	const char *action;   /* third segment when nseg is 3 */
	enum access access;
	void (*handler)(struct wsg_mgmt_req *r);
	/* With userstore.type "ldap" (mgmt_ldap.h); NULL: `handler`. */
	void (*ldap)(struct wsg_mgmt_req *r);
};

/* Admin-only resources are decided by prefix before this table, as MI's
 * AuthorizationHandler does. */
static const struct route routes[] = {
        {EVHTTP_REQ_GET, NULL, 0, NULL, ACCESS_PUBLIC, wsg_mgmt_status, NULL},
        {EVHTTP_REQ_GET, "login", 1, NULL, ACCESS_BASIC, wsg_mgmt_login, NULL},
        {EVHTTP_REQ_GET, "logout", 1, NULL, ACCESS_TOKEN, wsg_mgmt_logout,
         wsg_mgmt_ldap_logout},
        {EVHTTP_REQ_GET, "userstore", 1, NULL, ACCESS_TOKEN, wsg_mgmt_userstore,
         NULL},
        {EVHTTP_REQ_GET, "users", 1, NULL, ACCESS_TOKEN, wsg_mgmt_users_list,
         wsg_mgmt_ldap_users_list},
        {EVHTTP_REQ_POST, "users", 1, NULL, ACCESS_TOKEN, wsg_mgmt_users_add,
         wsg_mgmt_ldap_read_only},
        {EVHTTP_REQ_GET, "users", 2, NULL, ACCESS_TOKEN, wsg_mgmt_user_show,
         wsg_mgmt_ldap_user_show},
        {EVHTTP_REQ_DELETE, "users", 2, NULL, ACCESS_TOKEN,
         wsg_mgmt_user_delete, wsg_mgmt_ldap_read_only},
        {EVHTTP_REQ_PATCH, "users", 2, NULL, ACCESS_TOKEN,
         wsg_mgmt_user_password, wsg_mgmt_ldap_read_only},
        {EVHTTP_REQ_POST, "users", 3, "unlock", ACCESS_TOKEN,
         wsg_mgmt_user_unlock, wsg_mgmt_ldap_user_unlock},
        {EVHTTP_REQ_GET, "users", 3, "certificates", ACCESS_TOKEN,
         wsg_mgmt_user_certs_list, wsg_mgmt_ldap_user_certs_list},
        {EVHTTP_REQ_POST, "users", 3, "certificates", ACCESS_TOKEN,
         wsg_mgmt_user_certs_add, wsg_mgmt_ldap_read_only},
        {EVHTTP_REQ_DELETE, "users", 4, "certificates", ACCESS_TOKEN,
         wsg_mgmt_user_cert_delete, wsg_mgmt_ldap_read_only},
        {EVHTTP_REQ_GET, "roles", 1, NULL, ACCESS_TOKEN, wsg_mgmt_roles_list,
         wsg_mgmt_ldap_roles_list},
        {EVHTTP_REQ_POST, "roles", 1, NULL, ACCESS_TOKEN, wsg_mgmt_roles_add,
         wsg_mgmt_ldap_read_only},
        {EVHTTP_REQ_PUT, "roles", 1, NULL, ACCESS_TOKEN, wsg_mgmt_roles_update,
         wsg_mgmt_ldap_read_only},
        {EVHTTP_REQ_GET, "roles", 2, NULL, ACCESS_TOKEN, wsg_mgmt_role_show,
         wsg_mgmt_ldap_role_show},
        {EVHTTP_REQ_DELETE, "roles", 2, NULL, ACCESS_TOKEN,
         wsg_mgmt_role_delete, wsg_mgmt_ldap_read_only},
        {EVHTTP_REQ_GET, "routes", 1, NULL, ACCESS_TOKEN, wsg_mgmt_routes_list,
         NULL},
        {EVHTTP_REQ_GET, "logs", 1, NULL, ACCESS_TOKEN, wsg_mgmt_logs_list,
         NULL},
};

static const struct route *
find_route(const struct wsg_mgmt_req *r, int any_method)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];

		if (rt->nseg != r->nseg ||
		    (!any_method && rt->method != r->method))
			continue;
		if (rt->resource == NULL ||
		    (strcmp(rt->resource, r->seg[0]) == 0 &&
		     (rt->action == NULL ||
		      strcmp(rt->action, r->seg[2]) == 0)))
			return rt;
	}
	return NULL;
}

/* -------- request setup -------- */

static void
peer_of(struct wsg_mgmt_req *r)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
	const struct sockaddr *sa =
	        conn ? evhttp_connection_get_addr(conn) : NULL;

	snprintf(r->client, sizeof(r->client), "-");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, r->client, sizeof(r->client));
		r->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		        (const struct sockaddr_in6 *)sa;
		const unsigned char *b = in6->sin6_addr.s6_addr;

		inet_ntop(AF_INET6, &in6->sin6_addr, r->client,
		          sizeof(r->client));
		/* ::1, or 127.0.0.0/8 as an IPv4-mapped address. */
		r->loopback =
		        IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		        (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127);
	}
}

/* Percent-decodes `s[0..len)`; NULL when the result would hold a NUL or
 * is not UTF-8 (names and patterns go to the database as utf8mb4). */
static char *
decode(const char *s, size_t len, int plus)
{
	char *raw = wsg_mem_strndup(s, len), *dec;
	size_t n = 0;

	dec = evhttp_uridecode(raw, plus, &n);
	free(raw);
	if (dec != NULL && (strlen(dec) != n || !wsg_utf8_valid(dec, n))) {
		free(dec);
		dec = NULL;
	}
	return dec;
}

/*
 * Splits the path after /management into decoded segments (empty ones
 * skipped, so a trailing '/' does not matter). Returns 0, or -1 when the
 * path is not under /management at all.
 */
static int
split_path(struct wsg_mgmt_req *r, const char *path)
{
	static const char base[] = "/management";
	const char *p = path + sizeof(base) - 1;
	size_t len;
	char *seg;

	if (strncmp(path, base, sizeof(base) - 1) != 0 ||
	    (*p != '\0' && *p != '/'))
		return -1;
	while (*p != '\0') {
		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 0)
			break;
		if (r->nseg == WSG_MGMT_MAX_SEGS) {
			r->too_many_segs = 1;
			break;
		}
		seg = decode(p, len, 0);
		if (seg == NULL) {
			r->bad_path = 1;
			seg = wsg_mem_strdup("");
		}
		r->seg[r->nseg++] = seg;
		p += len;
	}
	return 0;
}

static void
split_query(struct wsg_mgmt_req *r, const char *q)
{
	const char *amp, *eq;
	size_t len;
	char *name, *value;

	while (q != NULL && *q != '\0') {
		amp = strchr(q, '&');
		len = amp ? (size_t)(amp - q) : strlen(q);
		eq = memchr(q, '=', len);
		name = decode(q, eq ? (size_t)(eq - q) : len, 1);
		value = eq ? decode(eq + 1, len - (size_t)(eq + 1 - q), 1)
		           : wsg_mem_strdup("");
		if (name == NULL || value == NULL) {
			r->bad_query = 1;
			free(name);
			free(value);
		} else if (r->nparams == WSG_MGMT_MAX_PARAMS ||
		           wsg_mgmt_param(r, name) != NULL) {
			/* First wins; extra parameters mean nothing to us. */
			free(name);
			free(value);
		} else {
			r->params[r->nparams].name = name;
			r->params[r->nparams].value = value;
			r->nparams++;
		}
		q = amp ? amp + 1 : NULL;
	}
}

/*
 * What handlers read of the request, copied now: they may run on a
 * management worker, which must not touch evhttp's objects.
 */
static void
copy_input(struct wsg_mgmt_req *r)
{
	const struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct evbuffer *body = evhttp_request_get_input_buffer(r->req);
	const char *v;

	if ((v = evhttp_find_header(in, "Authorization")) != NULL)
		r->authorization = wsg_mem_strdup(v);
	if ((v = evhttp_find_header(in, "Origin")) != NULL)
		r->origin = wsg_mem_strdup(v);
	if ((v = evhttp_find_header(in, "Sec-Fetch-Site")) != NULL)
		r->sec_fetch_site = wsg_mem_strdup(v);
	r->body_len = evbuffer_get_length(body);
	if (r->body_len > 0) {
		r->body = wsg_mem_alloc(r->body_len + 1);
		evbuffer_copyout(body, r->body, r->body_len);
		r->body[r->body_len] = '\0';
	}
}

/* CORS headers as MI adds them to every management answer. */
static void
add_cors(struct wsg_mgmt_req *r)
{
	const struct wsg_management_conf *mc = &r->m->cfg->management;
	const char *origin = r->origin, *allow = NULL;
	size_t i;

	if (mc->n_cors_origins == 0)
		return;
	for (i = 0; i < mc->n_cors_origins && allow == NULL; i++) {
		if (strcmp(mc->cors_origins[i], "*") == 0)
			allow = "*";
		else if (origin != NULL &&
		         strcmp(mc->cors_origins[i], origin) == 0)
			allow = origin;
	}
	if (allow != NULL)
		wsg_mgmt_add_header(r, "Access-Control-Allow-Origin", allow);
	if (allow != NULL && strcmp(allow, "*") != 0)
		wsg_mgmt_add_header(r, "Vary", "Origin");
	wsg_mgmt_add_header(r, "Access-Control-Allow-Methods", CORS_METHODS);
	wsg_mgmt_add_header(r, "Access-Control-Allow-Headers", CORS_HEADERS);
}

/* -------- Host check -------- */

/* Host names match case-insensitively; ports exactly. */
static int
host_is(const char *host, const char *name, const char *port)
{
	size_t n = strlen(name);

	if (strncasecmp(host, name, n) != 0)
		return 0;
	if (host[n] == '\0')
		return port == NULL || *port == '\0';
	return host[n] == ':' &&
	       (port == NULL || strcmp(host + n + 1, port) == 0);
}

/*
 * Whether `host` names this listener: the connection's local address
 * (ip:port, [ip6]:port), localhost:port on loopback, or a
 * management.server_names entry (a name without port matches any port).
 * A Host without port means the scheme's default port.
 */
static int
host_names_listener(const struct wsg_mgmt_req *r, const char *host)
{
	const struct wsg_management_conf *mc = &r->m->cfg->management;
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
	struct bufferevent *bev =
	        conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN + 2], port[8], with_port[300];
	const char *h = host;
	int loopback = 0;
	size_t i;

	for (i = 0; i < mc->n_server_names; i++) {
		const char *name = mc->server_names[i];
		const char *colon = strrchr(name, ':');
		const char *bracket = strchr(name, ']');

		if (colon == NULL || (bracket != NULL && bracket > colon)) {
			if (host_is(host, name, NULL))
				return 1;
		} else if (strcasecmp(host, name) == 0) {
			return 1;
		}
	}
	if (bev == NULL || getsockname(bufferevent_getfd(bev),
	                               (struct sockaddr *)&ss, &sl) != 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(port, sizeof(port), "%u", ntohs(in->sin_port));
		loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (ss.ss_family == AF_INET6 &&
	           IN6_IS_ADDR_V4MAPPED(
	                   &((const struct sockaddr_in6 *)&ss)->sin6_addr)) {
		/* A dual-stack listener: clients name the IPv4 address. */
		const struct sockaddr_in6 *in6 =
		        (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, ip, sizeof(ip));
		snprintf(port, sizeof(port), "%u", ntohs(in6->sin6_port));
		loopback = in6->sin6_addr.s6_addr[12] == 127;
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		        (const struct sockaddr_in6 *)&ss;

		ip[0] = '[';
		inet_ntop(AF_INET6, &in6->sin6_addr, ip + 1, sizeof(ip) - 2);
		strcat(ip, "]");
		snprintf(port, sizeof(port), "%u", ntohs(in6->sin6_port));
		loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	} else {
		return 0;
	}
	if (strchr(host, ':') == NULL ||
	    (host[0] == '[' && host[strlen(host) - 1] == ']')) {
		snprintf(with_port, sizeof(with_port), "%s:%s", host,
		         r->m->cfg->management.has_tls ? "443" : "80");
		h = with_port;
	}
	return host_is(h, ip, port) ||
	       (loopback && host_is(h, "localhost", port));
}

/*
 * DNS rebinding and misdirected requests: a Host that does not name this
 * listener gets 421, a HTTP/1.1 request without Host 400. Answers and
 * returns non-zero when refused.
 */
static int
check_host(struct wsg_mgmt_req *r)
{
	const char *host = evhttp_find_header(
	        evhttp_request_get_input_headers(r->req), "Host");

	if (host == NULL) {
		if (r->req->major == 1 && r->req->minor == 0)
			return 0;
		wsg_mgmt_reply_error(r, 400, "Missing Host header");
		return 1;
	}
	if (strlen(host) < 256 && host_names_listener(r, host))
		return 0;
	wsg_mgmt_reply_error(r, 421,
	                     "The Host header does not name this listener");
	return 1;
}

/* -------- authentication -------- */

/*
 * On the management thread, before any hand-off: a Bearer token whose
 * signature, claims and expiry hold (token.c), so that requests without
 * one never queue for a worker. Answers 401 and returns non-zero on
 * failure.
 */
static int
token_check(struct wsg_mgmt_req *r)
{
	struct wsg_mgmt *m = r->m;
	const char *auth = r->authorization;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0) {
		wsg_mgmt_reply(r, 401, NULL);
		return -1;
	}
	if (wsg_token_verify(m->jwt_key, sizeof(m->jwt_key), auth + 7,
	                     strlen(auth + 7), wsg_mgmt_now(), &r->tok,
	                     &err) != WSG_OK) {
		wsg_mgmt_audit(r, "mgmt_auth_failure", "%s", err.reason);
		wsg_mgmt_reply(r, 401, NULL);
		return -1;
	}
	return 0;
}

/*
 * On a worker, for a token that passed token_check(): not revoked by any
 * gateway, and issued to the account that holds the name now (a deleted
 * and re-created user does not inherit old tokens), after the account's
 * last password change (users.tokens_valid_after). The caller's admin
 * status comes from the store, never from the token. Answers 401 (or 500)
 * and returns non-zero on failure.
 */
static int
token_current(struct wsg_mgmt_req *r)
{
	struct wsg_mgmt *m = r->m;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	const char *why = NULL;
	int rc, revoked = 0;

	wsg_error_clear(&err);
	if (m->cfg->userstore.ldap)
		return wsg_mgmt_ldap_token_current(r);
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		return -1;
	rc = wsg_token_is_revoked(c, &r->tok, &revoked, &err);
	if (rc == WSG_OK && !revoked)
		rc = wsg_userstore_get(c, r->tok.sub, &r->rec, &err);
	if (rc != WSG_OK && rc != WSG_ERR_NOTFOUND) {
		wsg_mgmt_reply_db_error(r, &err);
		return -1;
	}
	if (revoked)
		why = "token was revoked (logged out)";
	else if (rc == WSG_ERR_NOTFOUND)
		why = "token of a user that no longer exists";
	else if (r->rec->id != r->tok.uid)
		why = "token of an earlier account with this name";
	else if (r->rec->disabled)
		why = "user disabled";
	else if (!wsg_mgmt_login_allowed(&m->cfg->management, r->rec->roles))
		why = "no role in management.login_roles";
	else if (r->tok.iat_us <= r->rec->tokens_valid_after)
		why = "token issued before the user's last password change";
	if (why != NULL) {
		r->claimed_user = wsg_mem_strdup(r->tok.sub);
		wsg_mgmt_audit(r, "mgmt_auth_failure", "%s", why);
		wsg_mgmt_reply(r, 401, NULL);
		return -1;
	}
	r->user = wsg_mem_strdup(r->tok.sub);
	r->admin = wsg_userstore_roles_have(r->rec->roles,
	                                    m->cfg->management.admin_role);
	return 0;
}

/* users and roles are admin-only by prefix, except a password change. */
static int
admin_only(const struct wsg_mgmt_req *r)
{
	if (r->nseg == 0)
		return 0;
	if (strcmp(r->seg[0], "users") == 0)
		return !(r->method == EVHTTP_REQ_PATCH && r->nseg == 2);
	return strcmp(r->seg[0], "roles") == 0;
}

/* -------- dispatch -------- */

/*
 * Moves `r` to a management worker: `run` there, then `done` (NULL: the
 * request ends) here. A full queue is answered 503 at once.
 */
static void
hand_off(struct wsg_mgmt_req *r, wsg_mgmt_job_cb run, wsg_mgmt_job_cb done)
{
	struct wsg_mgmt_req *d = wsg_mgmt_defer(r);

	if (wsg_mgmt_work_submit(d->m->work, d, run, done, NULL) == WSG_OK)
		return;
	wsg_mgmt_audit(
	        d, "mgmt_busy",
	        "management workers' queue full (userstore.max_waiting)");
	wsg_mgmt_reply_busy(d);
	if (done != NULL)
		done(d, NULL);
	else
		wsg_mgmt_finish(d);
}

/* On a worker: the rest of the checks of a token route, then its handler. */
static void
token_route_job(struct wsg_mgmt_req *r, void *arg)
{
	const struct route *rt;

	(void)arg;
	if (token_current(r) != 0)
		return;
	if (r->bad_path || r->bad_query) {
		wsg_mgmt_reply_error(r, 400,
		                     "The request URI holds an encoded NUL "
		                     "byte or invalid UTF-8");
		return;
	}
	if (admin_only(r) && !r->admin) {
		wsg_mgmt_audit(r, "mgmt_denied", "not an admin");
		wsg_mgmt_reply(r, 403, NULL);
		return;
	}
	rt = r->too_many_segs ? NULL : find_route(r, 0);
	if (rt == NULL) {
		wsg_mgmt_reply(r, 404, NULL);
		return;
	}
	if (r->m->cfg->userstore.ldap && rt->ldap != NULL)
		rt->ldap(r);
	else
		rt->handler(r);
}

static void
dispatch(struct wsg_mgmt_req *r)
{
	const struct route *rt;

	/* A preflight is answered before any authentication (MI does too). */
	if (r->method == EVHTTP_REQ_OPTIONS) {
		wsg_mgmt_reply(r, 200, NULL);
		return;
	}
	rt = r->too_many_segs ? NULL : find_route(r, 0);
	if (rt != NULL && rt->access == ACCESS_PUBLIC) {
		rt->handler(r);
		return;
	}
	/* Only GET logs in; other methods on it go nowhere, unauthenticated. */
	if (r->nseg == 1 && strcmp(r->seg[0], "login") == 0) {
		if (rt != NULL)
			rt->handler(r);
		else
			wsg_mgmt_reply(r, 404, NULL);
		return;
	}
	if (token_check(r) != 0)
		return;
	hand_off(r, token_route_job, NULL);
}

/*
 * The dashboard's part of a path ("" or "/..." after /dashboard), or NULL
 * when the path is not the dashboard's. "/" is the dashboard's too (it
 * redirects there), so an operator can open the bare address.
 */
static const char *
dashboard_path(const char *path)
{
	size_t n = sizeof(DASHBOARD) - 1;

	if (strcmp(path, "/") == 0)
		return "";
	if (strncmp(path, DASHBOARD, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/'))
		return path + n;
	return NULL;
}

/* The paths served without a token, for scrapers and load balancers. */
static const char *
open_path(const char *path)
{
	if (strcmp(path, "/metrics") == 0 || strcmp(path, "/health") == 0)
		return path;
	return NULL;
}

/* On a worker: /metrics for a token holder (its lockout detail for an
 * admin). */
static void
metrics_job(struct wsg_mgmt_req *r, void *arg)
{
	(void)arg;
	if (token_current(r) == 0)
		wsg_mgmt_metrics(r);
}

static void
metrics_done(struct wsg_mgmt_req *r, void *arg)
{
	(void)arg;
	wsg_mgmt_finish_route(r, "metrics");
}

static void
serve_open(struct wsg_mgmt_req *r, const char *path)
{
	if (r->method != EVHTTP_REQ_GET) {
		wsg_mgmt_add_header(r, "Allow", "GET");
		wsg_mgmt_reply(r, 405, NULL);
	} else if (strcmp(path, "/metrics") == 0) {
		/* metrics_auth "none": a token is optional, a bad one is
		 * refused (401); "token": one is required. */
		if (strcmp(r->m->cfg->management.metrics_auth, "token") != 0 &&
		    r->authorization == NULL)
			wsg_mgmt_metrics(r);
		else if (token_check(r) == 0)
			hand_off(r, metrics_job, metrics_done);
	} else {
		wsg_mgmt_health(r);
	}
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct wsg_mgmt *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct wsg_mgmt_req r;

	memset(&r, 0, sizeof(r));
	r.m = m;
	r.snap = wsg_snapshot_ref(m->snap);
	r.cfg = r.snap->cfg;
	r.req = req;
	r.method = evhttp_request_get_command(req);
	r.rid = RID_PREFIX | ++m->next_rid;
	clock_gettime(CLOCK_MONOTONIC, &r.started);
	peer_of(&r);
	copy_input(&r);
	if (check_host(&r) != 0) {
		path = NULL;
	} else if (path != NULL && dashboard_path(path) != NULL) {
		r.status = wsg_static_serve(m->site, req, DASHBOARD,
		                            dashboard_path(path));
		r.sent = 1;
	} else if (path != NULL && open_path(path) != NULL) {
		serve_open(&r, open_path(path));
		if (r.deferred)
			return;
	} else if (path == NULL || split_path(&r, path) != 0) {
		wsg_mgmt_reply(&r, 404, NULL);
	} else {
		split_query(&r, evhttp_uri_get_query(uri));
		add_cors(&r);
		dispatch(&r);
		if (r.deferred)
			return;
		if (r.status == 0) {
			wsg_log_msg("error",
			            "management: no answer for rid "
			            "%016llx",
			            (unsigned long long)r.rid);
			wsg_mgmt_reply_error(&r, 500, "Internal error");
		}
	}

	wsg_mgmt_req_end(
	        &r, path != NULL && dashboard_path(path) != NULL ? "dashboard"
	            : path != NULL && open_path(path) != NULL    ? path + 1
	                                                      : "management");
}

/* -------- lifetime -------- */

static void
apply_limits(struct evhttp *http, const struct wsg_limits_conf *lim)
{
	evhttp_set_timeout(http, (int)lim->request_timeout);
	evhttp_set_max_headers_size(http, (ev_ssize_t)lim->max_header_size);
}

/* A TLS connection gets the certificate of the snapshot it is accepted in. */
static struct bufferevent *
mgmt_bevcb(struct event_base *base, void *arg)
{
	struct wsg_mgmt *m = arg;

	return wsg_tls_bevcb(base, m->snap->mgmt_tls);
}

/* Runs on the management thread after wsg_mgmt_reload(). */
static void
reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_mgmt *m = arg;
	struct wsg_snapshot *snap, *old;

	snap = __atomic_exchange_n(&m->pending, NULL, __ATOMIC_ACQ_REL);
	if (snap == NULL)
		return;
	old = m->snap;
	m->snap = snap;
	apply_limits(m->http, &snap->cfg->limits);
	wsg_snapshot_unref(old);
}

void
wsg_mgmt_reload(struct wsg_mgmt *m, struct wsg_snapshot *snap)
{
	struct wsg_snapshot *old;

	if (m == NULL)
		return;
	old = __atomic_exchange_n(&m->pending, wsg_snapshot_ref(snap),
	                          __ATOMIC_ACQ_REL);
	wsg_snapshot_unref(old);
	event_active(m->reload, EV_READ, 0);
}

static void *
mgmt_main(void *arg)
{
	struct wsg_mgmt *m = arg;

	event_base_dispatch(m->base);
	return NULL;
}

/* On the management thread: no new connections; answers already queued
 * get a moment to reach their clients before the loop ends. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsg_mgmt *m = arg;
	struct timeval grace = {0, STOP_GRACE_MS * 1000};

	if (m->bound != NULL)
		evhttp_del_accept_socket(m->http, m->bound);
	m->bound = NULL;
	event_base_loopexit(m->base, &grace);
}

static void
mgmt_free(struct wsg_mgmt *m)
{
	if (m == NULL)
		return;
	wsg_mgmt_work_free(m->work);
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->wake != NULL)
		event_free(m->wake);
	if (m->reload != NULL)
		event_free(m->reload);
	wsg_mgmt_health_free(m->health);
	wsg_db_pool_free(m->pool);
	wsg_revoked_free(m->revoked);
	wsg_mgmt_ldap_free_inflight(m);
	if (m->base != NULL)
		event_base_free(m->base);
	wsg_snapshot_unref(m->snap);
	wsg_snapshot_unref(m->pending);
	wsg_static_free(m->site);
	OPENSSL_cleanse(m->jwt_key, sizeof(m->jwt_key));
	free(m);
}

/* Without its files the API still runs; /dashboard/ then answers 404. */
static void
load_dashboard(struct wsg_mgmt *m)
{
	enum wsg_paths_origin origin;
	char *dir = wsg_paths_find(WSG_PATHS_DASHBOARD,
	                           m->cfg->management.dashboard_dir, &origin);
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_static_load(dir, &m->site, &err) != WSG_OK)
		wsg_log_msg("warning", "dashboard not served: %s", err.reason);
	else
		wsg_log_msg("info", "dashboard files from %s (%s)", dir,
		            wsg_paths_origin_name(origin));
	free(dir);
}

int
wsg_mgmt_start(struct wsg_runtime *rt, struct wsg_snapshot *snap,
               struct wsg_mgmt **out, struct wsg_error *err)
{
	const struct wsg_config *cfg = rt->cfg;
	const struct wsg_management_conf *mc = &cfg->management;
	struct wsg_mgmt *m;
	int rc;

	*out = NULL;
	m = wsg_mem_calloc(1, sizeof(*m));
	m->rt = rt;
	m->cfg = cfg;
	m->snap = wsg_snapshot_ref(snap);
	rc = wsg_keyfile_load(mc->jwt_secret_file, m->jwt_key,
	                      sizeof(m->jwt_key), err);
	if (rc != WSG_OK)
		goto out;
	load_dashboard(m);
	m->base = event_base_new();
	if (m->base == NULL) {
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                   "cannot create an event base");
		goto out;
	}
	m->health = wsg_mgmt_health_new(m);
	if (!cfg->userstore.mariadb)
		m->revoked = wsg_revoked_new(MAX_REVOKED);
	m->pool =
	        wsg_db_pool_new(m->base, &rt->db_params, MGMT_POOL_SIZE, NULL);
	rc = wsg_mgmt_work_new(m, m->base, mc->workers,
	                       cfg->userstore.max_waiting, &m->work, err);
	if (rc != WSG_OK)
		goto out;
	m->http = evhttp_new(m->base);
	apply_limits(m->http, &snap->cfg->limits);
	evhttp_set_max_body_size(m->http, HTTP_MAX_BODY);
	/* Read (and drop) an oversized body, so the client sees the 413. */
	evhttp_set_flags(m->http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* Every method reaches us: MI answers unknown ones 404, not 405. */
	evhttp_set_allowed_methods(
	        m->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                         EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
	                         EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	/* Empty 401/403 answers carry no Content-Type, as MI's. */
	evhttp_set_default_content_type(m->http, NULL);
	evhttp_set_gencb(m->http, request_cb, m);
	if (snap->mgmt_tls != NULL)
		evhttp_set_bevcb(m->http, mgmt_bevcb, m);
	m->bound = evhttp_bind_socket_with_handle(m->http, mc->host, mc->port);
	if (m->bound == NULL) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "cannot listen on management address %s",
		                   mc->address);
		goto out;
	}
	m->wake = event_new(m->base, -1, 0, wake_cb, m);
	m->reload = event_new(m->base, -1, 0, reload_cb, m);
	if (pthread_create(&m->thread, NULL, mgmt_main, m) != 0) {
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                   "cannot start the management thread");
		goto out;
	}
	m->running = 1;
	*out = m;
	m = NULL;
	rc = WSG_OK;
out:
	mgmt_free(m);
	return rc;
}

void
wsg_mgmt_stop(struct wsg_mgmt *m)
{
	if (m == NULL)
		return;
	if (m->running) {
		event_active(m->wake, EV_READ, 0);
		pthread_join(m->thread, NULL);
	}
	/* Requests still verifying or on a worker complete here, while their
	 * loop exists. */
	while (m->deferred > 0)
		if (event_base_loop(m->base, EVLOOP_ONCE) == 1)
			usleep(1000); /* nothing to wait on but the pool */
	mgmt_free(m);
}
