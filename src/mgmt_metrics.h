/*
 * GET /metrics (Prometheus text format 0.0.4) on the management listener
 * (GET /health: mgmt_health.h). Both answer without a token, as scrapers
 * and load balancers carry none: the management listener belongs on
 * loopback or a private network.
 */
#ifndef WSG_MGMT_METRICS_H
#define WSG_MGMT_METRICS_H

#include "mgmt_http.h"

/* The gateway's counters, histograms and gauges. The kind="user" lockout
 * series only for an admin (r->admin, from an optional Bearer token): they
 * move only for names that exist, so anyone else could enumerate users. */
void wsg_mgmt_metrics(struct wsg_mgmt_req *r);

#endif
