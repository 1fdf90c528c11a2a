/* HTTP/1.1 message parsing (issue 14): strict heads, framing and the chunked
 * coding, so that no peer can make us read a message boundary another
 * reader of the same bytes does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "h1.h"
#include "types.h"

static const struct wsg_h1_limits lim = {
        .max_line = 64, .max_head = 256, .max_headers = 8, .max_body = 1000};

#define H "Host: a\r\n"
/* A string literal and its length, NULs included. */
#define S(x) x, sizeof(x) - 1

/* A request head that must be refused: the problem and the status. */
static const struct {
	const char *name;
	const char *in;
	size_t len;
	enum wsg_h1_problem problem;
	int status;
} bad_requests[] = {
        /* Line ends. */
        {"bare LF end", S("GET / HTTP/1.1\n" H "\r\n"), WSG_H1_BARE_LF, 400},
        {"bare LF in field", S("GET / HTTP/1.1\r\nHost: a\n\r\n"),
         WSG_H1_BARE_LF, 400},
        {"bare LF head end", S("GET / HTTP/1.1\r\n" H "\n"), WSG_H1_BARE_LF,
         400},
        {"bare CR in field", S("GET / HTTP/1.1\r\nX: a\rb\r\n" H "\r\n"),
         WSG_H1_BARE_CR, 400},
        {"bare CR in line", S("GET /\r HTTP/1.1\r\n" H "\r\n"), WSG_H1_BARE_CR,
         400},
        {"leading empty line", S("\r\nGET / HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_EMPTY_LINE, 400},
        /* Request line. */
        {"two spaces after method", S("GET  / HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_REQUEST_LINE, 400},
        {"two spaces before version", S("GET /  HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_REQUEST_LINE, 400},
        {"trailing space", S("GET / HTTP/1.1 \r\n" H "\r\n"), WSG_H1_VERSION,
         400},
        {"leading space", S(" GET / HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_REQUEST_LINE, 400},
        {"tab separator", S("GET\t/ HTTP/1.1\r\n" H "\r\n"), WSG_H1_METHOD,
         400},
        {"missing version", S("GET /\r\n" H "\r\n"), WSG_H1_REQUEST_LINE, 400},
        {"missing target", S("GET HTTP/1.1\r\n" H "\r\n"), WSG_H1_REQUEST_LINE,
         400},
        {"method only", S("GET\r\n" H "\r\n"), WSG_H1_REQUEST_LINE, 400},
        {"method not a token", S("G(T / HTTP/1.1\r\n" H "\r\n"), WSG_H1_METHOD,
         400},
        {"lower-case version", S("GET / http/1.1\r\n" H "\r\n"), WSG_H1_VERSION,
         400},
        {"version 1.10", S("GET / HTTP/1.10\r\n" H "\r\n"), WSG_H1_VERSION,
         400},
        {"version 2.0", S("GET / HTTP/2.0\r\n" H "\r\n"),
         WSG_H1_VERSION_UNSUPPORTED, 505},
        {"version 1.2", S("GET / HTTP/1.2\r\n" H "\r\n"),
         WSG_H1_VERSION_UNSUPPORTED, 505},
        {"version 0.9", S("GET / HTTP/0.9\r\n\r\n"), WSG_H1_VERSION_UNSUPPORTED,
         505},
        {"NUL in target", S("GET /a\0b HTTP/1.1\r\n" H "\r\n"), WSG_H1_TARGET,
         400},
        {"obs-text in target", S("GET /\xc3\xa9 HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_TARGET, 400},
        {"fragment", S("GET /a#b HTTP/1.1\r\n" H "\r\n"), WSG_H1_TARGET, 400},
        {"asterisk for GET", S("GET * HTTP/1.1\r\n" H "\r\n"), WSG_H1_TARGET,
         400},
        {"authority-form for POST", S("POST a:80 HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_TARGET, 400},
        {"CONNECT", S("CONNECT a:443 HTTP/1.1\r\n" H "\r\n"), WSG_H1_CONNECT,
         501},
        {"other scheme", S("GET ftp://a/ HTTP/1.1\r\n" H "\r\n"), WSG_H1_TARGET,
         400},
        {"absolute without host", S("GET http:///x HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_TARGET, 400},
        {"absolute with userinfo", S("GET http://u@a/ HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_TARGET, 400},
        /* Field lines. */
        {"obs-fold", S("GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n"),
         WSG_H1_OBS_FOLD, 400},
        {"obs-fold tab", S("GET / HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n"),
         WSG_H1_OBS_FOLD, 400},
        {"space before first field", S("GET / HTTP/1.1\r\n " H "\r\n"),
         WSG_H1_LEADING_WS, 400},
        {"space before colon", S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
         WSG_H1_SPACE_BEFORE_COLON, 400},
        {"tab before colon", S("GET / HTTP/1.1\r\n" H "X\t: a\r\n\r\n"),
         WSG_H1_SPACE_BEFORE_COLON, 400},
        {"no colon", S("GET / HTTP/1.1\r\n" H "X\r\n\r\n"), WSG_H1_NO_COLON,
         400},
        {"empty name", S("GET / HTTP/1.1\r\n" H ": a\r\n\r\n"), WSG_H1_NAME,
         400},
        {"bad name byte", S("GET / HTTP/1.1\r\n" H "X(y): a\r\n\r\n"),
         WSG_H1_NAME, 400},
        {"NUL in name", S("GET / HTTP/1.1\r\n" H "X\0: a\r\n\r\n"), WSG_H1_NAME,
         400},
        {"NUL in value", S("GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n"),
         WSG_H1_VALUE, 400},
        {"CTL in value", S("GET / HTTP/1.1\r\n" H "X: a\x01\r\n\r\n"),
         WSG_H1_VALUE, 400},
        {"DEL in value", S("GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n"),
         WSG_H1_VALUE, 400},
        {"ESC in value", S("GET / HTTP/1.1\r\n" H "X: \x1b[0m\r\n\r\n"),
         WSG_H1_VALUE, 400},
        /* Host. */
        {"no Host in 1.1", S("GET / HTTP/1.1\r\n\r\n"), WSG_H1_HOST_MISSING,
         400},
        {"two Hosts", S("GET / HTTP/1.1\r\n" H H "\r\n"), WSG_H1_HOST_DUPLICATE,
         400},
        /* A singleton the gateway and an upstream could read apart. */
        {"two Content-Types",
         S("POST / HTTP/1.1\r\n" H "Content-Type: text/xml\r\n"
           "content-type: multipart/related; boundary=b\r\n\r\n"),
         WSG_H1_CTYPE_DUPLICATE, 400},
        {"Host with path", S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
         WSG_H1_HOST_INVALID, 400},
        {"Host with space", S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
         WSG_H1_HOST_INVALID, 400},
        {"Host with userinfo", S("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"),
         WSG_H1_HOST_INVALID, 400},
        {"Connection not token",
         S("GET / HTTP/1.1\r\n" H "Connection: a b\r\n\r\n"), WSG_H1_CONNECTION,
         400},
        /* Content-Length. */
        {"CL plus", S("POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n"),
         WSG_H1_CL_INVALID, 400},
        {"CL minus", S("POST / HTTP/1.1\r\n" H "Content-Length: -1\r\n\r\n"),
         WSG_H1_CL_INVALID, 400},
        {"CL hex", S("POST / HTTP/1.1\r\n" H "Content-Length: 0x5\r\n\r\n"),
         WSG_H1_CL_INVALID, 400},
        {"CL empty", S("POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n"),
         WSG_H1_CL_INVALID, 400},
        {"CL inner space",
         S("POST / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n"),
         WSG_H1_CL_INVALID, 400},
        {"CL decimal", S("POST / HTTP/1.1\r\n" H "Content-Length: 5.0\r\n\r\n"),
         WSG_H1_CL_INVALID, 400},
        {"CL empty element",
         S("POST / HTTP/1.1\r\n" H "Content-Length: 5,\r\n\r\n"),
         WSG_H1_CL_INVALID, 400},
        {"CL overflow",
         S("POST / HTTP/1.1\r\n" H
           "Content-Length: 99999999999999999999\r\n\r\n"),
         WSG_H1_CL_OVERFLOW, 400},
        {"CL differing headers",
         S("POST / HTTP/1.1\r\n" H
           "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"),
         WSG_H1_CL_CONFLICT, 400},
        {"CL differing list",
         S("POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n"),
         WSG_H1_CL_CONFLICT, 400},
        {"CL same number other text",
         S("POST / HTTP/1.1\r\n" H
           "Content-Length: 5\r\nContent-Length: 05\r\n\r\n"),
         WSG_H1_CL_CONFLICT, 400},
        {"CL over max_body",
         S("POST / HTTP/1.1\r\n" H "Content-Length: 1001\r\n\r\n"),
         WSG_H1_BODY_TOO_LARGE, 413},
        /* Transfer-Encoding. */
        {"CL.TE",
         S("POST / HTTP/1.1\r\n" H
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
         WSG_H1_TE_AND_CL, 400},
        {"TE.CL",
         S("POST / HTTP/1.1\r\n" H
           "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
         WSG_H1_TE_AND_CL, 400},
        {"TE xchunked",
         S("POST / HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n"),
         WSG_H1_TE_NOT_CHUNKED, 400},
        {"TE chunked, identity",
         S("POST / HTTP/1.1\r\n" H
           "Transfer-Encoding: chunked, identity\r\n\r\n"),
         WSG_H1_TE_NOT_CHUNKED, 400},
        {"TE chunked twice",
         S("POST / HTTP/1.1\r\n" H
           "Transfer-Encoding: chunked, chunked\r\n\r\n"),
         WSG_H1_TE_NOT_CHUNKED, 400},
        {"TE chunked on two lines",
         S("POST / HTTP/1.1\r\n" H
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
         WSG_H1_TE_NOT_CHUNKED, 400},
        {"TE gzip only",
         S("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n"),
         WSG_H1_TE_NOT_CHUNKED, 400},
        {"TE gzip, chunked",
         S("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n"),
         WSG_H1_TE_UNSUPPORTED, 501},
        {"TE identity line then chunked",
         S("POST / HTTP/1.1\r\n" H
           "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"),
         WSG_H1_TE_UNSUPPORTED, 501},
        {"TE empty", S("POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n"),
         WSG_H1_TE_INVALID, 400},
        {"TE empty element",
         S("POST / HTTP/1.1\r\n" H "Transfer-Encoding: , chunked\r\n\r\n"),
         WSG_H1_TE_INVALID, 400},
        {"TE parameter",
         S("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n"),
         WSG_H1_TE_INVALID, 400},
        {"TE quoted",
         S("POST / HTTP/1.1\r\n" H "Transfer-Encoding: \"chunked\"\r\n\r\n"),
         WSG_H1_TE_INVALID, 400},
        {"TE vertical tab",
         S("POST / HTTP/1.1\r\n" H "Transfer-Encoding:\x0b"
           "chunked\r\n\r\n"),
         WSG_H1_VALUE, 400},
        {"TE in HTTP/1.0",
         S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
         WSG_H1_TE_HTTP10, 400},
        {"TE name with space",
         S("POST / HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n"),
         WSG_H1_SPACE_BEFORE_COLON, 400},
        /* Limits. */
        {"long line",
         S("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
           "HTTP/1.1\r\n" H "\r\n"),
         WSG_H1_LINE_TOO_LONG, 414},
        {"too many fields",
         S("GET / HTTP/1.1\r\n" H "A: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: "
           "1\r\nG: 1\r\nI: 1\r\n\r\n"),
         WSG_H1_TOO_MANY_HEADERS, 431},
};

/* Feeds `in` one byte more at a time, as a slow peer would. */
static int
parse_bytewise(const char *in, size_t len, struct wsg_h1_header *h,
               struct wsg_h1_request *req, struct wsg_h1_error *err)
{
	struct wsg_h1_parser p;
	size_t n;
	int rc = WSG_ERR_AGAIN;

	wsg_h1_parser_init(&p, &lim);
	for (n = 1; n <= len && rc == WSG_ERR_AGAIN; n++)
		rc = wsg_h1_parse_request(&p, in, n, h, req, err);
	return rc;
}

static int
parse_whole(const char *in, size_t len, struct wsg_h1_header *h,
            struct wsg_h1_request *req, struct wsg_h1_error *err)
{
	struct wsg_h1_parser p;

	wsg_h1_parser_init(&p, &lim);
	return wsg_h1_parse_request(&p, in, len, h, req, err);
}

static void
test_bad_requests(void **state)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_request req;
	struct wsg_h1_error err, err2;
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		len = bad_requests[i].len;
		rc = parse_whole(bad_requests[i].in, len, h, &req, &err);
		if (rc >= 0 || err.problem != bad_requests[i].problem ||
		    err.status != bad_requests[i].status)
			fail_msg("%s: rc %d, problem %d (%s), status %d",
			         bad_requests[i].name, rc,
			         rc < 0 ? (int)err.problem : 0,
			         rc < 0 ? err.reason : "-",
			         rc < 0 ? err.status : 0);
		assert_int_equal(req.head_len, 0);
		assert_non_null(err.reason);
		/* The same verdict when the bytes come one by one. */
		assert_int_equal(
		        parse_bytewise(bad_requests[i].in, len, h, &req, &err2),
		        rc);
		assert_int_equal(err2.problem, err.problem);
		assert_int_equal(err2.offset, err.offset);
	}
}

static void
test_error_codes(void **state)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_request req;
	struct wsg_h1_error err;
	const char *s = "POST / HTTP/1.1\r\n" H "Content-Length: 1001\r\n\r\n";
	int p;

	(void)state;
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err),
	                 WSG_ERR_LIMIT);
	s = "POST / HTTP/1.1\r\n" H "Content-Length: x\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err),
	                 WSG_ERR_PARSE);
	assert_string_equal(wsg_h1_reason(err.problem), err.reason);
	assert_string_equal(wsg_h1_reason(WSG_H1_PROBLEM__COUNT),
	                    "unknown problem");
	for (p = WSG_H1_OK + 1; p < WSG_H1_PROBLEM__COUNT; p++)
		assert_non_null(wsg_h1_reason((enum wsg_h1_problem)p));
}

/* A bad start line is refused when it is there, before the head ends. */
static void
test_early_refusal(void **state)
{
	static const struct {
		const char *in;
		enum wsg_h1_problem problem;
	} early[] = {
	        {"\x05", WSG_H1_METHOD},
	        {"\r", WSG_H1_EMPTY_LINE},
	        {" ", WSG_H1_REQUEST_LINE},
	        {"GET  / HTTP/1.1\r\nHost: a\r\n", WSG_H1_REQUEST_LINE},
	        {"GET / HTTP/1.1\r\n", 0},
	        {"GET / HTTP/3.0\r\nHost:", WSG_H1_VERSION_UNSUPPORTED},
	};
	struct wsg_h1_header h[8];
	struct wsg_h1_request req;
	struct wsg_h1_response res;
	struct wsg_h1_error err;
	struct wsg_h1_parser p;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
		rc = parse_whole(early[i].in, strlen(early[i].in), h, &req,
		                 &err);
		if (early[i].problem == 0) {
			assert_int_equal(rc, WSG_ERR_AGAIN);
			continue;
		}
		assert_int_equal(rc, WSG_ERR_PARSE);
		assert_int_equal(err.problem, early[i].problem);
	}
	wsg_h1_parser_init(&p, &lim);
	assert_int_equal(wsg_h1_parse_response(&p, "HTTX", 4, 0, h, &res, &err),
	                 WSG_ERR_PARSE);
	assert_int_equal(err.offset, 3);
	wsg_h1_parser_init(&p, &lim);
	assert_int_equal(wsg_h1_parse_response(&p, "HTTP/1.1 20x OK\r\n", 17, 0,
	                                       h, &res, &err),
	                 WSG_ERR_PARSE);
	assert_int_equal(err.problem, WSG_H1_STATUS_LINE);
}

static void
assert_slice(struct wsg_h1_slice s, const char *want)
{
	if (s.len != strlen(want) || memcmp(s.p, want, s.len) != 0)
		fail_msg("slice '%.*s' != '%s'", (int)s.len, s.p, want);
}

static void
test_simple_post(void **state)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_request req;
	struct wsg_h1_error err;
	const char *s = "POST /services/Echo?x=1 HTTP/1.1\r\n"
	                "Host: gw.example:8280\r\n"
	                "Content-Type:\ttext/xml ; charset=utf-8 \t\r\n"
	                "SOAPAction: \"urn:echo\"\r\n"
	                "X-Empty:\r\n"
	                "Content-Length: 0005\r\n"
	                "\r\n"
	                "hello";

	(void)state;
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_slice(req.method, "POST");
	assert_slice(req.target, "/services/Echo?x=1");
	assert_int_equal(req.form, WSG_H1_FORM_ORIGIN);
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.n_headers, 5);
	assert_ptr_equal(req.headers, h);
	assert_slice(h[1].name, "Content-Type");
	assert_slice(h[1].value, "text/xml ; charset=utf-8");
	assert_slice(h[3].value, "");
	assert_int_equal(req.head_len, strlen(s) - 5);
	assert_int_equal(req.body, WSG_H1_BODY_LENGTH);
	assert_int_equal(req.content_length, 5);
	assert_true(req.keep_alive);
	assert_int_equal(req.expect, WSG_H1_EXPECT_NONE);
	assert_true(req.has_host);
	assert_slice(req.host, "gw.example:8280");
	/* Zero copy: the slices point into the input. */
	assert_ptr_equal(req.method.p, s);
	assert_ptr_equal(wsg_h1_find(h, req.n_headers, "soapaction"), &h[2]);
	assert_null(wsg_h1_find(h, req.n_headers, "soap"));
}

static void
test_accepted_variants(void **state)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_request req;
	struct wsg_h1_error err;
	const char *s;

	(void)state;
	/* Tab is OWS: the value is plain "chunked". */
	s = "POST / HTTP/1.1\r\n" H "Transfer-Encoding:\tchunked\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.body, WSG_H1_BODY_CHUNKED);
	s = "POST / HTTP/1.1\r\n" H "transfer-encoding:  CHUNKED \r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.body, WSG_H1_BODY_CHUNKED);
	/* Byte-identical Content-Length values are one value. */
	s = "POST / HTTP/1.1\r\n" H
	    "Content-Length: 7\r\nContent-Length: 7, 7\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.content_length, 7);
	/* No framing field: no body. */
	s = "POST / HTTP/1.1\r\n" H "\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.body, WSG_H1_BODY_NONE);
	/* HTTP/1.0: no Host needed, close unless keep-alive, no Expect. */
	s = "GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.minor, 0);
	assert_false(req.keep_alive);
	assert_false(req.has_host);
	assert_int_equal(req.expect, WSG_H1_EXPECT_NONE);
	s = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_true(req.keep_alive);
	s = "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_false(req.keep_alive);
	s = "GET / HTTP/1.1\r\n" H "Connection: , Close,\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_false(req.keep_alive);
	s = "POST / HTTP/1.1\r\n" H "Expect: 100-Continue\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.expect, WSG_H1_EXPECT_CONTINUE);
	s = "POST / HTTP/1.1\r\n" H "Expect: 100-continue, x\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.expect, WSG_H1_EXPECT_OTHER);
	/* Empty Host is allowed; obs-text in a value is kept. */
	s = "GET / HTTP/1.1\r\nHost:\r\nX: caf\xc3\xa9\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_true(req.has_host);
	assert_int_equal(req.host.len, 0);
	assert_slice(h[1].value, "caf\xc3\xa9");
	/* The target forms. */
	s = "GET HTTP://gw.example:80/a?b HTTP/1.1\r\n" H "\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.form, WSG_H1_FORM_ABSOLUTE);
	assert_slice(req.authority, "gw.example:80");
	s = "GET https://[::1]?q HTTP/1.1\r\n" H "\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_slice(req.authority, "[::1]");
	s = "OPTIONS * HTTP/1.1\r\n" H "\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	assert_int_equal(req.form, WSG_H1_FORM_ASTERISK);
	/* Exactly at the limits. */
	s = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
	    "HTTP/1.1\r\n" H "\r\n";
	assert_int_equal(strchr(s, '\r') - s, 64);
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
	s = "POST / HTTP/1.1\r\n" H "Content-Length: 1000\r\n\r\n";
	assert_int_equal(parse_whole(s, strlen(s), h, &req, &err), WSG_OK);
}

static void
test_head_size_limit(void **state)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_request req;
	struct wsg_h1_error err;
	char buf[512];
	size_t n;

	(void)state;
	/* Header section of exactly max_head (256) bytes with the final CRLF.
	 */
	n = (size_t)snprintf(buf, sizeof(buf),
	                     "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(buf + n, 'v', 256 - 9 - 3 - 4);
	n += 256 - 9 - 3 - 4;
	memcpy(buf + n, "\r\n\r\n", 4);
	n += 4;
	assert_int_equal(parse_whole(buf, n, h, &req, &err), WSG_OK);
	/* One more byte is refused, even before the head ends. */
	memmove(buf + 30, buf + 29, n - 29);
	assert_int_equal(parse_whole(buf, n + 1, h, &req, &err), WSG_ERR_LIMIT);
	assert_int_equal(err.problem, WSG_H1_HEAD_TOO_LARGE);
	assert_int_equal(err.status, 431);
	/* A field that never ends is refused at max_head too. */
	memset(buf + 28, 'v', 300);
	assert_int_equal(parse_whole(buf, 16 + 256, h, &req, &err),
	                 WSG_ERR_AGAIN);
	assert_int_equal(parse_whole(buf, 16 + 257, h, &req, &err),
	                 WSG_ERR_LIMIT);
	assert_int_equal(err.offset, 16 + 256);
	/* A start line that never ends is refused at max_line. */
	memset(buf, 'A', 100);
	assert_int_equal(parse_whole(buf, 64, h, &req, &err), WSG_ERR_AGAIN);
	assert_int_equal(parse_whole(buf, 65, h, &req, &err), WSG_ERR_LIMIT);
	assert_int_equal(err.problem, WSG_H1_LINE_TOO_LONG);
}

/* Incremental feeding gives what one call over the whole head gives. */
static void
test_bytewise_equals_whole(void **state)
{
	static const char *const heads[] = {
	        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
	        "GET / HTTP/1.0\r\n\r\n",
	        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	        "Expect: 100-continue\r\nConnection: close\r\n\r\n0\r\n\r\n",
	};
	struct wsg_h1_header h1[8], h2[8];
	struct wsg_h1_request a, b;
	struct wsg_h1_error err;
	size_t i, k, len;

	(void)state;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		len = strlen(heads[i]);
		assert_int_equal(parse_whole(heads[i], len, h1, &a, &err),
		                 WSG_OK);
		assert_int_equal(parse_bytewise(heads[i], len, h2, &b, &err),
		                 WSG_OK);
		assert_int_equal(a.head_len, b.head_len);
		assert_int_equal(a.n_headers, b.n_headers);
		assert_int_equal(a.body, b.body);
		assert_int_equal(a.content_length, b.content_length);
		assert_int_equal(a.keep_alive, b.keep_alive);
		assert_int_equal(a.expect, b.expect);
		assert_ptr_equal(a.target.p, b.target.p);
		for (k = 0; k < a.n_headers; k++) {
			assert_ptr_equal(h1[k].name.p, h2[k].name.p);
			assert_int_equal(h1[k].value.len, h2[k].value.len);
		}
	}
}

/* A CR at the very end may still be followed by LF: wait, do not refuse. */
static void
test_cr_at_end_waits(void **state)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_request req;
	struct wsg_h1_error err;
	struct wsg_h1_parser p;
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t n;

	(void)state;
	wsg_h1_parser_init(&p, &lim);
	for (n = 0; n < strlen(s); n++) {
		assert_int_equal(wsg_h1_parse_request(&p, s, n, h, &req, &err),
		                 WSG_ERR_AGAIN);
		assert_int_equal(req.head_len, 0);
	}
	assert_int_equal(wsg_h1_parse_request(&p, s, n, h, &req, &err), WSG_OK);
	assert_int_equal(req.head_len, n);
}

/* Two requests in one buffer: each head and body is found in turn. */
static void
test_pipelined(void **state)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_request req;
	struct wsg_h1_error err;
	struct wsg_h1_chunked ch;
	char buf[256];
	size_t len, off, used, out;

	(void)state;
	len = (size_t)snprintf(
	        buf, sizeof(buf), "%s",
	        "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
	        "POST /two HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
	        "chunked\r\n\r\n"
	        "2\r\nxy\r\n0\r\n\r\n"
	        "GET /three HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(parse_whole(buf, len, h, &req, &err), WSG_OK);
	assert_slice(req.target, "/one");
	assert_int_equal(req.content_length, 3);
	off = req.head_len + 3;
	assert_memory_equal(buf + req.head_len, "abc", 3);
	assert_int_equal(parse_whole(buf + off, len - off, h, &req, &err),
	                 WSG_OK);
	assert_slice(req.target, "/two");
	assert_int_equal(req.body, WSG_H1_BODY_CHUNKED);
	off += req.head_len;
	wsg_h1_chunked_init(&ch, 1000);
	assert_int_equal(wsg_h1_chunked_decode(&ch, buf + off, len - off, &used,
	                                       &out, &err),
	                 WSG_OK);
	assert_int_equal(out, 2);
	assert_memory_equal(buf + off, "xy", 2);
	off += used;
	assert_int_equal(parse_whole(buf + off, len - off, h, &req, &err),
	                 WSG_OK);
	assert_slice(req.target, "/three");
	assert_int_equal(req.head_len, len - off);
}

/* Decodes in[0..len) fed in pieces of `step` bytes, the way a caller would:
 * decoded bytes kept at the front, new bytes appended after them. */
static int
dechunk(const char *in, size_t len, size_t step, uint64_t max_body, char *body,
        size_t *body_len, size_t *left, struct wsg_h1_error *err)
{
	struct wsg_h1_chunked c;
	char buf[4096 + 1024];
	size_t fed = 0, have = 0, used, out, n;
	int rc = WSG_ERR_AGAIN;

	wsg_h1_chunked_init(&c, max_body);
	*left = 0;
	while (rc == WSG_ERR_AGAIN && fed < len) {
		n = len - fed < step ? len - fed : step;
		memcpy(buf + have, in + fed, n);
		fed += n;
		rc = wsg_h1_chunked_decode(&c, buf + have, n, &used, &out, err);
		if (rc == WSG_OK)
			*left = n - used + (len - fed);
		have += out;
	}
	memcpy(body, buf, have);
	*body_len = have;
	return rc;
}

static const struct {
	const char *name;
	const char *in;
	size_t len;
	int rc;
	const char *body; /* with WSG_OK / WSG_ERR_AGAIN */
	size_t body_len;
	enum wsg_h1_problem problem;
} chunked[] = {
        {"one chunk", S("5\r\nhello\r\n0\r\n\r\n"), WSG_OK, S("hello"), 0},
        {"hex both cases", S("a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n"),
         WSG_OK, S("01234567890123456789"), 0},
        {"leading zeros", S("0005\r\nhello\r\n000\r\n\r\n"), WSG_OK, S("hello"),
         0},
        {"extensions", S("5;a=b;c=\"d e\"\r\nhello\r\n0 ;x\r\n\r\n"), WSG_OK,
         S("hello"), 0},
        {"trailers", S("5\r\nhello\r\n0\r\nX-T: 1\r\nY:\r\n\r\n"), WSG_OK,
         S("hello"), 0},
        {"empty body", S("0\r\n\r\n"), WSG_OK, S(""), 0},
        {"binary data", S("3\r\n\r\n\0\r\n0\r\n\r\n"), WSG_OK, S("\r\n\0"), 0},
        {"incomplete", S("5\r\nhel"), WSG_ERR_AGAIN, S("hel"), 0},
        {"no size", S("\r\nhello\r\n0\r\n\r\n"), WSG_ERR_PARSE, NULL, 0,
         WSG_H1_CHUNK_SIZE},
        {"0x prefix", S("0x5\r\nhello\r\n0\r\n\r\n"), WSG_ERR_PARSE, NULL, 0,
         WSG_H1_CHUNK_SIZE},
        {"sign", S("+5\r\nhello\r\n0\r\n\r\n"), WSG_ERR_PARSE, NULL, 0,
         WSG_H1_CHUNK_SIZE},
        {"space after size", S("5 \r\nhello\r\n0\r\n\r\n"), WSG_ERR_PARSE, NULL,
         0, WSG_H1_CHUNK_EXT},
        {"bare LF after size", S("5\nhello\r\n0\r\n\r\n"), WSG_ERR_PARSE, NULL,
         0, WSG_H1_CHUNK_SIZE},
        {"bare CR after size", S("5\rhello\r\n0\r\n\r\n"), WSG_ERR_PARSE, NULL,
         0, WSG_H1_CHUNK_SIZE},
        {"17 digits", S("00000000000000005\r\nhello\r\n0\r\n\r\n"),
         WSG_ERR_PARSE, NULL, 0, WSG_H1_CHUNK_OVERFLOW},
        {"size overflow", S("1ffffffffffffffff\r\n"), WSG_ERR_PARSE, NULL, 0,
         WSG_H1_CHUNK_OVERFLOW},
        {"huge size", S("ffffffffffffffff\r\n"), WSG_ERR_LIMIT, NULL, 0,
         WSG_H1_BODY_TOO_LARGE},
        {"over max_body at once", S("3e9\r\n"), WSG_ERR_LIMIT, NULL, 0,
         WSG_H1_BODY_TOO_LARGE},
        {"data longer than size", S("3\r\nhello\r\n0\r\n\r\n"), WSG_ERR_PARSE,
         NULL, 0, WSG_H1_CHUNK_CRLF},
        {"data without CRLF", S("5\r\nhello0\r\n\r\n"), WSG_ERR_PARSE, NULL, 0,
         WSG_H1_CHUNK_CRLF},
        {"data with bare LF", S("5\r\nhello\n0\r\n\r\n"), WSG_ERR_PARSE, NULL,
         0, WSG_H1_CHUNK_CRLF},
        {"CTL in extension", S("5;a\x01\r\nhello\r\n0\r\n\r\n"), WSG_ERR_PARSE,
         NULL, 0, WSG_H1_CHUNK_EXT},
        {"space then no semicolon", S("5 x\r\nhello\r\n0\r\n\r\n"),
         WSG_ERR_PARSE, NULL, 0, WSG_H1_CHUNK_EXT},
        {"trailer obs-fold", S("0\r\nX: 1\r\n 2\r\n\r\n"), WSG_ERR_PARSE, NULL,
         0, WSG_H1_TRAILER},
        {"trailer space before colon", S("0\r\nX : 1\r\n\r\n"), WSG_ERR_PARSE,
         NULL, 0, WSG_H1_TRAILER},
        {"trailer NUL", S("0\r\nX: \0\r\n\r\n"), WSG_ERR_PARSE, NULL, 0,
         WSG_H1_TRAILER},
        {"trailer bare LF", S("0\r\nX: 1\n\r\n"), WSG_ERR_PARSE, NULL, 0,
         WSG_H1_TRAILER},
        {"end bare LF", S("0\r\n\n"), WSG_ERR_PARSE, NULL, 0, WSG_H1_TRAILER},
        {"trailer Transfer-Encoding",
         S("0\r\nTransfer-encoding: chunked\r\n\r\n"), WSG_ERR_PARSE, NULL, 0,
         WSG_H1_TRAILER_FRAMING},
        {"trailer Content-Length", S("0\r\nX: 1\r\ncontent-length: 5\r\n\r\n"),
         WSG_ERR_PARSE, NULL, 0, WSG_H1_TRAILER_FRAMING},
        {"trailer longer names",
         S("0\r\nContent-Lengths: 5\r\nTransfer-Encoding-X: 1\r\n\r\n"), WSG_OK,
         S(""), 0},
};

static void
test_chunked_table(void **state)
{
	static const size_t steps[] = {1, 2, 3, 7, 4096};
	struct wsg_h1_error err;
	char body[4096];
	size_t i, s, blen, left;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(chunked) / sizeof(chunked[0]); i++) {
		for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			rc = dechunk(chunked[i].in, chunked[i].len, steps[s],
			             1000, body, &blen, &left, &err);
			if (rc != chunked[i].rc)
				fail_msg("%s (step %zu): rc %d (%s)",
				         chunked[i].name, steps[s], rc,
				         rc < 0 && rc != WSG_ERR_AGAIN
				                 ? err.reason
				                 : "-");
			if (chunked[i].body != NULL) {
				assert_int_equal(blen, chunked[i].body_len);
				assert_memory_equal(body, chunked[i].body,
				                    blen);
			} else {
				assert_int_equal(err.problem,
				                 chunked[i].problem);
			}
			assert_int_equal(left, 0);
		}
	}
}

static void
test_chunked_caps(void **state)
{
	struct wsg_h1_error err;
	char in[8192], body[4096];
	size_t n, blen, left;

	(void)state;
	/* 256 extension bytes in total are fine, 257 are not. */
	n = (size_t)snprintf(in, sizeof(in), "1;");
	memset(in + n, 'e', 127);
	n += 127;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nx\r\n0;");
	memset(in + n, 'f', 127);
	n += 127;
	snprintf(in + n, sizeof(in) - n, "\r\n\r\n");
	assert_int_equal(
	        dechunk(in, strlen(in), 4096, 1000, body, &blen, &left, &err),
	        WSG_OK);
	memcpy(in + n, "f\r\n\r\n", 6);
	assert_int_equal(
	        dechunk(in, strlen(in), 5, 1000, body, &blen, &left, &err),
	        WSG_ERR_LIMIT);
	assert_int_equal(err.problem, WSG_H1_CHUNK_EXT_TOO_LONG);
	/* Trailer section: 4096 bytes with its final CRLF pass, one more not.
	 */
	n = (size_t)snprintf(in, sizeof(in), "0\r\nX: ");
	memset(in + n, 't', 4096 - 5 - 2);
	n += 4096 - 5 - 2;
	snprintf(in + n, sizeof(in) - n, "\r\n\r\n");
	assert_int_equal(
	        dechunk(in, strlen(in), 4096, 1000, body, &blen, &left, &err),
	        WSG_OK);
	memmove(in + 6, in + 5, strlen(in + 5) + 1);
	assert_int_equal(
	        dechunk(in, strlen(in), 4096, 1000, body, &blen, &left, &err),
	        WSG_ERR_LIMIT);
	assert_int_equal(err.problem, WSG_H1_TRAILER_TOO_LARGE);
	/* Exactly max_body over several chunks, then one byte more. */
	assert_int_equal(dechunk(S("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), 3, 5,
	                         body, &blen, &left, &err),
	                 WSG_OK);
	assert_int_equal(dechunk(S("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"), 3, 5,
	                         body, &blen, &left, &err),
	                 WSG_ERR_LIMIT);
	assert_int_equal(err.status, 413);
}

/* The bytes after the last chunk belong to the next message. */
static void
test_chunked_leaves_next_message(void **state)
{
	struct wsg_h1_chunked c;
	struct wsg_h1_error err;
	char buf[64];
	size_t used, out;

	(void)state;
	strcpy(buf, "2\r\nab\r\n0\r\n\r\nGET");
	wsg_h1_chunked_init(&c, 100);
	assert_int_equal(
	        wsg_h1_chunked_decode(&c, buf, strlen(buf), &used, &out, &err),
	        WSG_OK);
	assert_int_equal(used, strlen(buf) - 3);
	assert_memory_equal(buf + used, "GET", 3);
	assert_int_equal(out, 2);
	assert_true(c.done);
	/* Once done, nothing more is consumed. */
	assert_int_equal(wsg_h1_chunked_decode(&c, buf, 3, &used, &out, &err),
	                 WSG_OK);
	assert_int_equal(used, 0);
	assert_int_equal(out, 0);
}

static int
parse_response(const char *s, int head, struct wsg_h1_response *res,
               struct wsg_h1_error *err)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_parser p;

	wsg_h1_parser_init(&p, &lim);
	return wsg_h1_parse_response(&p, s, strlen(s), head, h, res, err);
}

static void
test_response_framing(void **state)
{
	struct wsg_h1_response res;
	struct wsg_h1_error err;

	(void)state;
	assert_int_equal(
	        parse_response(
	                "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", 0,
	                &res, &err),
	        WSG_OK);
	assert_int_equal(res.status, 200);
	assert_slice(res.reason, "OK");
	assert_int_equal(res.body, WSG_H1_BODY_LENGTH);
	assert_int_equal(res.content_length, 4);
	assert_true(res.keep_alive);
	assert_false(res.interim);
	/* Chunked. */
	assert_int_equal(parse_response("HTTP/1.1 500 Internal Server Error\r\n"
	                                "Transfer-Encoding: chunked\r\n\r\n",
	                                0, &res, &err),
	                 WSG_OK);
	assert_int_equal(res.body, WSG_H1_BODY_CHUNKED);
	/* Neither: read to close, never reuse. */
	assert_int_equal(
	        parse_response("HTTP/1.1 200 OK\r\n\r\n", 0, &res, &err),
	        WSG_OK);
	assert_int_equal(res.body, WSG_H1_BODY_CLOSE);
	assert_false(res.keep_alive);
	/* Empty reason, with and without its SP. */
	assert_int_equal(
	        parse_response("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0,
	                       &res, &err),
	        WSG_OK);
	assert_int_equal(res.reason.len, 0);
	assert_int_equal(parse_response("HTTP/1.1 204\r\n\r\n", 0, &res, &err),
	                 WSG_OK);
	assert_int_equal(res.body, WSG_H1_BODY_NONE);
	assert_true(res.keep_alive);
	/* 304 and HEAD: no body whatever the length says. */
	assert_int_equal(
	        parse_response("HTTP/1.1 304 Not Modified\r\nContent-Length: "
	                       "99999\r\n\r\n",
	                       0, &res, &err),
	        WSG_OK);
	assert_int_equal(res.body, WSG_H1_BODY_NONE);
	assert_int_equal(
	        parse_response(
	                "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 1,
	                &res, &err),
	        WSG_OK);
	assert_int_equal(res.body, WSG_H1_BODY_NONE);
	/* 1xx interim. */
	assert_int_equal(
	        parse_response(
	                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 0,
	                &res, &err),
	        WSG_OK);
	assert_true(res.interim);
	assert_int_equal(res.head_len, 25);
	assert_int_equal(res.body, WSG_H1_BODY_NONE);
	assert_int_equal(
	        parse_response("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
	                       0, &res, &err),
	        WSG_OK);
	assert_true(res.interim);
	/* HTTP/1.0: close unless keep-alive. */
	assert_int_equal(
	        parse_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
	                       0, &res, &err),
	        WSG_OK);
	assert_false(res.keep_alive);
	assert_int_equal(
	        parse_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n"
	                       "Connection: keep-alive\r\n\r\n",
	                       0, &res, &err),
	        WSG_OK);
	assert_true(res.keep_alive);
	/* Host means nothing in a response. */
	assert_int_equal(parse_response("HTTP/1.1 200 OK\r\nHost: a b\r\n"
	                                "Host: c\r\nContent-Length: 0\r\n\r\n",
	                                0, &res, &err),
	                 WSG_OK);
	assert_int_equal(
	        parse_response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
	                       "Connection: close\r\n\r\n",
	                       0, &res, &err),
	        WSG_OK);
	assert_false(res.keep_alive);
}

static const struct {
	const char *name;
	const char *in;
	size_t len;
	enum wsg_h1_problem problem;
} bad_responses[] = {
        {"CL and TE",
         S("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: "
           "chunked\r\n\r\n"),
         WSG_H1_TE_AND_CL},
        {"CL and TE on 204",
         S("HTTP/1.1 204 OK\r\nContent-Length: 0\r\nTransfer-Encoding: "
           "chunked\r\n\r\n"),
         WSG_H1_TE_AND_CL},
        {"two CL",
         S("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
         WSG_H1_CL_CONFLICT},
        {"TE not chunked",
         S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
         WSG_H1_TE_NOT_CHUNKED},
        {"TE in 1.0",
         S("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
         WSG_H1_TE_HTTP10},
        {"101", S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
         WSG_H1_SWITCHING},
        {"two-digit status", S("HTTP/1.1 20 OK\r\n\r\n"), WSG_H1_STATUS_LINE},
        {"four-digit status", S("HTTP/1.1 2000 OK\r\n\r\n"),
         WSG_H1_STATUS_LINE},
        {"status 099", S("HTTP/1.1 099 X\r\n\r\n"), WSG_H1_STATUS_LINE},
        {"status 600", S("HTTP/1.1 600 X\r\n\r\n"), WSG_H1_STATUS_LINE},
        {"no status", S("HTTP/1.1\r\n\r\n"), WSG_H1_STATUS_LINE},
        {"lower-case version", S("http/1.1 200 OK\r\n\r\n"), WSG_H1_VERSION},
        {"version 2", S("HTTP/2.0 200 OK\r\n\r\n"), WSG_H1_VERSION_UNSUPPORTED},
        {"CTL in reason", S("HTTP/1.1 200 O\x01K\r\n\r\n"), WSG_H1_STATUS_LINE},
        {"obs-fold", S("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
         WSG_H1_OBS_FOLD},
        {"bare LF", S("HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
         WSG_H1_BARE_LF},
        {"NUL in value", S("HTTP/1.1 200 OK\r\nX: \0\r\n\r\n"), WSG_H1_VALUE},
        {"space before colon",
         S("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n"),
         WSG_H1_SPACE_BEFORE_COLON},
        {"CL over max_response",
         S("HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n"),
         WSG_H1_BODY_TOO_LARGE},
};

static void
test_bad_responses(void **state)
{
	struct wsg_h1_header h[8];
	struct wsg_h1_response res;
	struct wsg_h1_error err;
	struct wsg_h1_parser p;
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad_responses) / sizeof(bad_responses[0]); i++) {
		len = bad_responses[i].len;
		wsg_h1_parser_init(&p, &lim);
		rc = wsg_h1_parse_response(&p, bad_responses[i].in, len, 0, h,
		                           &res, &err);
		if (rc >= 0 || err.problem != bad_responses[i].problem ||
		    err.status != 502)
			fail_msg("%s: rc %d, problem %d, status %d",
			         bad_responses[i].name, rc,
			         rc < 0 ? (int)err.problem : 0,
			         rc < 0 ? err.status : 0);
		assert_int_equal(res.status, 0);
	}
}

static void
test_limits_from_config(void **state)
{
	struct wsg_limits_conf conf = {.max_body_size = 10485760,
	                               .max_header_size = 65536,
	                               .max_response_size = 67108864};
	struct wsg_h1_limits l;

	(void)state;
	wsg_h1_request_limits(&conf, &l);
	assert_int_equal(l.max_head, 65536);
	assert_int_equal(l.max_body, 10485760);
	assert_int_equal(l.max_line, WSG_H1_MAX_LINE);
	assert_int_equal(l.max_headers, WSG_H1_MAX_HEADERS);
	wsg_h1_response_limits(&conf, &l);
	assert_int_equal(l.max_body, 67108864);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_requests),
	        cmocka_unit_test(test_error_codes),
	        cmocka_unit_test(test_early_refusal),
	        cmocka_unit_test(test_simple_post),
	        cmocka_unit_test(test_accepted_variants),
	        cmocka_unit_test(test_head_size_limit),
	        cmocka_unit_test(test_bytewise_equals_whole),
	        cmocka_unit_test(test_cr_at_end_waits),
	        cmocka_unit_test(test_pipelined),
	        cmocka_unit_test(test_chunked_table),
	        cmocka_unit_test(test_chunked_caps),
	        cmocka_unit_test(test_chunked_leaves_next_message),
	        cmocka_unit_test(test_response_framing),
	        cmocka_unit_test(test_bad_responses),
	        cmocka_unit_test(test_limits_from_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
