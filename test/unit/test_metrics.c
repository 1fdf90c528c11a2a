/* Histograms, counters and the Prometheus text writer of metrics.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static void
test_buckets(void **state)
{
	struct wsg_histogram h, copy;

	memset(&h, 0, sizeof(h));
	/* A bound is inclusive (le): 500 us is in the first bucket. */
	wsg_histogram_observe(&h, 0);
	wsg_histogram_observe(&h, 500);
	wsg_histogram_observe(&h, 501);
	wsg_histogram_observe(&h, 1000000);
	wsg_histogram_observe(&h, 10000001);
	wsg_histogram_read(&h, &copy);
	assert_int_equal(copy.buckets[0], 2);
	assert_int_equal(copy.buckets[1], 1);
	assert_int_equal(copy.buckets[10], 1); /* le 1 s */
	assert_int_equal(copy.buckets[WSG_METRICS_BUCKETS], 1);
	assert_int_equal(copy.count, 5);
	assert_int_equal(copy.sum_us, 0 + 500 + 501 + 1000000 + 10000001);
}

static void
test_counter(void **state)
{
	uint64_t c = 0;

	wsg_metrics_inc(&c);
	wsg_metrics_inc(&c);
	wsg_metrics_inc(NULL);
	assert_int_equal(c, 2);
}

static void
test_histogram_text(void **state)
{
	struct wsg_metrics_text t = {NULL, 0, 0};
	struct wsg_histogram h;
	const char *labels[] = {"result", "ok", NULL};

	memset(&h, 0, sizeof(h));
	wsg_histogram_observe(&h, 700);
	wsg_histogram_observe(&h, 20000000);
	wsg_metrics_family(&t, "x_seconds", "histogram", "Some time.");
	wsg_metrics_histogram(&t, "x_seconds", labels, &h);
	assert_non_null(strstr(t.buf,
	                       "# HELP x_seconds Some time.\n"
	                       "# TYPE x_seconds histogram\n"
	                       "x_seconds_bucket{result=\"ok\",le=\"0.0005\"} "
	                       "0\n"
	                       "x_seconds_bucket{result=\"ok\",le=\"0.001\"} "
	                       "1\n"));
	assert_non_null(strstr(t.buf,
	                       "x_seconds_bucket{result=\"ok\",le=\"10\"} "
	                       "1\n"
	                       "x_seconds_bucket{result=\"ok\",le=\"+Inf\"} "
	                       "2\n"
	                       "x_seconds_sum{result=\"ok\"} 20.000700\n"
	                       "x_seconds_count{result=\"ok\"} 2\n"));
	assert_int_equal(strlen(t.buf), t.len);
	free(t.buf);
}

static void
test_escaping(void **state)
{
	struct wsg_metrics_text t = {NULL, 0, 0};
	const char *labels[] = {"route", "a\"b\\c\nd", "code", "2xx", NULL};

	wsg_metrics_family(&t, "r_total", "counter",
	                   "Quote \" stays, \\ and\nnot");
	wsg_metrics_sample(&t, "r_total", labels, 18446744073709551615ULL);
	wsg_metrics_sample(&t, "r_total", NULL, 0);
	assert_string_equal(t.buf,
	                    "# HELP r_total Quote \" stays, \\\\ and\\nnot\n"
	                    "# TYPE r_total counter\n"
	                    "r_total{route=\"a\\\"b\\\\c\\nd\",code=\"2xx\"} "
	                    "18446744073709551615\n"
	                    "r_total 0\n");
	free(t.buf);
}

static void
test_growth(void **state)
{
	struct wsg_metrics_text t = {NULL, 0, 0};
	const char *labels[] = {"k", NULL, NULL};
	char v[16];
	int i;

	/* Well past the first allocation. */
	for (i = 0; i < 2000; i++) {
		snprintf(v, sizeof(v), "%d", i);
		labels[1] = v;
		wsg_metrics_sample(&t, "g", labels, (uint64_t)i);
	}
	assert_int_equal(strlen(t.buf), t.len);
	assert_non_null(strstr(t.buf, "g{k=\"1999\"} 1999\n"));
	free(t.buf);
}

#define THREADS 4
#define PER_THREAD 20000

static void *
observe_cb(void *arg)
{
	int i;

	for (i = 0; i < PER_THREAD; i++)
		wsg_histogram_observe(arg, (uint64_t)(i % 3) * 1000);
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct wsg_histogram *h = calloc(1, sizeof(*h)), copy;
	pthread_t th[THREADS];
	int i;

	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, observe_cb, h),
		                 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	wsg_histogram_read(h, &copy);
	assert_int_equal(copy.count, THREADS * PER_THREAD);
	/* i % 3 of 0..19999: 6667 zeros, 6667 ones, 6666 twos, per thread. */
	assert_int_equal(copy.buckets[0], THREADS * 6667);
	assert_int_equal(copy.buckets[1], THREADS * 6667);
	assert_int_equal(copy.buckets[2], THREADS * 6666);
	assert_int_equal(copy.sum_us, THREADS * (6667 * 1000 + 6666 * 2000));
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_buckets),
	        cmocka_unit_test(test_counter),
	        cmocka_unit_test(test_histogram_text),
	        cmocka_unit_test(test_escaping),
	        cmocka_unit_test(test_growth),
	        cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
