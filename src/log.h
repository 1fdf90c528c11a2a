/*
 * Access log (one line per request) and audit log (authentication failures
 * and changes), plus operational messages on stderr. No request waits for a
 * disk: a worker thread attached with wsg_log_attach() collects its lines in
 * a buffer of its own (no lock) and hands it to one writer thread when full,
 * every log.flush seconds, when it stops, and at the end of the loop pass
 * that logged an audit line (log.flush = 0: any line); lines from threads
 * that are not attached are handed over at once. When the writer
 * falls log.backlog bytes behind (a slow disk, a stalled pipe), new lines
 * are dropped and counted rather than stalling requests. wsg_log_close()
 * writes everything still queued. Values that come from requests are
 * escaped; secrets are never passed in. The most recent lines are also kept
 * in a ring (logring.h), synchronously.
 */
#ifndef WSG_LOG_H
#define WSG_LOG_H

#include <event2/event.h>
#include <stdint.h>

#include "config.h"
#include "types.h"

struct wsg_log;
struct wsg_log_buf;

/* One finished request, as the access log records it. */
struct wsg_log_access {
	uint64_t rid;
	const char *client; /* peer address */
	const char *route;  /* route name or NULL */
	const char *user;   /* authenticated or claimed user, or NULL */
	int status;         /* HTTP status sent */
	enum wsg_fault fault;
	double latency_ms;
};

/*
 * Opens the sinks named by `conf` (append mode; NULL paths mean stderr) and
 * starts the writer thread. `*out` is freed with wsg_log_close(), which
 * waits until every line handed over is written (or has failed to be).
 */
int wsg_log_open(const struct wsg_log_conf *conf, struct wsg_log **out,
                 struct wsg_error *err);
void wsg_log_close(struct wsg_log *l);

/*
 * Gives the calling thread its own line buffer, flushed every log.flush
 * seconds by a timer on `base` (the thread's loop). Returns what
 * wsg_log_detach() takes on the same thread, before `base` is freed.
 */
struct wsg_log_buf *wsg_log_attach(struct wsg_log *l, struct event_base *base);

/* Hands the buffered lines to the writer and ends the buffering. */
void wsg_log_detach(struct wsg_log_buf *b);

/* Hands the calling thread's buffered lines to the writer now. */
void wsg_log_flush(struct wsg_log *l);

/* Lines dropped so far because the writer was behind or a write failed. */
void wsg_log_dropped(struct wsg_log *l, uint64_t *access, uint64_t *audit);

/*
 * The recent lines kept in memory (log.ring_size of them), for the
 * management API; owned by `l`.
 */
struct wsg_logring *wsg_log_ring(struct wsg_log *l);

void wsg_log_access(struct wsg_log *l, const struct wsg_log_access *a);

/*
 * Records an audit event: `event` is a fixed word such as "auth_failure",
 * `reason` the precise cause. Any argument but `l` and `event` may be NULL.
 */
void wsg_log_audit(struct wsg_log *l, uint64_t rid, const char *client,
                   const char *route, const char *user, const char *event,
                   const char *reason);

/* An operational message on stderr, prefixed with the time and level. */
void wsg_log_msg(const char *level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#endif
