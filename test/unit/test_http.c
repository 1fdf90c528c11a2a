/* wssgatectl's URL checks and percent-encoding (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static void
test_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"bob", "bob"},
	        {"a-b_c.d~e", "a-b_c.d~e"},
	        {"a b/c?d&e=f#g", "a%20b%2Fc%3Fd%26e%3Df%23g"},
	        {"*mi?", "%2Ami%3F"},
	        {"jörg", "j%C3%B6rg"},
	        {"..", ".."},
	        {"%", "%25"},
	        {"", ""},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = wsg_http_escape(cases[i].in);

		assert_string_equal(e, cases[i].out);
		free(e);
	}
}

/* Only the item is encoded: the collection may hold a slash of its own. */
static void
test_path(void **state)
{
	static const struct {
		const char *collection, *item, *out;
	} cases[] = {
	        {"users", "bob", "users/bob"},
	        {"roles", "a b/c", "roles/a%20b%2Fc"},
	        {"users/x", "y z", "users/x/y%20z"},
	        {"users", "", "users/"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = wsg_http_path(cases[i].collection, cases[i].item);

		assert_string_equal(p, cases[i].out);
		free(p);
	}
}

static void
test_check_url(void **state)
{
	static const struct {
		const char *url;
		int ok, https, loopback;
	} cases[] = {
	        {"http://127.0.0.1:9164", 1, 0, 1},
	        {"http://localhost:9164/", 1, 0, 1},
	        {"https://[::1]:9164", 1, 1, 1},
	        {"https://gw.example:9164/prefix", 1, 1, 0},
	        {"http://10.0.0.1", 1, 0, 0},
	        {"ftp://127.0.0.1", 0, 0, 0},
	        {"127.0.0.1:9164", 0, 0, 0},
	        {"http://user:pw@127.0.0.1", 0, 0, 0},
	        {"http://127.0.0.1/?q=1", 0, 0, 0},
	        {"http://127.0.0.1/#frag", 0, 0, 0},
	        {"", 0, 0, 0},
	};
	struct wsg_error err;
	size_t i;
	int https, loopback, rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = wsg_http_check_url(cases[i].url, &https, &loopback, &err);
		if ((rc == WSG_OK) != cases[i].ok)
			fail_msg("%s: rc %d (%s)", cases[i].url, rc,
			         err.reason);
		if (!cases[i].ok) {
			assert_int_equal(rc, WSG_ERR_INVAL);
			continue;
		}
		assert_int_equal(https, cases[i].https);
		assert_int_equal(loopback, cases[i].loopback);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escape),
	        cmocka_unit_test(test_path),
	        cmocka_unit_test(test_check_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
