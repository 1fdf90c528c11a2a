/*
 * The dashboard's static files over real HTTP on loopback: a libevent
 * server answering with wsg_static_serve() and a libevent client, both on
 * one event loop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "static.h"
#include "types.h"

#define MOUNT "/dashboard"

static const char index_html[] = "<!DOCTYPE html><title>t</title>\n";
static const char app_js[] = "'use strict';\n";

struct fixture {
	char dir[64];
	struct wsg_static *site;
	struct event_base *base;
	struct evhttp *http;
	uint16_t port;
};

struct answer {
	int status;
	char *body;
	size_t len;
	char *ctype, *csp, *nosniff, *location, *etag, *clen, *frame;
};

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
serve_cb(struct evhttp_request *req, void *arg)
{
	struct fixture *fx = arg;
	const char *path =
	        evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	/* As the management listener mounts it. */
	if (strncmp(path, MOUNT, sizeof(MOUNT) - 1) == 0 &&
	    (path[sizeof(MOUNT) - 1] == '\0' || path[sizeof(MOUNT) - 1] == '/'))
		wsg_static_serve(fx->site, req, MOUNT,
		                 path + sizeof(MOUNT) - 1);
	else
		evhttp_send_error(req, 404, NULL);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct evhttp_bound_socket *b;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct wsg_error err;
	char path[128];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/wsg-static-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	write_file(fx->dir, "index.html", index_html);
	write_file(fx->dir, "app.js", app_js);
	write_file(fx->dir, "style.css", "body{}\n");
	write_file(fx->dir, ".hidden.js", "secret\n");
	write_file(fx->dir, "notes.md", "not served\n");
	snprintf(path, sizeof(path), "%s/link.js", fx->dir);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/sub", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file(path, "index.html", "nested\n");
	assert_int_equal(wsg_static_load(fx->dir, &fx->site, &err), WSG_OK);

	fx->base = event_base_new();
	fx->http = evhttp_new(fx->base);
	evhttp_set_allowed_methods(fx->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	                                             EVHTTP_REQ_POST);
	evhttp_set_gencb(fx->http, serve_cb, fx);
	b = evhttp_bind_socket_with_handle(fx->http, "127.0.0.1", 0);
	assert_non_null(b);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(b),
	                             (struct sockaddr *)&sin, &slen),
	                 0);
	fx->port = ntohs(sin.sin_port);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	evhttp_free(fx->http);
	event_base_free(fx->base);
	wsg_static_free(fx->site);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static char *
header_dup(struct evhttp_request *req, const char *name)
{
	const char *v =
	        evhttp_find_header(evhttp_request_get_input_headers(req), name);

	return v != NULL ? strdup(v) : NULL;
}

struct pending {
	struct answer *a;
	struct event_base *base;
};

static void
done_cb(struct evhttp_request *req, void *arg)
{
	struct pending *p = arg;
	struct evbuffer *in;

	if (req != NULL) {
		in = evhttp_request_get_input_buffer(req);
		p->a->status = evhttp_request_get_response_code(req);
		p->a->len = evbuffer_get_length(in);
		p->a->body = calloc(1, p->a->len + 1);
		evbuffer_remove(in, p->a->body, p->a->len);
		p->a->ctype = header_dup(req, "Content-Type");
		p->a->csp = header_dup(req, "Content-Security-Policy");
		p->a->nosniff = header_dup(req, "X-Content-Type-Options");
		p->a->location = header_dup(req, "Location");
		p->a->etag = header_dup(req, "ETag");
		p->a->clen = header_dup(req, "Content-Length");
		p->a->frame = header_dup(req, "X-Frame-Options");
	}
	event_base_loopbreak(p->base);
}

static void
fetch(struct fixture *fx, enum evhttp_cmd_type cmd, const char *uri,
      const char *if_none_match, struct answer *a)
{
	struct evhttp_connection *c;
	struct evhttp_request *req;
	struct pending p = {a, fx->base};

	memset(a, 0, sizeof(*a));
	c = evhttp_connection_base_new(fx->base, NULL, "127.0.0.1", fx->port);
	req = evhttp_request_new(done_cb, &p);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	                  "127.0.0.1");
	if (if_none_match != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "If-None-Match", if_none_match);
	assert_int_equal(evhttp_make_request(c, req, cmd, uri), 0);
	event_base_dispatch(fx->base);
	evhttp_connection_free(c);
}

static void
answer_free(struct answer *a)
{
	free(a->body);
	free(a->ctype);
	free(a->csp);
	free(a->nosniff);
	free(a->location);
	free(a->etag);
	free(a->clen);
	free(a->frame);
}

static void
test_serves_files_with_types_and_headers(void **state)
{
	struct fixture *fx = *state;
	struct answer a;

	fetch(fx, EVHTTP_REQ_GET, MOUNT "/", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, index_html);
	assert_string_equal(a.ctype, "text/html; charset=utf-8");
	assert_string_equal(a.csp, WSG_STATIC_CSP);
	assert_non_null(strstr(a.csp, "default-src 'self'"));
	assert_non_null(strstr(a.csp, "frame-ancestors 'none'"));
	assert_null(strstr(a.csp, "unsafe-inline"));
	assert_string_equal(a.nosniff, "nosniff");
	assert_string_equal(a.frame, "DENY");
	answer_free(&a);

	fetch(fx, EVHTTP_REQ_GET, MOUNT "/index.html", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, index_html);
	answer_free(&a);

	fetch(fx, EVHTTP_REQ_GET, MOUNT "/app.js?v=1", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, app_js);
	assert_string_equal(a.ctype, "text/javascript; charset=utf-8");
	answer_free(&a);

	fetch(fx, EVHTTP_REQ_GET, MOUNT "/style.css", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.ctype, "text/css; charset=utf-8");
	answer_free(&a);
}

static void
test_redirects_mount_to_slash(void **state)
{
	struct fixture *fx = *state;
	struct answer a;

	fetch(fx, EVHTTP_REQ_GET, MOUNT, NULL, &a);
	assert_int_equal(a.status, 301);
	assert_string_equal(a.location, MOUNT "/");
	assert_string_equal(a.csp, WSG_STATIC_CSP);
	answer_free(&a);
}

/* Nothing outside the loaded table is reachable, however it is spelled. */
static void
test_nothing_else_is_reachable(void **state)
{
	static const char *const uris[] = {
	        MOUNT "/../../../../etc/passwd",
	        MOUNT "/..%2f..%2fetc%2fpasswd",
	        MOUNT "/%2e%2e/%2e%2e/etc/passwd",
	        MOUNT "/./index.html",
	        MOUNT "//index.html",
	        MOUNT "/sub/index.html",
	        MOUNT "/sub/",
	        MOUNT "/.hidden.js",
	        MOUNT "/link.js",
	        MOUNT "/notes.md",
	        MOUNT "/index.html/",
	        MOUNT "/INDEX.HTML",
	        MOUNT "/index.html%00.js",
	        MOUNT "/app%2ejs",
	        MOUNT "/missing.js",
	};
	struct fixture *fx = *state;
	struct answer a;
	size_t i;

	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		fetch(fx, EVHTTP_REQ_GET, uris[i], NULL, &a);
		if (a.status != 404)
			fail_msg("%s answered %d", uris[i], a.status);
		assert_string_equal(a.csp, WSG_STATIC_CSP);
		assert_string_equal(a.nosniff, "nosniff");
		assert_null(strstr(a.body, "root:"));
		answer_free(&a);
	}
}

static void
test_head_etag_and_methods(void **state)
{
	struct fixture *fx = *state;
	char *etag;
	struct answer a;

	fetch(fx, EVHTTP_REQ_HEAD, MOUNT "/app.js", NULL, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.len, 0);
	assert_non_null(a.clen);
	assert_int_equal(atoi(a.clen), (int)strlen(app_js));
	assert_non_null(a.etag);
	etag = strdup(a.etag);
	answer_free(&a);

	fetch(fx, EVHTTP_REQ_GET, MOUNT "/app.js", etag, &a);
	assert_int_equal(a.status, 304);
	assert_int_equal(a.len, 0);
	answer_free(&a);

	fetch(fx, EVHTTP_REQ_GET, MOUNT "/app.js", "\"other\"", &a);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	free(etag);

	fetch(fx, EVHTTP_REQ_POST, MOUNT "/app.js", NULL, &a);
	assert_int_equal(a.status, 405);
	answer_free(&a);
}

static void
test_load_failures(void **state)
{
	char dir[] = "/tmp/wsg-static-XXXXXX";
	struct wsg_static *s = (struct wsg_static *)1;
	struct wsg_error err;
	char cmd[64];

	assert_int_equal(wsg_static_load("/nonexistent/dashboard", &s, &err),
	                 WSG_ERR_IO);
	assert_null(s);
	assert_non_null(mkdtemp(dir));
	write_file(dir, "app.js", app_js);
	assert_int_equal(wsg_static_load(dir, &s, &err), WSG_ERR_NOTFOUND);
	assert_null(s);
	assert_non_null(strstr(err.reason, "index.html"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The repository's own dashboard loads (build tree). */
static void
test_repository_dashboard_loads(void **state)
{
	char *dir = wsg_mem_printf("%s/dashboard", WSG_TEST_SRCDIR);
	struct wsg_static *s = NULL;
	struct wsg_error err;

	assert_non_null(strstr(dir, "/dashboard"));
	assert_int_equal(wsg_static_load(dir, &s, &err), WSG_OK);
	wsg_static_free(s);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_serves_files_with_types_and_headers, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_redirects_mount_to_slash,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_nothing_else_is_reachable,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_head_etag_and_methods,
	                                        setup, teardown),
	        cmocka_unit_test(test_load_failures),
	        cmocka_unit_test(test_repository_dashboard_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
