/*
 * wssgatectl's files: folder resolution and modes, environments and
 * credentials round trips, refusing files others may read, broken files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envstore.h"
#include "mem.h"

/* A fresh XDG_CONFIG_HOME for each test, removed afterwards. */
static int
setup(void **state)
{
	char tmpl[] = "/tmp/wsg-envstore-XXXXXX";
	char *base = mkdtemp(tmpl);

	assert_non_null(base);
	*state = wsg_mem_strdup(base);
	setenv("XDG_CONFIG_HOME", base, 1);
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = wsg_mem_printf("rm -rf '%s'", (char *)*state);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(*state);
	return 0;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_dir_created_private(void **state)
{
	struct wsg_error err;
	char *dir = NULL, *want;

	assert_int_equal(wsg_envstore_dir(0, &dir, &err), WSG_ERR_NOTFOUND);
	assert_null(dir);
	assert_int_equal(wsg_envstore_dir(1, &dir, &err), WSG_OK);
	want = wsg_mem_printf("%s/wssgatectl", (char *)*state);
	assert_string_equal(dir, want);
	assert_int_equal(mode_of(dir), 0700);
	free(dir);
	assert_int_equal(chmod(want, 0755), 0);
	assert_int_equal(wsg_envstore_dir(0, &dir, &err), WSG_ERR_PERM);
	assert_non_null(strstr(err.reason, "chmod 700"));
	free(want);
}

static void
test_relative_xdg_is_ignored(void **state)
{
	struct wsg_error err;
	char *dir = NULL, *want;

	setenv("XDG_CONFIG_HOME", "relative/path", 1);
	setenv("HOME", (char *)*state, 1);
	assert_int_equal(wsg_envstore_dir(1, &dir, &err), WSG_OK);
	want = wsg_mem_printf("%s/.config/wssgatectl", (char *)*state);
	assert_string_equal(dir, want);
	free(want);
	want = wsg_mem_printf("%s/.config", (char *)*state);
	assert_int_equal(mode_of(want), 0700);
	free(want);
	free(dir);
}

static void
test_env_round_trip(void **state)
{
	struct wsg_env in = {.name = "dev", .url = "http://127.0.0.1:9164"};
	struct wsg_env in2 = {.name = "prod",
	                      .url = "https://gw:9164",
	                      .ca_file = "/etc/ca.pem"};
	struct wsg_env out;
	struct wsg_error err;
	json_t *all;
	char *dir, *path;

	assert_int_equal(wsg_envstore_dir(1, &dir, &err), WSG_OK);
	assert_int_equal(wsg_envstore_get_env(dir, "dev", &out, &err),
	                 WSG_ERR_NOTFOUND);
	assert_non_null(strstr(err.reason, "wssgatectl add env dev URL"));
	assert_int_equal(wsg_envstore_put_env(dir, &in, &err), WSG_OK);
	assert_int_equal(wsg_envstore_put_env(dir, &in2, &err), WSG_OK);
	path = wsg_mem_printf("%s/environments.json", dir);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(wsg_envstore_get_env(dir, "prod", &out, &err), WSG_OK);
	assert_string_equal(out.url, "https://gw:9164");
	assert_string_equal(out.ca_file, "/etc/ca.pem");
	wsg_envstore_env_free(&out);
	assert_int_equal(wsg_envstore_get_env(dir, "dev", &out, &err), WSG_OK);
	assert_null(out.ca_file);
	wsg_envstore_env_free(&out);
	assert_int_equal(wsg_envstore_list_envs(dir, &all, &err), WSG_OK);
	assert_int_equal(json_object_size(all), 2);
	json_decref(all);
	assert_int_equal(wsg_envstore_del_env(dir, "dev", &err), WSG_OK);
	assert_int_equal(wsg_envstore_del_env(dir, "dev", &err),
	                 WSG_ERR_NOTFOUND);
	assert_int_equal(wsg_envstore_get_env(dir, "prod", &out, &err), WSG_OK);
	wsg_envstore_env_free(&out);
	free(path);
	free(dir);
}

static void
test_cred_round_trip(void **state)
{
	struct wsg_cred in = {
	        .username = "admin", .password = "pw-1", .token = "a.b.c"};
	struct wsg_env env = {.name = "dev", .url = "http://127.0.0.1:1"};
	struct wsg_cred out;
	struct wsg_error err;
	char *dir, *path;

	assert_int_equal(wsg_envstore_dir(1, &dir, &err), WSG_OK);
	assert_int_equal(wsg_envstore_get_cred(dir, "dev", &out, &err),
	                 WSG_ERR_NOTFOUND);
	assert_non_null(strstr(err.reason, "run: wssgatectl login dev"));
	assert_int_equal(wsg_envstore_put_cred(dir, "dev", &in, &err), WSG_OK);
	path = wsg_envstore_cred_path(dir);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(wsg_envstore_get_cred(dir, "dev", &out, &err), WSG_OK);
	assert_string_equal(out.username, "admin");
	assert_string_equal(out.password, "pw-1");
	assert_string_equal(out.token, "a.b.c");
	wsg_envstore_cred_free(&out);
	assert_null(out.username);

	in.password = NULL; /* --no-store-password */
	assert_int_equal(wsg_envstore_put_cred(dir, "dev", &in, &err), WSG_OK);
	assert_int_equal(wsg_envstore_get_cred(dir, "dev", &out, &err), WSG_OK);
	assert_null(out.password);
	wsg_envstore_cred_free(&out);

	/* Removing the environment forgets its credentials. */
	assert_int_equal(wsg_envstore_put_env(dir, &env, &err), WSG_OK);
	assert_int_equal(wsg_envstore_del_env(dir, "dev", &err), WSG_OK);
	assert_int_equal(wsg_envstore_get_cred(dir, "dev", &out, &err),
	                 WSG_ERR_NOTFOUND);
	assert_int_equal(wsg_envstore_del_cred(dir, "dev", &err), WSG_OK);
	free(path);
	free(dir);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_unsafe_or_broken_files(void **state)
{
	struct wsg_env out;
	struct wsg_cred cred;
	struct wsg_error err;
	char *dir, *envs, *creds;

	assert_int_equal(wsg_envstore_dir(1, &dir, &err), WSG_OK);
	envs = wsg_mem_printf("%s/environments.json", dir);
	creds = wsg_mem_printf("%s/credentials.json", dir);

	write_file(creds, "{\"credentials\": {}}", 0644);
	assert_int_equal(wsg_envstore_get_cred(dir, "dev", &cred, &err),
	                 WSG_ERR_PERM);
	assert_non_null(strstr(err.reason, "chmod 600"));

	write_file(envs, "{\"environments\": {\"dev\": {}}}", 0600);
	assert_int_equal(wsg_envstore_get_env(dir, "dev", &out, &err),
	                 WSG_ERR_PARSE);
	assert_non_null(strstr(err.reason, "has no \"url\""));

	write_file(envs, "{\"environments\": {\"dev\": {\"url\": 5}}}", 0600);
	assert_int_equal(wsg_envstore_get_env(dir, "dev", &out, &err),
	                 WSG_ERR_PARSE);

	write_file(envs, "{\"environments\": [", 0600);
	assert_int_equal(wsg_envstore_get_env(dir, "dev", &out, &err),
	                 WSG_ERR_PARSE);
	assert_non_null(strstr(err.reason, "environments.json:"));

	write_file(envs, "{\"environments\": 1}", 0600);
	assert_int_equal(wsg_envstore_get_env(dir, "dev", &out, &err),
	                 WSG_ERR_PARSE);

	write_file(envs, "{\"a\": 1, \"a\": 2}", 0600);
	assert_int_equal(wsg_envstore_get_env(dir, "dev", &out, &err),
	                 WSG_ERR_PARSE);

	assert_int_equal(unlink(envs), 0);
	assert_int_equal(symlink(creds, envs), 0);
	assert_int_equal(wsg_envstore_get_env(dir, "dev", &out, &err),
	                 WSG_ERR_IO);
	free(envs);
	free(creds);
	free(dir);
}

static void
test_names(void **state)
{
	assert_true(wsg_envstore_valid_name("dev"));
	assert_true(wsg_envstore_valid_name("prod-eu_1.2"));
	assert_false(wsg_envstore_valid_name(""));
	assert_false(wsg_envstore_valid_name(".hidden"));
	assert_false(wsg_envstore_valid_name("a/b"));
	assert_false(wsg_envstore_valid_name("a b"));
	assert_false(wsg_envstore_valid_name("ü"));
	assert_true(wsg_envstore_valid_name("0123456789012345678901234567890123"
	                                    "456789012345678901234567890123"));
	assert_false(
	        wsg_envstore_valid_name("01234567890123456789012345678901234567"
	                                "890123456789012345678901234"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_dir_created_private, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_relative_xdg_is_ignored,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_round_trip, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_cred_round_trip, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_unsafe_or_broken_files,
	                                        setup, teardown),
	        cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
