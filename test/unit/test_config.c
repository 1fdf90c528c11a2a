/*
 * Unit tests for config.c (load, defaults, paths, every error class,
 * reference counting) and keyfile.c (create, load, read_secret).
 */
/* nftw() for removing the temporary folders. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dsig.h"
#include "err.h"
#include "keyfile.h"
#include "mem.h"
#include "operations.h"

#define LISTEN "listen = ( { address = \"127.0.0.1:8280\"; } );\n"
#define LDAP_TYPE "userstore = { type = \"ldap\"; }; "
#define LDAP_BASES "user_base = \"ou=p\"; group_base = \"ou=g\";"
#define LDAP_MIN "uri = \"ldap://127.0.0.1/\"; " LDAP_BASES
#define ROUTE(extra)                                                           \
	"routes = ( { name = \"a\"; path = \"/a\"; "                           \
	"upstream = ( \"http://127.0.0.1:9000/\" ); " extra " } );\n"

/* A fresh temporary folder per test (absolute, symlinks resolved). */
struct tmp {
	char dir[PATH_MAX];
};

static int
tmp_setup(void **state)
{
	struct tmp *t = wsg_mem_calloc(1, sizeof(*t));
	char templ[] = "/tmp/wsg-config-XXXXXX";

	if (mkdtemp(templ) == NULL || realpath(templ, t->dir) == NULL) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
remove_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

static int
tmp_teardown(void **state)
{
	struct tmp *t = *state;

	nftw(t->dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static char *
write_file(const struct tmp *t, const char *name, const char *text, mode_t mode)
{
	char *path = wsg_mem_printf("%s/%s", t->dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* ---- the shipped example ---- */

static void
test_example_config(void **state)
{
	const char *top = getenv("WSG_TOP_SRCDIR");
	char *path, *errors = NULL, *want, abstop[PATH_MAX];
	struct wsg_config *c = NULL;
	const struct wsg_route_conf *r;
	int rc;

	if (top == NULL)
		top = ".";
	assert_non_null(realpath(top, abstop));
	path = wsg_mem_printf("%s/conf/wssgate.conf", top);
	rc = wsg_config_load(path, &c, &errors);
	if (rc != WSG_OK)
		fail_msg("example config rejected:\n%s", errors);
	assert_null(errors);

	want = wsg_mem_printf("%s/conf/wssgate.conf", abstop);
	assert_string_equal(c->path, want);
	free(want);
	assert_int_equal(c->n_listen, 1);
	assert_string_equal(c->listen[0].host, "127.0.0.1");
	assert_int_equal(c->listen[0].port, 8280);
	assert_int_equal(c->listen[0].has_tls, 0);
	assert_string_equal(c->management.address, "127.0.0.1:9164");
	assert_int_equal(c->management.port, 9164);
	assert_int_equal(c->management.enabled, 1);
	assert_string_equal(c->management.bootstrap_admin, "loopback");

	want = wsg_mem_printf("%s/var/jwt.key", abstop);
	assert_string_equal(c->management.jwt_secret_file, want);
	free(want);
	want = wsg_mem_printf("%s/var/mysql.sock", abstop);
	assert_string_equal(c->userstore.socket, want);
	free(want);
	want = wsg_mem_printf("%s/var/db.pass", abstop);
	assert_string_equal(c->userstore.password_file, want);
	free(want);
	want = wsg_mem_printf("%s/var/master.key", abstop);
	assert_string_equal(c->userstore.master_key_file, want);
	free(want);
	assert_string_equal(c->security.replay_store, "memory");
	assert_true(c->workers >= 1);

	assert_int_equal(c->n_routes, 1);
	r = &c->routes[0];
	assert_string_equal(r->name, "echo");
	assert_string_equal(r->path, "/services/Echo");
	assert_int_equal(r->path_len, strlen("/services/Echo"));
	assert_int_equal(r->n_upstreams, 1);
	assert_string_equal(r->upstreams[0], "http://127.0.0.1:9000/Echo");
	assert_int_equal(r->n_roles, 1);
	assert_string_equal(r->roles[0], "echo-users");
	assert_int_equal(r->password_types,
	                 WSG_PWTYPE_TEXT | WSG_PWTYPE_DIGEST);
	assert_int_equal(r->auth, WSG_AUTH_WSSE);
	assert_int_equal(r->strip_security_header, 1);
	wsg_config_unref(c);
	free(path);
}

/* Every key of the example is present, so a new key cannot go undocumented. */
static void
test_example_lists_every_key(void **state)
{
	static const char *const keys[] = {
	        "listen",
	        "address",
	        "tls",
	        "cert",
	        "management",
	        "enabled",
	        "token_ttl",
	        "jwt_secret_file",
	        "admin_role",
	        "bootstrap_admin",
	        "password_policy",
	        "min_length",
	        "cors_origins",
	        "server_names",
	        "workers",
	        "userstore",
	        "host",
	        "port",
	        "socket",
	        "user",
	        "password_file",
	        "database",
	        "pool_size",
	        "cache_ttl",
	        "connect_timeout",
	        "query_timeout",
	        "master_key_file",
	        "max_waiting",
	        "schema_file",
	        "dashboard_dir",
	        "security",
	        "created_ttl",
	        "future_ttl",
	        "timestamp_ttl",
	        "nonce_cache_max",
	        "replay_store",
	        "strict_bsp",
	        "opaque_faults",
	        "underscores_in_headers",
	        "verify_threads",
	        "verify_queue",
	        "max_queued",
	        "max_per_client",
	        "lockout",
	        "max_failures",
	        "window",
	        "duration",
	        "max_entries",
	        "store",
	        "client_limit",
	        "limits",
	        "max_body_size",
	        "max_header_size",
	        "max_depth",
	        "max_attributes",
	        "max_attribute_len",
	        "max_nodes",
	        "max_namespaces",
	        "max_total_attributes",
	        "max_parts",
	        "max_part_size",
	        "max_part_header_size",
	        "request_timeout",
	        "response_timeout",
	        "max_response_size",
	        "max_connections",
	        "drain_timeout",
	        "log",
	        "access_log",
	        "audit_log",
	        "routes",
	        "name",
	        "path",
	        "upstream",
	        "password_types",
	        "require_timestamp",
	        "roles",
	        "strip_security_header",
	        "timeout",
	        "auth",
	        "require_tls",
	        "upstream_tls",
	        "ca_file",
	        "tls_verify",
	        "forward_authorization",
	        "operations_only",
	        "signature",
	        "require",
	        "parts",
	        "trust",
	        "crl",
	        "certs",
	        "algorithms",
	        "max_references",
	        "max_transforms",
	        "max_signatures",
	        "max_chain_depth",
	};
	const char *top = getenv("WSG_TOP_SRCDIR");
	char *path, text[32768], *needle;
	size_t i, n;
	FILE *f;

	path = wsg_mem_printf("%s/conf/wssgate.conf", top ? top : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		needle = wsg_mem_printf("%s = ", keys[i]);
		if (strstr(text, needle) == NULL)
			fail_msg("conf/wssgate.conf does not show \"%s\"",
			         keys[i]);
		free(needle);
	}
	free(path);
}

/* ---- defaults and paths ---- */

static void
test_defaults(void **state)
{
	struct tmp *t = *state;
	char *path = write_file(t, "wssgate.conf", LISTEN, 0644);
	char *errors = NULL, *want;
	struct wsg_config *c = NULL;

	assert_int_equal(wsg_config_load(path, &c, &errors), WSG_OK);
	assert_null(errors);
	assert_string_equal(c->path, path);
	assert_string_equal(c->dir, t->dir);

	assert_string_equal(c->management.address, "127.0.0.1:9164");
	assert_string_equal(c->management.host, "127.0.0.1");
	assert_int_equal(c->management.port, 9164);
	assert_int_equal(c->management.enabled, 1);
	assert_int_equal(c->management.has_tls, 0);
	assert_int_equal(c->management.token_ttl, 3600);
	want = wsg_mem_printf("%s/var/jwt.key", t->dir);
	assert_string_equal(c->management.jwt_secret_file, want);
	free(want);
	assert_string_equal(c->management.admin_role, "admin");
	assert_string_equal(c->management.bootstrap_admin, "loopback");
	assert_int_equal(c->management.password_policy.min_length, 8);
	assert_int_equal(c->management.n_cors_origins, 0);
	assert_int_equal(c->management.n_server_names, 0);

	assert_int_equal(c->workers, sysconf(_SC_NPROCESSORS_ONLN) > 256
	                                     ? 256
	                                     : sysconf(_SC_NPROCESSORS_ONLN));

	assert_string_equal(c->userstore.host, "localhost");
	assert_int_equal(c->userstore.port, 3306);
	assert_null(c->userstore.socket);
	assert_string_equal(c->userstore.user, "wssgate");
	assert_null(c->userstore.password_file);
	assert_string_equal(c->userstore.database, "wssgate");
	assert_int_equal(c->userstore.pool_size, 4);
	assert_int_equal(c->userstore.cache_ttl, 60);
	assert_int_equal(c->userstore.connect_timeout, 5);
	assert_int_equal(c->userstore.query_timeout, 5);
	want = wsg_mem_printf("%s/var/master.key", t->dir);
	assert_string_equal(c->userstore.master_key_file, want);
	free(want);

	assert_int_equal(c->security.created_ttl, 300);
	assert_int_equal(c->security.future_ttl, 60);
	assert_int_equal(c->security.timestamp_ttl, 300);
	assert_int_equal(c->security.nonce_cache_max, 1000000);
	assert_string_equal(c->security.replay_store, "memory");
	assert_int_equal(c->security.replay_shared, 0);
	assert_int_equal(c->security.strict_bsp, 0);
	assert_int_equal(c->security.opaque_faults, 0);
	assert_int_equal(c->security.underscores_in_headers, 0);
	assert_int_equal(c->security.verify_threads, 2);
	assert_int_equal(c->security.lockout.max_failures, 5);
	assert_int_equal(c->security.lockout.window, 300);
	assert_int_equal(c->security.lockout.duration, 900);
	assert_int_equal(c->security.lockout.max_entries, 100000);
	assert_string_equal(c->security.lockout.store, "memory");
	assert_int_equal(c->security.lockout.shared, 0);
	assert_int_equal(c->security.client_limit.max_failures, 50);
	assert_int_equal(c->security.client_limit.window, 60);
	assert_int_equal(c->security.client_limit.duration, 300);
	assert_int_equal(c->security.client_limit.max_entries, 100000);

	assert_int_equal(c->limits.max_body_size, 10485760);
	assert_int_equal(c->limits.max_header_size, 65536);
	assert_int_equal(c->limits.max_depth, 100);
	assert_int_equal(c->limits.max_attributes, 500);
	assert_int_equal(c->limits.max_attribute_len, 65536);
	assert_int_equal(c->limits.max_nodes, 100000);
	assert_int_equal(c->limits.max_namespaces, 100);
	assert_int_equal(c->limits.max_total_attributes, 200000);
	assert_int_equal(c->limits.max_parts, 100);
	assert_int_equal(c->limits.max_part_size, 10485760);
	assert_int_equal(c->limits.max_part_header_size, 8192);
	assert_int_equal(c->limits.request_timeout, 30);
	assert_int_equal(c->limits.response_timeout, 60);
	assert_int_equal(c->limits.max_response_size, 67108864);
	/* Finite by default (issue 12, item 13). */
	assert_int_equal(c->limits.max_connections, 10000);
	assert_int_equal(c->userstore.max_waiting, 64);
	assert_int_equal(c->security.verify_queue.max_queued, 64);
	assert_int_equal(c->security.verify_queue.max_per_client, 8);
	assert_int_equal(c->limits.drain_timeout, 10);

	assert_null(c->log.access_log);
	assert_null(c->log.audit_log);
	assert_null(c->upstream_tls.ca_file);
	assert_int_equal(c->n_routes, 0);
	assert_null(c->routes);
	wsg_config_unref(c);
	free(path);
}

/* A self-signed EC certificate as PEM at `path`, for trust anchors. */
static void
write_cert(const char *path)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"ca", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, k, EVP_sha256());
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_route_signature(void **state)
{
	struct tmp *t = *state;
	char *ca = wsg_mem_printf("%s/ca.pem", t->dir);
	char *path = write_file(
	        t, "c.conf",
	        LISTEN
	        "routes = ( { name = \"a\"; path = \"/a\"; upstream = "
	        "( \"http://127.0.0.1:9000/\" );\n signature = { trust "
	        "= \"ca.pem\"; }; },\n { name = \"b\"; path = \"/b\"; "
	        "upstream = ( \"http://127.0.0.1:9000/\" );\n signature = "
	        "{ require = true; parts = ( \"UsernameToken\" ); trust = "
	        "\"ca.pem\"; certs = \".\"; algorithms = ( \"rsa-sha1\" "
	        "); max_references = 3; max_transforms = 1; "
	        "max_signatures = 1; max_chain_depth = 0; }; },\n { name = "
	        "\"c\"; path = \"/c\"; upstream = ( "
	        "\"http://127.0.0.1:9000/\" ); } );\n",
	        0644);
	struct wsg_config *c = NULL;
	const struct wsg_dsig_conf *d;

	write_cert(ca);
	assert_int_equal(wsg_config_load(path, &c, NULL), WSG_OK);
	d = c->routes[0].signature;
	assert_non_null(d);
	assert_int_equal(d->require, 0);
	assert_int_equal(d->parts,
	                 WSG_DSIG_PART_BODY | WSG_DSIG_PART_TIMESTAMP);
	assert_int_equal(d->algorithms,
	                 WSG_DSIG_ALG_RSA_SHA256 | WSG_DSIG_ALG_ECDSA_SHA256);
	assert_string_equal(d->trust, ca);
	assert_null(d->crl);
	assert_null(d->certs);
	assert_null(d->known);
	assert_non_null(d->store);
	assert_int_equal(d->max_references, 8);
	assert_int_equal(d->max_transforms, 2);
	assert_int_equal(d->max_signatures, 2);
	assert_int_equal(d->max_chain_depth, 4);
	d = c->routes[1].signature;
	assert_int_equal(d->require, 1);
	assert_int_equal(d->parts, WSG_DSIG_PART_USERNAME_TOKEN);
	assert_int_equal(d->algorithms, WSG_DSIG_ALG_RSA_SHA1);
	assert_string_equal(d->certs, t->dir);
	assert_int_equal(sk_X509_num(d->known), 1);
	assert_int_equal(d->max_references, 3);
	assert_int_equal(d->max_transforms, 1);
	assert_int_equal(d->max_signatures, 1);
	assert_int_equal(d->max_chain_depth, 0);
	assert_null(c->routes[2].signature);
	wsg_config_unref(c);
	free(path);
	free(ca);
}

static void
test_route_defaults(void **state)
{
	struct tmp *t = *state;
	char *path = write_file(t, "c.conf", LISTEN ROUTE(""), 0644);
	struct wsg_config *c = NULL;
	const struct wsg_route_conf *r;

	assert_int_equal(wsg_config_load(path, &c, NULL), WSG_OK);
	assert_int_equal(c->n_routes, 1);
	r = &c->routes[0];
	assert_string_equal(r->name, "a");
	assert_string_equal(r->path, "/a");
	assert_int_equal(r->path_len, 2);
	assert_int_equal(r->password_types,
	                 WSG_PWTYPE_TEXT | WSG_PWTYPE_DIGEST);
	assert_int_equal(r->require_timestamp, 0);
	assert_int_equal(r->n_roles, 0);
	assert_null(r->roles);
	assert_int_equal(r->strip_security_header, 1);
	assert_int_equal(r->timeout, 30);
	assert_int_equal(r->auth, WSG_AUTH_WSSE);
	assert_int_equal(r->require_tls, 0);
	assert_int_equal(r->has_https, 0);
	assert_null(r->ca_file);
	assert_int_equal(r->tls_verify, 1);
	assert_int_equal(r->forward_authorization, 0);
	assert_int_equal(r->n_operations, 0);
	assert_int_equal(r->operations_only, 0);
	assert_null(r->actions);
	wsg_config_unref(c);
	free(path);
}

/* operations: names split, roles kept, soap_action entries the actions a
 * SOAPAction may name (a route with none of them checks none). */
static void
test_route_operations(void **state)
{
	struct tmp *t = *state;
	char *path = write_file(
	        t, "c.conf",
	        LISTEN ROUTE("roles = ( \"users\" ); operations_only = true; "
	                     "operations = ( { name = \"{urn:e}Echo\"; "
	                     "roles = ( \"echo-users\", \"x\" ); soap_action "
	                     "= \"urn:e/Echo\"; }, { name = \"DeleteAccount\"; "
	                     "roles = (); } );"),
	        0644);
	const struct wsg_route_conf *r;
	struct wsg_config *c = NULL;

	assert_int_equal(wsg_config_load(path, &c, NULL), WSG_OK);
	r = &c->routes[0];
	assert_int_equal(r->operations_only, 1);
	assert_int_equal(r->n_operations, 2);
	assert_string_equal(r->operations[0].ns, "urn:e");
	assert_string_equal(r->operations[0].local, "Echo");
	assert_int_equal(r->operations[0].n_roles, 2);
	assert_string_equal(r->operations[0].roles[1], "x");
	assert_string_equal(r->operations[0].soap_action, "urn:e/Echo");
	assert_null(r->operations[1].ns);
	assert_string_equal(r->operations[1].local, "DeleteAccount");
	assert_int_equal(r->operations[1].n_roles, 0);
	assert_null(r->operations[1].soap_action);
	assert_non_null(r->actions);
	assert_int_equal(r->actions->n, 1);
	assert_string_equal(r->actions->v[0].ns, "urn:e");
	assert_string_equal(r->actions->v[0].action, "urn:e/Echo");
	wsg_config_unref(c);
	free(path);
}

/* Values other than the defaults, in every accepted spelling. */
static void
test_explicit_values(void **state)
{
	static const char text[] =
	        "listen = ( { address = \"[::1]:8280\"; },\n"
	        "  { address = \"localhost:8443\";\n"
	        "    tls = { cert = \"tls/s.crt\"; key = \"/etc/k.pem\"; }; } "
	        ");\n"
	        "management = { address = \"[::1]:9000\"; enabled = false;\n"
	        "  bootstrap_admin = \"off\"; token_ttl = 60L;\n"
	        "  password_policy = { min_length = 12; };\n"
	        "  cors_origins = ( \"https://a.example\", \"http://b:8080\" "
	        "); "
	        "};\n"
	        "workers = 3;\n"
	        "security = { replay_store = \"mariadb\"; strict_bsp = true;\n"
	        "  opaque_faults = true;\n"
	        "  nonce_cache_max = 100000000L;\n"
	        "  lockout = { window = 10; store = \"mariadb\"; };\n"
	        "  client_limit = { max_failures = 0; max_entries = 64; }; "
	        "};\n"
	        "limits = { max_body_size = 0x800; max_connections = 10; };\n"
	        "log = { access_log = \"logs/access.log\"; };\n"
	        "routes = (\n"
	        " { name = \"a\"; path = \"/a\"; upstream = [ "
	        "\"http://[::1]:1/x\","
	        " \"http://svc.example.com/\" ]; password_types = "
	        "[\"PasswordText\"];"
	        " roles = ( \"r1\", \"r2\" ); auth = \"wsse_or_basic\";"
	        " require_tls = true; timeout = 3600; },\n"
	        " { name = \"b\"; path = \"/b\"; upstream = ( "
	        "\"HTTP://h:8080\" );"
	        " password_types = ( \"PasswordDigest\" ); auth = \"basic\";"
	        " roles = (); strip_security_header = false; },\n"
	        " { name = \"c\"; path = \"/c\"; upstream = ( "
	        "\"http://h/\", \"HTTPS://h:8443/x\" ); ca_file = "
	        "\"tls/ca.pem\"; },\n"
	        " { name = \"d\"; path = \"/d\"; upstream = ( "
	        "\"https://[::1]/\" ); tls_verify = false; },\n"
	        " { name = \"e\"; path = \"/e\"; upstream = ( "
	        "\"https://svc.example.com\" ); } );\n"
	        "upstream_tls = { ca_file = \"/etc/ca.pem\"; };\n";
	struct tmp *t = *state;
	char *path = write_file(t, "c.conf", text, 0644);
	char *errors = NULL, *want;
	struct wsg_config *c = NULL;

	if (wsg_config_load(path, &c, &errors) != WSG_OK)
		fail_msg("rejected:\n%s", errors);
	assert_int_equal(c->n_listen, 2);
	assert_string_equal(c->listen[0].host, "::1");
	assert_int_equal(c->listen[0].port, 8280);
	assert_string_equal(c->listen[1].host, "localhost");
	assert_int_equal(c->listen[1].has_tls, 1);
	want = wsg_mem_printf("%s/tls/s.crt", t->dir);
	assert_string_equal(c->listen[1].tls.cert, want);
	free(want);
	assert_string_equal(c->listen[1].tls.key, "/etc/k.pem");
	assert_string_equal(c->management.host, "::1");
	assert_int_equal(c->management.port, 9000);
	assert_int_equal(c->management.enabled, 0);
	assert_string_equal(c->management.bootstrap_admin, "off");
	assert_int_equal(c->management.token_ttl, 60);
	assert_int_equal(c->management.password_policy.min_length, 12);
	assert_int_equal(c->management.n_cors_origins, 2);
	assert_string_equal(c->management.cors_origins[0], "https://a.example");
	assert_string_equal(c->management.cors_origins[1], "http://b:8080");
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->security.strict_bsp, 1);
	assert_int_equal(c->security.opaque_faults, 1);
	assert_string_equal(c->security.replay_store, "mariadb");
	assert_int_equal(c->security.replay_shared, 1);
	assert_int_equal(c->security.nonce_cache_max, 100000000);
	assert_int_equal(c->security.lockout.window, 10);
	assert_int_equal(c->security.lockout.max_failures, 5);
	assert_string_equal(c->security.lockout.store, "mariadb");
	assert_int_equal(c->security.lockout.shared, 1);
	assert_int_equal(c->security.client_limit.max_failures, 0);
	assert_int_equal(c->security.client_limit.window, 60);
	assert_int_equal(c->security.client_limit.max_entries, 64);
	assert_int_equal(c->limits.max_body_size, 2048);
	assert_int_equal(c->limits.max_connections, 10);
	want = wsg_mem_printf("%s/logs/access.log", t->dir);
	assert_string_equal(c->log.access_log, want);
	free(want);
	assert_null(c->log.audit_log);

	assert_int_equal(c->n_routes, 5);
	assert_int_equal(c->routes[0].n_upstreams, 2);
	assert_string_equal(c->routes[0].upstreams[1],
	                    "http://svc.example.com/");
	assert_int_equal(c->routes[0].password_types, WSG_PWTYPE_TEXT);
	assert_int_equal(c->routes[0].n_roles, 2);
	assert_string_equal(c->routes[0].roles[1], "r2");
	assert_int_equal(c->routes[0].auth, WSG_AUTH_WSSE_OR_BASIC);
	assert_int_equal(c->routes[0].require_tls, 1);
	assert_int_equal(c->routes[0].timeout, 3600);
	assert_int_equal(c->routes[1].password_types, WSG_PWTYPE_DIGEST);
	assert_int_equal(c->routes[1].auth, WSG_AUTH_BASIC);
	assert_int_equal(c->routes[1].n_roles, 0);
	assert_int_equal(c->routes[1].strip_security_header, 0);
	assert_string_equal(c->upstream_tls.ca_file, "/etc/ca.pem");
	/* Only routes with an https upstream use (and inherit) TLS keys. */
	assert_int_equal(c->routes[1].has_https, 0);
	assert_null(c->routes[1].ca_file);
	assert_int_equal(c->routes[2].has_https, 1);
	want = wsg_mem_printf("%s/tls/ca.pem", t->dir);
	assert_string_equal(c->routes[2].ca_file, want);
	free(want);
	assert_int_equal(c->routes[2].tls_verify, 1);
	assert_int_equal(c->routes[3].has_https, 1);
	assert_int_equal(c->routes[3].tls_verify, 0);
	assert_string_equal(c->routes[3].ca_file, "/etc/ca.pem");
	assert_string_equal(c->routes[4].ca_file, "/etc/ca.pem");
	assert_int_equal(c->routes[4].tls_verify, 1);
	wsg_config_unref(c);
	free(path);
}

static void
test_relative_paths(void **state)
{
	static const struct {
		const char *value;
		const char *want; /* below the temp folder, or absolute */
	} cases[] = {
	        {"var/jwt.key", "/var/jwt.key"},
	        {"./a/./b//c", "/a/b/c"},
	        {"sub/../x", "/x"},
	        {"/abs/x/../y", "!/abs/y"},
	};
	struct tmp *t = *state;
	struct wsg_config *c = NULL;
	char *text, *path, *loaded, *want, *errors = NULL;
	size_t i;

	path = wsg_mem_printf("%s/sub", t->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		text = wsg_mem_printf(LISTEN "management = { jwt_secret_file "
		                             "= \"%s\"; };\n",
		                      cases[i].value);
		path = write_file(t, "wssgate.conf", text, 0644);
		/* The file's own path is made absolute and canonical too. */
		loaded = wsg_mem_printf("%s/sub/../wssgate.conf", t->dir);
		if (wsg_config_load(loaded, &c, &errors) != WSG_OK)
			fail_msg("rejected:\n%s", errors);
		assert_string_equal(c->path, path);
		assert_string_equal(c->dir, t->dir);
		want = cases[i].want[0] == '!'
		               ? wsg_mem_strdup(cases[i].want + 1)
		               : wsg_mem_printf("%s%s", t->dir, cases[i].want);
		assert_string_equal(c->management.jwt_secret_file, want);
		wsg_config_unref(c);
		c = NULL;
		free(want);
		free(loaded);
		free(path);
		free(text);
	}
}

/* ---- the LDAP user store ---- */

static void
test_ldap_values(void **state)
{
	static const struct {
		const char *userstore;
		int mariadb;
	} stores[] = {
	        {"type = \"ldap\";", 0},
	        {"type = \"ldap\"; socket = \"/run/mysqld/mysqld.sock\";", 1},
	        {"type = \"ldap\"; host = \"db.example.org\";", 1},
	};
	struct tmp *t = *state;
	struct wsg_config *c = NULL;
	char *text, *path, *pass, *errors = NULL;
	size_t i;

	pass = write_file(t, "ldap.pass", "secret\n", 0600);
	for (i = 0; i < sizeof(stores) / sizeof(stores[0]); i++) {
		text = wsg_mem_printf(
		        LISTEN "userstore = { %s };\n"
		               "ldap = { uri = \"ldaps://ldap.example.org/\";"
		               " ca_file = \"ldap.pass\"; bind_dn = \"cn=gw\";"
		               " bind_password_file = \"ldap.pass\";"
		               " user_base = \"ou=people\";"
		               " group_base = \"ou=groups\"; };\n",
		        stores[i].userstore);
		path = write_file(t, "wssgate.conf", text, 0644);
		if (wsg_config_load(path, &c, &errors) != WSG_OK)
			fail_msg("rejected:\n%s", errors);
		assert_string_equal(c->userstore.type, "ldap");
		assert_int_equal(c->userstore.ldap, 1);
		assert_int_equal(c->userstore.mariadb, stores[i].mariadb);
		assert_string_equal(c->ldap.uri, "ldaps://ldap.example.org/");
		assert_string_equal(c->ldap.ca_file, pass);
		assert_string_equal(c->ldap.bind_password_file, pass);
		assert_string_equal(c->ldap.user_filter,
		                    "(&(objectClass=inetOrgPerson)(uid=%s))");
		assert_string_equal(c->ldap.group_filter,
		                    "(&(objectClass=groupOfNames)(member=%s))");
		assert_string_equal(c->ldap.role_attribute, "cn");
		assert_null(c->ldap.admin_group);
		assert_int_equal(c->ldap.starttls, 0);
		assert_int_equal(c->ldap.timeout, 5);
		assert_int_equal(c->ldap.pool_size, 4);
		assert_int_equal(c->ldap.allow_plaintext_passwords, 0);
		wsg_config_unref(c);
		c = NULL;
		free(path);
		free(text);
	}
	/* The default store keeps MariaDB and has no ldap group. */
	path = write_file(t, "wssgate.conf", LISTEN, 0644);
	assert_int_equal(wsg_config_load(path, &c, &errors), WSG_OK);
	assert_string_equal(c->userstore.type, "mariadb");
	assert_int_equal(c->userstore.ldap, 0);
	assert_int_equal(c->userstore.mariadb, 1);
	assert_null(c->ldap.uri);
	wsg_config_unref(c);
	free(path);
	free(pass);
}

/* ---- errors ---- */

struct error_case {
	const char *name;
	const char *text;
	const char *want[3]; /* each follows the file name in some line */
	size_t n_errors;
};

static const struct error_case error_cases[] = {
        {"syntax error", LISTEN "workers = ;\n", {":2: syntax error\n"}, 1},
        {"duplicate key",
         LISTEN "workers = 1;\nworkers = 2;\n",
         {":3: syntax error: duplicate setting name"},
         1},
        {"unknown top-level key",
         LISTEN "wrokers = 2;\n",
         {":2: wrokers: unknown key"},
         1},
        {"unknown nested key",
         LISTEN "management = {\n adress = \"x\"; };\n",
         {":3: management.adress: unknown key"},
         1},
        {"unknown deep key",
         LISTEN "security = { lockout = {\n max = 1; }; };\n",
         {":3: security.lockout.max: unknown key"},
         1},
        {"unknown key in listen",
         "listen = ( { address = \"127.0.0.1:1\";\n"
         "  port = 5; } );\n",
         {":2: listen.[0].port: unknown key"},
         1},
        {"unknown key in route",
         LISTEN ROUTE("\n tmeout = 5;"),
         {":3: routes.[0].tmeout: unknown key"},
         1},
        {"string for integer",
         LISTEN "workers = \"4\";\n",
         {":2: workers: expected an integer, got a string"},
         1},
        {"float for integer",
         LISTEN "limits = { max_depth = 1.5; };\n",
         {":2: limits.max_depth: expected an integer, got a floating-point "
          "number"},
         1},
        {"integer for boolean",
         LISTEN "management = { enabled = 1; };\n",
         {":2: management.enabled: expected a boolean (true or false), got "
          "an integer"},
         1},
        {"string for boolean",
         LISTEN ROUTE("require_tls = \"yes\";"),
         {":2: routes.[0].require_tls: expected a boolean (true or false), "
          "got a string"},
         1},
        {"integer for string",
         LISTEN "userstore = { user = 5; };\n",
         {":2: userstore.user: expected a string, got an integer"},
         1},
        {"empty string",
         LISTEN "userstore = { database = \"\"; };\n",
         {":2: userstore.database: must not be empty"},
         1},
        {"integer for group",
         LISTEN "security = 5;\n",
         {":2: security: expected a group, got an integer"},
         1},
        {"group for list",
         "listen = { address = \"127.0.0.1:1\"; };\n",
         {":1: listen: expected a list of groups"},
         1},
        {"string in group list",
         "listen = ( \"127.0.0.1:1\" );\n",
         {":1: listen.[0]: expected a group, got a string"},
         1},
        {"out of range low",
         LISTEN "management = { token_ttl = 0; };\n",
         {":2: management.token_ttl: 0 is out of range (1..86400)"},
         1},
        {"password policy out of range",
         LISTEN "management = { password_policy = { min_length = 0; }; };\n",
         {":2: management.password_policy.min_length: 0 is out of range "
          "(1..1024)"},
         1},
        {"cors origin with a space",
         LISTEN "management = { bootstrap_admin = \"off\"; "
                "cors_origins = ( \"*\", \"http://a b\" ); };\n",
         {":2: management.cors_origins.[1]: \"http://a b\" holds a space"},
         1},
        {"cors * while the bootstrap is on",
         LISTEN "management = { cors_origins = ( \"https://a.example\", "
                "\"*\" ); };\n",
         {":2: management.cors_origins.[1]: \"*\" is refused while "
          "bootstrap_admin is not \"off\""},
         1},
        {"server name with a slash",
         LISTEN "management = { server_names = ( \"gw.example/x\" ); };\n",
         {":2: management.server_names.[0]: \"gw.example/x\" is not a host "
          "name"},
         1},
        {"out of range high",
         LISTEN "userstore = { pool_size = 65; };\n",
         {":2: userstore.pool_size: 65 is out of range (1..64)"},
         1},
        {"multipart limit out of range",
         LISTEN "limits = { max_part_header_size = 63; };\n",
         {":2: limits.max_part_header_size: 63 is out of range "
          "(64..1048576)"},
         1},
        {"out of range int64",
         LISTEN "workers = 3000000000L;\n",
         {":2: workers: 3000000000 is out of range (0..256)"},
         1},
        {"verify queue out of range",
         LISTEN "security = { verify_queue = { max_per_client = 0; }; };\n",
         {":2: security.verify_queue.max_per_client: 0 is out of range "
          "(1..1000000)"},
         1},
        {"verify queue unknown key",
         LISTEN "security = { verify_queue = { max = 1; }; };\n",
         {":2: security.verify_queue.max: unknown key"},
         1},
        {"db wait queue out of range",
         LISTEN "userstore = { max_waiting = 0; };\n",
         {":2: userstore.max_waiting: 0 is out of range (1..100000)"},
         1},
        {"client limit out of range",
         LISTEN "security = { client_limit = { max_entries = 63; }; };\n",
         {":2: security.client_limit.max_entries: 63 is out of range "
          "(64..10000000)"},
         1},
        {"out of range in route",
         LISTEN ROUTE("timeout = 0;"),
         {":2: routes.[0].timeout: 0 is out of range (1..3600)"},
         1},
        {"namespace cap out of range",
         LISTEN "limits = { max_namespaces = 0; };\n",
         {":2: limits.max_namespaces: 0 is out of range (1..100000)"},
         1},
        {"document attribute cap out of range",
         LISTEN "limits = { max_total_attributes = 100000001; };\n",
         {":2: limits.max_total_attributes: 100000001 is out of range "
          "(1..100000000)"},
         1},
        {"response cap too small",
         LISTEN "limits = { max_response_size = 100; };\n",
         {":2: limits.max_response_size: 100 is out of range "
          "(1024..1073741824)"},
         1},
        {"negative",
         LISTEN "limits = { max_connections = -1; };\n",
         {":2: limits.max_connections: -1 is out of range (0..1000000)"},
         1},
        /* libconfig 1.5 would read this as 1024 without complaint. */
        {"32-bit overflow",
         LISTEN "limits = {\n max_body_size = 4294968320; };\n",
         {":3: syntax error: integer 4294968320 is too large for 32 bits; "
          "write 4294968320L"},
         1},
        {"missing listen",
         "workers = 1;\n",
         {": listen: missing required key"},
         1},
        {"empty listen",
         "listen = ();\n",
         {":1: listen: at least one listener is required"},
         1},
        {"missing address",
         "listen = (\n { } );\n",
         {":2: listen.[0].address: missing required key"},
         1},
        {"missing tls key",
         "listen = ( { address = \"127.0.0.1:1\";\n"
         " tls = { cert = \"c\"; }; } );\n",
         {":2: listen.[0].tls.key: missing required key"},
         1},
        {"missing route keys",
         LISTEN "routes = ( {\n timeout = 5; } );\n",
         {":2: routes.[0].name: missing required key",
          ":2: routes.[0].path: missing required key",
          ":2: routes.[0].upstream: missing required key"},
         3},
        {"duplicate route name and path",
         LISTEN
         "routes = ( { name = \"a\"; path = \"/a\"; upstream = (\"http://h\"); "
         "},\n"
         " { name = \"b\"; path = \"/b\"; upstream = (\"http://h\"); },\n"
         " { name = \"a\";\n path = \"/b\"; upstream = (\"http://h\"); } );\n",
         {":4: routes.[2].name: duplicate route name \"a\" (also routes.[0])",
          ":5: routes.[2].path: duplicate route path \"/b\" (also "
          "routes.[1])"},
         2},
        {"route path without slash",
         LISTEN "routes = ( { name = \"a\"; path = \"a\"; upstream = "
                "(\"http://h\"); } );\n",
         {":2: routes.[0].path: \"a\" must start with \"/\""},
         1},
        {"route path not in normal form",
         LISTEN "routes = ( { name = \"a\"; path = \"/a//%62\"; upstream = "
                "(\"http://h\"); },\n"
                " { name = \"b\"; path = \"/b;x\"; upstream = "
                "(\"http://h\"); } );\n",
         {":2: routes.[0].path: \"/a//%62\" is not in normal form; write "
          "\"/a/b\"",
          ":3: routes.[1].path: \"/b;x\" is refused as a request path: ';' "
          "parameters in the path"},
         2},
        {"address without port",
         "listen = ( { address = \"127.0.0.1\"; } );\n",
         {":1: listen.[0].address: \"127.0.0.1\": expected \"host:port\""},
         1},
        {"address port zero",
         "listen = ( { address = \"127.0.0.1:0\"; } );\n",
         {":1: listen.[0].address: \"127.0.0.1:0\": the port must be a "
          "number from 1 to 65535"},
         1},
        {"address port too big",
         LISTEN "management = { address = \"127.0.0.1:65536\"; };\n",
         {":2: management.address: \"127.0.0.1:65536\": the port must be"},
         1},
        {"address host name",
         "listen = ( { address = \"example.com:80\"; } );\n",
         {":1: listen.[0].address: \"example.com:80\": the host must be an "
          "IP address or \"localhost\""},
         1},
        {"address bare ipv6",
         "listen = ( { address = \"::1:80\"; } );\n",
         {":1: listen.[0].address: \"::1:80\": an IPv6 host must be written "
          "in brackets"},
         1},
        {"address bad ipv6",
         "listen = ( { address = \"[::g]:80\"; } );\n",
         {":1: listen.[0].address: \"[::g]:80\": the host in brackets is not "
          "an IPv6 address"},
         1},
        {"duplicate listen address",
         "listen = ( { address = \"127.0.0.1:1\"; },\n"
         " { address = \"127.0.0.1:1\"; } );\n",
         {":2: listen.[1]: address \"127.0.0.1:1\" is already used by "
          "listen.[0]"},
         1},
        {"upstream scheme",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\";\n"
                " upstream = ( \"http://h/\",\n \"ftp://h/\" ); } );\n",
         {":4: routes.[0].upstream.[1]: \"ftp://h/\": expected a URL of the "
          "form http[s]://host[:port][/path]"},
         1},
        {"upstream without host",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\"; upstream = ( "
                "\"http:///x\" ); } );\n",
         {":2: routes.[0].upstream.[0]: \"http:///x\": missing or malformed "
          "host name"},
         1},
        {"upstream bad port",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\"; upstream = ( "
                "\"http://h:99999/\" ); } );\n",
         {":2: routes.[0].upstream.[0]: \"http://h:99999/\": the port must "
          "be a number from 1 to 65535"},
         1},
        {"upstream user info",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\"; upstream = ( "
                "\"http://u:p@h/\" ); } );\n",
         {":2: routes.[0].upstream.[0]: \"http://u:p@h/\": user information"},
         1},
        {"upstream space in path",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\"; upstream = ( "
                "\"http://h/a b\" ); } );\n",
         {":2: routes.[0].upstream.[0]: \"http://h/a b\": the path holds a "
          "space"},
         1},
        {"https upstream without host",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\"; upstream = ( "
                "\"https://:443/\" ); } );\n",
         {":2: routes.[0].upstream.[0]: \"https://:443/\": missing or "
          "malformed host name"},
         1},
        {"tls keys on an http route",
         LISTEN ROUTE("\n ca_file = \"ca.pem\";\n tls_verify = false;"),
         {":3: routes.[0].ca_file: applies only to https:// upstreams",
          ":4: routes.[0].tls_verify: applies only to https:// upstreams"},
         2},
        {"forward_authorization on a basic route",
         LISTEN ROUTE("auth = \"basic\";\n forward_authorization = true;"),
         {":3: routes.[0].forward_authorization: cannot be true on a route "
          "with auth = \"basic\""},
         1},
        {"tls_verify not a boolean",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\"; upstream = ( "
                "\"https://h/\" );\n tls_verify = 0; } );\n",
         {":3: routes.[0].tls_verify: expected a boolean (true or false), "
          "got an integer"},
         1},
        {"unknown key in upstream_tls",
         LISTEN "upstream_tls = {\n ca = \"x\"; };\n",
         {":3: upstream_tls.ca: unknown key"},
         1},
        {"empty ca_file",
         LISTEN "upstream_tls = { ca_file = \"\"; };\n",
         {":2: upstream_tls.ca_file: must not be empty"},
         1},
        {"empty upstream list",
         LISTEN
         "routes = ( { name = \"a\"; path = \"/a\"; upstream = (); } );\n",
         {":2: routes.[0].upstream: at least one upstream URL is required"},
         1},
        {"upstream not a string",
         LISTEN
         "routes = ( { name = \"a\"; path = \"/a\"; upstream = ( 5 ); } );\n",
         {":2: routes.[0].upstream.[0]: expected a string, got an integer"},
         1},
        {"empty password_types",
         LISTEN ROUTE("password_types = ();"),
         {":2: routes.[0].password_types: must not be empty"},
         1},
        {"unknown password type",
         LISTEN ROUTE("password_types = ( \"PasswordText\", \"Plain\" );"),
         {":2: routes.[0].password_types.[1]: \"Plain\" is not one of "
          "\"PasswordText\", \"PasswordDigest\""},
         1},
        {"bad auth",
         LISTEN ROUTE("auth = \"digest\";"),
         {":2: routes.[0].auth: \"digest\" is not one of \"wsse\", "
          "\"basic\", \"wsse_or_basic\""},
         1},
        {"bad bootstrap_admin",
         LISTEN "management = {\n bootstrap_admin = \"always\"; };\n",
         {":3: management.bootstrap_admin: \"always\" is not one of \"off\", "
          "\"loopback\", \"any\""},
         1},
        {"replay_store unknown",
         LISTEN "security = { replay_store = \"redis\"; };\n",
         {":2: security.replay_store: \"redis\" is not one of \"memory\", "
          "\"mariadb\""},
         1},
        {"roles not strings",
         LISTEN ROUTE("roles = ( \"a\", \"\" );"),
         {":2: routes.[0].roles.[1]: must not be empty"},
         1},
        {"tls not a group",
         "listen = ( { address = \"127.0.0.1:1\"; tls = true; } );\n",
         {":1: listen.[0].tls: expected a group, got a boolean"},
         1},
        {"operation name malformed",
         LISTEN ROUTE("operations = ( { name = \"Echo\"; roles = (); },\n"
                      " { name = \"tns:Echo\"; roles = (); } );"),
         {":3: routes.[0].operations.[1].name: \"tns:Echo\" is neither "
          "\"{namespace}LocalName\" nor \"LocalName\""},
         1},
        {"operation duplicate",
         LISTEN ROUTE("operations = ( { name = \"{urn:a}Echo\"; roles = (); "
                      "},\n { name = \"{urn:a}Echo\"; roles = ( \"r\" ); "
                      "} );"),
         {":3: routes.[0].operations.[1].name: duplicate operation "
          "\"{urn:a}Echo\" (also operations.[0])"},
         1},
        {"operation without roles, unknown key, empty soap_action",
         LISTEN ROUTE("operations = (\n { name = \"Echo\"; },\n"
                      " { name = \"A\"; roles = (); rols = 1; },\n"
                      " { name = \"B\"; roles = (); soap_action = \"\"; } "
                      ");"),
         {":3: routes.[0].operations.[0].roles: missing required key",
          ":4: routes.[0].operations.[1].rols: unknown key",
          ":5: routes.[0].operations.[2].soap_action: must not be empty"},
         3},
        {"operations on a basic route, operations_only alone",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\"; "
                "upstream = ( \"http://127.0.0.1:9000/\" ); auth = "
                "\"basic\";\n operations = ( { name = \"E\"; roles = (); "
                "} ); },\n { name = \"b\"; path = \"/b\"; upstream = ( "
                "\"http://127.0.0.1:9000/\" );\n operations_only = true; "
                "} );\n",
         {":3: routes.[0].operations: needs a SOAP route",
          ":5: routes.[1].operations_only: true without operations"},
         2},
        {"decrypt: basic route, missing keys, caps, readable key",
         LISTEN "routes = ( { name = \"a\"; path = \"/a\"; "
                "upstream = ( \"http://127.0.0.1:9000/\" ); auth = "
                "\"basic\";\n decrypt = { key = \"k\"; cert = \"c\"; "
                "}; },\n { name = \"b\"; path = \"/b\"; upstream = ( "
                "\"http://127.0.0.1:9000/\" );\n decrypt = { "
                "max_encrypted_keys = 0; }; },\n { name = \"c\"; path = "
                "\"/c\"; upstream = ( \"http://127.0.0.1:9000/\" );\n "
                "decrypt = { key = \"wssgate.conf\"; cert = \"c\"; }; "
                "} );\n",
         {":3: routes.[0].decrypt: needs a SOAP route",
          ":5: routes.[1].decrypt.max_encrypted_keys: 0 is out of range",
          ":7: routes.[2].decrypt: "},
         5},
        {"signature block: unknown key, missing trust, bad names",
         LISTEN ROUTE("signature = { tust = \"ca.pem\";\n"
                      " parts = ( \"Body\", \"Envelope\" );\n"
                      " algorithms = ( \"rsa-md5\" ); };"),
         {":2: routes.[0].signature.tust: unknown key",
          ":3: routes.[0].signature.parts.[1]: \"Envelope\" is not",
          ":4: routes.[0].signature.algorithms.[0]: \"rsa-md5\" is not "
          "one of"},
         4},
        {"signature block: trust that does not load, basic route",
         LISTEN ROUTE("auth = \"basic\";\n signature = { trust = "
                      "\"nope.pem\"; max_references = 0; };"),
         {":3: routes.[0].signature.max_references: 0 is out of range",
          ":3: routes.[0].signature: needs a SOAP route"},
         2},
        {"signature required on a wsse_or_basic route",
         LISTEN ROUTE("auth = \"wsse_or_basic\";\n signature = { trust = "
                      "\"/dev/null\"; require = true; };"),
         {":3: routes.[0].signature: require = true cannot be met"},
         2},
        {"signature block: trust file unreadable",
         LISTEN ROUTE("signature = { trust = \"nope.pem\"; };"),
         {":2: routes.[0].signature: cannot load trusted CAs from "},
         1},
        {"ldap group without userstore.type = ldap",
         LISTEN "ldap = { " LDAP_MIN " };\n",
         {":2: ldap: applies only to userstore.type = \"ldap\""},
         1},
        {"userstore.type = ldap without the ldap group",
         LISTEN "userstore = { type = \"ldap\"; };\n",
         {": ldap: missing: userstore.type = \"ldap\" needs the ldap group"},
         1},
        {"userstore.type unknown",
         LISTEN "userstore = { type = \"ad\"; };\n",
         {":2: userstore.type: "},
         1},
        {"ldap: required keys",
         LISTEN LDAP_TYPE "ldap = { timeout = 0; };\n",
         {":2: ldap.uri: missing required key",
          ":2: ldap.user_base: missing required key",
          ":2: ldap.timeout: 0 is out of range"},
         4},
        {"ldap: not an LDAP URL",
         LISTEN LDAP_TYPE "ldap = { " LDAP_BASES " uri = \"http://x/\"; };\n",
         {":2: ldap.uri: \"http://x/\" is no LDAP URL"},
         1},
        {"ldap: plain ldap:// to a remote host",
         LISTEN LDAP_TYPE "ldap = { " LDAP_BASES
                          " uri = \"ldap://ldap.example.org/\"; };\n",
         {":2: ldap.uri: \"ldap://ldap.example.org/\" would send passwords "
          "in clear text"},
         1},
        {"ldap: starttls on ldaps://",
         LISTEN LDAP_TYPE "ldap = { " LDAP_BASES
                          " uri = \"ldaps://x/\"; starttls = true; };\n",
         {":2: ldap.starttls: applies only to an ldap:// uri"},
         1},
        {"ldap: ca_file without TLS",
         LISTEN LDAP_TYPE "ldap = { " LDAP_MIN " ca_file = \"/dev/null\"; };\n",
         {":2: ldap.ca_file: applies only to ldaps:// or starttls = true"},
         1},
        {"ldap: bind_dn without its password, unreadable files",
         LISTEN LDAP_TYPE "ldap = { " LDAP_BASES
                          " bind_dn = \"cn=gw\"; uri = \"ldaps://x/\";"
                          " ca_file = \"nope.pem\"; };\n",
         {":2: ldap.bind_dn: needs bind_password_file",
          ":2: ldap.ca_file: cannot read "},
         2},
        {"ldap: bind_password_file without bind_dn",
         LISTEN LDAP_TYPE "ldap = { " LDAP_MIN
                          " bind_password_file = \"/dev/null\"; };\n",
         {":2: ldap.bind_password_file: applies only with bind_dn"},
         1},
        {"ldap: filters",
         LISTEN LDAP_TYPE "ldap = { " LDAP_MIN
                          " user_filter = \"(uid=%s)(cn=%s)\";"
                          " group_filter = \"(member=%d)\"; };\n",
         {":2: ldap.user_filter: has unbalanced parentheses",
          ":2: ldap.group_filter: may hold no '%' but its one %s"},
         2},
        {"ldap: filter without %s",
         LISTEN LDAP_TYPE "ldap = { " LDAP_MIN
                          " user_filter = \"(&(uid=a)(cn=%s%s))\";"
                          " group_filter = \"(member=x)\"; };\n",
         {":2: ldap.user_filter: must contain %s exactly once",
          ":2: ldap.group_filter: must contain %s exactly once"},
         2},
        {"ldap: shared replay store without MariaDB",
         LISTEN LDAP_TYPE "ldap = { " LDAP_MIN " };\n"
                          "security = { replay_store = \"mariadb\"; };\n",
         {":3: security.replay_store: \"mariadb\" needs userstore.host"},
         1},
        {"ldap: shared lockout store without MariaDB",
         LISTEN LDAP_TYPE
         "ldap = { " LDAP_MIN " };\n"
         "security = { lockout = { store = \"mariadb\"; }; };\n",
         {":3: security.lockout.store: \"mariadb\" needs userstore.host, "
          "userstore.socket or userstore.hosts"},
         1},
        {"lockout store unknown",
         LISTEN "security = { lockout = { store = \"redis\"; }; };\n",
         {":2: security.lockout.store: \"redis\" is not one of \"memory\", "},
         1},
        {"ldap: certificate users",
         LISTEN LDAP_TYPE "ldap = { " LDAP_MIN " };\n" ROUTE(
                 "auth = \"x509\"; signature = { trust = \"/dev/null\"; };"),
         {":3: routes.[0].auth: \"x509\" and \"wsse_or_x509\" map "},
         2},
};

static void
check_errors(const struct tmp *t, const char *name, const char *text,
             const char *const *want, size_t n_want, size_t n_errors)
{
	char *path = write_file(t, "wssgate.conf", text, 0644);
	char *errors = NULL, *line;
	struct wsg_config *c = NULL;
	size_t i;

	assert_int_equal(wsg_config_load(path, &c, &errors), WSG_ERR_CONFIG);
	assert_null(c);
	assert_non_null(errors);
	for (i = 0; i < n_want && want[i] != NULL; i++) {
		line = wsg_mem_printf("%s%s", path, want[i]);
		if (strstr(errors, line) == NULL)
			fail_msg("%s: expected \"%s\" in:\n%s", name, line,
			         errors);
		free(line);
	}
	if (count_lines(errors) != n_errors)
		fail_msg("%s: expected %zu errors, got:\n%s", name, n_errors,
		         errors);
	free(errors);
	free(path);
}

static void
test_errors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		check_errors(*state, error_cases[i].name, error_cases[i].text,
		             error_cases[i].want, 3, error_cases[i].n_errors);
}

static void
test_many_errors(void **state)
{
	static const char text[] =
	        "listen = ( { address = \"127.0.0.1\"; } );\n"
	        "bogus = 1;\n"
	        "userstore = { pool_size = 0;\n"
	        "  port = \"x\"; };\n"
	        "management = { bootstrap_admin = \"maybe\"; };\n"
	        "routes = ( { name = \"a\"; path = \"/a\"; upstream = ( "
	        "\"gopher://h\" );\n"
	        "  password_types = (); timeout = 9999; } );\n";
	static const char *const want[] = {
	        ":1: listen.[0].address: ",
	        ":2: bogus: unknown key",
	        ":3: userstore.pool_size: 0 is out of range (1..64)",
	        ":4: userstore.port: expected an integer, got a string",
	        ":5: management.bootstrap_admin: \"maybe\" is not one of",
	        ":6: routes.[0].upstream.[0]: \"gopher://h\": expected a URL",
	        ":7: routes.[0].password_types: must not be empty",
	        ":7: routes.[0].timeout: 9999 is out of range (1..3600)",
	};

	check_errors(*state, "many errors", text, want,
	             sizeof(want) / sizeof(want[0]),
	             sizeof(want) / sizeof(want[0]));
}

static void
test_missing_file(void **state)
{
	struct tmp *t = *state;
	char *path = wsg_mem_printf("%s/nope.conf", t->dir);
	char *errors = NULL, *want;
	struct wsg_config *c = NULL;

	assert_int_equal(wsg_config_load(path, &c, &errors), WSG_ERR_CONFIG);
	assert_null(c);
	want = wsg_mem_printf("%s: cannot open: No such file or directory\n",
	                      path);
	assert_string_equal(errors, want);
	free(want);
	free(errors);
	free(path);
}

/* An included file is read relative to the config folder and named in errors.
 */
static void
test_include(void **state)
{
	struct tmp *t = *state;
	char *sub = write_file(t, "routes.inc", ROUTE("\n bad = 1;"), 0644);
	char *path = write_file(t, "c.conf", LISTEN "@include \"routes.inc\"\n",
	                        0644);
	char *errors = NULL, *want;
	struct wsg_config *c = NULL;

	assert_int_equal(wsg_config_load(path, &c, &errors), WSG_ERR_CONFIG);
	want = wsg_mem_printf("%s:2: routes.[0].bad: unknown key\n", sub);
	assert_string_equal(errors, want);
	free(want);
	free(errors);
	free(path);
	free(sub);
}

/*
 * libconfig 1.5 exits the process when an @include opens something it
 * cannot read (fuzz_config: `@include ""` names the config folder), which
 * on SIGHUP would stop a running gateway: refused first, nested ones too,
 * and so is a file that cannot be read to its end.
 */
static void
test_include_unreadable(void **state)
{
	struct tmp *t = *state;
	static const char *const cases[][2] = {
	        {"@include \"\"\n", "@include \"\": not a regular file"},
	        {"@include \"d\"\n", "@include \"d\": not a regular file"},
	        {"@include \"d\\\\\"\n",
	         "@include \"d\\\": not a regular file"},
	        {"  @include\t\"\\d\"\n", "@include \"d\": not a regular file"},
	};
	char *dir = wsg_mem_printf("%s/d", t->dir), *path, *errors, *want;
	char *nested, *esc;
	struct wsg_config *c = NULL;
	size_t i;

	assert_int_equal(mkdir(dir, 0755), 0);
	esc = wsg_mem_printf("%s/d\\", t->dir);
	assert_int_equal(mkdir(esc, 0755), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errors = NULL;
		path = write_file(t, "c.conf", cases[i][0], 0644);
		assert_int_equal(wsg_config_load(path, &c, &errors),
		                 WSG_ERR_CONFIG);
		assert_null(c);
		want = wsg_mem_printf("%s:1: %s\n", path, cases[i][1]);
		assert_string_equal(errors, want);
		free(want);
		free(errors);
		free(path);
	}
	/* An included file's own @include. */
	nested = write_file(t, "n.inc", "\n@include \"d\"\n", 0644);
	path = write_file(t, "c.conf", LISTEN "@include \"n.inc\"\n", 0644);
	errors = NULL;
	assert_int_equal(wsg_config_load(path, &c, &errors), WSG_ERR_CONFIG);
	want = wsg_mem_printf("%s:2: @include \"d\": not a regular file\n",
	                      nested);
	assert_string_equal(errors, want);
	free(want);
	free(errors);
	free(path);
	/* Regular, but reading it fails. */
	errors = NULL;
	assert_int_equal(wsg_config_load("/proc/self/mem", &c, &errors),
	                 WSG_ERR_CONFIG);
	assert_string_equal(errors,
	                    "/proc/self/mem: cannot be read to its end\n");
	free(errors);
	free(nested);
	free(esc);
	free(dir);
}

static void *
ref_unref_cb(void *arg)
{
	struct wsg_config *c = arg;
	int i;

	for (i = 0; i < 10000; i++)
		wsg_config_unref(wsg_config_ref(c));
	return NULL;
}

static void
test_refcount(void **state)
{
	struct tmp *t = *state;
	char *path = write_file(t, "c.conf", LISTEN ROUTE(""), 0644);
	struct wsg_config *c = NULL;
	pthread_t th[4];
	int i;

	assert_int_equal(wsg_config_load(path, &c, NULL), WSG_OK);
	assert_int_equal(c->refs, 1);
	assert_ptr_equal(wsg_config_ref(c), c);
	assert_int_equal(c->refs, 2);
	wsg_config_unref(c);
	assert_int_equal(c->refs, 1);
	/* Still usable with one reference left; LSan checks the final free. */
	assert_string_equal(c->routes[0].name, "a");
	/* Concurrent ref/unref pairs leave the count where it was. */
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, ref_unref_cb, c),
		                 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(c->refs, 1);
	wsg_config_unref(c);
	wsg_config_unref(NULL);
	free(path);
}

/* ---- reload ---- */

static struct wsg_config *
load_text(struct tmp *t, const char *name, const char *text)
{
	char *path = write_file(t, name, text, 0644), *errors = NULL;
	struct wsg_config *c = NULL;

	if (wsg_config_load(path, &c, &errors) != WSG_OK)
		fail_msg("%s rejected:\n%s", name, errors);
	free(path);
	return c;
}

static void
test_restart_keys(void **state)
{
	struct tmp *t = *state;
	struct wsg_config *a, *same, *reloadable, *restart;
	char buf[512], small[24];

	a = load_text(t, "a.conf",
	              LISTEN "workers = 2;\n"
	                     "userstore = { pool_size = 4; };\n" ROUTE(""));
	same = load_text(t, "same.conf",
	                 LISTEN "workers = 2;\n"
	                        "userstore = { pool_size = 4; };\n" ROUTE(""));
	assert_int_equal(wsg_config_restart_keys(a, same, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* Routes, limits and the token checks change without a restart. */
	reloadable = load_text(
	        t, "reloadable.conf",
	        LISTEN "workers = 2;\n"
	               "userstore = { pool_size = 4; };\n"
	               "security = { created_ttl = 10; strict_bsp = true;"
	               " lockout = { max_failures = 1; duration = 9; };"
	               " client_limit = { max_failures = 0; };"
	               " verify_queue = { max_per_client = 1; }; };\n"
	               "limits = { max_body_size = 2048; request_timeout = 5; "
	               "max_connections = 7; };\n"
	               "upstream_tls = { ca_file = \"/etc/ca.pem\"; };\n"
	               "routes = ( { name = \"z\"; path = \"/z\";"
	               " upstream = ( \"http://h:9/\" ); } );\n");
	assert_int_equal(
	        wsg_config_restart_keys(a, reloadable, buf, sizeof(buf)), 0);
	restart = load_text(
	        t, "restart.conf",
	        "listen = ( { address = \"127.0.0.1:8281\"; } );\n"
	        "workers = 3;\n"
	        "management = { token_ttl = 60; };\n"
	        "userstore = { pool_size = 5; socket = \"/tmp/s.sock\"; };\n"
	        "security = { nonce_cache_max = 5000; lockout = { window = 1; "
	        "max_entries = 2000; }; };\n"
	        "log = { audit_log = \"audit.log\"; ring_size = 5; };\n" ROUTE(
	                ""));
	assert_int_equal(wsg_config_restart_keys(a, restart, buf, sizeof(buf)),
	                 9);
	assert_string_equal(buf, "listen, workers, management.token_ttl, "
	                         "userstore.socket, userstore.pool_size, "
	                         "security.nonce_cache_max, "
	                         "security.lockout.max_entries, log.audit_log, "
	                         "log.ring_size");
	/* A short buffer keeps the start and the count stays right. */
	assert_int_equal(
	        wsg_config_restart_keys(a, restart, small, sizeof(small)), 9);
	assert_string_equal(small, "listen, workers, manage");
	wsg_config_unref(a);
	wsg_config_unref(same);
	wsg_config_unref(reloadable);
	wsg_config_unref(restart);
}

/* ---- keyfile ---- */

static char *
read_all(const char *path)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return wsg_mem_strdup(buf);
}

static void
test_keyfile_create(void **state)
{
	struct tmp *t = *state;
	char *path = wsg_mem_printf("%s/var/keys/master.key", t->dir);
	char *dir = wsg_mem_printf("%s/var/keys", t->dir);
	char *first, *second;
	unsigned char key[32], again[32];
	struct wsg_error err;
	struct stat st;
	int created = -1;
	size_t i;

	wsg_error_clear(&err);
	assert_int_equal(wsg_keyfile_create(path, 32, &created, &err), WSG_OK);
	assert_int_equal(created, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	first = read_all(path);
	assert_int_equal(strlen(first), 65);
	assert_int_equal(first[64], '\n');
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", first[i]));

	/* A second call leaves the existing key alone. */
	assert_int_equal(wsg_keyfile_create(path, 32, &created, &err), WSG_OK);
	assert_int_equal(created, 0);
	second = read_all(path);
	assert_string_equal(first, second);

	assert_int_equal(wsg_keyfile_load(path, key, sizeof(key), &err),
	                 WSG_OK);
	for (i = 0; i < sizeof(key); i++) {
		unsigned v;

		assert_int_equal(sscanf(first + 2 * i, "%2x", &v), 1);
		assert_int_equal(key[i], v);
	}
	/* Two fresh keys differ. */
	free(path);
	path = wsg_mem_printf("%s/other.key", t->dir);
	assert_int_equal(wsg_keyfile_create(path, 32, NULL, &err), WSG_OK);
	assert_int_equal(wsg_keyfile_load(path, again, sizeof(again), &err),
	                 WSG_OK);
	assert_memory_not_equal(key, again, sizeof(key));
	assert_int_equal(wsg_keyfile_create(path, 0, NULL, &err),
	                 WSG_ERR_INVAL);
	free(first);
	free(second);
	free(dir);
	free(path);
}

static void
test_keyfile_load_errors(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		mode_t mode;
		int rc;
		const char *reason;
	} cases[] = {
	        {"ok", "000102030405060708090a0b0c0d0e0F\n", 0600, WSG_OK, ""},
	        {"ok without newline", "000102030405060708090a0b0c0d0e0f", 0400,
	         WSG_OK, ""},
	        {"group readable", "000102030405060708090a0b0c0d0e0f\n", 0640,
	         WSG_ERR_PERM, "group or others"},
	        {"world readable", "000102030405060708090a0b0c0d0e0f\n", 0604,
	         WSG_ERR_PERM, "chmod 600"},
	        {"too short", "000102030405060708090a0b0c0d0e\n", 0600,
	         WSG_ERR_PARSE, "16-byte key"},
	        {"too long", "000102030405060708090a0b0c0d0e0f00\n", 0600,
	         WSG_ERR_PARSE, "32 hex digits"},
	        {"two newlines", "000102030405060708090a0b0c0d0e0f\n\n", 0600,
	         WSG_ERR_PARSE, "hex digits"},
	        {"not hex", "00010203040506070809xa0b0c0d0e0f\n", 0600,
	         WSG_ERR_PARSE, "hex digits"},
	};
	struct tmp *t = *state;
	unsigned char key[16];
	struct wsg_error err;
	char *path;
	size_t i, j;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path = write_file(t, "k", cases[i].text, cases[i].mode);
		wsg_error_clear(&err);
		memset(key, 0xaa, sizeof(key));
		rc = wsg_keyfile_load(path, key, sizeof(key), &err);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", cases[i].name, rc,
			         cases[i].rc, err.reason);
		assert_non_null(strstr(err.reason, cases[i].reason));
		for (j = 0; j < sizeof(key); j++)
			assert_int_equal(key[j], rc == WSG_OK ? j : 0);
		assert_int_equal(unlink(path), 0);
		free(path);
	}
	path = wsg_mem_printf("%s/missing.key", t->dir);
	assert_int_equal(wsg_keyfile_load(path, key, sizeof(key), &err),
	                 WSG_ERR_IO);
	assert_non_null(strstr(err.reason, "No such file"));
	free(path);
	/* A 0600 key of another user: that user could have swapped it. */
	if (geteuid() == 0) {
		path = write_file(t, "k", cases[0].text, 0600);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(wsg_keyfile_load(path, key, sizeof(key), &err),
		                 WSG_ERR_PERM);
		assert_non_null(strstr(err.reason, "owned by uid 65534"));
		assert_int_equal(wsg_keyfile_check(path, &err), WSG_ERR_PERM);
		assert_int_equal(chown(path, 0, 0), 0);
		assert_int_equal(wsg_keyfile_check(path, &err), WSG_OK);
		assert_int_equal(unlink(path), 0);
		free(path);
	}
}

static void
test_keyfile_read_secret(void **state)
{
	static const struct {
		const char *text;
		mode_t mode;
		int rc;
		const char *want;
	} cases[] = {
	        {"s3cret\n", 0600, WSG_OK, "s3cret"},
	        {"s3cret", 0600, WSG_OK, "s3cret"},
	        {"first line\r\nsecond\n", 0400, WSG_OK, "first line"},
	        {"\n", 0600, WSG_OK, ""},
	        {"s3cret\n", 0644, WSG_ERR_PERM, NULL},
	        {"s3cret\n", 0620, WSG_ERR_PERM, NULL},
	};
	struct tmp *t = *state;
	struct wsg_error err;
	char *path, *secret;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path = write_file(t, "db.pass", cases[i].text, cases[i].mode);
		secret = (char *)1;
		len = 99;
		assert_int_equal(
		        wsg_keyfile_read_secret(path, &secret, &len, &err),
		        cases[i].rc);
		if (cases[i].want == NULL) {
			assert_null(secret);
			assert_int_equal(len, 0);
		} else {
			assert_string_equal(secret, cases[i].want);
			assert_int_equal(len, strlen(cases[i].want));
		}
		if (secret != NULL)
			wsg_mem_free_secret(secret, len);
		assert_int_equal(unlink(path), 0);
		free(path);
	}
	path = wsg_mem_printf("%s/none", t->dir);
	assert_int_equal(wsg_keyfile_read_secret(path, &secret, NULL, &err),
	                 WSG_ERR_IO);
	assert_null(secret);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_example_config),
	        cmocka_unit_test(test_example_lists_every_key),
	        cmocka_unit_test_setup_teardown(test_defaults, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_route_defaults, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_route_signature, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_route_operations,
	                                        tmp_setup, tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_explicit_values, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_relative_paths, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_ldap_values, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_errors, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_many_errors, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_missing_file, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_include_unreadable,
	                                        tmp_setup, tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_include, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_refcount, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_restart_keys, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_keyfile_create, tmp_setup,
	                                        tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_keyfile_load_errors,
	                                        tmp_setup, tmp_teardown),
	        cmocka_unit_test_setup_teardown(test_keyfile_read_secret,
	                                        tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
