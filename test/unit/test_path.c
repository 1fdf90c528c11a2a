/* Request path normal form (issue 12, item 3): what routes match and what
 * the upstream receives are the same string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "path.h"
#include "router.h"
#include "types.h"

/* raw path -> normal form, or NULL with a reason containing `why`. */
static const struct {
	const char *raw;
	const char *norm;
	const char *why;
} paths[] = {
        {"/", "/", NULL},
        {"/services/Echo", "/services/Echo", NULL},
        {"/services/Echo/", "/services/Echo/", NULL},
        /* Unreserved characters decoded, in either hex case. */
        {"/services/%41dmin", "/services/Admin", NULL},
        {"/services/%41%64%6d%69%6E", "/services/Admin", NULL},
        {"/a%2Db%2e%5F%7e%30", "/a-b._~0", NULL},
        {"/a%2Eb", "/a.b", NULL},
        /* Other encodings kept, hex upper-cased. */
        {"/a%3a%3Fb%20c%c3%a9", "/a%3A%3Fb%20c%C3%A9", NULL},
        {"/a%23%3d", "/a%23%3D", NULL},
        /* Repeated slashes merged. */
        {"//services//Admin", "/services/Admin", NULL},
        {"/services///Admin///", "/services/Admin/", NULL},
        {"//", "/", NULL},
        /* Allowed raw pchars; case kept. */
        {"/a:b@c!$&'()*+,=d", "/a:b@c!$&'()*+,=d", NULL},
        {"/Services/ADMIN", "/Services/ADMIN", NULL},
        {"/.well", "/.well", NULL},
        {"/a/..b/c..", "/a/..b/c..", NULL},
        /* Refused. */
        {"", NULL, "start with '/'"},
        {"services", NULL, "start with '/'"},
        {"%2Fservices", NULL, "start with '/'"},
        {"/services/Admin;x=1", NULL, "';'"},
        {"/services;/Admin", NULL, "';'"},
        {"/a%3bb", NULL, "encoded ';'"},
        {"/a%2Fb", NULL, "encoded '/'"},
        {"/a%2fb", NULL, "encoded '/'"},
        {"/a%5cb", NULL, "encoded '\\'"},
        {"/a\\b", NULL, "'\\'"},
        {"/a%00", NULL, "NUL"},
        {"/a%2500", NULL, "encoded '%'"},
        {"/a%0a", NULL, "control"},
        {"/a%7F", NULL, "control"},
        {"/a%", NULL, "percent-encoding"},
        {"/a%4", NULL, "percent-encoding"},
        {"/a%zz", NULL, "percent-encoding"},
        {"/a%g1", NULL, "percent-encoding"},
        {"/a%1g", NULL, "percent-encoding"},
        {"/.", NULL, "segment"},
        {"/..", NULL, "segment"},
        {"/a/./b", NULL, "segment"},
        {"/a/../b", NULL, "segment"},
        {"/a/.", NULL, "segment"},
        {"/a/..", NULL, "segment"},
        {"/a/%2e/b", NULL, "segment"},
        {"/a/%2E%2e/b", NULL, "segment"},
        {"/a/.%2e", NULL, "segment"},
        {"/a//./b", NULL, "segment"},
        {"/a b", NULL, "not allowed"},
        {"/a\"b", NULL, "not allowed"},
        {"/a<b>", NULL, "not allowed"},
        {"/a|b", NULL, "not allowed"},
        {"/a#b", NULL, "not allowed"},
        {"/a?b", NULL, "not allowed"},
        {"/a\x01", NULL, "not allowed"},
        {"/a\x7f", NULL, "not allowed"},
        {"/a\xc3\xa9", NULL, "not allowed"},
};

static void
test_normalize_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *reason = "unset";
		char *out = (char *)"unset";
		int rc = wsg_path_normalize(paths[i].raw, strlen(paths[i].raw),
		                            &out, &reason);

		if (paths[i].norm != NULL) {
			if (rc != WSG_OK)
				fail_msg("%s: refused (%s)", paths[i].raw,
				         reason);
			assert_null(reason);
			assert_string_equal(out, paths[i].norm);
			assert_true(strlen(out) <= strlen(paths[i].raw));
		} else {
			if (rc != WSG_ERR_INVAL)
				fail_msg("%s: accepted as %s", paths[i].raw,
				         out);
			assert_null(out);
			assert_non_null(reason);
			if (strstr(reason, paths[i].why) == NULL)
				fail_msg("%s: reason \"%s\" lacks \"%s\"",
				         paths[i].raw, reason, paths[i].why);
		}
		free(out);
	}
}

/* The normal form is a fixed point: normalising it again changes nothing. */
static void
test_normalize_is_idempotent(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *reason;
		char *again;

		if (paths[i].norm == NULL)
			continue;
		assert_int_equal(wsg_path_normalize(paths[i].norm,
		                                    strlen(paths[i].norm),
		                                    &again, &reason),
		                 WSG_OK);
		assert_string_equal(again, paths[i].norm);
		free(again);
	}
}

/* Only `len` bytes are read: the caller passes the path part of a target. */
static void
test_normalize_reads_only_len(void **state)
{
	const char *reason;
	char *out;

	(void)state;
	assert_int_equal(wsg_path_normalize("/a%41?x;y", 5, &out, &reason),
	                 WSG_OK);
	assert_string_equal(out, "/aA");
	free(out);
	/* "%4" cut by len is invalid even if a digit follows in memory. */
	assert_int_equal(wsg_path_normalize("/a%41", 4, &out, &reason),
	                 WSG_ERR_INVAL);
	assert_null(out);
	/* A NUL inside `len` is a byte like any other: refused. */
	assert_int_equal(wsg_path_normalize("/a\0b", 4, &out, &reason),
	                 WSG_ERR_INVAL);
	assert_null(out);
}

static const struct {
	const char *target;
	const char *path;  /* NULL: refused */
	const char *query; /* NULL: none */
} targets[] = {
        {"/services/Echo", "/services/Echo", NULL},
        {"/services/%45cho?wsdl", "/services/Echo", "wsdl"},
        {"/s?", "/s", ""},
        {"/s?a=%41;b/../c?d", "/s", "a=%41;b/../c?d"},
        {"//services/Admin", "/services/Admin", NULL},
        {"http://h/services/%41dmin", "/services/Admin", NULL},
        {"HTTPS://user@h:1/a//b?q", "/a/b", "q"},
        {"http://h", "/", NULL},
        {"http://h?q", "/", "q"},
        {"http://h/", "/", NULL},
        {"*", NULL, NULL},
        {"h:80", NULL, NULL},
        {"ftp://h/a", NULL, NULL},
        {"http:/a", NULL, NULL},
        {"services", NULL, NULL},
        {"/a;b?q", NULL, NULL},
        {"/a#f", NULL, NULL},
        {"/a?q#f", NULL, NULL},
        {"/a?q\x01", NULL, NULL},
        {"/a?q\xc3\xa9", NULL, NULL},
        {"http://h#f", NULL, NULL},
};

static void
test_from_target_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		const char *reason;
		char *path, *query;
		int rc = wsg_path_from_target(targets[i].target, &path, &query,
		                              &reason);

		if (targets[i].path == NULL) {
			if (rc != WSG_ERR_INVAL)
				fail_msg("%s: accepted as %s",
				         targets[i].target, path);
			assert_null(path);
			assert_null(query);
			assert_non_null(reason);
			continue;
		}
		if (rc != WSG_OK)
			fail_msg("%s: refused (%s)", targets[i].target, reason);
		assert_string_equal(path, targets[i].path);
		if (targets[i].query == NULL)
			assert_null(query);
		else
			assert_string_equal(query, targets[i].query);
		free(path);
		free(query);
	}
}

/* The case: nested routes see every spelling of Admin as Admin. */
static void
test_nested_route_sees_normal_form(void **state)
{
	static struct wsg_route_conf routes[] = {
	        {.name = "services", .path = "/services"},
	        {.name = "admin", .path = "/services/Admin"},
	};
	static const char *const spellings[] = {
	        "/services/%41dmin",         "/services//Admin",
	        "//services/Admin/x",        "/services/%41%44%4D%49%4E",
	        "http://h/services/Ad%6din",
	};
	struct wsg_config cfg = {.routes = routes, .n_routes = 2};
	size_t i;

	(void)state;
	routes[0].path_len = strlen(routes[0].path);
	routes[1].path_len = strlen(routes[1].path);
	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		const struct wsg_route_conf *r;
		const char *reason;
		char *path, *query;

		assert_int_equal(wsg_path_from_target(spellings[i], &path,
		                                      &query, &reason),
		                 WSG_OK);
		r = wsg_router_match(&cfg, path);
		assert_non_null(r);
		/* %44%4D%49%4E is "DMIN": case-sensitive, so the outer route.
		 */
		assert_string_equal(r->name, i == 3 ? "services" : "admin");
		free(path);
		free(query);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_normalize_table),
	        cmocka_unit_test(test_normalize_is_idempotent),
	        cmocka_unit_test(test_normalize_reads_only_len),
	        cmocka_unit_test(test_from_target_table),
	        cmocka_unit_test(test_nested_route_sees_normal_form),
	};

	return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
