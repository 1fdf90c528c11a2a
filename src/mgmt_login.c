#include "mgmt_login.h"

#include "autoconf.h"

#include <event2/http.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credcache.h"
#include "err.h"
#include "lockout.h"
#include "lockout_store.h"
#include "log.h"
#include "mem.h"
#include "mgmt_ldap.h"
#include "password.h"
#include "unlock.h"
#include "wsse.h"

/* Longest Basic credential we decode: a name, ':' and a password. */
#define MAX_BASIC_DECODED                                                      \
	(WSG_USERSTORE_MAX_NAME + 1 + WSG_MGMT_MAX_LOGIN_PASSWORD)
#define MAX_BASIC_ENCODED ((MAX_BASIC_DECODED + 2) / 3 * 4)

/* Whether the admin role has a member (bootstrap's cheap look). */
static const char SQL_ANY_ADMIN[] =
        "SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id "
        "WHERE r.name = ? LIMIT 1";

void
wsg_mgmt_status(struct wsg_mgmt_req *r)
{
	wsg_mgmt_reply(r, 200,
	               json_pack("{s:s,s:s}", "wssgate", PACKAGE_VERSION,
	                         "ManagementApi", "Active"));
}

void
wsg_mgmt_userstore(struct wsg_mgmt_req *r)
{
	int ldap = r->m->cfg->userstore.ldap;

	wsg_mgmt_reply(r, 200,
	               json_pack("{s:s,s:b}", "type", ldap ? "ldap" : "mariadb",
	                         "readOnly", ldap));
}

/* MI's challenge header really is spelled with an underscore; a standard
 * WWW-Authenticate would make browsers pop up their own login dialog over
 * the dashboards, which log in with XMLHttpRequest. */
static void
unauthorized(struct wsg_mgmt_req *r, int challenge)
{
	if (challenge)
		wsg_mgmt_add_header(r, "WWW_Authenticate",
		                    "Basic realm=\"wssgate\"");
	wsg_mgmt_reply(r, 401, NULL);
}

int
wsg_mgmt_client_refused(struct wsg_mgmt_req *r)
{
	int64_t left;
	char secs[24];

	left = wsg_lockout_check(r->m->rt->lockout, WSG_LOCKOUT_CLIENT,
	                         &r->cfg->security.client_limit, r->client,
	                         strlen(r->client), wsg_lockout_now_ms());
	if (left == 0)
		return 0;
	snprintf(secs, sizeof(secs), "%lld", (long long)(left + 999) / 1000);
	wsg_mgmt_add_header(r, "Retry-After", secs);
	wsg_mgmt_audit(r, "login_failure", "client address locked");
	wsg_mgmt_reply_error(r, 429,
	                     "Too many failed login attempts from this "
	                     "address. Please try again later.");
	return 1;
}

/* The shared store could not answer: this process's lock only. */
static void
lock_unread(struct wsg_mgmt_req *r, const char *why)
{
	struct wsg_metrics *m = r->m->rt->metrics;

	wsg_metrics_inc(m != NULL ? &m->lockout_store_unread : NULL);
	wsg_mgmt_audit(r, "lockout_store_error",
	               "lockout store unreadable (%s): this gateway's lock "
	               "only",
	               why);
}

/* On a worker: the shared store's verdict, on its blocking connection. */
static int
shared_locked(struct wsg_mgmt_req *r, const char *user)
{
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	int locked = 0;

	wsg_error_clear(&err);
	if (wsg_mgmt_work_db(r->worker, &c, &err) != WSG_OK ||
	    wsg_lockout_store_check_conn(
	            c, WSG_LOCKOUT_MGMT_USER, user, strlen(user),
	            wsg_lockout_store_now_ms(), &locked, &err) != WSG_OK)
		lock_unread(r, err.reason);
	return locked;
}

int
wsg_mgmt_user_locked(struct wsg_mgmt_req *r, const struct wsg_user_record *rec)
{
	const struct wsg_lockout_conf *p = &r->cfg->security.lockout;
	const char *user = rec != NULL ? rec->username : r->claimed_user;
	int locked = 0;

	/* A `wssgate user unlock` since the lock began ends it first. */
	if (rec != NULL &&
	    wsg_unlock_apply(r->m->rt->lockout, WSG_LOCKOUT_MGMT_USER, user,
	                     strlen(user), rec->unlocked_at))
		wsg_mgmt_audit(r, "user_unlocked",
		               "offline request (wssgate user unlock) applied "
		               "to '%s'",
		               user);
	if (r->m->rt->lockout_shared && p->max_failures > 0 &&
	    r->worker != NULL)
		locked = shared_locked(r, user);
	return rec != NULL &&
	       (locked ||
	        wsg_lockout_check(r->m->rt->lockout, WSG_LOCKOUT_MGMT_USER, p,
	                          user, strlen(user),
	                          wsg_lockout_now_ms()) > 0);
}

/* Who audit lines name, as wsg_mgmt_audit() does. */
static const char *
audited(const struct wsg_mgmt_req *r)
{
	return r->user != NULL ? r->user : r->claimed_user;
}

static void
audit_lockout(struct wsg_log *log, uint64_t rid, const char *client,
              const char *user, const struct wsg_lockout_conf *p)
{
	char why[160];

	snprintf(why, sizeof(why),
	         "%u wrong passwords within %llds: user locked for %llds",
	         p->max_failures, (long long)p->window, (long long)p->duration);
	wsg_log_audit(log, rid, client, "management", user, "lockout", why);
}

/* A failure of `user` the shared store could not count: counted here
 * instead (`who` is the name the audit line carries). */
static enum wsg_lockout_result
count_locally(struct wsg_runtime *rt, uint64_t rid, const char *client,
              const char *who, const char *user,
              const struct wsg_lockout_conf *p, int status)
{
	char why[160];

	wsg_metrics_inc(rt->metrics ? &rt->metrics->lockout_store_local : NULL);
	snprintf(why, sizeof(why),
	         "lockout store could not count a wrong password (%s): "
	         "counted by this gateway only",
	         wsg_strerror(status));
	wsg_log_audit(rt->log, rid, client, "management", who,
	              "lockout_store_error", why);
	return wsg_lockout_fail(rt->lockout, WSG_LOCKOUT_MGMT_USER, p, user,
	                        strlen(user), wsg_lockout_now_ms());
}

/* A failure on its way to the shared store from the management thread. */
struct mgmt_count {
	struct wsg_runtime *rt;
	struct wsg_lockout_conf policy; /* its numbers only */
	uint64_t rid;
	char client[64];
	char *who; /* for the audit line */
	char *user;
};

static void
mgmt_counted_cb(int status, enum wsg_lockout_result res, void *arg)
{
	struct mgmt_count *mc = arg;

	if (status != WSG_OK)
		res = count_locally(mc->rt, mc->rid, mc->client, mc->who,
		                    mc->user, &mc->policy, status);
	if (res == WSG_LOCKOUT_STARTED)
		audit_lockout(mc->rt->log, mc->rid, mc->client, mc->who,
		              &mc->policy);
	free(mc->who);
	free(mc->user);
	free(mc);
}

/* Counts on the shared store; 1 when this failure started the lock. */
static int
count_shared(struct wsg_mgmt_req *r, const char *user)
{
	const struct wsg_lockout_conf *p = &r->cfg->security.lockout;
	struct wsg_runtime *rt = r->m->rt;
	enum wsg_lockout_result res;
	struct wsg_db_conn *c = NULL;
	struct mgmt_count *mc;
	struct wsg_error err;
	int rc;

	if (r->worker != NULL) {
		wsg_error_clear(&err);
		rc = wsg_mgmt_work_db(r->worker, &c, &err);
		if (rc == WSG_OK)
			rc = wsg_lockout_store_fail_conn(
			        c, WSG_LOCKOUT_MGMT_USER, p, user, strlen(user),
			        wsg_lockout_store_now_ms(), rt->metrics, &res,
			        &err);
		if (rc == WSG_ERR_INVAL)
			return 0;
		if (rc != WSG_OK)
			res = count_locally(rt, r->rid, r->client, audited(r),
			                    user, p, rc);
		if (res == WSG_LOCKOUT_STARTED)
			audit_lockout(rt->log, r->rid, r->client, audited(r),
			              p);
		return res == WSG_LOCKOUT_STARTED;
	}
	mc = wsg_mem_calloc(1, sizeof(*mc));
	mc->rt = rt;
	mc->policy = *p;
	mc->policy.store = NULL;
	mc->rid = r->rid;
	snprintf(mc->client, sizeof(mc->client), "%s", r->client);
	mc->who = audited(r) != NULL ? wsg_mem_strdup(audited(r)) : NULL;
	mc->user = wsg_mem_strdup(user);
	rc = wsg_lockout_store_fail(r->m->pool, r->m->base,
	                            WSG_LOCKOUT_MGMT_USER, p, user,
	                            strlen(user), wsg_lockout_store_now_ms(),
	                            rt->metrics, mgmt_counted_cb, mc);
	if (rc == WSG_ERR_INVAL) {
		free(mc->who);
		free(mc->user);
		free(mc);
	} else if (rc != WSG_OK) {
		mgmt_counted_cb(rc, WSG_LOCKOUT_OFF, mc);
	}
	return 0;
}

int
wsg_mgmt_count_failure(struct wsg_mgmt_req *r, const char *user, int guess)
{
	const struct wsg_security_conf *sec = &r->cfg->security;
	struct wsg_lockout *l = r->m->rt->lockout;
	int64_t now = wsg_lockout_now_ms();
	int started = 0;

	if (guess && r->m->rt->lockout_shared)
		started = count_shared(r, user);
	else if (guess &&
	         wsg_lockout_fail(l, WSG_LOCKOUT_MGMT_USER, &sec->lockout, user,
	                          strlen(user), now) == WSG_LOCKOUT_STARTED) {
		started = 1;
		audit_lockout(r->m->rt->log, r->rid, r->client, audited(r),
		              &sec->lockout);
	}
	if (wsg_lockout_fail(l, WSG_LOCKOUT_CLIENT, &sec->client_limit,
	                     r->client, strlen(r->client),
	                     now) == WSG_LOCKOUT_STARTED)
		wsg_mgmt_audit(
		        r, "client_lockout",
		        "%u failed authentications within %llds: address "
		        "refused for %llds",
		        sec->client_limit.max_failures,
		        (long long)sec->client_limit.window,
		        (long long)sec->client_limit.duration);
	return started;
}

int
wsg_mgmt_shared_unlock(struct wsg_mgmt_req *r, struct wsg_db_conn *c,
                       const char *user, int *was_locked)
{
	struct wsg_error err;
	int rc = WSG_OK;

	wsg_error_clear(&err);
	*was_locked = 0;
	if (c == NULL)
		rc = wsg_mgmt_db(r, &c);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_lockout_store_unlock(c, user, strlen(user),
	                              wsg_lockout_store_now_ms(), was_locked,
	                              &err);
	if (rc != WSG_OK)
		wsg_mgmt_reply_db_error(r, &err);
	return rc;
}

void
wsg_mgmt_login_failed(struct wsg_mgmt_req *r, const char *user, int guess,
                      int locked, const char *reason)
{
	wsg_mgmt_count_failure(r, user, guess && !locked);
	wsg_mgmt_audit(r, "login_failure", "%s",
	               locked ? "user locked" : reason);
	if (r->status == 0)
		unauthorized(r, 0);
}

/*
 * Splits "Basic base64(user:password)" at the first ':'. `*raw` holds both
 * (NUL between them), wiped and freed by the caller with its length.
 */
static int
parse_basic(const char *auth, unsigned char **raw, size_t *raw_len,
            const char **user, const char **pw, size_t *pw_len)
{
	const char *b64 = auth + 6;
	unsigned char *colon;
	size_t len;

	*raw = NULL;
	*raw_len = 0;
	if (strncmp(auth, "Basic ", 6) != 0)
		return WSG_ERR_AUTH;
	while (*b64 == ' ')
		b64++;
	len = strlen(b64);
	while (len > 0 && b64[len - 1] == ' ')
		len--;
	if (len == 0 || len > MAX_BASIC_ENCODED)
		return WSG_ERR_AUTH;
	if (wsg_wsse_base64_decode(b64, len, raw, raw_len) != WSG_OK)
		return WSG_ERR_AUTH;
	colon = memchr(*raw, ':', *raw_len);
	/* A NUL byte would cut the name short: refuse it rather than guess. */
	if (colon == NULL || colon == *raw || memchr(*raw, '\0', *raw_len) ||
	    (size_t)(colon - *raw) + 1 == *raw_len)
		return WSG_ERR_AUTH;
	*colon = '\0';
	*user = (const char *)*raw;
	*pw = (const char *)colon + 1;
	*pw_len = *raw_len - (size_t)(colon - *raw) - 1;
	return WSG_OK;
}

static int
bootstrap_allowed(const struct wsg_mgmt_req *r)
{
	const char *mode = r->m->cfg->management.bootstrap_admin;

	if (strcmp(mode, "any") == 0)
		return 1;
	return strcmp(mode, "loopback") == 0 && r->loopback;
}

int
wsg_mgmt_login_allowed(const struct wsg_management_conf *mc, const char *roles)
{
	size_t i;

	if (mc->n_login_roles == 0 ||
	    wsg_userstore_roles_have(roles, mc->admin_role))
		return 1;
	for (i = 0; i < mc->n_login_roles; i++)
		if (wsg_userstore_roles_have(roles, mc->login_roles[i]))
			return 1;
	return 0;
}

/*
 * A request a browser made for a web page: it carries Origin (fetch, forms)
 * or a Sec-Fetch-Site other than "none" (typed, bookmarked) or
 * "same-origin". Such a page must never create the first admin; curl,
 * wssgatectl and the address bar send neither. Returns the reason or NULL.
 */
static const char *
browser_made(const struct wsg_mgmt_req *r)
{
	const char *site = r->sec_fetch_site;

	if (r->origin != NULL)
		return "the request carries an Origin header";
	if (site != NULL && strcmp(site, "none") != 0 &&
	    strcmp(site, "same-origin") != 0)
		return "the request carries Sec-Fetch-Site other than none or "
		       "same-origin";
	return NULL;
}

void
wsg_mgmt_reply_token(struct wsg_mgmt_req *r, const char *user, uint64_t uid,
                     int admin)
{
	const struct wsg_management_conf *mc = &r->m->cfg->management;
	char *jwt = NULL;

	if (wsg_token_issue(r->m->jwt_key, sizeof(r->m->jwt_key), user, uid,
	                    admin, wsg_token_now_us(), mc->token_ttl, &jwt,
	                    NULL) != WSG_OK) {
		wsg_log_msg("error", "management: cannot issue a token");
		wsg_mgmt_reply_error(
		        r, 500, "Error occurred while generating JWT token");
		return;
	}
	wsg_mgmt_add_header(r, "Cache-Control", "no-store");
	wsg_mgmt_reply(r, 200, json_pack("{s:s}", "AccessToken", jwt));
	OPENSSL_cleanse(jwt, strlen(jwt));
	free(jwt);
}

/* A login waiting for its user's row from the non-blocking pool. */
struct lookup {
	struct wsg_mgmt_req *r; /* deferred */
	unsigned char *raw;     /* the decoded Basic credentials (secret) */
	size_t raw_len;
	const char *pw; /* in `raw` */
	size_t pw_len;
	int verify; /* bootstrap declined: verify as an unknown name */
	struct wsg_user_record *rec; /* while the shared lock is read */
};

static void
lookup_free(struct lookup *lk)
{
	wsg_mem_free_secret(lk->raw, lk->raw_len);
	free(lk);
}

static void check_then_verify(struct lookup *lk, struct wsg_user_record *rec);

/* What bootstrap_checks() decided. */
enum boot { BOOT_NO, BOOT_ANSWERED, BOOT_GO };

/*
 * On a worker, with the first admin's password hash (`hash`, freed here):
 * the transaction of wsg_accounts_bootstrap(). Of several concurrent first
 * logins (on any gateway) one creates an admin and the others fail,
 * verified as any other unknown name (lk->verify).
 */
static void
bootstrap_create(struct lookup *lk, struct wsg_db_conn *c, char *hash)
{
	struct wsg_mgmt_req *r = lk->r;
	const struct wsg_management_conf *mc = &r->m->cfg->management;
	const char *user = r->claimed_user;
	struct wsg_accounts_user u = {.name = user, .password_hash = hash};
	struct wsg_accounts_result res;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	rc = wsg_password_seal(r->m->rt->master_key, user, lk->pw, lk->pw_len,
	                       &sealed, &sealed_len);
	if (rc != WSG_OK) {
		wsg_mgmt_reply_error(r, 500,
		                     "Error occurred authenticating user.");
		goto out;
	}
	u.sealed = sealed;
	u.sealed_len = sealed_len;
	rc = wsg_accounts_bootstrap(c, mc->admin_role, &u, &res, &err);
	/* Another first login won the race. */
	if (rc == WSG_ERR_EXISTS ||
	    (rc == WSG_ERR_PERM &&
	     res.rule != WSG_ACCOUNTS_RULE_BOOTSTRAP_UNKNOWN)) {
		lk->verify = 1;
		goto out;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		goto out;
	}
	wsg_credcache_invalidate(r->m->rt->credcache, user);
	wsg_mgmt_audit(r, "bootstrap_admin",
	               "the store never held an admin: created '%s' as the "
	               "first admin (bootstrap_admin=%s)",
	               user, mc->bootstrap_admin);
	wsg_mgmt_reply_token(r, user, res.uid, 1);
out:
	free(hash);
	free(sealed);
}

/*
 * On a worker: may this login create the first admin? `user` does not
 * exist and no admin ever did (the bootstrap row), and no browser sent the
 * request for a web page. BOOT_GO: yes; BOOT_ANSWERED: answered (400, 500
 * or 503); BOOT_NO: verify as for any unknown name (which answers 401).
 */
static enum boot
bootstrap_checks(struct lookup *lk, struct wsg_db_conn *c)
{
	struct wsg_mgmt_req *r = lk->r;
	const struct wsg_management_conf *mc = &r->m->cfg->management;
	const char *user = r->claimed_user, *browser;
	struct wsg_accounts_result res;
	struct wsg_error err;
	char why[256];
	int rc;

	wsg_error_clear(&err);
	/* A cheap look first, so logins of a running system never hash. */
	rc = wsg_accounts_bootstrap_open(c, mc->admin_role, &res, &err);
	if (rc == WSG_ERR_PERM) {
		if (res.rule == WSG_ACCOUNTS_RULE_BOOTSTRAP_UNKNOWN)
			wsg_mgmt_audit(
			        r, "bootstrap_refused",
			        "cannot read the bootstrap state (schema "
			        "older than version 3? run wssgate db "
			        "init): %s",
			        err.reason);
		else if (res.rule == WSG_ACCOUNTS_RULE_BOOTSTRAP_DONE)
			wsg_mgmt_audit(r, "bootstrap_refused",
			               "an admin existed before: recover with "
			               "'wssgate user add NAME --admin'");
		return BOOT_NO;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		return BOOT_ANSWERED;
	}
	browser = browser_made(r);
	if (browser != NULL) {
		wsg_mgmt_audit(r, "bootstrap_refused", "%s", browser);
		return BOOT_NO;
	}
	if (wsg_mgmt_check_username(user, why, sizeof(why)) != WSG_OK) {
		wsg_mgmt_audit(r, "bootstrap_refused", "invalid username: %s",
		               why);
		wsg_mgmt_reply_error(r, 400, "Invalid username: %s", why);
		return BOOT_ANSWERED;
	}
	if (wsg_mgmt_check_password(&mc->password_policy, lk->pw, lk->pw_len,
	                            why, sizeof(why)) != WSG_OK) {
		wsg_mgmt_audit(r, "bootstrap_refused", "invalid password: %s",
		               why);
		wsg_mgmt_reply_error(r, 400, "Invalid password: %s", why);
		return BOOT_ANSWERED;
	}
	return BOOT_GO;
}

/* The first admin's job on a worker: the checks, argon2 (on the pool),
 * the transaction. */
static void
bootstrap_job(struct wsg_mgmt_req *r, void *arg)
{
	struct lookup *lk = arg;
	struct wsg_db_conn *c = NULL;
	char *hash = NULL;

	if (wsg_mgmt_db(r, &c) != WSG_OK)
		return;
	switch (bootstrap_checks(lk, c)) {
	case BOOT_NO: lk->verify = 1; return;
	case BOOT_ANSWERED: return;
	case BOOT_GO: break;
	}
	if (wsg_mgmt_hash(r, lk->pw, lk->pw_len,
	                  "Error occurred authenticating user.",
	                  &hash) == WSG_OK)
		bootstrap_create(lk, c, hash);
}

/* Back on the management thread: the answer, or the usual verification. */
static void
bootstrap_done(struct wsg_mgmt_req *r, void *arg)
{
	struct lookup *lk = arg;

	if (lk->verify && r->status == 0) {
		check_then_verify(lk, NULL);
		return;
	}
	wsg_mgmt_finish(r);
	lookup_free(lk);
}

/* A login whose argon2 runs on the verification pool. */
struct login {
	struct wsg_mgmt_req *r; /* deferred; r->rec: NULL if unknown */
	int locked;
};

void
wsg_mgmt_login_busy(struct wsg_mgmt_req *r, int rc)
{
	wsg_mgmt_add_header(r, "Retry-After", "1");
	wsg_mgmt_audit(r, "login_error", "%s",
	               rc == WSG_ERR_LIMIT
	                       ? "too many verifications in progress for "
	                         "this address"
	                       : "verification queue full");
	if (rc == WSG_ERR_LIMIT)
		wsg_mgmt_reply_error(r, 429,
		                     "Too many login attempts in progress from "
		                     "this address. Please try again later.");
	else
		wsg_mgmt_reply_error(r, 503,
		                     "The server is busy. Please try again "
		                     "later.");
}

static void
login_verified_cb(int rc, void *arg)
{
	struct login *lg = arg;
	struct wsg_mgmt_req *r = lg->r;
	const struct wsg_management_conf *mc = &r->m->cfg->management;
	const char *user = r->claimed_user;
	int admin;

	/* Locked meanwhile: answered as at the door, no verdict (as in
	 * auth.c). */
	if (wsg_mgmt_client_refused(r))
		goto out;
	if (rc == WSG_ERR_LIMIT) {
		wsg_mgmt_login_busy(r, rc);
		goto out;
	}
	if (r->rec == NULL) {
		wsg_mgmt_login_failed(r, user, 0, 0, "unknown user");
		goto out;
	}
	if (rc == WSG_OK && r->rec->disabled)
		rc = WSG_ERR_PERM;
	/* Refused as a wrong password is, after the same argon2 work. */
	if (rc == WSG_OK && !wsg_mgmt_login_allowed(mc, r->rec->roles)) {
		wsg_mgmt_login_failed(r, user, 0, lg->locked,
		                      "no role in management.login_roles");
		goto out;
	}
	if (rc != WSG_OK || lg->locked) {
		wsg_mgmt_login_failed(r, user, rc == WSG_ERR_AUTH, lg->locked,
		                      rc == WSG_ERR_AUTH ? "wrong password"
		                      : rc == WSG_ERR_PERM
		                              ? "user disabled"
		                              : "stored hash unreadable");
		goto out;
	}
	admin = wsg_userstore_roles_have(r->rec->roles, mc->admin_role);
	r->user = wsg_mem_strdup(user);
	wsg_mgmt_audit(r, "mgmt_login", "logged in (%s)",
	               admin ? "admin" : "default");
	wsg_mgmt_reply_token(r, user, r->rec->id, admin);
out:
	free(lg);
	wsg_mgmt_finish(r);
}

/*
 * argon2 on the verification pool, bounded like the data plane's
 * (security.verify_queue), so a login flood never holds the management
 * thread; the answer comes from login_verified_cb(). `r` is deferred.
 * `rec` (stolen) is NULL for an unknown name, which is verified against
 * the dummy hash.
 */
static void
verify_login(struct wsg_mgmt_req *r, struct wsg_user_record *rec,
             const char *pw, size_t pw_len, int shared_locked)
{
	const struct wsg_security_conf *sec = &r->cfg->security;
	struct wsg_runtime *rt = r->m->rt;
	struct wsg_password_client who = {
	        .max_queued = sec->verify_queue.max_queued,
	        .max_per_client = sec->verify_queue.max_per_client,
	        .lockout = rt->lockout,
	        .client_limit = &sec->client_limit,
	        .user = r->claimed_user,
	        .user_len = strlen(r->claimed_user),
	};
	struct login *lg = wsg_mem_calloc(1, sizeof(*lg));
	int rc;

	/* A locked user's password is still verified: same work, same 401. */
	lg->locked =
	        rec != NULL && (wsg_mgmt_user_locked(r, rec) || shared_locked);
	r->rec = rec;
	lg->r = r;
	who.addr = r->client;
	rc = wsg_password_verify_async(rt->pwpool, r->m->base,
	                               rec != NULL ? rec->password_hash
	                                           : wsg_password_dummy_hash(),
	                               pw, pw_len, &who, login_verified_cb, lg);
	if (rc == WSG_OK)
		return;
	if (rc == WSG_ERR_FULL || rc == WSG_ERR_LIMIT)
		wsg_mgmt_login_busy(lg->r, rc);
	wsg_mgmt_finish(lg->r);
	free(lg);
}

static void
login_lock_read_cb(int status, int locked, void *arg)
{
	struct lookup *lk = arg;

	if (status != WSG_OK)
		lock_unread(lk->r, wsg_strerror(status));
	verify_login(lk->r, lk->rec, lk->pw, lk->pw_len,
	             status == WSG_OK && locked);
	lookup_free(lk);
}

/*
 * With the shared lockout store, its row is read first (through the
 * non-blocking pool, for an unknown name too, so both cost the same);
 * then verify_login(). Takes `lk` and `rec` over.
 */
static void
check_then_verify(struct lookup *lk, struct wsg_user_record *rec)
{
	struct wsg_mgmt_req *r = lk->r;
	const struct wsg_lockout_conf *p = &r->cfg->security.lockout;
	const char *user = rec != NULL ? rec->username : r->claimed_user;
	int rc;

	lk->rec = rec;
	if (!r->m->rt->lockout_shared || p->max_failures == 0) {
		login_lock_read_cb(WSG_OK, 0, lk);
		return;
	}
	rc = wsg_lockout_store_check(r->m->pool, WSG_LOCKOUT_MGMT_USER, user,
	                             strlen(user), wsg_lockout_store_now_ms(),
	                             login_lock_read_cb, lk);
	if (rc != WSG_OK)
		login_lock_read_cb(rc, 0, lk);
}

/* The pool failed (unreachable, stalled, full): try again later (503),
 * as a broken blocking connection answers; ends the login. */
static void
lookup_failed(struct lookup *lk, int rc)
{
	struct wsg_error err;

	wsg_error_clear(&err);
	if (rc == WSG_ERR_FULL) {
		wsg_mgmt_audit(lk->r, "login_error",
		               "database queue full (userstore.max_waiting)");
		wsg_mgmt_reply_busy(lk->r);
	} else {
		wsg_error_set(&err, WSG_ERR_CONNECT, WSG_FAULT_NONE,
		              "login lookup: %s",
		              rc == WSG_ERR_TIMEOUT ? "timed out"
		                                    : "database failure");
		wsg_mgmt_reply_db_error(lk->r, &err);
	}
	wsg_mgmt_finish(lk->r);
	lookup_free(lk);
}

static void
admins_looked_up_cb(int rc, struct wsg_db_result *res, void *arg)
{
	struct lookup *lk = arg;
	struct wsg_mgmt_req *r = lk->r;
	size_t admins = res != NULL ? res->nrows : 0;

	wsg_db_result_free(res);
	if (rc != WSG_OK) {
		lookup_failed(lk, rc);
		return;
	}
	/* No admin yet: the first one, rare; its transaction on a worker. */
	if (admins == 0) {
		if (wsg_mgmt_work_submit(r->m->work, r, bootstrap_job,
		                         bootstrap_done, lk) == WSG_OK)
			return;
		wsg_mgmt_audit(r, "login_error",
		               "management workers' queue full "
		               "(userstore.max_waiting)");
		wsg_mgmt_reply_busy(r);
		wsg_mgmt_finish(r);
		lookup_free(lk);
		return;
	}
	check_then_verify(lk, NULL);
}

static void
login_looked_up_cb(int rc, struct wsg_user_record *rec, void *arg)
{
	struct lookup *lk = arg;
	struct wsg_mgmt_req *r = lk->r;
	struct wsg_db_param role;

	if (rc != WSG_OK && rc != WSG_ERR_NOTFOUND) {
		lookup_failed(lk, rc);
		return;
	}
	/* An unknown name may be the first admin: is there one already?
	 * Through the pool too, as every unknown name asks. */
	if (rc == WSG_ERR_NOTFOUND && bootstrap_allowed(r)) {
		role.data = r->m->cfg->management.admin_role;
		role.len = strlen(role.data);
		rc = wsg_db_query(r->m->pool, SQL_ANY_ADMIN, &role, 1,
		                  admins_looked_up_cb, lk);
		if (rc != WSG_OK)
			lookup_failed(lk, rc);
		return;
	}
	/* Same argon2 work for an unknown name as for a wrong password. */
	check_then_verify(lk, rec);
}

void
wsg_mgmt_login(struct wsg_mgmt_req *r)
{
	const char *auth, *user = NULL, *pw = NULL;
	struct lookup *lk;
	unsigned char *raw = NULL;
	size_t raw_len = 0, pw_len = 0;
	int rc;

	auth = r->authorization;
	if (auth == NULL) {
		unauthorized(r, 1);
		goto out;
	}
	if (wsg_mgmt_client_refused(r))
		goto out;
	/* Not a guess at a password, so not counted (as on the data plane). */
	if (parse_basic(auth, &raw, &raw_len, &user, &pw, &pw_len) != WSG_OK) {
		wsg_mgmt_audit(r, "login_failure",
		               "malformed Basic credentials");
		unauthorized(r, 0);
		goto out;
	}
	r->claimed_user = wsg_mem_strdup(user);
	/* No bootstrap: the directory's admin_group holds the admins. */
	if (r->m->cfg->userstore.ldap) {
		wsg_mgmt_ldap_login(wsg_mgmt_defer(r), raw, raw_len, pw,
		                    pw_len);
		raw = NULL;
		goto out;
	}
	lk = wsg_mem_calloc(1, sizeof(*lk));
	lk->raw = raw;
	lk->raw_len = raw_len;
	lk->pw = pw;
	lk->pw_len = pw_len;
	raw = NULL;
	lk->r = wsg_mgmt_defer(r);
	/* The lookup never blocks this thread: a flood of logins (or a
	 * stalled database) leaves /health and the other requests served. */
	if (wsg_userstore_check_name("it", user, 0, NULL) != WSG_OK) {
		login_looked_up_cb(WSG_ERR_NOTFOUND, NULL, lk);
		goto out;
	}
	rc = wsg_userstore_lookup(r->m->pool, user, login_looked_up_cb, lk);
	if (rc != WSG_OK)
		lookup_failed(lk, rc);
out:
	if (raw != NULL)
		wsg_mem_free_secret(raw, raw_len);
}

void
wsg_mgmt_logout(struct wsg_mgmt_req *r)
{
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		return;
	if (wsg_token_revoke(c, &r->tok, wsg_mgmt_now(), &err) != WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		return;
	}
	wsg_mgmt_audit(r, "mgmt_logout", "token %.8s... revoked", r->tok.jti);
	wsg_mgmt_reply(r, 200, NULL);
}
