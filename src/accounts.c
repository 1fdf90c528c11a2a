#include "accounts.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hex.h"
#include "mem.h"

/* One change's transaction: its locks and what they showed. */
struct tx {
	struct wsg_db_conn *c;
	const char *admin_role;
	const struct wsg_accounts_actor *by;
	uint64_t admin_rid;           /* 0: the admin role does not exist */
	struct wsg_db_result *admins; /* admins' names, read under the lock */
	struct wsg_accounts_result *res;
	struct wsg_error *err;
	int open;
	int autocommit_off;
	char mark[33]; /* written into the guard row, read back at the end */
};

static void
result_clear(struct wsg_accounts_result *res)
{
	memset(res, 0, sizeof(*res));
}

/* Records a refusal by rule `rule`; returns WSG_ERR_PERM. */
static int
refuse(struct wsg_accounts_result *res, struct wsg_error *err,
       enum wsg_accounts_rule rule, const char *reason)
{
	res->rule = rule;
	return wsg_error_set(err, WSG_ERR_PERM, WSG_FAULT_CLIENT, "%s", reason);
}

/* Records that `name` does not exist; returns WSG_ERR_NOTFOUND. */
static int
missing(struct wsg_accounts_result *res, struct wsg_error *err,
        const char *name, int is_role)
{
	res->missing = name;
	res->missing_role = is_role;
	return wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_CLIENT,
	                     "no %s '%s'", is_role ? "role" : "user", name);
}

/* A name to look up: one the store cannot hold names nobody, so it is
 * missing as a lookup would find it, with the reason in `err`. */
static int
check_existing(struct wsg_accounts_result *res, struct wsg_error *err,
               const char *name, int is_role)
{
	if (wsg_userstore_check_name(is_role ? "role name" : "username", name,
	                             is_role, err) == WSG_OK)
		return WSG_OK;
	res->missing = name;
	res->missing_role = is_role;
	return WSG_ERR_NOTFOUND;
}

/* 1 when `name` is a first-column value of `rows`. */
static int
rows_have(const struct wsg_db_result *rows, const char *name)
{
	size_t i;

	for (i = 0; rows != NULL && i < rows->nrows; i++) {
		const char *v = rows->cells[i * rows->ncols];

		if (v != NULL && strcmp(v, name) == 0)
			return 1;
	}
	return 0;
}

static int
is_self(const struct wsg_accounts_actor *by, const char *name)
{
	return by != NULL && strcmp(by->name, name) == 0;
}

/*
 * Opens the transaction and takes the first locks: the account guard row
 * (written, so that concurrent changes on other Galera nodes conflict at
 * certification rather than each pass a rule checked on its own node),
 * the admin role's row, then its memberships, whose names land in t->admins.
 * `create_role`: the role is created when missing (an upsert locks the new row;
 * locking a missing one would take a gap lock on which two bootstraps
 * deadlock). `need_admin`: the caller must be among the admins.
 */
static int
tx_begin(struct tx *t, int create_role, int need_admin)
{
	unsigned char raw[16];
	int rc;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return wsg_error_set(t->err, WSG_ERR_CRYPTO, WSG_FAULT_SERVER,
		                     "no randomness for the transaction mark");
	wsg_hex_encode(raw, sizeof(raw), t->mark);
	/* Should a replicated change abort the transaction with the error
	 * lost on a statement that has no answer, what follows must not
	 * commit on its own: the mark, read back before COMMIT, tells. */
	rc = wsg_userstore_tx_autocommit(t->c, 0, t->err);
	if (rc != WSG_OK)
		return rc;
	t->autocommit_off = 1;
	rc = wsg_db_begin(t->c, t->err);
	if (rc != WSG_OK)
		return rc;
	t->open = 1;
	rc = wsg_userstore_tx_guard(t->c, t->mark, t->err);
	if (rc != WSG_OK)
		return rc;
	if (create_role)
		rc = wsg_userstore_tx_upsert_role(t->c, t->admin_role,
		                                  &t->admin_rid, t->err);
	else
		rc = wsg_userstore_tx_lock_role(t->c, t->admin_role,
		                                &t->admin_rid, t->err);
	if (rc == WSG_OK && t->admin_rid != 0)
		rc = wsg_userstore_tx_role_members(t->c, t->admin_rid,
		                                   &t->admins, t->err);
	if (rc != WSG_OK)
		return rc;
	if (t->admins == NULL)
		t->admins = wsg_mem_calloc(1, sizeof(*t->admins));
	if (need_admin && !rows_have(t->admins, t->by->name))
		return refuse(t->res, t->err, WSG_ACCOUNTS_RULE_NOT_ADMIN,
		              "the caller no longer holds the admin role");
	return WSG_OK;
}

/*
 * Commits when `rc` is WSG_OK and the transaction is still the one that
 * wrote the mark, else (or when the commit fails) rolls back; restores
 * autocommit; frees the transaction's reads. Returns the outcome. Should
 * autocommit not come back the connection is as good as lost: its error
 * (WSG_ERR_CONNECT as a rule) is returned, as when the answer to a COMMIT
 * is lost, and the caller reconnects.
 */
static int
tx_end(struct tx *t, int rc)
{
	struct wsg_error restore;

	if (rc == WSG_OK && t->open)
		rc = wsg_userstore_tx_guard_held(t->c, t->mark, t->err);
	if (rc == WSG_OK && t->open)
		rc = wsg_db_commit(t->c, t->err);
	if (rc != WSG_OK && (t->open || t->autocommit_off))
		wsg_db_rollback(t->c);
	t->open = 0;
	wsg_error_clear(&restore);
	if (t->autocommit_off &&
	    wsg_userstore_tx_autocommit(t->c, 1, &restore) != WSG_OK &&
	    rc == WSG_OK) {
		*t->err = restore;
		rc = restore.code;
	}
	t->autocommit_off = 0;
	wsg_db_result_free(t->admins);
	t->admins = NULL;
	return rc;
}

/*
 * After a transaction ended with `rc`: 1 when it lost to a concurrent one
 * (deadlock, Galera certification) for the first time, so the caller runs
 * it once more. That is safe: the loser was rolled back whole (a failed
 * certification applies nothing anywhere), and the new attempt reads and
 * decides afresh, as if the request had come a moment later.
 */
static int
again(struct tx *t, int rc, int *tries)
{
	if (rc != WSG_ERR_CONFLICT || (*tries)++ > 0)
		return 0;
	result_clear(t->res);
	wsg_error_clear(t->err);
	return 1;
}

/* Locks the user's row and reads the user (`*rec`, caller frees). */
static int
lock_user(struct tx *t, const char *name, uint64_t *uid,
          struct wsg_user_record **rec)
{
	int rc;

	*rec = NULL;
	rc = check_existing(t->res, t->err, name, 0);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_userstore_tx_lock_user(t->c, name, uid, t->err);
	if (rc == WSG_OK && *uid == 0)
		return missing(t->res, t->err, name, 0);
	if (rc == WSG_OK)
		rc = wsg_userstore_get(t->c, name, rec, t->err);
	if (rc == WSG_ERR_NOTFOUND)
		return missing(t->res, t->err, name, 0);
	return rc;
}

/* Locks an existing role's row. */
static int
lock_role(struct tx *t, const char *name, uint64_t *rid)
{
	int rc;

	rc = check_existing(t->res, t->err, name, 1);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_userstore_tx_lock_role(t->c, name, rid, t->err);
	if (rc == WSG_OK && *rid == 0)
		return missing(t->res, t->err, name, 1);
	return rc;
}

/* Grants role `rid` (`name`); the admin role closes the bootstrap. */
static int
grant(struct tx *t, uint64_t uid, uint64_t rid, const char *name)
{
	int rc;

	rc = wsg_userstore_tx_grant(t->c, uid, rid, t->err);
	if (rc == WSG_OK && strcmp(name, t->admin_role) == 0)
		rc = wsg_userstore_close_bootstrap(t->c, t->err);
	return rc;
}

/*
 * May the caller remove the admin `rec`? Only the account that created it
 * through the API. `self_ok`: removing one's own admin role is fine.
 */
static int
check_creator(struct tx *t, const struct wsg_user_record *rec, int self_ok)
{
	const struct wsg_accounts_actor *by = t->by;
	struct wsg_accounts_result *res = t->res;

	if (by == NULL || (self_ok && is_self(by, rec->username)))
		return WSG_OK;
	if (!rec->by_api)
		return refuse(res, t->err, WSG_ACCOUNTS_RULE_NOT_BY_API,
		              "an admin not created through the management "
		              "API");
	/* The creator's account, not its name: a later account under a
	 * deleted creator's name is someone else. */
	if (rec->created_by_id == 0)
		return refuse(res, t->err, WSG_ACCOUNTS_RULE_CREATOR_GONE,
		              "the admin's creator no longer exists");
	if (rec->created_by_id != by->id) {
		snprintf(res->creator, sizeof(res->creator), "%s",
		         rec->created_by != NULL ? rec->created_by : "-");
		return refuse(res, t->err, WSG_ACCOUNTS_RULE_NOT_CREATOR,
		              "only the admin's creator may remove it");
	}
	return WSG_OK;
}

/* The API never takes away the last admin. */
static int
check_last_admin(struct tx *t)
{
	if (t->by != NULL && t->admins->nrows <= 1)
		return refuse(t->res, t->err, WSG_ACCOUNTS_RULE_LAST_ADMIN,
		              "the last admin");
	return WSG_OK;
}

/* Grants the roles of a new user: the operator's are created as needed. */
static int
grant_new_roles(struct tx *t, const struct wsg_accounts_user *u, uint64_t uid)
{
	uint64_t rid;
	size_t i;
	int rc = WSG_OK;

	if (u->admin) {
		if (t->admin_rid == 0)
			rc = wsg_userstore_tx_upsert_role(
			        t->c, t->admin_role, &t->admin_rid, t->err);
		if (rc == WSG_OK)
			rc = grant(t, uid, t->admin_rid, t->admin_role);
	}
	for (i = 0; rc == WSG_OK && i < u->nroles; i++) {
		if (t->by == NULL)
			rc = wsg_userstore_tx_upsert_role(t->c, u->roles[i],
			                                  &rid, t->err);
		else
			rc = lock_role(t, u->roles[i], &rid);
		if (rc == WSG_OK)
			rc = grant(t, uid, rid, u->roles[i]);
	}
	return rc;
}

int
wsg_accounts_add_user(struct wsg_db_conn *c, const char *admin_role,
                      const struct wsg_accounts_actor *by,
                      const struct wsg_accounts_user *u,
                      struct wsg_accounts_result *res, struct wsg_error *err)
{
	struct tx t = {c, admin_role, by, 0, NULL, res, err, 0, 0, ""};
	size_t i;
	int rc, tries = 0;

	result_clear(res);
	/* Bad input costs no statement. */
	rc = wsg_userstore_check_new_name("username", u->name, 0, err);
	for (i = 0; rc == WSG_OK && i < u->nroles; i++)
		rc = wsg_userstore_check_new_name("role name", u->roles[i], 1,
		                                  err);
	if (rc != WSG_OK)
		return rc;
	do {
		rc = tx_begin(&t, 0, by != NULL);
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_insert_user(
			        c, u->name, u->password_hash, u->sealed,
			        u->sealed_len, by != NULL ? by->name : NULL,
			        by != NULL ? by->id : 0, &res->uid, err);
		if (rc == WSG_OK)
			rc = grant_new_roles(&t, u, res->uid);
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}

int
wsg_accounts_check_delete_user(const struct wsg_accounts_actor *by,
                               const char *name,
                               struct wsg_accounts_result *res,
                               struct wsg_error *err)
{
	result_clear(res);
	if (is_self(by, name))
		return refuse(res, err, WSG_ACCOUNTS_RULE_SELF,
		              "a user cannot delete itself");
	return WSG_OK;
}

int
wsg_accounts_delete_user(struct wsg_db_conn *c, const char *admin_role,
                         const struct wsg_accounts_actor *by, const char *name,
                         struct wsg_accounts_result *res, struct wsg_error *err)
{
	struct tx t = {c, admin_role, by, 0, NULL, res, err, 0, 0, ""};
	struct wsg_user_record *rec = NULL;
	uint64_t uid = 0;
	int rc, tries = 0;

	rc = wsg_accounts_check_delete_user(by, name, res, err);
	if (rc != WSG_OK)
		return rc;
	do {
		rc = tx_begin(&t, 0, by != NULL);
		if (rc == WSG_OK)
			rc = lock_user(&t, name, &uid, &rec);
		if (rc == WSG_OK)
			res->was_admin = rows_have(t.admins, name);
		if (rc == WSG_OK && res->was_admin) {
			rc = check_creator(&t, rec, 0);
			if (rc == WSG_OK)
				rc = check_last_admin(&t);
		}
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_delete_user(c, uid, err);
		wsg_userstore_record_free(rec);
		rec = NULL;
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}

int
wsg_accounts_check_set_password(const char *admin_role,
                                const struct wsg_accounts_actor *by,
                                const struct wsg_user_record *target,
                                struct wsg_accounts_result *res,
                                struct wsg_error *err)
{
	result_clear(res);
	if (by != NULL && !is_self(by, target->username) &&
	    wsg_userstore_roles_have(target->roles, admin_role))
		return refuse(res, err, WSG_ACCOUNTS_RULE_OTHER_ADMIN,
		              "only an admin's own password may be set through "
		              "the management API");
	return WSG_OK;
}

int
wsg_accounts_set_password(struct wsg_db_conn *c, const char *admin_role,
                          const struct wsg_accounts_actor *by, const char *name,
                          const struct wsg_user_record *seen,
                          const char *password_hash,
                          const unsigned char *sealed, size_t sealed_len,
                          int64_t now_us, struct wsg_accounts_result *res,
                          struct wsg_error *err)
{
	struct tx t = {c, admin_role, by, 0, NULL, res, err, 0, 0, ""};
	struct wsg_user_record *now = NULL;
	int self = is_self(by, name);
	uint64_t uid = 0;
	int rc, tries = 0;

	result_clear(res);
	do {
		rc = tx_begin(&t, 0, by != NULL && !self);
		if (rc == WSG_OK)
			rc = lock_user(&t, name, &uid, &now);
		if (rc == WSG_OK && seen != NULL &&
		    (now->id != seen->id ||
		     strcmp(now->password_hash, seen->password_hash) != 0))
			rc = refuse(res, err, WSG_ACCOUNTS_RULE_CHANGED,
			            "the user changed meanwhile");
		/* Made an admin since the caller's look is a change too. */
		if (rc == WSG_OK && by != NULL && !self &&
		    rows_have(t.admins, name))
			rc = refuse(res, err,
			            seen != NULL
			                    ? WSG_ACCOUNTS_RULE_CHANGED
			                    : WSG_ACCOUNTS_RULE_OTHER_ADMIN,
			            "the user is an admin");
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_set_password(
			        c, uid, password_hash, sealed, sealed_len,
			        now_us, err);
		wsg_userstore_record_free(now);
		now = NULL;
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}

/* Names of roles to grant: the rules for new names, as they go into
 * X-WSS-Roles. */
static int
check_new_roles(const char *const *added, size_t nadded, struct wsg_error *err)
{
	size_t i;
	int rc = WSG_OK;

	for (i = 0; rc == WSG_OK && i < nadded; i++)
		rc = wsg_userstore_check_new_name("role name", added[i], 1,
		                                  err);
	return rc;
}

int
wsg_accounts_change_roles(struct wsg_db_conn *c, const char *admin_role,
                          const struct wsg_accounts_actor *by, const char *name,
                          const char *const *added, size_t nadded,
                          const char *const *removed, size_t nremoved,
                          struct wsg_accounts_result *res,
                          struct wsg_error *err)
{
	struct tx t = {c, admin_role, by, 0, NULL, res, err, 0, 0, ""};
	struct wsg_user_record *rec = NULL;
	uint64_t uid = 0, rid;
	size_t i;
	int rc, gone, tries = 0;

	result_clear(res);
	rc = check_new_roles(added, nadded, err);
	if (rc != WSG_OK)
		return rc;
	do {
		rc = tx_begin(&t, 0, by != NULL);
		if (rc == WSG_OK)
			rc = lock_user(&t, name, &uid, &rec);
		/* Taking the admin role away is removing an admin. */
		for (i = 0; rc == WSG_OK && i < nremoved; i++) {
			if (strcmp(removed[i], admin_role) != 0 ||
			    !rows_have(t.admins, name))
				continue;
			rc = check_creator(&t, rec, 1);
			if (rc == WSG_OK)
				rc = check_last_admin(&t);
		}
		for (i = 0; rc == WSG_OK && i < nadded; i++) {
			rc = lock_role(&t, added[i], &rid);
			if (rc == WSG_OK)
				rc = grant(&t, uid, rid, added[i]);
		}
		for (i = 0; rc == WSG_OK && i < nremoved; i++) {
			rc = lock_role(&t, removed[i], &rid);
			if (rc == WSG_OK)
				rc = wsg_userstore_tx_revoke(c, uid, rid, &gone,
				                             err);
			if (rc == WSG_OK)
				res->revoked += (size_t)gone;
		}
		wsg_userstore_record_free(rec);
		rec = NULL;
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}

int
wsg_accounts_add_role(struct wsg_db_conn *c, const char *admin_role,
                      const struct wsg_accounts_actor *by, const char *role,
                      struct wsg_accounts_result *res, struct wsg_error *err)
{
	struct tx t = {c, admin_role, by, 0, NULL, res, err, 0, 0, ""};
	uint64_t rid;
	int rc, tries = 0;

	result_clear(res);
	rc = wsg_userstore_check_new_name("role name", role, 1, err);
	if (rc != WSG_OK)
		return rc;
	do {
		rc = tx_begin(&t, 0, by != NULL);
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_insert_role(c, role, &rid, err);
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}

int
wsg_accounts_check_delete_role(const char *admin_role, const char *role,
                               struct wsg_accounts_result *res,
                               struct wsg_error *err)
{
	result_clear(res);
	if (strcmp(role, admin_role) == 0)
		return refuse(res, err, WSG_ACCOUNTS_RULE_ADMIN_ROLE,
		              "the admin role cannot be deleted");
	return WSG_OK;
}

int
wsg_accounts_delete_role(struct wsg_db_conn *c, const char *admin_role,
                         const struct wsg_accounts_actor *by, const char *role,
                         struct wsg_accounts_result *res, struct wsg_error *err)
{
	struct tx t = {c, admin_role, by, 0, NULL, res, err, 0, 0, ""};
	uint64_t rid = 0;
	int rc, tries = 0;

	rc = wsg_accounts_check_delete_role(admin_role, role, res, err);
	if (rc != WSG_OK)
		return rc;
	do {
		rc = tx_begin(&t, 0, by != NULL);
		if (rc == WSG_OK)
			rc = lock_role(&t, role, &rid);
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_delete_role(c, rid, err);
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}

/* Opens a certificate change of user `name`: the transaction, the user's
 * row, and the rule on other admins' certificates. */
static int
cert_begin(struct tx *t, const char *name, uint64_t *uid)
{
	struct wsg_user_record *rec = NULL;
	int rc;

	rc = tx_begin(t, 0, t->by != NULL);
	if (rc == WSG_OK)
		rc = lock_user(t, name, uid, &rec);
	wsg_userstore_record_free(rec);
	if (rc == WSG_OK && t->by != NULL && !is_self(t->by, name) &&
	    rows_have(t->admins, name))
		rc = refuse(t->res, t->err, WSG_ACCOUNTS_RULE_OTHER_ADMIN_CERT,
		            "only an admin's own certificates may be changed "
		            "through the management API");
	return rc;
}

int
wsg_accounts_add_cert(struct wsg_db_conn *c, const char *admin_role,
                      const struct wsg_accounts_actor *by, const char *name,
                      const struct wsg_usercert *cert,
                      struct wsg_accounts_result *res, struct wsg_error *err)
{
	struct tx t = {c, admin_role, by, 0, NULL, res, err, 0, 0, ""};
	char *owner = NULL;
	uint64_t uid = 0;
	int rc, tries = 0;

	result_clear(res);
	do {
		rc = cert_begin(&t, name, &uid);
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_insert_cert(
			        c, uid, cert, by != NULL ? by->name : NULL,
			        err);
		/* Name the holder: the operator or admin can then act on it. */
		if (rc == WSG_ERR_EXISTS &&
		    wsg_userstore_cert_owner(c, cert->fingerprint, &owner,
		                             NULL) == WSG_OK) {
			snprintf(res->owner, sizeof(res->owner), "%s", owner);
			wsg_error_set(
			        err, WSG_ERR_EXISTS, WSG_FAULT_CLIENT,
			        "certificate %s is already mapped to user "
			        "'%s'",
			        cert->fingerprint, owner);
		}
		free(owner);
		owner = NULL;
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}

int
wsg_accounts_delete_cert(struct wsg_db_conn *c, const char *admin_role,
                         const struct wsg_accounts_actor *by, const char *name,
                         const char *fingerprint,
                         struct wsg_accounts_result *res, struct wsg_error *err)
{
	struct tx t = {c, admin_role, by, 0, NULL, res, err, 0, 0, ""};
	uint64_t uid = 0;
	int rc, held = 0, tries = 0;

	result_clear(res);
	do {
		rc = cert_begin(&t, name, &uid);
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_delete_cert(c, uid, fingerprint,
			                                  &held, err);
		if (rc == WSG_OK && !held) {
			res->missing = fingerprint;
			res->missing_cert = 1;
			rc = wsg_error_set(err, WSG_ERR_NOTFOUND,
			                   WSG_FAULT_CLIENT,
			                   "user '%s' holds no certificate %s",
			                   name, fingerprint);
		}
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}

/* The bootstrap is closed when the admin role has members (`admins`) or
 * the store records that it had some. */
static int
bootstrap_closed(struct wsg_db_conn *c, const struct wsg_db_result *admins,
                 struct wsg_accounts_result *res, struct wsg_error *err)
{
	int rc, done = 1;

	if (admins != NULL && admins->nrows > 0)
		return refuse(res, err, WSG_ACCOUNTS_RULE_ADMIN_EXISTS,
		              "an admin exists");
	rc = wsg_userstore_bootstrap_done(c, &done, err);
	if (rc != WSG_OK) {
		res->rule = WSG_ACCOUNTS_RULE_BOOTSTRAP_UNKNOWN;
		return WSG_ERR_PERM;
	}
	if (done)
		return refuse(res, err, WSG_ACCOUNTS_RULE_BOOTSTRAP_DONE,
		              "an admin existed before");
	return WSG_OK;
}

int
wsg_accounts_bootstrap_open(struct wsg_db_conn *c, const char *admin_role,
                            struct wsg_accounts_result *res,
                            struct wsg_error *err)
{
	struct wsg_db_result *admins = NULL;
	int rc;

	result_clear(res);
	rc = wsg_userstore_role_members(c, admin_role, &admins, err);
	if (rc == WSG_OK || rc == WSG_ERR_NOTFOUND)
		rc = bootstrap_closed(c, admins, res, err);
	wsg_db_result_free(admins);
	return rc;
}

int
wsg_accounts_bootstrap(struct wsg_db_conn *c, const char *admin_role,
                       const struct wsg_accounts_user *u,
                       struct wsg_accounts_result *res, struct wsg_error *err)
{
	struct tx t = {c, admin_role, NULL, 0, NULL, res, err, 0, 0, ""};
	int rc, tries = 0;

	result_clear(res);
	rc = wsg_userstore_check_new_name("username", u->name, 0, err);
	if (rc != WSG_OK)
		return rc;
	/* A retry after a lost race finds the winner's admin: refused. */
	do {
		rc = tx_begin(&t, 1, 0);
		/* Under the lock: another first login may have won the race. */
		if (rc == WSG_OK)
			rc = bootstrap_closed(c, t.admins, res, err);
		if (rc == WSG_OK)
			rc = wsg_userstore_close_bootstrap(c, err);
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_insert_user(
			        c, u->name, u->password_hash, u->sealed,
			        u->sealed_len, NULL, 0, &res->uid, err);
		if (rc == WSG_OK)
			rc = wsg_userstore_tx_grant(c, res->uid, t.admin_rid,
			                            err);
		rc = tx_end(&t, rc);
	} while (again(&t, rc, &tries));
	return rc;
}
