/*
 * Prometheus metrics primitives: lock-free latency histograms and counters
 * that workers update with relaxed atomic additions, and a writer for the
 * text exposition format 0.0.4 (HELP/TYPE lines, escaped label values).
 * The page itself is assembled by the management thread (mgmt_metrics.c).
 */
#ifndef WSG_METRICS_H
#define WSG_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Upper bounds of the histogram buckets in microseconds (+Inf is extra). */
#define WSG_METRICS_BUCKETS 14
extern const uint64_t wsg_metrics_bounds_us[WSG_METRICS_BUCKETS];

/* Non-cumulative bucket counts; [WSG_METRICS_BUCKETS] is above the last
 * bound. Zero-initialise. */
struct wsg_histogram {
	uint64_t buckets[WSG_METRICS_BUCKETS + 1];
	uint64_t count;
	uint64_t sum_us;
};

/* Outcome of one authentication (wsg_auth done path). */
enum wsg_metrics_auth {
	WSG_METRICS_AUTH_OK,
	WSG_METRICS_AUTH_FAILED, /* the client's fault: refused credentials */
	WSG_METRICS_AUTH_ERROR,  /* ours: store unavailable, cache full */
	WSG_METRICS_AUTH__COUNT,
};

/* Outcome of one upstream exchange. */
enum wsg_metrics_upstream {
	WSG_METRICS_UPSTREAM_OK,      /* an HTTP answer, whatever its status */
	WSG_METRICS_UPSTREAM_TIMEOUT, /* no whole answer within the timeout */
	WSG_METRICS_UPSTREAM_ERROR,   /* refused, reset, malformed, too large */
	WSG_METRICS_UPSTREAM__COUNT,
};

/* What the data plane records beyond the per-route counters (stats.h).
 * Shared by all workers; every field is updated atomically. */
struct wsg_metrics {
	struct wsg_histogram auth[WSG_METRICS_AUTH__COUNT];
	struct wsg_histogram upstream[WSG_METRICS_UPSTREAM__COUNT];
	uint64_t credcache_hits;
	uint64_t credcache_misses;
	uint64_t replay_refused;      /* a live copy of the nonce was seen */
	uint64_t replay_full;         /* the cache was full of live nonces */
	uint64_t replay_conflicts;    /* shared store: a concurrent write won */
	uint64_t connections_refused; /* closed over limits.max_connections */
	uint64_t connections_limit;   /* limits.max_connections in force */
	/* security.lockout.store = "mariadb" (lockout_store.h) */
	uint64_t lockout_store_retries; /* a count lost a conflict, ran again */
	uint64_t lockout_store_local;  /* could not count there: counted here */
	uint64_t lockout_store_unread; /* could not read: this process's only */
};

/* Zeroed; free with free(). */
struct wsg_metrics *wsg_metrics_new(void);

/* Adds 1 to a counter of `struct wsg_metrics`. Safe from any thread; a NULL
 * counter (metrics off) is ignored. */
void wsg_metrics_inc(uint64_t *counter);

/* Records one observation of `us` microseconds. Safe from any thread. */
void wsg_histogram_observe(struct wsg_histogram *h, uint64_t us);

/* A copy of `h`, each field read atomically. */
void wsg_histogram_read(const struct wsg_histogram *h,
                        struct wsg_histogram *out);

/* Microseconds on CLOCK_MONOTONIC since `since` (0 if the clock went back). */
uint64_t wsg_metrics_elapsed_us(const struct timespec *since);

/* -------- text exposition format 0.0.4 -------- */

/* A growing text; zero-initialise, free `buf` with free(). */
struct wsg_metrics_text {
	char *buf; /* NUL-terminated once anything is written */
	size_t len;
	size_t cap;
};

/* "# HELP name help" (help escaped) and "# TYPE name type". */
void wsg_metrics_family(struct wsg_metrics_text *t, const char *name,
                        const char *type, const char *help);

/*
 * One sample line: `name{l1="v1",..} value`. `labels` holds name, value
 * pairs ended by NULL (NULL itself: no labels); values are escaped
 * (backslash, double quote, line feed).
 */
void wsg_metrics_sample(struct wsg_metrics_text *t, const char *name,
                        const char *const *labels, uint64_t value);
void wsg_metrics_sample_double(struct wsg_metrics_text *t, const char *name,
                               const char *const *labels, double value);

/* The _bucket (cumulative, le in seconds, +Inf last), _sum (seconds) and
 * _count lines of histogram `name` with `labels` as above. */
void wsg_metrics_histogram(struct wsg_metrics_text *t, const char *name,
                           const char *const *labels,
                           const struct wsg_histogram *h);

#endif
