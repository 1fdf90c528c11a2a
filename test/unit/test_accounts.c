/*
 * accounts.c against a real, private MariaDB (test/unit/run-db starts it
 * and names its socket in WSG_TEST_DB_SOCKET): the admin rules (creator
 * only, no self-delete, never the last admin, an admin's password, the
 * caller still an admin), the bootstrap happening once, and concurrent
 * changes decided on what was read under the admin role's row lock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "accounts.h"
#include "db.h"
#include "dbtest.h"
#include "err.h"
#include "mem.h"
#include "userstore.h"

#define ADMIN "admin"
/* check_secrets() only bounds its length; nothing here verifies it. */
#define HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
#define HASH2 "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$b3RoZXJoYXNoaGFz"

static struct wsg_db_params params;
static struct wsg_db_conn *db;

static void
exec_ok(const char *sql)
{
	struct wsg_error err;

	wsg_error_clear(&err);
	if (wsg_db_exec_script(db, sql, &err) != WSG_OK)
		fail_msg("%s: %s", sql, err.reason);
}

static int
group_setup(void **state)
{
	(void)state;
	return dbtest_open(&params, 60, &db);
}

static int
group_teardown(void **state)
{
	(void)state;
	wsg_db_close(db);
	return 0;
}

/* Every test starts from an empty store that never had an admin. */
static int
reset(void **state)
{
	(void)state;
	exec_ok("DELETE FROM user_roles; DELETE FROM users; "
	        "DELETE FROM roles; DELETE FROM bootstrap");
	return 0;
}

/* The API caller `name` as it is now. */
static struct wsg_accounts_actor
actor(const char *name)
{
	struct wsg_accounts_actor by = {name, 0};
	struct wsg_user_record *rec = NULL;
	struct wsg_error err;

	wsg_error_clear(&err);
	assert_int_equal(wsg_userstore_get(db, name, &rec, &err), WSG_OK);
	by.id = rec->id;
	wsg_userstore_record_free(rec);
	return by;
}

/* Adds `name` through the API as `by` (NULL: the operator). */
static int
add(const char *by_name, const char *name, int admin,
    struct wsg_accounts_result *res)
{
	struct wsg_accounts_user u = {
	        .name = name, .password_hash = HASH, .admin = admin};
	struct wsg_accounts_actor by;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (by_name != NULL)
		by = actor(by_name);
	return wsg_accounts_add_user(db, ADMIN, by_name ? &by : NULL, &u, res,
	                             &err);
}

static void
add_ok(const char *by_name, const char *name, int admin)
{
	struct wsg_accounts_result res;

	assert_int_equal(add(by_name, name, admin, &res), WSG_OK);
	assert_true(res.uid != 0);
}

static int
delete_as(const char *by_name, const char *name,
          struct wsg_accounts_result *res)
{
	struct wsg_accounts_actor by;
	struct wsg_error err;

	wsg_error_clear(&err);
	if (by_name != NULL)
		by = actor(by_name);
	return wsg_accounts_delete_user(db, ADMIN, by_name ? &by : NULL, name,
	                                res, &err);
}

/* Removes the admin role from `name`, as `by_name` (NULL: the operator). */
static int
demote_on(struct wsg_db_conn *c, const struct wsg_accounts_actor *by,
          const char *name, struct wsg_accounts_result *res)
{
	const char *const removed[] = {ADMIN};
	struct wsg_error err;

	wsg_error_clear(&err);
	return wsg_accounts_change_roles(c, ADMIN, by, name, NULL, 0, removed,
	                                 1, res, &err);
}

static int
exists(const char *name)
{
	struct wsg_user_record *rec = NULL;
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	rc = wsg_userstore_get(db, name, &rec, &err);
	wsg_userstore_record_free(rec);
	assert_true(rc == WSG_OK || rc == WSG_ERR_NOTFOUND);
	return rc == WSG_OK;
}

static size_t
admin_count(void)
{
	struct wsg_db_result *res = NULL;
	struct wsg_error err;
	size_t n;

	wsg_error_clear(&err);
	if (wsg_userstore_role_members(db, ADMIN, &res, &err) ==
	    WSG_ERR_NOTFOUND)
		return 0;
	n = res->nrows;
	wsg_db_result_free(res);
	return n;
}

/* root (the operator's) made admins a and b through the API. */
static void
three_admins(void)
{
	add_ok(NULL, "root", 1);
	add_ok("root", "a", 1);
	add_ok("root", "b", 1);
}

static void
test_creator_only_deletes_an_admin(void **state)
{
	struct wsg_accounts_result res;

	(void)state;
	three_admins();
	add_ok("a", "c", 1);
	add_ok("root", "plain", 0);
	/* Another admin's admin: refused, and the creator is named. */
	assert_int_equal(delete_as("a", "b", &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_NOT_CREATOR);
	assert_string_equal(res.creator, "root");
	assert_true(exists("b"));
	/* An admin the CLI made: only the CLI. */
	assert_int_equal(delete_as("a", "root", &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_NOT_BY_API);
	/* Its creator may. */
	assert_int_equal(delete_as("root", "b", &res), WSG_OK);
	assert_true(res.was_admin);
	assert_false(exists("b"));
	/* Any admin deletes a non-admin. */
	assert_int_equal(delete_as("a", "plain", &res), WSG_OK);
	assert_false(res.was_admin);
	/* c's creator is gone; an account under its name is someone else. */
	assert_int_equal(delete_as(NULL, "a", &res), WSG_OK);
	add_ok("root", "a", 1);
	assert_int_equal(delete_as("a", "c", &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_CREATOR_GONE);
	assert_int_equal(delete_as("root", "c", &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_CREATOR_GONE);
	/* The operator is bound by none of it. */
	assert_int_equal(delete_as(NULL, "c", &res), WSG_OK);
	assert_true(res.was_admin);
}

static void
test_no_self_delete(void **state)
{
	struct wsg_accounts_actor by;
	struct wsg_accounts_result res;
	struct wsg_error err;

	(void)state;
	three_admins();
	by = actor("a");
	wsg_error_clear(&err);
	/* Decided without the store... */
	assert_int_equal(wsg_accounts_check_delete_user(&by, "a", &res, &err),
	                 WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_SELF);
	assert_int_equal(wsg_accounts_check_delete_user(&by, "b", &res, &err),
	                 WSG_OK);
	/* ...and by the change itself. */
	assert_int_equal(delete_as("a", "a", &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_SELF);
	assert_true(exists("a"));
	assert_int_equal(delete_as("root", "root", &res), WSG_ERR_PERM);
	assert_true(exists("root"));
}

static void
test_last_admin(void **state)
{
	struct wsg_accounts_actor by;
	struct wsg_accounts_result res;

	(void)state;
	add_ok(NULL, "root", 1);
	add_ok("root", "a", 1);
	/* An admin may drop its own admin role... */
	by = actor("a");
	assert_int_equal(demote_on(db, &by, "a", &res), WSG_OK);
	assert_int_equal(res.revoked, 1);
	assert_int_equal(admin_count(), 1);
	/* ...but not the last one's. */
	by = actor("root");
	assert_int_equal(demote_on(db, &by, "root", &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_LAST_ADMIN);
	assert_int_equal(admin_count(), 1);
	/* A demoted admin's token no longer allows changes. */
	by = actor("a");
	assert_int_equal(add("a", "x", 0, &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_NOT_ADMIN);
	assert_false(exists("x"));
	/* The operator recovers anything, even the last admin. */
	assert_int_equal(demote_on(db, NULL, "root", &res), WSG_OK);
	assert_int_equal(admin_count(), 0);
}

static void
test_demote_needs_the_creator(void **state)
{
	struct wsg_accounts_actor by;
	struct wsg_accounts_result res;

	(void)state;
	three_admins();
	by = actor("a");
	assert_int_equal(demote_on(db, &by, "b", &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_NOT_CREATOR);
	assert_int_equal(demote_on(db, &by, "root", &res), WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_NOT_BY_API);
	by = actor("root");
	assert_int_equal(demote_on(db, &by, "b", &res), WSG_OK);
	assert_int_equal(admin_count(), 2);
}

static void
test_password_rules(void **state)
{
	struct wsg_user_record *seen = NULL;
	struct wsg_accounts_actor by;
	struct wsg_accounts_result res;
	struct wsg_error err;

	(void)state;
	three_admins();
	add_ok("root", "plain", 0);
	wsg_error_clear(&err);
	by = actor("a");
	assert_int_equal(wsg_userstore_get(db, "b", &seen, &err), WSG_OK);
	assert_int_equal(
	        wsg_accounts_check_set_password(ADMIN, &by, seen, &res, &err),
	        WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_OTHER_ADMIN);
	assert_int_equal(wsg_accounts_set_password(db, ADMIN, &by, "b", NULL,
	                                           HASH2, NULL, 0, 1, &res,
	                                           &err),
	                 WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_OTHER_ADMIN);
	wsg_userstore_record_free(seen);
	/* A non-admin's password, as read; then stale after a change. */
	assert_int_equal(wsg_userstore_get(db, "plain", &seen, &err), WSG_OK);
	assert_int_equal(wsg_accounts_set_password(db, ADMIN, &by, "plain",
	                                           seen, HASH2, NULL, 0, 1,
	                                           &res, &err),
	                 WSG_OK);
	assert_int_equal(wsg_accounts_set_password(db, ADMIN, &by, "plain",
	                                           seen, HASH, NULL, 0, 2, &res,
	                                           &err),
	                 WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_CHANGED);
	wsg_userstore_record_free(seen);
	/* Its own, even as a non-admin. */
	by = actor("plain");
	assert_int_equal(wsg_accounts_set_password(db, ADMIN, &by, "plain",
	                                           NULL, HASH, NULL, 0, 3, &res,
	                                           &err),
	                 WSG_OK);
	assert_int_equal(wsg_accounts_set_password(db, ADMIN, &by, "a", NULL,
	                                           HASH, NULL, 0, 3, &res,
	                                           &err),
	                 WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_NOT_ADMIN);
}

static void
test_roles_must_exist_for_the_api(void **state)
{
	const char *const roles[] = {"readers"};
	struct wsg_accounts_user u = {.name = "x",
	                              .password_hash = HASH,
	                              .roles = roles,
	                              .nroles = 1};
	struct wsg_accounts_actor by;
	struct wsg_accounts_result res;
	struct wsg_error err;

	(void)state;
	add_ok(NULL, "root", 1);
	by = actor("root");
	wsg_error_clear(&err);
	assert_int_equal(wsg_accounts_add_user(db, ADMIN, &by, &u, &res, &err),
	                 WSG_ERR_NOTFOUND);
	assert_string_equal(res.missing, "readers");
	assert_true(res.missing_role);
	assert_false(exists("x"));
	/* The operator's roles are created. */
	assert_int_equal(wsg_accounts_add_user(db, ADMIN, NULL, &u, &res, &err),
	                 WSG_OK);
	assert_int_equal(wsg_accounts_add_user(db, ADMIN, NULL, &u, &res, &err),
	                 WSG_ERR_EXISTS);
	assert_int_equal(
	        wsg_accounts_check_delete_role(ADMIN, ADMIN, &res, &err),
	        WSG_ERR_PERM);
	assert_int_equal(res.rule, WSG_ACCOUNTS_RULE_ADMIN_ROLE);
	assert_int_equal(
	        wsg_accounts_delete_role(db, ADMIN, &by, "readers", &res, &err),
	        WSG_OK);
}

/* A name the store cannot hold is looked up as missing, with the reason
 * the operator sees. */
static void
test_unstorable_names_are_missing(void **state)
{
	const char *const removed[] = {"bad,role"};
	struct wsg_accounts_actor by;
	struct wsg_accounts_result res;
	struct wsg_error err;

	(void)state;
	add_ok(NULL, "root", 1);
	by = actor("root");
	wsg_error_clear(&err);
	assert_int_equal(
	        wsg_accounts_delete_user(db, ADMIN, &by, "", &res, &err),
	        WSG_ERR_NOTFOUND);
	assert_string_equal(res.missing, "");
	assert_false(res.missing_role);
	assert_non_null(strstr(err.reason, "username must be 1 to"));
	assert_int_equal(wsg_accounts_change_roles(db, ADMIN, &by, "root", NULL,
	                                           0, removed, 1, &res, &err),
	                 WSG_ERR_NOTFOUND);
	assert_true(res.missing_role);
	assert_non_null(strstr(err.reason, "must not contain ','"));
}

static void
bootstrap(const char *name, int want, enum wsg_accounts_rule rule)
{
	struct wsg_accounts_user u = {.name = name, .password_hash = HASH};
	struct wsg_accounts_result res;
	struct wsg_error err;

	wsg_error_clear(&err);
	assert_int_equal(wsg_accounts_bootstrap(db, ADMIN, &u, &res, &err),
	                 want);
	assert_int_equal(res.rule, rule);
}

static void
bootstrap_open(int want, enum wsg_accounts_rule rule)
{
	struct wsg_accounts_result res;
	struct wsg_error err;

	wsg_error_clear(&err);
	assert_int_equal(wsg_accounts_bootstrap_open(db, ADMIN, &res, &err),
	                 want);
	assert_int_equal(res.rule, rule);
}

static void
test_bootstrap_once(void **state)
{
	struct wsg_accounts_result res;

	(void)state;
	bootstrap_open(WSG_OK, WSG_ACCOUNTS_RULE_NONE);
	bootstrap("first", WSG_OK, WSG_ACCOUNTS_RULE_NONE);
	assert_int_equal(admin_count(), 1);
	bootstrap_open(WSG_ERR_PERM, WSG_ACCOUNTS_RULE_ADMIN_EXISTS);
	bootstrap("second", WSG_ERR_PERM, WSG_ACCOUNTS_RULE_ADMIN_EXISTS);
	/* The last admin gone, the bootstrap stays closed. */
	assert_int_equal(delete_as(NULL, "first", &res), WSG_OK);
	bootstrap_open(WSG_ERR_PERM, WSG_ACCOUNTS_RULE_BOOTSTRAP_DONE);
	bootstrap("second", WSG_ERR_PERM, WSG_ACCOUNTS_RULE_BOOTSTRAP_DONE);
	assert_false(exists("second"));
}

static void
test_operator_admin_closes_bootstrap(void **state)
{
	const char *const added[] = {ADMIN};
	struct wsg_accounts_result res;
	struct wsg_error err;

	(void)state;
	wsg_error_clear(&err);
	add_ok(NULL, "op", 0);
	exec_ok("INSERT INTO roles (name) VALUES ('" ADMIN "')");
	bootstrap_open(WSG_OK, WSG_ACCOUNTS_RULE_NONE);
	/* Granting the admin role counts as an admin having existed. */
	assert_int_equal(wsg_accounts_change_roles(db, ADMIN, NULL, "op", added,
	                                           1, NULL, 0, &res, &err),
	                 WSG_OK);
	assert_int_equal(delete_as(NULL, "op", &res), WSG_OK);
	bootstrap_open(WSG_ERR_PERM, WSG_ACCOUNTS_RULE_BOOTSTRAP_DONE);
}

/* Without the guard row, changes on two Galera nodes could not conflict:
 * none is made, and none is half made. */
static void
test_no_guard_row_no_change(void **state)
{
	struct wsg_accounts_result res;

	(void)state;
	exec_ok("DELETE FROM account_guard");
	assert_int_equal(add(NULL, "g", 0, &res), WSG_ERR_DB);
	assert_false(exists("g"));
	exec_ok("INSERT INTO account_guard (id) VALUES (1)");
	assert_int_equal(add(NULL, "g", 0, &res), WSG_OK);
	assert_true(exists("g"));
}

/* -------- concurrent changes -------- */

struct racer {
	pthread_t thread;
	const char *name; /* demotes itself, or bootstraps as this name */
	int bootstrap;
	struct wsg_accounts_actor by;
	struct wsg_accounts_result res;
	int rc;
};

static void *
racer_run(void *arg)
{
	struct racer *r = arg;
	struct wsg_accounts_user u = {.name = r->name, .password_hash = HASH};
	struct wsg_db_conn *c = NULL;
	struct wsg_error err;

	wsg_error_clear(&err);
	dbtest_connect(&params, &c);
	if (r->bootstrap)
		r->rc = wsg_accounts_bootstrap(c, ADMIN, &u, &r->res, &err);
	else
		r->rc = demote_on(c, &r->by, r->name, &r->res);
	wsg_db_close(c);
	return NULL;
}

/* Statements like `like` waiting for a row lock: while the lock is held,
 * any such statement is one (MariaDB shows the wait as state
 * "Statistics", and not in INNODB_TRX while the optimizer reads). */
static unsigned
lock_waits(const char *like)
{
	struct wsg_db_param p = {like, strlen(like)};
	struct wsg_db_result *res = NULL;
	struct wsg_error err;
	unsigned n;

	wsg_error_clear(&err);
	if (wsg_db_exec(db,
	                "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
	                "WHERE INFO LIKE ? AND ID <> CONNECTION_ID()",
	                &p, 1, &res, &err) != WSG_OK)
		fail_msg("PROCESSLIST: %s", err.reason);
	n = (unsigned)strtoul(res->cells[0], NULL, 10);
	wsg_db_result_free(res);
	return n;
}

/*
 * Starts both racers while another connection holds the account guard row
 * (the first lock of every change), waits until both wait for it, so both
 * have begun before either can decide, then lets them go and joins them.
 */
static void
race(struct racer r[2])
{
	static const char like[] = "UPDATE account_guard%";
	struct timespec pause = {0, 10 * 1000 * 1000};
	struct wsg_db_conn *holder = NULL;
	struct wsg_error err;
	int i;

	dbtest_connect(&params, &holder);
	wsg_error_clear(&err);
	assert_int_equal(wsg_db_begin(holder, &err), WSG_OK);
	assert_int_equal(wsg_db_exec(holder,
	                             "SELECT changes FROM account_guard "
	                             "WHERE id = 1 FOR UPDATE",
	                             NULL, 0, NULL, &err),
	                 WSG_OK);
	for (i = 0; i < 2; i++)
		assert_int_equal(
		        pthread_create(&r[i].thread, NULL, racer_run, &r[i]),
		        0);
	for (i = 0; i < 1000 && lock_waits(like) < 2; i++)
		nanosleep(&pause, NULL);
	assert_int_equal(lock_waits(like), 2);
	wsg_db_rollback(holder);
	for (i = 0; i < 2; i++)
		pthread_join(r[i].thread, NULL);
	wsg_db_close(holder);
}

/*
 * Two admins each drop their own admin role at once. Each alone is
 * allowed; together they would leave no admin: only a decision on what is
 * read under the lock lets exactly one through.
 */
static void
test_concurrent_demotions_keep_an_admin(void **state)
{
	struct racer r[2] = {{.name = "root"}, {.name = "a"}};
	int i, ok = 0, last = 0;

	(void)state;
	add_ok(NULL, "root", 1);
	add_ok("root", "a", 1);
	for (i = 0; i < 2; i++)
		r[i].by = actor(r[i].name);
	race(r);
	for (i = 0; i < 2; i++) {
		ok += r[i].rc == WSG_OK;
		last += r[i].rc == WSG_ERR_PERM &&
		        r[i].res.rule == WSG_ACCOUNTS_RULE_LAST_ADMIN;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(last, 1);
	assert_int_equal(admin_count(), 1);
}

/* Two first logins at once (any gateways): one first admin. */
static void
test_concurrent_bootstraps_make_one_admin(void **state)
{
	struct racer r[2] = {{.name = "x", .bootstrap = 1},
	                     {.name = "y", .bootstrap = 1}};
	int i, ok = 0, lost = 0;

	(void)state;
	/* The role without members: a store whose admin role was made but
	 * never held. */
	exec_ok("INSERT INTO roles (name) VALUES ('" ADMIN "')");
	bootstrap_open(WSG_OK, WSG_ACCOUNTS_RULE_NONE);
	race(r);
	for (i = 0; i < 2; i++) {
		ok += r[i].rc == WSG_OK;
		lost += r[i].rc == WSG_ERR_PERM &&
		        r[i].res.rule == WSG_ACCOUNTS_RULE_ADMIN_EXISTS;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(lost, 1);
	assert_int_equal(admin_count(), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_creator_only_deletes_an_admin,
	                               reset),
	        cmocka_unit_test_setup(test_no_self_delete, reset),
	        cmocka_unit_test_setup(test_last_admin, reset),
	        cmocka_unit_test_setup(test_demote_needs_the_creator, reset),
	        cmocka_unit_test_setup(test_password_rules, reset),
	        cmocka_unit_test_setup(test_roles_must_exist_for_the_api,
	                               reset),
	        cmocka_unit_test_setup(test_unstorable_names_are_missing,
	                               reset),
	        cmocka_unit_test_setup(test_bootstrap_once, reset),
	        cmocka_unit_test_setup(test_operator_admin_closes_bootstrap,
	                               reset),
	        cmocka_unit_test_setup(test_no_guard_row_no_change, reset),
	        cmocka_unit_test_setup(test_concurrent_demotions_keep_an_admin,
	                               reset),
	        cmocka_unit_test_setup(
	                test_concurrent_bootstraps_make_one_admin, reset),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
