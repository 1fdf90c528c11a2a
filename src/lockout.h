/*
 * Brute-force protection: authentication failures counted per user name
 * (security.lockout) and per client address (security.client_limit) over
 * a sliding window; a key with max_failures failures within `window`
 * seconds is locked for `duration` seconds. One object for the process,
 * shared by every worker and the management thread: sharded, one lock per
 * shard, bounded (the oldest entries make room) and expiring. State lives
 * in this process only (docs/security.md, "Brute-force protection").
 */
#ifndef WSG_LOCKOUT_H
#define WSG_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Keys longer than this are never counted (no name or address is). */
#define WSG_LOCKOUT_MAX_KEY 256

/* One user has a counter per plane, so guesses on one never lock the other. */
enum wsg_lockout_kind {
	WSG_LOCKOUT_USER = 0,  /* key: the user name; data plane */
	WSG_LOCKOUT_CLIENT,    /* key: the peer address as text; both planes */
	WSG_LOCKOUT_MGMT_USER, /* key: the user name; management API */
	WSG_LOCKOUT__KINDS
};

/* What wsg_lockout_fail() did. */
enum wsg_lockout_result {
	WSG_LOCKOUT_OFF = 0, /* max_failures = 0 (or key too long): nothing */
	WSG_LOCKOUT_COUNTED, /* remembered; the key is not locked */
	WSG_LOCKOUT_STARTED, /* this failure locked the key */
	WSG_LOCKOUT_LOCKED,  /* the key was locked already: not counted */
};

/* Counters of one kind since start, and its state now. */
struct wsg_lockout_kind_stats {
	uint64_t failures;  /* failures counted */
	uint64_t lockouts;  /* locks started */
	uint64_t refused;   /* attempts refused because of a lock */
	uint64_t unlocks;   /* locks ended early by wsg_lockout_unlock() */
	uint64_t evictions; /* live entries dropped to make room */
	size_t entries;     /* keys remembered now */
	size_t locked;      /* keys locked now */
};

struct wsg_lockout_stats {
	struct wsg_lockout_kind_stats kind[WSG_LOCKOUT__KINDS];
};

struct wsg_lockout;

/*
 * Remembers at most `max_users` user names per plane and `max_clients`
 * addresses (each at least 64; rounded up to a share per shard). Aborts without
 * randomness for its hash key, like running out of memory. Free with
 * wsg_lockout_free().
 */
struct wsg_lockout *wsg_lockout_new(size_t max_users, size_t max_clients);
void wsg_lockout_free(struct wsg_lockout *l);

/* Milliseconds on CLOCK_MONOTONIC: the clock every `now_ms` below uses. */
int64_t wsg_lockout_now_ms(void);

/*
 * Milliseconds left of the lock on `key` at `now_ms`, or 0 when it is not
 * locked or policy `p` is off (max_failures = 0). A non-zero answer is
 * counted as a refused attempt. Client keys are normalised: an IPv4-mapped
 * IPv6 address is its IPv4 address, other IPv6 addresses count by /64.
 */
int64_t wsg_lockout_check(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                          const struct wsg_lockout_conf *p, const char *key,
                          size_t len, int64_t now_ms);

/*
 * Counts one failure of `key`. A failure counts for at least p->window
 * and at most p->window * 9/8 seconds (the window is kept as eight
 * slices); when the count reaches p->max_failures the key is locked for
 * p->duration seconds and its count starts again from zero. Failures
 * while locked are not counted and do not extend the lock.
 */
enum wsg_lockout_result wsg_lockout_fail(struct wsg_lockout *l,
                                         enum wsg_lockout_kind kind,
                                         const struct wsg_lockout_conf *p,
                                         const char *key, size_t len,
                                         int64_t now_ms);

/*
 * Forgets `key`: its lock ends and its failures are dropped. Returns 1 when
 * it was locked at `now_ms`, else 0.
 */
int wsg_lockout_unlock(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                       const char *key, size_t len, int64_t now_ms);

/*
 * Ends the lock on `key` only when it began at or before `since_ms` (an
 * unlock asked for then; a lock that began later stands), its failures
 * dropped. Returns 1 when a lock ended.
 */
int wsg_lockout_unlock_since(struct wsg_lockout *l, enum wsg_lockout_kind kind,
                             const char *key, size_t len, int64_t since_ms,
                             int64_t now_ms);

/* Counters and current state, for /metrics and tests. Takes each lock. */
void wsg_lockout_stats(struct wsg_lockout *l, int64_t now_ms,
                       struct wsg_lockout_stats *out);

#endif
