/* LDAP filters from the operator's templates: RFC 4515 escaping, the one
 * %s, the attribute it is compared with. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ldap_filter.h"

static void
check_escape(const char *in, int keep_star, const char *want)
{
	char *got = wsg_ldap_filter_escape(in, keep_star);

	assert_string_equal(got, want);
	free(got);
}

static void
test_escape(void **state)
{
	(void)state;
	check_escape("alice", 0, "alice");
	check_escape("o(x)*", 0, "o\\28x\\29\\2a");
	check_escape("a\\b", 0, "a\\5cb");
	check_escape("*)(uid=*", 0, "\\2a\\29\\28uid=\\2a");
	check_escape("ad*", 1, "ad*");
	check_escape("jörg", 0, "jörg"); /* UTF-8 passes as it is */
	check_escape("", 0, "");
}

static void
test_build(void **state)
{
	static const struct {
		const char *tmpl, *value, *want;
	} cases[] = {
	        {"(uid=%s)", "alice", "(uid=alice)"},
	        {"(&(objectClass=inetOrgPerson)(uid=%s))", "*",
	         "(&(objectClass=inetOrgPerson)(uid=\\2a))"},
	        {"(&(member=%s)(x=100%%))", "uid=a,dc=b",
	         "(&(member=uid=a,dc=b)(x=100%))"},
	        {"(member=%s)", "cn=a\\,b", "(member=cn=a\\5c,b)"},
	};
	size_t i;
	char *got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = wsg_ldap_filter_build(cases[i].tmpl, cases[i].value, 0);
		assert_non_null(got);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

/* No %s, two, or a lone '%': no filter (the config check refuses them). */
static void
test_build_refuses_bad_templates(void **state)
{
	static const char *const bad[] = {
	        "(uid=alice)",
	        "(|(uid=%s)(cn=%s))",
	        "(uid=%d)",
	        "(uid=%s)%",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(wsg_ldap_filter_build(bad[i], "x", 0));
}

static void
test_attribute(void **state)
{
	static const struct {
		const char *tmpl, *want; /* want NULL: not derivable */
	} cases[] = {
	        {"(uid=%s)", "uid"},
	        {"(&(objectClass=inetOrgPerson)(uid=%s)(!(x=y)))", "uid"},
	        {"(&(objectClass=groupOfNames)(member=%s))", "member"},
	        {"(sAMAccountName=%s)", "sAMAccountName"},
	        {"(uid~=%s)", NULL},
	        {"(uid=x%s)", NULL},
	        {"(uid=%s*)", NULL},
	        {"uid=%s", NULL},
	        {"(=%s)", NULL},
	};
	char out[64];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = wsg_ldap_filter_attribute(cases[i].tmpl, out, sizeof(out));
		if (cases[i].want == NULL) {
			assert_int_equal(rc, -1);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].want);
		}
	}
	assert_int_equal(wsg_ldap_filter_attribute("(uid=%s)", out, 3), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escape),
	        cmocka_unit_test(test_build),
	        cmocka_unit_test(test_build_refuses_bad_templates),
	        cmocka_unit_test(test_attribute),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
