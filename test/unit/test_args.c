/* wssgatectl's command line: commands, options, operands and their rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "args.h"

#define MAX_WORDS 16

/* Parses a space-separated command line (argv[0] is added). */
static int
parse(const char *line, struct wsg_args *a, struct wsg_error *err)
{
	static char buf[512];
	char *argv[MAX_WORDS + 1], *tok, *save = NULL;
	int argc = 0;

	snprintf(buf, sizeof(buf), "wssgatectl %s", line);
	for (tok = strtok_r(buf, " ", &save); tok != NULL && argc < MAX_WORDS;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	memset(err, 0, sizeof(*err));
	return wsg_args_parse(argc, argv, a, err);
}

static const struct {
	const char *line;
	enum wsg_cmd cmd;
	size_t npos;
} good[] = {
        {"add env dev http://127.0.0.1:9164", WSG_CMD_ADD_ENV, 2},
        {"add env dev https://gw:9164 --ca-file ca.pem", WSG_CMD_ADD_ENV, 2},
        {"remove env dev", WSG_CMD_REMOVE_ENV, 1},
        {"get envs --format json", WSG_CMD_GET_ENVS, 0},
        {"login dev", WSG_CMD_LOGIN, 1},
        {"login dev -u admin --password-stdin -k", WSG_CMD_LOGIN, 1},
        {"login -u admin dev --no-store-password", WSG_CMD_LOGIN, 1},
        {"logout dev -v", WSG_CMD_LOGOUT, 1},
        {"get users -e dev", WSG_CMD_GET_USERS, 0},
        {"get users -e dev -p a* -r r1 --format table", WSG_CMD_GET_USERS, 0},
        {"get users bob -e dev", WSG_CMD_GET_USERS, 1},
        {"get users --environment=dev bob", WSG_CMD_GET_USERS, 1},
        {"add user bob -e dev --admin --role a --role b", WSG_CMD_ADD_USER, 1},
        {"delete user bob -e dev", WSG_CMD_DELETE_USER, 1},
        {"unlock user bob -e dev -k", WSG_CMD_UNLOCK_USER, 1},
        {"update user bob -e dev --add-role a --remove-role b",
         WSG_CMD_UPDATE_USER, 1},
        {"change password -e dev --password-stdin", WSG_CMD_CHANGE_PASSWORD, 0},
        {"get roles -e dev", WSG_CMD_GET_ROLES, 0},
        {"get roles r1 -e dev", WSG_CMD_GET_ROLES, 1},
        {"add role r1 -e dev", WSG_CMD_ADD_ROLE, 1},
        {"delete role r1 -e dev --insecure", WSG_CMD_DELETE_ROLE, 1},
        {"add user -e dev -- -odd", WSG_CMD_ADD_USER, 1},
};

static void
test_good_command_lines(void **state)
{
	struct wsg_args a;
	struct wsg_error err;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = parse(good[i].line, &a, &err);

		if (rc != WSG_OK)
			fail_msg("%s: %s", good[i].line, err.reason);
		assert_int_equal(a.cmd, good[i].cmd);
		assert_int_equal(a.npos, good[i].npos);
		assert_int_equal(a.help, 0);
	}
}

static void
test_options_are_collected(void **state)
{
	struct wsg_args a;
	struct wsg_error err;

	assert_int_equal(parse("add user bob --role a -e dev --admin --role b "
	                       "--password-stdin --ca-file x.pem -k",
	                       &a, &err),
	                 WSG_OK);
	assert_string_equal(a.pos[0], "bob");
	assert_string_equal(a.env, "dev");
	assert_int_equal(a.nroles, 2);
	assert_string_equal(a.roles[0], "a");
	assert_string_equal(a.roles[1], "b");
	assert_true(a.admin && a.password_stdin && a.insecure);
	assert_string_equal(a.ca_file, "x.pem");

	assert_int_equal(parse("update user bob -e dev --add-role a --add-role "
	                       "b --remove-role c",
	                       &a, &err),
	                 WSG_OK);
	assert_int_equal(a.nadd_roles, 2);
	assert_int_equal(a.nremove_roles, 1);
	assert_string_equal(a.remove_roles[0], "c");

	assert_int_equal(
	        parse("get users -e dev --format json -p x?", &a, &err),
	        WSG_OK);
	assert_int_equal(a.format, WSG_FORMAT_JSON);
	assert_string_equal(a.pattern, "x?");
}

static const struct {
	const char *line;
	const char *reason; /* a part of the message */
} bad[] = {
        {"frob", "unknown command 'frob'"},
        {"add", "'add' is followed by one of: env, user, role"},
        {"get things", "'get' is followed by one of: envs, users, roles"},
        {"add env dev", "'add env' needs 2 arguments"},
        {"add env dev url extra", "unexpected argument 'extra'"},
        {"login", "'login' needs 1 argument"},
        {"login dev -p pw", "never taken from the command line"},
        {"login dev --password-stdin", "--password-stdin needs the user"},
        {"login dev -u", "option -u needs a value"},
        {"login dev --bogus", "unknown option --bogus"},
        {"get users", "needs the environment: -e NAME"},
        {"unlock user -e dev", "'unlock user' needs 1 argument"},
        {"unlock role r -e dev", "'unlock' is followed by one of: user"},
        {"get users -e dev -r a -r b", "give -r ROLE at most once"},
        {"get users bob -e dev -p x", "cannot be combined with -p or -r"},
        {"get users -e dev --format xml", "--format is json or table"},
        {"add user -e dev", "'add user' needs 1 argument"},
        {"add user bob -e dev --add-role r", "--add-role does not apply"},
        {"update user bob -e dev", "at least one --add-role or --remove-role"},
        {"change password -e dev --admin", "--admin does not apply"},
        {"add env dev http://x -e dev", "-e does not apply"},
        {"help frob", "no help on 'frob'"},
};

static void
test_bad_command_lines(void **state)
{
	struct wsg_args a;
	struct wsg_error err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].line, &a, &err), WSG_ERR_INVAL);
		if (strstr(err.reason, bad[i].reason) == NULL)
			fail_msg("%s: got '%s', want '%s'", bad[i].line,
			         err.reason, bad[i].reason);
	}
}

static void
test_too_many_roles(void **state)
{
	struct wsg_args a;
	struct wsg_error err;
	char *argv[2 * WSG_ARGS_MAX_ROLES + 10];
	int argc = 0, i;

	argv[argc++] = "wssgatectl";
	argv[argc++] = "add";
	argv[argc++] = "user";
	argv[argc++] = "bob";
	argv[argc++] = "-e";
	argv[argc++] = "dev";
	for (i = 0; i <= WSG_ARGS_MAX_ROLES; i++) {
		argv[argc++] = "--role";
		argv[argc++] = "r";
	}
	argv[argc] = NULL;
	assert_int_equal(wsg_args_parse(argc, argv, &a, &err), WSG_ERR_INVAL);
	assert_non_null(strstr(err.reason, "at most"));
}

static void
test_help_forms(void **state)
{
	struct wsg_args a;
	struct wsg_error err;

	assert_int_equal(parse("--help", &a, &err), WSG_OK);
	assert_true(a.help);
	assert_int_equal(a.cmd, WSG_CMD_NONE);
	assert_int_equal(parse("add user --help", &a, &err), WSG_OK);
	assert_true(a.help);
	assert_int_equal(a.cmd, WSG_CMD_ADD_USER);
	/* --help wins over missing operands and the required -e. */
	assert_int_equal(parse("get users -h", &a, &err), WSG_OK);
	assert_true(a.help);
	assert_int_equal(parse("help change password", &a, &err), WSG_OK);
	assert_int_equal(a.cmd, WSG_CMD_HELP);
	assert_int_equal(a.help_topic, WSG_CMD_CHANGE_PASSWORD);
	assert_int_equal(parse("help", &a, &err), WSG_OK);
	assert_int_equal(a.help_topic, WSG_CMD_NONE);
	assert_int_equal(parse("add --help", &a, &err), WSG_OK);
	assert_true(a.help);
	assert_int_equal(parse("--version", &a, &err), WSG_OK);
	assert_int_equal(a.cmd, WSG_CMD_VERSION);
	assert_string_equal(wsg_args_cmd_name(WSG_CMD_DELETE_ROLE),
	                    "delete role");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good_command_lines),
	        cmocka_unit_test(test_options_are_collected),
	        cmocka_unit_test(test_bad_command_lines),
	        cmocka_unit_test(test_too_many_roles),
	        cmocka_unit_test(test_help_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
