/*
 * Live per-route counters for the dashboard's Artifacts page: requests
 * answered and faults by code. Workers record concurrently with relaxed
 * atomic increments (no lock on the request path); readers take a
 * snapshot that is consistent per counter, not across counters.
 */
#ifndef WSG_STATS_H
#define WSG_STATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "types.h"

/* The route index of requests that matched no route. */
#define WSG_STATS_NO_ROUTE ((size_t)-1)
/* HTTP status classes counted: 1xx..5xx at index 1..5; [0] is any status
 * outside 100-599 (none is expected). */
#define WSG_STATS_CLASSES 6

struct wsg_stats;

/* One route's counters as read by wsg_stats_read(). */
struct wsg_stats_counts {
	uint64_t requests; /* answered, whatever the outcome */
	uint64_t faults;   /* answered with a gateway fault */
	uint64_t by_fault[WSG_FAULT__COUNT];  /* [WSG_FAULT_NONE] is unused */
	uint64_t by_class[WSG_STATS_CLASSES]; /* [n]: status n00-n99 */
};

/*
 * Counters for the `n_routes` routes at `routes` (the config's array, which
 * must outlive the counters) plus the no-route bucket; free with
 * wsg_stats_free().
 */
struct wsg_stats *wsg_stats_new(const struct wsg_route_conf *routes,
                                size_t n_routes);
void wsg_stats_free(struct wsg_stats *s);

/*
 * Counts one answered request of `route` (an element of the array given to
 * wsg_stats_new(); NULL or any other pointer counts as no route) answered
 * with HTTP `status` that ended with `fault` (WSG_FAULT_NONE when relayed).
 * Safe from any thread.
 */
void wsg_stats_record(struct wsg_stats *s, const struct wsg_route_conf *route,
                      int status, enum wsg_fault fault);

/* Copies the counters of route index `route` (or WSG_STATS_NO_ROUTE). */
void wsg_stats_read(const struct wsg_stats *s, size_t route,
                    struct wsg_stats_counts *out);

/*
 * The routes of `cfg` (whose array `s` counts) with their counters, for
 * GET /management/routes:
 * {"count": n, "list": [{"name", "path", "upstreams": [..],
 *   "passwordTypes": [..], "roles": [..], "requireTls", "requireTimestamp",
 *   "auth", "stripSecurityHeader", "timeout", "requests", "faults",
 *   "faultsByCode": {"wsse:FailedAuthentication": n, ..}}, ..],
 *  "unrouted": {"requests", "faults", "faultsByCode"}}.
 * Returns a new reference (caller json_decref()s).
 */
json_t *wsg_stats_routes_json(const struct wsg_config *cfg,
                              const struct wsg_stats *s);

#endif
