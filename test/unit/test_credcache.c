#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credcache.h"
#include "mem.h"

static struct wsg_cred
cred_of(const char *hash, const char *digest, size_t digest_len,
        const char *roles)
{
	struct wsg_cred c;

	memset(&c, 0, sizeof(c));
	c.exists = 1;
	c.password_hash = (char *)hash;
	c.digest_password = (char *)digest;
	c.digest_password_len = digest_len;
	c.roles = (char *)roles;
	return c;
}

static int
get_status(struct wsg_credcache *cc, const char *user, int64_t now)
{
	struct wsg_cred out;
	int rc = wsg_credcache_get(cc, user, now, &out);

	wsg_credcache_entry_clear(&out);
	return rc;
}

static void
test_put_get_copy(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	char hash[] = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
	char digest[] = "se\0cret";
	char roles[] = "admin,echo-users";
	struct wsg_cred in = cred_of(hash, digest, 7, roles), a, b;

	in.disabled = 1;
	wsg_credcache_put(cc, "alice", &in, 1000,
	                  wsg_credcache_generation(cc, "alice"));
	/* The cache kept its own copy. */
	memset(hash, 'x', sizeof(hash) - 1);
	memset(digest, 'x', sizeof(digest) - 1);
	memset(roles, 'x', sizeof(roles) - 1);
	assert_int_equal(wsg_credcache_get(cc, "alice", 1000, &a), WSG_OK);
	assert_int_equal(wsg_credcache_get(cc, "alice", 1001, &b), WSG_OK);
	assert_int_equal(a.exists, 1);
	assert_int_equal(a.disabled, 1);
	assert_string_equal(a.password_hash,
	                    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
	assert_int_equal(a.digest_password_len, 7);
	assert_memory_equal(a.digest_password, "se\0cret", 7);
	assert_string_equal(a.roles, "admin,echo-users");
	/* Every get is an independent copy. */
	assert_ptr_not_equal(a.password_hash, b.password_hash);
	assert_ptr_not_equal(a.digest_password, b.digest_password);
	assert_ptr_not_equal(a.roles, b.roles);
	assert_ptr_not_equal(a.password_hash, hash);
	wsg_credcache_entry_clear(&a);
	assert_null(a.password_hash);
	assert_null(a.digest_password);
	assert_int_equal(a.digest_password_len, 0);
	assert_null(a.roles);
	assert_string_equal(b.roles, "admin,echo-users");
	wsg_credcache_entry_clear(&b);
	wsg_credcache_entry_clear(&b);
	wsg_credcache_entry_clear(NULL);
	wsg_credcache_free(cc);
}

static void
test_miss_clears_out(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	struct wsg_cred out;

	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(wsg_credcache_get(cc, "nobody", 0, &out),
	                 WSG_ERR_NOTFOUND);
	assert_int_equal(out.exists, 0);
	assert_null(out.password_hash);
	assert_null(out.digest_password);
	assert_null(out.roles);
	/* Names compare exactly. */
	wsg_credcache_put(cc, "Alice",
	                  &(struct wsg_cred){.exists = 1, .roles = (char *)""},
	                  0, wsg_credcache_generation(cc, "Alice"));
	assert_int_equal(get_status(cc, "alice", 0), WSG_ERR_NOTFOUND);
	assert_int_equal(get_status(cc, "Alice ", 0), WSG_ERR_NOTFOUND);
	assert_int_equal(get_status(cc, "Alice", 0), WSG_OK);
	wsg_credcache_free(cc);
}

static void
test_ttl_expiry(void **state)
{
	static const struct {
		int64_t now;
		int want;
	} steps[] = {
	        {100, WSG_OK},
	        {159, WSG_OK},
	        {160, WSG_ERR_NOTFOUND}, /* expires_at = 100 + 60 */
	        {150, WSG_ERR_NOTFOUND}, /* dropped, not just hidden */
	};
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	struct wsg_cred in = cred_of("h", NULL, 0, "");
	size_t i;

	wsg_credcache_put(cc, "alice", &in, 100,
	                  wsg_credcache_generation(cc, "alice"));
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		assert_int_equal(get_status(cc, "alice", steps[i].now),
		                 steps[i].want);
	/* A new put starts a new TTL. */
	wsg_credcache_put(cc, "alice", &in, 200,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(get_status(cc, "alice", 259), WSG_OK);
	wsg_credcache_put(cc, "alice", &in, 250,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(get_status(cc, "alice", 300), WSG_OK);
	assert_int_equal(get_status(cc, "alice", 310), WSG_ERR_NOTFOUND);
	wsg_credcache_free(cc);
}

static void
test_negative_entry(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	struct wsg_cred in, out;

	memset(&in, 0, sizeof(in));
	in.roles = (char *)"";
	wsg_credcache_put(cc, "ghost", &in, 0,
	                  wsg_credcache_generation(cc, "ghost"));
	assert_int_equal(wsg_credcache_get(cc, "ghost", 1, &out), WSG_OK);
	assert_int_equal(out.exists, 0);
	assert_null(out.password_hash);
	assert_null(out.digest_password);
	assert_string_equal(out.roles, "");
	wsg_credcache_entry_clear(&out);
	/* No password is ever "verified" for a name that does not exist. */
	wsg_credcache_mark_verified(cc, "ghost", NULL, "pw", 2);
	assert_int_equal(wsg_credcache_check_verified(cc, "ghost", "pw", 2, 1),
	                 WSG_ERR_NOTFOUND);
	wsg_credcache_free(cc);
}

static void
test_invalidate(void **state)
{
	static const char *const users[] = {"alice", "bob", "carol", "dave"};
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	struct wsg_cred in = cred_of("h", "d", 1, "r");
	size_t i;

	for (i = 0; i < 4; i++)
		wsg_credcache_put(cc, users[i], &in, 0,
		                  wsg_credcache_generation(cc, users[i]));
	wsg_credcache_invalidate(cc, "bob");
	wsg_credcache_invalidate(cc, "nobody");
	assert_int_equal(get_status(cc, "bob", 1), WSG_ERR_NOTFOUND);
	assert_int_equal(get_status(cc, "alice", 1), WSG_OK);
	assert_int_equal(get_status(cc, "carol", 1), WSG_OK);
	wsg_credcache_invalidate(cc, NULL);
	for (i = 0; i < 4; i++)
		assert_int_equal(get_status(cc, users[i], 1), WSG_ERR_NOTFOUND);
	/* Still usable afterwards. */
	wsg_credcache_put(cc, "alice", &in, 0,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(get_status(cc, "alice", 1), WSG_OK);
	wsg_credcache_free(cc);
}

/* A refresh from the store with the same hash keeps the verified password. */
static void
test_verified_survives_refresh(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	struct wsg_cred h = cred_of("h", "d", 1, ""),
	                h2 = cred_of("h2", NULL, 0, "");
	struct wsg_cred none;

	memset(&none, 0, sizeof(none));
	wsg_credcache_put(cc, "alice", &h, 0,
	                  wsg_credcache_generation(cc, "alice"));
	wsg_credcache_mark_verified(cc, "alice", "h", "right", 5);
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "right", 5, 59),
	        WSG_OK);
	/* Expired: neither served nor verified, even if the clock steps back.
	 */
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "right", 5, 60),
	        WSG_ERR_NOTFOUND);
	assert_int_equal(get_status(cc, "alice", 60), WSG_ERR_NOTFOUND);
	assert_int_equal(get_status(cc, "alice", 30), WSG_ERR_NOTFOUND);
	/* The store answers the same hash: still verified, only that password.
	 */
	wsg_credcache_put(cc, "alice", &h, 61,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(get_status(cc, "alice", 62), WSG_OK);
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "right", 5, 62),
	        WSG_OK);
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "wrong", 5, 62),
	        WSG_ERR_NOTFOUND);
	/* A live entry replaced with the same hash keeps it too. */
	wsg_credcache_put(cc, "alice", &h, 63,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "right", 5, 64),
	        WSG_OK);
	/* A new hash (password changed) does not. */
	wsg_credcache_put(cc, "alice", &h2, 65,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "right", 5, 66),
	        WSG_ERR_NOTFOUND);
	wsg_credcache_mark_verified(cc, "alice", "h2", "right", 5);
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "right", 5, 66),
	        WSG_OK);
	/* Invalidation leaves nothing to carry over. */
	wsg_credcache_invalidate(cc, "alice");
	wsg_credcache_put(cc, "alice", &h2, 67,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "right", 5, 68),
	        WSG_ERR_NOTFOUND);
	/* Neither does an unknown-name entry, nor does it receive one. */
	wsg_credcache_put(cc, "bob", &none, 70,
	                  wsg_credcache_generation(cc, "bob"));
	wsg_credcache_mark_verified(cc, "bob", "h", "right", 5);
	wsg_credcache_put(cc, "bob", &h, 71,
	                  wsg_credcache_generation(cc, "bob"));
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "bob", "right", 5, 72),
	        WSG_ERR_NOTFOUND);
	wsg_credcache_free(cc);
}

/* 64 entries = 4 per shard; the least recently stored go first. */
static void
test_eviction(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(64, 1000000);
	struct wsg_cred in = cred_of("h", "d", 1, "r");
	char name[32];
	size_t hits_old = 0, hits_new = 0;
	int i;

	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		wsg_credcache_put(cc, name, &in, i,
		                  wsg_credcache_generation(cc, name));
	}
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		if (get_status(cc, name, 2000) == WSG_OK) {
			if (i < 1000)
				hits_old++;
			else
				hits_new++;
		}
	}
	assert_int_equal(hits_old, 0);
	assert_int_equal(hits_new, 64);
	assert_int_equal(get_status(cc, "user1999", 2000), WSG_OK);
	/* Replacing a present entry evicts nobody. */
	wsg_credcache_put(cc, "user1999", &in, 2000,
	                  wsg_credcache_generation(cc, "user1999"));
	hits_new = 0;
	for (i = 1000; i < 2000; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		hits_new += get_status(cc, name, 2000) == WSG_OK;
	}
	assert_int_equal(hits_new, 64);
	wsg_credcache_free(cc);
}

static void
test_verified(void **state)
{
	enum op { PUT, MARK, CHECK, INVALIDATE };
	static const struct {
		enum op op;
		const char *user;
		const char *pw;
		int64_t now;
		int want; /* for CHECK */
	} steps[] = {
	        {PUT, "alice", NULL, 0, 0},
	        {CHECK, "alice", "right", 1, WSG_ERR_NOTFOUND},
	        {MARK, "alice", "right", 1, 0},
	        {CHECK, "alice", "right", 2, WSG_OK},
	        {CHECK, "alice", "wrong", 2, WSG_ERR_NOTFOUND},
	        {CHECK, "alice", "righ", 2, WSG_ERR_NOTFOUND},
	        {CHECK, "alice", "right ", 2, WSG_ERR_NOTFOUND},
	        {CHECK, "alice", "", 2, WSG_ERR_NOTFOUND},
	        {CHECK, "bob", "right", 2, WSG_ERR_NOTFOUND},
	        {MARK, "bob", "right", 2, 0}, /* absent: no-op */
	        {CHECK, "bob", "right", 2, WSG_ERR_NOTFOUND},
	        {PUT, "alice", NULL, 3, 0}, /* replaced, same hash */
	        {CHECK, "alice", "right", 4, WSG_OK},
	        {MARK, "alice", "right", 4, 0},
	        {CHECK, "alice", "right", 62, WSG_OK},
	        {CHECK, "alice", "right", 63, WSG_ERR_NOTFOUND}, /* expired */
	        {MARK, "alice", "right", 63, 0},
	        {CHECK, "alice", "right", 63, WSG_ERR_NOTFOUND},
	        {PUT, "alice", NULL, 70, 0},
	        {MARK, "alice", "new", 70, 0},
	        {MARK, "alice", "newer", 70, 0}, /* the last one counts */
	        {CHECK, "alice", "newer", 71, WSG_OK},
	        {CHECK, "alice", "new", 71, WSG_ERR_NOTFOUND},
	        {INVALIDATE, "alice", NULL, 71, 0},
	        {CHECK, "alice", "newer", 71, WSG_ERR_NOTFOUND},
	};
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	struct wsg_cred in = cred_of("h", NULL, 0, "");
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const char *pw = steps[i].pw;

		switch (steps[i].op) {
		case PUT:
			wsg_credcache_put(
			        cc, steps[i].user, &in, steps[i].now,
			        wsg_credcache_generation(cc, steps[i].user));
			break;
		case MARK:
			wsg_credcache_mark_verified(cc, steps[i].user, "h", pw,
			                            strlen(pw));
			break;
		case CHECK:
			if (wsg_credcache_check_verified(
			            cc, steps[i].user, pw, strlen(pw),
			            steps[i].now) != steps[i].want)
				fail_msg("step %zu", i);
			break;
		case INVALIDATE:
			wsg_credcache_invalidate(cc, steps[i].user);
			break;
		}
	}
	wsg_credcache_free(cc);
}

static void
test_nothing_cached(void **state)
{
	static const struct {
		size_t max;
		int64_t ttl;
	} cases[] = {
	        {100, 0},
	        {100, -5},
	        {0, 60},
	};
	struct wsg_cred in = cred_of("h", "d", 1, "r"), out;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wsg_credcache *cc =
		        wsg_credcache_new(cases[i].max, cases[i].ttl);

		wsg_credcache_put(cc, "alice", &in, 0,
		                  wsg_credcache_generation(cc, "alice"));
		assert_int_equal(wsg_credcache_get(cc, "alice", 0, &out),
		                 WSG_ERR_NOTFOUND);
		assert_null(out.password_hash);
		wsg_credcache_mark_verified(cc, "alice", "h", "pw", 2);
		assert_int_equal(
		        wsg_credcache_check_verified(cc, "alice", "pw", 2, 0),
		        WSG_ERR_NOTFOUND);
		wsg_credcache_invalidate(cc, "alice");
		wsg_credcache_invalidate(cc, NULL);
		wsg_credcache_free(cc);
	}
}

#define NTHREADS 8
#define NUSERS 100
#define ROUNDS 20000

struct worker {
	struct wsg_credcache *cc;
	pthread_barrier_t *start;
	unsigned seed;
	int torn; /* copies that did not belong to their user */
};

/* Every user's fields name the user, so a torn copy shows. */
static int
consistent(const struct wsg_cred *c, int u)
{
	char want[32];

	snprintf(want, sizeof(want), "hash-%d", u);
	if (c->password_hash == NULL || strcmp(c->password_hash, want) != 0)
		return 0;
	snprintf(want, sizeof(want), "digest-%d", u);
	if (c->digest_password == NULL ||
	    c->digest_password_len != strlen(want) ||
	    memcmp(c->digest_password, want, strlen(want)) != 0)
		return 0;
	snprintf(want, sizeof(want), "role-%d", u);
	return c->roles != NULL && strcmp(c->roles, want) == 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char name[32], hash[32], digest[32], roles[32];
	struct wsg_cred in, out;
	int i, u, op;

	pthread_barrier_wait(w->start);
	for (i = 0; i < ROUNDS; i++) {
		u = rand_r(&w->seed) % NUSERS;
		op = rand_r(&w->seed) % 100;
		snprintf(name, sizeof(name), "user-%d", u);
		snprintf(hash, sizeof(hash), "hash-%d", u);
		snprintf(digest, sizeof(digest), "digest-%d", u);
		snprintf(roles, sizeof(roles), "role-%d", u);
		in = cred_of(hash, digest, strlen(digest), roles);
		if (op < 40) {
			if (wsg_credcache_get(w->cc, name, i / 100, &out) ==
			            WSG_OK &&
			    !consistent(&out, u))
				w->torn++;
			wsg_credcache_entry_clear(&out);
		} else if (op < 70) {
			wsg_credcache_put(
			        w->cc, name, &in, i / 100,
			        wsg_credcache_generation(w->cc, name));
		} else if (op < 85) {
			wsg_credcache_mark_verified(w->cc, name, hash, digest,
			                            strlen(digest));
		} else if (op < 97) {
			/* Only the user's own password is ever marked. */
			if (wsg_credcache_check_verified(w->cc, name, hash,
			                                 strlen(hash),
			                                 i / 100) == WSG_OK)
				w->torn++;
			wsg_credcache_check_verified(w->cc, name, digest,
			                             strlen(digest), i / 100);
		} else if (op < 99) {
			wsg_credcache_invalidate(w->cc, name);
		} else {
			wsg_credcache_invalidate(w->cc, NULL);
		}
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(48, 30);
	pthread_barrier_t start;
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	size_t i;

	pthread_barrier_init(&start, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++) {
		w[i].cc = cc;
		w[i].start = &start;
		w[i].seed = (unsigned)i * 7919u + 1;
		w[i].torn = 0;
		assert_int_equal(
		        pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].torn, 0);
	}
	pthread_barrier_destroy(&start);
	wsg_credcache_free(cc);
}

/* A verification that raced a password change must not mark the new entry. */
static void
test_mark_verified_needs_the_checked_hash(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	struct wsg_cred in = cred_of("new-hash", NULL, 0, "");

	wsg_credcache_put(cc, "alice", &in, 0,
	                  wsg_credcache_generation(cc, "alice"));
	wsg_credcache_mark_verified(cc, "alice", "old-hash", "old-pw", 6);
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "old-pw", 6, 1),
	        WSG_ERR_NOTFOUND);
	wsg_credcache_mark_verified(cc, "alice", "new-hash", "new-pw", 6);
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "new-pw", 6, 1),
	        WSG_OK);
	wsg_credcache_free(cc);
}

/* A row read before an invalidation must not be cached after it. */
static void
test_put_after_invalidation_is_dropped(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(100, 60);
	struct wsg_cred in = cred_of("old-hash", NULL, 0, ""), out;
	uint64_t gen = wsg_credcache_generation(cc, "alice");

	wsg_credcache_invalidate(cc, "alice");
	wsg_credcache_put(cc, "alice", &in, 0, gen);
	assert_int_equal(wsg_credcache_get(cc, "alice", 1, &out),
	                 WSG_ERR_NOTFOUND);
	gen = wsg_credcache_generation(cc, "alice");
	wsg_credcache_invalidate(cc, NULL);
	wsg_credcache_put(cc, "alice", &in, 0, gen);
	assert_int_equal(wsg_credcache_get(cc, "alice", 1, &out),
	                 WSG_ERR_NOTFOUND);
	wsg_credcache_put(cc, "alice", &in, 0,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(wsg_credcache_get(cc, "alice", 1, &out), WSG_OK);
	wsg_credcache_entry_clear(&out);
	wsg_credcache_free(cc);
}

/* Entries a TTL past expiry are reclaimed by later puts (unknown-name floods).
 */
static void
test_long_expired_entries_reclaimed(void **state)
{
	struct wsg_credcache *cc = wsg_credcache_new(100000, 60);
	struct wsg_cred in = cred_of("h", NULL, 0, "");
	char name[32];
	int i;

	wsg_credcache_put(cc, "alice", &in, 0,
	                  wsg_credcache_generation(cc, "alice"));
	wsg_credcache_mark_verified(cc, "alice", "h", "pw", 2);
	/* Expired but recent: a refresh keeps the verified mark. */
	wsg_credcache_put(cc, "alice", &in, 61,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(wsg_credcache_check_verified(cc, "alice", "pw", 2, 62),
	                 WSG_OK);
	/* A TTL past expiry: puts into every shard reclaim it. */
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "ghost-%d", i);
		wsg_credcache_put(cc, name, &in, 61 + 60 + 60,
		                  wsg_credcache_generation(cc, name));
	}
	wsg_credcache_put(cc, "alice", &in, 182,
	                  wsg_credcache_generation(cc, "alice"));
	assert_int_equal(
	        wsg_credcache_check_verified(cc, "alice", "pw", 2, 182),
	        WSG_ERR_NOTFOUND);
	wsg_credcache_free(cc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mark_verified_needs_the_checked_hash),
	        cmocka_unit_test(test_put_after_invalidation_is_dropped),
	        cmocka_unit_test(test_long_expired_entries_reclaimed),
	        cmocka_unit_test(test_put_get_copy),
	        cmocka_unit_test(test_miss_clears_out),
	        cmocka_unit_test(test_ttl_expiry),
	        cmocka_unit_test(test_negative_entry),
	        cmocka_unit_test(test_invalidate),
	        cmocka_unit_test(test_eviction),
	        cmocka_unit_test(test_verified),
	        cmocka_unit_test(test_verified_survives_refresh),
	        cmocka_unit_test(test_nothing_cached),
	        cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests_name("credcache", tests, NULL, NULL);
}
