#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic.h"
#include "credcache.h"
#include "err.h"
#include "ldapstore.h"
#include "lockout.h"
#include "lockout_store.h"
#include "log.h"
#include "metrics.h"
#include "mem.h"
#include "operations.h"
#include "password.h"
#include "replay.h"
#include "replay_store.h"
#include "unlock.h"
#include "userstore.h"
#include "worker.h"
#include "wsse.h"
#include "xenc.h"

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
policy_of(const struct wsg_auth *a, struct wsg_wsse_policy *p)
{
	const struct wsg_security_conf *sec = &a->cfg->security;

	memset(p, 0, sizeof(*p));
	p->strict_bsp = sec->strict_bsp;
	p->require_timestamp = a->route->require_timestamp;
	p->created_ttl = sec->created_ttl;
	p->future_ttl = sec->future_ttl;
	p->timestamp_ttl = sec->timestamp_ttl;
	p->signature_route = a->route->signature != NULL;
}

/*
 * A wrong password for the shared lockout store: what counting it and its
 * audit line need, copied, since the request is gone by then.
 */
struct wsg_auth_count {
	struct wsg_runtime *rt;
	struct wsg_db_pool *db;
	struct event_base *base;
	struct wsg_lockout_conf policy; /* its numbers only */
	uint64_t rid;
	char *client, *route, *claimed;
	char *name;
	size_t len;
};

static void
count_free(struct wsg_auth_count *c)
{
	if (c == NULL)
		return;
	free(c->client);
	free(c->route);
	free(c->claimed);
	free(c->name);
	free(c);
}

static void
audit_lockout(struct wsg_runtime *rt, uint64_t rid, const char *client,
              const char *route, const char *claimed,
              const struct wsg_lockout_conf *p)
{
	char why[160];

	snprintf(why, sizeof(why),
	         "%u wrong passwords within %llds: user locked for %llds",
	         p->max_failures, (long long)p->window, (long long)p->duration);
	wsg_log_audit(rt->log, rid, client, route, claimed, "lockout", why);
}

/*
 * The store's verdict on a counted failure. One it could not count (lost
 * a conflict twice, unreachable) is counted by this process instead, so a
 * guess is never lost and never becomes a Server fault (audit:
 * lockout_store_error).
 */
static void
counted_cb(int status, enum wsg_lockout_result res, void *arg)
{
	struct wsg_auth_count *c = arg;
	struct wsg_runtime *rt = c->rt;
	char why[160];

	if (status != WSG_OK) {
		wsg_metrics_inc(rt->metrics ? &rt->metrics->lockout_store_local
		                            : NULL);
		res = wsg_lockout_fail(rt->lockout, WSG_LOCKOUT_USER,
		                       &c->policy, c->name, c->len,
		                       wsg_lockout_now_ms());
		snprintf(why, sizeof(why),
		         "lockout store could not count a wrong password "
		         "(%s): counted by this gateway only",
		         wsg_strerror(status));
		wsg_log_audit(rt->log, c->rid, c->client, c->route, c->claimed,
		              "lockout_store_error", why);
	}
	if (res == WSG_LOCKOUT_STARTED)
		audit_lockout(rt, c->rid, c->client, c->route, c->claimed,
		              &c->policy);
	count_free(c);
}

/* After the answer: the failure never waits for the store. */
static void
count_send(struct wsg_auth_count *c)
{
	int rc;

	rc = wsg_lockout_store_fail(
	        c->db, c->base, WSG_LOCKOUT_USER, &c->policy, c->name, c->len,
	        wsg_lockout_store_now_ms(), c->rt->metrics, counted_cb, c);
	if (rc == WSG_ERR_INVAL)
		count_free(c); /* nothing to count, as in memory */
	else if (rc != WSG_OK)
		counted_cb(rc, WSG_LOCKOUT_OFF, c);
}

static void
complete(struct wsg_auth *a, int status)
{
	struct wsg_metrics *m = a->env.rt->metrics;
	struct wsg_auth_count *count = a->count;
	int ours = a->err.fault == WSG_FAULT_SERVER ||
	           a->err.fault == WSG_FAULT_BUSY;

	if (m != NULL)
		wsg_histogram_observe(
		        &m->auth[status == WSG_OK ? WSG_METRICS_AUTH_OK
		                 : ours           ? WSG_METRICS_AUTH_ERROR
		                                  : WSG_METRICS_AUTH_FAILED],
		        wsg_metrics_elapsed_us(&a->started));
	char why[sizeof(a->err.reason) + 80];

	/* The signer's certificate, once verified, is named in the line. */
	snprintf(why, sizeof(why), "%s%s%s",
	         status == WSG_OK ? "signature verified" : a->err.reason,
	         a->signer_sha256[0] != '\0' ? "; signer sha256:" : "",
	         a->signer_sha256);
	if (status != WSG_OK)
		wsg_log_audit(a->env.rt->log, a->rid, a->client, a->route->name,
		              a->claimed_user,
		              ours ? "auth_error" : "auth_failure", why);
	else if (a->signer_sha256[0] != '\0')
		wsg_log_audit(a->env.rt->log, a->rid, a->client, a->route->name,
		              a->user, "signed", why);
	a->count = NULL;
	a->done(a, status, a->arg);
	if (count != NULL)
		count_send(count);
}

/*
 * Every failed "who are you" counts against the client address; the one
 * that reaches security.client_limit starts its lock (audit: client_lockout).
 */
static void
count_client_failure(struct wsg_auth *a)
{
	struct wsg_runtime *rt = a->env.rt;
	const struct wsg_lockout_conf *p = &a->cfg->security.client_limit;
	char why[160];

	if (wsg_lockout_fail(rt->lockout, WSG_LOCKOUT_CLIENT, p, a->client,
	                     strlen(a->client),
	                     wsg_lockout_now_ms()) != WSG_LOCKOUT_STARTED)
		return;
	snprintf(why, sizeof(why),
	         "%u failed authentications within %llds: address refused "
	         "for %llds",
	         p->max_failures, (long long)p->window, (long long)p->duration);
	wsg_log_audit(rt->log, a->rid, a->client, a->route->name,
	              a->claimed_user, "client_lockout", why);
}

/*
 * A client over security.client_limit is refused before any password work
 * (HTTP 429, a Server / Receiver fault, Retry-After). The limit is per
 * address whatever the user, so the different answer tells nothing about
 * any account. Returns 1 when it answered.
 */
static int
client_refused(struct wsg_auth *a)
{
	struct wsg_runtime *rt = a->env.rt;
	int64_t left;

	left = wsg_lockout_check(rt->lockout, WSG_LOCKOUT_CLIENT,
	                         &a->cfg->security.client_limit, a->client,
	                         strlen(a->client), wsg_lockout_now_ms());
	if (left == 0)
		return 0;
	a->retry_after = (left + 999) / 1000;
	wsg_error_set(&a->err, WSG_ERR_LIMIT, WSG_FAULT_TRY_LATER,
	              "client address locked");
	complete(a, WSG_ERR_LIMIT);
	return 1;
}

static void
padding_done_cb(int status, struct wsg_user_record *rec, void *arg)
{
	struct wsg_auth *a = arg;

	wsg_userstore_record_free(rec);
	complete(a, WSG_ERR_AUTH);
}

static void
ldap_padding_done_cb(int status, struct wsg_ldap_user *u, void *arg)
{
	struct wsg_auth *a = arg;

	wsg_ldapstore_user_free(u);
	complete(a, WSG_ERR_AUTH);
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
fail_authentication(struct wsg_auth *a, const char *reason)
{
	char name[WSG_USERSTORE_MAX_NAME + 2];

	/* Whatever else went wrong, a locked user is refused for the lock. */
	wsg_error_set(&a->err, WSG_ERR_AUTH, WSG_FAULT_FAILED_AUTHENTICATION,
	              "%s", a->locked ? "user locked" : reason);
	count_client_failure(a);
	if (!a->store_queried) {
		a->store_queried = 1;
		memset(name, '~', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		if (a->env.ldap != NULL
		            ? wsg_ldapstore_lookup(a->env.ldap, name,
		                                   ldap_padding_done_cb,
		                                   a) == WSG_OK
		            : wsg_userstore_lookup(a->env.db, name,
		                                   padding_done_cb,
		                                   a) == WSG_OK)
			return;
	}
	complete(a, WSG_ERR_AUTH);
}

/*
 * The account the token's name stands for: the store's one name for it
 * (an LDAP directory matches "ALICE" and " alice" to alice's entry), which
 * the lockout counts against and the upstream receives.
 */
static const char *
account(const struct wsg_auth *a, size_t *len)
{
	if (a->cred.name != NULL) {
		*len = strlen(a->cred.name);
		return a->cred.name;
	}
	*len = a->tok.username_len;
	return a->tok.username;
}

/* The failure goes to the shared store once the answer is out. */
static void
count_later(struct wsg_auth *a, const char *name, size_t len)
{
	struct wsg_auth_count *c = wsg_mem_calloc(1, sizeof(*c));

	c->rt = a->env.rt;
	c->db = a->env.db;
	c->base = a->env.base;
	c->policy = a->cfg->security.lockout;
	c->policy.store = NULL;
	c->rid = a->rid;
	c->client = wsg_mem_strdup(a->client);
	c->route = wsg_mem_strdup(a->route->name);
	c->claimed = a->claimed_user ? wsg_mem_strdup(a->claimed_user) : NULL;
	c->name = wsg_mem_alloc(len + 1);
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	c->len = len;
	count_free(a->count);
	a->count = c;
}

/*
 * A wrong guess at an existing user's password: counted against the user
 * (security.lockout); the one that reaches max_failures locks it (audit:
 * lockout). Guesses while locked are not counted.
 */
static void
fail_password(struct wsg_auth *a, const char *reason)
{
	struct wsg_runtime *rt = a->env.rt;
	const struct wsg_lockout_conf *p = &a->cfg->security.lockout;
	size_t len;
	const char *name = account(a, &len);

	if (!a->locked && rt->lockout_shared)
		count_later(a, name, len);
	else if (!a->locked &&
	         wsg_lockout_fail(rt->lockout, WSG_LOCKOUT_USER, p, name, len,
	                          wsg_lockout_now_ms()) == WSG_LOCKOUT_STARTED)
		audit_lockout(rt, a->rid, a->client, a->route->name,
		              a->claimed_user, p);
	fail_authentication(a, reason);
}

static int
holds_one_of(char *const *need, size_t n, const char *roles)
{
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (wsg_userstore_roles_have(roles, need[i]))
			return 1;
	return 0;
}

/*
 * The route's roles, or those of the operation's entry when it lists the
 * operation. NULL when the user may go on, else the reason for the audit
 * log: a refused operation is then answered like a missing role (same
 * fault, same path), and the log names the operation.
 */
static const char *
route_allows_roles(struct wsg_auth *a, const char *roles, char *why,
                   size_t size)
{
	const struct wsg_route_conf *rt = a->route;
	const char *op = a->operation != NULL ? a->operation : "(none)";

	if (a->route_roles_only) {
		if (holds_one_of(rt->roles, rt->n_roles, roles))
			return NULL;
		snprintf(why, size, "user holds none of the route's roles");
	} else if (a->op != NULL) {
		if (holds_one_of(a->op->roles, a->op->n_roles, roles))
			return NULL;
		snprintf(why, size,
		         "operation %.200s: user holds none of its "
		         "roles",
		         op);
	} else if (rt->operations_only) {
		snprintf(why, size,
		         "operation %.200s is not listed "
		         "(operations_only)",
		         op);
	} else if (holds_one_of(rt->roles, rt->n_roles, roles)) {
		return NULL;
	} else if (rt->n_operations > 0) {
		snprintf(why, size,
		         "operation %.200s: user holds none of the "
		         "route's roles",
		         op);
	} else {
		snprintf(why, size, "user holds none of the route's roles");
	}
	return why;
}

/* Every check passed: the request goes upstream as this user. */
static void
accept_user(struct wsg_auth *a)
{
	size_t len;
	const char *name = account(a, &len);

	a->user = wsg_mem_strdup(a->cert_user != NULL ? a->cert_user
	                         : name != NULL       ? name
	                                              : "");
	a->roles = wsg_mem_strdup(a->cred.roles ? a->cred.roles : "");
	complete(a, WSG_OK);
}

static void
refuse_replay(struct wsg_auth *a)
{
	struct wsg_runtime *rt = a->env.rt;

	wsg_metrics_inc(rt->metrics ? &rt->metrics->replay_refused : NULL);
	wsg_error_set(&a->err, WSG_ERR_REPLAY, WSG_FAULT_INVALID_SECURITY,
	              "nonce replayed");
	complete(a, WSG_ERR_REPLAY);
}

/* Fails closed: a nonce the shared store could not record is refused. */
static void
shared_replay_cb(int status, void *arg)
{
	struct wsg_auth *a = arg;

	if (status == WSG_OK) {
		accept_user(a);
	} else if (status == WSG_ERR_REPLAY) {
		refuse_replay(a);
	} else {
		wsg_error_set(&a->err, status, WSG_FAULT_SERVER,
		              "shared replay store unavailable: %s",
		              wsg_strerror(status));
		complete(a, status);
	}
}

/* The worker's cache accepted the nonce; now every gateway's must. */
static void
check_shared_replay(struct wsg_auth *a, int64_t expires_at, int64_t now)
{
	struct wsg_db_pool *db = a->env.db;
	struct wsg_runtime *rt = a->env.rt;
	int rc;

	if (++*a->env.replay_store_inserts % WSG_REPLAY_STORE_PURGE_EVERY == 0)
		wsg_replay_store_purge(db, now);
	rc = wsg_replay_store_insert(
	        db, a->replay_key, a->replay_len, expires_at, now,
	        rt->metrics ? &rt->metrics->replay_conflicts : NULL,
	        shared_replay_cb, a);
	if (rc != WSG_OK)
		shared_replay_cb(rc, a);
}

/*
 * The key that makes the message single-use and until when it is kept:
 * the nonce (DESIGN 3.3), else what the first signature signed (its
 * canonical SignedInfo, dsig.h), which a signed Timestamp bounds in time.
 * 0, or 1 when the message has neither.
 */
static int
replay_key_of(struct wsg_auth *a, struct wsg_time now, int64_t *expires_at)
{
	struct wsg_wsse_policy policy;
	struct wsg_time base = now;

	policy_of(a, &policy);
	if (a->tok.nonce != NULL) {
		a->replay_key = a->tok.nonce;
		a->replay_len = a->tok.nonce_len;
		*expires_at = wsg_wsse_nonce_expiry(&a->tok, &policy, now);
		return 0;
	}
	if (a->dsig.signer == NULL ||
	    (a->dsig.signed_parts & WSG_DSIG_PART_TIMESTAMP) == 0)
		return 1;
	/* Tagged, so no nonce a client picks collides by accident. */
	memcpy(a->replay_buf, "dsig:", 5);
	memcpy(a->replay_buf + 5, a->dsig.replay_key, WSG_DSIG_SHA256_LEN);
	a->replay_key = a->replay_buf;
	a->replay_len = sizeof(a->replay_buf);
	if (now.sec < a->tok.ts_created.sec)
		base = a->tok.ts_created;
	*expires_at = base.sec + 1 + policy.timestamp_ttl + policy.future_ttl;
	return 0;
}

/* Checks and records the message's replay key; then accepts. */
static void
check_replay(struct wsg_auth *a)
{
	struct wsg_runtime *rt = a->env.rt;
	struct wsg_time now = wall_now();
	int64_t expires_at;
	int rc;

	if (replay_key_of(a, now, &expires_at) != 0) {
		/* A signed message without nonce and signed Timestamp could
		 * be sent again forever. */
		if (a->dsig.signer != NULL) {
			wsg_error_set(
			        &a->err, WSG_ERR_SECURITY,
			        WSG_FAULT_INVALID_SECURITY,
			        "signed message has neither a nonce nor a "
			        "signed Timestamp (no replay protection)");
			complete(a, WSG_ERR_SECURITY);
			return;
		}
		accept_user(a);
		return;
	}
	rc = wsg_replay_insert(rt->replay, a->replay_key, a->replay_len,
	                       expires_at, now.sec);
	if (rc == WSG_ERR_REPLAY) {
		refuse_replay(a);
		return;
	}
	if (rc != WSG_OK) {
		wsg_metrics_inc(rt->metrics ? &rt->metrics->replay_full : NULL);
		wsg_error_set(&a->err, rc, WSG_FAULT_SERVER,
		              "replay cache full of live nonces");
		complete(a, rc);
		return;
	}
	if (rt->replay_shared)
		check_shared_replay(a, expires_at, now.sec);
	else
		accept_user(a);
}

/* The password matched: apply account, route policy and replay rules. */
static void
authorize(struct wsg_auth *a)
{
	char why[320];

	if (a->locked) {
		fail_authentication(a, "user locked");
		return;
	}
	if (a->cred.disabled) {
		fail_authentication(a, "user is disabled");
		return;
	}
	if (!a->basic &&
	    (a->route->password_types & (unsigned)a->tok.pwtype) == 0) {
		fail_authentication(
		        a, a->tok.pwtype == WSG_PWTYPE_DIGEST
		                   ? "PasswordDigest not allowed on this route"
		                   : "PasswordText not allowed on this route");
		return;
	}
	if (!a->any_role &&
	    route_allows_roles(a, a->cred.roles, why, sizeof(why)) != NULL) {
		fail_authentication(a, why);
		return;
	}
	/* auth = "x509" with a UsernameToken too: one user, both proofs. */
	if (a->cert_user != NULL && a->tok.username != NULL &&
	    strcmp(a->cert_user, a->tok.username) != 0) {
		fail_authentication(a, "the UsernameToken names another user "
		                       "than the signer's certificate");
		return;
	}
	check_replay(a);
}

/*
 * A signature and no UsernameToken: the signature authenticates the
 * message, not a user, so it passes only where the route asks no role
 * (certificate-to-user mapping is auth = "x509", done elsewhere).
 */
static void
authorize_signed(struct wsg_auth *a)
{
	char why[320];

	if (a->dsig.signer == NULL) {
		wsg_error_set(
		        &a->err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
		        "wsse:Security header has neither a UsernameToken "
		        "nor a signature");
		complete(a, WSG_ERR_SECURITY);
		return;
	}
	if (!a->any_role &&
	    route_allows_roles(a, "", why, sizeof(why)) != NULL) {
		fail_authentication(a, "a signature alone names no user and "
		                       "the route asks for roles");
		return;
	}
	check_replay(a);
}

/* One child of the Security header in document order (xenc.c walks them
 * and opens the EncryptedKeys in between): a ds:Signature is verified
 * there, over what precedes it decrypted and what follows still
 * encrypted. */
static int
visit_security_child(xmlNodePtr child, void *arg, struct wsg_error *err)
{
	struct wsg_auth *a = arg;
	int rc;

	if (a->route->signature == NULL ||
	    !wsg_soap_is_element(child, WSG_NS_DS, "Signature"))
		return WSG_OK;
	/* Ids registered once the blocks before the first signature are
	 * plaintext (a signed UsernameToken that came encrypted). */
	if (a->dsig.conf == NULL) {
		rc = wsg_dsig_prepare(&a->dsig, a->route->signature, a->msg,
		                      a->security, wall_now().sec, err);
		if (rc != WSG_OK)
			return rc;
	}
	return wsg_dsig_verify(&a->dsig, child, err);
}

/*
 * The Security header `sec` before its tokens are read: decryption and
 * signatures in document order, then the parts the route requires signed.
 * Routes without a signature block leave signatures alone, as before;
 * routes without decrypt refuse encrypted content.
 */
static int
process_security(struct wsg_auth *a, struct wsg_soap_msg *msg, xmlNodePtr sec)
{
	const struct wsg_dsig_conf *conf = a->route->signature;
	struct wsg_soap_limits limits;
	int rc;

	a->msg = msg;
	a->security = sec;
	wsg_config_soap_limits(&a->cfg->limits, &limits);
	rc = wsg_xenc_process(a->route->decrypt, msg, sec, &limits,
	                      visit_security_child, a, &a->err);
	if (rc == WSG_OK && conf != NULL && a->dsig.conf == NULL)
		rc = wsg_dsig_prepare(&a->dsig, conf, msg, sec, wall_now().sec,
		                      &a->err);
	if (rc == WSG_OK && conf != NULL)
		rc = wsg_dsig_finish(&a->dsig, &a->err);
	if (a->dsig.signer != NULL)
		wsg_dsig_fingerprint_hex(&a->dsig, a->signer_sha256);
	return rc;
}

/* A bounded queue said no: 503 when full for everyone, 429 for an address
 * over its share. Nothing about the user is known or told. */
static void
refuse_busy(struct wsg_auth *a, int rc, const char *what)
{
	a->retry_after = 1;
	if (rc == WSG_ERR_LIMIT)
		wsg_error_set(&a->err, rc, WSG_FAULT_TRY_LATER,
		              "%s: too many in progress for this address",
		              what);
	else
		wsg_error_set(&a->err, rc, WSG_FAULT_BUSY, "%s: queue full",
		              what);
	complete(a, rc);
}

static void
text_verified_cb(int result, void *arg)
{
	struct wsg_auth *a = arg;

	/*
	 * An address locked while this verification ran or waited (maybe by
	 * the failures of requests that joined the same job) is answered as
	 * at the door, whatever the result: no verdict, so nothing to count.
	 */
	if (client_refused(a))
		return;
	/* Dropped unrun for a lock that has ended since. */
	if (result == WSG_ERR_LIMIT) {
		refuse_busy(a, WSG_ERR_LIMIT, "password verification");
		return;
	}
	if (!a->cred.exists) {
		fail_authentication(a, "unknown user");
		return;
	}
	if (a->tok.password_len == 0) {
		fail_password(a, "empty password");
		return;
	}
	if (result == WSG_ERR_PARSE) {
		fail_authentication(a, "stored password hash is not argon2id");
		return;
	}
	if (result != WSG_OK) {
		fail_password(a, "wrong password");
		return;
	}
	if (a->locked) {
		fail_authentication(a, "user locked");
		return;
	}
	wsg_credcache_mark_verified(a->env.rt->credcache, a->tok.username,
	                            a->cred.password_hash, a->tok.password,
	                            a->tok.password_len);
	authorize(a);
}

/*
 * The directory's answer to the bind as the user (or, for an unknown or
 * locked user and an empty password, as an entry that does not exist:
 * the same round trip, and the password is never sent).
 */
static void
ldap_bound_cb(int status, void *arg)
{
	struct wsg_auth *a = arg;

	if (client_refused(a))
		return;
	if (!a->cred.exists) {
		fail_authentication(a, "unknown user");
		return;
	}
	if (a->tok.password_len == 0) {
		fail_password(a, "empty password");
		return;
	}
	if (a->locked) {
		fail_authentication(a, "user locked");
		return;
	}
	if (status == WSG_ERR_AUTH) {
		fail_password(a, "wrong password");
		return;
	}
	if (status != WSG_OK) {
		wsg_error_set(&a->err, status, WSG_FAULT_SERVER,
		              "LDAP user store unavailable: %s",
		              wsg_strerror(status));
		complete(a, status);
		return;
	}
	/* The DN stands for the hash: a moved entry is checked again. */
	wsg_credcache_mark_verified(a->env.rt->credcache, a->tok.username,
	                            a->cred.password_hash, a->tok.password,
	                            a->tok.password_len);
	authorize(a);
}

static void store_query_refused(struct wsg_auth *a, int rc);

/* PasswordText and Basic against the directory: a simple bind as the
 * user's DN on a bind connection (ldapstore.h). */
static void
verify_ldap(struct wsg_auth *a)
{
	const char *dn = a->cred.exists && !a->locked && a->tok.password_len > 0
	                         ? a->cred.password_hash
	                         : NULL;
	int rc;

	rc = wsg_ldapstore_bind(a->env.ldap, dn, a->tok.password,
	                        a->tok.password_len, ldap_bound_cb, a);
	if (rc != WSG_OK)
		store_query_refused(a, rc);
}

static void
verify_password(struct wsg_auth *a)
{
	struct wsg_runtime *rt = a->env.rt;
	const struct wsg_security_conf *sec = &a->cfg->security;
	size_t name_len;
	const char *name = account(a, &name_len);
	struct wsg_password_client who = {
	        .addr = a->client,
	        .max_queued = sec->verify_queue.max_queued,
	        .max_per_client = sec->verify_queue.max_per_client,
	        .lockout = rt->lockout,
	        .client_limit = &sec->client_limit,
	        .user = name,
	        .user_len = name_len,
	};
	const char *hash;
	int rc;

	if (a->tok.pwtype == WSG_PWTYPE_DIGEST) {
		if (a->cred.exists && a->cred.digest_password != NULL) {
			rc = wsg_wsse_verify(&a->tok, a->cred.digest_password,
			                     a->cred.digest_password_len);
			if (rc != WSG_OK) {
				fail_password(a, "wrong password digest");
				return;
			}
			authorize(a);
			return;
		}
		wsg_wsse_verify(&a->tok, dummy_digest_password,
		                sizeof(dummy_digest_password) - 1);
		fail_authentication(
		        a, !a->cred.exists ? "unknown user"
		           : a->env.ldap != NULL
		                   ? "PasswordDigest cannot be verified "
		                     "against the LDAP user store"
		           : a->cred.digest_unopened
		                   ? "digest secret does not open with the "
		                     "master key"
		                   : "user has no digest secret (--no-digest)");
		return;
	}
	if (a->cred.exists && !a->locked && a->tok.password_len > 0 &&
	    wsg_credcache_check_verified(rt->credcache, a->tok.username,
	                                 a->tok.password, a->tok.password_len,
	                                 wall_now().sec) == WSG_OK) {
		authorize(a);
		return;
	}
	if (a->env.ldap != NULL) {
		verify_ldap(a);
		return;
	}
	hash = a->cred.exists && a->cred.password_hash != NULL
	               ? a->cred.password_hash
	               : wsg_password_dummy_hash();
	/* Known or not, every name queues the same way (DESIGN 3.3). */
	rc = wsg_password_verify_async(rt->pwpool, a->env.base, hash,
	                               a->tok.password, a->tok.password_len,
	                               &who, text_verified_cb, a);
	if (rc == WSG_ERR_FULL || rc == WSG_ERR_LIMIT) {
		refuse_busy(a, rc, "password verification");
		return;
	}
	if (rc != WSG_OK) {
		wsg_error_set(&a->err, rc, WSG_FAULT_SERVER,
		              "cannot queue password verification");
		complete(a, rc);
	}
}

/*
 * The shared store could not say (down, or its queue full): this
 * process's own lock still applies. Failing closed would refuse every
 * user while the store is away, the right password too, and no wrong
 * password becomes a Server fault (docs/cluster.md).
 */
static void
lock_unread(struct wsg_auth *a, int status)
{
	char why[160];

	wsg_metrics_inc(a->env.rt->metrics
	                        ? &a->env.rt->metrics->lockout_store_unread
	                        : NULL);
	snprintf(why, sizeof(why),
	         "lockout store unreadable (%s): this gateway's lock only",
	         wsg_strerror(status));
	wsg_log_audit(a->env.rt->log, a->rid, a->client, a->route->name,
	              a->claimed_user, "lockout_store_error", why);
}

static void
lock_read_cb(int status, int locked, void *arg)
{
	struct wsg_auth *a = arg;

	if (status != WSG_OK)
		lock_unread(a, status);
	else if (locked && a->cred.exists)
		a->locked = 1;
	verify_password(a);
}

/*
 * Decided once, before any password work. A locked user's attempts then
 * do exactly the work of a wrong guess (the verified-password cache is
 * skipped, so a right password is not answered faster) and end in the
 * same FailedAuthentication. A `wssgate user unlock` since the lock began
 * ends it first. With the shared store, its row is read for every name,
 * known or not, so the read costs every attempt the same.
 */
static void
verify(struct wsg_auth *a)
{
	struct wsg_runtime *rt = a->env.rt;
	const struct wsg_lockout_conf *p = &a->cfg->security.lockout;
	size_t name_len;
	const char *name = account(a, &name_len);
	int rc;

	if (a->cred.exists && a->cred.unlocked_at > 0 &&
	    wsg_unlock_apply(rt->lockout, WSG_LOCKOUT_USER, name, name_len,
	                     a->cred.unlocked_at))
		wsg_log_audit(rt->log, a->rid, a->client, a->route->name,
		              a->claimed_user, "user_unlocked",
		              "offline request (wssgate user unlock) applied");
	if (a->cred.exists &&
	    wsg_lockout_check(rt->lockout, WSG_LOCKOUT_USER, p, name, name_len,
	                      wsg_lockout_now_ms()) > 0)
		a->locked = 1;
	if (rt->lockout_shared && p->max_failures > 0) {
		rc = wsg_lockout_store_check(
		        a->env.db, WSG_LOCKOUT_USER, name, name_len,
		        wsg_lockout_store_now_ms(), lock_read_cb, a);
		if (rc == WSG_OK)
			return;
		lock_unread(a, rc);
	}
	verify_password(a);
}

/*
 * Either store's lookup, after the callback took a found user into
 * a->cred: an unknown name is a user that does not exist, any other
 * failure completes `a` (`store` names it); the outcome is cached, then
 * the password verified.
 */
static void
lookup_done(struct wsg_auth *a, int status, const char *store)
{
	if (status == WSG_ERR_NOTFOUND) {
		a->cred.exists = 0;
		a->cred.roles = wsg_mem_strdup("");
	} else if (status != WSG_OK) {
		wsg_error_set(&a->err, status, WSG_FAULT_SERVER,
		              "%s unavailable: %s", store,
		              wsg_strerror(status));
		complete(a, status);
		return;
	}
	wsg_credcache_put(a->env.rt->credcache, a->tok.username, &a->cred,
	                  wall_now().sec, a->cache_generation);
	verify(a);
}

static void
lookup_cb(int status, struct wsg_user_record *rec, void *arg)
{
	struct wsg_auth *a = arg;
	struct wsg_runtime *rt = a->env.rt;
	int rc;

	if (status == WSG_OK) {
		a->cred.exists = 1;
		a->cred.disabled = rec->disabled;
		a->cred.password_hash = wsg_mem_strdup(rec->password_hash);
		a->cred.roles = wsg_mem_strdup(rec->roles ? rec->roles : "");
		a->cred.unlocked_at = rec->unlocked_at;
		if (rec->digest_sealed != NULL) {
			rc = wsg_password_unseal(rt->master_key, rec->username,
			                         rec->digest_sealed,
			                         rec->digest_sealed_len,
			                         &a->cred.digest_password,
			                         &a->cred.digest_password_len);
			a->cred.digest_unopened = rc != WSG_OK;
			if (rc != WSG_OK)
				wsg_log_audit(rt->log, a->rid, a->client,
				              a->route->name, rec->username,
				              "store_error",
				              "digest secret does not open "
				              "with the master key");
		}
		wsg_userstore_record_free(rec);
	}
	lookup_done(a, status, "user store");
}

/*
 * The directory's entry: its DN takes the place of the password hash (it
 * is what a password is verified against, ldap_bound_cb), its groups'
 * roles are the roles. A name the user_filter does not match (unknown,
 * or excluded, e.g. disabled) is an unknown user.
 */
static void
ldap_lookup_cb(int status, struct wsg_ldap_user *u, void *arg)
{
	struct wsg_auth *a = arg;

	if (status == WSG_OK) {
		a->cred.exists = 1;
		a->cred.password_hash = u->dn;
		a->cred.roles = u->roles;
		a->cred.name = u->name;
		u->dn = u->roles = u->name = NULL;
		wsg_ldapstore_user_free(u);
	}
	lookup_done(a, status, "LDAP user store");
}

/*
 * A clear-text password seen on plain HTTP is already exposed; refusing it
 * (WSO2's UsernameToken-over-HTTPS policy does the same, as InvalidSecurity)
 * tells the client to fix its transport, and costs no password work.
 */
static void
refuse_cleartext(struct wsg_auth *a, const char *what)
{
	wsg_error_set(&a->err, WSG_ERR_SECURITY, WSG_FAULT_INVALID_SECURITY,
	              "%s over plain HTTP on a require_tls route", what);
	complete(a, WSG_ERR_SECURITY);
}

/* A user-store query that could not even be queued. */
static void
store_query_refused(struct wsg_auth *a, int rc)
{
	if (rc == WSG_ERR_FULL) {
		refuse_busy(a, rc, "user store");
		return;
	}
	wsg_error_set(&a->err, rc, WSG_FAULT_SERVER,
	              "cannot query the user store: %s", wsg_strerror(rc));
	complete(a, rc);
}

/* The user named by a->tok: credential cache, else the store; then verify. */
static void
find_user(struct wsg_auth *a)
{
	struct wsg_runtime *rt = a->env.rt;
	int rc;

	if (wsg_credcache_get(rt->credcache, a->tok.username, wall_now().sec,
	                      &a->cred) == WSG_OK) {
		wsg_metrics_inc(rt->metrics ? &rt->metrics->credcache_hits
		                            : NULL);
		verify(a);
		return;
	}
	wsg_metrics_inc(rt->metrics ? &rt->metrics->credcache_misses : NULL);
	/* Names the store can never hold need no query, but the same work
	 * after. */
	if (a->tok.username_len == 0 ||
	    a->tok.username_len > WSG_USERSTORE_MAX_NAME ||
	    strlen(a->tok.username) != a->tok.username_len) {
		a->cred.exists = 0;
		a->cred.roles = wsg_mem_strdup("");
		verify(a);
		return;
	}
	a->store_queried = 1;
	a->cache_generation =
	        wsg_credcache_generation(rt->credcache, a->tok.username);
	rc = a->env.ldap != NULL
	             ? wsg_ldapstore_lookup(a->env.ldap, a->tok.username,
	                                    ldap_lookup_cb, a)
	             : wsg_userstore_lookup(a->env.db, a->tok.username,
	                                    lookup_cb, a);
	if (rc != WSG_OK)
		store_query_refused(a, rc);
}

void
wsg_auth_init(struct wsg_auth *a, const struct wsg_auth_env *env,
              const struct wsg_config *cfg, const struct wsg_route_conf *route,
              uint64_t rid, const char *client, int tls)
{
	memset(a, 0, sizeof(*a));
	a->env = *env;
	a->cfg = cfg;
	a->route = route;
	a->rid = rid;
	a->client = client;
	a->tls = tls;
}

void
wsg_auth_set_operation(struct wsg_auth *a, const char *ns, const char *local)
{
	free(a->operation);
	a->operation = NULL;
	a->op = NULL;
	/* Routes without operations neither match nor log one. */
	if (local == NULL || a->route->n_operations == 0)
		return;
	a->operation = ns != NULL && ns[0] != '\0'
	                       ? wsg_mem_printf("{%s}%s", ns, local)
	                       : wsg_mem_strdup(local);
	a->op = wsg_operations_find(a->route->operations,
	                            a->route->n_operations, ns, local);
}

void
wsg_auth_clear(struct wsg_auth *a)
{
	wsg_wsse_token_clear(&a->tok);
	wsg_dsig_state_clear(&a->dsig);
	wsg_credcache_entry_clear(&a->cred);
	count_free(a->count);
	a->count = NULL;
	free(a->claimed_user);
	free(a->user);
	free(a->roles);
	free(a->operation);
	free(a->cert_user);
	a->claimed_user = a->user = a->roles = a->operation = NULL;
	a->cert_user = NULL;
}

static void
begin(struct wsg_auth *a, wsg_auth_done_cb done, void *arg)
{
	a->done = done;
	a->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &a->started);
}

/*
 * auth = "x509" / "wsse_or_x509": the signer's certificate is mapped to
 * its user (it must have been added with `user cert add`), whose roles,
 * disabled flag and lock apply as to a UsernameToken's user.
 */
static void
cert_user_cb(int status, struct wsg_user_record *rec, void *arg)
{
	struct wsg_auth *a = arg;
	char why[320];

	if (status != WSG_OK && status != WSG_ERR_NOTFOUND) {
		wsg_userstore_record_free(rec);
		wsg_error_set(&a->err, status, WSG_FAULT_SERVER,
		              "cannot query the user store: %s",
		              wsg_strerror(status));
		complete(a, status);
		return;
	}
	if (status == WSG_ERR_NOTFOUND || rec == NULL) {
		wsg_userstore_record_free(rec);
		fail_authentication(a, "the signer's certificate is mapped to "
		                       "no user");
		return;
	}
	a->cert_user = wsg_mem_strdup(rec->username);
	free(a->claimed_user);
	a->claimed_user = wsg_mem_strdup(rec->username);
	if (a->tok.has_ut) {
		wsg_userstore_record_free(rec);
		find_user(a);
		return;
	}
	a->cred.roles = wsg_mem_strdup(rec->roles != NULL ? rec->roles : "");
	if (rec->disabled) {
		wsg_userstore_record_free(rec);
		fail_authentication(a, "user is disabled");
		return;
	}
	wsg_userstore_record_free(rec);
	if (!a->any_role &&
	    route_allows_roles(a, a->cred.roles, why, sizeof(why)) != NULL) {
		fail_authentication(a, why);
		return;
	}
	check_replay(a);
}

static void
find_cert_user(struct wsg_auth *a)
{
	int rc;

	if (a->dsig.signer == NULL) {
		fail_authentication(a, "the route takes the user from a "
		                       "signature and there is none");
		return;
	}
	a->store_queried = 1;
	rc = wsg_userstore_lookup_cert(a->env.db, a->signer_sha256,
	                               cert_user_cb, a);
	if (rc != WSG_OK)
		store_query_refused(a, rc);
}

int
wsg_auth_open(struct wsg_auth *a, struct wsg_soap_msg *msg,
              wsg_auth_done_cb done, void *arg)
{
	xmlNodePtr sec;
	int rc;

	begin(a, done, arg);
	a->opened = 1;
	rc = wsg_wsse_find_security(msg, &sec, &a->err);
	if (rc != WSG_OK) {
		complete(a, rc);
		return rc;
	}
	a->claimed_user = wsg_wsse_claimed_user(sec);
	/* Before any RSA or signature work: an address over its limit
	 * costs nothing more. */
	if (client_refused(a))
		return WSG_ERR_LIMIT;
	rc = process_security(a, msg, sec);
	if (rc != WSG_OK) {
		/* A refused signature or ciphertext is a failed "who are
		 * you": it counts against the address as a wrong password
		 * does, so a flood of them is stopped before its crypto. */
		if (a->err.fault != WSG_FAULT_SERVER)
			count_client_failure(a);
		complete(a, rc);
	}
	return rc;
}

void
wsg_auth_start(struct wsg_auth *a, struct wsg_soap_msg *msg,
               wsg_auth_done_cb done, void *arg)
{
	struct wsg_wsse_policy policy;
	int rc;

	if (!a->opened && wsg_auth_open(a, msg, done, arg) != WSG_OK)
		return;
	policy_of(a, &policy);
	/* The tokens as they are now: decrypted where they came encrypted. */
	rc = wsg_wsse_parse(msg, &policy, &a->tok, &a->err);
	if (rc != WSG_OK) {
		complete(a, rc);
		return;
	}
	if (a->tok.has_ut) {
		free(a->claimed_user);
		a->claimed_user = wsg_mem_strdup(a->tok.username);
	}
	if (a->route->require_tls && !a->tls &&
	    a->tok.pwtype == WSG_PWTYPE_TEXT) {
		refuse_cleartext(a, "PasswordText");
		return;
	}
	rc = wsg_wsse_check_freshness(&a->tok, &policy, wall_now(), &a->err);
	if (rc != WSG_OK) {
		complete(a, rc);
		return;
	}
	if (a->route->auth == WSG_AUTH_X509 ||
	    (a->route->auth == WSG_AUTH_WSSE_OR_X509 && !a->tok.has_ut)) {
		find_cert_user(a);
		return;
	}
	if (!a->tok.has_ut) {
		authorize_signed(a);
		return;
	}
	find_user(a);
}

void
wsg_auth_start_basic(struct wsg_auth *a, const char *authorization,
                     wsg_auth_done_cb done, void *arg)
{
	int rc;

	begin(a, done, arg);
	a->basic = 1;
	if (a->route->require_tls && !a->tls) {
		refuse_cleartext(a, "HTTP Basic credentials");
		return;
	}
	rc = wsg_basic_parse(authorization, &a->tok.username,
	                     &a->tok.username_len, &a->tok.password,
	                     &a->tok.password_len);
	if (rc != WSG_OK) {
		wsg_error_set(&a->err, WSG_ERR_AUTH,
		              WSG_FAULT_FAILED_AUTHENTICATION, "%s",
		              rc == WSG_ERR_NOTFOUND
		                      ? "no HTTP Basic credentials"
		                      : "malformed HTTP Basic credentials");
		complete(a, WSG_ERR_AUTH);
		return;
	}
	a->tok.pwtype = WSG_PWTYPE_TEXT;
	a->claimed_user = wsg_mem_strdup(a->tok.username);
	if (client_refused(a))
		return;
	find_user(a);
}
