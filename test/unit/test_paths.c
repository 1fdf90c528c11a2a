/* Where the schema and the dashboard come from (src/paths.h): the config,
 * the source tree for the build tree's own binary only, else $(pkgdatadir);
 * never the working directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

static const struct wsg_paths_where build = {
        .exe = "/b/src/wssgate",
        .build_exe = "/b/src/wssgate",
        .srcdir = "/s",
        .datadir = "/usr/share/wssgate",
};

static void
test_uninstalled_is_an_exact_match(void **state)
{
	assert_true(wsg_paths_uninstalled("/b/src/wssgate", "/b/src/wssgate"));
	/* An installed copy, a neighbour in the build tree, a prefix. */
	assert_false(
	        wsg_paths_uninstalled("/usr/sbin/wssgate", "/b/src/wssgate"));
	assert_false(wsg_paths_uninstalled("/b/test/unit/test_paths",
	                                   "/b/src/wssgate"));
	assert_false(
	        wsg_paths_uninstalled("/b/src/wssgate2", "/b/src/wssgate"));
	assert_false(wsg_paths_uninstalled("/b/src/wssgat", "/b/src/wssgate"));
	assert_false(wsg_paths_uninstalled("/b/src/wssgate (deleted)",
	                                   "/b/src/wssgate"));
	/* No /proc (exe unknown), or a relative name: installed. */
	assert_false(wsg_paths_uninstalled(NULL, "/b/src/wssgate"));
	assert_false(wsg_paths_uninstalled("src/wssgate", "src/wssgate"));
	assert_false(wsg_paths_uninstalled("/b/src/wssgate", NULL));
}

static void
check_pick(const struct wsg_paths_where *w, enum wsg_paths_item item,
           const char *configured, const char *want,
           enum wsg_paths_origin want_origin)
{
	enum wsg_paths_origin origin = (enum wsg_paths_origin) - 1;
	char *path = wsg_paths_pick(w, item, configured, &origin);

	assert_string_equal(path, want);
	assert_int_equal(origin, want_origin);
	free(path);
}

static void
test_pick_order(void **state)
{
	struct wsg_paths_where installed = build;

	installed.exe = "/usr/sbin/wssgate";
	check_pick(&build, WSG_PATHS_SCHEMA, NULL, "/s/schemas/userstore.sql",
	           WSG_PATHS_BUILD_TREE);
	check_pick(&build, WSG_PATHS_DASHBOARD, NULL, "/s/dashboard",
	           WSG_PATHS_BUILD_TREE);
	check_pick(&installed, WSG_PATHS_SCHEMA, NULL,
	           "/usr/share/wssgate/userstore.sql", WSG_PATHS_INSTALLED);
	check_pick(&installed, WSG_PATHS_DASHBOARD, NULL,
	           "/usr/share/wssgate/dashboard", WSG_PATHS_INSTALLED);
	/* The config key wins over both. */
	check_pick(&build, WSG_PATHS_SCHEMA, "/etc/x.sql", "/etc/x.sql",
	           WSG_PATHS_CONFIG);
	check_pick(&installed, WSG_PATHS_DASHBOARD, "/srv/dash", "/srv/dash",
	           WSG_PATHS_CONFIG);
	installed.exe = NULL;
	check_pick(&installed, WSG_PATHS_SCHEMA, NULL,
	           "/usr/share/wssgate/userstore.sql", WSG_PATHS_INSTALLED);
	assert_string_equal(wsg_paths_origin_name(WSG_PATHS_BUILD_TREE),
	                    "build tree");
}

/*
 * This program lives in the build tree but is not its wssgate: it gets
 * $(pkgdatadir), even with the source tree as its working directory.
 */
static void
test_find_for_this_process(void **state)
{
	enum wsg_paths_origin origin;
	char *path;

	assert_int_equal(chdir(WSG_TEST_SRCDIR), 0);
	path = wsg_paths_find(WSG_PATHS_SCHEMA, NULL, &origin);
	assert_string_equal(path, WSG_DATADIR "/userstore.sql");
	assert_int_equal(origin, WSG_PATHS_INSTALLED);
	free(path);
	path = wsg_paths_find(WSG_PATHS_DASHBOARD, "/srv/dash", &origin);
	assert_string_equal(path, "/srv/dash");
	assert_int_equal(origin, WSG_PATHS_CONFIG);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_uninstalled_is_an_exact_match),
	        cmocka_unit_test(test_pick_order),
	        cmocka_unit_test(test_find_for_this_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
