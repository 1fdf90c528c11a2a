/*
 * Fuzz target: arbitrary bytes as what a client sends on a connection. The
 * request parser must keep its promises, since the data plane trusts them
 * to find message boundaries: an accepted head has token names, values
 * without control bytes or surrounding OWS, a visible-ASCII target, Host
 * when HTTP/1.1, and never both Content-Length and chunked; the head ends
 * at the first empty line; a head written out again from what was parsed
 * parses the same; feeding the bytes one at a time gives what one call
 * gives, for the head and for a chunked body; every refusal names a
 * problem, its reason and a status the gateway can answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_H1_TARGET "fuzz_h1_request"
#include "fuzz.h"
#include "fuzz_h1.h"
#include "h1.h"
#include "types.h"

static void
check_token(struct wsg_h1_slice s, const char *what)
{
	size_t i;

	require(s.len > 0, what);
	for (i = 0; i < s.len; i++)
		require(s.p[i] != '\0' && token_byte((unsigned char)s.p[i]),
		        what);
}

static void
check_value(struct wsg_h1_slice v)
{
	size_t i;

	for (i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		require(c == '\t' || (c >= 0x20 && c != 0x7f),
		        "no control byte in a value");
	}
	require(v.len == 0 || (v.p[0] != ' ' && v.p[0] != '\t' &&
	                       v.p[v.len - 1] != ' ' && v.p[v.len - 1] != '\t'),
	        "values carry no surrounding OWS");
}

static void
check_refusal(int rc, const struct wsg_h1_error *err, size_t size)
{
	require(rc == WSG_ERR_PARSE || rc == WSG_ERR_LIMIT,
	        "a refusal is PARSE or LIMIT");
	require(err->problem > WSG_H1_OK &&
	                err->problem < WSG_H1_PROBLEM__COUNT,
	        "a refusal names its problem");
	require(err->reason == wsg_h1_reason(err->problem),
	        "a refusal has its reason");
	require(err->status == 400 || err->status == 413 ||
	                err->status == 414 || err->status == 431 ||
	                err->status == 501 || err->status == 505,
	        "a refusal has an answerable status");
	require(err->offset < size || size == 0, "the offset is in the input");
}

static void
check_request(const char *buf, size_t size, const struct wsg_h1_request *r)
{
	const struct wsg_h1_header *cl, *te;
	size_t i;

	require(r->head_len >= 4 && r->head_len <= size, "head within input");
	require(memcmp(buf + r->head_len - 4, "\r\n\r\n", 4) == 0,
	        "the head ends with an empty line");
	require(memmem(buf, r->head_len - 2, "\r\n\r\n", 4) == NULL,
	        "at the first empty line");
	check_token(r->method, "the method is a token");
	require(r->target.len > 0, "a target");
	for (i = 0; i < r->target.len; i++)
		require(r->target.p[i] > 0x20 && r->target.p[i] < 0x7f &&
		                r->target.p[i] != '#',
		        "the target is visible ASCII without a fragment");
	require(r->form != WSG_H1_FORM_ORIGIN || r->target.p[0] == '/',
	        "origin-form starts with /");
	require(r->form != WSG_H1_FORM_ASTERISK ||
	                (r->method.len == 7 &&
	                 memcmp(r->method.p, "OPTIONS", 7) == 0),
	        "asterisk-form for OPTIONS only");
	require(r->form != WSG_H1_FORM_ABSOLUTE || r->authority.len > 0,
	        "absolute-form names an authority");
	require(r->minor == 0 || r->minor == 1, "HTTP/1.0 or HTTP/1.1");
	require(r->n_headers <= lim.max_headers, "max_headers kept");
	for (i = 0; i < r->n_headers; i++) {
		check_token(r->headers[i].name, "field names are tokens");
		check_value(r->headers[i].value);
	}
	require(r->minor == 0 || r->has_host, "HTTP/1.1 has Host");
	cl = wsg_h1_find(r->headers, r->n_headers, "content-length");
	te = wsg_h1_find(r->headers, r->n_headers, "transfer-encoding");
	require(!(cl != NULL && te != NULL),
	        "never both Content-Length and Transfer-Encoding");
	require((te != NULL) == (r->body == WSG_H1_BODY_CHUNKED),
	        "chunked exactly when Transfer-Encoding");
	require((cl != NULL) == (r->body == WSG_H1_BODY_LENGTH),
	        "a length exactly when Content-Length");
	require(r->body != WSG_H1_BODY_CLOSE,
	        "requests are never close-delimited");
	require(r->body != WSG_H1_BODY_LENGTH ||
	                r->content_length <= lim.max_body,
	        "max_body kept");
	require(r->minor == 1 || te == NULL, "no Transfer-Encoding in 1.0");
	require(r->minor == 1 || r->expect == WSG_H1_EXPECT_NONE,
	        "no expectation in 1.0");
}

/*
 * Writes the parsed head out again in canonical form ("name: value", which
 * may add one byte per field) and parses that.
 */
static void
check_reparse(const struct wsg_h1_request *r)
{
	struct wsg_h1_limits more = lim;
	struct wsg_h1_header h[100];
	struct wsg_h1_request again;
	struct wsg_h1_error err;
	struct wsg_h1_parser p;
	size_t n = 0, i, cap = r->head_len + r->n_headers + 1;
	char *out = malloc(cap);
	int rc;

	require(out != NULL, "memory");
	n += (size_t)snprintf(out, cap, "%.*s %.*s HTTP/1.%d\r\n",
	                      (int)r->method.len, r->method.p,
	                      (int)r->target.len, r->target.p, r->minor);
	for (i = 0; i < r->n_headers; i++) {
		memcpy(out + n, r->headers[i].name.p, r->headers[i].name.len);
		n += r->headers[i].name.len;
		memcpy(out + n, ": ", 2);
		n += 2;
		memcpy(out + n, r->headers[i].value.p, r->headers[i].value.len);
		n += r->headers[i].value.len;
		memcpy(out + n, "\r\n", 2);
		n += 2;
	}
	memcpy(out + n, "\r\n", 2);
	n += 2;
	require(n <= cap,
	        "the canonical head is at most one byte per field longer");
	more.max_head += r->n_headers;
	wsg_h1_parser_init(&p, &more);
	rc = wsg_h1_parse_request(&p, out, n, h, &again, &err);
	require(rc == WSG_OK, "the canonical head is accepted");
	require(again.body == r->body &&
	                again.content_length == r->content_length &&
	                again.keep_alive == r->keep_alive &&
	                again.expect == r->expect &&
	                again.n_headers == r->n_headers &&
	                again.form == r->form,
	        "the canonical head means the same");
	free(out);
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
		require(used_a == i, "chunked: ends at the same byte");
		require(used_a <= len && out_a < used_a,
		        "chunked: data is shorter than its coding");
		require(out_a <= lim.max_body, "chunked: max_body kept");
	} else if (rc_a != WSG_ERR_AGAIN) {
		require(ea.problem == eb.problem, "chunked: the same problem");
		require(ea.status == 400 || ea.status == 413,
		        "chunked: 400 or 413");
	}
	free(whole);
	free(bytes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsg_h1_header h1[100], h2[100];
	struct wsg_h1_request a, b;
	struct wsg_h1_error ea, eb;
	struct wsg_h1_parser p;
	const char *buf = (const char *)data;
	size_t n, i;
	int rc, rc2 = WSG_ERR_AGAIN;

	wsg_h1_parser_init(&p, &lim);
	rc = wsg_h1_parse_request(&p, buf, size, h1, &a, &ea);
	wsg_h1_parser_init(&p, &lim);
	for (n = 1; n <= size && rc2 == WSG_ERR_AGAIN; n++)
		rc2 = wsg_h1_parse_request(&p, buf, n, h2, &b, &eb);
	require(rc == rc2, "byte by byte as at once");
	if (rc == WSG_ERR_AGAIN) {
		require(memmem(buf, size, "\r\n\r\n", 4) == NULL,
		        "incomplete only without an empty line");
		require(a.head_len == 0, "nothing returned while incomplete");
		return 0;
	}
	if (rc != WSG_OK) {
		check_refusal(rc, &ea, size);
		require(ea.problem == eb.problem && ea.offset == eb.offset,
		        "the same refusal byte by byte");
		require(a.head_len == 0, "nothing returned on refusal");
		return 0;
	}
	require(a.head_len == b.head_len && a.n_headers == b.n_headers &&
	                a.body == b.body &&
	                a.content_length == b.content_length &&
	                a.keep_alive == b.keep_alive,
	        "the same request byte by byte");
	for (i = 0; i < a.n_headers; i++)
		require(h1[i].name.p == h2[i].name.p &&
		                h1[i].value.len == h2[i].value.len,
		        "the same fields byte by byte");
	check_request(buf, size, &a);
	check_reparse(&a);
	if (a.body == WSG_H1_BODY_CHUNKED)
		check_chunked(buf + a.head_len, size - a.head_len);
	return 0;
}
