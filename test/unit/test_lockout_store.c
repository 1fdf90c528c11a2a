/*
 * lockout_store.c against a real, private MariaDB (test/unit/run-db): the
 * one counting statement's decisions with the clock under the test's
 * control (counted, the lock started by exactly the max_failures-th,
 * failures while locked neither counted nor extending it, the window
 * starting again, expiry), planes and names kept apart byte for byte, the
 * unlock, what is never counted, and concurrent failures on several
 * connections each counted once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "db.h"
#include "dbtest.h"
#include "err.h"
#include "lockout_store.h"
#include "userstore.h"

#define T0 1700000000000LL /* ms since the epoch */

static struct wsg_db_params params;
static struct wsg_db_conn *db;
/* 3 failures within 10 s lock for 20 s. */
static const struct wsg_lockout_conf policy = {3, 10, 20, 64, NULL, 1};

static int
group_setup(void **state)
{
	(void)state;
	return dbtest_open(&params, 60, &db);
}

static int
group_teardown(void **state)
{
	(void)state;
	wsg_db_close(db);
	return 0;
}

static int
reset(void **state)
{
	struct wsg_error err;

	(void)state;
	wsg_error_clear(&err);
	if (wsg_db_exec_script(db, "DELETE FROM lockouts", &err) != WSG_OK)
		fail_msg("%s", err.reason);
	return 0;
}

static enum wsg_lockout_result
fail_at(enum wsg_lockout_kind kind, const char *name, size_t len, int64_t now)
{
	enum wsg_lockout_result res;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_lockout_store_fail_conn(db, kind, &policy, name, len, now, NULL,
	                                &res, &err) != WSG_OK)
		fail_msg("count: %s", err.reason);
	return res;
}

static enum wsg_lockout_result
fail_user(const char *name, int64_t now)
{
	return fail_at(WSG_LOCKOUT_USER, name, strlen(name), now);
}

static int
locked_at(enum wsg_lockout_kind kind, const char *name, size_t len, int64_t now)
{
	struct wsg_error err;
	int locked = -1;

	wsg_error_clear(&err);
	if (wsg_lockout_store_check_conn(db, kind, name, len, now, &locked,
	                                 &err) != WSG_OK)
		fail_msg("check: %s", err.reason);
	return locked;
}

static int
user_locked(const char *name, int64_t now)
{
	return locked_at(WSG_LOCKOUT_USER, name, strlen(name), now);
}

static void
test_the_max_failures_th_starts_the_lock(void **state)
{
	(void)state;
	assert_int_equal(fail_user("alice", T0), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user("alice", T0 + 1000), WSG_LOCKOUT_COUNTED);
	assert_false(user_locked("alice", T0 + 1500));
	assert_int_equal(fail_user("alice", T0 + 2000), WSG_LOCKOUT_STARTED);
	assert_true(user_locked("alice", T0 + 2001));
	/* Guesses while locked: not counted, the lock not extended. */
	assert_int_equal(fail_user("alice", T0 + 3000), WSG_LOCKOUT_LOCKED);
	assert_int_equal(fail_user("alice", T0 + 21999), WSG_LOCKOUT_LOCKED);
	assert_true(user_locked("alice", T0 + 21999));
	assert_false(user_locked("alice", T0 + 22000));
	/* After the lock the count starts from zero. */
	assert_int_equal(fail_user("alice", T0 + 22000), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user("alice", T0 + 22001), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user("alice", T0 + 22002), WSG_LOCKOUT_STARTED);
}

static void
test_failures_older_than_the_window_are_forgotten(void **state)
{
	(void)state;
	assert_int_equal(fail_user("bob", T0), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user("bob", T0 + 9000), WSG_LOCKOUT_COUNTED);
	/* The window began at T0: at T0 + 10 s it starts again with 1. */
	assert_int_equal(fail_user("bob", T0 + 10000), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user("bob", T0 + 11000), WSG_LOCKOUT_COUNTED);
	assert_false(user_locked("bob", T0 + 11000));
	assert_int_equal(fail_user("bob", T0 + 12000), WSG_LOCKOUT_STARTED);
}

static void
test_one_failure_may_lock(void **state)
{
	const struct wsg_lockout_conf one = {1, 10, 20, 64, NULL, 1};
	enum wsg_lockout_result res;
	struct wsg_error err;

	(void)state;
	wsg_error_clear(&err);
	assert_int_equal(wsg_lockout_store_fail_conn(db, WSG_LOCKOUT_USER, &one,
	                                             "carol", 5, T0, NULL, &res,
	                                             &err),
	                 WSG_OK);
	assert_int_equal(res, WSG_LOCKOUT_STARTED);
	assert_true(user_locked("carol", T0));
}

static void
test_planes_and_names_are_apart(void **state)
{
	static const char nul[] = {'d', 'a', 'n', '\0', 'x'};
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		fail_user("dan", T0 + i);
	assert_true(user_locked("dan", T0 + 10));
	assert_false(locked_at(WSG_LOCKOUT_MGMT_USER, "dan", 3, T0 + 10));
	assert_false(user_locked("Dan", T0 + 10));
	assert_false(user_locked("dan ", T0 + 10));
	assert_false(user_locked("da", T0 + 10));
	assert_false(locked_at(WSG_LOCKOUT_USER, nul, sizeof(nul), T0 + 10));
	for (i = 0; i < 3; i++)
		assert_int_equal(fail_at(WSG_LOCKOUT_MGMT_USER, nul,
		                         sizeof(nul), T0 + i),
		                 i == 2 ? WSG_LOCKOUT_STARTED
		                        : WSG_LOCKOUT_COUNTED);
	assert_true(
	        locked_at(WSG_LOCKOUT_MGMT_USER, nul, sizeof(nul), T0 + 10));
	assert_false(locked_at(WSG_LOCKOUT_MGMT_USER, "dan", 3, T0 + 10));
}

static void
test_unlock_ends_both_planes(void **state)
{
	struct wsg_error err;
	int was = -1, i;

	(void)state;
	for (i = 0; i < 3; i++) {
		fail_user("erin", T0 + i);
		fail_at(WSG_LOCKOUT_MGMT_USER, "erin", 4, T0 + i);
	}
	fail_user("frank", T0);
	wsg_error_clear(&err);
	assert_int_equal(
	        wsg_lockout_store_unlock(db, "erin", 4, T0 + 10, &was, &err),
	        WSG_OK);
	assert_int_equal(was, 1);
	assert_false(user_locked("erin", T0 + 10));
	assert_false(locked_at(WSG_LOCKOUT_MGMT_USER, "erin", 4, T0 + 10));
	/* Its failures are forgotten too. */
	assert_int_equal(fail_user("erin", T0 + 11), WSG_LOCKOUT_COUNTED);
	assert_int_equal(fail_user("erin", T0 + 12), WSG_LOCKOUT_COUNTED);
	assert_int_equal(
	        wsg_lockout_store_unlock(db, "frank", 5, T0 + 10, &was, &err),
	        WSG_OK);
	assert_int_equal(was, 0);
	assert_int_equal(
	        wsg_lockout_store_unlock(db, "nobody", 6, T0 + 10, &was, &err),
	        WSG_OK);
	assert_int_equal(was, 0);
}

static void
test_nothing_to_count(void **state)
{
	const struct wsg_lockout_conf off = {0, 10, 20, 64, NULL, 1};
	char name[WSG_LOCKOUT_MAX_KEY + 1];
	enum wsg_lockout_result res = WSG_LOCKOUT_COUNTED;
	struct wsg_error err;

	(void)state;
	memset(name, 'n', sizeof(name));
	wsg_error_clear(&err);
	assert_int_equal(wsg_lockout_store_fail_conn(db, WSG_LOCKOUT_USER, &off,
	                                             "gus", 3, T0, NULL, &res,
	                                             &err),
	                 WSG_ERR_INVAL);
	assert_int_equal(res, WSG_LOCKOUT_OFF);
	assert_int_equal(
	        wsg_lockout_store_fail_conn(db, WSG_LOCKOUT_USER, &policy, name,
	                                    sizeof(name), T0, NULL, &res, &err),
	        WSG_ERR_INVAL);
	/* Asked about like any name, never locked. */
	assert_false(locked_at(WSG_LOCKOUT_USER, name, sizeof(name), T0));
}

#define THREADS 8
#define EACH 5

struct racer {
	pthread_barrier_t *start;
	int started;
	int counted;
	int err;
};

static void *
racer_run(void *arg)
{
	const struct wsg_lockout_conf many = {THREADS * EACH, 60, 60, 64,
	                                      NULL,           1};
	struct racer *r = arg;
	enum wsg_lockout_result res;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	int i;

	wsg_error_clear(&err);
	if (wsg_db_connect(&params, &c, &err) != WSG_OK) {
		r->err = 1;
		pthread_barrier_wait(r->start);
		return NULL;
	}
	pthread_barrier_wait(r->start);
	for (i = 0; i < EACH; i++) {
		if (wsg_lockout_store_fail_conn(c, WSG_LOCKOUT_USER, &many,
		                                "hal", 3, T0 + i, NULL, &res,
		                                &err) != WSG_OK)
			r->err = 1;
		else if (res == WSG_LOCKOUT_STARTED)
			r->started++;
		else if (res == WSG_LOCKOUT_COUNTED)
			r->counted++;
	}
	wsg_db_close(c);
	return NULL;
}

/* THREADS connections count EACH failures at once: every one is counted
 * once, and exactly the last starts the lock. */
static void
test_concurrent_failures_each_count_once(void **state)
{
	pthread_t th[THREADS];
	struct racer r[THREADS];
	pthread_barrier_t start;
	int i, started = 0, counted = 0;

	(void)state;
	pthread_barrier_init(&start, NULL, THREADS);
	memset(r, 0, sizeof(r));
	for (i = 0; i < THREADS; i++) {
		r[i].start = &start;
		assert_int_equal(pthread_create(&th[i], NULL, racer_run, &r[i]),
		                 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].err, 0);
		started += r[i].started;
		counted += r[i].counted;
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(started, 1);
	assert_int_equal(counted, THREADS * EACH - 1);
	assert_true(user_locked("hal", T0 + 100));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_the_max_failures_th_starts_the_lock,
	                               reset),
	        cmocka_unit_test_setup(
	                test_failures_older_than_the_window_are_forgotten,
	                reset),
	        cmocka_unit_test_setup(test_one_failure_may_lock, reset),
	        cmocka_unit_test_setup(test_planes_and_names_are_apart, reset),
	        cmocka_unit_test_setup(test_unlock_ends_both_planes, reset),
	        cmocka_unit_test_setup(test_nothing_to_count, reset),
	        cmocka_unit_test_setup(test_concurrent_failures_each_count_once,
	                               reset),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
