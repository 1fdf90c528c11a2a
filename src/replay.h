/*
 * Nonce replay cache: sharded, bounded, expiring, with one atomic
 * insert-if-absent. Shared by all workers; each shard has its own lock.
 */
#ifndef WSG_REPLAY_H
#define WSG_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct wsg_replay;

/*
 * Creates a cache holding at most `max_entries` live nonces (rounded so
 * every shard gets an equal share). Returns NULL only if max_entries is 0.
 * Free with wsg_replay_free().
 */
struct wsg_replay *wsg_replay_new(size_t max_entries);
void wsg_replay_free(struct wsg_replay *r);

/*
 * Atomically inserts `key` (the decoded nonce bytes) unless a live entry
 * with the same bytes exists. Entries whose `expires_at` <= now are dead
 * and are reclaimed. Returns WSG_OK (inserted), WSG_ERR_REPLAY (a live copy
 * exists), or WSG_ERR_FULL (the shard is full of live entries; nothing
 * inserted, the caller must refuse the token).
 */
int wsg_replay_insert(struct wsg_replay *r, const unsigned char *key,
                      size_t len, int64_t expires_at, int64_t now);

/* Live-or-not-yet-reclaimed entries, for metrics and tests. */
size_t wsg_replay_count(struct wsg_replay *r);

#endif
