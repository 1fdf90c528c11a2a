/*
 * The operator's config file (libconfig syntax, DESIGN 3.2) turned into an
 * immutable, reference-counted snapshot. Unknown keys, wrong types and
 * out-of-range values are errors naming file:line and the key.
 */
#ifndef WSG_CONFIG_H
#define WSG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

struct wsg_op_decls;
struct wsg_operation;
struct wsg_wsdl;
struct wsg_schema;
struct wsg_dsig_conf;

struct wsg_tls_conf {
	char *cert; /* absolute path */
	char *key;  /* absolute path */
};

struct wsg_listen_conf {
	char *address; /* as written, e.g. "127.0.0.1:8280" or "[::1]:8280" */
	char *host;    /* "127.0.0.1", "::1" */
	uint16_t port;
	int has_tls;
	struct wsg_tls_conf tls;
};

struct wsg_password_policy_conf {
	unsigned min_length; /* characters (UTF-8 code points) */
};

struct wsg_management_conf {
	char *address;
	char *host;
	uint16_t port;
	int enabled;
	int has_tls;
	struct wsg_tls_conf tls;
	int64_t token_ttl;     /* seconds */
	char *jwt_secret_file; /* absolute path */
	char *admin_role;
	char *bootstrap_admin; /* "off" | "loopback" | "any" */
	struct wsg_password_policy_conf password_policy;
	char **cors_origins; /* exact origins ("*" only without bootstrap) */
	size_t n_cors_origins;
	char **login_roles; /* none: any user may log in */
	size_t n_login_roles;
	char *metrics_auth;  /* "none" | "token" */
	char **server_names; /* Host names, port optional, also answered */
	size_t n_server_names;
	unsigned workers;    /* threads for database and argon2 work */
	char *dashboard_dir; /* absolute path or NULL (src/paths.h) */
};

struct wsg_userstore_conf {
	char *host;
	uint16_t port;
	char *socket; /* absolute path or NULL (then TCP) */
	char **hosts; /* "host:port" nodes; when any, over host/port/socket */
	size_t n_hosts;
	char *user;
	char *password_file; /* absolute path or NULL (no password) */
	char *database;
	unsigned pool_size;      /* connections per worker */
	int64_t cache_ttl;       /* seconds a looked-up user stays cached */
	int64_t connect_timeout; /* seconds */
	int64_t query_timeout;   /* seconds */
	char *master_key_file;   /* absolute path */
	unsigned max_waiting; /* queries waiting for a connection, per worker */
	char *schema_file;    /* absolute path or NULL (src/paths.h) */
	char *type;           /* "mariadb" | "ldap" (users and roles) */
	int ldap;             /* type is "ldap" */
	int mariadb; /* MariaDB is used: type "mariadb", or host or socket set
	                with type "ldap" (replay store, JWT revocation) */
};

/* The ldap group (userstore.type = "ldap", docs/ldap.md). */
struct wsg_ldap_conf {
	char *uri;     /* one ldap://, ldaps:// or ldapi:// URL */
	int starttls;  /* ldap:// upgraded with StartTLS before any bind */
	char *ca_file; /* absolute path, or NULL for the system store */
	char *bind_dn; /* service account, or NULL: anonymous searches */
	char *bind_password_file; /* absolute path; with bind_dn only */
	char *user_base;
	char *user_filter; /* one %s: the user name, RFC 4515-escaped */
	char *group_base;
	char *group_filter;   /* one %s: the user's DN, RFC 4515-escaped */
	char *role_attribute; /* the group attribute that names the role */
	char *admin_group;    /* role name whose members are management admins,
	                         or NULL */
	int64_t timeout;      /* seconds for one directory operation */
	unsigned pool_size;   /* service connections per worker */
	int allow_plaintext_passwords; /* plain ldap:// to a non-loopback host
	                                */
};

/* security.lockout (per user name) and security.client_limit (per client
 * address): max_failures within window seconds lock the key for duration
 * seconds; max_failures = 0 turns the check off. */
struct wsg_lockout_conf {
	unsigned max_failures;
	int64_t window;
	int64_t duration;
	size_t max_entries; /* keys remembered, read at start */
	char *store;        /* security.lockout: "memory" | "mariadb" */
	int shared;         /* store is "mariadb" (lockout_store.h) */
};

/* security.verify_queue: argon2 jobs queued or running, in all and per
 * client address (beyond: 503 and 429). */
struct wsg_verify_queue_conf {
	unsigned max_queued;
	unsigned max_per_client;
};

struct wsg_security_conf {
	int64_t created_ttl;
	int64_t future_ttl;
	int64_t timestamp_ttl;
	size_t nonce_cache_max;
	char *replay_store; /* "memory" | "mariadb" */
	int replay_shared;  /* replay_store is "mariadb" */
	int strict_bsp;
	int opaque_faults; /* every security fault is wss4j:SecurityError */
	int underscores_in_headers; /* client header names with '_' forwarded */
	struct wsg_lockout_conf lockout;
	struct wsg_lockout_conf client_limit;
	unsigned verify_threads; /* argon2 pool size */
	struct wsg_verify_queue_conf verify_queue;
};

struct wsg_limits_conf {
	size_t max_body_size;   /* bytes */
	size_t max_header_size; /* bytes of request headers */
	size_t max_depth;
	size_t max_attributes;
	size_t max_attribute_len;
	size_t max_nodes;
	size_t max_namespaces;       /* namespace declarations in scope */
	size_t max_total_attributes; /* attributes and xmlns in one document */
	size_t max_parts;            /* parts of a multipart/related request */
	size_t max_part_size;        /* bytes of one part's body */
	size_t max_part_header_size; /* bytes of one part's headers */
	int64_t request_timeout;     /* seconds to read a request, in total */
	int64_t response_timeout; /* seconds for a client to take an answer */
	size_t max_response_size; /* bytes of an upstream answer's body */
	unsigned max_connections; /* per process; 0 = unlimited */
	int64_t drain_timeout;    /* seconds in-flight requests get at stop */
};

struct wsg_log_conf {
	char *access_log; /* absolute path, or NULL for stderr */
	char *audit_log;  /* absolute path, or NULL for stderr */
	size_t ring_size; /* recent lines kept for GET /management/logs */
	size_t buffer;    /* bytes of lines a worker holds before a write */
	unsigned flush;   /* seconds a buffered line waits at most */
	size_t backlog;   /* bytes queued for the writer before drops */
};

/* Defaults for https:// upstreams. */
struct wsg_upstream_tls_conf {
	char *ca_file; /* absolute path, or NULL for the system store */
};

/* How upstream host names are looked up (at each new connection, on the
 * worker's loop). */
struct wsg_resolver_conf {
	char **nameservers; /* "IP" or "IP:PORT" ("[IPv6]:PORT"); none: the
	                       system's /etc/resolv.conf */
	size_t n_nameservers;
};

/* Who may read a route's WSDL (wsdl_auth). */
enum wsg_wsdl_auth {
	WSG_WSDL_AUTH_NONE = 0, /* anyone: WSDLs are public in most places */
	WSG_WSDL_AUTH_BASIC,    /* HTTP Basic, any user of the store */
	WSG_WSDL_AUTH_ROUTE,    /* HTTP Basic, a user with the route's roles */
};

/* What a route checks a request's Body against. */
enum wsg_validate {
	WSG_VALIDATE_OFF = 0,
	WSG_VALIDATE_WSDL, /* the schemas of the route's WSDL */
};

struct wsg_route_conf {
	char *name;
	char *path; /* prefix, starts with '/' */
	size_t path_len;
	char **upstreams; /* "http[s]://host[:port][/path]" */
	size_t n_upstreams;
	unsigned password_types; /* enum wsg_pwtype bits */
	int require_timestamp;
	char **roles; /* user needs at least one; none = any user */
	size_t n_roles;
	int strip_security_header;
	int64_t timeout; /* seconds for the upstream exchange */
	enum wsg_auth_mode auth;
	int require_tls;
	int has_https;             /* some upstream is https:// */
	char *ca_file;             /* CAs for https upstreams: absolute path, or
	                              NULL for the system store; inherits
	                              upstream_tls.ca_file */
	int tls_verify;            /* 0 only when set to false explicitly */
	int forward_authorization; /* wsse: the client's Authorization goes on
	                            */
	char *wsdl;                /* absolute path, or NULL: no ?wsdl */
	char *public_url;          /* the route's URL written into the WSDL:
	                              as set, or from listen.[0] and path */
	struct wsg_wsdl *wsdl_docs; /* loaded from `wsdl`, or NULL */
	int wsdl_upstream; /* wsdl = "upstream": fetched by each worker */
	int64_t wsdl_ttl;  /* seconds an upstream WSDL is served unfetched */
	enum wsg_wsdl_auth wsdl_auth;
	int public_url_from_host; /* the Host header picks the public URL, */
	char **public_url_hosts;  /* among these host[:port] (any case) */
	size_t n_public_url_hosts;
	struct wsg_wsdl **wsdl_host_docs; /* local wsdl: one copy per
	                                     public_url_hosts entry */
	/* Roles per SOAP operation (operations.h); operations_only refuses
	 * those not listed. `actions`: what a SOAPAction may name (the WSDL's
	 * bindings, soap_action entries), NULL: SOAPAction is not checked. */
	struct wsg_operation *operations;
	size_t n_operations;
	int operations_only;
	struct wsg_op_decls *actions;
	enum wsg_validate validate;
	struct wsg_schema *schema; /* compiled from wsdl_docs when validate
	                              is WSG_VALIDATE_WSDL, else NULL */
	/* The decrypt block's keys (xenc.h), or NULL. */
	struct wsg_xenc_conf *decrypt;
	struct wsg_dsig_conf *signature; /* the signature block, trust
	                                    loaded (dsig.h), or NULL */
};

struct wsg_config {
	int refs;   /* atomic */
	char *path; /* absolute path of the file */
	char *dir;  /* its folder; relative paths resolve here */
	struct wsg_listen_conf *listen;
	size_t n_listen;
	struct wsg_management_conf management;
	unsigned workers; /* resolved: never 0 */
	struct wsg_userstore_conf userstore;
	struct wsg_ldap_conf ldap; /* zero unless userstore.ldap */
	struct wsg_security_conf security;
	struct wsg_limits_conf limits;
	struct wsg_log_conf log;
	struct wsg_upstream_tls_conf upstream_tls;
	struct wsg_resolver_conf resolver;
	struct wsg_route_conf *routes;
	size_t n_routes;
};

/*
 * Loads and validates `path`. On success `*out` holds one reference
 * (release with wsg_config_unref()). On failure returns WSG_ERR_CONFIG and
 * `*errors` is a malloc'ed text, one "file:line: key: problem" line per
 * error found (caller frees); `*out` is NULL.
 */
int wsg_config_load(const char *path, struct wsg_config **out, char **errors);

/* Takes and drops references; the last unref frees everything. Thread-safe. */
struct wsg_config *wsg_config_ref(struct wsg_config *c);
void wsg_config_unref(struct wsg_config *c);

/*
 * A reload (SIGHUP) swaps in routes, limits and the security checks, but
 * what is set up once at start stays: listeners, workers, the management
 * API, the user store and its cache, log files and the process-wide
 * security stores (replay cache, verification threads, lockout). Writes
 * the names of such keys whose value differs between `running` and `next`
 * into `buf` as one ", "-separated text ("" when none, truncated to `len`)
 * and returns how many there are.
 */
struct wsg_soap_limits;

/* The XML caps of `l`, as the SOAP parser takes them (requests and the
 * WSDL documents alike). */
void wsg_config_soap_limits(const struct wsg_limits_conf *l,
                            struct wsg_soap_limits *out);

size_t wsg_config_restart_keys(const struct wsg_config *running,
                               const struct wsg_config *next, char *buf,
                               size_t len);

#endif
