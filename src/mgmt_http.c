#include "mgmt_http.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "credcache.h"
#include "err.h"
#include "http_status.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "password.h"
#include "utf8.h"

/*
 * Error texts quote input (names, jansson's "near '...'") and are cut at
 * the buffer's end, so they may hold invalid or cut UTF-8, which jansson
 * refuses to put into the reply: such bytes become '?'.
 */
static void
utf8_scrub(char *s)
{
	size_t len = strlen(s), i = 0, n;
	unsigned long cp;

	while (i < len) {
		n = wsg_utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (n == 0) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

int64_t
wsg_mgmt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* -------- replies -------- */

void
wsg_mgmt_add_header(struct wsg_mgmt_req *r, const char *name, const char *value)
{
	struct wsg_mgmt_header *h;

	if (r->n_out_headers == WSG_MGMT_MAX_OUT_HEADERS) {
		wsg_log_msg("error",
		            "management: too many headers for rid "
		            "%016llx",
		            (unsigned long long)r->rid);
		return;
	}
	h = &r->out_headers[r->n_out_headers++];
	h->name = wsg_mem_strdup(name);
	h->value = wsg_mem_strdup(value);
}

void
wsg_mgmt_reply_text(struct wsg_mgmt_req *r, int status,
                    const char *content_type, char *body, size_t len)
{
	if (r->status != 0) {
		/* A handler bug; the first answer stands. */
		wsg_log_msg("error",
		            "management: second reply %d to rid %016llx",
		            status, (unsigned long long)r->rid);
		free(body);
		return;
	}
	if (body != NULL)
		wsg_mgmt_add_header(r, "Content-Type", content_type);
	r->out_body = body;
	r->out_len = len;
	r->status = status;
}

void
wsg_mgmt_reply(struct wsg_mgmt_req *r, int status, json_t *body)
{
	char *text = NULL;

	if (body != NULL && r->status == 0) {
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text == NULL) {
			wsg_log_msg("error", "management: cannot serialise a "
			                     "JSON reply");
			status = 500;
		}
	}
	json_decref(body);
	wsg_mgmt_reply_text(r, status, "application/json", text,
	                    text != NULL ? strlen(text) : 0);
}

void
wsg_mgmt_reply_busy(struct wsg_mgmt_req *r)
{
	wsg_mgmt_add_header(r, "Retry-After", "1");
	wsg_mgmt_reply_error(r, 503,
	                     "The server is busy. Please try again later.");
}

/* On the management thread: the buffered answer goes out. */
static void
send_answer(struct wsg_mgmt_req *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	struct evbuffer *buf = NULL;
	size_t i;

	for (i = 0; i < r->n_out_headers; i++)
		evhttp_add_header(out, r->out_headers[i].name,
		                  r->out_headers[i].value);
	if (r->out_body != NULL) {
		buf = evbuffer_new();
		evbuffer_add(buf, r->out_body, r->out_len);
	}
	evhttp_send_reply(r->req, r->status, wsg_http_status_phrase(r->status),
	                  buf);
	if (buf != NULL)
		evbuffer_free(buf);
	r->sent = 1;
}

void
wsg_mgmt_reply_error(struct wsg_mgmt_req *r, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_scrub(msg);
	wsg_mgmt_reply(r, status, json_pack("{s:s}", "Error", msg));
}

void
wsg_mgmt_reply_not_found(struct wsg_mgmt_req *r, const char *what,
                         const char *name)
{
	wsg_mgmt_reply_error(r, 404, "%s%s: %s cannot be found.",
	                     WSG_MGMT_E_NOT_FOUND, what, name);
}

void
wsg_mgmt_reply_db_error(struct wsg_mgmt_req *r, const struct wsg_error *err)
{
	wsg_log_msg("error", "management rid=%016llx: %s",
	            (unsigned long long)r->rid,
	            err != NULL && err->reason[0] ? err->reason
	                                          : "database failure");
	/* A concurrent change won (deadlock, Galera certification): the
	 * transaction was rolled back whole and the connection is fine. */
	if (err != NULL && err->code == WSG_ERR_CONFLICT) {
		wsg_mgmt_reply_error(r, 409, "%s", WSG_MGMT_E_CONFLICT);
		return;
	}
	if (r->worker != NULL)
		r->worker->db_broken = 1;
	/* Nothing was changed (a transaction the server lost is rolled back),
	 * and the same call later may succeed: 503, not 500. */
	if (err != NULL && err->code == WSG_ERR_CONNECT)
		wsg_mgmt_reply_error(r, 503, "%s", WSG_MGMT_E_UNAVAILABLE);
	else
		wsg_mgmt_reply_error(r, 500, "%s", WSG_MGMT_E_STORE);
}

void
wsg_mgmt_reply_fail(struct wsg_mgmt_req *r, const struct wsg_mgmt_fail *f)
{
	wsg_mgmt_reply(r, f->status, json_pack("{s:s}", "Error", f->text));
}

int
wsg_mgmt_failf(struct wsg_mgmt_fail *f, int status, const char *fmt, ...)
{
	va_list ap;

	f->status = status;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	utf8_scrub(f->text);
	return WSG_ERR_INVAL;
}

void
wsg_mgmt_reply_status(struct wsg_mgmt_req *r, const char *key,
                      const char *value, const char *status)
{
	wsg_mgmt_reply(r, 200,
	               json_pack("{s:s,s:s}", key, value, "status", status));
}

/* -------- input -------- */

const char *
wsg_mgmt_param(const struct wsg_mgmt_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return r->params[i].value;
	return NULL;
}

char *
wsg_mgmt_param_trimmed(const struct wsg_mgmt_req *r, const char *name)
{
	const char *s = wsg_mgmt_param(r, name);
	size_t len;

	if (s == NULL)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return len > 0 ? wsg_mem_strndup(s, len) : NULL;
}

int
wsg_mgmt_parse_json(const char *body, size_t len, json_t **out,
                    struct wsg_mgmt_fail *f)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (len == 0) {
		wsg_mgmt_failf(f, 400, "JSON payload is missing");
		return WSG_ERR_PARSE;
	}
	if (len > WSG_MGMT_MAX_JSON) {
		wsg_mgmt_failf(f, 400,
		               "The JSON payload is larger than %d bytes",
		               WSG_MGMT_MAX_JSON);
		return WSG_ERR_LIMIT;
	}
	/* Duplicate keys are refused: two readers could pick different ones. */
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	               &jerr);
	if (j == NULL) {
		wsg_mgmt_failf(
		        f, 400,
		        "Malformed JSON payload: %s (line %d, column %d)",
		        jerr.text, jerr.line, jerr.column);
		return WSG_ERR_PARSE;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		wsg_mgmt_failf(f, 400, "The JSON payload must be an object");
		return WSG_ERR_PARSE;
	}
	*out = j;
	return WSG_OK;
}

int
wsg_mgmt_body(struct wsg_mgmt_req *r, json_t **out)
{
	struct wsg_mgmt_fail f;
	int rc;

	rc = wsg_mgmt_parse_json(r->body != NULL ? r->body : "", r->body_len,
	                         out, &f);
	if (rc != WSG_OK)
		wsg_mgmt_reply_fail(r, &f);
	return rc;
}

int
wsg_mgmt_json_string(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return WSG_ERR_NOTFOUND;
	if (!json_is_string(v))
		return WSG_ERR_INVAL;
	/* jansson refuses \u0000 unless asked, but be sure: names are C
	 * strings. */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return WSG_ERR_INVAL;
	*out = json_string_value(v);
	return WSG_OK;
}

int
wsg_mgmt_json_bool(json_t *o, const char *key, int *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return WSG_ERR_NOTFOUND;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return WSG_OK;
	}
	if (json_is_string(v) &&
	    strcasecmp(json_string_value(v), "true") == 0) {
		*out = 1;
		return WSG_OK;
	}
	if (json_is_string(v) &&
	    strcasecmp(json_string_value(v), "false") == 0) {
		*out = 0;
		return WSG_OK;
	}
	return WSG_ERR_INVAL;
}

int
wsg_mgmt_check_username(const char *s, char *why, size_t whylen)
{
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_userstore_check_new_name("it", s, 0, &err) != WSG_OK) {
		snprintf(why, whylen, "%s", err.reason);
		return WSG_ERR_INVAL;
	}
	if (strchr(s, ':') != NULL) {
		snprintf(why, whylen, "it contains ':'");
		return WSG_ERR_INVAL;
	}
	return WSG_OK;
}

int
wsg_mgmt_check_role(const char *s, int granting, char *why, size_t whylen)
{
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	rc = granting ? wsg_userstore_check_new_name("it", s, 1, &err)
	              : wsg_userstore_check_name("it", s, 1, &err);
	if (rc != WSG_OK) {
		snprintf(why, whylen, "%s", err.reason);
		return WSG_ERR_INVAL;
	}
	return WSG_OK;
}

int
wsg_mgmt_check_password(const struct wsg_password_policy_conf *policy,
                        const char *pw, size_t len, char *why, size_t whylen)
{
	const unsigned char *u = (const unsigned char *)pw;
	unsigned min = policy->min_length;
	unsigned long cp;
	size_t i = 0, n, chars = 0;

	if (len > WSG_MGMT_MAX_PASSWORD) {
		snprintf(why, whylen, "it must be at most %d bytes long",
		         WSG_MGMT_MAX_PASSWORD);
		return WSG_ERR_INVAL;
	}
	while (i < len) {
		n = wsg_utf8_decode(u + i, len - i, &cp);
		if (n == 0) {
			snprintf(why, whylen, "it is not valid UTF-8");
			return WSG_ERR_INVAL;
		}
		if (cp < 0x20 || cp == 0x7f) {
			snprintf(why, whylen,
			         "it contains a control character");
			return WSG_ERR_INVAL;
		}
		i += n;
		chars++;
	}
	if (chars < min) {
		snprintf(why, whylen, "it must be at least %u characters long",
		         min);
		return WSG_ERR_INVAL;
	}
	return WSG_OK;
}

int
wsg_mgmt_domain_check(const char *domain, const char *prefix,
                      struct wsg_mgmt_fail *f)
{
	if (domain == NULL || domain[0] == '\0' ||
	    strcasecmp(domain, "PRIMARY") == 0)
		return WSG_OK;
	wsg_mgmt_failf(f, 400,
	               "%sCould not find a user-store for the given domain %s",
	               prefix, domain);
	return WSG_ERR_NOTFOUND;
}

int
wsg_mgmt_check_domain(struct wsg_mgmt_req *r, const char *domain,
                      const char *prefix)
{
	struct wsg_mgmt_fail f;
	int rc = wsg_mgmt_domain_check(domain, prefix, &f);

	if (rc != WSG_OK)
		wsg_mgmt_reply_fail(r, &f);
	return rc;
}

/* -------- the store -------- */

int
wsg_mgmt_db(struct wsg_mgmt_req *r, struct wsg_db_conn **out)
{
	struct wsg_error err;

	*out = NULL;
	wsg_error_clear(&err);
	if (r->worker == NULL) {
		/* A handler bug: the management thread never blocks. */
		wsg_log_msg("error",
		            "management: database use outside a worker "
		            "for rid %016llx",
		            (unsigned long long)r->rid);
		wsg_mgmt_reply_error(r, 500, "Internal error");
		return WSG_ERR_DB;
	}
	if (wsg_mgmt_work_db(r->worker, out, &err) != WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		return WSG_ERR_DB;
	}
	return WSG_OK;
}

struct wsg_accounts_actor
wsg_mgmt_actor(const struct wsg_mgmt_req *r)
{
	struct wsg_accounts_actor by = {r->user, r->rec->id};

	return by;
}

void
wsg_mgmt_reply_accounts(struct wsg_mgmt_req *r, int rc,
                        const struct wsg_accounts_result *res,
                        const struct wsg_error *err)
{
	if (rc == WSG_ERR_PERM && res->rule == WSG_ACCOUNTS_RULE_NOT_ADMIN) {
		wsg_mgmt_audit(r, "mgmt_denied",
		               "no longer holds the admin role");
		wsg_mgmt_reply(r, 403, NULL);
	} else if (rc == WSG_ERR_NOTFOUND && res->missing != NULL) {
		wsg_mgmt_reply_not_found(r, res->missing_role ? "Role" : "User",
		                         res->missing);
	} else {
		wsg_mgmt_reply_db_error(r, err);
	}
}

int
wsg_mgmt_hash(struct wsg_mgmt_req *r, const char *pw, size_t len,
              const char *fail, char **hash)
{
	/* Only an admin or a user's own change gets here: no per-address
	 * bound (they are not guesses), the pool's total one only. */
	struct wsg_password_client who = {
	        .addr = r->client,
	        .max_queued = r->cfg->security.verify_queue.max_queued,
	        .max_per_client = UINT_MAX,
	};
	int rc;

	rc = wsg_mgmt_work_hash(r->worker, pw, len, &who, hash);
	if (rc == WSG_ERR_FULL) {
		wsg_mgmt_audit(r, "mgmt_busy", "verification queue full");
		wsg_mgmt_reply_busy(r);
	} else if (rc != WSG_OK) {
		wsg_mgmt_reply_error(r, 500, "%s", fail);
	}
	return rc;
}

/* -------- a request's end -------- */

void
wsg_mgmt_req_end(struct wsg_mgmt_req *r, const char *route)
{
	struct wsg_mgmt *m = r->m;
	struct wsg_log_access a;
	size_t i;

	if (r->status != 0 && !r->sent)
		send_answer(r);
	memset(&a, 0, sizeof(a));
	a.rid = r->rid;
	a.client = r->client;
	a.route = route;
	a.user = r->user != NULL ? r->user : r->claimed_user;
	a.status = r->status;
	a.latency_ms = (double)wsg_metrics_elapsed_us(&r->started) / 1e3;
	wsg_log_access(m->rt->log, &a);

	for (i = 0; i < r->nseg; i++)
		free(r->seg[i]);
	for (i = 0; i < r->nparams; i++) {
		free(r->params[i].name);
		free(r->params[i].value);
	}
	for (i = 0; i < r->n_out_headers; i++) {
		free(r->out_headers[i].name);
		free(r->out_headers[i].value);
	}
	/* Bodies may hold a token or passwords. */
	if (r->out_body != NULL)
		wsg_mem_free_secret(r->out_body, r->out_len);
	if (r->authorization != NULL)
		wsg_mem_free_secret(r->authorization, strlen(r->authorization));
	free(r->origin);
	free(r->sec_fetch_site);
	if (r->body != NULL)
		wsg_mem_free_secret(r->body, r->body_len);
	free(r->claimed_user);
	free(r->user);
	wsg_userstore_record_free(r->rec);
	wsg_token_clear(&r->tok);
	wsg_snapshot_unref(r->snap);
	r->snap = NULL;
}

struct wsg_mgmt_req *
wsg_mgmt_defer(struct wsg_mgmt_req *r)
{
	struct wsg_mgmt_req *d = wsg_mem_alloc(sizeof(*d));

	*d = *r;
	memset(r, 0, sizeof(*r));
	r->m = d->m;
	r->req = d->req;
	r->deferred = 1;
	d->m->deferred++;
	return d;
}

void
wsg_mgmt_finish_route(struct wsg_mgmt_req *r, const char *route)
{
	if (r->status == 0)
		wsg_mgmt_reply_error(r, 500, "Internal error");
	wsg_mgmt_req_end(r, route);
	r->m->deferred--;
	free(r);
}

void
wsg_mgmt_finish(struct wsg_mgmt_req *r)
{
	wsg_mgmt_finish_route(r, "management");
}

/* -------- logs -------- */

void
wsg_mgmt_audit(const struct wsg_mgmt_req *r, const char *event, const char *fmt,
               ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	wsg_log_audit(r->m->rt->log, r->rid, r->client, "management",
	              r->user != NULL ? r->user : r->claimed_user, event,
	              reason);
}
