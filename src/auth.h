/*
 * Authentication and authorization of one request: UsernameToken ->
 * credential cache or database -> verify (argon2 on the pool, digests in
 * place) -> role policy -> replay check-and-insert. One async completion.
 *
 * It works on a state of its own (struct wsg_auth), which the request
 * embeds: what it needs of the request and its worker is given when it
 * starts, and it writes only into that state, never into the request or
 * the worker.
 */
#ifndef WSG_AUTH_H
#define WSG_AUTH_H

#include <event2/event.h>
#include <stdint.h>
#include <time.h>

#include "credcache.h"
#include "dsig.h"
#include "types.h"
#include "wsse.h"

struct wsg_auth;
struct wsg_config;
struct wsg_db_pool;
struct wsg_operation;
struct wsg_route_conf;
struct wsg_runtime;
struct wsg_soap_msg;

/*
 * `status` WSG_OK: a->user and a->roles are set. Otherwise a->err holds
 * the fault for the client and the precise reason (already audit-logged),
 * and a->retry_after the seconds to tell a refused client (0: none).
 */
typedef void (*wsg_auth_done_cb)(struct wsg_auth *a, int status, void *arg);

/* Where one authentication runs: its worker's shared state and loop. */
struct wsg_auth_env {
	struct wsg_runtime *rt;
	struct event_base *base; /* argon2 answers here */
	struct wsg_db_pool *db;  /* user lookups, the shared replay store */
	/* Paces the shared replay store's purge: the caller's counter, for
	 * one thread only. */
	uint64_t *replay_store_inserts;
	struct wsg_ldap_pool *ldap; /* userstore.type "ldap": users, roles
	                               and passwords; else NULL */
};

struct wsg_auth_count;

struct wsg_auth {
	/* -------- given by wsg_auth_init() -------- */
	struct wsg_auth_env env;
	const struct wsg_config *cfg;
	const struct wsg_route_conf *route;
	uint64_t rid;
	const char *client;   /* the peer's address, for limits and logs */
	int tls;              /* arrived over TLS (require_tls) */
	int basic;            /* HTTP Basic instead of a UsernameToken */
	int any_role;         /* set after init: the route's roles do not
	                         apply (reading its WSDL, wsdl_auth "basic") */
	int route_roles_only; /* set after init: the route's roles apply, not
	                         its operations' (wsdl_auth "route") */
	/* -------- given by wsg_auth_set_operation() -------- */
	char *operation; /* the Body's "{ns}local", for the audit log; NULL:
	                    no SOAP operation */
	const struct wsg_operation *op; /* its route->operations entry, or
	                                   NULL: not listed */
	/* -------- the outcome -------- */
	struct wsg_wsse_token tok; /* as parsed; tok.security for stripping */
	char *claimed_user;        /* username as sent, for logs */
	char *user;                /* authenticated user, for X-WSS-User */
	char *roles;               /* for X-WSS-Roles */
	struct wsg_error err;
	int64_t retry_after; /* seconds, for a 429 or 503 answer */
	/* Signatures verified on a route with a signature block: the signer
	 * (dsig.signer, NULL: none) and its SHA-256 fingerprint, for the
	 * certificate-to-user mapping and the audit log. */
	struct wsg_dsig_state dsig;
	char signer_sha256[65]; /* lower-case hex, "" when none */
	/* auth = "x509" / "wsse_or_x509": the user the signer's certificate
	 * is mapped to (user cert add), NULL before the lookup or when the
	 * UsernameToken names the user. */
	char *cert_user;
	/* -------- private to auth.c -------- */
	struct wsg_cred cred;      /* the user as looked up */
	struct timespec started;   /* CLOCK_MONOTONIC, for /metrics */
	int store_queried;         /* the user store was asked */
	uint64_t cache_generation; /* credcache generation before asking */
	int locked;                /* the user is locked out */
	int opened;                /* wsg_auth_open() ran */
	struct wsg_soap_msg *msg;  /* the message whose Security header */
	xmlNodePtr security;       /* is processed (process_security) */
	/* What makes the message single-use: the nonce, or the signed
	 * SignedInfo's hash (tagged) when there is no nonce. */
	unsigned char replay_buf[5 + WSG_DSIG_SHA256_LEN];
	const unsigned char *replay_key;
	size_t replay_len;
	wsg_auth_done_cb done;
	void *arg;
	/* A wrong password for the shared lockout store (lockout_store.h),
	 * counted once the answer is out; NULL when none. */
	struct wsg_auth_count *count;
};

/* Readies `a` for one request on `route` (all copied or borrowed for the
 * authentication's lifetime). */
void wsg_auth_init(struct wsg_auth *a, const struct wsg_auth_env *env,
                   const struct wsg_config *cfg,
                   const struct wsg_route_conf *route, uint64_t rid,
                   const char *client, int tls);

/*
 * The SOAP operation of the request (`local` NULL: none, e.g. an empty
 * Body), whose roles authorize it instead of the route's when the route
 * lists it; operations_only refuses one it does not list. Call after
 * wsg_auth_init(), before starting.
 */
void wsg_auth_set_operation(struct wsg_auth *a, const char *ns,
                            const char *local);

/* Frees what `a` holds; `a` itself is the caller's. */
void wsg_auth_clear(struct wsg_auth *a);

/*
 * The first step of wsg_auth_start(), which a caller may take on its own
 * before it reads the Body (the operation, its SOAPAction): the Security
 * header addressed to the gateway, the client address's limit, then that
 * header's EncryptedKeys and signatures in document order, so that the
 * Body and the tokens are plaintext afterwards. WSG_OK, or the failure,
 * after `done(a, status, arg)` ran with it (always before this returns).
 */
int wsg_auth_open(struct wsg_auth *a, struct wsg_soap_msg *msg,
                  wsg_auth_done_cb done, void *arg);

/*
 * Authenticates the UsernameToken of `msg` (parsed, kept by the caller
 * until `done`) against the route, after wsg_auth_open() (run here unless
 * the caller did): decryption and the signatures when the route has a
 * signature block, both to pass when both are present. A signature alone (no
 * UsernameToken) is accepted on a signature route without roles, with an empty
 * user. `done(a, status, arg)` runs exactly once, possibly before this returns
 * when no I/O is needed.
 */
void wsg_auth_start(struct wsg_auth *a, struct wsg_soap_msg *msg,
                    wsg_auth_done_cb done, void *arg);

/*
 * Authenticates from the `Authorization` header value (NULL: absent), with
 * the same user store, caches, argon2 verification, disabled-user and role
 * rules as a PasswordText token (password_types do not apply, there is no
 * nonce). On a require_tls route a request over plain HTTP is refused with
 * WSG_FAULT_INVALID_SECURITY before anything else; missing or malformed
 * credentials are WSG_FAULT_FAILED_AUTHENTICATION. `done` as above.
 */
void wsg_auth_start_basic(struct wsg_auth *a, const char *authorization,
                          wsg_auth_done_cb done, void *arg);

#endif
