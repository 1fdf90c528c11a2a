#include "cli.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "err.h"
#include "keyfile.h"
#include "ldap_dir.h"
#include "mem.h"
#include "password.h"
#include "paths.h"
#include "prompt.h"
#include "token.h"
#include "lockout_store.h"
#include "unlock.h"
#include "usercert.h"
#include "userstore.h"

#define MAX_ROLES 64
#define JWT_KEY_LEN 32

int
wsg_cli_db_params(const struct wsg_config *cfg, struct wsg_db_params *params,
                  char **password, struct wsg_error *err)
{
	const struct wsg_userstore_conf *us = &cfg->userstore;
	size_t len;
	int rc;

	*password = NULL;
	memset(params, 0, sizeof(*params));
	if (us->password_file != NULL) {
		rc = wsg_keyfile_read_secret(us->password_file, password, &len,
		                             err);
		if (rc != WSG_OK)
			return rc;
	}
	params->host = us->host;
	params->port = us->port;
	params->socket = us->socket;
	params->hosts = us->hosts;
	params->n_hosts = us->n_hosts;
	params->user = us->user;
	params->password = *password;
	params->database = us->database;
	params->connect_timeout = (unsigned)us->connect_timeout;
	params->query_timeout = (unsigned)us->query_timeout;
	params->max_waiting = us->max_waiting;
	return WSG_OK;
}

/*
 * A new password for `user`: typed twice without echo when `in` is a
 * terminal, else one line of `in` (a pipe, a file). Empty or over
 * WSG_PROMPT_MAX bytes is refused.
 */
static int
read_password(FILE *in, const char *user, char **out, size_t *out_len,
              struct wsg_error *err)
{
	char *prompt;
	int rc;

	*out_len = 0;
	if (isatty(fileno(in))) {
		prompt = wsg_mem_printf("New password for %s: ", user);
		rc = wsg_prompt_new_password(0, "password", prompt, out, err);
		free(prompt);
	} else {
		rc = wsg_prompt_fd_line(fileno(in), "password", out, err);
		if (rc == WSG_OK && (*out)[0] == '\0') {
			wsg_prompt_free(*out);
			*out = NULL;
			rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                   "the password is empty");
		}
	}
	if (rc == WSG_OK)
		*out_len = strlen(*out);
	return rc;
}

/* Hash always; seal the clear password too unless the user is text-only. */
static int
make_secrets(const struct wsg_config *cfg, const char *user, const char *pw,
             size_t len, int digest, char **hash, unsigned char **sealed,
             size_t *sealed_len, struct wsg_error *err)
{
	unsigned char key[WSG_PASSWORD_KEY_LEN];
	int rc;

	*hash = NULL;
	*sealed = NULL;
	*sealed_len = 0;
	if (digest) {
		rc = wsg_keyfile_load(cfg->userstore.master_key_file, key,
		                      sizeof(key), err);
		if (rc != WSG_OK)
			return rc;
		rc = wsg_password_seal(key, user, pw, len, sealed, sealed_len);
		OPENSSL_cleanse(key, sizeof(key));
		if (rc != WSG_OK)
			return wsg_error_set(err, rc, WSG_FAULT_NONE,
			                     "cannot seal the password");
	}
	rc = wsg_password_hash(pw, len, hash);
	if (rc != WSG_OK) {
		free(*sealed);
		*sealed = NULL;
		return wsg_error_set(err, rc, WSG_FAULT_NONE,
		                     "cannot hash the password");
	}
	return WSG_OK;
}

static int
cmd_db_init(const struct wsg_config *cfg, struct wsg_db_conn *c,
            struct wsg_error *err)
{
	char *schema = wsg_paths_find(WSG_PATHS_SCHEMA,
	                              cfg->userstore.schema_file, NULL);
	int rc, created;

	rc = wsg_userstore_init_schema(c, schema, err);
	free(schema);
	/* A store that has an admin never bootstraps another one. */
	if (rc == WSG_OK)
		rc = wsg_userstore_close_bootstrap_if_admin(
		        c, cfg->management.admin_role, err);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_keyfile_create(cfg->userstore.master_key_file,
	                        WSG_PASSWORD_KEY_LEN, &created, err);
	if (rc != WSG_OK)
		return rc;
	if (created)
		printf("created master key %s\n",
		       cfg->userstore.master_key_file);
	rc = wsg_keyfile_create(cfg->management.jwt_secret_file, JWT_KEY_LEN,
	                        &created, err);
	if (rc != WSG_OK)
		return rc;
	if (created)
		printf("created JWT secret %s\n",
		       cfg->management.jwt_secret_file);
	printf("schema ready in database %s\n", cfg->userstore.database);
	return WSG_OK;
}

static int
cmd_user_add(const struct wsg_config *cfg, struct wsg_db_conn *c, int argc,
             char **argv, FILE *in, struct wsg_error *err)
{
	const char *roles[MAX_ROLES];
	struct wsg_accounts_user u = {.name = argv[0], .roles = roles};
	struct wsg_accounts_result res;
	size_t pwlen = 0, sealed_len = 0;
	unsigned char *sealed = NULL;
	char *pw = NULL, *hash = NULL;
	int i, digest = 1, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--admin") == 0) {
			u.admin = 1;
		} else if (strcmp(argv[i], "--no-digest") == 0) {
			digest = 0;
		} else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc &&
		           u.nroles < MAX_ROLES) {
			roles[u.nroles++] = argv[++i];
		} else {
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "unexpected argument %s", argv[i]);
		}
	}
	rc = read_password(in, argv[0], &pw, &pwlen, err);
	if (rc != WSG_OK)
		return rc;
	rc = make_secrets(cfg, argv[0], pw, pwlen, digest, &hash, &sealed,
	                  &sealed_len, err);
	u.password_hash = hash;
	u.sealed = sealed;
	u.sealed_len = sealed_len;
	if (rc == WSG_OK)
		rc = wsg_accounts_add_user(c, cfg->management.admin_role, NULL,
		                           &u, &res, err);
	if (rc == WSG_OK)
		printf("added user %s\n", argv[0]);
	wsg_prompt_free(pw);
	free(hash);
	free(sealed);
	return rc;
}

static int
cmd_user_passwd(const struct wsg_config *cfg, struct wsg_db_conn *c, int argc,
                char **argv, FILE *in, struct wsg_error *err)
{
	struct wsg_accounts_result res;
	size_t pwlen = 0, sealed_len = 0;
	unsigned char *sealed = NULL;
	char *pw = NULL, *hash = NULL;
	int digest = 1, rc;

	if (argc == 2 && strcmp(argv[1], "--no-digest") == 0)
		digest = 0;
	else if (argc != 1)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "usage: user passwd NAME [--no-digest]");
	rc = read_password(in, argv[0], &pw, &pwlen, err);
	if (rc != WSG_OK)
		return rc;
	rc = make_secrets(cfg, argv[0], pw, pwlen, digest, &hash, &sealed,
	                  &sealed_len, err);
	if (rc == WSG_OK)
		rc = wsg_accounts_set_password(c, cfg->management.admin_role,
		                               NULL, argv[0], NULL, hash,
		                               sealed, sealed_len,
		                               wsg_token_now_us(), &res, err);
	if (rc == WSG_OK)
		printf("changed the password of %s\n", argv[0]);
	wsg_prompt_free(pw);
	free(hash);
	free(sealed);
	return rc;
}

/* `role grant` / `role revoke`: the operator is told when a revoke finds
 * no such membership. */
static int
cmd_role_change(const char *admin_role, struct wsg_db_conn *c, const char *user,
                const char *role, int grant, struct wsg_error *err)
{
	const char *const roles[1] = {role};
	struct wsg_accounts_result res;
	int rc;

	rc = wsg_accounts_change_roles(c, admin_role, NULL, user, roles,
	                               grant ? 1 : 0, roles, grant ? 0 : 1,
	                               &res, err);
	if (rc == WSG_OK && !grant && res.revoked == 0)
		rc = wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_CLIENT,
		                   "user '%s' does not hold role '%s'", user,
		                   role);
	return rc;
}

static int
cmd_user_list(const struct wsg_config *cfg, struct wsg_db_conn *c,
              struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	size_t i;
	int rc;

	rc = wsg_userstore_list_users(c, &res, err);
	if (rc != WSG_OK)
		return rc;
	for (i = 0; i < res->nrows; i++) {
		const char *name = res->cells[i * res->ncols];
		const char *roles = res->cells[i * res->ncols + 1];
		int admin = wsg_userstore_roles_have(
		        roles, cfg->management.admin_role);

		printf("%s\t%s\t%s\n", name, roles ? roles : "",
		       admin ? "admin" : "-");
	}
	wsg_db_result_free(res);
	return WSG_OK;
}

/* Locks live in the running gateways: they apply the request (unlock.h).
 * The shared lockout store's rows (both planes) go at once. */
static int
cmd_user_unlock(const struct wsg_config *cfg, struct wsg_db_conn *c,
                const char *user, struct wsg_error *err)
{
	int rc = wsg_unlock_request(c, user, err);

	if (rc == WSG_OK && cfg->security.lockout.shared)
		rc = wsg_lockout_store_unlock(c, user, strlen(user),
		                              wsg_lockout_store_now_ms(), NULL,
		                              err);
	if (rc == WSG_OK)
		printf("unlock of '%s' recorded: every running gateway of this "
		       "store ends its locks at its next attempt (management "
		       "login at once, data plane within userstore.cache_ttl)"
		       "\n",
		       user);
	return rc;
}

/* The PEM file of `user cert add`, at most WSG_USERCERT_MAX_PEM bytes. */
static int
read_pem(const char *path, char **out, size_t *len, struct wsg_error *err)
{
	FILE *f = fopen(path, "r");
	int rc = WSG_OK;

	*out = NULL;
	*len = 0;
	if (f == NULL)
		return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE, "%s: %s",
		                     path, strerror(errno));
	*out = wsg_mem_alloc(WSG_USERCERT_MAX_PEM + 1);
	*len = fread(*out, 1, WSG_USERCERT_MAX_PEM + 1, f);
	if (ferror(f))
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "%s: read error", path);
	else if (*len > WSG_USERCERT_MAX_PEM)
		rc = wsg_error_set(err, WSG_ERR_LIMIT, WSG_FAULT_NONE,
		                   "%s: larger than %d bytes", path,
		                   WSG_USERCERT_MAX_PEM);
	fclose(f);
	if (rc != WSG_OK) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return rc;
}

static int
cmd_cert_add(const char *admin_role, struct wsg_db_conn *c, const char *user,
             const char *path, struct wsg_error *err)
{
	struct wsg_accounts_result res;
	struct wsg_usercert cert;
	char *pem = NULL;
	size_t len;
	int rc;

	rc = read_pem(path, &pem, &len, err);
	if (rc == WSG_OK) {
		rc = wsg_usercert_parse(pem, len, (int64_t)time(NULL), &cert,
		                        err);
		if (rc != WSG_OK) {
			/* Name the file in front of the reason. */
			char *msg = wsg_mem_printf("%s: %s", path, err->reason);

			wsg_error_set(err, rc, WSG_FAULT_NONE, "%s", msg);
			free(msg);
		}
	}
	if (rc == WSG_OK)
		rc = wsg_accounts_add_cert(c, admin_role, NULL, user, &cert,
		                           &res, err);
	if (rc == WSG_OK)
		printf("added certificate %s to user %s\n", cert.fingerprint,
		       user);
	free(pem);
	return rc;
}

static int
cmd_cert_del(const char *admin_role, struct wsg_db_conn *c, const char *user,
             const char *fingerprint, struct wsg_error *err)
{
	char fp[WSG_USERCERT_FP_LEN + 1];
	struct wsg_accounts_result res;
	int rc;

	rc = wsg_usercert_fingerprint(fingerprint, fp, err);
	if (rc == WSG_OK)
		rc = wsg_accounts_delete_cert(c, admin_role, NULL, user, fp,
		                              &res, err);
	if (rc == WSG_OK)
		printf("deleted certificate %s of user %s\n", fp, user);
	return rc;
}

/* One line per certificate: fingerprint, subject, issuer, not-after. */
static int
cmd_cert_list(struct wsg_db_conn *c, const char *user, struct wsg_error *err)
{
	struct wsg_user_record *rec = NULL;
	struct wsg_db_result *res = NULL;
	char when[32];
	size_t i;
	int rc;

	rc = wsg_userstore_check_name("username", user, 0, err);
	if (rc == WSG_OK)
		rc = wsg_userstore_get(c, user, &rec, err);
	if (rc == WSG_ERR_NOTFOUND)
		rc = wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_NONE,
		                   "no user '%s'", user);
	if (rc == WSG_OK)
		rc = wsg_userstore_list_certs(c, rec->id, &res, err);
	for (i = 0; rc == WSG_OK && i < res->nrows; i++) {
		char *const *cell = res->cells + i * res->ncols;

		wsg_usercert_time(strtoll(cell[4], NULL, 10), when);
		printf("%s\t%s\t%s\t%s\n", cell[0], cell[1], cell[2], when);
	}
	wsg_db_result_free(res);
	wsg_userstore_record_free(rec);
	return rc;
}

/* `user cert add|del|list ...`: argv[0] is add, del or list. */
static int
cmd_user_cert(const char *admin_role, struct wsg_db_conn *c, int argc,
              char **argv, struct wsg_error *err)
{
	if (argc == 3 && strcmp(argv[0], "add") == 0)
		return cmd_cert_add(admin_role, c, argv[1], argv[2], err);
	if (argc == 3 && strcmp(argv[0], "del") == 0)
		return cmd_cert_del(admin_role, c, argv[1], argv[2], err);
	if (argc == 2 && strcmp(argv[0], "list") == 0)
		return cmd_cert_list(c, argv[1], err);
	return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
	                     "usage: user cert add NAME FILE.pem | "
	                     "user cert del NAME FINGERPRINT | "
	                     "user cert list NAME");
}

static int
usage(void)
{
	fprintf(stderr, "wssgate: unknown verb; see wssgate --help\n");
	return 2;
}

/* Every verb that changes the store says what it did, as `user add` does. */
static int said(int rc, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
said(int rc, const char *fmt, ...)
{
	va_list ap;

	if (rc == WSG_OK) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int
dispatch(const struct wsg_config *cfg, struct wsg_db_conn *c, int argc,
         char **argv, FILE *in, struct wsg_error *err)
{
	const char *noun = argv[0], *verb = argc > 1 ? argv[1] : "";
	const char *admin_role = cfg->management.admin_role;
	struct wsg_accounts_result res;

	if (strcmp(noun, "db") == 0 && strcmp(verb, "init") == 0 && argc == 2)
		return cmd_db_init(cfg, c, err);
	if (strcmp(noun, "user") == 0) {
		if (strcmp(verb, "list") == 0 && argc == 2)
			return cmd_user_list(cfg, c, err);
		if (argc < 3)
			return WSG_ERR_INVAL;
		if (strcmp(verb, "add") == 0)
			return cmd_user_add(cfg, c, argc - 2, argv + 2, in,
			                    err);
		if (strcmp(verb, "passwd") == 0)
			return cmd_user_passwd(cfg, c, argc - 2, argv + 2, in,
			                       err);
		if (strcmp(verb, "del") == 0 && argc == 3)
			return said(wsg_accounts_delete_user(c, admin_role,
			                                     NULL, argv[2],
			                                     &res, err),
			            "deleted user %s\n", argv[2]);
		if (strcmp(verb, "unlock") == 0 && argc == 3)
			return cmd_user_unlock(cfg, c, argv[2], err);
		if (strcmp(verb, "cert") == 0)
			return cmd_user_cert(admin_role, c, argc - 2, argv + 2,
			                     err);
	}
	if (strcmp(noun, "role") == 0) {
		if (strcmp(verb, "add") == 0 && argc == 3)
			return said(wsg_accounts_add_role(c, admin_role, NULL,
			                                  argv[2], &res, err),
			            "added role %s\n", argv[2]);
		if (strcmp(verb, "grant") == 0 && argc == 4)
			return said(cmd_role_change(admin_role, c, argv[2],
			                            argv[3], 1, err),
			            "granted role %2$s to %1$s\n", argv[2],
			            argv[3]);
		if (strcmp(verb, "revoke") == 0 && argc == 4)
			return said(cmd_role_change(admin_role, c, argv[2],
			                            argv[3], 0, err),
			            "revoked role %2$s from %1$s\n", argv[2],
			            argv[3]);
	}
	return WSG_ERR_INVAL;
}

static int
known_verb(int argc, char **argv)
{
	static const char *const verbs[][2] = {
	        {"db", "init"},   {"user", "add"},    {"user", "del"},
	        {"user", "list"}, {"user", "passwd"}, {"user", "unlock"},
	        {"role", "add"},  {"role", "grant"},  {"role", "revoke"},
	        {"user", "cert"},
	};
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (argc >= 2 && strcmp(argv[0], verbs[i][0]) == 0 &&
		    strcmp(argv[1], verbs[i][1]) == 0)
			return 1;
	return 0;
}

/* `user list` with userstore.type "ldap": the directory's users, with
 * their roles and whether ldap.admin_group makes them admins. */
static int
cmd_ldap_user_list(const struct wsg_config *cfg, struct wsg_error *err)
{
	const char *group = cfg->ldap.admin_group;
	struct wsg_ldap_names l = {NULL, 0};
	struct wsg_user_record *rec = NULL;
	struct wsg_ldap_dir *d = NULL;
	size_t i;
	int rc;

	rc = wsg_ldap_dir_open(&cfg->ldap, cfg->management.admin_role, &d, err);
	if (rc == WSG_OK)
		rc = wsg_ldap_dir_list_users(d, NULL, NULL, NULL, &l, err);
	for (i = 0; rc == WSG_OK && i < l.n; i++) {
		rc = wsg_ldap_dir_find_user(d, l.names[i], &rec, NULL, err);
		/* Gone (or ambiguous) since the listing: not listed. */
		if (rc == WSG_ERR_NOTFOUND) {
			rc = WSG_OK;
			continue;
		}
		if (rc != WSG_OK)
			break;
		printf("%s\t%s\t%s\n", rec->username, rec->roles,
		       group != NULL && wsg_userstore_roles_have(rec->roles,
		                                                 group)
		               ? "admin"
		               : "-");
		wsg_userstore_record_free(rec);
		rec = NULL;
	}
	wsg_ldap_dir_names_free(&l);
	wsg_ldap_dir_close(d);
	return rc;
}

/*
 * With userstore.type "ldap" the directory holds the users and roles and
 * wssgate only reads it: `user list` reads it, every other user and role
 * verb is refused (exit 1), and `db init` needs MariaDB configured (for
 * the replay store and the token revocation list). Returns -1 when the
 * verb goes on as usual, else the exit status.
 */
static int
ldap_verb(const struct wsg_config *cfg, int argc, char **argv)
{
	struct wsg_error err;

	wsg_error_clear(&err);
	if (strcmp(argv[0], "db") == 0) {
		if (cfg->userstore.mariadb)
			return -1;
		fprintf(stderr,
		        "wssgate: db init: no MariaDB is configured (set "
		        "userstore.host or userstore.socket to keep the "
		        "replay store and token revocations in MariaDB)\n");
		return 1;
	}
	if (strcmp(argv[1], "list") == 0 && strcmp(argv[0], "user") == 0) {
		if (argc == 2 && cmd_ldap_user_list(cfg, &err) == WSG_OK)
			return 0;
		fprintf(stderr, "wssgate: %s\n",
		        argc != 2 ? "usage: user list" : err.reason);
		return 1;
	}
	if (strcmp(argv[1], "unlock") == 0) {
		fprintf(stderr,
		        "wssgate: user unlock: with userstore.type = \"ldap\" "
		        "locks are ended through the management API "
		        "(wssgatectl "
		        "or POST /management/users/NAME/unlock) or end by "
		        "themselves\n");
		return 1;
	}
	fprintf(stderr,
	        "wssgate: %s %s: the user store is read-only "
	        "(userstore.type = \"ldap\"): change users, roles and "
	        "passwords in the directory (%s)\n",
	        argv[0], argv[1], cfg->ldap.uri);
	return 1;
}

int
wsg_cli_run(const struct wsg_config *cfg, int argc, char **argv, FILE *in)
{
	struct wsg_db_params params;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	char *password = NULL;
	int rc;

	wsg_error_clear(&err);
	if (!known_verb(argc, argv))
		return usage();
	if (cfg->userstore.ldap && (rc = ldap_verb(cfg, argc, argv)) >= 0)
		return rc;
	rc = wsg_cli_db_params(cfg, &params, &password, &err);
	if (rc == WSG_OK)
		rc = wsg_db_connect(&params, &c, &err);
	if (rc == WSG_OK)
		rc = dispatch(cfg, c, argc, argv, in, &err);
	wsg_db_close(c);
	if (password != NULL)
		wsg_mem_free_secret(password, strlen(password));
	if (rc == WSG_OK)
		return 0;
	if (err.reason[0] == '\0')
		snprintf(err.reason, sizeof(err.reason), "%s: %s",
		         rc == WSG_ERR_INVAL ? "bad arguments" : "failed",
		         wsg_strerror(rc));
	fprintf(stderr, "wssgate: %s\n", err.reason);
	return 1;
}
