/* Per-route counters and their JSON view for GET /management/routes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <string.h>

#include "config.h"
#include "stats.h"
#include "types.h"

static char *echo_up[] = {"http://127.0.0.1:9000/Echo",
                          "http://127.0.0.1:9001/Echo"};
static char *echo_roles[] = {"echo-users"};
static char *other_up[] = {"http://127.0.0.1:9002/Other"};

static struct wsg_route_conf routes[] = {
        {.name = "echo",
         .path = "/services/Echo",
         .upstreams = echo_up,
         .n_upstreams = 2,
         .password_types = WSG_PWTYPE_DIGEST | WSG_PWTYPE_TEXT,
         .roles = echo_roles,
         .n_roles = 1,
         .strip_security_header = 1,
         .timeout = 30,
         .auth = WSG_AUTH_WSSE},
        {.name = "other",
         .path = "/services/Other",
         .upstreams = other_up,
         .n_upstreams = 1,
         .password_types = WSG_PWTYPE_TEXT,
         .require_tls = 1,
         .require_timestamp = 1,
         .timeout = 5,
         .auth = WSG_AUTH_WSSE_OR_BASIC},
};

static struct wsg_config cfg = {
        .routes = routes,
        .n_routes = 2,
};

static void
test_record_and_read(void **state)
{
	struct wsg_stats *s = wsg_stats_new(routes, 2);
	struct wsg_route_conf elsewhere = routes[0];
	struct wsg_stats_counts c;

	wsg_stats_record(s, &routes[0], 200, WSG_FAULT_NONE);
	wsg_stats_record(s, &routes[0], 500, WSG_FAULT_FAILED_AUTHENTICATION);
	wsg_stats_record(s, &routes[0], 500, WSG_FAULT_FAILED_AUTHENTICATION);
	wsg_stats_record(s, &routes[1], 504, WSG_FAULT_UPSTREAM_TIMEOUT);
	wsg_stats_record(s, NULL, 404, WSG_FAULT_NOT_FOUND);
	/* A route that is not in the array counts as no route. */
	wsg_stats_record(s, &elsewhere, 200, WSG_FAULT_NONE);
	/* An out-of-range fault counts as a request only; an out-of-range
	 * status in class 0. */
	wsg_stats_record(s, &routes[1], 999, WSG_FAULT__COUNT);

	wsg_stats_read(s, 0, &c);
	assert_int_equal(c.requests, 3);
	assert_int_equal(c.faults, 2);
	assert_int_equal(c.by_fault[WSG_FAULT_FAILED_AUTHENTICATION], 2);
	assert_int_equal(c.by_class[2], 1);
	assert_int_equal(c.by_class[5], 2);
	assert_int_equal(c.by_class[4], 0);
	wsg_stats_read(s, 1, &c);
	assert_int_equal(c.requests, 2);
	assert_int_equal(c.faults, 1);
	assert_int_equal(c.by_fault[WSG_FAULT_UPSTREAM_TIMEOUT], 1);
	assert_int_equal(c.by_class[5], 1);
	assert_int_equal(c.by_class[0], 1);
	wsg_stats_read(s, WSG_STATS_NO_ROUTE, &c);
	assert_int_equal(c.requests, 2);
	assert_int_equal(c.faults, 1);
	assert_int_equal(c.by_fault[WSG_FAULT_NOT_FOUND], 1);
	assert_int_equal(c.by_class[4], 1);
	assert_int_equal(c.by_class[2], 1);
	wsg_stats_free(s);
	wsg_stats_free(NULL);
}

static void
test_routes_json(void **state)
{
	struct wsg_stats *s = wsg_stats_new(routes, 2);
	json_t *j, *echo, *other, *by;

	wsg_stats_record(s, &routes[0], 200, WSG_FAULT_NONE);
	wsg_stats_record(s, &routes[0], 500, WSG_FAULT_MESSAGE_EXPIRED);
	wsg_stats_record(s, NULL, 404, WSG_FAULT_NOT_FOUND);
	j = wsg_stats_routes_json(&cfg, s);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
	echo = json_array_get(json_object_get(j, "list"), 0);
	other = json_array_get(json_object_get(j, "list"), 1);
	assert_string_equal(json_string_value(json_object_get(echo, "name")),
	                    "echo");
	assert_string_equal(json_string_value(json_object_get(echo, "path")),
	                    "/services/Echo");
	assert_int_equal(json_array_size(json_object_get(echo, "upstreams")),
	                 2);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(echo, "passwordTypes"), 0)),
	                    "PasswordDigest");
	assert_int_equal(
	        json_array_size(json_object_get(echo, "passwordTypes")), 2);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(echo, "roles"), 0)),
	                    "echo-users");
	assert_true(json_is_false(json_object_get(echo, "requireTls")));
	assert_true(json_is_true(json_object_get(other, "requireTls")));
	assert_true(json_is_true(json_object_get(other, "requireTimestamp")));
	assert_string_equal(json_string_value(json_object_get(other, "auth")),
	                    "wsse_or_basic");
	assert_int_equal(json_array_size(json_object_get(other, "roles")), 0);
	assert_int_equal(json_integer_value(json_object_get(echo, "requests")),
	                 2);
	assert_int_equal(json_integer_value(json_object_get(echo, "faults")),
	                 1);
	by = json_object_get(echo, "faultsByCode");
	assert_int_equal(json_object_size(by), 1);
	assert_int_equal(
	        json_integer_value(json_object_get(by, "wsse:MessageExpired")),
	        1);
	assert_int_equal(
	        json_object_size(json_object_get(other, "faultsByCode")), 0);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(j, "unrouted"), "requests")),
	                 1);
	json_decref(j);
	wsg_stats_free(s);
}

#define THREADS 4
#define PER_THREAD 100000

static struct wsg_stats *shared;

static void *
recorder(void *arg)
{
	size_t i;

	for (i = 0; i < PER_THREAD; i++)
		wsg_stats_record(shared, &routes[i % 2], i % 4 == 0 ? 500 : 200,
		                 i % 4 == 0 ? WSG_FAULT_FAILED_AUTHENTICATION
		                            : WSG_FAULT_NONE);
	return NULL;
}

/* Concurrent workers lose no count. */
static void
test_concurrent(void **state)
{
	struct wsg_stats_counts c;
	pthread_t t[THREADS];
	size_t i;

	shared = wsg_stats_new(routes, 2);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, recorder, NULL),
		                 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	wsg_stats_read(shared, 0, &c);
	assert_int_equal(c.requests, THREADS * PER_THREAD / 2);
	assert_int_equal(c.faults, THREADS * PER_THREAD / 4);
	wsg_stats_read(shared, 1, &c);
	assert_int_equal(c.requests, THREADS * PER_THREAD / 2);
	assert_int_equal(c.faults, 0);
	wsg_stats_free(shared);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_record_and_read),
	        cmocka_unit_test(test_routes_json),
	        cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
