/*
 * wsdl = "upstream": each worker fetches a route's WSDL from the upstream's
 * `?wsdl` and the documents it imports (within the upstream's origin only)
 * through its own upstream pool, on its loop, and keeps them rewritten as
 * a local WSDL is, in memory. A copy is served for wsdl_ttl seconds and
 * fetched again after that and after a reload; while the upstream cannot
 * give a good one, the last copy stays served (with a warning in the log).
 */
#ifndef WSG_WSDL_FETCH_H
#define WSG_WSDL_FETCH_H

#include <event2/event.h>

#include "config.h"
#include "types.h"
#include "worker.h"
#include "wsdl.h"

struct wsg_op_decls;
struct wsg_schema;
struct wsg_upstream_pool;
struct wsg_wsdl_cache;

/* A route's documents as published: `def` for the public URL, `hosts[i]`
 * for route->public_url_hosts[i] (NULL without public_url_from_host), and
 * what the route derives from them: the SOAPActions they declare and,
 * under validate = "wsdl", their compiled schemas (else NULL). */
struct wsg_wsdl_published {
	const struct wsg_wsdl *def;
	struct wsg_wsdl *const *hosts;
	size_t n_hosts;
	const struct wsg_op_decls *actions;
	const struct wsg_schema *schema;
};

/* One per worker, on `pool` (which must outlive it). */
struct wsg_wsdl_cache *wsg_wsdl_cache_new(struct wsg_upstream_pool *pool);
/* Call only when no fetch is in flight (the worker's loop has ended). */
void wsg_wsdl_cache_free(struct wsg_wsdl_cache *c);

/*
 * `status` WSG_OK with `docs` (valid only during the call), or
 * WSG_ERR_CONNECT when no copy was ever fetched and this fetch failed.
 */
typedef void (*wsg_wsdl_cache_cb)(int status,
                                  const struct wsg_wsdl_published *docs,
                                  void *arg);

/*
 * The documents of `route` (wsdl_upstream) of `snap`'s config: `cb` runs
 * exactly once, before this returns when a copy is fresh (or the fetch
 * cannot even start), otherwise after the fetch that the first waiting
 * request started (later ones wait for the same fetch). `snap` and `route`
 * must stay valid until `cb`.
 */
void wsg_wsdl_cache_get(struct wsg_wsdl_cache *c, struct wsg_snapshot *snap,
                        const struct wsg_route_conf *route,
                        wsg_wsdl_cache_cb cb, void *arg);

/*
 * The absolute URL that `loc` (an import's location) names from the
 * document at `base` (an absolute URL within `origin`), by RFC 3986 5.2
 * with the fragment dropped. `origin` is "scheme://authority" as the
 * route's upstream spells it. Returns WSG_OK with `*out` (malloc'ed,
 * `origin` followed by the path and query), or WSG_ERR_CONFIG with
 * err->reason: another scheme, host or port, user information, or bytes
 * a request line may not carry.
 */
int wsg_wsdl_fetch_resolve(const char *origin, const char *base,
                           const char *loc, char **out, struct wsg_error *err);

#endif
