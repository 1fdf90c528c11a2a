/*
 * Access log (one line per request) and audit log (authentication failures
 * and changes), plus operational messages on stderr. Lines are written with
 * one write(2) each, so workers can log concurrently without a lock. Values
 * that come from requests are escaped; secrets are never passed in. The
 * most recent lines are also kept in a ring (logring.h).
 */
#ifndef WSG_LOG_H
#define WSG_LOG_H

#include <stdint.h>

#include "config.h"
#include "types.h"

struct wsg_log;

/* One finished request, as the access log records it. */
struct wsg_log_access {
	uint64_t rid;
	const char *client;      /* peer address */
	const char *route;       /* route name or NULL */
	const char *user;        /* authenticated or claimed user, or NULL */
	int status;              /* HTTP status sent */
	enum wsg_fault fault;
	double latency_ms;
};

/*
 * Opens the sinks named by `conf` (append mode; NULL paths mean stderr).
 * `*out` is freed with wsg_log_close().
 */
int wsg_log_open(const struct wsg_log_conf *conf, struct wsg_log **out,
		 struct wsg_error *err);
void wsg_log_close(struct wsg_log *l);

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
