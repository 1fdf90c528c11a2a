/*
 * The database nodes a connection may use (userstore.hosts, or the one
 * host/port/socket), which to try next, and a short backoff per node that
 * failed. One list per pool, used only on that pool's loop: no locks.
 */
#ifndef WSG_DBNODES_H
#define WSG_DBNODES_H

#include <stddef.h>
#include <stdint.h>

struct wsg_dbnode {
	char *host;
	unsigned port;
	char *socket;        /* NULL: TCP */
	unsigned backoff_ms; /* 0: not failed since its last success */
	int64_t retry_at_ms; /* not picked before this while others are usable
	                      */
};

struct wsg_dbnodes {
	struct wsg_dbnode *v;
	size_t n;
	size_t cursor; /* the node new connections go to first */
};

/*
 * Fills `d` from `n` valid "host:port" entries (wsg_hostport_split(),
 * WSG_HOSTPORT_NAME), or (n == 0) from the one
 * node host/port/socket. Free with wsg_dbnodes_clear().
 */
void wsg_dbnodes_init(struct wsg_dbnodes *d, char *const *entries, size_t n,
                      const char *host, unsigned port, const char *socket);
void wsg_dbnodes_clear(struct wsg_dbnodes *d);

/* The node to connect to now: the first usable one from the cursor on, or
 * when every node is backing off, the one whose backoff ends first. */
size_t wsg_dbnodes_pick(const struct wsg_dbnodes *d, int64_t now_ms);

/* Whether some node other than `except` is usable now. */
int wsg_dbnodes_other_usable(const struct wsg_dbnodes *d, size_t except,
                             int64_t now_ms);

/* Node `i` failed (unreachable, broke, or not a Synced member of the
 * primary component): its backoff grows and new connections move on to the
 * next node. */
void wsg_dbnodes_failed(struct wsg_dbnodes *d, size_t i, int64_t now_ms);

/* Node `i` accepted a connection and is ready: its backoff ends, and new
 * connections go there first. */
void wsg_dbnodes_ok(struct wsg_dbnodes *d, size_t i);

/* Monotonic milliseconds for the backoffs. */
int64_t wsg_dbnodes_now_ms(void);

#endif
