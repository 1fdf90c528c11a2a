/* multipart/related framing: the root part found, the frame relayed, and
 * every malformed or oversized message refused with a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "multipart.h"

#define ENV11                                                                  \
	"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"   \
	"<s:Body/></s:Envelope>"
#define MTOM_CT                                                                \
	"multipart/related; type=\"application/xop+xml\"; "                    \
	"start=\"<root@x>\"; start-info=\"text/xml\"; boundary=\"B1\""
#define ROOT_HEADERS                                                           \
	"Content-Type: application/xop+xml; charset=UTF-8; "                   \
	"type=\"text/xml\"\r\n"                                                \
	"Content-ID: <root@x>\r\n"

static const char mtom_body[] =
        "--B1\r\n" ROOT_HEADERS "\r\n" ENV11 "\r\n--B1\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        "Content-ID: <att@x>\r\n\r\n"
        "\x00\x01\r\n-\xff"
        "\r\n--B1--\r\n";

static int
parse(const char *ctype, const char *body, size_t len,
      const struct wsg_multipart_limits *lim, struct wsg_multipart *mp,
      struct wsg_error *err)
{
	wsg_error_clear(err);
	return wsg_multipart_parse(ctype, body, len, lim, mp, err);
}

static void
test_mtom(void **state)
{
	struct wsg_multipart mp;
	struct wsg_error err;
	size_t len = sizeof(mtom_body) - 1;

	(void)state;
	assert_int_equal(parse(MTOM_CT, mtom_body, len, NULL, &mp, &err),
	                 WSG_OK);
	assert_int_equal(mp.version, WSG_SOAP_11);
	assert_true(mp.xop);
	assert_int_equal(mp.n_parts, 2);
	assert_int_equal(mp.root_end - mp.root_start, strlen(ENV11));
	assert_memory_equal(mtom_body + mp.root_start, ENV11, strlen(ENV11));
	assert_int_equal(mp.cl_end, 0);
	assert_true(wsg_multipart_is(MTOM_CT));
	assert_true(wsg_multipart_is("Multipart/Related;boundary=x"));
	assert_false(wsg_multipart_is("text/xml"));
	assert_false(wsg_multipart_is(NULL));
	assert_int_equal(wsg_multipart_media(MTOM_CT), WSG_SOAP_11);
}

/* SwA 1.2, a preamble and an epilogue, no start: the first part is the
 * root; the version comes from the types. */
/* The actions of start-info and the root part's types: one when they agree,
 * a refusal when they differ (an upstream may read any of them). */
static void
test_actions(void **state)
{
	static const char agree_ct[] =
	        "multipart/related; type=\"application/xop+xml\"; "
	        "start=\"<root@x>\"; start-info=\"application/soap+xml; "
	        "action=\\\"urn:a\\\"\"; boundary=\"B1\"";
	static const char agree_body[] =
	        "--B1\r\nContent-Type: application/xop+xml; charset=UTF-8; "
	        "type=\"application/soap+xml; action=\\\"urn:a\\\"\"\r\n"
	        "Content-ID: <root@x>\r\n\r\n" ENV11 "\r\n--B1--\r\n";
	static const char differ_body[] =
	        "--B1\r\nContent-Type: application/xop+xml; charset=UTF-8; "
	        "type=\"application/soap+xml; action=\\\"urn:b\\\"\"\r\n"
	        "Content-ID: <root@x>\r\n\r\n" ENV11 "\r\n--B1--\r\n";
	struct wsg_multipart mp;
	struct wsg_error err;

	(void)state;
	assert_int_equal(parse(agree_ct, agree_body, sizeof(agree_body) - 1,
	                       NULL, &mp, &err),
	                 WSG_OK);
	assert_string_equal(mp.action, "urn:a");
	assert_int_equal(parse(MTOM_CT, mtom_body, sizeof(mtom_body) - 1, NULL,
	                       &mp, &err),
	                 WSG_OK);
	assert_string_equal(mp.action, "");
	assert_int_equal(parse(agree_ct, differ_body, sizeof(differ_body) - 1,
	                       NULL, &mp, &err),
	                 WSG_ERR_PARSE);
	assert_int_equal(err.fault, WSG_FAULT_MULTIPART);
	assert_non_null(strstr(err.reason, "different actions"));
}

/* Every part with its Content-ID, for XOP includes. */
static void
test_index(void **state)
{
	struct wsg_multipart_part *parts;
	struct wsg_error err;
	size_t n, len = sizeof(mtom_body) - 1;

	(void)state;
	wsg_error_clear(&err);
	assert_int_equal(wsg_multipart_index(MTOM_CT, mtom_body, len, NULL,
	                                     &parts, &n, &err),
	                 WSG_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(mtom_body + parts[0].cid_start, "root@x", 6);
	assert_int_equal(parts[0].cid_len, 6);
	assert_memory_equal(mtom_body + parts[1].cid_start, "att@x", 5);
	assert_int_equal(parts[1].body_end - parts[1].body_start, 6);
	assert_memory_equal(mtom_body + parts[1].body_start,
	                    "\x00\x01\r\n-\xff", 6);
	assert_false(parts[1].base64);
	free(parts);
	assert_int_equal(wsg_multipart_index(MTOM_CT, mtom_body, len - 3, NULL,
	                                     &parts, &n, &err),
	                 WSG_ERR_PARSE);
	assert_null(parts);
}

static void
test_swa_first_part(void **state)
{
	static const char body[] =
	        "preamble\r\n--b\r\nContent-Type: application/soap+xml\r\n"
	        "\r\n<e/>\r\n--b \t\r\nContent-ID: a\r\n\r\nA\r\n--b--"
	        "epilogue";
	static const char ct[] =
	        "multipart/related;type=\"application/soap+xml\";boundary=b";
	struct wsg_multipart mp;
	struct wsg_error err;

	(void)state;
	assert_int_equal(wsg_multipart_media(ct), WSG_SOAP_12);
	assert_int_equal(parse(ct, body, sizeof(body) - 1, NULL, &mp, &err),
	                 WSG_OK);
	assert_int_equal(mp.version, WSG_SOAP_12);
	assert_false(mp.xop);
	assert_int_equal(mp.n_parts, 2);
	assert_memory_equal(body + mp.root_start, "<e/>", 4);
	assert_int_equal(mp.root_end - mp.root_start, 4);
}

/* start names the second part, with or without angle brackets. */
static void
test_start_second_part(void **state)
{
	static const char body[] =
	        "--b\r\nContent-ID: <a>\r\n\r\nA\r\n--b\r\n"
	        "Content-ID: <r>\r\nContent-Type: text/xml\r\n\r\n<r/>"
	        "\r\n--b--\r\n";
	struct wsg_multipart mp;
	struct wsg_error err;

	(void)state;
	assert_int_equal(parse("multipart/related; type=\"text/xml\"; "
	                       "start=r; boundary=b",
	                       body, sizeof(body) - 1, NULL, &mp, &err),
	                 WSG_OK);
	assert_memory_equal(body + mp.root_start, "<r/>", 4);
	assert_int_equal(parse("multipart/related; type=\"text/xml\"; "
	                       "start=\"<r>\"; boundary=b",
	                       body, sizeof(body) - 1, NULL, &mp, &err),
	                 WSG_OK);
	assert_memory_equal(body + mp.root_start, "<r/>", 4);
}

static size_t
flatten(const struct iovec *v, size_t n, char *out)
{
	size_t k, len = 0;

	for (k = 0; k < n; k++) {
		assert_true(v[k].iov_len > 0);
		memcpy(out + len, v[k].iov_base, v[k].iov_len);
		len += v[k].iov_len;
	}
	return len;
}

/* The frame around a changed envelope: everything else byte for byte, the
 * root part's own Content-Length rewritten. */
static void
test_relay_parts(void **state)
{
	static const char body[] =
	        "--b\r\nContent-Type: text/xml\r\nContent-Length: 6\r\n"
	        "Content-ID: <r>\r\n\r\n<root>\r\n--b\r\nContent-ID: <a>"
	        "\r\n\r\n\x01\x02\r\n--b--\r\n";
	static const char want[] =
	        "--b\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n"
	        "Content-ID: <r>\r\n\r\n<rt/>\r\n--b\r\nContent-ID: <a>"
	        "\r\n\r\n\x01\x02\r\n--b--\r\n";
	struct iovec root[2] = {{(void *)"<r", 2}, {(void *)"t/>", 3}};
	struct iovec out[2 + WSG_MULTIPART_FRAME_PARTS];
	struct wsg_multipart mp;
	struct wsg_error err;
	char flat[sizeof(want)];
	size_t n;

	(void)state;
	assert_int_equal(parse("multipart/related; type=text/xml; boundary=b",
	                       body, sizeof(body) - 1, NULL, &mp, &err),
	                 WSG_OK);
	assert_int_not_equal(mp.cl_end, 0);
	wsg_multipart_relay_parts(&mp, body, sizeof(body) - 1, root, 2, out,
	                          2 + WSG_MULTIPART_FRAME_PARTS, &n);
	assert_int_equal(flatten(out, n, flat), sizeof(want) - 1);
	assert_memory_equal(flat, want, sizeof(want) - 1);
}

/* An unchanged envelope keeps its part's Content-Length as sent, "04"
 * included (found by fuzz_multipart). */
static void
test_relay_length_kept(void **state)
{
	static const char body[] = "--b\r\nContent-Type: text/xml\r\n"
	                           "Content-Length: 04\r\n\r\n<e/>\r\n--b--";
	struct iovec out[1 + WSG_MULTIPART_FRAME_PARTS], root;
	struct wsg_multipart mp;
	struct wsg_error err;
	char flat[sizeof(body)];
	size_t n;

	(void)state;
	assert_int_equal(parse("multipart/related; boundary=b", body,
	                       sizeof(body) - 1, NULL, &mp, &err),
	                 WSG_OK);
	root.iov_base = (void *)(body + mp.root_start);
	root.iov_len = mp.root_end - mp.root_start;
	wsg_multipart_relay_parts(&mp, body, sizeof(body) - 1, &root, 1, out,
	                          1 + WSG_MULTIPART_FRAME_PARTS, &n);
	assert_int_equal(flatten(out, n, flat), sizeof(body) - 1);
	assert_memory_equal(flat, body, sizeof(body) - 1);
}

/* The envelope unchanged: the message is forwarded exactly as sent. */
static void
test_relay_unchanged(void **state)
{
	struct iovec out[1 + WSG_MULTIPART_FRAME_PARTS], root;
	struct wsg_multipart mp;
	struct wsg_error err;
	char flat[sizeof(mtom_body)];
	size_t n, len = sizeof(mtom_body) - 1;

	(void)state;
	assert_int_equal(parse(MTOM_CT, mtom_body, len, NULL, &mp, &err),
	                 WSG_OK);
	root.iov_base = (void *)(mtom_body + mp.root_start);
	root.iov_len = mp.root_end - mp.root_start;
	wsg_multipart_relay_parts(&mp, mtom_body, len, &root, 1, out,
	                          1 + WSG_MULTIPART_FRAME_PARTS, &n);
	assert_int_equal(flatten(out, n, flat), len);
	assert_memory_equal(flat, mtom_body, len);
}

struct bad {
	const char *ctype;
	const char *body;
	const char *reason; /* a part of err.reason */
	int code;
};

#define CT "multipart/related; type=\"text/xml\"; boundary=b"
#define ROOT "--b\r\nContent-Type: text/xml\r\n\r\n<e/>\r\n"

static const struct bad bads[] = {
        {"multipart/related; type=\"text/xml\"", ROOT "--b--", "boundary",
         WSG_ERR_PARSE},
        {"multipart/related; boundary=\"\"", ROOT "--b--", "boundary",
         WSG_ERR_PARSE},
        {"multipart/related; boundary=a<b", ROOT "--b--", "Content-Type",
         WSG_ERR_PARSE},
        {"multipart/related; boundary=b; boundary=c", ROOT "--b--",
         "duplicate parameter", WSG_ERR_PARSE},
        {"multipart/related; boundary=\"b", ROOT "--b--", "unterminated",
         WSG_ERR_PARSE},
        {CT, "no delimiter at all", "no boundary", WSG_ERR_PARSE},
        /* an upstream ignoring start would take the first envelope */
        {"multipart/related; type=\"text/xml\"; start=\"<r>\"; boundary=b",
         "--b\r\nContent-Type: text/xml\r\nContent-ID: <x>\r\n\r\n<x/>\r\n"
         "--b\r\nContent-Type: text/xml\r\nContent-ID: <r>\r\n\r\n<r/>\r\n"
         "--b--",
         "a SOAP part comes before the root", WSG_ERR_PARSE},
        {"multipart/related; type=\"application/xop+xml\"; start=\"<r>\"; "
         "boundary=b",
         "--b\r\nContent-Type: application/xop+xml; type=\"text/xml\"\r\n"
         "Content-ID: <x>\r\n\r\n<x/>\r\n"
         "--b\r\nContent-Type: application/xop+xml; type=\"text/xml\"\r\n"
         "Content-ID: <r>\r\n\r\n<r/>\r\n--b--",
         "a SOAP part comes before the root", WSG_ERR_PARSE},
        /* Content-IDs that differ in case only: a receiver may match
         * either */
        {CT,
         ROOT "--b\r\nContent-ID: <Att@x>\r\n\r\nA\r\n"
              "--b\r\nContent-ID: <att@X>\r\n\r\nB\r\n--b--",
         "duplicate Content-ID", WSG_ERR_PARSE},
        {CT, "--b--\r\n", "no parts", WSG_ERR_PARSE},
        {CT, ROOT, "unterminated part", WSG_ERR_PARSE},
        {CT, ROOT "--b\r\nContent-ID: <a>\r\n\r\nA", "unterminated part",
         WSG_ERR_PARSE},
        {CT, "--b\r\nContent-Type: text/xml\r\n", "unterminated part headers",
         WSG_ERR_PARSE},
        {CT, "--b\r\nContent-Type: text/xml\r\n x\r\n\r\n<e/>\r\n--b--",
         "folded", WSG_ERR_PARSE},
        {CT, "--b\r\nContent-Type: text/xml\n\r\n<e/>\r\n--b--", "bare LF",
         WSG_ERR_PARSE},
        {CT, "--b\r\nContent-Type text/xml\r\n\r\n<e/>\r\n--b--",
         "malformed part header", WSG_ERR_PARSE},
        {CT, "--b\r\nContent-Type: text/xml\r\nX: a\x01\r\n\r\n<e/>\r\n--b--",
         "control character", WSG_ERR_PARSE},
        {CT,
         "--b\r\nContent-Type: text/xml\r\nContent-Type: text/xml\r\n\r\n"
         "<e/>\r\n--b--",
         "duplicate Content-Type", WSG_ERR_PARSE},
        {CT,
         ROOT "--b\r\nContent-ID: <a>\r\n\r\nA\r\n--b\r\n"
              "Content-ID: a\r\n\r\nB\r\n--b--",
         "duplicate Content-ID", WSG_ERR_PARSE},
        {CT, ROOT "--b\r\nContent-ID: <>\r\n\r\nA\r\n--b--", "empty Content-ID",
         WSG_ERR_PARSE},
        {CT,
         ROOT "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
              "--c--\r\n--b--",
         "nested multipart", WSG_ERR_PARSE},
        {CT, ROOT "--bX\r\n--b--", "boundary inside a part", WSG_ERR_PARSE},
        {CT, ROOT "--b\r\nContent-Length: 2\r\n\r\nA\r\n--b--",
         "does not match", WSG_ERR_PARSE},
        {CT, ROOT "--b\r\nContent-Length: 1x\r\n\r\nA\r\n--b--",
         "malformed part Content-Length", WSG_ERR_PARSE},
        {CT, "--b\r\nContent-Type: image/png\r\n\r\n<e/>\r\n--b--",
         "not the message's type", WSG_ERR_PARSE},
        {"multipart/related; type=\"image/png\"; boundary=b",
         "--b\r\nContent-Type: image/png\r\n\r\n<e/>\r\n--b--",
         "not a SOAP envelope", WSG_ERR_PARSE},
        {CT, "--b\r\nContent-ID: <r>\r\n\r\n<e/>\r\n--b--", "no Content-Type",
         WSG_ERR_PARSE},
        {"multipart/related; type=\"application/xop+xml\"; boundary=b",
         "--b\r\nContent-Type: text/xml\r\n\r\n<e/>\r\n--b--",
         "not the message's type", WSG_ERR_PARSE},
        {"multipart/related; type=\"application/xop+xml\"; boundary=b",
         "--b\r\nContent-Type: application/xop+xml\r\n\r\n<e/>\r\n--b--",
         "no type parameter", WSG_ERR_PARSE},
        {"multipart/related; type=\"application/xop+xml\"; boundary=b",
         "--b\r\nContent-Type: application/xop+xml; type=\"image/png\"\r\n"
         "\r\n<e/>\r\n--b--",
         "not a SOAP envelope", WSG_ERR_PARSE},
        {CT,
         "--b\r\nContent-Type: text/xml\r\nContent-Transfer-Encoding: "
         "base64\r\n\r\nPGUvPg==\r\n--b--",
         "transfer-encoded", WSG_ERR_PARSE},
        {"multipart/related; type=\"text/xml\"; start=\"<x>\"; boundary=b",
         ROOT "--b--", "start parameter", WSG_ERR_PARSE},
};

static void
test_bad(void **state)
{
	struct wsg_multipart mp;
	struct wsg_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		int rc = parse(bads[i].ctype, bads[i].body,
		               strlen(bads[i].body), NULL, &mp, &err);

		if (rc != bads[i].code || err.fault != WSG_FAULT_MULTIPART ||
		    strstr(err.reason, bads[i].reason) == NULL)
			fail_msg("case %zu: rc %d, reason \"%s\", want \"%s\"",
			         i, rc, err.reason, bads[i].reason);
		assert_int_equal(mp.root_end, 0);
	}
}

static void
test_limits(void **state)
{
	static const char two[] = ROOT "--b\r\nContent-ID: <a>\r\n\r\n"
	                               "0123456789\r\n--b--";
	struct wsg_multipart_limits lim = {1, 0, 0};
	struct wsg_multipart mp;
	struct wsg_error err;

	(void)state;
	assert_int_equal(parse(CT, two, sizeof(two) - 1, &lim, &mp, &err),
	                 WSG_ERR_LIMIT);
	assert_non_null(strstr(err.reason, "max_parts"));
	lim.max_parts = 2;
	assert_int_equal(parse(CT, two, sizeof(two) - 1, &lim, &mp, &err),
	                 WSG_OK);
	lim.max_part_size = 9;
	assert_int_equal(parse(CT, two, sizeof(two) - 1, &lim, &mp, &err),
	                 WSG_ERR_LIMIT);
	assert_non_null(strstr(err.reason, "max_part_size"));
	lim.max_part_size = 10;
	assert_int_equal(parse(CT, two, sizeof(two) - 1, &lim, &mp, &err),
	                 WSG_OK);
	/* "Content-Type: text/xml\r\n\r\n" is 26 bytes. */
	lim.max_part_header_size = 25;
	assert_int_equal(parse(CT, two, sizeof(two) - 1, &lim, &mp, &err),
	                 WSG_ERR_PARSE);
	assert_non_null(strstr(err.reason, "part headers too large"));
	lim.max_part_header_size = 26;
	assert_int_equal(parse(CT, two, sizeof(two) - 1, &lim, &mp, &err),
	                 WSG_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mtom),
	        cmocka_unit_test(test_actions),
	        cmocka_unit_test(test_index),
	        cmocka_unit_test(test_swa_first_part),
	        cmocka_unit_test(test_start_second_part),
	        cmocka_unit_test(test_relay_parts),
	        cmocka_unit_test(test_relay_unchanged),
	        cmocka_unit_test(test_relay_length_kept),
	        cmocka_unit_test(test_bad),
	        cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
