/*
 * wssgatectl's own files: the environments (name -> management URL) and
 * the login credentials per environment, as JSON under
 * $XDG_CONFIG_HOME/wssgatectl/ (default ~/.config/wssgatectl/). The folder
 * is created 0700 and the files 0600; files or a folder that others can
 * read are refused rather than used. Writes are atomic (temporary file +
 * rename), so a crash never leaves half a file.
 */
#ifndef WSG_ENVSTORE_H
#define WSG_ENVSTORE_H

#include <jansson.h>

#include "types.h"

/* One environment. Strings are owned; free with wsg_envstore_env_free(). */
struct wsg_env {
	char *name;
	char *url;     /* http(s)://host[:port][/prefix], no trailing slash */
	char *ca_file; /* absolute path or NULL */
};

/*
 * A login. `password` is NULL when the user logged in with
 * --no-store-password. Free with wsg_envstore_cred_free(), which wipes.
 */
struct wsg_cred {
	char *username;
	char *password;
	char *token;
};

/*
 * The folder, created (with missing parents) when `create` is set. `*dir`
 * is malloc'ed. Fails with WSG_ERR_PERM when it is not ours or others may
 * use it, WSG_ERR_NOTFOUND when it is missing and !create, WSG_ERR_IO.
 */
int wsg_envstore_dir(int create, char **dir, struct wsg_error *err);

/* 1 when `name` is a valid environment name ([A-Za-z0-9._-], 1..64). */
int wsg_envstore_valid_name(const char *name);

/*
 * Sets err to "unknown environment", with the command that adds `name`,
 * and returns WSG_ERR_NOTFOUND.
 */
int wsg_envstore_unknown_env(const char *name, struct wsg_error *err);

/* Reads environment `name`: 0, WSG_ERR_NOTFOUND, WSG_ERR_PERM, ... */
int wsg_envstore_get_env(const char *dir, const char *name, struct wsg_env *env,
                         struct wsg_error *err);

/* Adds or replaces an environment. */
int wsg_envstore_put_env(const char *dir, const struct wsg_env *env,
                         struct wsg_error *err);

/* Removes an environment and its credentials (WSG_ERR_NOTFOUND if none). */
int wsg_envstore_del_env(const char *dir, const char *name,
                         struct wsg_error *err);

/*
 * All environments as a new JSON object {name: {"url": ..., ...}}; the
 * caller json_decref()s it.
 */
int wsg_envstore_list_envs(const char *dir, json_t **out,
                           struct wsg_error *err);

/* The credentials of environment `name`: 0 or WSG_ERR_NOTFOUND, ... */
int wsg_envstore_get_cred(const char *dir, const char *name,
                          struct wsg_cred *cred, struct wsg_error *err);

/* Stores (replaces) the credentials of environment `name`. */
int wsg_envstore_put_cred(const char *dir, const char *name,
                          const struct wsg_cred *cred, struct wsg_error *err);

/* Forgets the credentials of `name`; 0 also when there were none. */
int wsg_envstore_del_cred(const char *dir, const char *name,
                          struct wsg_error *err);

/* The path of the credentials file (malloc'ed), for messages. */
char *wsg_envstore_cred_path(const char *dir);

void wsg_envstore_env_free(struct wsg_env *env);
void wsg_envstore_cred_free(struct wsg_cred *cred);

#endif
