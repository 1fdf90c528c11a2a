#include "args.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

enum opt_bit {
	O_ENV = 1 << 0,
	O_USER = 1 << 1,
	O_PATTERN = 1 << 2,
	O_ROLE = 1 << 3,
	O_FORMAT = 1 << 4,
	O_ADMIN = 1 << 5,
	O_PWSTDIN = 1 << 6,
	O_ADD_ROLE = 1 << 7,
	O_REMOVE_ROLE = 1 << 8,
	O_NO_STORE = 1 << 9,
	O_CA_FILE = 1 << 10,
	O_INSECURE = 1 << 11,
	O_VERBOSE = 1 << 12,
};

/* Options of every command that talks to a gateway. */
#define O_NET (O_CA_FILE | O_INSECURE | O_VERBOSE)

/* Codes of long options without a short form. */
enum {
	OPT_FORMAT = 256,
	OPT_CA_FILE,
	OPT_ADMIN,
	OPT_PWSTDIN,
	OPT_NO_STORE,
	OPT_ADD_ROLE,
	OPT_REMOVE_ROLE,
};

struct spec {
	const char *name; /* "add user" */
	const char *verb;
	const char *noun; /* NULL for one-word commands */
	enum wsg_cmd cmd;
	unsigned opts;
	size_t min_pos, max_pos;
	int need_env;
};

static const struct spec specs[] = {
        {"add env", "add", "env", WSG_CMD_ADD_ENV, O_CA_FILE, 2, 2, 0},
        {"remove env", "remove", "env", WSG_CMD_REMOVE_ENV, 0, 1, 1, 0},
        {"get envs", "get", "envs", WSG_CMD_GET_ENVS, O_FORMAT, 0, 0, 0},
        {"login", "login", NULL, WSG_CMD_LOGIN,
         O_USER | O_PWSTDIN | O_NO_STORE | O_NET, 1, 1, 0},
        {"logout", "logout", NULL, WSG_CMD_LOGOUT, O_NET, 1, 1, 0},
        {"get users", "get", "users", WSG_CMD_GET_USERS,
         O_ENV | O_PATTERN | O_ROLE | O_FORMAT | O_NET, 0, 1, 1},
        {"add user", "add", "user", WSG_CMD_ADD_USER,
         O_ENV | O_ADMIN | O_ROLE | O_PWSTDIN | O_NET, 1, 1, 1},
        {"delete user", "delete", "user", WSG_CMD_DELETE_USER, O_ENV | O_NET, 1,
         1, 1},
        {"update user", "update", "user", WSG_CMD_UPDATE_USER,
         O_ENV | O_ADD_ROLE | O_REMOVE_ROLE | O_NET, 1, 1, 1},
        {"change password", "change", "password", WSG_CMD_CHANGE_PASSWORD,
         O_ENV | O_PWSTDIN | O_NET, 0, 0, 1},
        {"unlock user", "unlock", "user", WSG_CMD_UNLOCK_USER, O_ENV | O_NET, 1,
         1, 1},
        {"get roles", "get", "roles", WSG_CMD_GET_ROLES,
         O_ENV | O_FORMAT | O_NET, 0, 1, 1},
        {"add role", "add", "role", WSG_CMD_ADD_ROLE, O_ENV | O_NET, 1, 1, 1},
        {"delete role", "delete", "role", WSG_CMD_DELETE_ROLE, O_ENV | O_NET, 1,
         1, 1},
        {"get certs", "get", "certs", WSG_CMD_GET_CERTS,
         O_ENV | O_FORMAT | O_NET, 1, 1, 1},
        {"add cert", "add", "cert", WSG_CMD_ADD_CERT, O_ENV | O_NET, 2, 2, 1},
        {"delete cert", "delete", "cert", WSG_CMD_DELETE_CERT, O_ENV | O_NET, 2,
         2, 1},
};

#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static const struct option long_opts[] = {
        {"environment", required_argument, NULL, 'e'},
        {"username", required_argument, NULL, 'u'},
        {"pattern", required_argument, NULL, 'p'},
        {"role", required_argument, NULL, 'r'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"ca-file", required_argument, NULL, OPT_CA_FILE},
        {"insecure", no_argument, NULL, 'k'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"admin", no_argument, NULL, OPT_ADMIN},
        {"password-stdin", no_argument, NULL, OPT_PWSTDIN},
        {"no-store-password", no_argument, NULL, OPT_NO_STORE},
        {"add-role", required_argument, NULL, OPT_ADD_ROLE},
        {"remove-role", required_argument, NULL, OPT_REMOVE_ROLE},
        {NULL, 0, NULL, 0},
};

const char *
wsg_args_cmd_name(enum wsg_cmd cmd)
{
	size_t i;

	for (i = 0; i < NSPECS; i++)
		if (specs[i].cmd == cmd)
			return specs[i].name;
	return "wssgatectl";
}

static int
is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/*
 * The command named by words[0..n): sets *used to the number of words it
 * took. NULL when the words name none; *verb_known tells whether
 * words[0] was at least a verb.
 */
static const struct spec *
find_spec(char **words, int n, int *used, int *verb_known)
{
	size_t i;

	*used = 0;
	*verb_known = 0;
	if (n < 1)
		return NULL;
	for (i = 0; i < NSPECS; i++) {
		if (strcmp(specs[i].verb, words[0]) != 0)
			continue;
		*verb_known = 1;
		if (specs[i].noun == NULL) {
			*used = 1;
			return &specs[i];
		}
		if (n >= 2 && strcmp(specs[i].noun, words[1]) == 0) {
			*used = 2;
			return &specs[i];
		}
	}
	return NULL;
}

/* "env, user, role" for the nouns a verb takes. */
static void
nouns_of(const char *verb, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < NSPECS; i++) {
		if (strcmp(specs[i].verb, verb) != 0 || specs[i].noun == NULL)
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		                        len ? ", " : "", specs[i].noun);
		if (len >= size)
			break;
	}
}

static int
add_role(const char **list, size_t *n, const char *role, const char *opt,
         struct wsg_error *err)
{
	if (*n >= WSG_ARGS_MAX_ROLES)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "at most %d %s options",
		                     WSG_ARGS_MAX_ROLES, opt);
	list[(*n)++] = role;
	return WSG_OK;
}

/* The option as the user typed it, for messages. */
static void
opt_text(int c, int longindex, char *buf, size_t size)
{
	if (longindex >= 0)
		snprintf(buf, size, "--%s", long_opts[longindex].name);
	else
		snprintf(buf, size, "-%c", c);
}

static unsigned
opt_bit(int c)
{
	switch (c) {
	case 'e': return O_ENV;
	case 'u': return O_USER;
	case 'p': return O_PATTERN;
	case 'r': return O_ROLE;
	case 'k': return O_INSECURE;
	case 'v': return O_VERBOSE;
	case OPT_FORMAT: return O_FORMAT;
	case OPT_CA_FILE: return O_CA_FILE;
	case OPT_ADMIN: return O_ADMIN;
	case OPT_PWSTDIN: return O_PWSTDIN;
	case OPT_NO_STORE: return O_NO_STORE;
	case OPT_ADD_ROLE: return O_ADD_ROLE;
	case OPT_REMOVE_ROLE: return O_REMOVE_ROLE;
	}
	return 0;
}

/* Options and operands of the command `sp`, in argv[0..argc). */
static int
parse_options(const struct spec *sp, int argc, char **argv, struct wsg_args *a,
              struct wsg_error *err)
{
	char name[64];
	int c, rc, longindex;

	opterr = 0;
	optind = 0; /* GNU getopt: full re-initialisation */
	for (;;) {
		longindex = -1;
		c = getopt_long(argc, argv, ":e:u:p:r:kvh", long_opts,
		                &longindex);
		if (c == -1)
			break;
		if (c == '?' && optopt != 0)
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "unknown option -%c", optopt);
		if (c == '?')
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "unknown option %s",
			                     argv[optind - 1]);
		if (c == ':')
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "option %s needs a value",
			                     argv[optind - 1]);
		if (c == 'h') {
			a->help = 1;
			continue;
		}
		if (!(sp->opts & opt_bit(c))) {
			if (c == 'p' && sp->cmd == WSG_CMD_LOGIN)
				return wsg_error_set(
				        err, WSG_ERR_INVAL, WSG_FAULT_NONE,
				        "passwords are never taken from the "
				        "command line: type it at the prompt "
				        "or use --password-stdin");
			opt_text(c, longindex, name, sizeof(name));
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "option %s does not apply to '%s'",
			                     name, sp->name);
		}
		switch (c) {
		case 'e': a->env = optarg; break;
		case 'u': a->user = optarg; break;
		case 'p': a->pattern = optarg; break;
		case 'k': a->insecure = 1; break;
		case 'v': a->verbose = 1; break;
		case OPT_CA_FILE: a->ca_file = optarg; break;
		case OPT_ADMIN: a->admin = 1; break;
		case OPT_PWSTDIN: a->password_stdin = 1; break;
		case OPT_NO_STORE: a->no_store_password = 1; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0)
				a->format = WSG_FORMAT_JSON;
			else if (strcmp(optarg, "table") == 0)
				a->format = WSG_FORMAT_TABLE;
			else
				return wsg_error_set(
				        err, WSG_ERR_INVAL, WSG_FAULT_NONE,
				        "--format is json or table, not '%s'",
				        optarg);
			break;
		case 'r':
			rc = add_role(a->roles, &a->nroles, optarg, "--role",
			              err);
			if (rc != WSG_OK)
				return rc;
			break;
		case OPT_ADD_ROLE:
			rc = add_role(a->add_roles, &a->nadd_roles, optarg,
			              "--add-role", err);
			if (rc != WSG_OK)
				return rc;
			break;
		case OPT_REMOVE_ROLE:
			rc = add_role(a->remove_roles, &a->nremove_roles,
			              optarg, "--remove-role", err);
			if (rc != WSG_OK)
				return rc;
			break;
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos >= sp->max_pos)
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "unexpected argument '%s'",
			                     argv[optind]);
		a->pos[a->npos++] = argv[optind];
	}
	return WSG_OK;
}

/* Rules between options and operands that getopt cannot express. */
static int
check_combination(const struct spec *sp, struct wsg_args *a,
                  struct wsg_error *err)
{
	size_t i;

	if (a->npos < sp->min_pos)
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "'%s' needs %zu argument%s", sp->name,
		                     sp->min_pos, sp->min_pos == 1 ? "" : "s");
	for (i = 0; i < a->npos; i++)
		if (a->pos[i][0] == '\0')
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "empty argument to '%s'",
			                     sp->name);
	if (sp->need_env && (a->env == NULL || a->env[0] == '\0'))
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "'%s' needs the environment: -e NAME",
		                     sp->name);
	switch (sp->cmd) {
	case WSG_CMD_GET_USERS:
		if (a->nroles > 1)
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "give -r ROLE at most once");
		if (a->npos == 1 && (a->pattern != NULL || a->nroles > 0))
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "a user ID cannot be combined "
			                     "with -p or -r");
		break;
	case WSG_CMD_UPDATE_USER:
		if (a->nadd_roles == 0 && a->nremove_roles == 0)
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "give at least one --add-role or "
			                     "--remove-role");
		break;
	case WSG_CMD_LOGIN:
		if (a->password_stdin && a->user == NULL)
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "--password-stdin needs the user "
			                     "name: -u USER");
		break;
	default: break;
	}
	return WSG_OK;
}

int
wsg_args_parse(int argc, char **argv, struct wsg_args *a, struct wsg_error *err)
{
	const struct spec *sp;
	char nouns[128];
	int used, verb_known, rc;

	memset(a, 0, sizeof(*a));
	if (argc < 2)
		return WSG_OK;
	if (is_help(argv[1])) {
		a->help = 1;
		return WSG_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		a->cmd = WSG_CMD_VERSION;
		return WSG_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		a->cmd = WSG_CMD_HELP;
		if (argc == 2)
			return WSG_OK;
		sp = find_spec(argv + 2, argc - 2, &used, &verb_known);
		if (sp == NULL || 2 + used != argc)
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "no help on '%s%s%s'", argv[2],
			                     argc > 3 ? " " : "",
			                     argc > 3 ? argv[3] : "");
		a->help_topic = sp->cmd;
		return WSG_OK;
	}
	sp = find_spec(argv + 1, argc - 1, &used, &verb_known);
	if (sp == NULL) {
		if (!verb_known)
			return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
			                     "unknown command '%s'", argv[1]);
		if (argc >= 3 && is_help(argv[2])) {
			a->help = 1;
			return WSG_OK;
		}
		nouns_of(argv[1], nouns, sizeof(nouns));
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "'%s' is followed by one of: %s", argv[1],
		                     nouns);
	}
	a->cmd = sp->cmd;
	/* getopt sees the last command word as its argv[0]. */
	rc = parse_options(sp, argc - used, argv + used, a, err);
	if (rc != WSG_OK || a->help)
		return a->help ? WSG_OK : rc;
	return check_combination(sp, a, err);
}
