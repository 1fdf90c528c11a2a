#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "types.h"

/* A distinct 16-byte nonce for every (tag, i), like a real decoded nonce. */
static void
make_key(unsigned char key[16], uint32_t tag, uint32_t i)
{
	memset(key, 0xa5, 16);
	memcpy(key, &tag, sizeof(tag));
	memcpy(key + 8, &i, sizeof(i));
}

static int
insert_str(struct wsg_replay *r, const char *s, int64_t expires_at, int64_t now)
{
	return wsg_replay_insert(r, (const unsigned char *)s, strlen(s),
	                         expires_at, now);
}

static void
test_new_zero(void **state)
{
	assert_null(wsg_replay_new(0));
	wsg_replay_free(NULL);
}

static void
test_insert_then_replay(void **state)
{
	struct wsg_replay *r = wsg_replay_new(1000);

	assert_int_equal(wsg_replay_count(r), 0);
	assert_int_equal(insert_str(r, "nonce-1", 100, 10), WSG_OK);
	assert_int_equal(insert_str(r, "nonce-1", 100, 10), WSG_ERR_REPLAY);
	/* A replay does not refresh or duplicate the entry. */
	assert_int_equal(insert_str(r, "nonce-1", 500, 20), WSG_ERR_REPLAY);
	assert_int_equal(wsg_replay_count(r), 1);
	wsg_replay_free(r);
}

static void
test_different_bytes(void **state)
{
	static const struct {
		const char *key;
		size_t len;
	} keys[] = {
	        {"abcdefgh", 8},   {"abcdefgi", 8}, {"abcdefg", 7},
	        {"abcdefgh\0", 9}, {"\0", 1},       {"\0\0", 2},
	        {"Abcdefgh", 8},
	};
	struct wsg_replay *r = wsg_replay_new(1000);
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(
		        wsg_replay_insert(r, (const unsigned char *)keys[i].key,
		                          keys[i].len, 100, 0),
		        WSG_OK);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(
		        wsg_replay_insert(r, (const unsigned char *)keys[i].key,
		                          keys[i].len, 100, 0),
		        WSG_ERR_REPLAY);
	assert_int_equal(wsg_replay_count(r), sizeof(keys) / sizeof(keys[0]));
	wsg_replay_free(r);
}

static void
test_key_length_limits(void **state)
{
	struct wsg_replay *r = wsg_replay_new(1000);
	unsigned char big[257];

	memset(big, 'n', sizeof(big));
	assert_int_equal(wsg_replay_insert(r, big, 0, 100, 0), WSG_ERR_INVAL);
	assert_int_equal(wsg_replay_insert(r, NULL, 16, 100, 0), WSG_ERR_INVAL);
	assert_int_equal(wsg_replay_insert(r, big, 257, 100, 0), WSG_ERR_LIMIT);
	assert_int_equal(wsg_replay_insert(r, big, 256, 100, 0), WSG_OK);
	assert_int_equal(wsg_replay_insert(r, big, 256, 100, 0),
	                 WSG_ERR_REPLAY);
	assert_int_equal(wsg_replay_insert(r, big, 255, 100, 0), WSG_OK);
	assert_int_equal(wsg_replay_count(r), 2);
	wsg_replay_free(r);
}

static void
test_expiry(void **state)
{
	static const struct {
		int64_t expires_at;
		int64_t now;
		int want;
	} steps[] = {
	        {100, 50, WSG_OK},
	        {300, 99, WSG_ERR_REPLAY}, /* live until 100 */
	        {200, 100, WSG_OK},        /* expires_at <= now: dead */
	        {500, 150, WSG_ERR_REPLAY},
	        {500, 199, WSG_ERR_REPLAY},
	        {500, 250, WSG_OK},
	};
	struct wsg_replay *r = wsg_replay_new(1000);
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		assert_int_equal(insert_str(r, "expiring", steps[i].expires_at,
		                            steps[i].now),
		                 steps[i].want);
	assert_int_equal(wsg_replay_count(r), 1);
	wsg_replay_free(r);
}

static void
test_dead_on_arrival(void **state)
{
	struct wsg_replay *r = wsg_replay_new(1000);

	assert_int_equal(insert_str(r, "stale", 100, 100), WSG_OK);
	assert_int_equal(insert_str(r, "stale", 100, 100), WSG_OK);
	assert_int_equal(wsg_replay_count(r), 0);
	/* It is still checked against live entries. */
	assert_int_equal(insert_str(r, "live", 200, 100), WSG_OK);
	assert_int_equal(insert_str(r, "live", 100, 100), WSG_ERR_REPLAY);
	wsg_replay_free(r);
}

/* Expired entries are reclaimed by later inserts into their shard. */
static void
test_reclaim(void **state)
{
	struct wsg_replay *r = wsg_replay_new(100000);
	unsigned char key[16];
	uint32_t i;

	for (i = 0; i < 5000; i++) {
		make_key(key, 1, i);
		assert_int_equal(wsg_replay_insert(r, key, 16, 10, 0), WSG_OK);
	}
	assert_int_equal(wsg_replay_count(r), 5000);
	for (i = 0; i < 5000; i++) {
		make_key(key, 2, i);
		assert_int_equal(wsg_replay_insert(r, key, 16, 30, 20), WSG_OK);
	}
	/* Every shard saw inserts at now=20, so all tag-1 entries are gone. */
	assert_int_equal(wsg_replay_count(r), 5000);
	for (i = 0; i < 5000; i++) {
		make_key(key, 2, i);
		assert_int_equal(wsg_replay_insert(r, key, 16, 40, 25),
		                 WSG_ERR_REPLAY);
		make_key(key, 1, i);
		assert_int_equal(wsg_replay_insert(r, key, 16, 40, 25), WSG_OK);
	}
	wsg_replay_free(r);
}

static void
test_capacity(void **state)
{
	static const size_t cases[] = {1, 63, 256, 1000};
	unsigned char key[16];
	size_t c, accepted, full;
	uint32_t i;
	int rc;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct wsg_replay *r = wsg_replay_new(cases[c]);

		accepted = full = 0;
		for (i = 0; i < 20000; i++) {
			make_key(key, 3, i);
			rc = wsg_replay_insert(r, key, 16, 1000, 0);
			if (rc == WSG_OK)
				accepted++;
			else if (rc == WSG_ERR_FULL)
				full++;
			else
				fail_msg("unexpected %d", rc);
		}
		assert_int_equal(accepted, cases[c]);
		assert_int_equal(full, 20000 - cases[c]);
		assert_int_equal(wsg_replay_count(r), cases[c]);
		/* No live nonce was evicted to make room: all still replays. */
		for (i = 0; i < 20000; i++) {
			make_key(key, 3, i);
			rc = wsg_replay_insert(r, key, 16, 1000, 999);
			assert_true(rc == WSG_ERR_REPLAY || rc == WSG_ERR_FULL);
		}
		assert_int_equal(wsg_replay_count(r), cases[c]);
		/* Once they expire, the refused nonces get their turn. */
		accepted = 0;
		for (i = 0; i < 20000; i++) {
			make_key(key, 3, i);
			rc = wsg_replay_insert(r, key, 16, 2000, 1000);
			assert_true(rc == WSG_OK || rc == WSG_ERR_FULL);
			accepted += rc == WSG_OK;
		}
		assert_int_equal(accepted, cases[c]);
		assert_int_equal(wsg_replay_count(r), cases[c]);
		wsg_replay_free(r);
	}
}

/* The cap is exact: max live nonces fit, one more does not. */
static void
test_exact_capacity(void **state)
{
	struct wsg_replay *r = wsg_replay_new(100000);
	unsigned char key[16];
	uint32_t i;

	for (i = 0; i < 100000; i++) {
		make_key(key, 6, i);
		assert_int_equal(wsg_replay_insert(r, key, 16, 100, 0), WSG_OK);
	}
	make_key(key, 6, i);
	assert_int_equal(wsg_replay_insert(r, key, 16, 100, 0), WSG_ERR_FULL);
	assert_int_equal(wsg_replay_insert(r, key, 16, 100, 50), WSG_ERR_FULL);
	make_key(key, 6, 0);
	assert_int_equal(wsg_replay_insert(r, key, 16, 100, 50),
	                 WSG_ERR_REPLAY);
	assert_int_equal(wsg_replay_count(r), 100000);
	wsg_replay_free(r);
}

/* Dead entries in other shards are reclaimed when the cache looks full. */
static void
test_full_sweeps_other_shards(void **state)
{
	struct wsg_replay *r = wsg_replay_new(64);
	unsigned char key[16];
	uint32_t i;

	for (i = 0; i < 64; i++) {
		make_key(key, 7, i);
		assert_int_equal(wsg_replay_insert(r, key, 16, 10, 0), WSG_OK);
	}
	/* An insert reclaims its own shard first; the others wait for a sweep.
	 */
	make_key(key, 8, 0);
	assert_int_equal(wsg_replay_insert(r, key, 16, 100, 10), WSG_OK);
	assert_in_range(wsg_replay_count(r), 1, 64);
	/* Once the cache looks full, a sweep frees the rest. */
	for (i = 1; i < 64; i++) {
		make_key(key, 8, i);
		assert_int_equal(wsg_replay_insert(r, key, 16, 100, 10),
		                 WSG_OK);
	}
	assert_int_equal(wsg_replay_count(r), 64);
	make_key(key, 8, i);
	assert_int_equal(wsg_replay_insert(r, key, 16, 100, 10), WSG_ERR_FULL);
	wsg_replay_free(r);
}

/*
 * A flood of unique nonces with a moving clock: while fewer than the cap
 * are live every one is accepted (dead ones make room), and above it the
 * surplus is refused; memory never passes the cap either way.
 */
static void
test_flood_bounded(void **state)
{
	static const struct {
		int64_t ttl; /* 100 inserts per second of `now` */
		int all_accepted;
	} cases[] = {
	        {5, 1},  /* ~500 live */
	        {50, 0}, /* ~5000 live */
	};
	unsigned char key[16];
	size_t c;
	uint32_t i;
	int64_t now;
	int rc;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct wsg_replay *r = wsg_replay_new(1024);

		for (i = 0; i < 200000; i++) {
			now = i / 100;
			make_key(key, 4, i);
			rc = wsg_replay_insert(r, key, 16, now + cases[c].ttl,
			                       now);
			if (cases[c].all_accepted)
				assert_int_equal(rc, WSG_OK);
			else
				assert_true(rc == WSG_OK || rc == WSG_ERR_FULL);
			if (i % 1000 == 0)
				assert_true(wsg_replay_count(r) <= 1024);
		}
		assert_true(wsg_replay_count(r) <= 1024);
		wsg_replay_free(r);
	}
}

#define NTHREADS 8
#define NKEYS 20000

struct racer {
	struct wsg_replay *r;
	pthread_barrier_t *start;
	unsigned char *won; /* NKEYS flags */
	int unexpected;
};

static void *
racer_main(void *arg)
{
	struct racer *rc = arg;
	unsigned char key[16];
	uint32_t i;
	int res;

	pthread_barrier_wait(rc->start);
	for (i = 0; i < NKEYS; i++) {
		make_key(key, 5, i);
		res = wsg_replay_insert(rc->r, key, 16, 1000, 0);
		if (res == WSG_OK)
			rc->won[i] = 1;
		else if (res != WSG_ERR_REPLAY)
			rc->unexpected++;
	}
	return NULL;
}

static void
test_concurrent_once(void **state)
{
	struct wsg_replay *r = wsg_replay_new(NKEYS * 2);
	pthread_barrier_t start;
	struct racer racers[NTHREADS];
	pthread_t t[NTHREADS];
	size_t i, k, winners;

	pthread_barrier_init(&start, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++) {
		racers[i].r = r;
		racers[i].start = &start;
		racers[i].won = calloc(NKEYS, 1);
		racers[i].unexpected = 0;
		assert_int_equal(
		        pthread_create(&t[i], NULL, racer_main, &racers[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (k = 0; k < NKEYS; k++) {
		winners = 0;
		for (i = 0; i < NTHREADS; i++)
			winners += racers[i].won[k];
		if (winners != 1)
			fail_msg("key %zu accepted %zu times", k, winners);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(racers[i].unexpected, 0);
		free(racers[i].won);
	}
	assert_int_equal(wsg_replay_count(r), NKEYS);
	pthread_barrier_destroy(&start);
	wsg_replay_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_new_zero),
	        cmocka_unit_test(test_insert_then_replay),
	        cmocka_unit_test(test_different_bytes),
	        cmocka_unit_test(test_key_length_limits),
	        cmocka_unit_test(test_expiry),
	        cmocka_unit_test(test_dead_on_arrival),
	        cmocka_unit_test(test_reclaim),
	        cmocka_unit_test(test_capacity),
	        cmocka_unit_test(test_exact_capacity),
	        cmocka_unit_test(test_full_sweeps_other_shards),
	        cmocka_unit_test(test_flood_bounded),
	        cmocka_unit_test(test_concurrent_once),
	};

	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
