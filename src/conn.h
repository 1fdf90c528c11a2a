/*
 * Client connections of the data plane: our own HTTP/1.1 server side on
 * the worker's event loop (src/h1.c parses). Read and write interest are
 * registered once per connection (edge-triggered); a request is read into
 * one buffer sized from `limits`, handed whole to request.c, and its
 * answer written at once, head and body in one writev, the socket's write
 * readiness awaited only for what it did not take. One request at a time
 * per connection: pipelined ones wait in the buffer and are answered in
 * order. TLS with OpenSSL directly.
 */
#ifndef WSG_CONN_H
#define WSG_CONN_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stddef.h>

#include "h1.h"
#include "worker.h"

/*
 * A whole request as read, valid until it is answered: the method, the
 * target and every header name and value are also NUL-terminated in place,
 * so h.method.p, h.target.p and the header slices' p are C strings. The
 * body is decoded (no chunked framing).
 */
struct wsg_conn_request {
	struct wsg_h1_request h;
	const char *body;
	size_t body_len;
	const char *client; /* the peer's address as text */
	int tls;            /* arrived over TLS */
};

/*
 * Takes over the accepted, non-blocking socket `fd` on `w`'s loop; `tls`
 * (NULL: plain) is the listener's context, referenced by the connection's
 * own SSL object. Requests go to the worker's handler (w->handle).
 */
void wsg_conn_accept(struct wsg_worker *w, evutil_socket_t fd, SSL_CTX *tls);

/* The value of the first header named `name` (case-insensitive), or NULL. */
const char *wsg_conn_header(const struct wsg_conn_request *req,
                            const char *name);

/* Adds a header line to the answer being built for `c`'s request. Names
 * and values must hold no CR, LF or NUL. */
void wsg_conn_add_header(struct wsg_conn *c, const char *name,
                         const char *value);
void wsg_conn_add_header_slice(struct wsg_conn *c, struct wsg_h1_slice name,
                               struct wsg_h1_slice value);

/*
 * Answers `c`'s request: `status`, `reason` (`reason_len` bytes; NULL for
 * the standard phrase), the headers added, Date, Content-Length, and
 * `body` (nothing for HEAD, 204, 304). Written at once as far as the socket
 * takes it; `body` is copied only if it does not. The request is over for
 * the caller; the connection reads the next one or closes, later, from its
 * loop (never inside this call).
 */
void wsg_conn_reply(struct wsg_conn *c, int status, const char *reason,
                    size_t reason_len, const char *body, size_t body_len);

/* Draining: closes every connection without a request in progress; the
 * others close once their answer is written. */
void wsg_conn_close_idle(struct wsg_worker *w);

/* The worker is done: frees every connection it still holds. */
void wsg_conn_free_all(struct wsg_worker *w);

#endif
