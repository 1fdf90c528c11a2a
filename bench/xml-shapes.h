/*
 * The worst request bodies for every XML cap at the default limits, each as
 * large as the defaults allow, and the CPU the gateway spends on one before
 * authentication. Shared by test/unit/test_soap.c (a CPU bound under ASan)
 * and bench/xml-cost.c (the -O2 figures), so both measure the same shapes.
 */
#ifndef WSG_BENCH_XML_SHAPES_H
#define WSG_BENCH_XML_SHAPES_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "mem.h"
#include "soap.h"
#include "wsse.h"

/* The default limits (conf/wssgate.conf): no shape is larger. */
#define SHAPE_MAX_BODY 10485760
#define SHAPE_MAX_NODES 100000
#define SHAPE_MAX_NAMESPACES 100
#define SHAPE_MAX_TOTAL_ATTRIBUTES 200000
#define SHAPE_NS_WSSE                                                          \
	"http://docs.oasis-open.org/wss/2004/01/"                              \
	"oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define SHAPE_ENV11 "<soap:Envelope xmlns:soap=\"" WSG_NS_SOAP11 "\">"
#define SHAPE_ENV12 "<soap:Envelope xmlns:soap=\"" WSG_NS_SOAP12 "\">"
#define SHAPE_END "</soap:Envelope>"
/* A Security header the gateway consumes (and removes before relaying). */
#define SHAPE_SECURITY                                                         \
	"<wsse:Security xmlns:wsse=\"" SHAPE_NS_WSSE "\">"                     \
	"<wsse:UsernameToken><wsse:Username>u</wsse:Username>"                 \
	"<wsse:Password>p</wsse:Password></wsse:UsernameToken>"                \
	"</wsse:Security>"

/* A growing string for the large shapes. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = b->p != NULL
		            ? vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap)
		            : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len)
			break;
		b->cap = 2 * b->cap + 4096 + (n > 0 ? (size_t)n : 0);
		b->p = wsg_mem_realloc(b->p, b->cap);
	}
	b->len += (size_t)n;
}

/* Whether `n` more bytes and the closing tags still fit the body cap. */
static int
sb_room(const struct sbuf *b, size_t n)
{
	return b->len + n + 256 <= SHAPE_MAX_BODY;
}

/* SOAP 1.2, `n` header blocks for role next (mustUnderstand="true" when
 * `mu`), then a Security header. */
static void
shape_next_blocks(struct sbuf *b, size_t n, int mu)
{
	size_t i;

	b->len = 0;
	sb_add(b, SHAPE_ENV12 "<soap:Header xmlns:h=\"urn:h\">");
	for (i = 0; i < n && sb_room(b, 200); i++)
		sb_add(b, "<h:b%zu soap:role=\"" WSG_SOAP12_ROLE_NEXT "\"%s/>",
		       i, mu ? " soap:mustUnderstand=\"true\"" : "");
	sb_add(b, SHAPE_SECURITY "</soap:Header><soap:Body/>" SHAPE_END);
}

/* `levels` nested elements each declaring `per` prefixes, then up to
 * `leaves` elements (with `attrs` attributes) in the outermost prefix, the
 * one libxml2 finds last. */
static void
shape_namespaces(struct sbuf *b, size_t levels, size_t per, size_t leaves,
                 size_t attrs)
{
	size_t i, j;

	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body>");
	for (i = 0; i < levels; i++) {
		sb_add(b, "<n%zu", i);
		for (j = 0; j < per; j++)
			sb_add(b, " xmlns:p%zu_%zu=\"urn:%zu\"", i, j, j);
		sb_add(b, ">");
	}
	for (i = 0;
	     i < leaves && sb_room(b, 40 + 12 * attrs + 16 * levels) &&
	     (i + 1) * attrs + levels * per + 1 <= SHAPE_MAX_TOTAL_ATTRIBUTES;
	     i++) {
		sb_add(b, "<p0_0:l");
		for (j = 0; j < attrs; j++)
			sb_add(b, " p0_0:a%zu=\"\"", j);
		sb_add(b, "/>");
	}
	for (i = levels; i-- > 0;)
		sb_add(b, "</n%zu>", i);
	sb_add(b, "</soap:Body>" SHAPE_END);
}

/* Nests of 98 below Body (depth 100 with Envelope and Body), up to
 * max_nodes. */
static void
shape_deep(struct sbuf *b)
{
	size_t i, j;

	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body>");
	for (i = 0; i + 98 < SHAPE_MAX_NODES - 3; i += 98) {
		for (j = 0; j < 98; j++)
			sb_add(b, "<d>");
		for (j = 0; j < 98; j++)
			sb_add(b, "</d>");
	}
	sb_add(b, "</soap:Body>" SHAPE_END);
}

static void
shape_wide(struct sbuf *b)
{
	size_t i;

	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body>");
	for (i = 0; i < SHAPE_MAX_NODES - 3; i++)
		sb_add(b, "<w/>");
	sb_add(b, "</soap:Body>" SHAPE_END);
}

/* max_attributes (500) on every element, up to max_total_attributes (the
 * envelope's declaration counts too). */
static void
shape_attributes(struct sbuf *b)
{
	size_t i, j;

	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body>");
	for (i = 0;
	     i < (SHAPE_MAX_TOTAL_ATTRIBUTES - 1) / 500 && sb_room(b, 500 * 12);
	     i++) {
		sb_add(b, "<a");
		for (j = 0; j < 500; j++)
			sb_add(b, " a%zu=\"\"", j);
		sb_add(b, "/>");
	}
	sb_add(b, "</soap:Body>" SHAPE_END);
}

static void
shape_ns_elements(struct sbuf *b)
{
	shape_namespaces(b, 2, (SHAPE_MAX_NAMESPACES - 1) / 2,
	                 SHAPE_MAX_NODES - 6, 0);
}

static void
shape_ns_attributes(struct sbuf *b)
{
	shape_namespaces(b, 2, (SHAPE_MAX_NAMESPACES - 1) / 2,
	                 SHAPE_MAX_NODES - 6, 499);
}

/* Elements each declaring max_namespaces - 1 prefixes (the envelope's is
 * in scope too), up to max_total_attributes: declarations per document. */
static void
shape_ns_per_document(struct sbuf *b)
{
	size_t i, j;

	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body>");
	for (i = 0; (i + 1) * (SHAPE_MAX_NAMESPACES - 1) + 1 <=
	                    SHAPE_MAX_TOTAL_ATTRIBUTES &&
	            sb_room(b, 24 * (SHAPE_MAX_NAMESPACES - 1) + 8);
	     i++) {
		sb_add(b, "<x");
		for (j = 0; j < SHAPE_MAX_NAMESPACES - 1; j++)
			sb_add(b, " xmlns:p%zu=\"u\"", j);
		sb_add(b, "/>");
	}
	sb_add(b, "</soap:Body>" SHAPE_END);
}

/* Blocks for the ultimate receiver, the Security header last. */
static void
shape_headers(struct sbuf *b)
{
	size_t i;

	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Header xmlns:h=\"urn:h\">");
	for (i = 0; i < SHAPE_MAX_NODES - 8 && sb_room(b, 64); i++)
		sb_add(b, "<h:b%zu/>", i);
	sb_add(b, SHAPE_SECURITY "</soap:Header><soap:Body/>" SHAPE_END);
}

static void
shape_must_understand(struct sbuf *b)
{
	shape_next_blocks(b, SHAPE_MAX_NODES - 8, 1);
}

static void
shape_next_removed(struct sbuf *b)
{
	shape_next_blocks(b, SHAPE_MAX_NODES - 8, 0);
}

/* Text nodes as long as libxml2 builds them (XML_MAX_TEXT_LENGTH, 10 MB)
 * up to max_body_size. */
static void
shape_long_text(struct sbuf *b)
{
	size_t n;

	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body><t>");
	for (n = 0; sb_room(b, 4096 + 8); n += 4096) {
		if (n + 4096 > 9990000) {
			sb_add(b, "</t><t>");
			n = 0;
		}
		sb_add(b, "%04096d", 0);
	}
	sb_add(b, "</t></soap:Body>" SHAPE_END);
}

static void
shape_char_refs(struct sbuf *b)
{
	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body><t>");
	while (sb_room(b, 64))
		sb_add(b, "&#65;&#x42;&lt;&amp;&#x10000;&#66;&#x43;&gt;");
	sb_add(b, "</t></soap:Body>" SHAPE_END);
}

/* Values of max_attribute_len bytes. */
static void
shape_long_values(struct sbuf *b)
{
	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body>");
	while (sb_room(b, 65536 + 16))
		sb_add(b, "<v a=\"%065536d\"/>", 0);
	sb_add(b, "</soap:Body>" SHAPE_END);
}

/* Values of max_attribute_len characters, each a character reference. */
static void
shape_value_char_refs(struct sbuf *b)
{
	size_t j;

	b->len = 0;
	sb_add(b, SHAPE_ENV11 "<soap:Body>");
	while (sb_room(b, 5 * 65536 + 16)) {
		sb_add(b, "<v a=\"");
		for (j = 0; j < 65536; j++)
			sb_add(b, "&#%d;", 65 + (int)(j % 26));
		sb_add(b, "\"/>");
	}
	sb_add(b, "</soap:Body>" SHAPE_END);
}

/* A UsernameToken followed by as many other Security children as fit. */
static void
shape_security_children(struct sbuf *b)
{
	size_t i;

	b->len = 0;
	sb_add(b, SHAPE_ENV11
	       "<soap:Header><wsse:Security xmlns:x=\"urn:x\" "
	       "xmlns:wsse=\"" SHAPE_NS_WSSE
	       "\"><wsse:UsernameToken><wsse:Username>u</wsse:Username>"
	       "<wsse:Password>p</wsse:Password></wsse:UsernameToken>");
	for (i = 0; i < SHAPE_MAX_NODES - 10 && sb_room(b, 32); i++)
		sb_add(b, "<x:c%zu/>", i);
	sb_add(b, "</wsse:Security></soap:Header><soap:Body/>" SHAPE_END);
}

struct shape {
	const char *name;
	void (*build)(struct sbuf *b);
	enum wsg_fault
	        fault; /* what the gateway answers before authenticating */
};

static const struct shape shapes[] = {
        {"deep", shape_deep, WSG_FAULT_INVALID_SECURITY},
        {"wide", shape_wide, WSG_FAULT_INVALID_SECURITY},
        {"attributes", shape_attributes, WSG_FAULT_INVALID_SECURITY},
        {"namespaces+elements", shape_ns_elements, WSG_FAULT_INVALID_SECURITY},
        {"namespaces+attributes", shape_ns_attributes,
         WSG_FAULT_INVALID_SECURITY},
        {"namespaces_per_document", shape_ns_per_document,
         WSG_FAULT_INVALID_SECURITY},
        {"headers", shape_headers, WSG_FAULT_NONE},
        {"must_understand", shape_must_understand, WSG_FAULT_MUST_UNDERSTAND},
        {"next_blocks_removed", shape_next_removed, WSG_FAULT_NONE},
        {"long_text", shape_long_text, WSG_FAULT_INVALID_SECURITY},
        {"char_refs", shape_char_refs, WSG_FAULT_INVALID_SECURITY},
        {"long_attribute_values", shape_long_values,
         WSG_FAULT_INVALID_SECURITY},
        {"attribute_char_refs", shape_value_char_refs,
         WSG_FAULT_INVALID_SECURITY},
        {"security_children", shape_security_children, WSG_FAULT_NONE},
};

static double
shape_cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * What the gateway does with a body before any credential is checked
 * (request.c): parse, the role-next check and its fault, the Security
 * header's parse, removal of the blocks it must not relay and the bytes to
 * forward. Returns the CPU seconds spent; `*fault` gets the fault answered
 * (WSG_FAULT_NONE if none) and `*nu` the NotUnderstood entries of a
 * MustUnderstand fault.
 */
static double
shape_request_cost(const char *xml, size_t len, enum wsg_fault *fault,
                   size_t *nu)
{
	struct wsg_wsse_policy pol = {0, 0, 300, 60, 300, 0};
	struct wsg_wsse_token tok;
	struct wsg_soap_msg m;
	struct wsg_error err;
	const char *ct, *p;
	char *body = NULL;
	size_t blen;
	int status;
	double t0 = shape_cpu_now(), t;

	memset(&tok, 0, sizeof(tok));
	*fault = WSG_FAULT_NONE;
	*nu = 0;
	wsg_error_clear(&err);
	if (wsg_soap_parse(xml, len, NULL, &m, &err) != WSG_OK) {
		*fault = err.fault;
		wsg_soap_build_fault(WSG_SOAP_11, err.fault, &body, &blen, &ct,
		                     &status);
	} else if (wsg_soap_check_next_headers(&m, &err) != WSG_OK) {
		*fault = err.fault;
		if (err.fault == WSG_FAULT_MUST_UNDERSTAND)
			wsg_soap_build_must_understand_fault(&m, &body, &blen,
			                                     &ct, &status);
		else
			wsg_soap_build_fault(m.version, err.fault, &body, &blen,
			                     &ct, &status);
	} else {
		if (wsg_wsse_parse(&m, &pol, &tok, &err) != WSG_OK)
			*fault = err.fault;
		wsg_soap_remove_next_headers(&m);
		if (tok.security != NULL)
			wsg_soap_remove_header(&m, tok.security);
		if (wsg_soap_relay(&m, xml, len, &body, &blen) != WSG_OK)
			*fault = WSG_FAULT_SERVER;
	}
	t = shape_cpu_now() - t0;
	for (p = body;
	     p != NULL && (p = strstr(p, "<env:NotUnderstood ")) != NULL; p++)
		(*nu)++;
	free(body);
	wsg_wsse_token_clear(&tok);
	wsg_soap_msg_free(&m);
	return t;
}

#endif
