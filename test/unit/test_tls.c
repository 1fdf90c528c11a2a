/*
 * tls.c: context errors name the file, and the client contexts of a config
 * (one per distinct ca_file / tls_verify, none for plain routes). Handshakes
 * are tested against the real gateway (test_55_tls_basic.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "tls.h"

/* Debian's ca-certificates bundle: a real PEM file of CAs. */
#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static char garbage[] = "/tmp/wsg-tls-XXXXXX";

static int
setup(void **state)
{
	int fd = mkstemp(garbage);

	if (fd < 0)
		return -1;
	if (write(fd, "not a PEM file\n", 15) != 15) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	unlink(garbage);
	return 0;
}

static void
expect_error(int rc, const struct wsg_error *err, const char *part)
{
	assert_int_equal(rc, WSG_ERR_CONFIG);
	if (strstr(err->reason, part) == NULL)
		fail_msg("\"%s\" not in \"%s\"", part, err->reason);
}

static void
test_server_ctx_errors(void **state)
{
	struct wsg_tls_conf missing = {.cert = "/nonexistent/s.crt",
	                               .key = garbage};
	struct wsg_tls_conf bad_cert = {.cert = garbage, .key = garbage};
	struct wsg_tls_conf no_key = {.cert = SYSTEM_BUNDLE,
	                              .key = "/nonexistent/s.key"};
	struct wsg_tls_conf bad_key = {.cert = SYSTEM_BUNDLE, .key = garbage};
	struct wsg_error err;
	SSL_CTX *ctx = NULL;
	char want[300];

	wsg_error_clear(&err);
	expect_error(wsg_tls_server_ctx_new(&missing, &ctx, &err), &err,
	             "tls.cert /nonexistent/s.crt: No such file");
	assert_null(ctx);
	snprintf(want, sizeof(want), "tls.cert %s: ", garbage);
	expect_error(wsg_tls_server_ctx_new(&bad_cert, &ctx, &err), &err, want);
	assert_null(ctx);
	expect_error(wsg_tls_server_ctx_new(&no_key, &ctx, &err), &err,
	             "tls.key /nonexistent/s.key: No such file");
	snprintf(want, sizeof(want), "tls.key %s: ", garbage);
	expect_error(wsg_tls_server_ctx_new(&bad_key, &ctx, &err), &err, want);
	assert_null(ctx);
}

/* A key others may read, or one another user could have swapped, is refused
 * before OpenSSL reads it. */
static void
test_server_key_private(void **state)
{
	struct wsg_tls_conf conf = {.cert = SYSTEM_BUNDLE, .key = garbage};
	struct wsg_error err;
	SSL_CTX *ctx = NULL;
	char want[300];

	wsg_error_clear(&err);
	assert_int_equal(chmod(garbage, 0644), 0);
	snprintf(want, sizeof(want),
	         "tls.key %s may be used by group or others", garbage);
	expect_error(wsg_tls_server_ctx_new(&conf, &ctx, &err), &err, want);
	expect_error(wsg_tls_check_key(&conf, &err), &err, want);
	assert_null(ctx);
	assert_int_equal(chmod(garbage, 0600), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(garbage, 65534, 65534), 0);
		expect_error(wsg_tls_check_key(&conf, &err), &err,
		             "is owned by uid 65534, neither");
		assert_int_equal(chown(garbage, 0, 0), 0);
	}
	assert_int_equal(wsg_tls_check_key(&conf, &err), WSG_OK);
}

static void
test_client_ctx(void **state)
{
	struct wsg_error err;
	SSL_CTX *ctx = NULL;
	char want[300];

	wsg_error_clear(&err);
	expect_error(
	        wsg_tls_client_ctx_new("/nonexistent/ca.pem", 1, &ctx, &err),
	        &err, "ca_file /nonexistent/ca.pem: No such file");
	assert_null(ctx);
	snprintf(want, sizeof(want), "ca_file %s: ", garbage);
	expect_error(wsg_tls_client_ctx_new(garbage, 1, &ctx, &err), &err,
	             want);
	assert_null(ctx);
	assert_int_equal(wsg_tls_client_ctx_new(SYSTEM_BUNDLE, 1, &ctx, &err),
	                 WSG_OK);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	SSL_CTX_free(ctx);
	assert_int_equal(wsg_tls_client_ctx_new(NULL, 1, &ctx, &err), WSG_OK);
	SSL_CTX_free(ctx);
	/* Without verification no CA file is read at all. */
	assert_int_equal(wsg_tls_client_ctx_new(garbage, 0, &ctx, &err),
	                 WSG_OK);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
	SSL_CTX_free(ctx);
}

static void
test_client_set(void **state)
{
	static char *http_up[] = {"http://h/"};
	static char *https_up[] = {"https://h/"};
	struct wsg_route_conf routes[] = {
	        {.name = "plain",
	         .upstreams = http_up,
	         .n_upstreams = 1,
	         .tls_verify = 1},
	        {.name = "a",
	         .upstreams = https_up,
	         .n_upstreams = 1,
	         .has_https = 1,
	         .ca_file = SYSTEM_BUNDLE,
	         .tls_verify = 1},
	        {.name = "b",
	         .upstreams = https_up,
	         .n_upstreams = 1,
	         .has_https = 1,
	         .ca_file = SYSTEM_BUNDLE,
	         .tls_verify = 1},
	        {.name = "system",
	         .upstreams = https_up,
	         .n_upstreams = 1,
	         .has_https = 1,
	         .tls_verify = 1},
	        {.name = "off",
	         .upstreams = https_up,
	         .n_upstreams = 1,
	         .has_https = 1,
	         .ca_file = SYSTEM_BUNDLE,
	         .tls_verify = 0},
	};
	struct wsg_config cfg = {.routes = routes, .n_routes = 5};
	struct wsg_tls_clients *set = NULL;
	struct wsg_error err;

	wsg_error_clear(&err);
	assert_int_equal(wsg_tls_clients_new(&cfg, &set, &err), WSG_OK);
	assert_null(wsg_tls_clients_get(set, &routes[0]));
	assert_non_null(wsg_tls_clients_get(set, &routes[1]));
	/* Routes with the same CAs share a context; others do not. */
	assert_ptr_equal(wsg_tls_clients_get(set, &routes[1]),
	                 wsg_tls_clients_get(set, &routes[2]));
	assert_ptr_not_equal(wsg_tls_clients_get(set, &routes[1]),
	                     wsg_tls_clients_get(set, &routes[3]));
	assert_ptr_not_equal(wsg_tls_clients_get(set, &routes[1]),
	                     wsg_tls_clients_get(set, &routes[4]));
	assert_int_equal(
	        SSL_CTX_get_verify_mode(wsg_tls_clients_get(set, &routes[4])),
	        SSL_VERIFY_NONE);
	wsg_tls_clients_free(set);

	routes[2].ca_file = garbage;
	expect_error(wsg_tls_clients_new(&cfg, &set, &err), &err, "route b: ");
	assert_non_null(strstr(err.reason, garbage));
	assert_null(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_server_ctx_errors),
	        cmocka_unit_test(test_server_key_private),
	        cmocka_unit_test(test_client_ctx),
	        cmocka_unit_test(test_client_set),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
