/* Buffered access and audit logs: when lines are handed to the writer,
 * that nothing is lost on close, and that a stalled sink drops (counted)
 * instead of blocking the caller. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"

/* "2026-11-28T18:00:00.123Z" */
#define TIME_LEN 24
static const char access_tail[] =
        " access rid=0000000000000001 client=127.0.0.1 route=echo user=alice"
        " status=200 fault=- latency_ms=1.500\n";

struct fixture {
	char dir[64];
	char access[96];
	char audit[96];
	struct wsg_log_conf conf;
	struct wsg_log *log;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_log.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->access, sizeof(f->access), "%s/access.log", f->dir);
	snprintf(f->audit, sizeof(f->audit), "%s/audit.log", f->dir);
	f->conf.access_log = f->access;
	f->conf.audit_log = f->audit;
	f->conf.ring_size = 10;
	f->conf.buffer = 4096;
	f->conf.flush = 1;
	f->conf.backlog = 65536;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	wsg_log_close(f->log);
	unlink(f->access);
	unlink(f->audit);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
open_log(struct fixture *f)
{
	struct wsg_error err;

	wsg_error_clear(&err);
	assert_int_equal(wsg_log_open(&f->conf, &f->log, &err), WSG_OK);
}

static void
close_log(struct fixture *f)
{
	wsg_log_close(f->log);
	f->log = NULL;
}

static void
log_access(struct wsg_log *l, uint64_t rid)
{
	struct wsg_log_access a = {
	        .rid = rid,
	        .client = "127.0.0.1",
	        .route = "echo",
	        .user = "alice",
	        .status = 200,
	        .fault = WSG_FAULT_NONE,
	        .latency_ms = 1.5,
	};

	wsg_log_access(l, &a);
}

static size_t
count_lines(const char *path)
{
	char buf[8192];
	size_t n = 0;
	ssize_t got, i;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < got; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/* The writer is a thread: wait up to 3 s for `want` lines. */
static size_t
wait_lines(const char *path, size_t want)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 300 && (n = count_lines(path)) < want; i++)
		usleep(10000);
	return n;
}

/* Lines wait in the thread's buffer until a flush, then keep the format. */
static void
test_buffered_until_flush(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct wsg_log_buf *b;
	char line[256];
	FILE *fp;

	open_log(f);
	b = wsg_log_attach(f->log, base);
	log_access(f->log, 1);
	log_access(f->log, 2);
	usleep(100000);
	assert_int_equal(count_lines(f->access), 0);
	wsg_log_flush(f->log);
	assert_int_equal(wait_lines(f->access, 2), 2);
	fp = fopen(f->access, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_int_equal(strlen(line), TIME_LEN + strlen(access_tail));
	assert_string_equal(line + TIME_LEN, access_tail);
	assert_true(line[4] == '-' && line[10] == 'T' && line[23] == 'Z');
	wsg_log_detach(b);
	close_log(f);
	event_base_free(base);
}

/* A full buffer goes to the writer without waiting for the timer, and
 * only whole lines are written. */
static void
test_full_buffer_handed_over(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct wsg_log_buf *b;
	uint64_t i;
	size_t n;

	open_log(f);
	b = wsg_log_attach(f->log, base);
	for (i = 1; i <= 100; i++)
		log_access(f->log, i);
	n = wait_lines(f->access, 30);
	assert_true(n >= 30 && n < 100);
	wsg_log_detach(b);
	close_log(f);
	assert_int_equal(count_lines(f->access), 100);
	event_base_free(base);
}

/* log.flush = 0: the lines of one loop pass are handed over when the pass
 * ends, and not before. */
static void
test_flush_after_pass(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct wsg_log_buf *b;

	f->conf.flush = 0;
	open_log(f);
	b = wsg_log_attach(f->log, base);
	log_access(f->log, 1);
	log_access(f->log, 2);
	usleep(100000);
	assert_int_equal(count_lines(f->access), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(wait_lines(f->access, 2), 2);
	log_access(f->log, 3);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(wait_lines(f->access, 3), 3);
	wsg_log_detach(b);
	close_log(f);
	event_base_free(base);
}

/* The loop's timer flushes after log.flush seconds. */
static void
test_timer_flushes(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct timeval tv = {.tv_sec = 1, .tv_usec = 500000};
	struct wsg_log_buf *b;

	open_log(f);
	b = wsg_log_attach(f->log, base);
	log_access(f->log, 1);
	log_access(f->log, 2);
	log_access(f->log, 3);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_int_equal(wait_lines(f->access, 3), 3);
	wsg_log_detach(b);
	close_log(f);
	event_base_free(base);
}

/* An audit line does not wait for log.flush: the worker never waits for
 * the writer, and the buffer goes when the loop pass that logged it ends. */
static void
test_audit_after_pass(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct wsg_log_buf *b;

	f->conf.flush = 3600;
	open_log(f);
	b = wsg_log_attach(f->log, base);
	log_access(f->log, 1);
	wsg_log_audit(f->log, 1, "127.0.0.1", "echo", "alice", "auth_failure",
	              "wrong password");
	usleep(100000);
	assert_int_equal(count_lines(f->audit), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(wait_lines(f->audit, 1), 1);
	assert_int_equal(wait_lines(f->access, 1), 1);
	log_access(f->log, 2);
	event_base_loop(base, EVLOOP_NONBLOCK);
	usleep(100000);
	assert_int_equal(count_lines(f->access), 1);
	wsg_log_detach(b);
	close_log(f);
	assert_int_equal(count_lines(f->access), 2);
	event_base_free(base);
}

/* Detaching and closing write every line, with no timer run at all. */
static void
test_nothing_lost_on_close(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	struct wsg_log_buf *b;
	uint64_t i;

	f->conf.buffer = 1 << 20;
	f->conf.flush = 3600;
	open_log(f);
	b = wsg_log_attach(f->log, base);
	for (i = 1; i <= 1000; i++)
		log_access(f->log, i);
	wsg_log_detach(b);
	close_log(f);
	assert_int_equal(count_lines(f->access), 1000);
	event_base_free(base);
}

struct drain {
	int fd;
	size_t lines;
	size_t torn;
};

static void *
drain_main(void *arg)
{
	struct drain *d = arg;
	char buf[4096], line[512];
	size_t len = 0;
	ssize_t got, i;

	while ((got = read(d->fd, buf, sizeof(buf))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		for (i = 0; i < got; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				continue;
			}
			line[len] = '\0';
			d->lines++;
			if (len < TIME_LEN ||
			    strncmp(line + TIME_LEN, " access rid=", 12) != 0 ||
			    strstr(line, " latency_ms=1.500") == NULL)
				d->torn++;
			len = 0;
		}
	}
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A FIFO whose reader stalls (4 KiB pipe): logging 5000 lines returns at
 * once, the lines beyond log.backlog are dropped and counted, and what was
 * queued arrives whole when the reader drains.
 */
static void
test_stalled_reader_drops_counted(void **state)
{
	struct fixture *f = *state;
	struct drain d = {0};
	uint64_t access = 0, audit = 0, i;
	pthread_t reader;
	double t0;

	assert_int_equal(mkfifo(f->access, 0600), 0);
	d.fd = open(f->access, O_RDONLY | O_NONBLOCK);
	assert_true(d.fd >= 0);
	fcntl(d.fd, F_SETPIPE_SZ, 4096);
	open_log(f);
	t0 = now_s();
	for (i = 1; i <= 5000; i++)
		log_access(f->log, i);
	assert_true(now_s() - t0 < 2.0);
	wsg_log_dropped(f->log, &access, &audit);
	assert_true(access > 0);
	assert_int_equal(audit, 0);
	fcntl(d.fd, F_SETFL, 0); /* the drain blocks from now on */
	assert_int_equal(pthread_create(&reader, NULL, drain_main, &d), 0);
	close_log(f); /* writes what is queued, closes the FIFO */
	pthread_join(reader, NULL);
	close(d.fd);
	assert_int_equal(d.torn, 0);
	assert_true(d.lines > 0);
	assert_int_equal(d.lines + access, 5000);
}

/* At close, a FIFO reader that takes nothing is given up after a few
 * seconds (lines counted as dropped) instead of holding the exit. */
static void
test_stop_gives_up_on_stalled_reader(void **state)
{
	struct fixture *f = *state;
	struct drain d = {0};
	uint64_t i;
	double t0;

	assert_int_equal(mkfifo(f->access, 0600), 0);
	d.fd = open(f->access, O_RDONLY | O_NONBLOCK);
	assert_true(d.fd >= 0);
	fcntl(d.fd, F_SETPIPE_SZ, 4096);
	open_log(f);
	for (i = 1; i <= 200; i++)
		log_access(f->log, i);
	t0 = now_s();
	wsg_log_close(f->log);
	assert_true(now_s() - t0 < 10.0);
	/* What the pipe took arrives whole. */
	fcntl(d.fd, F_SETFL, 0);
	drain_main(&d);
	close(d.fd);
	assert_int_equal(d.torn, 0);
	assert_true(d.lines > 0 && d.lines < 200);
	f->log = NULL;
}

/* With the audit log's reader stalled, audit lines queue and then drop
 * (counted) like the rest: the caller never waits. */
static void
test_audit_stalled_bounded(void **state)
{
	struct fixture *f = *state;
	struct drain d = {0};
	uint64_t access = 0, audit = 0, i;
	double t0;

	assert_int_equal(mkfifo(f->audit, 0600), 0);
	d.fd = open(f->audit, O_RDONLY | O_NONBLOCK);
	assert_true(d.fd >= 0);
	fcntl(d.fd, F_SETPIPE_SZ, 4096);
	open_log(f);
	t0 = now_s();
	for (i = 1; i <= 3000; i++)
		wsg_log_audit(f->log, i, "127.0.0.1", "echo", "alice",
		              "auth_failure", "wrong password");
	assert_true(now_s() - t0 < 2.0);
	wsg_log_dropped(f->log, &access, &audit);
	assert_int_equal(access, 0);
	assert_true(audit > 0);
	close(d.fd); /* the writer's pending write fails: counted, not hung */
	close_log(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_buffered_until_flush,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_full_buffer_handed_over,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flush_after_pass, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_timer_flushes, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_after_pass, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_nothing_lost_on_close,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_stalled_reader_drops_counted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_stalled_bounded,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_stop_gives_up_on_stalled_reader, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
