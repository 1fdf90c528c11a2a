/* Reason phrases of the status lines both listeners send. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_status.h"

static void
test_phrases(void **state)
{
	static const struct {
		int status;
		const char *phrase;
	} v[] = {
	        {200, "OK"},
	        {400, "Bad Request"},
	        {401, "Unauthorized"},
	        {403, "Forbidden"},
	        {404, "Not Found"},
	        {405, "Method Not Allowed"},
	        {413, "Payload Too Large"},
	        {415, "Unsupported Media Type"},
	        {429, "Too Many Requests"},
	        {500, "Internal Server Error"},
	        {502, "Bad Gateway"},
	        {503, "Service Unavailable"},
	        {504, "Gateway Timeout"},
	        /* Statuses the gateway never sends itself. */
	        {0, "Status"},
	        {204, "Status"},
	        {599, "Status"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_string_equal(wsg_http_status_phrase(v[i].status),
		                    v[i].phrase);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_phrases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
