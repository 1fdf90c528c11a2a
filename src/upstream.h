/*
 * Forwarding to upstream SOAP services: our own HTTP/1.1 client on the
 * worker's event loop, one exchange per connection at a time, per-worker
 * pools of keep-alive connections, round-robin over a route's upstream
 * list, with the header rules of DESIGN 3.3.
 */
#ifndef WSG_UPSTREAM_H
#define WSG_UPSTREAM_H

#include <event2/event.h>
#include <stddef.h>
#include <sys/uio.h>

#include "config.h"
#include "h1.h"
#include "metrics.h"
#include "types.h"

/* Slices of a body sent as one (the envelope minus cut header blocks). */
#define WSG_UPSTREAM_MAX_BODY_PARTS 8

struct wsg_upstream_pool;
struct wsg_tls_clients;

/* `metrics` (NULL: none kept) receives each exchange's outcome and
 * latency; `resolver` (NULL: the system's) says how host names are looked
 * up, on `base`, at each new connection. Both must outlive the pool. */
struct wsg_upstream_pool *
wsg_upstream_pool_new(struct event_base *base, struct wsg_metrics *metrics,
                      const struct wsg_resolver_conf *resolver);
/* Frees idle connections; call only when no exchange is in flight. */
void wsg_upstream_pool_free(struct wsg_upstream_pool *p);

/*
 * After a reload: idle connections are closed and every upstream is looked
 * up again on its next use, so a changed route or CA file takes effect;
 * /etc/resolv.conf and /etc/hosts are read again.
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

/* An upstream's final answer; every pointer is valid only during the done
 * callback. Its framing headers are still among `headers`: relay only those
 * wsg_upstream_relayed_header() accepts. */
struct wsg_upstream_answer {
	int status;                 /* 200..599 */
	struct wsg_h1_slice reason; /* may be empty */
	const struct wsg_h1_header *headers;
	size_t n_headers;
	const char *body; /* decoded: no chunked framing */
	size_t body_len;
};

/*
 * `status`: WSG_OK with `answer` the upstream's, WSG_ERR_TIMEOUT (no whole
 * answer within the route's timeout), or WSG_ERR_IO (refused, reset,
 * malformed, too large) with `answer` NULL and `reason` for the audit log.
 * Called exactly once, from the pool's loop, never from inside
 * wsg_upstream_forward().
 */
typedef void (*wsg_upstream_done_cb)(int status,
                                     const struct wsg_upstream_answer *answer,
                                     const char *reason, void *arg);

/* What to send: the client's request headers are copied except hop-by-hop
 * ones, Host, Content-Length, Expect (the gateway holds the whole body),
 * names that fold to X-WSS-* ('_' and '-' alike, any case), without
 * `allow_underscores` any name with '_', and, with `strip_authorization`,
 * Authorization; `user`/`roles` become X-WSS-User and X-WSS-Roles,
 * percent-encoded (wsg_upstream_encode_identity). The `body` slices are
 * sent with `method` one after the other as one body, without a copy.
 * `route`, `tls` (the client contexts built from the route's config; NULL
 * without https routes), the bytes of `body` and `method` must stay valid
 * until `done` is called; the `body` array, the headers and strings only
 * during wsg_upstream_forward(). Header names and values must hold no
 * CR, LF or NUL. */
struct wsg_upstream_send {
	const struct wsg_route_conf *route;
	const struct wsg_tls_clients *tls;
	size_t max_response_size; /* a larger answer body fails (WSG_ERR_IO) */
	const char *method;       /* a token, e.g. "POST" */
	int strip_authorization;  /* consumed, or not the upstream's business */
	int allow_underscores;    /* security.underscores_in_headers */
	const struct wsg_h1_header *client_headers;
	size_t n_client_headers;
	const char
	        *uri_suffix; /* request path past the route prefix, + query */
	const struct iovec *body; /* sent in this order, not copied */
	size_t n_body;            /* at most WSG_UPSTREAM_MAX_BODY_PARTS */
	const char *user;
	const char *roles;
	uint64_t rid;
	const char *url; /* NULL: the route's next upstream; else this
	                    "http[s]://host[:port]", the origin of one of them,
	                    with `uri_suffix` the whole path and query (a
	                    WSDL's documents, wsdl_fetch.c) */
};

/* Returns WSG_OK and then `done` is called exactly once, later; or
 * WSG_ERR_CONFIG (no TLS context for an https URL), WSG_ERR_IO (no
 * connection can be made, the pool is shut down) and `done` is never
 * called. */
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

/* 1 when `answer`'s header `i` goes on to the client: end-to-end, and not
 * Content-Length (the relay frames the body itself). */
int wsg_upstream_relayed_header(const struct wsg_upstream_answer *answer,
                                size_t i);

#endif
