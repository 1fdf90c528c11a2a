/*
 * Fuzz target: arbitrary bytes as an HTTP request-target and as a raw path.
 * What the normaliser accepts must keep its promises (it is what routes are
 * matched on and what the upstream receives): it starts with '/', holds no
 * "//", no dot segment, no ';' or '\', only pchars and upper-case escapes of
 * reserved bytes, and normalising it again changes nothing. Every refusal
 * says why and returns nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mem.h"
#include "path.h"
#include "types.h"

static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_path: broken promise: %s\n", what);
		abort();
	}
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int
upper_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void
check_normal(const char *p, size_t in_len)
{
	const char *reason;
	char *again;
	size_t i, n = strlen(p);

	require(n <= in_len, "the normal form is never longer");
	require(p[0] == '/', "starts with '/'");
	require(strstr(p, "//") == NULL, "no repeated '/'");
	require(strstr(p, "/./") == NULL && strstr(p, "/../") == NULL,
	        "no dot segment");
	require(!(n >= 2 && strcmp(p + n - 2, "/.") == 0) &&
	                !(n >= 3 && strcmp(p + n - 3, "/..") == 0),
	        "no trailing dot segment");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '%') {
			unsigned v;

			require(i + 2 < n, "an escape has two digits");
			require(upper_hex((unsigned char)p[i + 1]) &&
			                upper_hex((unsigned char)p[i + 2]),
			        "escapes are upper-case hex");
			sscanf(p + i + 1, "%2x", &v);
			require(!unreserved((unsigned char)v),
			        "unreserved characters are decoded");
			require(v >= 0x20 && v != 0x7f && v != '/' &&
			                v != '\\' && v != '%' && v != ';',
			        "no refused escape");
			i += 2;
			continue;
		}
		require(unreserved(c) || strchr("/!$&'()*+,=:@", c) != NULL,
		        "only pchars and '/'");
	}
	require(wsg_path_normalize(p, n, &again, &reason) == WSG_OK,
	        "the normal form is accepted");
	require(strcmp(again, p) == 0, "the normal form is a fixed point");
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *target = wsg_mem_strndup((const char *)data, size);
	const char *reason = NULL;
	char *path = NULL, *query = NULL;
	const char *q;
	int rc;

	rc = wsg_path_normalize((const char *)data, size, &path, &reason);
	if (rc == WSG_OK) {
		check_normal(path, size);
	} else {
		require(rc == WSG_ERR_INVAL && reason != NULL && path == NULL,
		        "a refused path says why and returns nothing");
	}
	free(path);
	path = NULL;
	rc = wsg_path_from_target(target, &path, &query, &reason);
	if (rc == WSG_OK) {
		check_normal(path, strlen(target));
		for (q = query; q != NULL && *q != '\0'; q++)
			require((unsigned char)*q > 0x20 &&
			                (unsigned char)*q < 0x7f && *q != '#',
			        "the query is visible ASCII");
	} else {
		require(rc == WSG_ERR_INVAL && reason != NULL && path == NULL &&
		                query == NULL,
		        "a refused target says why and returns nothing");
	}
	free(path);
	free(query);
	free(target);
	return 0;
}
