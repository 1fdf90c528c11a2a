#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* From 0.5 ms (a digest from the cache) to 10 s (a stalled store or
 * upstream at its timeout): argon2 lands in the middle. */
const uint64_t wsg_metrics_bounds_us[WSG_METRICS_BUCKETS] = {
        500,    1000,   2500,   5000,    10000,   25000,   50000,
        100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

#define MAX_LABELS 8

struct wsg_metrics *
wsg_metrics_new(void)
{
	return wsg_mem_calloc(1, sizeof(struct wsg_metrics));
}

void
wsg_metrics_inc(uint64_t *counter)
{
	if (counter != NULL)
		__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

void
wsg_histogram_observe(struct wsg_histogram *h, uint64_t us)
{
	size_t i = 0;

	while (i < WSG_METRICS_BUCKETS && us > wsg_metrics_bounds_us[i])
		i++;
	__atomic_fetch_add(&h->buckets[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_us, us, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

void
wsg_histogram_read(const struct wsg_histogram *h, struct wsg_histogram *out)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i <= WSG_METRICS_BUCKETS; i++) {
		out->buckets[i] =
		        __atomic_load_n(&h->buckets[i], __ATOMIC_RELAXED);
		total += out->buckets[i];
	}
	out->sum_us = __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
	/* The buckets are read one by one while workers add: the count
	 * shown is their total, so that +Inf equals _count as scrapers
	 * expect. */
	out->count = total;
}

uint64_t
wsg_metrics_elapsed_us(const struct timespec *since)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	     (now.tv_nsec - since->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

/* -------- text -------- */

static void
reserve(struct wsg_metrics_text *t, size_t more)
{
	if (t->len + more + 1 <= t->cap)
		return;
	t->cap = t->cap ? t->cap : 4096;
	while (t->len + more + 1 > t->cap)
		t->cap *= 2;
	t->buf = wsg_mem_realloc(t->buf, t->cap);
}

static void
put(struct wsg_metrics_text *t, const char *s, size_t n)
{
	reserve(t, n);
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void
put_str(struct wsg_metrics_text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct wsg_metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	reserve(t, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* The format's escapes: \\ and \n everywhere, \" inside label values. */
static void
put_escaped(struct wsg_metrics_text *t, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			put_str(t, "\\\\");
		else if (*s == '\n')
			put_str(t, "\\n");
		else if (quote && *s == '"')
			put_str(t, "\\\"");
		else
			put(t, s, 1);
	}
}

void
wsg_metrics_family(struct wsg_metrics_text *t, const char *name,
                   const char *type, const char *help)
{
	putf(t, "# HELP %s ", name);
	put_escaped(t, help, 0);
	putf(t, "\n# TYPE %s %s\n", name, type);
}

/* name{labels[,extra="extra_value"]} without the value. */
static void
put_series(struct wsg_metrics_text *t, const char *name,
           const char *const *labels, const char *extra,
           const char *extra_value)
{
	size_t i;
	int any = 0;

	put_str(t, name);
	for (i = 0; labels != NULL && labels[i] != NULL && i < 2 * MAX_LABELS;
	     i += 2) {
		put_str(t, any ? "," : "{");
		putf(t, "%s=\"", labels[i]);
		put_escaped(t, labels[i + 1] ? labels[i + 1] : "", 1);
		put_str(t, "\"");
		any = 1;
	}
	if (extra != NULL) {
		putf(t, "%s%s=\"%s\"", any ? "," : "{", extra, extra_value);
		any = 1;
	}
	if (any)
		put_str(t, "}");
}

void
wsg_metrics_sample(struct wsg_metrics_text *t, const char *name,
                   const char *const *labels, uint64_t value)
{
	put_series(t, name, labels, NULL, NULL);
	putf(t, " %llu\n", (unsigned long long)value);
}

void
wsg_metrics_sample_double(struct wsg_metrics_text *t, const char *name,
                          const char *const *labels, double value)
{
	put_series(t, name, labels, NULL, NULL);
	putf(t, " %.6f\n", value);
}

void
wsg_metrics_histogram(struct wsg_metrics_text *t, const char *name,
                      const char *const *labels, const struct wsg_histogram *h)
{
	char series[128], le[32];
	uint64_t cum = 0;
	size_t i;

	snprintf(series, sizeof(series), "%s_bucket", name);
	for (i = 0; i <= WSG_METRICS_BUCKETS; i++) {
		cum += h->buckets[i];
		if (i < WSG_METRICS_BUCKETS)
			snprintf(le, sizeof(le), "%g",
			         (double)wsg_metrics_bounds_us[i] / 1e6);
		else
			snprintf(le, sizeof(le), "+Inf");
		put_series(t, series, labels, "le", le);
		putf(t, " %llu\n", (unsigned long long)cum);
	}
	snprintf(series, sizeof(series), "%s_sum", name);
	wsg_metrics_sample_double(t, series, labels, (double)h->sum_us / 1e6);
	snprintf(series, sizeof(series), "%s_count", name);
	wsg_metrics_sample(t, series, labels, h->count);
}
