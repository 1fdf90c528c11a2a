/*
 * Fuzz target: a multipart/related message, its first line the
 * Content-Type and the rest its body. What the parser accepts must keep its
 * promises (the root part lies inside the body, the version is known, and
 * the relay frame around the unchanged envelope is the message itself);
 * every refusal is a multipart fault that says why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "mem.h"
#include "multipart.h"

static void
require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_multipart: broken promise: %s\n", what);
		abort();
	}
}

static void
check_relay(struct wsg_multipart *mp, const char *body, size_t len)
{
	struct iovec root, out[1 + WSG_MULTIPART_FRAME_PARTS];
	size_t n, k, at = 0;

	root.iov_base = (void *)(body + mp->root_start);
	root.iov_len = mp->root_end - mp->root_start;
	wsg_multipart_relay_parts(mp, body, len, &root, 1, out,
	                          1 + WSG_MULTIPART_FRAME_PARTS, &n);
	for (k = 0; k < n; k++) {
		require(at + out[k].iov_len <= len, "the frame is no longer");
		require(memcmp(body + at, out[k].iov_base, out[k].iov_len) == 0,
		        "an unchanged envelope relays the message as sent");
		at += out[k].iov_len;
	}
	require(at == len, "the frame covers the whole message");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t ct_len = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	char *ctype = wsg_mem_strndup((const char *)data, ct_len);
	const char *body = nl != NULL ? nl + 1 : "";
	size_t len = nl != NULL ? size - ct_len - 1 : 0;
	struct wsg_multipart_limits lim = {8, 4096, 512};
	struct wsg_multipart mp;
	struct wsg_error err;
	int rc;

	wsg_error_clear(&err);
	(void)wsg_multipart_is(ctype);
	(void)wsg_multipart_media(ctype);
	rc = wsg_multipart_parse(ctype, body, len, &lim, &mp, &err);
	if (rc == WSG_OK) {
		require(mp.root_start <= mp.root_end && mp.root_end <= len,
		        "the root part lies inside the body");
		require(mp.root_end - mp.root_start <= lim.max_part_size,
		        "the root part is within max_part_size");
		require(mp.n_parts >= 1 && mp.n_parts <= lim.max_parts,
		        "between one and max_parts parts");
		require(mp.version == WSG_SOAP_11 || mp.version == WSG_SOAP_12,
		        "the root part is SOAP");
		require(mp.cl_end == 0 || (mp.cl_start < mp.cl_end &&
		                           mp.cl_end <= mp.root_start),
		        "the root's Content-Length lies in its headers");
		check_relay(&mp, body, len);
	} else {
		require((rc == WSG_ERR_PARSE || rc == WSG_ERR_LIMIT) &&
		                err.fault == WSG_FAULT_MULTIPART &&
		                err.reason[0] != '\0' && mp.root_end == 0,
		        "a refusal is a multipart fault that says why");
	}
	free(ctype);
	return 0;
}
