#include "envstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "mem.h"
#include "secmem.h"

#define ENVS_FILE "environments.json"
#define CREDS_FILE "credentials.json"
#define ENVS_KEY "environments"
#define CREDS_KEY "credentials"
#define MAX_FILE_SIZE (1024 * 1024)
#define MAX_NAME_LEN 64

static int
check_owner_mode(const struct stat *st, const char *path, int is_dir,
                 struct wsg_error *err)
{
	if (st->st_uid != geteuid())
		return wsg_error_set(err, WSG_ERR_PERM, WSG_FAULT_NONE,
		                     "%s belongs to another user", path);
	if (st->st_mode & 077)
		return wsg_error_set(err, WSG_ERR_PERM, WSG_FAULT_NONE,
		                     "%s may be used by other users; run: "
		                     "chmod %s %s",
		                     path, is_dir ? "700" : "600", path);
	return WSG_OK;
}

/* Like mkdir -p with mode 0700 for each folder it creates. */
static int
make_dirs(const char *path, struct wsg_error *err)
{
	char *p = wsg_mem_strdup(path), *s;
	int rc = WSG_OK;

	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
			                   "cannot create %s: %s", p,
			                   strerror(errno));
			break;
		}
		*s = saved;
		if (saved == '\0')
			break;
	}
	free(p);
	return rc;
}

int
wsg_envstore_dir(int create, char **dir, struct wsg_error *err)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	struct stat st;
	char *path;
	int rc;

	*dir = NULL;
	/* The XDG spec says a relative XDG_CONFIG_HOME is to be ignored. */
	if (xdg != NULL && xdg[0] == '/') {
		path = wsg_mem_printf("%s/wssgatectl", xdg);
	} else {
		if (home == NULL || home[0] != '/') {
			pw = getpwuid(geteuid());
			home = pw != NULL ? pw->pw_dir : NULL;
		}
		if (home == NULL || home[0] != '/')
			return wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
			                     "cannot find the home folder; "
			                     "set XDG_CONFIG_HOME");
		path = wsg_mem_printf("%s/.config/wssgatectl", home);
	}
	if (create && (rc = make_dirs(path, err)) != WSG_OK)
		goto out;
	if (lstat(path, &st) != 0) {
		rc = errno == ENOENT ? WSG_ERR_NOTFOUND : WSG_ERR_IO;
		wsg_error_set(err, rc, WSG_FAULT_NONE, "cannot use %s: %s",
		              path, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "%s is not a folder", path);
		goto out;
	}
	rc = check_owner_mode(&st, path, 1, err);
out:
	if (rc == WSG_OK)
		*dir = path;
	else
		free(path);
	return rc;
}

int
wsg_envstore_valid_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > MAX_NAME_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return name[0] != '.';
}

char *
wsg_envstore_cred_path(const char *dir)
{
	return wsg_mem_printf("%s/%s", dir, CREDS_FILE);
}

/*
 * Loads `file` of `dir` and returns its object under `key` in *section
 * (created empty when the file or the key is missing); *root owns it.
 */
static int
load(const char *dir, const char *file, const char *key, json_t **root,
     json_t **section, struct wsg_error *err)
{
	char *path = wsg_mem_printf("%s/%s", dir, file);
	json_error_t jerr;
	struct stat st;
	int fd, rc = WSG_OK;

	*root = NULL;
	*section = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		*root = json_object();
		goto section;
	}
	if (fd < 0) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "%s is not a regular file", path);
		goto out;
	}
	if ((rc = check_owner_mode(&st, path, 0, err)) != WSG_OK)
		goto out;
	if (st.st_size > MAX_FILE_SIZE) {
		rc = wsg_error_set(err, WSG_ERR_LIMIT, WSG_FAULT_NONE,
		                   "%s is larger than %d bytes", path,
		                   MAX_FILE_SIZE);
		goto out;
	}
	*root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	if (*root == NULL || !json_is_object(*root)) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_NONE,
		                   "%s:%d: %s", path, jerr.line,
		                   *root == NULL ? jerr.text
		                                 : "not a JSON object");
		goto out;
	}
section:
	*section = json_object_get(*root, key);
	if (*section == NULL) {
		*section = json_object();
		json_object_set_new(*root, key, *section);
	} else if (!json_is_object(*section)) {
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_NONE,
		                   "%s: \"%s\" is not a JSON object", path,
		                   key);
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc != WSG_OK) {
		json_decref(*root);
		*root = NULL;
		*section = NULL;
	}
	free(path);
	return rc;
}

/* Writes root to dir/file through a 0600 temporary file and rename(). */
static int
save(const char *dir, const char *file, json_t *root, struct wsg_error *err)
{
	char *path = wsg_mem_printf("%s/%s", dir, file);
	char *tmp = wsg_mem_printf("%s/.%s.XXXXXX", dir, file);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	int fd, rc = WSG_OK;

	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "cannot create a file in %s: %s", dir,
		                   strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 ||
	    wsg_io_write_all(fd, text, strlen(text)) != WSG_OK ||
	    wsg_io_write_all(fd, "\n", 1) != WSG_OK || fsync(fd) != 0) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		rc = wsg_error_set(err, WSG_ERR_IO, WSG_FAULT_NONE,
		                   "cannot replace %s: %s", path,
		                   strerror(errno));
		unlink(tmp);
	}
out:
	wsg_secmem_free(text);
	free(tmp);
	free(path);
	return rc;
}

/* A string member of obj, or NULL when absent; WSG_ERR_PARSE if not one. */
static int
get_string(json_t *obj, const char *key, int required, const char *what,
           char **out, struct wsg_error *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_NONE,
			                     "%s has no \"%s\"", what, key);
		return WSG_OK;
	}
	if (!json_is_string(v))
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_NONE,
		                     "%s: \"%s\" is not a string", what, key);
	*out = wsg_mem_strdup(json_string_value(v));
	return WSG_OK;
}

/*
 * Loads `file` and the object `name` of its section `key` in *entry,
 * *root owning it. WSG_ERR_NOTFOUND, with err untouched, when there is
 * none: the caller says what the operator can do about it.
 */
static int
load_entry(const char *dir, const char *file, const char *key, const char *name,
           json_t **root, json_t **entry, struct wsg_error *err)
{
	json_t *section;
	int rc;

	*entry = NULL;
	rc = load(dir, file, key, root, &section, err);
	if (rc != WSG_OK)
		return rc;
	*entry = json_object_get(section, name);
	if (*entry == NULL || !json_is_object(*entry)) {
		json_decref(*root);
		*root = NULL;
		*entry = NULL;
		return WSG_ERR_NOTFOUND;
	}
	return WSG_OK;
}

int
wsg_envstore_unknown_env(const char *name, struct wsg_error *err)
{
	return wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_NONE,
	                     "unknown environment '%s'; add it with: "
	                     "wssgatectl add env %s URL",
	                     name, name);
}

int
wsg_envstore_get_env(const char *dir, const char *name, struct wsg_env *env,
                     struct wsg_error *err)
{
	json_t *root, *e;
	char *what;
	int rc;

	memset(env, 0, sizeof(*env));
	rc = load_entry(dir, ENVS_FILE, ENVS_KEY, name, &root, &e, err);
	if (rc == WSG_ERR_NOTFOUND)
		return wsg_envstore_unknown_env(name, err);
	if (rc != WSG_OK)
		return rc;
	what = wsg_mem_printf("environment '%s' in %s/%s", name, dir,
	                      ENVS_FILE);
	env->name = wsg_mem_strdup(name);
	rc = get_string(e, "url", 1, what, &env->url, err);
	if (rc == WSG_OK)
		rc = get_string(e, "ca_file", 0, what, &env->ca_file, err);
	if (rc != WSG_OK)
		wsg_envstore_env_free(env);
	free(what);
	json_decref(root);
	return rc;
}

/* Sets `name` of `file`'s section `key` to `entry` (stolen) and saves. */
static int
store_entry(const char *dir, const char *file, const char *key,
            const char *name, json_t *entry, struct wsg_error *err)
{
	json_t *root, *section;
	int rc;

	rc = load(dir, file, key, &root, &section, err);
	if (rc != WSG_OK) {
		json_decref(entry);
		return rc;
	}
	json_object_set_new(section, name, entry);
	rc = save(dir, file, root, err);
	json_decref(root);
	return rc;
}

int
wsg_envstore_put_env(const char *dir, const struct wsg_env *env,
                     struct wsg_error *err)
{
	json_t *e = json_pack("{s:s}", "url", env->url);

	if (env->ca_file != NULL)
		json_object_set_new(e, "ca_file", json_string(env->ca_file));
	return store_entry(dir, ENVS_FILE, ENVS_KEY, env->name, e, err);
}

int
wsg_envstore_del_env(const char *dir, const char *name, struct wsg_error *err)
{
	json_t *root, *envs;
	int rc;

	rc = load(dir, ENVS_FILE, ENVS_KEY, &root, &envs, err);
	if (rc != WSG_OK)
		return rc;
	if (json_object_del(envs, name) != 0) {
		json_decref(root);
		return wsg_error_set(err, WSG_ERR_NOTFOUND, WSG_FAULT_NONE,
		                     "unknown environment '%s'", name);
	}
	rc = wsg_envstore_del_cred(dir, name, err);
	if (rc == WSG_OK)
		rc = save(dir, ENVS_FILE, root, err);
	json_decref(root);
	return rc;
}

int
wsg_envstore_list_envs(const char *dir, json_t **out, struct wsg_error *err)
{
	json_t *root, *envs;
	int rc;

	*out = NULL;
	rc = load(dir, ENVS_FILE, ENVS_KEY, &root, &envs, err);
	if (rc != WSG_OK)
		return rc;
	*out = json_incref(envs);
	json_decref(root);
	return WSG_OK;
}

int
wsg_envstore_get_cred(const char *dir, const char *name, struct wsg_cred *cred,
                      struct wsg_error *err)
{
	json_t *root, *c;
	char *what;
	int rc;

	memset(cred, 0, sizeof(*cred));
	rc = load_entry(dir, CREDS_FILE, CREDS_KEY, name, &root, &c, err);
	if (rc == WSG_ERR_NOTFOUND)
		return wsg_error_set(err, rc, WSG_FAULT_NONE,
		                     "not logged in to environment '%s'; run: "
		                     "wssgatectl login %s",
		                     name, name);
	if (rc != WSG_OK)
		return rc;
	what = wsg_mem_printf("credentials of '%s' in %s/%s", name, dir,
	                      CREDS_FILE);
	rc = get_string(c, "username", 1, what, &cred->username, err);
	if (rc == WSG_OK)
		rc = get_string(c, "accessToken", 1, what, &cred->token, err);
	if (rc == WSG_OK)
		rc = get_string(c, "password", 0, what, &cred->password, err);
	if (rc != WSG_OK)
		wsg_envstore_cred_free(cred);
	free(what);
	json_decref(root);
	return rc;
}

int
wsg_envstore_put_cred(const char *dir, const char *name,
                      const struct wsg_cred *cred, struct wsg_error *err)
{
	json_t *c = json_pack("{s:s, s:s}", "username", cred->username,
	                      "accessToken", cred->token);

	if (cred->password != NULL)
		json_object_set_new(c, "password", json_string(cred->password));
	return store_entry(dir, CREDS_FILE, CREDS_KEY, name, c, err);
}

int
wsg_envstore_del_cred(const char *dir, const char *name, struct wsg_error *err)
{
	json_t *root, *creds;
	int rc;

	rc = load(dir, CREDS_FILE, CREDS_KEY, &root, &creds, err);
	if (rc != WSG_OK)
		return rc;
	if (json_object_del(creds, name) == 0)
		rc = save(dir, CREDS_FILE, root, err);
	json_decref(root);
	return rc;
}

void
wsg_envstore_env_free(struct wsg_env *env)
{
	free(env->name);
	free(env->url);
	free(env->ca_file);
	memset(env, 0, sizeof(*env));
}

static void
free_secret_string(char **s)
{
	if (*s != NULL)
		wsg_mem_free_secret(*s, strlen(*s));
	*s = NULL;
}

void
wsg_envstore_cred_free(struct wsg_cred *cred)
{
	free_secret_string(&cred->username);
	free_secret_string(&cred->password);
	free_secret_string(&cred->token);
}
