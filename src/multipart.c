#include "multipart.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "mem.h"

#define DEFAULT_MAX_PARTS 100
#define DEFAULT_MAX_PART_SIZE 10485760
#define DEFAULT_MAX_PART_HEADER_SIZE 8192
/* RFC 2046 §5.1.1: a boundary is 1 to 70 characters. */
#define MAX_BOUNDARY 70
#define MAX_PARAMS 16
#define PARAM_BYTES 2048

struct slice {
	const char *p;
	size_t len;
};

/* A media type and its parameters; values unquoted into `buf`. */
struct media {
	struct slice type; /* "type/subtype" as sent */
	size_t n;
	struct slice name[MAX_PARAMS];
	struct slice value[MAX_PARAMS];
	char buf[PARAM_BYTES];
};

/* What one part's headers said; offsets into the message. */
struct part {
	struct slice ctype, cid, cte;
	size_t cl_start, cl_end; /* Content-Length value; cl_end > 0 if any */
	size_t body_start, body_end;
};

static int
tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static int
ows(char c)
{
	return c == ' ' || c == '\t';
}

static int
slice_is(struct slice s, const char *name)
{
	return s.len == strlen(name) && strncasecmp(s.p, name, s.len) == 0;
}

static int
slice_eq(struct slice a, struct slice b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static const char *
param_value(const struct slice *s, size_t *i, struct media *m, size_t *used)
{
	size_t start = *used;

	if (*i < s->len && s->p[*i] == '"') {
		for ((*i)++;; (*i)++) {
			unsigned char c;

			if (*i == s->len)
				return "unterminated quoted string";
			c = (unsigned char)s->p[*i];
			if (c == '"')
				break;
			if (c == '\\' && ++*i == s->len)
				return "unterminated quoted string";
			c = (unsigned char)s->p[*i];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return "control character in a parameter";
			if (*used == PARAM_BYTES)
				return "parameters too long";
			m->buf[(*used)++] = (char)c;
		}
		(*i)++;
	} else {
		/* '/' too: clients send type=text/xml unquoted. */
		for (; *i < s->len &&
		       (tchar((unsigned char)s->p[*i]) || s->p[*i] == '/');
		     (*i)++) {
			if (*used == PARAM_BYTES)
				return "parameters too long";
			m->buf[(*used)++] = s->p[*i];
		}
		if (*used == start)
			return "malformed parameter";
	}
	m->value[m->n].p = m->buf + start;
	m->value[m->n].len = *used - start;
	return NULL;
}

/* RFC 2045 §5.1 media type with parameters; NULL, or why it is refused. */
static const char *
media_parse(struct slice s, struct media *m)
{
	size_t i = 0, start, used = 0, k;
	const char *why;

	m->n = 0;
	while (i < s.len && ows(s.p[i]))
		i++;
	for (start = i; i < s.len && tchar((unsigned char)s.p[i]); i++)
		;
	if (i == start || i == s.len || s.p[i] != '/')
		return "malformed media type";
	for (k = ++i; i < s.len && tchar((unsigned char)s.p[i]); i++)
		;
	if (i == k)
		return "malformed media type";
	m->type.p = s.p + start;
	m->type.len = i - start;
	for (;;) {
		while (i < s.len && ows(s.p[i]))
			i++;
		if (i == s.len)
			return NULL;
		if (s.p[i] != ';')
			return "malformed media type";
		for (i++; i < s.len && ows(s.p[i]); i++)
			;
		if (i == s.len)
			return NULL;
		for (start = i; i < s.len && tchar((unsigned char)s.p[i]); i++)
			;
		if (i == start || i == s.len || s.p[i] != '=')
			return "malformed parameter";
		if (m->n == MAX_PARAMS)
			return "too many parameters";
		m->name[m->n].p = s.p + start;
		m->name[m->n].len = i - start;
		for (k = 0; k < m->n; k++)
			if (m->name[k].len == m->name[m->n].len &&
			    strncasecmp(m->name[k].p, m->name[m->n].p,
			                m->name[k].len) == 0)
				return "duplicate parameter";
		i++;
		why = param_value(&s, &i, m, &used);
		if (why != NULL)
			return why;
		m->n++;
	}
}

static const struct slice *
param(const struct media *m, const char *name)
{
	size_t k;

	for (k = 0; k < m->n; k++)
		if (slice_is(m->name[k], name))
			return &m->value[k];
	return NULL;
}

static struct slice
cstr(const char *s)
{
	struct slice r = {s, s != NULL ? strlen(s) : 0};

	return r;
}

/* The SOAP version of a media type value (its own parameters ignored). */
static enum wsg_soap_version
soap_version(struct slice s)
{
	struct media m;

	if (media_parse(s, &m) != NULL)
		return WSG_SOAP_UNKNOWN;
	if (slice_is(m.type, "text/xml"))
		return WSG_SOAP_11;
	if (slice_is(m.type, "application/soap+xml"))
		return WSG_SOAP_12;
	return WSG_SOAP_UNKNOWN;
}

static int
is_xop(struct slice s)
{
	struct media m;

	return media_parse(s, &m) == NULL &&
	       slice_is(m.type, "application/xop+xml");
}

static enum wsg_soap_version
announced(const struct media *outer)
{
	const struct slice *type = param(outer, "type");
	const struct slice *info = param(outer, "start-info");

	if (type == NULL)
		return WSG_SOAP_UNKNOWN;
	if (is_xop(*type))
		return info != NULL ? soap_version(*info) : WSG_SOAP_UNKNOWN;
	return soap_version(*type);
}

int
wsg_multipart_is(const char *ctype)
{
	struct media m;

	return ctype != NULL && media_parse(cstr(ctype), &m) == NULL &&
	       slice_is(m.type, "multipart/related");
}

enum wsg_soap_version
wsg_multipart_media(const char *ctype)
{
	struct media m;

	if (ctype == NULL || media_parse(cstr(ctype), &m) != NULL ||
	    !slice_is(m.type, "multipart/related"))
		return WSG_SOAP_UNKNOWN;
	return announced(&m);
}

/* RFC 2046 §5.1.1 bchars; the last one not a space. */
static int
boundary_ok(const struct slice *b)
{
	size_t i;

	if (b->len == 0 || b->len > MAX_BOUNDARY || b->p[b->len - 1] == ' ')
		return 0;
	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || strchr("'()+_,-./:=? ", c)))
			return 0;
	}
	return 1;
}

/* A Content-ID or start value without its angle brackets. */
static struct slice
msg_id(struct slice s)
{
	if (s.len >= 2 && s.p[0] == '<' && s.p[s.len - 1] == '>') {
		s.p++;
		s.len -= 2;
	}
	return s;
}

static const char *
header_set(struct slice *field, struct slice value, const char *dup)
{
	if (field->p != NULL)
		return dup;
	*field = value;
	return NULL;
}

/* One header line [i, eol) of a part: "name: value". */
static const char *
header_line(const char *b, size_t i, size_t eol, struct part *pt)
{
	struct slice name, value;
	size_t k, start = i;

	while (i < eol && tchar((unsigned char)b[i]))
		i++;
	if (i == start || i == eol || b[i] != ':')
		return "malformed part header";
	name.p = b + start;
	name.len = i - start;
	for (i++; i < eol && ows(b[i]); i++)
		;
	while (eol > i && ows(b[eol - 1]))
		eol--;
	for (k = i; k < eol; k++)
		if (((unsigned char)b[k] < 0x20 && b[k] != '\t') ||
		    b[k] == 0x7f)
			return "control character in a part header";
	value.p = b + i;
	value.len = eol - i;
	if (slice_is(name, "Content-Type"))
		return header_set(&pt->ctype, value,
		                  "duplicate Content-Type in a part");
	if (slice_is(name, "Content-ID"))
		return header_set(&pt->cid, value,
		                  "duplicate Content-ID in a part");
	if (slice_is(name, "Content-Transfer-Encoding"))
		return header_set(
		        &pt->cte, value,
		        "duplicate Content-Transfer-Encoding in a part");
	if (slice_is(name, "Content-Length")) {
		if (pt->cl_end > 0)
			return "duplicate Content-Length in a part";
		pt->cl_start = i;
		pt->cl_end = eol;
	}
	return NULL;
}

/* The headers from `*pos` up to and past their empty line, at most `max`
 * bytes with it. */
static const char *
part_headers(const char *b, size_t len, size_t *pos, size_t max,
             struct part *pt)
{
	size_t start = *pos, i = *pos, lim, eol;
	const char *nl, *why;

	lim = len - start > max ? start + max : len;
	while (!(i + 2 <= lim && b[i] == '\r' && b[i + 1] == '\n')) {
		if (i < lim && ows(b[i]))
			return "folded part header";
		nl = i < lim ? memchr(b + i, '\n', lim - i) : NULL;
		if (nl == NULL)
			return lim < len ? "part headers too large"
			                 : "unterminated part headers";
		eol = (size_t)(nl - b);
		if (eol == i || b[eol - 1] != '\r')
			return "bare LF in part headers";
		why = header_line(b, i, eol - 1, pt);
		if (why != NULL)
			return why;
		i = eol + 1;
	}
	*pos = i + 2;
	return NULL;
}

/* After a delimiter: the close delimiter ("--", then the epilogue), or
 * transport padding and CRLF before the next part. */
static const char *
after_delimiter(const char *b, size_t len, size_t *pos, int *closed)
{
	size_t i = *pos;

	*closed = 0;
	if (i + 2 <= len && b[i] == '-' && b[i + 1] == '-') {
		*closed = 1;
		*pos = len;
		return NULL;
	}
	while (i < len && ows(b[i]))
		i++;
	if (!(i + 2 <= len && b[i] == '\r' && b[i + 1] == '\n'))
		return "malformed boundary line (or the boundary inside a "
		       "part)";
	*pos = i + 2;
	return NULL;
}

static const char *
part_check(const char *b, const struct part *pt)
{
	struct media m;
	size_t k, v = 0;

	if (pt->ctype.p != NULL) {
		if (media_parse(pt->ctype, &m) != NULL)
			return "malformed part Content-Type";
		if (m.type.len >= 10 &&
		    strncasecmp(m.type.p, "multipart/", 10) == 0)
			return "nested multipart";
	}
	if (pt->cid.p != NULL && msg_id(pt->cid).len == 0)
		return "empty Content-ID";
	if (pt->cl_end == 0)
		return NULL;
	/* A part's own length that disagreed would frame it two ways. */
	if (pt->cl_end == pt->cl_start || pt->cl_end - pt->cl_start > 18)
		return "malformed part Content-Length";
	for (k = pt->cl_start; k < pt->cl_end; k++) {
		if (b[k] < '0' || b[k] > '9')
			return "malformed part Content-Length";
		v = v * 10 + (size_t)(b[k] - '0');
	}
	if (v != pt->body_end - pt->body_start)
		return "a part's Content-Length does not match its body";
	return NULL;
}

/* Content-IDs ordered without regard to case: two that differ only in
 * case count as duplicates, as a receiver might match them either way. */
static int
cmp_slice(const void *a, const void *b)
{
	const struct slice *x = a, *y = b;
	int c = strncasecmp(x->p, y->p, x->len < y->len ? x->len : y->len);

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int
slice_case_eq(struct slice a, struct slice b)
{
	return a.len == b.len && strncasecmp(a.p, b.p, a.len) == 0;
}

/* The root part's media type against the message's `type` parameter. */
static const char *
root_check(const struct media *outer, const struct part *root,
           struct wsg_multipart *out)
{
	const struct slice *type = param(outer, "type"), *inner;
	struct media m;

	if (root->ctype.p == NULL)
		return "the root part has no Content-Type";
	if (media_parse(root->ctype, &m) != NULL)
		return "malformed root part Content-Type";
	if (type != NULL && !(type->len == m.type.len &&
	                      strncasecmp(type->p, m.type.p, m.type.len) == 0))
		return "the root part's type is not the message's type";
	if (slice_is(m.type, "application/xop+xml")) {
		inner = param(&m, "type");
		if (inner == NULL)
			return "the XOP root part has no type parameter";
		out->version = soap_version(*inner);
		out->xop = 1;
	} else {
		out->version = soap_version(m.type);
	}
	if (out->version == WSG_SOAP_UNKNOWN)
		return "the root part is not a SOAP envelope";
	if (root->cte.p != NULL && !slice_is(root->cte, "binary") &&
	    !slice_is(root->cte, "8bit") && !slice_is(root->cte, "7bit"))
		return "the root part is transfer-encoded";
	return NULL;
}

/*
 * Notes the `action` parameter of the media type `s` (of the one in its
 * parameter `inner`, when given) in out->action: an upstream may dispatch
 * on any of these, so they must all name the same action. NULL, or why
 * the message is refused.
 */
static const char *
note_action(struct slice s, const char *inner, struct wsg_multipart *out)
{
	struct media m;
	const struct slice *a;
	size_t have = strlen(out->action);

	if (media_parse(s, &m) != NULL)
		return "malformed media type in a parameter";
	if (inner != NULL) {
		a = param(&m, inner);
		return a != NULL ? note_action(*a, NULL, out) : NULL;
	}
	a = param(&m, "action");
	if (a == NULL || a->len == 0)
		return NULL;
	if (a->len > WSG_MULTIPART_MAX_ACTION)
		return "action parameter too long";
	if (have == 0) {
		memcpy(out->action, a->p, a->len);
		out->action[a->len] = '\0';
		return NULL;
	}
	if (have != a->len || memcmp(out->action, a->p, have) != 0)
		return "the media types name different actions";
	return NULL;
}

/* The actions of start-info and of the root part's media types. */
static const char *
root_actions(const struct media *outer, const struct part *root,
             struct wsg_multipart *out)
{
	const struct slice *info = param(outer, "start-info");
	const char *why = NULL;

	if (info != NULL)
		why = note_action(*info, NULL, out);
	if (why == NULL)
		why = note_action(root->ctype, NULL, out);
	if (why == NULL && out->xop)
		why = note_action(root->ctype, "type", out);
	return why;
}

static size_t
or_default(size_t v, size_t def)
{
	return v > 0 ? v : def;
}

/* The parts from the first delimiter on: the root, the count and every
 * Content-ID. */
struct scan {
	const char *b;
	size_t len;
	struct slice delim; /* CRLF "--" boundary */
	const struct slice *start;
	struct part root;
	int have_root;
	struct slice *ids;
	size_t n_ids, n_parts;
	int soap_before_root; /* a SOAP or XOP part precedes the root */
	int record;           /* every part into `all` too */
	struct wsg_multipart_part *all;
	size_t n_all, cap_all;
};

/* One checked part, for wsg_multipart_index(). */
static void
record_part(struct scan *sc, const struct part *pt)
{
	struct wsg_multipart_part *q;
	struct slice id;

	if (sc->n_all == sc->cap_all) {
		sc->cap_all = sc->cap_all > 0 ? sc->cap_all * 2 : 8;
		sc->all = wsg_mem_realloc(sc->all,
		                          sc->cap_all * sizeof(*sc->all));
	}
	q = &sc->all[sc->n_all++];
	memset(q, 0, sizeof(*q));
	if (pt->cid.p != NULL) {
		id = msg_id(pt->cid);
		q->cid_start = (size_t)(id.p - sc->b);
		q->cid_len = id.len;
	}
	q->body_start = pt->body_start;
	q->body_end = pt->body_end;
	q->base64 = pt->cte.p != NULL && slice_is(pt->cte, "base64");
}

/* The first delimiter: at the very start, or at the start of a line. */
static const char *
first_delimiter(struct scan *sc, size_t *pos)
{
	const char *d;

	if (sc->len >= sc->delim.len - 2 &&
	    memcmp(sc->b, sc->delim.p + 2, sc->delim.len - 2) == 0) {
		*pos = sc->delim.len - 2;
		return NULL;
	}
	d = memmem(sc->b, sc->len, sc->delim.p, sc->delim.len);
	if (d == NULL)
		return "no boundary delimiter in the body";
	*pos = (size_t)(d - sc->b) + sc->delim.len;
	return NULL;
}

static int
scan_parts(struct scan *sc, const struct wsg_multipart_limits *lim,
           struct wsg_error *err)
{
	size_t pos, max_parts, max_size, max_hdr, cap = 0, lim_end;
	const char *why, *d;
	int closed;

	max_parts =
	        or_default(lim != NULL ? lim->max_parts : 0, DEFAULT_MAX_PARTS);
	max_size = or_default(lim != NULL ? lim->max_part_size : 0,
	                      DEFAULT_MAX_PART_SIZE);
	max_hdr = or_default(lim != NULL ? lim->max_part_header_size : 0,
	                     DEFAULT_MAX_PART_HEADER_SIZE);
	why = first_delimiter(sc, &pos);
	if (why == NULL)
		why = after_delimiter(sc->b, sc->len, &pos, &closed);
	if (why == NULL && closed)
		why = "no parts";
	while (why == NULL && !closed) {
		struct part pt;

		memset(&pt, 0, sizeof(pt));
		if (++sc->n_parts > max_parts)
			return wsg_error_set(
			        err, WSG_ERR_LIMIT, WSG_FAULT_MULTIPART,
			        "more than max_parts (%zu) parts", max_parts);
		why = part_headers(sc->b, sc->len, &pos, max_hdr, &pt);
		if (why != NULL)
			break;
		/* Looked for no further than the largest part allowed. */
		pt.body_start = pos;
		lim_end = sc->len - pos > max_size + sc->delim.len
		                  ? pos + max_size + sc->delim.len
		                  : sc->len;
		d = memmem(sc->b + pos, lim_end - pos, sc->delim.p,
		           sc->delim.len);
		if (d == NULL && lim_end < sc->len)
			return wsg_error_set(err, WSG_ERR_LIMIT,
			                     WSG_FAULT_MULTIPART,
			                     "a part is larger than "
			                     "max_part_size (%zu bytes)",
			                     max_size);
		if (d == NULL) {
			why = "unterminated part (no close delimiter)";
			break;
		}
		pt.body_end = (size_t)(d - sc->b);
		if (pt.body_end - pt.body_start > max_size)
			return wsg_error_set(err, WSG_ERR_LIMIT,
			                     WSG_FAULT_MULTIPART,
			                     "a part is larger than "
			                     "max_part_size (%zu bytes)",
			                     max_size);
		why = part_check(sc->b, &pt);
		if (why != NULL)
			break;
		if (sc->record)
			record_part(sc, &pt);
		if (pt.cid.p != NULL) {
			if (sc->n_ids == cap) {
				cap = cap > 0 ? cap * 2 : 8;
				sc->ids = wsg_mem_realloc(
				        sc->ids, cap * sizeof(*sc->ids));
			}
			sc->ids[sc->n_ids++] = msg_id(pt.cid);
		}
		if (!sc->have_root &&
		    (sc->start == NULL ||
		     (pt.cid.p != NULL &&
		      slice_eq(msg_id(pt.cid), msg_id(*sc->start))))) {
			sc->root = pt;
			sc->have_root = 1;
		} else if (!sc->have_root && pt.ctype.p != NULL &&
		           (soap_version(pt.ctype) != WSG_SOAP_UNKNOWN ||
		            is_xop(pt.ctype))) {
			sc->soap_before_root = 1;
		}
		pos = pt.body_end + sc->delim.len;
		why = after_delimiter(sc->b, sc->len, &pos, &closed);
	}
	if (why != NULL)
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_MULTIPART,
		                     "%s", why);
	return WSG_OK;
}

/* The checks of wsg_multipart_parse(), the parts kept in sc->all when
 * sc->record (the caller frees them). */
static int
parse_msg(const char *ctype, const char *body, size_t len,
          const struct wsg_multipart_limits *limits, struct wsg_multipart *out,
          struct scan *sc_out, struct wsg_error *err)
{
	struct media outer;
	struct scan sc;
	const struct slice *boundary;
	char delim[4 + MAX_BOUNDARY];
	const char *why;
	size_t k;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&sc, 0, sizeof(sc));
	sc.record = sc_out != NULL;
	why = ctype != NULL ? media_parse(cstr(ctype), &outer)
	                    : "no Content-Type";
	if (why != NULL)
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_MULTIPART,
		                     "Content-Type: %s", why);
	boundary = param(&outer, "boundary");
	if (boundary == NULL || !boundary_ok(boundary))
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_MULTIPART,
		                     "missing or invalid boundary parameter");
	memcpy(delim, "\r\n--", 4);
	memcpy(delim + 4, boundary->p, boundary->len);
	sc.b = body;
	sc.len = len;
	sc.delim.p = delim;
	sc.delim.len = 4 + boundary->len;
	sc.start = param(&outer, "start");
	rc = scan_parts(&sc, limits, err);
	if (rc != WSG_OK)
		goto out;
	if (sc.n_ids > 1)
		qsort(sc.ids, sc.n_ids, sizeof(*sc.ids), cmp_slice);
	for (k = 1; k < sc.n_ids; k++)
		if (slice_case_eq(sc.ids[k - 1], sc.ids[k])) {
			rc = wsg_error_set(err, WSG_ERR_PARSE,
			                   WSG_FAULT_MULTIPART,
			                   "duplicate Content-ID");
			goto out;
		}
	why = sc.have_root ? root_check(&outer, &sc.root, out)
	                   : "no part has the Content-ID of the start "
	                     "parameter";
	/* An upstream that takes the first part for the root, not `start`'s,
	 * would read an envelope the gateway never checked. */
	if (why == NULL && sc.soap_before_root)
		why = "a SOAP part comes before the root part named by start";
	if (why == NULL)
		why = root_actions(&outer, &sc.root, out);
	if (why != NULL) {
		memset(out, 0, sizeof(*out));
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_MULTIPART,
		                   "%s", why);
		goto out;
	}
	out->root_start = sc.root.body_start;
	out->root_end = sc.root.body_end;
	out->cl_start = sc.root.cl_start;
	out->cl_end = sc.root.cl_end;
	out->n_parts = sc.n_parts;
out:
	free(sc.ids);
	if (sc_out != NULL)
		*sc_out = sc;
	else
		free(sc.all);
	return rc;
}

int
wsg_multipart_parse(const char *ctype, const char *body, size_t len,
                    const struct wsg_multipart_limits *limits,
                    struct wsg_multipart *out, struct wsg_error *err)
{
	return parse_msg(ctype, body, len, limits, out, NULL, err);
}

int
wsg_multipart_index(const char *ctype, const char *body, size_t len,
                    const struct wsg_multipart_limits *limits,
                    struct wsg_multipart_part **parts, size_t *n,
                    struct wsg_error *err)
{
	struct wsg_multipart mp;
	struct scan sc;
	int rc;

	*parts = NULL;
	*n = 0;
	rc = parse_msg(ctype, body, len, limits, &mp, &sc, err);
	if (rc != WSG_OK) {
		free(sc.all);
		return rc;
	}
	*parts = sc.all;
	*n = sc.n_all;
	return WSG_OK;
}

static void
add(struct iovec *out, size_t *n, const char *p, size_t len)
{
	if (len == 0)
		return;
	out[*n].iov_base = (void *)(uintptr_t)p;
	out[*n].iov_len = len;
	(*n)++;
}

void
wsg_multipart_relay_parts(struct wsg_multipart *mp, const char *body,
                          size_t len, const struct iovec *root, size_t n_root,
                          struct iovec *out, size_t max, size_t *n)
{
	size_t k, total = 0;

	assert(n_root + WSG_MULTIPART_FRAME_PARTS <= max);
	*n = 0;
	for (k = 0; k < n_root; k++)
		total += root[k].iov_len;
	/* Only a changed length is written again: "04" stays as sent. */
	if (mp->cl_end > 0 && total != mp->root_end - mp->root_start) {
		snprintf(mp->cl, sizeof(mp->cl), "%zu", total);
		add(out, n, body, mp->cl_start);
		add(out, n, mp->cl, strlen(mp->cl));
		add(out, n, body + mp->cl_end, mp->root_start - mp->cl_end);
	} else {
		add(out, n, body, mp->root_start);
	}
	for (k = 0; k < n_root; k++)
		add(out, n, root[k].iov_base, root[k].iov_len);
	add(out, n, body + mp->root_end, len - mp->root_end);
}
