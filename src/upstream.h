/*
 * Forwarding to upstream SOAP services through per-worker pools of
 * keep-alive connections (libevent carries one request per connection at a
 * time), round-robin over a route's upstream list, with the header rules of
 * DESIGN 3.3.
 */
#ifndef WSG_UPSTREAM_H
#define WSG_UPSTREAM_H

#include <event2/event.h>
#include <event2/http.h>
#include <stddef.h>

#include "config.h"
#include "metrics.h"
#include "types.h"

struct wsg_upstream_pool;
struct wsg_tls_clients;

/* `metrics` (NULL: none kept) receives each exchange's outcome and
 * latency; it must outlive the pool. */
struct wsg_upstream_pool *wsg_upstream_pool_new(struct event_base *base,
						struct wsg_metrics *metrics);
/* Frees idle connections; call only when no exchange is in flight. */
void wsg_upstream_pool_free(struct wsg_upstream_pool *p);

/*
 * After a reload: idle connections are closed and every upstream is looked
 * up again on its next use, so a changed route or CA file takes effect.
 * Exchanges in flight finish on their connections, which are then closed.
 */
void wsg_upstream_pool_retire(struct wsg_upstream_pool *p);

/*
 * The gateway is stopping: every exchange in flight completes now with
 * WSG_ERR_IO and `reason`, its connection closed, and new ones are refused
 * (wsg_upstream_forward returns WSG_ERR_IO).
 */
void wsg_upstream_pool_shutdown(struct wsg_upstream_pool *p,
				const char *reason);

/*
 * `status`: WSG_OK with `resp` the upstream's answer (valid only during the
 * call), WSG_ERR_TIMEOUT (no whole answer within the route's timeout), or
 * WSG_ERR_IO (refused, reset, malformed, too large) with `resp` NULL.
 * Called exactly once, from the pool's loop.
 */
typedef void (*wsg_upstream_done_cb)(int status, struct evhttp_request *resp,
				     const char *reason, void *arg);

/* What to send: the client's request headers are copied except hop-by-hop
 * ones, Host, Content-Length, Expect (the gateway holds the whole body),
 * names that fold to X-WSS-* ('_' and '-' alike, any case), without
 * `allow_underscores` any name with '_', and, with `strip_authorization`,
 * Authorization; `user`/`roles` become X-WSS-User and X-WSS-Roles,
 * percent-encoded (wsg_upstream_encode_identity). `body` is copied and sent
 * with `method`. `route` and `tls` (the client contexts built from the
 * route's config; NULL without https routes) must stay valid until the
 * exchange completes. */
struct wsg_upstream_send {
	const struct wsg_route_conf *route;
	const struct wsg_tls_clients *tls;
	size_t max_response_size;  /* a larger answer body fails (WSG_ERR_IO) */
	enum evhttp_cmd_type method;
	int strip_authorization; /* consumed, or not the upstream's business */
	int allow_underscores;   /* security.underscores_in_headers */
	struct evkeyvalq *client_headers;
	const char *uri_suffix;  /* request path past the route prefix, + query */
	const char *body;
	size_t body_len;
	const char *user;
	const char *roles;
	uint64_t rid;
};

/* Returns WSG_OK and then `done` is called exactly once; or WSG_ERR_CONFIG
 * (no TLS context for an https URL), WSG_ERR_IO (no connection can be
 * made, the pool is shut down) and `done` is never called. */
int wsg_upstream_forward(struct wsg_upstream_pool *p,
			 const struct wsg_upstream_send *s,
			 wsg_upstream_done_cb done, void *arg);

/*
 * X-WSS-User / X-WSS-Roles value of `s` (NUL-terminated bytes): every byte
 * outside visible ASCII 0x21..0x7E, and '%' and ',', as %XX (upper-case
 * hex), so any name round-trips and the roles list stays splittable; plain
 * ASCII names are unchanged. With `list`, the ','s of `s` separate items and
 * stay. Returns a string the caller frees.
 */
char *wsg_upstream_encode_identity(const char *s, int list);

/* Copies `resp`'s end-to-end headers into `out` (hop-by-hop ones dropped). */
void wsg_upstream_copy_response_headers(struct evhttp_request *resp,
					struct evkeyvalq *out);

#endif
