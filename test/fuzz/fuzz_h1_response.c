/*
 * Fuzz target: arbitrary bytes as what an upstream answers; the first byte
 * says whether the request was HEAD (low bit), the rest is the response.
 * The response parser must keep its promises, since a pooled connection is
 * reused on their strength: an accepted head has a 3-digit status other
 * than 101, token names and values without control bytes; 1xx is interim
 * with no body; 1xx, 204, 304 and HEAD answers have no body; never both
 * Content-Length and chunked; a close-delimited body is never kept alive;
 * byte-by-byte feeding gives what one call gives, for the head and a
 * chunked body; every refusal is a 502 with a named problem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_H1_TARGET "fuzz_h1_response"
#include "fuzz.h"
#include "fuzz_h1.h"
#include "h1.h"
#include "types.h"

static void
check_text(struct wsg_h1_slice v, const char *what)
{
	size_t i;

	for (i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		require(c == '\t' || (c >= 0x20 && c != 0x7f), what);
	}
}

static void
check_response(const char *buf, size_t size, int head,
               const struct wsg_h1_response *r)
{
	const struct wsg_h1_header *cl, *te;
	size_t i, k;

	require(r->head_len >= 4 && r->head_len <= size, "head within input");
	require(memcmp(buf + r->head_len - 4, "\r\n\r\n", 4) == 0,
	        "the head ends with an empty line");
	require(memmem(buf, r->head_len - 2, "\r\n\r\n", 4) == NULL,
	        "at the first empty line");
	require(r->status >= 100 && r->status <= 599 && r->status != 101,
	        "a status in 100..599 but 101");
	require(r->interim == (r->status < 200), "interim exactly for 1xx");
	require(r->minor == 0 || r->minor == 1, "HTTP/1.0 or HTTP/1.1");
	check_text(r->reason, "no control byte in the reason");
	require(r->n_headers <= lim.max_headers, "max_headers kept");
	for (i = 0; i < r->n_headers; i++) {
		require(r->headers[i].name.len > 0, "names are not empty");
		for (k = 0; k < r->headers[i].name.len; k++)
			require(token_byte(
			                (unsigned char)r->headers[i].name.p[k]),
			        "names are tokens");
		check_text(r->headers[i].value, "no control byte in a value");
	}
	cl = wsg_h1_find(r->headers, r->n_headers, "content-length");
	te = wsg_h1_find(r->headers, r->n_headers, "transfer-encoding");
	require(!(cl != NULL && te != NULL),
	        "never both Content-Length and Transfer-Encoding");
	require(r->minor == 1 || te == NULL, "no Transfer-Encoding in 1.0");
	if (r->interim || r->status == 204 || r->status == 304 || head) {
		require(r->body == WSG_H1_BODY_NONE,
		        "no body where none may be");
		return;
	}
	require((te != NULL) == (r->body == WSG_H1_BODY_CHUNKED),
	        "chunked exactly when Transfer-Encoding");
	require((cl != NULL) == (r->body == WSG_H1_BODY_LENGTH),
	        "a length exactly when Content-Length");
	require(r->body != WSG_H1_BODY_NONE, "a final answer has a framing");
	require(r->body != WSG_H1_BODY_CLOSE || !r->keep_alive,
	        "read to close, never reused");
	require(r->body != WSG_H1_BODY_LENGTH ||
	                r->content_length <= lim.max_body,
	        "max_body kept");
}

/* The chunked body after the head: all at once and byte by byte. */
static void
check_chunked(const char *body, size_t len)
{
	struct wsg_h1_chunked a, b;
	struct wsg_h1_error ea, eb;
	char *whole = malloc(len + 1), *bytes = malloc(len + 1);
	size_t used_a = 0, out_a = 0, used_b = 0, out_b, have = 0, i;
	int rc_a, rc_b = WSG_ERR_AGAIN;

	require(whole != NULL && bytes != NULL, "memory");
	memcpy(whole, body, len);
	wsg_h1_chunked_init(&a, lim.max_body);
	rc_a = wsg_h1_chunked_decode(&a, whole, len, &used_a, &out_a, &ea);
	wsg_h1_chunked_init(&b, lim.max_body);
	for (i = 0; i < len && rc_b == WSG_ERR_AGAIN; i++) {
		bytes[have] = body[i];
		rc_b = wsg_h1_chunked_decode(&b, bytes + have, 1, &used_b,
		                             &out_b, &eb);
		have += out_b;
	}
	require(rc_a == rc_b, "chunked: byte by byte as at once");
	if (rc_a == WSG_OK) {
		require(out_a == have && memcmp(whole, bytes, have) == 0,
		        "chunked: the same data");
		require(used_a == i && out_a < used_a,
		        "chunked: ends at the same byte");
	} else if (rc_a != WSG_ERR_AGAIN) {
		require(ea.problem == eb.problem, "chunked: the same problem");
	}
	free(whole);
	free(bytes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsg_h1_header h1[100], h2[100];
	struct wsg_h1_response a, b;
	struct wsg_h1_error ea, eb;
	struct wsg_h1_parser p;
	const char *buf = (const char *)data + 1;
	size_t n;
	int head, rc, rc2 = WSG_ERR_AGAIN;

	if (size == 0)
		return 0;
	head = data[0] & 1;
	size--;
	wsg_h1_parser_init(&p, &lim);
	rc = wsg_h1_parse_response(&p, buf, size, head, h1, &a, &ea);
	wsg_h1_parser_init(&p, &lim);
	for (n = 1; n <= size && rc2 == WSG_ERR_AGAIN; n++)
		rc2 = wsg_h1_parse_response(&p, buf, n, head, h2, &b, &eb);
	require(rc == rc2, "byte by byte as at once");
	if (rc == WSG_ERR_AGAIN) {
		require(memmem(buf, size, "\r\n\r\n", 4) == NULL,
		        "incomplete only without an empty line");
		return 0;
	}
	if (rc != WSG_OK) {
		require(rc == WSG_ERR_PARSE || rc == WSG_ERR_LIMIT,
		        "a refusal is PARSE or LIMIT");
		require(ea.status == 502, "every refusal is a 502");
		require(ea.problem > WSG_H1_OK &&
		                ea.problem < WSG_H1_PROBLEM__COUNT &&
		                ea.reason == wsg_h1_reason(ea.problem),
		        "a refusal names its problem");
		require(ea.problem == eb.problem && ea.offset == eb.offset,
		        "the same refusal byte by byte");
		require(a.status == 0, "nothing returned on refusal");
		return 0;
	}
	require(a.head_len == b.head_len && a.status == b.status &&
	                a.body == b.body &&
	                a.content_length == b.content_length &&
	                a.keep_alive == b.keep_alive &&
	                a.n_headers == b.n_headers,
	        "the same response byte by byte");
	check_response(buf, size, head, &a);
	if (a.body == WSG_H1_BODY_CHUNKED)
		check_chunked(buf + a.head_len, size - a.head_len);
	return 0;
}
