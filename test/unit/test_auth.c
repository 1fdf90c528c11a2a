/*
 * auth.c on its own state (struct wsg_auth), with the real user store: a
 * private MariaDB (test/unit/run-db), the non-blocking pool, the argon2
 * pool, the caches and the lockout. Accepted digest, text and Basic
 * credentials; and every refusal the client sees alike (wrong password,
 * unknown user, no role, locked user) with its precise reason; replays;
 * require_tls; the client limit's Retry-After; a store that is down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "accounts.h"
#include "auth.h"
#include "credcache.h"
#include "db.h"
#include "dbtest.h"
#include "err.h"
#include "lockout.h"
#include "log.h"
#include "mem.h"
#include "password.h"
#include "replay.h"
#include "soap.h"
#include "userstore.h"
#include "worker.h"
#include "wsse.h"

#define ADMIN "admin"
#define PW "correct horse"
#define CLIENT "192.0.2.10"

static struct wsg_db_params params;
static struct wsg_db_conn *db;
static struct event_base *base;
static struct wsg_runtime rt;
static uint64_t replay_inserts;

static char *echo_roles[] = {"echo-users"};
static struct wsg_route_conf route = {
        .name = "echo",
        .path = "/services/Echo",
        .password_types = WSG_PWTYPE_DIGEST | WSG_PWTYPE_TEXT,
        .roles = echo_roles,
        .n_roles = 1,
        .auth = WSG_AUTH_WSSE,
};
static struct wsg_config cfg;

static void
reset_config(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.security.created_ttl = 300;
	cfg.security.future_ttl = 60;
	cfg.security.timestamp_ttl = 300;
	cfg.security.lockout.max_failures = 3;
	cfg.security.lockout.window = 300;
	cfg.security.lockout.duration = 900;
	cfg.security.client_limit.max_failures = 1000;
	cfg.security.client_limit.window = 300;
	cfg.security.client_limit.duration = 60;
	cfg.security.verify_queue.max_queued = 16;
	cfg.security.verify_queue.max_per_client = 8;
	route.require_tls = 0;
}

/* Creates `name` with its password hashed and sealed as `user add` does. */
static void
add_user(const char *name, const char *role, int digest)
{
	const char *const roles[] = {role};
	struct wsg_accounts_user u = {
	        .name = name, .roles = roles, .nroles = role != NULL};
	struct wsg_accounts_result res;
	unsigned char *sealed = NULL;
	struct wsg_error err;
	char *hash = NULL;

	wsg_error_clear(&err);
	assert_int_equal(wsg_password_hash(PW, strlen(PW), &hash), WSG_OK);
	if (digest)
		assert_int_equal(wsg_password_seal(rt.master_key, name, PW,
		                                   strlen(PW), &sealed,
		                                   &u.sealed_len),
		                 WSG_OK);
	u.password_hash = hash;
	u.sealed = sealed;
	assert_int_equal(wsg_accounts_add_user(db, ADMIN, NULL, &u, &res, &err),
	                 WSG_OK);
	free(hash);
	free(sealed);
}

static int
group_setup(void **state)
{
	/* Audit lines to stderr, none dropped. */
	struct wsg_log_conf lc = {.backlog = 1 << 20};
	struct wsg_error err;

	(void)state;
	if (evthread_use_pthreads() != 0 || dbtest_open(&params, 30, &db) != 0)
		return -1;
	wsg_error_clear(&err);
	if (wsg_log_open(&lc, &rt.log, &err) != WSG_OK) {
		fprintf(stderr, "setup: %s\n", err.reason);
		return -1;
	}
	base = event_base_new();
	RAND_bytes(rt.master_key, sizeof(rt.master_key));
	rt.pwpool = wsg_password_pool_new(1);
	return base != NULL && rt.pwpool != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	wsg_password_pool_free(rt.pwpool);
	event_base_free(base);
	wsg_log_close(rt.log);
	wsg_db_close(db);
	return 0;
}

/* Fresh caches, lockouts and store for every test: alice may use the
 * route, bob holds no role, carol has no digest secret. */
static int
setup(void **state)
{
	struct wsg_error err;

	(void)state;
	reset_config();
	rt.credcache = wsg_credcache_new(100, 60);
	rt.lockout = wsg_lockout_new(100, 100);
	rt.replay = wsg_replay_new(1000);
	wsg_error_clear(&err);
	if (wsg_db_exec_script(db,
	                       "DELETE FROM user_roles; DELETE FROM users; "
	                       "DELETE FROM roles",
	                       &err) != WSG_OK)
		return -1;
	add_user("alice", "echo-users", 1);
	add_user("bob", NULL, 1);
	add_user("carol", "echo-users", 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	wsg_credcache_free(rt.credcache);
	wsg_lockout_free(rt.lockout);
	wsg_replay_free(rt.replay);
	return 0;
}

/* -------- one authentication -------- */

struct run {
	struct wsg_auth a;
	struct wsg_soap_msg msg;
	struct wsg_db_pool *pool;
	int calls;
	int status;
};

static void
done_cb(struct wsg_auth *a, int status, void *arg)
{
	struct run *r = arg;

	assert_ptr_equal(a, &r->a);
	r->calls++;
	r->status = status;
}

static void
run_begin(struct run *r, const char *socket, int tls)
{
	struct wsg_db_params p = params;
	struct wsg_auth_env env = {&rt, base, NULL, &replay_inserts, NULL};

	memset(r, 0, sizeof(*r));
	p.socket = socket;
	r->pool = wsg_db_pool_new(base, &p, 1, NULL);
	env.db = r->pool;
	wsg_auth_init(&r->a, &env, &cfg, &route, 1, CLIENT, tls);
}

/* The loop runs until the one completion came. */
static void
run_wait(struct run *r)
{
	while (r->calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(r->calls, 1);
}

static void
run_end(struct run *r)
{
	wsg_auth_clear(&r->a);
	wsg_soap_msg_free(&r->msg);
	wsg_db_pool_free(r->pool);
}

static char *
b64(const unsigned char *p, size_t n)
{
	char *s = wsg_mem_alloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/* A SOAP 1.1 envelope with a fresh UsernameToken: a digest of `pw` with
 * `nonce` (16 bytes), or the text itself. */
static char *
envelope(const char *user, const char *pw, int digest,
         const unsigned char *nonce)
{
	unsigned char d[WSG_WSSE_DIGEST_LEN];
	char created[32], *n64, *d64, *xml;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n64 = b64(nonce, 16);
	wsg_wsse_digest(nonce, 16, created, strlen(created), pw, strlen(pw), d);
	d64 = b64(d, sizeof(d));
	xml = wsg_mem_printf(
	        "<soap:Envelope xmlns:soap=\"" WSG_NS_SOAP11 "\"><soap:Header>"
	        "<wsse:Security xmlns:wsse=\"" WSG_NS_WSSE
	        "\" xmlns:wsu=\"" WSG_NS_WSU
	        "\"><wsse:UsernameToken><wsse:Username>%s</wsse:Username>"
	        "<wsse:Password Type=\"%s\">%s</wsse:Password>"
	        "<wsse:Nonce>%s</wsse:Nonce><wsu:Created>%s</wsu:Created>"
	        "</wsse:UsernameToken></wsse:Security></soap:Header>"
	        "<soap:Body><m:Op xmlns:m=\"urn:example\"/></soap:Body>"
	        "</soap:Envelope>",
	        user,
	        digest ? WSG_WSSE_PASSWORD_DIGEST : WSG_WSSE_PASSWORD_TEXT,
	        digest ? d64 : pw, n64, created);
	free(n64);
	free(d64);
	return xml;
}

/* Authenticates a token of `user` with `pw`; `nonce` NULL: a new one. */
static void
token_run(struct run *r, const char *user, const char *pw, int digest,
          const unsigned char *nonce)
{
	unsigned char fresh[16];
	struct wsg_error err;
	char *xml;

	if (nonce == NULL) {
		RAND_bytes(fresh, sizeof(fresh));
		nonce = fresh;
	}
	xml = envelope(user, pw, digest, nonce);
	run_begin(r, params.socket, 0);
	wsg_error_clear(&err);
	assert_int_equal(wsg_soap_parse(xml, strlen(xml), NULL, &r->msg, &err),
	                 WSG_OK);
	free(xml);
	wsg_auth_start(&r->a, &r->msg, done_cb, r);
	run_wait(r);
}

/* The answer every "who are you" failure gets, whatever the reason. */
static void
assert_refused(struct run *r, const char *reason)
{
	assert_int_equal(r->status, WSG_ERR_AUTH);
	assert_int_equal(r->a.err.fault, WSG_FAULT_FAILED_AUTHENTICATION);
	assert_string_equal(r->a.err.reason, reason);
	assert_null(r->a.user);
	assert_null(r->a.roles);
}

static void
test_digest_accepted_then_replay_refused(void **state)
{
	unsigned char nonce[16];
	struct run r;

	(void)state;
	RAND_bytes(nonce, sizeof(nonce));
	token_run(&r, "alice", PW, 1, nonce);
	assert_int_equal(r.status, WSG_OK);
	assert_string_equal(r.a.user, "alice");
	assert_string_equal(r.a.roles, "echo-users");
	assert_string_equal(r.a.claimed_user, "alice");
	assert_non_null(r.a.tok.security);
	run_end(&r);
	token_run(&r, "alice", PW, 1, nonce);
	assert_int_equal(r.status, WSG_ERR_REPLAY);
	assert_int_equal(r.a.err.fault, WSG_FAULT_INVALID_SECURITY);
	assert_null(r.a.user);
	run_end(&r);
}

static void
test_text_and_basic_accepted(void **state)
{
	char *basic, *raw = wsg_mem_printf("alice:%s", PW);
	struct run r;

	(void)state;
	token_run(&r, "carol", PW, 0, NULL);
	assert_int_equal(r.status, WSG_OK);
	assert_string_equal(r.a.user, "carol");
	run_end(&r);
	basic = b64((const unsigned char *)raw, strlen(raw));
	free(raw);
	raw = wsg_mem_printf("Basic %s", basic);
	run_begin(&r, params.socket, 0);
	wsg_auth_start_basic(&r.a, raw, done_cb, &r);
	run_wait(&r);
	assert_int_equal(r.status, WSG_OK);
	assert_string_equal(r.a.user, "alice");
	assert_true(r.a.basic);
	run_end(&r);
	/* Credentials in clear over plain HTTP on a require_tls route. */
	route.require_tls = 1;
	run_begin(&r, params.socket, 0);
	wsg_auth_start_basic(&r.a, raw, done_cb, &r);
	run_wait(&r);
	assert_int_equal(r.status, WSG_ERR_SECURITY);
	assert_int_equal(r.a.err.fault, WSG_FAULT_INVALID_SECURITY);
	run_end(&r);
	run_begin(&r, params.socket, 1);
	wsg_auth_start_basic(&r.a, raw, done_cb, &r);
	run_wait(&r);
	assert_int_equal(r.status, WSG_OK);
	run_end(&r);
	free(basic);
	free(raw);
}

static void
test_refusals_look_alike(void **state)
{
	struct run r;

	(void)state;
	token_run(&r, "alice", "wrong", 1, NULL);
	assert_refused(&r, "wrong password digest");
	run_end(&r);
	token_run(&r, "nobody", PW, 1, NULL);
	assert_refused(&r, "unknown user");
	run_end(&r);
	token_run(&r, "bob", PW, 1, NULL);
	assert_refused(&r, "user holds none of the route's roles");
	run_end(&r);
	token_run(&r, "carol", PW, 1, NULL);
	assert_refused(&r, "user has no digest secret (--no-digest)");
	run_end(&r);
	token_run(&r, "alice", "wrong", 0, NULL);
	assert_refused(&r, "wrong password");
	run_end(&r);
}

static void
test_locked_user_refused_with_right_password(void **state)
{
	unsigned i;
	struct run r;

	(void)state;
	for (i = 0; i < cfg.security.lockout.max_failures; i++) {
		token_run(&r, "alice", "wrong", 1, NULL);
		assert_refused(&r, "wrong password digest");
		run_end(&r);
	}
	token_run(&r, "alice", PW, 1, NULL);
	assert_refused(&r, "user locked");
	run_end(&r);
}

static void
test_client_limit_tells_when_to_retry(void **state)
{
	struct run r;

	(void)state;
	cfg.security.client_limit.max_failures = 1;
	token_run(&r, "alice", "wrong", 1, NULL);
	assert_refused(&r, "wrong password digest");
	assert_int_equal(r.a.retry_after, 0);
	run_end(&r);
	token_run(&r, "alice", PW, 1, NULL);
	assert_int_equal(r.status, WSG_ERR_LIMIT);
	assert_int_equal(r.a.err.fault, WSG_FAULT_TRY_LATER);
	assert_true(r.a.retry_after > 0 &&
	            r.a.retry_after <= cfg.security.client_limit.duration);
	assert_null(r.a.user);
	run_end(&r);
}

/* A store that cannot be reached is the server's fault, never a wrong
 * password. */
static void
test_store_down_is_a_server_fault(void **state)
{
	unsigned char nonce[16];
	struct wsg_error err;
	struct run r;
	char *xml;

	(void)state;
	RAND_bytes(nonce, sizeof(nonce));
	xml = envelope("alice", PW, 1, nonce);
	run_begin(&r, "/nonexistent/mysql.sock", 0);
	wsg_error_clear(&err);
	assert_int_equal(wsg_soap_parse(xml, strlen(xml), NULL, &r.msg, &err),
	                 WSG_OK);
	free(xml);
	wsg_auth_start(&r.a, &r.msg, done_cb, &r);
	run_wait(&r);
	assert_true(r.status == WSG_ERR_DB || r.status == WSG_ERR_TIMEOUT);
	assert_int_equal(r.a.err.fault, WSG_FAULT_SERVER);
	assert_null(r.a.user);
	run_end(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_digest_accepted_then_replay_refused, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_text_and_basic_accepted,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refusals_look_alike, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_locked_user_refused_with_right_password, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_client_limit_tells_when_to_retry, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_store_down_is_a_server_fault, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
