/*
 * wssgatectl's command line: `wssgatectl VERB [NOUN] [ARGS] [OPTIONS]`,
 * verbs mirroring WSO2 apictl's `mi` commands. Parsing only; nothing here
 * touches files or the network.
 */
#ifndef WSG_ARGS_H
#define WSG_ARGS_H

#include <stddef.h>

#include "types.h"

enum wsg_cmd {
	WSG_CMD_NONE = 0, /* no verb: general help */
	WSG_CMD_HELP,     /* help [VERB [NOUN]] */
	WSG_CMD_VERSION,
	WSG_CMD_ADD_ENV,
	WSG_CMD_REMOVE_ENV,
	WSG_CMD_GET_ENVS,
	WSG_CMD_LOGIN,
	WSG_CMD_LOGOUT,
	WSG_CMD_GET_USERS,
	WSG_CMD_ADD_USER,
	WSG_CMD_DELETE_USER,
	WSG_CMD_UPDATE_USER,
	WSG_CMD_CHANGE_PASSWORD,
	WSG_CMD_UNLOCK_USER,
	WSG_CMD_GET_ROLES,
	WSG_CMD_ADD_ROLE,
	WSG_CMD_DELETE_ROLE,
	WSG_CMD_GET_CERTS,
	WSG_CMD_ADD_CERT,
	WSG_CMD_DELETE_CERT,
	WSG_CMD__COUNT
};

enum wsg_format {
	WSG_FORMAT_TABLE = 0,
	WSG_FORMAT_JSON,
};

#define WSG_ARGS_MAX_ROLES 64

/* A parsed command line; the strings point into argv. */
struct wsg_args {
	enum wsg_cmd cmd;
	int help;                /* --help: show the command's help */
	enum wsg_cmd help_topic; /* for `help VERB NOUN` */
	const char *pos[2];      /* the command's operands */
	size_t npos;
	const char *env;     /* -e, --environment */
	const char *user;    /* -u, --username */
	const char *pattern; /* -p, --pattern */
	const char *ca_file; /* --ca-file */
	enum wsg_format format;
	int insecure;       /* -k, --insecure */
	int verbose;        /* -v, --verbose */
	int admin;          /* --admin */
	int password_stdin; /* --password-stdin */
	int no_store_password;
	const char *roles[WSG_ARGS_MAX_ROLES]; /* -r, --role */
	size_t nroles;
	const char *add_roles[WSG_ARGS_MAX_ROLES]; /* --add-role */
	size_t nadd_roles;
	const char *remove_roles[WSG_ARGS_MAX_ROLES]; /* --remove-role */
	size_t nremove_roles;
};

/*
 * Parses argv (argv[0] is the program). May reorder argv (getopt). Returns
 * 0, or WSG_ERR_INVAL with a one-line reason in `err`; a->cmd is set as far
 * as it was recognised, so the caller can point at the right help.
 */
int wsg_args_parse(int argc, char **argv, struct wsg_args *a,
                   struct wsg_error *err);

/* "add user" and so on, for messages and help lookup. */
const char *wsg_args_cmd_name(enum wsg_cmd cmd);

#endif
