/*
 * The normal form of a request path, so that the route is matched on the
 * path the upstream will see and that same path is forwarded (DESIGN 3.3).
 */
#ifndef WSG_PATH_H
#define WSG_PATH_H

#include <stddef.h>

/*
 * Normalises the `len` bytes of the raw path `raw` (RFC 3986 6.2.2):
 * percent-encoded unreserved characters are decoded, other percent-encodings
 * get upper-case hex, repeated slashes are merged. Refused, because an
 * upstream may read them as another path: an encoded '/', '\', '%', ';', NUL
 * or control character; a raw '\' or ';' (path parameters); "." and ".."
 * segments, raw or encoded; invalid percent-encoding; any byte that is not
 * a pchar or '/'; a path not starting with '/'. Case is kept.
 * Returns WSG_OK with *out (the caller frees it; never longer than `len`),
 * or WSG_ERR_INVAL with *reason (static text for the audit log).
 */
int wsg_path_normalize(const char *raw, size_t len, char **out,
                       const char **reason);

/*
 * Splits an HTTP request-target into its normalised path (see
 * wsg_path_normalize) and its query. Origin-form ("/p?q") and absolute-form
 * ("http[s]://authority/p?q", RFC 9112 3.2.2: only its path and query count)
 * are accepted; asterisk- and authority-form, other schemes, a fragment and
 * a query byte that is not visible ASCII are refused. Returns WSG_OK with
 * *path and *query (NULL when there is none; the caller frees both), or
 * WSG_ERR_INVAL with *reason (static text).
 */
int wsg_path_from_target(const char *target, char **path, char **query,
                         const char **reason);

#endif
