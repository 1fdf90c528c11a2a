/*
 * Account changes with the admin rules, in one place: the management API's
 * handlers and the offline CLI verbs (and any later store front end) call
 * these, never the userstore's transaction steps themselves.
 *
 * Each change is one transaction on a blocking connection, and every one
 * takes its locks in the same order: the account guard row (written: on a
 * Galera cluster row locks are local to a node, so only a write shared by
 * all changes makes two concurrent ones on two nodes conflict), the row of
 * the configured admin role (FOR UPDATE), then that role's memberships
 * (shared), then the user's row, then other role rows. Writers therefore queue
 * on the guard row instead of deadlocking, and the rules are decided
 * only on what was read under those locks: a concurrent change cannot slip in
 * between a check and the write.
 *
 * The rules bind a caller of the management API (`by` set). The operator
 * on the command line (`by` NULL) is the recovery path and is bound by
 * none of them, except that the first-admin bootstrap closes for good once
 * an admin exists, whoever made it.
 *  - The caller must still hold the admin role (its token may be older),
 *    except to set its own password.
 *  - Nobody deletes itself.
 *  - An admin user is deleted, or loses the admin role, only by the admin
 *    account that created it through the API; losing the role, also by
 *    itself. Never the last admin.
 *  - An admin sets its own password and non-admins' ones only.
 *  - An admin adds and removes certificates of non-admins and its own
 *    only (a certificate is a credential, like a password).
 *  - The admin role itself is never deleted.
 *  - Roles given to a user must exist; the operator's are created.
 */
#ifndef WSG_ACCOUNTS_H
#define WSG_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "types.h"
#include "userstore.h"

/* The management API user asking for a change. */
struct wsg_accounts_actor {
	const char *name; /* its username */
	uint64_t id;      /* its users.id, which the creator rule follows */
};

/* Why a change was refused (WSG_ERR_PERM). */
enum wsg_accounts_rule {
	WSG_ACCOUNTS_RULE_NONE = 0,
	WSG_ACCOUNTS_RULE_NOT_ADMIN,    /* the caller no longer is an admin */
	WSG_ACCOUNTS_RULE_SELF,         /* deleting oneself */
	WSG_ACCOUNTS_RULE_NOT_BY_API,   /* admin made by the CLI / bootstrap */
	WSG_ACCOUNTS_RULE_CREATOR_GONE, /* its creator's account is gone */
	WSG_ACCOUNTS_RULE_NOT_CREATOR,  /* another admin created it */
	WSG_ACCOUNTS_RULE_LAST_ADMIN,   /* it is the last admin */
	WSG_ACCOUNTS_RULE_OTHER_ADMIN,  /* another admin's password */
	WSG_ACCOUNTS_RULE_CHANGED,      /* changed since the caller read it */
	WSG_ACCOUNTS_RULE_ADMIN_ROLE,   /* deleting the admin role */
	WSG_ACCOUNTS_RULE_ADMIN_EXISTS, /* bootstrap: an admin exists */
	WSG_ACCOUNTS_RULE_BOOTSTRAP_DONE,    /* bootstrap: one existed before */
	WSG_ACCOUNTS_RULE_BOOTSTRAP_UNKNOWN, /* bootstrap state unreadable */
	WSG_ACCOUNTS_RULE_OTHER_ADMIN_CERT,  /* another admin's certificates */
};

/*
 * What a change did or why it did not. Every function clears it first.
 * Return values: WSG_OK; WSG_ERR_PERM (`rule`); WSG_ERR_NOTFOUND (`missing`
 * names the user or role); WSG_ERR_EXISTS (the name to create is taken);
 * WSG_ERR_INVAL (a name or secret the store refuses); else the store's
 * failure (WSG_ERR_DB, WSG_ERR_CONNECT, ...). WSG_ERR_CONFLICT: a
 * concurrent change won twice in a row (the first loss is retried at once,
 * from the start); nothing was applied. Every failure also leaves a
 * one-line reason in the `struct wsg_error`, which the CLI prints.
 */
struct wsg_accounts_result {
	enum wsg_accounts_rule rule;
	const char *missing; /* points into the arguments */
	int missing_role;    /* `missing` is a role, not a user */
	int missing_cert;    /* `missing` is a certificate of the user */
	int was_admin;       /* delete: the user held the admin role */
	size_t revoked;      /* roles: memberships actually removed */
	uint64_t uid;        /* add, bootstrap: the new user's id */
	/* NOT_CREATOR: the creator's current name, "-" when unknown. */
	char creator[WSG_USERSTORE_MAX_NAME + 1];
	/* add_cert WSG_ERR_EXISTS: the user holding the certificate, "" when
	 * unknown. */
	char owner[WSG_USERSTORE_MAX_NAME + 1];
};

/* A user to create. Strings are the caller's. */
struct wsg_accounts_user {
	const char *name;
	const char *password_hash;   /* argon2id PHC string */
	const unsigned char *sealed; /* NULL: PasswordText only */
	size_t sealed_len;
	int admin;                /* grant `admin_role` */
	const char *const *roles; /* more roles; NULL when nroles is 0 */
	size_t nroles;
};

/*
 * Each change below runs one transaction on `c` (no transaction may be
 * open) and commits it only on WSG_OK. `admin_role` is
 * management.admin_role; `by` the API caller, NULL for the operator.
 */

/* Creates the user with its roles; records `by` as its creator. */
int wsg_accounts_add_user(struct wsg_db_conn *c, const char *admin_role,
                          const struct wsg_accounts_actor *by,
                          const struct wsg_accounts_user *u,
                          struct wsg_accounts_result *res,
                          struct wsg_error *err);

/* The rules of deleting `name` that need no store (no self-delete); also
 * applied by wsg_accounts_delete_user(). WSG_OK or WSG_ERR_PERM. */
int wsg_accounts_check_delete_user(const struct wsg_accounts_actor *by,
                                   const char *name,
                                   struct wsg_accounts_result *res,
                                   struct wsg_error *err);

/* Deletes the user and its memberships. */
int wsg_accounts_delete_user(struct wsg_db_conn *c, const char *admin_role,
                             const struct wsg_accounts_actor *by,
                             const char *name, struct wsg_accounts_result *res,
                             struct wsg_error *err);

/* The rules of setting the password of `target` (as the caller read it)
 * that need no lock: an admin only sets non-admins' passwords and its
 * own. WSG_OK or WSG_ERR_PERM. */
int wsg_accounts_check_set_password(const char *admin_role,
                                    const struct wsg_accounts_actor *by,
                                    const struct wsg_user_record *target,
                                    struct wsg_accounts_result *res,
                                    struct wsg_error *err);

/*
 * Replaces the user's hash and sealed secret (`sealed` NULL: PasswordText
 * only) and ends its tokens issued at or before `now_us`. `seen` (NULL:
 * none) is the record the caller checked, the old password say: when the
 * user under the lock is no longer that one (re-created, new password,
 * made an admin) the change is refused as WSG_ACCOUNTS_RULE_CHANGED.
 */
int wsg_accounts_set_password(struct wsg_db_conn *c, const char *admin_role,
                              const struct wsg_accounts_actor *by,
                              const char *name,
                              const struct wsg_user_record *seen,
                              const char *password_hash,
                              const unsigned char *sealed, size_t sealed_len,
                              int64_t now_us, struct wsg_accounts_result *res,
                              struct wsg_error *err);

/*
 * Grants the roles `added` (each must exist) and revokes `removed` from
 * the user, in that order; revoking a role the user lacks changes nothing
 * (res->revoked counts what was removed). Granting the admin role closes
 * the bootstrap.
 */
int wsg_accounts_change_roles(struct wsg_db_conn *c, const char *admin_role,
                              const struct wsg_accounts_actor *by,
                              const char *name, const char *const *added,
                              size_t nadded, const char *const *removed,
                              size_t nremoved, struct wsg_accounts_result *res,
                              struct wsg_error *err);

/* Creates a role without members. */
int wsg_accounts_add_role(struct wsg_db_conn *c, const char *admin_role,
                          const struct wsg_accounts_actor *by, const char *role,
                          struct wsg_accounts_result *res,
                          struct wsg_error *err);

/* The rule of deleting `role` that needs no store (never the admin role);
 * also applied by wsg_accounts_delete_role(). */
int wsg_accounts_check_delete_role(const char *admin_role, const char *role,
                                   struct wsg_accounts_result *res,
                                   struct wsg_error *err);

/* Deletes a role and its memberships. */
int wsg_accounts_delete_role(struct wsg_db_conn *c, const char *admin_role,
                             const struct wsg_accounts_actor *by,
                             const char *role, struct wsg_accounts_result *res,
                             struct wsg_error *err);

/*
 * Maps the certificate `cert` (wsg_usercert_parse()) to the user `name`,
 * recording `by` as who added it. A certificate maps to one user at most:
 * one already in the store (this user's or another's) is WSG_ERR_EXISTS
 * with its holder in res->owner.
 */
int wsg_accounts_add_cert(struct wsg_db_conn *c, const char *admin_role,
                          const struct wsg_accounts_actor *by, const char *name,
                          const struct wsg_usercert *cert,
                          struct wsg_accounts_result *res,
                          struct wsg_error *err);

/* Removes the certificate `fingerprint` (the store's form) from the user
 * `name`; one the user does not hold is WSG_ERR_NOTFOUND with
 * res->missing_cert set. */
int wsg_accounts_delete_cert(struct wsg_db_conn *c, const char *admin_role,
                             const struct wsg_accounts_actor *by,
                             const char *name, const char *fingerprint,
                             struct wsg_accounts_result *res,
                             struct wsg_error *err);

/*
 * -------- the first admin --------
 * When no admin has ever existed in the store (the bootstrap table, schema
 * version 3), a management login may create one; once an admin exists the
 * bootstrap is closed for good (a lost last admin is recovered with the
 * CLI).
 *
 * wsg_accounts_bootstrap_open() is the cheap look without locks, so that
 * logins of a running system never hash a password: WSG_OK when a
 * bootstrap may be tried, WSG_ERR_PERM with ADMIN_EXISTS, BOOTSTRAP_DONE or
 * BOOTSTRAP_UNKNOWN (the table cannot be read: the reason in `err`), or a
 * store failure.
 */
int wsg_accounts_bootstrap_open(struct wsg_db_conn *c, const char *admin_role,
                                struct wsg_accounts_result *res,
                                struct wsg_error *err);

/*
 * Creates `u` (u->admin and its roles ignored) as the first admin, closing
 * the bootstrap, in one transaction that holds the admin role's row from
 * the emptiness check to the commit: of several concurrent first logins,
 * on any gateway, one wins and the others get WSG_ERR_PERM
 * (ADMIN_EXISTS / BOOTSTRAP_DONE) or WSG_ERR_EXISTS (the name was taken).
 */
int wsg_accounts_bootstrap(struct wsg_db_conn *c, const char *admin_role,
                           const struct wsg_accounts_user *u,
                           struct wsg_accounts_result *res,
                           struct wsg_error *err);

#endif
