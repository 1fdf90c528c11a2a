/*
 * The types a worker thread runs on, apart from the server that starts it
 * (server.c): what every worker shares (struct wsg_runtime), the config
 * snapshot requests read, the worker itself, and the bookkeeping that
 * connections (conn.c) and requests (request.c) report to it. Neither
 * needs server.h, and the server reaches requests only through the
 * handler it is given.
 */
#ifndef WSG_WORKER_H
#define WSG_WORKER_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/queue.h>

#include "config.h"
#include "credcache.h"
#include "db.h"
#include "lockout.h"
#include "log.h"
#include "metrics.h"
#include "password.h"
#include "replay.h"
#include "stats.h"
#include "types.h"

struct wsg_upstream_pool;
struct wsg_ldap_openers;
struct wsg_tls_clients;
struct wsg_wsdl_cache;

/*
 * What every worker shares. Set up before the workers start and torn down
 * after they stop; the objects behind the pointers lock internally. `cfg`
 * is the config the gateway started with: what only a restart changes
 * (listeners, workers, user store, logs, management) is read from it;
 * requests read their snapshot instead.
 */
struct wsg_runtime {
	struct wsg_config *cfg;
	struct wsg_log *log;
	struct wsg_stats
	        *stats; /* per-route counters, indexed like cfg->routes */
	struct wsg_metrics *metrics;  /* auth, caches, upstreams (/metrics) */
	struct wsg_db_stats db_stats; /* the workers' pools, summed */
	struct wsg_replay *replay;
	int replay_shared; /* security.replay_store "mariadb" at start */
	struct wsg_credcache *credcache;
	struct wsg_lockout *lockout; /* failures per user and client */
	int lockout_shared; /* security.lockout.store "mariadb" at start */
	struct wsg_password_pool *pwpool;
	struct wsg_ldap_openers *ldap_openers; /* userstore.type "ldap" */
	unsigned char master_key[WSG_PASSWORD_KEY_LEN];
	char *db_password;   /* NULL when the store needs none */
	char *ldap_password; /* ldap.bind_password_file's, or NULL */
	struct wsg_db_params db_params;
};

/*
 * What a request reads, swapped whole by a reload: a config, the TLS
 * client contexts built from it, and the server contexts of the listeners
 * (certificates and keys read again at each reload, from the files named
 * at start). Immutable; reference-counted (atomic), so a request keeps the
 * snapshot it started with to its end. Workers and the management thread
 * take the same snapshot.
 */
struct wsg_snapshot {
	int refs;
	struct wsg_config *cfg;
	struct wsg_tls_clients *upstream_tls;
	SSL_CTX **listen_tls; /* per rt->cfg listen entry; NULL: plain */
	size_t n_listen;
	SSL_CTX *mgmt_tls; /* NULL: plain HTTP or no management */
};

/* Another reference to `snap` / dropping one; the last frees it. */
struct wsg_snapshot *wsg_snapshot_ref(struct wsg_snapshot *snap);
void wsg_snapshot_unref(struct wsg_snapshot *snap);

struct wsg_server;
struct wsg_conn;
struct wsg_conn_request;
struct wsg_listener;
struct wsg_worker;

/*
 * Takes a whole request `req` that arrived on `conn` (conn.h) on worker
 * `w`'s thread; it is answered exactly once, through wsg_conn_reply(), now
 * or later. The data plane's is wsg_request_handle().
 */
typedef void (*wsg_worker_handler_cb)(struct wsg_worker *w,
                                      struct wsg_conn *conn,
                                      const struct wsg_conn_request *req);

/* Per-worker context: touched only by its own thread, except `wake`,
 * `reload` and `pending`. */
struct wsg_worker {
	unsigned id;
	struct wsg_runtime *rt;
	struct wsg_server *server;
	wsg_worker_handler_cb handle; /* where conn.c hands requests */
	unsigned *connections; /* the server's open connections (atomic) */
	struct event_base *base;
	struct wsg_db_pool *db;
	struct wsg_ldap_pool *ldap; /* userstore.type "ldap", else NULL */
	struct wsg_upstream_pool *upstream;
	struct wsg_wsdl_cache *wsdl_cache; /* wsdl = "upstream" copies */
	struct wsg_snapshot *snap;    /* current; new requests take a ref */
	struct wsg_snapshot *pending; /* handed over by a reload (atomic) */
	struct event *reload;         /* activated by the main thread */
	struct event *wake;           /* activated by the main thread to stop */
	struct event *drain_timer;
	struct wsg_listener *listeners;           /* one per listen entry */
	size_t n_listeners;                       /* open ones */
	LIST_HEAD(wsg_conn_list, wsg_conn) conns; /* the client connections */
	unsigned busy_conns; /* connections with a request or answer */
	uint64_t next_rid;
	uint64_t replay_store_inserts; /* paces the shared store's purge */
	unsigned inflight;
	int draining;
	int cutting;       /* drain_timeout passed: in-flight work cut */
	int drain_seconds; /* set by the main thread before `wake` */
	pthread_t thread;
};

/* A request of `w` has answered and is freed. */
void wsg_worker_request_done(struct wsg_worker *w);

/* conn.c closed one of `w`'s connections. */
void wsg_worker_conn_closed(struct wsg_worker *w);

/* A draining worker stops once nothing is in flight: conn.c calls this
 * when a connection's answer is out. */
void wsg_worker_drain_check(struct wsg_worker *w);

#endif
