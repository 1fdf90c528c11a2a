/*
 * The user store's SQL: users, roles and role mappings on top of db.c.
 * The lookup runs asynchronously on a worker's pool; the changes run on a
 * blocking connection (offline verbs now, the management API later), each
 * in one transaction.
 */
#ifndef WSG_USERSTORE_H
#define WSG_USERSTORE_H

#include <stddef.h>

#include "db.h"
#include "types.h"

#define WSG_USERSTORE_MAX_NAME 255   /* bytes, usernames and role names */

/* One user as stored. All strings NUL-terminated and malloc'ed. */
struct wsg_user_record {
	char *username;
	char *password_hash;     /* argon2id PHC string */
	unsigned char *digest_sealed; /* NULL for --no-digest users */
	size_t digest_sealed_len;
	int disabled;
	char *roles;             /* role names, ',' separated, sorted; "" for none */
	char *created_by;        /* NULL for users made by the CLI */
};

void wsg_userstore_record_free(struct wsg_user_record *r);

/* `status`: WSG_OK (rec set, callee frees it), WSG_ERR_NOTFOUND, WSG_ERR_DB
 * or WSG_ERR_TIMEOUT (rec NULL). */
typedef void (*wsg_userstore_lookup_cb)(int status, struct wsg_user_record *rec,
					void *arg);

/* Looks a user up by exact name, with its roles, through the pool. */
int wsg_userstore_lookup(struct wsg_db_pool *pool, const char *username,
			 wsg_userstore_lookup_cb done, void *arg);

/* -------- offline / management changes (blocking connection) -------- */

/* Creates or upgrades the schema from the SQL file at `schema_path`. Idempotent. */
int wsg_userstore_init_schema(struct wsg_db_conn *c, const char *schema_path,
			      struct wsg_error *err);

/*
 * Adds a user with its roles (each created if missing) in one transaction.
 * `roles` may be NULL when nroles is 0; `sealed` NULL for no digest secret;
 * `created_by` NULL when made by the CLI. WSG_ERR_EXISTS if the name is taken.
 */
int wsg_userstore_add_user(struct wsg_db_conn *c, const char *username,
			   const char *password_hash,
			   const unsigned char *sealed, size_t sealed_len,
			   const char *const *roles, size_t nroles,
			   const char *created_by, struct wsg_error *err);

/* Deletes a user and its role mappings. WSG_ERR_NOTFOUND if absent. */
int wsg_userstore_del_user(struct wsg_db_conn *c, const char *username,
			   struct wsg_error *err);

/* Replaces the hash and sealed secret. WSG_ERR_NOTFOUND if absent. */
int wsg_userstore_set_password(struct wsg_db_conn *c, const char *username,
			       const char *password_hash,
			       const unsigned char *sealed, size_t sealed_len,
			       struct wsg_error *err);

/* Rows: username, roles (',' separated), disabled ("0"/"1"), created_by;
 * ordered by username. Caller frees `*res`. */
int wsg_userstore_list_users(struct wsg_db_conn *c, struct wsg_db_result **res,
			     struct wsg_error *err);

/* Role changes. add: WSG_ERR_EXISTS if present. grant: user and role must
 * exist (WSG_ERR_NOTFOUND), granting twice is WSG_OK. revoke: WSG_ERR_NOTFOUND
 * if the user does not hold the role. */
int wsg_userstore_add_role(struct wsg_db_conn *c, const char *role,
			   struct wsg_error *err);
int wsg_userstore_grant(struct wsg_db_conn *c, const char *username,
			const char *role, struct wsg_error *err);
int wsg_userstore_revoke(struct wsg_db_conn *c, const char *username,
			 const char *role, struct wsg_error *err);

#endif
