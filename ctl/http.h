/*
 * One HTTP exchange with the management API over libcurl: method, URL,
 * optional Basic or Bearer authorisation and JSON body; the answer's status
 * and body. Transport failures (name resolution, connect, TLS, timeouts)
 * are WSG_ERR_CONNECT so the caller can tell "cannot connect" from a
 * server that answered with an error status.
 */
#ifndef WSG_HTTP_H
#define WSG_HTTP_H

#include <stddef.h>

#include "types.h"

/* Transport settings of one wssgatectl run. */
struct wsg_http_opts {
	int insecure;        /* no TLS peer / host name verification */
	const char *ca_file; /* CA bundle for TLS, NULL = system store */
	int verbose;         /* one line per request and answer on stderr */
};

struct wsg_http_req {
	const char *method; /* GET, POST, PUT, PATCH, DELETE */
	const char *url;
	const char *user; /* with password: HTTP Basic */
	const char *password;
	const char *bearer; /* an access token, when user is NULL */
	const char *body;   /* JSON text or NULL */
};

struct wsg_http_resp {
	long status;
	char *body; /* NUL-terminated, never NULL on success */
	size_t len;
};

/*
 * Performs `req`. Returns 0 with `resp` filled (any HTTP status) or
 * WSG_ERR_CONNECT, WSG_ERR_LIMIT (answer over 16 MiB), WSG_ERR_IO with the
 * reason in `err`. Free resp with wsg_http_resp_free().
 */
int wsg_http_request(const struct wsg_http_opts *opts,
                     const struct wsg_http_req *req, struct wsg_http_resp *resp,
                     struct wsg_error *err);

/* Wipes and frees the body; resp itself belongs to the caller. */
void wsg_http_resp_free(struct wsg_http_resp *resp);

/* s percent-encoded for a path segment or query value (malloc'ed). */
char *wsg_http_escape(const char *s);

/* "collection/item" with `item` percent-encoded (malloc'ed). */
char *wsg_http_path(const char *collection, const char *item);

/*
 * Checks a management base URL: http or https, a host, no user info, query
 * or fragment. Returns 0 and sets *is_https / *is_loopback, or
 * WSG_ERR_INVAL with the reason.
 */
int wsg_http_check_url(const char *url, int *is_https, int *is_loopback,
                       struct wsg_error *err);

#endif
