#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fault.h"
#include "fmt.h"
#include "io.h"
#include "logring.h"
#include "mem.h"

#define LINE_MAX_LEN 2048
#define FIELD_MAX_LEN 256
/* A handed-over buffer this much larger than its lines is shrunk, so the
 * backlog counts memory actually held (audit lines go alone). */
#define SHRINK_SLACK 4096
/* At stop, a pipe whose reader took nothing for this long is given up, so
 * a reader that never reads cannot hold the exit forever. */
#define STOP_STALL_S 5
/* Chunks of one sink written by one writev(2) (IOV_MAX is 1024). */
#define WRITE_RUN_MAX 64
/* How long the writer, woken from idle, waits for more hand-overs. */
#define WRITER_NAP_US 2000

enum line_kind { KIND_ACCESS, KIND_AUDIT, KIND__COUNT };
enum sink_id { SINK_ACCESS, SINK_AUDIT, SINK__COUNT };

/* Whole lines for one sink, queued for the writer in order. */
struct chunk {
	struct chunk *next;
	enum sink_id sink;
	size_t len;
	size_t cap;
	uint64_t lines[KIND__COUNT];
	char data[];
};

struct sink {
	int fd;
	int own;
	int pipe;     /* a FIFO or socket: written in whole lines of PIPE_BUF */
	int nonblock; /* a pipe of ours, so its writes can give up at stop */
	int dead;     /* given up at stop */
	char *name;   /* for messages */
};

/* One attached thread's buffers; touched by that thread only. */
struct wsg_log_buf {
	struct wsg_log *log;
	struct chunk *cur[SINK__COUNT];
	struct event *timer; /* log.flush > 0: every log.flush seconds */
	struct event *soon;  /* after the loop's current pass */
	int soon_due;        /* `soon` is active */
};

struct wsg_log {
	/* The audit sink may be the access one. */
	struct sink sinks[SINK__COUNT];
	enum sink_id audit_sink;
	size_t buffer;
	size_t backlog;
	struct timeval flush;
	pthread_t writer;
	pthread_mutex_t mu; /* guards all below but `dropped` */
	pthread_cond_t cv;  /* the writer waits for chunks */
	struct chunk *head, **tail;
	size_t queued; /* bytes of lines in the queue */
	int stopping;
	int writing;                      /* the writer thread runs */
	uint64_t unreported[KIND__COUNT]; /* drops not yet noted on stderr */
	uint64_t dropped[KIND__COUNT];    /* atomic; for /metrics */
	struct wsg_logring *ring; /* recent lines for the management API */
};

/* The attached buffer of the calling thread, if any. */
static __thread struct wsg_log_buf *thread_buf;

static int
open_sink(const char *path, struct sink *s, struct wsg_error *err)
{
	struct stat st;

	s->name = wsg_mem_strdup(path != NULL ? path : "stderr");
	if (path == NULL) {
		s->fd = STDERR_FILENO;
		s->own = 0;
	} else {
		s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		             0640);
		if (s->fd < 0)
			return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
			                     "cannot open log %s: %s", path,
			                     strerror(errno));
		s->own = 1;
	}
	s->pipe = fstat(s->fd, &st) == 0 &&
	          (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
	/* Never on an inherited stderr: its flags are shared with others. */
	s->nonblock =
	        s->own && s->pipe &&
	        fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) == 0;
	return WSG_OK;
}

static void
count_dropped(struct wsg_log *l, const struct chunk *c)
{
	int k;

	for (k = 0; k < KIND__COUNT; k++) {
		__atomic_add_fetch(&l->dropped[k], c->lines[k],
		                   __ATOMIC_RELAXED);
		l->unreported[k] += c->lines[k];
	}
}

/*
 * Queues `c` for the writer, or drops it (counted) when the writer is more
 * than log.backlog behind; one buffer alone always fits. Takes `c`.
 */
static void
hand_over(struct wsg_log *l, struct chunk *c)
{
	if (c->len == 0) {
		free(c);
		return;
	}
	if (c->cap - c->len > SHRINK_SLACK) {
		c = wsg_mem_realloc(c, sizeof(*c) + c->len);
		c->cap = c->len;
	}
	c->next = NULL;
	pthread_mutex_lock(&l->mu);
	if (l->queued > 0 && l->queued + c->len > l->backlog) {
		count_dropped(l, c);
		pthread_mutex_unlock(&l->mu);
		free(c);
		return;
	}
	*l->tail = c;
	l->tail = &c->next;
	l->queued += c->len;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/*
 * Writes whole lines (at most PIPE_BUF bytes) to a non-blocking pipe of
 * ours, waiting while it is full; once the log is stopping, gives up (and
 * marks the sink dead) after STOP_STALL_S seconds without progress.
 */
static int
write_pipe(struct wsg_log *l, struct sink *s, const char *p, size_t n)
{
	struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
	ssize_t w;
	int idle = 0;

	while (n > 0) {
		w = write(s->fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			idle = 0;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return WSG_ERR_IO;
		if (poll(&pfd, 1, 1000) == 0 &&
		    __atomic_load_n(&l->stopping, __ATOMIC_RELAXED) &&
		    ++idle >= STOP_STALL_S) {
			s->dead = 1;
			errno = ETIMEDOUT;
			return WSG_ERR_IO;
		}
	}
	return WSG_OK;
}

/*
 * Writes a chunk to a pipe: each write(2) carries whole lines and at most
 * PIPE_BUF bytes, so it is atomic and never tears a line that another
 * writer (stderr messages) sends at the same time.
 */
static int
write_pipe_chunk(struct wsg_log *l, struct sink *s, const struct chunk *c)
{
	const char *p = c->data, *end = c->data + c->len;
	size_t n;

	while (p < end) {
		n = (size_t)(end - p);
		if (n > PIPE_BUF) {
			n = PIPE_BUF;
			while (n > 1 && p[n - 1] != '\n')
				n--;
			if (n == 1)
				n = PIPE_BUF;
		}
		if ((s->nonblock ? write_pipe(l, s, p, n)
		                 : wsg_io_write_all(s->fd, p, n)) != WSG_OK)
			return WSG_ERR_IO;
		p += n;
	}
	return WSG_OK;
}

/*
 * Writes chunks `c`, `c->next`, … (`n` of them, one sink) to a file in one
 * writev(2): the hand-overs of many loop passes cost one system call.
 */
static int
write_file_run(const struct sink *s, const struct chunk *c, int n)
{
	struct iovec iov[WRITE_RUN_MAX];
	struct iovec *v = iov;
	ssize_t w;
	int i;

	for (i = 0; i < n; i++, c = c->next) {
		iov[i].iov_base = (void *)c->data;
		iov[i].iov_len = c->len;
	}
	while (n > 0) {
		w = writev(s->fd, v, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return WSG_ERR_IO;
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return WSG_OK;
}

/* Writes a run of `n` chunks of one sink; pipes chunk by chunk. */
static int
write_run(struct wsg_log *l, struct sink *s, const struct chunk *c, int n)
{
	int i;

	if (s->dead) {
		errno = ETIMEDOUT;
		return WSG_ERR_IO;
	}
	if (!s->pipe)
		return write_file_run(s, c, n);
	for (i = 0; i < n; i++, c = c->next)
		if (write_pipe_chunk(l, s, c) != WSG_OK)
			return WSG_ERR_IO;
	return WSG_OK;
}

/*
 * The one thread that writes: it may block on a slow sink, nobody waits
 * for it. Woken from idle, it naps WRITER_NAP_US first, so a steady
 * trickle of hand-overs (a loop pass each) costs it one wake-up and one
 * write per nap, not one per pass. Its own messages go to stderr without
 * the lock held.
 */
static void *
writer_main(void *arg)
{
	const struct timespec nap = {0, WRITER_NAP_US * 1000L};
	struct wsg_log *l = arg;
	uint64_t note[KIND__COUNT];
	struct chunk *list, *c, *next;
	enum sink_id sink;
	int rc, failing = 0, tell_failure, err, idle, n, i;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		idle = 0;
		while (l->head == NULL && !l->stopping) {
			idle = 1;
			pthread_cond_wait(&l->cv, &l->mu);
		}
		if (l->head == NULL)
			break;
		if (idle && !l->stopping) {
			pthread_mutex_unlock(&l->mu);
			nanosleep(&nap, NULL);
			pthread_mutex_lock(&l->mu);
		}
		list = l->head;
		l->head = NULL;
		l->tail = &l->head;
		for (c = list; c != NULL; c = c->next)
			l->queued -= c->len;
		pthread_mutex_unlock(&l->mu);
		while (list != NULL) {
			sink = list->sink;
			for (n = 1, c = list->next;
			     c != NULL && c->sink == sink && n < WRITE_RUN_MAX;
			     c = c->next)
				n++;
			rc = write_run(l, &l->sinks[sink], list, n);
			err = errno;
			pthread_mutex_lock(&l->mu);
			tell_failure = rc != WSG_OK && !failing;
			note[KIND_ACCESS] = note[KIND_AUDIT] = 0;
			if (rc != WSG_OK) {
				for (i = 0, c = list; i < n; i++, c = c->next)
					count_dropped(l, c);
				failing = 1;
			} else {
				note[KIND_ACCESS] = l->unreported[KIND_ACCESS];
				note[KIND_AUDIT] = l->unreported[KIND_AUDIT];
				l->unreported[KIND_ACCESS] = 0;
				l->unreported[KIND_AUDIT] = 0;
				failing = 0;
			}
			pthread_mutex_unlock(&l->mu);
			if (tell_failure && err == ETIMEDOUT)
				wsg_log_msg(
				        "error",
				        "log: %s took nothing for %d s while "
				        "stopping; its last lines are dropped",
				        l->sinks[sink].name, STOP_STALL_S);
			else if (tell_failure)
				wsg_log_msg(
				        "error",
				        "log: cannot write %s: %s; dropping "
				        "lines until it can",
				        l->sinks[sink].name, strerror(err));
			if (note[KIND_ACCESS] > 0 || note[KIND_AUDIT] > 0)
				wsg_log_msg(
				        "warning",
				        "log: %llu access and %llu audit lines "
				        "dropped: the log could not take them",
				        (unsigned long long)note[KIND_ACCESS],
				        (unsigned long long)note[KIND_AUDIT]);
			for (i = 0; i < n; i++) {
				next = list->next;
				free(list);
				list = next;
			}
		}
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Signals go to the other threads: the writer may sit in a long write. */
static int
start_writer(struct wsg_log *l)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->writer, NULL, writer_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int
wsg_log_open(const struct wsg_log_conf *conf, struct wsg_log **out,
             struct wsg_error *err)
{
	struct wsg_log *l;
	int rc;

	*out = NULL;
	l = wsg_mem_calloc(1, sizeof(*l));
	l->sinks[SINK_ACCESS].fd = l->sinks[SINK_AUDIT].fd = -1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->tail = &l->head;
	l->buffer = conf->buffer;
	l->backlog = conf->backlog;
	l->flush.tv_sec = (time_t)conf->flush;
	rc = open_sink(conf->access_log, &l->sinks[SINK_ACCESS], err);
	if (rc != WSG_OK)
		goto out;
	/* Both on stderr: one buffer keeps a thread's lines in order. */
	l->audit_sink = conf->audit_log == NULL && conf->access_log == NULL
	                        ? SINK_ACCESS
	                        : SINK_AUDIT;
	if (l->audit_sink == SINK_AUDIT) {
		rc = open_sink(conf->audit_log, &l->sinks[SINK_AUDIT], err);
		if (rc != WSG_OK)
			goto out;
	}
	if (start_writer(l) != 0) {
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_NONE,
		                   "cannot start the log writer thread");
		goto out;
	}
	l->writing = 1;
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
	int i;

	if (l == NULL)
		return;
	if (l->writing) {
		pthread_mutex_lock(&l->mu);
		__atomic_store_n(&l->stopping, 1, __ATOMIC_RELAXED);
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->writer, NULL);
	}
	for (i = 0; i < SINK__COUNT; i++) {
		if (l->sinks[i].own && l->sinks[i].fd >= 0)
			close(l->sinks[i].fd);
		free(l->sinks[i].name);
	}
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	wsg_logring_free(l->ring);
	free(l);
}

static void
flush_buf(struct wsg_log_buf *b)
{
	int i;

	b->soon_due = 0;
	for (i = 0; i < SINK__COUNT; i++) {
		if (b->cur[i] != NULL)
			hand_over(b->log, b->cur[i]);
		b->cur[i] = NULL;
	}
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	flush_buf(arg);
}

struct wsg_log_buf *
wsg_log_attach(struct wsg_log *l, struct event_base *base)
{
	struct wsg_log_buf *b = wsg_mem_calloc(1, sizeof(*b));

	b->log = l;
	if (l->flush.tv_sec > 0) {
		b->timer = event_new(base, -1, EV_PERSIST, flush_cb, b);
		if (b->timer != NULL)
			event_add(b->timer, &l->flush);
	}
	b->soon = event_new(base, -1, 0, flush_cb, b);
	thread_buf = b;
	return b;
}

void
wsg_log_detach(struct wsg_log_buf *b)
{
	if (b == NULL)
		return;
	flush_buf(b);
	if (b->timer != NULL)
		event_free(b->timer);
	if (b->soon != NULL)
		event_free(b->soon);
	if (thread_buf == b)
		thread_buf = NULL;
	free(b);
}

void
wsg_log_flush(struct wsg_log *l)
{
	if (thread_buf != NULL && thread_buf->log == l)
		flush_buf(thread_buf);
}

void
wsg_log_dropped(struct wsg_log *l, uint64_t *access, uint64_t *audit)
{
	*access = __atomic_load_n(&l->dropped[KIND_ACCESS], __ATOMIC_RELAXED);
	*audit = __atomic_load_n(&l->dropped[KIND_AUDIT], __ATOMIC_RELAXED);
}

static struct chunk *
chunk_new(enum sink_id sink, size_t cap)
{
	struct chunk *c = wsg_mem_alloc(sizeof(*c) + cap);

	memset(c, 0, sizeof(*c));
	c->sink = sink;
	c->cap = cap;
	return c;
}

/*
 * Adds one whole line to the calling thread's buffer for its sink, handing
 * the buffer over first when the line does not fit. An audit line (and,
 * with log.flush = 0, any line) has the buffer handed over when the loop's
 * current pass ends: the lines of a busy pass go together, and a quiet
 * gateway's audit line is in its file at once, without the worker ever
 * waiting for the writer. Threads that are not attached hand each line
 * over alone.
 */
static void
emit(struct wsg_log *l, enum line_kind kind, const char *line, size_t len)
{
	enum sink_id sink = kind == KIND_AUDIT ? l->audit_sink : SINK_ACCESS;
	struct wsg_log_buf *b = thread_buf;
	struct chunk *c;

	if (b == NULL || b->log != l) {
		c = chunk_new(sink, len);
		memcpy(c->data, line, len);
		c->len = len;
		c->lines[kind] = 1;
		hand_over(l, c);
		return;
	}
	c = b->cur[sink];
	if (c != NULL && c->cap - c->len < len) {
		hand_over(l, c);
		c = NULL;
	}
	if (c == NULL)
		c = b->cur[sink] =
		        chunk_new(sink, len > l->buffer ? len : l->buffer);
	memcpy(c->data + c->len, line, len);
	c->len += len;
	c->lines[kind]++;
	if (!b->soon_due && b->soon != NULL &&
	    (kind == KIND_AUDIT || l->flush.tv_sec == 0)) {
		b->soon_due = 1;
		event_active(b->soon, EV_TIMEOUT, 1);
	}
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
	p = wsg_fmt_str(p, end, now);
	p = wsg_fmt_str(p, end, " access rid=");
	for (i = 15; i >= 0 && p < end; i--)
		*p++ = hex_digits[(a->rid >> (4 * i)) & 15];
	p = wsg_fmt_str(p, end, " client=");
	p = wsg_fmt_str(p, end, client);
	p = wsg_fmt_str(p, end, " route=");
	p = wsg_fmt_str(p, end, route);
	p = wsg_fmt_str(p, end, " user=");
	p = wsg_fmt_str(p, end, user);
	p = wsg_fmt_str(p, end, " status=");
	if (a->status < 0)
		p = wsg_fmt_str(p, end, "-");
	p = wsg_fmt_uint(p, end,
	                 (unsigned long long)(a->status < 0
	                                              ? -(long long)a->status
	                                              : a->status));
	p = wsg_fmt_str(p, end, " fault=");
	p = wsg_fmt_str(p, end, wsg_fault_name(a->fault));
	p = wsg_fmt_str(p, end, " latency_ms=");
	us = a->latency_ms > 0
	             ? (unsigned long long)(a->latency_ms * 1000.0 + 0.5)
	             : 0;
	p = wsg_fmt_uint(p, end, us / 1000);
	if (end - p >= 4) {
		*p++ = '.';
		p = put_digits(p, us % 1000, 3);
	}
	*p++ = '\n';
	emit(l, KIND_ACCESS, line, (size_t)(p - line));
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
	emit(l, KIND_AUDIT, line, (size_t)n);
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
