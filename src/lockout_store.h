/*
 * The shared lockout store (security.lockout.store = "mariadb"): a user's
 * wrong passwords are counted in the lockouts table, one row per name and
 * plane, so failures on any gateway of the database lock the user on all.
 * One autocommit upsert counts a failure and says what it did; one read
 * says whether the user is locked now. Times are the gateway's wall clock
 * in milliseconds since the epoch. The per-process lockout (lockout.h)
 * stays for client addresses and is what callers fall back to when the
 * store cannot count (docs/cluster.md).
 */
#ifndef WSG_LOCKOUT_STORE_H
#define WSG_LOCKOUT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "lockout.h"
#include "metrics.h"

/* Milliseconds since the epoch (CLOCK_REALTIME): what every gateway of
 * the store measures windows and locks with. */
int64_t wsg_lockout_store_now_ms(void);

/* `status` WSG_OK and `locked` (0/1), or the pool's error and 0. */
typedef void (*wsg_lockout_store_check_cb)(int status, int locked, void *arg);

/*
 * Whether `name` (any bytes; names over WSG_LOCKOUT_MAX_KEY bytes are
 * never counted, and are asked about like any other) is locked on the
 * plane of `kind` (WSG_LOCKOUT_USER or WSG_LOCKOUT_MGMT_USER) at `now_ms`.
 * Returns WSG_OK and `done` is called once from the pool's loop, or the
 * pool's error (WSG_ERR_FULL, WSG_ERR_DB, WSG_ERR_INVAL) and it is not.
 */
int wsg_lockout_store_check(struct wsg_db_pool *pool,
                            enum wsg_lockout_kind kind, const char *name,
                            size_t len, int64_t now_ms,
                            wsg_lockout_store_check_cb done, void *arg);

/* The same on a blocking connection: WSG_OK and `*locked`, or an error
 * (reason in `err`). */
int wsg_lockout_store_check_conn(struct wsg_db_conn *c,
                                 enum wsg_lockout_kind kind, const char *name,
                                 size_t len, int64_t now_ms, int *locked,
                                 struct wsg_error *err);

/*
 * `status` WSG_OK and what the failure did (WSG_LOCKOUT_COUNTED, _STARTED,
 * _LOCKED: not counted, the lock stands); else WSG_ERR_CONFLICT (lost to
 * concurrent writers every time), WSG_ERR_DB or WSG_ERR_TIMEOUT: nothing was
 * counted.
 */
typedef void (*wsg_lockout_store_fail_cb)(int status,
                                          enum wsg_lockout_result res,
                                          void *arg);

/*
 * Counts one failure of `name` on the plane of `kind` under policy `p`
 * (max_failures within a window of p->window seconds from the first
 * failure lock for p->duration seconds; failures while locked neither
 * count nor extend the lock). A statement that loses a conflict (1213:
 * a deadlock, or a Galera certification failure) applied nothing, so it
 * runs again after a short wait on `base` (the pool's loop), up to 6
 * attempts in all (well under a second); `m->lockout_store_retries` (m
 * may be NULL) counts the reruns.
 * Returns WSG_OK and `done` is called once from the pool's loop; or the
 * pool's error and it is not. WSG_ERR_INVAL when there is nothing to count
 * (max_failures = 0, a name over WSG_LOCKOUT_MAX_KEY bytes), as the
 * per-process lockout counts nothing then either.
 */
int wsg_lockout_store_fail(struct wsg_db_pool *pool, struct event_base *base,
                           enum wsg_lockout_kind kind,
                           const struct wsg_lockout_conf *p, const char *name,
                           size_t len, int64_t now_ms, struct wsg_metrics *m,
                           wsg_lockout_store_fail_cb done, void *arg);

/* The same on a blocking connection (the same retries, waiting on the
 * thread): WSG_OK
 * and `*res`, or an error (WSG_ERR_INVAL as above, without a reason). */
int wsg_lockout_store_fail_conn(struct wsg_db_conn *c,
                                enum wsg_lockout_kind kind,
                                const struct wsg_lockout_conf *p,
                                const char *name, size_t len, int64_t now_ms,
                                struct wsg_metrics *m,
                                enum wsg_lockout_result *res,
                                struct wsg_error *err);

/*
 * Forgets `name` on both planes (its locks end, its failures are dropped).
 * `*was_locked` (may be NULL) says whether a lock was in force at
 * `now_ms`. WSG_OK or an error (reason in `err`).
 */
int wsg_lockout_store_unlock(struct wsg_db_conn *c, const char *name,
                             size_t len, int64_t now_ms, int *was_locked,
                             struct wsg_error *err);

#endif
