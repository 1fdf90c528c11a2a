/*
 * The management API's request context and the helpers its resources
 * share: JSON replies in WSO2 MI's shapes ({"Error": "..."} errors, empty
 * 401/403 bodies), the request body as a JSON object, decoded path segments
 * and query parameters, a worker's blocking database connection, input
 * rules (names, password policy, user-store domain) and the audit log.
 * A request's input is copied at its start and its answer is buffered
 * until the management thread ends it (wsg_mgmt_req_end()), so handlers
 * also run on a management worker (mgmt_work.h), where nothing may touch
 * `req` (evhttp belongs to the management thread).
 */
#ifndef WSG_MGMT_HTTP_H
#define WSG_MGMT_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "accounts.h"
#include "db.h"
#include "password.h"
#include "server.h"
#include "static.h"
#include "token.h"
#include "types.h"
#include "userstore.h"
#include "mgmt_work.h"
#include "revoked.h"

#define WSG_MGMT_MAX_SEGS 4     /* path segments after /management */
#define WSG_MGMT_MAX_PARAMS 16  /* query parameters kept */
#define WSG_MGMT_MAX_JSON 65536 /* bytes of a JSON body we parse */
/* Bytes of a password set through the API: its sealed copy (29 bytes more)
 * must fit users.digest_secret (1024). */
#define WSG_MGMT_MAX_PASSWORD 512
#define WSG_MGMT_MAX_LOGIN_PASSWORD 1024 /* bytes, as the command line sets */
#define WSG_MGMT_MAX_OUT_HEADERS 8       /* headers an answer sets itself */

/* MI's error texts start with a fixed prefix followed directly by the cause. */
#define WSG_MGMT_E_REQUEST "Error processing the request"
#define WSG_MGMT_E_REQUEST_DOT "Error processing the request. "
#define WSG_MGMT_E_NOT_FOUND "Requested resource not found. "
#define WSG_MGMT_E_RETRY "Please try again. "
#define WSG_MGMT_E_STORE                                                       \
	"Error initializing the user store. Please try again later"
/* Ours: the database cannot be reached (503). */
#define WSG_MGMT_E_UNAVAILABLE                                                 \
	"The user store is unavailable: the database cannot be reached. "      \
	"Please try again later"

/* Ours: a concurrent change on another gateway won (409). */
#define WSG_MGMT_E_CONFLICT "A concurrent change conflicted; try again"

/* The management thread's state. */
struct wsg_mgmt {
	struct wsg_runtime *rt;
	const struct wsg_config *cfg;
	unsigned char jwt_key[WSG_TOKEN_KEY_LEN];
	struct wsg_mgmt_work *work; /* database and argon2 work */
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	/* `cfg` is the config at start (management.* needs a restart);
	 * requests read security.* and limits from their snapshot. */
	struct wsg_snapshot *snap;    /* current; new requests take a ref */
	struct wsg_snapshot *pending; /* handed over by a reload (atomic) */
	struct event *reload;         /* activated by wsg_mgmt_reload() */
	struct event *wake;           /* activated by wsg_mgmt_stop() */
	pthread_t thread;
	int running;
	uint64_t next_rid;
	struct wsg_static *site; /* the dashboard's files, or NULL */
	unsigned deferred;       /* requests taken by wsg_mgmt_defer(), open */
	struct wsg_mgmt_health *health; /* GET /health's own probe */
	struct wsg_db_pool *pool;       /* logins' lookups, non-blocking */
	/* Logouts without MariaDB (userstore.type "ldap"), or NULL. */
	struct wsg_revoked *revoked;
	/* LDAP logins in progress per client address (mgmt_ldap.c); touched
	 * on the management thread only. */
	struct wsg_mgmt_inflight *ldap_logins;
};

struct wsg_mgmt_inflight;

struct wsg_mgmt_param {
	char *name;
	char *value; /* decoded, NUL-free */
};

/*
 * A client mistake found while reading a request body, kept apart from
 * the HTTP exchange so that parsers run without one (fuzz_mgmt_json).
 */
struct wsg_mgmt_fail {
	int status;      /* HTTP status to answer */
	char text[1024]; /* MI's "Error" text */
};

struct wsg_mgmt_header {
	char *name;
	char *value;
};

/* One request, alive until its answer is sent. */
struct wsg_mgmt_req {
	struct wsg_mgmt *m;
	struct wsg_snapshot *snap;    /* a reference, for the whole request */
	const struct wsg_config *cfg; /* snap->cfg: security.* and limits */
	struct evhttp_request *req;
	enum evhttp_cmd_type method;
	uint64_t rid;
	char client[64];
	int loopback; /* peer is 127.0.0.0/8 or ::1 */
	struct timespec started;
	char *seg[WSG_MGMT_MAX_SEGS]; /* decoded segments after /management */
	size_t nseg;
	int too_many_segs;
	int bad_path; /* a segment decoded to a NUL byte */
	struct wsg_mgmt_param params[WSG_MGMT_MAX_PARAMS];
	size_t nparams;
	int bad_query;
	char *claimed_user; /* Basic-auth user of a login, for the log */
	char *user;         /* authenticated caller */
	struct wsg_user_record *rec; /* the caller as stored */
	int admin;            /* the caller holds management.admin_role */
	struct wsg_token tok; /* the caller's token */
	/* Input, copied at the start (header values may be NULL). */
	char *authorization; /* a credential: wiped when freed */
	char *origin;
	char *sec_fetch_site;
	char *body; /* NUL-terminated copy of the request body */
	size_t body_len;
	/* The answer, sent when the request ends. */
	int status; /* HTTP status of the answer, 0 before */
	int sent;   /* already sent (the dashboard's files) */
	char *out_body;
	size_t out_len;
	struct wsg_mgmt_header out_headers[WSG_MGMT_MAX_OUT_HEADERS];
	size_t n_out_headers;
	int deferred; /* moved away by wsg_mgmt_defer() */
	/* A job of the management workers (mgmt_work.c). */
	struct wsg_mgmt_worker *worker; /* the one running it, or NULL */
	wsg_mgmt_job_cb job_run;
	wsg_mgmt_job_cb job_done;
	void *job_arg;
	struct wsg_mgmt_req *job_next;
};

/*
 * The end of a request: its access line (`route` names it) and the memory
 * it holds; a connection that failed during it is closed. For a request
 * of wsg_mgmt_defer() use wsg_mgmt_finish().
 */
void wsg_mgmt_req_end(struct wsg_mgmt_req *r, const char *route);

/*
 * For an answer that comes from a callback later: moves `*r` to the heap
 * and leaves `r` empty with `deferred` set (the caller then ends nothing).
 * The copy must be answered, then ended with wsg_mgmt_finish().
 */
struct wsg_mgmt_req *wsg_mgmt_defer(struct wsg_mgmt_req *r);

/* Answers 500 if nothing was sent, ends `r` and frees it. */
void wsg_mgmt_finish(struct wsg_mgmt_req *r);
/* The same for a request of the access log's `route` (not "management"). */
void wsg_mgmt_finish_route(struct wsg_mgmt_req *r, const char *route);

/* -------- replies (each request is answered exactly once) -------- */

/* Answers `status` with `body` (stolen; NULL: empty body). */
void wsg_mgmt_reply(struct wsg_mgmt_req *r, int status, json_t *body);

/* Answers `status` with `len` bytes of `body` (stolen) of `content_type`. */
void wsg_mgmt_reply_text(struct wsg_mgmt_req *r, int status,
                         const char *content_type, char *body, size_t len);

/* A header of the answer (both copied); call before the reply. */
void wsg_mgmt_add_header(struct wsg_mgmt_req *r, const char *name,
                         const char *value);

/* 503 with Retry-After: 1, "The server is busy". */
void wsg_mgmt_reply_busy(struct wsg_mgmt_req *r);

/* Sends `status` with {"Error": "<formatted text>"}. */
void wsg_mgmt_reply_error(struct wsg_mgmt_req *r, int status, const char *fmt,
                          ...) __attribute__((format(printf, 3, 4)));

/* 404 with MI's text: "<what>: <name> cannot be found." */
void wsg_mgmt_reply_not_found(struct wsg_mgmt_req *r, const char *what,
                              const char *name);

/*
 * A database failure: logs `err`, answers 503 with WSG_MGMT_E_UNAVAILABLE
 * when the database cannot be reached (err->code WSG_ERR_CONNECT), 409 with
 * WSG_MGMT_E_CONFLICT when a concurrent change won (WSG_ERR_CONFLICT, the
 * connection kept), else 500
 * with MI's user-store text (the peer never sees SQL errors), and marks the
 * connection for a reconnect.
 */
void wsg_mgmt_reply_db_error(struct wsg_mgmt_req *r,
                             const struct wsg_error *err);

/* Sends f->status with {"Error": f->text}. */
void wsg_mgmt_reply_fail(struct wsg_mgmt_req *r, const struct wsg_mgmt_fail *f);

/* Fills `f` and returns WSG_ERR_INVAL: `return wsg_mgmt_failf(f, 400, ...)`. */
int wsg_mgmt_failf(struct wsg_mgmt_fail *f, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* {"userId": user, "status": status}, as MI's user changes answer. */
void wsg_mgmt_reply_status(struct wsg_mgmt_req *r, const char *key,
                           const char *value, const char *status);

/* -------- input -------- */

/* A decoded query parameter, or NULL. */
const char *wsg_mgmt_param(const struct wsg_mgmt_req *r, const char *name);

/* A decoded query parameter without surrounding blanks (spaces, tabs), as
 * a new string the caller frees; NULL when absent or blank. */
char *wsg_mgmt_param_trimmed(const struct wsg_mgmt_req *r, const char *name);

/*
 * `len` bytes of a request body as one JSON object: at most
 * WSG_MGMT_MAX_JSON bytes, duplicate keys refused. On WSG_OK `*out` holds a
 * reference (caller json_decref()s); otherwise `*out` is NULL and `f` holds
 * the 400 (missing, too large, malformed, not an object).
 */
int wsg_mgmt_parse_json(const char *body, size_t len, json_t **out,
                        struct wsg_mgmt_fail *f);

/*
 * The request body as a JSON object (wsg_mgmt_parse_json()). On failure
 * the request has been answered 400 and `*out` is NULL.
 */
int wsg_mgmt_body(struct wsg_mgmt_req *r, json_t **out);

/*
 * A string member: WSG_OK (`*out` points into `o`), WSG_ERR_NOTFOUND when
 * absent or null, WSG_ERR_INVAL when it has another type.
 */
int wsg_mgmt_json_string(json_t *o, const char *key, const char **out);

/* A boolean member, also as the strings "true"/"false" (any case), as MI
 * reads isAdmin. WSG_OK, WSG_ERR_NOTFOUND (absent or null), WSG_ERR_INVAL. */
int wsg_mgmt_json_bool(json_t *o, const char *key, int *out);

/*
 * A username the management API creates: the store's rules for new names
 * (wsg_userstore_check_new_name) and no ':' (HTTP Basic splits at the first
 * one). WSG_OK, or WSG_ERR_INVAL with the cause in `why`.
 */
int wsg_mgmt_check_username(const char *s, char *why, size_t whylen);

/* A role name (the store's rules; `granting`: the rules for new names, as
 * the role is created or goes into X-WSS-Roles). WSG_OK or WSG_ERR_INVAL
 * with `why`. */
int wsg_mgmt_check_role(const char *s, int granting, char *why, size_t whylen);

/*
 * `management.password_policy`: valid UTF-8 without control characters, at
 * least min_length characters, at most WSG_MGMT_MAX_PASSWORD bytes.
 */
int wsg_mgmt_check_password(const struct wsg_password_policy_conf *policy,
                            const char *pw, size_t len, char *why,
                            size_t whylen);

/*
 * MI's `domain`: absent, "" or "PRIMARY" (any case) is the one store we
 * have. Otherwise fills `f` (400, the text after `prefix`) and returns
 * WSG_ERR_NOTFOUND.
 */
int wsg_mgmt_domain_check(const char *domain, const char *prefix,
                          struct wsg_mgmt_fail *f);

/* wsg_mgmt_domain_check(), answering the request on failure. */
int wsg_mgmt_check_domain(struct wsg_mgmt_req *r, const char *domain,
                          const char *prefix);

/* -------- the store -------- */

/*
 * The running worker's connection (wsg_mgmt_work_db()); only for a request
 * running on a management worker. On failure the request has been
 * answered (503 or 500) and WSG_ERR_DB is returned.
 */
int wsg_mgmt_db(struct wsg_mgmt_req *r, struct wsg_db_conn **out);

/* The caller of `r` (authenticated) as the actor of an account change. */
struct wsg_accounts_actor wsg_mgmt_actor(const struct wsg_mgmt_req *r);

/*
 * The answers account changes (accounts.h) share, for a failure `rc` the
 * handler did not answer itself: the caller lost the admin role (403,
 * audited), a user or role missing (404), else the store's failure.
 */
void wsg_mgmt_reply_accounts(struct wsg_mgmt_req *r, int rc,
                             const struct wsg_accounts_result *res,
                             const struct wsg_error *err);

/*
 * On a worker: the argon2id hash of `pw` from the password pool (bounded
 * by security.verify_queue's max_queued, never joined). On failure this
 * answers (503 with Retry-After when the queue is full, else 500 `fail`)
 * and returns it; else `*hash` is the caller's.
 */
int wsg_mgmt_hash(struct wsg_mgmt_req *r, const char *pw, size_t len,
                  const char *fail, char **hash);

/* -------- logs -------- */

/* An audit line for this request, with the acting user. */
void wsg_mgmt_audit(const struct wsg_mgmt_req *r, const char *event,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Seconds since the epoch. */
int64_t wsg_mgmt_now(void);

#endif
