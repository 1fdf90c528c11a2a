/* The user store's name rules (userstore.c): what a name that is looked up
 * may be, and what a new user or role name, or a role being granted, may
 * be (issue 12 item 6: nothing an upstream trimming X-WSS-User would read as
 * another name). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "err.h"
#include "userstore.h"

struct name_case {
	const char *name;
	int is_role;
	int lookup_ok; /* wsg_userstore_check_name */
	int new_ok;    /* wsg_userstore_check_new_name */
};

static const struct name_case cases[] = {
        {"admin", 0, 1, 1},
        {"Zo\xc3\xab van Dijk", 0, 1, 1}, /* inner space, non-ASCII */
        {"a:b", 0, 1, 1},                 /* ':' is the API's rule only */
        {"admin ", 0, 1, 0},
        {" admin", 0, 1, 0},
        {"\302\240admin", 0, 1, 0},     /* U+00A0 */
        {"admin\xe3\x80\x80", 0, 1, 0}, /* U+3000 */
        {"\357\273\277admin", 0, 1, 0}, /* U+FEFF */
        {"admin\xe2\x80\x8a", 0, 1, 0}, /* U+200A */
        {"admin\xe2\x80\x8b", 0, 1, 0}, /* U+200B */
        {"\341\232\200admin", 0, 1, 0}, /* U+1680 */
        {"admin\xe2\x80\xaf", 0, 1, 0}, /* U+202F */
        {"admin\xe2\x81\x9f", 0, 1, 0}, /* U+205F */
        {"admin\xe2\x80\xa8", 0, 1, 0}, /* U+2028 */
        {" ", 0, 1, 0},
        {"a\xc2\x85", 0, 0, 0}, /* U+0085 (C1) */
        {"a\177b", 0, 0, 0},    /* DEL */
        {"a\tb", 0, 0, 0},
        {"a\r\nX-WSS-User: admin", 0, 0, 0},
        {"a\xff", 0, 0, 0},     /* invalid UTF-8 */
        {"a\xc0\xa0", 0, 0, 0}, /* overlong space */
        {"", 0, 0, 0},
        {"ops", 1, 1, 1},
        {"echo users", 1, 1, 1},
        {"ops ", 1, 1, 0},
        {"\xe3\x80\x80ops", 1, 1, 0},
        {"a,b", 1, 0, 0},
        {"a,b", 0, 1, 1}, /* ',' only splits role lists */
};

static void
test_name_table(void **state)
{
	struct wsg_error err;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct name_case *c = &cases[i];

		wsg_error_clear(&err);
		rc = wsg_userstore_check_name("name", c->name, c->is_role,
		                              &err);
		if ((rc == WSG_OK) != c->lookup_ok)
			fail_msg("check_name(\"%s\", %d) = %d", c->name,
			         c->is_role, rc);
		wsg_error_clear(&err);
		rc = wsg_userstore_check_new_name("name", c->name, c->is_role,
		                                  &err);
		if ((rc == WSG_OK) != c->new_ok)
			fail_msg("check_new_name(\"%s\", %d) = %d", c->name,
			         c->is_role, rc);
		if (rc != WSG_OK)
			assert_non_null(strstr(err.reason, "name"));
	}
}

static void
test_reason_names_the_character(void **state)
{
	struct wsg_error err;

	(void)state;
	wsg_error_clear(&err);
	assert_int_equal(wsg_userstore_check_new_name(
	                         "username", "admin\xe3\x80\x80", 0, &err),
	                 WSG_ERR_INVAL);
	assert_non_null(strstr(err.reason, "username must not begin or end "
	                                   "with whitespace"));
	assert_non_null(strstr(err.reason, "U+3000"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_table),
	        cmocka_unit_test(test_reason_names_the_character),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
