/*
 * Offline unlocks (`wssgate user unlock NAME`). Locks live in each running
 * gateway's memory (lockout.c), which a separate process cannot reach, so
 * the command records the request in the store (table unlock_requests,
 * stamped with the database server's clock) and every running gateway on
 * that store polls the table once a second from its main loop and ends the
 * named user's locks on both planes, as POST /management/users/{id}/unlock
 * does on one gateway.
 */
#ifndef WSG_UNLOCK_H
#define WSG_UNLOCK_H

#include <event2/event.h>

#include "db.h"
#include "server.h"
#include "types.h"

/*
 * The command's side, on a blocking connection: records an unlock of
 * `user`, which must exist (else WSG_ERR_NOTFOUND), and forgets requests
 * older than a day.
 */
int wsg_unlock_request(struct wsg_db_conn *c, const char *user,
		       struct wsg_error *err);

struct wsg_unlock_watch;

/* The gateway's side: polls on `base` (the main thread's loop) through a
 * non-blocking connection of its own and unlocks in rt->lockout. Requests
 * made before the gateway started are not applied (it has no locks yet). */
struct wsg_unlock_watch *wsg_unlock_watch_start(struct event_base *base,
						struct wsg_runtime *rt);

/* Before `base` is freed. */
void wsg_unlock_watch_free(struct wsg_unlock_watch *w);

#endif
