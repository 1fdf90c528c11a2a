/*
 * Where the program's own data is found: the schema that `db init` runs
 * and the dashboard's files. In order: the config key when it is set; the
 * source tree when the running binary is the build tree's own, uninstalled
 * one (its /proc/self/exe is the build-tree path compiled in, as libtool's
 * uninstalled wrappers decide); else the configure-time $(pkgdatadir).
 * Never the working directory, and an installed binary never reads the
 * tree it was built in (someone else may have recreated it).
 */
#ifndef WSG_PATHS_H
#define WSG_PATHS_H

enum wsg_paths_item {
	WSG_PATHS_SCHEMA,    /* userstore.sql */
	WSG_PATHS_DASHBOARD, /* the dashboard's folder */
};

enum wsg_paths_origin {
	WSG_PATHS_CONFIG,     /* a config key */
	WSG_PATHS_BUILD_TREE, /* the source tree of an uninstalled binary */
	WSG_PATHS_INSTALLED,  /* $(pkgdatadir) */
};

/* What the choice depends on; wsg_paths_find() fills it from the process. */
struct wsg_paths_where {
	const char *exe; /* canonical path of the running binary, or NULL */
	const char *build_exe; /* the build tree's binary, canonical */
	const char *srcdir;    /* the source tree, canonical */
	const char *datadir;   /* $(pkgdatadir) */
};

/* 1 when `exe` is exactly `build_exe` (both non-NULL), else 0. */
int wsg_paths_uninstalled(const char *exe, const char *build_exe);

/*
 * The path of `item` given `where`: `configured` (the config key's
 * absolute path, or NULL when unset) wins. Returns a malloc'ed path (caller
 * frees), existing or not; `*origin` (may be NULL) says which rule chose it.
 */
char *wsg_paths_pick(const struct wsg_paths_where *where,
                     enum wsg_paths_item item, const char *configured,
                     enum wsg_paths_origin *origin);

/* wsg_paths_pick() for this process and the paths compiled in. */
char *wsg_paths_find(enum wsg_paths_item item, const char *configured,
                     enum wsg_paths_origin *origin);

/* "config", "build tree" or "installed". */
const char *wsg_paths_origin_name(enum wsg_paths_origin origin);

#endif
