/* The attribute an LDAP filter template compares its one %s with. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ldap_filter.h"

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
	        {"(|(uid=%s)(cn=%s))", NULL},
	        {"(uid=%d)", NULL},
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
	        cmocka_unit_test(test_attribute),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
