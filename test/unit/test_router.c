/* Route matching: longest prefix on a segment boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "config.h"
#include "router.h"

static struct wsg_route_conf routes[] = {
        {.name = "root", .path = "/"},
        {.name = "services", .path = "/services/"},
        {.name = "echo", .path = "/services/Echo"},
        {.name = "echo-keep", .path = "/services/EchoKeep"},
};

static struct wsg_config cfg = {
        .routes = routes,
        .n_routes = sizeof(routes) / sizeof(routes[0]),
};

static const struct {
	const char *path;
	const char *route; /* NULL: no match */
} cases[] = {
        {"/services/Echo", "echo"},
        {"/services/Echo/", "echo"},
        {"/services/Echo/op", "echo"},
        {"/services/EchoKeep", "echo-keep"},
        {"/services/EchoKeeper", "services"},
        {"/services/EchoX", "services"},
        {"/services/", "services"},
        {"/services", "root"},
        {"/other", "root"},
        {"/", "root"},
};

static void
test_longest_prefix_on_segment_boundary(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		routes[i].path_len = strlen(routes[i].path);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct wsg_route_conf *r =
		        wsg_router_match(&cfg, cases[i].path);

		assert_non_null(r);
		assert_string_equal(r->name, cases[i].route);
	}
}

static void
test_no_match_without_root_route(void **state)
{
	struct wsg_config small = {.routes = &routes[2], .n_routes = 2};

	routes[2].path_len = strlen(routes[2].path);
	routes[3].path_len = strlen(routes[3].path);
	assert_null(wsg_router_match(&small, "/services"));
	assert_null(wsg_router_match(&small, "/services/Ech"));
	assert_null(wsg_router_match(&small, "/"));
	assert_non_null(wsg_router_match(&small, "/services/Echo"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_longest_prefix_on_segment_boundary),
	        cmocka_unit_test(test_no_match_without_root_route),
	};

	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
