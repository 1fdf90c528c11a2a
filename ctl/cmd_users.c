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

/* "users/<id>" with the ID percent-encoded. */
static char *
user_resource(const char *id)
{
	char *esc = wsg_http_escape(id), *r;

	r = wsg_mem_printf("users/%s", esc);
	free(esc);
	return r;
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

/* jansson refuses strings that are not UTF-8, and so does the API. */
static int
not_utf8(struct wsg_error *err)
{
	return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
	                     "names, roles and passwords must be UTF-8 text");
}

/*
 * One password from standard input, or typed twice without echo. Empty
 * and mismatching passwords are usage errors.
 */
static int
read_new_password(int from_stdin, const char *what, const char *prompt,
                  char **pw, struct wsg_error *err)
{
	char *again = NULL;
	int rc;

	*pw = NULL;
	if (from_stdin) {
		rc = wsg_prompt_fd_line(0, what, pw, err);
	} else {
		rc = wsg_prompt_tty(prompt, 1, pw, err);
		if (rc == WSG_OK)
			rc = wsg_prompt_tty("Re-enter the password: ", 1,
			                    &again, err);
		if (rc == WSG_OK && strcmp(*pw, again) != 0)
			rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                   "the passwords do not match");
		rc = wsg_prompt_no_tty(rc, "--password-stdin", err);
	}
	if (rc == WSG_OK && (*pw)[0] == '\0')
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "the %s is empty", what);
	wsg_prompt_free(again);
	if (rc != WSG_OK) {
		wsg_prompt_free(*pw);
		*pw = NULL;
	}
	return rc;
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
	struct wsg_session s;
	json_t *answer = NULL;
	char *res = NULL, *esc;
	int rc;

	rc = wsg_session_open(&s, a->env, a, 1, err);
	if (rc != WSG_OK)
		goto out;
	if (a->npos == 1) {
		res = user_resource(a->pos[0]);
	} else {
		res = wsg_mem_strdup("users");
		if (a->pattern != NULL && a->pattern[0] != '\0') {
			esc = wsg_http_escape(a->pattern);
			free(res);
			res = wsg_mem_printf("users?pattern=%s", esc);
			free(esc);
		}
		if (a->nroles == 1 && a->roles[0][0] != '\0') {
			esc = wsg_http_escape(a->roles[0]);
			char *more = wsg_mem_printf(
			        "%s%crole=%s", res,
			        strchr(res, '?') != NULL ? '&' : '?', esc);
			free(res);
			res = more;
			free(esc);
		}
	}
	rc = wsg_session_call(&s, "GET", res, NULL, &answer, err);
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
	wsg_session_close(&s);
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
	rc = read_new_password(a->password_stdin, "password", prompt, &pw, err);
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
	body = json_pack("{s:s, s:s, s:o, s:o}", "userId", id, "domain", "",
	                 "addedRoles", role_array(a->roles, a->nroles),
	                 "removedRoles", json_array());
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
	struct wsg_session s;
	json_t *answer = NULL;
	char *res = user_resource(a->pos[0]);
	int rc;

	rc = wsg_session_open(&s, a->env, a, 1, err);
	if (rc == WSG_OK)
		rc = wsg_session_call(&s, "DELETE", res, NULL, &answer, err);
	if (rc == WSG_OK)
		wsg_output_status("Deleting user", a->pos[0], answer);
	json_decref(answer);
	free(res);
	wsg_session_close(&s);
	return rc;
}

/* wssgate's own call (MI has no lockout): POST /management/users/ID/unlock. */
int
wsg_cmd_unlock_user(const struct wsg_args *a, struct wsg_error *err)
{
	struct wsg_session s;
	json_t *body = json_object(), *answer = NULL;
	char *user = user_resource(a->pos[0]);
	char *res = wsg_mem_printf("%s/unlock", user);
	int rc;

	/* An empty object: libcurl sends a POST only with a body. */
	rc = wsg_session_open(&s, a->env, a, 1, err);
	if (rc == WSG_OK)
		rc = wsg_session_call(&s, "POST", res, body, &answer, err);
	if (rc == WSG_OK)
		wsg_output_status("Unlocking user", a->pos[0], answer);
	json_decref(answer);
	json_decref(body);
	free(res);
	free(user);
	wsg_session_close(&s);
	return rc;
}

int
wsg_cmd_update_user(const struct wsg_args *a, struct wsg_error *err)
{
	struct wsg_session s;
	json_t *body, *answer = NULL;
	int rc;

	body = json_pack(
	        "{s:s, s:s, s:o, s:o}", "userId", a->pos[0], "domain", "",
	        "addedRoles", role_array(a->add_roles, a->nadd_roles),
	        "removedRoles", role_array(a->remove_roles, a->nremove_roles));
	if (body == NULL)
		return not_utf8(err);
	rc = wsg_session_open(&s, a->env, a, 1, err);
	if (rc == WSG_OK)
		rc = wsg_session_call(&s, "PUT", "roles", body, &answer, err);
	if (rc == WSG_OK)
		wsg_output_status("Updating roles of user", a->pos[0], answer);
	json_decref(answer);
	json_decref(body);
	wsg_session_close(&s);
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
	if (a->password_stdin) {
		rc = wsg_prompt_fd_line(0, "current password", &old, err);
	} else {
		prompt = wsg_mem_printf("Current password of %s: ",
		                        s.cred.username);
		rc = wsg_prompt_tty(prompt, 1, &old, err);
		rc = wsg_prompt_no_tty(rc, "--password-stdin", err);
	}
	if (rc != WSG_OK)
		goto out;
	rc = read_new_password(a->password_stdin, "new password",
	                       "New password: ", &pw, err);
	if (rc != WSG_OK)
		goto out;
	body = json_pack("{s:s, s:s, s:s}", "oldPassword", old, "newPassword",
	                 pw, "confirmPassword", pw);
	if (body == NULL) {
		rc = not_utf8(err);
		goto out;
	}
	res = user_resource(s.cred.username);
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
