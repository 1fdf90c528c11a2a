#include "mgmt_users.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credcache.h"
#include "err.h"
#include "lockout.h"
#include "mem.h"
#include "mgmt_login.h"
#include "password.h"
#include "log.h"
#include "token.h"

static const char E_USER_FIELDS[] =
        "Missing one or more of the fields, 'userId', 'password' in the "
        "payload.";
static const char E_PW_MISSING[] =
        "New password or re-typed password is missing in the payload.";
static const char E_PW_MISMATCH[] =
        "New password and re-typed password does not match.";
static const char E_PW_OLD[] = "Failed to update user password. Please check "
                               "the current password entered and retry.";

/* MI's glob (`*` any run, `?` one character) as a LIKE pattern with '!'
 * escaping LIKE's own metacharacters. Caller frees. */
static char *
glob_to_like(const char *glob)
{
	char *out = wsg_mem_alloc(2 * strlen(glob) + 1), *o = out;

	for (; *glob != '\0'; glob++) {
		if (*glob == '*') {
			*o++ = '%';
		} else if (*glob == '?') {
			*o++ = '_';
		} else {
			if (*glob == '%' || *glob == '_' || *glob == '!')
				*o++ = '!';
			*o++ = *glob;
		}
	}
	*o = '\0';
	return out;
}

int
wsg_mgmt_users_query(struct wsg_mgmt_req *r, const char **pattern,
                     const char **role, char **search)
{
	const char *pat = wsg_mgmt_param(r, "pattern");
	const char *rl = wsg_mgmt_param(r, "role");
	char *key = wsg_mgmt_param_trimmed(r, "searchKey");

	*pattern = NULL;
	*role = NULL;
	*search = NULL;
	if ((pat != NULL && strlen(pat) > WSG_MGMT_MAX_PATTERN) ||
	    (key != NULL && strlen(key) > WSG_MGMT_MAX_PATTERN)) {
		wsg_mgmt_reply_error(r, 400,
		                     "%sThe pattern and searchKey must be at "
		                     "most %d bytes long",
		                     WSG_MGMT_E_REQUEST, WSG_MGMT_MAX_PATTERN);
		free(key);
		return WSG_ERR_INVAL;
	}
	*pattern = pat != NULL && pat[0] != '\0' ? pat : NULL;
	*role = rl != NULL && rl[0] != '\0' ? rl : NULL;
	*search = key;
	return WSG_OK;
}

void
wsg_mgmt_users_list(struct wsg_mgmt_req *r)
{
	const char *pattern, *role;
	char *search = NULL, *like = NULL;
	struct wsg_db_result *res = NULL;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	json_t *list;
	size_t i;

	wsg_error_clear(&err);
	if (wsg_mgmt_users_query(r, &pattern, &role, &search) != WSG_OK)
		goto out;
	if (pattern == NULL)
		pattern = "*";
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	like = glob_to_like(pattern);
	if (wsg_userstore_find_users(c, like, role, search, &res, &err) !=
	    WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		goto out;
	}
	list = json_array();
	for (i = 0; i < res->nrows; i++)
		json_array_append_new(list,
		                      json_pack("{s:s}", "userId",
		                                res->cells[i * res->ncols]));
	wsg_mgmt_reply(r, 200,
	               json_pack("{s:I,s:o}", "count", (json_int_t)res->nrows,
	                         "list", list));
out:
	wsg_db_result_free(res);
	free(like);
	free(search);
}

/*
 * The `domain` check, the connection and the user named in the path, for
 * the read-only resources; on failure the answer is already sent.
 */
static int
load_user(struct wsg_mgmt_req *r, const char *user, struct wsg_db_conn **c,
          struct wsg_user_record **rec)
{
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	rc = wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                           WSG_MGMT_E_REQUEST_DOT);
	if (rc == WSG_OK)
		rc = wsg_mgmt_db(r, c);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_userstore_get(*c, user, rec, &err);
	if (rc == WSG_ERR_NOTFOUND)
		wsg_mgmt_reply_not_found(r, "User", user);
	else if (rc != WSG_OK)
		wsg_mgmt_reply_db_error(r, &err);
	return rc;
}

void
wsg_mgmt_user_show(struct wsg_mgmt_req *r)
{
	const char *user = r->seg[1];
	struct wsg_user_record *rec = NULL;
	struct wsg_db_conn *c = NULL;

	if (load_user(r, user, &c, &rec) != WSG_OK)
		return;
	wsg_mgmt_reply_user(
	        r, rec,
	        wsg_userstore_roles_have(rec->roles,
	                                 r->m->cfg->management.admin_role));
	wsg_userstore_record_free(rec);
}

void
wsg_mgmt_reply_user(struct wsg_mgmt_req *r, const struct wsg_user_record *rec,
                    int admin)
{
	json_t *roles = json_array();
	const char *p;

	for (p = rec->roles; *p != '\0';) {
		size_t len = strcspn(p, ",");

		json_array_append_new(roles, json_stringn(p, len));
		p += len + (p[len] == ',');
	}
	wsg_mgmt_reply(r, 200,
	               json_pack("{s:s,s:b,s:o,s:o}", "userId", rec->username,
	                         "isAdmin", admin, "roles", roles, "createdBy",
	                         rec->created_by != NULL
	                                 ? json_string(rec->created_by)
	                                 : json_null()));
}

int
wsg_mgmt_parse_user_add(const struct wsg_management_conf *mc, json_t *o,
                        struct wsg_mgmt_user_add *a, struct wsg_mgmt_fail *f)
{
	const char *P = WSG_MGMT_E_REQUEST, *domain = NULL;
	json_t *roles, *v;
	char why[256];
	size_t i;
	int rc;

	memset(a, 0, sizeof(*a));
	a->digest = 1;
	if (json_object_get(o, "userId") == NULL ||
	    json_object_get(o, "password") == NULL)
		return wsg_mgmt_failf(f, 400, "%s%s", P, E_USER_FIELDS);
	if (wsg_mgmt_json_string(o, "userId", &a->user) != WSG_OK)
		return wsg_mgmt_failf(
		        f, 400, "%sThe field 'userId' must be a string", P);
	if (wsg_mgmt_json_string(o, "password", &a->pw) != WSG_OK)
		return wsg_mgmt_failf(
		        f, 400, "%sThe field 'password' must be a string", P);
	a->pw_len = strlen(a->pw);
	rc = wsg_mgmt_json_bool(o, "isAdmin", &a->admin);
	if (rc == WSG_ERR_INVAL)
		return wsg_mgmt_failf(f, 400,
		                      "%sThe field 'isAdmin' must be true or "
		                      "false",
		                      P);
	rc = wsg_mgmt_json_bool(o, "digestCapable", &a->digest);
	if (rc == WSG_ERR_INVAL)
		return wsg_mgmt_failf(
		        f, 400,
		        "%sThe field 'digestCapable' must be true "
		        "or false",
		        P);
	rc = wsg_mgmt_json_string(o, "domain", &domain);
	if (rc == WSG_ERR_INVAL)
		return wsg_mgmt_failf(
		        f, 400, "%sThe field 'domain' must be a string", P);
	if (wsg_mgmt_domain_check(domain, P, f) != WSG_OK)
		return WSG_ERR_INVAL;
	roles = json_object_get(o, "roles");
	if (roles != NULL && !json_is_null(roles)) {
		if (!json_is_array(roles) ||
		    json_array_size(roles) > WSG_MGMT_MAX_ADD_ROLES)
			return wsg_mgmt_failf(f, 400,
			                      "%sThe field 'roles' must be an "
			                      "array of at most %d role names",
			                      P, WSG_MGMT_MAX_ADD_ROLES);
		json_array_foreach(roles, i, v)
		{
			if (!json_is_string(v) ||
			    strlen(json_string_value(v)) !=
			            json_string_length(v) ||
			    wsg_mgmt_check_role(json_string_value(v), 1, why,
			                        sizeof(why)) != WSG_OK)
				return wsg_mgmt_failf(
				        f, 400,
				        "%sInvalid role name in 'roles': %s", P,
				        json_is_string(v)
				                ? why
				                : "it is not a string");
			a->roles[a->nroles++] = json_string_value(v);
		}
	}
	if (wsg_mgmt_check_username(a->user, why, sizeof(why)) != WSG_OK)
		return wsg_mgmt_failf(f, 400, "%sInvalid username: %s", P, why);
	if (wsg_mgmt_check_password(&mc->password_policy, a->pw, a->pw_len, why,
	                            sizeof(why)) != WSG_OK)
		return wsg_mgmt_failf(f, 400, "%sInvalid password: %s", P, why);
	return WSG_OK;
}

/* With the password's hash (`hash`, freed here): seals the password for
 * PasswordDigest when asked and writes the user in one transaction. */
static void
insert_user(struct wsg_mgmt_req *r, const struct wsg_mgmt_user_add *a,
            char *hash)
{
	const char *admin_role = r->m->cfg->management.admin_role;
	struct wsg_accounts_actor by = wsg_mgmt_actor(r);
	struct wsg_accounts_user u = {
	        .name = a->user,
	        .password_hash = hash,
	        .admin = a->admin,
	        .roles = a->roles,
	        .nroles = a->nroles,
	};
	struct wsg_accounts_result res;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	int rc = WSG_OK;

	wsg_error_clear(&err);
	if (a->digest)
		rc = wsg_password_seal(r->m->rt->master_key, a->user, a->pw,
		                       a->pw_len, &sealed, &sealed_len);
	if (rc != WSG_OK) {
		wsg_mgmt_reply_error(r, 500, "%s", WSG_MGMT_E_STORE);
		goto out;
	}
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	u.sealed = sealed;
	u.sealed_len = sealed_len;
	rc = wsg_accounts_add_user(c, admin_role, &by, &u, &res, &err);
	if (rc == WSG_ERR_EXISTS) {
		wsg_mgmt_reply_error(r, 400, "%sUser: %s already exists.",
		                     WSG_MGMT_E_REQUEST, a->user);
		goto out;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_accounts(r, rc, &res, &err);
		goto out;
	}
	wsg_credcache_invalidate(r->m->rt->credcache, a->user);
	wsg_mgmt_audit(r, "user_added",
	               "added user '%s' (%s, %s, %zu more "
	               "role%s)",
	               a->user, a->admin ? admin_role : "not admin",
	               a->digest ? "digest-capable" : "PasswordText only",
	               a->nroles, a->nroles == 1 ? "" : "s");
	wsg_mgmt_reply_status(r, "userId", a->user, "Added");
out:
	free(hash);
	free(sealed);
}

void
wsg_mgmt_users_add(struct wsg_mgmt_req *r)
{
	struct wsg_db_conn *c = NULL;
	struct wsg_mgmt_user_add a;
	struct wsg_mgmt_fail f;
	json_t *body = NULL;
	char *hash = NULL;

	if (wsg_mgmt_body(r, &body) != WSG_OK)
		goto out;
	if (wsg_mgmt_parse_user_add(&r->m->cfg->management, body, &a, &f) !=
	    WSG_OK) {
		wsg_mgmt_reply_fail(r, &f);
		goto out;
	}
	/* A broken database answers before any argon2 work. */
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	/* Argon2 before the transaction, so no lock waits on it. */
	if (wsg_mgmt_hash(r, a.pw, a.pw_len, WSG_MGMT_E_STORE, &hash) == WSG_OK)
		insert_user(r, &a, hash);
out:
	json_decref(body);
}

/* Answers a deletion the admin rules refused, with its audit line. */
static void
reply_delete_refused(struct wsg_mgmt_req *r, const char *user,
                     const struct wsg_accounts_result *res)
{
	switch (res->rule) {
	case WSG_ACCOUNTS_RULE_SELF:
		wsg_mgmt_audit(r, "mgmt_denied", "tried to delete itself");
		wsg_mgmt_reply_error(r, 400,
		                     "%sAttempt to delete the logged in user. "
		                     "Operation not allowed. Please login from "
		                     "another user.",
		                     WSG_MGMT_E_REQUEST_DOT);
		break;
	case WSG_ACCOUNTS_RULE_NOT_BY_API:
		wsg_mgmt_audit(r, "mgmt_denied",
		               "may not delete admin '%s' (not created through "
		               "the API)",
		               user);
		wsg_mgmt_reply_error(
		        r, 403,
		        "The admin user %s was not created through "
		        "the management API; only the wssgate "
		        "command line can delete it.",
		        user);
		break;
	case WSG_ACCOUNTS_RULE_CREATOR_GONE:
		wsg_mgmt_audit(r, "mgmt_denied",
		               "may not delete admin '%s' (its creator's "
		               "account is gone)",
		               user);
		wsg_mgmt_reply_error(
		        r, 403,
		        "The admin who created the admin user %s no "
		        "longer exists; only the wssgate command "
		        "line can delete it.",
		        user);
		break;
	case WSG_ACCOUNTS_RULE_NOT_CREATOR:
		wsg_mgmt_audit(r, "mgmt_denied",
		               "may not delete admin '%s' (created by '%s')",
		               user, res->creator);
		wsg_mgmt_reply_error(
		        r, 403,
		        "Only the admin who created the admin user "
		        "%s can delete it.",
		        user);
		break;
	default: /* WSG_ACCOUNTS_RULE_LAST_ADMIN */
		wsg_mgmt_reply_error(r, 403,
		                     "The last admin user cannot be deleted.");
		break;
	}
}

void
wsg_mgmt_user_delete(struct wsg_mgmt_req *r)
{
	const char *user = r->seg[1];
	struct wsg_accounts_actor by = wsg_mgmt_actor(r);
	struct wsg_accounts_result res;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                          WSG_MGMT_E_REQUEST_DOT) != WSG_OK)
		return;
	/* The rule that needs no store answers even when it is down. */
	rc = wsg_accounts_check_delete_user(&by, user, &res, &err);
	if (rc == WSG_OK && wsg_mgmt_db(r, &c) != WSG_OK)
		return;
	if (rc == WSG_OK)
		rc = wsg_accounts_delete_user(c,
		                              r->m->cfg->management.admin_role,
		                              &by, user, &res, &err);
	if (rc == WSG_ERR_PERM && res.rule != WSG_ACCOUNTS_RULE_NOT_ADMIN) {
		reply_delete_refused(r, user, &res);
		return;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_accounts(r, rc, &res, &err);
		return;
	}
	wsg_credcache_invalidate(r->m->rt->credcache, user);
	wsg_mgmt_audit(r, "user_deleted", "deleted user '%s'%s", user,
	               res.was_admin ? " (admin)" : "");
	wsg_mgmt_reply_status(r, "userId", user, "Deleted");
}

int
wsg_mgmt_parse_password_change(const struct wsg_management_conf *mc, json_t *o,
                               struct wsg_mgmt_password_change *p,
                               struct wsg_mgmt_fail *f)
{
	const char *P = WSG_MGMT_E_RETRY, *confirm = NULL;
	char why[256];
	int rc, b;

	memset(p, 0, sizeof(*p));
	p->digest = -1;
	if (json_object_get(o, "newPassword") == NULL ||
	    json_object_get(o, "confirmPassword") == NULL)
		return wsg_mgmt_failf(f, 400, "%s%s", P, E_PW_MISSING);
	if (wsg_mgmt_json_string(o, "newPassword", &p->new_pw) != WSG_OK ||
	    wsg_mgmt_json_string(o, "confirmPassword", &confirm) != WSG_OK)
		return wsg_mgmt_failf(f, 400,
		                      "%sThe fields 'newPassword' and "
		                      "'confirmPassword' must be strings",
		                      P);
	rc = wsg_mgmt_json_string(o, "oldPassword", &p->old_pw);
	if (rc == WSG_ERR_INVAL)
		return wsg_mgmt_failf(
		        f, 400, "%sThe field 'oldPassword' must be a string",
		        P);
	rc = wsg_mgmt_json_bool(o, "digestCapable", &b);
	if (rc == WSG_ERR_INVAL)
		return wsg_mgmt_failf(
		        f, 400,
		        "%sThe field 'digestCapable' must be true "
		        "or false",
		        P);
	if (rc == WSG_OK)
		p->digest = b;
	if (strcmp(p->new_pw, confirm) != 0)
		return wsg_mgmt_failf(f, 400, "%s%s", P, E_PW_MISMATCH);
	if (wsg_mgmt_check_password(&mc->password_policy, p->new_pw,
	                            strlen(p->new_pw), why,
	                            sizeof(why)) != WSG_OK)
		return wsg_mgmt_failf(f, 400, "%sInvalid password: %s", P, why);
	return WSG_OK;
}

/*
 * Sets the new password of `rec` (checked by the caller: its own old
 * password, or an admin changing a non-admin's): argon2 first, then the
 * transaction makes sure the user is still the one checked and writes the
 * new hash (and the password sealed for PasswordDigest when asked).
 */
static void
change_password(struct wsg_mgmt_req *r, const struct wsg_user_record *rec,
                const struct wsg_mgmt_password_change *p)
{
	const char *user = rec->username, *pw = p->new_pw;
	struct wsg_accounts_actor by = wsg_mgmt_actor(r);
	struct wsg_accounts_result res;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	char *hash = NULL;
	int rc, digest;

	wsg_error_clear(&err);
	digest = p->digest >= 0 ? p->digest : rec->digest_sealed != NULL;
	if (wsg_mgmt_hash(r, pw, strlen(pw), WSG_MGMT_E_STORE, &hash) != WSG_OK)
		goto out;
	rc = WSG_OK;
	if (digest)
		rc = wsg_password_seal(r->m->rt->master_key, user, pw,
		                       strlen(pw), &sealed, &sealed_len);
	if (rc != WSG_OK) {
		wsg_mgmt_reply_error(r, 500, "%s", WSG_MGMT_E_STORE);
		goto out;
	}
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	rc = wsg_accounts_set_password(c, r->m->cfg->management.admin_role, &by,
	                               user, rec, hash, sealed, sealed_len,
	                               wsg_token_now_us(), &res, &err);
	/* Changed meanwhile (re-created, promoted, new password): start over.
	 */
	if (rc == WSG_ERR_PERM && res.rule == WSG_ACCOUNTS_RULE_CHANGED) {
		wsg_mgmt_reply_error(
		        r, 400,
		        "%sThe user changed while the password was "
		        "being updated.",
		        WSG_MGMT_E_RETRY);
		goto out;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_accounts(r, rc, &res, &err);
		goto out;
	}
	wsg_credcache_invalidate(r->m->rt->credcache, user);
	wsg_mgmt_audit(r, "password_changed",
	               "changed the password of '%s' "
	               "(%s)",
	               user, digest ? "digest-capable" : "PasswordText only");
	wsg_mgmt_reply_status(r, "userId", user,
	                      "User password updated successfully.");
out:
	free(hash);
	free(sealed);
}

/*
 * Guessing with a token locked the user: the token is likely stolen, so it
 * and the account's other tokens end, on every gateway. A lockout from
 * wrong logins does not (anyone who knows the name could log its owner
 * out). A failure here is logged; the answer stays the wrong-password one.
 */
static void
end_tokens(struct wsg_mgmt_req *r, const struct wsg_user_record *rec)
{
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_mgmt_work_db(r->worker, &c, &err) == WSG_OK &&
	    wsg_userstore_end_tokens(c, rec->id, wsg_token_now_us(), &err) ==
	            WSG_OK) {
		wsg_mgmt_audit(r, "tokens_revoked",
		               "user locked while guessing oldPassword with a "
		               "token: every token of '%s' ends",
		               rec->username);
		return;
	}
	r->worker->db_broken = 1;
	wsg_log_msg("error",
	            "management rid=%016llx: cannot end the tokens "
	            "of a locked user: %s",
	            (unsigned long long)r->rid, err.reason);
}

/*
 * argon2 of oldPassword on the bounded verification pool. A wrong one is a
 * guess at the password, so it counts like a failed management login;
 * while locked the right one gets this answer too (same work, same
 * answer). Returns WSG_OK when the change may go on; else answered.
 */
static int
check_old_password(struct wsg_mgmt_req *r, const struct wsg_user_record *rec,
                   const struct wsg_mgmt_password_change *p)
{
	const struct wsg_security_conf *sec = &r->cfg->security;
	struct wsg_password_client who = {
	        .addr = r->client,
	        .max_queued = sec->verify_queue.max_queued,
	        .max_per_client = sec->verify_queue.max_per_client,
	        .lockout = r->m->rt->lockout,
	        .client_limit = &sec->client_limit,
	        .user = rec->username,
	        .user_len = strlen(rec->username),
	};
	int rc, locked;

	locked = wsg_mgmt_user_locked(r, rec);
	rc = wsg_mgmt_work_verify(r->worker, rec->password_hash, p->old_pw,
	                          strlen(p->old_pw), &who);
	/* Locked meanwhile: answered as at the door, no verdict. */
	if (wsg_mgmt_client_refused(r))
		return WSG_ERR_LIMIT;
	if (rc == WSG_ERR_FULL || rc == WSG_ERR_LIMIT) {
		wsg_mgmt_login_busy(r, rc);
		return rc;
	}
	if (rc != WSG_OK || locked) {
		if (wsg_mgmt_count_failure(r, rec->username,
		                           rc == WSG_ERR_AUTH && !locked))
			end_tokens(r, rec);
		wsg_mgmt_audit(r, "mgmt_denied",
		               "wrong current password for a password change%s",
		               locked ? " (user locked)" : "");
		wsg_mgmt_reply_error(r, 400, "%s%s", WSG_MGMT_E_RETRY,
		                     E_PW_OLD);
		return WSG_ERR_AUTH;
	}
	return WSG_OK;
}

/*
 * What PATCH asks, checked before anything about the target is read, so
 * that a non-admin learns nothing of other users. Returns WSG_OK with the
 * body (`*body`, caller frees) read into `p`; else answered.
 */
static int
read_password_change(struct wsg_mgmt_req *r, const char *user, int self,
                     json_t **body, struct wsg_mgmt_password_change *p)
{
	struct wsg_mgmt_fail f;

	if (!self && !r->admin) {
		wsg_mgmt_audit(r, "mgmt_denied",
		               "non-admin tried to change the password of '%s'",
		               user);
		wsg_mgmt_reply_error(
		        r, 403,
		        "%sOnly your own credentials can be updated "
		        "by a user.",
		        WSG_MGMT_E_RETRY);
		return WSG_ERR_PERM;
	}
	if (wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                          WSG_MGMT_E_RETRY) != WSG_OK ||
	    wsg_mgmt_body(r, body) != WSG_OK)
		return WSG_ERR_INVAL;
	if (wsg_mgmt_parse_password_change(&r->m->cfg->management, *body, p,
	                                   &f) != WSG_OK) {
		wsg_mgmt_reply_fail(r, &f);
		return WSG_ERR_INVAL;
	}
	if (self && p->old_pw == NULL) {
		wsg_mgmt_reply_error(r, 400,
		                     "%sThe current password (oldPassword) is "
		                     "missing in the payload.",
		                     WSG_MGMT_E_RETRY);
		return WSG_ERR_INVAL;
	}
	return WSG_OK;
}

/* Own password (with oldPassword) or, for an admin, a non-admin's. */
void
wsg_mgmt_user_password(struct wsg_mgmt_req *r)
{
	const char *user = r->seg[1];
	struct wsg_accounts_actor by = wsg_mgmt_actor(r);
	struct wsg_accounts_result res;
	struct wsg_user_record *rec = NULL;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	struct wsg_mgmt_password_change p;
	json_t *body = NULL;
	int rc, self;

	wsg_error_clear(&err);
	self = strcmp(user, r->user) == 0;
	if (read_password_change(r, user, self, &body, &p) != WSG_OK)
		goto out;
	if ((self && wsg_mgmt_client_refused(r)) ||
	    wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	rc = wsg_userstore_get(c, user, &rec, &err);
	if (rc == WSG_ERR_NOTFOUND) {
		wsg_mgmt_reply_not_found(r, "User", user);
		goto out;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		goto out;
	}
	/* Before any argon2 work; the transaction checks again. */
	if (wsg_accounts_check_set_password(r->m->cfg->management.admin_role,
	                                    &by, rec, &res, &err) != WSG_OK) {
		wsg_mgmt_audit(r, "mgmt_denied",
		               "tried to change the password of admin '%s'",
		               user);
		wsg_mgmt_reply_error(
		        r, 403,
		        "%sAn admin can only update the credentials "
		        "of non-admin users and its own.",
		        WSG_MGMT_E_RETRY);
		goto out;
	}
	if (self && check_old_password(r, rec, &p) != WSG_OK)
		goto out;
	change_password(r, rec, &p);
out:
	wsg_userstore_record_free(rec);
	json_decref(body);
}

void
wsg_mgmt_user_unlock(struct wsg_mgmt_req *r)
{
	const char *user = r->seg[1];
	struct wsg_user_record *rec = NULL;
	struct wsg_db_conn *c = NULL;
	int64_t now = wsg_lockout_now_ms();
	int was_locked = 0;

	if (load_user(r, user, &c, &rec) != WSG_OK)
		return;
	/* The shared store's rows first: an unlock that could not reach them
	 * is answered as the store's failure. */
	if (r->m->rt->lockout_shared &&
	    wsg_mgmt_shared_unlock(r, c, user, &was_locked) != WSG_OK)
		goto out;
	wsg_mgmt_unlock_reply(r, user, was_locked, now);
out:
	wsg_userstore_record_free(rec);
}

/* Both planes' locks of `name`: 1 when one was on. */
static int
unlock_name(struct wsg_mgmt_req *r, const char *name, int64_t now)
{
	struct wsg_lockout *l = r->m->rt->lockout;

	return wsg_lockout_unlock(l, WSG_LOCKOUT_USER, name, strlen(name),
	                          now) |
	       wsg_lockout_unlock(l, WSG_LOCKOUT_MGMT_USER, name, strlen(name),
	                          now);
}

void
wsg_mgmt_unlock_reply(struct wsg_mgmt_req *r, const char *user, int was_locked,
                      int64_t now)
{
	was_locked |= unlock_name(r, user, now);
	if (strcmp(r->seg[1], user) != 0)
		was_locked |= unlock_name(r, r->seg[1], now);
	wsg_mgmt_audit(r, "user_unlocked", "unlocked user '%s' (%s)", user,
	               was_locked ? "was locked"
	                          : "was not locked; its failures are "
	                            "forgotten");
	wsg_mgmt_reply_status(r, "userId", user, "Unlocked");
}
