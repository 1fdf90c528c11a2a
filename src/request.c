#include "request.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "basic.h"
#include "conn.h"
#include "fmt.h"
#include "err.h"
#include "http_status.h"
#include "log.h"
#include "mem.h"
#include "operations.h"
#include "metrics.h"
#include "multipart.h"
#include "path.h"
#include "router.h"
#include "schema.h"
#include "stats.h"
#include "upstream.h"
#include "wsdl.h"
#include "wsdl_fetch.h"
#include "xop.h"

/* The one place a request is answered for the log and freed. */
static void
request_free(struct wsg_request *r, int status)
{
	struct wsg_worker *w = r->worker;
	struct wsg_log_access a;

	memset(&a, 0, sizeof(a));
	a.rid = r->rid;
	a.client = r->client;
	a.route = r->route != NULL ? r->route->name : NULL;
	a.user = r->auth.user != NULL ? r->auth.user : r->auth.claimed_user;
	a.status = status;
	a.fault = r->state == WSG_REQUEST_FAIL ? r->err.fault : WSG_FAULT_NONE;
	a.latency_ms = (double)wsg_metrics_elapsed_us(&r->started) / 1e3;
	wsg_log_access(w->rt->log, &a);
	wsg_stats_record(w->rt->stats, r->route, status, a.fault);

	wsg_soap_msg_free(&r->msg);
	wsg_auth_clear(&r->auth);
	free(r->path);
	free(r->uri_suffix);
	free(r->relay_body);
	wsg_snapshot_unref(r->snap);
	free(r);
	wsg_worker_request_done(w);
}

static enum wsg_soap_version version_of_media(const char *ctype);

static void
reply_fault(struct wsg_request *r, enum wsg_soap_version version,
            enum wsg_fault fault)
{
	const struct wsg_config *cfg = r->cfg;
	const char *ctype;
	char *body = NULL;
	size_t len = 0;
	int status = 500, rc;

	/* The log keeps the precise fault; only the peer's answer is masked. */
	r->state = WSG_REQUEST_FAIL;
	r->err.fault = fault;
	/* Basic requests may be REST: JSON unless they were SOAP, 401/403. */
	if (r->basic)
		rc = wsg_basic_build_reply(version_of_media(wsg_conn_header(
		                                   r->http, "Content-Type")),
		                           fault, &body, &len, &ctype, &status);
	else if (fault == WSG_FAULT_MUST_UNDERSTAND && r->msg.doc != NULL)
		rc = wsg_soap_build_must_understand_fault(&r->msg, &body, &len,
		                                          &ctype, &status);
	else if (cfg->security.opaque_faults &&
	         wsg_soap_fault_is_security(fault))
		rc = wsg_soap_build_opaque_fault(version, &body, &len, &ctype,
		                                 &status);
	else
		rc = wsg_soap_build_fault(version, fault, &body, &len, &ctype,
		                          &status);
	if (rc == WSG_OK)
		wsg_conn_add_header(r->conn, "Content-Type", ctype);
	else
		len = 0;
	if (r->basic && status == 401)
		wsg_conn_add_header(r->conn, "WWW-Authenticate",
		                    WSG_BASIC_CHALLENGE);
	if ((fault == WSG_FAULT_TRY_LATER || fault == WSG_FAULT_BUSY) &&
	    r->auth.retry_after > 0) {
		char secs[24];

		snprintf(secs, sizeof(secs), "%lld",
		         (long long)r->auth.retry_after);
		wsg_conn_add_header(r->conn, "Retry-After", secs);
	}
	wsg_conn_reply(r->conn, status, NULL, 0, body, len);
	free(body);
	request_free(r, status);
}

/* Fault version before the envelope is parsed: from the media type. */
static enum wsg_soap_version
version_of_media(const char *ctype)
{
	size_t len;

	if (ctype == NULL)
		return WSG_SOAP_UNKNOWN;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	len = strcspn(ctype, "; \t");
	if (len == 8 && strncasecmp(ctype, "text/xml", 8) == 0)
		return WSG_SOAP_11;
	if (len == 20 && strncasecmp(ctype, "application/soap+xml", 20) == 0)
		return WSG_SOAP_12;
	return WSG_SOAP_UNKNOWN;
}

/* The upstream's answer: its end-to-end headers, its status line and its
 * decoded body, written from the upstream's buffer. */
static void
relay(struct wsg_request *r, const struct wsg_upstream_answer *a)
{
	size_t i;

	for (i = 0; i < a->n_headers; i++)
		if (wsg_upstream_relayed_header(a, i))
			wsg_conn_add_header_slice(r->conn, a->headers[i].name,
			                          a->headers[i].value);
	wsg_conn_reply(r->conn, a->status,
	               a->reason.len > 0 ? a->reason.p : NULL, a->reason.len,
	               a->body, a->body_len);
}

static void
upstream_done_cb(int status, const struct wsg_upstream_answer *a,
                 const char *reason, void *arg)
{
	struct wsg_request *r = arg;
	int code;

	if (status != WSG_OK) {
		wsg_error_set(&r->err, status,
		              status == WSG_ERR_TIMEOUT
		                      ? WSG_FAULT_UPSTREAM_TIMEOUT
		                      : WSG_FAULT_UPSTREAM_ERROR,
		              "%s", reason);
		wsg_log_audit(r->worker->rt->log, r->rid, r->client,
		              r->route->name, r->auth.user, "upstream_error",
		              reason);
		reply_fault(r, r->msg.version, r->err.fault);
		return;
	}
	r->state = WSG_REQUEST_RELAY;
	code = a->status;
	relay(r, a);
	r->state = WSG_REQUEST_DONE;
	request_free(r, code);
}

/* The envelope's bytes: the body, or a multipart's root part. */
static void
envelope_bytes(const struct wsg_request *r, const char **p, size_t *len)
{
	*p = r->http->body;
	*len = r->http->body_len;
	if (r->multipart) {
		*p += r->mp.root_start;
		*len = r->mp.root_end - r->mp.root_start;
	}
}

static void
forward(struct wsg_request *r)
{
	struct wsg_upstream_send s;
	struct iovec parts[WSG_UPSTREAM_MAX_BODY_PARTS];
	struct iovec framed[WSG_UPSTREAM_MAX_BODY_PARTS];
	size_t room = WSG_UPSTREAM_MAX_BODY_PARTS;
	const char *env;
	char *body = NULL;
	size_t len = 0, env_len, changed, n;
	int rc;

	r->state = WSG_REQUEST_FORWARD;
	memset(&s, 0, sizeof(s));
	/* An intermediary drops what was for it: the consumed Security header
	 * (unless the route keeps it) and non-relayable role-next blocks. */
	changed = wsg_soap_remove_next_headers(&r->msg);
	if (r->route->strip_security_header && r->auth.tok.security != NULL) {
		wsg_soap_remove_header(&r->msg, r->auth.tok.security);
		r->auth.tok.security = NULL;
		changed++;
	}
	/* The client's bytes as read, minus the blocks cut out: the
	 * connection keeps them until the request is answered. */
	envelope_bytes(r, &env, &env_len);
	if (r->multipart)
		room -= WSG_MULTIPART_FRAME_PARTS;
	parts[0].iov_base = (void *)(uintptr_t)env;
	parts[0].iov_len = env_len;
	n = 1;
	/* A decrypted tree is serialised: its bytes are not the client's. */
	if ((changed > 0 || r->msg.rewritten) &&
	    wsg_soap_relay_parts(&r->msg, env, env_len, parts, room, &n) !=
	            WSG_OK) {
		/* Serialised again (not UTF-8, or the tree changed). */
		if (wsg_soap_relay(&r->msg, env, env_len, &body, &len) !=
		    WSG_OK) {
			wsg_error_set(&r->err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
			              "cannot serialise the envelope");
			reply_fault(r, r->msg.version, WSG_FAULT_SERVER);
			return;
		}
		/* Sent from here without a copy: freed with the request. */
		r->relay_body = body;
		parts[0].iov_base = body;
		parts[0].iov_len = len;
		n = 1;
	}
	s.body = parts;
	s.n_body = n;
	/* Every other part byte for byte, around the root's envelope; `room`
	 * left the frame its slices. */
	if (r->multipart) {
		wsg_multipart_relay_parts(
		        &r->mp, r->http->body, r->http->body_len, parts, n,
		        framed, WSG_UPSTREAM_MAX_BODY_PARTS, &s.n_body);
		s.body = framed;
	}
	s.route = r->route;
	s.tls = r->snap->upstream_tls;
	s.max_response_size = r->cfg->limits.max_response_size;
	s.method = r->http->h.method.p;
	/* Never the credentials the gateway consumed; on wsse only where the
	 * route says the upstream checks the client's own. */
	s.strip_authorization = r->basic || !r->route->forward_authorization;
	s.allow_underscores = r->cfg->security.underscores_in_headers;
	s.client_headers = r->http->h.headers;
	s.n_client_headers = r->http->h.n_headers;
	s.uri_suffix = r->uri_suffix;
	s.user = r->auth.user;
	s.roles = r->auth.roles;
	s.rid = r->rid;
	rc = wsg_upstream_forward(r->worker->upstream, &s, upstream_done_cb, r);
	if (rc != WSG_OK) {
		wsg_error_set(&r->err, rc, WSG_FAULT_UPSTREAM_ERROR,
		              "cannot reach the upstream: %s",
		              wsg_strerror(rc));
		reply_fault(r, r->msg.version, WSG_FAULT_UPSTREAM_ERROR);
	}
}

/*
 * The Body against the route's schemas `s` (validate = "wsdl"), only once
 * the client is authenticated: others make the gateway do no schema work
 * and learn nothing from its answers. Returns WSG_OK, or answers a Client
 * / Sender fault that names the first error.
 */
/* The parts of a checked multipart request, for its xop:Includes. */
struct xop_parts {
	const char *body;
	struct wsg_multipart_part *v;
	size_t n;
};

static int
xop_part_cb(const char *cid, size_t len, const char **p, size_t *n, int *base64,
            void *arg)
{
	const struct xop_parts *x = arg;
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->v[i].cid_len == len &&
		    memcmp(x->body + x->v[i].cid_start, cid, len) == 0) {
			*p = x->body + x->v[i].body_start;
			*n = x->v[i].body_end - x->v[i].body_start;
			*base64 = x->v[i].base64;
			return WSG_OK;
		}
	return WSG_ERR_NOTFOUND;
}

/*
 * Validates the Body with `s`; for MTOM, as the message it stands for:
 * each xop:Include read as the base64 of its attachment for the while.
 */
static int
schema_check(struct wsg_request *r, const struct wsg_schema *s)
{
	const struct wsg_limits_conf *l = &r->cfg->limits;
	struct wsg_multipart_limits ml = {l->max_parts, l->max_part_size,
	                                  l->max_part_header_size};
	struct xop_parts x = {r->http->body, NULL, 0};
	struct wsg_xop_swaps swaps;
	int rc;

	if (!r->multipart || !r->mp.xop)
		return wsg_schema_validate(s, r->msg.body, &r->err);
	rc = wsg_multipart_index(wsg_conn_header(r->http, "Content-Type"),
	                         r->http->body, r->http->body_len, &ml, &x.v,
	                         &x.n, &r->err);
	if (rc == WSG_OK)
		rc = wsg_xop_inline(r->msg.body, xop_part_cb, &x, &swaps,
		                    &r->err);
	if (rc == WSG_OK) {
		rc = wsg_schema_validate(s, r->msg.body, &r->err);
		wsg_xop_restore(&swaps);
	}
	free(x.v);
	return rc;
}

static int
validate_body(struct wsg_request *r, const struct wsg_schema *s)
{
	const char *ctype;
	char *body = NULL;
	size_t len = 0;
	int status = 500;

	if (s == NULL || r->msg.doc == NULL || schema_check(r, s) == WSG_OK)
		return WSG_OK;
	wsg_log_audit(r->worker->rt->log, r->rid, r->client, r->route->name,
	              r->auth.user, "schema_invalid", r->err.reason);
	if (r->err.fault != WSG_FAULT_CLIENT) {
		reply_fault(r, r->msg.version, r->err.fault);
		return WSG_ERR_PARSE;
	}
	r->state = WSG_REQUEST_FAIL;
	if (wsg_soap_build_fault_text(r->msg.version, WSG_FAULT_CLIENT,
	                              r->err.reason, &body, &len, &ctype,
	                              &status) == WSG_OK)
		wsg_conn_add_header(r->conn, "Content-Type", ctype);
	wsg_conn_reply(r->conn, status, NULL, 0, body, len);
	free(body);
	request_free(r, status);
	return WSG_ERR_PARSE;
}

/* No copy of the upstream's WSDL could be fetched: what it would check
 * cannot be checked, so the request fails closed. 1 when it answered. */
static int
upstream_wsdl_missing(struct wsg_request *r, int status)
{
	if (status == WSG_OK)
		return 0;
	wsg_error_set(&r->err, status, WSG_FAULT_UPSTREAM_ERROR,
	              "no WSDL fetched from the upstream yet");
	reply_fault(r, r->msg.version, WSG_FAULT_UPSTREAM_ERROR);
	return 1;
}

static void
upstream_schema_cb(int status, const struct wsg_wsdl_published *pub, void *arg)
{
	struct wsg_request *r = arg;

	if (upstream_wsdl_missing(r, status))
		return;
	if (validate_body(r, pub->schema) == WSG_OK)
		forward(r);
}

static void
auth_done_cb(struct wsg_auth *a, int status, void *arg)
{
	struct wsg_request *r = arg;

	if (status != WSG_OK) {
		r->err = a->err;
		reply_fault(r, r->msg.version, r->err.fault);
		return;
	}
	/* An upstream WSDL's schemas: the worker's copy, asked for again
	 * (a copy held since the action check may have been replaced). */
	if (r->route->wsdl_upstream &&
	    r->route->validate == WSG_VALIDATE_WSDL && r->msg.doc != NULL) {
		wsg_wsdl_cache_get(r->worker->wsdl_cache, r->snap, r->route,
		                   upstream_schema_cb, r);
		return;
	}
	if (validate_body(r, r->route->schema) != WSG_OK)
		return;
	forward(r);
}

static int
is_method(const struct wsg_request *r, const char *name)
{
	return strcmp(r->http->h.method.p, name) == 0;
}

/* REST through Basic routes: methods that make sense to forward, no TRACE
 * (it would echo credentials) and nothing an upstream may not know. */
static void
start_basic(struct wsg_request *r)
{
	static const char *const forwarded[] = {
	        "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
	size_t i;

	r->basic = 1;
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		if (is_method(r, forwarded[i]))
			break;
	if (i == sizeof(forwarded) / sizeof(forwarded[0])) {
		wsg_conn_add_header(r->conn, "Allow",
		                    "GET, HEAD, POST, PUT, DELETE, OPTIONS, "
		                    "PATCH");
		reply_fault(r, WSG_SOAP_UNKNOWN, WSG_FAULT_METHOD);
		return;
	}
	r->state = WSG_REQUEST_AUTH;
	wsg_auth_start_basic(&r->auth,
	                     wsg_conn_header(r->http, "Authorization"),
	                     auth_done_cb, r);
}

/* What follows the route's path, and the query: sent to the upstream.
 * Caller frees. */
static char *
uri_suffix(const char *rest, const char *query)
{
	size_t n = strlen(rest) + (query != NULL ? strlen(query) + 1 : 0);
	char *s = wsg_mem_alloc(n + 1), *o;

	o = wsg_fmt_str(s, s + n, rest);
	if (query != NULL) {
		o = wsg_fmt_mem(o, s + n, "?", 1);
		o = wsg_fmt_str(o, s + n, query);
	}
	*o = '\0';
	return s;
}

/*
 * The route of the target's normal form, which the upstream gets too
 * (DESIGN 3.3), and the part past its prefix. Returns WSG_OK, or answers
 * (400, 404).
 */
static int
route_request(struct wsg_request *r, enum wsg_soap_version media)
{
	struct wsg_worker *w = r->worker;
	const char *reason;
	char *query = NULL;

	/* The raw target: "//x/p" is a path, not authority "x" and path
	 * "/p". */
	if (wsg_path_from_target(r->http->h.target.p, &r->path, &query,
	                         &reason) != WSG_OK) {
		wsg_error_set(&r->err, WSG_ERR_INVAL, WSG_FAULT_BAD_PATH, "%s",
		              reason);
		wsg_log_audit(w->rt->log, r->rid, r->client, NULL, NULL,
		              "bad_path", reason);
		reply_fault(r, media, WSG_FAULT_BAD_PATH);
		return WSG_ERR_INVAL;
	}
	r->route = wsg_router_match(r->cfg, r->path);
	if (r->route == NULL) {
		free(query);
		wsg_error_set(&r->err, WSG_ERR_NOTFOUND, WSG_FAULT_NOT_FOUND,
		              "no route");
		reply_fault(r, media, WSG_FAULT_NOT_FOUND);
		return WSG_ERR_NOTFOUND;
	}
	r->uri_suffix = uri_suffix(r->path + r->route->path_len, query);
	free(query);
	return WSG_OK;
}

/* Fails the request for a refused envelope, as the audit log says. */
static void
refuse_envelope(struct wsg_request *r, enum wsg_soap_version version)
{
	wsg_log_audit(r->worker->rt->log, r->rid, r->client, r->route->name,
	              NULL, "bad_request", r->err.reason);
	reply_fault(r, version, r->err.fault);
}

/*
 * MTOM / SwA: the MIME framing checked and the root part found, whose
 * envelope is then parsed as a single-part body. Returns WSG_OK with
 * `*media` the version its types announce, or answers with the fault.
 */
static int
parse_multipart(struct wsg_request *r, enum wsg_soap_version *media)
{
	const struct wsg_limits_conf *l = &r->cfg->limits;
	struct wsg_multipart_limits limits = {l->max_parts, l->max_part_size,
	                                      l->max_part_header_size};

	if (wsg_multipart_parse(wsg_conn_header(r->http, "Content-Type"),
	                        r->http->body, r->http->body_len, &limits,
	                        &r->mp, &r->err) != WSG_OK) {
		refuse_envelope(r, *media);
		return WSG_ERR_PARSE;
	}
	r->multipart = 1;
	*media = r->mp.version;
	return WSG_OK;
}

/*
 * The hardened parse of the body, its version against the media type, and
 * the mustUnderstand blocks. Returns WSG_OK, or answers with the fault.
 */
static int
parse_envelope(struct wsg_request *r, enum wsg_soap_version media)
{
	const struct wsg_config *cfg = r->cfg;
	struct wsg_soap_limits limits;
	const char *env;
	size_t env_len;

	r->state = WSG_REQUEST_PARSE;
	if (wsg_multipart_is(wsg_conn_header(r->http, "Content-Type")) &&
	    parse_multipart(r, &media) != WSG_OK)
		return WSG_ERR_PARSE;
	envelope_bytes(r, &env, &env_len);
	wsg_config_soap_limits(&cfg->limits, &limits);
	if (wsg_soap_parse(env, env_len, &limits, &r->msg, &r->err) != WSG_OK) {
		refuse_envelope(r, media);
		return WSG_ERR_PARSE;
	}
	/* XOP roots may say text/xml for 1.2 (node-soap): the namespace
	 * decides there. */
	if (r->msg.version != media && !r->mp.xop) {
		wsg_error_set(&r->err, WSG_ERR_PARSE,
		              WSG_FAULT_UNSUPPORTED_MEDIA,
		              "envelope version does not match Content-Type");
		refuse_envelope(r, r->msg.version);
		return WSG_ERR_PARSE;
	}
	/* SOAP 1.2 part 1 §2.6: mustUnderstand faults come before any
	 * processing, so before the Security header is looked at. */
	if (wsg_soap_check_next_headers(&r->msg, &r->err) != WSG_OK) {
		refuse_envelope(r, r->msg.version);
		return WSG_ERR_PARSE;
	}
	return WSG_OK;
}

static size_t
header_count(const struct wsg_conn_request *req, const char *name)
{
	size_t i, n = 0, len = strlen(name);

	for (i = 0; i < req->h.n_headers; i++)
		n += req->h.headers[i].name.len == len &&
		     strncasecmp(req->h.headers[i].name.p, name, len) == 0;
	return n;
}

/*
 * The action the request names: its SOAPAction header, the `action`
 * parameter of its Content-Type and, for MTOM / SwA, those of start-info
 * and the root part. An upstream may dispatch on any of them (some read
 * SOAPAction for 1.2 too), so all that are there must agree. `*out` is
 * malloc'ed, NULL for none. Returns WSG_OK, or WSG_ERR_PARSE with the
 * Client fault in r->err.
 */
static int
request_action(struct wsg_request *r, char **out)
{
	const char *ctype = wsg_conn_header(r->http, "Content-Type");
	char *hdr = NULL, *param = NULL;
	const char *mp = r->multipart && r->mp.action[0] != '\0' ? r->mp.action
	                                                         : NULL,
	           *why = NULL;

	*out = NULL;
	/* The gateway reads the first; an upstream might read another. */
	if (header_count(r->http, "SOAPAction") > 1 ||
	    wsg_operations_request_action(
	            WSG_SOAP_11, wsg_conn_header(r->http, "SOAPAction"), NULL,
	            &hdr) != WSG_OK)
		why = "malformed or repeated SOAPAction header";
	else if (header_count(r->http, "Content-Type") > 1 ||
	         wsg_operations_request_action(WSG_SOAP_12, NULL, ctype,
	                                       &param) != WSG_OK)
		why = "malformed or repeated action parameter";
	else if ((hdr != NULL && param != NULL && strcmp(hdr, param) != 0) ||
	         (mp != NULL && ((hdr != NULL && strcmp(hdr, mp) != 0) ||
	                         (param != NULL && strcmp(param, mp) != 0))))
		why = "the SOAPAction header and action parameters differ";
	if (why != NULL) {
		free(hdr);
		free(param);
		return wsg_error_set(&r->err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "%s", why);
	}
	if (hdr != NULL) {
		*out = hdr;
		free(param);
	} else if (param != NULL) {
		*out = param;
	} else if (mp != NULL) {
		*out = wsg_mem_strdup(mp);
	}
	return WSG_OK;
}

/*
 * Where the route knows what SOAPActions mean (`d`: its WSDL, soap_action
 * entries), an action naming another operation than the Body's, or an
 * unknown one, is refused before any credential work. Returns WSG_OK, or
 * answers with the fault.
 */
static int
check_action(struct wsg_request *r, const struct wsg_op_decls *d)
{
	const char *ns, *local;
	char *action = NULL;
	int rc;

	if (d == NULL)
		return WSG_OK;
	wsg_operations_of_body(&r->msg, &ns, &local);
	rc = request_action(r, &action);
	if (rc == WSG_OK)
		rc = wsg_operations_check_action(d, action, ns, local, &r->err);
	free(action);
	if (rc != WSG_OK)
		refuse_envelope(r, r->msg.version);
	return rc;
}

/* A parsed SOAP request whose action is consistent: its credentials. */
static void
authenticate(struct wsg_request *r)
{
	r->state = WSG_REQUEST_AUTH;
	if (r->route->auth == WSG_AUTH_WSSE_OR_BASIC &&
	    !wsg_basic_has_security_header(&r->msg)) {
		start_basic(r);
		return;
	}
	wsg_auth_start(&r->auth, &r->msg, auth_done_cb, r);
}

static void
upstream_actions_cb(int status, const struct wsg_wsdl_published *pub, void *arg)
{
	struct wsg_request *r = arg;

	if (upstream_wsdl_missing(r, status))
		return;
	if (check_action(r, pub->actions) == WSG_OK)
		authenticate(r);
}

/*
 * The operation the Body carries, for the role check, then the action
 * check against what the route's WSDL declares: loaded with the config,
 * or the worker's copy of the upstream's (which may first be fetched).
 */
static void
check_operation(struct wsg_request *r)
{
	const char *ns, *local;

	wsg_operations_of_body(&r->msg, &ns, &local);
	wsg_auth_set_operation(&r->auth, ns, local);
	if (r->route->wsdl_upstream) {
		wsg_wsdl_cache_get(r->worker->wsdl_cache, r->snap, r->route,
		                   upstream_actions_cb, r);
		return;
	}
	if (check_action(r, r->route->actions) == WSG_OK)
		authenticate(r);
}

/* The copy written with the request's Host as public URL when the route
 * allows that Host, else the one with the route's public URL. */
static const struct wsg_wsdl *
copy_for_host(const struct wsg_request *r, const struct wsg_wsdl_published *pub)
{
	const struct wsg_route_conf *rt = r->route;
	const char *host = wsg_conn_header(r->http, "Host");
	size_t i;

	if (!rt->public_url_from_host || host == NULL)
		return pub->def;
	for (i = 0; i < rt->n_public_url_hosts && i < pub->n_hosts; i++)
		if (strcasecmp(host, rt->public_url_hosts[i]) == 0)
			return pub->hosts[i];
	return pub->def;
}

static void
wsdl_docs_cb(int status, const struct wsg_wsdl_published *pub, void *arg)
{
	struct wsg_request *r = arg;
	const char *body;
	size_t len;
	int rc;

	if (status != WSG_OK) {
		wsg_error_set(&r->err, status, WSG_FAULT_UPSTREAM_ERROR,
		              "no WSDL fetched from the upstream yet");
		reply_fault(r, WSG_SOAP_UNKNOWN, WSG_FAULT_UPSTREAM_ERROR);
		return;
	}
	rc = wsg_wsdl_lookup(copy_for_host(r, pub), r->uri_suffix + 1, &body,
	                     &len);
	if (rc != WSG_OK) {
		wsg_error_set(&r->err, rc, WSG_FAULT_NOT_FOUND,
		              "no such WSDL document");
		reply_fault(r, WSG_SOAP_UNKNOWN, WSG_FAULT_NOT_FOUND);
		return;
	}
	wsg_conn_add_header(r->conn, "Content-Type", "text/xml; charset=utf-8");
	wsg_conn_reply(r->conn, 200, NULL, 0, body, len);
	r->state = WSG_REQUEST_DONE;
	request_free(r, 200);
}

/* The route's documents: loaded with the config, or the worker's copy of
 * the upstream's. */
static void
wsdl_answer(struct wsg_request *r)
{
	const struct wsg_route_conf *rt = r->route;
	struct wsg_wsdl_published pub;

	if (rt->wsdl_upstream) {
		wsg_wsdl_cache_get(r->worker->wsdl_cache, r->snap, rt,
		                   wsdl_docs_cb, r);
		return;
	}
	pub.def = rt->wsdl_docs;
	pub.hosts = rt->wsdl_host_docs;
	pub.n_hosts = rt->wsdl_host_docs != NULL ? rt->n_public_url_hosts : 0;
	wsdl_docs_cb(WSG_OK, &pub, r);
}

static void
wsdl_auth_done_cb(struct wsg_auth *a, int status, void *arg)
{
	struct wsg_request *r = arg;

	if (status != WSG_OK) {
		r->err = a->err;
		reply_fault(r, WSG_SOAP_UNKNOWN, r->err.fault);
		return;
	}
	wsdl_answer(r);
}

/*
 * GET or HEAD <route path>?wsdl (or ?wsdl=N, ?xsd=N) on a route with a
 * WSDL: with no credentials by default (WSDLs are public in most
 * deployments), with HTTP Basic under wsdl_auth. Returns 1 when it took
 * the request, 0 for any other request.
 */
static int
serve_wsdl(struct wsg_request *r)
{
	struct wsg_worker *w = r->worker;
	struct wsg_auth_env env = {w->rt, w->base, w->db,
	                           &w->replay_store_inserts, w->ldap};
	const struct wsg_route_conf *rt = r->route;

	if ((rt->wsdl_docs == NULL && !rt->wsdl_upstream) ||
	    !(is_method(r, "GET") || is_method(r, "HEAD")) ||
	    r->uri_suffix[0] != '?' || !wsg_wsdl_is_query(r->uri_suffix + 1))
		return 0;
	if (rt->wsdl_auth == WSG_WSDL_AUTH_NONE) {
		wsdl_answer(r);
		return 1;
	}
	/* As on Basic routes: a 401 with the challenge when refused. */
	r->basic = 1;
	r->state = WSG_REQUEST_AUTH;
	wsg_auth_init(&r->auth, &env, r->cfg, rt, r->rid, r->client,
	              r->http->tls);
	r->auth.any_role = rt->wsdl_auth == WSG_WSDL_AUTH_BASIC;
	r->auth.route_roles_only = rt->wsdl_auth == WSG_WSDL_AUTH_ROUTE;
	wsg_auth_start_basic(&r->auth,
	                     wsg_conn_header(r->http, "Authorization"),
	                     wsdl_auth_done_cb, r);
	return 1;
}

void
wsg_request_handle(struct wsg_worker *w, struct wsg_conn *conn,
                   const struct wsg_conn_request *req)
{
	struct wsg_auth_env env = {w->rt, w->base, w->db,
	                           &w->replay_store_inserts, w->ldap};
	enum wsg_soap_version media;
	struct wsg_request *r;

	r = wsg_mem_calloc(1, sizeof(*r));
	r->worker = w;
	r->conn = conn;
	r->http = req;
	/* A reload during the request changes nothing for it. */
	r->snap = wsg_snapshot_ref(w->snap);
	r->cfg = r->snap->cfg;
	r->rid = ((uint64_t)w->id << 48) | ++w->next_rid;
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	*wsg_fmt_str(r->client, r->client + sizeof(r->client) - 1,
	             req->client) = '\0';
	w->inflight++;

	media = version_of_media(wsg_conn_header(req, "Content-Type"));
	/* MTOM / SwA: a SOAP message too; 1.1 faults until its types say
	 * otherwise. */
	if (media == WSG_SOAP_UNKNOWN &&
	    wsg_multipart_is(wsg_conn_header(req, "Content-Type"))) {
		media = wsg_multipart_media(
		        wsg_conn_header(req, "Content-Type"));
		if (media == WSG_SOAP_UNKNOWN)
			media = WSG_SOAP_11;
	}
	if (route_request(r, media) != WSG_OK || serve_wsdl(r))
		return;
	wsg_auth_init(&r->auth, &env, r->cfg, r->route, r->rid, r->client,
	              req->tls);
	/* wsse_or_basic looks for a Security header only in a SOAP POST; a
	 * validating route takes no other POST (it would skip the schema). */
	if (r->route->auth == WSG_AUTH_BASIC ||
	    (r->route->auth == WSG_AUTH_WSSE_OR_BASIC &&
	     (!is_method(r, "POST") ||
	      (media == WSG_SOAP_UNKNOWN &&
	       r->route->validate == WSG_VALIDATE_OFF)))) {
		start_basic(r);
		return;
	}
	if (!is_method(r, "POST")) {
		wsg_conn_add_header(conn, "Allow", "POST");
		reply_fault(r, media, WSG_FAULT_METHOD);
		return;
	}
	if (media == WSG_SOAP_UNKNOWN) {
		reply_fault(r, WSG_SOAP_11, WSG_FAULT_UNSUPPORTED_MEDIA);
		return;
	}
	if (parse_envelope(r, media) != WSG_OK)
		return;
	/* Decryption and signatures first: the operation and its action
	 * are read from the Body as it will be forwarded. */
	if (!(r->route->auth == WSG_AUTH_WSSE_OR_BASIC &&
	      !wsg_basic_has_security_header(&r->msg))) {
		r->state = WSG_REQUEST_AUTH;
		if (wsg_auth_open(&r->auth, &r->msg, auth_done_cb, r) != WSG_OK)
			return;
	}
	check_operation(r);
}
