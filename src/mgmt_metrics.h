/*
 * GET /metrics (Prometheus text format 0.0.4) and GET /health on the
 * management listener. Both answer without a token, as scrapers and load
 * balancers carry none: the management listener belongs on loopback or a
 * private network.
 */
#ifndef WSG_MGMT_METRICS_H
#define WSG_MGMT_METRICS_H

#include "mgmt_http.h"

/* The gateway's counters, histograms and gauges. The kind="user" lockout
 * series only for an admin (r->admin, from an optional Bearer token): they
 * move only for names that exist, so anyone else could enumerate users. */
void wsg_mgmt_metrics(struct wsg_mgmt_req *r);

/*
 * 200 {"status": "ok"} when the database answers a round trip on the
 * management thread's connection, else 503 {"status": "unavailable",
 * "reason": ...} (the precise error only in the log).
 */
void wsg_mgmt_health(struct wsg_mgmt_req *r);

#endif
