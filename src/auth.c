#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic.h"
#include "conn.h"
#include "credcache.h"
#include "err.h"
#include "lockout.h"
#include "log.h"
#include "metrics.h"
#include "mem.h"
#include "password.h"
#include "replay.h"
#include "replay_store.h"
#include "unlock.h"
#include "userstore.h"
#include "wsse.h"

/* Digest checks for unknown users run against this, so they cost the same. */
static const char dummy_digest_password[] = "wssgate-unknown-user-dummy";

static struct wsg_time
wall_now(void)
{
	struct timespec ts;
	struct wsg_time t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t.sec = ts.tv_sec;
	t.nsec = (int32_t)ts.tv_nsec;
	return t;
}

static void
policy_of(const struct wsg_request *r, struct wsg_wsse_policy *p)
{
	const struct wsg_security_conf *sec = &r->cfg->security;

	memset(p, 0, sizeof(*p));
	p->strict_bsp = sec->strict_bsp;
	p->require_timestamp = r->route->require_timestamp;
	p->created_ttl = sec->created_ttl;
	p->future_ttl = sec->future_ttl;
	p->timestamp_ttl = sec->timestamp_ttl;
}

static void
complete(struct wsg_request *r, int status)
{
	struct wsg_metrics *m = r->worker->rt->metrics;
	int ours = r->err.fault == WSG_FAULT_SERVER ||
		   r->err.fault == WSG_FAULT_BUSY;

	if (m != NULL)
		wsg_histogram_observe(
			&m->auth[status == WSG_OK ? WSG_METRICS_AUTH_OK
				 : ours ? WSG_METRICS_AUTH_ERROR
					 : WSG_METRICS_AUTH_FAILED],
			wsg_metrics_elapsed_us(&r->auth_started));
	if (status != WSG_OK)
		wsg_log_audit(r->worker->rt->log, r->rid, r->client,
			      r->route->name, r->claimed_user,
			      ours ? "auth_error" : "auth_failure",
			      r->err.reason);
	r->auth_done(r, status);
}

/*
 * Every failed "who are you" counts against the client address; the one
 * that reaches security.client_limit starts its lock (audit: client_lockout).
 */
static void
count_client_failure(struct wsg_request *r)
{
	struct wsg_runtime *rt = r->worker->rt;
	const struct wsg_lockout_conf *p = &r->cfg->security.client_limit;
	char why[160];

	if (wsg_lockout_fail(rt->lockout, WSG_LOCKOUT_CLIENT, p, r->client,
			     strlen(r->client), wsg_lockout_now_ms()) !=
	    WSG_LOCKOUT_STARTED)
		return;
	snprintf(why, sizeof(why),
		 "%u failed authentications within %llds: address refused "
		 "for %llds",
		 p->max_failures, (long long)p->window, (long long)p->duration);
	wsg_log_audit(rt->log, r->rid, r->client, r->route->name,
		      r->claimed_user, "client_lockout", why);
}

/*
 * A client over security.client_limit is refused before any password work
 * (HTTP 429, a Server / Receiver fault, Retry-After). The limit is per
 * address whatever the user, so the different answer tells nothing about
 * any account. Returns 1 when it answered.
 */
static int
client_refused(struct wsg_request *r)
{
	struct wsg_runtime *rt = r->worker->rt;
	int64_t left;

	left = wsg_lockout_check(rt->lockout, WSG_LOCKOUT_CLIENT,
				 &r->cfg->security.client_limit, r->client,
				 strlen(r->client), wsg_lockout_now_ms());
	if (left == 0)
		return 0;
	r->retry_after = (left + 999) / 1000;
	wsg_error_set(&r->err, WSG_ERR_LIMIT, WSG_FAULT_TRY_LATER,
		      "client address locked");
	complete(r, WSG_ERR_LIMIT);
	return 1;
}

static void
padding_done_cb(int status, struct wsg_user_record *rec, void *arg)
{
	struct wsg_request *r = arg;

	wsg_userstore_record_free(rec);
	complete(r, WSG_ERR_AUTH);
}

/*
 * Every "who are you" failure looks the same to the peer (DESIGN 3.3),
 * also in time: each costs exactly one user-store query. A failure decided
 * from the cache (a known user's wrong password, a remembered unknown name)
 * therefore asks for a name one character longer than the column holds,
 * which always misses like an unknown name; otherwise a never-seen name
 * would answer measurably slower than a recently active user's.
 */
static void
fail_authentication(struct wsg_request *r, const char *reason)
{
	char name[WSG_USERSTORE_MAX_NAME + 2];

	/* Whatever else went wrong, a locked user is refused for the lock. */
	wsg_error_set(&r->err, WSG_ERR_AUTH, WSG_FAULT_FAILED_AUTHENTICATION,
		      "%s", r->locked ? "user locked" : reason);
	count_client_failure(r);
	if (!r->store_queried) {
		r->store_queried = 1;
		memset(name, '~', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		if (wsg_userstore_lookup(r->worker->db, name, padding_done_cb,
					 r) == WSG_OK)
			return;
	}
	complete(r, WSG_ERR_AUTH);
}

/*
 * A wrong guess at an existing user's password: counted against the user
 * (security.lockout); the one that reaches max_failures locks it (audit:
 * lockout). Guesses while locked are not counted.
 */
static void
fail_password(struct wsg_request *r, const char *reason)
{
	struct wsg_runtime *rt = r->worker->rt;
	const struct wsg_lockout_conf *p = &r->cfg->security.lockout;
	char why[160];

	if (!r->locked &&
	    wsg_lockout_fail(rt->lockout, WSG_LOCKOUT_USER, p, r->tok.username,
			     r->tok.username_len, wsg_lockout_now_ms()) ==
	    WSG_LOCKOUT_STARTED) {
		snprintf(why, sizeof(why),
			 "%u wrong passwords within %llds: user locked for "
			 "%llds",
			 p->max_failures, (long long)p->window,
			 (long long)p->duration);
		wsg_log_audit(rt->log, r->rid, r->client, r->route->name,
			      r->claimed_user, "lockout", why);
	}
	fail_authentication(r, reason);
}

static int
route_allows_roles(const struct wsg_route_conf *rt, const char *roles)
{
	size_t i;

	if (rt->n_roles == 0)
		return 1;
	for (i = 0; i < rt->n_roles; i++)
		if (wsg_userstore_roles_have(roles, rt->roles[i]))
			return 1;
	return 0;
}

/* Every check passed: the request goes upstream as this user. */
static void
accept_user(struct wsg_request *r)
{
	r->user = wsg_mem_strdup(r->tok.username);
	r->roles = wsg_mem_strdup(r->cred.roles ? r->cred.roles : "");
	complete(r, WSG_OK);
}

static void
refuse_replay(struct wsg_request *r)
{
	struct wsg_runtime *rt = r->worker->rt;

	wsg_metrics_inc(rt->metrics ? &rt->metrics->replay_refused : NULL);
	wsg_error_set(&r->err, WSG_ERR_REPLAY, WSG_FAULT_INVALID_SECURITY,
		      "nonce replayed");
	complete(r, WSG_ERR_REPLAY);
}

/* Fails closed: a nonce the shared store could not record is refused. */
static void
shared_replay_cb(int status, void *arg)
{
	struct wsg_request *r = arg;

	if (status == WSG_OK) {
		accept_user(r);
	} else if (status == WSG_ERR_REPLAY) {
		refuse_replay(r);
	} else {
		wsg_error_set(&r->err, status, WSG_FAULT_SERVER,
			      "shared replay store unavailable: %s",
			      wsg_strerror(status));
		complete(r, status);
	}
}

/* The worker's cache accepted the nonce; now every gateway's must. */
static void
check_shared_replay(struct wsg_request *r, int64_t expires_at, int64_t now)
{
	struct wsg_worker *w = r->worker;
	int rc;

	if (++w->replay_store_inserts % WSG_REPLAY_STORE_PURGE_EVERY == 0)
		wsg_replay_store_purge(w->db, now);
	rc = wsg_replay_store_insert(w->db, r->tok.nonce, r->tok.nonce_len,
				     expires_at, now, shared_replay_cb, r);
	if (rc != WSG_OK)
		shared_replay_cb(rc, r);
}

/* The password matched: apply account, route policy and replay rules. */
static void
authorize(struct wsg_request *r)
{
	struct wsg_runtime *rt = r->worker->rt;
	struct wsg_wsse_policy policy;
	struct wsg_time now;
	int64_t expires_at;
	int rc;

	if (r->locked) {
		fail_authentication(r, "user locked");
		return;
	}
	if (r->cred.disabled) {
		fail_authentication(r, "user is disabled");
		return;
	}
	if (!r->basic &&
	    (r->route->password_types & (unsigned)r->tok.pwtype) == 0) {
		fail_authentication(r, r->tok.pwtype == WSG_PWTYPE_DIGEST
				    ? "PasswordDigest not allowed on this route"
				    : "PasswordText not allowed on this route");
		return;
	}
	if (!route_allows_roles(r->route, r->cred.roles)) {
		fail_authentication(r, "user holds none of the route's roles");
		return;
	}
	if (r->tok.nonce == NULL) {
		accept_user(r);
		return;
	}
	now = wall_now();
	policy_of(r, &policy);
	expires_at = wsg_wsse_nonce_expiry(&r->tok, &policy, now);
	rc = wsg_replay_insert(rt->replay, r->tok.nonce, r->tok.nonce_len,
			       expires_at, now.sec);
	if (rc == WSG_ERR_REPLAY) {
		refuse_replay(r);
		return;
	}
	if (rc != WSG_OK) {
		wsg_metrics_inc(rt->metrics ? &rt->metrics->replay_full : NULL);
		wsg_error_set(&r->err, rc, WSG_FAULT_SERVER,
			      "replay cache full of live nonces");
		complete(r, rc);
		return;
	}
	if (rt->replay_shared)
		check_shared_replay(r, expires_at, now.sec);
	else
		accept_user(r);
}

/* A bounded queue said no: 503 when full for everyone, 429 for an address
 * over its share. Nothing about the user is known or told. */
static void
refuse_busy(struct wsg_request *r, int rc, const char *what)
{
	r->retry_after = 1;
	if (rc == WSG_ERR_LIMIT)
		wsg_error_set(&r->err, rc, WSG_FAULT_TRY_LATER,
			      "%s: too many in progress for this address",
			      what);
	else
		wsg_error_set(&r->err, rc, WSG_FAULT_BUSY, "%s: queue full",
			      what);
	complete(r, rc);
}

static void
text_verified_cb(int result, void *arg)
{
	struct wsg_request *r = arg;

	/*
	 * An address locked while this verification ran or waited (maybe by
	 * the failures of requests that joined the same job) is answered as
	 * at the door, whatever the result: no verdict, so nothing to count.
	 */
	if (client_refused(r))
		return;
	/* Dropped unrun for a lock that has ended since. */
	if (result == WSG_ERR_LIMIT) {
		refuse_busy(r, WSG_ERR_LIMIT, "password verification");
		return;
	}
	if (!r->cred.exists) {
		fail_authentication(r, "unknown user");
		return;
	}
	if (r->tok.password_len == 0) {
		fail_password(r, "empty password");
		return;
	}
	if (result == WSG_ERR_PARSE) {
		fail_authentication(r, "stored password hash is not argon2id");
		return;
	}
	if (result != WSG_OK) {
		fail_password(r, "wrong password");
		return;
	}
	if (r->locked) {
		fail_authentication(r, "user locked");
		return;
	}
	wsg_credcache_mark_verified(r->worker->rt->credcache, r->tok.username,
				    r->cred.password_hash, r->tok.password,
				    r->tok.password_len);
	authorize(r);
}

static void
verify(struct wsg_request *r)
{
	struct wsg_runtime *rt = r->worker->rt;
	const struct wsg_security_conf *sec = &r->cfg->security;
	struct wsg_password_client who = {
		.addr = r->client,
		.max_queued = sec->verify_queue.max_queued,
		.max_per_client = sec->verify_queue.max_per_client,
		.lockout = rt->lockout,
		.client_limit = &sec->client_limit,
		.user = r->tok.username,
		.user_len = r->tok.username_len,
	};
	const char *hash;
	int rc;

	/*
	 * Decided once, before any password work. A locked user's attempts
	 * then do exactly the work of a wrong guess (the verified-password
	 * cache is skipped, so a right password is not answered faster) and
	 * end in the same FailedAuthentication. A `wssgate user unlock` since
	 * the lock began ends it first.
	 */
	if (r->cred.exists && r->cred.unlocked_at > 0 &&
	    wsg_unlock_apply(rt->lockout, WSG_LOCKOUT_USER, r->tok.username,
			     r->tok.username_len, r->cred.unlocked_at))
		wsg_log_audit(rt->log, r->rid, r->client, r->route->name,
			      r->claimed_user, "user_unlocked",
			      "offline request (wssgate user unlock) applied");
	if (r->cred.exists &&
	    wsg_lockout_check(rt->lockout, WSG_LOCKOUT_USER,
			      &r->cfg->security.lockout, r->tok.username,
			      r->tok.username_len, wsg_lockout_now_ms()) > 0)
		r->locked = 1;
	if (r->tok.pwtype == WSG_PWTYPE_DIGEST) {
		if (r->cred.exists && r->cred.digest_password != NULL) {
			rc = wsg_wsse_verify(&r->tok, r->cred.digest_password,
					     r->cred.digest_password_len);
			if (rc != WSG_OK) {
				fail_password(r, "wrong password digest");
				return;
			}
			authorize(r);
			return;
		}
		wsg_wsse_verify(&r->tok, dummy_digest_password,
				sizeof(dummy_digest_password) - 1);
		fail_authentication(r, r->cred.exists
				    ? "user has no digest secret (--no-digest)"
				    : "unknown user");
		return;
	}
	if (r->cred.exists && !r->locked && r->tok.password_len > 0 &&
	    wsg_credcache_check_verified(rt->credcache, r->tok.username,
					 r->tok.password, r->tok.password_len,
					 wall_now().sec) == WSG_OK) {
		authorize(r);
		return;
	}
	hash = r->cred.exists && r->cred.password_hash != NULL
	       ? r->cred.password_hash : wsg_password_dummy_hash();
	/* Known or not, every name queues the same way (DESIGN 3.3). */
	rc = wsg_password_verify_async(rt->pwpool, r->worker->base, hash,
				       r->tok.password, r->tok.password_len,
				       &who, text_verified_cb, r);
	if (rc == WSG_ERR_FULL || rc == WSG_ERR_LIMIT) {
		refuse_busy(r, rc, "password verification");
		return;
	}
	if (rc != WSG_OK) {
		wsg_error_set(&r->err, rc, WSG_FAULT_SERVER,
			      "cannot queue password verification");
		complete(r, rc);
	}
}

static void
lookup_cb(int status, struct wsg_user_record *rec, void *arg)
{
	struct wsg_request *r = arg;
	struct wsg_runtime *rt = r->worker->rt;
	int rc;

	if (status == WSG_OK) {
		r->cred.exists = 1;
		r->cred.disabled = rec->disabled;
		r->cred.password_hash = wsg_mem_strdup(rec->password_hash);
		r->cred.roles = wsg_mem_strdup(rec->roles ? rec->roles : "");
		r->cred.unlocked_at = rec->unlocked_at;
		if (rec->digest_sealed != NULL) {
			rc = wsg_password_unseal(rt->master_key, rec->username,
						 rec->digest_sealed,
						 rec->digest_sealed_len,
						 &r->cred.digest_password,
						 &r->cred.digest_password_len);
			if (rc != WSG_OK)
				wsg_log_audit(rt->log, r->rid, r->client,
					      r->route->name, rec->username,
					      "store_error",
					      "digest secret does not open with the master key");
		}
		wsg_userstore_record_free(rec);
	} else if (status == WSG_ERR_NOTFOUND) {
		r->cred.exists = 0;
		r->cred.roles = wsg_mem_strdup("");
	} else {
		wsg_error_set(&r->err, status, WSG_FAULT_SERVER,
			      "user store unavailable: %s", wsg_strerror(status));
		complete(r, status);
		return;
	}
	wsg_credcache_put(rt->credcache, r->tok.username, &r->cred,
			  wall_now().sec, r->cache_generation);
	verify(r);
}

/*
 * A clear-text password seen on plain HTTP is already exposed; refusing it
 * (WSO2's UsernameToken-over-HTTPS policy does the same, as InvalidSecurity)
 * tells the client to fix its transport, and costs no password work.
 */
static void
refuse_cleartext(struct wsg_request *r, const char *what)
{
	wsg_error_set(&r->err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		      "%s over plain HTTP on a require_tls route", what);
	complete(r, WSG_ERR_SECURITY);
}

/* The user named by r->tok: credential cache, else the store; then verify. */
static void
find_user(struct wsg_request *r)
{
	struct wsg_runtime *rt = r->worker->rt;
	int rc;

	if (wsg_credcache_get(rt->credcache, r->tok.username, wall_now().sec,
			      &r->cred) == WSG_OK) {
		wsg_metrics_inc(rt->metrics ? &rt->metrics->credcache_hits
					    : NULL);
		verify(r);
		return;
	}
	wsg_metrics_inc(rt->metrics ? &rt->metrics->credcache_misses : NULL);
	/* Names the store can never hold need no query, but the same work after. */
	if (r->tok.username_len == 0 ||
	    r->tok.username_len > WSG_USERSTORE_MAX_NAME ||
	    strlen(r->tok.username) != r->tok.username_len) {
		r->cred.exists = 0;
		r->cred.roles = wsg_mem_strdup("");
		verify(r);
		return;
	}
	r->store_queried = 1;
	r->cache_generation = wsg_credcache_generation(rt->credcache,
						       r->tok.username);
	rc = wsg_userstore_lookup(r->worker->db, r->tok.username, lookup_cb, r);
	if (rc == WSG_ERR_FULL) {
		refuse_busy(r, rc, "user store");
		return;
	}
	if (rc != WSG_OK) {
		wsg_error_set(&r->err, rc, WSG_FAULT_SERVER,
			      "cannot query the user store: %s", wsg_strerror(rc));
		complete(r, rc);
	}
}

void
wsg_auth_start(struct wsg_request *r, wsg_auth_done_cb done)
{
	struct wsg_wsse_policy policy;
	int rc;

	r->auth_done = done;
	clock_gettime(CLOCK_MONOTONIC, &r->auth_started);
	policy_of(r, &policy);
	rc = wsg_wsse_parse(&r->msg, &policy, &r->tok, &r->err);
	if (rc != WSG_OK) {
		complete(r, rc);
		return;
	}
	r->claimed_user = wsg_mem_strdup(r->tok.username);
	if (client_refused(r))
		return;
	if (r->route->require_tls && !r->tls &&
	    r->tok.pwtype == WSG_PWTYPE_TEXT) {
		refuse_cleartext(r, "PasswordText");
		return;
	}
	rc = wsg_wsse_check_freshness(&r->tok, &policy, wall_now(), &r->err);
	if (rc != WSG_OK) {
		complete(r, rc);
		return;
	}
	find_user(r);
}

void
wsg_auth_start_basic(struct wsg_request *r, wsg_auth_done_cb done)
{
	const char *value;
	int rc;

	r->auth_done = done;
	clock_gettime(CLOCK_MONOTONIC, &r->auth_started);
	if (r->route->require_tls && !r->tls) {
		refuse_cleartext(r, "HTTP Basic credentials");
		return;
	}
	value = wsg_conn_header(r->http, "Authorization");
	rc = wsg_basic_parse(value, &r->tok.username, &r->tok.username_len,
			     &r->tok.password, &r->tok.password_len);
	if (rc != WSG_OK) {
		wsg_error_set(&r->err, WSG_ERR_AUTH,
			      WSG_FAULT_FAILED_AUTHENTICATION, "%s",
			      rc == WSG_ERR_NOTFOUND
			      ? "no HTTP Basic credentials"
			      : "malformed HTTP Basic credentials");
		complete(r, WSG_ERR_AUTH);
		return;
	}
	r->tok.pwtype = WSG_PWTYPE_TEXT;
	r->claimed_user = wsg_mem_strdup(r->tok.username);
	if (client_refused(r))
		return;
	find_user(r);
}
