#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "logring.h"
#include "mem.h"
#include "soap.h"

#define LINE_MAX_LEN 2048
#define FIELD_MAX_LEN 256

struct wsg_log {
	int access_fd;
	int audit_fd;
	int own_access;
	int own_audit;
	struct wsg_logring *ring; /* recent lines for the management API */
};

static int
open_sink(const char *path, int *fd, int *own, struct wsg_error *err)
{
	if (path == NULL) {
		*fd = STDERR_FILENO;
		*own = 0;
		return WSG_OK;
	}
	*fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (*fd < 0)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
				     "cannot open log %s: %s", path,
				     strerror(errno));
	*own = 1;
	return WSG_OK;
}

int
wsg_log_open(const struct wsg_log_conf *conf, struct wsg_log **out,
	     struct wsg_error *err)
{
	struct wsg_log *l;
	int rc;

	*out = NULL;
	l = wsg_mem_calloc(1, sizeof(*l));
	l->access_fd = l->audit_fd = -1;
	rc = open_sink(conf->access_log, &l->access_fd, &l->own_access, err);
	if (rc != WSG_OK)
		goto out;
	rc = open_sink(conf->audit_log, &l->audit_fd, &l->own_audit, err);
	if (rc != WSG_OK)
		goto out;
	l->ring = wsg_logring_new(conf->ring_size);
	*out = l;
	l = NULL;
out:
	wsg_log_close(l);
	return rc;
}

void
wsg_log_close(struct wsg_log *l)
{
	if (l == NULL)
		return;
	if (l->own_access && l->access_fd >= 0)
		close(l->access_fd);
	if (l->own_audit && l->audit_fd >= 0)
		close(l->audit_fd);
	wsg_logring_free(l->ring);
	free(l);
}

struct wsg_logring *
wsg_log_ring(struct wsg_log *l)
{
	return l->ring;
}

/* Writes `v` as exactly `width` decimal digits (zero-padded) at `p`. */
static char *
put_digits(char *p, unsigned long long v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/*
 * "2026-11-28T18:00:00.123Z": log lines sort and compare across hosts.
 * Formatted by hand, like the access line: printf made up three quarters
 * of the access line's cost (bench/README.md). `buf` holds >= 25 bytes.
 */
static void
format_now(char *buf)
{
	struct timespec ts;
	struct tm tm;
	char *p = buf;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	p = put_digits(p, (unsigned long long)(tm.tm_year + 1900), 4);
	*p++ = '-';
	p = put_digits(p, (unsigned long long)(tm.tm_mon + 1), 2);
	*p++ = '-';
	p = put_digits(p, (unsigned long long)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned long long)tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned long long)tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned long long)tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned long long)(ts.tv_nsec / 1000000), 3);
	*p++ = 'Z';
	*p = '\0';
}

static const char hex_digits[] = "0123456789abcdef";

/*
 * Copies a request-supplied value so it cannot forge log fields or lines:
 * bytes outside printable ASCII, quotes and '\' become \xHH, and so do
 * spaces and '=' unless `keep_spaces` (free text inside quotes). UTF-8
 * names therefore appear hex-escaped, which keeps lines parseable.
 */
static void
escape_value(char *dst, size_t len, const char *src, int keep_spaces)
{
	size_t o = 0;

	if (src == NULL || *src == '\0') {
		snprintf(dst, len, "-");
		return;
	}
	for (; *src != '\0' && o + 5 < len; src++) {
		unsigned char c = (unsigned char)*src;
		int plain = c > 0x20 && c < 0x7f && c != '"' && c != '\\' &&
			    c != '=';

		if (plain || (keep_spaces && (c == ' ' || c == '='))) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex_digits[c >> 4];
			dst[o++] = hex_digits[c & 15];
		}
	}
	dst[o] = '\0';
}

static void
escape_field(char *dst, size_t len, const char *src)
{
	escape_value(dst, len, src, 0);
}

/* Appends `s` at `p`, never past `end`; returns the new end of the line. */
static char *
put_str(char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	if (n > (size_t)(end - p))
		n = (size_t)(end - p);
	memcpy(p, s, n);
	return p + n;
}

/* Appends `v` in decimal at `p`, never past `end`. */
static char *
put_uint(char *p, const char *end, unsigned long long v)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0 && p < end)
		*p++ = digits[--n];
	return p;
}

void
wsg_log_access(struct wsg_log *l, const struct wsg_log_access *a)
{
	char now[40], client[FIELD_MAX_LEN], route[FIELD_MAX_LEN];
	char user[FIELD_MAX_LEN], line[LINE_MAX_LEN];
	struct wsg_logring_rec rec;
	char *p = line, *end = line + sizeof(line) - 1;
	unsigned long long us;
	int i;

	format_now(now);
	escape_field(client, sizeof(client), a->client);
	escape_field(route, sizeof(route), a->route);
	escape_field(user, sizeof(user), a->user);
	/* "%s access rid=%016llx client=%s route=%s user=%s status=%d
	 * fault=%s latency_ms=%.3f\n", without printf. */
	p = put_str(p, end, now);
	p = put_str(p, end, " access rid=");
	for (i = 15; i >= 0 && p < end; i--)
		*p++ = hex_digits[(a->rid >> (4 * i)) & 15];
	p = put_str(p, end, " client=");
	p = put_str(p, end, client);
	p = put_str(p, end, " route=");
	p = put_str(p, end, route);
	p = put_str(p, end, " user=");
	p = put_str(p, end, user);
	p = put_str(p, end, " status=");
	if (a->status < 0)
		p = put_str(p, end, "-");
	p = put_uint(p, end,
	             (unsigned long long)(a->status < 0 ? -(long long)a->status
	                                                : a->status));
	p = put_str(p, end, " fault=");
	p = put_str(p, end, wsg_soap_fault_name(a->fault));
	p = put_str(p, end, " latency_ms=");
	us = a->latency_ms > 0
	             ? (unsigned long long)(a->latency_ms * 1000.0 + 0.5)
	             : 0;
	p = put_uint(p, end, us / 1000);
	if (end - p >= 4) {
		*p++ = '.';
		p = put_digits(p, us % 1000, 3);
	}
	*p++ = '\n';
	wsg_io_write_all(l->access_fd, line, (size_t)(p - line));
	memset(&rec, 0, sizeof(rec));
	rec.kind = WSG_LOGRING_ACCESS;
	rec.time = now;
	rec.rid = a->rid;
	rec.client = a->client;
	rec.route = a->route;
	rec.user = a->user;
	rec.status = a->status;
	rec.fault = a->fault;
	rec.latency_ms = a->latency_ms;
	p[-1] = '\0'; /* the ring keeps lines without the newline */
	rec.line = line;
	wsg_logring_push(l->ring, &rec);
}

void
wsg_log_audit(struct wsg_log *l, uint64_t rid, const char *client,
	      const char *route, const char *user, const char *event,
	      const char *reason)
{
	char now[40], c[FIELD_MAX_LEN], r[FIELD_MAX_LEN], u[FIELD_MAX_LEN];
	char why[1024], line[LINE_MAX_LEN];
	struct wsg_logring_rec rec;
	int n;

	format_now(now);
	escape_field(c, sizeof(c), client);
	escape_field(r, sizeof(r), route);
	escape_field(u, sizeof(u), user);
	/* Reasons are ours, but may quote request text. */
	escape_value(why, sizeof(why), reason, 1);
	n = snprintf(line, sizeof(line),
		     "%s audit rid=%016llx client=%s route=%s user=%s event=%s "
		     "reason=\"%s\"\n",
		     now, (unsigned long long)rid, c, r, u, event, why);
	if (n <= 0)
		return;
	n = (size_t)n < sizeof(line) ? n : (int)sizeof(line) - 1;
	wsg_io_write_all(l->audit_fd, line, (size_t)n);
	memset(&rec, 0, sizeof(rec));
	rec.kind = WSG_LOGRING_AUDIT;
	rec.time = now;
	rec.rid = rid;
	rec.client = client;
	rec.route = route;
	rec.user = user;
	rec.event = event;
	rec.reason = why;
	if (line[n - 1] == '\n')
		line[n - 1] = '\0';
	rec.line = line;
	wsg_logring_push(l->ring, &rec);
}

void
wsg_log_msg(const char *level, const char *fmt, ...)
{
	char now[40], msg[1024], line[LINE_MAX_LEN];
	va_list ap;
	int n;

	format_now(now);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf(line, sizeof(line), "%s %s %s\n", now, level, msg);
	if (n > 0)
		wsg_io_write_all(STDERR_FILENO, line,
		                 (size_t)n < sizeof(line) ? (size_t)n
		                                          : sizeof(line) - 1);
}
