#include "router.h"

#include <string.h>

static int
prefix_matches(const struct wsg_route_conf *rt, const char *path, size_t len)
{
	if (len < rt->path_len || memcmp(path, rt->path, rt->path_len) != 0)
		return 0;
	return len == rt->path_len || rt->path[rt->path_len - 1] == '/' ||
	       path[rt->path_len] == '/';
}

const struct wsg_route_conf *
wsg_router_match(const struct wsg_config *cfg, const char *path)
{
	const struct wsg_route_conf *best = NULL;
	size_t i, len = strlen(path);

	for (i = 0; i < cfg->n_routes; i++) {
		const struct wsg_route_conf *rt = &cfg->routes[i];

		if (prefix_matches(rt, path, len) &&
		    (best == NULL || rt->path_len > best->path_len))
			best = rt;
	}
	return best;
}
