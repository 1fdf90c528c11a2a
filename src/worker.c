#include "worker.h"

#include <stdlib.h>

#include "tls.h"

struct wsg_snapshot *
wsg_snapshot_ref(struct wsg_snapshot *snap)
{
	__atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
	return snap;
}

void
wsg_snapshot_unref(struct wsg_snapshot *snap)
{
	size_t i;

	if (snap == NULL ||
	    __atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	wsg_tls_clients_free(snap->upstream_tls);
	/* Open connections hold their own reference on their SSL_CTX. */
	for (i = 0; i < snap->n_listen; i++)
		SSL_CTX_free(snap->listen_tls[i]);
	free(snap->listen_tls);
	SSL_CTX_free(snap->mgmt_tls);
	wsg_config_unref(snap->cfg);
	free(snap);
}

void
wsg_worker_drain_check(struct wsg_worker *w)
{
	if (w->draining && w->inflight == 0 && w->busy_conns == 0)
		event_base_loopbreak(w->base);
}

void
wsg_worker_conn_closed(struct wsg_worker *w)
{
	__atomic_sub_fetch(w->connections, 1, __ATOMIC_RELAXED);
	wsg_worker_drain_check(w);
}

void
wsg_worker_request_done(struct wsg_worker *w)
{
	w->inflight--;
	wsg_worker_drain_check(w);
}
