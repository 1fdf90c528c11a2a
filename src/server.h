/*
 * The running gateway: listening sockets, worker threads (one event_base
 * each, accepting on SO_REUSEPORT sockets of their own) and the state they
 * share. Dispatches each request to the data plane.
 */
#ifndef WSG_SERVER_H
#define WSG_SERVER_H

#include <event2/event.h>
#include <event2/http.h>
#include <pthread.h>
#include <stdint.h>

#include "config.h"
#include "credcache.h"
#include "db.h"
#include "lockout.h"
#include "log.h"
#include "password.h"
#include "replay.h"
#include "stats.h"
#include "types.h"

struct wsg_upstream_pool;

/*
 * What every worker shares. Set up before the workers start and torn down
 * after they stop; the objects behind the pointers lock internally.
 */
struct wsg_runtime {
	struct wsg_config *cfg;
	struct wsg_log *log;
	struct wsg_stats *stats; /* per-route counters, indexed like cfg->routes */
	struct wsg_replay *replay;
	struct wsg_credcache *credcache;
	struct wsg_lockout *lockout;     /* failures per user and client */
	struct wsg_password_pool *pwpool;
	unsigned char master_key[WSG_PASSWORD_KEY_LEN];
	char *db_password;       /* NULL when the store needs none */
	struct wsg_db_params db_params;
};

/* Per-worker context: touched only by its own thread, except `wake`. */
struct wsg_worker {
	unsigned id;
	struct wsg_runtime *rt;
	struct event_base *base;
	struct evhttp *http;
	struct wsg_db_pool *db;
	struct wsg_upstream_pool *upstream;
	struct event *wake;      /* activated by the main thread to stop */
	struct event *drain_timer;
	/* TLS needs an evhttp per listener (evhttp_set_bevcb is per evhttp):
	 * listen_http[i] is `http` for plain listen entry i, else its own. */
	struct evhttp **listen_http;
	struct evhttp_bound_socket **bound;  /* bound[i] is on listen_http[i] */
	size_t n_bound;
	uint64_t next_rid;
	unsigned inflight;
	int draining;
	int drain_seconds;       /* set by the main thread before `wake` */
	pthread_t thread;
};

struct wsg_server;

/*
 * Opens every listening socket (one per listen entry and worker, with
 * SO_REUSEPORT) and starts the workers. Fails, with the reason in `err`,
 * before any thread starts when an address cannot be bound.
 */
int wsg_server_start(struct wsg_runtime *rt, struct wsg_server **out,
		     struct wsg_error *err);

/*
 * Stops accepting, lets in-flight requests finish for at most
 * `drain_seconds`, joins the workers and frees the server. Call from the
 * thread that started it.
 */
void wsg_server_stop(struct wsg_server *s, int drain_seconds);

/* Called by a request when it is freed; ends a draining worker's loop. */
void wsg_server_request_done(struct wsg_worker *w);

#endif
