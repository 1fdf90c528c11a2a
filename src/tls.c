#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "keyfile.h"
#include "log.h"
#include "mem.h"

/* TLS 1.2: forward secrecy and AEAD only (Mozilla "intermediate" minus DHE). */
static const char server_ciphers_12[] =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
/* TLS 1.3 suites are all AEAD; listed so the order is ours, not a default. */
static const char server_suites_13[] =
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
        "TLS_CHACHA20_POLY1305_SHA256";
static const unsigned char session_id_context[] = "wssgate";

/* OpenSSL's reason for the last failure on this thread, then a clean queue. */
static const char *
ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return why != NULL ? why : "unknown OpenSSL error";
}

/* A clear message for the common case of a missing or unreadable file. */
static int
check_readable(const char *what, const char *path, struct wsg_error *err)
{
	if (access(path, R_OK) == 0)
		return WSG_OK;
	return wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE, "%s %s: %s",
	                     what, path, strerror(errno));
}

int
wsg_tls_check_key(const struct wsg_tls_conf *conf, struct wsg_error *err)
{
	char why[sizeof(err->reason)];
	int rc = check_readable("tls.key", conf->key, err);

	if (rc != WSG_OK)
		return rc;
	if ((rc = wsg_keyfile_check(conf->key, err)) != WSG_OK) {
		snprintf(why, sizeof(why), "%s", err->reason);
		wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE, "tls.key %s",
		              why);
	}
	return rc == WSG_OK ? WSG_OK : WSG_ERR_CONFIG;
}

int
wsg_tls_server_ctx_new(const struct wsg_tls_conf *conf, SSL_CTX **out,
                       struct wsg_error *err)
{
	SSL_CTX *ctx = NULL;
	int rc;

	*out = NULL;
	ERR_clear_error();
	if ((rc = check_readable("tls.cert", conf->cert, err)) != WSG_OK ||
	    (rc = wsg_tls_check_key(conf, err)) != WSG_OK)
		goto out;
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, server_ciphers_12) ||
	    !SSL_CTX_set_ciphersuites(ctx, server_suites_13) ||
	    !SSL_CTX_set_session_id_context(ctx, session_id_context,
	                                    sizeof(session_id_context) - 1)) {
		rc = wsg_error_set(err, WSG_ERR_CRYPTO, WSG_FAULT_NONE,
		                   "cannot set up a TLS context: %s",
		                   ssl_reason());
		goto out;
	}
	/* No session tickets: OpenSSL's ticket key lives as long as the
	 * process and is never rotated, so one leak would open every recorded
	 * session. TLS 1.2 resumes from the context's session-ID cache. */
	SSL_CTX_set_options(
	        ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	                     SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->cert) != 1) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "tls.cert %s: %s", conf->cert, ssl_reason());
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->key, SSL_FILETYPE_PEM) !=
	    1) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "tls.key %s: %s", conf->key, ssl_reason());
		goto out;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "tls.key %s does not match tls.cert %s: %s",
		                   conf->key, conf->cert, ssl_reason());
		goto out;
	}
	*out = ctx;
	ctx = NULL;
	rc = WSG_OK;
out:
	SSL_CTX_free(ctx);
	return rc;
}

struct bufferevent *
wsg_tls_bevcb(struct event_base *base, void *ctx)
{
	struct bufferevent *bev;
	SSL *ssl;

	ssl = SSL_new(ctx);
	if (ssl == NULL)
		abort();
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	                                     BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		abort();
	/* A client that just closes has finished; no error to report. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int
wsg_tls_client_ctx_new(const char *ca_file, int verify, SSL_CTX **out,
                       struct wsg_error *err)
{
	SSL_CTX *ctx = NULL;
	int rc;

	*out = NULL;
	ERR_clear_error();
	if (verify && ca_file != NULL &&
	    (rc = check_readable("ca_file", ca_file, err)) != WSG_OK)
		goto out;
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		rc = wsg_error_set(err, WSG_ERR_CRYPTO, WSG_FAULT_NONE,
		                   "cannot set up a TLS context: %s",
		                   ssl_reason());
		goto out;
	}
	SSL_CTX_set_options(ctx,
	                    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	                   NULL);
	if (verify && ca_file != NULL &&
	    SSL_CTX_load_verify_file(ctx, ca_file) != 1) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "ca_file %s: %s", ca_file, ssl_reason());
		goto out;
	}
	if (verify && ca_file == NULL &&
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		rc = wsg_error_set(err, WSG_ERR_CONFIG, WSG_FAULT_NONE,
		                   "cannot load the system's trust store: %s",
		                   ssl_reason());
		goto out;
	}
	*out = ctx;
	ctx = NULL;
	rc = WSG_OK;
out:
	SSL_CTX_free(ctx);
	return rc;
}

SSL *
wsg_tls_client_ssl_new(SSL_CTX *ctx, const char *host, int verify)
{
	unsigned char addr[sizeof(struct in6_addr)];
	size_t len = strlen(host);
	SSL *ssl, *ret = NULL;
	char *name;
	int is_ip;

	/* URLs write IPv6 literals in brackets; certificates do not. */
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
		name = wsg_mem_strndup(host + 1, len - 2);
	else
		name = wsg_mem_strdup(host);
	is_ip = inet_pton(AF_INET, name, addr) == 1 ||
	        inet_pton(AF_INET6, name, addr) == 1;
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		goto out;
	/* RFC 6066 3: SNI carries DNS names only, never address literals. */
	if (!is_ip && !SSL_set_tlsext_host_name(ssl, name))
		goto out;
	if (verify) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		                                           name)
		          : !SSL_set1_host(ssl, name))
			goto out;
	}
	/* A close-delimited answer may end without close_notify, as plain
	 * TCP would; framed answers are checked for completeness anyway. */
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_connect_state(ssl);
	ret = ssl;
	ssl = NULL;
out:
	SSL_free(ssl);
	ERR_clear_error();
	free(name);
	return ret;
}

void
wsg_tls_describe_failure(SSL *ssl, unsigned long error, char *buf, size_t len)
{
	long verify;

	buf[0] = '\0';
	if (ssl == NULL)
		return;
	verify = SSL_get_verify_result(ssl);
	if (verify != X509_V_OK)
		snprintf(buf, len, "certificate verify failed: %s",
		         X509_verify_cert_error_string(verify));
	else if (error != 0 && ERR_reason_error_string(error) != NULL)
		snprintf(buf, len, "TLS: %s", ERR_reason_error_string(error));
	else if (!SSL_is_init_finished(ssl))
		snprintf(buf, len, "TLS handshake failed");
}

struct client_ctx {
	const char *ca_file; /* config-owned, NULL for the system store */
	int verify;
	SSL_CTX *ctx;
};

struct wsg_tls_clients {
	struct client_ctx *v;
	size_t n;
};

static int
same_file(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static struct client_ctx *
find_client(const struct wsg_tls_clients *set, const char *ca_file, int verify)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].verify == verify &&
		    (!verify || same_file(set->v[i].ca_file, ca_file)))
			return &set->v[i];
	return NULL;
}

int
wsg_tls_clients_new(const struct wsg_config *cfg, struct wsg_tls_clients **out,
                    struct wsg_error *err)
{
	struct wsg_tls_clients *set;
	const struct wsg_route_conf *r;
	struct client_ctx *c;
	size_t i;
	int rc = WSG_OK;

	*out = NULL;
	set = wsg_mem_calloc(1, sizeof(*set));
	set->v = wsg_mem_calloc(cfg->n_routes > 0 ? cfg->n_routes : 1,
	                        sizeof(*set->v));
	for (i = 0; i < cfg->n_routes; i++) {
		r = &cfg->routes[i];
		if (!r->has_https)
			continue;
		if (!r->tls_verify)
			wsg_log_msg("warning",
			            "route %s: tls_verify = false: "
			            "the certificates of its https upstreams "
			            "are not checked, so anyone on the path "
			            "can read and change the traffic",
			            r->name);
		if (find_client(set, r->ca_file, r->tls_verify) != NULL)
			continue;
		c = &set->v[set->n];
		rc = wsg_tls_client_ctx_new(r->ca_file, r->tls_verify, &c->ctx,
		                            err);
		if (rc != WSG_OK) {
			char why[sizeof(err->reason)];

			snprintf(why, sizeof(why), "%s", err->reason);
			wsg_error_set(err, rc, WSG_FAULT_NONE, "route %s: %s",
			              r->name, why);
			goto out;
		}
		c->ca_file = r->ca_file;
		c->verify = r->tls_verify;
		set->n++;
	}
	*out = set;
	set = NULL;
out:
	wsg_tls_clients_free(set);
	return rc;
}

SSL_CTX *
wsg_tls_clients_get(const struct wsg_tls_clients *set,
                    const struct wsg_route_conf *route)
{
	const struct client_ctx *c;

	if (set == NULL || !route->has_https)
		return NULL;
	c = find_client(set, route->ca_file, route->tls_verify);
	return c != NULL ? c->ctx : NULL;
}

void
wsg_tls_clients_free(struct wsg_tls_clients *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		SSL_CTX_free(set->v[i].ctx);
	free(set->v);
	free(set);
}
