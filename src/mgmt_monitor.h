/*
 * The read-only monitoring resources of the management API, for every
 * logged-in user (the dashboard's Artifacts and Logs pages):
 * GET /management/routes and GET /management/logs.
 */
#ifndef WSG_MGMT_MONITOR_H
#define WSG_MGMT_MONITOR_H

#include "mgmt_http.h"

/* The configured routes with their live counters (stats.h's JSON); without
 * "upstreams" for a non-admin. */
void wsg_mgmt_routes_list(struct wsg_mgmt_req *r);

/*
 * The most recent access and audit lines (logring.h's JSON plus
 * "faultCodes", every fault name a filter accepts), newest first, filtered
 * by the query parameters route, user, fault (a name from faultCodes or
 * "-"), kind ("access" or "audit"), after (a seq) and limit (1..1000,
 * default 200). A malformed parameter is a 400 with an Error text. A
 * non-admin gets only the lines that carry its own name.
 */
void wsg_mgmt_logs_list(struct wsg_mgmt_req *r);

#endif
