/*
 * TLS on OpenSSL 3: server contexts for HTTPS listeners (data plane and
 * management), the evhttp hook for the management listener, and
 * verifying client contexts and SSL objects for https upstreams.
 * Server contexts are built at start and again at each reload (see
 * struct wsg_snapshot); an SSL_CTX is shared read-only by every thread.
 */
#ifndef WSG_TLS_H
#define WSG_TLS_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <stddef.h>

#include "config.h"
#include "types.h"

/*
 * A server context from `conf` (PEM certificate chain and private key,
 * checked by wsg_tls_check_key()): TLS 1.2 and 1.3 only, ECDHE key
 * exchange with AEAD ciphers, the server's cipher order, no compression,
 * no renegotiation, no session tickets. On success `*out` holds
 * the context (free with SSL_CTX_free()); on failure WSG_ERR_CONFIG with
 * err->reason naming the file and the cause.
 */
int wsg_tls_server_ctx_new(const struct wsg_tls_conf *conf, SSL_CTX **out,
                           struct wsg_error *err);

/*
 * The private key of `conf` must be private: owned by us or root and
 * unreadable by group and others (see wsg_keyfile_check()). WSG_ERR_CONFIG
 * with err->reason naming the file otherwise.
 */
int wsg_tls_check_key(const struct wsg_tls_conf *conf, struct wsg_error *err);

/*
 * The bufferevent callback for evhttp_set_bevcb(http, wsg_tls_bevcb, ctx):
 * every connection accepted by `http` then speaks TLS with the SSL_CTX
 * `ctx`. Aborts rather than return NULL on out-of-memory, because evhttp
 * would fall back to plain text on the TLS port.
 */
struct bufferevent *wsg_tls_bevcb(struct event_base *base, void *ctx);

/*
 * A client context for https upstreams: TLS 1.2 or later; with `verify`,
 * the peer's certificate must chain to the CAs in `ca_file` (PEM) or, when
 * `ca_file` is NULL, to the system's trust store. Without `verify` nothing
 * about the peer is checked. `*out` as for wsg_tls_server_ctx_new().
 */
int wsg_tls_client_ctx_new(const char *ca_file, int verify, SSL_CTX **out,
                           struct wsg_error *err);

/*
 * A client SSL object in connect state for one upstream connection (the
 * caller attaches the socket with SSL_set_fd): SNI for a DNS `host` and,
 * with `verify`, a certificate that must be valid for `host` (a DNS name,
 * or an IP address against the IP SANs); partial writes allowed. NULL on
 * failure; free with SSL_free().
 */
SSL *wsg_tls_client_ssl_new(SSL_CTX *ctx, const char *host, int verify);

/*
 * Why a TLS connection failed, e.g. "certificate verify failed: hostname
 * mismatch", from `ssl` and `error` (the last OpenSSL error code seen on
 * it, 0 for none) into `buf`; "" when it was no TLS failure.
 */
void wsg_tls_describe_failure(SSL *ssl, unsigned long error, char *buf,
                              size_t len);

/* The client contexts of every https route of a config, one per distinct
 * (ca_file, tls_verify). */
struct wsg_tls_clients;

/*
 * Builds the client contexts `cfg`'s routes need, and logs a warning for
 * each route with tls_verify = false. Failure: WSG_ERR_CONFIG with the
 * route and file in err->reason, `*out` NULL.
 */
int wsg_tls_clients_new(const struct wsg_config *cfg,
                        struct wsg_tls_clients **out, struct wsg_error *err);

/* The context for `route`'s https upstreams (NULL if it has none). */
SSL_CTX *wsg_tls_clients_get(const struct wsg_tls_clients *set,
                             const struct wsg_route_conf *route);

void wsg_tls_clients_free(struct wsg_tls_clients *set);

#endif
