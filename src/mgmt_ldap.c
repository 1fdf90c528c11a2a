#include "mgmt_ldap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ldap_dir.h"
#include "lockout.h"
#include "log.h"
#include "mem.h"
#include "mgmt_login.h"
#include "mgmt_roles.h"
#include "mgmt_users.h"
#include "revoked.h"

static const char E_DIR_DOWN[] =
        "The user store is unavailable: the directory cannot be reached. "
        "Please try again later";

/* Logs `err` and answers 503 when the directory cannot be reached (the
 * same call may work later), else 500 with MI's user-store text. */
static void
reply_dir_error(struct wsg_mgmt_req *r, const struct wsg_error *err)
{
	wsg_log_msg("error", "management rid=%016llx: %s",
	            (unsigned long long)r->rid,
	            err->reason[0] ? err->reason : "directory failure");
	if (err->code == WSG_ERR_CONNECT)
		wsg_mgmt_reply_error(r, 503, "%s", E_DIR_DOWN);
	else
		wsg_mgmt_reply_error(r, 500, "%s", WSG_MGMT_E_STORE);
}

/* The worker's directory connection for this job (closed when the job
 * ends), bound as the service account. Answers and fails when it cannot
 * be had. */
static int
dir_of(struct wsg_mgmt_req *r, struct wsg_ldap_dir **out)
{
	struct wsg_error err;
	int rc;

	*out = NULL;
	wsg_error_clear(&err);
	if (r->worker == NULL) {
		/* A handler bug: the management thread never blocks. */
		wsg_mgmt_reply_error(r, 500, "Internal error");
		return WSG_ERR_INVAL;
	}
	if (r->worker->ldap == NULL) {
		rc = wsg_ldap_dir_open(&r->m->cfg->ldap,
		                       r->m->cfg->management.admin_role,
		                       &r->worker->ldap, &err);
		if (rc != WSG_OK) {
			reply_dir_error(r, &err);
			return rc;
		}
	}
	*out = r->worker->ldap;
	return WSG_OK;
}

int
wsg_mgmt_ldap_is_admin(const struct wsg_mgmt_req *r, const char *roles)
{
	const char *group = r->m->cfg->ldap.admin_group;

	return group != NULL && wsg_userstore_roles_have(roles, group);
}

/* Admins may always log in; others as management.login_roles says. */
static int
may_log_in(const struct wsg_mgmt_req *r, const char *roles)
{
	return wsg_mgmt_ldap_is_admin(r, roles) ||
	       wsg_mgmt_login_allowed(&r->m->cfg->management, roles);
}

const char *
wsg_mgmt_ldap_probe(struct wsg_mgmt_req *r)
{
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (r->worker->ldap == NULL &&
	    wsg_ldap_dir_open(&r->m->cfg->ldap,
	                      r->m->cfg->management.admin_role,
	                      &r->worker->ldap, &err) != WSG_OK) {
		wsg_log_msg("warning", "health: directory unreachable: %s",
		            err.reason);
		return "directory";
	}
	if (r->m->cfg->userstore.mariadb &&
	    wsg_mgmt_work_db(r->worker, &c, &err) != WSG_OK) {
		wsg_log_msg("warning", "health: database unreachable: %s",
		            err.reason);
		return "database";
	}
	return NULL;
}

/* -------- login -------- */

/* Logins in progress from one client address. */
struct wsg_mgmt_inflight {
	struct wsg_mgmt_inflight *next;
	unsigned count;
	char client[64];
};

/*
 * Counts a login of `r`'s client (`delta` +1 or -1) on the management
 * thread. Returns -1, counting nothing, when the client already has
 * security.verify_queue.max_per_client logins in progress: as argon2's
 * queue bounds a MariaDB login flood, so that one address cannot hold
 * every management worker with directory round trips.
 */
static int
inflight(struct wsg_mgmt_req *r, int delta)
{
	struct wsg_mgmt_inflight **link = &r->m->ldap_logins, *e;

	while (*link != NULL && strcmp((*link)->client, r->client) != 0)
		link = &(*link)->next;
	e = *link;
	if (delta > 0) {
		if (e != NULL &&
		    e->count >= r->cfg->security.verify_queue.max_per_client)
			return -1;
		if (e == NULL) {
			e = *link = wsg_mem_calloc(1, sizeof(*e));
			snprintf(e->client, sizeof(e->client), "%s", r->client);
		}
		e->count++;
	} else if (e != NULL && --e->count == 0) {
		*link = e->next;
		free(e);
	}
	return 0;
}

void
wsg_mgmt_ldap_free_inflight(struct wsg_mgmt *m)
{
	struct wsg_mgmt_inflight *e;

	while ((e = m->ldap_logins) != NULL) {
		m->ldap_logins = e->next;
		free(e);
	}
}

struct login {
	unsigned char *raw; /* the decoded Basic credentials (secret) */
	size_t raw_len;
	const char *pw; /* in `raw` */
	size_t pw_len;
};

/*
 * On a worker. An unknown name, a wrong password and a locked user cost
 * the directory the same work (a search for the name, a group search, a
 * bind: to a DN that does not exist for an unknown name) and get the same
 * 401.
 */
static void
login_job(struct wsg_mgmt_req *r, void *arg)
{
	struct login *lg = arg;
	const char *user = r->claimed_user;
	struct wsg_user_record *rec = NULL;
	struct wsg_ldap_dir *d = NULL;
	struct wsg_error err;
	char *dn = NULL;
	int rc, locked, admin;

	wsg_error_clear(&err);
	if (dir_of(r, &d) != WSG_OK)
		goto out;
	rc = wsg_ldap_dir_find_user(d, user, &rec, &dn, &err);
	if (rc != WSG_OK && rc != WSG_ERR_NOTFOUND) {
		reply_dir_error(r, &err);
		goto out;
	}
	/* A locked user's password is still tried: same work, same 401. */
	locked = wsg_mgmt_user_locked(r, rec);
	rc = wsg_ldap_dir_bind(&r->m->cfg->ldap, dn, lg->pw, lg->pw_len, &err);
	if (rc != WSG_OK && rc != WSG_ERR_AUTH) {
		reply_dir_error(r, &err);
		goto out;
	}
	/* Locked meanwhile: answered as at the door, no verdict. */
	if (wsg_mgmt_client_refused(r))
		goto out;
	if (rec == NULL) {
		wsg_mgmt_login_failed(r, user, 0, 0, "unknown user");
		goto out;
	}
	/* The directory's spelling of the name: one lockout key per user. */
	if (rc != WSG_OK || locked) {
		wsg_mgmt_login_failed(r, rec->username, rc == WSG_ERR_AUTH,
		                      locked, "wrong password");
		goto out;
	}
	if (!may_log_in(r, rec->roles)) {
		wsg_mgmt_login_failed(r, rec->username, 0, 0,
		                      "no role in management.login_roles");
		goto out;
	}
	admin = wsg_mgmt_ldap_is_admin(r, rec->roles);
	r->user = wsg_mem_strdup(rec->username);
	wsg_mgmt_audit(r, "mgmt_login", "logged in (%s, LDAP)",
	               admin ? "admin" : "default");
	wsg_mgmt_reply_token(r, rec->username, rec->id, admin);
out:
	wsg_userstore_record_free(rec);
	free(dn);
}

static void
login_done(struct wsg_mgmt_req *r, void *arg)
{
	struct login *lg = arg;

	inflight(r, -1);
	wsg_mem_free_secret(lg->raw, lg->raw_len);
	free(lg);
	wsg_mgmt_finish(r);
}

void
wsg_mgmt_ldap_login(struct wsg_mgmt_req *r, unsigned char *raw, size_t raw_len,
                    const char *pw, size_t pw_len)
{
	struct login *lg = wsg_mem_calloc(1, sizeof(*lg));

	lg->raw = raw;
	lg->raw_len = raw_len;
	lg->pw = pw;
	lg->pw_len = pw_len;
	if (inflight(r, 1) != 0) {
		wsg_mgmt_login_busy(r, WSG_ERR_LIMIT);
		wsg_mem_free_secret(lg->raw, lg->raw_len);
		free(lg);
		wsg_mgmt_finish(r);
		return;
	}
	if (wsg_mgmt_work_submit(r->m->work, r, login_job, login_done, lg) ==
	    WSG_OK)
		return;
	wsg_mgmt_audit(r, "login_error",
	               "management workers' queue full "
	               "(userstore.max_waiting)");
	wsg_mgmt_reply_busy(r);
	login_done(r, lg);
}

/* -------- tokens -------- */

/* Whether the caller's token was revoked: in MariaDB when the gateway
 * has it (shared by every gateway), else in this gateway's memory. */
static int
revoked(struct wsg_mgmt_req *r, int *out)
{
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;

	*out = 0;
	wsg_error_clear(&err);
	if (!r->m->cfg->userstore.mariadb) {
		*out = wsg_revoked_has(r->m->revoked, &r->tok);
		return WSG_OK;
	}
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		return WSG_ERR_DB;
	if (wsg_token_is_revoked(c, &r->tok, out, &err) != WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		return WSG_ERR_DB;
	}
	return WSG_OK;
}

int
wsg_mgmt_ldap_token_current(struct wsg_mgmt_req *r)
{
	struct wsg_user_record *rec = NULL;
	struct wsg_ldap_dir *d = NULL;
	struct wsg_error err;
	const char *why = NULL;
	int rc, is_revoked = 0;

	wsg_error_clear(&err);
	if (revoked(r, &is_revoked) != WSG_OK)
		return -1;
	if (is_revoked) {
		why = "token was revoked (logged out)";
	} else {
		if (dir_of(r, &d) != WSG_OK)
			return -1;
		rc = wsg_ldap_dir_find_user(d, r->tok.sub, &rec, NULL, &err);
		if (rc != WSG_OK && rc != WSG_ERR_NOTFOUND) {
			reply_dir_error(r, &err);
			return -1;
		}
		if (rc == WSG_ERR_NOTFOUND)
			why = "token of a user the directory no longer holds "
			      "(or whose entry no longer matches "
			      "ldap.user_filter)";
		else if (rec->id != r->tok.uid)
			why = "token of an earlier directory entry with this "
			      "name";
		else if (!may_log_in(r, rec->roles))
			why = "no role in management.login_roles";
	}
	if (why != NULL) {
		r->claimed_user = wsg_mem_strdup(r->tok.sub);
		wsg_mgmt_audit(r, "mgmt_auth_failure", "%s", why);
		wsg_mgmt_reply(r, 401, NULL);
		wsg_userstore_record_free(rec);
		return -1;
	}
	r->rec = rec;
	r->user = wsg_mem_strdup(r->tok.sub);
	r->admin = wsg_mgmt_ldap_is_admin(r, rec->roles);
	return 0;
}

void
wsg_mgmt_ldap_logout(struct wsg_mgmt_req *r)
{
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (!r->m->cfg->userstore.mariadb) {
		if (wsg_revoked_add(r->m->revoked, &r->tok, wsg_mgmt_now()) !=
		    WSG_OK) {
			wsg_mgmt_audit(r, "mgmt_logout",
			               "revocation list full: token %.8s... "
			               "not revoked",
			               r->tok.jti);
			wsg_mgmt_reply_busy(r);
			return;
		}
	} else {
		if (wsg_mgmt_db(r, &c) != WSG_OK)
			return;
		if (wsg_token_revoke(c, &r->tok, wsg_mgmt_now(), &err) !=
		    WSG_OK) {
			wsg_mgmt_reply_db_error(r, &err);
			return;
		}
	}
	wsg_mgmt_audit(r, "mgmt_logout", "token %.8s... revoked", r->tok.jti);
	wsg_mgmt_reply(r, 200, NULL);
}

/* -------- users and roles -------- */

static json_t *
names_json(const struct wsg_ldap_names *l, const char *key)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_array_append_new(
		        list, key != NULL ? json_pack("{s:s}", key, l->names[i])
		                          : json_string(l->names[i]));
	return list;
}

/* 200 with MI's list: {"count": n, "list": [{key: name}, ...]}. */
static void
reply_list(struct wsg_mgmt_req *r, const struct wsg_ldap_names *l,
           const char *key)
{
	wsg_mgmt_reply(r, 200,
	               json_pack("{s:I,s:o}", "count", (json_int_t)l->n, "list",
	                         names_json(l, key)));
}

void
wsg_mgmt_ldap_users_list(struct wsg_mgmt_req *r)
{
	const char *pattern, *role;
	char *search = NULL;
	struct wsg_ldap_names l = {NULL, 0};
	struct wsg_ldap_dir *d = NULL;
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_users_query(r, &pattern, &role, &search) != WSG_OK ||
	    dir_of(r, &d) != WSG_OK)
		goto out;
	rc = wsg_ldap_dir_list_users(d, pattern, search, role, &l, &err);
	/* A role no group has: nobody holds it. */
	if (rc != WSG_OK && rc != WSG_ERR_NOTFOUND) {
		reply_dir_error(r, &err);
		goto out;
	}
	reply_list(r, &l, "userId");
out:
	wsg_ldap_dir_names_free(&l);
	free(search);
}

/* The user named in the path, after the `domain` check; answered (404,
 * 503, 500) on failure. */
static int
load_user(struct wsg_mgmt_req *r, struct wsg_user_record **rec)
{
	const char *user = r->seg[1];
	struct wsg_ldap_dir *d = NULL;
	struct wsg_error err;
	int rc;

	*rec = NULL;
	wsg_error_clear(&err);
	rc = wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                           WSG_MGMT_E_REQUEST_DOT);
	if (rc == WSG_OK)
		rc = dir_of(r, &d);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_ldap_dir_find_user(d, user, rec, NULL, &err);
	if (rc == WSG_ERR_NOTFOUND)
		wsg_mgmt_reply_not_found(r, "User", user);
	else if (rc != WSG_OK)
		reply_dir_error(r, &err);
	return rc;
}

void
wsg_mgmt_ldap_user_show(struct wsg_mgmt_req *r)
{
	struct wsg_user_record *rec = NULL;

	if (load_user(r, &rec) != WSG_OK)
		return;
	/* createdBy is null: the directory's users were made by nobody the
	 * gateway knows (ldap_dir fills no creator). */
	wsg_mgmt_reply_user(r, rec, wsg_mgmt_ldap_is_admin(r, rec->roles));
	wsg_userstore_record_free(rec);
}

void
wsg_mgmt_ldap_user_unlock(struct wsg_mgmt_req *r)
{
	struct wsg_user_record *rec = NULL;
	int64_t now = wsg_lockout_now_ms();
	int was_locked = 0;

	if (load_user(r, &rec) != WSG_OK)
		return;
	/* The shared store's rows of the directory's spelling, the one it
	 * counts; then this gateway's locks by that spelling and the path's. */
	if (r->m->rt->lockout_shared &&
	    wsg_mgmt_shared_unlock(r, NULL, rec->username, &was_locked) !=
	            WSG_OK)
		goto out;
	wsg_mgmt_unlock_reply(r, rec->username, was_locked, now);
out:
	wsg_userstore_record_free(rec);
}

void
wsg_mgmt_ldap_user_certs_list(struct wsg_mgmt_req *r)
{
	struct wsg_user_record *rec = NULL;

	/* Certificates map to MariaDB accounts only: a directory user has
	 * none (docs/ldap-management.md). */
	if (load_user(r, &rec) != WSG_OK)
		return;
	wsg_mgmt_reply(r, 200, json_pack("{s:i,s:[]}", "count", 0, "list"));
	wsg_userstore_record_free(rec);
}

void
wsg_mgmt_ldap_roles_list(struct wsg_mgmt_req *r)
{
	struct wsg_ldap_names l = {NULL, 0};
	struct wsg_ldap_dir *d = NULL;
	struct wsg_error err;
	char *search = NULL;

	wsg_error_clear(&err);
	if (wsg_mgmt_roles_query(r, &search) != WSG_OK ||
	    dir_of(r, &d) != WSG_OK)
		goto out;
	if (wsg_ldap_dir_list_roles(d, search, &l, &err) != WSG_OK) {
		reply_dir_error(r, &err);
		goto out;
	}
	reply_list(r, &l, "role");
out:
	wsg_ldap_dir_names_free(&l);
	free(search);
}

void
wsg_mgmt_ldap_role_show(struct wsg_mgmt_req *r)
{
	const char *role = r->seg[1];
	struct wsg_ldap_names l = {NULL, 0};
	struct wsg_ldap_dir *d = NULL;
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                          WSG_MGMT_E_REQUEST_DOT) != WSG_OK ||
	    dir_of(r, &d) != WSG_OK)
		return;
	rc = wsg_ldap_dir_list_users(d, NULL, NULL, role, &l, &err);
	if (rc == WSG_ERR_NOTFOUND)
		wsg_mgmt_reply_not_found(r, "Role", role);
	else if (rc != WSG_OK)
		reply_dir_error(r, &err);
	else
		wsg_mgmt_reply(r, 200,
		               json_pack("{s:s,s:o}", "role", role, "users",
		                         names_json(&l, NULL)));
	wsg_ldap_dir_names_free(&l);
}

/*
 * 405: the resource exists, but with a read-only store it supports no
 * change, for any caller (so not 403), and nothing in the request could
 * make it work (so not 400). Allow names what it still supports.
 */
void
wsg_mgmt_ldap_read_only(struct wsg_mgmt_req *r)
{
	wsg_mgmt_audit(r, "mgmt_denied",
	               "%s on /%s: the LDAP user store is read-only",
	               r->method == EVHTTP_REQ_POST     ? "POST"
	               : r->method == EVHTTP_REQ_PUT    ? "PUT"
	               : r->method == EVHTTP_REQ_PATCH  ? "PATCH"
	               : r->method == EVHTTP_REQ_DELETE ? "DELETE"
	                                                : "change",
	               r->seg[0]);
	wsg_mgmt_add_header(r, "Allow", r->nseg == 4 ? "" : "GET");
	wsg_mgmt_reply_error(r, 405, "%s", WSG_MGMT_E_READ_ONLY);
}
