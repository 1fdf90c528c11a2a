#include "userstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "usercert.h"
#include "utf8.h"

#define MAX_HASH_LEN 255    /* users.password_hash */
#define MAX_SEALED_LEN 1024 /* users.digest_secret */
#define MAX_SCHEMA_FILE (1024 * 1024)

/* Columns of SQL_LOOKUP, in order. */
enum lookup_col {
	LOOKUP_USERNAME,
	LOOKUP_HASH,
	LOOKUP_SEALED,
	LOOKUP_DISABLED,
	LOOKUP_CREATED_BY,
	LOOKUP_ROLES,
	LOOKUP_ID,
	LOOKUP_CREATED_BY_ID,
	LOOKUP_BY_API,
	LOOKUP_TOKENS_VALID_AFTER,
	LOOKUP_UNLOCKED_AT,
	LOOKUP__COUNT
};

/* The creator by its account (created_by_id), never by the name stored. */
#define LOOKUP_COLUMNS                                                         \
	"SELECT u.username, u.password_hash, u.digest_secret, u.disabled, "    \
	"cu.username, "                                                        \
	"COALESCE(GROUP_CONCAT(r.name ORDER BY r.name SEPARATOR ','), ''), "   \
	"u.id, u.created_by_id, u.created_by IS NOT NULL, "                    \
	"u.tokens_valid_after, u.unlocked_at "
#define LOOKUP_JOINS                                                           \
	"LEFT JOIN users cu ON cu.id = u.created_by_id "                       \
	"LEFT JOIN user_roles ur ON ur.user_id = u.id "                        \
	"LEFT JOIN roles r ON r.id = ur.role_id "

static const char SQL_LOOKUP[] =
        LOOKUP_COLUMNS "FROM users u " LOOKUP_JOINS "WHERE u.username = ? "
                       "GROUP BY u.id";

/* The user a certificate stands for, as SQL_LOOKUP reads users. */
static const char SQL_LOOKUP_CERT[] = LOOKUP_COLUMNS
        "FROM user_certs uc JOIN users u ON u.id = uc.user_id " LOOKUP_JOINS
        "WHERE uc.fingerprint = ? GROUP BY u.id";

static const char SQL_LIST[] =
        "SELECT u.username, "
        "COALESCE(GROUP_CONCAT(r.name ORDER BY r.name SEPARATOR ','), ''), "
        "u.disabled, u.created_by "
        "FROM users u "
        "LEFT JOIN user_roles ur ON ur.user_id = u.id "
        "LEFT JOIN roles r ON r.id = ur.role_id "
        "GROUP BY u.id ORDER BY u.username";

static const char SQL_ROLE_ID[] = "SELECT id FROM roles WHERE name = ?";
/* Changes to existing rows lock them until the transaction ends. */
static const char SQL_USER_ID_LOCKED[] =
        "SELECT id FROM users WHERE username = ? FOR UPDATE";
static const char SQL_ROLE_ID_LOCKED[] =
        "SELECT id FROM roles WHERE name = ? FOR UPDATE";
static const char SQL_USER_INSERT[] =
        "INSERT INTO users (username, password_hash, digest_secret, "
        "created_by, created_by_id) "
        "VALUES (?, ?, ?, ?, ?)";
static const char SQL_ROLE_INSERT[] = "INSERT INTO roles (name) VALUES (?)";
/* Get-or-create in one statement: the insert id is the role's either way. */
static const char SQL_ROLE_UPSERT[] =
        "INSERT INTO roles (name) VALUES (?) "
        "ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)";
/* IGNORE only swallows the duplicate mapping: both ids were just read. */
static const char SQL_MAP_INSERT[] =
        "INSERT IGNORE INTO user_roles (user_id, role_id) VALUES (?, ?)";
static const char SQL_MAP_DELETE[] =
        "DELETE FROM user_roles WHERE user_id = ? AND role_id = ?";
static const char SQL_USER_DELETE[] = "DELETE FROM users WHERE id = ?";
/* GREATEST: a gateway whose clock lags never re-validates tokens. */
static const char SQL_USER_PASSWORD[] =
        "UPDATE users SET password_hash = ?, digest_secret = ?, "
        "tokens_valid_after = GREATEST(tokens_valid_after, "
        "CAST(? AS SIGNED)) WHERE id = ?";

/* A lockout during a token holder's password guessing. */
static const char SQL_USER_END_TOKENS[] =
        "UPDATE users SET tokens_valid_after = GREATEST(tokens_valid_after, "
        "CAST(? AS SIGNED)) WHERE id = ?";

struct lookup {
	char *username; /* or the fingerprint when `cert` */
	int cert;
	wsg_userstore_lookup_cb done;
	void *arg;
};

static struct wsg_db_param
param_str(const char *s)
{
	struct wsg_db_param p = {s, s ? strlen(s) : 0};

	return p;
}

static struct wsg_db_param
param_bytes(const unsigned char *b, size_t len)
{
	struct wsg_db_param p = {(const char *)b, b ? len : 0};

	return p;
}

/* Decimal text of an id, for a string parameter. */
struct idbuf {
	char s[24];
};

static struct wsg_db_param
param_id(struct idbuf *b, uint64_t id)
{
	snprintf(b->s, sizeof(b->s), "%llu", (unsigned long long)id);
	return param_str(b->s);
}

/*
 * Unicode White_Space (those not already refused as controls) and the
 * invisible characters that trimming code treats alike: an upstream that
 * trims X-WSS-User would read "admin\u00a0" as "admin".
 */
static int
is_space_like(unsigned long cp)
{
	return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || cp == 0x180e ||
	       (cp >= 0x2000 && cp <= 0x200d) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202f || cp == 0x205f || cp == 0x2060 || cp == 0x3000 ||
	       cp == 0xfeff;
}

/*
 * Usernames and role names: 1..255 bytes of valid UTF-8 without C0/C1
 * control characters or DEL (none of which an HTTP field value may carry).
 * Role names also exclude ',' because role lists are ','-separated
 * (records, X-WSS-Roles). `fresh`: the name is about to be created or
 * granted, so it must not begin or end with a space-like character either;
 * names already stored are still found, so they can be deleted.
 */
static int
check_name(const char *what, const char *s, int is_role, int fresh,
           struct wsg_error *err)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned long cp, first = 0;
	size_t len, i = 0, n;

	if (s == NULL)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_CLIENT,
		                     "%s is missing", what);
	len = strlen(s);
	if (len == 0 || len > WSG_USERSTORE_MAX_NAME)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_CLIENT,
		                     "%s must be 1 to %d bytes long", what,
		                     WSG_USERSTORE_MAX_NAME);
	while (i < len) {
		n = wsg_utf8_decode(u + i, len - i, &cp);
		if (n == 0)
			return wsg_error_set(err, WSG_ERR_INVAL,
			                     WSG_FAULT_CLIENT,
			                     "%s is not valid UTF-8", what);
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return wsg_error_set(
			        err, WSG_ERR_INVAL, WSG_FAULT_CLIENT,
			        "%s contains a control character", what);
		if (is_role && cp == ',')
			return wsg_error_set(err, WSG_ERR_INVAL,
			                     WSG_FAULT_CLIENT,
			                     "%s must not contain ','", what);
		if (i == 0)
			first = cp;
		i += n;
	}
	if (fresh && (is_space_like(first) || is_space_like(cp)))
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_CLIENT,
		                     "%s must not begin or end with whitespace "
		                     "or an invisible character (U+%04lX)",
		                     what, is_space_like(first) ? first : cp);
	return WSG_OK;
}

int
wsg_userstore_check_name(const char *what, const char *s, int is_role,
                         struct wsg_error *err)
{
	return check_name(what, s, is_role, 0, err);
}

int
wsg_userstore_check_new_name(const char *what, const char *s, int is_role,
                             struct wsg_error *err)
{
	return check_name(what, s, is_role, 1, err);
}

static int
check_secrets(const char *password_hash, const unsigned char *sealed,
              size_t sealed_len, struct wsg_error *err)
{
	size_t len = password_hash ? strlen(password_hash) : 0;

	if (len == 0 || len > MAX_HASH_LEN)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_SERVER,
		                     "password hash must be 1 to %d bytes",
		                     MAX_HASH_LEN);
	if (sealed != NULL && (sealed_len == 0 || sealed_len > MAX_SEALED_LEN))
		return wsg_error_set(
		        err, WSG_ERR_INVAL, WSG_FAULT_SERVER,
		        "sealed digest secret must be 1 to %d bytes",
		        MAX_SEALED_LEN);
	return WSG_OK;
}

int
wsg_userstore_roles_have(const char *roles, const char *role)
{
	size_t n = strlen(role), len;
	const char *p = roles;

	while (p != NULL && *p != '\0') {
		len = strcspn(p, ",");
		if (len == n && memcmp(p, role, n) == 0)
			return 1;
		p = p[len] != '\0' ? p + len + 1 : NULL;
	}
	return 0;
}

/* -------- asynchronous lookup -------- */

void
wsg_userstore_record_free(struct wsg_user_record *r)
{
	if (r == NULL)
		return;
	free(r->username);
	free(r->password_hash);
	wsg_mem_free_secret(r->digest_sealed, r->digest_sealed_len);
	free(r->roles);
	free(r->created_by);
	free(r);
}

static struct wsg_user_record *
record_from_row(const struct wsg_db_result *res, size_t row)
{
	struct wsg_user_record *rec = wsg_mem_calloc(1, sizeof(*rec));
	char *const *cell = res->cells + row * res->ncols;
	const size_t *len = res->lens + row * res->ncols;

	rec->username = wsg_mem_strdup(cell[LOOKUP_USERNAME]);
	rec->password_hash = wsg_mem_strdup(cell[LOOKUP_HASH]);
	if (cell[LOOKUP_SEALED] != NULL && len[LOOKUP_SEALED] > 0) {
		/* Binary: copied by length, never as a string. */
		rec->digest_sealed = wsg_mem_alloc(len[LOOKUP_SEALED]);
		memcpy(rec->digest_sealed, cell[LOOKUP_SEALED],
		       len[LOOKUP_SEALED]);
		rec->digest_sealed_len = len[LOOKUP_SEALED];
	}
	rec->disabled = cell[LOOKUP_DISABLED] != NULL &&
	                strcmp(cell[LOOKUP_DISABLED], "0") != 0;
	rec->created_by = cell[LOOKUP_CREATED_BY]
	                          ? wsg_mem_strdup(cell[LOOKUP_CREATED_BY])
	                          : NULL;
	rec->roles =
	        wsg_mem_strdup(cell[LOOKUP_ROLES] ? cell[LOOKUP_ROLES] : "");
	rec->id = cell[LOOKUP_ID] ? strtoull(cell[LOOKUP_ID], NULL, 10) : 0;
	rec->created_by_id =
	        cell[LOOKUP_CREATED_BY_ID]
	                ? strtoull(cell[LOOKUP_CREATED_BY_ID], NULL, 10)
	                : 0;
	rec->by_api = cell[LOOKUP_BY_API] != NULL &&
	              strcmp(cell[LOOKUP_BY_API], "0") != 0;
	rec->tokens_valid_after =
	        cell[LOOKUP_TOKENS_VALID_AFTER]
	                ? strtoll(cell[LOOKUP_TOKENS_VALID_AFTER], NULL, 10)
	                : 0;
	rec->unlocked_at = cell[LOOKUP_UNLOCKED_AT]
	                           ? strtoll(cell[LOOKUP_UNLOCKED_AT], NULL, 10)
	                           : 0;
	return rec;
}

/*
 * The record of exactly `username` in a SQL_LOOKUP result: WSG_OK (*rec
 * set, caller frees), WSG_ERR_NOTFOUND, or WSG_ERR_DB for a result of the
 * wrong shape. The collation already compares exactly; checking the bytes
 * again keeps a mis-collated schema from letting "Alice" in as "alice".
 */
static int
record_of(const struct wsg_db_result *res, const char *username,
          struct wsg_user_record **rec)
{
	size_t row;

	*rec = NULL;
	if (res->ncols != LOOKUP__COUNT)
		return WSG_ERR_DB;
	for (row = 0; row < res->nrows; row++) {
		const char *name = res->cells[row * res->ncols];

		if (name != NULL && strcmp(name, username) == 0) {
			*rec = record_from_row(res, row);
			return WSG_OK;
		}
	}
	return WSG_ERR_NOTFOUND;
}

/* The one user of a SQL_LOOKUP_CERT result (the fingerprint is unique). */
static int
record_of_cert(const struct wsg_db_result *res, struct wsg_user_record **rec)
{
	*rec = NULL;
	if (res->ncols != LOOKUP__COUNT || res->nrows > 1)
		return WSG_ERR_DB;
	if (res->nrows == 0 || res->cells[LOOKUP_USERNAME] == NULL)
		return WSG_ERR_NOTFOUND;
	*rec = record_from_row(res, 0);
	return WSG_OK;
}

static void
lookup_done_cb(int status, struct wsg_db_result *res, void *arg)
{
	struct lookup *lk = arg;
	struct wsg_user_record *rec = NULL;

	if (status == WSG_OK)
		status = lk->cert ? record_of_cert(res, &rec)
		                  : record_of(res, lk->username, &rec);
	wsg_db_result_free(res);
	lk->done(status, rec, lk->arg);
	free(lk->username);
	free(lk);
}

static int
start_lookup(struct wsg_db_pool *pool, const char *sql, const char *key,
             int cert, wsg_userstore_lookup_cb done, void *arg)
{
	struct wsg_db_param p;
	struct lookup *lk;
	int rc;

	lk = wsg_mem_calloc(1, sizeof(*lk));
	lk->username = wsg_mem_strdup(key);
	lk->cert = cert;
	lk->done = done;
	lk->arg = arg;
	p = param_str(lk->username);
	rc = wsg_db_query(pool, sql, &p, 1, lookup_done_cb, lk);
	if (rc != WSG_OK) {
		free(lk->username);
		free(lk);
	}
	return rc;
}

int
wsg_userstore_lookup(struct wsg_db_pool *pool, const char *username,
                     wsg_userstore_lookup_cb done, void *arg)
{
	if (username == NULL || done == NULL)
		return WSG_ERR_INVAL;
	return start_lookup(pool, SQL_LOOKUP, username, 0, done, arg);
}

/* 1 when `s` is a fingerprint in the store's form. */
static int
is_store_fingerprint(const char *s)
{
	size_t i;

	for (i = 0; i < WSG_USERCERT_FP_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

int
wsg_userstore_lookup_cert(struct wsg_db_pool *pool, const char *fingerprint,
                          wsg_userstore_lookup_cb done, void *arg)
{
	if (fingerprint == NULL || done == NULL ||
	    !is_store_fingerprint(fingerprint))
		return WSG_ERR_INVAL;
	return start_lookup(pool, SQL_LOOKUP_CERT, fingerprint, 1, done, arg);
}

/* -------- changes on a blocking connection -------- */

int
wsg_userstore_init_schema(struct wsg_db_conn *c, const char *schema_path,
                          struct wsg_error *err)
{
	FILE *f = NULL;
	char *script = NULL;
	size_t n;
	int rc = WSG_OK;

	f = fopen(schema_path, "r");
	if (f == NULL) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER, "%s: %s",
		                   schema_path, strerror(errno));
		goto out;
	}
	script = wsg_mem_alloc(MAX_SCHEMA_FILE + 1);
	n = fread(script, 1, MAX_SCHEMA_FILE + 1, f);
	if (ferror(f)) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_SERVER,
		                   "%s: read error", schema_path);
		goto out;
	}
	if (n > MAX_SCHEMA_FILE) {
		rc = wsg_error_set(err, WSG_ERR_LIMIT, WSG_FAULT_SERVER,
		                   "%s: larger than %d bytes", schema_path,
		                   MAX_SCHEMA_FILE);
		goto out;
	}
	script[n] = '\0';
	if (memchr(script, '\0', n) != NULL) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_SERVER,
		                   "%s: contains a NUL byte", schema_path);
		goto out;
	}
	rc = wsg_db_exec_script(c, script, err);
	if (rc != WSG_OK) {
		/* Prefix the file name, keeping the server's message. */
		if (err != NULL) {
			char *msg = wsg_mem_printf("%s: %s", schema_path,
			                           err->reason);

			wsg_error_set(err, rc, WSG_FAULT_SERVER, "%s", msg);
			free(msg);
		}
	}
out:
	if (f != NULL)
		fclose(f);
	free(script);
	return rc;
}

/* The first column of the first row as an id; 0 when there is no row. */
static uint64_t
first_id(const struct wsg_db_result *res)
{
	if (res == NULL || res->nrows == 0 || res->ncols < 1 ||
	    res->cells[0] == NULL)
		return 0;
	return strtoull(res->cells[0], NULL, 10);
}

/* Reads one id column by a name; *id is 0 when no row matches. */
static int
select_id(struct wsg_db_conn *c, const char *sql, const char *name,
          uint64_t *id, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p = param_str(name);
	int rc;

	*id = 0;
	rc = wsg_db_exec(c, sql, &p, 1, &res, err);
	if (rc == WSG_OK)
		*id = first_id(res);
	wsg_db_result_free(res);
	return rc;
}

/* select_id() for a row that must be there: none is WSG_ERR_NOTFOUND,
 * "no <what> '<name>'". */
static int
select_existing(struct wsg_db_conn *c, const char *sql, const char *what,
                const char *name, uint64_t *id, struct wsg_error *err)
{
	int rc;

	rc = select_id(c, sql, name, id, err);
	if (rc == WSG_OK && *id == 0)
		rc = wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_CLIENT,
		                   "no %s '%s'", what, name);
	return rc;
}

/* Runs `sql` with the first `n` of the ids `a`, `b`; `affected` may be NULL. */
static int
exec_by_ids(struct wsg_db_conn *c, const char *sql, uint64_t a, uint64_t b,
            unsigned n, unsigned long long *affected, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct idbuf ba, bb;
	struct wsg_db_param p[2] = {param_id(&ba, a), param_id(&bb, b)};
	int rc;

	rc = wsg_db_exec(c, sql, p, n, &res, err);
	if (rc == WSG_OK && affected != NULL)
		*affected = res->affected_rows;
	wsg_db_result_free(res);
	return rc;
}

/* A new user's fields, checked before any statement runs. */
static int
check_user(const char *username, const char *password_hash,
           const unsigned char *sealed, size_t sealed_len,
           const char *created_by, struct wsg_error *err)
{
	int rc;

	rc = wsg_userstore_check_new_name("username", username, 0, err);
	if (rc == WSG_OK && created_by != NULL)
		rc = wsg_userstore_check_name("creator name", created_by, 0,
		                              err);
	if (rc == WSG_OK)
		rc = check_secrets(password_hash, sealed, sealed_len, err);
	return rc;
}

int
wsg_userstore_list_users(struct wsg_db_conn *c, struct wsg_db_result **res,
                         struct wsg_error *err)
{
	*res = NULL;
	return wsg_db_exec(c, SQL_LIST, NULL, 0, res, err);
}

/* -------- management API reads (blocking connection) -------- */

static const char SQL_FIND_USERS[] =
        "SELECT u.username FROM users u "
        "WHERE u.username LIKE ? ESCAPE '!' "
        "AND (? IS NULL OR EXISTS (SELECT 1 FROM user_roles ur "
        "JOIN roles r ON r.id = ur.role_id "
        "WHERE ur.user_id = u.id AND r.name = ?)) "
        "AND (? IS NULL OR LOCATE(LOWER(?), LOWER(u.username)) > 0) "
        "ORDER BY u.username";
static const char SQL_FIND_ROLES[] =
        "SELECT name FROM roles "
        "WHERE (? IS NULL OR LOCATE(LOWER(?), LOWER(name)) > 0) "
        "ORDER BY name";
static const char SQL_MEMBERS[] = "SELECT u.username FROM user_roles ur "
                                  "JOIN users u ON u.id = ur.user_id "
                                  "WHERE ur.role_id = ? ORDER BY u.username";
/* Shared locks on the memberships: a concurrent removal waits for us. */
static const char SQL_MEMBERS_LOCKED[] =
        "SELECT u.username FROM user_roles ur "
        "JOIN users u ON u.id = ur.user_id "
        "WHERE ur.role_id = ? ORDER BY u.username LOCK IN SHARE MODE";
static const char SQL_BOOTSTRAP_DONE[] = "SELECT COUNT(*) FROM bootstrap";
static const char SQL_BOOTSTRAP_CLOSE[] =
        "INSERT IGNORE INTO bootstrap (id) VALUES (1)";
static const char SQL_ROLE_DELETE[] = "DELETE FROM roles WHERE id = ?";
static const char SQL_GUARD_WRITE[] =
        "UPDATE account_guard SET changes = changes + 1, last_tx = ? "
        "WHERE id = 1";
static const char SQL_GUARD_READ[] =
        "SELECT last_tx FROM account_guard WHERE id = 1";
static const char SQL_AUTOCOMMIT_OFF[] = "SET autocommit = 0";
static const char SQL_AUTOCOMMIT_ON[] = "SET autocommit = 1";
static const char SQL_TOKEN_REVOKE[] =
        "INSERT IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)";
static const char SQL_TOKEN_PURGE[] =
        "DELETE FROM revoked_tokens WHERE expires_at < ?";
static const char SQL_TOKEN_REVOKED[] =
        "SELECT 1 FROM revoked_tokens WHERE jti = ?";

int
wsg_userstore_get(struct wsg_db_conn *c, const char *username,
                  struct wsg_user_record **out, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p = param_str(username);
	int rc;

	*out = NULL;
	rc = wsg_db_exec(c, SQL_LOOKUP, &p, 1, &res, err);
	if (rc != WSG_OK)
		return rc;
	rc = record_of(res, username, out);
	if (rc == WSG_ERR_DB)
		rc = wsg_error_set(err, WSG_ERR_DB, WSG_FAULT_SERVER,
		                   "user lookup returned %zu columns",
		                   res->ncols);
	wsg_db_result_free(res);
	return rc;
}

int
wsg_userstore_find_users(struct wsg_db_conn *c, const char *like,
                         const char *role, const char *search,
                         struct wsg_db_result **res, struct wsg_error *err)
{
	struct wsg_db_param p[5] = {param_str(like), param_str(role),
	                            param_str(role), param_str(search),
	                            param_str(search)};

	*res = NULL;
	return wsg_db_exec(c, SQL_FIND_USERS, p, 5, res, err);
}

int
wsg_userstore_find_roles(struct wsg_db_conn *c, const char *search,
                         struct wsg_db_result **res, struct wsg_error *err)
{
	struct wsg_db_param p[2] = {param_str(search), param_str(search)};

	*res = NULL;
	return wsg_db_exec(c, SQL_FIND_ROLES, p, 2, res, err);
}

int
wsg_userstore_role_members(struct wsg_db_conn *c, const char *role,
                           struct wsg_db_result **res, struct wsg_error *err)
{
	struct wsg_db_param p;
	struct idbuf b;
	uint64_t rid;
	int rc;

	*res = NULL;
	rc = select_existing(c, SQL_ROLE_ID, "role", role, &rid, err);
	if (rc != WSG_OK)
		return rc;
	p = param_id(&b, rid);
	return wsg_db_exec(c, SQL_MEMBERS, &p, 1, res, err);
}

int
wsg_userstore_bootstrap_done(struct wsg_db_conn *c, int *done,
                             struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	int rc;

	*done = 1;
	rc = wsg_db_exec(c, SQL_BOOTSTRAP_DONE, NULL, 0, &res, err);
	if (rc == WSG_OK)
		*done = first_id(res) != 0;
	wsg_db_result_free(res);
	return rc;
}

int
wsg_userstore_close_bootstrap(struct wsg_db_conn *c, struct wsg_error *err)
{
	return exec_by_ids(c, SQL_BOOTSTRAP_CLOSE, 0, 0, 0, NULL, err);
}

int
wsg_userstore_close_bootstrap_if_admin(struct wsg_db_conn *c,
                                       const char *admin_role,
                                       struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	int rc;

	rc = wsg_userstore_role_members(c, admin_role, &res, err);
	if (rc == WSG_OK && res->nrows > 0)
		rc = wsg_userstore_close_bootstrap(c, err);
	wsg_db_result_free(res);
	return rc == WSG_ERR_NOTFOUND ? WSG_OK : rc;
}

/* -------- management API changes inside the caller's transaction -------- */

int
wsg_userstore_tx_autocommit(struct wsg_db_conn *c, int on,
                            struct wsg_error *err)
{
	return wsg_db_exec(c, on ? SQL_AUTOCOMMIT_ON : SQL_AUTOCOMMIT_OFF, NULL,
	                   0, NULL, err);
}

int
wsg_userstore_tx_guard(struct wsg_db_conn *c, const char *mark,
                       struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p = param_str(mark);
	char why[sizeof(err->reason)];
	int rc;

	rc = wsg_db_exec(c, SQL_GUARD_WRITE, &p, 1, &res, err);
	/* Without the row nothing would conflict: refuse rather than risk it.
	 */
	if (rc == WSG_OK && res->affected_rows != 1)
		rc = wsg_error_set(err, WSG_ERR_DB, WSG_FAULT_SERVER,
		                   "the account guard row is missing (run "
		                   "`wssgate db init`)");
	/* A store older than schema version 7 has no guard table. */
	else if (rc == WSG_ERR_DB && err != NULL) {
		snprintf(why, sizeof(why), "%s", err->reason);
		wsg_error_set(err, WSG_ERR_DB, WSG_FAULT_SERVER,
		              "account guard (schema version 7; run `wssgate "
		              "db init`): %s",
		              why);
	}
	wsg_db_result_free(res);
	return rc;
}

int
wsg_userstore_tx_guard_held(struct wsg_db_conn *c, const char *mark,
                            struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	int rc;

	rc = wsg_db_exec(c, SQL_GUARD_READ, NULL, 0, &res, err);
	if (rc == WSG_OK && (res->nrows != 1 || res->cells[0] == NULL ||
	                     strcmp(res->cells[0], mark) != 0))
		rc = wsg_error_set(err, WSG_ERR_CONFLICT, WSG_FAULT_SERVER,
		                   "the account change was aborted by a "
		                   "concurrent one");
	wsg_db_result_free(res);
	return rc;
}

int
wsg_userstore_tx_lock_role(struct wsg_db_conn *c, const char *name,
                           uint64_t *id, struct wsg_error *err)
{
	return select_id(c, SQL_ROLE_ID_LOCKED, name, id, err);
}

int
wsg_userstore_tx_lock_user(struct wsg_db_conn *c, const char *name,
                           uint64_t *id, struct wsg_error *err)
{
	return select_id(c, SQL_USER_ID_LOCKED, name, id, err);
}

int
wsg_userstore_tx_role_members(struct wsg_db_conn *c, uint64_t rid,
                              struct wsg_db_result **res, struct wsg_error *err)
{
	struct idbuf b;
	struct wsg_db_param p = param_id(&b, rid);

	*res = NULL;
	return wsg_db_exec(c, SQL_MEMBERS_LOCKED, &p, 1, res, err);
}

static int
role_insert_id(struct wsg_db_conn *c, const char *sql, const char *name,
               uint64_t *id, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p = param_str(name);
	int rc;

	*id = 0;
	rc = wsg_userstore_check_new_name("role name", name, 1, err);
	if (rc == WSG_OK)
		rc = wsg_db_exec(c, sql, &p, 1, &res, err);
	if (rc == WSG_ERR_EXISTS)
		rc = wsg_error_set(err, WSG_ERR_EXISTS, WSG_FAULT_CLIENT,
		                   "role '%s' already exists", name);
	if (rc == WSG_OK)
		*id = res->insert_id;
	wsg_db_result_free(res);
	return rc;
}

int
wsg_userstore_tx_upsert_role(struct wsg_db_conn *c, const char *name,
                             uint64_t *id, struct wsg_error *err)
{
	return role_insert_id(c, SQL_ROLE_UPSERT, name, id, err);
}

int
wsg_userstore_tx_insert_role(struct wsg_db_conn *c, const char *name,
                             uint64_t *id, struct wsg_error *err)
{
	return role_insert_id(c, SQL_ROLE_INSERT, name, id, err);
}

int
wsg_userstore_tx_insert_user(struct wsg_db_conn *c, const char *username,
                             const char *password_hash,
                             const unsigned char *sealed, size_t sealed_len,
                             const char *created_by, uint64_t created_by_id,
                             uint64_t *id, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p[5];
	struct idbuf b;
	int rc;

	*id = 0;
	rc = check_user(username, password_hash, sealed, sealed_len, created_by,
	                err);
	if (rc != WSG_OK)
		return rc;
	p[0] = param_str(username);
	p[1] = param_str(password_hash);
	p[2] = param_bytes(sealed, sealed_len);
	p[3] = param_str(created_by);
	p[4] = created_by_id != 0 ? param_id(&b, created_by_id)
	                          : param_str(NULL);
	rc = wsg_db_exec(c, SQL_USER_INSERT, p, 5, &res, err);
	if (rc == WSG_ERR_EXISTS)
		rc = wsg_error_set(err, WSG_ERR_EXISTS, WSG_FAULT_CLIENT,
		                   "user '%s' already exists", username);
	if (rc == WSG_OK)
		*id = res->insert_id;
	wsg_db_result_free(res);
	return rc;
}

int
wsg_userstore_tx_delete_user(struct wsg_db_conn *c, uint64_t uid,
                             struct wsg_error *err)
{
	return exec_by_ids(c, SQL_USER_DELETE, uid, 0, 1, NULL, err);
}

int
wsg_userstore_tx_delete_role(struct wsg_db_conn *c, uint64_t rid,
                             struct wsg_error *err)
{
	return exec_by_ids(c, SQL_ROLE_DELETE, rid, 0, 1, NULL, err);
}

int
wsg_userstore_tx_grant(struct wsg_db_conn *c, uint64_t uid, uint64_t rid,
                       struct wsg_error *err)
{
	return exec_by_ids(c, SQL_MAP_INSERT, uid, rid, 2, NULL, err);
}

int
wsg_userstore_tx_revoke(struct wsg_db_conn *c, uint64_t uid, uint64_t rid,
                        int *held, struct wsg_error *err)
{
	unsigned long long affected = 0;
	int rc;

	*held = 0;
	rc = exec_by_ids(c, SQL_MAP_DELETE, uid, rid, 2, &affected, err);
	if (rc == WSG_OK)
		*held = affected > 0;
	return rc;
}

int
wsg_userstore_tx_set_password(struct wsg_db_conn *c, uint64_t uid,
                              const char *password_hash,
                              const unsigned char *sealed, size_t sealed_len,
                              int64_t now_us, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct idbuf b;
	struct wsg_db_param p[4];
	char after[24];
	int rc;

	rc = check_secrets(password_hash, sealed, sealed_len, err);
	if (rc != WSG_OK)
		return rc;
	snprintf(after, sizeof(after), "%lld", (long long)now_us);
	p[0] = param_str(password_hash);
	p[1] = param_bytes(sealed, sealed_len);
	p[2] = param_str(after);
	p[3] = param_id(&b, uid);
	rc = wsg_db_exec(c, SQL_USER_PASSWORD, p, 4, &res, err);
	wsg_db_result_free(res);
	return rc;
}

int
wsg_userstore_end_tokens(struct wsg_db_conn *c, uint64_t uid, int64_t now_us,
                         struct wsg_error *err)
{
	struct idbuf b;
	struct wsg_db_param p[2];
	char after[24];

	snprintf(after, sizeof(after), "%lld", (long long)now_us);
	p[0] = param_str(after);
	p[1] = param_id(&b, uid);
	return wsg_db_exec(c, SQL_USER_END_TOKENS, p, 2, NULL, err);
}

/* -------- revoked management tokens -------- */

int
wsg_userstore_revoke_token(struct wsg_db_conn *c, const char *jti,
                           int64_t expires_at, int64_t now,
                           struct wsg_error *err)
{
	char exp[24], cut[24];
	struct wsg_db_param p[2];
	int rc;

	snprintf(exp, sizeof(exp), "%lld", (long long)expires_at);
	snprintf(cut, sizeof(cut), "%lld", (long long)now);
	p[0] = param_str(jti);
	p[1] = param_str(exp);
	rc = wsg_db_exec(c, SQL_TOKEN_REVOKE, p, 2, NULL, err);
	/* Lost to a concurrent write of the same row on another Galera node
	 * (the same logout twice): INSERT IGNORE again is idempotent. */
	if (rc == WSG_ERR_CONFLICT)
		rc = wsg_db_exec(c, SQL_TOKEN_REVOKE, p, 2, NULL, err);
	if (rc != WSG_OK)
		return rc;
	/* Expired tokens are refused anyway; drop their rows. A conflict means
	 * another gateway's purge took them: the revocation stands. */
	p[0] = param_str(cut);
	rc = wsg_db_exec(c, SQL_TOKEN_PURGE, p, 1, NULL, err);
	if (rc == WSG_ERR_CONFLICT) {
		wsg_error_clear(err);
		rc = WSG_OK;
	}
	return rc;
}

int
wsg_userstore_token_revoked(struct wsg_db_conn *c, const char *jti,
                            int *revoked, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p = param_str(jti);
	int rc;

	*revoked = 0;
	rc = wsg_db_exec(c, SQL_TOKEN_REVOKED, &p, 1, &res, err);
	if (rc == WSG_OK)
		*revoked = res->nrows > 0;
	wsg_db_result_free(res);
	return rc;
}

/* -------- certificates (user_certs) -------- */

static const char SQL_CERT_LIST[] =
        "SELECT fingerprint, subject, issuer, serial, not_after, "
        "FLOOR(UNIX_TIMESTAMP(created_at)), created_by "
        "FROM user_certs WHERE user_id = ? ORDER BY created_at, id";
static const char SQL_CERT_INSERT[] =
        "INSERT INTO user_certs (user_id, fingerprint, subject, issuer, "
        "serial, not_after, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_CERT_DELETE[] =
        "DELETE FROM user_certs WHERE user_id = ? AND fingerprint = ?";
static const char SQL_CERT_OWNER[] =
        "SELECT u.username FROM user_certs uc "
        "JOIN users u ON u.id = uc.user_id WHERE uc.fingerprint = ?";

int
wsg_userstore_list_certs(struct wsg_db_conn *c, uint64_t uid,
                         struct wsg_db_result **res, struct wsg_error *err)
{
	struct idbuf b;
	struct wsg_db_param p = param_id(&b, uid);

	*res = NULL;
	return wsg_db_exec(c, SQL_CERT_LIST, &p, 1, res, err);
}

int
wsg_userstore_cert_owner(struct wsg_db_conn *c, const char *fingerprint,
                         char **owner, struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p = param_str(fingerprint);
	int rc;

	*owner = NULL;
	rc = wsg_db_exec(c, SQL_CERT_OWNER, &p, 1, &res, err);
	if (rc == WSG_OK && (res->nrows == 0 || res->cells[0] == NULL))
		rc = WSG_ERR_NOTFOUND;
	if (rc == WSG_OK)
		*owner = wsg_mem_strdup(res->cells[0]);
	wsg_db_result_free(res);
	return rc;
}

int
wsg_userstore_tx_insert_cert(struct wsg_db_conn *c, uint64_t uid,
                             const struct wsg_usercert *cert,
                             const char *created_by, struct wsg_error *err)
{
	struct wsg_db_param p[7];
	struct idbuf b;
	char after[24];
	int rc;

	if (!is_store_fingerprint(cert->fingerprint))
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_CLIENT,
		                     "bad certificate fingerprint");
	snprintf(after, sizeof(after), "%lld", (long long)cert->not_after);
	p[0] = param_id(&b, uid);
	p[1] = param_str(cert->fingerprint);
	p[2] = param_str(cert->subject);
	p[3] = param_str(cert->issuer);
	p[4] = param_str(cert->serial);
	p[5] = param_str(after);
	p[6] = param_str(created_by);
	rc = wsg_db_exec(c, SQL_CERT_INSERT, p, 7, NULL, err);
	if (rc == WSG_ERR_EXISTS)
		rc = wsg_error_set(err, WSG_ERR_EXISTS, WSG_FAULT_CLIENT,
		                   "certificate %s is already mapped to a user",
		                   cert->fingerprint);
	return rc;
}

int
wsg_userstore_tx_delete_cert(struct wsg_db_conn *c, uint64_t uid,
                             const char *fingerprint, int *held,
                             struct wsg_error *err)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_param p[2];
	struct idbuf b;
	int rc;

	*held = 0;
	p[0] = param_id(&b, uid);
	p[1] = param_str(fingerprint);
	rc = wsg_db_exec(c, SQL_CERT_DELETE, p, 2, &res, err);
	if (rc == WSG_OK)
		*held = res->affected_rows > 0;
	wsg_db_result_free(res);
	return rc;
}
