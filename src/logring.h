/*
 * The most recent access and audit lines, kept in memory for
 * GET /management/logs: a fixed-capacity ring that log.c feeds as it
 * writes each line. Workers push concurrently (one short critical section
 * per line; the copy is made before the lock is taken); readers filter a
 * copy taken under the same lock.
 */
#ifndef WSG_LOGRING_H
#define WSG_LOGRING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Largest capacity accepted (lines); the config key is bounded by it. */
#define WSG_LOGRING_MAX 1000000
/* Longest value kept for a field; longer values are cut. */
#define WSG_LOGRING_FIELD_MAX 256

enum wsg_logring_kind {
	WSG_LOGRING_ACCESS = 0,
	WSG_LOGRING_AUDIT,
};

/* One line as log.c wrote it, with its fields (NULL = absent). */
struct wsg_logring_rec {
	enum wsg_logring_kind kind;
	const char *time; /* the line's timestamp text */
	uint64_t rid;
	const char *client;
	const char *route;    /* route name */
	const char *user;     /* as received (not escaped) */
	int status;           /* access: HTTP status sent */
	enum wsg_fault fault; /* access: fault answered, or NONE */
	double latency_ms;    /* access */
	const char *event;    /* audit: fixed word */
	const char *reason;   /* audit: precise cause */
	const char *line;     /* the whole line, without its newline */
};

/* What a reader asks for; NULL / 0 members do not filter. */
struct wsg_logring_filter {
	const char *route; /* exact route name */
	const char *user;  /* exact user name */
	/*
	 * Exact fault name as in the access log ("wsse:FailedAuthentication",
	 * "-" for none). Audit lines of the matching requests (same rid) are
	 * included, so the reason behind a fault shows next to it.
	 */
	const char *fault;
	int kind; /* -1 any, else enum wsg_logring_kind */
	/* Exact user name every line must carry whatever the other filters
	 * say: a non-admin reader sees its own lines only. */
	const char *only_user;
	uint64_t after; /* only lines with seq > after */
	size_t limit;   /* most recent `limit` matches; 0 = all */
};

struct wsg_logring;

/* A ring of `capacity` lines (0 keeps nothing); free with
 * wsg_logring_free(). */
struct wsg_logring *wsg_logring_new(size_t capacity);
void wsg_logring_free(struct wsg_logring *r);

/* Copies `rec` into the ring, replacing the oldest line when full. Safe
 * from any thread; `r` may be NULL (then nothing is kept). */
void wsg_logring_push(struct wsg_logring *r, const struct wsg_logring_rec *rec);

/*
 * Lines matching `f`, newest first, as the JSON object
 * {"count": n, "capacity": c, "lastSeq": s, "list": [ {...}, ... ]} where
 * every entry has seq, kind, time, rid, client, route, user and line, plus
 * status, fault and latencyMs (access) or event and reason (audit).
 * Values that are not valid UTF-8 are given \xHH-escaped. `*out` is a new
 * reference (caller json_decref()s).
 */
int wsg_logring_query(struct wsg_logring *r, const struct wsg_logring_filter *f,
                      json_t **out);

#endif
