#include "usage.h"

#define NET_OPTIONS                                                            \
	"  -k, --insecure        do not verify the server's TLS certificate\n" \
	"                        (a warning is printed; for testing only)\n"   \
	"      --ca-file FILE    trust the CA certificates in FILE (PEM)\n"    \
	"  -v, --verbose         print each request and answer status\n"       \
	"  -h, --help            show this help\n"

#define ENV_OPTION                                                             \
	"  -e, --environment NAME  the environment (see 'add env'); "          \
	"required\n"

static const char overview[] =
        "Usage: wssgatectl COMMAND [ARGUMENTS] [OPTIONS]\n"
        "\n"
        "Manage the users and roles of a wssgate gateway through its "
        "management API\n"
        "(WSO2 Micro Integrator compatible). The commands mirror WSO2 "
        "apictl's 'mi'\n"
        "commands.\n"
        "\n"
        "Environments and sessions:\n"
        "  add env NAME URL            remember a gateway's management URL\n"
        "  remove env NAME             forget an environment and its login\n"
        "  get envs                    list the environments\n"
        "  login NAME [-u USER]        log in (password prompted or "
        "--password-stdin)\n"
        "  logout NAME                 end the session and forget the "
        "credentials\n"
        "\n"
        "Users and roles (admin rights needed, except 'change password'):\n"
        "  get users -e NAME [-p PATTERN] [-r ROLE]   list users\n"
        "  get users ID -e NAME                        show one user\n"
        "  add user ID -e NAME [--admin] [--role R]... add a user\n"
        "  delete user ID -e NAME                      delete a user\n"
        "  unlock user ID -e NAME                      end a user's lockout\n"
        "  update user ID -e NAME [--add-role R]... [--remove-role R]...\n"
        "  change password -e NAME                     change your own "
        "password\n"
        "  get roles -e NAME [ROLE]                    list roles, or show "
        "one\n"
        "  add role ROLE -e NAME                       add a role\n"
        "  delete role ROLE -e NAME                    delete a role\n"
        "  get certs ID -e NAME                        list a user's "
        "certificates\n"
        "  add cert ID FILE.pem -e NAME                map a certificate to "
        "a user\n"
        "  delete cert ID FINGERPRINT -e NAME          remove a user's "
        "certificate\n"
        "\n"
        "  help [COMMAND]              help on a command, e.g. "
        "'wssgatectl help add user'\n"
        "  --version                   print the version\n"
        "\n"
        "Files: $XDG_CONFIG_HOME/wssgatectl/ (default "
        "~/.config/wssgatectl/).\n"
        "Exit status: 0 success, 1 the server refused or failed (its Error "
        "text is\n"
        "printed), 2 wrong usage, 3 the server could not be reached.\n"
        "See wssgatectl(1).\n";

static const char *const pages[WSG_CMD__COUNT] = {
        [WSG_CMD_ADD_ENV] =
                "Usage: wssgatectl add env NAME URL [--ca-file FILE]\n"
                "\n"
                "Remembers the management API of a gateway under NAME. URL is "
                "the\n"
                "listener's base, e.g. https://gw.example:9164 ('/management' "
                "is\n"
                "appended). NAME is 1 to 64 of A-Z a-z 0-9 . _ -\n"
                "\n"
                "  --ca-file FILE  trust the CA certificates in FILE for this "
                "environment\n"
                "                  (stored as an absolute path)\n"
                "  -h, --help      show this help\n"
                "\n"
                "Example:\n"
                "  wssgatectl add env dev http://127.0.0.1:9164\n",
        [WSG_CMD_REMOVE_ENV] =
                "Usage: wssgatectl remove env NAME\n"
                "\n"
                "Forgets the environment NAME and any stored login for it (the "
                "session\n"
                "is not revoked on the server: run 'logout' first for that).\n",
        [WSG_CMD_GET_ENVS] =
                "Usage: wssgatectl get envs [--format json|table]\n"
                "\n"
                "Lists the environments with their URLs.\n",
        [WSG_CMD_LOGIN] =
                "Usage: wssgatectl login NAME [-u USER] [--password-stdin] "
                "[--no-store-password]\n"
                "\n"
                "Logs in to environment NAME (GET /management/login with HTTP "
                "Basic) and\n"
                "stores the access token for the other commands. Without -u "
                "the user name\n"
                "is asked for; the password is asked for on the terminal "
                "without echo,\n"
                "or read as one line from standard input with "
                "--password-stdin.\n"
                "\n"
                "Like apictl, the user name and password are stored with the "
                "token (file\n"
                "mode 0600, not encrypted) so that an expired or revoked "
                "session is renewed\n"
                "by logging in again once, without asking. With "
                "--no-store-password only\n"
                "the token is kept; when it stops working, log in again by "
                "hand.\n"
                "\n"
                "  -u, --username USER    the user name\n"
                "      --password-stdin   read the password from standard "
                "input "
                "(needs -u)\n"
                "      --no-store-password  keep only the token, not the "
                "password\n" NET_OPTIONS "\n"
                "Examples:\n"
                "  wssgatectl login dev -u admin\n"
                "  printf '%s\\n' \"$PW\" | wssgatectl login dev -u admin "
                "--password-stdin\n",
        [WSG_CMD_LOGOUT] =
                "Usage: wssgatectl logout NAME\n"
                "\n"
                "Revokes the session token on the server (GET "
                "/management/logout) and\n"
                "forgets the stored credentials of environment NAME.\n"
                "\n" NET_OPTIONS,
        [WSG_CMD_GET_USERS] =
                "Usage: wssgatectl get users -e NAME [-p PATTERN] [-r ROLE] "
                "[--format json|table]\n"
                "       wssgatectl get users ID -e NAME [--format json|table]\n"
                "\n"
                "Lists the users (optionally those matching the glob PATTERN, "
                "with * and ?,\n"
                "and those holding ROLE), or shows one user: its admin flag "
                "and roles.\n"
                "\n" ENV_OPTION
                "  -p, --pattern PATTERN   only user IDs matching PATTERN\n"
                "  -r, --role ROLE         only users holding ROLE\n"
                "      --format FORMAT     table (default) or json (the "
                "server's answer)\n" NET_OPTIONS "\n"
                "Examples:\n"
                "  wssgatectl get users -e dev\n"
                "  wssgatectl get users -e dev -p 'a*' --format json\n"
                "  wssgatectl get users alice -e dev\n",
        [WSG_CMD_ADD_USER] =
                "Usage: wssgatectl add user ID -e NAME [--admin] [--role "
                "ROLE]... [--password-stdin]\n"
                "\n"
                "Adds the user ID (POST /management/users), then grants the "
                "roles\n"
                "(PUT /management/roles). The password is asked for twice on "
                "the terminal\n"
                "without echo, or read as one line from standard input with "
                "--password-stdin.\n"
                "\n" ENV_OPTION
                "      --admin            make the user an administrator\n"
                "  -r, --role ROLE        grant ROLE (repeatable)\n"
                "      --password-stdin   read the password from standard "
                "input\n" NET_OPTIONS "\n"
                "Example:\n"
                "  wssgatectl add user alice -e dev --role echo-users\n",
        [WSG_CMD_DELETE_USER] =
                "Usage: wssgatectl delete user ID -e NAME\n"
                "\n"
                "Deletes the user ID (DELETE /management/users/ID). An "
                "administrator can\n"
                "only be deleted by the administrator who created it; nobody "
                "can delete\n"
                "themselves or the last administrator.\n"
                "\n" ENV_OPTION NET_OPTIONS,
        [WSG_CMD_UNLOCK_USER] =
                "Usage: wssgatectl unlock user ID -e NAME\n"
                "\n"
                "Ends the lockout of the user ID after too many wrong "
                "passwords\n"
                "(security.lockout) and forgets its failures (POST "
                "/management/users/ID/unlock,\n"
                "a wssgate extension). A gateway keeps lockouts in its own "
                "memory: with\n"
                "several gateways, unlock on each.\n"
                "\n" ENV_OPTION NET_OPTIONS,
        [WSG_CMD_UPDATE_USER] =
                "Usage: wssgatectl update user ID -e NAME [--add-role ROLE]... "
                "[--remove-role ROLE]...\n"
                "\n"
                "Grants and revokes roles of the user ID in one request (PUT "
                "/management/roles).\n"
                "\n" ENV_OPTION
                "      --add-role ROLE     grant ROLE (repeatable)\n"
                "      --remove-role ROLE  revoke ROLE "
                "(repeatable)\n" NET_OPTIONS "\n"
                "Example:\n"
                "  wssgatectl update user alice -e dev --add-role auditors "
                "--remove-role echo-users\n",
        [WSG_CMD_CHANGE_PASSWORD] =
                "Usage: wssgatectl change password -e NAME [--password-stdin]\n"
                "\n"
                "Changes the password of the logged-in user (PATCH "
                "/management/users/USER).\n"
                "Asks for the current password and twice for the new one "
                "without echo, or\n"
                "reads two lines (current, new) from standard input with "
                "--password-stdin.\n"
                "A stored password (see 'login') is updated too.\n"
                "\n" ENV_OPTION
                "      --password-stdin   read current and new password from "
                "standard input\n" NET_OPTIONS,
        [WSG_CMD_GET_ROLES] =
                "Usage: wssgatectl get roles -e NAME [--format json|table]\n"
                "       wssgatectl get roles ROLE -e NAME [--format "
                "json|table]\n"
                "\n"
                "Lists the roles, or shows the users holding ROLE.\n"
                "\n" ENV_OPTION "      --format FORMAT     table (default) or "
                "json\n" NET_OPTIONS,
        [WSG_CMD_ADD_ROLE] = "Usage: wssgatectl add role ROLE -e NAME\n"
                             "\n"
                             "Adds the role ROLE (POST /management/roles).\n"
                             "\n" ENV_OPTION NET_OPTIONS,
        [WSG_CMD_DELETE_ROLE] =
                "Usage: wssgatectl delete role ROLE -e NAME\n"
                "\n"
                "Deletes the role ROLE (DELETE /management/roles/ROLE); users "
                "lose it.\n"
                "\n" ENV_OPTION NET_OPTIONS,
        [WSG_CMD_GET_CERTS] =
                "Usage: wssgatectl get certs ID -e NAME [--format json|table]\n"
                "\n"
                "Lists the X.509 certificates that stand for the user ID "
                "(GET\n"
                "/management/users/ID/certificates, a wssgate extension): "
                "fingerprint,\n"
                "end of validity, subject and issuer.\n"
                "\n" ENV_OPTION "      --format FORMAT     table (default) or "
                "json\n" NET_OPTIONS,
        [WSG_CMD_ADD_CERT] =
                "Usage: wssgatectl add cert ID FILE.pem -e NAME\n"
                "\n"
                "Maps the certificate in FILE.pem (exactly one, no private "
                "key, not\n"
                "expired) to the user ID and prints its SHA-256 "
                "fingerprint. A\n"
                "certificate maps to one user at most.\n"
                "\n" ENV_OPTION NET_OPTIONS,
        [WSG_CMD_DELETE_CERT] =
                "Usage: wssgatectl delete cert ID FINGERPRINT -e NAME\n"
                "\n"
                "Removes the certificate FINGERPRINT (64 hex digits, or as "
                "openssl\n"
                "prints it with colons) from the user ID.\n"
                "\n" ENV_OPTION NET_OPTIONS,
};

void
wsg_usage_print(enum wsg_cmd cmd, FILE *out)
{
	if (cmd > WSG_CMD_NONE && cmd < WSG_CMD__COUNT && pages[cmd] != NULL)
		fputs(pages[cmd], out);
	else
		fputs(overview, out);
}
