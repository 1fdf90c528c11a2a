/*
 * Unit tests for ldapstore.c's RFC 4515 escaping and filter building (the
 * directory I/O is tested against a real slapd in test_105_ldap.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ldap.h>
#include <stdlib.h>
#include <string.h>

#include "ldapstore.h"

/* libldap's filter encoder, which ldap_search_ext() uses: exported by
 * libldap 2.5 but not declared in ldap.h. */
int ldap_pvt_put_filter(BerElement *ber, const char *str);

static void
test_escape(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	        {"alice", 5, "alice"},
	        {"", 0, ""},
	        {"*", 1, "\\2a"},
	        {"(uid=*)", 7, "\\28uid=\\2a\\29"},
	        {"a\\b", 3, "a\\5cb"},
	        {"\\2a", 3, "\\5c2a"},
	        {"a\0b", 3, "a\\00b"},
	        {"tab\there", 8, "tab\\09here"},
	        {"del\x7f", 4, "del\\7f"},
	        {"j\xc3\xb6rg", 5, "j\xc3\xb6rg"}, /* UTF-8 stays */
	        {"o(x)*", 5, "o\\28x\\29\\2a"},
	        {")(|(uid=*", 9, "\\29\\28|\\28uid=\\2a"},
	        {"uid=a,ou=people,dc=x", 20, "uid=a,ou=people,dc=x"},
	        {"cn=a\\2Cb", 8, "cn=a\\5c2Cb"},
	};
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = wsg_ldapstore_escape(cases[i].in, cases[i].len);
		assert_string_equal(out, cases[i].want);
		free(out);
	}
}

static void
test_filter(void **state)
{
	static const struct {
		const char *filter, *value, *want;
	} cases[] = {
	        {"(uid=%s)", "bob", "(uid=bob)"},
	        {"(&(objectClass=inetOrgPerson)(uid=%s))", "*",
	         "(&(objectClass=inetOrgPerson)(uid=\\2a))"},
	        {"(&(objectClass=groupOfNames)(member=%s))",
	         "uid=o(x)*,ou=people,dc=example,dc=org",
	         "(&(objectClass=groupOfNames)(member=uid=o\\28x\\29\\2a,ou="
	         "people,dc=example,dc=org))"},
	        {"(uid=%s)", "x)(uid=*", "(uid=x\\29\\28uid=\\2a)"},
	        {"(uid=%s)", "%s", "(uid=%s)"},
	};
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = wsg_ldapstore_filter(cases[i].filter, cases[i].value,
		                           strlen(cases[i].value));
		assert_string_equal(out, cases[i].want);
		free(out);
	}
}

/* Whatever the name, the filter stays one well-formed filter: libldap's
 * own parser takes it and it holds just the one assertion's value. */
static void
test_filter_parses(void **state)
{
	static const char *const names[] = {
	        "*",          "(",    ")",   "\\",        "a)(objectClass=*",
	        "*)(|(uid=*", "\\2a", "x\\", "\xc3\xa9*", "((((",
	};
	BerElement *ber;
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		out = wsg_ldapstore_filter("(&(objectClass=x)(uid=%s))",
		                           names[i], strlen(names[i]));
		ber = ber_alloc_t(LBER_USE_DER);
		assert_non_null(ber);
		assert_int_equal(ldap_pvt_put_filter(ber, out), 0);
		ber_free(ber, 1);
		assert_null(strchr(out, '*'));
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escape),
	        cmocka_unit_test(test_filter),
	        cmocka_unit_test(test_filter_parses),
	};

	return cmocka_run_group_tests_name("ldapstore", tests, NULL, NULL);
}
