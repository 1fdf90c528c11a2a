/* Lower-case hexadecimal text of bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "hex.h"

static void
test_all_byte_values(void **state)
{
	unsigned char in[256];
	char out[2 * sizeof(in) + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	memset(out, 'x', sizeof(out));
	wsg_hex_encode(in, sizeof(in), out);
	assert_int_equal(strlen(out), 2 * sizeof(in));
	assert_memory_equal(out, "000102", 6);
	assert_memory_equal(out + 2 * 0x7f, "7f80", 4);
	assert_string_equal(out + 2 * 0xfe, "feff");
}

static void
test_empty(void **state)
{
	char out[1] = {'x'};

	(void)state;
	wsg_hex_encode((const unsigned char *)"", 0, out);
	assert_int_equal(out[0], '\0');
}

/* Every byte: the 22 digits of either case have their value, others -1. */
static void
test_digit(void **state)
{
	int c, want;

	(void)state;
	for (c = 0; c < 256; c++) {
		want = c >= '0' && c <= '9'   ? c - '0'
		       : c >= 'a' && c <= 'f' ? c - 'a' + 10
		       : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                              : -1;
		assert_int_equal(wsg_hex_digit((char)c), want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_all_byte_values),
	        cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_digit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
