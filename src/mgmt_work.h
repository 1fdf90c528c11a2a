/*
 * The management listener's own small pool (management.workers threads),
 * so that its event thread never waits on the database or on argon2: a
 * request that needs either is handed to a worker, which runs its handler
 * with a blocking database connection of its own, and the answer goes
 * back to the event thread, which sends it. argon2 itself still runs on
 * the verification pool (bounded by security.verify_queue); a worker
 * waits for it on an event loop of its own.
 */
#ifndef WSG_MGMT_WORK_H
#define WSG_MGMT_WORK_H

#include <event2/event.h>

#include "db.h"
#include "password.h"
#include "types.h"

struct wsg_ldap_dir;
struct wsg_mgmt;
struct wsg_mgmt_req;
struct wsg_mgmt_work;

/* One thread of the pool; its fields are touched by that thread only. */
struct wsg_mgmt_worker {
	struct wsg_mgmt_work *work;
	struct event_base *base; /* where the verification pool answers */
	struct wsg_db_conn *db;  /* opened on first use; NULL after a failure */
	int db_checked;          /* `db` answered during the current job */
	int db_broken;           /* close `db` once the current job ends */
	/* The directory (userstore.type "ldap", mgmt_ldap.c): opened by a
	 * job that needs it, closed when that job ends. */
	struct wsg_ldap_dir *ldap;
};

/* A job's steps: `run` on a worker (r->worker set), then `done` on the
 * management thread, which answers and ends the request. */
typedef void (*wsg_mgmt_job_cb)(struct wsg_mgmt_req *r, void *arg);

/*
 * Starts `threads` workers for `m`; completions come back on `base` (the
 * management thread's loop). At most `max_queued` jobs wait (0: no bound).
 */
int wsg_mgmt_work_new(struct wsg_mgmt *m, struct event_base *base,
                      unsigned threads, unsigned max_queued,
                      struct wsg_mgmt_work **out, struct wsg_error *err);

/* Runs every queued job to its end, joins the threads and frees. The
 * completions of those jobs must have been taken before (see mgmt.c). */
void wsg_mgmt_work_free(struct wsg_mgmt_work *w);

/*
 * Queues `r` (deferred with wsg_mgmt_defer(); `run` and `done` are called
 * exactly once unless this fails). `done` NULL ends the request with
 * wsg_mgmt_finish(). WSG_ERR_FULL when max_queued jobs wait: the caller
 * answers (wsg_mgmt_reply_busy()) and ends the request.
 */
int wsg_mgmt_work_submit(struct wsg_mgmt_work *w, struct wsg_mgmt_req *r,
                         wsg_mgmt_job_cb run, wsg_mgmt_job_cb done, void *arg);

/*
 * The worker's connection, opened (or re-opened after a failure) on demand
 * and checked with a round trip ("SELECT 1") once per job, bounded by
 * userstore.connect_timeout and query_timeout. WSG_OK or the failure in
 * `err`.
 */
int wsg_mgmt_work_db(struct wsg_mgmt_worker *wk, struct wsg_db_conn **out,
                     struct wsg_error *err);

/*
 * argon2 on the verification pool, waited for on the worker: the result
 * of wsg_password_verify(), or what wsg_password_verify_async() refused
 * with (WSG_ERR_FULL, WSG_ERR_LIMIT), or WSG_ERR_LIMIT for a job dropped
 * unrun because the address got locked.
 */
int wsg_mgmt_work_verify(struct wsg_mgmt_worker *wk, const char *encoded,
                         const char *pw, size_t len,
                         const struct wsg_password_client *who);

/* The same for an argon2id hash; `*encoded` (caller frees) on WSG_OK. */
int wsg_mgmt_work_hash(struct wsg_mgmt_worker *wk, const char *pw, size_t len,
                       const struct wsg_password_client *who, char **encoded);

#endif
