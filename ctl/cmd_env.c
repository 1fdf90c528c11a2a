#include "commands.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envstore.h"
#include "err.h"
#include "http.h"
#include "mem.h"
#include "output.h"
#include "prompt.h"
#include "session.h"

static void
warn_plain_http(const char *url)
{
	fprintf(stderr,
	        "wssgatectl: warning: %s is plain HTTP and not on "
	        "this machine: passwords and tokens cross the "
	        "network unencrypted\n",
	        url);
}

int
wsg_cmd_add_env(const struct wsg_args *a, struct wsg_error *err)
{
	const char *name = a->pos[0];
	struct wsg_env env = {0}, old;
	char *dir = NULL, ca[PATH_MAX];
	int rc, https, loopback;
	size_t n;

	if (!wsg_envstore_valid_name(name))
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "'%s' is not an environment name (1 to 64 "
		                     "of A-Z a-z 0-9 . _ -)",
		                     name);
	rc = wsg_http_check_url(a->pos[1], &https, &loopback, err);
	if (rc != WSG_OK)
		return rc;
	if (a->ca_file != NULL &&
	    (realpath(a->ca_file, ca) == NULL || access(ca, R_OK) != 0))
		return wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                     "cannot read the CA file %s", a->ca_file);
	rc = wsg_envstore_dir(1, &dir, err);
	if (rc != WSG_OK)
		return rc;
	rc = wsg_envstore_get_env(dir, name, &old, err);
	if (rc == WSG_OK) {
		rc = wsg_error_set(err, WSG_ERR_EXISTS, WSG_FAULT_NONE,
		                   "environment '%s' already exists (%s); "
		                   "remove it first: wssgatectl remove env %s",
		                   name, old.url, name);
		wsg_envstore_env_free(&old);
		goto out;
	}
	if (rc != WSG_ERR_NOTFOUND)
		goto out;
	env.name = wsg_mem_strdup(name);
	env.url = wsg_mem_strdup(a->pos[1]);
	n = strlen(env.url);
	while (n > 0 && env.url[n - 1] == '/')
		env.url[--n] = '\0';
	if (a->ca_file != NULL)
		env.ca_file = wsg_mem_strdup(ca);
	rc = wsg_envstore_put_env(dir, &env, err);
	if (rc != WSG_OK)
		goto out;
	if (!https && !loopback)
		warn_plain_http(env.url);
	printf("Successfully added environment '%s'\n", name);
out:
	wsg_envstore_env_free(&env);
	free(dir);
	return rc;
}

int
wsg_cmd_remove_env(const struct wsg_args *a, struct wsg_error *err)
{
	struct wsg_cred cred;
	char *dir = NULL;
	int rc;

	rc = wsg_envstore_dir(0, &dir, err);
	if (rc == WSG_ERR_NOTFOUND)
		return wsg_error_set(err, rc, WSG_FAULT_NONE,
		                     "unknown environment '%s'", a->pos[0]);
	if (rc != WSG_OK)
		return rc;
	if (wsg_envstore_get_cred(dir, a->pos[0], &cred, NULL) == WSG_OK) {
		fprintf(stderr,
		        "wssgatectl: note: the session of '%s' on "
		        "'%s' stays valid on the server until it "
		        "expires (use 'logout' to revoke it)\n",
		        cred.username, a->pos[0]);
		wsg_envstore_cred_free(&cred);
	}
	rc = wsg_envstore_del_env(dir, a->pos[0], err);
	if (rc == WSG_OK)
		printf("Removed environment '%s'\n", a->pos[0]);
	free(dir);
	return rc;
}

int
wsg_cmd_get_envs(const struct wsg_args *a, struct wsg_error *err)
{
	json_t *envs = NULL, *e;
	const char *name;
	char *dir = NULL;
	size_t width = 4;
	int rc;

	rc = wsg_envstore_dir(0, &dir, err);
	if (rc == WSG_ERR_NOTFOUND) {
		envs = json_object();
		rc = WSG_OK;
	} else if (rc == WSG_OK) {
		rc = wsg_envstore_list_envs(dir, &envs, err);
	}
	if (rc != WSG_OK)
		goto out;
	if (a->format == WSG_FORMAT_JSON) {
		wsg_output_json(envs);
		goto out;
	}
	if (json_object_size(envs) == 0) {
		printf("No environments found\n");
		goto out;
	}
	json_object_foreach(envs, name, e) if (strlen(name) > width) width =
	        strlen(name);
	printf("%-*s  URL\n", (int)width, "NAME");
	json_object_foreach(envs, name, e)
	{
		printf("%-*s  ", (int)width, name);
		wsg_output_text(json_string_value(json_object_get(e, "url"))
		                        ?: "-");
		putchar('\n');
	}
out:
	json_decref(envs);
	free(dir);
	return rc;
}

/* A password typed at the terminal or read from standard input. */
static int
read_login_password(const struct wsg_args *a, const char *user, const char *env,
                    char **pw, struct wsg_error *err)
{
	char *prompt = wsg_mem_printf("Password for %s on %s: ", user, env);
	int rc;

	rc = wsg_prompt_password(a->password_stdin, "password", prompt, pw,
	                         err);
	free(prompt);
	if (rc == WSG_OK && (*pw)[0] == '\0') {
		wsg_prompt_free(*pw);
		*pw = NULL;
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "the password is empty");
	}
	return rc;
}

int
wsg_cmd_login(const struct wsg_args *a, struct wsg_error *err)
{
	struct wsg_session s;
	struct wsg_cred cred = {0};
	char *user = NULL, *pw = NULL, *token = NULL, *path;
	int rc, https, loopback;

	rc = wsg_session_open(&s, a->pos[0], a, 0, err);
	if (rc != WSG_OK)
		goto out;
	if (a->user != NULL) {
		user = wsg_mem_strdup(a->user);
	} else {
		rc = wsg_prompt_tty("Username: ", 0, &user, err);
		rc = wsg_prompt_no_tty(rc, "-u USER", err);
		if (rc != WSG_OK)
			goto out;
	}
	if (user[0] == '\0' || strchr(user, ':') != NULL) {
		rc = wsg_error_set(err, WSG_ERR_INVAL, WSG_FAULT_NONE,
		                   "the user name is empty or holds ':' "
		                   "(HTTP Basic cannot carry it)");
		goto out;
	}
	rc = read_login_password(a, user, a->pos[0], &pw, err);
	if (rc != WSG_OK)
		goto out;
	if (wsg_http_check_url(s.env.url, &https, &loopback, NULL) == WSG_OK &&
	    !https && !loopback)
		warn_plain_http(s.env.url);
	rc = wsg_session_login(&s, user, pw, &token, err);
	if (rc != WSG_OK)
		goto out;
	cred.username = user;
	cred.password = a->no_store_password ? NULL : pw;
	cred.token = token;
	rc = wsg_envstore_put_cred(s.dir, a->pos[0], &cred, err);
	if (rc != WSG_OK)
		goto out;
	printf("Logged in to '%s' as '", a->pos[0]);
	wsg_output_text(user);
	printf("'\n");
	if (!a->no_store_password) {
		path = wsg_envstore_cred_path(s.dir);
		fprintf(stderr,
		        "wssgatectl: note: the password is stored "
		        "unencrypted in %s (mode 0600) to renew "
		        "expired sessions; --no-store-password keeps "
		        "only the token\n",
		        path);
		free(path);
	}
out:
	wsg_prompt_free(user);
	wsg_prompt_free(pw);
	wsg_prompt_free(token);
	wsg_session_close(&s);
	return rc;
}

int
wsg_cmd_logout(const struct wsg_args *a, struct wsg_error *err)
{
	struct wsg_session s;
	int rc, ended;

	rc = wsg_session_open(&s, a->pos[0], a, 0, err);
	if (rc != WSG_OK)
		goto out;
	if (!s.have_cred) {
		printf("Not logged in to '%s'\n", a->pos[0]);
		goto out;
	}
	/* A token the server no longer knows is as good as revoked. */
	rc = wsg_session_logout(&s, err);
	if (rc != WSG_OK && rc != WSG_ERR_AUTH)
		goto out;
	ended = rc == WSG_ERR_AUTH;
	rc = wsg_envstore_del_cred(s.dir, a->pos[0], err);
	if (rc != WSG_OK)
		goto out;
	printf("Logged out from '%s'%s\n", a->pos[0],
	       ended ? " (the server had already ended the session)" : "");
out:
	wsg_session_close(&s);
	return rc;
}
