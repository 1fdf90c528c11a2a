/*
 * GET /health without waiting on the database on the management thread:
 * a SELECT 1 goes through a non-blocking connection of its own (a pool of
 * one on the management loop), and the answer comes from it or, when it
 * does not complete within WSG_MGMT_HEALTH_WAIT_MS, says unavailable. One
 * probe runs at a time; every /health that arrives meanwhile joins it.
 * With userstore.type "ldap" the probe is a directory connection (and the
 * SELECT 1 when MariaDB is configured), made on a management worker.
 */
#ifndef WSG_MGMT_HEALTH_H
#define WSG_MGMT_HEALTH_H

#include "mgmt_http.h"

#define WSG_MGMT_HEALTH_WAIT_MS 500

struct wsg_mgmt_health;

/* On `m->base`, before the management thread starts. */
struct wsg_mgmt_health *wsg_mgmt_health_new(struct wsg_mgmt *m);
/* After the thread ended and no /health waits any more. NULL is fine. */
void wsg_mgmt_health_free(struct wsg_mgmt_health *h);

/* GET /health: 200 {"status":"ok"} or 503 unavailable, within the wait. */
void wsg_mgmt_health(struct wsg_mgmt_req *r);

#endif
