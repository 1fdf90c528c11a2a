/*
 * The management API listener (`management.address`, paths under
 * /management) on its own thread with its own event_base and evhttp, so
 * management work never delays the data plane. That thread never waits:
 * logins look the name up through a non-blocking pool and verify on the
 * shared argon2 pool within security.verify_queue, /health probes on a
 * non-blocking connection of its own (mgmt_health.h), and every other
 * request that needs the database (token checks, users, roles, logout,
 * the first admin) runs on the listener's own workers (mgmt_work.h).
 * Routes requests to the resources with WSO2 MI's order of checks: CORS
 * preflight, authentication, admin-only prefixes, resource.
 */
#ifndef WSG_MGMT_H
#define WSG_MGMT_H

#include "server.h"
#include "types.h"

struct wsg_mgmt;

/*
 * Loads management.jwt_secret_file, binds management.address and starts
 * the thread with `snap` (a reference is taken; its mgmt_tls makes the
 * listener speak TLS). `rt` must outlive the listener. Fails with the
 * reason in `err` (nothing started) when the key cannot be loaded or the
 * address cannot be bound.
 */
int wsg_mgmt_start(struct wsg_runtime *rt, struct wsg_snapshot *snap,
                   struct wsg_mgmt **out, struct wsg_error *err);

/*
 * Hands `snap` (a new reference is taken) to the management thread, as
 * wsg_server_reload() does to the workers: requests that start after it
 * use its security settings, limits and TLS certificate. NULL `m` is fine.
 */
void wsg_mgmt_reload(struct wsg_mgmt *m, struct wsg_snapshot *snap);

/*
 * Stops accepting, gives answers already sent a moment to flush, joins the
 * thread and frees everything. NULL is fine.
 */
void wsg_mgmt_stop(struct wsg_mgmt *m);

#endif
