/* The percent-encoding of X-WSS-User and X-WSS-Roles (issue 12, item 6). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "upstream.h"

static const struct {
	const char *in;
	int list;
	const char *out;
} cases[] = {
        {"alice", 0, "alice"},
        {"", 0, ""},
        {"", 1, ""},
        {"j\xc3\xbcrgen", 0, "j%C3%BCrgen"},
        {"a,b%c", 0, "a%2Cb%25c"},
        {"x y+z", 0, "x%20y+z"},
        {"tab\there", 0, "tab%09here"},
        {"cr\r\nlf", 0, "cr%0D%0Alf"},
        {"del\x7f", 0, "del%7F"},
        {"~!\"#$&'()*+-./:;<=>?@[\\]^_`{|}", 0,
         "~!\"#$&'()*+-./:;<=>?@[\\]^_`{|}"},
        {"echo-users,\xc3\xa9quipe%1", 1, "echo-users,%C3%A9quipe%251"},
        {"a b,c", 1, "a%20b,c"},
};

static void
test_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = wsg_upstream_encode_identity(cases[i].in,
		                                         cases[i].list);

		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

static int
unhex(char c)
{
	return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* Every byte but NUL round-trips; the output is visible ASCII only. */
static void
test_round_trip(void **state)
{
	char in[256], back[256], *got, *p;
	size_t i, n = 0;

	(void)state;
	for (i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = '\0';
	got = wsg_upstream_encode_identity(in, 0);
	for (p = got; *p != '\0'; p++) {
		assert_true(*p > 0x20 && *p < 0x7f && *p != ',');
		if (*p == '%') {
			back[n++] = (char)(unhex(p[1]) << 4 | unhex(p[2]));
			p += 2;
		} else {
			back[n++] = *p;
		}
	}
	back[n] = '\0';
	assert_string_equal(back, in);
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cases),
	        cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
