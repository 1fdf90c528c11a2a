#include "h1.h"

#include <string.h>

#include "types.h"

/* RFC 9110 5.6.2: tchar. */
static const unsigned char tchar[256] = {
        ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
        ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
        ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
        ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
        ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
        ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
        ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,
        ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,
        ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,
        ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
        ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
        ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
        ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static const struct {
	const char *reason;
	int status;
} problems[WSG_H1_PROBLEM__COUNT] = {
        [WSG_H1_OK] = {"no problem", 200},
        [WSG_H1_LINE_TOO_LONG] = {"start line too long", 414},
        [WSG_H1_HEAD_TOO_LARGE] = {"header section too large", 431},
        [WSG_H1_TOO_MANY_HEADERS] = {"too many header fields", 431},
        [WSG_H1_BARE_CR] = {"CR not followed by LF", 400},
        [WSG_H1_BARE_LF] = {"LF without CR", 400},
        [WSG_H1_EMPTY_LINE] = {"line end before the start line", 400},
        [WSG_H1_REQUEST_LINE] = {"malformed request line", 400},
        [WSG_H1_METHOD] = {"method is not a token", 400},
        [WSG_H1_TARGET] = {"invalid request-target", 400},
        [WSG_H1_CONNECT] = {"CONNECT is not supported", 501},
        [WSG_H1_VERSION] = {"malformed HTTP version", 400},
        [WSG_H1_VERSION_UNSUPPORTED] = {"HTTP version not supported", 505},
        [WSG_H1_STATUS_LINE] = {"malformed status line", 400},
        [WSG_H1_SWITCHING] = {"unsolicited 101 Switching Protocols", 400},
        [WSG_H1_LEADING_WS] = {"whitespace before the first field line", 400},
        [WSG_H1_OBS_FOLD] = {"obsolete line folding", 400},
        [WSG_H1_NAME] = {"field name is not a token", 400},
        [WSG_H1_SPACE_BEFORE_COLON] = {"whitespace before the colon", 400},
        [WSG_H1_NO_COLON] = {"field line without a colon", 400},
        [WSG_H1_VALUE] = {"control character in a field value", 400},
        [WSG_H1_HOST_MISSING] = {"HTTP/1.1 request without Host", 400},
        [WSG_H1_HOST_DUPLICATE] = {"several Host fields", 400},
        [WSG_H1_HOST_INVALID] = {"invalid Host value", 400},
        [WSG_H1_CTYPE_DUPLICATE] = {"several Content-Type fields", 400},
        [WSG_H1_CONNECTION] = {"invalid Connection value", 400},
        [WSG_H1_CL_INVALID] = {"Content-Length is not a number", 400},
        [WSG_H1_CL_OVERFLOW] = {"Content-Length too large", 400},
        [WSG_H1_CL_CONFLICT] = {"conflicting Content-Length values", 400},
        [WSG_H1_TE_INVALID] = {"malformed Transfer-Encoding", 400},
        [WSG_H1_TE_NOT_CHUNKED] = {"chunked is not the final coding once", 400},
        [WSG_H1_TE_UNSUPPORTED] = {"transfer coding not implemented", 501},
        [WSG_H1_TE_HTTP10] = {"Transfer-Encoding in HTTP/1.0", 400},
        [WSG_H1_TE_AND_CL] = {"both Transfer-Encoding and Content-Length", 400},
        [WSG_H1_BODY_TOO_LARGE] = {"body too large", 413},
        [WSG_H1_CHUNK_SIZE] = {"malformed chunk size", 400},
        [WSG_H1_CHUNK_OVERFLOW] = {"chunk size too long", 400},
        [WSG_H1_CHUNK_EXT] = {"malformed chunk extension", 400},
        [WSG_H1_CHUNK_EXT_TOO_LONG] = {"chunk extensions too long", 400},
        [WSG_H1_CHUNK_CRLF] = {"chunk data not followed by CRLF", 400},
        [WSG_H1_TRAILER] = {"malformed trailer field", 400},
        [WSG_H1_TRAILER_TOO_LARGE] = {"trailer section too large", 400},
        [WSG_H1_TRAILER_FRAMING] = {"framing field in the trailer section",
                                    400},
};

const char *
wsg_h1_reason(enum wsg_h1_problem problem)
{
	if ((unsigned)problem >= WSG_H1_PROBLEM__COUNT)
		return "unknown problem";
	return problems[problem].reason;
}

/* Fills `err` and returns the matching enum wsg_err. */
static int
fail(struct wsg_h1_error *err, enum wsg_h1_problem problem, size_t offset)
{
	int limit = problem == WSG_H1_LINE_TOO_LONG ||
	            problem == WSG_H1_HEAD_TOO_LARGE ||
	            problem == WSG_H1_TOO_MANY_HEADERS ||
	            problem == WSG_H1_BODY_TOO_LARGE ||
	            problem == WSG_H1_CHUNK_EXT_TOO_LONG ||
	            problem == WSG_H1_TRAILER_TOO_LARGE;

	if (err != NULL) {
		err->problem = problem;
		err->status = problems[problem].status;
		err->reason = problems[problem].reason;
		err->offset = offset;
	}
	return limit ? WSG_ERR_LIMIT : WSG_ERR_PARSE;
}

void
wsg_h1_request_limits(const struct wsg_limits_conf *conf,
                      struct wsg_h1_limits *lim)
{
	lim->max_line = WSG_H1_MAX_LINE;
	lim->max_head = conf->max_header_size;
	lim->max_headers = WSG_H1_MAX_HEADERS;
	lim->max_body = conf->max_body_size;
}

void
wsg_h1_response_limits(const struct wsg_limits_conf *conf,
                       struct wsg_h1_limits *lim)
{
	lim->max_line = WSG_H1_MAX_LINE;
	lim->max_head = conf->max_header_size;
	lim->max_headers = WSG_H1_MAX_HEADERS;
	lim->max_body = conf->max_response_size;
}

void
wsg_h1_parser_init(struct wsg_h1_parser *p, const struct wsg_h1_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->lim = *lim;
}

static int
ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 5.5: field-vchar, SP and HTAB; obs-text is allowed. */
static int
value_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
slice_is(struct wsg_h1_slice s, const char *lower)
{
	return strlen(lower) == s.len && strncasecmp(s.p, lower, s.len) == 0;
}

/* Methods are case-sensitive (RFC 9110 9.1). */
static int
slice_eq(struct wsg_h1_slice s, const char *text)
{
	return strlen(text) == s.len && memcmp(s.p, text, s.len) == 0;
}

const struct wsg_h1_header *
wsg_h1_find(const struct wsg_h1_header *headers, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (slice_is(headers[i].name, name))
			return &headers[i];
	return NULL;
}

/* What the framing fields said, gathered over all field lines. */
struct framing {
	int cl_seen;
	struct wsg_h1_slice cl_text; /* first Content-Length element */
	uint64_t cl;
	int te_seen;
	int te_chunked; /* times "chunked" was listed */
	int te_last_chunked;
	int te_other; /* other codings listed */
	int close;
	int keep_alive;
	int expect_continue;
	int expect_other;
	int host_count;
	int ctype_count;
	struct wsg_h1_slice host;
};

/* Next element of a comma-separated list, without OWS; 0 at the end. */
static int
next_element(const char **pos, const char *end, struct wsg_h1_slice *el)
{
	const char *s = *pos, *e;

	if (s > end)
		return 0;
	e = memchr(s, ',', (size_t)(end - s));
	if (e == NULL)
		e = end;
	*pos = e + 1;
	while (s < e && ows((unsigned char)*s))
		s++;
	while (e > s && ows((unsigned char)e[-1]))
		e--;
	el->p = s;
	el->len = (size_t)(e - s);
	return 1;
}

static int
is_token(struct wsg_h1_slice s)
{
	size_t i;

	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++)
		if (!tchar[(unsigned char)s.p[i]])
			return 0;
	return 1;
}

/* RFC 9110 8.6: 1*DIGIT; several values only when byte-identical. */
static enum wsg_h1_problem
content_length(struct framing *f, struct wsg_h1_slice v)
{
	const char *pos = v.p, *end = v.p + v.len;
	struct wsg_h1_slice el;
	uint64_t n;
	size_t i;

	while (next_element(&pos, end, &el)) {
		if (el.len == 0)
			return WSG_H1_CL_INVALID;
		for (i = 0; i < el.len; i++)
			if (el.p[i] < '0' || el.p[i] > '9')
				return WSG_H1_CL_INVALID;
		if (f->cl_seen) {
			if (el.len != f->cl_text.len ||
			    memcmp(el.p, f->cl_text.p, el.len) != 0)
				return WSG_H1_CL_CONFLICT;
			continue;
		}
		for (n = 0, i = 0; i < el.len; i++) {
			if (n > (UINT64_MAX - 9) / 10)
				return WSG_H1_CL_OVERFLOW;
			n = n * 10 + (uint64_t)(el.p[i] - '0');
		}
		f->cl_seen = 1;
		f->cl_text = el;
		f->cl = n;
	}
	return WSG_H1_OK;
}

/* RFC 9112 6.1: the list, in order over all Transfer-Encoding lines. */
static enum wsg_h1_problem
transfer_encoding(struct framing *f, struct wsg_h1_slice v)
{
	const char *pos = v.p, *end = v.p + v.len;
	struct wsg_h1_slice el;

	f->te_seen = 1;
	while (next_element(&pos, end, &el)) {
		/* Empty elements and parameters are legal but never needed:
		 * refusing them leaves one reading of the list. */
		if (!is_token(el))
			return WSG_H1_TE_INVALID;
		f->te_last_chunked = slice_is(el, "chunked");
		if (f->te_last_chunked)
			f->te_chunked++;
		else
			f->te_other++;
	}
	return WSG_H1_OK;
}

static enum wsg_h1_problem
connection(struct framing *f, struct wsg_h1_slice v)
{
	const char *pos = v.p, *end = v.p + v.len;
	struct wsg_h1_slice el;

	while (next_element(&pos, end, &el)) {
		if (el.len == 0)
			continue;
		if (!is_token(el))
			return WSG_H1_CONNECTION;
		if (slice_is(el, "close"))
			f->close = 1;
		else if (slice_is(el, "keep-alive"))
			f->keep_alive = 1;
	}
	return WSG_H1_OK;
}

static void
expect(struct framing *f, struct wsg_h1_slice v)
{
	const char *pos = v.p, *end = v.p + v.len;
	struct wsg_h1_slice el;

	while (next_element(&pos, end, &el)) {
		if (el.len == 0)
			continue;
		if (slice_is(el, "100-continue"))
			f->expect_continue = 1;
		else
			f->expect_other = 1;
	}
}

/* RFC 9110 7.2: uri-host [":" port], as bytes of reg-name, IP-literal. */
static int
host_valid(struct wsg_h1_slice v)
{
	size_t i;

	for (i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') ||
		      strchr("-._~!$&'()*+,;=:%[]", c) != NULL) ||
		    c == '\0')
			return 0;
	}
	return 1;
}

/*
 * Parses the field lines of buf[start..end) (each ends in CRLF, as scan()
 * made sure) into `headers` and `f`; Host means nothing in a response.
 */
static int
fields(const struct wsg_h1_parser *p, int response, const char *buf,
       size_t start, size_t end, struct wsg_h1_header *headers,
       size_t *n_headers, struct framing *f, struct wsg_h1_error *err)
{
	enum wsg_h1_problem prob = WSG_H1_OK;
	size_t i = start, n = 0, eol, name_end, vs, ve;

	memset(f, 0, sizeof(*f));
	/* One pass per line: no CR but the line's own (scan made sure), and
	 * CR is neither a name nor a value byte, so each loop stops there. */
	while (i < end) {
		if (ows((unsigned char)buf[i]))
			return fail(err,
			            n == 0 ? WSG_H1_LEADING_WS
			                   : WSG_H1_OBS_FOLD,
			            i);
		for (name_end = i; tchar[(unsigned char)buf[name_end]];
		     name_end++)
			;
		if (buf[name_end] == '\r')
			return fail(err, WSG_H1_NO_COLON, i);
		if (buf[name_end] != ':')
			return fail(err,
			            ows((unsigned char)buf[name_end])
			                    ? WSG_H1_SPACE_BEFORE_COLON
			                    : WSG_H1_NAME,
			            name_end);
		if (name_end == i)
			return fail(err, WSG_H1_NAME, i);
		for (vs = name_end + 1; ows((unsigned char)buf[vs]); vs++)
			;
		for (ve = vs; value_byte((unsigned char)buf[ve]); ve++)
			;
		if (buf[ve] != '\r')
			return fail(err, WSG_H1_VALUE, ve);
		eol = ve;
		while (ve > vs && ows((unsigned char)buf[ve - 1]))
			ve--;
		if (n == p->lim.max_headers)
			return fail(err, WSG_H1_TOO_MANY_HEADERS, i);
		headers[n].name.p = buf + i;
		headers[n].name.len = name_end - i;
		headers[n].value.p = buf + vs;
		headers[n].value.len = ve - vs;
		if (slice_is(headers[n].name, "content-length")) {
			prob = content_length(f, headers[n].value);
		} else if (slice_is(headers[n].name, "transfer-encoding")) {
			prob = transfer_encoding(f, headers[n].value);
		} else if (slice_is(headers[n].name, "connection")) {
			prob = connection(f, headers[n].value);
		} else if (slice_is(headers[n].name, "expect")) {
			expect(f, headers[n].value);
		} else if (!response && slice_is(headers[n].name, "host")) {
			if (++f->host_count > 1)
				prob = WSG_H1_HOST_DUPLICATE;
			else if (!host_valid(headers[n].value))
				prob = WSG_H1_HOST_INVALID;
			f->host = headers[n].value;
		} else if (!response &&
		           slice_is(headers[n].name, "content-type")) {
			/* A singleton: the gateway would read one (SOAP or
			 * multipart, its boundary), the upstream maybe the
			 * other. */
			if (++f->ctype_count > 1)
				prob = WSG_H1_CTYPE_DUPLICATE;
		}
		if (prob != WSG_H1_OK)
			return fail(err, prob, vs);
		n++;
		i = eol + 2;
	}
	*n_headers = n;
	return WSG_OK;
}

/* "HTTP/1.0" or "HTTP/1.1" at s (8 bytes); *minor set. */
static enum wsg_h1_problem
version(const char *s, size_t len, int *minor)
{
	if (len != 8 || memcmp(s, "HTTP/", 5) != 0 || s[5] < '0' ||
	    s[5] > '9' || s[6] != '.' || s[7] < '0' || s[7] > '9')
		return WSG_H1_VERSION;
	if (s[5] != '1' || (s[7] != '0' && s[7] != '1'))
		return WSG_H1_VERSION_UNSUPPORTED;
	*minor = s[7] - '0';
	return WSG_H1_OK;
}

/*
 * RFC 9112 3.2: origin-form, or absolute-form for http(s) with an authority
 * and no userinfo, or "*" for OPTIONS. Authority-form is CONNECT's only.
 */
static enum wsg_h1_problem
target_form(struct wsg_h1_request *req)
{
	const char *t = req->target.p, *a, *end = t + req->target.len;
	size_t i, scheme;

	if (memchr(t, '#', req->target.len) != NULL)
		return WSG_H1_TARGET;
	if (t[0] == '/') {
		req->form = WSG_H1_FORM_ORIGIN;
		return WSG_H1_OK;
	}
	if (req->target.len == 1 && t[0] == '*') {
		if (!slice_eq(req->method, "OPTIONS"))
			return WSG_H1_TARGET;
		req->form = WSG_H1_FORM_ASTERISK;
		return WSG_H1_OK;
	}
	if (req->target.len > 7 && strncasecmp(t, "http://", 7) == 0)
		scheme = 7;
	else if (req->target.len > 8 && strncasecmp(t, "https://", 8) == 0)
		scheme = 8;
	else
		return WSG_H1_TARGET;
	a = t + scheme;
	for (i = 0; a + i < end && a[i] != '/' && a[i] != '?'; i++)
		;
	req->authority.p = a;
	req->authority.len = i;
	if (i == 0 || memchr(a, '@', i) != NULL || !host_valid(req->authority))
		return WSG_H1_TARGET;
	req->form = WSG_H1_FORM_ABSOLUTE;
	return WSG_H1_OK;
}

/* method SP request-target SP HTTP-version, each separator one SP. */
static int
request_line(const char *buf, size_t len, struct wsg_h1_request *req,
             struct wsg_h1_error *err)
{
	enum wsg_h1_problem prob;
	size_t i, t;

	for (i = 0; i < len && tchar[(unsigned char)buf[i]]; i++)
		;
	if (i == 0)
		return fail(err,
		            buf[0] == ' ' ? WSG_H1_REQUEST_LINE : WSG_H1_METHOD,
		            0);
	if (i == len)
		return fail(err, WSG_H1_REQUEST_LINE, i);
	if (buf[i] != ' ')
		return fail(err, WSG_H1_METHOD, i);
	req->method.p = buf;
	req->method.len = i;
	t = ++i;
	for (; i < len && (unsigned char)buf[i] > 0x20 &&
	       (unsigned char)buf[i] < 0x7f;
	     i++)
		;
	if (i == t || i == len)
		return fail(err, WSG_H1_REQUEST_LINE, i);
	if (buf[i] != ' ')
		return fail(err, WSG_H1_TARGET, i);
	req->target.p = buf + t;
	req->target.len = i - t;
	i++;
	if (i < len && buf[i] == ' ')
		return fail(err, WSG_H1_REQUEST_LINE, i);
	prob = version(buf + i, len - i, &req->minor);
	if (prob != WSG_H1_OK)
		return fail(err, prob, i);
	if (slice_eq(req->method, "CONNECT"))
		return fail(err, WSG_H1_CONNECT, 0);
	prob = target_form(req);
	if (prob != WSG_H1_OK)
		return fail(err, prob, t);
	return WSG_OK;
}

/* RFC 9112 6.1 / 6.3: the one framing both parsers check alike. */
static enum wsg_h1_problem
transfer_framing(const struct framing *f, int minor)
{
	if (!f->te_seen)
		return WSG_H1_OK;
	if (minor == 0)
		return WSG_H1_TE_HTTP10;
	if (f->cl_seen)
		return WSG_H1_TE_AND_CL;
	if (!f->te_last_chunked || f->te_chunked != 1)
		return WSG_H1_TE_NOT_CHUNKED;
	if (f->te_other != 0)
		return WSG_H1_TE_UNSUPPORTED;
	return WSG_H1_OK;
}

/* HTTP-version SP 3DIGIT [SP reason-phrase]; the SP before an empty reason
 * may be missing (many servers leave it out, and it changes no framing). */
static int
status_line(const char *buf, size_t len, struct wsg_h1_response *res,
            struct wsg_h1_error *err)
{
	enum wsg_h1_problem prob;
	size_t i;

	if (len < 12 || buf[8] != ' ')
		return fail(err, WSG_H1_STATUS_LINE, 0);
	prob = version(buf, 8, &res->minor);
	if (prob != WSG_H1_OK)
		return fail(err, prob, 0);
	for (i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return fail(err, WSG_H1_STATUS_LINE, i);
	res->status =
	        (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (res->status < 100 || res->status > 599)
		return fail(err, WSG_H1_STATUS_LINE, 9);
	if (len > 12 && buf[12] != ' ')
		return fail(err, WSG_H1_STATUS_LINE, 12);
	for (i = 13; i < len; i++)
		if (!value_byte((unsigned char)buf[i]))
			return fail(err, WSG_H1_STATUS_LINE, i);
	res->reason.p = buf + (len > 12 ? 13 : 12);
	res->reason.len = len > 12 ? len - 13 : 0;
	if (res->status == 101)
		return fail(err, WSG_H1_SWITCHING, 9);
	return WSG_OK;
}

/*
 * Checks line ends and limits from where the last call stopped, so a head
 * fed in pieces costs one pass, and refuses a bad start line as soon as it
 * is there (a peer cannot hold us with a garbage first line). Sets
 * *head_len once the empty line is seen. Every verdict depends only on the
 * bytes before it, which is what makes a piecewise parse agree with a parse
 * of the whole.
 */
static int
scan(struct wsg_h1_parser *p, int response, const char *buf, size_t len,
     size_t *head_len, struct wsg_h1_error *err)
{
	struct wsg_h1_response res;
	struct wsg_h1_request req;
	size_t i;
	int rc;

	*head_len = 0;
	for (i = p->scanned; i < len; i++) {
		unsigned char c;

		/* Past the first bytes, what is neither CR nor LF nor beyond
		 * a limit needs no look: jump to the next byte that does. */
		if (i >= 5) {
			size_t stop = p->head_start != 0
			                      ? p->head_start + p->lim.max_head
			                      : p->line_start + p->lim.max_line;
			const char *from = buf + i, *to, *nl, *cr;

			if (stop > len)
				stop = len;
			if (i < stop) {
				nl = memchr(from, '\n', stop - i);
				to = nl != NULL ? nl : buf + stop;
				cr = memchr(from, '\r', (size_t)(to - from));
				i = (size_t)((cr != NULL ? cr : to) - buf);
				if (i == len)
					break;
			}
		}
		c = (unsigned char)buf[i];
		if (p->head_start != 0) {
			if (i - p->head_start >= p->lim.max_head)
				return fail(err, WSG_H1_HEAD_TOO_LARGE, i);
		} else if (c != '\r' && c != '\n' &&
		           i - p->line_start >= p->lim.max_line) {
			return fail(err, WSG_H1_LINE_TOO_LONG, i);
		}
		if (response && i < 5 && c != (unsigned char)"HTTP/"[i])
			return fail(err, WSG_H1_VERSION, i);
		if (!response && i == 0 && !tchar[c])
			return fail(err,
			            c == '\r' || c == '\n' ? WSG_H1_EMPTY_LINE
			            : c == ' '             ? WSG_H1_REQUEST_LINE
			                                   : WSG_H1_METHOD,
			            0);
		if (c == '\r') {
			if (i + 1 == len)
				break;
			if (buf[i + 1] != '\n')
				return fail(err, WSG_H1_BARE_CR, i);
			continue;
		}
		if (c != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return fail(err, WSG_H1_BARE_LF, i);
		if (p->head_start == 0) {
			rc = response ? status_line(buf, i - 1, &res, err)
			              : request_line(buf, i - 1, &req, err);
			if (rc != WSG_OK)
				return rc;
			p->head_start = i + 1;
		} else if (i - 1 == p->line_start) {
			*head_len = i + 1;
			p->scanned = i + 1;
			return WSG_OK;
		}
		p->line_start = i + 1;
	}
	p->scanned = i;
	return WSG_ERR_AGAIN;
}

int
wsg_h1_parse_request(struct wsg_h1_parser *p, const char *buf, size_t len,
                     struct wsg_h1_header *headers, struct wsg_h1_request *req,
                     struct wsg_h1_error *err)
{
	struct wsg_h1_request r;
	enum wsg_h1_problem prob;
	struct framing f;
	size_t head_len;
	int rc;

	memset(req, 0, sizeof(*req));
	rc = scan(p, 0, buf, len, &head_len, err);
	if (rc != WSG_OK)
		goto out;
	memset(&r, 0, sizeof(r));
	rc = request_line(buf, p->head_start - 2, &r, err);
	if (rc != WSG_OK)
		goto out;
	rc = fields(p, 0, buf, p->head_start, head_len - 2, headers,
	            &r.n_headers, &f, err);
	if (rc != WSG_OK)
		goto out;
	prob = WSG_H1_OK;
	if (r.minor == 1 && f.host_count == 0)
		prob = WSG_H1_HOST_MISSING;
	if (prob == WSG_H1_OK)
		prob = transfer_framing(&f, r.minor);
	if (prob == WSG_H1_OK && !f.te_seen && f.cl_seen &&
	    f.cl > p->lim.max_body)
		prob = WSG_H1_BODY_TOO_LARGE;
	if (prob != WSG_H1_OK) {
		rc = fail(err, prob, p->head_start);
		goto out;
	}
	r.headers = headers;
	r.head_len = head_len;
	if (f.te_seen) {
		r.body = WSG_H1_BODY_CHUNKED;
	} else if (f.cl_seen) {
		r.body = WSG_H1_BODY_LENGTH;
		r.content_length = f.cl;
	}
	r.keep_alive = r.minor == 1 ? !f.close : f.keep_alive && !f.close;
	/* RFC 9110 10.1.1: an HTTP/1.0 client cannot expect anything. */
	if (r.minor == 1 && f.expect_other)
		r.expect = WSG_H1_EXPECT_OTHER;
	else if (r.minor == 1 && f.expect_continue)
		r.expect = WSG_H1_EXPECT_CONTINUE;
	r.has_host = f.host_count == 1;
	r.host = f.host;
	*req = r;
out:
	return rc;
}

int
wsg_h1_parse_response(struct wsg_h1_parser *p, const char *buf, size_t len,
                      int head_request, struct wsg_h1_header *headers,
                      struct wsg_h1_response *res, struct wsg_h1_error *err)
{
	struct wsg_h1_response r;
	enum wsg_h1_problem prob;
	struct framing f;
	size_t head_len;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = scan(p, 1, buf, len, &head_len, err);
	if (rc != WSG_OK)
		goto out;
	memset(&r, 0, sizeof(r));
	rc = status_line(buf, p->head_start - 2, &r, err);
	if (rc != WSG_OK)
		goto out;
	rc = fields(p, 1, buf, p->head_start, head_len - 2, headers,
	            &r.n_headers, &f, err);
	if (rc != WSG_OK)
		goto out;
	prob = transfer_framing(&f, r.minor);
	r.headers = headers;
	r.head_len = head_len;
	r.interim = r.status < 200;
	r.keep_alive = r.minor == 1 ? !f.close : f.keep_alive && !f.close;
	if (prob != WSG_H1_OK) {
		rc = fail(err, prob, p->head_start);
		goto out;
	}
	if (r.interim || r.status == 204 || r.status == 304 || head_request) {
		r.body = WSG_H1_BODY_NONE;
	} else if (f.te_seen) {
		r.body = WSG_H1_BODY_CHUNKED;
	} else if (f.cl_seen) {
		if (f.cl > p->lim.max_body) {
			rc = fail(err, WSG_H1_BODY_TOO_LARGE, p->head_start);
			goto out;
		}
		r.body = WSG_H1_BODY_LENGTH;
		r.content_length = f.cl;
	} else {
		r.body = WSG_H1_BODY_CLOSE;
		r.keep_alive = 0;
	}
	*res = r;
out:
	if (rc != WSG_OK && rc != WSG_ERR_AGAIN && err != NULL)
		err->status = 502;
	return rc;
}

enum chunk_state {
	CH_SIZE = 0,  /* first hex digit */
	CH_SIZE_MORE, /* more digits, BWS, ';' or CR */
	CH_EXT_WS,    /* BWS before ';' */
	CH_EXT,       /* extension bytes up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER, /* start of a trailer line or of the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
};

void
wsg_h1_chunked_init(struct wsg_h1_chunked *c, uint64_t max_body)
{
	memset(c, 0, sizeof(*c));
	c->max_body = max_body;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * At the colon of a trailer field: framing fields are refused there, so no
 * reader can take them for the message's own (RFC 9110 6.5.1).
 */
static enum wsg_h1_problem
trailer_name(struct wsg_h1_chunked *c)
{
	struct wsg_h1_slice name = {c->name, c->name_len};

	c->state = CH_TRAILER_VALUE;
	if (c->name_len <= sizeof(c->name) &&
	    (slice_is(name, "transfer-encoding") ||
	     slice_is(name, "content-length")))
		return WSG_H1_TRAILER_FRAMING;
	return WSG_H1_OK;
}

/* One byte of a chunk-size line or of the trailer section. */
static enum wsg_h1_problem
chunk_byte(struct wsg_h1_chunked *c, unsigned char b)
{
	int h;

	if (c->state >= CH_TRAILER && ++c->trailer_len > WSG_H1_MAX_TRAILER)
		return WSG_H1_TRAILER_TOO_LARGE;
	if ((c->state == CH_EXT_WS || c->state == CH_EXT) && b != '\r' &&
	    ++c->ext_len > WSG_H1_MAX_CHUNK_EXT)
		return WSG_H1_CHUNK_EXT_TOO_LONG;
	switch (c->state) {
	case CH_SIZE:
	case CH_SIZE_MORE:
		h = hex_value(b);
		if (h >= 0) {
			if (++c->digits > 16)
				return WSG_H1_CHUNK_OVERFLOW;
			c->left = c->left << 4 | (uint64_t)h;
			c->state = CH_SIZE_MORE;
			return WSG_H1_OK;
		}
		if (c->state == CH_SIZE)
			return WSG_H1_CHUNK_SIZE;
		if (b == '\r') {
			c->state = CH_SIZE_LF;
		} else if (b == ';') {
			c->state = CH_EXT;
			c->ext_len++;
		} else if (ows(b)) {
			c->state = CH_EXT_WS;
			c->ext_len++;
		} else {
			return WSG_H1_CHUNK_SIZE;
		}
		return c->ext_len > WSG_H1_MAX_CHUNK_EXT
		               ? WSG_H1_CHUNK_EXT_TOO_LONG
		               : WSG_H1_OK;
	case CH_EXT_WS:
		if (b == ';')
			c->state = CH_EXT;
		else if (!ows(b))
			return WSG_H1_CHUNK_EXT;
		return WSG_H1_OK;
	case CH_EXT:
		if (b == '\r')
			c->state = CH_SIZE_LF;
		else if (!value_byte(b))
			return WSG_H1_CHUNK_EXT;
		return WSG_H1_OK;
	case CH_SIZE_LF:
		if (b != '\n')
			return WSG_H1_CHUNK_SIZE;
		c->digits = 0;
		if (c->left == 0) {
			c->state = CH_TRAILER;
			return WSG_H1_OK;
		}
		if (c->left > c->max_body - c->total)
			return WSG_H1_BODY_TOO_LARGE;
		c->state = CH_DATA;
		return WSG_H1_OK;
	case CH_DATA_CR:
		if (b != '\r')
			return WSG_H1_CHUNK_CRLF;
		c->state = CH_DATA_LF;
		return WSG_H1_OK;
	case CH_DATA_LF:
		if (b != '\n')
			return WSG_H1_CHUNK_CRLF;
		c->state = CH_SIZE;
		return WSG_H1_OK;
	case CH_TRAILER:
		if (b == '\r') {
			c->state = CH_END_LF;
			return WSG_H1_OK;
		}
		if (!tchar[b])
			return WSG_H1_TRAILER;
		c->state = CH_TRAILER_NAME;
		c->name_len = 0;
		/* fall through */
	case CH_TRAILER_NAME:
		if (b == ':')
			return trailer_name(c);
		if (!tchar[b])
			return WSG_H1_TRAILER;
		if (c->name_len < sizeof(c->name))
			c->name[c->name_len] = (char)b;
		c->name_len++;
		return WSG_H1_OK;
	case CH_TRAILER_VALUE:
		if (b == '\r')
			c->state = CH_TRAILER_LF;
		else if (!value_byte(b))
			return WSG_H1_TRAILER;
		return WSG_H1_OK;
	case CH_TRAILER_LF:
		if (b != '\n')
			return WSG_H1_TRAILER;
		c->state = CH_TRAILER;
		return WSG_H1_OK;
	case CH_END_LF:
		if (b != '\n')
			return WSG_H1_TRAILER;
		c->state = CH_DONE;
		return WSG_H1_OK;
	}
	return WSG_H1_CHUNK_SIZE;
}

int
wsg_h1_chunked_decode(struct wsg_h1_chunked *c, char *buf, size_t len,
                      size_t *used, size_t *out, struct wsg_h1_error *err)
{
	enum wsg_h1_problem prob;
	size_t i = 0, o = 0, n;
	int rc = WSG_ERR_AGAIN;

	*used = 0;
	*out = 0;
	if (c->state == CH_DONE) {
		rc = WSG_OK;
		goto out;
	}
	while (i < len) {
		if (c->state == CH_DATA) {
			n = len - i < c->left ? len - i : (size_t)c->left;
			memmove(buf + o, buf + i, n);
			o += n;
			i += n;
			c->left -= n;
			c->total += n;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		prob = chunk_byte(c, (unsigned char)buf[i]);
		if (prob != WSG_H1_OK) {
			rc = fail(err, prob, i);
			goto out;
		}
		i++;
		if (c->state == CH_DONE) {
			c->done = 1;
			rc = WSG_OK;
			break;
		}
	}
	*used = i;
	*out = o;
out:
	return rc;
}
