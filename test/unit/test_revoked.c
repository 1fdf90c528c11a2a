/* The in-memory list of logged-out management tokens. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "revoked.h"
#include "types.h"

static struct wsg_token
token(int n, int64_t exp)
{
	struct wsg_token t;

	memset(&t, 0, sizeof(t));
	snprintf(t.jti, sizeof(t.jti), "%032x", n);
	t.exp = exp;
	return t;
}

static void
test_add_and_has(void **state)
{
	struct wsg_revoked *l = wsg_revoked_new(10);
	struct wsg_token a = token(1, 1000), b = token(2, 1000);

	(void)state;
	assert_false(wsg_revoked_has(l, &a));
	assert_int_equal(wsg_revoked_add(l, &a, 100), WSG_OK);
	assert_true(wsg_revoked_has(l, &a));
	assert_false(wsg_revoked_has(l, &b));
	/* Twice is once. */
	assert_int_equal(wsg_revoked_add(l, &a, 100), WSG_OK);
	wsg_revoked_free(l);
}

/* Full of live tokens: refused; expired ones make room. */
static void
test_bounded_and_purged(void **state)
{
	struct wsg_revoked *l = wsg_revoked_new(3);
	struct wsg_token t[5];
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		t[i] = token(i, i < 2 ? 150 : 1000);
	for (i = 0; i < 3; i++)
		assert_int_equal(wsg_revoked_add(l, &t[i], 100), WSG_OK);
	assert_int_equal(wsg_revoked_add(l, &t[3], 100), WSG_ERR_FULL);
	assert_false(wsg_revoked_has(l, &t[3]));
	/* At 200 the first two have expired. */
	assert_int_equal(wsg_revoked_add(l, &t[3], 200), WSG_OK);
	assert_int_equal(wsg_revoked_add(l, &t[4], 200), WSG_OK);
	assert_false(wsg_revoked_has(l, &t[0]));
	assert_true(wsg_revoked_has(l, &t[2]));
	assert_true(wsg_revoked_has(l, &t[3]));
	assert_true(wsg_revoked_has(l, &t[4]));
	wsg_revoked_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_add_and_has),
	        cmocka_unit_test(test_bounded_and_purged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
