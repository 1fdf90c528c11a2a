/*
 * Test tool for the differential test against an independent HTTP/1.1
 * parser (test/integration/test_81_h1_differential.py): parses the first
 * message of standard input with src/h1.c and prints one JSON object.
 *
 *   h1_dump            a request: verdict, method, target, version,
 *                      headers, decoded body
 *   h1_dump --response the first byte's low bit says the request was HEAD;
 *                      the rest is the upstream's answer (1xx skipped)
 *
 * verdict is "accept", "reject" (with problem, reason and status) or
 * "incomplete" (the input ends before the message does). Every text is
 * printed byte for byte as a JSON string of code points 0-255 (Latin-1),
 * so the caller gets the exact bytes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"
#include "types.h"

static void
put_bytes(const char *p, size_t len)
{
	size_t i;

	putchar('"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\u%04x", c);
	}
	putchar('"');
}

static void
put_headers(const struct wsg_h1_header *h, size_t n)
{
	size_t i;

	printf(", \"headers\": [");
	for (i = 0; i < n; i++) {
		printf(i ? ", [" : "[");
		put_bytes(h[i].name.p, h[i].name.len);
		printf(", ");
		put_bytes(h[i].value.p, h[i].value.len);
		printf("]");
	}
	printf("]");
}

static void
put_reject(const struct wsg_h1_error *err)
{
	printf("{\"verdict\": \"reject\", \"problem\": %d, \"reason\": \"%s\", "
	       "\"status\": %d}\n",
	       (int)err->problem, err->reason, err->status);
}

/*
 * Finds the body that starts at buf[0..len), decoding it in place into
 * buf[0..*out); *used is where the message ends. WSG_ERR_AGAIN when the
 * input ends first, a refusal with *err.
 */
static int
body_of(enum wsg_h1_body body, uint64_t length, uint64_t max_body, char *buf,
        size_t len, size_t *used, size_t *out, struct wsg_h1_error *err)
{
	struct wsg_h1_chunked c;

	*used = 0;
	*out = 0;
	switch (body) {
	case WSG_H1_BODY_NONE: break;
	case WSG_H1_BODY_LENGTH:
		if (length > len)
			return WSG_ERR_AGAIN;
		*out = *used = (size_t)length;
		break;
	case WSG_H1_BODY_CHUNKED:
		wsg_h1_chunked_init(&c, max_body);
		return wsg_h1_chunked_decode(&c, buf, len, used, out, err);
	case WSG_H1_BODY_CLOSE: *out = *used = len; break;
	}
	return WSG_OK;
}

static int
dump_request(char *buf, size_t len, const struct wsg_h1_limits *lim,
             struct wsg_h1_header *h)
{
	struct wsg_h1_request r;
	struct wsg_h1_error err;
	struct wsg_h1_parser p;
	size_t used, out;
	int rc;

	wsg_h1_parser_init(&p, lim);
	rc = wsg_h1_parse_request(&p, buf, len, h, &r, &err);
	if (rc == WSG_OK)
		rc = body_of(r.body, r.content_length, lim->max_body,
		             buf + r.head_len, len - r.head_len, &used, &out,
		             &err);
	if (rc == WSG_ERR_AGAIN)
		return rc;
	if (rc != WSG_OK) {
		put_reject(&err);
		return WSG_OK;
	}
	printf("{\"verdict\": \"accept\", \"method\": ");
	put_bytes(r.method.p, r.method.len);
	printf(", \"target\": ");
	put_bytes(r.target.p, r.target.len);
	printf(", \"version\": \"1.%d\", \"keep_alive\": %s, \"expect\": %d",
	       r.minor, r.keep_alive ? "true" : "false", (int)r.expect);
	put_headers(h, r.n_headers);
	printf(", \"body\": ");
	put_bytes(buf + r.head_len, out);
	printf(", \"rest\": %zu}\n", len - r.head_len - used);
	return WSG_OK;
}

static int
dump_response(char *buf, size_t len, const struct wsg_h1_limits *lim,
              struct wsg_h1_header *h)
{
	struct wsg_h1_response r;
	struct wsg_h1_error err;
	struct wsg_h1_parser p;
	size_t used, out;
	int head, rc;

	if (len == 0)
		return WSG_ERR_AGAIN;
	head = buf[0] & 1;
	buf++;
	len--;
	do {
		wsg_h1_parser_init(&p, lim);
		rc = wsg_h1_parse_response(&p, buf, len, head, h, &r, &err);
		if (rc == WSG_OK && r.interim) {
			buf += r.head_len;
			len -= r.head_len;
		}
	} while (rc == WSG_OK && r.interim);
	if (rc == WSG_OK)
		rc = body_of(r.body, r.content_length, lim->max_body,
		             buf + r.head_len, len - r.head_len, &used, &out,
		             &err);
	if (rc == WSG_ERR_AGAIN)
		return rc;
	if (rc != WSG_OK) {
		put_reject(&err);
		return WSG_OK;
	}
	printf("{\"verdict\": \"accept\", \"status\": %d, \"reason\": ",
	       r.status);
	put_bytes(r.reason.p, r.reason.len);
	printf(", \"version\": \"1.%d\", \"keep_alive\": %s, \"framing\": %d",
	       r.minor, r.keep_alive ? "true" : "false", (int)r.body);
	put_headers(h, r.n_headers);
	printf(", \"body\": ");
	put_bytes(buf + r.head_len, out);
	printf(", \"rest\": %zu}\n", len - r.head_len - used);
	return WSG_OK;
}

int
main(int argc, char **argv)
{
	struct wsg_limits_conf conf = {.max_body_size = 10485760,
	                               .max_header_size = 65536,
	                               .max_response_size = 67108864};
	struct wsg_h1_header h[WSG_H1_MAX_HEADERS];
	struct wsg_h1_limits lim;
	size_t len = 0, cap = 1 << 16, n;
	char *buf = malloc(cap);
	int response = argc > 1 && strcmp(argv[1], "--response") == 0;
	int rc;

	if (buf == NULL)
		return 2;
	while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap && (buf = realloc(buf, cap *= 2)) == NULL)
			return 2;
	}
	if (response) {
		wsg_h1_response_limits(&conf, &lim);
		rc = dump_response(buf, len, &lim, h);
	} else {
		wsg_h1_request_limits(&conf, &lim);
		rc = dump_request(buf, len, &lim, h);
	}
	if (rc == WSG_ERR_AGAIN)
		printf("{\"verdict\": \"incomplete\"}\n");
	free(buf);
	return 0;
}
