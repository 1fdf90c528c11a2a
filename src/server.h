/*
 * The running gateway: listening sockets, worker threads (one event_base
 * each, accepting on SO_REUSEPORT sockets of their own), the client
 * connections they hold, and the state they share. Dispatches each request
 * to the data plane; swaps in a new config on reload.
 */
#ifndef WSG_SERVER_H
#define WSG_SERVER_H

#include <openssl/ssl.h>

#include "config.h"
#include "types.h"
#include "worker.h"

/*
 * A snapshot of `cfg` (a reference is taken) with the TLS contexts the
 * listeners of rt->cfg and `cfg`'s routes need. Fails, with the listener
 * or route and the file in `err`, when a certificate or key cannot be
 * loaded; `*out` is then NULL.
 */
int wsg_snapshot_new(const struct wsg_runtime *rt, struct wsg_config *cfg,
                     struct wsg_snapshot **out, struct wsg_error *err);

struct wsg_server;

/*
 * Opens every listening socket (one per listen entry and worker, with
 * SO_REUSEPORT) and starts the workers with `snap` (a reference is taken);
 * every request that arrives goes to `handle` on its worker's thread.
 * Fails, with the reason in `err`, before any thread starts when an address
 * cannot be bound.
 */
int wsg_server_start(struct wsg_runtime *rt, struct wsg_snapshot *snap,
                     wsg_worker_handler_cb handle, struct wsg_server **out,
                     struct wsg_error *err);

/*
 * Hands `snap` (a new reference is taken) to every worker: requests and
 * connections that start after a worker picked it up use it; those in
 * flight finish with the snapshot they started with, and no connection is
 * closed. Only the reloadable parts take effect (see
 * wsg_config_restart_keys()). Call from the starting thread.
 */
void wsg_server_reload(struct wsg_server *s, struct wsg_snapshot *snap);

/*
 * Stops accepting and closes idle connections, lets in-flight requests
 * finish and their answers go out for at most `drain_seconds`, then cuts
 * what is left (upstream exchanges and database queries fail, so every
 * request is still answered), joins the workers and frees the server. Call
 * from the thread that started it.
 */
void wsg_server_stop(struct wsg_server *s, int drain_seconds);

#endif
