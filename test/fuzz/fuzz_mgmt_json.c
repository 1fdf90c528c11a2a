/*
 * Fuzz target: arbitrary bytes as a management API request body. Every
 * input goes through the body parser and, when it is an object, through
 * each body validator (POST /users, PATCH /users/{id}, POST /roles,
 * PUT /roles). What a validator accepts must keep its promises (names and
 * passwords pass the input rules, bounded lists), and every refusal must
 * be a 400 whose {"Error": text} answer can be built.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "mgmt_http.h"
#include "mgmt_roles.h"
#include "mgmt_users.h"
#include "types.h"

static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_mgmt_json: broken promise: %s\n", what);
		abort();
	}
}

/* The answer wsg_mgmt_reply_fail() would send. */
static void
check_fail(const struct wsg_mgmt_fail *f)
{
	json_t *body;
	char *text;

	require(f->status == 400, "a body problem is a 400");
	require(f->text[0] != '\0', "a refusal says why");
	body = json_pack("{s:s}", "Error", f->text);
	require(body != NULL, "the error text is valid UTF-8");
	text = json_dumps(body, JSON_COMPACT);
	require(text != NULL, "the error answer serialises");
	free(text);
	json_decref(body);
}

static void
check_role_name(const char *role, int granting)
{
	char why[256];

	require(role != NULL && wsg_mgmt_check_role(role, granting, why,
	                                            sizeof(why)) == WSG_OK,
	        "an accepted role name passes the role rules");
}

static void
users_add(const struct wsg_management_conf *mc, json_t *o)
{
	struct wsg_mgmt_user_add a;
	struct wsg_mgmt_fail f;
	char why[256];
	size_t i;

	if (wsg_mgmt_parse_user_add(mc, o, &a, &f) != WSG_OK) {
		check_fail(&f);
		return;
	}
	require(wsg_mgmt_check_username(a.user, why, sizeof(why)) == WSG_OK,
	        "an accepted userId passes the name rules");
	require(a.pw_len == strlen(a.pw) && a.pw_len <= WSG_MGMT_MAX_PASSWORD,
	        "an accepted password is a bounded C string");
	require(wsg_mgmt_check_password(&mc->password_policy, a.pw, a.pw_len,
	                                why, sizeof(why)) == WSG_OK,
	        "an accepted password passes the policy");
	require((a.admin == 0 || a.admin == 1) &&
	                (a.digest == 0 || a.digest == 1),
	        "flags are booleans");
	require(a.nroles <= WSG_MGMT_MAX_ADD_ROLES, "roles are bounded");
	for (i = 0; i < a.nroles; i++)
		check_role_name(a.roles[i], 1);
}

static void
password_change(const struct wsg_management_conf *mc, json_t *o)
{
	struct wsg_mgmt_password_change p;
	struct wsg_mgmt_fail f;
	char why[256];

	if (wsg_mgmt_parse_password_change(mc, o, &p, &f) != WSG_OK) {
		check_fail(&f);
		return;
	}
	require(wsg_mgmt_check_password(&mc->password_policy, p.new_pw,
	                                strlen(p.new_pw), why,
	                                sizeof(why)) == WSG_OK,
	        "an accepted new password passes the policy");
	require(p.digest >= -1 && p.digest <= 1, "digest is -1, 0 or 1");
}

static void
role_add(json_t *o)
{
	struct wsg_mgmt_fail f;
	const char *role = NULL;

	if (wsg_mgmt_parse_role_add(o, &role, &f) != WSG_OK) {
		check_fail(&f);
		return;
	}
	check_role_name(role, 1);
}

static void
roles_change(json_t *o)
{
	struct wsg_mgmt_roles_change p;
	struct wsg_mgmt_fail f;
	size_t i, j;

	if (wsg_mgmt_parse_roles_change(o, &p, &f) != WSG_OK) {
		check_fail(&f);
		return;
	}
	require(p.user != NULL, "an accepted change names a user");
	require(p.nadded <= WSG_MGMT_MAX_ROLE_CHANGES &&
	                p.nremoved <= WSG_MGMT_MAX_ROLE_CHANGES,
	        "role lists are bounded");
	for (i = 0; i < p.nadded; i++) {
		check_role_name(p.added[i], 1);
		for (j = 0; j < p.nremoved; j++)
			require(strcmp(p.added[i], p.removed[j]) != 0,
			        "no role is both added and removed");
	}
	for (j = 0; j < p.nremoved; j++)
		check_role_name(p.removed[j], 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsg_management_conf mc;
	struct wsg_mgmt_fail f;
	json_t *o = NULL;

	memset(&mc, 0, sizeof(mc));
	mc.password_policy.min_length = 8;
	if (wsg_mgmt_parse_json((const char *)data, size, &o, &f) != WSG_OK) {
		require(o == NULL, "no object on failure");
		check_fail(&f);
		return 0;
	}
	require(json_is_object(o), "a parsed body is an object");
	users_add(&mc, o);
	password_change(&mc, o);
	role_add(o);
	roles_change(o);
	json_decref(o);
	return 0;
}
