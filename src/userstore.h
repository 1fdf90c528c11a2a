/*
 * The user store's SQL: users, roles and role mappings on top of db.c.
 * The lookup runs asynchronously on a worker's pool; the reads and the
 * steps of changes run on a blocking connection. The changes themselves,
 * with their rules and lock order, are accounts.c's.
 */
#ifndef WSG_USERSTORE_H
#define WSG_USERSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "types.h"
#include "usercert.h"

#define WSG_USERSTORE_MAX_NAME 255 /* bytes, usernames and role names */

/* One user as stored. All strings NUL-terminated and malloc'ed. */
struct wsg_user_record {
	char *username;
	char *password_hash;          /* argon2id PHC string */
	unsigned char *digest_sealed; /* NULL for --no-digest users */
	size_t digest_sealed_len;
	int disabled;
	char *roles; /* role names, ',' separated, sorted; "" for none */
	/* Current name of the creating account (created_by_id), NULL for users
	 * made by the CLI or the bootstrap, or whose creator is gone. */
	char *created_by;
	uint64_t id;            /* users.id */
	uint64_t created_by_id; /* creator's users.id; 0 as for created_by */
	int by_api;             /* made through the management API */
	/* Microseconds since the epoch of the last password change: tokens
	 * issued at or before it are refused (0: never changed). */
	int64_t tokens_valid_after;
	/* Microseconds since the epoch of the last `wssgate user unlock`: a
	 * lock that began before it ends (unlock.h); 0: never. */
	int64_t unlocked_at;
};

void wsg_userstore_record_free(struct wsg_user_record *r);

/* 1 when `roles` (a record's ','-separated list; NULL: none) holds
 * `role`. */
int wsg_userstore_roles_have(const char *roles, const char *role);

/* `status`: WSG_OK (rec set, callee frees it), WSG_ERR_NOTFOUND, WSG_ERR_DB
 * or WSG_ERR_TIMEOUT (rec NULL). */
typedef void (*wsg_userstore_lookup_cb)(int status, struct wsg_user_record *rec,
                                        void *arg);

/* Looks a user up by exact name, with its roles, through the pool. */
int wsg_userstore_lookup(struct wsg_db_pool *pool, const char *username,
                         wsg_userstore_lookup_cb done, void *arg);

/*
 * Looks up the user that the certificate with `fingerprint` (64 lowercase
 * hex digits, wsg_usercert_fingerprint()'s form) stands for, through the
 * pool, without blocking: `done` gets the user's record as
 * wsg_userstore_lookup() gives it (name, roles, disabled, ...), or
 * WSG_ERR_NOTFOUND when no user holds the certificate. Returns WSG_OK
 * (then `done` is called exactly once, from the pool's loop), WSG_ERR_INVAL
 * for a fingerprint not in that form, or wsg_db_query()'s refusals.
 */
int wsg_userstore_lookup_cert(struct wsg_db_pool *pool, const char *fingerprint,
                              wsg_userstore_lookup_cb done, void *arg);

/*
 * Usernames and role names: 1..WSG_USERSTORE_MAX_NAME bytes of valid UTF-8
 * without C0/C1 control characters or DEL; role names also without ','.
 * `what` names the value in the message put in `err`. WSG_OK or
 * WSG_ERR_INVAL. This one is for names looked up (stored names stay
 * reachable); every path that creates a user or role, or grants a role,
 * uses wsg_userstore_check_new_name().
 */
int wsg_userstore_check_name(const char *what, const char *s, int is_role,
                             struct wsg_error *err);

/*
 * wsg_userstore_check_name() plus the rule for new names: no whitespace or
 * invisible character (Unicode spaces, U+00A0, U+2000..U+200D, U+3000,
 * U+FEFF, ...) at either end, so that no upstream trimming X-WSS-User or
 * X-WSS-Roles reads the name as another one.
 */
int wsg_userstore_check_new_name(const char *what, const char *s, int is_role,
                                 struct wsg_error *err);

/* -------- schema and listing (blocking connection) -------- */

/* Creates or upgrades the schema from the SQL file at `schema_path`.
 * Idempotent. */
int wsg_userstore_init_schema(struct wsg_db_conn *c, const char *schema_path,
                              struct wsg_error *err);

/* Rows: username, roles (',' separated), disabled ("0"/"1"), created_by;
 * ordered by username. Caller frees `*res`. */
int wsg_userstore_list_users(struct wsg_db_conn *c, struct wsg_db_result **res,
                             struct wsg_error *err);

/* -------- management API reads (blocking connection) -------- */

/* One user with its roles, or WSG_ERR_NOTFOUND; `*out` freed with
 * wsg_userstore_record_free(). */
int wsg_userstore_get(struct wsg_db_conn *c, const char *username,
                      struct wsg_user_record **out, struct wsg_error *err);

/*
 * Usernames matching the SQL LIKE pattern `like` (escape character '!'),
 * holding role `role` (NULL: any) and containing `search` without regard to
 * case (NULL: any), ordered. One column per row. Caller frees `*res`.
 */
int wsg_userstore_find_users(struct wsg_db_conn *c, const char *like,
                             const char *role, const char *search,
                             struct wsg_db_result **res, struct wsg_error *err);

/* Role names containing `search` without regard to case (NULL: all). */
int wsg_userstore_find_roles(struct wsg_db_conn *c, const char *search,
                             struct wsg_db_result **res, struct wsg_error *err);

/*
 * The first-admin bootstrap happens once per store: *done is set once an
 * admin has ever existed (bootstrap table, schema version 3). A store
 * without the table is an error, and the caller refuses the bootstrap.
 */
int wsg_userstore_bootstrap_done(struct wsg_db_conn *c, int *done,
                                 struct wsg_error *err);
/* Records that an admin exists (idempotent; inside or outside a transaction).
 */
int wsg_userstore_close_bootstrap(struct wsg_db_conn *c, struct wsg_error *err);
/* Closes the bootstrap when `admin_role` has a member (db init on an
 * existing store). */
int wsg_userstore_close_bootstrap_if_admin(struct wsg_db_conn *c,
                                           const char *admin_role,
                                           struct wsg_error *err);

/* Usernames holding `role`, ordered; WSG_ERR_NOTFOUND if it does not exist. */
int wsg_userstore_role_members(struct wsg_db_conn *c, const char *role,
                               struct wsg_db_result **res,
                               struct wsg_error *err);

/*
 * -------- the steps of account changes --------
 * Each runs inside a transaction the caller opened with wsg_db_begin() and
 * ends with wsg_db_commit() or wsg_db_rollback(), so one change is one
 * transaction however many statements it takes. Ids are users.id/roles.id.
 * Only accounts.c calls them: it holds the lock order and the admin rules.
 */

/*
 * Writes the account guard row (schema version 7) with `mark` (32 ASCII
 * characters naming this transaction), the first lock of every account
 * change: concurrent changes on different Galera nodes then fail
 * certification (WSG_ERR_CONFLICT) instead of both passing a rule each
 * checked on its own node. WSG_ERR_DB when the row is missing.
 */
int wsg_userstore_tx_guard(struct wsg_db_conn *c, const char *mark,
                           struct wsg_error *err);
/* WSG_ERR_CONFLICT unless the guard row still holds `mark` as this
 * transaction wrote it (else it was aborted, and later statements ran in a
 * transaction of their own). */
int wsg_userstore_tx_guard_held(struct wsg_db_conn *c, const char *mark,
                                struct wsg_error *err);
/* SET autocommit = `on`: off while an account change runs, so that no
 * statement commits on its own should the transaction end unseen. */
int wsg_userstore_tx_autocommit(struct wsg_db_conn *c, int on,
                                struct wsg_error *err);

/* Lock the row (FOR UPDATE) and give its id; `*id` is 0 when absent. */
int wsg_userstore_tx_lock_role(struct wsg_db_conn *c, const char *name,
                               uint64_t *id, struct wsg_error *err);
int wsg_userstore_tx_lock_user(struct wsg_db_conn *c, const char *name,
                               uint64_t *id, struct wsg_error *err);
/* Usernames holding role `rid`, with shared locks on those memberships. */
int wsg_userstore_tx_role_members(struct wsg_db_conn *c, uint64_t rid,
                                  struct wsg_db_result **res,
                                  struct wsg_error *err);
/* Get-or-create (locks the row either way) / create (WSG_ERR_EXISTS). */
int wsg_userstore_tx_upsert_role(struct wsg_db_conn *c, const char *name,
                                 uint64_t *id, struct wsg_error *err);
int wsg_userstore_tx_insert_role(struct wsg_db_conn *c, const char *name,
                                 uint64_t *id, struct wsg_error *err);
/* A new user: `sealed` NULL for no digest secret; `created_by` (the
 * creator's name, kept for the record) NULL and `created_by_id` (its
 * users.id, which the creator rule follows) 0 when not made through the
 * API. WSG_ERR_EXISTS ("user 'NAME' already exists") if taken. */
int wsg_userstore_tx_insert_user(struct wsg_db_conn *c, const char *username,
                                 const char *password_hash,
                                 const unsigned char *sealed, size_t sealed_len,
                                 const char *created_by, uint64_t created_by_id,
                                 uint64_t *id, struct wsg_error *err);
/* Deleting a user or a role removes its memberships (ON DELETE CASCADE). */
int wsg_userstore_tx_delete_user(struct wsg_db_conn *c, uint64_t uid,
                                 struct wsg_error *err);
int wsg_userstore_tx_delete_role(struct wsg_db_conn *c, uint64_t rid,
                                 struct wsg_error *err);
/* Grant is idempotent; revoking a membership that does not exist is WSG_OK
 * with `*held` 0 (1 when one was removed). */
int wsg_userstore_tx_grant(struct wsg_db_conn *c, uint64_t uid, uint64_t rid,
                           struct wsg_error *err);
int wsg_userstore_tx_revoke(struct wsg_db_conn *c, uint64_t uid, uint64_t rid,
                            int *held, struct wsg_error *err);
/* Management tokens of user `uid` issued at or before `now_us` end (on
 * every gateway), the password unchanged. */
int wsg_userstore_end_tokens(struct wsg_db_conn *c, uint64_t uid,
                             int64_t now_us, struct wsg_error *err);
/* `sealed` NULL makes the user PasswordText-only. The user's tokens
 * issued at or before `now_us` (wsg_token_now_us()) end. */
int wsg_userstore_tx_set_password(struct wsg_db_conn *c, uint64_t uid,
                                  const char *password_hash,
                                  const unsigned char *sealed,
                                  size_t sealed_len, int64_t now_us,
                                  struct wsg_error *err);

/* -------- certificates (user_certs, schema version 6) -------- */

/* Rows: fingerprint, subject, issuer, serial, not_after (seconds since the
 * epoch), created_at (the same), created_by (NULL: the CLI), oldest
 * first. Caller frees `*res`. */
int wsg_userstore_list_certs(struct wsg_db_conn *c, uint64_t uid,
                             struct wsg_db_result **res, struct wsg_error *err);
/* The name of the user holding the certificate (`*owner`, caller frees), or
 * WSG_ERR_NOTFOUND. */
int wsg_userstore_cert_owner(struct wsg_db_conn *c, const char *fingerprint,
                             char **owner, struct wsg_error *err);
/* Steps of accounts.c's certificate changes, inside its transaction. A
 * fingerprint already in the store (any user's) is WSG_ERR_EXISTS. */
int wsg_userstore_tx_insert_cert(struct wsg_db_conn *c, uint64_t uid,
                                 const struct wsg_usercert *cert,
                                 const char *created_by, struct wsg_error *err);
/* `*held` 1 when user `uid` held the certificate and it was removed. */
int wsg_userstore_tx_delete_cert(struct wsg_db_conn *c, uint64_t uid,
                                 const char *fingerprint, int *held,
                                 struct wsg_error *err);

/* -------- revoked management tokens (revoked_tokens) -------- */

/* Records `jti` until `expires_at` (idempotent), purging rows expired before
 * `now`. */
int wsg_userstore_revoke_token(struct wsg_db_conn *c, const char *jti,
                               int64_t expires_at, int64_t now,
                               struct wsg_error *err);
/* `*revoked` is 1 when `jti` is recorded. */
int wsg_userstore_token_revoked(struct wsg_db_conn *c, const char *jti,
                                int *revoked, struct wsg_error *err);

#endif
