#include "mgmt_roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credcache.h"
#include "err.h"
#include "mem.h"

static const char E_PUT_FIELDS[] =
        "Missing one or more of the fields, 'userId', 'addedRoles', "
        "'removedRoles' in the payload.";

static json_t *
first_column(const struct wsg_db_result *res, const char *key)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < res->nrows; i++) {
		const char *v = res->cells[i * res->ncols];

		json_array_append_new(list, key ? json_pack("{s:s}", key, v)
		                                : json_string(v));
	}
	return list;
}

int
wsg_mgmt_roles_query(struct wsg_mgmt_req *r, char **search)
{
	char *key = wsg_mgmt_param_trimmed(r, "searchKey");

	*search = NULL;
	if (key != NULL && strlen(key) > WSG_USERSTORE_MAX_NAME) {
		wsg_mgmt_reply_error(r, 400,
		                     "%sThe searchKey must be at most %d bytes "
		                     "long",
		                     WSG_MGMT_E_REQUEST_DOT,
		                     WSG_USERSTORE_MAX_NAME);
		free(key);
		return WSG_ERR_INVAL;
	}
	*search = key;
	return WSG_OK;
}

void
wsg_mgmt_roles_list(struct wsg_mgmt_req *r)
{
	struct wsg_db_result *res = NULL;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	char *search = NULL;

	wsg_error_clear(&err);
	if (wsg_mgmt_roles_query(r, &search) != WSG_OK ||
	    wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	if (wsg_userstore_find_roles(c, search, &res, &err) != WSG_OK) {
		wsg_mgmt_reply_db_error(r, &err);
		goto out;
	}
	wsg_mgmt_reply(r, 200,
	               json_pack("{s:I,s:o}", "count", (json_int_t)res->nrows,
	                         "list", first_column(res, "role")));
out:
	wsg_db_result_free(res);
	free(search);
}

void
wsg_mgmt_role_show(struct wsg_mgmt_req *r)
{
	const char *role = r->seg[1];
	struct wsg_db_result *res = NULL;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_check_domain(r, wsg_mgmt_param(r, "domain"),
	                          WSG_MGMT_E_REQUEST_DOT) != WSG_OK)
		return;
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		return;
	rc = wsg_userstore_role_members(c, role, &res, &err);
	if (rc == WSG_ERR_NOTFOUND)
		wsg_mgmt_reply_not_found(r, "Role", role);
	else if (rc != WSG_OK)
		wsg_mgmt_reply_db_error(r, &err);
	else
		wsg_mgmt_reply(r, 200,
		               json_pack("{s:s,s:o}", "role", role, "users",
		                         first_column(res, NULL)));
	wsg_db_result_free(res);
}

int
wsg_mgmt_parse_role_add(json_t *o, const char **role, struct wsg_mgmt_fail *f)
{
	const char *P = WSG_MGMT_E_REQUEST_DOT, *domain = NULL;
	char why[256];
	int rc;

	rc = wsg_mgmt_json_string(o, "role", role);
	if (rc == WSG_ERR_NOTFOUND)
		return wsg_mgmt_failf(f, 400,
		                      "%sMissing role name in the payload", P);
	if (rc != WSG_OK)
		return wsg_mgmt_failf(f, 400,
		                      "%sThe field 'role' must be a string", P);
	if (wsg_mgmt_json_string(o, "domain", &domain) == WSG_ERR_INVAL)
		return wsg_mgmt_failf(
		        f, 400, "%sThe field 'domain' must be a string", P);
	if (wsg_mgmt_domain_check(domain, P, f) != WSG_OK)
		return WSG_ERR_INVAL;
	if (wsg_mgmt_check_role(*role, 1, why, sizeof(why)) != WSG_OK)
		return wsg_mgmt_failf(f, 400, "%sInvalid role name: %s", P,
		                      why);
	return WSG_OK;
}

void
wsg_mgmt_roles_add(struct wsg_mgmt_req *r)
{
	const char *P = WSG_MGMT_E_REQUEST_DOT, *role = NULL;
	struct wsg_accounts_actor by = wsg_mgmt_actor(r);
	struct wsg_accounts_result res;
	struct wsg_db_conn *c = NULL;
	struct wsg_mgmt_fail f;
	struct wsg_error err;
	json_t *body = NULL;
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_body(r, &body) != WSG_OK)
		goto out;
	if (wsg_mgmt_parse_role_add(body, &role, &f) != WSG_OK) {
		wsg_mgmt_reply_fail(r, &f);
		goto out;
	}
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	rc = wsg_accounts_add_role(c, r->m->cfg->management.admin_role, &by,
	                           role, &res, &err);
	if (rc == WSG_ERR_EXISTS) {
		wsg_mgmt_reply_error(r, 400, "%sThe role : %s already exists",
		                     P, role);
		goto out;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_accounts(r, rc, &res, &err);
		goto out;
	}
	wsg_mgmt_audit(r, "role_added", "added role '%s'", role);
	wsg_mgmt_reply_status(r, "role", role, "Added");
out:
	json_decref(body);
}

void
wsg_mgmt_role_delete(struct wsg_mgmt_req *r)
{
	const char *role = r->seg[1];
	const char *admin_role = r->m->cfg->management.admin_role;
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
	if (wsg_accounts_check_delete_role(admin_role, role, &res, &err) !=
	    WSG_OK) {
		wsg_mgmt_reply_error(r, 400, "%sCannot remove the admin role",
		                     WSG_MGMT_E_REQUEST_DOT);
		return;
	}
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		return;
	rc = wsg_accounts_delete_role(c, admin_role, &by, role, &res, &err);
	if (rc != WSG_OK) {
		wsg_mgmt_reply_accounts(r, rc, &res, &err);
		return;
	}
	/* Any number of users lost the role. */
	wsg_credcache_invalidate(r->m->rt->credcache, NULL);
	wsg_mgmt_audit(r, "role_deleted", "deleted role '%s'", role);
	wsg_mgmt_reply_status(r, "role", role, "Deleted");
}

/* One of addedRoles / removedRoles into `out`; fills `f` on a fault. */
static int
role_array(json_t *o, const char *key, const char **out, size_t *n,
           struct wsg_mgmt_fail *f)
{
	const char *P = WSG_MGMT_E_REQUEST_DOT;
	json_t *a = json_object_get(o, key), *v;
	char why[256];
	size_t i;

	*n = 0;
	if (a == NULL || json_is_null(a))
		return WSG_OK;
	if (!json_is_array(a) || json_array_size(a) > WSG_MGMT_MAX_ROLE_CHANGES)
		return wsg_mgmt_failf(f, 400,
		                      "%sThe field '%s' must be an array of at "
		                      "most %d role names",
		                      P, key, WSG_MGMT_MAX_ROLE_CHANGES);
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return wsg_mgmt_failf(f, 400,
			                      "%sThe field '%s' must hold role "
			                      "names (strings)",
			                      P, key);
		if (wsg_mgmt_check_role(json_string_value(v),
		                        strcmp(key, "addedRoles") == 0, why,
		                        sizeof(why)) != WSG_OK)
			return wsg_mgmt_failf(f, 400,
			                      "%sInvalid role name in '%s': %s",
			                      P, key, why);
		out[(*n)++] = json_string_value(v);
	}
	return WSG_OK;
}

int
wsg_mgmt_parse_roles_change(json_t *o, struct wsg_mgmt_roles_change *p,
                            struct wsg_mgmt_fail *f)
{
	const char *P = WSG_MGMT_E_REQUEST_DOT, *domain = NULL;
	size_t i, j;

	memset(p, 0, sizeof(*p));
	if (json_object_get(o, "userId") == NULL ||
	    (json_object_get(o, "addedRoles") == NULL &&
	     json_object_get(o, "removedRoles") == NULL))
		return wsg_mgmt_failf(f, 400, "%s%s", P, E_PUT_FIELDS);
	if (wsg_mgmt_json_string(o, "userId", &p->user) != WSG_OK)
		return wsg_mgmt_failf(
		        f, 400, "%sThe field 'userId' must be a string", P);
	if (wsg_mgmt_json_string(o, "domain", &domain) == WSG_ERR_INVAL)
		return wsg_mgmt_failf(
		        f, 400, "%sThe field 'domain' must be a string", P);
	if (wsg_mgmt_domain_check(domain, P, f) != WSG_OK ||
	    role_array(o, "addedRoles", p->added, &p->nadded, f) != WSG_OK ||
	    role_array(o, "removedRoles", p->removed, &p->nremoved, f) !=
	            WSG_OK)
		return WSG_ERR_INVAL;
	for (i = 0; i < p->nadded; i++)
		for (j = 0; j < p->nremoved; j++)
			if (strcmp(p->added[i], p->removed[j]) == 0)
				return wsg_mgmt_failf(
				        f, 400,
				        "%sThe role %s is in both "
				        "'addedRoles' and "
				        "'removedRoles'",
				        P, p->added[i]);
	return WSG_OK;
}

/* Lists `names` as "a, b" into `buf` for the audit line. */
static void
join(char *buf, size_t len, const char *const *names, size_t n)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
		                      names[i]);
}

/*
 * Taking the admin role away is removing an admin: only the admin who
 * created that user may do it (or the admin itself), and never from the
 * last admin (accounts.c decides).
 */
void
wsg_mgmt_roles_update(struct wsg_mgmt_req *r)
{
	struct wsg_accounts_actor by = wsg_mgmt_actor(r);
	struct wsg_accounts_result res;
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;
	struct wsg_mgmt_roles_change p;
	struct wsg_mgmt_fail f;
	json_t *body = NULL;
	char added[256], removed[256];
	int rc;

	wsg_error_clear(&err);
	if (wsg_mgmt_body(r, &body) != WSG_OK)
		goto out;
	if (wsg_mgmt_parse_roles_change(body, &p, &f) != WSG_OK) {
		wsg_mgmt_reply_fail(r, &f);
		goto out;
	}
	if (wsg_mgmt_db(r, &c) != WSG_OK)
		goto out;
	rc = wsg_accounts_change_roles(c, r->m->cfg->management.admin_role, &by,
	                               p.user, p.added, p.nadded, p.removed,
	                               p.nremoved, &res, &err);
	if (rc == WSG_ERR_PERM && res.rule == WSG_ACCOUNTS_RULE_LAST_ADMIN) {
		wsg_mgmt_reply_error(
		        r, 403,
		        "The admin role cannot be removed from the "
		        "last admin user.");
		goto out;
	}
	if (rc == WSG_ERR_PERM && res.rule != WSG_ACCOUNTS_RULE_NOT_ADMIN) {
		wsg_mgmt_audit(r, "mgmt_denied",
		               "may not remove the admin role of '%s'", p.user);
		wsg_mgmt_reply_error(
		        r, 403,
		        "Only the admin who created the admin user "
		        "%s can remove its admin role.",
		        p.user);
		goto out;
	}
	if (rc != WSG_OK) {
		wsg_mgmt_reply_accounts(r, rc, &res, &err);
		goto out;
	}
	wsg_credcache_invalidate(r->m->rt->credcache, p.user);
	join(added, sizeof(added), p.added, p.nadded);
	join(removed, sizeof(removed), p.removed, p.nremoved);
	wsg_mgmt_audit(r, "roles_changed",
	               "roles of '%s': added [%s], removed "
	               "[%s]",
	               p.user, added, removed);
	wsg_mgmt_reply_status(r, "userId", p.user, "Added/removed the roles");
out:
	json_decref(body);
}
