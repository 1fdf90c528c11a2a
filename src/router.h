/* Maps a request path to its route: longest prefix on a segment boundary. */
#ifndef WSG_ROUTER_H
#define WSG_ROUTER_H

#include "config.h"

/*
 * Returns the route whose `path` is the longest prefix of `path` ending at
 * a segment boundary ("/services/Echo" matches "/services/Echo" and
 * "/services/Echo/x" but not "/services/EchoKeep"), or NULL. `path` is the
 * request path without query string. The result lives as long as `cfg`.
 */
const struct wsg_route_conf *wsg_router_match(const struct wsg_config *cfg,
                                              const char *path);

#endif
