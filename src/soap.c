#include "soap.h"

#include <libxml/catalog.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "mem.h"

/* The WSS fault QNames live in the secext namespace (same value as wsse.h). */
#define NS_WSSE                                                                \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-wssecurity-secext-1.0.xsd"

#define DEFAULT_MAX_DEPTH 100
#define DEFAULT_MAX_ATTRIBUTES 500
#define DEFAULT_MAX_ATTRIBUTE_LEN 65536
#define DEFAULT_MAX_NODES 100000
#define DEFAULT_MAX_NAMESPACES 100
#define DEFAULT_MAX_TOTAL_ATTRIBUTES 200000

/*
 * A thread keeps its parser context (and so its dictionary of names) for the
 * next message while the dictionary's strings fit in libxml2's first four
 * pools (1 000 bytes, then 4x each): names of a hostile message cannot pile
 * up in a worker.
 */
#define REUSE_DICT_MAX (1000 + 4000 + 16000 + 64000)

/* Bytes handed to the push parser at a time (bodies past the look-up limit). */
#define PUSH_CHUNK (256 * 1024)

/*
 * A MustUnderstand fault names at most this many blocks: enough to show the
 * client what failed, bounded whatever the request holds.
 */
#define MAX_NOT_UNDERSTOOD 100

/* Per-parse state, reached from the SAX callbacks through ctxt->_private. */
struct parse_state {
	struct wsg_soap_limits lim;
	size_t depth;
	size_t nodes;
	size_t attributes;  /* attributes and namespace declarations so far */
	size_t ns_in_scope; /* namespace declarations on open elements */
	size_t *ns_at;      /* [depth]: declarations on that open element */
	int stopped;        /* we halted the parser; `reason` says why */
	int code;           /* enum wsg_err for the stop */
	char reason[256];   /* our stop reason, or the first libxml2 error */
	int have_xml_error;
	int oom;       /* libxml2 failed to allocate: the tree may lack parts */
	int in_header; /* inside a depth-2 element named Header */
	int spans_ok;  /* every span so far is an offset of the input */
	struct wsg_soap_span *spans;
	size_t n_spans, cap_spans;
};

static struct parse_state *
state_of(void *ctx)
{
	xmlParserCtxtPtr ctxt = ctx;

	return ctxt->_private;
}

static void stop(void *ctx, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Halts the parser at once; the first stop reason wins. */
static void
stop(void *ctx, int code, const char *fmt, ...)
{
	struct parse_state *st = state_of(ctx);
	va_list ap;

	if (!st->stopped) {
		st->stopped = 1;
		st->code = code;
		va_start(ap, fmt);
		vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
		va_end(ap);
	}
	xmlStopParser(ctx);
}

static void
internal_subset_cb(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                   const xmlChar *sys_id)
{
	stop(ctx, WSG_ERR_PARSE, "DOCTYPE not allowed");
}

static void
external_subset_cb(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                   const xmlChar *sys_id)
{
	stop(ctx, WSG_ERR_PARSE, "DOCTYPE not allowed");
}

static void
entity_decl_cb(void *ctx, const xmlChar *name, int type,
               const xmlChar *public_id, const xmlChar *system_id,
               xmlChar *content)
{
	stop(ctx, WSG_ERR_PARSE, "entity declaration not allowed");
}

static void
unparsed_entity_decl_cb(void *ctx, const xmlChar *name,
                        const xmlChar *public_id, const xmlChar *system_id,
                        const xmlChar *notation)
{
	stop(ctx, WSG_ERR_PARSE, "entity declaration not allowed");
}

static void
notation_decl_cb(void *ctx, const xmlChar *name, const xmlChar *public_id,
                 const xmlChar *system_id)
{
	stop(ctx, WSG_ERR_PARSE, "notation declaration not allowed");
}

static void
element_decl_cb(void *ctx, const xmlChar *name, int type,
                xmlElementContentPtr content)
{
	stop(ctx, WSG_ERR_PARSE, "element declaration not allowed");
}

static void
attribute_decl_cb(void *ctx, const xmlChar *elem, const xmlChar *fullname,
                  int type, int def, const xmlChar *default_value,
                  xmlEnumerationPtr tree)
{
	stop(ctx, WSG_ERR_PARSE, "attribute declaration not allowed");
}

/* Without a DTD no entity exists; never let libxml2 look one up or load one. */
static xmlParserInputPtr
resolve_entity_cb(void *ctx, const xmlChar *public_id, const xmlChar *system_id)
{
	stop(ctx, WSG_ERR_PARSE, "external entity not allowed");
	return NULL;
}

static void
processing_instruction_cb(void *ctx, const xmlChar *target, const xmlChar *data)
{
	stop(ctx, WSG_ERR_PARSE, "processing instruction <?%.40s?> not allowed",
	     (const char *)target);
}

/*
 * Byte offset of the parser's position in the input, or -1 once libxml2
 * converts the input (UTF-16): then offsets no longer map to input bytes.
 */
static long
input_offset(xmlParserCtxtPtr ctxt, const xmlChar *at)
{
	xmlParserInputPtr in = ctxt->input;

	if (in == NULL || in->buf == NULL || in->buf->encoder != NULL ||
	    at < in->base)
		return -1;
	return (long)in->consumed + (long)(at - in->base);
}

/*
 * The last '<' in [base, cur], or NULL. memrchr in growing windows: the
 * tag is short, and sanitizer builds check every byte of a memrchr range
 * first, so one call from `base` for each element would be quadratic there.
 */
static const xmlChar *
last_lt(const xmlChar *base, const xmlChar *cur)
{
	const xmlChar *from = cur + 1, *lo, *lt;
	size_t window = 256;

	while (from > base) {
		lo = (size_t)(from - base) > window ? from - window : base;
		lt = memrchr(lo, '<', (size_t)(from - lo));
		if (lt != NULL)
			return lt;
		from = lo;
		window *= 2;
	}
	return NULL;
}

/*
 * Records where a child element of Header starts (SAX start: the parser
 * stands at the '>' or "/>" of its start tag, and an attribute value holds
 * no literal '<', so the tag begins at the last '<'). Forwarding can then
 * drop removed blocks from the client's bytes instead of serialising the
 * tree again (wsg_soap_relay()).
 */
static void
span_open(xmlParserCtxtPtr ctxt, struct parse_state *st)
{
	const xmlChar *cur = ctxt->input != NULL ? ctxt->input->cur : NULL;
	const xmlChar *lt;
	long at;

	if (!st->spans_ok || cur == NULL || ctxt->node == NULL)
		return;
	lt = cur >= ctxt->input->base ? last_lt(ctxt->input->base, cur) : NULL;
	if (lt == NULL || (at = input_offset(ctxt, lt)) < 0) {
		st->spans_ok = 0;
		return;
	}
	if (st->n_spans == st->cap_spans) {
		st->cap_spans = st->cap_spans ? 2 * st->cap_spans : 4;
		st->spans = wsg_mem_realloc(st->spans,
		                            st->cap_spans * sizeof(*st->spans));
	}
	st->spans[st->n_spans].node = ctxt->node;
	st->spans[st->n_spans].start = (size_t)at;
	st->spans[st->n_spans].end = 0;
	st->spans[st->n_spans].removed = 0;
	st->n_spans++;
}

/* SAX end: the parser stands just past the end tag's '>' (or "/>"). */
static void
span_close(xmlParserCtxtPtr ctxt, struct parse_state *st)
{
	struct wsg_soap_span *sp;
	long at;

	if (!st->spans_ok || st->n_spans == 0)
		return;
	sp = &st->spans[st->n_spans - 1];
	at = ctxt->input != NULL ? input_offset(ctxt, ctxt->input->cur) : -1;
	if (sp->node != ctxt->node || at < 0 || (size_t)at <= sp->start)
		st->spans_ok = 0;
	else
		sp->end = (size_t)at;
}

static void
start_element_cb(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                 const xmlChar *uri, int nb_namespaces,
                 const xmlChar **namespaces, int nb_attributes,
                 int nb_defaulted, const xmlChar **attributes)
{
	struct parse_state *st = state_of(ctx);
	size_t i, n, vlen;

	st->depth++;
	st->nodes++;
	if (st->depth > st->lim.max_depth) {
		stop(ctx, WSG_ERR_LIMIT,
		     "element depth %zu exceeds max_depth %zu", st->depth,
		     st->lim.max_depth);
		return;
	}
	if (st->nodes > st->lim.max_nodes) {
		stop(ctx, WSG_ERR_LIMIT,
		     "element count %zu exceeds max_nodes %zu", st->nodes,
		     st->lim.max_nodes);
		return;
	}
	/* libxml2 2.9.14 looks every prefix up through all declarations in
	 * scope, so their number multiplies the cost of each element. */
	st->ns_at[st->depth] = (size_t)nb_namespaces;
	st->ns_in_scope += (size_t)nb_namespaces;
	if (st->ns_in_scope > st->lim.max_namespaces) {
		stop(ctx, WSG_ERR_LIMIT,
		     "%zu namespace declarations in scope at <%.64s>, exceeds "
		     "max_namespaces %zu",
		     st->ns_in_scope, (const char *)localname,
		     st->lim.max_namespaces);
		return;
	}
	n = (size_t)nb_attributes + (size_t)nb_namespaces;
	if (n > st->lim.max_attributes) {
		stop(ctx, WSG_ERR_LIMIT,
		     "element <%.64s> has %zu attributes and namespace "
		     "declarations, exceeds max_attributes %zu",
		     (const char *)localname, n, st->lim.max_attributes);
		return;
	}
	/* libxml2 allocates nodes for each attribute and declaration and
	 * walks the element's list to append it: bound the sum, not just each
	 * element's. */
	st->attributes += (size_t)nb_attributes + (size_t)nb_namespaces;
	if (st->attributes > st->lim.max_total_attributes) {
		stop(ctx, WSG_ERR_LIMIT,
		     "%zu attributes and namespace declarations in the "
		     "document, exceeds max_total_attributes %zu",
		     st->attributes, st->lim.max_total_attributes);
		return;
	}
	for (i = 0; i < (size_t)nb_attributes; i++) {
		vlen = (size_t)(attributes[i * 5 + 4] - attributes[i * 5 + 3]);
		if (vlen > st->lim.max_attribute_len) {
			stop(ctx, WSG_ERR_LIMIT,
			     "attribute %.64s on <%.64s> is %zu bytes, exceeds "
			     "max_attribute_len %zu",
			     (const char *)attributes[i * 5],
			     (const char *)localname, vlen,
			     st->lim.max_attribute_len);
			return;
		}
	}
	for (i = 0; i < (size_t)nb_namespaces; i++) {
		const xmlChar *href = namespaces[i * 2 + 1];

		vlen = href != NULL ? strlen((const char *)href) : 0;
		if (vlen > st->lim.max_attribute_len) {
			stop(ctx, WSG_ERR_LIMIT,
			     "namespace declaration on <%.64s> is %zu bytes, "
			     "exceeds max_attribute_len %zu",
			     (const char *)localname, vlen,
			     st->lim.max_attribute_len);
			return;
		}
	}
	xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces,
	                      namespaces, nb_attributes, nb_defaulted,
	                      attributes);
	if (st->depth == 2)
		st->in_header = strcmp((const char *)localname, "Header") == 0;
	else if (st->depth == 3 && st->in_header)
		span_open(ctx, st);
}

static void
end_element_cb(void *ctx, const xmlChar *localname, const xmlChar *prefix,
               const xmlChar *uri)
{
	struct parse_state *st = state_of(ctx);

	if (st->depth == 3 && st->in_header)
		span_close(ctx, st);
	if (st->depth > 0) {
		st->ns_in_scope -= st->ns_at[st->depth];
		st->depth--;
	}
	xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/*
 * libxml2 ran out of memory. SAX2 reports its own 10 MB cap on a text node
 * (XML_MAX_TEXT_LENGTH) with the same code, "huge text node": that is the
 * client's input, refused as malformed, not a shortage of memory.
 */
static int
is_oom(const xmlError *e)
{
	return e != NULL && e->code == XML_ERR_NO_MEMORY &&
	       !(e->str1 != NULL &&
	         strstr(e->str1, "huge text node") != NULL) &&
	       !(e->message != NULL &&
	         strstr(e->message, "huge text node") != NULL);
}

/*
 * Keeps the first libxml2 error for err->reason instead of printing it.
 * Only the first line is kept: encoding errors append raw input bytes.
 */
static void
structured_error_cb(void *ctx, xmlErrorPtr e)
{
	struct parse_state *st = state_of(ctx);
	const char *msg;
	size_t n;

	if (is_oom(e))
		st->oom = 1;
	if (st->stopped || st->have_xml_error || e == NULL ||
	    e->level < XML_ERR_ERROR)
		return;
	st->have_xml_error = 1;
	msg = e->message != NULL ? e->message : "unknown error";
	n = strcspn(msg, "\n");
	snprintf(st->reason, sizeof(st->reason),
	         "malformed XML at line %d column %d: %.*s", e->line, e->int2,
	         (int)(n > 200 ? 200 : n), msg);
}

/* The thread's handler during a parse: errors raised outside the parser
 * (tree building) arrive here, not at structured_error_cb(). */
static void
oom_watch_cb(void *ctx, xmlErrorPtr e)
{
	struct parse_state *st = ctx;

	if (is_oom(e))
		st->oom = 1;
}

static void
init_sax(xmlSAXHandler *sax)
{
	xmlSAXVersion(sax, 2);
	sax->internalSubset = internal_subset_cb;
	sax->externalSubset = external_subset_cb;
	sax->entityDecl = entity_decl_cb;
	sax->unparsedEntityDecl = unparsed_entity_decl_cb;
	sax->notationDecl = notation_decl_cb;
	sax->elementDecl = element_decl_cb;
	sax->attributeDecl = attribute_decl_cb;
	sax->resolveEntity = resolve_entity_cb;
	sax->processingInstruction = processing_instruction_cb;
	sax->startElementNs = start_element_cb;
	sax->endElementNs = end_element_cb;
	sax->serror = structured_error_cb;
}

static void
limits_of(const struct wsg_soap_limits *in, struct wsg_soap_limits *out)
{
	out->max_depth =
	        in && in->max_depth ? in->max_depth : DEFAULT_MAX_DEPTH;
	out->max_attributes = in && in->max_attributes ? in->max_attributes
	                                               : DEFAULT_MAX_ATTRIBUTES;
	out->max_attribute_len = in && in->max_attribute_len
	                                 ? in->max_attribute_len
	                                 : DEFAULT_MAX_ATTRIBUTE_LEN;
	out->max_nodes =
	        in && in->max_nodes ? in->max_nodes : DEFAULT_MAX_NODES;
	out->max_namespaces = in && in->max_namespaces ? in->max_namespaces
	                                               : DEFAULT_MAX_NAMESPACES;
	out->max_total_attributes = in && in->max_total_attributes
	                                    ? in->max_total_attributes
	                                    : DEFAULT_MAX_TOTAL_ATTRIBUTES;
}

static int
is_ns(xmlNodePtr n, const char *href)
{
	return n->ns != NULL && n->ns->href != NULL &&
	       strcmp((const char *)n->ns->href, href) == 0;
}

int
wsg_soap_is_element(xmlNodePtr n, const char *href, const char *name)
{
	/* The local name first: it tells most elements apart, in fewer
	 * bytes than a namespace URI. */
	return n->type == XML_ELEMENT_NODE &&
	       strcmp((const char *)n->name, name) == 0 && is_ns(n, href);
}

xmlNodePtr
wsg_soap_first_child(xmlNodePtr e, const char *href, const char *name)
{
	xmlNodePtr n;

	for (n = e != NULL ? e->children : NULL; n != NULL; n = n->next)
		if (wsg_soap_is_element(n, href, name))
			return n;
	return NULL;
}

static int
is_xml_space(const xmlChar *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return 0;
	return 1;
}

/* Envelope children: optional Header, then Body; 1.1 allows qualified trailers.
 */
static int
check_envelope(struct wsg_soap_msg *m, struct wsg_error *err)
{
	const char *ns =
	        m->version == WSG_SOAP_12 ? WSG_NS_SOAP12 : WSG_NS_SOAP11;
	xmlNodePtr n;

	for (n = m->envelope->children; n != NULL; n = n->next) {
		if (n->type == XML_TEXT_NODE ||
		    n->type == XML_CDATA_SECTION_NODE) {
			if (!is_xml_space(n->content))
				return wsg_error_set(err, WSG_ERR_PARSE,
				                     WSG_FAULT_CLIENT,
				                     "text content directly "
				                     "inside Envelope");
			continue;
		}
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (m->body != NULL) {
			if (m->version == WSG_SOAP_12)
				return wsg_error_set(
				        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
				        "element <%.64s> after Body (SOAP 1.2 "
				        "allows none)",
				        (const char *)n->name);
			if (n->ns == NULL || is_ns(n, ns))
				return wsg_error_set(
				        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
				        "element <%.64s> after Body must be "
				        "namespace-qualified and not a SOAP "
				        "element",
				        (const char *)n->name);
			continue;
		}
		if (wsg_soap_is_element(n, ns, "Header")) {
			if (m->header != NULL)
				return wsg_error_set(
				        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
				        "two Header elements in Envelope");
			m->header = n;
			continue;
		}
		if (wsg_soap_is_element(n, ns, "Body")) {
			m->body = n;
			continue;
		}
		return wsg_error_set(
		        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		        "unexpected element <%.64s> in Envelope before Body",
		        (const char *)n->name);
	}
	if (m->body == NULL)
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "Envelope has no Body");
	return WSG_OK;
}

/* How the raw bytes are laid out, from the BOM or the first characters. */
struct raw_text {
	const unsigned char *p;
	size_t len;
	size_t start; /* first character after any BOM */
	int utf16;
	int big_endian;
};

static inline int
raw_char(const struct raw_text *t, size_t i)
{
	size_t off = t->start + i * (t->utf16 ? 2 : 1);

	if (!t->utf16)
		return off < t->len ? t->p[off] : -1;
	if (off + 1 >= t->len)
		return -1;
	return t->big_endian ? t->p[off] << 8 | t->p[off + 1]
	                     : t->p[off + 1] << 8 | t->p[off];
}

static int
raw_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
allowed_encoding(const char *name)
{
	return strcasecmp(name, "UTF-8") == 0 ||
	       strcasecmp(name, "UTF8") == 0 ||
	       strcasecmp(name, "UTF-16") == 0 ||
	       strcasecmp(name, "UTF16") == 0;
}

/*
 * Every encoding="..." inside a leading XML declaration must name UTF-8 or
 * UTF-16 (WS-I BP R1012). Other names would route the input through
 * iconv/ICU, whose conversion errors libxml2 prints instead of reporting.
 */
static int
check_declared_encoding(const struct raw_text *t, struct wsg_error *err)
{
	static const char xml_decl[] = "<?xml", key[] = "encoding";
	char name[48];
	size_t i, j, n;
	int c, q;

	for (i = 0; i < 5; i++)
		if (raw_char(t, i) != xml_decl[i])
			return WSG_OK;
	for (; (c = raw_char(t, i)) >= 0 && c != '>'; i++) {
		for (j = 0; j < 8 && raw_char(t, i + j) == key[j]; j++)
			;
		if (j < 8)
			continue;
		for (j = i + 8; raw_is_space(raw_char(t, j)); j++)
			;
		if (raw_char(t, j++) != '=')
			continue;
		while (raw_is_space(raw_char(t, j)))
			j++;
		q = raw_char(t, j++);
		if (q != '"' && q != '\'')
			continue;
		for (n = 0; (c = raw_char(t, j)) >= 0 && c != q &&
		            n + 1 < sizeof(name);
		     j++)
			name[n++] = c > 0x20 && c < 0x7F ? (char)c : '?';
		name[n] = '\0';
		if (c != q || !allowed_encoding(name))
			return wsg_error_set(
			        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
			        "encoding \"%s\" not allowed (SOAP messages "
			        "are UTF-8 or UTF-16)",
			        name);
	}
	return WSG_OK;
}

/*
 * Accepts UTF-8 (with or without BOM) and UTF-16 (BOM or "<?" pattern) with
 * well-formed surrogate pairs; refuses UCS-4 and EBCDIC outright.
 */
static int
check_encoding(const char *buf, size_t len, struct raw_text *out,
               struct wsg_error *err)
{
	struct raw_text t = {(const unsigned char *)buf, len, 0, 0, 0};
	const unsigned char *u = t.p;
	size_t i;
	int c, next;

	if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE) {
		t.utf16 = 1;
		t.start = 2;
	} else if (len >= 2 && u[0] == 0xFE && u[1] == 0xFF) {
		t.utf16 = t.big_endian = 1;
		t.start = 2;
	} else if (len >= 4 && u[0] == '<' && u[1] == 0 && u[2] == '?' &&
	           u[3] == 0) {
		t.utf16 = 1;
	} else if (len >= 4 && u[0] == 0 && u[1] == '<' && u[2] == 0 &&
	           u[3] == '?') {
		t.utf16 = t.big_endian = 1;
	} else if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
		t.start = 3;
	} else if (len >= 4 &&
	           ((u[0] == 0 && u[1] == 0) || (u[2] == 0 && u[3] == 0) ||
	            (u[0] == 0x4C && u[1] == 0x6F && u[2] == 0xA7 &&
	             u[3] == 0x94))) {
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "UCS-4 or EBCDIC input not allowed (SOAP "
		                     "messages are UTF-8 or UTF-16)");
	}
	if (t.utf16) {
		if ((len - t.start) % 2 != 0)
			return wsg_error_set(
			        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
			        "UTF-16 input has an odd number of bytes");
		for (i = 0; (c = raw_char(&t, i)) >= 0; i++) {
			if (c >= 0xDC00 && c <= 0xDFFF)
				return wsg_error_set(
				        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
				        "invalid UTF-16: unpaired low "
				        "surrogate at character %zu",
				        i);
			if (c < 0xD800 || c > 0xDBFF)
				continue;
			next = raw_char(&t, ++i);
			if (next < 0xDC00 || next > 0xDFFF)
				return wsg_error_set(
				        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
				        "invalid UTF-16: unpaired high "
				        "surrogate at character %zu",
				        i - 1);
		}
	}
	*out = t;
	return check_declared_encoding(&t, err);
}

/* Index of the first `c` at or after `i` (characters), or -1. */
static long
raw_find(const struct raw_text *t, size_t i, int c)
{
	const unsigned char *at;
	int ch;

	/* memchr: attribute values and text are most of a message's bytes. */
	if (!t->utf16) {
		if (t->start + i >= t->len)
			return -1;
		at = memchr(t->p + t->start + i, c, t->len - t->start - i);
		return at != NULL ? (long)(at - t->p - (long)t->start) : -1;
	}
	for (; (ch = raw_char(t, i)) >= 0; i++)
		if (ch == c)
			return (long)i;
	return -1;
}

static int
is_tag_mark(int c)
{
	return c == '"' || c == '\'' || c == '=' || c == '>';
}

/* Index of the next character inside a tag that matters to the count. */
static long
raw_find_tag_mark(const struct raw_text *t, size_t i)
{
	int ch;

	/* UTF-8 skips raw_char(): this loop sees every byte of every name. */
	if (!t->utf16) {
		for (; t->start + i < t->len; i++)
			if (is_tag_mark(t->p[t->start + i]))
				return (long)i;
		return -1;
	}
	for (; (ch = raw_char(t, i)) >= 0; i++)
		if (is_tag_mark(ch))
			return (long)i;
	return -1;
}

/* Whether the characters at `i` spell the ASCII string `s`. */
static int
raw_at(const struct raw_text *t, size_t i, const char *s)
{
	for (; *s != '\0'; s++, i++)
		if (raw_char(t, i) != (unsigned char)*s)
			return 0;
	return 1;
}

/* Index just past the first `end` at or after `i`, or -1. */
static long
raw_skip_past(const struct raw_text *t, size_t i, const char *end)
{
	long at;

	while ((at = raw_find(t, i, (unsigned char)end[0])) >= 0) {
		if (raw_at(t, (size_t)at, end))
			return at + (long)strlen(end);
		i = (size_t)at + 1;
	}
	return -1;
}

/*
 * Counts the attributes of every start tag in one linear pass before
 * libxml2 sees the bytes: libxml2 2.9.14 checks duplicate attributes in
 * quadratic time, so 400 000 attributes on one tag would hold a worker for
 * half a minute before the SAX cap could fire. Counts '=' outside quoted
 * values, skipping comments, CDATA, PIs and declarations; the real parse
 * still judges well-formedness.
 */
static int
check_attribute_counts(const struct raw_text *t, size_t max_attributes,
                       struct wsg_error *err)
{
	long at = 0;
	size_t i, count;
	int c;

	while ((at = raw_find(t, (size_t)at, '<')) >= 0) {
		i = (size_t)at + 1;
		if (raw_at(t, i, "!--"))
			at = raw_skip_past(t, i + 3, "-->");
		else if (raw_at(t, i, "![CDATA["))
			at = raw_skip_past(t, i + 8, "]]>");
		else if (raw_at(t, i, "?"))
			at = raw_skip_past(t, i + 1, "?>");
		else if (raw_at(t, i, "!") || raw_at(t, i, "/"))
			at = raw_skip_past(t, i + 1, ">");
		else {
			count = 0;
			while ((at = raw_find_tag_mark(t, i)) >= 0) {
				c = raw_char(t, (size_t)at);
				if (c == '>')
					break;
				if (c == '=' && ++count > max_attributes)
					return wsg_error_set(
					        err, WSG_ERR_LIMIT,
					        WSG_FAULT_CLIENT,
					        "an element has %zu attributes "
					        "and namespace declarations, "
					        "exceeds max_attributes %zu",
					        count, max_attributes);
				if (c != '=' &&
				    (at = raw_find(t, (size_t)at + 1, c)) < 0)
					break;
				i = (size_t)at + 1;
			}
			if (at >= 0)
				at++;
		}
		if (at < 0)
			break;
	}
	return WSG_OK;
}

/*
 * Whether any tag could hold more than `max` attributes: each one needs an
 * '=' (in UTF-16 too, as a 0x3D byte), so with no more than `max` of them
 * in the whole input the exact scan above cannot refuse and is skipped.
 */
static int
may_exceed_attributes(const char *buf, size_t len, size_t max)
{
	const char *p = buf, *end = buf + len;
	size_t n = 0;

	while ((p = memchr(p, '=', (size_t)(end - p))) != NULL) {
		if (++n > max)
			return 1;
		p++;
	}
	return 0;
}

/* Each thread's idle parser context for pulled bodies, or NULL. */
static pthread_once_t ctxt_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctxt_key;

static void
free_ctxt_cb(void *ctxt)
{
	xmlFreeParserCtxt(ctxt);
}

static void
make_ctxt_key(void)
{
	if (pthread_key_create(&ctxt_key, free_ctxt_cb) != 0)
		abort();
}

void
wsg_soap_global_init(void)
{
	xmlInitParser();
	pthread_once(&ctxt_key_once, make_ctxt_key);
}

void
wsg_soap_global_cleanup(void)
{
	xmlParserCtxtPtr ctxt;

	pthread_once(&ctxt_key_once, make_ctxt_key);
	ctxt = pthread_getspecific(ctxt_key);
	pthread_setspecific(ctxt_key, NULL);
	if (ctxt != NULL)
		xmlFreeParserCtxt(ctxt);
	xmlCleanupParser();
}

static void
setup_ctxt(xmlParserCtxtPtr ctxt, struct parse_state *st)
{
	init_sax(ctxt->sax);
	ctxt->_private = st;
	/* Never NOENT, DTDLOAD or HUGE: entities stay unexpanded, caps stay on.
	 * COMPACT keeps text of under 16 bytes inside its node (no allocation;
	 * nothing here edits text nodes, which it would forbid). */
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR |
	                                XML_PARSE_NOWARNING |
	                                XML_PARSE_COMPACT);
}

/*
 * The calling thread's parser context, reset, or a new one (NULL when out
 * of memory). Creating one and its dictionary, and interning every name
 * afresh, cost more than parsing a small envelope.
 */
static xmlParserCtxtPtr
ctxt_acquire(struct parse_state *st)
{
	xmlParserCtxtPtr ctxt;

	pthread_once(&ctxt_key_once, make_ctxt_key);
	ctxt = pthread_getspecific(ctxt_key);
	if (ctxt == NULL) {
		ctxt = xmlNewParserCtxt();
		if (ctxt != NULL)
			setup_ctxt(ctxt, st);
		return ctxt;
	}
	pthread_setspecific(ctxt_key, NULL);
	/* libxml2 2.9.14's reset forgets a catalog PI's list (a leak) and
	 * keeps the namespace bindings and text-node state of a parse that
	 * stopped mid-element, which would resolve the next message's
	 * prefixes: both are cleared here (test_soap.c, context reuse). */
	if (ctxt->catalogs != NULL)
		xmlCatalogFreeLocal(ctxt->catalogs);
	ctxt->catalogs = NULL;
	xmlCtxtReset(ctxt);
	ctxt->nsNr = 0;
	ctxt->nodelen = 0;
	ctxt->nodemem = 0;
	/* The names kept from earlier messages do not count against this
	 * one's dictionary limit. */
	xmlDictSetLimit(ctxt->dict,
	                XML_MAX_DICTIONARY_LIMIT + xmlDictGetUsage(ctxt->dict));
	ctxt->_private = st;
	return ctxt;
}

/* Keeps `ctxt` for the thread's next message, or frees it. */
static void
ctxt_release(xmlParserCtxtPtr ctxt)
{
	ctxt->_private = NULL;
	if (xmlDictGetUsage(ctxt->dict) <= REUSE_DICT_MAX &&
	    pthread_getspecific(ctxt_key) == NULL &&
	    pthread_setspecific(ctxt_key, ctxt) == 0)
		return;
	xmlFreeParserCtxt(ctxt);
}

/*
 * Parses the whole body from memory; returns the context (caller frees) or
 * NULL when out of memory.
 */
static xmlParserCtxtPtr
parse_pull(const char *buf, size_t len, int utf16, struct parse_state *st)
{
	xmlParserCtxtPtr ctxt = ctxt_acquire(st);
	xmlParserInputBufferPtr input;
	xmlParserInputPtr stream;

	if (ctxt == NULL)
		return NULL;
	/* What xmlCtxtReadMemory() does, except that UTF-8 input, all of it
	 * in the buffer already, gets no read callback: libxml2 would
	 * otherwise try to grow the buffer at almost every token (6 % of a
	 * proxied request's instructions, bench/README.md). UTF-16 keeps it:
	 * the conversion runs through it. */
	input = xmlParserInputBufferCreateMem(buf, (int)len,
	                                      XML_CHAR_ENCODING_NONE);
	if (input == NULL ||
	    (stream = xmlNewIOInputStream(ctxt, input,
	                                  XML_CHAR_ENCODING_NONE)) == NULL) {
		xmlFreeParserInputBuffer(input);
		ctxt_release(ctxt);
		return NULL;
	}
	if (!utf16)
		input->readcallback = NULL;
	/* With no read callback, libxml2 2.9.14's GROW and SHRINK (the only
	 * users of `progressive` outside the push parser) have nothing to
	 * do but still ran before almost every token: 7 % of a message. Its
	 * huge-lookup check cannot fire either: bodies past 10 MB are pushed.
	 * Set on every parse: xmlCtxtReset() leaves it. */
	ctxt->progressive = !utf16;
	inputPush(ctxt, stream);
	xmlParseDocument(ctxt);
	return ctxt;
}

/*
 * The same through the push parser, for bodies past XML_MAX_LOOKUP_LIMIT
 * (10 MB): libxml2 2.9.14 refuses to stand that far into a pulled input
 * ("Huge input lookup") unless XML_PARSE_HUGE, which would also lift the
 * caps on hostile input, while the push parser drops what it has parsed.
 * Only a single token (tag, comment, CDATA section, text node) of over
 * XML_MAX_TEXT_LENGTH (10 MB) is still refused.
 */
static xmlParserCtxtPtr
parse_push(const char *buf, size_t len, struct parse_state *st)
{
	xmlParserCtxtPtr ctxt =
	        xmlCreatePushParserCtxt(NULL, NULL, NULL, 0, NULL);
	size_t off, n;

	if (ctxt == NULL)
		return NULL;
	setup_ctxt(ctxt, st);
	for (off = 0; off < len; off += n) {
		n = len - off < PUSH_CHUNK ? len - off : PUSH_CHUNK;
		if (xmlParseChunk(ctxt, buf + off, (int)n, 0) != 0)
			break;
	}
	/* A halted push parser keeps the tree it had: never a document. */
	if (off < len || xmlParseChunk(ctxt, NULL, 0, 1) != 0)
		ctxt->wellFormed = 0;
	return ctxt;
}

/* What is refused before libxml2 sees a byte: no body, one too large for
 * it, an encoding we do not read, too many attributes on one element. */
static int
check_input(const char *buf, size_t len, const struct wsg_soap_limits *lim,
            struct raw_text *raw, struct wsg_error *err)
{
	int rc;

	if (len == 0)
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "empty request body");
	if (len > INT_MAX)
		return wsg_error_set(
		        err, WSG_ERR_LIMIT, WSG_FAULT_CLIENT,
		        "request body of %zu bytes is too large to parse", len);
	rc = check_encoding(buf, len, raw, err);
	if (rc == WSG_OK &&
	    may_exceed_attributes(buf, len, lim->max_attributes))
		rc = check_attribute_counts(raw, lim->max_attributes, err);
	return rc;
}

/* The parser's tree when nothing was refused (`*out`, the caller's). */
static int
take_document(xmlParserCtxtPtr ctxt, const struct parse_state *st,
              xmlDocPtr *out, struct wsg_error *err)
{
	xmlDocPtr doc = ctxt->myDoc;
	int rc = WSG_OK;

	*out = NULL;
	ctxt->myDoc = NULL;
	/* A tree built while libxml2 ran out of memory may lack parts (the
	 * context is not kept either: it may hold half of this parse). */
	if (st->oom)
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
		                   "out of memory while parsing the envelope");
	/* libxml2 builds a tree despite namespace errors (undeclared prefix),
	 * and keeps the part it had when SAX2 refuses a text node of over
	 * XML_MAX_TEXT_LENGTH (10 MB): any error refuses the document. */
	else if (st->stopped)
		rc = wsg_error_set(err, st->code, WSG_FAULT_CLIENT, "%s",
		                   st->reason);
	else if (doc == NULL || !ctxt->wellFormed || !ctxt->nsWellFormed ||
	         st->have_xml_error)
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT, "%s",
		                   st->have_xml_error ? st->reason
		                                      : "malformed XML");
	/* Defence in depth: the SAX hooks already refuse any DTD. */
	else if (doc->intSubset != NULL || doc->extSubset != NULL)
		rc = wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                   "DOCTYPE not allowed");
	if (rc == WSG_OK)
		*out = doc;
	else if (doc != NULL)
		xmlFreeDoc(doc);
	return rc;
}

/* The Envelope of `doc`: its SOAP version from its namespace, then its
 * structure. `m` borrows `doc`. */
static int
read_envelope(xmlDocPtr doc, struct wsg_soap_msg *m, struct wsg_error *err)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	if (root == NULL || strcmp((const char *)root->name, "Envelope") != 0)
		return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
		                     "root element is <%.64s>, not Envelope",
		                     root != NULL ? (const char *)root->name
		                                  : "");
	if (is_ns(root, WSG_NS_SOAP11))
		m->version = WSG_SOAP_11;
	else if (is_ns(root, WSG_NS_SOAP12))
		m->version = WSG_SOAP_12;
	else
		return wsg_error_set(
		        err, WSG_ERR_PARSE, WSG_FAULT_VERSION_MISMATCH,
		        "Envelope namespace \"%.128s\" is neither SOAP 1.1 nor "
		        "SOAP 1.2",
		        root->ns != NULL ? (const char *)root->ns->href : "");
	m->doc = doc;
	m->envelope = root;
	return check_envelope(m, err);
}

/*
 * The hardened parse shared by envelopes and other documents: the input
 * checks, the caps, no DTD, no network. On success `*doc` is the caller's
 * and `*raw` says how the input was encoded; `st` keeps what the SAX hooks
 * saw (the caller frees st->spans).
 */
static int
parse_tree(const char *buf, size_t len, const struct wsg_soap_limits *limits,
           struct parse_state *st, struct raw_text *raw, xmlDocPtr *doc,
           struct wsg_error *err)
{
	xmlParserCtxtPtr ctxt = NULL;
	int rc, pushed = 0;

	*doc = NULL;
	memset(st, 0, sizeof(*st));
	limits_of(limits, &st->lim);
	st->spans_ok = 1;
	rc = check_input(buf, len, &st->lim, raw, err);
	if (rc != WSG_OK)
		goto out;
	st->ns_at = wsg_mem_calloc(st->lim.max_depth + 1, sizeof(*st->ns_at));
	/* libxml2 reports many allocation failures (a namespace declaration,
	 * an attribute) to the thread's error handler only, and goes on with a
	 * tree that lacks that part: such a tree differs from the bytes the
	 * upstream gets and is never accepted (test_soap_oom.c). */
	xmlSetStructuredErrorFunc(st, oom_watch_cb);
	/* UTF-16 grows by up to half when libxml2 converts it to UTF-8. */
	pushed = (raw->utf16 ? len / 2 * 3 : len) > XML_MAX_LOOKUP_LIMIT;
	if (pushed)
		ctxt = parse_push(buf, len, st);
	else
		ctxt = parse_pull(buf, len, raw->utf16, st);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (ctxt == NULL) {
		rc = wsg_error_set(err, WSG_ERR_NOMEM, WSG_FAULT_SERVER,
		                   "cannot create an XML parser");
		goto out;
	}
	rc = take_document(ctxt, st, doc, err);
out:
	free(st->ns_at);
	st->ns_at = NULL;
	if (ctxt != NULL && (pushed || st->oom))
		xmlFreeParserCtxt(ctxt);
	else if (ctxt != NULL)
		ctxt_release(ctxt);
	return rc;
}

int
wsg_soap_parse(const char *buf, size_t len,
               const struct wsg_soap_limits *limits, struct wsg_soap_msg *out,
               struct wsg_error *err)
{
	struct parse_state st;
	struct wsg_soap_msg m;
	xmlDocPtr doc = NULL;
	struct raw_text raw;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	rc = parse_tree(buf, len, limits, &st, &raw, &doc, err);
	if (rc == WSG_OK)
		rc = read_envelope(doc, &m, err);
	if (rc != WSG_OK)
		goto out;
	/* libxml2 records -1 when there was no declaration, -2 or 0/1
	 * otherwise. */
	m.has_xml_decl = doc->standalone != -1;
	/* Written back as read: UTF-16 stays UTF-16, UTF-8 keeps its declared
	 * spelling. */
	m.encoding = wsg_mem_strdup(raw.utf16 ? "UTF-16"
	                            : doc->encoding != NULL
	                                    ? (const char *)doc->encoding
	                                    : "UTF-8");
	m.spans_ok = st.spans_ok && !raw.utf16;
	m.spans = st.spans;
	m.n_spans = st.n_spans;
	st.spans = NULL;
	*out = m;
	doc = NULL;
out:
	free(st.spans);
	if (doc != NULL)
		xmlFreeDoc(doc);
	return rc;
}

int
wsg_soap_parse_xml(const char *buf, size_t len,
                   const struct wsg_soap_limits *limits, xmlDocPtr *out,
                   struct wsg_error *err)
{
	struct parse_state st;
	struct raw_text raw;
	int rc;

	rc = parse_tree(buf, len, limits, &st, &raw, out, err);
	free(st.spans);
	return rc;
}

void
wsg_soap_msg_free(struct wsg_soap_msg *m)
{
	if (m == NULL)
		return;
	if (m->doc != NULL)
		xmlFreeDoc(m->doc);
	free(m->encoding);
	free(m->spans);
	memset(m, 0, sizeof(*m));
}

void
wsg_soap_remove_header(struct wsg_soap_msg *m, xmlNodePtr header)
{
	size_t i, k;

	/* Blocks are removed in document order: searching on from the last
	 * one found keeps removing all of them linear. */
	for (k = 0; k < m->n_spans; k++) {
		i = (m->span_hint + k) % m->n_spans;
		if (m->spans[i].node == header)
			break;
	}
	if (k < m->n_spans) {
		m->spans[i].removed = 1;
		m->span_hint = i + 1;
	} else {
		m->spans_ok = 0;
	}
	xmlUnlinkNode(header);
	xmlFreeNode(header);
}

/* Whether the recorded spans frame elements of exactly these bytes, so
 * the input minus the removed ones is the envelope to forward. */
static int
spans_usable(const struct wsg_soap_msg *m, const char *in, size_t len)
{
	size_t i, from = 0;

	for (i = 0; m->spans_ok && i < m->n_spans; i++) {
		const struct wsg_soap_span *sp = &m->spans[i];

		if (sp->removed &&
		    (sp->start < from || sp->end > len ||
		     sp->end <= sp->start || in[sp->start] != '<' ||
		     in[sp->end - 1] != '>'))
			return 0;
		if (sp->removed)
			from = sp->end;
	}
	return m->spans_ok && !m->rewritten;
}

int
wsg_soap_relay_parts(const struct wsg_soap_msg *m, const char *in, size_t len,
                     struct iovec *parts, size_t max, size_t *n)
{
	size_t i, from = 0;

	*n = 0;
	if (m == NULL || m->doc == NULL || !spans_usable(m, in, len))
		return WSG_ERR_INVAL;
	for (i = 0; i <= m->n_spans; i++) {
		size_t to = i < m->n_spans ? m->spans[i].start : len;

		if (i < m->n_spans && !m->spans[i].removed)
			continue;
		if (to > from) {
			if (*n == max)
				return WSG_ERR_LIMIT;
			parts[*n].iov_base = (void *)(uintptr_t)(in + from);
			parts[*n].iov_len = to - from;
			(*n)++;
		}
		if (i < m->n_spans)
			from = m->spans[i].end;
	}
	return WSG_OK;
}

int
wsg_soap_relay(const struct wsg_soap_msg *m, const char *in, size_t len,
               char **out, size_t *out_len)
{
	size_t i, from = 0, o = 0;

	*out = NULL;
	*out_len = 0;
	if (m == NULL || m->doc == NULL)
		return WSG_ERR_INVAL;
	if (!spans_usable(m, in, len))
		return wsg_soap_serialize(m, out, out_len);
	*out = wsg_mem_alloc(len + 1);
	for (from = 0, i = 0; i < m->n_spans; i++) {
		const struct wsg_soap_span *sp = &m->spans[i];

		if (!sp->removed)
			continue;
		memcpy(*out + o, in + from, sp->start - from);
		o += sp->start - from;
		from = sp->end;
	}
	memcpy(*out + o, in + from, len - from);
	o += len - from;
	(*out)[o] = '\0';
	*out_len = o;
	return WSG_OK;
}

int
wsg_soap_serialize(const struct wsg_soap_msg *m, char **out, size_t *len)
{
	xmlBufferPtr buf = NULL;
	xmlSaveCtxtPtr save;
	long written;
	int opts, rc;

	*out = NULL;
	*len = 0;
	if (m == NULL || m->doc == NULL)
		return WSG_ERR_INVAL;
	buf = xmlBufferCreate();
	if (buf == NULL)
		return WSG_ERR_NOMEM;
	opts = XML_SAVE_AS_XML | (m->has_xml_decl ? 0 : XML_SAVE_NO_DECL);
	save = xmlSaveToBuffer(buf, m->encoding != NULL ? m->encoding : "UTF-8",
	                       opts);
	if (save == NULL) {
		rc = WSG_ERR_INVAL;
		goto out;
	}
	written = xmlSaveDoc(save, m->doc);
	if (xmlSaveClose(save) < 0 || written < 0) {
		rc = WSG_ERR_IO;
		goto out;
	}
	*len = (size_t)xmlBufferLength(buf);
	*out = wsg_mem_alloc(*len + 1);
	memcpy(*out, xmlBufferContent(buf), *len);
	(*out)[*len] = '\0';
	rc = WSG_OK;
out:
	xmlBufferFree(buf);
	return rc;
}

/* How one fault is written and answered. */
struct fault_desc {
	const char *wss;    /* local name of the WSS QName, or NULL */
	const char *code11; /* SOAP 1.1 faultcode local name (soap prefix) */
	const char *code12; /* SOAP 1.2 Code/Value local name (env prefix) */
	const char *text;   /* already XML-escaped */
	int status11;
	int status12;
};

static const struct fault_desc faults[WSG_FAULT__COUNT] = {
        [WSG_FAULT_NONE] = {NULL, NULL, NULL, NULL, 0, 0},
        [WSG_FAULT_FAILED_AUTHENTICATION] =
                {"FailedAuthentication", NULL, "Sender",
                 "The security token could not be authenticated or authorized",
                 500, 400},
        [WSG_FAULT_INVALID_SECURITY] = {"InvalidSecurity", NULL, "Sender",
                                        "An error was discovered processing "
                                        "the &lt;wsse:Security&gt; header",
                                        500, 400},
        [WSG_FAULT_INVALID_SECURITY_TOKEN] =
                {"InvalidSecurityToken", NULL, "Sender",
                 "An invalid security token was provided", 500, 400},
        [WSG_FAULT_UNSUPPORTED_SECURITY_TOKEN] =
                {"UnsupportedSecurityToken", NULL, "Sender",
                 "An unsupported token was provided", 500, 400},
        [WSG_FAULT_MESSAGE_EXPIRED] = {"MessageExpired", NULL, "Sender",
                                       "The message has expired", 500, 400},
        [WSG_FAULT_VERSION_MISMATCH] =
                {NULL, "VersionMismatch", "VersionMismatch",
                 "The SOAP envelope namespace is not supported", 500, 500},
        [WSG_FAULT_MUST_UNDERSTAND] =
                {NULL, "MustUnderstand", "MustUnderstand",
                 "A mandatory header block was not understood", 500, 500},
        [WSG_FAULT_CLIENT] = {NULL, "Client", "Sender",
                              "The request is not an acceptable SOAP message",
                              500, 400},
        [WSG_FAULT_SERVER] = {NULL, "Server", "Receiver",
                              "The server could not process the request", 500,
                              500},
        [WSG_FAULT_UPSTREAM_ERROR] = {NULL, "Server", "Receiver",
                                      "The upstream service is unavailable",
                                      502, 502},
        [WSG_FAULT_UPSTREAM_TIMEOUT] =
                {NULL, "Server", "Receiver",
                 "The upstream service did not answer in time", 504, 504},
        [WSG_FAULT_UNSUPPORTED_MEDIA] =
                {NULL, "Client", "Sender",
                 "The request content type is not supported", 415, 415},
        [WSG_FAULT_NOT_FOUND] = {NULL, "Client", "Sender",
                                 "No service is configured at this address",
                                 404, 404},
        [WSG_FAULT_METHOD] = {NULL, "Client", "Sender",
                              "The HTTP method is not allowed; use POST", 405,
                              405},
        [WSG_FAULT_TOO_LARGE] = {NULL, "Client", "Sender",
                                 "The request body is too large", 413, 413},
        [WSG_FAULT_TRY_LATER] = {NULL, "Server", "Receiver",
                                 "Too many failed authentication attempts "
                                 "from this address; try again later",
                                 429, 429},
        [WSG_FAULT_BUSY] = {NULL, "Server", "Receiver",
                            "The server is busy; try again later", 503, 503},
        [WSG_FAULT_BAD_PATH] = {NULL, "Client", "Sender",
                                "The request path is not acceptable", 400, 400},
        [WSG_FAULT_MULTIPART] = {NULL, "Client", "Sender",
                                 "The multipart/related request is malformed "
                                 "or over a limit",
                                 500, 400},
        [WSG_FAULT_FAILED_CHECK] = {"FailedCheck", NULL, "Sender",
                                    "The signature or decryption was invalid",
                                    500, 400},
        [WSG_FAULT_SECURITY_TOKEN_UNAVAILABLE] =
                {"SecurityTokenUnavailable", NULL, "Sender",
                 "Referenced security token could not be retrieved", 500, 400},
};

/* `s` with the five XML special characters escaped, for attribute values. */
static char *
xml_escape(const char *s)
{
	size_t n = 0, i, k;
	char *out;

	for (i = 0; s[i] != '\0'; i++)
		n += strchr("<>&\"'", s[i]) != NULL ? 6 : 1;
	out = wsg_mem_alloc(n + 1);
	for (i = 0, k = 0; s[i] != '\0'; i++) {
		const char *rep = NULL;

		switch (s[i]) {
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '&': rep = "&amp;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		}
		if (rep == NULL) {
			out[k++] = s[i];
			continue;
		}
		memcpy(out + k, rep, strlen(rep));
		k += strlen(rep);
	}
	out[k] = '\0';
	return out;
}

/* A string that grows by doubling, so appending stays linear overall. */
struct text {
	char *p;
	size_t len, cap;
};

static void
text_add(struct text *t, const char *s, size_t n)
{
	if (t->cap - t->len <= n) {
		t->cap = t->cap * 2 > t->len + n + 1 ? t->cap * 2
		                                     : t->len + n + 1 + 256;
		t->p = wsg_mem_realloc(t->p, t->cap);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

/* What one fault envelope says; QNames are written with declared prefixes. */
struct fault_text {
	const char *decls;     /* namespace declarations for the Envelope */
	const char *header12;  /* SOAP 1.2 Header children, or "" */
	const char *code11;    /* SOAP 1.1 faultcode QName */
	const char *code12;    /* SOAP 1.2 Code/Value local name (env prefix) */
	const char *subcode12; /* SOAP 1.2 Subcode/Value QName, or NULL */
	const char *text;      /* already XML-escaped */
};

static char *
fault_envelope(enum wsg_soap_version version, const struct fault_text *t)
{
	if (version == WSG_SOAP_12)
		return wsg_mem_printf(
		        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		        "<env:Envelope xmlns:env=\"" WSG_NS_SOAP12 "\"%s>"
		        "%s%s%s"
		        "<env:Body><env:Fault><env:Code><env:Value>env:%s</"
		        "env:Value>"
		        "%s%s%s</env:Code>"
		        "<env:Reason><env:Text "
		        "xml:lang=\"en\">%s</env:Text></env:Reason>"
		        "</env:Fault></env:Body></env:Envelope>\n",
		        t->decls, t->header12[0] ? "<env:Header>" : "",
		        t->header12, t->header12[0] ? "</env:Header>" : "",
		        t->code12,
		        t->subcode12 != NULL ? "<env:Subcode><env:Value>" : "",
		        t->subcode12 != NULL ? t->subcode12 : "",
		        t->subcode12 != NULL ? "</env:Value></env:Subcode>"
		                             : "",
		        t->text);
	return wsg_mem_printf("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	                      "<soap:Envelope xmlns:soap=\"" WSG_NS_SOAP11
	                      "\"%s>"
	                      "<soap:Body><soap:Fault><faultcode>%s</faultcode>"
	                      "<faultstring>%s</faultstring>"
	                      "</soap:Fault></soap:Body></soap:Envelope>\n",
	                      t->decls, t->code11, t->text);
}

static void
fault_out(enum wsg_soap_version version, char *s, int status11, int status12,
          char **body, size_t *len, const char **content_type, int *http_status)
{
	*body = s;
	*len = strlen(s);
	if (version == WSG_SOAP_12) {
		*content_type = "application/soap+xml; charset=utf-8";
		*http_status = status12;
	} else {
		*content_type = "text/xml; charset=utf-8";
		*http_status = status11;
	}
}

int
wsg_soap_build_fault(enum wsg_soap_version version, enum wsg_fault fault,
                     char **body, size_t *len, const char **content_type,
                     int *http_status)
{
	const struct fault_desc *f;
	struct fault_text t;
	char *code11 = NULL, *sub = NULL;

	*body = NULL;
	*len = 0;
	*content_type = NULL;
	*http_status = 0;
	if ((int)fault <= WSG_FAULT_NONE || fault >= WSG_FAULT__COUNT)
		return WSG_ERR_INVAL;
	f = &faults[fault];
	if (f->wss != NULL) {
		code11 = wsg_mem_printf("wsse:%s", f->wss);
		sub = wsg_mem_printf("wsse:%s", f->wss);
	} else {
		code11 = wsg_mem_printf("soap:%s", f->code11);
	}
	t.decls = f->wss != NULL ? " xmlns:wsse=\"" NS_WSSE "\"" : "";
	t.header12 = "";
	t.code11 = code11;
	t.code12 = f->code12;
	t.subcode12 = sub;
	t.text = f->text;
	fault_out(version, fault_envelope(version, &t), f->status11,
	          f->status12, body, len, content_type, http_status);
	free(code11);
	free(sub);
	return WSG_OK;
}

int
wsg_soap_build_fault_text(enum wsg_soap_version version, enum wsg_fault fault,
                          const char *text, char **body, size_t *len,
                          const char **content_type, int *http_status)
{
	const struct fault_desc *f;
	struct fault_text t;
	char *code11, *escaped;

	*body = NULL;
	*len = 0;
	*content_type = NULL;
	*http_status = 0;
	if ((int)fault <= WSG_FAULT_NONE || fault >= WSG_FAULT__COUNT ||
	    faults[fault].wss != NULL)
		return WSG_ERR_INVAL;
	f = &faults[fault];
	code11 = wsg_mem_printf("soap:%s", f->code11);
	escaped = xml_escape(text);
	t.decls = "";
	t.header12 = "";
	t.code11 = code11;
	t.code12 = f->code12;
	t.subcode12 = NULL;
	t.text = escaped;
	fault_out(version, fault_envelope(version, &t), f->status11,
	          f->status12, body, len, content_type, http_status);
	free(code11);
	free(escaped);
	return WSG_OK;
}

int
wsg_soap_fault_is_security(enum wsg_fault fault)
{
	return (int)fault > WSG_FAULT_NONE && fault < WSG_FAULT__COUNT &&
	       faults[fault].wss != NULL;
}

int
wsg_soap_build_opaque_fault(enum wsg_soap_version version, char **body,
                            size_t *len, const char **content_type,
                            int *http_status)
{
	struct fault_text t = {
	        " xmlns:wss4j=\"" WSG_NS_WSS4J "\"",
	        "",
	        "wss4j:SecurityError",
	        "Sender",
	        "wss4j:SecurityError",
	        "A security error was encountered when verifying the message",
	};

	fault_out(version, fault_envelope(version, &t), 500, 400, body, len,
	          content_type, http_status);
	return WSG_OK;
}

const char *
wsg_soap_attr(xmlNodePtr e, const char *name, const char *href, xmlChar **tmp)
{
	xmlAttrPtr a;

	*tmp = NULL;
	for (a = e->properties; a != NULL; a = a->next) {
		if (strcmp((const char *)a->name, name) != 0)
			continue;
		if (href == NULL ? a->ns == NULL
		                 : a->ns != NULL && a->ns->href != NULL &&
		                           strcmp((const char *)a->ns->href,
		                                  href) == 0)
			break;
	}
	/* Copies are what the look-ups cost; entity references in a value
	 * (and a DTD's defaults, never in a parsed message) go to libxml2. */
	if (a != NULL && a->children != NULL && a->children->next == NULL &&
	    (a->children->type == XML_TEXT_NODE ||
	     a->children->type == XML_CDATA_SECTION_NODE))
		return (const char *)a->children->content;
	if (a == NULL && (e->doc == NULL || e->doc->intSubset == NULL))
		return NULL;
	*tmp = href == NULL ? xmlGetNoNsProp(e, (const xmlChar *)name)
	                    : xmlGetNsProp(e, (const xmlChar *)name,
	                                   (const xmlChar *)href);
	return (const char *)*tmp;
}

char *
wsg_soap_attr_dup(xmlNodePtr e, const char *name)
{
	xmlChar *tmp = NULL;
	const char *v = wsg_soap_attr(e, name, NULL, &tmp);
	char *copy = v != NULL ? wsg_mem_strdup(v) : NULL;

	xmlFree(tmp);
	return copy;
}

enum wsg_soap_target
wsg_soap_header_target(const struct wsg_soap_msg *m, xmlNodePtr header)
{
	int v12 = m->version == WSG_SOAP_12;
	enum wsg_soap_target t = WSG_SOAP_TARGET_OTHER;
	const char *v;
	xmlChar *tmp;

	v = wsg_soap_attr(header, v12 ? "role" : "actor",
	                  v12 ? WSG_NS_SOAP12 : WSG_NS_SOAP11, &tmp);
	if (v == NULL || v[0] == '\0')
		t = WSG_SOAP_TARGET_ULTIMATE;
	else if (v12 && strcmp((const char *)v,
	                       WSG_SOAP12_ROLE_ULTIMATE_RECEIVER) == 0)
		t = WSG_SOAP_TARGET_ULTIMATE;
	else if (v12 && strcmp((const char *)v, WSG_SOAP12_ROLE_NEXT) == 0)
		t = WSG_SOAP_TARGET_NEXT;
	else if (v12 && strcmp((const char *)v, WSG_SOAP12_ROLE_NONE) == 0)
		t = WSG_SOAP_TARGET_NONE;
	else if (!v12 && strcmp((const char *)v, WSG_SOAP11_ACTOR_NEXT) == 0)
		t = WSG_SOAP_TARGET_NEXT;
	xmlFree(tmp);
	return t;
}

/* A SOAP boolean attribute: 1, 0 (also when absent) or WSG_ERR_PARSE. */
static int
soap_bool(const struct wsg_soap_msg *m, xmlNodePtr e, const char *name)
{
	int v12 = m->version == WSG_SOAP_12;
	const char *v;
	xmlChar *tmp;
	int r;

	v = wsg_soap_attr(e, name, v12 ? WSG_NS_SOAP12 : WSG_NS_SOAP11, &tmp);
	if (v == NULL)
		return 0;
	if (strcmp((const char *)v, "1") == 0 ||
	    (v12 && strcmp((const char *)v, "true") == 0))
		r = 1;
	else if (strcmp((const char *)v, "0") == 0 ||
	         (v12 && strcmp((const char *)v, "false") == 0))
		r = 0;
	else
		r = WSG_ERR_PARSE;
	xmlFree(tmp);
	return r;
}

int
wsg_soap_must_understand(const struct wsg_soap_msg *m, xmlNodePtr header)
{
	return soap_bool(m, header, "mustUnderstand");
}

int
wsg_soap_check_next_headers(const struct wsg_soap_msg *m, struct wsg_error *err)
{
	xmlNodePtr h, first = NULL;
	size_t n = 0;
	int mu;

	if (m->header == NULL)
		return WSG_OK;
	for (h = xmlFirstElementChild(m->header); h != NULL;
	     h = xmlNextElementSibling(h)) {
		if (wsg_soap_header_target(m, h) != WSG_SOAP_TARGET_NEXT)
			continue;
		mu = wsg_soap_must_understand(m, h);
		if (mu < 0)
			return wsg_error_set(
			        err, WSG_ERR_PARSE, WSG_FAULT_CLIENT,
			        "mustUnderstand on header <%.64s> is not %s",
			        (const char *)h->name,
			        m->version == WSG_SOAP_12 ? "an xs:boolean"
			                                  : "\"0\" or \"1\"");
		if (mu == 1 && n++ == 0)
			first = h;
	}
	if (n == 0)
		return WSG_OK;
	return wsg_error_set(err, WSG_ERR_PARSE, WSG_FAULT_MUST_UNDERSTAND,
	                     "%zu header block(s) for role next with "
	                     "mustUnderstand, first {%.128s}%.64s",
	                     n,
	                     first->ns != NULL && first->ns->href != NULL
	                             ? (const char *)first->ns->href
	                             : "",
	                     (const char *)first->name);
}

size_t
wsg_soap_remove_next_headers(struct wsg_soap_msg *m)
{
	xmlNodePtr h, next;
	size_t n = 0;

	if (m->header == NULL)
		return 0;
	for (h = xmlFirstElementChild(m->header); h != NULL; h = next) {
		next = xmlNextElementSibling(h);
		if (wsg_soap_header_target(m, h) != WSG_SOAP_TARGET_NEXT)
			continue;
		if (m->version == WSG_SOAP_12 && soap_bool(m, h, "relay") == 1)
			continue;
		wsg_soap_remove_header(m, h);
		n++;
	}
	return n;
}

int
wsg_soap_build_must_understand_fault(const struct wsg_soap_msg *m, char **body,
                                     size_t *len, const char **content_type,
                                     int *http_status)
{
	enum wsg_soap_version version = m != NULL && m->version == WSG_SOAP_12
	                                        ? WSG_SOAP_12
	                                        : WSG_SOAP_11;
	const struct fault_desc *f = &faults[WSG_FAULT_MUST_UNDERSTAND];
	struct text blocks = {NULL, 0, 0};
	struct fault_text t;
	xmlNodePtr h;
	size_t i = 0;
	char *ns, *one;

	*body = NULL;
	*len = 0;
	*content_type = NULL;
	*http_status = 0;
	text_add(&blocks, "", 0);
	for (h = version == WSG_SOAP_12 && m->header != NULL
	                 ? xmlFirstElementChild(m->header)
	                 : NULL;
	     h != NULL && i < MAX_NOT_UNDERSTOOD;
	     h = xmlNextElementSibling(h)) {
		if (wsg_soap_header_target(m, h) != WSG_SOAP_TARGET_NEXT ||
		    wsg_soap_must_understand(m, h) != 1)
			continue;
		/* SOAP 1.2 part 1 §5.4.8: one block per header not understood.
		 */
		ns = xml_escape(h->ns != NULL && h->ns->href != NULL
		                        ? (const char *)h->ns->href
		                        : "");
		i++;
		/* An unqualified block's QName has no prefix and no default
		 * namespace in scope. */
		if (ns[0] != '\0')
			one = wsg_mem_printf("<env:NotUnderstood "
			                     "qname=\"nu%zu:%s\" "
			                     "xmlns:nu%zu=\"%s\"/>",
			                     i, (const char *)h->name, i, ns);
		else
			one = wsg_mem_printf("<env:NotUnderstood qname=\"%s\" "
			                     "xmlns=\"\"/>",
			                     (const char *)h->name);
		text_add(&blocks, one, strlen(one));
		free(one);
		free(ns);
	}
	t.decls = "";
	t.header12 = blocks.p;
	t.code11 = "soap:MustUnderstand";
	t.code12 = f->code12;
	t.subcode12 = NULL;
	t.text = f->text;
	fault_out(version, fault_envelope(version, &t), f->status11,
	          f->status12, body, len, content_type, http_status);
	free(blocks.p);
	return WSG_OK;
}
