#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockout.h"
#include "types.h"

#define SEC 1000 /* ms */

static struct wsg_lockout_conf
policy(unsigned max, int64_t window, int64_t duration)
{
	struct wsg_lockout_conf p;

	memset(&p, 0, sizeof(p));
	p.max_failures = max;
	p.window = window;
	p.duration = duration;
	p.max_entries = 100000;
	return p;
}

static enum wsg_lockout_result
fail_user(struct wsg_lockout *l, const struct wsg_lockout_conf *p,
          const char *name, int64_t now)
{
	return wsg_lockout_fail(l, WSG_LOCKOUT_USER, p, name, strlen(name),
	                        now);
}

static int64_t
check_user(struct wsg_lockout *l, const struct wsg_lockout_conf *p,
           const char *name, int64_t now)
{
	return wsg_lockout_check(l, WSG_LOCKOUT_USER, p, name, strlen(name),
	                         now);
}

static void
test_locks_at_max_failures(void **state)
{
	struct wsg_lockout_conf p = policy(3, 300, 900);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);
	struct wsg_lockout_stats st;
	int64_t t = 1000 * SEC;

	assert_int_equal(fail_user(l, &p, "alice", t), WSG_LOCKOUT_COUNTED);
	assert_int_equal(check_user(l, &p, "alice", t), 0);
	assert_int_equal(fail_user(l, &p, "alice", t + 1), WSG_LOCKOUT_COUNTED);
	assert_int_equal(check_user(l, &p, "alice", t + 1), 0);
	assert_int_equal(fail_user(l, &p, "alice", t + 2), WSG_LOCKOUT_STARTED);
	assert_int_equal(check_user(l, &p, "alice", t + 2), 900 * SEC);
	/* Failures while locked are not counted and do not extend it. */
	assert_int_equal(fail_user(l, &p, "alice", t + 5 * SEC),
	                 WSG_LOCKOUT_LOCKED);
	assert_int_equal(check_user(l, &p, "alice", t + 5 * SEC),
	                 895 * SEC + 2);
	/* Other keys and the other kind are not touched. */
	assert_int_equal(check_user(l, &p, "alicE", t + 2), 0);
	assert_int_equal(
	        wsg_lockout_check(l, WSG_LOCKOUT_CLIENT, &p, "alice", 5, t + 2),
	        0);
	wsg_lockout_stats(l, t + 5 * SEC, &st);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].failures, 3);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].lockouts, 1);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].refused, 2);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].entries, 1);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].locked, 1);
	assert_int_equal(st.kind[WSG_LOCKOUT_CLIENT].entries, 0);
	wsg_lockout_free(l);
}

/* A lock ends after `duration` exactly; the count then starts from zero. */
static void
test_duration_expiry(void **state)
{
	struct wsg_lockout_conf p = policy(2, 300, 10);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);
	int64_t t = 50 * SEC;

	fail_user(l, &p, "bob", t);
	assert_int_equal(fail_user(l, &p, "bob", t), WSG_LOCKOUT_STARTED);
	assert_int_equal(check_user(l, &p, "bob", t + 10 * SEC - 1), 1);
	assert_int_equal(check_user(l, &p, "bob", t + 10 * SEC), 0);
	/* Still within the window, but the failures before the lock are gone.
	 */
	assert_int_equal(fail_user(l, &p, "bob", t + 10 * SEC),
	                 WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user(l, &p, "bob", t + 11 * SEC),
	                 WSG_LOCKOUT_STARTED);
	wsg_lockout_free(l);
}

/*
 * window = 10 s is kept as slices of 1.25 s: a failure always counts for
 * 10 s and never for 11.25 s or more.
 */
static void
test_window(void **state)
{
	struct wsg_lockout_conf p = policy(3, 10, 60);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);
	const int64_t t = 8000 * SEC; /* a slice boundary */
	struct {
		const char *name;
		int64_t third; /* ms after the first failure */
		enum wsg_lockout_result want;
	} cases[] = {
	        {"in-window", 9999, WSG_LOCKOUT_STARTED},
	        {"at-window", 10000, WSG_LOCKOUT_STARTED},
	        {"last-slice", 11249, WSG_LOCKOUT_STARTED},
	        {"out", 11250, WSG_LOCKOUT_COUNTED},
	        {"long-out", 3600000, WSG_LOCKOUT_COUNTED},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fail_user(l, &p, cases[i].name, t);
		fail_user(l, &p, cases[i].name, t + 5000);
		assert_int_equal(
		        fail_user(l, &p, cases[i].name, t + cases[i].third),
		        cases[i].want);
	}
	/* Sliding: the oldest failure leaves, the newer ones still count. */
	fail_user(l, &p, "slide", t);
	fail_user(l, &p, "slide", t + 6000);
	assert_int_equal(fail_user(l, &p, "slide", t + 12000),
	                 WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user(l, &p, "slide", t + 13000),
	                 WSG_LOCKOUT_STARTED);
	/* A whole second window: counted from zero again. */
	fail_user(l, &p, "later", t);
	fail_user(l, &p, "later", t + 1);
	assert_int_equal(fail_user(l, &p, "later", t + 30000),
	                 WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user(l, &p, "later", t + 30001),
	                 WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user(l, &p, "later", t + 30002),
	                 WSG_LOCKOUT_STARTED);
	wsg_lockout_free(l);
}

/* A new window (a reloaded config) starts the counts afresh; locks stay. */
static void
test_window_change(void **state)
{
	struct wsg_lockout_conf a = policy(2, 10, 60), b = policy(2, 20, 60);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);

	fail_user(l, &a, "u", 100 * SEC);
	assert_int_equal(fail_user(l, &b, "u", 101 * SEC), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user(l, &b, "u", 102 * SEC), WSG_LOCKOUT_STARTED);
	assert_true(check_user(l, &a, "u", 103 * SEC) > 0);
	wsg_lockout_free(l);
}

static void
test_off(void **state)
{
	struct wsg_lockout_conf on = policy(1, 10, 60), off = policy(0, 10, 60);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);
	struct wsg_lockout_stats st;

	assert_int_equal(fail_user(l, &off, "x", SEC), WSG_LOCKOUT_OFF);
	assert_int_equal(fail_user(l, &on, "x", SEC), WSG_LOCKOUT_STARTED);
	/* Turning the policy off ignores locks made before. */
	assert_int_equal(check_user(l, &off, "x", SEC), 0);
	assert_true(check_user(l, &on, "x", SEC) > 0);
	wsg_lockout_stats(l, SEC, &st);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].failures, 1);
	wsg_lockout_free(l);
}

static void
test_unlock(void **state)
{
	struct wsg_lockout_conf p = policy(2, 300, 900);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);
	struct wsg_lockout_stats st;

	assert_int_equal(
	        wsg_lockout_unlock(l, WSG_LOCKOUT_USER, "nobody", 6, SEC), 0);
	fail_user(l, &p, "carol", SEC);
	assert_int_equal(
	        wsg_lockout_unlock(l, WSG_LOCKOUT_USER, "carol", 5, SEC), 0);
	/* The failure before the unlock is forgotten too. */
	assert_int_equal(fail_user(l, &p, "carol", SEC), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user(l, &p, "carol", SEC), WSG_LOCKOUT_STARTED);
	assert_true(check_user(l, &p, "carol", 2 * SEC) > 0);
	assert_int_equal(
	        wsg_lockout_unlock(l, WSG_LOCKOUT_USER, "carol", 5, 2 * SEC),
	        1);
	assert_int_equal(check_user(l, &p, "carol", 2 * SEC), 0);
	assert_int_equal(fail_user(l, &p, "carol", 2 * SEC),
	                 WSG_LOCKOUT_COUNTED);
	wsg_lockout_stats(l, 2 * SEC, &st);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].unlocks, 1);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].locked, 0);
	wsg_lockout_free(l);
}

/* An unlock stamped at a time ends only a lock that began by then, on its
 * own plane. */
static void
test_unlock_since(void **state)
{
	struct wsg_lockout_conf p = policy(1, 300, 900);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);

	(void)state;
	assert_int_equal(wsg_lockout_unlock_since(l, WSG_LOCKOUT_USER, "dan", 3,
	                                          10 * SEC, 10 * SEC),
	                 0);
	assert_int_equal(fail_user(l, &p, "dan", 10 * SEC),
	                 WSG_LOCKOUT_STARTED);
	assert_int_equal(wsg_lockout_fail(l, WSG_LOCKOUT_MGMT_USER, &p, "dan",
	                                  3, 10 * SEC),
	                 WSG_LOCKOUT_STARTED);
	/* Asked for before the lock began: it stands. */
	assert_int_equal(wsg_lockout_unlock_since(l, WSG_LOCKOUT_USER, "dan", 3,
	                                          10 * SEC - 1, 11 * SEC),
	                 0);
	assert_true(check_user(l, &p, "dan", 11 * SEC) > 0);
	assert_int_equal(wsg_lockout_unlock_since(l, WSG_LOCKOUT_USER, "dan", 3,
	                                          10 * SEC, 11 * SEC),
	                 1);
	assert_int_equal(check_user(l, &p, "dan", 11 * SEC), 0);
	/* The other plane keeps its lock. */
	assert_true(wsg_lockout_check(l, WSG_LOCKOUT_MGMT_USER, &p, "dan", 3,
	                              11 * SEC) > 0);
	/* A lock that began after the stamp stands. */
	assert_int_equal(fail_user(l, &p, "dan", 12 * SEC),
	                 WSG_LOCKOUT_STARTED);
	assert_int_equal(wsg_lockout_unlock_since(l, WSG_LOCKOUT_USER, "dan", 3,
	                                          10 * SEC, 13 * SEC),
	                 0);
	assert_true(check_user(l, &p, "dan", 13 * SEC) > 0);
	wsg_lockout_free(l);
}

/* Keys are bytes: NULs, case and length matter; overlong ones are ignored. */
static void
test_keys(void **state)
{
	struct wsg_lockout_conf p = policy(1, 10, 60);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);
	char big[WSG_LOCKOUT_MAX_KEY + 1];

	assert_int_equal(
	        wsg_lockout_fail(l, WSG_LOCKOUT_USER, &p, "a\0b", 3, SEC),
	        WSG_LOCKOUT_STARTED);
	assert_int_equal(
	        wsg_lockout_check(l, WSG_LOCKOUT_USER, &p, "a", 1, SEC), 0);
	assert_int_equal(
	        wsg_lockout_check(l, WSG_LOCKOUT_USER, &p, "a\0b\0", 4, SEC),
	        0);
	assert_true(wsg_lockout_check(l, WSG_LOCKOUT_USER, &p, "a\0b", 3, SEC) >
	            0);
	assert_int_equal(wsg_lockout_fail(l, WSG_LOCKOUT_USER, &p, "", 0, SEC),
	                 WSG_LOCKOUT_OFF);
	memset(big, 'k', sizeof(big));
	assert_int_equal(wsg_lockout_fail(l, WSG_LOCKOUT_USER, &p, big,
	                                  sizeof(big), SEC),
	                 WSG_LOCKOUT_OFF);
	assert_int_equal(wsg_lockout_fail(l, WSG_LOCKOUT_USER, &p, big,
	                                  WSG_LOCKOUT_MAX_KEY, SEC),
	                 WSG_LOCKOUT_STARTED);
	wsg_lockout_free(l);
}

/* Client addresses: IPv4-mapped is IPv4, IPv6 counts by /64. */
static void
test_client_keys(void **state)
{
	static const struct {
		const char *fail, *check;
		int same;
	} cases[] = {
	        {"127.0.0.2", "127.0.0.2", 1},
	        {"127.0.0.2", "127.0.0.3", 0},
	        {"127.0.0.4", "::ffff:127.0.0.4", 1},
	        {"2001:db8::1", "2001:db8::2", 1},
	        {"2001:db8::1", "2001:db8:0:0:ffff:ffff:ffff:ffff", 1},
	        {"2001:db9::1", "2001:db9:0:1::1", 0},
	        {"::1", "0:0:0:0:0:0:0:1", 1},
	        {"-", "-", 1},
	        {"-", "x", 0},
	};
	struct wsg_lockout_conf p = policy(1, 10, 60);
	struct wsg_lockout *l;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		l = wsg_lockout_new(1000, 1000);
		assert_int_equal(wsg_lockout_fail(l, WSG_LOCKOUT_CLIENT, &p,
		                                  cases[i].fail,
		                                  strlen(cases[i].fail), SEC),
		                 WSG_LOCKOUT_STARTED);
		if ((wsg_lockout_check(l, WSG_LOCKOUT_CLIENT, &p,
		                       cases[i].check, strlen(cases[i].check),
		                       SEC) > 0) != cases[i].same)
			fail_msg("%s vs %s: expected %s", cases[i].fail,
			         cases[i].check,
			         cases[i].same ? "the same key" : "two keys");
		wsg_lockout_free(l);
	}
}

/*
 * An attacker rotating names or addresses never grows the table past its
 * cap; locked keys are the last to go.
 */
static void
test_capacity(void **state)
{
	struct wsg_lockout_conf p = policy(3, 60, 600);
	struct wsg_lockout *l = wsg_lockout_new(64, 64);
	struct wsg_lockout_stats st;
	char name[32];
	int i;

	fail_user(l, &p, "victim", SEC);
	fail_user(l, &p, "victim", SEC);
	assert_int_equal(fail_user(l, &p, "victim", SEC), WSG_LOCKOUT_STARTED);
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "rotating-%d", i);
		fail_user(l, &p, name, 2 * SEC);
		wsg_lockout_fail(l, WSG_LOCKOUT_CLIENT, &p, name, strlen(name),
		                 2 * SEC);
	}
	wsg_lockout_stats(l, 2 * SEC, &st);
	/* 64 rounded up to two per shard. */
	assert_true(st.kind[WSG_LOCKOUT_USER].entries <= 64);
	assert_true(st.kind[WSG_LOCKOUT_CLIENT].entries <= 64);
	assert_true(st.kind[WSG_LOCKOUT_USER].evictions >= 100000 - 64);
	assert_true(check_user(l, &p, "victim", 2 * SEC) > 0);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].locked, 1);
	wsg_lockout_free(l);
}

/* Entries whose failures left the window are reclaimed, not evicted. */
static void
test_expired_reclaimed(void **state)
{
	struct wsg_lockout_conf p = policy(3, 10, 5);
	struct wsg_lockout *l = wsg_lockout_new(64, 64);
	struct wsg_lockout_stats st;
	uint64_t evicted;
	char name[32];
	int i;

	for (i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "old-%d", i);
		fail_user(l, &p, name, SEC);
	}
	for (i = 0; i < 3; i++)
		fail_user(l, &p, "locked", SEC);
	wsg_lockout_stats(l, SEC, &st);
	assert_true(st.kind[WSG_LOCKOUT_USER].entries > 16);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].locked, 1);
	evicted = st.kind[WSG_LOCKOUT_USER].evictions;
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "new-%d", i);
		fail_user(l, &p, name, 100 * SEC);
		wsg_lockout_unlock(l, WSG_LOCKOUT_USER, name, strlen(name),
		                   100 * SEC);
	}
	wsg_lockout_stats(l, 100 * SEC, &st);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].evictions, evicted);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].locked, 0);
	assert_true(st.kind[WSG_LOCKOUT_USER].entries < 16);
	wsg_lockout_free(l);
}

struct race {
	struct wsg_lockout *l;
	const struct wsg_lockout_conf *p;
	int id;
	int counted, started, locked;
};

static void *
race_main(void *arg)
{
	struct race *r = arg;
	char own[32];
	int i;

	snprintf(own, sizeof(own), "own-%d", r->id);
	for (i = 0; i < 2000; i++) {
		switch (fail_user(r->l, r->p, "shared", 10 * SEC)) {
		case WSG_LOCKOUT_COUNTED: r->counted++; break;
		case WSG_LOCKOUT_STARTED: r->started++; break;
		case WSG_LOCKOUT_LOCKED: r->locked++; break;
		case WSG_LOCKOUT_OFF: break;
		}
		fail_user(r->l, r->p, own, 10 * SEC);
		check_user(r->l, r->p, own, 10 * SEC);
	}
	return NULL;
}

/* Eight threads on one key: exactly max_failures counted, one lock. */
static void
test_concurrency(void **state)
{
	struct wsg_lockout_conf p = policy(500, 60, 600);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);
	struct wsg_lockout_stats st;
	struct race r[8];
	pthread_t th[8];
	int i, counted = 0, started = 0, locked = 0;

	for (i = 0; i < 8; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].l = l;
		r[i].p = &p;
		r[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, race_main, &r[i]),
		                 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		counted += r[i].counted;
		started += r[i].started;
		locked += r[i].locked;
	}
	assert_int_equal(started, 1);
	assert_int_equal(counted, 499);
	assert_int_equal(locked, 8 * 2000 - 500);
	wsg_lockout_stats(l, 10 * SEC, &st);
	/* "shared" and each thread's own key, locked at its 500th failure. */
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].entries, 9);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].lockouts, 9);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].failures, 9 * 500);
	wsg_lockout_free(l);
}

/*
 * A user name has a counter per plane (issue 13): a data-plane lock leaves
 * the management login open and the reverse; an unlock ends one plane's.
 */
static void
test_planes(void **state)
{
	struct wsg_lockout_conf p = policy(2, 300, 900);
	struct wsg_lockout *l = wsg_lockout_new(1000, 1000);
	struct wsg_lockout_stats st;
	const enum wsg_lockout_kind mg = WSG_LOCKOUT_MGMT_USER;
	int64_t t = 1000 * SEC;

	assert_int_equal(fail_user(l, &p, "admin", t), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user(l, &p, "admin", t), WSG_LOCKOUT_STARTED);
	assert_int_equal(check_user(l, &p, "admin", t), 900 * SEC);
	assert_int_equal(wsg_lockout_check(l, mg, &p, "admin", 5, t), 0);
	/* The management counter starts from zero, its lock is its own. */
	assert_int_equal(wsg_lockout_fail(l, mg, &p, "admin", 5, t),
	                 WSG_LOCKOUT_COUNTED);
	assert_int_equal(wsg_lockout_fail(l, mg, &p, "bob", 3, t),
	                 WSG_LOCKOUT_COUNTED);
	assert_int_equal(wsg_lockout_fail(l, mg, &p, "bob", 3, t),
	                 WSG_LOCKOUT_STARTED);
	assert_int_equal(wsg_lockout_check(l, mg, &p, "bob", 3, t), 900 * SEC);
	assert_int_equal(check_user(l, &p, "bob", t), 0);
	assert_int_equal(fail_user(l, &p, "bob", t), WSG_LOCKOUT_COUNTED);
	/* Unlocking one plane leaves the other's lock. */
	assert_int_equal(wsg_lockout_unlock(l, WSG_LOCKOUT_USER, "admin", 5, t),
	                 1);
	assert_int_equal(wsg_lockout_check(l, mg, &p, "bob", 3, t), 900 * SEC);
	assert_int_equal(wsg_lockout_unlock(l, mg, "bob", 3, t), 1);
	assert_int_equal(wsg_lockout_check(l, mg, &p, "bob", 3, t), 0);
	wsg_lockout_stats(l, t, &st);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].failures, 3);
	assert_int_equal(st.kind[WSG_LOCKOUT_USER].lockouts, 1);
	assert_int_equal(st.kind[mg].failures, 3);
	assert_int_equal(st.kind[mg].lockouts, 1);
	assert_int_equal(st.kind[mg].entries, 1);
	assert_int_equal(st.kind[WSG_LOCKOUT_CLIENT].entries, 0);
	wsg_lockout_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_locks_at_max_failures),
	        cmocka_unit_test(test_duration_expiry),
	        cmocka_unit_test(test_window),
	        cmocka_unit_test(test_window_change),
	        cmocka_unit_test(test_off),
	        cmocka_unit_test(test_unlock),
	        cmocka_unit_test(test_unlock_since),
	        cmocka_unit_test(test_keys),
	        cmocka_unit_test(test_client_keys),
	        cmocka_unit_test(test_capacity),
	        cmocka_unit_test(test_expired_reclaimed),
	        cmocka_unit_test(test_concurrency),
	        cmocka_unit_test(test_planes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
