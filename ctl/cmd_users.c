#include "commands.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envstore.h"
#include "err.h"
#include "http.h"
#include "mem.h"
#include "output.h"
#include "prompt.h"
#include "session.h"

/* Appends `key=value` to the query of *res, the value percent-encoded. */
static void
add_query(char **res, const char *key, const char *value)
{
	char *esc = wsg_http_escape(value), *more;

	more = wsg_mem_printf("%s%c%s=%s", *res,
	                      strchr(*res, '?') != NULL ? '&' : '?', key, esc);
	free(esc);
	free(*res);
	*res = more;
}

/* The roles in a PUT /management/roles body. */
static json_t *
role_array(const char *const *roles, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		if (json_array_append_new(arr, json_string(roles[i])) != 0) {
			json_decref(arr);
			return NULL; /* not UTF-8: json_pack then fails */
		}
	}
	return arr;
}

/*
 * A PUT /management/roles body that grants user `id` the roles `add` and
 * revokes `remove`; NULL when a name is not UTF-8.
 */
static json_t *
roles_body(const char *id, const char *const *add, size_t nadd,
           const char *const *remove, size_t nremove)
{
	return json_pack("{s:s, s:s, s:o, s:o}", "userId", id, "domain", "",
	                 "addedRoles", role_array(add, nadd), "removedRoles",
	                 role_array(remove, nremove));
}

/* jansson refuses strings that are not UTF-8, and so does the API. */
static int
not_utf8(struct wsg_error *err)
{
	return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
	                     "names, roles and passwords must be UTF-8 text");
}

static void
print_user(const json_t *u)
{
	json_t *admin = json_object_get(u, "isAdmin");

	wsg_output_field("Name",
	                 json_string_value(json_object_get(u, "userId")));
	wsg_output_field("Is Admin",
	                 json_is_boolean(admin)
	                         ? (json_is_true(admin) ? "true" : "false")
	                         : json_string_value(admin));
	wsg_output_list_field("Roles", json_object_get(u, "roles"));
}

int
wsg_cmd_get_users(const struct wsg_args *a, struct wsg_error *err)
{
	json_t *answer = NULL;
	char *res;
	int rc;

	if (a->npos == 1) {
		res = wsg_http_path("users", a->pos[0]);
	} else {
		res = wsg_mem_strdup("users");
		if (a->pattern != NULL && a->pattern[0] != '\0')
			add_query(&res, "pattern", a->pattern);
		if (a->nroles == 1 && a->roles[0][0] != '\0')
			add_query(&res, "role", a->roles[0]);
	}
	rc = wsg_session_call_once(a, "GET", res, NULL, &answer, err);
	if (rc != WSG_OK)
		goto out;
	if (a->format == WSG_FORMAT_JSON)
		wsg_output_json(answer);
	else if (a->npos == 1)
		print_user(answer);
	else
		wsg_output_column(json_object_get(answer, "list"), "userId",
		                  "USER ID", "No Users found");
out:
	json_decref(answer);
	free(res);
	return rc;
}

int
wsg_cmd_add_user(const struct wsg_args *a, struct wsg_error *err)
{
	const char *id = a->pos[0];
	struct wsg_session s;
	json_t *body = NULL, *answer = NULL;
	char *pw = NULL, *prompt = NULL, why[sizeof(err->reason)];
	int rc;

	/* The login is checked before anyone types a password. */
	rc = wsg_session_open(&s, a->env, a, 1, err);
	if (rc != WSG_OK)
		goto out;
	prompt = wsg_mem_printf("Password for the new user %s: ", id);
	rc = wsg_prompt_new_password(a->password_stdin, "password", prompt, &pw,
	                             err);
	if (rc != WSG_OK)
		goto out;
	/* isAdmin as a string and an empty domain, exactly as apictl sends. */
	body = json_pack("{s:s, s:s, s:s, s:s}", "userId", id, "password", pw,
	                 "isAdmin", a->admin ? "true" : "false", "domain", "");
	if (body == NULL) {
		rc = not_utf8(err);
		goto out;
	}
	rc = wsg_session_call(&s, "POST", "users", body, &answer, err);
	if (rc != WSG_OK)
		goto out;
	wsg_output_status("Adding new user", id, answer);
	if (a->nroles == 0)
		goto out;
	json_decref(body);
	json_decref(answer);
	answer = NULL;
	body = roles_body(id, a->roles, a->nroles, NULL, 0);
	if (body == NULL) {
		rc = not_utf8(err);
		goto out;
	}
	rc = wsg_session_call(&s, "PUT", "roles", body, &answer, err);
	if (rc != WSG_OK) {
		snprintf(why, sizeof(why), "%s", err->reason);
		wsg_error_set(err, rc, WSG_FAULT_NONE,
		              "user %s was added, but granting its roles "
		              "failed: %s",
		              id, why);
		goto out;
	}
	wsg_output_status("Granting roles to user", id, answer);
out:
	json_decref(body);
	json_decref(answer);
	wsg_prompt_free(pw);
	free(prompt);
	wsg_session_close(&s);
	return rc;
}

int
wsg_cmd_delete_user(const struct wsg_args *a, struct wsg_error *err)
{
	char *res = wsg_http_path("users", a->pos[0]);
	int rc;

	rc = wsg_session_change(a, "DELETE", res, NULL, "Deleting user", err);
	free(res);
	return rc;
}

/* wssgate's own call (MI has no lockout): POST /management/users/ID/unlock. */
int
wsg_cmd_unlock_user(const struct wsg_args *a, struct wsg_error *err)
{
	json_t *body = json_object();
	char *user = wsg_http_path("users", a->pos[0]);
	char *res = wsg_mem_printf("%s/unlock", user);
	int rc;

	/* An empty object: libcurl sends a POST only with a body. */
	rc = wsg_session_change(a, "POST", res, body, "Unlocking user", err);
	json_decref(body);
	free(res);
	free(user);
	return rc;
}

int
wsg_cmd_update_user(const struct wsg_args *a, struct wsg_error *err)
{
	json_t *body;
	int rc;

	body = roles_body(a->pos[0], a->add_roles, a->nadd_roles,
	                  a->remove_roles, a->nremove_roles);
	if (body == NULL)
		return not_utf8(err);
	rc = wsg_session_change(a, "PUT", "roles", body,
	                        "Updating roles of user", err);
	json_decref(body);
	return rc;
}

int
wsg_cmd_change_password(const struct wsg_args *a, struct wsg_error *err)
{
	struct wsg_session s;
	json_t *body = NULL, *answer = NULL;
	char *old = NULL, *pw = NULL, *res = NULL, *prompt = NULL;
	int rc;

	rc = wsg_session_open(&s, a->env, a, 1, err);
	if (rc != WSG_OK)
		goto out;
	prompt = wsg_mem_printf("Current password of %s: ", s.cred.username);
	rc = wsg_prompt_password(a->password_stdin, "current password", prompt,
	                         &old, err);
	if (rc != WSG_OK)
		goto out;
	rc = wsg_prompt_new_password(a->password_stdin, "new password",
	                             "New password: ", &pw, err);
	if (rc != WSG_OK)
		goto out;
	body = json_pack("{s:s, s:s, s:s}", "oldPassword", old, "newPassword",
	                 pw, "confirmPassword", pw);
	if (body == NULL) {
		rc = not_utf8(err);
		goto out;
	}
	res = wsg_http_path("users", s.cred.username);
	rc = wsg_session_call(&s, "PATCH", res, body, &answer, err);
	if (rc != WSG_OK)
		goto out;
	/* A stored password must follow, or the next renewal would fail. */
	if (s.cred.password != NULL) {
		wsg_prompt_free(s.cred.password);
		s.cred.password = wsg_mem_strdup(pw);
		rc = wsg_envstore_put_cred(s.dir, s.env.name, &s.cred, err);
		if (rc != WSG_OK)
			goto out;
	}
	wsg_output_status("Changing password of user", s.cred.username, answer);
out:
	json_decref(body);
	json_decref(answer);
	wsg_prompt_free(old);
	wsg_prompt_free(pw);
	free(res);
	free(prompt);
	wsg_session_close(&s);
	return rc;
}
