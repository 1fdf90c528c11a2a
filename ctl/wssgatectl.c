/*
 * wssgatectl: the command-line client of wssgate's management API. Parses
 * the command line, runs one command and turns its result into the exit
 * status: 0 success, 1 the server refused or failed, 2 wrong usage, 3 the
 * server could not be reached.
 */
#include "autoconf.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "commands.h"
#include "err.h"
#include "secmem.h"
#include "usage.h"

enum exit_status {
	EXIT_DONE = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

typedef int (*command_fn)(const struct wsg_args *, struct wsg_error *);

static const command_fn commands[WSG_CMD__COUNT] = {
        [WSG_CMD_ADD_ENV] = wsg_cmd_add_env,
        [WSG_CMD_REMOVE_ENV] = wsg_cmd_remove_env,
        [WSG_CMD_GET_ENVS] = wsg_cmd_get_envs,
        [WSG_CMD_LOGIN] = wsg_cmd_login,
        [WSG_CMD_LOGOUT] = wsg_cmd_logout,
        [WSG_CMD_GET_USERS] = wsg_cmd_get_users,
        [WSG_CMD_ADD_USER] = wsg_cmd_add_user,
        [WSG_CMD_DELETE_USER] = wsg_cmd_delete_user,
        [WSG_CMD_UNLOCK_USER] = wsg_cmd_unlock_user,
        [WSG_CMD_UPDATE_USER] = wsg_cmd_update_user,
        [WSG_CMD_CHANGE_PASSWORD] = wsg_cmd_change_password,
        [WSG_CMD_GET_ROLES] = wsg_cmd_get_roles,
        [WSG_CMD_ADD_ROLE] = wsg_cmd_add_role,
        [WSG_CMD_DELETE_ROLE] = wsg_cmd_delete_role,
        [WSG_CMD_GET_CERTS] = wsg_cmd_get_certs,
        [WSG_CMD_ADD_CERT] = wsg_cmd_add_cert,
        [WSG_CMD_DELETE_CERT] = wsg_cmd_delete_cert,
};

static int
exit_status_of(int rc)
{
	switch (rc) {
	case WSG_OK: return EXIT_DONE;
	case WSG_ERR_INVAL: return EXIT_USAGE;
	case WSG_ERR_CONNECT: return EXIT_UNREACHABLE;
	default: return EXIT_REFUSED;
	}
}

int
main(int argc, char **argv)
{
	struct wsg_error err = {0};
	struct wsg_args a;
	int rc;

	if (wsg_secmem_install() != WSG_OK) {
		fprintf(stderr, "wssgatectl: cannot initialise libcurl\n");
		return EXIT_REFUSED;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = wsg_args_parse(argc, argv, &a, &err);
	if (rc != WSG_OK) {
		fprintf(stderr, "wssgatectl: %s\nTry 'wssgatectl help%s%s'.\n",
		        err.reason, a.cmd > WSG_CMD_VERSION ? " " : "",
		        a.cmd > WSG_CMD_VERSION ? wsg_args_cmd_name(a.cmd)
		                                : "");
		rc = EXIT_USAGE;
		goto out;
	}
	if (a.help || a.cmd == WSG_CMD_NONE || a.cmd == WSG_CMD_HELP) {
		/* Bare `wssgatectl` is a usage error; asked-for help is not. */
		wsg_usage_print(a.cmd == WSG_CMD_HELP ? a.help_topic : a.cmd,
		                argc < 2 ? stderr : stdout);
		rc = argc < 2 ? EXIT_USAGE : EXIT_DONE;
		goto out;
	}
	if (a.cmd == WSG_CMD_VERSION) {
		printf("wssgatectl %s\n", PACKAGE_VERSION);
		rc = EXIT_DONE;
		goto out;
	}
	rc = commands[a.cmd](&a, &err);
	if (rc != WSG_OK)
		fprintf(stderr, "wssgatectl: %s\n", err.reason);
	rc = exit_status_of(rc);
out:
	curl_global_cleanup();
	return rc;
}
