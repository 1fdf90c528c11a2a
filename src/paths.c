#include "paths.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* configure --disable-build-tree-files: no build path compiled in, so no
 * binary is ever taken for the build tree's own. */
#ifndef WSG_BUILD_EXE
#define WSG_BUILD_EXE NULL
#define WSG_SRCDIR NULL
#endif

int
wsg_paths_uninstalled(const char *exe, const char *build_exe)
{
	return exe != NULL && build_exe != NULL && exe[0] == '/' &&
	       strcmp(exe, build_exe) == 0;
}

char *
wsg_paths_pick(const struct wsg_paths_where *where, enum wsg_paths_item item,
               const char *configured, enum wsg_paths_origin *origin)
{
	enum wsg_paths_origin from;
	char *path;

	if (configured != NULL) {
		from = WSG_PATHS_CONFIG;
		path = wsg_mem_strdup(configured);
	} else if (wsg_paths_uninstalled(where->exe, where->build_exe)) {
		from = WSG_PATHS_BUILD_TREE;
		path = wsg_mem_printf("%s/%s", where->srcdir,
		                      item == WSG_PATHS_SCHEMA
		                              ? "schemas/userstore.sql"
		                              : "dashboard");
	} else {
		from = WSG_PATHS_INSTALLED;
		path = wsg_mem_printf("%s/%s", where->datadir,
		                      item == WSG_PATHS_SCHEMA ? "userstore.sql"
		                                               : "dashboard");
	}
	if (origin != NULL)
		*origin = from;
	return path;
}

char *
wsg_paths_find(enum wsg_paths_item item, const char *configured,
               enum wsg_paths_origin *origin)
{
	char exe[PATH_MAX];
	struct wsg_paths_where where = {
	        .build_exe = WSG_BUILD_EXE,
	        .srcdir = WSG_SRCDIR,
	        .datadir = WSG_DATADIR,
	};

	/* No realpath of WSG_BUILD_EXE: a symbolic link planted there must
	 * not make an installed binary look uninstalled. configure compiled
	 * in the physical path. */
	if (configured == NULL && realpath("/proc/self/exe", exe) != NULL)
		where.exe = exe;
	return wsg_paths_pick(&where, item, configured, origin);
}

const char *
wsg_paths_origin_name(enum wsg_paths_origin origin)
{
	switch (origin) {
	case WSG_PATHS_CONFIG: return "config";
	case WSG_PATHS_BUILD_TREE: return "build tree";
	case WSG_PATHS_INSTALLED: return "installed";
	}
	return "?";
}
