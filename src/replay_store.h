/*
 * The shared replay store (security.replay_store = "mariadb"): one atomic
 * check-and-insert per nonce in the replay_nonces table, so a nonce that
 * one gateway accepted is refused by every gateway on the same database.
 * It runs after the worker's own replay cache (replay.c) accepted the nonce.
 */
#ifndef WSG_REPLAY_STORE_H
#define WSG_REPLAY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

/* `status`: WSG_OK (first use, now recorded), WSG_ERR_REPLAY (a live row
 * exists, or a concurrent write to the row won twice: see replay_store.c),
 * WSG_ERR_DB or WSG_ERR_TIMEOUT (the store could not say). */
typedef void (*wsg_replay_store_cb)(int status, void *arg);

/*
 * Records `key` (the decoded nonce bytes) until `expires_at` unless a row
 * for it is live at `now` (an expired row is taken over). Each conflict
 * with a concurrent transaction (Galera certification, deadlock) adds 1 to
 * `conflicts` (a metrics counter, may be NULL). Returns WSG_OK
 * and `done` is called once from the pool's loop, or an error and `done`
 * is never called.
 */
int wsg_replay_store_insert(struct wsg_db_pool *pool, const unsigned char *key,
                            size_t len, int64_t expires_at, int64_t now,
                            uint64_t *conflicts, wsg_replay_store_cb done,
                            void *arg);

/* Deletes up to 1000 rows expired at `now`; nobody waits for the answer.
 * Called every WSG_REPLAY_STORE_PURGE_EVERY inserts of a worker, so the
 * table is swept at the rate nonces arrive. */
#define WSG_REPLAY_STORE_PURGE_EVERY 256
int wsg_replay_store_purge(struct wsg_db_pool *pool, int64_t now);

#endif
