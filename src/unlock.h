/*
 * Offline unlocks (`wssgate user unlock NAME`). Locks live in each running
 * gateway's memory (lockout.c), which a separate process cannot reach, so
 * the command stamps the user's row (users.unlocked_at, microseconds since
 * the epoch) and every gateway of the store, when it next reads that row
 * for the user (a management login at once; the data plane from its
 * credential cache, so within userstore.cache_ttl), ends a lock of that
 * plane which began before the stamp. No polling: nothing runs while
 * nobody is locked.
 */
#ifndef WSG_UNLOCK_H
#define WSG_UNLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "lockout.h"
#include "types.h"

/*
 * The command's side, on a blocking connection: stamps `user` with the
 * current time. WSG_ERR_NOTFOUND (reason set) when there is no such user.
 */
int wsg_unlock_request(struct wsg_db_conn *c, const char *user,
                       struct wsg_error *err);

/*
 * The gateway's side: ends the lock of `kind` on `user` when it began
 * before `unlocked_at` (the row's stamp; 0: never). Returns 1 when a lock
 * ended (the caller audits it).
 */
int wsg_unlock_apply(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                     const char *user, size_t len, int64_t unlocked_at);

#endif
