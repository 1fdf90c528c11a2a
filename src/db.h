/*
 * MariaDB access through Connector/C. The pool runs its connections with
 * the non-blocking API on one worker's event_base, so no thread ever waits
 * for the database; every statement is a prepared statement with string
 * parameters. A blocking connection serves the offline CLI verbs.
 */
#ifndef WSG_DB_H
#define WSG_DB_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "types.h"

struct wsg_db_params {
	const char *host;
	unsigned port;
	const char *socket; /* NULL: TCP */
	/* Galera nodes as "host:port" / "[v6]:port"; when n_hosts > 0 they
	 * replace host/port/socket (src/dbnodes.h) */
	char *const *hosts;
	size_t n_hosts;
	const char *user;
	const char *password; /* NULL: none */
	const char *database;
	unsigned connect_timeout; /* seconds */
	unsigned query_timeout; /* seconds, whole statement incl. waiting for a
	                           connection */
	unsigned max_waiting; /* queries waiting for a connection; 0: unbounded
	                       */
};

/* Rows of text cells; cells[r * ncols + c] is NULL for SQL NULL. */
struct wsg_db_result {
	size_t nrows;
	size_t ncols;
	char **cells; /* each NUL-terminated, malloc'ed */
	size_t *lens;
	unsigned long long affected_rows;
	unsigned long long insert_id;
};

void wsg_db_result_free(struct wsg_db_result *r);

/* A NULL-able string parameter for a `?` placeholder. */
struct wsg_db_param {
	const char *data; /* NULL binds SQL NULL */
	size_t len;
};

/* -------- asynchronous pool (data plane) -------- */

struct wsg_db_pool;

/*
 * Counters and gauges of any number of pools (one per worker) for
 * /metrics: each pool adds its changes atomically, so the fields are the
 * sums over the pools. Read each field with __atomic_load_n.
 */
struct wsg_db_stats {
	uint64_t queries;          /* completed, whatever the outcome */
	uint64_t errors;           /* completed with WSG_ERR_DB */
	uint64_t timeouts;         /* completed with WSG_ERR_TIMEOUT */
	uint64_t connect_failures; /* connection attempts that failed */
	uint64_t refused;          /* refused: max_waiting queries waited */
	int64_t open;              /* connections established now */
	int64_t busy;              /* connections running a query now */
	int64_t queued;            /* queries waiting for a connection now */
};

/*
 * Creates a pool of up to `size` connections on `base`. Connections open
 * lazily and reconnect with backoff after errors. The params are copied.
 * `stats` (NULL: none kept) must outlive the pool.
 *
 * Several nodes (params.hosts): a new connection goes to the pool's current
 * node, and is used only once the node says it is a Synced member of the
 * primary component (wsrep_ready = ON, wsrep_local_state = 4; a server
 * without wsrep_on is ready). A node that cannot be reached, is not ready,
 * breaks a connection or answers ER_UNKNOWN_COM_ERROR (1047: not in the
 * primary component) backs off for a moment and the pool moves on to the
 * next node in the list. The query of such a connection runs again on
 * another node when that is safe: it never reached the server, it was
 * refused with 1047 (nothing applied), or it only reads (SELECT); otherwise
 * it fails with WSG_ERR_DB.
 */
struct wsg_db_pool *wsg_db_pool_new(struct event_base *base,
                                    const struct wsg_db_params *params,
                                    unsigned size, struct wsg_db_stats *stats);
/* Fails every queued and running query with WSG_ERR_DB, then frees. */
void wsg_db_pool_free(struct wsg_db_pool *p);

/*
 * The gateway is stopping: every queued and running query fails with
 * WSG_ERR_DB (called back from the pool's loop), the connections close and
 * new queries are refused. wsg_db_pool_free() is still needed.
 */
void wsg_db_pool_shutdown(struct wsg_db_pool *p);

/*
 * `status`: WSG_OK, WSG_ERR_DB (connection or SQL error), WSG_ERR_TIMEOUT, or
 * WSG_ERR_CONFLICT when a concurrent transaction won (a deadlock, or on
 * Galera a write that failed certification against another node's commit).
 * `res` is NULL on failure; on success the callback owns it and frees it
 * with wsg_db_result_free().
 */
typedef void (*wsg_db_done_cb)(int status, struct wsg_db_result *res,
                               void *arg);

/*
 * Runs the prepared statement `sql` (static string; prepared once per
 * connection and cached, at most 64 distinct statements) with `params`
 * (copied). Returns WSG_OK and then `done` is called exactly once from the
 * pool's loop, never before this function returns; or WSG_ERR_INVAL (bad
 * arguments, more than 64 parameters) / WSG_ERR_DB (pool being freed) /
 * WSG_ERR_FULL (params.max_waiting queries wait for a connection already)
 * and `done` is never called. A host name (not a socket or IP address) is
 * resolved with a blocking lookup by Connector/C.
 */
int wsg_db_query(struct wsg_db_pool *p, const char *sql,
                 const struct wsg_db_param *params, unsigned nparams,
                 wsg_db_done_cb done, void *arg);

/* -------- blocking connection (offline verbs) -------- */

/*
 * The blocking calls fail with WSG_ERR_CONNECT when the server cannot be
 * reached or the connection broke (the server went away, a read timed
 * out, a Galera node left the primary component): the store is
 * unavailable, try again later. Other failures of the server (refused
 * credentials, a failed statement) are WSG_ERR_DB. wsg_db_connect() tries
 * params.hosts in order and takes the first node that is ready (as the
 * pool does); a broken connection is not moved, the caller connects again.
 */
struct wsg_db_conn;

int wsg_db_connect(const struct wsg_db_params *params, struct wsg_db_conn **out,
                   struct wsg_error *err);
void wsg_db_close(struct wsg_db_conn *c);

/* Whether the connection still works and its server may serve: answers,
 * and on Galera is a Synced member of the primary component (a node cut
 * off still answers a plain query). WSG_OK or WSG_ERR_CONNECT. */
int wsg_db_ping(struct wsg_db_conn *c, struct wsg_error *err);

/* Runs one prepared statement; `*res` (may be NULL when not wanted) as above.
 * WSG_ERR_EXISTS on a duplicate key, WSG_ERR_INVAL on a parameter count
 * that does not match the statement, WSG_ERR_CONFLICT (here and from
 * wsg_db_commit()) when a concurrent transaction won: nothing was applied. */
int wsg_db_exec(struct wsg_db_conn *c, const char *sql,
                const struct wsg_db_param *params, unsigned nparams,
                struct wsg_db_result **res, struct wsg_error *err);

/* Runs a script of several ';'-separated statements (schema files). */
int wsg_db_exec_script(struct wsg_db_conn *c, const char *script,
                       struct wsg_error *err);

int wsg_db_begin(struct wsg_db_conn *c, struct wsg_error *err);
int wsg_db_commit(struct wsg_db_conn *c, struct wsg_error *err);
void wsg_db_rollback(struct wsg_db_conn *c);

#endif
