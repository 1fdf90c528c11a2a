/*
 * The dashboard's static files, served by the management listener under
 * /dashboard/. The folder is read once at start into memory, and a request
 * can only name a file of that table: no request path ever reaches the
 * file system, so path traversal is impossible by construction. Every
 * answer carries a strict Content-Security-Policy (no inline script, no
 * other origin, no framing) and X-Content-Type-Options: nosniff.
 */
#ifndef WSG_STATIC_H
#define WSG_STATIC_H

#include <event2/http.h>

#include "types.h"

/* Caps on what a folder may hold; larger folders are refused at load. */
#define WSG_STATIC_MAX_FILES 64
#define WSG_STATIC_MAX_SIZE (4u * 1024 * 1024)

/* The Content-Security-Policy of every dashboard answer. */
#define WSG_STATIC_CSP                                                         \
	"default-src 'self'; script-src 'self'; style-src 'self'; "            \
	"img-src 'self'; connect-src 'self'; object-src 'none'; "              \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

struct wsg_static;

/*
 * Loads every regular file directly in `dir` whose name is made of
 * [A-Za-z0-9_.-], does not start with '.', and ends in an extension with a
 * known content type (html, css, js, svg, png, ico, json, txt); others are
 * skipped. Symbolic links are not followed. `*out` is freed with
 * wsg_static_free(). Fails with WSG_ERR_IO (missing folder, unreadable
 * file), WSG_ERR_LIMIT (over the caps) or WSG_ERR_NOTFOUND (no index.html).
 */
int wsg_static_load(const char *dir, struct wsg_static **out,
                    struct wsg_error *err);
void wsg_static_free(struct wsg_static *s);

/* Sets the security headers every dashboard answer carries on `req`. */
void wsg_static_add_security_headers(struct evhttp_request *req);

/*
 * Answers `req` for `rest`, the request path after the mount point
 * `mount` ("/dashboard"): "" redirects to mount + "/", "/" is index.html,
 * "/NAME" is that file; anything else is 404. GET and HEAD only (else 405);
 * If-None-Match with the file's ETag gives 304. Sends exactly one reply and
 * returns its HTTP status. `s` may be NULL (no dashboard installed): 404.
 */
int wsg_static_serve(const struct wsg_static *s, struct evhttp_request *req,
                     const char *mount, const char *rest);

#endif
