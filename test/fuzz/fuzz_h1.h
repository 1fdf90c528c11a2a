/*
 * What the two HTTP/1.1 parser targets share: the limits they parse
 * with, the check that aborts on a broken promise (naming the target in
 * FUZZ_H1_TARGET) and RFC 9110's token bytes.
 */
#ifndef WSG_FUZZ_H1_H
#define WSG_FUZZ_H1_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"

static const struct wsg_h1_limits lim = {.max_line = 8192,
                                         .max_head = 65536,
                                         .max_headers = 100,
                                         .max_body = 1 << 20};

static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: broken promise: %s\n", FUZZ_H1_TARGET,
		        what);
		abort();
	}
}

static int
token_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

#endif
