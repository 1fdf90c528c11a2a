#include "commands.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "http.h"
#include "mem.h"
#include "output.h"
#include "session.h"

int
wsg_cmd_get_roles(const struct wsg_args *a, struct wsg_error *err)
{
	json_t *answer = NULL;
	char *res;
	int rc;

	res = a->npos == 1 ? wsg_http_path("roles", a->pos[0])
	                   : wsg_mem_strdup("roles");
	rc = wsg_session_call_once(a, "GET", res, NULL, &answer, err);
	if (rc != WSG_OK)
		goto out;
	if (a->format == WSG_FORMAT_JSON) {
		wsg_output_json(answer);
	} else if (a->npos == 1) {
		wsg_output_field("Role Name", json_string_value(json_object_get(
		                                      answer, "role")));
		wsg_output_list_field("Users",
		                      json_object_get(answer, "users"));
	} else {
		wsg_output_column(json_object_get(answer, "list"), "role",
		                  "ROLE", "No roles found");
	}
out:
	json_decref(answer);
	free(res);
	return rc;
}

int
wsg_cmd_add_role(const struct wsg_args *a, struct wsg_error *err)
{
	json_t *body;
	int rc;

	body = json_pack("{s:s, s:s}", "role", a->pos[0], "domain", "");
	if (body == NULL)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "the role name must be UTF-8 text");
	rc = wsg_session_change(a, "POST", "roles", body, "Adding new role",
	                        err);
	json_decref(body);
	return rc;
}

int
wsg_cmd_delete_role(const struct wsg_args *a, struct wsg_error *err)
{
	char *res = wsg_http_path("roles", a->pos[0]);
	int rc;

	rc = wsg_session_change(a, "DELETE", res, NULL, "Deleting role", err);
	free(res);
	return rc;
}
