/*
 * Unit tests for ldapstore.c's RFC 4515 escaping and filter building, and
 * for the opener threads against loopback sockets that are no directory
 * (the directory I/O is tested against a real slapd in test_105_ldap.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <ldap.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "ldapstore.h"

/* pthread_create() fails from its `fail_at`th call on (0: never), so
 * wsg_ldapstore_openers_new() meets a thread that cannot start. */
static unsigned create_calls, fail_at;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg);

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                      void *(*fn)(void *), void *arg)
{
	if (fail_at != 0 && ++create_calls >= fail_at)
		return EAGAIN;
	return __real_pthread_create(t, a, fn, arg);
}

/* libldap's filter encoder, which ldap_search_ext() uses: exported by
 * libldap 2.5 but not declared in ldap.h. */
int ldap_pvt_put_filter(BerElement *ber, const char *str);

static void
test_escape(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	        {"alice", 5, "alice"},
	        {"", 0, ""},
	        {"*", 1, "\\2a"},
	        {"(uid=*)", 7, "\\28uid=\\2a\\29"},
	        {"a\\b", 3, "a\\5cb"},
	        {"\\2a", 3, "\\5c2a"},
	        {"a\0b", 3, "a\\00b"},
	        {"tab\there", 8, "tab\\09here"},
	        {"del\x7f", 4, "del\\7f"},
	        {"j\xc3\xb6rg", 5, "j\xc3\xb6rg"}, /* UTF-8 stays */
	        {"o(x)*", 5, "o\\28x\\29\\2a"},
	        {")(|(uid=*", 9, "\\29\\28|\\28uid=\\2a"},
	        {"uid=a,ou=people,dc=x", 20, "uid=a,ou=people,dc=x"},
	        {"cn=a\\2Cb", 8, "cn=a\\5c2Cb"},
	};
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = wsg_ldapstore_escape(cases[i].in, cases[i].len);
		assert_string_equal(out, cases[i].want);
		free(out);
	}
}

static void
test_filter(void **state)
{
	static const struct {
		const char *filter, *value, *want;
	} cases[] = {
	        {"(uid=%s)", "bob", "(uid=bob)"},
	        {"(&(objectClass=inetOrgPerson)(uid=%s))", "*",
	         "(&(objectClass=inetOrgPerson)(uid=\\2a))"},
	        {"(&(objectClass=groupOfNames)(member=%s))",
	         "uid=o(x)*,ou=people,dc=example,dc=org",
	         "(&(objectClass=groupOfNames)(member=uid=o\\28x\\29\\2a,ou="
	         "people,dc=example,dc=org))"},
	        {"(uid=%s)", "x)(uid=*", "(uid=x\\29\\28uid=\\2a)"},
	        {"(uid=%s)", "%s", "(uid=%s)"},
	};
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = wsg_ldapstore_filter(cases[i].filter, cases[i].value,
		                           strlen(cases[i].value));
		assert_string_equal(out, cases[i].want);
		free(out);
	}
}

/* Whatever the name, the filter stays one well-formed filter: libldap's
 * own parser takes it and it holds just the one assertion's value. */
static void
test_filter_parses(void **state)
{
	static const char *const names[] = {
	        "*",          "(",    ")",   "\\",        "a)(objectClass=*",
	        "*)(|(uid=*", "\\2a", "x\\", "\xc3\xa9*", "((((",
	};
	BerElement *ber;
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		out = wsg_ldapstore_filter("(&(objectClass=x)(uid=%s))",
		                           names[i], strlen(names[i]));
		ber = ber_alloc_t(LBER_USE_DER);
		assert_non_null(ber);
		assert_int_equal(ldap_pvt_put_filter(ber, out), 0);
		ber_free(ber, 1);
		assert_null(strchr(out, '*'));
		free(out);
	}
}

/* A loopback TCP socket bound to a free port; `listening`: it accepts
 * connections (the kernel's backlog) but never answers, else connecting
 * is refused. `*port` is its port. */
static int
loopback_socket(int listening, unsigned *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (listening)
		assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
conf_init(struct wsg_ldap_conf *c, char *uri, unsigned port, int starttls)
{
	static char base[] = "ou=people,dc=example,dc=org";
	static char filter[] = "(uid=%s)";
	static char gbase[] = "ou=groups,dc=example,dc=org";
	static char gfilter[] = "(member=%s)";
	static char role[] = "cn";

	memset(c, 0, sizeof(*c));
	snprintf(uri, 64, "ldap://127.0.0.1:%u/", port);
	c->uri = uri;
	c->starttls = starttls;
	c->user_base = base;
	c->user_filter = filter;
	c->group_base = gbase;
	c->group_filter = gfilter;
	c->role_attribute = role;
	c->timeout = 1;
	c->pool_size = 2;
}

struct lookup_result {
	int calls;
	int status;
	struct event_base *base;
};

static void
lookup_cb(int status, struct wsg_ldap_user *u, void *arg)
{
	struct lookup_result *r = arg;

	wsg_ldapstore_user_free(u);
	r->calls++;
	r->status = status;
	if (r->base != NULL)
		event_base_loopbreak(r->base);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A directory that refuses the connection: the opener's job finishes
 * with an error and the lookup's callback runs once, on the loop. */
static void
test_openers_refused(void **state)
{
	struct timeval limit = {.tv_sec = 10};
	struct lookup_result r = {0};
	struct wsg_ldap_openers *o = NULL;
	struct wsg_ldap_conf conf;
	struct wsg_ldap_pool *p;
	struct wsg_error err;
	unsigned port;
	char uri[64];
	int fd;

	(void)state;
	fd = loopback_socket(0, &port);
	conf_init(&conf, uri, port, 0);
	assert_int_equal(wsg_ldapstore_openers_new(2, &o, &err), 0);
	assert_non_null(o);
	r.base = event_base_new();
	assert_non_null(r.base);
	p = wsg_ldapstore_pool_new(r.base, o, &conf, "admin", NULL, 8);
	assert_int_equal(wsg_ldapstore_lookup(p, "alice", lookup_cb, &r), 0);
	assert_int_equal(r.calls, 0);
	event_base_loopexit(r.base, &limit);
	event_base_dispatch(r.base);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, WSG_ERR_CONNECT);
	wsg_ldapstore_pool_free(p);
	wsg_ldapstore_openers_free(o);
	event_base_free(r.base);
	close(fd);
}

/*
 * A pool freed while its jobs are queued, running (StartTLS to a socket
 * that never answers blocks the one thread for ldap.timeout) or finished
 * but not yet taken by the loop: its operations fail at once, and the
 * openers free every job (LeakSanitizer checks) without waiting for more
 * than the open in progress.
 */
static void
test_openers_free_with_jobs(void **state)
{
	struct lookup_result r = {0};
	struct wsg_ldap_openers *o = NULL;
	struct wsg_ldap_conf conf;
	struct event_base *base;
	struct wsg_ldap_pool *p;
	struct wsg_error err;
	unsigned port;
	char uri[64];
	double t0;
	int fd, i;

	(void)state;
	base = event_base_new();
	assert_non_null(base);

	/* Silent: one job runs until its timeout, the other is queued. */
	fd = loopback_socket(1, &port);
	conf_init(&conf, uri, port, 1);
	assert_int_equal(wsg_ldapstore_openers_new(1, &o, &err), 0);
	p = wsg_ldapstore_pool_new(base, o, &conf, "admin", NULL, 8);
	for (i = 0; i < 2; i++)
		assert_int_equal(
		        wsg_ldapstore_lookup(p, "alice", lookup_cb, &r), 0);
	usleep(100 * 1000);
	t0 = now_s();
	wsg_ldapstore_pool_free(p);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.status, WSG_ERR_CONNECT);
	wsg_ldapstore_openers_free(o);
	assert_true(now_s() - t0 < 5.0);
	close(fd);

	/* Refused: the jobs finish at once; the loop never takes them. */
	fd = loopback_socket(0, &port);
	conf_init(&conf, uri, port, 0);
	assert_int_equal(wsg_ldapstore_openers_new(2, &o, &err), 0);
	p = wsg_ldapstore_pool_new(base, o, &conf, "admin", NULL, 8);
	for (i = 0; i < 2; i++)
		assert_int_equal(
		        wsg_ldapstore_lookup(p, "alice", lookup_cb, &r), 0);
	usleep(200 * 1000);
	wsg_ldapstore_pool_free(p);
	assert_int_equal(r.calls, 4);
	wsg_ldapstore_openers_free(o);
	close(fd);

	/* Openers no pool ever used. */
	assert_int_equal(wsg_ldapstore_openers_new(3, &o, &err), 0);
	wsg_ldapstore_openers_free(o);
	event_base_free(base);
}

/* A thread that cannot start is an error with a reason, not an abort,
 * and the threads already started are stopped. */
static void
test_openers_create_fails(void **state)
{
	struct wsg_ldap_openers *o = NULL;
	struct wsg_error err;
	unsigned at;

	(void)state;
	for (at = 1; at <= 2; at++) {
		create_calls = 0;
		fail_at = at;
		wsg_error_clear(&err);
		assert_int_equal(wsg_ldapstore_openers_new(2, &o, &err),
		                 WSG_ERR_NOMEM);
		assert_null(o);
		assert_non_null(strstr(err.reason, "opener threads"));
	}
	fail_at = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escape),
	        cmocka_unit_test(test_filter),
	        cmocka_unit_test(test_filter_parses),
	        cmocka_unit_test(test_openers_refused),
	        cmocka_unit_test(test_openers_free_with_jobs),
	        cmocka_unit_test(test_openers_create_fails),
	};

	evthread_use_pthreads();

	return cmocka_run_group_tests_name("ldapstore", tests, NULL, NULL);
}
