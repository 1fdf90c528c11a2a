#include "dbnodes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostport.h"
#include "mem.h"

/* A dead node is tried again this soon, and at most this late, so that a
 * node coming back serves again within seconds. */
#define NODE_BACKOFF_MIN_MS 250
#define NODE_BACKOFF_MAX_MS 2000

void
wsg_dbnodes_init(struct wsg_dbnodes *d, char *const *entries, size_t n,
                 const char *host, unsigned port, const char *socket)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	d->n = n ? n : 1;
	d->v = wsg_mem_calloc(d->n, sizeof(*d->v));
	if (n == 0) {
		d->v[0].host = host ? wsg_mem_strdup(host) : NULL;
		d->v[0].port = port;
		d->v[0].socket = socket ? wsg_mem_strdup(socket) : NULL;
		return;
	}
	/* The config checked every entry; one that does not split would be
	 * a caller bug, and connecting to it fails cleanly. */
	for (i = 0; i < n; i++)
		if (wsg_hostport_split(entries[i], WSG_HOSTPORT_NAME,
		                       &d->v[i].host, &d->v[i].port) != NULL)
			d->v[i].host = wsg_mem_strdup(entries[i]);
}

void
wsg_dbnodes_clear(struct wsg_dbnodes *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].host);
		free(d->v[i].socket);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int
usable(const struct wsg_dbnode *node, int64_t now_ms)
{
	return node->backoff_ms == 0 || now_ms >= node->retry_at_ms;
}

size_t
wsg_dbnodes_pick(const struct wsg_dbnodes *d, int64_t now_ms)
{
	size_t i, k, best;

	for (k = 0; k < d->n; k++) {
		i = (d->cursor + k) % d->n;
		if (usable(&d->v[i], now_ms))
			return i;
	}
	best = d->cursor;
	for (k = 0; k < d->n; k++) {
		i = (d->cursor + k) % d->n;
		if (d->v[i].retry_at_ms < d->v[best].retry_at_ms)
			best = i;
	}
	return best;
}

int
wsg_dbnodes_other_usable(const struct wsg_dbnodes *d, size_t except,
                         int64_t now_ms)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (i != except && usable(&d->v[i], now_ms))
			return 1;
	return 0;
}

void
wsg_dbnodes_failed(struct wsg_dbnodes *d, size_t i, int64_t now_ms)
{
	struct wsg_dbnode *node = &d->v[i];

	/* Several connections notice one failure together: only the first
	 * lengthens the backoff. */
	if (node->backoff_ms == 0 || now_ms >= node->retry_at_ms) {
		node->backoff_ms = node->backoff_ms ? node->backoff_ms * 2
		                                    : NODE_BACKOFF_MIN_MS;
		if (node->backoff_ms > NODE_BACKOFF_MAX_MS)
			node->backoff_ms = NODE_BACKOFF_MAX_MS;
		node->retry_at_ms = now_ms + node->backoff_ms;
	}
	if (d->cursor == i)
		d->cursor = (i + 1) % d->n;
}

void
wsg_dbnodes_ok(struct wsg_dbnodes *d, size_t i)
{
	d->v[i].backoff_ms = 0;
	d->v[i].retry_at_ms = 0;
	d->cursor = i;
}

int64_t
wsg_dbnodes_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
