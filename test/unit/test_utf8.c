/* UTF-8 decoding: the store's and the management API's rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "utf8.h"

struct seq_case {
	const char *in;
	size_t len;       /* bytes offered */
	size_t want;      /* length returned; 0: invalid */
	unsigned long cp; /* code point when valid */
};

static const struct seq_case seqs[] = {
        {"A", 1, 1, 0x41},
        {"\x7f", 1, 1, 0x7f},
        {"\xc3\xa9", 2, 2, 0xe9},             /* e acute */
        {"\xe2\x82\xac", 3, 3, 0x20ac},       /* euro sign */
        {"\xf0\x9f\x98\x80", 4, 4, 0x1f600},  /* outside the BMP */
        {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff}, /* the last code point */
        {"\xc3\xa9", 1, 0, 0},                /* cut short */
        {"\x80", 1, 0, 0},                    /* lone continuation */
        {"\xc0\x80", 2, 0, 0},                /* overlong NUL */
        {"\xe0\x80\xaf", 3, 0, 0},            /* overlong '/' */
        {"\xed\xa0\x80", 3, 0, 0},            /* surrogate D800 */
        {"\xf4\x90\x80\x80", 4, 0, 0},        /* above U+10FFFF */
        {"\xc3\x28", 2, 0, 0},                /* bad continuation */
        {"\xf8\x88\x80\x80\x80", 5, 0, 0},    /* 5-byte form */
        {"\xff", 1, 0, 0},
};

static void
test_decode(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		unsigned long cp = 0xdead;
		size_t n = wsg_utf8_decode((const unsigned char *)seqs[i].in,
		                           seqs[i].len, &cp);

		assert_int_equal(n, seqs[i].want);
		assert_int_equal(cp, seqs[i].want ? seqs[i].cp : 0xdead);
	}
}

static void
test_valid(void **state)
{
	static const char ok[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

	(void)state;
	assert_int_equal(wsg_utf8_valid("", 0), 1);
	assert_int_equal(wsg_utf8_valid(ok, strlen(ok)), 1);
	/* The last character cut off. */
	assert_int_equal(wsg_utf8_valid(ok, strlen(ok) - 1), 0);
	assert_int_equal(wsg_utf8_valid("a\xc0\x80z", 4), 0);
	assert_int_equal(wsg_utf8_valid("a\xed\xbf\xbfz", 5), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_decode),
	        cmocka_unit_test(test_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
