/* The node list of userstore.hosts: next-node order, backoff (the entry
 * syntax: test_hostport.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dbnodes.h"

static void
test_single_node_from_host_port_socket(void **state)
{
	struct wsg_dbnodes d;

	(void)state;
	wsg_dbnodes_init(&d, NULL, 0, "localhost", 3306, "/run/m.sock");
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].host, "localhost");
	assert_string_equal(d.v[0].socket, "/run/m.sock");
	/* Failed or not, the only node is the one to try. */
	wsg_dbnodes_failed(&d, 0, 1000);
	assert_int_equal(wsg_dbnodes_pick(&d, 1000), 0);
	assert_false(wsg_dbnodes_other_usable(&d, 0, 1000));
	wsg_dbnodes_clear(&d);
}

static void
test_next_node_backoff_and_return(void **state)
{
	char *entries[] = {"10.0.0.1:3306", "10.0.0.2:3306", "[::1]:3306"};
	struct wsg_dbnodes d;
	int64_t t = 1000;

	(void)state;
	wsg_dbnodes_init(&d, entries, 3, "ignored", 1, "/ignored.sock");
	assert_int_equal(d.n, 3);
	assert_string_equal(d.v[2].host, "::1");
	assert_null(d.v[0].socket);
	assert_int_equal(wsg_dbnodes_pick(&d, t), 0);
	/* Node 0 fails: the next one, while 0 backs off. */
	wsg_dbnodes_failed(&d, 0, t);
	assert_int_equal(wsg_dbnodes_pick(&d, t), 1);
	assert_true(wsg_dbnodes_other_usable(&d, 1, t));
	/* Node 1 too: node 2. */
	wsg_dbnodes_failed(&d, 1, t);
	assert_int_equal(wsg_dbnodes_pick(&d, t), 2);
	assert_false(wsg_dbnodes_other_usable(&d, 2, t));
	/* All failed: the one whose backoff ends first. */
	wsg_dbnodes_failed(&d, 2, t + 10);
	assert_int_equal(wsg_dbnodes_pick(&d, t + 20), 0);
	/* Node 0's backoff is over: usable again. */
	assert_true(wsg_dbnodes_other_usable(&d, 2, t + 2000));
	assert_int_equal(wsg_dbnodes_pick(&d, t + 2000), 0);
	/* A node that serves again becomes the one new connections use. */
	wsg_dbnodes_ok(&d, 1);
	assert_int_equal(d.v[1].backoff_ms, 0);
	assert_int_equal(wsg_dbnodes_pick(&d, t + 30), 1);
	wsg_dbnodes_clear(&d);
}

/* Failures noticed together count once; repeated outages back off longer,
 * up to a bound of a few seconds. */
static void
test_backoff_grows_once_per_failure_and_is_bounded(void **state)
{
	char *entries[] = {"a:1", "b:2"};
	struct wsg_dbnodes d;
	unsigned first, prev;
	int64_t t = 0;
	int i;

	(void)state;
	wsg_dbnodes_init(&d, entries, 2, NULL, 0, NULL);
	wsg_dbnodes_failed(&d, 0, t);
	first = d.v[0].backoff_ms;
	assert_true(first > 0);
	wsg_dbnodes_failed(&d, 0, t + 1);
	assert_int_equal(d.v[0].backoff_ms, first);
	prev = first;
	for (i = 0; i < 20; i++) {
		t = d.v[0].retry_at_ms;
		wsg_dbnodes_failed(&d, 0, t);
		assert_true(d.v[0].backoff_ms >= prev);
		assert_true(d.v[0].backoff_ms <= 5000);
		prev = d.v[0].backoff_ms;
	}
	assert_true(prev > first);
	wsg_dbnodes_clear(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_single_node_from_host_port_socket),
	        cmocka_unit_test(test_next_node_backoff_and_return),
	        cmocka_unit_test(
	                test_backoff_grows_once_per_failure_and_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
