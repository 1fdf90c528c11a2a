/* The recent-lines ring behind GET /management/logs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logring.h"
#include "types.h"

static void
push_access(struct wsg_logring *r, uint64_t rid, const char *route,
            const char *user, int status, enum wsg_fault fault)
{
	struct wsg_logring_rec rec;
	char line[128];

	snprintf(line, sizeof(line), "access rid=%llu",
	         (unsigned long long)rid);
	memset(&rec, 0, sizeof(rec));
	rec.kind = WSG_LOGRING_ACCESS;
	rec.time = "2026-11-28T18:00:00.123Z";
	rec.rid = rid;
	rec.client = "127.0.0.1";
	rec.route = route;
	rec.user = user;
	rec.status = status;
	rec.fault = fault;
	rec.latency_ms = 1.5;
	rec.line = line;
	wsg_logring_push(r, &rec);
}

static void
push_audit(struct wsg_logring *r, uint64_t rid, const char *route,
           const char *user, const char *reason)
{
	struct wsg_logring_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.kind = WSG_LOGRING_AUDIT;
	rec.time = "2026-11-28T18:00:00.100Z";
	rec.rid = rid;
	rec.route = route;
	rec.user = user;
	rec.event = "auth_failure";
	rec.reason = reason;
	rec.line = "audit";
	wsg_logring_push(r, &rec);
}

static struct wsg_logring_filter
no_filter(void)
{
	struct wsg_logring_filter f;

	memset(&f, 0, sizeof(f));
	f.kind = -1;
	return f;
}

static json_t *
query(struct wsg_logring *r, const struct wsg_logring_filter *f)
{
	json_t *out = NULL;

	assert_int_equal(wsg_logring_query(r, f, &out), WSG_OK);
	assert_non_null(out);
	return out;
}

static json_t *
item(json_t *res, size_t i)
{
	return json_array_get(json_object_get(res, "list"), i);
}

static json_int_t
int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *
str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
test_newest_first_and_wraps(void **state)
{
	struct wsg_logring *r = wsg_logring_new(3);
	struct wsg_logring_filter f = no_filter();
	json_t *res;
	uint64_t i;

	for (i = 1; i <= 5; i++)
		push_access(r, i, "echo", "alice", 200, WSG_FAULT_NONE);
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 3);
	assert_int_equal(int_of(res, "capacity"), 3);
	assert_int_equal(int_of(res, "lastSeq"), 5);
	assert_int_equal(int_of(item(res, 0), "seq"), 5);
	assert_int_equal(int_of(item(res, 2), "seq"), 3);
	assert_string_equal(str_of(item(res, 0), "rid"), "0000000000000005");
	assert_string_equal(str_of(item(res, 0), "line"), "access rid=5");
	assert_string_equal(str_of(item(res, 0), "kind"), "access");
	assert_string_equal(str_of(item(res, 0), "fault"), "-");
	assert_int_equal(int_of(item(res, 0), "status"), 200);
	json_decref(res);

	f.limit = 2;
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 2);
	assert_int_equal(int_of(item(res, 1), "seq"), 4);
	json_decref(res);

	f.limit = 0;
	f.after = 4;
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 1);
	assert_int_equal(int_of(item(res, 0), "seq"), 5);
	json_decref(res);
	wsg_logring_free(r);
}

/* A non-admin reader: its own lines only, whatever it asks for. */
static void
test_only_user_wins_over_other_filters(void **state)
{
	struct wsg_logring *r = wsg_logring_new(100);
	struct wsg_logring_filter f = no_filter();
	json_t *res;

	push_audit(r, 1, "echo", "ghost", "unknown user");
	push_access(r, 1, "echo", "ghost", 500,
	            WSG_FAULT_FAILED_AUTHENTICATION);
	push_audit(r, 2, "echo", "alice", "wrong password digest");
	push_access(r, 2, "echo", "alice", 500,
	            WSG_FAULT_FAILED_AUTHENTICATION);
	push_access(r, 3, "echo", "bob", 200, WSG_FAULT_NONE);
	f.only_user = "bob";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 1);
	assert_string_equal(str_of(item(res, 0), "user"), "bob");
	json_decref(res);
	f.user = "ghost";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 0);
	json_decref(res);
	f.user = NULL;
	f.fault = "wsse:FailedAuthentication";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 0);
	json_decref(res);
	f.only_user = NULL;
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 4);
	json_decref(res);
	wsg_logring_free(r);
}

static void
test_filters(void **state)
{
	struct wsg_logring *r = wsg_logring_new(100);
	struct wsg_logring_filter f = no_filter();
	json_t *res;

	push_access(r, 1, "echo", "alice", 200, WSG_FAULT_NONE);
	push_audit(r, 2, "echo", "bob", "wrong password digest");
	push_access(r, 2, "echo", "bob", 500, WSG_FAULT_FAILED_AUTHENTICATION);
	push_access(r, 3, "other", "alice", 500,
	            WSG_FAULT_FAILED_AUTHENTICATION);
	push_access(r, 4, NULL, NULL, 404, WSG_FAULT_NOT_FOUND);

	f.route = "echo";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 3);
	json_decref(res);

	f = no_filter();
	f.user = "alice";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 2);
	assert_int_equal(int_of(item(res, 0), "seq"), 4);
	json_decref(res);

	/* A user name is compared exactly, not as a prefix or without case. */
	f.user = "Alice";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 0);
	json_decref(res);

	f = no_filter();
	f.kind = WSG_LOGRING_AUDIT;
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 1);
	assert_string_equal(str_of(item(res, 0), "reason"),
	                    "wrong password digest");
	assert_string_equal(str_of(item(res, 0), "event"), "auth_failure");
	assert_null(json_object_get(item(res, 0), "status"));
	json_decref(res);

	/* A line without route or user gives JSON null, and is never matched
	 * by a route filter. */
	f = no_filter();
	f.fault = "soap:Client.NotFound";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 1);
	assert_true(json_is_null(json_object_get(item(res, 0), "route")));
	assert_true(json_is_null(json_object_get(item(res, 0), "user")));
	json_decref(res);

	f.fault = "-";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 1);
	assert_int_equal(int_of(item(res, 0), "seq"), 1);
	json_decref(res);
	wsg_logring_free(r);
}

/* A fault filter brings the audit lines of the faulted requests along. */
static void
test_fault_filter_keeps_audit_reason(void **state)
{
	struct wsg_logring *r = wsg_logring_new(100);
	struct wsg_logring_filter f = no_filter();
	json_t *res;

	push_audit(r, 7, "echo", "bob", "unknown user");
	push_access(r, 7, "echo", "bob", 500, WSG_FAULT_FAILED_AUTHENTICATION);
	push_audit(r, 8, "echo", "eve", "replayed nonce");
	push_access(r, 8, "echo", "eve", 500, WSG_FAULT_INVALID_SECURITY);
	push_access(r, 9, "echo", "alice", 200, WSG_FAULT_NONE);

	f.fault = "wsse:FailedAuthentication";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 2);
	assert_string_equal(str_of(item(res, 0), "kind"), "access");
	assert_string_equal(str_of(item(res, 1), "kind"), "audit");
	assert_string_equal(str_of(item(res, 1), "reason"), "unknown user");
	json_decref(res);

	/* With a kind filter, only the audit line of that request. */
	f.kind = WSG_LOGRING_AUDIT;
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 1);
	assert_string_equal(str_of(item(res, 0), "user"), "bob");
	json_decref(res);

	f.kind = -1;
	f.fault = "wsse:MessageExpired";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 0);
	json_decref(res);
	wsg_logring_free(r);
}

static void
test_invalid_utf8_is_escaped(void **state)
{
	struct wsg_logring *r = wsg_logring_new(4);
	struct wsg_logring_filter f = no_filter();
	json_t *res;

	push_access(r, 1, "echo", "j\xc3\xb6rg", 200, WSG_FAULT_NONE);
	push_access(r, 2, "echo", "bad\xff\x01name", 500,
	            WSG_FAULT_FAILED_AUTHENTICATION);
	res = query(r, &f);
	assert_string_equal(str_of(item(res, 0), "user"), "bad\\xff\\x01name");
	assert_string_equal(str_of(item(res, 1), "user"), "j\xc3\xb6rg");
	json_decref(res);
	/* The filter compares the name as received. */
	f.user = "bad\xff\x01name";
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 1);
	json_decref(res);
	wsg_logring_free(r);
}

static void
test_long_values_cut_on_character_boundary(void **state)
{
	struct wsg_logring *r = wsg_logring_new(2);
	struct wsg_logring_filter f = no_filter();
	char user[1 + 2 * WSG_LOGRING_FIELD_MAX + 1];
	const char *got;
	json_t *res;
	size_t i;

	/* "x" then two-byte "é"s: the cap falls inside a character. */
	user[0] = 'x';
	for (i = 1; i + 2 < sizeof(user); i += 2)
		memcpy(user + i, "\xc3\xa9", 2);
	user[i] = '\0';
	push_access(r, 1, "echo", user, 200, WSG_FAULT_NONE);
	res = query(r, &f);
	got = str_of(item(res, 0), "user");
	assert_non_null(got); /* valid UTF-8, so not escaped */
	assert_int_equal(strlen(got), WSG_LOGRING_FIELD_MAX - 1);
	assert_int_equal(strncmp(got, user, strlen(got)), 0);
	json_decref(res);
	wsg_logring_free(r);
}

static void
test_zero_capacity_keeps_nothing(void **state)
{
	struct wsg_logring *r = wsg_logring_new(0);
	struct wsg_logring_filter f = no_filter();
	json_t *res;

	push_access(r, 1, "echo", "alice", 200, WSG_FAULT_NONE);
	push_access(NULL, 1, "echo", "alice", 200, WSG_FAULT_NONE);
	res = query(r, &f);
	assert_int_equal(int_of(res, "count"), 0);
	assert_int_equal(int_of(res, "lastSeq"), 0);
	json_decref(res);
	wsg_logring_free(r);
	wsg_logring_free(NULL);
}

#define THREADS 4
#define PER_THREAD 5000

static struct wsg_logring *shared;

static void *
pusher(void *arg)
{
	uint64_t base = (uint64_t)(uintptr_t)arg * PER_THREAD;
	uint64_t i;

	for (i = 1; i <= PER_THREAD; i++)
		push_access(shared, base + i, "echo", "alice", 200,
		            WSG_FAULT_NONE);
	return NULL;
}

/* Concurrent writers (and a reader) lose nothing and corrupt nothing. */
static void
test_concurrent_push(void **state)
{
	struct wsg_logring_filter f = no_filter();
	pthread_t t[THREADS];
	json_t *res, *e;
	size_t i;
	/* On the heap: valgrind (check-valgrind) takes frames over 64 KiB for
	 * stack switches. */
	int *seen_seq = calloc(THREADS * PER_THREAD + 1, sizeof(*seen_seq));

	assert_non_null(seen_seq);
	shared = wsg_logring_new(THREADS * PER_THREAD);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, pusher,
		                                (void *)(uintptr_t)i),
		                 0);
	res = query(shared, &f); /* while they write */
	json_decref(res);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	res = query(shared, &f);
	assert_int_equal(int_of(res, "count"), THREADS * PER_THREAD);
	assert_int_equal(int_of(res, "lastSeq"), THREADS * PER_THREAD);
	json_array_foreach(json_object_get(res, "list"), i, e)
	{
		json_int_t seq = int_of(e, "seq");

		assert_true(seq >= 1 && seq <= THREADS * PER_THREAD);
		assert_int_equal(seen_seq[seq], 0);
		seen_seq[seq] = 1;
		assert_string_equal(str_of(e, "user"), "alice");
	}
	json_decref(res);
	wsg_logring_free(shared);
	free(seen_seq);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_newest_first_and_wraps),
	        cmocka_unit_test(test_filters),
	        cmocka_unit_test(test_only_user_wins_over_other_filters),
	        cmocka_unit_test(test_fault_filter_keeps_audit_reason),
	        cmocka_unit_test(test_invalid_utf8_is_escaped),
	        cmocka_unit_test(test_long_values_cut_on_character_boundary),
	        cmocka_unit_test(test_zero_capacity_keeps_nothing),
	        cmocka_unit_test(test_concurrent_push),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
